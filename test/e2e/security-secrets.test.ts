/**
 * Secrets (contract Part B): directory secrets from the environment (`${NAME}`); no secret, token or
 * Authorization header in any log line, at level trace, through a token request, Graph and simulator
 * requests, notification deliveries (accepted and failed) and a request whose headers are too large; and
 * signing keys rotated with `switchboard keys rotate` while a server runs: tokens signed with the old key
 * still verify, new tokens are signed with the new key, and both keys are published.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { resolve } from 'node:path';
import { Writable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { decodeJwt, decodeProtectedHeader } from 'jose';
import pino from 'pino';
import { parseDirectory } from '../../src/directory/load.js';
import { SigningKeys } from '../../src/identity/keys.js';
import { issueAccessToken } from '../../src/identity/tokens.js';
import { openStore } from '../../src/store/open.js';
import { GRAPH_SCOPE, Harness } from '../support/harness.js';
import { CONTOSO, USERS, userTarget } from '../support/fixtures.js';
import { rawExchange } from './security-support.js';

const ROOT = resolve(fileURLToPath(import.meta.url), '../../..');
const BOT_ID = '24701998-1a73-4d42-8085-bf46ed0ae039';
const SECRET = `env-secret-${randomBytes(12).toString('hex')}`;
const ADMIN_KEY = `env-admin-${randomBytes(12).toString('hex')}`;

/** A directory file whose secrets come from the environment. */
const yaml = (callback: (path: string) => string) => `
admin: { key: "\${SB_TEST_ADMIN_KEY}" }
tenants:
  - id: ${CONTOSO}
    applications:
      - id: ${BOT_ID}
        clientSecret: \${SB_TEST_BOT_SECRET}
        roles: [Calls.Initiate.All]
        callbackUri: ${callback('/api/calls')}
    users:
      - id: ${USERS.caller}
      - id: ${USERS.testUser}
        behaviour: { answerAfter: 3 }
`;
const env = { SB_TEST_BOT_SECRET: SECRET, SB_TEST_ADMIN_KEY: ADMIN_KEY };

const lines: string[] = [];
let h: Harness;

before(async () => {
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
      done();
    },
  });
  h = await Harness.start((cb) => parseDirectory(yaml(cb), 'secrets.yaml', env), {
    logger: pino({ level: 'trace' }, stream),
    timing: { keyReloadIntervalMs: 0 },
  });
});
after(async () => h?.close());

describe('secrets from the environment', () => {
  test('${NAME} in the directory: the token endpoint takes the secret from the environment, the admin key too', async () => {
    const token = await h.token(CONTOSO, BOT_ID, SECRET);
    assert.ok(token);
    assert.equal(h.sb.adminKey, ADMIN_KEY);
    assert.equal(h.sb.adminKeyGenerated, false);
    const literal = await h.http('POST', `/${CONTOSO}/oauth2/v2.0/token`, {
      form: { grant_type: 'client_credentials', client_id: BOT_ID, client_secret: '${SB_TEST_BOT_SECRET}', scope: GRAPH_SCOPE },
    });
    assert.equal(literal.status, 401, 'the placeholder itself is not the secret');
  });

  test('an unset variable is a directory error naming it', () => {
    assert.throws(() => parseDirectory(yaml((p) => `https://127.0.0.1:9443${p}`), 'secrets.yaml', { SB_TEST_ADMIN_KEY: ADMIN_KEY }), /SB_TEST_BOT_SECRET is not set/);
  });
});

