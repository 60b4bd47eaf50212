/**
 * Opens the store a `--store` URL names: `sqlite:<file>` (the default) or `postgres://…` / `postgresql://…`
 * (PostgreSQL; `?schema=NAME` keeps Switchboard's tables in that schema, created if missing).
 */
import { PostgresStore } from './postgres.js';
import { SqliteStore } from './sqlite.js';
import type { Store } from './store.js';

export async function openStore(url: string): Promise<Store> {
  if (url.startsWith('sqlite:')) return new SqliteStore(url.slice('sqlite:'.length) || ':memory:');
  if (/^postgres(ql)?:\/\//.test(url)) return PostgresStore.open({ connectionString: url });
  throw new Error(`--store ${url}: unknown store URL; use sqlite:<file> or postgres://…`);
}
