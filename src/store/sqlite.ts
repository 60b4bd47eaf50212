/**
 * The embedded store: SQLite through better-sqlite3, in WAL mode, one file in the data dir.
 * better-sqlite3 is synchronous; the Store interface is async so a PostgreSQL adapter can share it.
 * A call is kept as its JSON plus the columns the queries need.
 */
import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import { Worker } from 'node:worker_threads';
import type { Call, TimerName } from '../calls/model.js';
import type { ChangeType } from '../graph/types.js';
import { MIGRATIONS } from './migrations.js';
import { SqliteWriter, type WriteOp, type WriteResult } from './sqlite-writer.js';
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

/** A binary min-heap (`before(a, b)`: a comes first). */
class MinHeap<T> {
  items: T[] = [];
  constructor(private readonly before: (a: T, b: T) => boolean) {}

  get length(): number {
    return this.items.length;
  }

  peek(): T | undefined {
    return this.items[0];
  }

  push(item: T): void {
    const items = this.items;
    items.push(item);
    let i = items.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.before(item, items[parent]!)) break;
      items[i] = items[parent]!;
      i = parent;
    }
    items[i] = item;
  }

  pop(): T | undefined {
    const items = this.items;
    const top = items[0];
    const last = items.pop();
    if (items.length > 0 && last !== undefined) {
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        if (l >= items.length) break;
        const r = l + 1;
        const child = r < items.length && this.before(items[r]!, items[l]!) ? r : l;
        if (!this.before(items[child]!, last)) break;
        items[i] = items[child]!;
        i = child;
      }
      items[i] = last;
    }
    return top;
  }

  /** Keeps only the items `keep` accepts (a rebuild, when stale items pile up). */
  retain(keep: (item: T) => boolean): void {
    const kept = this.items.filter(keep);
    this.items = [];
    for (const item of kept) this.push(item);
  }
}

/** SQLite's BINARY collation on UTF-8 text: code units compare alike except a surrogate (U+10000 and up) against U+E000–U+FFFF. */
function compareText(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x === y) continue;
    const xs = x >= 0xd800 && x <= 0xdfff;
    const ys = y >= 0xd800 && y <= 0xdfff;
    if (xs !== ys && (xs ? y >= 0xe000 : x >= 0xe000)) return xs ? 1 : -1;
    return x - y;
  }
  return a.length - b.length;
}

/** One notification neither delivered nor dead, as the pending index keeps it (no body). */
interface PendingEntry {
  id: string;
  callId: string;
  seq: number;
  createdAt: number;
  nextAttemptAt: number;
  /** Insertion order: the last tie-breaker, as the row order of the SQL query. */
  order: number;
  /** Bumped at each push onto the heap: only the newest heap node of an entry is valid. */
  version: number;
  done: boolean;
}

interface OutboxNode {
  entry: PendingEntry;
  version: number;
  at: number;
}

const outboxBefore = (a: OutboxNode, b: OutboxNode): boolean => {
  if (a.at !== b.at) return a.at < b.at;
  const x = a.entry;
  const y = b.entry;
  return x.createdAt !== y.createdAt ? x.createdAt < y.createdAt : x.seq !== y.seq ? x.seq < y.seq : x.order < y.order;
};

/**
 * The outbox rows neither delivered nor dead, in memory, so `deliverable` (asked after every commit and
 * every delivery) needs no query: per call, its pending rows by seq (the first is the only one that may be
 * sent), and a heap of those heads by (due time, creation, seq). The table stays the truth: the index is
 * read from it at open and follows this store's own writes, after each transaction commits. Heap nodes
 * are invalidated lazily (an entry's version, its call's head); the heap is rebuilt when mostly stale.
 */
class PendingOutbox {
  private readonly byId = new Map<string, PendingEntry>();
  private readonly byCall = new Map<string, PendingEntry[]>();
  private readonly heap = new MinHeap<OutboxNode>(outboxBefore);
  private counter = 0;

