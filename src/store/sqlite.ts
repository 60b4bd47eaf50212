/**
 * The embedded store: SQLite through better-sqlite3, in WAL mode, one file in the data dir.
 * better-sqlite3 is synchronous; the Store interface is async so a PostgreSQL adapter can share it.
 * A call is kept as its JSON plus the columns the queries need.
 */
import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Call, TimerName } from '../calls/model.js';
import type { ChangeType } from '../graph/types.js';
import { MIGRATIONS } from './migrations.js';
import {
  VersionConflict,
  type CallChange,
  type DeliveryAttempt,
  type OutboxRow,
  type SigningKeyRow,
  type Store,
  type TimerRow,
} from './store.js';

interface OutboxRecord {
  id: string;
  call_id: string;
  seq: number;
  change_type: string;
  state: string;
  url: string;
  audience: string;
  body: string;
  created_at: number;
  next_attempt_at: number;
  attempts: string;
  delivered: number;
  dead: number;
}

const toOutboxRow = (r: OutboxRecord): OutboxRow => ({
  id: r.id,
  callId: r.call_id,
  seq: r.seq,
  changeType: r.change_type as ChangeType,
  state: r.state,
  url: r.url,
  audience: r.audience,
  body: r.body,
  createdAt: r.created_at,
  nextAttemptAt: r.next_attempt_at,
  attempts: JSON.parse(r.attempts) as DeliveryAttempt[],
  delivered: r.delivered === 1,
  dead: r.dead === 1,
});

export class SqliteStore implements Store {
  readonly kind = 'sqlite' as const;
  private readonly db: Database.Database;
  private readonly stmt;

