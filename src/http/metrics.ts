/**
 * Prometheus metrics at `GET /metrics` (no key, contract Part B), with prom-client. One Registry per
 * Switchboard instance (never prom-client's global one: tests run several instances in one process).
 * Fed by the engine's observers (calls/observer.ts) and by an `onResponse` hook for HTTP requests.
 *
 * - switchboard_calls{kind,state}                   gauge: calls this process has seen, by state
 * - switchboard_calls_created_total{kind}           counter
 * - switchboard_redirects_accepted_total            counter: calls that went `redirecting`
 * - switchboard_redirects_total{outcome,code,subcode} counter: redirected calls, by how they ended
 * - switchboard_redirect_ring_seconds{outcome}      histogram: redirect accepted → answered / ended
 * - switchboard_notification_deliveries_total{status,outcome} counter: one per delivery attempt
 * - switchboard_notification_delivery_seconds{outcome} histogram: attempt latency
 * - switchboard_outbox_depth                         gauge: notifications neither delivered nor dead (asks the store)
 * - switchboard_timer_lateness_seconds{timer}       histogram: how late timers fire (0 on the virtual clock)
 * - switchboard_http_requests_total{method,route,status_code}, switchboard_http_request_duration_seconds{method,route}
 * - the default Node.js process metrics (process_*, nodejs_*).
 */
import type { FastifyInstance } from 'fastify';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { Call } from '../calls/model.js';
import type { CallObserver } from '../calls/observer.js';
import type { OutboxRow, Store } from '../store/store.js';

/** A redirected call's outcome, from its resultInfo subcode (contract Part A table). */
export function redirectOutcome(call: Call): string {
  switch (call.resultInfo?.subcode) {
    case 7015:
      return 'answered';
    case 10058:
      return 'noAnswer';
    case 10059:
      return 'declined';
    case 10060:
      return 'busy';
    case 10037:
      return 'unreachable';
    case 5010:
      return 'callerHungUp';
    case 5000:
      return 'botHungUp';
    default:
      return 'other';
  }
}

/** `target:<id>` timers are one family; ids would make unbounded label values. */
const timerFamily = (name: string): string => (name.startsWith('target:') ? 'target' : name);

/** A small insertion-ordered set that forgets its oldest entries. */
class BoundedSet {
  private readonly set = new Set<string>();
  constructor(private readonly max: number) {}
  has(key: string): boolean {
    return this.set.has(key);
  }
  add(key: string): void {
    this.set.add(key);
    if (this.set.size > this.max) {
      const oldest = this.set.values().next().value;
      if (oldest !== undefined) this.set.delete(oldest);
    }
  }
}

export interface MetricsOptions {
  store: Store;
  /** Default true. */
  defaultMetrics?: boolean;
}

export class Metrics implements CallObserver {
  readonly registry = new Registry();
  /** Non-terminated calls: id → kind/state. */
  private readonly live = new Map<string, { kind: Call['kind']; state: string }>();
  private readonly terminated = new Map<string, number>();
  private readonly ended = new BoundedSet(100_000);
  private readonly seen = new BoundedSet(100_000);

  private readonly created: Counter<'kind'>;
  private readonly redirectsAccepted: Counter;
  private readonly redirects: Counter<'outcome' | 'code' | 'subcode'>;
  private readonly ringSeconds: Histogram<'outcome'>;
  private readonly deliveries: Counter<'status' | 'outcome'>;
  private readonly deliverySeconds: Histogram<'outcome'>;
  private readonly timerLateness: Histogram<'timer'>;
  private readonly httpRequests: Counter<'method' | 'route' | 'status_code'>;
  private readonly httpSeconds: Histogram<'method' | 'route'>;

