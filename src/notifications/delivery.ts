/**
 * notifications/ — the outbox and its delivery. The engine writes each notification to the outbox in the
 * same transaction as the state change that causes it; this module POSTs them to the bot over HTTPS with a
 * bot-framework JWT, one call's notifications strictly in order, retrying with backoff (1 s doubling to a
 * 5 min cap, on Switchboard's clock) until the bot accepts (2xx) or the give-up time passes (then `dead`).
 *
 * Every connection goes through the callback URL policy (callback-policy.ts) on the address actually
 * connected to: the agent's `lookup` drops refused addresses from what DNS answers, a literal IP host is
 * checked before connecting, and the connected socket's peer address is checked once more. A refused
 * delivery is an attempt that failed (`ECALLBACKREFUSED: …`), retried and given up like any other.
 */
import { readFileSync } from 'node:fs';
import { createSecureContext, rootCertificates } from 'node:tls';
import { isIP } from 'node:net';
import { Agent, buildConnector } from 'undici';
import type { Logger } from 'pino';
import type { Clock } from '../clock/clock.js';
import { NOTIFICATION_RETRY_CAP_SECONDS, NOTIFICATION_RETRY_FIRST_SECONDS } from '../calls/timeouts.js';
import type { OutboxRow, Store } from '../store/store.js';
import type { Observers } from '../calls/observer.js';
import { CallbackPolicy, CallbackRefusedError, normaliseHost } from './callback-policy.js';

export interface DeliveryOptions {
  store: Store;
  clock: Clock;
  logger: Logger;
  /** A bot-framework JWT for the given application id. */
  sign: (audience: string) => Promise<string>;
  giveUpAfterSeconds: number;
  /** PEM certificates trusted besides the system CAs and NODE_EXTRA_CA_CERTS (the dev CA). */
  extraCa?: string[];
  /** Deliveries in flight at once, across calls. */
  concurrency?: number;
  /** Per attempt. */
  timeoutMs?: number;
  /** Where notifications may go (default: dev mode, nothing allow-listed). */
  callbackPolicy?: CallbackPolicy;
  observers?: Observers;
  /** Set when several processes share the store (PostgreSQL): rows are claimed under a lease. */
  shared?: { owner: string; leaseMs: number };
}

/** Delivery failures say whether they are worth retrying (an outcome, not an exception). */
export interface AttemptOutcome {
  status?: number;
  error?: string;
  accepted: boolean;
}

/** How soon the sender looks again when the only due notifications are in flight or waiting their turn. */
const RECHECK_MS = 200;

export function backoffSeconds(failedAttempts: number): number {
  return Math.min(NOTIFICATION_RETRY_FIRST_SECONDS * 2 ** Math.max(0, failedAttempts - 1), NOTIFICATION_RETRY_CAP_SECONDS);
}

/** System CAs, NODE_EXTRA_CA_CERTS (read here too: an explicit `ca` replaces Node's default list) and extras. */
export function trustedCertificates(extra: string[] = []): string[] {
  const list = [...rootCertificates];
  const file = process.env.NODE_EXTRA_CA_CERTS;
  if (file) {
    try {
      list.push(readFileSync(file, 'utf8'));
    } catch {
      // Node itself warns about an unreadable NODE_EXTRA_CA_CERTS at start.
    }
  }
  return [...list, ...extra];
}

export class Deliverer {
  private readonly agent: Agent;
  private readonly inFlight = new Set<string>();
  private readonly concurrency: number;
  private running = false;
  private again = false;
  private retryTimer: NodeJS.Timeout | undefined;
  private stopped = false;
  private readonly idleWaiters: Array<() => void> = [];

  constructor(private readonly options: DeliveryOptions) {
    this.concurrency = options.concurrency ?? 32;
    this.agent = new Agent({
      connect: guardedConnector(
        options.callbackPolicy ?? new CallbackPolicy({ allowHosts: [], devMode: true }),
        trustedCertificates(options.extraCa),
        options.timeoutMs ?? 10_000,
      ),
      headersTimeout: options.timeoutMs ?? 10_000,
      bodyTimeout: options.timeoutMs ?? 10_000,
      connections: 64,
    });
  }

