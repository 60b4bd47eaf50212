/**
 * Bench support: latency statistics, a bounded worker pool, the bench's HTTPS client, a lean HTTPS bot
 * receiver, and child processes (Switchboard through its CLI, the bare floor server, Prism).
 * Everything listens and connects on 127.0.0.1.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, openSync, readFileSync, closeSync } from 'node:fs';
import https from 'node:https';
import { createConnection } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Agent, request } from 'undici';
import { ensureDevCertificates } from '../src/identity/dev-ca.js';

export const BENCH_DIR = fileURLToPath(new URL('.', import.meta.url));
export const ROOT = join(BENCH_DIR, '..');

// ------------------------------------------------------------------------------------------ statistics

/** Nearest-rank percentile of a sample (sorted in place). */
export function percentile(values: number[] | Float64Array, p: number): number {
  if (values.length === 0) return 0;
  const sorted = values instanceof Float64Array ? values.sort() : values.sort((a, b) => a - b);
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank] ?? 0;
}

export const round = (n: number, digits = 1): number => {
  const f = 10 ** digits;
  return Math.round(n * f) / f;
};

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** A sample of durations (ms) and a count of errors, over a measured wall-clock span (`ms`). */
export class Sample {
  latencies: number[] = [];
  errors = 0;
  firstError: string | undefined;
  ms = 0;
  error(e: unknown): void {
    this.errors++;
    this.firstError ??= e instanceof Error ? e.message : String(e);
  }
  get seconds(): number {
    return this.ms / 1000;
  }
  get perSecond(): number {
    return this.ms > 0 ? this.latencies.length / this.seconds : 0;
  }
  /** Several measured spans as one (rounds interleaved with another measurement). */
  static merge(samples: Sample[]): Sample {
    const out = new Sample();
    for (const s of samples) {
      out.latencies = out.latencies.concat(s.latencies);
      out.errors += s.errors;
      out.firstError ??= s.firstError;
      out.ms += s.ms;
    }
    return out;
  }
}

/**
 * Runs `workers` loops of `once` until `durationMs` has passed (or `maxIterations` were started): each loop
 * starts its next iteration when the previous one finished. Bounded by time and by count.
 */
export async function runFor(
  options: { workers: number; durationMs: number; maxIterations?: number },
  once: (worker: number, iteration: number) => Promise<void>,
  sample = new Sample(),
): Promise<Sample> {
  const max = options.maxIterations ?? Number.MAX_SAFE_INTEGER;
  let started = 0;
  const startedAt = performance.now();
  const deadline = startedAt + options.durationMs;
  const loop = async (worker: number): Promise<void> => {
    while (performance.now() < deadline && started < max) {
      const iteration = started++;
      const t0 = performance.now();
      try {
        await once(worker, iteration);
        sample.latencies.push(performance.now() - t0);
      } catch (e) {
        sample.error(e);
        if (sample.errors > 100) return; // something is broken: stop rather than spin
      }
    }
  };
  await Promise.all(Array.from({ length: options.workers }, (_, w) => loop(w)));
  sample.ms = performance.now() - startedAt;
  return sample;
}

/**
 * Runs `once` for each of `count` items with at most `workers` in flight; no item starts after
 * `budgetMs` (then `started` < count).
 */
export async function forEach(
  count: number,
  workers: number,
  once: (i: number) => Promise<void>,
  budgetMs = Number.POSITIVE_INFINITY,
): Promise<Sample & { started: number }> {
  const sample = Object.assign(new Sample(), { started: 0 });
  let next = 0;
  const startedAt = performance.now();
  const deadline = startedAt + budgetMs;
  const loop = async (): Promise<void> => {
    while (next < count && performance.now() < deadline) {
      sample.started++;
      const i = next++;
      const t0 = performance.now();
      try {
        await once(i);
        sample.latencies.push(performance.now() - t0);
      } catch (e) {
        sample.error(e);
        if (sample.errors > 100) return;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(workers, count) }, () => loop()));
  sample.ms = performance.now() - startedAt;
  return sample;
}

/**
 * CPU time (user + system, ms) a process has used so far, all threads, from /proc (Linux); undefined
 * elsewhere. The bench reports CPU per workflow besides throughput: on a machine shared with other work,
 * CPU spent per unit of work is steadier than units per second.
 */
export function processCpuMs(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // After "pid (comm) ": state is field 3, utime 14, stime 15 (1-based) → indexes 11 and 12 here.
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS;
  } catch {
    return undefined;
  }
}
const CLOCK_TICKS = 100;

