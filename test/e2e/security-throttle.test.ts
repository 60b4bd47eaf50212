/**
 * Throttling per application per tenant, end to end (contract Part A "Errors", Part B "Throttling"): a
 * directory limit of 5 requests per 15 s; the 6th Graph request of an application is 429 TooManyRequests
 * with Retry-After (whole seconds, 1–15); other applications and tenants keep their own budgets;
 * unauthenticated requests cost nothing. Then the throughput of the throttled path is measured (reported
 * as a test diagnostic).
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { Agent, request } from 'undici';
import { Harness } from '../support/harness.js';
import { BOT, CONTOSO, FABRIKAM, FABRIKAM_BOT, PLAIN_BOT, RECEPTION_BOT, testDirectory } from '../support/fixtures.js';
import { assertGraphError } from './security-support.js';

const LIMIT = 5;
let h: Harness;

before(async () => {
  h = await Harness.start((cb) => ({ ...testDirectory(cb), limits: { requestsPer15Seconds: LIMIT, bodyBytes: 1_048_576 } }));
});
after(async () => h?.close());

const get = (token: string) => h.http('GET', `/v1.0/communications/calls/${randomUUID()}`, { token });

/** `total` GETs with `concurrency` in flight on one keep-alive agent; statuses counted, requests per second. */
async function blast(base: string, ca: string, token: string, total: number, concurrency: number): Promise<{ perSecond: number; statuses: Record<number, number>; p50: number; p99: number }> {
  const agent = new Agent({ connect: { ca }, connections: concurrency, pipelining: 1 });
  const statuses: Record<number, number> = {};
  const latencies: number[] = [];
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < total) {
        next++;
        const t0 = performance.now();
        const res = await request(`${base}/v1.0/communications/calls/${randomUUID()}`, { dispatcher: agent, headers: { authorization: `Bearer ${token}` } });
        await res.body.dump();
        latencies.push(performance.now() - t0);
        statuses[res.statusCode] = (statuses[res.statusCode] ?? 0) + 1;
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  await agent.close();
  latencies.sort((a, b) => a - b);
  return { perSecond: total / seconds, statuses, p50: latencies[Math.floor(latencies.length / 2)]!, p99: latencies[Math.floor(latencies.length * 0.99)]! };
}

describe('throttling (limit 5 per 15 s)', () => {
  test('the 6th request of an application → 429 TooManyRequests with Retry-After 1–15; other budgets untouched', async () => {
    const bot = await h.token(CONTOSO, BOT.id, BOT.secret);
    const reception = await h.token(CONTOSO, RECEPTION_BOT.id, RECEPTION_BOT.secret);
    const fabrikam = await h.token(FABRIKAM, FABRIKAM_BOT.id, FABRIKAM_BOT.secret);

    // Requests that fail authentication are not counted against anybody.
    for (let i = 0; i < 20; i++) assertGraphError(await h.http('GET', `/v1.0/communications/calls/${randomUUID()}`, { token: 'garbage' }), 401);

    for (let i = 0; i < LIMIT; i++) assertGraphError(await get(bot), 404, '8522');
    const throttled = await get(bot);
    assertGraphError(throttled, 429, 'TooManyRequests', /5 requests per 15 seconds/);
    const retryAfter = Number(throttled.headers['retry-after']);
    assert.ok(Number.isInteger(retryAfter) && retryAfter >= 1 && retryAfter <= 15, `Retry-After ${String(throttled.headers['retry-after'])}`);
    // Every Graph route and both versions share the budget.
    assertGraphError(await h.http('POST', `/beta/app/calls/${randomUUID()}/reject`, { token: bot, body: { reason: 'busy' } }), 429, 'TooManyRequests');
    assertGraphError(await h.http('DELETE', `/v1.0/communications/calls/${randomUUID()}`, { token: bot }), 429, 'TooManyRequests');

    // Another application of the same tenant, and another tenant, have their own budgets.
    for (let i = 0; i < LIMIT; i++) assertGraphError(await get(reception), 404, '8522');
    assertGraphError(await get(reception), 429, 'TooManyRequests');
    assertGraphError(await get(fabrikam), 404, '8522');

    // The simulator and identity routes are not Graph routes: not throttled.
    for (let i = 0; i < 10; i++) assert.equal((await h.simulator('GET', '/clock')).status, 200);
  });

  test('throughput of the throttled path (1,000 requests after 500 to warm up, 16 in flight)', async (t) => {
    const plain = await h.token(CONTOSO, PLAIN_BOT.id, PLAIN_BOT.secret);
    const warm = await blast(h.sb.url, h.sb.caPem!, plain, 500, 16); // JIT warm-up, and the budget spent
    assert.equal(warm.statuses[404], LIMIT, JSON.stringify(warm.statuses));
    const run = await blast(h.sb.url, h.sb.caPem!, plain, 1000, 16);
    assert.equal(run.statuses[429], 1000, JSON.stringify(run.statuses));
    t.diagnostic(`throttled path: ${run.perSecond.toFixed(0)} requests/s (p50 ${run.p50.toFixed(1)} ms, p99 ${run.p99.toFixed(1)} ms), statuses ${JSON.stringify(run.statuses)}`);

    // For comparison, the admitted path (token check, throttle, call lookup → 404) on a server with the default budget.
    const open = await Harness.start(testDirectory);
    try {
      const token = await open.token(CONTOSO, PLAIN_BOT.id, PLAIN_BOT.secret);
      await blast(open.sb.url, open.sb.caPem!, token, 500, 16);
      const admitted = await blast(open.sb.url, open.sb.caPem!, token, 1000, 16);
      assert.equal(admitted.statuses[404], 1000, JSON.stringify(admitted.statuses));
      t.diagnostic(`admitted path (default 50,000 / 15 s): ${admitted.perSecond.toFixed(0)} requests/s (p50 ${admitted.p50.toFixed(1)} ms, p99 ${admitted.p99.toFixed(1)} ms)`);
    } finally {
      await open.close();
    }
    assert.ok(run.perSecond > 200, `the throttled path serves ${run.perSecond.toFixed(0)} requests/s`);
  });
});
