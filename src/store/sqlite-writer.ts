/**
 * store/sqlite-writer — the embedded store's writes: every statement it writes with (WRITE_SQL) and the one
 * function that runs a batch of them in ONE transaction (a batch commits whole or not at all), with the
 * checks that turn a lost race into VersionConflict.
 *
 * Writes run on the main connection, synchronously. A worker thread with its own connection was tried
 * (so the event loop would not wait on the file system): on the 2-core bench machine each hand-off between
 * threads cost tens of microseconds of wake-ups on both sides, and a workflow took ~1 ms more CPU
 * (3.48 against 2.47 ms) for no more throughput; see bench/README.md.
 */
import Database from 'better-sqlite3';
import { VersionConflict } from './store.js';

/** Every statement the store writes with. */
export const WRITE_SQL = {
  insertCall: 'INSERT INTO calls (id, tenant_id, application_id, state, version, created_at, data) VALUES (?, ?, ?, ?, ?, ?, ?)',
  updateCall: 'UPDATE calls SET state = ?, version = ?, data = ? WHERE id = ? AND version = ?',
  deleteTimers: 'DELETE FROM timers WHERE call_id = ?',
  deleteTimer: 'DELETE FROM timers WHERE call_id = ? AND name = ?',
  // Setting a timer again makes it a new timer: whoever held the old one's lease no longer does.
  upsertTimer: `INSERT INTO timers (call_id, name, due_at) VALUES (?, ?, ?)
    ON CONFLICT (call_id, name) DO UPDATE SET due_at = excluded.due_at, lease_owner = NULL, lease_until = NULL`,
  // The call's next sequence number is taken in the same statement (and transaction) as the insert.
  insertOutbox: `INSERT INTO outbox (id, call_id, seq, change_type, state, url, audience, body, created_at, next_attempt_at)
    VALUES (?, ?, (SELECT COALESCE(MAX(seq), 0) + 1 FROM outbox WHERE call_id = ?), ?, ?, ?, ?, ?, ?, ?) RETURNING seq`,
  // One statement (no read-modify-write in JavaScript): the attempt is appended to the JSON array.
  recordAttempt: `UPDATE outbox SET attempts = json_insert(attempts, '$[#]', json(?)), delivered = ?, dead = ?, next_attempt_at = ?,
    lease_owner = NULL, lease_until = NULL WHERE id = ?`,
  addSigningKey: 'INSERT INTO signing_keys (kid, use, private_jwk, created_at, retired_at) VALUES (?, ?, ?, ?, ?)',
  retireSigningKey: 'UPDATE signing_keys SET retired_at = ? WHERE kid = ? AND retired_at IS NULL',
  setClock: `INSERT INTO meta (key, value) VALUES ('clock.now', ?)
    ON CONFLICT (key) DO UPDATE SET value = CAST(MAX(CAST(value AS INTEGER), CAST(excluded.value AS INTEGER)) AS TEXT)`,
} as const;
export type WriteStatement = keyof typeof WRITE_SQL;
export type SqlParam = string | number | null;

/** One statement of a batch. */
export interface WriteOp {
  stmt: WriteStatement;
  params: SqlParam[];
  /** The statement must change exactly one row, else the batch fails with VersionConflict(this call id). */
  expectOne?: string;
  /** A primary-key violation fails the batch with VersionConflict(this call id). */
  conflictOnKey?: string;
}

/** Per op: the rows it changed, or the row its RETURNING clause gave. */
export type WriteResult = number | { seq: number };

type Statements = Record<WriteStatement, Database.Statement>;

export function prepareWrites(db: Database.Database): Statements {
  const out = {} as Statements;
  for (const [name, sql] of Object.entries(WRITE_SQL)) out[name as WriteStatement] = db.prepare(sql);
  return out;
}

/** Runs a batch in one transaction (shared by both writers, so both behave the same). */
export function runWrites(db: Database.Database, stmts: Statements, ops: WriteOp[]): WriteResult[] {
  return db.transaction(() =>
    ops.map((op): WriteResult => {
      const stmt = stmts[op.stmt];
      try {
        if (stmt.reader) return stmt.get(...op.params) as { seq: number };
        const { changes } = stmt.run(...op.params);
        if (op.expectOne !== undefined && changes !== 1) throw new VersionConflict(op.expectOne);
        return changes;
      } catch (error) {
        if (op.conflictOnKey !== undefined && (error as { code?: string }).code === 'SQLITE_CONSTRAINT_PRIMARYKEY') {
          throw new VersionConflict(op.conflictOnKey);
        }
        throw error;
      }
    }),
  )();
}

/** Writes on the given connection. */
export class SqliteWriter {
  private readonly stmts: Statements;
  constructor(private readonly db: Database.Database) {
    this.stmts = prepareWrites(db);
  }

  write(ops: WriteOp[]): WriteResult[] {
    return runWrites(this.db, this.stmts, ops);
  }
}
