/**
 * The shared store: PostgreSQL through `pg` (a connection pool). Several Switchboard processes may use one
 * database: every change is a transaction with an optimistic version check, outbox `seq` numbers are
 * computed while the call row is locked, the virtual clock only moves forward, and timers and outbox rows
 * can be claimed with leases (`claimDueTimers`, `claimDeliverable`: `FOR UPDATE SKIP LOCKED`).
 *
 * Choices:
 * - JSON documents (the call, an outbox body, the attempts list) are `text`, not `jsonb`. The store never
 *   queries inside them; `text` gives back the exact string written (jsonb reorders keys, drops duplicate
 *   keys, and refuses `\u0000` in a string, which a caller-supplied display name could carry), costs no
 *   parse on write, and keeps both engines byte-for-byte alike. An operator can still `data::jsonb`.
 * - Times are `bigint` epoch ms. `pg` returns int8 as strings; this pool (and only it: not the global
 *   `pg.types`) parses them to numbers, which is exact up to 2^53 ms (year 287396).
 * - A schema may be named (`schema` option, or `?schema=` on the URL): the pool's connections start with
 *   `-c search_path=<schema>` and the schema is created if missing. Names are restricted to
 *   `[a-z_][a-z0-9_]*` so they need no quoting anywhere (a search_path entry is case-folded, like SQL).
 * - Migrations run at start in ONE transaction holding `pg_advisory_xact_lock` (keyed by the schema), so
 *   processes starting together apply each version exactly once and none sees a half-migrated schema.
 */
import pg from 'pg';
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

export interface PostgresStoreOptions {
  /** `postgres://user@host:port/db`; `?schema=` is honoured (and removed before `pg` sees the URL). */
  connectionString: string;
  /** The schema holding Switchboard's tables (created if missing). Default: the connection's search_path. */
  schema?: string;
  /** Pool size. Default 10. */
  max?: number;
  /** Errors of idle pooled connections (the server went away...). Default: a process warning. */
  onIdleError?: (error: Error) => void;
}

const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;
/** First half of the advisory lock key for migrations; the second half is the schema's hash. */
const MIGRATION_LOCK = 0x5b0a4d; // "switchboard"

/** Splits `?schema=` (and `?options=`) off a postgres:// URL, for `openStore`. */
export function parsePostgresUrl(url: string): { connectionString: string; schema?: string; options?: string } {
  const parsed = new URL(url);
  const schema = parsed.searchParams.get('schema') ?? undefined;
  const options = parsed.searchParams.get('options') ?? undefined;
  parsed.searchParams.delete('schema');
  parsed.searchParams.delete('options');
  const result: { connectionString: string; schema?: string; options?: string } = { connectionString: parsed.toString() };
  if (schema) result.schema = schema;
  if (options) result.options = options;
  return result;
}

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
  delivered: boolean;
  dead: boolean;
}

const OUTBOX_COLUMNS = 'id, call_id, seq, change_type, state, url, audience, body, created_at, next_attempt_at, attempts, delivered, dead';

const OUTBOX_COLUMNS_OF_U = OUTBOX_COLUMNS.split(', ')
  .map((column) => `u.${column}`)
  .join(', ');

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
  delivered: r.delivered,
  dead: r.dead,
});

const toTimerRow = (r: { call_id: string; name: string; due_at: number }): TimerRow => ({
  callId: r.call_id,
  name: r.name as TimerName,
  dueAt: r.due_at,
});

/**
 * Times go into `bigint` parameters, which refuse a fraction ("1.5"); SQLite would keep one. Stored times are
 * rounded to the millisecond, bounds (`upTo`, `now`) floored: `due_at <= floor(x)` ⇔ `due_at <= x` for whole ms.
 */
const at = (ms: number): number => Math.round(ms);
const bound = (ms: number): number => Math.floor(ms);

const byDue = (a: TimerRow, b: TimerRow): number =>
  a.dueAt - b.dueAt || (a.callId < b.callId ? -1 : a.callId > b.callId ? 1 : 0) || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);

const byDelivery = (a: OutboxRow, b: OutboxRow): number => a.nextAttemptAt - b.nextAttemptAt || a.createdAt - b.createdAt || a.seq - b.seq;

/** int8 → number for this pool only (COUNT, MAX and the bigint columns). */
function poolTypes(): pg.CustomTypesConfig {
  const types = new pg.TypeOverrides();
  const toNumber = (value: string): number => Number(value);
  types.setTypeParser(pg.types.builtins.INT8, toNumber);
  return types;
}

export class PostgresStore implements Store {
  readonly kind = 'postgres' as const;
  private closed = false;