  constructor(private readonly options: MetricsOptions) {
    const registers = [this.registry];
    // eslint-disable-next-line @typescript-eslint/no-this-alias -- collect() callbacks run with prom-client's `this`
    const self = this;
    new Gauge({
      name: 'switchboard_calls',
      help: 'Calls by kind and state (calls this process has seen; terminated counts every call that ended).',
      labelNames: ['kind', 'state'],
      registers,
      collect() {
        this.reset();
        const counts = new Map<string, { kind: string; state: string; n: number }>();
        for (const { kind, state } of self.live.values()) {
          const key = `${kind}/${state}`;
          const entry = counts.get(key) ?? { kind, state, n: 0 };
          entry.n++;
          counts.set(key, entry);
        }
        for (const { kind, state, n } of counts.values()) this.set({ kind, state }, n);
        for (const [kind, n] of self.terminated) this.set({ kind, state: 'terminated' }, n);
      },
    });
    this.created = new Counter({ name: 'switchboard_calls_created_total', help: 'Calls created, by kind.', labelNames: ['kind'], registers });
    this.redirectsAccepted = new Counter({
      name: 'switchboard_redirects_accepted_total',
      help: 'Redirects accepted (the call went redirecting and its targets started ringing).',
      registers,
    });
    this.redirects = new Counter({
      name: 'switchboard_redirects_total',
      help: 'Redirected calls that ended, by outcome and resultInfo code/subcode.',
      labelNames: ['outcome', 'code', 'subcode'],
      registers,
    });
    this.ringSeconds = new Histogram({
      name: 'switchboard_redirect_ring_seconds',
      help: 'Ring time of redirected calls: from the redirect being accepted to a target answering or the call ending (Switchboard clock).',
      labelNames: ['outcome'],
      buckets: [0.5, 1, 2, 3, 5, 10, 15, 20, 30, 45, 60, 75, 90, 120],
      registers,
    });
    this.deliveries = new Counter({
      name: 'switchboard_notification_deliveries_total',
      help: 'Notification delivery attempts, by HTTP status ("error" when no response) and outcome (delivered, retry, dead).',
      labelNames: ['status', 'outcome'],
      registers,
    });
    this.deliverySeconds = new Histogram({
      name: 'switchboard_notification_delivery_seconds',
      help: 'Latency of notification delivery attempts (real time), by outcome.',
      labelNames: ['outcome'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    });
    new Gauge({
      name: 'switchboard_outbox_depth',
      help: 'Notifications waiting in the outbox (neither delivered nor dead).',
      registers,
      async collect() {
        this.set(await self.outboxDepth());
      },
    });
    this.timerLateness = new Histogram({
      name: 'switchboard_timer_lateness_seconds',
      help: 'How late call timers fired after their due time (real clock; 0 on the virtual clock), by timer family.',
      labelNames: ['timer'],
      buckets: [0, 0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers,
    });
    this.httpRequests = new Counter({
      name: 'switchboard_http_requests_total',
      help: 'HTTP requests, by method, route pattern and status code.',
      labelNames: ['method', 'route', 'status_code'],
      registers,
    });
    this.httpSeconds = new Histogram({
      name: 'switchboard_http_request_duration_seconds',
      help: 'HTTP request duration, by method and route pattern.',
      labelNames: ['method', 'route'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers,
    });
    if (options.defaultMetrics !== false) collectDefaultMetrics({ register: this.registry });
  }

  // ------------------------------------------------------------------ observer

  callsChanged(calls: Call[]): void {
    for (const call of calls) {
      // A new call is written with version 0 (expected version -1, plus one).
      if (call.version === 0 && !this.seen.has(call.id)) {
        this.seen.add(call.id);
        this.created.inc({ kind: call.kind });
      }
      const before = this.live.get(call.id);
      if (call.state === 'terminated') {
        if (this.ended.has(call.id)) continue; // a late event on an ended call: counted already
        this.ended.add(call.id);
        this.live.delete(call.id);
        this.terminated.set(call.kind, (this.terminated.get(call.kind) ?? 0) + 1);
        if (call.redirect && call.kind === 'incoming') {
          // Accepted and ended in one unit of work (every target busy or unreachable): count the acceptance too.
          if (before?.state !== 'redirecting') this.redirectsAccepted.inc();
          const outcome = redirectOutcome(call);
          this.redirects.inc({ outcome, code: String(call.resultInfo?.code ?? 0), subcode: String(call.resultInfo?.subcode ?? 0) });
          const end = call.endedAt ?? call.redirect.acceptedAt;
          this.ringSeconds.observe({ outcome }, Math.max(0, end - call.redirect.acceptedAt) / 1000);
        }
        continue;
      }
      if (call.state === 'redirecting' && before?.state !== 'redirecting' && call.kind === 'incoming') this.redirectsAccepted.inc();
      this.live.set(call.id, { kind: call.kind, state: call.state });
    }
  }

  timerFired(name: string, latenessMs: number): void {
    this.timerLateness.observe({ timer: timerFamily(name) }, latenessMs / 1000);
  }

  notificationAttempted(row: OutboxRow, outcome: { status?: number; error?: string; accepted: boolean; dead: boolean; durationMs: number }): void {
    const result = outcome.accepted ? 'delivered' : outcome.dead ? 'dead' : 'retry';
    this.deliveries.inc({ status: outcome.status !== undefined ? String(outcome.status) : 'error', outcome: result });
    this.deliverySeconds.observe({ outcome: result }, outcome.durationMs / 1000);
  }

  /**
   * Notifications neither delivered nor dead. The store lists the first undelivered notification of each
   * call (`deliverable`, whatever its due time); the calls it names are the only ones with any waiting, so
   * the cost follows the backlog, not the number of calls. Capped at 10,000 calls per scrape.
   */
  private async outboxDepth(): Promise<number> {
    const { store } = this.options;
    const heads = await store.deliverable(Number.MAX_SAFE_INTEGER, 10_000);
    let depth = 0;
    for (const callId of new Set(heads.map((r) => r.callId))) {
      depth += (await store.notificationsOf(callId)).filter((r) => !r.delivered && !r.dead).length;
    }
    return depth;
  }

  // ------------------------------------------------------------------ HTTP

  /** Counts every request by its route pattern (install before the routes). */
  instrument(app: FastifyInstance): void {
    app.addHook('onResponse', (request, reply, done) => {
      const route = request.routeOptions.url ?? 'unmatched';
      const method = request.method;
      this.httpRequests.inc({ method, route, status_code: String(reply.statusCode) });
      this.httpSeconds.observe({ method, route }, reply.elapsedTime / 1000);
      done();
    });
  }

  async register(app: FastifyInstance): Promise<void> {
    app.get(
      '/metrics',
      {
        schema: {
          summary: 'Prometheus metrics (text exposition format); no key needed',
          tags: ['Observability'],
        },
        config: {
          openapi: {
            responses: {
              '200': { description: 'Metrics in the Prometheus text format.', content: { 'text/plain; version=0.0.4': { schema: { type: 'string' } } } },
            },
          },
        },
      },
      async (_request, reply) => {
        const text = await this.registry.metrics();
        return reply.type(this.registry.contentType).send(text);
      },
    );
  }
}
