/**
 * `npm run bench [-- --quick] [-- --out FILE] [-- --only workflow,redirect,prism,ringing,postgres] [-- --sizes JSON]`
 *
 * Measures Switchboard against references run in the same process of measurement (see bench/README.md):
 *   workflow.*  complete redirect workflows (SQLite, real clock, concurrent workers), and the floor: the
 *               same number of HTTPS exchanges against a bare node:https server, same client, same
 *               concurrency, interleaved in rounds with the workflow;
 *   redirect.*  redirect POSTs alone on pre-placed incoming calls (virtual clock);
 *   peer.prism.*  the same redirect POST against Stoplight Prism mocking bench/redirect-openapi.yaml;
 *   ringing.*, timers.*  ≥100,000 calls ringing in one process, memory per call, ring-timeout lateness;
 *   store.postgres.workflowPerSecond  the workflow on PostgreSQL (SWITCHBOARD_BENCH_PG_URL).
 * Prints a table and writes bench/results.json (nested objects). Every server is on 127.0.0.1.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { randomBytes, randomUUID } from 'node:crypto';
import pg from 'pg';
import type { Agent } from 'undici';
import { parsePostgresUrl } from '../src/store/postgres.js';
import { ADMIN_KEY, BOT, TENANT, USERS, placeCallBody, redirectBody, writeBenchDirectory } from './directory.js';
import {
  BENCH_DIR,
  BenchBot,
  ROOT,
  Sample,
  benchAgent,
  exchange,
  expectStatus,
  forEach,
  freePort,
  percentile,
  processCpuMs,
  round,
  runFor,
  sleep,
  startChild,
  waitForLog,
  waitForPort,
  type Child,
} from './support.js';

export type Section = 'workflow' | 'redirect' | 'prism' | 'ringing' | 'postgres';
export const SECTIONS: Section[] = ['workflow', 'redirect', 'prism', 'ringing', 'postgres'];

export interface Sizes {
  /** Concurrent workers (in-flight workflows or requests) for every throughput figure. */
  workers: number;
  /** workflow vs floor: interleaved rounds of `roundMs` each, after `warmMs` of each. */
  rounds: number;
  roundMs: number;
  warmMs: number;
  /** redirect-only: calls placed beforehand; the first `redirectWarm` redirects are not counted. */
  redirectCalls: number;
  redirectWarm: number;
  prismMs: number;
  ringingCalls: number;
  ringingRatePerSecond: number;
  ringingTimeoutSeconds: number;
  ringingWarm: number;
  /** Bounds on slow machines: no call is placed after these. */
  ringingPlaceBudgetSeconds: number;
  redirectPlaceBudgetSeconds: number;
  postgresMs: number;
}

export const FULL: Sizes = {
  workers: 16,
  rounds: 3,
  roundMs: 8_000,
  warmMs: 2_000,
  redirectCalls: 26_000,
  redirectWarm: 4_000,
  prismMs: 10_000,
  ringingCalls: 100_000,
  ringingRatePerSecond: 1_300,
  ringingTimeoutSeconds: 90,
  ringingWarm: 2_000,
  ringingPlaceBudgetSeconds: 80,
  redirectPlaceBudgetSeconds: 40,
  postgresMs: 10_000,
};

export const QUICK: Sizes = {
  workers: 8,
  rounds: 1,
  roundMs: 2_000,
  warmMs: 500,
  redirectCalls: 1_200,
  redirectWarm: 200,
  prismMs: 2_000,
  ringingCalls: 2_000,
  ringingRatePerSecond: 1_000,
  ringingTimeoutSeconds: 15,
  ringingWarm: 200,
  ringingPlaceBudgetSeconds: 5,
  redirectPlaceBudgetSeconds: 6,
  postgresMs: 2_000,
};

export interface BenchOptions {
  quick?: boolean;
  sizes?: Partial<Sizes>;
  /** Where results.json goes (default bench/results.json). */
  out?: string;
  only?: Section[];
  /** PostgreSQL for store.postgres.* (default: SWITCHBOARD_BENCH_PG_URL). */
  pgUrl?: string;
  log?: (line: string) => void;
}

export type Results = Record<string, Record<string, unknown>>;

interface Server {
  child: Child;
  url: string;
  caPem: string;
}

