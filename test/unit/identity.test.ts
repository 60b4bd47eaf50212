/**
 * Unit and end-to-end tests for src/identity: signing keys, access and notification tokens, the dev CA,
 * and the AAD-compatible routes driven by the real @azure/msal-node over HTTPS.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Fastify, { type FastifyInstance } from 'fastify';
import { SignJWT, base64url, createLocalJWKSet, decodeProtectedHeader, jwtVerify, type JWTPayload } from 'jose';
import {
  ConfidentialClientApplication,
  ServerError,
  type INetworkModule,
  type NetworkRequestOptions,
  type NetworkResponse,
} from '@azure/msal-node';
import { DirectoryIndex, type Application, type Directory } from '../../src/directory/model.js';
import { SwitchboardError, toGraphError } from '../../src/graph/errors.js';
import type { SigningKeyRow } from '../../src/store/store.js';
import { ensureDevCertificates } from '../../src/identity/dev-ca.js';
import { RETIRED_KEY_GRACE_MS, SigningKeys, type KeyStore } from '../../src/identity/keys.js';
import { registerIdentityRoutes } from '../../src/identity/routes.js';
import { issueAccessToken, signNotificationToken, verifyAccessToken } from '../../src/identity/tokens.js';

// --- fixtures --------------------------------------------------------------------------------

class MemoryKeyStore implements KeyStore {
  constructor(public rows: SigningKeyRow[] = []) {}
  /** A second store holding copies of the same keys: RSA generation is the slow part of these tests. */
  clone(): MemoryKeyStore {
    return new MemoryKeyStore(this.rows.map((r) => ({ ...r })));
  }
  async signingKeys(): Promise<SigningKeyRow[]> {
    return this.rows.map((r) => ({ ...r }));
  }
  async addSigningKey(row: SigningKeyRow): Promise<void> {
    this.rows.push({ ...row });
  }
  async retireSigningKey(kid: string, at: number): Promise<void> {
    const row = this.rows.find((r) => r.kid === kid);
    if (row) row.retiredAt = at;
  }
}

const TENANT = '632899f8-2ea1-4604-8413-27bd2892079f';
const OTHER_TENANT = '11111111-2222-4333-8444-555555555555';
const APP_ID = '24701998-1a73-4d42-8085-bf46ed0ae039';
const NO_ROLE_APP_ID = '3a1f0c52-7e0b-4c55-9a53-2f6f0b1d9e01';
const OTHER_APP_ID = '9c0e7d1b-5a4f-4e2b-8f3d-1b2c3d4e5f60';
const SECRET = 'dev-secret';

const directory: Directory = {
  limits: { requestsPer15Seconds: 50000, bodyBytes: 1048576 },
  notifications: { allowHosts: [], giveUpAfterSeconds: 86400 },
  tenants: [
    {
      id: TENANT,
      displayName: 'Contoso',
      applications: [
        {
          id: APP_ID,
          tenantId: TENANT,
          displayName: 'test bot',
          clientSecret: SECRET,
          roles: ['Calls.Initiate.All'],
          callbackUri: 'https://127.0.0.1:9443/api/calls',
          instances: [],
        },
        {
          id: NO_ROLE_APP_ID,
          tenantId: TENANT,
          clientSecret: SECRET,
          roles: [],
          callbackUri: 'https://127.0.0.1:9443/api/calls',
          instances: [],
        },
      ],
      users: [],
    },
    {
      id: OTHER_TENANT,
      displayName: 'Fabrikam',
      applications: [
        {
          id: OTHER_APP_ID,
          tenantId: OTHER_TENANT,
          clientSecret: 'other-secret',
          roles: ['Calls.Initiate.All'],
          callbackUri: 'https://127.0.0.1:9443/api/calls',
          instances: [],
        },
      ],
      users: [],
    },
  ],
  phones: [],
};
const index = new DirectoryIndex(directory);
const app = index.application(APP_ID)!;
const noRoleApp = index.application(NO_ROLE_APP_ID)!;

const nowSeconds = () => Math.floor(Date.now() / 1000);

/** Keys generated once and copied into each test's store. */
const seedStore = new MemoryKeyStore();
let seeded: Promise<SigningKeys> | undefined;
const seedKeys = async (): Promise<MemoryKeyStore> => {
  await (seeded ??= SigningKeys.load(seedStore));
  return seedStore.clone();
};
/** A key that is not ours, for forged tokens. */
let strangerKey: KeyObject | undefined;
const stranger = (): KeyObject => (strangerKey ??= generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey);

