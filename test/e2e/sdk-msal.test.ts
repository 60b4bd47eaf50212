/**
 * Conformance with Microsoft's own token client: `@azure/msal-node` ConfidentialClientApplication against
 * Switchboard's authority over HTTPS. Only what the contract says a bot changes: `authority`,
 * `knownAuthorities`, and (in-process) a network client that trusts the dev CA.
 */
import assert from 'node:assert/strict';
import { X509Certificate, generateKeyPairSync } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { ConfidentialClientApplication, type AuthenticationResult, type Configuration } from '@azure/msal-node';
import { decodeJwt } from 'jose';
import forge from 'node-forge';
import { msalNetworkClient } from '../../src/testing/network.js';
import { Harness, GRAPH_SCOPE } from '../support/harness.js';
import { BOT, CONTOSO, PLAIN_BOT, testDirectory } from '../support/fixtures.js';

let h: Harness;
let host: string;
/** Every request MSAL sent. */
let seen: string[] = [];
const tokenHits = () => seen.filter((r) => r.startsWith('POST') && r.includes('/oauth2/v2.0/token')).length;

/** The application certificate of PLAIN_BOT (self-signed; one RSA key). */
const appCertificate = selfSigned();

before(async () => {
  h = await Harness.start((callback) => {
    const directory = testDirectory(callback);
    const plain = directory.tenants[0]!.applications.find((a) => a.id === PLAIN_BOT.id)!;
    plain.certificate = appCertificate.cert;
    return directory;
  });
  host = new URL(h.sb.url).host;
});
after(async () => h?.close());

const network = () =>
  msalNetworkClient(h.sb.caPem ?? '', {
    // Requests to Switchboard as `METHOD /path`; to any other host as `METHOD host/path`.
    onRequest: (method, url) => seen.push(`${method} ${new URL(url).host === host ? '' : new URL(url).host}${new URL(url).pathname}`),
  });

function app(overrides: Partial<Configuration['auth']> = {}): ConfidentialClientApplication {
  return new ConfidentialClientApplication({
    auth: {
      clientId: BOT.id,
      clientSecret: BOT.secret,
      authority: `${h.sb.url}/${CONTOSO}`,
      knownAuthorities: [host],
      ...overrides,
    },
    system: { networkClient: network() },
  });
}

async function acquire(cca: ConfidentialClientApplication, skipCache = false): Promise<AuthenticationResult> {
  const result = await cca.acquireTokenByClientCredential({ scopes: [GRAPH_SCOPE], ...(skipCache ? { skipCache } : {}) });
  assert.ok(result, 'MSAL returned a result');
  return result;
}

