/**
 * store/ — persistence behind one interface. `sqlite.ts` is the embedded default (better-sqlite3, WAL);
 * a PostgreSQL adapter implements the same interface. A call, its timers and its outbox rows change in
 * one transaction (`commit`), so a crash never leaves a state change without its notification or timer.
 */
import type { Call, TimerName } from '../calls/model.js';
import type { ChangeType } from '../graph/types.js';

export interface TimerRow {
  callId: string;
  name: TimerName;
  dueAt: number;
}

export interface DeliveryAttempt {
  /** Switchboard's clock, epoch ms. */
  at: number;
  status?: number;
  error?: string;
}

/** One notification POST in the outbox: delivered in `seq` order per call, at least once. */
export interface OutboxRow {
  id: string;
  callId: string;
  seq: number;
  changeType: ChangeType;
  state: string;
  url: string;
  /** The application the notification is for: the JWT's `aud`. */
  audience: string;
  /** The `commsNotifications` JSON body, as sent. */
  body: string;
  createdAt: number;
  nextAttemptAt: number;
  attempts: DeliveryAttempt[];
  delivered: boolean;
  dead: boolean;
}

export type NewNotification = Omit<OutboxRow, 'seq' | 'attempts' | 'delivered' | 'dead'>;

export interface CallChange {
  /** The call as it is now; the store writes it with `version` = expectedVersion + 1. */
  call: Call;
  /** The version read before the change; -1 for a new call. A mismatch throws VersionConflict. */
  expectedVersion: number;
  setTimers: Array<{ name: TimerName; at: number }>;
  cancelTimers: TimerName[];
  cancelAllTimers: boolean;
  notifications: NewNotification[];
}

export class VersionConflict extends Error {
  constructor(readonly callId: string) {
    super(`call ${callId} was changed concurrently`);
    this.name = 'VersionConflict';
  }
}

export interface SigningKeyRow {
  kid: string;
  /** `graph`: access tokens; `notifications`: the bot-framework tokens on webhooks. */
  use: 'graph' | 'notifications';
  /** The private key as a JWK, JSON. */
  privateJwk: string;
  /** Real clock, epoch ms. */
  createdAt: number;
  /** Real clock; a retired key is still published until tokens signed with it expire. */
  retiredAt?: number;
}

export interface Store {
  readonly kind: 'sqlite' | 'postgres';
  getCall(id: string): Promise<Call | undefined>;
  /** Writes every change in one transaction. */
  commit(changes: CallChange[]): Promise<void>;
  /** Most recently created first. */
  listCalls(limit: number): Promise<Call[]>;
  /** Timers due at or before `upTo`, earliest first. */
  dueTimers(upTo: number, limit: number): Promise<TimerRow[]>;
  nextTimerDue(): Promise<number | undefined>;
  /** Drops a timer whose call no longer exists. */
  deleteTimer(callId: string, name: TimerName): Promise<void>;
  /** Notifications ready to send: not delivered, not dead, due, and with no earlier undelivered one for their call. */
  deliverable(now: number, limit: number): Promise<OutboxRow[]>;
  nextNotificationDue(): Promise<number | undefined>;
  /**
   * Optional: the earliest due time of a notification that is the first undelivered one of its call (what
   * `deliverable` would return next), as this process's store knows it; for the sender's wake-up timer,
   * cheaper than `nextNotificationDue` where the store keeps an index. Not for several processes sharing a store.
   */
  nextDeliverableDue?(): Promise<number | undefined>;
  /**
   * Once it resolves, this store's reads (`deliverable`, `notificationsOf`, …) see the attempt. PostgreSQL
   * has written it by then; SQLite writes it behind, within a few ms (sqlite.ts): a crash in between sends
   * the notification again, which at-least-once delivery allows.
   */
  recordAttempt(id: string, attempt: DeliveryAttempt, outcome: { delivered: boolean; dead: boolean; nextAttemptAt: number }): Promise<void>;
  notificationsOf(callId: string): Promise<OutboxRow[]>;
  signingKeys(): Promise<SigningKeyRow[]>;
  addSigningKey(row: SigningKeyRow): Promise<void>;
  retireSigningKey(kid: string, at: number): Promise<void>;
  /** The virtual clock's time, kept so it survives a restart. */
  clockNow(): Promise<number | undefined>;
  /** Never moves the stored time backwards: the stored value becomes max(stored, ms), also when processes race. */
  setClockNow(ms: number): Promise<void>;
  close(): Promise<void>;

  // ─── Several processes sharing one store ──────────────────────────────────────────────────────────────
  // Optional in the interface (a Store need not offer them); both adapters in this folder implement them.
  // A claim is a lease: `owner` holds the row until `leaseMs` after the claim on the REAL clock (Date.now()),
  // and no other owner can claim it meanwhile; after that anyone may take it over. Call times (`upTo`,
  // `now`) are Switchboard's clock, as everywhere else. A lease ends early when the row is done with:
  // `commit` deleting or setting the timer again, `recordAttempt` on the notification.

  /**
   * Claims up to `limit` timers due at or before `upTo` that nobody holds (no lease, or an expired one),
   * earliest first (due time, call id, name). Two owners claiming at once never get the same timer.
   */
  claimDueTimers?(upTo: number, limit: number, owner: string, leaseMs: number): Promise<TimerRow[]>;
  /**
   * Like `deliverable`, but claims the rows it returns: not delivered, not dead, due at `now`, no earlier
   * undelivered (and not dead) row for the same call, not held by anyone. Per-call order is kept: while
   * seq N of a call is undelivered (claimed or not), seq N+1 is never claimed.
   */
  claimDeliverable?(now: number, limit: number, owner: string, leaseMs: number): Promise<OutboxRow[]>;
}