/** One CA for the whole file (each run gets a fresh data dir). */
const dataDir = mkdtempSync(join(tmpdir(), 'switchboard-identity-'));
after(() => rmSync(dataDir, { recursive: true, force: true }));

/** Asserts the promise rejects with a SwitchboardError of `kind` whose message matches `message`. */
async function rejectsWith(promise: Promise<unknown>, kind: 'unauthenticated' | 'forbidden', message: RegExp): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof SwitchboardError, `expected a SwitchboardError, got ${String(error)}`);
    assert.equal(error.kind, kind);
    assert.match(error.message, message);
    const graph = toGraphError(error, { requestId: 'r', clientRequestId: 'c' }, new Date());
    assert.equal(graph.status, kind === 'unauthenticated' ? 401 : 403);
    assert.equal(graph.body.error.code, kind === 'unauthenticated' ? 'InvalidAuthenticationToken' : 'Forbidden');
    return true;
  });
}

/** A token signed with the current graph key but arbitrary claims. */
async function forge(keys: SigningKeys, claims: JWTPayload, header: Record<string, unknown> = {}): Promise<string> {
  const { kid, privateKey } = keys.current('graph');
  const now = nowSeconds();
  return new SignJWT({
    aud: 'https://graph.microsoft.com',
    iss: `https://sts.windows.net/${TENANT}/`,
    tid: TENANT,
    appid: APP_ID,
    roles: ['Calls.Initiate.All'],
    iat: now,
    nbf: now,
    exp: now + 3599,
    ...claims,
  })
    .setProtectedHeader({ alg: 'RS256', typ: 'JWT', kid, ...header })
    .sign(privateKey);
}

// --- keys and tokens ----------------------------------------------------------------------