  add(row: { id: string; callId: string; seq: number; createdAt: number; nextAttemptAt: number }): void {
    const entry: PendingEntry = { id: row.id, callId: row.callId, seq: row.seq, createdAt: row.createdAt, nextAttemptAt: row.nextAttemptAt, order: this.counter++, version: 0, done: false };
    this.byId.set(entry.id, entry);
    let list = this.byCall.get(entry.callId);
    if (!list) {
      list = [];
      this.byCall.set(entry.callId, list);
    }
    let i = list.length;
    while (i > 0 && list[i - 1]!.seq > entry.seq) i--;
    list.splice(i, 0, entry);
    if (i === 0) this.push(entry);
  }

  /** After an attempt: a delivered or dead row leaves (its call's next row becomes the head); else its due time moves. */
  attempted(id: string, outcome: { delivered: boolean; dead: boolean; nextAttemptAt: number }): void {
    const entry = this.byId.get(id);
    if (!entry) return;
    const list = this.byCall.get(entry.callId);
    const wasHead = list?.[0] === entry;
    if (outcome.delivered || outcome.dead) {
      entry.done = true;
      this.byId.delete(id);
      if (list) {
        const i = list.indexOf(entry);
        if (i >= 0) list.splice(i, 1);
        if (list.length === 0) this.byCall.delete(entry.callId);
        else if (wasHead) this.push(list[0]!);
      }
    } else {
      entry.nextAttemptAt = outcome.nextAttemptAt;
      if (wasHead) this.push(entry);
    }
  }

  /** The heads due at `now`, earliest first, at most `limit` (the heap is left as it was, minus stale nodes). */
  due(now: number, limit: number): PendingEntry[] {
    const out: PendingEntry[] = [];
    const taken: OutboxNode[] = [];
    for (let top = this.heap.peek(); out.length < limit && top; top = this.heap.peek()) {
      if (!this.valid(top)) {
        this.heap.pop();
        continue;
      }
      if (top.at > now) break;
      taken.push(this.heap.pop()!);
      out.push(top.entry);
    }
    for (const node of taken) this.heap.push(node);
    return out;
  }

  /** The earliest due time among the heads (what could be sent next), or undefined. */
  nextDue(): number | undefined {
    for (let top = this.heap.peek(); top; top = this.heap.peek()) {
      if (this.valid(top)) return top.at;
      this.heap.pop();
    }
    return undefined;
  }

  private valid(node: OutboxNode): boolean {
    const { entry } = node;
    return !entry.done && node.version === entry.version && this.byCall.get(entry.callId)?.[0] === entry;
  }

  private push(entry: PendingEntry): void {
    entry.version++;
    this.heap.push({ entry, version: entry.version, at: entry.nextAttemptAt });
    // Stale nodes stay until they surface; rebuild when they outnumber the live ones.
    if (this.heap.length > 1024 && this.heap.length > 4 * this.byCall.size) this.heap.retain((n) => this.valid(n));
  }
}

/** One timer, as the timer index keeps it. */
interface TimerEntry {
  callId: string;
  name: TimerName;
  dueAt: number;
  /** Bumped when the timer is set again: only the newest heap node is valid. */
  version: number;
  done: boolean;
}

interface TimerNode {
  entry: TimerEntry;
  version: number;
  dueAt: number;
}

const timerBefore = (a: TimerNode, b: TimerNode): boolean => {
  if (a.dueAt !== b.dueAt) return a.dueAt < b.dueAt;
  const byCall = compareText(a.entry.callId, b.entry.callId);
  return byCall !== 0 ? byCall < 0 : compareText(a.entry.name, b.entry.name) < 0;
};

/** A timer change of a transaction, applied to the index once the transaction has committed. */
type TimerOp = { op: 'cancelAll'; callId: string } | { op: 'cancel'; callId: string; name: TimerName } | { op: 'set'; callId: string; name: TimerName; at: number };

/**
 * Every timer, in memory, so `dueTimers` and `nextTimerDue` (asked each time timers fire, and after every
 * unit of work that sets one) need no query: per call, its timers, and a heap by (due time, call id, name)
 * in SQLite's order. Like the outbox index: read at open, then following this store's committed writes.
 */
