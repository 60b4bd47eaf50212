/**
 * Several Switchboard processes on one PostgreSQL: load spread over three real `switchboard serve`
 * processes, one SIGKILLed in the middle. Every timer fires once, no call is left unended, and each call's
 * notifications reach the bot in order. Needs SWITCHBOARD_TEST_PG_URL (set by .ci/run); skipped loudly without.
 */
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import pg from 'pg';
import { Agent, request } from 'undici';
import { BotReceiver } from '../support/harness.js';
import { killAll, startServeProcess, type ServerProcess } from '../support/process.js';
import { ensureDevCertificates } from '../../src/identity/dev-ca.js';

const PG_URL = process.env.SWITCHBOARD_TEST_PG_URL;
if (!PG_URL) console.log('# SKIPPED: multi-process PostgreSQL test (set SWITCHBOARD_TEST_PG_URL=postgres://...)');

const TENANT = '632899f8-2ea1-4604-8413-27bd2892079f';
const BOT = '24701998-1a73-4d42-8085-bf46ed0ae039';
const CALLER = '8d1e6ab6-26c5-4e22-a1bc-06ea7343958e';
const NO_ANSWER = '33333333-3333-4333-8333-333333333333';
const ANSWERS = '44444444-4444-4444-8444-444444444444';
const ADMIN = 'multiprocess-admin-key-01';
const CALLS = Number(process.env.SWITCHBOARD_MP_CALLS ?? 300);

const dir = mkdtempSync(join(tmpdir(), 'switchboard-mp-'));
const schema = `sb_mp_${randomBytes(4).toString('hex')}`;
const children: ChildProcess[] = [];
after(async () => {
  killAll(children);
  rmSync(dir, { recursive: true, force: true });
  if (PG_URL) {
    const client = new pg.Client({ connectionString: PG_URL });
    await client.connect();
    await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    await client.end();
  }
});

function serve(config: string, caFile: string, tls: { certPath: string; keyPath: string }, n: number) {
  const args = [
    '--config', config, '--port', '0', '--clock', 'virtual', '--data', join(dir, `data${n}`),
    '--store', `${PG_URL}?schema=${schema}`, '--tls-cert', tls.certPath, '--tls-key', tls.keyPath, '--log-level', 'warn',
  ];
  return startServeProcess(args, { NODE_EXTRA_CA_CERTS: caFile }, children);
}