describe('signing keys and tokens', () => {
  let store: MemoryKeyStore;
  let keys: SigningKeys;

  before(async () => {
    store = await seedKeys();
    keys = await SigningKeys.load(store);
  });

  test('load creates one persisted key per use, and a later load reuses them', async () => {
    assert.deepEqual(store.rows.map((r) => r.use).sort(), ['graph', 'notifications']);
    const again = await SigningKeys.load(store);
    assert.equal(store.rows.length, 2);
    assert.equal(again.current('graph').kid, keys.current('graph').kid);
    const jwk = keys.publicJwks('graph').keys[0]!;
    assert.deepEqual(Object.keys(jwk).sort(), ['alg', 'e', 'kid', 'kty', 'n', 'use']);
    assert.equal(jwk.alg, 'RS256');
    assert.equal(jwk.use, 'sig');
  });

  test('issue + verify round trip', async () => {
    const now = nowSeconds();
    const issued = await issueAccessToken(keys, { tenantId: TENANT, application: app, nowSeconds: now });
    assert.equal(issued.token_type, 'Bearer');
    assert.equal(issued.expires_in, 3599);
    assert.equal(issued.ext_expires_in, 3599);
    const header = decodeProtectedHeader(issued.access_token);
    assert.deepEqual(header, { alg: 'RS256', typ: 'JWT', kid: keys.current('graph').kid });

    const claims = await verifyAccessToken(keys, `Bearer ${issued.access_token}`);
    assert.equal(claims.aud, 'https://graph.microsoft.com');
    assert.equal(claims.iss, `https://sts.windows.net/${TENANT}/`);
    assert.equal(claims.tid, TENANT);
    assert.equal(claims.appid, APP_ID);
    assert.equal(claims.azp, APP_ID);
    assert.equal(claims.appidacr, '1');
    assert.equal(claims.idtyp, 'app');
    assert.equal(claims.ver, '1.0');
    assert.deepEqual(claims.roles, ['Calls.Initiate.All']);
    assert.equal(claims.iat, now);
    assert.equal(claims.nbf, now);
    assert.equal(claims.exp, now + 3599);
    assert.match(claims.oid ?? '', /^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    assert.equal(claims.sub, claims.oid);
    assert.ok(claims.uti);

    // The object id is stable; the token id is not.
    const second = await verifyAccessToken(keys, `bearer ${(await issueAccessToken(keys, { tenantId: TENANT, application: app, nowSeconds: now })).access_token}`);
    assert.equal(second.oid, claims.oid);
    assert.notEqual(second.uti, claims.uti);
  });

  test('the Graph application id is accepted as audience', async () => {
    const token = await forge(keys, { aud: '00000003-0000-0000-c000-000000000000' });
    assert.equal((await verifyAccessToken(keys, `Bearer ${token}`)).aud, '00000003-0000-0000-c000-000000000000');
  });

  test('401: missing, empty or non-Bearer Authorization', async () => {
    await rejectsWith(verifyAccessToken(keys, undefined), 'unauthenticated', /empty/);
    await rejectsWith(verifyAccessToken(keys, ''), 'unauthenticated', /empty/);
    await rejectsWith(verifyAccessToken(keys, 'Bearer'), 'unauthenticated', /empty/);
    await rejectsWith(verifyAccessToken(keys, 'Basic dXNlcjpwYXNz'), 'unauthenticated', /Bearer scheme/);
  });

  test('401: malformed token', async () => {
    await rejectsWith(verifyAccessToken(keys, 'Bearer not-a-jwt'), 'unauthenticated', /malformed/);
    await rejectsWith(verifyAccessToken(keys, 'Bearer a.b.c'), 'unauthenticated', /malformed/);
    const token = await forge(keys, {});
    const [h, , s] = token.split('.');
    await rejectsWith(verifyAccessToken(keys, `Bearer ${h}.!!!.${s}`), 'unauthenticated', /malformed|signature/);
  });

  test('401: bad signature', async () => {
    const token = await forge(keys, {});
    const [h, p] = token.split('.');
    const otherPayload = base64url.encode(JSON.stringify({ ...JSON.parse(Buffer.from(p!, 'base64url').toString()), roles: ['Calls.Initiate.All', 'Everything'] }));
    const [, , sig] = token.split('.');
    await rejectsWith(verifyAccessToken(keys, `Bearer ${h}.${otherPayload}.${sig}`), 'unauthenticated', /signature is invalid/);

    // Signed by a stranger's key that claims our kid.
    const strangers = await new SignJWT(JSON.parse(Buffer.from(p!, 'base64url').toString()) as JWTPayload)
      .setProtectedHeader({ alg: 'RS256', kid: keys.current('graph').kid })
      .sign(stranger());
    await rejectsWith(verifyAccessToken(keys, `Bearer ${strangers}`), 'unauthenticated', /signature is invalid/);
  });

  test('401: alg none', async () => {
    const now = nowSeconds();
    const header = base64url.encode(JSON.stringify({ alg: 'none', typ: 'JWT', kid: keys.current('graph').kid }));
    const payload = base64url.encode(
      JSON.stringify({ aud: 'https://graph.microsoft.com', iss: `https://sts.windows.net/${TENANT}/`, tid: TENANT, appid: APP_ID, roles: ['Calls.Initiate.All'], iat: now, nbf: now, exp: now + 3599 }),
    );
    await rejectsWith(verifyAccessToken(keys, `Bearer ${header}.${payload}.`), 'unauthenticated', /alg 'none'/);
  });

  test('401: HS256 signed with the public key (algorithm confusion)', async () => {
    const publicPem = createPublicKey(keys.current('graph').privateKey).export({ type: 'spki', format: 'pem' }).toString();
    const now = nowSeconds();
    const token = await new SignJWT({ tid: TENANT, appid: APP_ID, roles: ['Calls.Initiate.All'] })
      .setProtectedHeader({ alg: 'HS256', kid: keys.current('graph').kid })
      .setAudience('https://graph.microsoft.com')
      .setIssuer(`https://sts.windows.net/${TENANT}/`)
      .setIssuedAt(now)
      .setNotBefore(now)
      .setExpirationTime(now + 3599)
      .sign(new TextEncoder().encode(publicPem));
    await rejectsWith(verifyAccessToken(keys, `Bearer ${token}`), 'unauthenticated', /alg 'HS256'/);
  });

  test('401: unknown kid', async () => {
    const now = nowSeconds();
    const token = await new SignJWT({ tid: TENANT, appid: APP_ID, roles: ['Calls.Initiate.All'] })
      .setProtectedHeader({ alg: 'RS256', kid: 'somebody-elses-key' })
      .setAudience('https://graph.microsoft.com')
      .setIssuer(`https://sts.windows.net/${TENANT}/`)
      .setIssuedAt(now)
      .setNotBefore(now)
      .setExpirationTime(now + 3599)
      .sign(stranger());
    await rejectsWith(verifyAccessToken(keys, `Bearer ${token}`), 'unauthenticated', /unknown key \(kid 'somebody-elses-key'\)/);
  });

  test('401: expired, and not yet valid (beyond the 300 s tolerance)', async () => {
    const now = nowSeconds();
    const old = await issueAccessToken(keys, { tenantId: TENANT, application: app, nowSeconds: now - 3599 - 301 });
    await rejectsWith(verifyAccessToken(keys, `Bearer ${old.access_token}`), 'unauthenticated', /expired or is not yet valid/);
    const future = await issueAccessToken(keys, { tenantId: TENANT, application: app, nowSeconds: now + 301 });
    await rejectsWith(verifyAccessToken(keys, `Bearer ${future.access_token}`), 'unauthenticated', /expired or is not yet valid/);
    // Within the tolerance both are fine.
    const skewed = await issueAccessToken(keys, { tenantId: TENANT, application: app, nowSeconds: now + 200 });
    await verifyAccessToken(keys, `Bearer ${skewed.access_token}`);
    // And the verifier's clock can be given explicitly.
    await rejectsWith(verifyAccessToken(keys, `Bearer ${skewed.access_token}`, now + 200 + 3599 + 301), 'unauthenticated', /expired/);
  });

  test('401: wrong audience', async () => {
    const token = await forge(keys, { aud: 'https://management.azure.com' });
    await rejectsWith(verifyAccessToken(keys, `Bearer ${token}`), 'unauthenticated', /audience/);
  });

  test('401: wrong issuer (not the token tenant, or not sts.windows.net)', async () => {
    const otherTenant = await forge(keys, { iss: `https://sts.windows.net/${OTHER_TENANT}/` });
    await rejectsWith(verifyAccessToken(keys, `Bearer ${otherTenant}`), 'unauthenticated', /issuer/);
    const v2 = await forge(keys, { iss: `https://login.microsoftonline.com/${TENANT}/v2.0` });
    await rejectsWith(verifyAccessToken(keys, `Bearer ${v2}`), 'unauthenticated', /issuer/);
  });

  test('403: delegated token (scp)', async () => {
    const token = await forge(keys, { scp: 'Calls.Initiate.All User.Read' });
    await rejectsWith(verifyAccessToken(keys, `Bearer ${token}`), 'forbidden', /Delegated permissions are not supported/);
  });

  test('403: token without the Calls.Initiate.All role', async () => {
    const issued = await issueAccessToken(keys, { tenantId: TENANT, application: noRoleApp, nowSeconds: nowSeconds() });
    await rejectsWith(verifyAccessToken(keys, `Bearer ${issued.access_token}`), 'forbidden', /Calls\.Initiate\.All/);
  });

  test('notification token: RS256 with the notifications key, Bot Framework issuer', async () => {
    const now = nowSeconds();
    const token = await signNotificationToken(keys, APP_ID, now, { serviceUrl: 'https://smba.example/' });
    const { payload, protectedHeader } = await jwtVerify(token, createLocalJWKSet(keys.publicJwks('notifications')), {
      algorithms: ['RS256'],
      issuer: 'https://api.botframework.com',
      audience: APP_ID,
    });
    assert.equal(protectedHeader.kid, keys.current('notifications').kid);
    assert.equal(payload.exp, now + 3600);
    assert.equal(payload.nbf, now);
    assert.equal(payload['serviceurl'], 'https://smba.example/');
    // Not a Graph token: the graph JWKS does not hold its key.
    await rejectsWith(verifyAccessToken(keys, `Bearer ${token}`), 'unauthenticated', /unknown key/);
  });
});

describe('key rotation', () => {
  test('old key stays verifiable for 24 h after retirement, then disappears', async () => {
    let now = Date.now();
    const store = await seedKeys();
    const keys = await SigningKeys.load(store, () => now);
    const oldKid = keys.current('graph').kid;
    const before = await issueAccessToken(keys, { tenantId: TENANT, application: app, nowSeconds: nowSeconds() });

    const newKid = await keys.rotate('graph');
    assert.notEqual(newKid, oldKid);
    assert.equal(keys.current('graph').kid, newKid);
    assert.equal(keys.current('notifications').kid, store.rows.find((r) => r.use === 'notifications')!.kid, 'other use untouched');
    assert.deepEqual(keys.publicJwks('graph').keys.map((k) => k.kid), [newKid, oldKid]);
    assert.ok(store.rows.find((r) => r.kid === oldKid)!.retiredAt !== undefined);

    await verifyAccessToken(keys, `Bearer ${before.access_token}`);
    const afterRotation = await issueAccessToken(keys, { tenantId: TENANT, application: app, nowSeconds: nowSeconds() });
    assert.equal(decodeProtectedHeader(afterRotation.access_token).kid, newKid);

    now += RETIRED_KEY_GRACE_MS + 1;
    assert.deepEqual(keys.publicJwks('graph').keys.map((k) => k.kid), [newKid]);
    await rejectsWith(verifyAccessToken(keys, `Bearer ${before.access_token}`), 'unauthenticated', /unknown key/);
  });

  test('a process picks up a key another process rotated in the shared store', async () => {
    let now = Date.now();
    const store = await seedKeys();
    const a = await SigningKeys.load(store, () => now);
    const b = await SigningKeys.load(store, () => now);
    assert.equal(store.rows.length, 2, 'the second process reuses the first one keys');
    await b.rotate('graph');
    const token = await issueAccessToken(b, { tenantId: TENANT, application: app, nowSeconds: nowSeconds() });
    now += 10_000; // past the re-read throttle
    await verifyAccessToken(a, `Bearer ${token.access_token}`);
    assert.equal(a.current('graph').kid, b.current('graph').kid);
  });
});

// --- dev CA --------------------------------------------------------------------------------

function httpsGet(url: string, ca: string, servername?: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const options: https.RequestOptions = { ca, agent: false };
    if (servername !== undefined) options.servername = servername;
    https
      .get(url, options, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (body += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      })
      .on('error', reject);
  });
}