describe('no secret in any log line (level trace)', () => {
  test('token requests, Graph and simulator requests, deliveries, oversized headers', async () => {
    const secrets: string[] = [SECRET, ADMIN_KEY];
    // Token requests: form post, a secret in the query string, Basic, a client assertion, a wrong secret.
    const tokenRes = await h.http('POST', `/${CONTOSO}/oauth2/v2.0/token?client_secret=${SECRET}&client-request-id=7f0c`, {
      form: { grant_type: 'client_credentials', client_id: BOT_ID, client_secret: SECRET, scope: GRAPH_SCOPE },
    });
    assert.equal(tokenRes.status, 200, tokenRes.text);
    const token = tokenRes.json.access_token as string;
    secrets.push(token, token.split('.')[2]!);
    const basic = await h.http('POST', `/${CONTOSO}/oauth2/v2.0/token`, {
      form: { grant_type: 'client_credentials', scope: GRAPH_SCOPE },
      headers: { authorization: `Basic ${Buffer.from(`${BOT_ID}:${SECRET}`).toString('base64')}` },
    });
    assert.equal(basic.status, 200);
    secrets.push(basic.json.access_token, Buffer.from(`${BOT_ID}:${SECRET}`).toString('base64'));
    const assertionMarker = `assertion-${randomBytes(16).toString('hex')}`;
    await h.http('POST', `/${CONTOSO}/oauth2/v2.0/token`, {
      form: { grant_type: 'client_credentials', client_id: BOT_ID, scope: GRAPH_SCOPE, client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer', client_assertion: `${assertionMarker}.x.y` },
    });
    const wrongSecret = `wrong-${randomBytes(8).toString('hex')}`;
    await h.http('POST', `/${CONTOSO}/oauth2/v2.0/token`, { form: { grant_type: 'client_credentials', client_id: BOT_ID, client_secret: wrongSecret, scope: GRAPH_SCOPE } });
    secrets.push(assertionMarker, wrongSecret);

    // A call: the bot gets notifications (each with a bot-framework JWT), redirects, and a delivery fails once.
    let failNext = true;
    h.receiver.status = () => {
      if (failNext) {
        failNext = false;
        return 500;
      }
      return 202;
    };
    const id = await h.placeCall({ tenantId: CONTOSO, from: { userId: USERS.caller }, to: { applicationId: BOT_ID } });
    await h.settle();
    await h.advance(1); // the retry
    const created = await h.receiver.waitFor(id, 'created');
    const notificationToken = String(created.request.headers.authorization).replace(/^Bearer /, '');
    secrets.push(notificationToken, notificationToken.split('.')[2]!);
    const redirect = await h.http('POST', `/v1.0/communications/calls/${id}/redirect?access_token=${token}`, { token, body: { targets: [userTarget(USERS.testUser)] } });
    assert.equal(redirect.status, 202, redirect.text);
    await h.receiver.waitFor(id, 'updated', 'redirecting');
    assert.equal((await h.http('GET', `/v1.0/communications/calls/${id}`, { token: `${token}x` })).status, 401);
    await h.record(id);

    // Headers over 16 KiB, with an Authorization header in them: Node hands the raw bytes to the error log.
    const overflow = await rawExchange(
      h.sb.port,
      h.sb.caPem!,
      `GET /v1.0/communications/calls/${id} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${token}\r\nX-Pad: ${'p'.repeat(17_000)}\r\n\r\n`,
    );
    assert.equal(overflow.status, 431);
    await new Promise((r) => setTimeout(r, 50));

    assert.ok(lines.length > 20, `log lines were written (${lines.length})`);
    assert.ok(lines.some((l) => l.includes('"incoming request"')), 'request lines at trace/info');
    assert.ok(lines.some((l) => /notification delivery failed/.test(l)), 'the failed delivery was logged');
    assert.ok(lines.some((l) => l.includes('header_overflow')), "the header overflow was logged (fastify's trace line)");
    for (const line of lines) {
      for (const secret of secrets) assert.ok(!line.includes(secret), `a log line contains a secret (${secret.slice(0, 12)}…): ${line.slice(0, 300)}`);
      assert.doesNotMatch(line, /Bearer ey/i, `a log line contains a bearer token: ${line.slice(0, 300)}`);
      assert.doesNotMatch(line, /"type":"Buffer"/, `a log line contains raw bytes: ${line.slice(0, 300)}`);
    }
    const tokenLine = lines.find((l) => l.includes('oauth2/v2.0/token?'));
    assert.ok(tokenLine?.includes('client_secret=[redacted]'), `the query string is logged redacted: ${tokenLine?.slice(0, 300)}`);
  });
});

describe('signing key rotation while the server runs', () => {
  const cli = (args: string[]) =>
    new Promise<{ code: number | null; out: string }>((done) => {
      const child = spawn(process.execPath, [resolve(ROOT, 'bin/switchboard.js'), ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      child.stdout.on('data', (c: Buffer) => (out += c.toString()));
      child.stderr.on('data', (c: Buffer) => (out += c.toString()));
      child.on('exit', (code) => done({ code, out }));
    });

  test('switchboard keys rotate: old tokens still verify, new tokens use the new key, both keys are published', { timeout: 60_000 }, async () => {
    const tokenFor = async () => {
      const res = await h.http('POST', `/${CONTOSO}/oauth2/v2.0/token`, { form: { grant_type: 'client_credentials', client_id: BOT_ID, client_secret: SECRET, scope: GRAPH_SCOPE } });
      assert.equal(res.status, 200, res.text);
      return res.json.access_token as string;
    };
    const id = await h.placeCall({ tenantId: CONTOSO, from: { userId: USERS.caller }, to: { applicationId: BOT_ID } });
    const oldToken = await tokenFor();
    const oldKid = decodeProtectedHeader(oldToken).kid!;
    const oldNotificationKid = decodeProtectedHeader(String((await h.receiver.waitFor(id, 'created')).request.headers.authorization).slice(7)).kid;

    const rotated = await cli(['keys', 'rotate', '--data', h.options.dataDir!]);
    assert.equal(rotated.code, 0, rotated.out);
    const newKid = /rotated graph signing key: new kid (\S+);/.exec(rotated.out)?.[1];
    assert.ok(newKid && newKid !== oldKid, rotated.out);
    assert.match(rotated.out, new RegExp(`retired ${oldKid}`));
    assert.match(rotated.out, /rotated notifications signing key/);

    // The old token still works.
    assert.equal((await h.http('GET', `/v1.0/communications/calls/${id}`, { token: oldToken })).status, 200);
    // A new token is signed with the new key, and works.
    const newToken = await tokenFor();
    assert.equal(decodeProtectedHeader(newToken).kid, newKid);
    assert.equal(decodeJwt(newToken)['appid'], BOT_ID);
    assert.equal((await h.http('GET', `/v1.0/communications/calls/${id}`, { token: newToken })).status, 200);
    // Both are published; the new one first.
    const jwks = await h.http('GET', `/${CONTOSO}/discovery/v2.0/keys`);
    assert.deepEqual(jwks.json.keys.map((k: { kid: string }) => k.kid), [newKid, oldKid]);
    // Notifications are signed with the new notifications key; both are published.
    const id2 = await h.placeCall({ tenantId: CONTOSO, from: { userId: USERS.caller }, to: { applicationId: BOT_ID } });
    const newNotificationKid = decodeProtectedHeader(String((await h.receiver.waitFor(id2, 'created')).request.headers.authorization).slice(7)).kid;
    assert.notEqual(newNotificationKid, oldNotificationKid);
    const bf = await h.http('GET', '/botframework/v1/.well-known/keys');
    assert.deepEqual(bf.json.keys.map((k: { kid: string }) => k.kid), [newNotificationKid, oldNotificationKid]);
  });

  test('a token signed by a key the server has not read yet is verified after a re-read (unknown kid)', async () => {
    // Another process (here: a second store handle on the same file) rotates and signs.
    const store = await openStore(`sqlite:${resolve(h.options.dataDir!, 'switchboard.db')}`);
    try {
      const other = await SigningKeys.load(store);
      const kid = await other.rotate('graph');
      const application = { id: BOT_ID, tenantId: CONTOSO, roles: ['Calls.Initiate.All'], callbackUri: 'https://127.0.0.1/x', instances: [] };
      const issued = await issueAccessToken(other, { tenantId: CONTOSO, application, nowSeconds: Math.floor(Date.now() / 1000) });
      assert.equal(decodeProtectedHeader(issued.access_token).kid, kid);
      const res = await h.http('GET', `/v1.0/communications/calls/00000000-0000-4000-8000-000000000000`, { token: issued.access_token });
      assert.equal(res.status, 404, res.text);
      assert.equal(res.json.error.code, '8522', 'authenticated: the call lookup answered');
    } finally {
      await store.close();
    }
  });

  test('rotating a store that does not exist fails, naming it', async () => {
    const res = await cli(['keys', 'rotate', '--data', resolve(ROOT, 'does-not-exist-switchboard')]);
    assert.notEqual(res.code, 0);
    assert.match(res.out, /no store at .*does-not-exist-switchboard/);
  });
});
