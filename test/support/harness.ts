/**
 * End-to-end support: a real Switchboard over HTTPS (in this process, virtual clock, SQLite in a temp dir),
 * a real HTTPS bot receiver for notifications, and a client that gets real tokens from the token endpoint.
 * Nothing of Switchboard is mocked.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import https from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent, request } from 'undici';
import pino from 'pino';
import { ensureDevCertificates } from '../../src/identity/dev-ca.js';
import type { Directory } from '../../src/directory/model.js';
import { callFromCaller } from './fixtures.js';
import { startSwitchboard, type RunningSwitchboard, type SwitchboardOptions } from '../../src/switchboard.js';

export const GRAPH_SCOPE = 'https://graph.microsoft.com/.default';

export interface ReceivedRequest {
  path: string;
  headers: Record<string, string | string[] | undefined>;
  raw: string;
  json: unknown;
}

export interface Notification {
  changeType: string;
  resourceUrl: string;
  resourceData: Record<string, unknown> & { id: string; state: string };
}

/** The bot's HTTPS endpoint: records every POST and answers `status()` (202 unless told otherwise). */
export class BotReceiver {
  readonly received: ReceivedRequest[] = [];
  status: (req: ReceivedRequest) => number = () => 202;
  private waiters: Array<() => void> = [];
  private constructor(
    private readonly server: https.Server,
    readonly port: number,
    readonly caPem: string,
  ) {}