describe('dev CA', () => {
  const dir = dataDir;

  test('a server with the generated certificate is trusted with only ca.pem', async () => {
    const certs = ensureDevCertificates(dir, ['switchboard.test']);
    assert.equal(certs.caPath, join(dir, 'tls', 'ca.pem'));
    assert.equal(statSync(certs.keyPath).mode & 0o777, 0o600);
    assert.equal(statSync(join(dir, 'tls', 'ca-key.pem')).mode & 0o777, 0o600);

    const server = https.createServer({ cert: certs.cert, key: certs.key }, (_req, res) => res.end('ok'));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    try {
      assert.deepEqual(await httpsGet(`https://127.0.0.1:${port}/`, certs.ca), { status: 200, body: 'ok' });
      // "localhost" resolves to ::1 on some hosts; the name check is what matters, so connect to the IP with that SNI.
      assert.deepEqual(await httpsGet(`https://localhost:${port}/`, certs.ca).catch(() => httpsGet(`https://127.0.0.1:${port}/`, certs.ca, 'localhost')), {
        status: 200,
        body: 'ok',
      });
      // Without the CA the handshake fails.
      await assert.rejects(httpsGet(`https://127.0.0.1:${port}/`, ''), /certificate|self.signed|unable/i);
    } finally {
      server.close();
    }
  });

  test('certificates are reused, and the server certificate is renewed when a host is missing', () => {
    const first = ensureDevCertificates(dir, ['switchboard.test']);
    const again = ensureDevCertificates(dir, ['switchboard.test']);
    assert.equal(again.cert, first.cert);
    assert.equal(again.key, first.key);
    const widened = ensureDevCertificates(dir, ['switchboard.test', '10.0.0.7']);
    assert.notEqual(widened.cert, first.cert);
    assert.equal(widened.ca, first.ca, 'the CA is kept');
  });
});

