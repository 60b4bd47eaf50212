/**
 * The Store contract: what every adapter (SQLite, PostgreSQL, ...) must do, as node:test cases. An adapter's
 * test file calls `storeContract(name, open)`; `open` gives a fresh, empty store for each test and a
 * `cleanup` that closes it and removes what it made.
 *
 * Times are Switchboard's clock (epoch ms); the calls are real ones made by the call machine
 * (`createIncomingCall`). The claim methods are optional in the interface: their cases are skipped, saying
 * so, for an adapter without them. Leases run on the real clock, so the lease-expiry cases sleep briefly.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { afterEach, beforeEach, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { createIncomingCall } from '../../src/calls/machine.js';
import type { Call, TimerName } from '../../src/calls/model.js';
import { identitySet, type ChangeType } from '../../src/graph/types.js';
import { VersionConflict, type CallChange, type NewNotification, type SigningKeyRow, type Store } from '../../src/store/store.js';

export interface OpenedStore {
  store: Store;
  cleanup(): Promise<void>;
}

export interface ContractOptions {
  /** Skip every case with this message (e.g. the database is not configured). */
  skip?: string;
}

// ─── Fixtures ─────────────────────────────────────────────────────────────────────────────────────────

const T0 = Date.parse('2025-03-10T09:00:00.000Z');
/** `seconds` after T0, on Switchboard's clock. */
const at = (seconds: number): number => T0 + Math.round(seconds * 1000);

const TENANT = '632899f8-2ea1-4604-8413-27bd2892079f';
const APP = '24701998-1a73-4d42-8085-bf46ed0ae039';
const CALLBACK = 'https://bot.contoso.example/api/calls';

/** A valid incoming call, as the machine makes it (version 0, state `incoming`). */
export function makeCall(id: string, createdAt = T0, displayName = 'Adele Vance'): Call {
  return createIncomingCall(
    {
      id,
      tenantId: TENANT,
      applicationId: APP,
      callbackUri: CALLBACK,
      source: identitySet('user', { id: 'adele', displayName, tenantId: TENANT }),
      callee: identitySet('applicationInstance', { id: 'reception', displayName: 'Contoso Reception', tenantId: TENANT }),
      myParticipantId: `${id}-participant`,
      callChainId: `${id}-chain`,
    },
    createdAt,
  ).call;
}

type ChangeExtras = Partial<Omit<CallChange, 'call' | 'expectedVersion'>>;

/** Writing a new call. */
function created(call: Call, extras: ChangeExtras = {}): CallChange {
  return { call: { ...call, version: 0 }, expectedVersion: -1, setTimers: [], cancelTimers: [], cancelAllTimers: false, notifications: [], ...extras };
}

/** Changing a call read at `expectedVersion` (the store writes version expectedVersion + 1). */
function updated(call: Call, expectedVersion: number, extras: ChangeExtras = {}): CallChange {
  return {
    call: { ...call, version: expectedVersion + 1 },
    expectedVersion,
    setTimers: [],
    cancelTimers: [],
    cancelAllTimers: false,
    notifications: [],
    ...extras,
  };
}

function note(callId: string, overrides: Partial<NewNotification> = {}): NewNotification {
  const id = overrides.id ?? randomUUID();
  const changeType: ChangeType = overrides.changeType ?? 'updated';
  return {
    id,
    callId,
    changeType,
    state: 'incoming',
    url: CALLBACK,
    audience: APP,
    body: JSON.stringify({ '@odata.type': '#microsoft.graph.commsNotifications', value: [{ changeType, resource: `/app/calls/${callId}` }] }),
    createdAt: T0,
    nextAttemptAt: T0,
    ...overrides,
  };
}

function keyRow(kid: string, createdAt: number, use: SigningKeyRow['use'] = 'graph'): SigningKeyRow {
  return { kid, use, privateJwk: JSON.stringify({ kty: 'RSA', kid, n: 'AQAB', d: 'secret' }), createdAt };
}

const timerKeys = (rows: Array<{ callId: string; name: TimerName }>): string[] => rows.map((r) => `${r.callId}/${r.name}`);

// ─── The suite ────────────────────────────────────────────────────────────────────────────────────────