  private constructor(
    private readonly pool: pg.Pool,
    /** The schema named in the options, if any. */
    readonly schema: string | undefined,
  ) {}

  /** Connects, creates the schema if named and missing, applies pending migrations. */
  static async open(options: PostgresStoreOptions): Promise<PostgresStore> {
    const fromUrl = parsePostgresUrl(options.connectionString);
    const schema = options.schema ?? fromUrl.schema;
    if (schema !== undefined && !SCHEMA_NAME.test(schema)) {
      throw new Error(`PostgreSQL schema ${JSON.stringify(schema)}: use lower-case letters, digits and _ (not first), at most 63`);
    }
    const startup = [fromUrl.options, schema ? `-c search_path=${schema}` : undefined].filter(Boolean).join(' ');
    const config: pg.PoolConfig = {
      connectionString: fromUrl.connectionString,
      max: options.max ?? 10,
      types: poolTypes(),
    };
    if (startup) config.options = startup;
    const pool = new pg.Pool(config);
    pool.on('error', options.onIdleError ?? ((error: Error) => process.emitWarning(`switchboard store: idle PostgreSQL connection failed: ${error.message}`)));
    const store = new PostgresStore(pool, schema);
    try {
      await store.migrate();
    } catch (error) {
      await pool.end().catch(() => undefined);
      throw error;
    }
    return store;
  }

  /** Runs `work` in a transaction on one pooled connection; rolls back on any error. */
  private async transaction<T>(work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    let broken: Error | undefined;
    try {
      await client.query('BEGIN');
      const result = await work(client);
      await client.query('COMMIT');
      return result;
    } catch (error) {
      try {
        await client.query('ROLLBACK');
      } catch (rollbackError) {
        broken = rollbackError as Error; // the connection is unusable: drop it rather than return it to the pool
      }
      throw error;
    } finally {
      client.release(broken);
    }
  }

  /**
   * Versioned migrations in one transaction. The advisory lock is taken first, before anything is
   * created: `CREATE ... IF NOT EXISTS` is not safe against a concurrent create of the same name.
   */
  private async migrate(): Promise<void> {
    await this.transaction(async (client) => {
      await client.query('SELECT pg_advisory_xact_lock($1::int, hashtext($2::text))', [MIGRATION_LOCK, this.schema ?? '']);
      if (this.schema) {
        await client.query(`CREATE SCHEMA IF NOT EXISTS ${this.schema}`);
        await client.query(`SET LOCAL search_path TO ${this.schema}`);
      }
      await client.query(
        `CREATE TABLE IF NOT EXISTS schema_migrations (
           version integer PRIMARY KEY,
           description text NOT NULL,
           applied_at timestamptz NOT NULL DEFAULT now()
         )`,
      );
      const { rows } = await client.query<{ version: number }>('SELECT version FROM schema_migrations');
      const applied = new Set(rows.map((r) => r.version));
      for (const migration of MIGRATIONS) {
        if (applied.has(migration.version)) continue;
        await client.query(migration.postgres);
        await client.query('INSERT INTO schema_migrations (version, description) VALUES ($1, $2)', [migration.version, migration.description]);
      }
    });
  }

  async getCall(id: string): Promise<Call | undefined> {
    const { rows } = await this.pool.query<{ data: string }>('SELECT data FROM calls WHERE id = $1', [id]);
    return rows[0] ? (JSON.parse(rows[0].data) as Call) : undefined;
  }

