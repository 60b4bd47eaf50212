/**
 * Hostile tokens, end to end over real HTTPS:
 * - the token endpoint with certificate credentials, driven by the real @azure/msal-node (PS256 + x5t#S256
 *   and RS256 + x5t), and every client-assertion failure as the AADSTS error Azure AD answers;
 * - every refusal of a Graph access token on every Graph route (both versions, both bases, five operations);
 * - the simulator's admin key, and `--no-simulator` (operator mode): the simulator API is 404.
 */
import assert from 'node:assert/strict';
import { createHash, generateKeyPairSync, randomUUID, type KeyObject } from 'node:crypto';
import https from 'node:https';
import { after, before, describe, test } from 'node:test';
import {
  ConfidentialClientApplication,
  ServerError,
  type INetworkModule,
  type NetworkRequestOptions,
  type NetworkResponse,
} from '@azure/msal-node';
import forge from 'node-forge';
import { SignJWT, decodeJwt } from 'jose';
import type { Directory } from '../../src/directory/model.js';
import { GRAPH_SCOPE, Harness } from '../support/harness.js';
import { BOT, CONTOSO, FABRIKAM, FABRIKAM_BOT, USERS, callFromCaller, testDirectory, userTarget } from '../support/fixtures.js';
import {
  aadErrorProblem,
  algNoneToken,
  assertGraphError,
  flipSignature,
  forgeToken,
  hs256WithPublicKey,
  nowSeconds,
  stranger,
} from './security-support.js';

// --- a certificate for a bot ---------------------------------------------------------------

interface Credential {
  privateKeyPem: string;
  certPem: string;
  sha1Hex: string;
  sha256Hex: string;
  privateKey: KeyObject;
}

/** A key pair and a self-signed certificate, valid from `notBefore` to `notAfter`. */
function makeCredential(cn: string, notBefore = new Date(Date.now() - 86_400_000), notAfter = new Date(Date.now() + 365 * 86_400_000)): Credential {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const privateKeyPem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  const fPrivate = forge.pki.privateKeyFromPem(privateKeyPem);
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.setRsaPublicKey(fPrivate.n, fPrivate.e);
  cert.serialNumber = '01' + createHash('sha1').update(cn).digest('hex').slice(0, 16);
  cert.validity.notBefore = notBefore;
  cert.validity.notAfter = notAfter;
  cert.setSubject([{ name: 'commonName', value: cn }]);
  cert.setIssuer([{ name: 'commonName', value: cn }]);
  cert.sign(fPrivate, forge.md.sha256.create());
  const certPem = forge.pki.certificateToPem(cert);
  const der = Buffer.from(forge.asn1.toDer(forge.pki.certificateToAsn1(cert)).getBytes(), 'binary');
  return {
    privateKeyPem,
    certPem,
    privateKey,
    sha1Hex: createHash('sha1').update(der).digest('hex').toUpperCase(),
    sha256Hex: createHash('sha256').update(der).digest('hex').toUpperCase(),
  };
}

const CERT_BOT = { id: 'c3e1a7f0-1b2c-4d3e-8f4a-5b6c7d8e9f01', name: 'certificate bot' };
const EXPIRED_BOT = { id: 'c3e1a7f0-1b2c-4d3e-8f4a-5b6c7d8e9f02', name: 'bot with an expired certificate' };
const NO_ROLE_BOT = { id: 'c3e1a7f0-1b2c-4d3e-8f4a-5b6c7d8e9f03', secret: 'no-role-secret', name: 'bot without the role' };

const credential = makeCredential('switchboard certificate bot');
const otherCredential = makeCredential('somebody else');
const expiredCredential = makeCredential('expired bot', new Date(Date.now() - 400 * 86_400_000), new Date(Date.now() - 30 * 86_400_000));

function directory(callback: (path: string) => string): Directory {
  const base = testDirectory(callback);
  const contoso = base.tenants[0]!;
  contoso.applications.push(
    { id: CERT_BOT.id, tenantId: CONTOSO, displayName: CERT_BOT.name, certificate: credential.certPem, roles: ['Calls.Initiate.All'], callbackUri: callback('/api/cert'), instances: [] },
    { id: EXPIRED_BOT.id, tenantId: CONTOSO, displayName: EXPIRED_BOT.name, certificate: expiredCredential.certPem, roles: ['Calls.Initiate.All'], callbackUri: callback('/api/expired'), instances: [] },
    { id: NO_ROLE_BOT.id, tenantId: CONTOSO, displayName: NO_ROLE_BOT.name, clientSecret: NO_ROLE_BOT.secret, roles: [], callbackUri: callback('/api/norole'), instances: [] },
  );
  return base;
}