// ------------------------------------------------------------------------------------------ client

/** The one client every measurement uses: undici, keep-alive, one connection per worker at most. */
export function benchAgent(connections: number, caPem?: string): Agent {
  return new Agent({ connections, pipelining: 1, ...(caPem ? { connect: { ca: caPem } } : {}) });
}

export interface Exchange {
  status: number;
  text: string;
}

export async function exchange(
  agent: Agent,
  url: string,
  method: 'GET' | 'POST',
  headers: Record<string, string>,
  body?: string,
): Promise<Exchange> {
  const res = await request(url, { method, headers, dispatcher: agent, ...(body !== undefined ? { body } : {}) });
  const text = await res.body.text();
  return { status: res.statusCode, text };
}

export function expectStatus(res: Exchange, status: number, what: string): void {
  if (res.status !== status) throw new Error(`${what}: expected ${status}, got ${res.status} ${res.text.slice(0, 300)}`);
}

// ------------------------------------------------------------------------------------------ the bot

interface CallWaiter {
  changeType: string;
  resolve: () => void;
  timer: NodeJS.Timeout;
}

/**
 * The bot's HTTPS endpoint: parses each `commsNotifications` body like a bot would, answers 202, counts
 * by changeType, and wakes whoever waits for (call id, changeType). It does not verify the notification
 * JWT (that is the bot's cost, not Switchboard's); it checks that one is there.
 */
export class BenchBot {
  readonly counts = new Map<string, number>();
  /** Body bytes and Authorization header bytes received, summed (to size the floor's exchanges alike). */
  bodyBytes = 0;
  authorizationBytes = 0;
  requests = 0;
  /** Calls a workflow waits on: what already arrived, and who waits. Entries are removed by `forget`. */
  private readonly calls = new Map<string, { seen: Set<string>; waiters: CallWaiter[] }>();
  tracking = false;
  missingToken = 0;
  private countWaiters: Array<{ changeType: string; count: number; resolve: () => void }> = [];

  private constructor(
    private readonly server: https.Server,
    readonly port: number,
    readonly caPem: string,
    readonly caPath: string,
  ) {}

