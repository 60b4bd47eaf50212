/**
 * The dashboard's live feed: server-sent events fed by the engine's observers. A new subscriber first gets
 * a `snapshot` (the most recent calls, summarised), then `calls` events carrying only the calls that changed
 * (coalesced: one event per 50 ms at most, whatever the load), the ids of calls whose notifications or Graph
 * requests moved (`touched`, so an open timeline refreshes itself), and Switchboard's clock with each event
 * (`clock` events when only the clock moved: a virtual clock advanced, or a heartbeat every 15 s).
 * Every event carries `now`/`mode` so the page computes ages and time left against Switchboard's clock.
 *
 * A subscriber that cannot keep up (more than 8 MiB buffered) is disconnected; its page reconnects and gets
 * a fresh snapshot, which is cheaper than queueing without bound.
 */
import type { ServerResponse } from 'node:http';
import type { Call } from '../../calls/model.js';
import type { CallObserver } from '../../calls/observer.js';
import type { Clock } from '../../clock/clock.js';
import type { OutboxRow } from '../../store/store.js';
import { summarize, type CallSummary } from './summary.js';

interface Subscriber {
  raw: ServerResponse;
  ready: boolean;
  backlog: string[];
}

const MAX_BUFFERED = 8 * 1024 * 1024;

export class LiveFeed implements CallObserver {
  private readonly subscribers = new Set<Subscriber>();
  private readonly pending = new Map<string, CallSummary>();
  private readonly touched = new Set<string>();
  private clockMoved = false;
  private flushTimer: NodeJS.Timeout | undefined;
  private heartbeat: NodeJS.Timeout | undefined;
  private seq = 0;
  private closed = false;

  constructor(
    private readonly clock: Clock,
    private readonly snapshot: () => Promise<CallSummary[]>,
    private readonly flushMs = 50,
  ) {}

  get size(): number {
    return this.subscribers.size;
  }

  // ------------------------------------------------------------------ observer (never throws, never blocks)

  callsChanged(calls: Call[]): void {
    if (this.subscribers.size === 0) return;
    for (const call of calls) this.pending.set(call.id, summarize(call));
    this.schedule();
  }

  notificationAttempted(row: OutboxRow): void {
    this.touch(row.callId);
  }

  /** Something shown in a call's timeline moved (a Graph request, a delivery attempt). */
  touch(callId: string): void {
    if (this.subscribers.size === 0) return;
    this.touched.add(callId);
    this.schedule();
  }

  clockChanged(): void {
    if (this.subscribers.size === 0) return;
    this.clockMoved = true;
    this.schedule();
  }

  // ------------------------------------------------------------------ subscribers

  /** Takes over the response: headers, the snapshot, then live events until the client goes. */
  async subscribe(raw: ServerResponse, headers: Record<string, string | number | string[] | undefined>): Promise<void> {
    const subscriber: Subscriber = { raw, ready: false, backlog: [] };
    raw.writeHead(200, {
      ...Object.fromEntries(Object.entries(headers).filter(([, v]) => v !== undefined)),
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      'x-accel-buffering': 'no',
      connection: 'keep-alive',
    });
    raw.write('retry: 2000\n\n');
    this.subscribers.add(subscriber);
    this.ensureHeartbeat();
    raw.on('close', () => {
      this.subscribers.delete(subscriber);
      if (this.subscribers.size === 0 && this.heartbeat) {
        clearInterval(this.heartbeat);
        this.heartbeat = undefined;
      }
    });
    let calls: CallSummary[];
    try {
      calls = await this.snapshot();
    } catch {
      raw.end();
      return;
    }
    this.write(subscriber, this.frame('snapshot', { ...this.clockFields(), calls }));
    subscriber.ready = true;
    for (const frame of subscriber.backlog.splice(0)) this.write(subscriber, frame);
  }

  /** Ends every stream (before the server closes: open streams would hold it open). */
  close(): void {
    this.closed = true;
    if (this.flushTimer) clearTimeout(this.flushTimer);
    if (this.heartbeat) clearInterval(this.heartbeat);
    for (const s of this.subscribers) s.raw.end();
    this.subscribers.clear();
  }

  // ------------------------------------------------------------------ internals

  private clockFields(): { now: number; mode: string } {
    return { now: this.clock.now(), mode: this.clock.mode };
  }

  private frame(event: string, data: unknown): string {
    this.seq++;
    return `id: ${this.seq}\nevent: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
  }

  private write(subscriber: Subscriber, frame: string): void {
    if (!subscriber.ready && !frame.includes('event: snapshot\n')) {
      subscriber.backlog.push(frame);
      return;
    }
    if (subscriber.raw.writableLength > MAX_BUFFERED) {
      subscriber.raw.destroy();
      this.subscribers.delete(subscriber);
      return;
    }
    subscriber.raw.write(frame);
  }

  private schedule(): void {
    if (this.flushTimer || this.closed) return;
    this.flushTimer = setTimeout(() => {
      this.flushTimer = undefined;
      this.flush();
    }, this.flushMs);
    this.flushTimer.unref();
  }

  private flush(): void {
    if (this.subscribers.size === 0) {
      this.pending.clear();
      this.touched.clear();
      this.clockMoved = false;
      return;
    }
    let frame: string;
    if (this.pending.size || this.touched.size) {
      frame = this.frame('calls', { ...this.clockFields(), calls: [...this.pending.values()], touched: [...this.touched] });
    } else if (this.clockMoved) {
      frame = this.frame('clock', this.clockFields());
    } else {
      return;
    }
    this.pending.clear();
    this.touched.clear();
    this.clockMoved = false;
    for (const s of [...this.subscribers]) this.write(s, frame);
  }

  private ensureHeartbeat(): void {
    if (this.heartbeat) return;
    this.heartbeat = setInterval(() => {
      const frame = this.frame('clock', this.clockFields());
      for (const s of [...this.subscribers]) this.write(s, frame);
    }, 15_000);
    this.heartbeat.unref();
  }
}
