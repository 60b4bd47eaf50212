/**
 * Restarts, end to end: Switchboard is stopped and started again on the same data dir (SQLite, virtual
 * clock), like a process restart. Timers, the outbox, the signing keys and the virtual clock's time live in
 * the store, so a ringing call still times out, a notification that could not be delivered before the stop
 * is delivered after it (in order), and a timer fires exactly once.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { afterEach, describe, test } from 'node:test';
import { openStore } from '../../src/store/open.js';
import { Harness } from '../support/harness.js';
import { BOT, CONTOSO, USERS, callFromCaller, testDirectory, userTarget } from '../support/fixtures.js';

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

const clockNow = async (harness: Harness): Promise<string> => {
  const res = await harness.simulator('GET', '/clock');
  assert.equal(res.status, 200, res.text);
  assert.equal(res.json.mode, 'virtual');
  return res.json.now as string;
};

const deletedCount = (harness: Harness, id: string) => harness.receiver.notifications(id).filter((n) => n.changeType === 'deleted').length;

describe('restart', () => {
  test('in the middle of ringing: the ring timeout still fires, 408/10058, and the clock kept its time', async () => {
    h = await Harness.start(testDirectory);
    const token = await h.token(CONTOSO, BOT.id, BOT.secret);
    const id = await h.placeCall(callFromCaller);
    await h.receiver.waitFor(id, 'created');
    const res = await h.http('POST', `/v1.0/communications/calls/${id}/redirect`, {
      token,
      body: { targets: [userTarget(USERS.noAnswer)], timeout: 30 },
    });
    assert.equal(res.status, 202, res.text);
    await h.receiver.waitFor(id, 'updated', 'redirecting');
    await h.advance(10);
    await h.settle();
    assert.equal((await h.record(id)).state, 'redirecting');

    const before = await clockNow(h);
    h = await h.restart();
    const afterRestart = await clockNow(h);
    assert.equal(afterRestart, before, 'the virtual clock kept its time across the restart');

    // Signing keys are in the store: the token issued before the restart is still good.
    const get = await h.http('GET', `/v1.0/communications/calls/${id}`, { token });
    assert.equal(get.status, 200, get.text);
    assert.equal(get.json.state, 'redirecting');
    const record = await h.record(id);
    assert.equal(record.targets[0].ringState, 'ringing');
    assert.equal(record.redirect.timeout, 30);

    await h.advance(19.9);
    assert.equal((await h.record(id)).state, 'redirecting', '29.9 s after the redirect it still rings');
    await h.advance(0.1);
    const deleted = await h.receiver.waitFor(id, 'deleted', 'terminated');
    const ended = deleted.resourceData as Record<string, any>;
    assert.deepEqual([ended.resultInfo.code, ended.resultInfo.subcode], [408, 10058]);
    const final = await h.record(id);
    assert.equal(final.state, 'terminated');
    assert.equal(final.targets[0].ringState, 'noAnswer');
    assert.equal(Date.parse(final.endedAt) - Date.parse(final.redirect.acceptedAt), 30_000, 'ended exactly 30 s after the redirect');
    await h.settle();
    assert.equal(deletedCount(h, id), 1);
    assert.deepEqual(
      h.receiver.notifications(id).map((n) => `${n.changeType}/${n.resourceData.state}`),
      ['created/incoming', 'updated/redirecting', 'deleted/terminated'],
    );
  });

  test('a notification pending at shutdown is delivered after the restart, in order', async () => {
    h = await Harness.start(testDirectory);
    h.receiver.status = () => 503;
    const id = await h.placeCall(callFromCaller);
    await h.settle();
    // The caller hangs up while the bot still has not accepted the created notification.
    assert.equal((await h.simulator('POST', `/calls/${id}/hangup`)).status, 204);
    await h.settle();
    let record = await h.record(id);
    assert.equal(record.state, 'terminated');
    assert.deepEqual(
      record.notifications.map((n: { changeType: string; delivered: boolean }) => [n.changeType, n.delivered]),
      [
        ['created', false],
        ['deleted', false],
      ],
    );
    assert.deepEqual(record.notifications[0].attempts.map((a: { status?: number }) => a.status), [503]);
    assert.equal(record.notifications[1].attempts.length, 0, 'deleted waits behind created');
    assert.equal(h.receiver.notifications(id).length, 0);

    h = await h.restart();
    h.receiver.status = () => 202;
    await h.settle();
    // Nothing is due yet on the virtual clock (the retry is 1 s after the failure).
    assert.equal(h.receiver.notifications(id).length, 0, 'no retry before it is due');
    await h.advance(1);
    await h.receiver.waitFor(id, 'deleted');
    await h.settle();
    assert.deepEqual(
      h.receiver.notifications(id).map((n) => `${n.changeType}/${n.resourceData.state}`),
      ['created/incoming', 'deleted/terminated'],
      'created before deleted',
    );
    record = await h.record(id);
    assert.ok(record.notifications.every((n: { delivered: boolean }) => n.delivered));
    assert.deepEqual(record.notifications[0].attempts.map((a: { status?: number }) => a.status), [503, 202]);
    assert.deepEqual(record.notifications[1].attempts.map((a: { status?: number }) => a.status), [202]);
    // Same notification id on the retry as on the first attempt (the header and the body annotation).
    const created = h.receiver.notifications(id)[0]!;
    assert.equal(created.request.headers['x-switchboard-notification-id'], record.notifications[0].id);
    assert.equal((created.request.json as Record<string, unknown>)['@switchboard.notificationId'], record.notifications[0].id);
  });

  test('the 15 s window set before a restart fires exactly once after it', async () => {
    h = await Harness.start(testDirectory);
    const id = await h.placeCall(callFromCaller);
    await h.receiver.waitFor(id, 'created');
    await h.advance(5);
    h = await h.restart();
    await h.advance(9.9);
    assert.equal((await h.record(id)).state, 'incoming');
    await h.advance(5.1);
    const ended = (await h.receiver.waitFor(id, 'deleted')).resourceData as Record<string, any>;
    assert.deepEqual([ended.resultInfo.code, ended.resultInfo.subcode], [408, 10057]);
    // A second restart and more time: the fired timer does not come back.
    h = await h.restart();
    await h.advance(60);
    await h.settle();
    assert.equal(deletedCount(h, id), 1, 'exactly one deleted notification');
    const record = await h.record(id);
    assert.equal(record.history.filter((e: { type: string }) => e.type === 'incomingWindowExpired').length, 1, 'the window expired once');
    assert.equal(record.notifications.filter((n: { changeType: string }) => n.changeType === 'deleted').length, 1);
  });

  test('a timer that came due while the process was stopped fires at start, once', async () => {
    h = await Harness.start(testDirectory);
    const id = await h.placeCall(callFromCaller);
    await h.receiver.waitFor(id, 'created');
    const placedAt = Date.parse(await clockNow(h));
    await h.sb.close();
    // While stopped, 20 s pass on the (stored) virtual clock, as real time would pass for a stopped process.
    const store = await openStore(`sqlite:${join(h.options.dataDir ?? '', 'switchboard.db')}`);
    try {
      assert.equal(await store.clockNow(), placedAt);
      await store.setClockNow(placedAt + 20_000);
    } finally {
      await store.close();
    }
    h = await h.restart();
    assert.equal(Date.parse(await clockNow(h)), placedAt + 20_000);
    // No advance: the start itself fires the window that came due while stopped.
    const ended = (await h.receiver.waitFor(id, 'deleted')).resourceData as Record<string, any>;
    assert.deepEqual([ended.resultInfo.code, ended.resultInfo.subcode], [408, 10057]);
    const record = await h.record(id);
    assert.equal(record.state, 'terminated');
    assert.equal(Date.parse(record.endedAt) >= placedAt + 15_000, true);
    await h.advance(30);
    await h.settle();
    assert.equal(deletedCount(h, id), 1, 'exactly one deleted notification');
    const final = await h.record(id);
    assert.equal(final.history.filter((e: { type: string }) => e.type === 'incomingWindowExpired').length, 1, 'the window expired once');
    assert.equal(final.notifications.filter((n: { changeType: string }) => n.changeType === 'deleted').length, 1);
  });
});