describe('@azure/msal-node ConfidentialClientApplication (client secret)', () => {
  test('acquires a Graph token from the tenant authority: metadata, then the token endpoint', async () => {
    seen = [];
    const result = await acquire(app());
    assert.equal(result.tokenType, 'Bearer');
    assert.equal(result.fromCache, false);
    const claims = decodeJwt(result.accessToken);
    assert.equal(claims.aud, 'https://graph.microsoft.com');
    assert.equal(claims.iss, `https://sts.windows.net/${CONTOSO}/`);
    assert.equal(claims['tid'], CONTOSO);
    assert.equal(claims['appid'], BOT.id);
    assert.deepEqual(claims['roles'], ['Calls.Initiate.All']);
    assert.ok(result.expiresOn && result.expiresOn.getTime() > Date.now() + 3000_000, 'about an hour');
    // What MSAL 7 asks for with knownAuthorities set: no instance discovery, the tenant's metadata, the token.
    assert.deepEqual(seen, [`GET /${CONTOSO}/v2.0/.well-known/openid-configuration`, `POST /${CONTOSO}/oauth2/v2.0/token`]);
    // The token works on Graph: an unknown call is 404 8522, not 401/403.
    const res = await h.http('GET', '/v1.0/communications/calls/00000000-0000-4000-8000-000000000000', { token: result.accessToken });
    assert.equal(res.status, 404);
    assert.equal(res.json.error.code, '8522');
  });

  test('the token cache: a second acquire returns the cached token without a token request', async () => {
    seen = [];
    const cca = app();
    const first = await acquire(cca);
    const second = await acquire(cca);
    assert.equal(tokenHits(), 1, 'one token request for two acquires');
    assert.equal(second.fromCache, true);
    assert.equal(second.accessToken, first.accessToken);
  });

  test('refresh: skipCache fetches a new token; an expired cached token is fetched again', async () => {
    seen = [];
    const cca = app();
    const first = await acquire(cca);
    // `forceRefresh` belongs to the silent flows: acquireTokenByClientCredential ignores it and serves the cache.
    const notForced = await cca.acquireTokenByClientCredential({ scopes: [GRAPH_SCOPE], forceRefresh: true } as Parameters<typeof cca.acquireTokenByClientCredential>[0]);
    assert.equal(notForced?.fromCache, true);
    const forced = await acquire(cca, true);
    assert.equal(tokenHits(), 2);
    assert.equal(forced.fromCache, false);
    assert.notEqual(forced.accessToken, first.accessToken);

    // Expire the cached token (as an hour passing would) through MSAL's own cache serialization.
    const cache = cca.getTokenCache();
    const serialized = JSON.parse(cache.serialize()) as { AccessToken: Record<string, Record<string, string>> };
    const past = String(Math.floor(Date.now() / 1000) - 60);
    for (const entry of Object.values(serialized.AccessToken)) {
      entry['expires_on'] = past;
      entry['extended_expires_on'] = past;
      entry['cached_at'] = String(Math.floor(Date.now() / 1000) - 3700);
    }
    cache.deserialize(JSON.stringify(serialized));
    const renewed = await acquire(cca);
    assert.equal(tokenHits(), 3, 'an expired token is not served from the cache');
    assert.equal(renewed.fromCache, false);
    assert.notEqual(renewed.accessToken, forced.accessToken);
    const again = await acquire(cca);
    assert.equal(again.fromCache, true, 'and the new one is cached');
    assert.equal(tokenHits(), 3);
  });

  test('a wrong secret is invalid_client with AADSTS7000215, as Azure AD answers', async () => {
    await assert.rejects(acquire(app({ clientSecret: 'not-the-secret' })), (error: Error & { errorCode?: string; errorMessage?: string }) => {
      assert.equal(error.errorCode, 'invalid_client');
      assert.match(error.errorMessage ?? error.message, /AADSTS7000215/);
      return true;
    });
  });

  test('an unknown tenant fails at metadata discovery (endpoints_resolution_error)', async () => {
    await assert.rejects(acquire(app({ authority: `${h.sb.url}/11111111-2222-4333-8444-555555555555` })), (error: Error & { errorCode?: string }) => {
      assert.equal(error.errorCode, 'endpoints_resolution_error');
      return true;
    });
  });

  test('without knownAuthorities MSAL asks Microsoft, not Switchboard, and fails (endpoints_resolution_error)', async () => {
    seen = [];
    const cca = new ConfidentialClientApplication({
      auth: { clientId: BOT.id, clientSecret: BOT.secret, authority: `${h.sb.url}/${CONTOSO}` },
      system: { networkClient: network() },
    });
    await assert.rejects(acquire(cca), (error: Error & { errorCode?: string }) => {
      assert.equal(error.errorCode, 'endpoints_resolution_error');
      return true;
    });
    // MSAL first asks Microsoft's cloud for instance discovery (the request's URL host is
    // login.microsoftonline.com; it names our authority in a parameter); it never reaches Switchboard.
    assert.deepEqual(seen, ['GET login.microsoftonline.com/common/discovery/instance']);
  });

  test('without trusting the dev CA the TLS handshake fails (MSAL network error)', async () => {
    const cca = new ConfidentialClientApplication({
      auth: { clientId: BOT.id, clientSecret: BOT.secret, authority: `${h.sb.url}/${CONTOSO}`, knownAuthorities: [host] },
    });
    await assert.rejects(acquire(cca), (error: Error & { errorCode?: string }) => {
      assert.equal(error.errorCode, 'endpoints_resolution_error', `${error.errorCode}: ${error.message}`);
      return true;
    });
  });
});

describe('@azure/msal-node ConfidentialClientApplication (certificate)', () => {
  test('clientCertificate: a client_assertion signed with the application key', async () => {
    const cca = new ConfidentialClientApplication({
      auth: {
        clientId: PLAIN_BOT.id,
        clientCertificate: {
          thumbprintSha256: new X509Certificate(appCertificate.cert).fingerprint256.replace(/:/g, ''),
          privateKey: appCertificate.key,
          x5c: appCertificate.cert,
        },
        authority: `${h.sb.url}/${CONTOSO}`,
        knownAuthorities: [host],
      },
      system: { networkClient: network() },
    });
    const result = await cca.acquireTokenByClientCredential({ scopes: [GRAPH_SCOPE] });
    assert.ok(result);
    assert.equal(decodeJwt(result.accessToken)['appid'], PLAIN_BOT.id);
    assert.equal(decodeJwt(result.accessToken)['appidacr'], '2', 'certificate-authenticated');
    const res = await h.http('GET', '/v1.0/communications/calls/00000000-0000-4000-8000-000000000000', { token: result.accessToken });
    assert.equal(res.status, 404, 'the token is accepted by Graph (unknown call: 404, not 401)');
  });
});

/** A self-signed certificate and its PKCS#8 key, as an application registers for certificate credentials. */
function selfSigned(): { cert: string; key: string } {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const key = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  const forgeKey = forge.pki.privateKeyFromPem(key) as forge.pki.rsa.PrivateKey;
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.setRsaPublicKey(forgeKey.n, forgeKey.e);
  cert.serialNumber = '01';
  cert.validity.notBefore = new Date(Date.now() - 86_400_000);
  cert.validity.notAfter = new Date(Date.now() + 86_400_000);
  const name = [{ name: 'commonName', value: 'plain bot' }];
  cert.setSubject(name);
  cert.setIssuer(name);
  cert.sign(forgeKey, forge.md.sha256.create());
  return { cert: forge.pki.certificateToPem(cert), key };
}
