/**
 * Versioned schema migrations, one list for every engine: each entry is applied once, in order, at start,
 * and recorded in `schema_migrations`. Add entries; never edit an applied one.
 *
 * The two dialects keep the same tables and columns. PostgreSQL differs where it has a better type: times are
 * `bigint` epoch ms (an epoch-ms value does not fit a 32-bit `integer`), flags are `boolean`. JSON documents
 * (the call, an outbox body, the attempts list) stay `text` on both: the store keeps the exact string the
 * application wrote and never asks the database to understand it (see postgres.ts for why not `jsonb`).
 */
export interface Migration {
  version: number;
  description: string;
  sqlite: string;
  postgres: string;
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
    // Identifiers are COLLATE "C": ordered by bytes like SQLite, whatever the database's default collation.
    postgres: `
      CREATE TABLE calls (
        id text COLLATE "C" PRIMARY KEY,
        tenant_id text NOT NULL,
        application_id text NOT NULL,
        state text NOT NULL,
        version integer NOT NULL,
        created_at bigint NOT NULL,
        data text NOT NULL
      );
      CREATE INDEX calls_created_at ON calls (created_at DESC, id);
      CREATE TABLE timers (
        call_id text COLLATE "C" NOT NULL,
        name text COLLATE "C" NOT NULL,
        due_at bigint NOT NULL,
        PRIMARY KEY (call_id, name)
      );
      CREATE INDEX timers_due_at ON timers (due_at, call_id, name);
      CREATE TABLE outbox (
        id text COLLATE "C" PRIMARY KEY,
        call_id text COLLATE "C" NOT NULL,
        seq integer NOT NULL,
        change_type text NOT NULL,
        state text NOT NULL,
        url text NOT NULL,
        audience text NOT NULL,
        body text NOT NULL,
        created_at bigint NOT NULL,
        next_attempt_at bigint NOT NULL,
        attempts text NOT NULL DEFAULT '[]',
        delivered boolean NOT NULL DEFAULT false,
        dead boolean NOT NULL DEFAULT false,
        UNIQUE (call_id, seq)
      );
      CREATE INDEX outbox_pending ON outbox (next_attempt_at) WHERE NOT delivered AND NOT dead;
      CREATE TABLE signing_keys (
        kid text COLLATE "C" PRIMARY KEY,
        use text NOT NULL,
        private_jwk text NOT NULL,
        created_at bigint NOT NULL,
        retired_at bigint
      );
      CREATE TABLE meta (key text PRIMARY KEY, value text NOT NULL);
    `,
  },
  {
    version: 2,
    description: 'leases on timers and outbox rows, so several processes can share the work',
    // lease_owner: who claimed the row; lease_until: real clock (Date.now()) epoch ms after which another
    // owner may claim it. NULL = not claimed. Setting a timer again or recording an attempt clears the lease.
    sqlite: `
      ALTER TABLE timers ADD COLUMN lease_owner TEXT;
      ALTER TABLE timers ADD COLUMN lease_until INTEGER;
      ALTER TABLE outbox ADD COLUMN lease_owner TEXT;
      ALTER TABLE outbox ADD COLUMN lease_until INTEGER;
    `,
    postgres: `
      ALTER TABLE timers ADD COLUMN lease_owner text, ADD COLUMN lease_until bigint;
      ALTER TABLE outbox ADD COLUMN lease_owner text, ADD COLUMN lease_until bigint;
    `,
  },
];
