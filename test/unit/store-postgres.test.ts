/**
 * The PostgreSQL store: the Store contract, then what only a shared server can show (processes starting
 * together, several pools racing on one call, claims across pools, the schema option, upgrading v1).
 *
 * Needs SWITCHBOARD_TEST_PG_URL (e.g. postgres://postgres@127.0.0.1:5432/test); without it every case is
 * skipped, loudly. Each store opened here gets a fresh schema `sb_test_<random>`, dropped afterwards, so runs
 * (and other users of the database) never collide.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, describe, test } from 'node:test';
import pg from 'pg';
import type { Call } from '../../src/calls/model.js';
import { MIGRATIONS } from '../../src/store/migrations.js';
import { openStore } from '../../src/store/open.js';
import { parsePostgresUrl, PostgresStore } from '../../src/store/postgres.js';
import { VersionConflict, type CallChange, type NewNotification } from '../../src/store/store.js';
import { makeCall, storeContract } from '../contract/store.contract.js';

const PG_URL = process.env.SWITCHBOARD_TEST_PG_URL;
const SKIP_MESSAGE = 'SKIPPED: PostgreSQL store tests (set SWITCHBOARD_TEST_PG_URL=postgres://...)';
if (!PG_URL) console.log(`# ${SKIP_MESSAGE}`);
const skip = PG_URL ? {} : { skip: SKIP_MESSAGE };

// ─── Schemas: one fresh schema per store, dropped at cleanup ──────────────────────────────────────────

let admin: pg.Pool | undefined;
const adminPool = (): pg.Pool => (admin ??= new pg.Pool({ connectionString: PG_URL, max: 2 }));
const created = new Set<string>();
const freshSchema = (): string => {
  const schema = `sb_test_${process.pid}_${randomBytes(5).toString('hex')}`;
  created.add(schema);
  return schema;
};
async function dropSchema(schema: string): Promise<void> {
  await adminPool().query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  created.delete(schema);
}
after(async () => {
  if (!admin) return;
  for (const schema of [...created]) await dropSchema(schema).catch(() => undefined);
  await admin.end();
});

const open = (schema: string, max?: number): Promise<PostgresStore> =>
  PostgresStore.open({ connectionString: PG_URL ?? '', schema, ...(max !== undefined ? { max } : {}) });

storeContract(
  'postgres',
  async () => {
    const schema = freshSchema();
    const store = await open(schema);
    return {
      store,
      cleanup: async () => {
        await store.close();
        await dropSchema(schema);
      },
    };
  },
  PG_URL ? {} : { skip: SKIP_MESSAGE },
);

// ─── Helpers ──────────────────────────────────────────────────────────────────────────────────────────

const T0 = Date.parse('2025-03-10T09:00:00.000Z');

function change(call: Call, expectedVersion: number, extras: Partial<CallChange> = {}): CallChange {
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

let noteCount = 0;
function note(callId: string, at = T0): NewNotification {
  noteCount++;
  return { id: `n-${noteCount}-${randomBytes(4).toString('hex')}`, callId, changeType: 'updated', state: 'incoming', url: 'https://bot.example/cb', audience: 'app', body: '{}', createdAt: at, nextAttemptAt: at };
}

/** Reads, changes and commits a call until its commit wins (what a process's engine does on a conflict). */
async function commitWithRetry(store: PostgresStore, callId: string, extras: (call: Call) => Partial<CallChange>): Promise<number> {
  for (let tries = 1; ; tries++) {
    const call = await store.getCall(callId);
    assert.ok(call);
    try {
      await store.commit([change(call, call.version, extras(call))]);
      return tries;
    } catch (error) {
      if (!(error instanceof VersionConflict)) throw error;
    }
  }
}

// ─── PostgreSQL specifics ─────────────────────────────────────────────────────────────────────────────