// --- routes end to end, through MSAL ---------------------------------------------------------

/** MSAL's default client is fetch, which ignores node:https agents: give it one that trusts the dev CA. */
function networkClient(ca: string): INetworkModule {
  const send = <T>(method: 'GET' | 'POST', url: string, options?: NetworkRequestOptions): Promise<NetworkResponse<T>> =>
    new Promise((resolve, reject) => {
      const headers: Record<string, string> = { ...(options?.headers ?? {}) };
      const req = https.request(url, { method, headers, ca, agent: false }, (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (text += chunk));
        res.on('end', () => {
          const flat: Record<string, string> = {};
          for (const [name, value] of Object.entries(res.headers)) {
            if (value !== undefined) flat[name] = Array.isArray(value) ? value.join(', ') : value;
          }
          try {
            resolve({ headers: flat, body: JSON.parse(text) as T, status: res.statusCode ?? 0 });
          } catch (error) {
            reject(error);
          }
        });
      });
      req.on('error', reject);
      if (method === 'POST') req.write(options?.body ?? '');
      req.end();
    });
  return {
    sendGetRequestAsync: <T>(url: string, options?: NetworkRequestOptions) => send<T>('GET', url, options),
    sendPostRequestAsync: <T>(url: string, options?: NetworkRequestOptions) => send<T>('POST', url, options),
  };
}