class TimerIndex {
  private readonly byCall = new Map<string, TimerEntry[]>();
  private readonly heap = new MinHeap<TimerNode>(timerBefore);
  private count = 0;

  apply(op: TimerOp): void {
    if (op.op === 'cancelAll') {
      for (const entry of this.byCall.get(op.callId) ?? []) entry.done = true;
      this.count -= this.byCall.get(op.callId)?.length ?? 0;
      this.byCall.delete(op.callId);
    } else if (op.op === 'cancel') {
      this.remove(op.callId, op.name);
    } else {
      this.set(op.callId, op.name, op.at);
    }
  }

  set(callId: string, name: TimerName, at: number): void {
    let list = this.byCall.get(callId);
    let entry = list?.find((e) => e.name === name);
    if (!entry) {
      entry = { callId, name, dueAt: at, version: 0, done: false };
      if (!list) {
        list = [];
        this.byCall.set(callId, list);
      }
      list.push(entry);
      this.count++;
    }
    entry.dueAt = at;
    entry.version++;
    this.heap.push({ entry, version: entry.version, dueAt: at });
    if (this.heap.length > 1024 && this.heap.length > 4 * this.count) this.heap.retain((n) => this.valid(n));
  }

  remove(callId: string, name: TimerName): void {
    const list = this.byCall.get(callId);
    if (!list) return;
    const i = list.findIndex((e) => e.name === name);
    if (i < 0) return;
    list[i]!.done = true;
    list.splice(i, 1);
    this.count--;
    if (list.length === 0) this.byCall.delete(callId);
  }

  due(upTo: number, limit: number): TimerRow[] {
    const out: TimerRow[] = [];
    const taken: TimerNode[] = [];
    for (let top = this.heap.peek(); out.length < limit && top; top = this.heap.peek()) {
      if (!this.valid(top)) {
        this.heap.pop();
        continue;
      }
      if (top.dueAt > upTo) break;
      taken.push(this.heap.pop()!);
      out.push({ callId: top.entry.callId, name: top.entry.name, dueAt: top.dueAt });
    }
    for (const node of taken) this.heap.push(node);
    return out;
  }

  next(): number | undefined {
    for (let top = this.heap.peek(); top; top = this.heap.peek()) {
      if (this.valid(top)) return top.dueAt;
      this.heap.pop();
    }
    return undefined;
  }

  private valid(node: TimerNode): boolean {
    return !node.entry.done && node.version === node.entry.version;
  }
}

/**
 * WAL checkpoints run in a worker thread, on its own connection: copying the WAL into the database file and
 * syncing it takes from milliseconds to hundreds of them, which on the main thread would stall every
 * request and every timer. The worker checkpoints (PASSIVE: it never blocks the writer) every
 * CHECKPOINT_INTERVAL_MS; the main connection checkpoints itself only as a safety net, at a larger WAL,
 * or as usual if the worker is gone. Small and frequent: on ext4 (data=ordered) a sync flushes every dirty
 * page of the file system, WAL included, and the writer's own WAL writes wait for it; measured on the bench
 * machine, syncing every 5 s stalled commits up to 230 ms, every 200 ms up to 120 ms, every 25 ms a few tens.
 */
const CHECKPOINT_WORKER = `
const { workerData, parentPort } = require('node:worker_threads');
const Database = require(workerData.module);
const db = new Database(workerData.file);
db.pragma('busy_timeout = 5000');
const checkpoint = () => {
  try {
    db.pragma('wal_checkpoint(PASSIVE)');
  } catch {
    // busy or closing: the next round (or the main connection) checkpoints
  }
};
const timer = setInterval(checkpoint, workerData.intervalMs);
parentPort.on('message', () => {
  clearInterval(timer);
  db.close();
  parentPort.close();
});
`;
const CHECKPOINT_INTERVAL_MS = 25;
/** Pages of WAL after which the main connection checkpoints itself: the usual 1,000, or this with the worker. */
const SAFETY_CHECKPOINT_PAGES = 20_000;