/** The goals of issue 6 (2 cores). */
export const GOALS: Array<{ key: string; op: '>=' | '<='; value: number }> = [
  { key: 'workflow.ratio', op: '>=', value: 0.5 },
  { key: 'redirect.perSecond', op: '>=', value: 3_333 },
  { key: 'ringing.bytesPerCall', op: '<=', value: 5_000 },
  { key: 'timers.p99LatenessMs', op: '<=', value: 50 },
  { key: 'peer.prism.ratio', op: '>=', value: 2 },
];

export async function runBench(options: BenchOptions = {}): Promise<Results> {
  const sizes: Sizes = { ...(options.quick ? QUICK : FULL), ...options.sizes };
  const only = new Set(options.only ?? SECTIONS);
  const log = options.log ?? ((line: string) => process.stdout.write(`${line}\n`));
  const out = options.out ?? join(BENCH_DIR, 'results.json');
  const pgUrl = options.pgUrl ?? process.env.SWITCHBOARD_BENCH_PG_URL;
  const tmp = mkdtempSync(join(tmpdir(), 'switchboard-bench-'));
  const began = Date.now();
  const load: Record<string, number[]> = { start: loadavg().map((n) => round(n, 2)) };
  const results: Results = {
    workflow: {},
    redirect: {},
    ringing: {},
    timers: {},
    peer: { prism: {} },
    store: { postgres: {} },
    meta: {
      quick: Boolean(options.quick),
      date: new Date().toISOString(),
      node: process.version,
      cpus: cpus().length,
      cpuModel: cpus()[0]?.model ?? 'unknown',
      sizes,
      loadavg: load,
    },
  };
  const configFile = join(tmp, 'directory.yaml');
  const bot = await BenchBot.start(join(tmp, 'bot'));
  writeBenchDirectory(configFile, bot.url);
  const children: Child[] = [];
  const agents: Agent[] = [];
  const agent = (caPem?: string): Agent => {
    const a = benchAgent(sizes.workers, caPem);
    agents.push(a);
    return a;
  };

  const startServer = async (name: string, clock: 'real' | 'virtual', store?: string): Promise<Server> => {
    const dir = join(tmp, name);
    mkdirSync(dir, { recursive: true });
    const child = startChild(
      ['--import', 'tsx', join(BENCH_DIR, 'serve.ts'), 'serve', '--config', configFile, '--port', '0', '--data', join(dir, 'data'), '--clock', clock, ...(store ? ['--store', store] : []), ...(process.env.BENCH_SERVER_ARGS?.split(' ').filter(Boolean) ?? [])],
      { logFile: join(dir, 'server.log'), env: { NODE_EXTRA_CA_CERTS: bot.caPath }, switchboard: true },
    );
    children.push(child);
    const [, url] = await waitForLog(child, /listening on (https:\/\/\S+)/);
    const [, caFile] = await waitForLog(child, /dev CA\s+(\S+)/);
    return { child, url: url!, caPem: readFileSync(caFile!, 'utf8') };
  };
  const stop = async (server: { child: Child }): Promise<void> => {
    await server.child.stop();
  };

  const token = async (server: Server, a: Agent): Promise<string> => {
    const form = new URLSearchParams({
      grant_type: 'client_credentials',
      client_id: BOT.id,
      client_secret: BOT.secret,
      scope: 'https://graph.microsoft.com/.default',
    }).toString();
    const res = await exchange(a, `${server.url}/${TENANT}/oauth2/v2.0/token`, 'POST', { 'content-type': 'application/x-www-form-urlencoded' }, form);
    expectStatus(res, 200, 'token');
    return (JSON.parse(res.text) as { access_token: string }).access_token;
  };

  const adminHeaders = { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'application/json' };
  const place = async (server: Server, a: Agent): Promise<string> => {
    const res = await exchange(a, `${server.url}/simulator/calls`, 'POST', adminHeaders, placeCallBody);
    expectStatus(res, 201, 'place call');
    return (JSON.parse(res.text) as { id: string }).id;
  };

  /**
   * One complete workflow: the caller places a call (simulator API) → `created` reaches the bot → the
   * bot, with the token it got once and reuses, POSTs a redirect to the answerAfter-0 user (202) → the
   * target answers at once (Switchboard's simulated plane) → `updated` then `deleted` reach the bot.
   * HTTPS exchanges: place, created, redirect, updated, deleted = 5.
   */
  const workflowOnce = (server: Server, a: Agent) => {
    const tokens = new Map<number, string>();
    const body = redirectBody(USERS.answerer, 30);
    return async (worker: number): Promise<void> => {
      const id = await place(server, a);
      await bot.waitFor(id, 'created');
      let t = tokens.get(worker);
      if (!t) {
        t = await token(server, a);
        tokens.set(worker, t);
      }
      const res = await exchange(a, `${server.url}/beta/communications/calls/${id}/redirect`, 'POST', { authorization: `Bearer ${t}`, 'content-type': 'application/json' }, body);
      expectStatus(res, 202, 'redirect');
      await bot.waitFor(id, 'deleted');
      bot.forget(id);
    };
  };

  const checkAnswered = async (server: Server, a: Agent): Promise<void> => {
    const once = workflowOnce(server, a);
    const before = bot.requests;
    await once(0);
    if (bot.requests - before < 3) throw new Error('a workflow ended with fewer than 3 notifications');
  };

  const sectionLoad = (name: string) => {
    load[name] = loadavg().map((n) => round(n, 2));
  };

  try {
    // ---------------------------------------------------------------------------------- workflow
    if (only.has('workflow')) {
      log(`workflow: Switchboard (SQLite, real clock) vs a bare node:https floor, ${sizes.workers} workers, ${sizes.rounds} × ${sizes.roundMs} ms each`);
      const server = await startServer('workflow', 'real');
      const floorDir = join(tmp, 'floor');
      mkdirSync(floorDir, { recursive: true });
      const floorChild = startChild(['--import', 'tsx', join(BENCH_DIR, 'floor-server.ts'), floorDir], { logFile: join(floorDir, 'floor.log') });
      children.push(floorChild);
      const [, floorUrl, floorCa] = await waitForLog(floorChild, /floor listening on (https:\/\/\S+) ca (\S+)/);
      const floorAgent = agent(readFileSync(floorCa!, 'utf8'));
      const wfAgent = agent(server.caPem);
      bot.tracking = true;
      await checkAnswered(server, wfAgent);
      const once = workflowOnce(server, wfAgent);
      const bytesBefore = { body: bot.bodyBytes, auth: bot.authorizationBytes, n: bot.requests };
      await runFor({ workers: sizes.workers, durationMs: sizes.warmMs, maxIterations: 1_000_000 }, once);
      // The floor's exchanges carry what the workflow's carry: same bodies for place and redirect, and
      // notification-sized bodies and Authorization headers for the three notifications.
      const n = Math.max(1, bot.requests - bytesBefore.n);
      const notifyBody = JSON.stringify({ pad: 'x'.repeat(Math.max(0, Math.round((bot.bodyBytes - bytesBefore.body) / n) - 10)) });
      const notifyAuth = `Bearer ${'x'.repeat(Math.max(0, Math.round((bot.authorizationBytes - bytesBefore.auth) / n) - 7))}`;
      const accessToken = await token(server, wfAgent);
      const redirect = redirectBody(USERS.answerer, 30);
      const floorOnce = async (): Promise<void> => {
        const post = async (path: string, auth: string, body: string, status: number) =>
          expectStatus(await exchange(floorAgent, `${floorUrl}${path}`, 'POST', { authorization: auth, 'content-type': 'application/json' }, body), status, `floor ${path}`);
        await post('/place', `Bearer ${ADMIN_KEY}`, placeCallBody, 201);
        await post('/notify', notifyAuth, notifyBody, 202);
        await post('/redirect', `Bearer ${accessToken}`, redirect, 202);
        await post('/notify', notifyAuth, notifyBody, 202);
        await post('/notify', notifyAuth, notifyBody, 202);
      };
      await runFor({ workers: sizes.workers, durationMs: sizes.warmMs, maxIterations: 1_000_000 }, floorOnce);
      const wf: Sample[] = [];
      const fl: Sample[] = [];
      const cpu = { server: 0, client: 0, floor: 0, floorClient: 0 };
      for (let r = 0; r < sizes.rounds; r++) {
        let s0 = processCpuMs(server.child.proc.pid) ?? 0;
        let c0 = process.cpuUsage();
        wf.push(await runFor({ workers: sizes.workers, durationMs: sizes.roundMs, maxIterations: 10_000_000 }, once));
        cpu.server += (processCpuMs(server.child.proc.pid) ?? 0) - s0;
        cpu.client += cpuMs(process.cpuUsage(c0));
        s0 = processCpuMs(floorChild.proc.pid) ?? 0;
        c0 = process.cpuUsage();
        fl.push(await runFor({ workers: sizes.workers, durationMs: sizes.roundMs, maxIterations: 10_000_000 }, floorOnce));
        cpu.floor += (processCpuMs(floorChild.proc.pid) ?? 0) - s0;
        cpu.floorClient += cpuMs(process.cpuUsage(c0));
      }
      bot.tracking = false;
      const w = Sample.merge(wf);
      const f = Sample.merge(fl);
      results.workflow = {
        perSecond: round(w.perSecond),
        p50Ms: round(percentile(w.latencies, 50), 2),
        p99Ms: round(percentile(w.latencies, 99), 2),
        floorPerSecond: round(f.perSecond),
        ratio: round(w.perSecond / f.perSecond, 3),
        floorP50Ms: round(percentile(f.latencies, 50), 2),
        floorP99Ms: round(percentile(f.latencies, 99), 2),
        workflows: w.latencies.length,
        errors: w.errors + f.errors,
        ...(w.firstError || f.firstError ? { firstError: w.firstError ?? f.firstError } : {}),
        workers: sizes.workers,
        httpsExchangesPerWorkflow: 5,
        // CPU (ms) per workflow: Switchboard's process, the bench's (client and bot); the floor server's, the bench's.
        serverCpuMsPerWorkflow: round(cpu.server / Math.max(1, w.latencies.length), 3),
        clientCpuMsPerWorkflow: round(cpu.client / Math.max(1, w.latencies.length), 3),
        floorServerCpuMsPerWorkflow: round(cpu.floor / Math.max(1, f.latencies.length), 3),
        floorClientCpuMsPerWorkflow: round(cpu.floorClient / Math.max(1, f.latencies.length), 3),
        roundsPerSecond: wf.map((s, i) => [round(s.perSecond), round(fl[i]!.perSecond)]),
      };
      log(
        `  workflow ${round(w.perSecond)}/s (p50 ${round(percentile(w.latencies, 50), 2)} ms, server CPU ${round(cpu.server / Math.max(1, w.latencies.length), 3)} ms each), ` +
          `floor ${round(f.perSecond)}/s`,
      );
      await stop(server);
      await floorChild.stop();
      sectionLoad('workflow');
    }

    // ---------------------------------------------------------------------------------- redirect + prism
    const redirectTargetBody = redirectBody(USERS.noAnswer, 60);
    let accessToken: string | undefined;
    if (only.has('redirect')) {
      log(`redirect: ${sizes.redirectCalls} calls placed (virtual clock), then redirected by ${sizes.workers} workers`);
      const server = await startServer('redirect', 'virtual');
      const a = agent(server.caPem);
      accessToken = await token(server, a);
      bot.resetCounts();
      const placed: string[] = [];
      const placing = await forEach(
        sizes.redirectCalls,
        sizes.workers,
        async () => {
          placed.push(await place(server, a));
        },
        sizes.redirectPlaceBudgetSeconds * 1000,
      );
      if (placing.errors) throw new Error(`placing calls: ${placing.errors} errors, first: ${placing.firstError}`);
      const ids = placed;
      const warm = Math.min(sizes.redirectWarm, Math.floor(ids.length / 5));
      // Let the created notifications drain first: the redirects are then measured on their own.
      await bot.waitForCount('created', ids.length, 120_000);
      const headers = { authorization: `Bearer ${accessToken}`, 'content-type': 'application/json' };
      const redirectOne = async (i: number): Promise<void> => {
        const res = await exchange(a, `${server.url}/beta/communications/calls/${ids[i]}/redirect`, 'POST', headers, redirectTargetBody);
        expectStatus(res, 202, 'redirect');
      };
      await forEach(warm, sizes.workers, redirectOne);
      const s0 = processCpuMs(server.child.proc.pid) ?? 0;
      const s = await forEach(ids.length - warm, sizes.workers, (i) => redirectOne(i + warm));
      const serverCpu = (processCpuMs(server.child.proc.pid) ?? 0) - s0;
      results.redirect = {
        perSecond: round(s.perSecond),
        p50Ms: round(percentile(s.latencies, 50), 2),
        p99Ms: round(percentile(s.latencies, 99), 2),
        requests: s.latencies.length,
        errors: s.errors,
        ...(s.firstError ? { firstError: s.firstError } : {}),
        workers: sizes.workers,
        serverCpuMsPerRedirect: round(serverCpu / Math.max(1, s.latencies.length), 3),
        placed: ids.length,
        placedPerSecond: round(placing.perSecond),
      };
      log(`  redirect ${round(s.perSecond)}/s (server CPU ${round(serverCpu / Math.max(1, s.latencies.length), 3)} ms each), p99 ${round(percentile(s.latencies, 99), 2)} ms (placing ${round(placing.perSecond)}/s)`);
      await bot.waitForCount('updated', ids.length, 60_000);
      await stop(server);
      sectionLoad('redirect');
    }

    if (only.has('prism')) {
      log(`peer.prism: the same redirect POST against Stoplight Prism (prism mock bench/redirect-openapi.yaml), ${sizes.workers} workers`);
      const port = await freePort();
      const prismDir = join(tmp, 'prism');
      mkdirSync(prismDir, { recursive: true });
      const prismBin = join(ROOT, 'node_modules', '@stoplight', 'prism-cli', 'dist', 'index.js');
      const version = (JSON.parse(readFileSync(join(ROOT, 'node_modules', '@stoplight', 'prism-cli', 'package.json'), 'utf8')) as { version: string }).version;
      const prism = startChild([prismBin, 'mock', join(BENCH_DIR, 'redirect-openapi.yaml'), '-h', '127.0.0.1', '-p', String(port)], { logFile: join(prismDir, 'prism.log') });
      children.push(prism);
      await waitForPort(port, 60_000, prism);
      const a = agent();
      // The same headers and body as the Switchboard redirect (a real access token when that section ran).
      const headers = { authorization: `Bearer ${accessToken ?? 'eyJhbGciOiJSUzI1NiJ9.e30.sig'}`, 'content-type': 'application/json' };
      const once = async (): Promise<void> => {
        const res = await exchange(a, `http://127.0.0.1:${port}/beta/communications/calls/${randomUUID()}/redirect`, 'POST', headers, redirectTargetBody);
        expectStatus(res, 202, 'prism redirect');
      };
      await once();
      await runFor({ workers: sizes.workers, durationMs: sizes.warmMs, maxIterations: 1_000_000 }, once);
      const s = await runFor({ workers: sizes.workers, durationMs: sizes.prismMs, maxIterations: 10_000_000 }, once);
      const redirectPerSecond = (results.redirect as { perSecond?: number }).perSecond;
      (results.peer as Record<string, unknown>).prism = {
        perSecond: round(s.perSecond),
        ...(redirectPerSecond !== undefined ? { ratio: round(redirectPerSecond / s.perSecond, 3) } : {}),
        p50Ms: round(percentile(s.latencies, 50), 2),
        p99Ms: round(percentile(s.latencies, 99), 2),
        requests: s.latencies.length,
        errors: s.errors,
        ...(s.firstError ? { firstError: s.firstError } : {}),
        version,
        transport: 'http (Prism serves plain HTTP; Switchboard is measured over HTTPS)',
      };
      log(`  prism ${round(s.perSecond)}/s`);
      await prism.stop();
      sectionLoad('prism');
    }

    // ---------------------------------------------------------------------------------- ringing + timers
    if (only.has('ringing')) {
      log(`ringing: up to ${sizes.ringingCalls} calls ringing at once in one process (timeout ${sizes.ringingTimeoutSeconds} s, placed at ${sizes.ringingRatePerSecond}/s)`);
      const dir = join(tmp, 'ringing');
      mkdirSync(dir, { recursive: true });
      const outFile = join(dir, 'ringing.json');
      bot.resetCounts();
      const args = {
        dir,
        config: configFile,
        botCa: bot.caPem,
        calls: sizes.ringingCalls,
        timeoutSeconds: sizes.ringingTimeoutSeconds,
        ratePerSecond: sizes.ringingRatePerSecond,
        warm: sizes.ringingWarm,
        placeBudgetSeconds: sizes.ringingPlaceBudgetSeconds,
        out: outFile,
      };
      const child = startChild(['--expose-gc', '--import', 'tsx', join(BENCH_DIR, 'ringing-child.ts'), JSON.stringify(args)], {
        logFile: join(dir, 'ringing.log'),
        switchboard: true,
      });
      children.push(child);
      const limitMs = (sizes.ringingPlaceBudgetSeconds + sizes.ringingTimeoutSeconds + 240) * 1000;
      let limit: NodeJS.Timeout | undefined;
      const code = await Promise.race([
        new Promise<number | null>((resolve) => child.proc.once('exit', (c) => resolve(c))),
        new Promise<'timeout'>((resolve) => (limit = setTimeout(() => resolve('timeout'), limitMs))),
      ]);
      clearTimeout(limit);
      if (code !== 0) {
        await child.stop();
        throw new Error(`ringing child ${code === 'timeout' ? 'timed out' : `exited ${code}`}:\n${readFileSync(child.logFile, 'utf8').slice(-3000)}`);
      }
      const r = JSON.parse(readFileSync(outFile, 'utf8')) as Record<string, number>;
      const calls = r.calls!;
      const heapPerCall = (r.heapDuring! - r.heapBefore!) / calls;
      const rssPerCall = (r.rssDuring! - r.rssBefore!) / calls;
      results.ringing = {
        calls,
        bytesPerCall: Math.round(Math.max(heapPerCall, rssPerCall)),
        heapBytesPerCall: Math.round(heapPerCall),
        rssBytesPerCall: Math.round(rssPerCall),
        timeoutSeconds: sizes.ringingTimeoutSeconds,
        placedPerSecond: round(r.placedPerSecond!),
        asked: r.asked,
        placeErrors: r.placeErrors,
        measuredAfterSeconds: round(r.measuredAfterSeconds!),
        firedBeforeMeasure: r.firedBeforeMeasure,
        heapBefore: r.heapBefore,
        heapDuring: r.heapDuring,
        rssBefore: r.rssBefore,
        rssDuring: r.rssDuring,
        notificationsDelivered: { created: bot.count('created'), updated: bot.count('updated'), deleted: bot.count('deleted') },
      };
      results.timers = {
        p99LatenessMs: round(r.latenessP99Ms!, 2),
        p50LatenessMs: round(r.latenessP50Ms!, 2),
        maxLatenessMs: round(r.latenessMaxMs!, 2),
        fired: r.fired,
        firingSeconds: round(r.firingSeconds!),
        // While they fired: the event loop's delay (10 ms resolution), and the time the OS kept Switchboard's
        // thread waiting for a CPU (other processes on the machine).
        eventLoopDelayP99Ms: round(r.eventLoopDelayP99Ms!, 1),
        eventLoopDelayMaxMs: round(r.eventLoopDelayMaxMs!, 1),
        runQueueWaitMsDuringFiring: Math.round(r.runQueueWaitMsDuringFiring!),
      };
      log(`  ${calls} ringing: ${Math.round(heapPerCall)} heap / ${Math.round(rssPerCall)} RSS bytes per call; ring timeouts p99 ${round(r.latenessP99Ms!, 2)} ms late`);
      sectionLoad('ringing');
    }

    // ---------------------------------------------------------------------------------- PostgreSQL
    if (only.has('postgres')) {
      if (!pgUrl) {
        (results.store as Record<string, unknown>).postgres = { skipped: 'SWITCHBOARD_BENCH_PG_URL is not set' };
        log('store.postgres: skipped (SWITCHBOARD_BENCH_PG_URL is not set)');
      } else {
        const parsed = parsePostgresUrl(pgUrl);
        // A fresh schema every run (the URL's ?schema= is its prefix), dropped afterwards.
        const schema = `${parsed.schema ?? 'bench'}_${process.pid}_${randomBytes(4).toString('hex')}`;
        const url = new URL(pgUrl);
        url.searchParams.set('schema', schema);
        log(`store.postgres: the workflow on PostgreSQL (schema ${schema}), ${sizes.workers} workers, ${sizes.postgresMs} ms`);
        const admin = new pg.Pool({ connectionString: parsed.connectionString, max: 1 });
        try {
          const server = await startServer('postgres', 'real', url.toString());
          const a = agent(server.caPem);
          bot.tracking = true;
          await checkAnswered(server, a);
          const once = workflowOnce(server, a);
          await runFor({ workers: sizes.workers, durationMs: sizes.warmMs, maxIterations: 1_000_000 }, once);
          const s = await runFor({ workers: sizes.workers, durationMs: sizes.postgresMs, maxIterations: 10_000_000 }, once);
          bot.tracking = false;
          (results.store as Record<string, unknown>).postgres = {
            workflowPerSecond: round(s.perSecond),
            workflowP50Ms: round(percentile(s.latencies, 50), 2),
            workflowP99Ms: round(percentile(s.latencies, 99), 2),
            errors: s.errors,
            ...(s.firstError ? { firstError: s.firstError } : {}),
          };
          log(`  postgres workflow ${round(s.perSecond)}/s`);
          await stop(server);
        } finally {
          await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`).catch(() => undefined);
          await admin.end();
        }
        sectionLoad('postgres');
      }
    }
  } finally {
    for (const child of children) await child.stop().catch(() => undefined);
    for (const a of agents) await a.close().catch(() => undefined);
    await bot.close();
    if (process.env.BENCH_KEEP_TMP) log(`kept ${tmp} (BENCH_KEEP_TMP)`);
    else rmSync(tmp, { recursive: true, force: true });
  }

  const workflow = results.workflow as Record<string, unknown>;
  const meta = results.meta as Record<string, unknown>;
  meta.durationSeconds = round((Date.now() - began) / 1000);
  meta.workflowTarget = 'a user with behaviour {answerAfter: 0}: the simulated plane answers the instant ringing starts';
  meta.server = 'switchboard serve (src/cli/main.ts through tsx) in a child process, log level info to a file; ringing: startSwitchboard in a child process run with --expose-gc';
  load.end = loadavg().map((n) => round(n, 2));
  void workflow;
  writeFileSync(out, `${JSON.stringify(results, null, 2)}\n`);
  log(table(results));
  log(`results written to ${out}`);
  return results;
}

const cpuMs = (usage: NodeJS.CpuUsage): number => (usage.user + usage.system) / 1000;

export function valueAt(results: Results, key: string): unknown {
  let node: unknown = results;
  for (const part of key.split('.')) node = (node as Record<string, unknown> | undefined)?.[part];
  return node;
}

/** The figures of issue 6, with their goals. */
export const KEYS = [
  'workflow.perSecond',
  'workflow.p50Ms',
  'workflow.p99Ms',
  'workflow.floorPerSecond',
  'workflow.ratio',
  'redirect.perSecond',
  'redirect.p99Ms',
  'ringing.calls',
  'ringing.bytesPerCall',
  'timers.p99LatenessMs',
  'peer.prism.perSecond',
  'peer.prism.ratio',
  'store.postgres.workflowPerSecond',
];

export function table(results: Results): string {
  const rows: string[][] = [['figure', 'value', 'goal', '']];
  for (const key of KEYS) {
    const value = valueAt(results, key);
    const goal = GOALS.find((g) => g.key === key);
    const met = goal && typeof value === 'number' ? (goal.op === '>=' ? value >= goal.value : value <= goal.value) : undefined;
    rows.push([
      key,
      value === undefined ? (key.startsWith('store.postgres') ? 'skipped' : '—') : String(value),
      goal ? `${goal.op} ${goal.value}` : '',
      met === undefined ? '' : met ? 'met' : 'NOT MET',
    ]);
  }
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => r.map((c, i) => (i === 1 ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join('  ').trimEnd()).join('\n');
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const argv = process.argv.slice(2);
  const flag = (name: string): string | undefined => {
    const i = argv.indexOf(name);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const onlyArg = flag('--only');
  const options: BenchOptions = { quick: argv.includes('--quick') };
  const outArg = flag('--out');
  if (outArg) options.out = outArg;
  const sizesArg = flag('--sizes');
  if (sizesArg) options.sizes = JSON.parse(sizesArg) as Partial<Sizes>;
  if (onlyArg) options.only = onlyArg.split(',').map((s) => s.trim()) as Section[];
  runBench(options).then(
    () => process.exit(0),
    (error: unknown) => {
      console.error(error);
      process.exit(1);
    },
  );
}