describe('identity routes over HTTPS', () => {
  let server: FastifyInstance;
  let keys: SigningKeys;
  let base: string;
  let ca: string;

  const request = async (
    method: 'GET' | 'POST',
    path: string,
    body?: string,
    headers: Record<string, string> = {},
  ): Promise<{ status: number; headers: Record<string, string>; json: Record<string, unknown> }> => {
    const options: NetworkRequestOptions = {
      headers: body === undefined ? headers : { 'content-type': 'application/x-www-form-urlencoded', ...headers },
    };
    if (body !== undefined) options.body = body;
    const client = networkClient(ca);
    const res = method === 'GET' ? await client.sendGetRequestAsync<Record<string, unknown>>(base + path, options) : await client.sendPostRequestAsync<Record<string, unknown>>(base + path, options);
    return { status: res.status, headers: res.headers, json: res.body };
  };

  const tokenForm = (fields: Record<string, string>) => new URLSearchParams(fields).toString();

  before(async () => {
    const certs = ensureDevCertificates(dataDir, []);
    ca = certs.ca;
    keys = await SigningKeys.load(await seedKeys());
    server = Fastify({ https: { cert: certs.cert, key: certs.key } });
    await registerIdentityRoutes(server, { directory: index, keys, baseUrl: () => base });
    await server.listen({ host: '127.0.0.1', port: 0 });
    base = `https://127.0.0.1:${(server.server.address() as AddressInfo).port}`;
  });
  after(async () => {
    await server.close();
  });

  const msal = (clientId: string, clientSecret: string, tenant = TENANT) => {
    const host = new URL(base).host;
    return new ConfidentialClientApplication({
      auth: { clientId, clientSecret, authority: `${base}/${tenant}`, knownAuthorities: [host] },
      system: { networkClient: networkClient(ca) },
    });
  };

  test('MSAL acquires a Graph token by client credentials, and it verifies', async () => {
    const result = await msal(APP_ID, SECRET).acquireTokenByClientCredential({ scopes: ['https://graph.microsoft.com/.default'] });
    assert.ok(result?.accessToken);
    assert.equal(result.tokenType, 'Bearer');
    const claims = await verifyAccessToken(keys, `Bearer ${result.accessToken}`);
    assert.equal(claims.tid, TENANT);
    assert.equal(claims.appid, APP_ID);
    assert.deepEqual(claims.roles, ['Calls.Initiate.All']);
  });

  test('MSAL with a wrong secret surfaces AADSTS7000215', async () => {
    await assert.rejects(
      msal(APP_ID, 'not-the-secret').acquireTokenByClientCredential({ scopes: ['https://graph.microsoft.com/.default'] }),
      (error: unknown) => {
        assert.ok(error instanceof ServerError, String(error));
        assert.equal(error.errorCode, 'invalid_client');
        assert.equal(String(error.errorNo), '7000215');
        assert.match(error.errorMessage, /AADSTS7000215: Invalid client secret/);
        return true;
      },
    );
  });

  test('OpenID metadata (v2 and v1), instance discovery and JWKS', async () => {
    const v2 = await request('GET', `/${TENANT}/v2.0/.well-known/openid-configuration`);
    assert.equal(v2.status, 200);
    assert.equal(v2.json['token_endpoint'], `${base}/${TENANT}/oauth2/v2.0/token`);
    assert.equal(v2.json['jwks_uri'], `${base}/${TENANT}/discovery/v2.0/keys`);
    assert.equal(v2.json['issuer'], `${base}/${TENANT}/v2.0`);
    assert.equal(v2.json['authorization_endpoint'], `${base}/${TENANT}/oauth2/v2.0/authorize`);

    const v1 = await request('GET', `/${TENANT}/.well-known/openid-configuration`);
    assert.equal(v1.json['token_endpoint'], `${base}/${TENANT}/oauth2/token`);
    assert.equal(v1.json['issuer'], `https://sts.windows.net/${TENANT}/`);

    const common = await request('GET', '/common/v2.0/.well-known/openid-configuration');
    assert.equal(common.status, 200);
    assert.equal(common.json['issuer'], `${base}/{tenantid}/v2.0`);

    const unknown = await request('GET', '/not-a-tenant/v2.0/.well-known/openid-configuration');
    assert.equal(unknown.status, 400);
    assert.equal(unknown.json['error'], 'invalid_tenant');
    assert.deepEqual(unknown.json['error_codes'], [90002]);

    const host = new URL(base).host;
    const discovery = await request(
      'GET',
      `/common/discovery/instance?api-version=1.1&authorization_endpoint=${encodeURIComponent(`${base}/${TENANT}/oauth2/v2.0/authorize`)}`,
    );
    assert.equal(discovery.status, 200);
    assert.equal(discovery.json['tenant_discovery_endpoint'], `${base}/${TENANT}/v2.0/.well-known/openid-configuration`);
    assert.deepEqual(discovery.json['metadata'], [{ preferred_network: host, preferred_cache: host, aliases: [host] }]);
    const foreign = await request('GET', '/common/discovery/instance?authorization_endpoint=https%3A%2F%2Flogin.example%2Fx%2Foauth2%2Fv2.0%2Fauthorize');
    assert.equal(foreign.json['error'], 'invalid_instance');

    for (const path of [`/${TENANT}/discovery/v2.0/keys`, `/${TENANT}/discovery/keys`, '/common/discovery/v2.0/keys']) {
      const jwks = await request('GET', path);
      assert.equal(jwks.status, 200, path);
      assert.deepEqual(jwks.json, keys.publicJwks('graph'));
    }
  });

  test('Bot Framework OpenID metadata and keys', async () => {
    const meta = await request('GET', '/botframework/v1/.well-known/openidconfiguration');
    assert.equal(meta.json['issuer'], 'https://api.botframework.com');
    assert.equal(meta.json['jwks_uri'], `${base}/botframework/v1/.well-known/keys`);
    assert.deepEqual(meta.json['id_token_signing_alg_values_supported'], ['RS256']);
    const jwks = await request('GET', '/botframework/v1/.well-known/keys');
    const published = jwks.json['keys'] as Array<Record<string, unknown>>;
    assert.equal(published.length, 1);
    assert.equal(published[0]!['kid'], keys.current('notifications').kid);
    assert.deepEqual(published[0]!['endorsements'], ['msteams']);
    // A notification token verifies against the published document.
    const token = await signNotificationToken(keys, APP_ID);
    await jwtVerify(token, createLocalJWKSet({ keys: published }), { issuer: 'https://api.botframework.com', audience: APP_ID });
  });

  test("the same metadata where Microsoft's .NET calling samples read it (/v1/.well-known/OpenIdConfiguration)", async () => {
    const meta = await request('GET', '/v1/.well-known/OpenIdConfiguration');
    assert.equal(meta.status, 200);
    assert.deepEqual(meta.json, (await request('GET', '/botframework/v1/.well-known/openidconfiguration')).json);
  });

  test('token endpoint accepts the extra parameters MSAL sends, and the v1 endpoint', async () => {
    const ok = await request(
      'POST',
      `/${TENANT}/oauth2/v2.0/token?client-request-id=2b0f7a8e-5e8e-4b9c-9d1a-0c6b1f2e3d4a`,
      tokenForm({
        client_id: APP_ID,
        client_secret: SECRET,
        grant_type: 'client_credentials',
        scope: 'https://graph.microsoft.com/.default',
        client_info: '1',
        claims: '{"access_token":{"xms_cc":{"values":["cp1"]}}}',
        'x-client-SKU': 'msal.js.node',
        'x-client-VER': '7.2.3',
        'x-client-OS': 'linux',
        'x-client-CPU': 'x64',
        'x-ms-lib-capability': 'retry-after, h429',
        'x-client-current-telemetry': '5|771,2,,,|,',
        'x-client-last-telemetry': '5|0|||0,0',
        'client-request-id': '2b0f7a8e-5e8e-4b9c-9d1a-0c6b1f2e3d4a',
      }),
      { 'content-type': 'application/x-www-form-urlencoded;charset=utf-8' },
    );
    assert.equal(ok.status, 200);
    assert.equal(ok.headers['cache-control']?.includes('no-store'), true);
    assert.equal(ok.headers['client-request-id'], '2b0f7a8e-5e8e-4b9c-9d1a-0c6b1f2e3d4a');
    assert.deepEqual(Object.keys(ok.json), ['token_type', 'expires_in', 'ext_expires_in', 'access_token']);
    assert.equal(ok.json['expires_in'], 3599);
    await verifyAccessToken(keys, `Bearer ${String(ok.json['access_token'])}`);

    // Basic client authentication works too.
    const basic = await request('POST', `/${TENANT}/oauth2/v2.0/token`, tokenForm({ grant_type: 'client_credentials', scope: '00000003-0000-0000-c000-000000000000/.default' }), {
      authorization: `Basic ${Buffer.from(`${APP_ID}:${SECRET}`).toString('base64')}`,
    });
    assert.equal(basic.status, 200);

    const v1 = await request('POST', `/${TENANT}/oauth2/token`, tokenForm({ grant_type: 'client_credentials', client_id: APP_ID, client_secret: SECRET, resource: 'https://graph.microsoft.com' }));
    assert.equal(v1.status, 200);
    assert.equal(v1.json['resource'], 'https://graph.microsoft.com');
    assert.equal(v1.json['expires_in'], '3599');
    await verifyAccessToken(keys, `Bearer ${String(v1.json['access_token'])}`);
  });

  test('token endpoint errors are AAD-shaped', async () => {
    const good = { grant_type: 'client_credentials', client_id: APP_ID, client_secret: SECRET, scope: 'https://graph.microsoft.com/.default' };
    const cases: Array<{ name: string; path?: string; fields: Record<string, string>; status: number; error: string; code: number }> = [
      { name: 'unknown tenant', path: '/00000000-0000-4000-8000-000000000000/oauth2/v2.0/token', fields: good, status: 400, error: 'invalid_request', code: 90002 },
      { name: 'common tenant', path: '/common/oauth2/v2.0/token', fields: good, status: 400, error: 'invalid_request', code: 50059 },
      { name: 'unknown client', fields: { ...good, client_id: 'aaaaaaaa-0000-4000-8000-000000000000' }, status: 400, error: 'unauthorized_client', code: 700016 },
      { name: 'client of another tenant', fields: { ...good, client_id: OTHER_APP_ID, client_secret: 'other-secret' }, status: 400, error: 'unauthorized_client', code: 700016 },
      { name: 'wrong secret', fields: { ...good, client_secret: 'nope' }, status: 401, error: 'invalid_client', code: 7000215 },
      { name: 'no secret', fields: { grant_type: 'client_credentials', client_id: APP_ID, scope: good.scope }, status: 401, error: 'invalid_client', code: 7000218 },
      {
        name: 'client assertion',
        fields: { grant_type: 'client_credentials', client_id: APP_ID, scope: good.scope, client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer', client_assertion: 'x.y.z' },
        status: 401,
        error: 'invalid_client',
        code: 700027,
      },
      { name: 'unsupported grant', fields: { ...good, grant_type: 'password' }, status: 400, error: 'unsupported_grant_type', code: 70003 },
      { name: 'missing grant', fields: { client_id: APP_ID, client_secret: SECRET, scope: good.scope }, status: 400, error: 'invalid_request', code: 900144 },
      { name: 'missing scope', fields: { grant_type: 'client_credentials', client_id: APP_ID, client_secret: SECRET }, status: 400, error: 'invalid_request', code: 900144 },
      { name: 'scope without /.default', fields: { ...good, scope: 'https://graph.microsoft.com/Calls.Initiate.All' }, status: 400, error: 'invalid_scope', code: 1002012 },
      { name: 'other resource', fields: { ...good, scope: 'https://management.azure.com/.default' }, status: 400, error: 'invalid_resource', code: 500011 },
    ];
    for (const c of cases) {
      const res = await request('POST', c.path ?? `/${TENANT}/oauth2/v2.0/token`, tokenForm(c.fields), { 'client-request-id': 'c0ffee00-0000-4000-8000-000000000001' });
      assert.equal(res.status, c.status, c.name);
      assert.equal(res.json['error'], c.error, c.name);
      assert.deepEqual(res.json['error_codes'], [c.code], c.name);
      const description = String(res.json['error_description']);
      assert.match(description, new RegExp(`^AADSTS${c.code}: .+\\r\\nTrace ID: [0-9a-f-]{36}\\r\\nCorrelation ID: c0ffee00-0000-4000-8000-000000000001\\r\\nTimestamp: \\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\dZ$`), c.name);
      assert.equal(res.json['correlation_id'], 'c0ffee00-0000-4000-8000-000000000001', c.name);
      assert.equal(res.json['trace_id'], description.match(/Trace ID: (\S+)/)?.[1], c.name);
      assert.match(String(res.json['timestamp']), /Z$/, c.name);
    }

    const json = await request('POST', `/${TENANT}/oauth2/v2.0/token`, JSON.stringify(good), { 'content-type': 'application/json' });
    assert.equal(json.status, 400);
    assert.deepEqual(json.json['error_codes'], [900144]);
  });
});