  /**
   * One transaction. The INSERT (new call) or the versioned UPDATE locks the call's row until COMMIT, so
   * a concurrent change of the same call waits, then finds the version moved and throws VersionConflict;
   * while the row is locked nobody else can add outbox rows for the call, so MAX(seq) + 1 is safe.
   */
  async commit(changes: CallChange[]): Promise<void> {
    if (changes.length === 0) return;
    await this.transaction(async (client) => {
      const locked = new Set<string>();
      for (const change of changes) {
        const { call } = change;
        const data = JSON.stringify(call);
        if (change.expectedVersion < 0) {
          const inserted = await client.query(
            `INSERT INTO calls (id, tenant_id, application_id, state, version, created_at, data)
             VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (id) DO NOTHING`,
            [call.id, call.tenantId, call.applicationId, call.state, call.version, at(call.createdAt), data],
          );
          if (inserted.rowCount !== 1) throw new VersionConflict(call.id);
        } else {
          const updated = await client.query('UPDATE calls SET state = $1, version = $2, data = $3 WHERE id = $4 AND version = $5', [
            call.state,
            call.version,
            data,
            call.id,
            change.expectedVersion,
          ]);
          if (updated.rowCount !== 1) throw new VersionConflict(call.id);
        }
        locked.add(call.id);
        if (change.cancelAllTimers) await client.query('DELETE FROM timers WHERE call_id = $1', [call.id]);
        if (change.cancelTimers.length) {
          await client.query('DELETE FROM timers WHERE call_id = $1 AND name = ANY($2::text[])', [call.id, change.cancelTimers]);
        }
        for (const timer of change.setTimers) {
          // Setting a timer again makes it a new timer: whoever held the old one's lease no longer does.
          await client.query(
            `INSERT INTO timers (call_id, name, due_at) VALUES ($1, $2, $3)
             ON CONFLICT (call_id, name) DO UPDATE SET due_at = excluded.due_at, lease_owner = NULL, lease_until = NULL`,
            [call.id, timer.name, at(timer.at)],
          );
        }
        for (const n of change.notifications) {
          if (!locked.has(n.callId)) {
            // A notification filed under another call (the engine does not do this today): lock that call too.
            await client.query('SELECT 1 FROM calls WHERE id = $1 FOR UPDATE', [n.callId]);
            locked.add(n.callId);
          }
          await client.query(
            `INSERT INTO outbox (id, call_id, seq, change_type, state, url, audience, body, created_at, next_attempt_at)
             SELECT $1, $2, COALESCE(MAX(seq), 0) + 1, $3, $4, $5, $6, $7, $8, $9 FROM outbox WHERE call_id = $2`,
            [n.id, n.callId, n.changeType, n.state, n.url, n.audience, n.body, at(n.createdAt), at(n.nextAttemptAt)],
          );
        }
      }
    });
  }

  async listCalls(limit: number): Promise<Call[]> {
    const { rows } = await this.pool.query<{ data: string }>('SELECT data FROM calls ORDER BY created_at DESC, id LIMIT $1', [limit]);
    return rows.map((r) => JSON.parse(r.data) as Call);
  }

  async dueTimers(upTo: number, limit: number): Promise<TimerRow[]> {
    const { rows } = await this.pool.query<{ call_id: string; name: string; due_at: number }>(
      'SELECT call_id, name, due_at FROM timers WHERE due_at <= $1 ORDER BY due_at, call_id, name LIMIT $2',
      [bound(upTo), limit],
    );
    return rows.map(toTimerRow);
  }

  async nextTimerDue(): Promise<number | undefined> {
    const { rows } = await this.pool.query<{ due: number | null }>('SELECT MIN(due_at) AS due FROM timers');
    return rows[0]?.due ?? undefined;
  }

  async deleteTimer(callId: string, name: TimerName): Promise<void> {
    await this.pool.query('DELETE FROM timers WHERE call_id = $1 AND name = $2', [callId, name]);
  }

  async deliverable(now: number, limit: number): Promise<OutboxRow[]> {
    const { rows } = await this.pool.query<OutboxRecord>(
      `SELECT ${OUTBOX_COLUMNS} FROM outbox o
        WHERE NOT o.delivered AND NOT o.dead AND o.next_attempt_at <= $1
          AND NOT EXISTS (SELECT 1 FROM outbox p WHERE p.call_id = o.call_id AND p.seq < o.seq AND NOT p.delivered AND NOT p.dead)
        ORDER BY o.next_attempt_at, o.created_at, o.seq LIMIT $2`,
      [bound(now), limit],
    );
    return rows.map(toOutboxRow);
  }

  async nextNotificationDue(): Promise<number | undefined> {
    const { rows } = await this.pool.query<{ due: number | null }>(
      'SELECT MIN(next_attempt_at) AS due FROM outbox WHERE NOT delivered AND NOT dead',
    );
    return rows[0]?.due ?? undefined;
  }

  /**
   * One statement, so concurrent attempts on a row cannot lose each other: the attempt is appended to the
   * stored JSON array as text (the array is always written compactly by this store, so it ends in `]`).
   */
  async recordAttempt(
    id: string,
    attempt: DeliveryAttempt,
    outcome: { delivered: boolean; dead: boolean; nextAttemptAt: number },
  ): Promise<void> {
    await this.pool.query(
      `UPDATE outbox SET
         attempts = CASE WHEN attempts = '[]' THEN '[' || $2::text || ']' ELSE left(attempts, -1) || ',' || $2::text || ']' END,
         delivered = $3, dead = $4, next_attempt_at = $5, lease_owner = NULL, lease_until = NULL
       WHERE id = $1`,
      [id, JSON.stringify(attempt), outcome.delivered, outcome.dead, at(outcome.nextAttemptAt)],
    );
  }

