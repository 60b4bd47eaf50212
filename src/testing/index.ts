/**
 * `switchboard/testing` — a testing kit for calling-bot projects. It starts a real Switchboard in the test's
 * process (HTTPS on a free port, virtual clock, a temporary data dir removed on close) with a directory given
 * as an object, plus a built-in HTTPS receiver for notifications, and drives the simulated telephony plane:
 *
 * ```ts
 * import { startTestSwitchboard } from 'switchboard/testing';
 * const kit = await startTestSwitchboard({ directory: { tenants: [{ id: TENANT,
 *   applications: [{ id: BOT, clientSecret: 's', roles: ['Calls.Initiate.All'], callbackUri: 'kit:/api/calls' }],
 *   users: [{ id: ADELE }, { id: TEST_USER, behaviour: { answerAfter: 3 } }] }] } });
 * kit.onNotification((post) => myBot.handle(post.raw, post.headers));   // optional: your webhook logic
 * const callId = await kit.placeCall({ tenantId: TENANT, from: { userId: ADELE }, to: { applicationId: BOT } });
 * await kit.nextNotification({ callId, changeType: 'updated', state: 'redirecting' });
 * await kit.advance(3);                                                  // virtual seconds, instantly
 * const ended = await kit.nextNotification({ callId, changeType: 'deleted' });
 * await kit.close();
 * ```
 *
 * Callback placeholder: an application whose `callbackUri` is `"kit:"` or `"kit:/a/path"` (or that has no
 * `callbackUri`) gets its notifications at the kit's receiver, at that path (default `/apps/<application id>`).
 * Any other `callbackUri` is used as written (your bot's own HTTPS server; pass its CA in `trustCa`).
 *
 * The directory object has the shape of the YAML directory file and goes through the same validation
 * (`parseDirectory`), so every mistake is reported the same way, with its field path.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseDirectory } from '../directory/load.js';
import { ensureDevCertificates } from '../identity/dev-ca.js';
import { startSwitchboard, type RunningSwitchboard } from '../switchboard.js';
import { msalNetworkClient, trustingFetch, type FetchLike, type MsalNetworkClientOptions, type MsalNetworkModule } from './network.js';
import { NotificationReceiver, type KitNotification, type NotificationFilter, type NotificationHandler } from './receiver.js';

export { msalNetworkClient, trustingFetch } from './network.js';
export type { FetchLike, MsalNetworkClientOptions, MsalNetworkModule, MsalNetworkRequestOptions, MsalNetworkResponse, TrustingFetch } from './network.js';
export type { KitNotification, NotificationFilter, NotificationHandler, NotifiedCall, ReceivedPost } from './receiver.js';

/** The scope every Graph client asks for (Switchboard issues tokens for it, as Azure AD does). */
export const GRAPH_SCOPE = 'https://graph.microsoft.com/.default';

// --- The directory, as an object (the YAML file's shape) ------------------------------------------

export interface KitBehaviour {
  answerAfter?: number;
  decline?: true;
  after?: number;
  busy?: true;
  noAnswer?: true;
  unreachable?: true;
  manual?: true;
  forwardTo?: string;
}
export interface KitApplication {
  id: string;
  displayName?: string;
  clientSecret?: string;
  certificate?: string;
  /** As in the file: without `Calls.Initiate.All` the bot's Graph calls get 403. */
  roles?: string[];
  /** `kit:` / `kit:/path` (or omitted): the kit's receiver. Anything else: used as written. */
  callbackUri?: string;
  instances?: Array<{ id: string; displayName?: string; phone?: string }>;
  behaviour?: KitBehaviour;
}
export interface KitUser {
  id: string;
  displayName?: string;
  behaviour?: KitBehaviour;
}
export interface KitTenant {
  id: string;
  displayName?: string;
  applications?: KitApplication[];
  users?: KitUser[];
}
export interface KitDirectory {
  tenants: KitTenant[];
  phones?: Array<{ number: string; displayName?: string; behaviour?: KitBehaviour }>;
  admin?: { key: string };
  limits?: { requestsPer15Seconds?: number; bodyBytes?: number };
  notifications?: { allowHosts?: string[]; giveUpAfterSeconds?: number };
}

