/**
 * calls/ids — the ids Switchboard gives calls and notifications: UUIDv7 (time-ordered, still GUIDs as
 * Graph's are). The store's indexes on these ids then grow at their end, where the pages are in memory,
 * rather than at a random page per insert: a third of a redirect's SQLite commit on the bench machine.
 * Random bits come from a pool filled 4 KB at a time (one system call per 256 ids; uuid's own generator
 * asks the OS for 16 bytes per id, ~2% of a workflow's CPU).
 */
import { randomFillSync } from 'node:crypto';
import { v7 } from 'uuid';

const pool = new Uint8Array(4096);
let used = pool.length;

function pooledRandom(): Uint8Array {
  if (used + 16 > pool.length) {
    randomFillSync(pool);
    used = 0;
  }
  const bytes = pool.subarray(used, used + 16);
  used += 16;
  return bytes;
}

export function timeOrderedUuid(): string {
  return v7({ rng: pooledRandom });
}
