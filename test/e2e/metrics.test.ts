/**
 * Observability: Prometheus metrics at /metrics after one workflow (an answered redirect, a redirect nobody
 * answers, a notification the bot refuses once), one registry per Switchboard; and the log lines of that
 * kind of workflow (request id and call id, no secrets, pretty lines for a terminal).
 */
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Agent, request } from 'undici';
import { createLogger, prettyLine } from '../../src/logging.js';
import { Harness } from '../support/harness.js';
import { BOT, CONTOSO, PHONES, USERS, callFromCaller, phoneTarget, testDirectory, userTarget } from '../support/fixtures.js';

const ARTIFACTS = join(resolve(dirname(fileURLToPath(import.meta.url)), '../..'), 'test-artifacts');

/** `name{labels} value` → value (labels in any order). */
function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split('\n')) {
    if (line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const got = Object.fromEntries([...(m[2] ?? '').matchAll(/([a-zA-Z_]+)="((?:[^"\\]|\\.)*)"/g)].map((l) => [l[1], l[2]]));
    if (Object.entries(labels).every(([k, v]) => got[k] === v) && Object.keys(got).length === Object.keys(labels).length) return Number(m[3]);
  }
  return undefined;
}

describe('GET /metrics after a workflow', () => {
  let h: Harness;
  let token: string;
  before(async () => {
    h = await Harness.start(testDirectory);
    token = await h.token(CONTOSO, BOT.id, BOT.secret);
  });
  after(async () => h?.close());

  const redirect = (callId: string, body: unknown) => h.http('POST', `/v1.0/communications/calls/${callId}/redirect`, { token, body });
  const metrics = async () => {
    const res = await h.http('GET', '/metrics');
    assert.equal(res.status, 200);
    assert.match(String(res.headers['content-type']), /^text\/plain; version=0\.0\.4/);
    return res.text;
  };

  test('calls, redirects, ring time, deliveries, outbox depth, timers, requests', async () => {
    // 1. Adele → bot; the bot redirects to test user (answers after 3 s) and a busy number.
    const answered = await h.placeCall(callFromCaller);
    await h.receiver.waitFor(answered, 'created');
    assert.equal((await redirect(answered, { targets: [userTarget(USERS.testUser), phoneTarget(PHONES.busy)] })).status, 202);
    // 2. A second call, redirected to someone who never answers, 15 s timeout.
    const unanswered = await h.placeCall(callFromCaller);
    await h.receiver.waitFor(unanswered, 'created');
    assert.equal((await redirect(unanswered, { targets: [userTarget(USERS.noAnswer)], timeout: 15 })).status, 202);
    await h.settle();

    let text = await metrics();
    assert.equal(sample(text, 'switchboard_calls', { kind: 'incoming', state: 'redirecting' }), 2);
    assert.equal(sample(text, 'switchboard_redirects_accepted_total'), 2);
    assert.equal(sample(text, 'switchboard_outbox_depth'), 0);

    // 3. A third call whose created notification the bot refuses once (500): it waits in the outbox.
    h.receiver.status = (req) => (req.raw.includes('"changeType":"created"') && !refusedOnce ? ((refusedOnce = true), 500) : 202);
    let refusedOnce = false;
    const retried = await h.placeCall(callFromCaller);
    await h.settle();
    text = await metrics();
    assert.equal(sample(text, 'switchboard_outbox_depth'), 1, 'the refused notification waits for its retry');
    assert.equal(sample(text, 'switchboard_notification_deliveries_total', { status: '500', outcome: 'retry' }), 1);
    assert.equal(sample(text, 'switchboard_calls', { kind: 'incoming', state: 'incoming' }), 1);

    // 4. Time passes: test user answers at 3 s (the retry goes out at 1 s), nobody answers the other by 15 s;
    //    the third call's 15 s window expires.
    h.receiver.status = () => 202;
    await h.advance(3);
    await h.advance(12);
    await h.settle();
    await h.receiver.waitFor(retried, 'created');
    await h.receiver.waitFor(answered, 'deleted', 'terminated');
    await h.receiver.waitFor(unanswered, 'deleted', 'terminated');
    await h.settle();

    text = await metrics();
    mkdirSync(ARTIFACTS, { recursive: true });
    writeFileSync(join(ARTIFACTS, 'metrics.txt'), text);

    assert.equal(sample(text, 'switchboard_calls', { kind: 'incoming', state: 'terminated' }), 3);
    assert.equal(sample(text, 'switchboard_calls', { kind: 'incoming', state: 'redirecting' }), undefined);
    assert.equal(sample(text, 'switchboard_calls_created_total', { kind: 'incoming' }), 3);
    assert.equal(sample(text, 'switchboard_redirects_total', { outcome: 'answered', code: '200', subcode: '7015' }), 1);
    assert.equal(sample(text, 'switchboard_redirects_total', { outcome: 'noAnswer', code: '408', subcode: '10058' }), 1);
    // Ring time on Switchboard's (virtual) clock: exactly 3 s and 15 s.
    assert.equal(sample(text, 'switchboard_redirect_ring_seconds_sum', { outcome: 'answered' }), 3);
    assert.equal(sample(text, 'switchboard_redirect_ring_seconds_bucket', { outcome: 'answered', le: '2' }), 0);
    assert.equal(sample(text, 'switchboard_redirect_ring_seconds_bucket', { outcome: 'answered', le: '3' }), 1);
    assert.equal(sample(text, 'switchboard_redirect_ring_seconds_sum', { outcome: 'noAnswer' }), 15);
    // Deliveries: 3 notifications per call (created, updated redirecting, deleted) for the first two, created
    // and deleted (window expired) for the third; one refusal before.
    assert.equal(sample(text, 'switchboard_notification_deliveries_total', { status: '202', outcome: 'delivered' }), 8);
    assert.equal(sample(text, 'switchboard_notification_deliveries_total', { status: '500', outcome: 'retry' }), 1);
    assert.equal(sample(text, 'switchboard_notification_delivery_seconds_count', { outcome: 'delivered' }), 8);
    assert.equal(sample(text, 'switchboard_outbox_depth'), 0);
    // Timers: the target's answer, the ring timeout, the expired window; never late on the virtual clock.
    assert.equal(sample(text, 'switchboard_timer_lateness_seconds_count', { timer: 'target' }), 1);
    assert.equal(sample(text, 'switchboard_timer_lateness_seconds_count', { timer: 'ringTimeout' }), 1);
    assert.equal(sample(text, 'switchboard_timer_lateness_seconds_count', { timer: 'incomingWindow' }), 1);
    assert.equal(sample(text, 'switchboard_timer_lateness_seconds_sum', { timer: 'ringTimeout' }), 0);
    assert.equal(sample(text, 'switchboard_http_requests_total', { method: 'POST', route: '/v1.0/communications/calls/:id/redirect', status_code: '202' }), 2);
    assert.ok((sample(text, 'process_cpu_user_seconds_total') ?? -1) >= 0, 'the default process metrics');
    assert.match(text, /# HELP switchboard_redirect_ring_seconds /);
    assert.match(text, /# TYPE switchboard_redirect_ring_seconds histogram/);
  });

  test('one registry per Switchboard: a second instance in this process starts from zero', async () => {
    const other = await Harness.start(testDirectory);
    try {
      const text = (await other.http('GET', '/metrics')).text;
      assert.equal(sample(text, 'switchboard_calls_created_total', { kind: 'incoming' }), undefined);
      assert.equal(sample(text, 'switchboard_outbox_depth'), 0);
      assert.ok((sample(await metrics(), 'switchboard_calls_created_total', { kind: 'incoming' }) ?? 0) >= 3);
    } finally {
      await other.close();
    }
  });
});

describe('logs', () => {
  const lines: Array<Record<string, unknown>> = [];
  let raw = '';
  let h: Harness;
  before(async () => {
    const logger = createLogger({
      level: 'debug',
      destination: {
        write(chunk: string) {
          raw += chunk;
          for (const line of chunk.split('\n')) if (line.trim()) lines.push(JSON.parse(line) as Record<string, unknown>);
        },
      },
    });
    h = await Harness.start(testDirectory, { logger });
  });
  after(async () => h?.close());

  test('JSON lines: request id on request lines, call id on every line about a call, no secrets', async () => {
    const token = await h.token(CONTOSO, BOT.id, BOT.secret);
    const id = await h.placeCall(callFromCaller);
    await h.receiver.waitFor(id, 'created');
    const res = await h.http('POST', `/beta/communications/calls/${id}/redirect`, { token, body: { targets: [userTarget(USERS.testUser)] } });
    assert.equal(res.status, 202);
    await h.advance(3);
    await h.settle();
    await h.receiver.waitFor(id, 'deleted');
    // The live feed's ticket stays out of the logs.
    const agent = new Agent({ connect: { ca: h.sb.caPem ?? '' } });
    await (await request(`${h.sb.url}/dashboard/api/events?ticket=not-a-real-ticket-123`, { dispatcher: agent })).body.dump();
    await agent.close();

    const requestId = String(res.headers['request-id']);
    const redirectLines = lines.filter((l) => l.reqId === requestId);
    assert.ok(redirectLines.some((l) => l.msg === 'incoming request'), 'the incoming request line');
    assert.ok(redirectLines.some((l) => l.msg === 'request completed'), 'the request completed line');
    for (const l of redirectLines) assert.equal(l.callId, id, `every line of the redirect request names the call: ${JSON.stringify(l)}`);

    // Every line that names the call in its URL carries its id; the delivery lines too.
    for (const l of lines) {
      const url = (l.req as { url?: string } | undefined)?.url ?? '';
      if (url.includes(id)) assert.equal(l.callId, id, JSON.stringify(l));
      if (typeof l.reqId === 'string') assert.match(l.reqId, /^[0-9a-f-]{36}$/);
    }
    const delivered = lines.filter((l) => l.msg === 'notification delivered' && l.callId === id);
    assert.equal(delivered.length, 3, 'created, updated, deleted');

    assert.ok(!raw.includes(token), 'no access token');
    assert.ok(!raw.includes(BOT.secret), 'no client secret');
    assert.ok(!raw.includes(h.sb.adminKey), 'no admin key');
    assert.ok(!raw.includes('not-a-real-ticket-123'), 'no live-feed ticket');
    assert.ok(lines.some((l) => (l.req as { url?: string } | undefined)?.url?.startsWith('/dashboard/api/events?ticket=')));
  });

  test('pretty lines for a terminal', () => {
    const line = prettyLine(
      JSON.stringify({ level: 30, time: Date.UTC(2025, 0, 1, 12, 0, 1, 250), reqId: 'a1b2c3d4-0000', callId: 'c0ffee00-1111', msg: 'request completed', res: { statusCode: 202 }, responseTime: 3.21 }),
      false,
    );
    assert.equal(line, '12:00:01.250 INFO  [req a1b2c3d4 call c0ffee00] request completed → 202 in 3.2 ms\n');
    assert.match(prettyLine(JSON.stringify({ level: 50, time: 0, msg: 'boom', err: { type: 'Error', message: 'x', stack: 'Error: x\n  at y' } }), true), /\x1b\[31mERROR/);
  });
});
