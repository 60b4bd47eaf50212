/** Opens the store a `--store` URL names: `sqlite:<file>` (the default) or, later, `postgres://…`. */
import { SqliteStore } from './sqlite.js';
import type { Store } from './store.js';

export async function openStore(url: string): Promise<Store> {
  if (url.startsWith('sqlite:')) return new SqliteStore(url.slice('sqlite:'.length) || ':memory:');
  if (/^postgres(ql)?:\/\//.test(url)) {
    throw new Error('--store postgres://… is not available yet in this build: use sqlite:<file> (the default).');
  }
  throw new Error(`--store ${url}: unknown store URL; use sqlite:<file> or postgres://…`);
}