test('three processes on one PostgreSQL, one SIGKILLed: timers fire once, nothing stuck, order kept', { skip: !PG_URL && 'SWITCHBOARD_TEST_PG_URL is not set', timeout: 240_000 }, async () => {
  const receiver = await BotReceiver.start(join(dir, 'bot'));
  const bot = ensureDevCertificates(join(dir, 'bot'), ['127.0.0.1']);
  const tls = ensureDevCertificates(join(dir, 'server'), ['127.0.0.1']);
  const config = join(dir, 'directory.yaml');
  writeFileSync(
    config,
    `admin: { key: "${ADMIN}" }
tenants:
  - id: "${TENANT}"
    applications:
      - { id: "${BOT}", clientSecret: "mp-secret", roles: [Calls.Initiate.All], callbackUri: "${receiver.url('/api/calls')}" }
    users:
      - { id: "${CALLER}" }
      - { id: "${NO_ANSWER}", behaviour: { noAnswer: true } }
      - { id: "${ANSWERS}", behaviour: { answerAfter: 10 } }
`,
  );
  const servers: ServerProcess[] = [];
  for (let n = 0; n < 3; n++) servers.push(await serve(config, bot.caPath, tls, n));
  const agent = new Agent({ connect: { ca: tls.ca }, connections: 32 });
  const call = async (n: number, method: 'GET' | 'POST', path: string, body?: unknown, token = ADMIN) => {
    const res = await request(`${servers[n]?.url}${path}`, {
      method,
      dispatcher: agent,
      headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) },
      ...(body ? { body: JSON.stringify(body) } : {}),
    });
    const text = await res.body.text();
    return { status: res.statusCode, json: text ? JSON.parse(text) : undefined };
  };
  const tokenRes = await request(`${servers[0]?.url}/${TENANT}/oauth2/v2.0/token`, {
    method: 'POST',
    dispatcher: agent,
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'client_credentials', client_id: BOT, client_secret: 'mp-secret', scope: 'https://graph.microsoft.com/.default' }).toString(),
  });
  const token = ((await tokenRes.body.json()) as { access_token: string }).access_token;

  // Load spread over the three: placed on one, redirected through the next (a token from process 0 is
  // accepted by all: the signing keys live in the shared store).
  const ids: string[] = [];
  const raced: string[] = [];
  const one = async (i: number) => {
    const placed = await call(i % 3, 'POST', '/simulator/calls', { tenantId: TENANT, from: { userId: CALLER }, to: { applicationId: BOT } });
    assert.equal(placed.status, 201);
    const id = placed.json.id as string;
    ids.push(id);
    const kind = i % 4;
    if (kind === 3) {
      // A race on one call: redirect through one process while the caller hangs up through another.
      raced.push(id);
      const [r, h] = await Promise.all([
        call((i + 1) % 3, 'POST', `/v1.0/communications/calls/${id}/redirect`, { targets: [{ identity: { user: { id: NO_ANSWER } } }] }, token),
        call((i + 2) % 3, 'POST', `/simulator/calls/${id}/hangup`),
      ]);
      assert.ok([202, 404].includes(r.status), `redirect in the race: ${r.status}`);
      assert.ok([204, 409].includes(h.status), `hangup in the race: ${h.status}`);
    } else if (kind > 0) {
      const target = kind === 1 ? NO_ANSWER : ANSWERS;
      const r = await call((i + 1) % 3, 'POST', `/v1.0/communications/calls/${id}/redirect`, { targets: [{ identity: { user: { id: target } } }], timeout: 20 }, token);
      assert.equal(r.status, 202);
    }
  };
  for (let i = 0; i < CALLS; i += 15) await Promise.all(Array.from({ length: Math.min(15, CALLS - i) }, (_, k) => one(i + k)));

  // Kill process 2 in the middle, then advance the shared virtual clock through process 0.
  const killedAt = Date.now();
  servers[2]?.child.kill('SIGKILL');
  const advanced = await call(0, 'POST', '/simulator/clock/advance', { seconds: 30 });
  assert.equal(advanced.status, 200);

  const deleted = new Set<string>();
  const until = Date.now() + 90_000;
  while (deleted.size < CALLS && Date.now() < until) {
    for (const n of receiver.notifications()) if (n.changeType === 'deleted') deleted.add(n.resourceData.id);
    if (deleted.size < CALLS) await new Promise((r) => setTimeout(r, 250));
  }
  const allDeliveredMs = Date.now() - killedAt;
  assert.equal(deleted.size, CALLS, `every call's deleted notification arrived (${deleted.size}/${CALLS})`);

  // Every timer fired once; every call ended once; per-call order at the bot.
  let timersFired = 0;
  for (const id of ids) {
    const rec = (await call(id.charCodeAt(0) % 2, 'GET', `/simulator/calls/${id}`)).json;
    assert.equal(rec.state, 'terminated', `call ${id}`);
    const fired = rec.history.filter((h: { type: string }) => h.type === 'ringTimeout' || h.type === 'incomingWindowExpired').length;
    assert.ok(fired <= 1, `call ${id}: a timer fired ${fired} times`);
    timersFired += fired;
    assert.equal(rec.notifications.filter((n: { changeType: string }) => n.changeType === 'deleted').length, 1, `call ${id}: one deleted`);
    const order = receiver.notifications(id).map((n) => ['created', 'updated', 'deleted'].indexOf(n.changeType));
    const firsts = [0, 1, 2].map((k) => order.indexOf(k)).filter((k) => k >= 0);
    assert.deepEqual(firsts, [...firsts].sort((a, b) => a - b), `call ${id}: notifications out of order ${order}`);
  }
  for (const id of raced) {
    const rec = (await call(0, 'GET', `/simulator/calls/${id}`)).json;
    assert.equal(rec.resultInfo.subcode, 5010, 'the raced calls end by the hang-up, consistently');
  }
  const duplicates = receiver.notifications().length - new Set(receiver.notifications().map((n) => `${n.resourceData.id}/${n.changeType}/${n.resourceData.state}`)).size;
  console.log(`# multiprocess: ${CALLS} calls over 3 processes (one SIGKILLed), ${timersFired} timers fired once each, ${duplicates} duplicate deliveries, all delivered ${allDeliveredMs} ms after the kill`);
  for (const s of servers.slice(0, 2)) s.child.kill('SIGTERM');
  await agent.close();
  await receiver.close();
});