  /** Looks for deliverable notifications now (after a commit, a clock advance, or a retry coming due). */
  kick(): void {
    if (this.stopped) {
      if (!this.running && this.inFlight.size === 0) for (const resolve of this.idleWaiters.splice(0)) resolve();
      return;
    }
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = true;
    void this.pump().finally(() => {
      this.running = false;
      if (this.again) {
        this.again = false;
        this.kick();
      } else if (this.inFlight.size === 0) {
        for (const resolve of this.idleWaiters.splice(0)) resolve();
      }
    });
  }

  /** Resolves once nothing is being sent and nothing due is waiting (for tests and shutdown). */
  async idle(): Promise<void> {
    if (!this.running && this.inFlight.size === 0) return;
    await new Promise<void>((resolve) => this.idleWaiters.push(resolve));
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    await this.idle().catch(() => undefined);
    await this.agent.close();
  }

  private async pump(): Promise<void> {
    const { store, clock, logger } = this.options;
    try {
      while (!this.stopped) {
        const free = this.concurrency - this.inFlight.size;
        if (free <= 0) return;
        const rows = (
          this.options.shared && store.claimDeliverable
            ? // Several processes share the outbox: claim rows (a lease) so each is sent by one process at a time.
              await store.claimDeliverable(clock.now(), free, this.options.shared.owner, this.options.shared.leaseMs)
            : await store.deliverable(clock.now(), free + this.inFlight.size)
        ).filter((r) => !this.inFlight.has(r.id));
        if (rows.length === 0) break;
        for (const row of rows.slice(0, free)) {
          this.inFlight.add(row.id);
          void this.deliver(row).finally(() => {
            this.inFlight.delete(row.id);
            this.kick();
          });
        }
        return; // each finished delivery kicks again: the next one of the same call follows it in order
      }
      // Alone on its store, the store's own index answers (SQLite: no query, no write of queued attempts).
      this.armRetry(await (!this.options.shared && store.nextDeliverableDue ? store.nextDeliverableDue() : store.nextNotificationDue()));
    } catch (error) {
      logger.error({ err: error }, 'notification pump failed');
    }
  }

  /**
   * On the real clock, wake up when the next retry is due; a virtual clock wakes us when it is advanced.
   * Called when nothing can be started now: a row already due then is one being sent, or one waiting behind
   * an earlier notification of its call. Its turn comes with a kick (a delivery finishing, a commit); the
   * timer only re-checks after RECHECK_MS, rather than polling the store in a loop while they are in flight.
   */
  private armRetry(due: number | undefined): void {
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    if (due === undefined || this.options.clock.mode !== 'real' || this.stopped) return;
    const now = this.options.clock.now();
    const delay = due > now ? due - now : RECHECK_MS;
    this.retryTimer = setTimeout(() => this.kick(), Math.min(delay, 2 ** 31 - 1));
    this.retryTimer.unref();
  }

  private async deliver(row: OutboxRow): Promise<void> {
    const { store, clock, logger } = this.options;
    const started = performance.now();
    const outcome = await this.attempt(row);
    const durationMs = performance.now() - started;
    const now = clock.now();
    const failures = row.attempts.filter((a) => !(a.status && a.status >= 200 && a.status < 300)).length + (outcome.accepted ? 0 : 1);
    const dead = !outcome.accepted && now - row.createdAt >= this.options.giveUpAfterSeconds * 1000;
    const nextAttemptAt = outcome.accepted || dead ? now : now + backoffSeconds(failures) * 1000;
    const attempt = { at: now, ...(outcome.status !== undefined ? { status: outcome.status } : {}), ...(outcome.error ? { error: outcome.error } : {}) };
    await store.recordAttempt(row.id, attempt, { delivered: outcome.accepted, dead, nextAttemptAt });
    this.options.observers?.notificationAttempted(row, { ...outcome, dead, durationMs });
    const log = { callId: row.callId, notificationId: row.id, changeType: row.changeType, status: outcome.status, attempt: row.attempts.length + 1 };
    if (outcome.accepted) logger.debug(log, 'notification delivered');
    else if (dead) logger.warn({ ...log, error: outcome.error }, 'notification given up (dead)');
    else logger.info({ ...log, error: outcome.error, retryInSeconds: (nextAttemptAt - now) / 1000 }, 'notification delivery failed; will retry');
  }

