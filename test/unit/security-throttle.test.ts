/**
 * The throttle (src/http/throttle.ts): a sliding 15 s window per key, counted in 1 s buckets, on an
 * injected clock. Retry-After is whole seconds, 1–15, and waiting that long is enough.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Throttle } from '../../src/http/throttle.js';
import { SwitchboardError, toGraphError } from '../../src/graph/errors.js';

describe('Throttle', () => {
  test('admits `limit` requests per 15 s, then refuses with Retry-After until the oldest leave the window', () => {
    let now = 1_000_000_000_000; // a whole second
    const t = new Throttle(5, () => now);
    for (let i = 0; i < 5; i++) assert.equal(t.hit('a'), undefined);
    assert.equal(t.hit('a'), 15, 'all five in this second: the window frees in 15 s');
    now += 14_000;
    assert.equal(t.hit('a'), 1);
    now += 1_000;
    assert.equal(t.hit('a'), undefined, 'after 15 s the budget is back');
  });

  test('sliding: requests spread over the window leave it one second at a time', () => {
    let now = 2_000_000_000_000;
    const t = new Throttle(5, () => now);
    t.hit('a');
    t.hit('a');
    t.hit('a'); // 3 at second 0
    now += 5_000;
    t.hit('a');
    t.hit('a'); // 2 at second 5
    now += 1_500; // 6.5 s
    assert.equal(t.hit('a'), 9, 'second 0 leaves at 15 s: 8.5 s → 9');
    now = 2_000_000_000_000 + 15_000;
    assert.equal(t.hit('a'), undefined, 'second 0 has left: 2 in the window');
    assert.equal(t.hit('a'), undefined);
    assert.equal(t.hit('a'), undefined);
    assert.equal(t.hit('a'), 5, 'now 5 again; second 5 leaves at 20 s');
  });

  test('refused requests are not counted; keys are independent', () => {
    let now = 3_000_000_000_000;
    const t = new Throttle(2, () => now);
    t.hit('a');
    t.hit('a');
    for (let i = 0; i < 100; i++) assert.ok(t.hit('a') !== undefined);
    assert.equal(t.hit('b'), undefined, 'another application or tenant has its own budget');
    now += 15_000;
    assert.equal(t.hit('a'), undefined, 'the refused ones did not extend the wait');
  });

  test('Retry-After is always a whole number of seconds from 1 to 15', () => {
    let now = 4_000_000_000_123;
    const t = new Throttle(3, () => now);
    for (let step = 0; step < 2000; step++) {
      now += Math.floor((step * 7919) % 2300);
      const r = t.hit('k');
      if (r !== undefined) assert.ok(Number.isInteger(r) && r >= 1 && r <= 15, String(r));
    }
  });

  test('the 429 Graph error carries TooManyRequests and the retry', () => {
    const error = Throttle.error(7, 5);
    assert.ok(error instanceof SwitchboardError);
    assert.equal(error.retryAfter, 7);
    const { status, body } = toGraphError(error, { requestId: 'r', clientRequestId: 'c' }, new Date());
    assert.equal(status, 429);
    assert.equal(body.error.code, 'TooManyRequests');
    assert.match(body.error.message, /5 requests per 15 seconds/);
  });

  test('a limit must be a positive integer', () => {
    assert.throws(() => new Throttle(0));
    assert.throws(() => new Throttle(1.5));
  });
});