export interface TestSwitchboardOptions {
  directory: KitDirectory;
  /** Default `virtual`: timers move only with `advance()`. `real` runs them on the wall clock. */
  clock?: 'virtual' | 'real';
  /** Extra CA certificates (PEM) Switchboard trusts for webhooks: your bot's own HTTPS receiver's CA. */
  trustCa?: string[];
  /** Switchboard's log level (default `silent`, or `$SWITCHBOARD_TEST_LOG`). */
  logLevel?: string;
  /** Values for `${NAME}` in directory strings (default `process.env`), as for the file. */
  env?: Record<string, string | undefined>;
}

// --- What the simulator API returns --------------------------------------------------------------

export interface SimulatorTarget {
  id: string;
  identity: Record<string, unknown>;
  presentedCaller: Record<string, unknown>;
  ringState: 'ringing' | 'answered' | 'declined' | 'busy' | 'noAnswer' | 'cancelled' | 'unreachable' | 'forwarded';
  forwardedTo?: string;
  forwardedFrom?: string;
  ringStartedAt?: string;
  endedAt?: string;
  [property: string]: unknown;
}

/** `GET /simulator/calls/{id}` (contract Part B); times are ISO strings on Switchboard's clock. */
export interface SimulatorRecord {
  id: string;
  tenantId: string;
  applicationId: string;
  state: string;
  resultInfo?: { code: number; subcode: number; message?: string };
  answeredBy?: { identity: Record<string, { id: string; displayName?: string }> };
  createdAt?: string;
  endedAt?: string;
  redirect?: { timeout: number; maskCaller: boolean; maskCallee: boolean; disableForwarding: boolean; acceptedAt: string; ringDeadline: string };
  caller: { identity: Record<string, { id: string; displayName?: string }>; presentedCallee?: Record<string, unknown> };
  callee?: { identity: Record<string, { id: string; displayName?: string }> };
  targets: SimulatorTarget[];
  history: Array<{ at: string; type: string; [detail: string]: unknown }>;
  notifications: Array<{ id: string; changeType: string; state: string; url: string; attempts: Array<{ at: string; status?: number; error?: string }>; delivered: boolean }>;
  [property: string]: unknown;
}

export type CallerRef = { userId: string } | { phone: string };
export type CalleeRef = { applicationId: string } | { applicationInstanceId: string };

export interface TargetActions {
  answer(): Promise<void>;
  decline(): Promise<void>;
  busy(): Promise<void>;
}

export interface TestSwitchboard {
  /** `https://127.0.0.1:PORT`: the Graph base URL (`/v1.0`, `/beta` under it) and the authority host. */
  url: string;
  /** `127.0.0.1:PORT`, for MSAL's `knownAuthorities`. */
  host: string;
  /** `https://127.0.0.1:PORT/{tenantId}`: MSAL's `authority`. */
  authority(tenantId: string): string;
  /** The CA certificate (PEM) to trust for Switchboard and the kit's receiver, and its file (NODE_EXTRA_CA_CERTS). */
  caPem: string;
  caFile: string;
  /** A server certificate for 127.0.0.1 / localhost issued by that CA: Switchboard trusts it for webhooks. */
  tls: { cert: string; key: string };
  adminKey: string;
  /** The running server (engine, store, clock...), for tests that need to look inside. */
  switchboard: RunningSwitchboard;

  /** An MSAL `system.networkClient` that trusts the kit's CA. */
  msalNetworkClient(options?: MsalNetworkClientOptions): MsalNetworkModule;
  /** A ready MSAL `Configuration` for an application of the directory (client secret). */
  msalConfiguration(app: { tenantId: string; clientId: string; clientSecret: string }): {
    auth: { clientId: string; clientSecret: string; authority: string; knownAuthorities: string[] };
    system: { networkClient: MsalNetworkModule };
  };
  /** `fetch` that trusts the kit's CA (undici), and its dispatcher (for Node's fetch: `{ dispatcher }`). */
  fetch: FetchLike;
  dispatcher: import('undici').Agent;
  /** Options for `@microsoft/microsoft-graph-client` `Client.init`/`initWithMiddleware` (plus your authProvider). */
  graphClientOptions(): { baseUrl: string; customHosts: Set<string>; fetchOptions: RequestInit };