  static async start(dir: string): Promise<BotReceiver> {
    const certs = ensureDevCertificates(dir, ['127.0.0.1']);
    let receiver: BotReceiver | undefined;
    const server = https.createServer({ cert: certs.cert, key: certs.key }, (req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const raw = Buffer.concat(chunks).toString('utf8');
        let json: unknown;
        try {
          json = JSON.parse(raw);
        } catch {
          json = undefined;
        }
        const record: ReceivedRequest = { path: req.url ?? '', headers: req.headers, raw, json };
        const status = receiver?.status(record) ?? 202;
        if (status >= 200 && status < 300) receiver?.received.push(record);
        res.writeHead(status).end();
        for (const wake of receiver?.waiters.splice(0) ?? []) wake();
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const address = server.address();
    const port = typeof address === 'object' && address ? address.port : 0;
    receiver = new BotReceiver(server, port, readFileSync(certs.caPath, 'utf8'));
    return receiver;
  }

  url(path: string): string {
    return `https://127.0.0.1:${this.port}${path}`;
  }

  /** Every accepted notification, flattened, in arrival order. */
  notifications(callId?: string): Array<Notification & { path: string; request: ReceivedRequest }> {
    const out: Array<Notification & { path: string; request: ReceivedRequest }> = [];
    for (const r of this.received) {
      const value = (r.json as { value?: Notification[] } | undefined)?.value ?? [];
      for (const n of value) if (!callId || n.resourceData?.id === callId) out.push({ ...n, path: r.path, request: r });
    }
    return out;
  }

  /** Waits (real time, a few seconds at most) for a notification of the call with this changeType/state. */
  async waitFor(callId: string, changeType: string, state?: string, timeoutMs = 5000): Promise<Notification & { path: string; request: ReceivedRequest }> {
    const until = Date.now() + timeoutMs;
    for (;;) {
      const found = this.notifications(callId).find((n) => n.changeType === changeType && (!state || n.resourceData.state === state));
      if (found) return found;
      const left = until - Date.now();
      if (left <= 0) {
        const seen = this.notifications(callId).map((n) => `${n.changeType}/${n.resourceData.state}`);
        throw new Error(`no ${changeType}${state ? `/${state}` : ''} notification for call ${callId}; saw [${seen.join(', ')}]`);
      }
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, Math.min(left, 200));
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

export interface HttpResult {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  json: any; // eslint-disable-line @typescript-eslint/no-explicit-any -- test convenience
}

/** A test's view of one running Switchboard. */
export class Harness {
  private readonly agent: Agent;
  private tokens = new Map<string, string>();

  private constructor(
    readonly sb: RunningSwitchboard,
    readonly receiver: BotReceiver,
    readonly dir: string,
    readonly options: SwitchboardOptions,
  ) {
    this.agent = new Agent({ connect: { ca: sb.caPem ?? '' } });
  }

  /** `directory` gets the receiver's URL through `callback(path)`. */
  static async start(
    makeDirectory: (callback: (path: string) => string) => Directory,
    options: Partial<SwitchboardOptions> = {},
    existing?: { dir: string; receiver: BotReceiver },
  ): Promise<Harness> {
    const dir = existing?.dir ?? mkdtempSync(join(tmpdir(), 'switchboard-test-'));
    const receiver = existing?.receiver ?? (await BotReceiver.start(join(dir, 'bot')));
    const full: SwitchboardOptions = {
      directory: makeDirectory((path) => receiver.url(path)),
      port: 0,
      dataDir: join(dir, 'data'),
      clock: 'virtual',
      logger: pino({ level: process.env.SWITCHBOARD_TEST_LOG ?? 'silent' }),
      trustCa: [receiver.caPem],
      ...options,
    };
    const sb = await startSwitchboard(full);
    return new Harness(sb, receiver, dir, full);
  }

  /** Stops Switchboard (not the receiver) and starts it again on the same data dir, like a process restart. */
  async restart(): Promise<Harness> {
    await this.sb.close();
    await this.agent.close();
    const sb = await startSwitchboard(this.options);
    return new Harness(sb, this.receiver, this.dir, this.options);
  }

  async close(): Promise<void> {
    await this.sb.close();
    await this.agent.close();
    await this.receiver.close();
    rmSync(this.dir, { recursive: true, force: true });
  }

  async http(
    method: 'GET' | 'POST' | 'DELETE' | 'PUT' | 'PATCH',
    path: string,
    init: { body?: unknown; raw?: string; form?: Record<string, string>; token?: string; headers?: Record<string, string> } = {},
  ): Promise<HttpResult> {
    const headers: Record<string, string> = { ...(init.headers ?? {}) };
    if (init.token) headers.authorization = `Bearer ${init.token}`;
    let body: string | undefined;
    if (init.form) {
      body = new URLSearchParams(init.form).toString();
      headers['content-type'] = 'application/x-www-form-urlencoded';
    } else if (init.raw !== undefined) {
      body = init.raw;
      headers['content-type'] ??= 'application/json';
    } else if (init.body !== undefined) {
      body = JSON.stringify(init.body);
      headers['content-type'] = 'application/json';
    }
    const res = await request(`${this.sb.url}${path}`, { method, headers, dispatcher: this.agent, ...(body !== undefined ? { body } : {}) });
    const text = await res.body.text();
    let json: unknown;
    try {
      json = text ? JSON.parse(text) : undefined;
    } catch {
      json = undefined;
    }
    return { status: res.statusCode, headers: res.headers, text, json };
  }

  /** A client-credentials token from the token endpoint (cached per client). */
  async token(tenantId: string, clientId: string, clientSecret: string): Promise<string> {
    const key = `${tenantId}/${clientId}`;
    const cached = this.tokens.get(key);
    if (cached) return cached;
    const res = await this.http('POST', `/${tenantId}/oauth2/v2.0/token`, {
      form: { grant_type: 'client_credentials', client_id: clientId, client_secret: clientSecret, scope: GRAPH_SCOPE },
    });
    if (res.status !== 200) throw new Error(`token: ${res.status} ${res.text}`);
    this.tokens.set(key, res.json.access_token as string);
    return res.json.access_token as string;
  }

  simulator(method: 'GET' | 'POST', path: string, body?: unknown): Promise<HttpResult> {
    return this.http(method, `/simulator${path}`, { token: this.sb.adminKey, ...(body !== undefined ? { body } : {}) });
  }

  async placeCall(body: unknown): Promise<string> {
    const res = await this.simulator('POST', '/calls', body);
    if (res.status !== 201) throw new Error(`place call: ${res.status} ${res.text}`);
    return res.json.id as string;
  }

  /** A call placed to a bot (by default Adele's caller → the test bot), once the bot has its `created` notification. */
  async incomingCall(body: unknown = callFromCaller): Promise<string> {
    const id = await this.placeCall(body);
    await this.receiver.waitFor(id, 'created');
    return id;
  }

  async advance(seconds: number): Promise<void> {
    const res = await this.simulator('POST', '/clock/advance', { seconds });
    if (res.status !== 200) throw new Error(`advance: ${res.status} ${res.text}`);
  }

  async record(callId: string): Promise<any> { // eslint-disable-line @typescript-eslint/no-explicit-any
    const res = await this.simulator('GET', `/calls/${callId}`);
    if (res.status !== 200) throw new Error(`record: ${res.status} ${res.text}`);
    return res.json;
  }

  /** Waits until every notification due now has been delivered (or failed once). */
  async settle(): Promise<void> {
    await this.sb.deliverer.idle();
  }
}