export function storeContract(name: string, open: () => Promise<OpenedStore>, options: ContractOptions = {}): void {
  describe(`Store contract: ${name}`, () => {
    let store: Store;
    let cleanup: (() => Promise<void>) | undefined;

    beforeEach(async () => {
      const opened = await open();
      store = opened.store;
      cleanup = opened.cleanup;
    });
    afterEach(async () => {
      await cleanup?.();
      cleanup = undefined;
    });

    const it = (title: string, fn: () => Promise<void>): void => {
      test(title, options.skip ? { skip: options.skip } : {}, fn);
    };
    /** A case for an optional method: skipped, saying why, when the adapter lacks it. */
    const itIf = (method: keyof Store, title: string, fn: () => Promise<void>): void => {
      test(title, options.skip ? { skip: options.skip } : {}, async (t) => {
        if (typeof store[method] !== 'function') {
          t.skip(`${name} has no ${String(method)}`);
          return;
        }
        await fn();
      });
    };

    /** Commits a new call with the given extras and returns it as written. */
    const seed = async (id: string, extras: ChangeExtras = {}, createdAt = T0): Promise<Call> => {
      const change = created(makeCall(id, createdAt), extras);
      await store.commit([change]);
      return change.call;
    };

    describe('calls', () => {
      it('getCall of an unknown id is undefined', async () => {
        assert.equal(await store.getCall('no-such-call'), undefined);
      });

      it('a created call reads back exactly (unicode, a NUL character, nested objects)', async () => {
        const call = makeCall('c1', T0, 'Zoë Ångström \u0000 😀 "quoted" \\ back');
        await store.commit([created(call)]);
        assert.deepEqual(await store.getCall('c1'), { ...call, version: 0 });
      });

      it('an update at the current version replaces the call and its version', async () => {
        const call = await seed('c1');
        const next: Call = { ...call, state: 'terminated', endedAt: at(3), history: [...call.history, { at: at(3), type: 'ended' }] };
        await store.commit([updated(next, 0)]);
        assert.deepEqual(await store.getCall('c1'), { ...next, version: 1 });
        await store.commit([updated({ ...next, version: 1 }, 1)]);
        assert.equal((await store.getCall('c1'))?.version, 2);
      });

      it('an update at a stale version throws VersionConflict and changes nothing', async () => {
        const call = await seed('c1');
        await store.commit([updated({ ...call, state: 'redirecting' }, 0)]);
        await assert.rejects(store.commit([updated({ ...call, state: 'terminated' }, 0)]), (error: unknown) => {
          assert.ok(error instanceof VersionConflict, `expected VersionConflict, got ${String(error)}`);
          assert.equal(error.callId, 'c1');
          return true;
        });
        const stored = await store.getCall('c1');
        assert.equal(stored?.state, 'redirecting');
        assert.equal(stored?.version, 1);
      });

      it('an update of a call that does not exist throws VersionConflict', async () => {
        await assert.rejects(store.commit([updated(makeCall('ghost'), 0)]), VersionConflict);
        assert.equal(await store.getCall('ghost'), undefined);
      });

      it('inserting an id that exists throws VersionConflict and keeps the first call', async () => {
        const first = await seed('c1');
        const second = makeCall('c1', at(10), 'Someone Else');
        await assert.rejects(store.commit([created(second)]), (error: unknown) => error instanceof VersionConflict && error.callId === 'c1');
        assert.deepEqual(await store.getCall('c1'), first);
      });

      it('a batch is atomic: one failing change leaves nothing of the batch written', async () => {
        const b = await seed('b', { setTimers: [{ name: 'incomingWindow', at: at(15) }] });
        const a = makeCall('a', at(1));
        await assert.rejects(
          store.commit([
            created(a, { setTimers: [{ name: 'incomingWindow', at: at(16) }], notifications: [note('a', { changeType: 'created' })] }),
            updated({ ...b, state: 'terminated' }, 0, { cancelAllTimers: true, notifications: [note('b')] }),
            updated({ ...b, state: 'redirecting' }, 0), // b is now at version 1 inside the batch: stale
          ]),
          VersionConflict,
        );
        assert.equal(await store.getCall('a'), undefined);
        assert.deepEqual(await store.getCall('b'), b);
        assert.deepEqual(await store.notificationsOf('a'), []);
        assert.deepEqual(await store.notificationsOf('b'), []);
        assert.deepEqual(timerKeys(await store.dueTimers(at(100), 10)), ['b/incomingWindow']);
        assert.deepEqual(await store.listCalls(10), [b]);
      });

      it('a batch failing on a duplicate insert rolls back the updates before it', async () => {
        const b = await seed('b');
        await assert.rejects(
          store.commit([updated({ ...b, state: 'terminated' }, 0, { notifications: [note('b')] }), created(makeCall('b', at(5)))]),
          VersionConflict,
        );
        assert.deepEqual(await store.getCall('b'), b);
        assert.deepEqual(await store.notificationsOf('b'), []);
      });

      it('a batch of several calls is written together', async () => {
        const parent = await seed('parent');
        const leg = makeCall('leg', at(2));
        await store.commit([
          updated({ ...parent, state: 'redirecting' }, 0, { setTimers: [{ name: 'ringTimeout', at: at(60) }] }),
          created(leg, { notifications: [note('leg', { changeType: 'created' })] }),
        ]);
        assert.equal((await store.getCall('parent'))?.state, 'redirecting');
        assert.equal((await store.getCall('leg'))?.id, 'leg');
        assert.equal((await store.notificationsOf('leg')).length, 1);
        assert.deepEqual(timerKeys(await store.dueTimers(at(60), 10)), ['parent/ringTimeout']);
      });

      it('an empty commit is a no-op', async () => {
        await store.commit([]);
        assert.deepEqual(await store.listCalls(10), []);
      });

      it('listCalls: most recently created first, ties by id, at most `limit`', async () => {
        await seed('m', {}, at(1));
        await seed('z', {}, at(3));
        await seed('a', {}, at(3));
        await seed('q', {}, at(2));
        assert.deepEqual(
          (await store.listCalls(10)).map((c) => c.id),
          ['a', 'z', 'q', 'm'],
        );
        assert.deepEqual(
          (await store.listCalls(2)).map((c) => c.id),
          ['a', 'z'],
        );
        assert.deepEqual(await store.listCalls(0), []);
      });
    });

    describe('timers', () => {
      it('dueTimers: due at or before upTo, ordered by due time, call id, name; at most `limit`', async () => {
        await seed('b', {
          setTimers: [
            { name: 'incomingWindow', at: at(15) },
            { name: 'target:x', at: at(5) },
            { name: 'ringTimeout', at: at(5) },
          ],
        });
        await seed('a', { setTimers: [{ name: 'ringTimeout', at: at(5) }, { name: 'incomingWindow', at: at(20) }] });
        assert.deepEqual(await store.dueTimers(at(4.999), 10), []);
        assert.deepEqual(await store.dueTimers(at(5), 10), [
          { callId: 'a', name: 'ringTimeout', dueAt: at(5) },
          { callId: 'b', name: 'ringTimeout', dueAt: at(5) },
          { callId: 'b', name: 'target:x', dueAt: at(5) },
        ]);
        assert.deepEqual(timerKeys(await store.dueTimers(at(15), 10)), ['a/ringTimeout', 'b/ringTimeout', 'b/target:x', 'b/incomingWindow']);
        assert.deepEqual(timerKeys(await store.dueTimers(at(100), 2)), ['a/ringTimeout', 'b/ringTimeout']);
      });

      it('ties are broken by byte order of the ids (upper case before lower case), as SQLite does', async () => {
        await seed('a', { setTimers: [{ name: 'target:b', at: at(5) }, { name: 'target:B', at: at(5) }] });
        await seed('B', { setTimers: [{ name: 'target:x', at: at(5) }] }, T0);
        assert.deepEqual(timerKeys(await store.dueTimers(at(5), 10)), ['B/target:x', 'a/target:B', 'a/target:b']);
        assert.deepEqual(
          (await store.listCalls(10)).map((c) => c.id),
          ['B', 'a'],
        );
        if (store.claimDueTimers) {
          assert.deepEqual(timerKeys(await store.claimDueTimers(at(5), 2, 'o', 60_000)), ['B/target:x', 'a/target:B']);
        }
      });

      it('setting a timer again replaces its due time', async () => {
        const call = await seed('c1', { setTimers: [{ name: 'ringTimeout', at: at(60) }] });
        await store.commit([updated(call, 0, { setTimers: [{ name: 'ringTimeout', at: at(30) }] })]);
        assert.deepEqual(await store.dueTimers(at(100), 10), [{ callId: 'c1', name: 'ringTimeout', dueAt: at(30) }]);
      });

      it('cancelTimers removes the named timers of that call only', async () => {
        const call = await seed('c1', {
          setTimers: [
            { name: 'incomingWindow', at: at(15) },
            { name: 'ringTimeout', at: at(60) },
            { name: 'target:alex', at: at(3) },
          ],
        });
        await seed('c2', { setTimers: [{ name: 'ringTimeout', at: at(60) }] });
        await store.commit([updated(call, 0, { cancelTimers: ['incomingWindow', 'target:alex'] })]);
        assert.deepEqual(timerKeys(await store.dueTimers(at(100), 10)), ['c1/ringTimeout', 'c2/ringTimeout']);
      });

      it('cancelAllTimers removes every timer of the call; timers set in the same change survive', async () => {
        const call = await seed('c1', { setTimers: [{ name: 'incomingWindow', at: at(15) }, { name: 'target:alex', at: at(3) }] });
        await seed('c2', { setTimers: [{ name: 'incomingWindow', at: at(15) }] });
        await store.commit([updated(call, 0, { cancelAllTimers: true, setTimers: [{ name: 'ringTimeout', at: at(60) }] })]);
        assert.deepEqual(timerKeys(await store.dueTimers(at(100), 10)), ['c2/incomingWindow', 'c1/ringTimeout']);
        await store.commit([updated({ ...call, version: 1 }, 1, { cancelAllTimers: true })]);
        assert.deepEqual(timerKeys(await store.dueTimers(at(100), 10)), ['c2/incomingWindow']);
      });

      it('nextTimerDue: undefined with no timers, else the earliest due time', async () => {
        assert.equal(await store.nextTimerDue(), undefined);
        await seed('c1', { setTimers: [{ name: 'incomingWindow', at: at(15) }] });
        await seed('c2', { setTimers: [{ name: 'target:x', at: at(7) }, { name: 'ringTimeout', at: at(60) }] });
        assert.equal(await store.nextTimerDue(), at(7));
      });

      it('deleteTimer drops one timer; deleting a missing one is harmless', async () => {
        await seed('c1', { setTimers: [{ name: 'incomingWindow', at: at(15) }, { name: 'ringTimeout', at: at(60) }] });
        await store.deleteTimer('c1', 'incomingWindow');
        await store.deleteTimer('c1', 'incomingWindow');
        await store.deleteTimer('ghost', 'ringTimeout');
        assert.deepEqual(timerKeys(await store.dueTimers(at(100), 10)), ['c1/ringTimeout']);
        assert.equal(await store.nextTimerDue(), at(60));
      });
    });

    describe('outbox', () => {
      it('seq counts per call from 1, across changes and commits; rows read back whole', async () => {
        const n1 = note('c1', { changeType: 'created', state: 'incoming', createdAt: at(0), nextAttemptAt: at(0) });
        const n2 = note('c1', { state: 'redirecting', url: 'https://other.example/cb', createdAt: at(0), nextAttemptAt: at(0) });
        const call = await seed('c1', { notifications: [n1, n2] });
        await seed('c2', { notifications: [note('c2', { changeType: 'created' })] });
        const n3 = note('c1', { changeType: 'deleted', state: 'terminated', createdAt: at(4), nextAttemptAt: at(4) });
        await store.commit([updated(call, 0, { notifications: [n3] })]);
        const rows = await store.notificationsOf('c1');
        assert.deepEqual(
          rows.map((r) => r.seq),
          [1, 2, 3],
        );
        assert.deepEqual(rows[0], { ...n1, seq: 1, attempts: [], delivered: false, dead: false });
        assert.deepEqual(rows[1], { ...n2, seq: 2, attempts: [], delivered: false, dead: false });
        assert.deepEqual(rows[2], { ...n3, seq: 3, attempts: [], delivered: false, dead: false });
        assert.deepEqual(
          (await store.notificationsOf('c2')).map((r) => r.seq),
          [1],
        );
        assert.deepEqual(await store.notificationsOf('ghost'), []);
      });

      it('deliverable: only the oldest undelivered notification of each call, once due', async () => {
        const first = note('c1', { changeType: 'created', nextAttemptAt: at(0) });
        const second = note('c1', { nextAttemptAt: at(0) });
        const later = note('c2', { changeType: 'created', createdAt: at(1), nextAttemptAt: at(30) });
        await seed('c1', { notifications: [first, second] });
        await seed('c2', { notifications: [later] });
        assert.deepEqual(
          (await store.deliverable(at(0), 10)).map((r) => r.id),
          [first.id],
        );
        assert.deepEqual(
          (await store.deliverable(at(29.999), 10)).map((r) => r.id),
          [first.id],
        );
        assert.deepEqual(
          (await store.deliverable(at(30), 10)).map((r) => r.id),
          [first.id, later.id],
        );
        await store.recordAttempt(first.id, { at: at(1), status: 202 }, { delivered: true, dead: false, nextAttemptAt: at(1) });
        assert.deepEqual(
          (await store.deliverable(at(1), 10)).map((r) => r.id),
          [second.id],
        );
        await store.recordAttempt(second.id, { at: at(2), status: 200 }, { delivered: true, dead: false, nextAttemptAt: at(2) });
        assert.deepEqual(await store.deliverable(at(2), 10), []);
      });

      it('deliverable: a later notification waits while the earlier one is retried, and respects its own due time', async () => {
        const first = note('c1', { changeType: 'created' });
        const second = note('c1', { nextAttemptAt: at(50) });
        await seed('c1', { notifications: [first, second] });
        await store.recordAttempt(first.id, { at: at(0), status: 500 }, { delivered: false, dead: false, nextAttemptAt: at(1) });
        assert.deepEqual(await store.deliverable(at(0.5), 10), []);
        assert.deepEqual(await store.deliverable(at(60), 10).then((rows) => rows.map((r) => r.id)), [first.id]);
        await store.recordAttempt(first.id, { at: at(1), status: 202 }, { delivered: true, dead: false, nextAttemptAt: at(1) });
        assert.deepEqual(await store.deliverable(at(49), 10), []);
        assert.deepEqual(await store.deliverable(at(50), 10).then((rows) => rows.map((r) => r.id)), [second.id]);
      });

      it('deliverable: a dead notification is never sent and no longer holds back the next one', async () => {
        const first = note('c1', { changeType: 'created' });
        const second = note('c1');
        await seed('c1', { notifications: [first, second] });
        await store.recordAttempt(first.id, { at: at(0), error: 'ECONNREFUSED' }, { delivered: false, dead: true, nextAttemptAt: at(0) });
        assert.deepEqual(
          (await store.deliverable(at(100), 10)).map((r) => r.id),
          [second.id],
        );
      });

      it('deliverable: ordered by due time, then creation, then seq; at most `limit`', async () => {
        const a = note('a', { createdAt: at(2), nextAttemptAt: at(5) });
        const b = note('b', { createdAt: at(3), nextAttemptAt: at(4) });
        const c = note('c', { createdAt: at(1), nextAttemptAt: at(5) });
        await seed('a', { notifications: [a] });
        await seed('b', { notifications: [b] });
        await seed('c', { notifications: [c] });
        assert.deepEqual(
          (await store.deliverable(at(10), 10)).map((r) => r.callId),
          ['b', 'c', 'a'],
        );
        assert.deepEqual(
          (await store.deliverable(at(10), 2)).map((r) => r.callId),
          ['b', 'c'],
        );
      });

      it('nextNotificationDue: the earliest pending (not delivered, not dead) due time', async () => {
        assert.equal(await store.nextNotificationDue(), undefined);
        const a = note('a', { nextAttemptAt: at(3) });
        const b = note('b', { nextAttemptAt: at(8) });
        const c = note('c', { nextAttemptAt: at(1) });
        await seed('a', { notifications: [a] });
        await seed('b', { notifications: [b] });
        await seed('c', { notifications: [c] });
        assert.equal(await store.nextNotificationDue(), at(1));
        await store.recordAttempt(c.id, { at: at(1), status: 202 }, { delivered: true, dead: false, nextAttemptAt: at(1) });
        assert.equal(await store.nextNotificationDue(), at(3));
        await store.recordAttempt(a.id, { at: at(3) }, { delivered: false, dead: true, nextAttemptAt: at(3) });
        assert.equal(await store.nextNotificationDue(), at(8));
        await store.recordAttempt(b.id, { at: at(8), status: 204 }, { delivered: true, dead: false, nextAttemptAt: at(8) });
        assert.equal(await store.nextNotificationDue(), undefined);
      });

      it('recordAttempt appends each attempt in order and sets the outcome; an unknown id is ignored', async () => {
        const n = note('c1');
        await seed('c1', { notifications: [n] });
        await store.recordAttempt(n.id, { at: at(0), error: 'connect ECONNREFUSED 127.0.0.1:9443' }, { delivered: false, dead: false, nextAttemptAt: at(1) });
        await store.recordAttempt(n.id, { at: at(1), status: 503 }, { delivered: false, dead: false, nextAttemptAt: at(3) });
        let [row] = await store.notificationsOf('c1');
        assert.deepEqual(row?.attempts, [{ at: at(0), error: 'connect ECONNREFUSED 127.0.0.1:9443' }, { at: at(1), status: 503 }]);
        assert.equal(row?.nextAttemptAt, at(3));
        assert.equal(row?.delivered, false);
        await store.recordAttempt(n.id, { at: at(3), status: 401, error: 'the bot rejected the "token" \u0000' }, { delivered: false, dead: false, nextAttemptAt: at(7) });
        await store.recordAttempt(n.id, { at: at(7), status: 202 }, { delivered: true, dead: false, nextAttemptAt: at(7) });
        [row] = await store.notificationsOf('c1');
        assert.equal(row?.attempts.length, 4);
        assert.deepEqual(row?.attempts[2], { at: at(3), status: 401, error: 'the bot rejected the "token" \u0000' });
        assert.deepEqual(row?.attempts[3], { at: at(7), status: 202 });
        assert.equal(row?.delivered, true);
        assert.equal(row?.dead, false);
        assert.equal(row?.nextAttemptAt, at(7));
        await store.recordAttempt('no-such-notification', { at: at(8), status: 202 }, { delivered: true, dead: false, nextAttemptAt: at(8) });
        assert.deepEqual(
          (await store.notificationsOf('c1')).map((r) => r.id),
          [n.id],
        );
      });
    });

    describe('signing keys', () => {
      it('keys read back in creation order; retiredAt only once retired', async () => {
        assert.deepEqual(await store.signingKeys(), []);
        const newer = keyRow('k2', Date.parse('2025-03-02T00:00:00Z'), 'notifications');
        const older = keyRow('k1', Date.parse('2025-03-01T00:00:00Z'));
        await store.addSigningKey(newer);
        await store.addSigningKey(older);
        const retiredAlready: SigningKeyRow = { ...keyRow('k0', Date.parse('2025-02-01T00:00:00Z')), retiredAt: Date.parse('2025-02-15T00:00:00Z') };
        await store.addSigningKey(retiredAlready);
        assert.deepEqual(await store.signingKeys(), [retiredAlready, older, newer]);
      });

      it('retireSigningKey sets retiredAt once; a second retire keeps the first time', async () => {
        const key = keyRow('k1', Date.parse('2025-03-01T00:00:00Z'));
        await store.addSigningKey(key);
        const retiredAt = Date.parse('2025-03-05T00:00:00Z');
        await store.retireSigningKey('k1', retiredAt);
        await store.retireSigningKey('k1', retiredAt + 1000);
        await store.retireSigningKey('unknown', retiredAt);
        assert.deepEqual(await store.signingKeys(), [{ ...key, retiredAt }]);
      });

      it('adding a key id that exists is refused', async () => {
        await store.addSigningKey(keyRow('k1', T0));
        await assert.rejects(store.addSigningKey(keyRow('k1', T0 + 1)));
        assert.equal((await store.signingKeys()).length, 1);
      });
    });

    describe('clock', () => {
      it('clockNow is undefined until set, then what was set', async () => {
        assert.equal(await store.clockNow(), undefined);
        await store.setClockNow(T0);
        assert.equal(await store.clockNow(), T0);
        await store.setClockNow(at(90));
        assert.equal(await store.clockNow(), at(90));
      });

      it('setClockNow never moves the clock backwards, also when writers race', async () => {
        await store.setClockNow(at(60));
        await store.setClockNow(at(30));
        assert.equal(await store.clockNow(), at(60));
        const values = Array.from({ length: 20 }, (_, i) => at(100 + ((i * 7) % 20)));
        await Promise.all(values.map((v) => store.setClockNow(v)));
        assert.equal(await store.clockNow(), Math.max(...values));
      });
    });

    describe('claims (several processes)', () => {
      const LONG = 60_000;

      itIf('claimDueTimers', 'claimDueTimers claims due timers in order; nobody else gets them while the lease holds', async () => {
        await seed('b', { setTimers: [{ name: 'ringTimeout', at: at(5) }, { name: 'incomingWindow', at: at(15) }] });
        await seed('a', { setTimers: [{ name: 'ringTimeout', at: at(5) }, { name: 'target:x', at: at(90) }] });
        const mine = await store.claimDueTimers!(at(15), 10, 'owner-1', LONG);
        assert.deepEqual(mine, [
          { callId: 'a', name: 'ringTimeout', dueAt: at(5) },
          { callId: 'b', name: 'ringTimeout', dueAt: at(5) },
          { callId: 'b', name: 'incomingWindow', dueAt: at(15) },
        ]);
        assert.deepEqual(await store.claimDueTimers!(at(100), 10, 'owner-2', LONG), [{ callId: 'a', name: 'target:x', dueAt: at(90) }]);
        assert.deepEqual(await store.claimDueTimers!(at(100), 10, 'owner-1', LONG), []);
        // Claims do not hide timers from the single-process reads.
        assert.equal((await store.dueTimers(at(100), 10)).length, 4);
        assert.equal(await store.nextTimerDue(), at(5));
      });

      itIf('claimDueTimers', 'claimDueTimers honours `limit` and leaves the rest for the next claim', async () => {
        await seed('c1', {
          setTimers: [
            { name: 'target:1', at: at(1) },
            { name: 'target:2', at: at(2) },
            { name: 'target:3', at: at(3) },
          ],
        });
        assert.deepEqual(timerKeys(await store.claimDueTimers!(at(10), 2, 'o', LONG)), ['c1/target:1', 'c1/target:2']);
        assert.deepEqual(timerKeys(await store.claimDueTimers!(at(10), 2, 'o', LONG)), ['c1/target:3']);
      });

      itIf('claimDueTimers', 'two owners claiming at once never get the same timer', async () => {
        const names: TimerName[] = Array.from({ length: 12 }, (_, i) => `target:${i}` as TimerName);
        for (let c = 0; c < 5; c++) await seed(`c${c}`, { setTimers: names.map((name, i) => ({ name, at: at(i) })) });
        const claimAll = async (owner: string): Promise<string[]> => {
          const got: string[] = [];
          for (;;) {
            const rows = await store.claimDueTimers!(at(100), 4, owner, LONG);
            if (rows.length === 0) return got;
            got.push(...timerKeys(rows));
          }
        };
        const [one, two, three] = await Promise.all([claimAll('owner-1'), claimAll('owner-2'), claimAll('owner-3')]);
        const all = [...one!, ...two!, ...three!];
        assert.equal(new Set(all).size, all.length, 'a timer was claimed twice');
        assert.equal(all.length, 60);
      });

      itIf('claimDueTimers', 'an expired lease is taken over by another owner; setting the timer again frees it', async () => {
        await seed('c1', { setTimers: [{ name: 'ringTimeout', at: at(5) }] });
        const call = await seed('c2', { setTimers: [{ name: 'ringTimeout', at: at(5) }] });
        assert.equal((await store.claimDueTimers!(at(5), 1, 'dead-process', 30)).length, 1);
        assert.equal((await store.claimDueTimers!(at(5), 1, 'owner-2', LONG)).length, 1);
        assert.deepEqual(await store.claimDueTimers!(at(5), 10, 'owner-3', LONG), []);
        await sleep(60);
        assert.deepEqual(timerKeys(await store.claimDueTimers!(at(5), 10, 'owner-3', LONG)), ['c1/ringTimeout']);
        // c2's timer is held for a minute by owner-2, but setting it again makes it a new, unclaimed timer.
        await store.commit([updated(call, 0, { setTimers: [{ name: 'ringTimeout', at: at(6) }] })]);
        assert.deepEqual(await store.claimDueTimers!(at(10), 10, 'owner-3', LONG), [{ callId: 'c2', name: 'ringTimeout', dueAt: at(6) }]);
      });

      itIf('claimDeliverable', 'claimDeliverable keeps per-call order: seq 2 waits while seq 1 is claimed or pending', async () => {
        const a1 = note('a', { changeType: 'created' });
        const a2 = note('a');
        const b1 = note('b', { changeType: 'created', createdAt: at(1), nextAttemptAt: at(1) });
        await seed('a', { notifications: [a1, a2] });
        await seed('b', { notifications: [b1] });
        const mine = await store.claimDeliverable!(at(10), 10, 'owner-1', LONG);
        assert.deepEqual(
          mine.map((r) => r.id),
          [a1.id, b1.id],
        );
        assert.equal(mine[0]?.seq, 1);
        assert.deepEqual(await store.claimDeliverable!(at(10), 10, 'owner-2', LONG), [], 'a2 must wait for a1');
        // A failed attempt ends the lease; a1 is retried when due, and a2 still waits for it.
        await store.recordAttempt(a1.id, { at: at(10), status: 500 }, { delivered: false, dead: false, nextAttemptAt: at(11) });
        assert.deepEqual(await store.claimDeliverable!(at(10), 10, 'owner-2', LONG), []);
        assert.deepEqual(
          (await store.claimDeliverable!(at(11), 10, 'owner-2', LONG)).map((r) => r.id),
          [a1.id],
        );
        await store.recordAttempt(a1.id, { at: at(11), status: 202 }, { delivered: true, dead: false, nextAttemptAt: at(11) });
        const next = await store.claimDeliverable!(at(11), 10, 'owner-3', LONG);
        assert.deepEqual(
          next.map((r) => [r.id, r.seq]),
          [[a2.id, 2]],
        );
        assert.deepEqual(next[0]?.attempts, []);
      });

      itIf('claimDeliverable', 'claimDeliverable respects due time, dead rows and `limit`', async () => {
        const a = note('a', { nextAttemptAt: at(5) });
        const b = note('b', { createdAt: at(1), nextAttemptAt: at(1) });
        const c = note('c', { createdAt: at(2), nextAttemptAt: at(2) });
        await seed('a', { notifications: [a] });
        await seed('b', { notifications: [b] });
        await seed('c', { notifications: [c] });
        await store.recordAttempt(b.id, { at: at(1) }, { delivered: false, dead: true, nextAttemptAt: at(1) });
        assert.deepEqual(await store.claimDeliverable!(at(1), 10, 'o', LONG), []);
        assert.deepEqual(
          (await store.claimDeliverable!(at(10), 1, 'o', LONG)).map((r) => r.id),
          [c.id],
        );
        assert.deepEqual(
          (await store.claimDeliverable!(at(10), 1, 'o', LONG)).map((r) => r.id),
          [a.id],
        );
      });

      itIf('claimDeliverable', 'two owners claiming at once never get the same notification, nor two of one call', async () => {
        for (let c = 0; c < 30; c++) {
          await seed(`c${c}`, { notifications: [note(`c${c}`, { changeType: 'created', createdAt: at(c) }), note(`c${c}`, { createdAt: at(c) })] });
        }
        const claim = (owner: string) => store.claimDeliverable!(at(100), 7, owner, LONG);
        const rounds = await Promise.all([claim('o1'), claim('o2'), claim('o3'), claim('o4'), claim('o5')]);
        const rows = rounds.flat();
        assert.equal(new Set(rows.map((r) => r.id)).size, rows.length, 'a notification was claimed twice');
        assert.equal(rows.length, 30);
        assert.ok(
          rows.every((r) => r.seq === 1),
          'a second notification was claimed before its call’s first was delivered',
        );
      });

      itIf('claimDeliverable', 'an expired lease on a notification is taken over by another owner', async () => {
        const n = note('c1');
        await seed('c1', { notifications: [n] });
        assert.equal((await store.claimDeliverable!(at(0), 10, 'dead-process', 30)).length, 1);
        assert.deepEqual(await store.claimDeliverable!(at(0), 10, 'owner-2', LONG), []);
        await sleep(60);
        const taken = await store.claimDeliverable!(at(0), 10, 'owner-2', LONG);
        assert.deepEqual(
          taken.map((r) => r.id),
          [n.id],
        );
        assert.deepEqual(await store.claimDeliverable!(at(0), 10, 'owner-3', LONG), []);
      });
    });
  });
}