  /** The kit receiver's URL for a path: use it as a per-call `callbackUri` in a redirect. */
  callbackUrl(path?: string): string;
  /** Your bot's webhook logic for POSTs to the kit's receiver (its return value is the HTTP status). */
  onNotification(handler: NotificationHandler | undefined): void;
  /** The next accepted notification matching the filter that no earlier call returned (waits up to `timeoutMs`). */
  nextNotification(filter?: NotificationFilter): Promise<KitNotification>;
  /** Every accepted notification so far (taken by nextNotification or not). */
  notifications(filter?: Omit<NotificationFilter, 'timeoutMs'>): KitNotification[];

  /** An incoming call: the bot gets its `created` notification. Returns the call id. */
  placeCall(call: { tenantId: string; from: CallerRef; to: CalleeRef }): Promise<string>;
  /** Moves the virtual clock and fires every timer now due (15 s window, ring timeouts, answerAfter...). */
  advance(seconds: number): Promise<void>;
  /** Switchboard's clock. */
  now(): Promise<Date>;
  /** A ringing target with `manual` behaviour acts. `targetId`: user id or E.164 number. */
  target(callId: string, targetId: string): TargetActions;
  /** The caller hangs up. */
  hangUp(callId: string): Promise<void>;
  /** The simulator's full record of a call. */
  record(callId: string): Promise<SimulatorRecord>;
  /** Waits until every notification due now has been delivered (or has failed once). */
  settle(): Promise<void>;
  close(): Promise<void>;
}

// The dev CA and its server certificate are generated once per process (two RSA keys) and reused.
let cachedCertificates: { ca: string; cert: string; key: string } | undefined;

function certificates(dir: string): { ca: string; cert: string; key: string } {
  if (!cachedCertificates) {
    const dev = ensureDevCertificates(join(dir, 'ca'), ['127.0.0.1', 'localhost']);
    cachedCertificates = { ca: dev.ca, cert: dev.cert, key: dev.key };
  }
  return cachedCertificates;
}

const KIT_SCHEME = 'kit:';

