/**
 * Callback URLs, end to end (contract Part B "Callback URLs"): https only; private, link-local and
 * metadata addresses refused in every mode unless allow-listed; loopback allowed in dev mode only.
 * Refused at request time (400 naming the rule) on redirect, reject and answer; refused at delivery on the
 * address actually connected to (an attempt error, retried and given up as usual); and operator mode
 * refuses to start on a loopback callback URI in the directory (the connection-time check against a lying
 * DNS is in test/unit/security-callback-policy.test.ts).
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { CallbackConfigurationError } from '../../src/notifications/callback-policy.js';
import { startSwitchboard } from '../../src/switchboard.js';
import { Harness } from '../support/harness.js';
import { BOT, CONTOSO, USERS, testDirectory, userTarget } from '../support/fixtures.js';
import { assertGraphError } from './security-support.js';

const ROOT = resolve(fileURLToPath(import.meta.url), '../../..');
const METADATA_BOT = { id: 'd0d0d0d0-0000-4000-8000-0000000000a1', secret: 'metadata-bot-secret' };
const NAMED_METADATA_BOT = { id: 'd0d0d0d0-0000-4000-8000-0000000000a2', secret: 'named-bot-secret' };

let h: Harness;
let token: string;

before(async () => {
  h = await Harness.start((cb) => {
    const d = testDirectory(cb);
    d.notifications = { allowHosts: [], giveUpAfterSeconds: 30 };
    d.tenants[0]!.applications.push(
      { id: METADATA_BOT.id, tenantId: CONTOSO, clientSecret: METADATA_BOT.secret, roles: ['Calls.Initiate.All'], callbackUri: 'https://169.254.169.254/latest/meta-data/iam', instances: [] },
      { id: NAMED_METADATA_BOT.id, tenantId: CONTOSO, clientSecret: NAMED_METADATA_BOT.secret, roles: ['Calls.Initiate.All'], callbackUri: 'https://metadata.google.internal/computeMetadata/v1/', instances: [] },
    );
    return d;
  });
  token = await h.token(CONTOSO, BOT.id, BOT.secret);
});
after(async () => h?.close());

const incomingCall = (): Promise<string> => h.incomingCall();

const REFUSED: Array<{ uri: string; rule: RegExp }> = [
  { uri: 'http://bot.example.com/api', rule: /https only/ },
  { uri: 'ftp://bot.example.com/api', rule: /https only/ },
  { uri: '/relative/path', rule: /absolute URL/ },
  { uri: 'https://169.254.169.254/latest/meta-data/', rule: /cloud metadata address/ },
  { uri: 'https://2852039166/latest/meta-data/', rule: /cloud metadata address/ },
  { uri: 'https://[::ffff:169.254.169.254]/', rule: /cloud metadata address/ },
  { uri: 'https://[fd00:ec2::254]/latest', rule: /cloud metadata address/ },
  { uri: 'https://metadata.google.internal/computeMetadata/v1/', rule: /cloud metadata address/ },
  { uri: 'https://100.100.100.200/latest/meta-data/', rule: /cloud metadata address/ },
  { uri: 'https://10.0.0.5/hook', rule: /private address/ },
  { uri: 'https://172.20.1.1/hook', rule: /private address/ },
  { uri: 'https://192.168.1.20/hook', rule: /private address/ },
  { uri: 'https://[fd12::1]/hook', rule: /private address/ },
  { uri: 'https://169.254.10.10/hook', rule: /link-local address/ },
  { uri: 'https://[fe80::1]/hook', rule: /link-local address/ },
  { uri: 'https://0.0.0.0/hook', rule: /unspecified/ },
];

describe('dev mode (simulator on): refused at request time, 400 naming the rule', () => {
  for (const c of REFUSED) {
    test(`redirect with callbackUri ${c.uri}`, async () => {
      const id = await incomingCall();
      const res = await h.http('POST', `/beta/communications/calls/${id}/redirect`, { token, body: { targets: [userTarget(USERS.testUser)], callbackUri: c.uri } });
      assertGraphError(res, 400, 'BadRequest', c.rule);
      assert.match(res.json.error.message, /callbackUri/);
      assert.equal((await h.record(id)).state, 'incoming');
    });
  }

  test('reject and answer check their callbackUri the same way', async () => {
    const id = await incomingCall();
    const reject = await h.http('POST', `/v1.0/communications/calls/${id}/reject`, { token, body: { reason: 'busy', callbackUri: 'https://169.254.169.254/' } });
    assertGraphError(reject, 400, 'BadRequest', /cloud metadata address/);
    const answer = await h.http('POST', `/v1.0/communications/calls/${id}/answer`, { token, body: { callbackUri: 'https://10.1.1.1/' } });
    assertGraphError(answer, 400, 'BadRequest', /private address/);
    assert.equal((await h.record(id)).state, 'incoming');
  });

  test('loopback is allowed in dev mode: the later notifications go there', async () => {
    const id = await incomingCall();
    const res = await h.http('POST', `/beta/communications/calls/${id}/redirect`, {
      token,
      body: { targets: [userTarget(USERS.testUser)], callbackUri: h.receiver.url('/api/per-call') },
    });
    assert.equal(res.status, 202, res.text);
    const updated = await h.receiver.waitFor(id, 'updated', 'redirecting');
    assert.equal(updated.path, '/api/per-call');
  });
});

describe('refused at delivery, on the address connected to', () => {
  test('a directory callback URI on the metadata address: each attempt fails with ECALLBACKREFUSED, retried, then dead', async () => {
    for (const bot of [METADATA_BOT, NAMED_METADATA_BOT]) {
      const id = await h.placeCall({ tenantId: CONTOSO, from: { userId: USERS.caller }, to: { applicationId: bot.id } });
      await h.settle();
      let record = await h.record(id);
      const created = record.notifications[0];
      assert.equal(created.changeType, 'created');
      assert.equal(created.delivered, false);
      assert.equal(created.attempts.length, 1);
      assert.match(created.attempts[0].error, /^ECALLBACKREFUSED: .*cloud metadata address/);
      assert.equal(created.attempts[0].status, undefined, 'nothing was sent');
      await h.advance(1);
      await h.settle();
      record = await h.record(id);
      assert.equal(record.notifications[0].attempts.length, 2, 'retried as usual');
      // giveUpAfterSeconds is 30 here: the retries end as dead.
      for (let i = 0; i < 8; i++) {
        await h.advance(8);
        await h.settle();
      }
      record = await h.record(id);
      assert.equal(record.notifications[0].dead, true);
      assert.equal(record.state, 'terminated', 'the call itself ended as usual (15 s window)');
    }
  });
});

describe('operator mode (--no-simulator)', () => {
  test('request-time: loopback is refused unless allow-listed; allow-listed hosts pass', async () => {
    const operator = await Harness.start((cb) => ({ ...testDirectory(cb), notifications: { allowHosts: ['127.0.0.1', '10.0.0.5'], giveUpAfterSeconds: 86_400 } }), { simulator: false });
    try {
      const botToken = await operator.token(CONTOSO, BOT.id, BOT.secret);
      // No call exists: a URI that passes the policy reaches the call lookup (404 8522); a refused one is 400.
      const redirect = (callbackUri: string) =>
        operator.http('POST', `/v1.0/communications/calls/00000000-0000-4000-8000-000000000001/redirect`, { token: botToken, body: { targets: [userTarget(USERS.testUser)], callbackUri } });
      for (const uri of ['https://localhost/api', 'https://[::1]/api', 'https://127.0.0.2/api', 'https://10.0.0.6/api', 'https://169.254.169.254/']) {
        const res = await redirect(uri);
        assertGraphError(res, 400, 'BadRequest');
      }
      assert.match((await redirect('https://localhost/api')).json.error.message, /loopback callback URLs are refused in operator mode/);
      for (const uri of ['https://127.0.0.1:9443/api', 'https://10.0.0.5/api', 'https://bot.example.com/api']) {
        const res = await redirect(uri);
        assertGraphError(res, 404, '8522');
      }
    } finally {
      await operator.close();
    }
  });

  test('startSwitchboard refuses a loopback directory callback URI that is not allow-listed, naming it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'switchboard-operator-'));
    try {
      await assert.rejects(
        startSwitchboard({ directory: testDirectory((p) => `https://127.0.0.1:9443${p}`), simulator: false, port: 0, dataDir: dir, store: 'sqlite::memory:' }),
        (error: unknown) => {
          assert.ok(error instanceof CallbackConfigurationError, String(error));
          assert.match(error.message, new RegExp(`application ${BOT.id}.*https://127\\.0\\.0\\.1:9443/api/calls.*loopback`));
          assert.match(error.message, /notifications\.allowHosts/);
          return true;
        },
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('the CLI exits non-zero with a message naming the callback URI', { timeout: 60_000 }, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'switchboard-operator-cli-'));
    try {
      const config = join(dir, 'directory.yaml');
      writeFileSync(
        config,
        [
          'tenants:',
          `  - id: ${CONTOSO}`,
          '    applications:',
          `      - id: ${BOT.id}`,
          '        clientSecret: some-secret',
          '        roles: [Calls.Initiate.All]',
          '        callbackUri: https://localhost:9443/api/calls',
          '',
        ].join('\n'),
      );
      const child = spawn(process.execPath, [join(ROOT, 'bin/switchboard.js'), 'serve', '--no-simulator', '--config', config, '--port', '0', '--data', join(dir, 'data')], {
        cwd: ROOT,
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let out = '';
      child.stdout.on('data', (c: Buffer) => (out += c.toString()));
      child.stderr.on('data', (c: Buffer) => (out += c.toString()));
      const code = await new Promise<number | null>((done) => child.on('exit', done));
      assert.notEqual(code, 0, out);
      assert.match(out, /https:\/\/localhost:9443\/api\/calls/);
      assert.match(out, /loopback/);
      assert.doesNotMatch(out, /listening on/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
