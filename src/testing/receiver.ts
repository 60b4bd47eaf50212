/**
 * testing/receiver — the kit's built-in HTTPS notification receiver. Switchboard POSTs the notifications
 * of every application whose directory entry says `callbackUri: "kit:"` (or `kit:/some/path`, or leaves
 * it out) here. Each POST is handed to the test's handler, if one is set (its status is the answer),
 * and every accepted (2xx) notification is queued for `nextNotification`.
 */
import https from 'node:https';
import type { IncomingHttpHeaders } from 'node:http';

/** One notification POST as the receiver got it. */
export interface ReceivedPost {
  /** Path and query of the POST, e.g. `/api/calls`. */
  path: string;
  headers: IncomingHttpHeaders;
  /** The body as sent. */
  raw: string;
  /** The body parsed (a `commsNotifications` object), or undefined if it is not JSON. */
  json: unknown;
}

/** The call as notifications carry it (`resourceData`); only the always-present fields are typed. */
export interface NotifiedCall {
  '@odata.type': string;
  id: string;
  state: string;
  [property: string]: unknown;
}

/** One `commsNotification` out of a POST, with the POST it came in. */
export interface KitNotification {
  changeType: 'created' | 'updated' | 'deleted';
  resource: string;
  resourceUrl: string;
  resourceData: NotifiedCall;
  /** Shortcuts: `resourceData.id` and `resourceData.state`. */
  callId: string;
  state: string;
  /** The whole POST (path, headers incl. the `Authorization` JWT, raw body): hand it to your bot's handler. */
  request: ReceivedPost;
}

/**
 * Your bot's webhook logic, called for each POST: return the HTTP status to answer (default 202).
 * Throwing answers 500 (and Switchboard retries later, as Microsoft does).
 */
export type NotificationHandler = (post: ReceivedPost) => number | void | Promise<number | void>;

export interface NotificationFilter {
  callId?: string;
  changeType?: 'created' | 'updated' | 'deleted';
  /** The call state the notification carries, e.g. `redirecting`, `terminated`. */
  state?: string;
  /** Only POSTs to this path (e.g. a per-call callbackUri's path). */
  path?: string;
  /** Real milliseconds to wait before failing. Default 5000. */
  timeoutMs?: number;
}

export class NotificationReceiver {
  private readonly queue: Array<{ notification: KitNotification; taken: boolean }> = [];
  private waiters: Array<() => void> = [];
  private handler: NotificationHandler | undefined;

  private constructor(
    private readonly server: https.Server,
    readonly port: number,
  ) {}

  static async start(tls: { cert: string; key: string }, host = '127.0.0.1'): Promise<NotificationReceiver> {
    let receiver: NotificationReceiver | undefined;
    const server = https.createServer({ cert: tls.cert, key: tls.key }, (req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        void receiver?.receive(req.url ?? '/', req.headers, Buffer.concat(chunks).toString('utf8')).then((status) => {
          res.writeHead(status).end();
        });
      });
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, host, () => resolve());
    });
    const address = server.address();
    receiver = new NotificationReceiver(server, typeof address === 'object' && address ? address.port : 0);
    return receiver;
  }

  url(path = '/'): string {
    return `https://127.0.0.1:${this.port}${path.startsWith('/') ? path : `/${path}`}`;
  }

  setHandler(handler: NotificationHandler | undefined): void {
    this.handler = handler;
  }

  private async receive(path: string, headers: IncomingHttpHeaders, raw: string): Promise<number> {
    let json: unknown;
    try {
      json = JSON.parse(raw);
    } catch {
      json = undefined;
    }
    const post: ReceivedPost = { path, headers, raw, json };
    let status = 202;
    if (this.handler) {
      try {
        status = (await this.handler(post)) ?? 202;
      } catch {
        status = 500;
      }
    }
    if (status >= 200 && status < 300) {
      const value = (json as { value?: unknown } | undefined)?.value;
      for (const item of Array.isArray(value) ? value : []) {
        const n = item as Omit<KitNotification, 'callId' | 'state' | 'request'>;
        if (!n?.resourceData?.id) continue;
        this.queue.push({ notification: { ...n, callId: n.resourceData.id, state: n.resourceData.state, request: post }, taken: false });
      }
      for (const wake of this.waiters.splice(0)) wake();
    }
    return status;
  }

  private matches(n: KitNotification, f: NotificationFilter): boolean {
    return (
      (f.callId === undefined || n.callId === f.callId) &&
      (f.changeType === undefined || n.changeType === f.changeType) &&
      (f.state === undefined || n.state === f.state) &&
      (f.path === undefined || n.request.path === f.path)
    );
  }

  /** Every accepted notification so far, in arrival order (taken or not). */
  all(filter: Omit<NotificationFilter, 'timeoutMs'> = {}): KitNotification[] {
    return this.queue.filter((e) => this.matches(e.notification, filter)).map((e) => e.notification);
  }

  /**
   * The oldest accepted notification matching `filter` that no earlier call returned; waits for it (real
   * time) if none has arrived yet. Notifications that do not match stay queued for later calls.
   */
  async next(filter: NotificationFilter = {}): Promise<KitNotification> {
    const until = Date.now() + (filter.timeoutMs ?? 5000);
    for (;;) {
      const entry = this.queue.find((e) => !e.taken && this.matches(e.notification, filter));
      if (entry) {
        entry.taken = true;
        return entry.notification;
      }
      const left = until - Date.now();
      if (left <= 0) {
        const wanted = [filter.changeType ?? 'any notification', filter.state ? `state ${filter.state}` : '', filter.callId ? `of call ${filter.callId}` : '', filter.path ? `to ${filter.path}` : '']
          .filter(Boolean)
          .join(' ');
        const seen = this.queue
          .filter((e) => filter.callId === undefined || e.notification.callId === filter.callId)
          .map((e) => `${e.notification.changeType}/${e.notification.state}${e.taken ? ' (taken)' : ''}`);
        throw new Error(`nextNotification: no ${wanted} within ${filter.timeoutMs ?? 5000} ms; received [${seen.join(', ')}]`);
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.min(left, 250));
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const wake of this.waiters.splice(0)) wake();
  }
}
