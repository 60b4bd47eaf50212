/**
 * The bot's endpoint is down for 10 virtual minutes, then comes back: every notification is delivered,
 * each call's in order, after retries with backoff (1 s doubling, capped at 5 min) on the virtual clock.
 * And a notification that cannot be delivered before `giveUpAfterSeconds` is marked dead in the record.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { Harness } from '../support/harness.js';
import { BOT, CONTOSO, USERS, callFromCaller, testDirectory, userTarget } from '../support/fixtures.js';

let h: Harness;
before(async () => {
  h = await Harness.start((cb) => ({ ...testDirectory(cb), notifications: { allowHosts: [], giveUpAfterSeconds: 3_600 } }));
});
after(async () => h?.close());

async function advanceInSteps(totalSeconds: number, step: number): Promise<void> {
  for (let t = 0; t < totalSeconds; t += step) {
    await h.advance(step);
    await h.settle();
  }
}

test('receiver down for 10 virtual minutes, then back: all delivered, in order', async () => {
  const token = await h.token(CONTOSO, BOT.id, BOT.secret);
  let down = true;
  h.receiver.status = () => (down ? 503 : 202);
  try {
    const ids: string[] = [];
    for (let i = 0; i < 6; i++) ids.push(await h.placeCall(callFromCaller));
    await h.settle();
    // Half are redirected (created, updated, deleted), half expire (created, deleted).
    for (const id of ids.slice(0, 3)) {
      const res = await h.http('POST', `/v1.0/communications/calls/${id}/redirect`, { token, body: { targets: [userTarget(USERS.testUser)] } });
      assert.equal(res.status, 202);
    }
    await advanceInSteps(600, 10);
    assert.equal(h.receiver.received.length, 0, 'nothing accepted while down');
    const record = await h.record(ids[0] ?? '');
    const attempts = record.notifications[0].attempts as Array<{ at: string; status: number }>;
    assert.ok(attempts.length >= 9, `retried with backoff (${attempts.length} attempts)`);
    assert.ok(attempts.every((a) => a.status === 503));
    const gaps = attempts.slice(1).map((a, i) => (Date.parse(a.at) - Date.parse(attempts[i]?.at ?? '')) / 1000);
    for (let i = 1; i < gaps.length; i++) assert.ok((gaps[i] ?? 0) >= (gaps[i - 1] ?? 0), `backoff grows: ${gaps.join(', ')}`);
    assert.ok(Math.max(...gaps) <= 300, 'capped at 5 minutes');
    assert.equal(record.notifications[1].attempts.length, 0, 'a later notification waits for the earlier one');

    down = false;
    await advanceInSteps(300, 30);
    for (const [i, id] of ids.entries()) {
      const kinds = h.receiver.notifications(id).map((n) => `${n.changeType}/${n.resourceData.state}`);
      const expected = i < 3 ? ['created/incoming', 'updated/redirecting', 'deleted/terminated'] : ['created/incoming', 'deleted/terminated'];
      assert.deepEqual(kinds, expected, `call ${i}: all delivered, in order`);
    }
  } finally {
    h.receiver.status = () => 202;
  }
});

test('a notification not delivered within giveUpAfterSeconds is marked dead, and the next one follows', async () => {
  h.receiver.status = (r) => ((r.json as { value?: Array<{ changeType: string }> })?.value?.[0]?.changeType === 'created' ? 500 : 202);
  try {
    const id = await h.placeCall(callFromCaller);
    await h.settle();
    await advanceInSteps(3_900, 300);
    const record = await h.record(id);
    const created = record.notifications.find((n: { changeType: string }) => n.changeType === 'created');
    assert.equal(created.dead, true, 'given up after an hour');
    assert.equal(created.delivered, false);
    const deleted = record.notifications.find((n: { changeType: string }) => n.changeType === 'deleted');
    assert.equal(deleted.delivered, true, 'the window expiry still reaches the bot');
  } finally {
    h.receiver.status = () => 202;
  }
});