let h: Harness;
let token: string;

before(async () => {
  h = await Harness.start(directory);
  token = await h.token(CONTOSO, BOT.id, BOT.secret);
});
after(async () => h?.close());

const incomingCall = (): Promise<string> => h.incomingCall();

// --- MSAL over HTTPS -----------------------------------------------------------------------

/** MSAL's default client is fetch, which ignores node:https agents: one that trusts the dev CA. */
function networkClient(ca: string): INetworkModule {
  const send = <T>(method: 'GET' | 'POST', url: string, options?: NetworkRequestOptions): Promise<NetworkResponse<T>> =>
    new Promise((resolve, reject) => {
      const req = https.request(url, { method, headers: { ...(options?.headers ?? {}) }, ca, agent: false }, (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (text += chunk));
        res.on('end', () => {
          const flat: Record<string, string> = {};
          for (const [name, value] of Object.entries(res.headers)) if (value !== undefined) flat[name] = Array.isArray(value) ? value.join(', ') : value;
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

function msal(clientId: string, certificate: { thumbprint?: string; thumbprintSha256?: string; privateKey: string }, tenant = CONTOSO): ConfidentialClientApplication {
  const host = new URL(h.sb.url).host;
  return new ConfidentialClientApplication({
    auth: { clientId, clientCertificate: certificate, authority: `${h.sb.url}/${tenant}`, knownAuthorities: [host] },
    system: { networkClient: networkClient(h.sb.caPem!) },
  });
}

async function rejectsWithAad(promise: Promise<unknown>, error: string, code: number, message?: RegExp): Promise<void> {
  await assert.rejects(promise, (e: unknown) => {
    assert.ok(e instanceof ServerError, `expected MSAL's ServerError, got ${String(e)}`);
    assert.equal(e.errorCode, error, e.errorMessage);
    assert.equal(String(e.errorNo), String(code), e.errorMessage);
    if (message) assert.match(e.errorMessage, message);
    return true;
  });
}

describe('token endpoint: certificate credentials through @azure/msal-node', () => {
  test('SHA-256 thumbprint (PS256, x5t#S256): a token that works on Graph, appidacr 2', async () => {
    const result = await msal(CERT_BOT.id, { thumbprintSha256: credential.sha256Hex, privateKey: credential.privateKeyPem }).acquireTokenByClientCredential({ scopes: [GRAPH_SCOPE] });
    assert.ok(result?.accessToken);
    const claims = decodeJwt(result.accessToken);
    assert.equal(claims['appid'], CERT_BOT.id);
    assert.equal(claims['appidacr'], '2', 'certificate credential');
    assert.equal(claims['tid'], CONTOSO);
    const res = await h.http('GET', `/v1.0/communications/calls/${randomUUID()}`, { token: result.accessToken });
    assertGraphError(res, 404, '8522');
  });

  test('SHA-1 thumbprint (RS256, x5t), as older MSAL configurations send it', async () => {
    const result = await msal(CERT_BOT.id, { thumbprint: credential.sha1Hex, privateKey: credential.privateKeyPem }).acquireTokenByClientCredential({ scopes: [GRAPH_SCOPE] });
    assert.equal(decodeJwt(result!.accessToken)['appid'], CERT_BOT.id);
  });

  test('a different private key under the right thumbprint → invalid_client AADSTS700027 (signature)', async () => {
    await rejectsWithAad(
      msal(CERT_BOT.id, { thumbprintSha256: credential.sha256Hex, privateKey: otherCredential.privateKeyPem }).acquireTokenByClientCredential({ scopes: [GRAPH_SCOPE] }),
      'invalid_client',
      700027,
      /AADSTS700027: Client assertion failed signature validation/,
    );
  });

  test("another certificate's thumbprint → AADSTS700027 (key not found)", async () => {
    await rejectsWithAad(
      msal(CERT_BOT.id, { thumbprintSha256: otherCredential.sha256Hex, privateKey: otherCredential.privateKeyPem }).acquireTokenByClientCredential({ scopes: [GRAPH_SCOPE] }),
      'invalid_client',
      700027,
      /The key was not found/,
    );
  });

  test('an application with no certificate in the directory → AADSTS700027', async () => {
    await rejectsWithAad(
      msal(BOT.id, { thumbprintSha256: credential.sha256Hex, privateKey: credential.privateKeyPem }).acquireTokenByClientCredential({ scopes: [GRAPH_SCOPE] }),
      'invalid_client',
      700027,
      /no certificate/,
    );
  });

  test('an expired certificate → AADSTS700027 (the key used is expired)', async () => {
    await rejectsWithAad(
      msal(EXPIRED_BOT.id, { thumbprintSha256: expiredCredential.sha256Hex, privateKey: expiredCredential.privateKeyPem }).acquireTokenByClientCredential({ scopes: [GRAPH_SCOPE] }),
      'invalid_client',
      700027,
      /expired/,
    );
  });

  test('unknown client → unauthorized_client AADSTS700016; wrong tenant → AADSTS700016 / 90002', async () => {
    await rejectsWithAad(
      msal(randomUUID(), { thumbprintSha256: credential.sha256Hex, privateKey: credential.privateKeyPem }).acquireTokenByClientCredential({ scopes: [GRAPH_SCOPE] }),
      'unauthorized_client',
      700016,
    );
    await rejectsWithAad(
      msal(CERT_BOT.id, { thumbprintSha256: credential.sha256Hex, privateKey: credential.privateKeyPem }, FABRIKAM).acquireTokenByClientCredential({ scopes: [GRAPH_SCOPE] }),
      'unauthorized_client',
      700016,
    );
    // An unknown tenant fails at MSAL's metadata discovery (Azure AD answers the same way).
    await assert.rejects(
      msal(CERT_BOT.id, { thumbprintSha256: credential.sha256Hex, privateKey: credential.privateKeyPem }, randomUUID()).acquireTokenByClientCredential({ scopes: [GRAPH_SCOPE] }),
    );
  });

  test('a scope without /.default → invalid_scope AADSTS1002012', async () => {
    await rejectsWithAad(
      msal(CERT_BOT.id, { thumbprintSha256: credential.sha256Hex, privateKey: credential.privateKeyPem }).acquireTokenByClientCredential({ scopes: ['https://graph.microsoft.com/Calls.Initiate.All'] }),
      'invalid_scope',
      1002012,
    );
  });
});

describe('token endpoint: client assertions sent by hand', () => {
  const endpoint = () => `${h.sb.url}/${CONTOSO}/oauth2/v2.0/token`;
  const assertion = async (
    claims: Record<string, unknown> = {},
    options: { key?: KeyObject; alg?: string; header?: Record<string, unknown> } = {},
  ): Promise<string> => {
    const now = nowSeconds();
    return new SignJWT({ aud: endpoint(), iss: CERT_BOT.id, sub: CERT_BOT.id, jti: randomUUID(), nbf: now, exp: now + 600, ...claims })
      .setProtectedHeader({ alg: options.alg ?? 'PS256', typ: 'JWT', 'x5t#S256': Buffer.from(credential.sha256Hex, 'hex').toString('base64url'), ...(options.header ?? {}) })
      .sign(options.key ?? credential.privateKey);
  };
  const post = (fields: Record<string, string>) =>
    h.http('POST', `/${CONTOSO}/oauth2/v2.0/token`, {
      form: { grant_type: 'client_credentials', client_id: CERT_BOT.id, scope: GRAPH_SCOPE, client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer', ...fields },
    });

  const cases: Array<{ name: string; fields: () => Promise<Record<string, string>>; status: number; error: string; code: number; message?: RegExp }> = [
    { name: 'a good assertion', fields: async () => ({ client_assertion: await assertion() }), status: 200, error: '', code: 0 },
    { name: 'RS256 without a thumbprint header', fields: async () => ({ client_assertion: await assertion({}, { alg: 'RS256', header: { 'x5t#S256': undefined } }) }), status: 200, error: '', code: 0 },
    { name: 'the v1 endpoint as audience', fields: async () => ({ client_assertion: await assertion({ aud: `${h.sb.url}/${CONTOSO}/oauth2/token` }) }), status: 200, error: '', code: 0 },
    { name: 'expired (beyond the 5 min skew)', fields: async () => ({ client_assertion: await assertion({ nbf: nowSeconds() - 1300, exp: nowSeconds() - 700 }) }), status: 401, error: 'invalid_client', code: 700024, message: /not within its valid time range/ },
    { name: 'not yet valid', fields: async () => ({ client_assertion: await assertion({ nbf: nowSeconds() + 900, exp: nowSeconds() + 1500 }) }), status: 401, error: 'invalid_client', code: 700024 },
    { name: 'iss is another client', fields: async () => ({ client_assertion: await assertion({ iss: BOT.id, sub: BOT.id }) }), status: 401, error: 'invalid_client', code: 700021 },
    { name: 'aud is Azure AD', fields: async () => ({ client_assertion: await assertion({ aud: `https://login.microsoftonline.com/${CONTOSO}/oauth2/v2.0/token` }) }), status: 401, error: 'invalid_client', code: 700023 },
    { name: 'signed by a stranger', fields: async () => ({ client_assertion: await assertion({}, { key: stranger() }) }), status: 401, error: 'invalid_client', code: 700027 },
    { name: 'HS256', fields: async () => ({ client_assertion: await new SignJWT({ iss: CERT_BOT.id, sub: CERT_BOT.id, aud: endpoint(), exp: nowSeconds() + 600 }).setProtectedHeader({ alg: 'HS256' }).sign(new TextEncoder().encode(credential.certPem)) }), status: 400, error: 'invalid_request', code: 50027 },
    { name: 'alg none', fields: async () => ({ client_assertion: `${Buffer.from('{"alg":"none"}').toString('base64url')}.${Buffer.from(JSON.stringify({ iss: CERT_BOT.id, sub: CERT_BOT.id, aud: endpoint(), exp: nowSeconds() + 600 })).toString('base64url')}.` }), status: 400, error: 'invalid_request', code: 50027 },
    { name: 'not a JWT', fields: async () => ({ client_assertion: 'not-a-jwt' }), status: 400, error: 'invalid_request', code: 50027 },
    { name: 'a wrong client_assertion_type', fields: async () => ({ client_assertion: await assertion(), client_assertion_type: 'urn:example:password' }), status: 400, error: 'invalid_request', code: 50027 },
    { name: 'an empty client_assertion', fields: async () => ({ client_assertion: '' }), status: 400, error: 'invalid_request', code: 900144 },
  ];
  for (const c of cases) {
    test(`${c.name} → ${c.status}${c.code ? ` AADSTS${c.code}` : ''}`, async () => {
      const res = await post(await c.fields());
      assert.equal(res.status, c.status, res.text);
      if (c.status === 200) {
        assert.equal(decodeJwt(res.json.access_token)['appidacr'], '2');
        return;
      }
      assert.equal(aadErrorProblem(res.headers, res.text), undefined, res.text);
      assert.equal(res.json.error, c.error);
      assert.deepEqual(res.json.error_codes, [c.code]);
      if (c.message) assert.match(res.json.error_description, c.message);
    });
  }

  test('missing scope → 900144; unsupported grant → 70003 (with a certificate as well)', async () => {
    const good = await assertion();
    const noScope = await h.http('POST', `/${CONTOSO}/oauth2/v2.0/token`, {
      form: { grant_type: 'client_credentials', client_id: CERT_BOT.id, client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer', client_assertion: good },
    });
    assert.equal(noScope.status, 400);
    assert.deepEqual(noScope.json.error_codes, [900144]);
    const password = await post({ client_assertion: good, grant_type: 'password' });
    assert.equal(password.json.error, 'unsupported_grant_type');
    assert.deepEqual(password.json.error_codes, [70003]);
  });
});

// --- every refusal on every Graph route ------------------------------------------------------

const ROUTES: Array<{ method: 'GET' | 'POST' | 'DELETE'; path: (id: string) => string; body?: unknown }> = [];
for (const version of ['v1.0', 'beta']) {
  for (const base of ['communications/calls', 'app/calls']) {
    ROUTES.push(
      { method: 'POST', path: (id) => `/${version}/${base}/${id}/redirect`, body: { targets: [userTarget(USERS.testUser)] } },
      { method: 'POST', path: (id) => `/${version}/${base}/${id}/reject`, body: { reason: 'busy' } },
      { method: 'POST', path: (id) => `/${version}/${base}/${id}/answer`, body: {} },
      { method: 'GET', path: (id) => `/${version}/${base}/${id}` },
      { method: 'DELETE', path: (id) => `/${version}/${base}/${id}` },
    );
  }
}

describe('access token refusals on every Graph route (20 routes)', () => {
  let id: string;
  let tokens: Record<string, string | undefined>;

  before(async () => {
    id = await incomingCall();
    const keys = h.sb.keys;
    const now = nowSeconds();
    const issuedAt = async (at: number) => forgeToken(keys, CONTOSO, BOT.id, { iat: at, nbf: at, exp: at + 3599 });
    tokens = {
      missing: undefined,
      'not a JWT': 'Bearer not-a-jwt',
      'three garbage parts': 'Bearer aaa.bbb.ccc',
      'Basic scheme': `Basic ${Buffer.from(`${BOT.id}:${BOT.secret}`).toString('base64')}`,
      'bad signature': `Bearer ${flipSignature(token)}`,
      "a stranger's key under our kid": `Bearer ${await new SignJWT(decodeJwt(token)).setProtectedHeader({ alg: 'RS256', kid: keys.current('graph').kid }).sign(stranger())}`,
      'alg none': `Bearer ${algNoneToken(keys, CONTOSO, BOT.id)}`,
      'HS256 signed with the public key': `Bearer ${await hs256WithPublicKey(keys, CONTOSO, BOT.id)}`,
      'unknown kid': `Bearer ${await new SignJWT(decodeJwt(token)).setProtectedHeader({ alg: 'RS256', kid: 'not-one-of-ours' }).sign(stranger())}`,
      expired: `Bearer ${await issuedAt(now - 3599 - 330)}`,
      'not yet valid (beyond the 300 s skew)': `Bearer ${await issuedAt(now + 330)}`,
      'wrong aud': `Bearer ${await forgeToken(keys, CONTOSO, BOT.id, { aud: 'https://management.azure.com' })}`,
      'wrong iss': `Bearer ${await forgeToken(keys, CONTOSO, BOT.id, { iss: `https://login.microsoftonline.com/${CONTOSO}/v2.0` })}`,
      "another tenant's iss": `Bearer ${await forgeToken(keys, CONTOSO, BOT.id, { iss: `https://sts.windows.net/${FABRIKAM}/` })}`,
      'a notification token': `Bearer ${await (await import('../../src/identity/tokens.js')).signNotificationToken(keys, BOT.id)}`,
    };
  });

  const refusals401 = [
    'missing',
    'not a JWT',
    'three garbage parts',
    'Basic scheme',
    'bad signature',
    "a stranger's key under our kid",
    'alg none',
    'HS256 signed with the public key',
    'unknown kid',
    'expired',
    'not yet valid (beyond the 300 s skew)',
    'wrong aud',
    'wrong iss',
    "another tenant's iss",
    'a notification token',
  ];

  test(`${refusals401.length} kinds of bad token → 401 InvalidAuthenticationToken on each route`, async () => {
    let checked = 0;
    for (const name of refusals401) {
      for (const route of ROUTES) {
        const authorization = tokens[name];
        const res = await h.http(route.method, route.path(id), {
          ...(route.body !== undefined ? { body: route.body } : {}),
          headers: authorization ? { authorization } : {},
        });
        assert.equal(res.status, 401, `${name}: ${route.method} ${route.path(id)} → ${res.status} ${res.text}`);
        assertGraphError(res, 401, 'InvalidAuthenticationToken');
        checked++;
      }
    }
    assert.equal(checked, refusals401.length * 20);
    assert.equal((await h.record(id)).state, 'incoming', 'nothing happened to the call');
  });

  test('a delegated token (scp) → 403 "delegated permissions are not supported" on each route', async () => {
    const delegated = await forgeToken(h.sb.keys, CONTOSO, BOT.id, { scp: 'Calls.Initiate.All User.Read' });
    for (const route of ROUTES) {
      const res = await h.http(route.method, route.path(id), { token: delegated, ...(route.body !== undefined ? { body: route.body } : {}) });
      assertGraphError(res, 403, 'Forbidden', /delegated permissions are not supported/i);
    }
  });

  test('a token without Calls.Initiate.All → 403 naming the role on each route', async () => {
    const noRole = await h.token(CONTOSO, NO_ROLE_BOT.id, NO_ROLE_BOT.secret);
    for (const route of ROUTES) {
      const res = await h.http(route.method, route.path(id), { token: noRole, ...(route.body !== undefined ? { body: route.body } : {}) });
      assertGraphError(res, 403, 'Forbidden', /Calls\.Initiate\.All/);
    }
  });

  test("another tenant's token on this call → 403 7505 on each route", async () => {
    const fabrikam = await h.token(FABRIKAM, FABRIKAM_BOT.id, FABRIKAM_BOT.secret);
    for (const route of ROUTES) {
      const res = await h.http(route.method, route.path(id), { token: fabrikam, ...(route.body !== undefined ? { body: route.body } : {}) });
      assertGraphError(res, 403, '7505');
    }
    assert.equal((await h.record(id)).state, 'incoming');
  });

  test('within the skew (nbf 200 s ahead) the token is accepted', async () => {
    const at = nowSeconds() + 200;
    const skewed = await forgeToken(h.sb.keys, CONTOSO, BOT.id, { iat: at, nbf: at, exp: at + 3599 });
    const res = await h.http('GET', `/v1.0/communications/calls/${id}`, { token: skewed });
    assert.equal(res.status, 200, res.text);
  });

  test('a certificate-credential token works like a secret one', async () => {
    const result = await msal(CERT_BOT.id, { thumbprintSha256: credential.sha256Hex, privateKey: credential.privateKeyPem }).acquireTokenByClientCredential({ scopes: [GRAPH_SCOPE] });
    // The call belongs to the test bot: another application of the same tenant gets 404 8522.
    const res = await h.http('GET', `/v1.0/communications/calls/${id}`, { token: result!.accessToken });
    assertGraphError(res, 404, '8522');
  });
});

// --- the simulator's admin key and operator mode ------------------------------------------

const SIMULATOR_ROUTES: Array<{ method: 'GET' | 'POST'; path: string; body?: unknown }> = [
  { method: 'POST', path: '/simulator/calls', body: callFromCaller },
  { method: 'GET', path: '/simulator/calls' },
  { method: 'GET', path: `/simulator/calls/${randomUUID()}` },
  { method: 'POST', path: `/simulator/calls/${randomUUID()}/hangup` },
  { method: 'POST', path: `/simulator/calls/${randomUUID()}/targets/${USERS.manual}/answer` },
  { method: 'POST', path: `/simulator/calls/${randomUUID()}/targets/${USERS.manual}/decline` },
  { method: 'POST', path: `/simulator/calls/${randomUUID()}/targets/${USERS.manual}/busy` },
  { method: 'GET', path: '/simulator/clock' },
  { method: 'POST', path: '/simulator/clock/advance', body: { seconds: 1 } },
];

describe('the simulator API', () => {
  test('every route needs the admin key: none, a wrong one, one of the same length, a prefix, a Graph token → 401', async () => {
    const key = h.sb.adminKey;
    const wrong = [undefined, 'wrong', 'x'.repeat(key.length), key.slice(0, -1), `${key}x`, key.toUpperCase(), token];
    for (const route of SIMULATOR_ROUTES) {
      for (const candidate of wrong) {
        const res = await h.http(route.method, route.path, { ...(candidate ? { token: candidate } : {}), ...(route.body !== undefined ? { body: route.body } : {}) });
        assertGraphError(res, 401, 'InvalidAuthenticationToken');
      }
    }
  });

  test('operator mode (--no-simulator): every simulator route is 404, even with the admin key; Graph still works', async () => {
    const operator = await Harness.start((cb) => ({ ...testDirectory(cb), notifications: { allowHosts: ['127.0.0.1'], giveUpAfterSeconds: 86_400 } }), { simulator: false });
    try {
      for (const route of SIMULATOR_ROUTES) {
        const res = await operator.http(route.method, route.path, { token: operator.sb.adminKey, ...(route.body !== undefined ? { body: route.body } : {}) });
        assertGraphError(res, 404, 'NotFound');
      }
      const botToken = await operator.token(CONTOSO, BOT.id, BOT.secret);
      const res = await operator.http('GET', `/v1.0/communications/calls/${randomUUID()}`, { token: botToken });
      assertGraphError(res, 404, '8522');
    } finally {
      await operator.close();
    }
  });
});