  private async attempt(row: OutboxRow): Promise<AttemptOutcome> {
    try {
      const token = await this.options.sign(row.audience);
      const statusCode = await post(this.agent, row.url, {
        'content-type': 'application/json',
        authorization: `Bearer ${token}`,
        'x-switchboard-notification-id': row.id,
        'user-agent': 'switchboard-notifications',
      }, row.body);
      const accepted = statusCode >= 200 && statusCode < 300;
      const outcome: AttemptOutcome = { status: statusCode, accepted };
      if (statusCode === 401) outcome.error = 'the bot rejected the notification token (401)';
      return outcome;
    } catch (error) {
      const e = error as { code?: string; message?: string; cause?: { code?: string; message?: string } };
      return { accepted: false, error: [e.code ?? e.cause?.code, e.message ?? e.cause?.message].filter(Boolean).join(': ') || 'delivery failed' };
    }
  }
}

/** Origin and path of a callback URL (a bot has one or a few: kept, up to 1,000). */
const targets = new Map<string, { origin: string; path: string }>();
function target(url: string): { origin: string; path: string } {
  let known = targets.get(url);
  if (!known) {
    const parsed = new URL(url);
    known = { origin: parsed.origin, path: `${parsed.pathname}${parsed.search}` };
    if (targets.size >= 1_000) targets.clear();
    targets.set(url, known);
  }
  return known;
}

/**
 * One POST through undici's dispatcher API, the response body discarded as it arrives: its `request()`
 * (a body stream and promises per request) was a third of undici's share of a redirect's CPU.
 */
function post(agent: Agent, url: string, headers: Record<string, string>, body: string): Promise<number> {
  const { origin, path } = target(url);
  return new Promise<number>((resolve, reject) => {
    let statusCode = 0;
    agent.dispatch(
      { origin, path, method: 'POST', headers, body },
      // The handler interface `request()` itself implements (undici 7's Agent does not take the newer one).
      {
        onConnect() {},
        onHeaders(status) {
          statusCode = status;
          return true;
        },
        onData() {
          return true;
        },
        onComplete() {
          resolve(statusCode);
        },
        onError(error) {
          reject(error);
        },
      },
    );
  });
}

/**
 * undici's connector, behind the callback policy: literal IP hosts are checked before connecting (DNS
 * `lookup` is not consulted for them), names resolve through the policy's filtering `lookup`, and the
 * connected socket's peer address is checked again before any byte of the request is written.
 */
export function guardedConnector(policy: CallbackPolicy, ca: string[], timeoutMs: number): buildConnector.connector {
  // One TLS context for every connection: given `ca`, each tls.connect would parse the whole trust list
  // (the system roots, ~150 certificates) again, milliseconds of CPU per new connection.
  const connect = buildConnector({ secureContext: createSecureContext({ ca }), lookup: policy.lookup, timeout: timeoutMs });
  return (options, callback) => {
    const host = normaliseHost(options.hostname);
    if (isIP(host)) {
      const refusal = policy.checkAddress(host, host);
      if (refusal) return callback(new CallbackRefusedError(refusal.message, refusal.rule), null);
    }
    connect(options, (error, socket) => {
      if (error || !socket) return callback(error ?? new Error('connection failed'), null);
      const peer = socket.remoteAddress;
      const refusal = peer === undefined ? { message: `callback host ${host}: the connection has no peer address.`, rule: 'nonUnicast' as const } : policy.checkAddress(host, peer);
      if (refusal) {
        socket.destroy();
        return callback(new CallbackRefusedError(refusal.message, refusal.rule), null);
      }
      return callback(null, socket);
    });
  };
}