/** At most this many delivery attempts wait to be written (recordAttempt)... */
const ATTEMPT_BATCH_MAX = 256;
/** ...for at most this long. */
const ATTEMPT_WRITE_BEHIND_MS = 5;

/** Rows handed out by `deliverable` are kept (up to this many) so a row asked again is not read again. */
const ROW_CACHE_MAX = 4_096;

export class SqliteStore implements Store {
  readonly kind = 'sqlite' as const;
  private readonly db: Database.Database;
  private readonly stmt;
  private readonly pending = new PendingOutbox();
  private readonly timers = new TimerIndex();
  /** Delivery attempts not written yet (recordAttempt). */
  private readonly attempts: WriteOp[] = [];
  private attemptsFlush: NodeJS.Timeout | undefined;
  private checkpointer: Worker | undefined;
  /** Pending rows as last read or written (no attempt recorded since): see ROW_CACHE_MAX. */
  private readonly rows = new Map<string, OutboxRow>();

  private readonly writer: SqliteWriter;

  /** `file`: a path, or ':memory:'. */
  constructor(file: string) {
    if (file !== ':memory:') mkdirSync(dirname(file), { recursive: true });
    this.db = new Database(file);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = NORMAL');
    // The WAL file is cut back to 64 MB after a checkpoint (it may grow past the usual 4 MB: see below).
    this.db.pragma('journal_size_limit = 67108864');
    this.db.pragma('busy_timeout = 5000');
    this.migrate();
    if (file !== ':memory:') this.checkpointer = this.startCheckpointer(file);
    const db = this.db;
    this.stmt = {
      getCall: db.prepare<[string], { data: string }>('SELECT data FROM calls WHERE id = ?'),
      listCalls: db.prepare<[number], { data: string }>('SELECT data FROM calls ORDER BY created_at DESC, id LIMIT ?'),
      allTimers: db.prepare<[], { call_id: string; name: string; due_at: number }>('SELECT call_id, name, due_at FROM timers'),
      nextNotification: db.prepare<[], { due: number | null }>(
        'SELECT MIN(next_attempt_at) AS due FROM outbox WHERE delivered = 0 AND dead = 0',
      ),
      outboxRow: db.prepare<[string], OutboxRecord>('SELECT * FROM outbox WHERE id = ?'),
      pendingOutbox: db.prepare<[], { id: string; call_id: string; seq: number; created_at: number; next_attempt_at: number }>(
        'SELECT id, call_id, seq, created_at, next_attempt_at FROM outbox WHERE delivered = 0 AND dead = 0 ORDER BY call_id, seq',
      ),
      notificationsOf: db.prepare<[string], OutboxRecord>('SELECT * FROM outbox WHERE call_id = ? ORDER BY seq'),
      signingKeys: db.prepare<[], { kid: string; use: string; private_jwk: string; created_at: number; retired_at: number | null }>(
        'SELECT kid, use, private_jwk, created_at, retired_at FROM signing_keys ORDER BY created_at',
      ),
      getMeta: db.prepare<[string], { value: string }>('SELECT value FROM meta WHERE key = ?'),
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
    this.writer = new SqliteWriter(this.db);
    for (const r of this.stmt.allTimers.iterate()) this.timers.set(r.call_id, r.name as TimerName, r.due_at);
    for (const r of this.stmt.pendingOutbox.iterate()) {
      this.pending.add({ id: r.id, callId: r.call_id, seq: r.seq, createdAt: r.created_at, nextAttemptAt: r.next_attempt_at });
    }
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
    const ops: WriteOp[] = [];
    const timerOps: TimerOp[] = [];
    const notifications: Array<{ op: number; row: CallChange['notifications'][number] }> = [];
    for (const change of changes) {
      const { call } = change;
      const data = JSON.stringify(call);
      if (change.expectedVersion < 0) {
        ops.push({
          stmt: 'insertCall',
          params: [call.id, call.tenantId, call.applicationId, call.state, call.version, call.createdAt, data],
          conflictOnKey: call.id,
        });
      } else {
        ops.push({ stmt: 'updateCall', params: [call.state, call.version, data, call.id, change.expectedVersion], expectOne: call.id });
      }
      if (change.cancelAllTimers) {
        ops.push({ stmt: 'deleteTimers', params: [call.id] });
        timerOps.push({ op: 'cancelAll', callId: call.id });
      }
      for (const name of change.cancelTimers) {
        ops.push({ stmt: 'deleteTimer', params: [call.id, name] });
        timerOps.push({ op: 'cancel', callId: call.id, name });
      }
      for (const timer of change.setTimers) {
        ops.push({ stmt: 'upsertTimer', params: [call.id, timer.name, timer.at] });
        timerOps.push({ op: 'set', callId: call.id, name: timer.name, at: timer.at });
      }
      for (const n of change.notifications) {
        notifications.push({ op: ops.length, row: n });
        ops.push({ stmt: 'insertOutbox', params: [n.id, n.callId, n.callId, n.changeType, n.state, n.url, n.audience, n.body, n.createdAt, n.nextAttemptAt] });
      }
    }
    // Queued delivery attempts ride along in the same transaction.
    const attempts = this.takeAttempts();
    let results: WriteResult[];
    try {
      results = this.writer.write(attempts.length ? [...attempts, ...ops] : ops);
    } catch (error) {
      this.requeueAttempts(attempts);
      throw error;
    }
    if (attempts.length) results = results.slice(attempts.length);
    // Committed: the indexes and the row cache follow.
    for (const op of timerOps) this.timers.apply(op);
    for (const { op, row: n } of notifications) {
      const result = results[op];
      const seq = typeof result === 'object' ? result.seq : 1;
      const row: OutboxRow = { ...n, seq, attempts: [], delivered: false, dead: false };
      this.pending.add(row);
      this.cacheRow(row);
    }
  }

  private cacheRow(row: OutboxRow): void {
    if (this.rows.size >= ROW_CACHE_MAX) {
      const oldest = this.rows.keys().next();
      if (!oldest.done) this.rows.delete(oldest.value);
    }
    this.rows.set(row.id, row);
  }

  async listCalls(limit: number): Promise<Call[]> {
    return this.stmt.listCalls.all(limit).map((r) => JSON.parse(r.data) as Call);
  }

  /** From the timer index (no query). */
  async dueTimers(upTo: number, limit: number): Promise<TimerRow[]> {
    return this.timers.due(upTo, limit);
  }

  async nextTimerDue(): Promise<number | undefined> {
    return this.timers.next();
  }

  async deleteTimer(callId: string, name: TimerName): Promise<void> {
    this.writer.write([{ stmt: 'deleteTimer', params: [callId, name] }]);
    this.timers.remove(callId, name);
  }

  /**
   * From the pending index (no query); rows come from the cache, or are read by id. The same row object
   * may be handed out again until an attempt is recorded: callers read rows, never change them.
   */
  async deliverable(now: number, limit: number): Promise<OutboxRow[]> {
    const out: OutboxRow[] = [];
    for (const entry of this.pending.due(now, limit)) {
      let row = this.rows.get(entry.id);
      if (!row) {
        this.flushAttempts();
        const record = this.stmt.outboxRow.get(entry.id);
        if (!record) continue;
        row = toOutboxRow(record);
        this.cacheRow(row);
      }
      out.push(row);
    }
    return out;
  }

  /** From the pending index (no query, no write of queued attempts). */
  async nextDeliverableDue(): Promise<number | undefined> {
    return this.pending.nextDue();
  }

  async nextNotificationDue(): Promise<number | undefined> {
    this.flushAttempts();
    return this.stmt.nextNotification.get()?.due ?? undefined;
  }

  /**
   * Written behind: the attempt is queued and the pending index and row cache follow at once (the sender
   * goes on with the call's next notification); the row is written in the next commit's transaction, or
   * within ATTEMPT_WRITE_BEHIND_MS when no commit comes, or before the outbox is read from the file. A
   * transaction per delivery cost ~50 µs (an eighth of a redirect); one shared by a few costs a few each.
   * A crash in that window loses those records: the notifications are sent again after a restart (delivery
   * is at least once, with stable ids, as with a crash between a bot's 2xx and its record).
   */
  async recordAttempt(
    id: string,
    attempt: DeliveryAttempt,
    outcome: { delivered: boolean; dead: boolean; nextAttemptAt: number },
  ): Promise<void> {
    this.attempts.push({
      stmt: 'recordAttempt',
      params: [JSON.stringify(attempt), outcome.delivered ? 1 : 0, outcome.dead ? 1 : 0, outcome.nextAttemptAt, id],
    });
    this.rows.delete(id);
    this.pending.attempted(id, outcome);
    if (this.attempts.length >= ATTEMPT_BATCH_MAX) this.flushAttempts();
    else this.attemptsFlush ??= setTimeout(() => this.flushAttempts(), ATTEMPT_WRITE_BEHIND_MS);
  }

  /** The queued attempts' statements, taken out of the queue (put back with `requeueAttempts` if not written). */
  private takeAttempts(): WriteOp[] {
    if (this.attemptsFlush) clearTimeout(this.attemptsFlush);
    this.attemptsFlush = undefined;
    return this.attempts.splice(0);
  }

  private requeueAttempts(ops: WriteOp[]): void {
    this.attempts.unshift(...ops);
    // Not re-armed: the next commit or attempt writes them (a failing disk fails those too, loudly).
  }

  /** Writes the queued attempts now, in their own transaction. */
  private flushAttempts(): void {
    const ops = this.takeAttempts();
    if (ops.length === 0 || !this.db.open) return;
    try {
      this.writer.write(ops);
    } catch {
      this.requeueAttempts(ops);
    }
  }

  async notificationsOf(callId: string): Promise<OutboxRow[]> {
    this.flushAttempts();
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
    this.writer.write([{ stmt: 'addSigningKey', params: [row.kid, row.use, row.privateJwk, row.createdAt, row.retiredAt ?? null] }]);
  }

  async retireSigningKey(kid: string, at: number): Promise<void> {
    this.writer.write([{ stmt: 'retireSigningKey', params: [at, kid] }]);
  }

  async clockNow(): Promise<number | undefined> {
    const row = this.stmt.getMeta.get('clock.now');
    return row ? Number(row.value) : undefined;
  }

  async setClockNow(ms: number): Promise<void> {
    this.writer.write([{ stmt: 'setClock', params: [String(Math.round(ms))] }]);
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
    this.flushAttempts();
    const leaseNow = Date.now();
    return this.db
      .transaction(() => {
        const rows = this.stmt.claimableOutbox.all(now, leaseNow, limit);
        for (const r of rows) this.stmt.leaseOutbox.run(owner, leaseNow + leaseMs, r.id);
        return rows.map(toOutboxRow);
      })
      .immediate();
  }

  /** See CHECKPOINT_WORKER. */
  private startCheckpointer(file: string): Worker | undefined {
    let worker: Worker;
    try {
      worker = new Worker(CHECKPOINT_WORKER, {
        eval: true,
        workerData: { module: createRequire(import.meta.url).resolve('better-sqlite3'), file, intervalMs: CHECKPOINT_INTERVAL_MS },
      });
    } catch {
      return undefined;
    }
    this.db.pragma(`wal_autocheckpoint = ${SAFETY_CHECKPOINT_PAGES}`);
    const fallBack = (): void => {
      this.checkpointer = undefined;
      if (this.db.open) this.db.pragma('wal_autocheckpoint = 1000');
    };
    worker.on('error', fallBack);
    worker.on('exit', () => {
      if (this.checkpointer === worker) fallBack();
    });
    worker.unref();
    return worker;
  }

  async close(): Promise<void> {
    if (this.db.open) this.flushAttempts();
    const worker = this.checkpointer;
    this.checkpointer = undefined;
    if (worker) {
      const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
      worker.postMessage('close');
      const timer = setTimeout(() => void worker.terminate(), 5_000);
      await exited;
      clearTimeout(timer);
    }
    if (this.db.open) this.db.close();
  }
}