  async notificationsOf(callId: string): Promise<OutboxRow[]> {
    const { rows } = await this.pool.query<OutboxRecord>(`SELECT ${OUTBOX_COLUMNS} FROM outbox WHERE call_id = $1 ORDER BY seq`, [callId]);
    return rows.map(toOutboxRow);
  }

  async signingKeys(): Promise<SigningKeyRow[]> {
    const { rows } = await this.pool.query<{ kid: string; use: string; private_jwk: string; created_at: number; retired_at: number | null }>(
      'SELECT kid, use, private_jwk, created_at, retired_at FROM signing_keys ORDER BY created_at, kid',
    );
    return rows.map((r) => {
      const row: SigningKeyRow = { kid: r.kid, use: r.use as SigningKeyRow['use'], privateJwk: r.private_jwk, createdAt: r.created_at };
      if (r.retired_at !== null) row.retiredAt = r.retired_at;
      return row;
    });
  }

  async addSigningKey(row: SigningKeyRow): Promise<void> {
    await this.pool.query('INSERT INTO signing_keys (kid, use, private_jwk, created_at, retired_at) VALUES ($1, $2, $3, $4, $5)', [
      row.kid,
      row.use,
      row.privateJwk,
      at(row.createdAt),
      row.retiredAt === undefined ? null : at(row.retiredAt),
    ]);
  }

  async retireSigningKey(kid: string, when: number): Promise<void> {
    await this.pool.query('UPDATE signing_keys SET retired_at = $1 WHERE kid = $2 AND retired_at IS NULL', [at(when), kid]);
  }

  async clockNow(): Promise<number | undefined> {
    const { rows } = await this.pool.query<{ value: string }>("SELECT value FROM meta WHERE key = 'clock.now'");
    return rows[0] ? Number(rows[0].value) : undefined;
  }

  /** Processes sharing the database share the virtual clock; a late writer never moves it back. */
  async setClockNow(ms: number): Promise<void> {
    await this.pool.query(
      `INSERT INTO meta (key, value) VALUES ('clock.now', $1::bigint::text)
       ON CONFLICT (key) DO UPDATE SET value = GREATEST(meta.value::bigint, excluded.value::bigint)::text`,
      [at(ms)],
    );
  }

  /**
   * FOR UPDATE SKIP LOCKED: a claimer skips rows another claimer is locking right now, and a row whose
   * lease was taken after this statement's snapshot is re-checked against its new lease and skipped.
   */
  async claimDueTimers(upTo: number, limit: number, owner: string, leaseMs: number): Promise<TimerRow[]> {
    const leaseNow = Date.now();
    const { rows } = await this.pool.query<{ call_id: string; name: string; due_at: number }>(
      `WITH claimable AS (
         SELECT call_id, name FROM timers
          WHERE due_at <= $1 AND (lease_until IS NULL OR lease_until <= $2)
          ORDER BY due_at, call_id, name
          LIMIT $3
          FOR UPDATE SKIP LOCKED
       )
       UPDATE timers t SET lease_owner = $4, lease_until = $5
         FROM claimable c
        WHERE t.call_id = c.call_id AND t.name = c.name
       RETURNING t.call_id, t.name, t.due_at`,
      [bound(upTo), leaseNow, limit, owner, at(leaseNow + leaseMs)],
    );
    return rows.map(toTimerRow).sort(byDue);
  }

  /**
   * Per-call order holds without locking earlier rows: `delivered` and `dead` only ever go from false to
   * true and new rows get higher seqs, so a stale snapshot can only hide a row that just became claimable,
   * never show one whose predecessor is still pending.
   */
  async claimDeliverable(now: number, limit: number, owner: string, leaseMs: number): Promise<OutboxRow[]> {
    const leaseNow = Date.now();
    const { rows } = await this.pool.query<OutboxRecord>(
      `WITH claimable AS (
         SELECT o.id FROM outbox o
          WHERE NOT o.delivered AND NOT o.dead AND o.next_attempt_at <= $1
            AND (o.lease_until IS NULL OR o.lease_until <= $2)
            AND NOT EXISTS (SELECT 1 FROM outbox p WHERE p.call_id = o.call_id AND p.seq < o.seq AND NOT p.delivered AND NOT p.dead)
          ORDER BY o.next_attempt_at, o.created_at, o.seq
          LIMIT $3
          FOR UPDATE SKIP LOCKED
       )
       UPDATE outbox u SET lease_owner = $4, lease_until = $5
         FROM claimable c
        WHERE u.id = c.id
       RETURNING ${OUTBOX_COLUMNS_OF_U}`,
      [bound(now), leaseNow, limit, owner, at(leaseNow + leaseMs)],
    );
    return rows.map(toOutboxRow).sort(byDelivery);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.pool.end();
  }
}
