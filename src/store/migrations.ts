/**
 * Versioned schema migrations, one list for every engine: each entry is applied once, in order, at start,
 * and recorded in `schema_migrations`. Add entries; never edit an applied one.
 */
export interface Migration {
  version: number;
  description: string;
  sqlite: string;
}

export const MIGRATIONS: Migration[] = [
  {
    version: 1,
    description: 'calls, timers, outbox, signing keys, meta',
    sqlite: `
      CREATE TABLE calls (
        id TEXT PRIMARY KEY,
        tenant_id TEXT NOT NULL,
        application_id TEXT NOT NULL,
        state TEXT NOT NULL,
        version INTEGER NOT NULL,
        created_at INTEGER NOT NULL,
        data TEXT NOT NULL
      );
      CREATE INDEX calls_created_at ON calls (created_at);
      CREATE TABLE timers (
        call_id TEXT NOT NULL,
        name TEXT NOT NULL,
        due_at INTEGER NOT NULL,
        PRIMARY KEY (call_id, name)
      );
      CREATE INDEX timers_due_at ON timers (due_at);
      CREATE TABLE outbox (
        id TEXT PRIMARY KEY,
        call_id TEXT NOT NULL,
        seq INTEGER NOT NULL,
        change_type TEXT NOT NULL,
        state TEXT NOT NULL,
        url TEXT NOT NULL,
        audience TEXT NOT NULL,
        body TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        next_attempt_at INTEGER NOT NULL,
        attempts TEXT NOT NULL DEFAULT '[]',
        delivered INTEGER NOT NULL DEFAULT 0,
        dead INTEGER NOT NULL DEFAULT 0,
        UNIQUE (call_id, seq)
      );
      CREATE INDEX outbox_pending ON outbox (next_attempt_at) WHERE delivered = 0 AND dead = 0;
      CREATE TABLE signing_keys (
        kid TEXT PRIMARY KEY,
        use TEXT NOT NULL,
        private_jwk TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        retired_at INTEGER
      );
      CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    `,
  },
];