  static async start(dir: string): Promise<BenchBot> {
    const certs = ensureDevCertificates(dir, ['127.0.0.1']);
    let bot: BenchBot | undefined;
    const server = https.createServer({ cert: certs.cert, key: certs.key, keepAliveTimeout: 30_000 }, (req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        res.writeHead(202).end();
        const b = bot!;
        const raw = Buffer.concat(chunks);
        b.requests++;
        b.bodyBytes += raw.length;
        b.authorizationBytes += req.headers.authorization?.length ?? 0;
        if (!req.headers.authorization?.startsWith('Bearer ')) b.missingToken++;
        try {
          const body = JSON.parse(raw.toString('utf8')) as {
            value?: Array<{ changeType: string; resourceData?: { id?: string; state?: string } }>;
          };
          for (const n of body.value ?? []) bot?.received(n.resourceData?.id ?? '', n.changeType);
        } catch {
          bot?.received('', 'unparsable');
        }
      });
    });
    server.maxRequestsPerSocket = 0;
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const address = server.address();
    const port = typeof address === 'object' && address ? address.port : 0;
    bot = new BenchBot(server, port, readFileSync(certs.caPath, 'utf8'), certs.caPath);
    return bot;
  }

  get url(): string {
    return `https://127.0.0.1:${this.port}/api/calls`;
  }

  count(changeType: string): number {
    return this.counts.get(changeType) ?? 0;
  }

  private received(callId: string, changeType: string): void {
    const n = (this.counts.get(changeType) ?? 0) + 1;
    this.counts.set(changeType, n);
    if (this.countWaiters.length) {
      this.countWaiters = this.countWaiters.filter((w) => {
        if (w.changeType === changeType && n >= w.count) {
          w.resolve();
          return false;
        }
        return true;
      });
    }
    if (!this.tracking) return;
    let entry = this.calls.get(callId);
    if (!entry) {
      entry = { seen: new Set(), waiters: [] };
      this.calls.set(callId, entry);
    }
    entry.seen.add(changeType);
    entry.waiters = entry.waiters.filter((w) => {
      if (w.changeType !== changeType) return true;
      clearTimeout(w.timer);
      w.resolve();
      return false;
    });
  }

  /** Resolves when the call's notification of this changeType has arrived (before or after this call). */
  waitFor(callId: string, changeType: string, timeoutMs = 15_000): Promise<void> {
    let entry = this.calls.get(callId);
    if (entry?.seen.has(changeType)) return Promise.resolve();
    if (!entry) {
      entry = { seen: new Set(), waiters: [] };
      this.calls.set(callId, entry);
    }
    const e = entry;
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        e.waiters = e.waiters.filter((w) => w.timer !== timer);
        reject(new Error(`no ${changeType} notification for call ${callId} within ${timeoutMs} ms`));
      }, timeoutMs);
      e.waiters.push({ changeType, resolve, timer });
    });
  }

  forget(callId: string): void {
    this.calls.delete(callId);
  }

  /** Resolves once `count` notifications of `changeType` have arrived in total (bounded by `timeoutMs`). */
  waitForCount(changeType: string, count: number, timeoutMs: number): Promise<boolean> {
    if (this.count(changeType) >= count) return Promise.resolve(true);
    return new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => {
        this.countWaiters = this.countWaiters.filter((w) => w !== waiter);
        resolve(false);
      }, timeoutMs);
      const waiter = {
        changeType,
        count,
        resolve: () => {
          clearTimeout(timer);
          resolve(true);
        },
      };
      this.countWaiters.push(waiter);
    });
  }

  resetCounts(): void {
    this.counts.clear();
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

// ------------------------------------------------------------------------------------------ processes

export interface Child {
  proc: ChildProcess;
  logFile: string;
  stop(): Promise<void>;
}

/**
 * Starts a child with stdout/stderr going to a file (as a user redirecting logs would), not to a pipe.
 * `switchboard: true` children (the servers under test) also get BENCH_SERVER_NODE_FLAGS, e.g.
 * `--cpu-prof --cpu-prof-dir=/tmp/prof` to profile Switchboard during a bench run.
 */
export function startChild(args: string[], options: { logFile: string; env?: NodeJS.ProcessEnv; nodeFlags?: string[]; switchboard?: boolean }): Child {
  const fd = openSync(options.logFile, 'w');
  const extra = options.switchboard ? (process.env.BENCH_SERVER_NODE_FLAGS ?? '').split(' ').filter(Boolean) : [];
  const proc = spawn(process.execPath, [...extra, ...(options.nodeFlags ?? []), ...args], {
    cwd: ROOT,
    env: { ...process.env, ...options.env },
    stdio: ['ignore', fd, fd],
  });
  closeSync(fd);
  let exited = proc.exitCode !== null;
  const exitedPromise = new Promise<void>((resolve) => proc.once('exit', () => ((exited = true), resolve())));
  return {
    proc,
    logFile: options.logFile,
    async stop() {
      if (exited) return;
      proc.kill('SIGTERM');
      const timer = setTimeout(() => proc.kill('SIGKILL'), 15_000);
      await exitedPromise;
      clearTimeout(timer);
    },
  };
}

/** Waits (bounded) until the child's log has a line matching `pattern`; returns the match. */
export async function waitForLog(child: Child, pattern: RegExp, timeoutMs = 60_000): Promise<RegExpMatchArray> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    const text = existsSync(child.logFile) ? readFileSync(child.logFile, 'utf8') : '';
    const match = pattern.exec(text);
    if (match) return match;
    if (child.proc.exitCode !== null) throw new Error(`child exited (${child.proc.exitCode}) before ${pattern}:\n${text.slice(-2000)}`);
    await sleep(100);
  }
  throw new Error(`child did not print ${pattern} within ${timeoutMs} ms:\n${readFileSync(child.logFile, 'utf8').slice(-2000)}`);
}

/** Waits (bounded) until something accepts TCP connections on 127.0.0.1:port. */
export async function waitForPort(port: number, timeoutMs = 60_000, child?: Child): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    const ok = await new Promise<boolean>((resolve) => {
      const socket = createConnection({ host: '127.0.0.1', port }, () => {
        socket.destroy();
        resolve(true);
      });
      socket.on('error', () => resolve(false));
    });
    if (ok) return;
    if (child && child.proc.exitCode !== null) throw new Error(`child exited (${child.proc.exitCode}):\n${readFileSync(child.logFile, 'utf8').slice(-2000)}`);
    await sleep(100);
  }
  throw new Error(`nothing listens on 127.0.0.1:${port} after ${timeoutMs} ms`);
}

/** A free TCP port on 127.0.0.1 (for children that need one given: Prism). */
export async function freePort(): Promise<number> {
  const { createServer } = await import('node:net');
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}