  /** `file`: a path, or ':memory:'. */
  constructor(file: string) {
    if (file !== ':memory:') mkdirSync(dirname(file), { recursive: true });
    this.db = new Database(file);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = NORMAL');
    this.db.pragma('busy_timeout = 5000');
    this.migrate();
    const db = this.db;
    this.stmt = {
      getCall: db.prepare<[string], { data: string }>('SELECT data FROM calls WHERE id = ?'),
      insertCall: db.prepare(
        'INSERT INTO calls (id, tenant_id, application_id, state, version, created_at, data) VALUES (?, ?, ?, ?, ?, ?, ?)',
      ),
      updateCall: db.prepare('UPDATE calls SET state = ?, version = ?, data = ? WHERE id = ? AND version = ?'),
      listCalls: db.prepare<[number], { data: string }>('SELECT data FROM calls ORDER BY created_at DESC, id LIMIT ?'),
      deleteTimers: db.prepare('DELETE FROM timers WHERE call_id = ?'),
      deleteTimer: db.prepare('DELETE FROM timers WHERE call_id = ? AND name = ?'),
      // Setting a timer again makes it a new timer: whoever held the old one's lease no longer does.
      upsertTimer: db.prepare(
        `INSERT INTO timers (call_id, name, due_at) VALUES (?, ?, ?)
         ON CONFLICT (call_id, name) DO UPDATE SET due_at = excluded.due_at, lease_owner = NULL, lease_until = NULL`,
      ),
      dueTimers: db.prepare<[number, number], { call_id: string; name: string; due_at: number }>(
        'SELECT call_id, name, due_at FROM timers WHERE due_at <= ? ORDER BY due_at, call_id, name LIMIT ?',
      ),
      nextTimer: db.prepare<[], { due: number | null }>('SELECT MIN(due_at) AS due FROM timers'),
      nextSeq: db.prepare<[string], { seq: number }>('SELECT COALESCE(MAX(seq), 0) + 1 AS seq FROM outbox WHERE call_id = ?'),
      insertOutbox: db.prepare(
        `INSERT INTO outbox (id, call_id, seq, change_type, state, url, audience, body, created_at, next_attempt_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      ),
      deliverable: db.prepare<[number, number], OutboxRecord>(
        `SELECT o.* FROM outbox o
          WHERE o.delivered = 0 AND o.dead = 0 AND o.next_attempt_at <= ?
            AND NOT EXISTS (SELECT 1 FROM outbox p WHERE p.call_id = o.call_id AND p.seq < o.seq AND p.delivered = 0 AND p.dead = 0)
          ORDER BY o.next_attempt_at, o.created_at, o.seq LIMIT ?`,
      ),
      nextNotification: db.prepare<[], { due: number | null }>(
        'SELECT MIN(next_attempt_at) AS due FROM outbox WHERE delivered = 0 AND dead = 0',
      ),
      getAttempts: db.prepare<[string], { attempts: string }>('SELECT attempts FROM outbox WHERE id = ?'),
      recordAttempt: db.prepare(
        'UPDATE outbox SET attempts = ?, delivered = ?, dead = ?, next_attempt_at = ?, lease_owner = NULL, lease_until = NULL WHERE id = ?',
      ),
      notificationsOf: db.prepare<[string], OutboxRecord>('SELECT * FROM outbox WHERE call_id = ? ORDER BY seq'),
      signingKeys: db.prepare<[], { kid: string; use: string; private_jwk: string; created_at: number; retired_at: number | null }>(
        'SELECT kid, use, private_jwk, created_at, retired_at FROM signing_keys ORDER BY created_at',
      ),
      addSigningKey: db.prepare('INSERT INTO signing_keys (kid, use, private_jwk, created_at, retired_at) VALUES (?, ?, ?, ?, ?)'),
      retireSigningKey: db.prepare('UPDATE signing_keys SET retired_at = ? WHERE kid = ? AND retired_at IS NULL'),
      getMeta: db.prepare<[string], { value: string }>('SELECT value FROM meta WHERE key = ?'),
      setClock: db.prepare(
        `INSERT INTO meta (key, value) VALUES ('clock.now', ?)
         ON CONFLICT (key) DO UPDATE SET value = CAST(MAX(CAST(value AS INTEGER), CAST(excluded.value AS INTEGER)) AS TEXT)`,
      ),
      claimableTimers: db.prepare<[number, number, number], { call_id: string; name: string; due_at: number }>(
        `SELECT call_id, name, due_at FROM timers
          WHERE due_at <= ? AND (lease_until IS NULL OR lease_until <= ?)
          ORDER BY due_at, call_id, name LIMIT ?`,
      ),
      leaseTimer: db.prepare('UPDATE timers SET lease_owner = ?, lease_until = ? WHERE call_id = ? AND name = ?'),
      claimableOutbox: db.prepare<[number, number, number], OutboxRecord>(
        `SELECT o.* FROM outbox o
          WHERE o.delivered = 0 AND o.dead = 0 AND o.next_attempt_at <= ?
            AND (o.lease_until IS NULL OR o.lease_until <= ?)
            AND NOT EXISTS (SELECT 1 FROM outbox p WHERE p.call_id = o.call_id AND p.seq < o.seq AND p.delivered = 0 AND p.dead = 0)
          ORDER BY o.next_attempt_at, o.created_at, o.seq LIMIT ?`,
      ),
      leaseOutbox: db.prepare('UPDATE outbox SET lease_owner = ?, lease_until = ? WHERE id = ?'),
    };
  }

  /** Versioned migrations, applied in order at start. */
  private migrate(): void {
    this.db.exec('CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)');
    const applied = new Set(
      this.db
        .prepare<[], { version: number }>('SELECT version FROM schema_migrations')
        .all()
        .map((r) => r.version),
    );
    for (const migration of MIGRATIONS) {
      if (applied.has(migration.version)) continue;
      this.db.transaction(() => {
        this.db.exec(migration.sqlite);
        this.db.prepare('INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)').run(migration.version, new Date().toISOString());
      })();
    }
  }

  async getCall(id: string): Promise<Call | undefined> {
    const row = this.stmt.getCall.get(id);
    return row ? (JSON.parse(row.data) as Call) : undefined;
  }

  async commit(changes: CallChange[]): Promise<void> {
    this.db.transaction(() => {
      for (const change of changes) this.applyChange(change);
    })();
  }

  private applyChange(change: CallChange): void {
    const { call } = change;
    const data = JSON.stringify(call);
    if (change.expectedVersion < 0) {
      try {
        this.stmt.insertCall.run(call.id, call.tenantId, call.applicationId, call.state, call.version, call.createdAt, data);
      } catch (error) {
        if ((error as { code?: string }).code === 'SQLITE_CONSTRAINT_PRIMARYKEY') throw new VersionConflict(call.id);
        throw error;
      }
    } else {
      const result = this.stmt.updateCall.run(call.state, call.version, data, call.id, change.expectedVersion);
      if (result.changes !== 1) throw new VersionConflict(call.id);
    }
    if (change.cancelAllTimers) this.stmt.deleteTimers.run(call.id);
    for (const name of change.cancelTimers) this.stmt.deleteTimer.run(call.id, name);
    for (const timer of change.setTimers) this.stmt.upsertTimer.run(call.id, timer.name, timer.at);
    for (const n of change.notifications) {
      const { seq } = this.stmt.nextSeq.get(n.callId) ?? { seq: 1 };
      this.stmt.insertOutbox.run(n.id, n.callId, seq, n.changeType, n.state, n.url, n.audience, n.body, n.createdAt, n.nextAttemptAt);
    }
  }

  async listCalls(limit: number): Promise<Call[]> {
    return this.stmt.listCalls.all(limit).map((r) => JSON.parse(r.data) as Call);
  }

  async dueTimers(upTo: number, limit: number): Promise<TimerRow[]> {
    return this.stmt.dueTimers.all(upTo, limit).map((r) => ({ callId: r.call_id, name: r.name as TimerName, dueAt: r.due_at }));
  }

  async nextTimerDue(): Promise<number | undefined> {
    return this.stmt.nextTimer.get()?.due ?? undefined;
  }

  async deleteTimer(callId: string, name: TimerName): Promise<void> {
    this.stmt.deleteTimer.run(callId, name);
  }

  async deliverable(now: number, limit: number): Promise<OutboxRow[]> {
    return this.stmt.deliverable.all(now, limit).map(toOutboxRow);
  }

  async nextNotificationDue(): Promise<number | undefined> {
    return this.stmt.nextNotification.get()?.due ?? undefined;
  }

  async recordAttempt(
    id: string,
    attempt: DeliveryAttempt,
    outcome: { delivered: boolean; dead: boolean; nextAttemptAt: number },
  ): Promise<void> {
    this.db.transaction(() => {
      const row = this.stmt.getAttempts.get(id);
      if (!row) return;
      const attempts = JSON.parse(row.attempts) as DeliveryAttempt[];
      attempts.push(attempt);
      this.stmt.recordAttempt.run(JSON.stringify(attempts), outcome.delivered ? 1 : 0, outcome.dead ? 1 : 0, outcome.nextAttemptAt, id);
    })();
  }

  async notificationsOf(callId: string): Promise<OutboxRow[]> {
    return this.stmt.notificationsOf.all(callId).map(toOutboxRow);
  }

  async signingKeys(): Promise<SigningKeyRow[]> {
    return this.stmt.signingKeys.all().map((r) => {
      const row: SigningKeyRow = { kid: r.kid, use: r.use as SigningKeyRow['use'], privateJwk: r.private_jwk, createdAt: r.created_at };
      if (r.retired_at !== null) row.retiredAt = r.retired_at;
      return row;
    });
  }

  async addSigningKey(row: SigningKeyRow): Promise<void> {
    this.stmt.addSigningKey.run(row.kid, row.use, row.privateJwk, row.createdAt, row.retiredAt ?? null);
  }

  async retireSigningKey(kid: string, at: number): Promise<void> {
    this.stmt.retireSigningKey.run(at, kid);
  }

  async clockNow(): Promise<number | undefined> {
    const row = this.stmt.getMeta.get('clock.now');
    return row ? Number(row.value) : undefined;
  }

  async setClockNow(ms: number): Promise<void> {
    this.stmt.setClock.run(String(Math.round(ms)));
  }

  /**
   * SQLite has one writer at a time: an IMMEDIATE transaction takes the write lock before reading, so two
   * claimers (in this process or another one sharing the file) never see the same row as free.
   */
  async claimDueTimers(upTo: number, limit: number, owner: string, leaseMs: number): Promise<TimerRow[]> {
    const leaseNow = Date.now();
    return this.db
      .transaction(() => {
        const rows = this.stmt.claimableTimers.all(upTo, leaseNow, limit);
        for (const r of rows) this.stmt.leaseTimer.run(owner, leaseNow + leaseMs, r.call_id, r.name);
        return rows.map((r) => ({ callId: r.call_id, name: r.name as TimerName, dueAt: r.due_at }));
      })
      .immediate();
  }

  async claimDeliverable(now: number, limit: number, owner: string, leaseMs: number): Promise<OutboxRow[]> {
    const leaseNow = Date.now();
    return this.db
      .transaction(() => {
        const rows = this.stmt.claimableOutbox.all(now, leaseNow, limit);
        for (const r of rows) this.stmt.leaseOutbox.run(owner, leaseNow + leaseMs, r.id);
        return rows.map(toOutboxRow);
      })
      .immediate();
  }

  async close(): Promise<void> {
    if (this.db.open) this.db.close();
  }
}
