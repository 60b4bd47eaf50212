/**
 * The composition root: builds one Switchboard (store, clock, keys, plane, notifications, engine, HTTPS
 * server) from options. The CLI and the tests start Switchboard through `startSwitchboard` alone.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import Fastify, { type FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { CallEngine } from './calls/engine.js';
import { Observers } from './calls/observer.js';
import { RealClock, VirtualClock, type Clock } from './clock/clock.js';
import { DirectoryIndex, type Directory } from './directory/model.js';
import { installGraphErrors, newRequestId, sendClientError, sendFrameworkError } from './http/errors.js';
import { fastifyServerLimits, httpsServerLimits, installRequestLimits, type ServerTimeouts } from './http/limits.js';
import { registerGraphRoutes } from './http/graph-routes.js';
import { Dashboard } from './http/dashboard/index.js';
import { Metrics } from './http/metrics.js';
import { OpenApi } from './http/openapi.js';
import { registerSimulatorRoutes } from './http/simulator-routes.js';
import { ensureDevCertificates } from './identity/dev-ca.js';
import { SigningKeys } from './identity/keys.js';
import { secureLogger } from './identity/redaction.js';
import { registerIdentityRoutes } from './identity/routes.js';
import { signNotificationToken, verifyAccessToken } from './identity/tokens.js';
import { CallbackConfigurationError, CallbackPolicy } from './notifications/callback-policy.js';
import { Deliverer } from './notifications/delivery.js';
import { SimulatedPlane } from './planes/simulated/plane.js';
import { openStore } from './store/open.js';
import { createLogger, installRequestContext, RequestLogController, requestChildLogger } from './logging.js';
import type { Store } from './store/store.js';

export interface SwitchboardOptions {
  directory: Directory;
  host?: string;
  /** 0 picks a free port. */
  port?: number;
  /** Default `./.switchboard`. */
  dataDir?: string;
  /** `sqlite:<file>` (default `sqlite:<dataDir>/switchboard.db`), `sqlite::memory:`. */
  store?: string;
  clock?: 'real' | 'virtual';
  /** PEM files; without them a dev CA under the data dir issues the server certificate. */
  tls?: { certFile: string; keyFile: string };
  /** Operator mode turns the simulator API off (404). */
  simulator?: boolean;
  logLevel?: string;
  logger?: Logger;
  /** Extra CA certificates (PEM) trusted for webhooks, besides the system CAs, NODE_EXTRA_CA_CERTS and the dev CA. */
  trustCa?: string[];
  /** Tests only: shorter slow-client timeouts (default 10 s headers, 30 s request) and key re-read interval (default 5 s). */
  timing?: Partial<ServerTimeouts> & { keyReloadIntervalMs?: number };
}

export interface RunningSwitchboard {
  url: string;
  host: string;
  port: number;
  /** The dev CA's certificate file, when Switchboard issued its own certificate. */
  caFile?: string;
  /** The CA (or certificate) PEM a client should trust to reach this server. */
  caPem?: string;
  adminKey: string;
  adminKeyGenerated: boolean;
  engine: CallEngine;
  store: Store;
  keys: SigningKeys;
  clock: Clock;
  deliverer: Deliverer;
  /** Register metrics or live-feed observers here. */
  observers: Observers;
  app: FastifyInstance;
  close(): Promise<void>;
}

