/**
 * Crash safety with SQLite: a real `switchboard serve` process with 1,000 calls in flight in mixed states
 * is killed with SIGKILL, started again on the same data dir, and the virtual clock advanced: every call
 * ends and every `deleted` notification reaches the bot at least once. Nothing is lost.
 */
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { Agent, request } from 'undici';
import { BotReceiver } from '../support/harness.js';
import { killAll, startServeProcess } from '../support/process.js';
import { ensureDevCertificates } from '../../src/identity/dev-ca.js';

const TENANT = '632899f8-2ea1-4604-8413-27bd2892079f';
const BOT = '24701998-1a73-4d42-8085-bf46ed0ae039';
const CALLER = '8d1e6ab6-26c5-4e22-a1bc-06ea7343958e';
const NO_ANSWER = '33333333-3333-4333-8333-333333333333';
const ANSWERS_LATE = '44444444-4444-4444-8444-444444444444';
const DECLINES_LATE = '66666666-6666-4666-8666-666666666666';
const ADMIN = 'crash-test-admin-key-0123';
const CALLS = Number(process.env.SWITCHBOARD_CRASH_CALLS ?? 1000);

const dir = mkdtempSync(join(tmpdir(), 'switchboard-crash-'));
const children: ChildProcess[] = [];
after(() => {
  killAll(children);
  rmSync(dir, { recursive: true, force: true });
});

function directoryYaml(callbackUri: string): string {
  return `admin: { key: "${ADMIN}" }
tenants:
  - id: "${TENANT}"
    applications:
      - id: "${BOT}"
        clientSecret: "crash-secret"
        roles: [Calls.Initiate.All]
        callbackUri: "${callbackUri}"
    users:
      - { id: "${CALLER}", displayName: caller }
      - { id: "${NO_ANSWER}", behaviour: { noAnswer: true } }
      - { id: "${ANSWERS_LATE}", behaviour: { answerAfter: 30 } }
      - { id: "${DECLINES_LATE}", behaviour: { decline: true, after: 20 } }
`;
}

/** Starts `switchboard serve` (the built CLI) and resolves with its base URL once it listens. */
/** Starts `switchboard serve` (the built CLI) on the test's data dir, trusting the bot's CA. */
function serve(config: string, caFile: string) {
  const args = ['--config', config, '--port', '0', '--clock', 'virtual', '--data', join(dir, 'data'), '--log-level', 'warn'];
  return startServeProcess(args, { NODE_EXTRA_CA_CERTS: caFile }, children);
}

test(`SIGKILL with ${CALLS} calls in flight loses nothing`, { timeout: 240_000 }, async () => {
  const receiver = await BotReceiver.start(join(dir, 'bot'));
  const bot = ensureDevCertificates(join(dir, 'bot'), ['127.0.0.1']);
  const config = join(dir, 'directory.yaml');
  writeFileSync(config, directoryYaml(receiver.url('/api/calls')));
  const serverCa = () => ensureDevCertificates(join(dir, 'data'), ['127.0.0.1']).ca;

  let { child, url } = await serve(config, bot.caPath);
  let agent = new Agent({ connect: { ca: serverCa() }, connections: 16 });
  const call = async (method: 'GET' | 'POST', path: string, body?: unknown, token = ADMIN) => {
    const res = await request(`${url}${path}`, {
      method,
      dispatcher: agent,
      headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) },
      ...(body ? { body: JSON.stringify(body) } : {}),
    });
    const text = await res.body.text();
    return { status: res.statusCode, json: text ? JSON.parse(text) : undefined };
  };
  const tokenRes = await request(`${url}/${TENANT}/oauth2/v2.0/token`, {
    method: 'POST',
    dispatcher: agent,
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'client_credentials', client_id: BOT, client_secret: 'crash-secret', scope: 'https://graph.microsoft.com/.default' }).toString(),
  });
  const token = ((await tokenRes.body.json()) as { access_token: string }).access_token;

  // 1,000 calls in four states: left incoming; ringing a target that never answers; one that answers at
  // 30 s; one that declines at 20 s.
  const targets = [undefined, NO_ANSWER, ANSWERS_LATE, DECLINES_LATE];
  const ids: string[] = [];
  const placeOne = async (i: number) => {
    const placed = await call('POST', '/simulator/calls', { tenantId: TENANT, from: { userId: CALLER }, to: { applicationId: BOT } });
    assert.equal(placed.status, 201);
    const id = placed.json.id as string;
    ids.push(id);
    const target = targets[i % targets.length];
    if (target) {
      const body = { targets: [{ identity: { user: { id: target } } }], timeout: 45 };
      const res = await call('POST', `/v1.0/communications/calls/${id}/redirect`, body, token);
      assert.equal(res.status, 202);
    }
  };
  const t0 = Date.now();
  for (let i = 0; i < CALLS; i += 25) await Promise.all(Array.from({ length: Math.min(25, CALLS - i) }, (_, k) => placeOne(i + k)));

  const placedMs = Date.now() - t0;
  child.kill('SIGKILL');
  await new Promise((resolve) => child.once('exit', resolve));
  await agent.close();
  const t1 = Date.now();

  ({ child, url } = await serve(config, bot.caPath));
  agent = new Agent({ connect: { ca: serverCa() }, connections: 16 });
  const restartMs = Date.now() - t1;
  const advanced = await call('POST', '/simulator/clock/advance', { seconds: 60 });
  assert.equal(advanced.status, 200);
  const advanceMs = Date.now() - t1 - restartMs;

  // Every call ends; the receiver gets every `deleted` notification (at least once).
  const deleted = new Set<string>();
  const until = Date.now() + 120_000;
  while (deleted.size < CALLS && Date.now() < until) {
    for (const n of receiver.notifications()) if (n.changeType === 'deleted') deleted.add(n.resourceData.id);
    if (deleted.size < CALLS) await new Promise((r) => setTimeout(r, 200));
  }
  const states = new Map<string, number>();
  for (const id of ids.slice(0, 40)) {
    const rec = await call('GET', `/simulator/calls/${id}`);
    states.set(rec.json.state, (states.get(rec.json.state) ?? 0) + 1);
  }
  const duplicates = receiver.notifications().length - new Set(receiver.notifications().map((n) => `${n.resourceData.id}/${n.changeType}/${n.resourceData.state}`)).size;
  console.log(`# crash: placed in ${placedMs} ms, restarted in ${restartMs} ms, advanced in ${advanceMs} ms, all delivered ${Date.now() - t1 - restartMs - advanceMs} ms later`);
  console.log(`# crash: ${CALLS} calls in flight, ${deleted.size} deleted notifications received, ${CALLS - deleted.size} lost, ${duplicates} duplicates`);
  assert.deepEqual([...states.keys()], ['terminated']);
  assert.equal(deleted.size, CALLS, 'every call ended and its deleted notification arrived');
  child.kill('SIGTERM');
  await new Promise((resolve) => child.once('exit', resolve));
  await agent.close();
  await receiver.close();
});