function callbackFor(app: KitApplication, receiver: NotificationReceiver): string {
  const given = app.callbackUri;
  if (given === undefined) return receiver.url(`/apps/${encodeURIComponent(app.id)}`);
  if (!given.startsWith(KIT_SCHEME)) return given;
  const path = given.slice(KIT_SCHEME.length).replace(/^\/\//, '/');
  return receiver.url(path === '' ? `/apps/${encodeURIComponent(app.id)}` : path);
}

/** Starts Switchboard and the kit's receiver; `close()` stops both and removes the temporary data dir. */
export async function startTestSwitchboard(options: TestSwitchboardOptions): Promise<TestSwitchboard> {
  const dir = mkdtempSync(join(tmpdir(), 'switchboard-kit-'));
  let receiver: NotificationReceiver | undefined;
  let sb: RunningSwitchboard | undefined;
  try {
    const tlsMaterial = certificates(dir);
    const caFile = join(dir, 'ca.pem');
    const certFile = join(dir, 'server.pem');
    const keyFile = join(dir, 'server-key.pem');
    writeFileSync(caFile, tlsMaterial.ca);
    writeFileSync(certFile, tlsMaterial.cert);
    writeFileSync(keyFile, tlsMaterial.key, { mode: 0o600 });

    receiver = await NotificationReceiver.start(tlsMaterial);
    // Only well-shaped entries get their callback filled in; anything else reaches the validator as given.
    const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
    const withCallbacks: KitDirectory = {
      ...options.directory,
      tenants: !Array.isArray(options.directory?.tenants)
        ? options.directory?.tenants
        : options.directory.tenants.map((t) =>
            isObject(t) && Array.isArray(t.applications)
              ? { ...t, applications: t.applications.map((a) => (isObject(a) && typeof a.id === 'string' ? { ...a, callbackUri: callbackFor(a, receiver!) } : a)) }
              : t,
          ),
    };
    // JSON is YAML: the object goes through the file's loader and all its checks.
    const directory = parseDirectory(JSON.stringify(withCallbacks, null, 2), 'startTestSwitchboard({ directory })', options.env ?? process.env);

    sb = await startSwitchboard({
      directory,
      host: '127.0.0.1',
      port: 0,
      dataDir: join(dir, 'data'),
      clock: options.clock ?? 'virtual',
      tls: { certFile, keyFile },
      trustCa: [tlsMaterial.ca, ...(options.trustCa ?? [])],
      logLevel: options.logLevel ?? process.env.SWITCHBOARD_TEST_LOG ?? 'silent',
    });
    return createKit(sb, receiver, dir, tlsMaterial, caFile);
  } catch (error) {
    await sb?.close().catch(() => undefined);
    await receiver?.close().catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
}

function createKit(
  sb: RunningSwitchboard,
  receiver: NotificationReceiver,
  dir: string,
  tlsMaterial: { ca: string; cert: string; key: string },
  caFile: string,
): TestSwitchboard {
  const http = trustingFetch(tlsMaterial.ca);
  const host = new URL(sb.url).host;

  const simulator = async (method: 'GET' | 'POST', path: string, body?: unknown): Promise<{ status: number; json: any }> => { // eslint-disable-line @typescript-eslint/no-explicit-any
    const res = await http.fetch(`${sb.url}/simulator${path}`, {
      method,
      headers: { authorization: `Bearer ${sb.adminKey}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    const text = await res.text();
    let json: unknown;
    try {
      json = text ? JSON.parse(text) : undefined;
    } catch {
      json = undefined;
    }
    return { status: res.status, json };
  };
  const expect = async (what: string, status: number, method: 'GET' | 'POST', path: string, body?: unknown) => {
    const res = await simulator(method, path, body);
    if (res.status !== status) {
      const message = (res.json as { error?: { message?: string } } | undefined)?.error?.message ?? JSON.stringify(res.json);
      throw new Error(`${what}: Switchboard answered ${res.status}: ${message}`);
    }
    return res.json;
  };

  let closed = false;
  const kit: TestSwitchboard = {
    url: sb.url,
    host,
    authority: (tenantId) => `${sb.url}/${tenantId}`,
    caPem: tlsMaterial.ca,
    caFile,
    tls: { cert: tlsMaterial.cert, key: tlsMaterial.key },
    adminKey: sb.adminKey,
    switchboard: sb,

    msalNetworkClient: (opts) => msalNetworkClient(tlsMaterial.ca, opts),
    msalConfiguration: ({ tenantId, clientId, clientSecret }) => ({
      auth: { clientId, clientSecret, authority: `${sb.url}/${tenantId}`, knownAuthorities: [host] },
      system: { networkClient: msalNetworkClient(tlsMaterial.ca) },
    }),
    fetch: http.fetch,
    dispatcher: http.dispatcher,
    // Node's fetch takes undici's Agent as `dispatcher`; the cast bridges @types/node's copy of undici's types.
    graphClientOptions: () => ({ baseUrl: sb.url, customHosts: new Set([new URL(sb.url).hostname]), fetchOptions: { dispatcher: http.dispatcher } as unknown as RequestInit }),

    callbackUrl: (path = '/') => receiver.url(path),
    onNotification: (handler) => receiver.setHandler(handler),
    nextNotification: (filter) => receiver.next(filter),
    notifications: (filter) => receiver.all(filter),

    async placeCall(call) {
      const json = await expect('placeCall', 201, 'POST', '/calls', call);
      return (json as { id: string }).id;
    },
    async advance(seconds) {
      await expect(`advance(${seconds})`, 200, 'POST', '/clock/advance', { seconds });
    },
    async now() {
      const json = await expect('now', 200, 'GET', '/clock');
      return new Date((json as { now: string }).now);
    },
    target(callId, targetId) {
      const act = (action: 'answer' | 'decline' | 'busy') => async () => {
        await expect(`target ${targetId} ${action}`, 204, 'POST', `/calls/${encodeURIComponent(callId)}/targets/${encodeURIComponent(targetId)}/${action}`);
      };
      return { answer: act('answer'), decline: act('decline'), busy: act('busy') };
    },
    async hangUp(callId) {
      await expect('hangUp', 204, 'POST', `/calls/${encodeURIComponent(callId)}/hangup`);
    },
    async record(callId) {
      return (await expect('record', 200, 'GET', `/calls/${encodeURIComponent(callId)}`)) as SimulatorRecord;
    },
    settle: () => sb.deliverer.idle(),
    async close() {
      if (closed) return;
      closed = true;
      try {
        await sb.close();
      } finally {
        await receiver.close();
        await http.close();
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
  return kit;
}
