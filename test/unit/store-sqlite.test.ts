/**
 * The SQLite store: the Store contract on a temporary file per test, then what is SQLite's own (opening by
 * URL, upgrading a version-1 database, two connections on one file sharing the claims).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import Database from 'better-sqlite3';
import { MIGRATIONS } from '../../src/store/migrations.js';
import { openStore } from '../../src/store/open.js';
import { SqliteStore } from '../../src/store/sqlite.js';
import { makeCall, storeContract } from '../contract/store.contract.js';

function tempDir(): { dir: string; remove(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'sb-store-sqlite-'));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

storeContract('sqlite', async () => {
  const { dir, remove } = tempDir();
  const store = new SqliteStore(join(dir, 'switchboard.db'));
  return {
    store,
    cleanup: async () => {
      await store.close();
      remove();
    },
  };
});

describe('SQLite store specifics', () => {
  test('openStore("sqlite:<file>") opens a SQLite store there', async () => {
    const { dir, remove } = tempDir();
    try {
      const store = await openStore(`sqlite:${join(dir, 'nested', 'switchboard.db')}`);
      assert.equal(store.kind, 'sqlite');
      await store.setClockNow(42);
      await store.close();
      const again = await openStore(`sqlite:${join(dir, 'nested', 'switchboard.db')}`);
      assert.equal(await again.clockNow(), 42, 'the store survives a restart');
      await again.close();
    } finally {
      remove();
    }
  });

  test('a version-1 database is upgraded to the latest version and keeps its data', async () => {
    const { dir, remove } = tempDir();
    const file = join(dir, 'switchboard.db');
    try {
      const v1 = MIGRATIONS.find((m) => m.version === 1);
      assert.ok(v1);
      const db = new Database(file);
      db.exec('CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)');
      db.exec(v1.sqlite);
      db.prepare('INSERT INTO schema_migrations (version, applied_at) VALUES (1, ?)').run(new Date().toISOString());
      const call = makeCall('old-call');
      db.prepare('INSERT INTO calls (id, tenant_id, application_id, state, version, created_at, data) VALUES (?, ?, ?, ?, ?, ?, ?)').run(
        call.id,
        call.tenantId,
        call.applicationId,
        call.state,
        call.version,
        call.createdAt,
        JSON.stringify(call),
      );
      db.prepare('INSERT INTO timers (call_id, name, due_at) VALUES (?, ?, ?)').run(call.id, 'incomingWindow', call.createdAt + 15_000);
      db.close();

      const store = new SqliteStore(file);
      assert.deepEqual(await store.getCall('old-call'), call);
      assert.deepEqual(
        (await store.claimDueTimers(call.createdAt + 15_000, 10, 'me', 60_000)).map((t) => t.name),
        ['incomingWindow'],
      );
      await store.close();
      const check = new Database(file, { readonly: true });
      const versions = check.prepare<[], { version: number }>('SELECT version FROM schema_migrations ORDER BY version').all();
      check.close();
      assert.deepEqual(
        versions.map((v) => v.version),
        MIGRATIONS.map((m) => m.version),
      );
    } finally {
      remove();
    }
  });

  test('two connections on one file (as two processes would) never claim the same timer', async () => {
    const { dir, remove } = tempDir();
    const file = join(dir, 'switchboard.db');
    const one = new SqliteStore(file);
    const two = new SqliteStore(file);
    try {
      const call = makeCall('c1');
      await one.commit([
        {
          call,
          expectedVersion: -1,
          setTimers: Array.from({ length: 50 }, (_, i) => ({ name: `target:${i}` as const, at: call.createdAt + i })),
          cancelTimers: [],
          cancelAllTimers: false,
          notifications: [],
        },
      ]);
      const got: string[] = [];
      for (let round = 0; round < 20; round++) {
        const [a, b] = await Promise.all([one.claimDueTimers(call.createdAt + 100, 3, 'one', 60_000), two.claimDueTimers(call.createdAt + 100, 3, 'two', 60_000)]);
        got.push(...a.map((t) => t.name), ...b.map((t) => t.name));
      }
      assert.equal(got.length, 50);
      assert.equal(new Set(got).size, 50);
    } finally {
      await one.close();
      await two.close();
      remove();
    }
  });
});