export async function startSwitchboard(options: SwitchboardOptions): Promise<RunningSwitchboard> {
  const host = options.host ?? '127.0.0.1';
  const dataDir = resolve(options.dataDir ?? '.switchboard');
  mkdirSync(dataDir, { recursive: true });
  // JSON lines (pretty on a TTY), secrets redacted, reqId/callId on lines about a request or a call: logging.ts.
  const logger = secureLogger(options.logger ?? createLogger({ level: options.logLevel ?? 'info' }));
  const directory = new DirectoryIndex(options.directory);
  // Callback URLs (Part B): operator mode refuses to start on a directory callback URI it would never call.
  const callbackPolicy = new CallbackPolicy({ allowHosts: options.directory.notifications.allowHosts, devMode: options.simulator !== false });
  const refusedCallbacks = callbackPolicy.directoryProblems(options.directory.tenants.flatMap((t) => t.applications));
  if (refusedCallbacks.length > 0 && !callbackPolicy.devMode) throw new CallbackConfigurationError(refusedCallbacks);
  for (const problem of refusedCallbacks) logger.warn(`notifications will not be delivered: ${problem}`);
  const store = await openStore(options.store ?? `sqlite:${join(dataDir, 'switchboard.db')}`);
  try {
    let clock: Clock;
    if (options.clock === 'virtual') {
      const saved = await store.clockNow();
      const virtual = new VirtualClock(saved ?? Date.now());
      if (saved === undefined) await store.setClockNow(virtual.now());
      clock = virtual;
    } else {
      clock = new RealClock();
    }
    const keys = await SigningKeys.load(store);
    if (options.timing?.keyReloadIntervalMs !== undefined) keys.reloadIntervalMs = options.timing.keyReloadIntervalMs;

    let tls: { cert: string; key: string };
    let caFile: string | undefined;
    let caPem: string | undefined;
    if (options.tls) {
      tls = { cert: readFileSync(options.tls.certFile, 'utf8'), key: readFileSync(options.tls.keyFile, 'utf8') };
    } else {
      const dev = ensureDevCertificates(dataDir, [host]);
      tls = { cert: dev.cert, key: dev.key };
      caFile = dev.caPath;
      caPem = readFileSync(dev.caPath, 'utf8');
    }

    const observers = new Observers();
    const metrics = new Metrics({ store });
    observers.add(metrics);
    // Several processes on one PostgreSQL share timers and the outbox through leases (real clock): a dead
    // process's work is taken over once its leases expire (12 s; the contract allows 15 s).
    const owner = randomUUID();
    const shared = store.kind === 'postgres' ? { owner, leaseMs: 12_000, pollMs: 1_000 } : undefined;
    const deliverer = new Deliverer({
      ...(shared ? { shared: { owner, leaseMs: shared.leaseMs } } : {}),
      observers,
      store,
      clock,
      logger,
      sign: (audience) => signNotificationToken(keys, audience),
      giveUpAfterSeconds: options.directory.notifications.giveUpAfterSeconds,
      callbackPolicy,
      extraCa: [...(caPem ? [caPem] : []), ...(options.trustCa ?? [])],
    });
    const engine = new CallEngine({
      ...(shared ? { shared } : {}),
      store,
      clock,
      plane: new SimulatedPlane(() => directory),
      directory: () => directory,
      deliverer,
      logger,
      observers,
    });

    const configuredKey = options.directory.admin?.key;
    const adminKey = configuredKey ?? randomBytes(24).toString('base64url');
    const dashboard = new Dashboard({ engine, store, directory: () => directory, adminKey, simulator: options.simulator !== false });
    observers.add(dashboard.observer);

    // Typed as the plain instance the route modules take (the https server and pino logger generics differ only in name).
    const app = Fastify({
      // Limits (http/limits.ts): 16 KiB headers, slow-client timeouts, TLS handshake timeout, path segments.
      https: { cert: tls.cert, key: tls.key, ...httpsServerLimits(options.timing) },
      ...fastifyServerLimits(options.timing),
      frameworkErrors: sendFrameworkError,
      clientErrorHandler: sendClientError,
      loggerInstance: logger,
      genReqId: newRequestId,
      bodyLimit: options.directory.limits.bodyBytes,
      ajv: { customOptions: { coerceTypes: false, removeAdditional: false, useDefaults: false, allErrors: true } },
      return503OnClosing: true,
      childLoggerFactory: requestChildLogger,
      // One line per request at info, not fastify's two (logging.ts).
      logController: new RequestLogController(),
    }) as unknown as FastifyInstance;
    installGraphErrors(app);
    installRequestLimits(app, options.timing);
    // Before any route: the OpenAPI collector (onRoute), request context for logs, metrics and timeline hooks.
    const openapi = new OpenApi();
    openapi.collect(app);
    installRequestContext(app, logger);
    metrics.instrument(app);
    dashboard.instrument(app);
    let baseUrl = '';
    await registerIdentityRoutes(app, { directory, keys, baseUrl: () => baseUrl });
    await registerGraphRoutes(app, {
      engine,
      callbackPolicy,
      throttle: options.directory.limits.requestsPer15Seconds,
      authenticate: async (authorization) => {
        const claims = await verifyAccessToken(keys, authorization);
        return { tenantId: claims.tid, applicationId: claims.appid };
      },
    });
    if (options.simulator !== false) await registerSimulatorRoutes(app, { engine, store, adminKey });
    await openapi.register(app);
    await metrics.register(app);
    await dashboard.register(app);

    await app.listen({ host, port: options.port ?? 8443 });
    const address = app.server.address();
    const port = typeof address === 'object' && address ? address.port : (options.port ?? 8443);
    const urlHost = host.includes(':') ? `[${host}]` : host;
    baseUrl = `https://${urlHost}:${port}`;
    await engine.start();

    let closed = false;
    return {
      url: baseUrl,
      host,
      port,
      ...(caFile ? { caFile } : {}),
      ...(caPem ? { caPem } : {}),
      adminKey,
      adminKeyGenerated: configuredKey === undefined,
      engine,
      store,
      keys,
      clock,
      deliverer,
      observers,
      app,
      async close() {
        if (closed) return;
        closed = true;
        await app.close();
        await engine.stop();
        await deliverer.stop();
        await store.close();
      },
    };
  } catch (error) {
    await store.close();
    throw error;
  }
}