describe('PostgreSQL store specifics', () => {
  test('parsePostgresUrl takes ?schema= (and ?options=) off the URL', skip, () => {
    assert.deepEqual(parsePostgresUrl('postgres://u:p%40ss@db.example:5433/sb?schema=calls&sslmode=require'), {
      connectionString: 'postgres://u:p%40ss@db.example:5433/sb?sslmode=require',
      schema: 'calls',
    });
    assert.deepEqual(parsePostgresUrl('postgresql://db/sb?options=-c%20statement_timeout%3D5000'), {
      connectionString: 'postgresql://db/sb',
      options: '-c statement_timeout=5000',
    });
  });

  test('a schema name that would need quoting is refused', skip, async () => {
    await assert.rejects(PostgresStore.open({ connectionString: PG_URL ?? '', schema: 'Bad-Name; DROP' }), /schema/);
  });

  test('openStore("postgres://…?schema=NAME") keeps the tables in that schema', skip, async () => {
    const schema = freshSchema();
    const url = new URL(PG_URL ?? '');
    url.searchParams.set('schema', schema);
    const store = await openStore(url.toString());
    try {
      assert.equal(store.kind, 'postgres');
      await store.commit([change(makeCall('c1'), -1)]);
      const { rows } = await adminPool().query<{ table_name: string }>(
        'SELECT table_name FROM information_schema.tables WHERE table_schema = $1 ORDER BY table_name',
        [schema],
      );
      assert.deepEqual(
        rows.map((r) => r.table_name),
        ['calls', 'meta', 'outbox', 'schema_migrations', 'signing_keys', 'timers'],
      );
      const count = await adminPool().query<{ n: string }>(`SELECT count(*) AS n FROM ${schema}.calls`);
      assert.equal(count.rows[0]?.n, '1');
    } finally {
      await store.close();
      await dropSchema(schema);
    }
  });

  test('int8 values come back as numbers from the store without changing pg’s global parsers', skip, async () => {
    const schema = freshSchema();
    const store = await open(schema);
    try {
      const big = Date.parse('2999-12-31T23:59:59.999Z');
      await store.setClockNow(big);
      assert.equal(await store.clockNow(), big);
      await store.commit([change(makeCall('c1', big), -1, { setTimers: [{ name: 'ringTimeout', at: big }] })]);
      const [timer] = await store.dueTimers(big, 1);
      assert.equal(typeof timer?.dueAt, 'number');
      assert.equal(timer?.dueAt, big);
      assert.equal(pg.types.getTypeParser(pg.types.builtins.INT8, 'text')('5'), '5');
      const { rows } = await adminPool().query<{ n: unknown }>('SELECT 5::bigint AS n');
      assert.equal(rows[0]?.n, '5');
    } finally {
      await store.close();
      await dropSchema(schema);
    }
  });

  test('processes starting together apply each migration once (advisory lock)', skip, async () => {
    const schema = freshSchema();
    const opened = await Promise.allSettled(Array.from({ length: 6 }, () => open(schema, 2)));
    const stores = opened.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
    try {
      assert.deepEqual(
        opened.flatMap((r) => (r.status === 'rejected' ? [String(r.reason)] : [])),
        [],
        'every process starts',
      );
      const { rows } = await adminPool().query<{ version: number }>(`SELECT version FROM ${schema}.schema_migrations ORDER BY version`);
      assert.deepEqual(
        rows.map((r) => r.version),
        MIGRATIONS.map((m) => m.version),
      );
      await stores[0]!.setClockNow(T0);
      assert.equal(await stores[5]!.clockNow(), T0, 'they share one clock');
    } finally {
      await Promise.all(stores.map((s) => s.close()));
      await dropSchema(schema);
    }
  });

  test('a version-1 schema is upgraded to the latest version and keeps its data', skip, async () => {
    const schema = freshSchema();
    const v1 = MIGRATIONS.find((m) => m.version === 1);
    assert.ok(v1);
    const client = await adminPool().connect();
    const call = makeCall('old-call');
    try {
      await client.query(`CREATE SCHEMA ${schema}`);
      await client.query(`SET search_path TO ${schema}`);
      await client.query('CREATE TABLE schema_migrations (version integer PRIMARY KEY, description text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())');
      await client.query(v1.postgres);
      await client.query("INSERT INTO schema_migrations (version, description) VALUES (1, 'v1')");
      await client.query('INSERT INTO calls (id, tenant_id, application_id, state, version, created_at, data) VALUES ($1, $2, $3, $4, $5, $6, $7)', [
        call.id,
        call.tenantId,
        call.applicationId,
        call.state,
        call.version,
        call.createdAt,
        JSON.stringify(call),
      ]);
      await client.query("INSERT INTO outbox (id, call_id, seq, change_type, state, url, audience, body, created_at, next_attempt_at) VALUES ('n1', $1, 1, 'created', 'incoming', 'https://x', 'app', '{}', $2, $2)", [
        call.id,
        call.createdAt,
      ]);
      await client.query('RESET search_path');
    } finally {
      client.release();
    }
    const store = await open(schema);
    try {
      assert.deepEqual(await store.getCall('old-call'), call);
      assert.deepEqual(
        (await store.claimDeliverable(call.createdAt, 10, 'me', 60_000)).map((r) => r.id),
        ['n1'],
      );
      const { rows } = await adminPool().query<{ version: number }>(`SELECT version FROM ${schema}.schema_migrations ORDER BY version`);
      assert.deepEqual(
        rows.map((r) => r.version),
        MIGRATIONS.map((m) => m.version),
      );
    } finally {
      await store.close();
      await dropSchema(schema);
    }
  });

  describe('two processes (two pools) on one schema', () => {
    let schema: string;
    let one: PostgresStore;
    let two: PostgresStore;
    const both = async (): Promise<void> => {
      schema = freshSchema();
      one = await open(schema, 8);
      two = await open(schema, 8);
    };
    const done = async (): Promise<void> => {
      await one.close();
      await two.close();
      await dropSchema(schema);
    };

    test('the same change committed by both at once: exactly one wins, the other gets VersionConflict', skip, async () => {
      await both();
      try {
        await one.commit([change(makeCall('c1'), -1)]);
        for (let version = 0; version < 20; version++) {
          const call = await one.getCall('c1');
          assert.ok(call);
          const results = await Promise.allSettled([
            one.commit([change({ ...call, state: 'redirecting' }, version, { notifications: [note('c1')] })]),
            two.commit([change({ ...call, state: 'terminated' }, version, { notifications: [note('c1')] })]),
          ]);
          assert.equal(results.filter((r) => r.status === 'fulfilled').length, 1, `round ${version}`);
          const lost = results.find((r) => r.status === 'rejected');
          assert.ok(lost?.status === 'rejected' && lost.reason instanceof VersionConflict);
        }
        const rows = await two.notificationsOf('c1');
        assert.deepEqual(
          rows.map((r) => r.seq),
          Array.from({ length: 20 }, (_, i) => i + 1),
        );
        // Two processes creating the same call: one insert wins.
        const created = await Promise.allSettled([one.commit([change(makeCall('c2'), -1)]), two.commit([change(makeCall('c2'), -1)])]);
        assert.equal(created.filter((r) => r.status === 'fulfilled').length, 1);
      } finally {
        await done();
      }
    });

    test('outbox seq stays gapless and unique when many writers race on one call', skip, async () => {
      await both();
      try {
        await one.commit([change(makeCall('c1'), -1)]);
        const workers = Array.from({ length: 12 }, (_, w) => async () => {
          const store = w % 2 ? one : two;
          for (let i = 0; i < 4; i++) await commitWithRetry(store, 'c1', (call) => ({ notifications: [note(call.id), note(call.id)] }));
        });
        await Promise.all(workers.map((run) => run()));
        const rows = await one.notificationsOf('c1');
        assert.deepEqual(
          rows.map((r) => r.seq),
          Array.from({ length: 96 }, (_, i) => i + 1),
        );
        assert.equal((await one.getCall('c1'))?.version, 48);
      } finally {
        await done();
      }
    });

    test('claimDueTimers from both pools at once: every timer claimed exactly once', skip, async () => {
      await both();
      try {
        for (let c = 0; c < 20; c++) {
          await one.commit([
            change(makeCall(`c${c}`), -1, { setTimers: Array.from({ length: 10 }, (_, i) => ({ name: `target:${i}` as const, at: T0 + i * 10 + c })) }),
          ]);
        }
        const claimer = (store: PostgresStore, owner: string) => async (): Promise<string[]> => {
          const got: string[] = [];
          for (;;) {
            const rows = await store.claimDueTimers(T0 + 1000, 7, owner, 60_000);
            if (rows.length === 0) return got;
            got.push(...rows.map((r) => `${r.callId}/${r.name}`));
          }
        };
        const results = await Promise.all([
          claimer(one, 'a')(),
          claimer(one, 'b')(),
          claimer(one, 'c')(),
          claimer(two, 'd')(),
          claimer(two, 'e')(),
          claimer(two, 'f')(),
        ]);
        const all = results.flat();
        assert.equal(all.length, 200);
        assert.equal(new Set(all).size, 200, 'a timer was claimed twice');
      } finally {
        await done();
      }
    });

    test('claimDeliverable from both pools: each notification sent once, each call’s in seq order, one at a time', skip, async () => {
      await both();
      try {
        const calls = 15;
        const perCall = 4;
        for (let c = 0; c < calls; c++) {
          await one.commit([change(makeCall(`c${c}`), -1, { notifications: Array.from({ length: perCall }, () => note(`c${c}`, T0 + c)) })]);
        }
        const inFlight = new Set<string>();
        const sent: Array<{ callId: string; seq: number }> = [];
        const worker = (store: PostgresStore, owner: string) => async (): Promise<void> => {
          for (let idle = 0; idle < 5; ) {
            const rows = await store.claimDeliverable(T0 + 1000, 3, owner, 60_000);
            if (rows.length === 0) {
              idle++;
              await new Promise((resolve) => setTimeout(resolve, 5));
              continue;
            }
            idle = 0;
            await Promise.all(
              rows.map(async (row) => {
                assert.ok(!inFlight.has(row.callId), `two notifications of ${row.callId} in flight at once`);
                inFlight.add(row.callId);
                sent.push({ callId: row.callId, seq: row.seq });
                await new Promise((resolve) => setTimeout(resolve, 1));
                inFlight.delete(row.callId);
                await store.recordAttempt(row.id, { at: T0 + 1000, status: 202 }, { delivered: true, dead: false, nextAttemptAt: T0 + 1000 });
              }),
            );
          }
        };
        await Promise.all([worker(one, 'a')(), worker(one, 'b')(), worker(two, 'c')(), worker(two, 'd')()]);
        assert.equal(sent.length, calls * perCall);
        for (let c = 0; c < calls; c++) {
          assert.deepEqual(
            sent.filter((s) => s.callId === `c${c}`).map((s) => s.seq),
            [1, 2, 3, 4],
            `call c${c} sent out of order`,
          );
        }
        assert.deepEqual(await one.deliverable(T0 + 1000, 10), []);
      } finally {
        await done();
      }
    });

    test('setClockNow racing from both pools leaves the greatest time', skip, async () => {
      await both();
      try {
        const values = Array.from({ length: 40 }, (_, i) => T0 + ((i * 37) % 40) * 1000);
        await Promise.all(values.map((v, i) => (i % 2 ? one : two).setClockNow(v)));
        assert.equal(await one.clockNow(), Math.max(...values));
        assert.equal(await two.clockNow(), Math.max(...values));
      } finally {
        await done();
      }
    });

    test('signing keys added by one process are seen by the other', skip, async () => {
      await both();
      try {
        await one.addSigningKey({ kid: 'k1', use: 'graph', privateJwk: '{}', createdAt: T0 });
        assert.deepEqual(
          (await two.signingKeys()).map((k) => k.kid),
          ['k1'],
        );
      } finally {
        await done();
      }
    });
  });
});
