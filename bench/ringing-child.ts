/**
 * ringing.* and timers.*: one Switchboard in this process (real clock, SQLite, the CLI's default `info`
 * logging to this process's stdout, which the bench sends to a file), N incoming calls placed and
 * redirected to a no-answer target with a long timeout, so all N ring at once. Memory (heap and RSS,
 * after GC) is read before and while they ring; then every ring timeout fires on the real clock and the
 * engine reports how late each fired (observers.timerFired).
 *
 * Calls are placed and redirected through the engine (the simulator's and the Graph route's own entry
 * points), not over HTTPS: the figures here are memory and timer lateness, and 2 × N HTTPS requests would
 * only stretch the run. Their notifications (created, updated, then deleted) do go over HTTPS to the
 * bench's bot in the parent process.
 *
 *   node --expose-gc --import tsx bench/ringing-child.ts '<json args>'
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { join } from 'node:path';
import { loadDirectoryFile } from '../src/directory/load.js';
import type { InvitationParticipantInfo } from '../src/graph/types.js';
import { startSwitchboard } from '../src/switchboard.js';
import { BOT, TENANT, USERS, redirectBody } from './directory.js';
import { forEach, percentile, sleep } from './support.js';

interface Args {
  dir: string;
  config: string;
  botCa: string;
  calls: number;
  timeoutSeconds: number;
  ratePerSecond: number;
  warm: number;
  /** No call is placed after this many seconds (the run stays bounded on a slow machine). */
  placeBudgetSeconds: number;
  out: string;
}

const args = JSON.parse(process.argv[2] ?? '{}') as Args;
const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error('run with --expose-gc');

const settle = async (): Promise<void> => {
  for (let i = 0; i < 4; i++) {
    gc();
    await sleep(50);
  }
};

/** Time this process's main thread spent runnable but waiting for a CPU (Linux schedstat), ms. */
const runQueueMs = (): number => {
  try {
    return Number(readFileSync('/proc/self/schedstat', 'utf8').split(' ')[1]) / 1e6;
  } catch {
    return 0;
  }
};

const bounded = <T>(p: Promise<T>, ms: number): Promise<T | 'timeout'> =>
  Promise.race([p, sleep(ms).then(() => 'timeout' as const)]);

async function main(): Promise<void> {
  const sb = await startSwitchboard({
    directory: loadDirectoryFile(args.config),
    port: 0,
    dataDir: join(args.dir, 'data'),
    clock: 'real',
    logLevel: 'info',
    trustCa: [args.botCa],
  });
  const slow: string[] = [];
  if (process.env.BENCH_LATENESS_TRACE) {
    // Diagnostics: which store calls take long (they run on the event loop).
    const store = sb.store as unknown as Record<string, (...a: unknown[]) => unknown>;
    for (const name of ['commit', 'deliverable', 'dueTimers', 'nextTimerDue', 'getCall', 'nextNotificationDue']) {
      const original = store[name]!.bind(store);
      store[name] = (...a: unknown[]) => {
        const t0 = performance.now();
        const r = original(...a);
        const ms = performance.now() - t0;
        if (ms > 15) slow.push(`${(performance.now()).toFixed(0)} ${name} ${ms.toFixed(1)} ms ${name === 'commit' ? (a[0] as unknown[]).length : ''}`);
        return r;
      };
    }
  }
  const caller = { tenantId: TENANT, applicationId: BOT.id };
  const targetsOf = (userId: string): InvitationParticipantInfo[] =>
    (JSON.parse(redirectBody(userId, 15)) as { targets: InvitationParticipantInfo[] }).targets;
  const answerer = targetsOf(USERS.answerer);
  const noAnswer = targetsOf(USERS.noAnswer);
  const redirect = (callId: string, targets: InvitationParticipantInfo[], timeoutSeconds: number) =>
    sb.engine.redirect(callId, caller, { targets, timeoutSeconds, maskCaller: false, maskCallee: false, disableForwarding: false });
  const place = () => sb.engine.placeCall({ tenantId: TENANT, from: { userId: USERS.caller }, to: { applicationId: BOT.id } });

  // Lateness of every ring timeout, preallocated before the baseline so it is not counted per call.
  const lateness = new Float64Array(args.calls);
  const firedAt = new Float64Array(args.calls);
  let fired = 0;
  let firstFiredAt = 0;
  let lastFiredAt = 0;
  sb.observers.add({
    timerFired(name: string, latenessMs: number) {
      if (name !== 'ringTimeout') return;
      if (fired === 0) firstFiredAt = performance.now();
      lastFiredAt = performance.now();
      if (fired < lateness.length) {
        lateness[fired] = latenessMs;
        firedAt[fired] = performance.now();
      }
      fired++;
    },
  });

  // Warm-up: the same code paths (place, redirect, a target answering at once, notifications), then idle.
  await forEach(args.warm, 32, async () => {
    const call = await place();
    await redirect(call.id, answerer, 15);
  });
  await bounded(sb.deliverer.idle(), 30_000);
  await settle();
  const before = process.memoryUsage();

  // N calls, placed at a steady rate (so their ring timeouts come due at that rate 90 s later).
  const started = performance.now();
  const placing = await forEach(
    args.calls,
    64,
    async (i) => {
      const at = started + (i * 1000) / args.ratePerSecond;
      const wait = at - performance.now();
      if (wait > 0) await sleep(wait);
      const call = await place();
      await redirect(call.id, noAnswer, args.timeoutSeconds);
    },
    args.placeBudgetSeconds * 1000,
  );
  const placedSeconds = (performance.now() - started) / 1000;
  const ringing = placing.latencies.length;
  const idleAfterPlacing = await bounded(sb.deliverer.idle(), Math.max(5_000, args.timeoutSeconds * 1000 - placedSeconds * 1000 - 5_000));
  await settle();
  const during = process.memoryUsage();
  const firedBeforeMeasure = fired;
  const measuredAfterSeconds = (performance.now() - started) / 1000;

  // Every ring timeout fires on the real clock; wait for them (bounded), then for their notifications.
  // Meanwhile: how long the event loop was held up, and how long the OS kept this process waiting for a
  // CPU (other processes on the machine): what timer lateness owes to the machine rather than to us.
  const deadline = started + (args.timeoutSeconds + placedSeconds + 120) * 1000;
  const loopDelay = monitorEventLoopDelay({ resolution: 10 });
  let runQueueDuring = 0;
  const firingWindow = (async () => {
    while (fired === 0 && performance.now() < deadline) await sleep(5);
    loopDelay.enable();
    const rq0 = runQueueMs();
    while (fired < ringing && performance.now() < deadline) await sleep(50);
    runQueueDuring = runQueueMs() - rq0;
    loopDelay.disable();
  })();
  while (fired < ringing && performance.now() < deadline) await sleep(200);
  await firingWindow;
  await bounded(sb.deliverer.idle(), 60_000);
  const drainedSeconds = (performance.now() - started) / 1000;

  const n = Math.min(fired, lateness.length);
  if (process.env.BENCH_LATENESS_TRACE) {
    const lines: string[] = [];
    for (let i = 0; i < n; i++) lines.push(`${(firedAt[i]! - started).toFixed(1)} ${lateness[i]}`);
    writeFileSync(process.env.BENCH_LATENESS_TRACE, lines.join('\n'));
    writeFileSync(`${process.env.BENCH_LATENESS_TRACE}.slow`, [`started ${started.toFixed(0)}`, ...slow].join('\n'));
  }
  const sample = lateness.subarray(0, n);
  const result = {
    calls: ringing,
    asked: args.calls,
    placeErrors: placing.errors,
    placeFirstError: placing.firstError,
    placedSeconds,
    placedPerSecond: ringing / placedSeconds,
    idleAfterPlacing: idleAfterPlacing !== 'timeout',
    measuredAfterSeconds,
    firedBeforeMeasure,
    heapBefore: before.heapUsed,
    heapDuring: during.heapUsed,
    rssBefore: before.rss,
    rssDuring: during.rss,
    externalBefore: before.external + before.arrayBuffers,
    externalDuring: during.external + during.arrayBuffers,
    fired,
    firingSeconds: fired ? (lastFiredAt - firstFiredAt) / 1000 : 0,
    drainedSeconds,
    latenessP50Ms: percentile(sample, 50),
    latenessP99Ms: percentile(sample, 99),
    latenessMaxMs: n ? sample[n - 1] : 0,
    eventLoopDelayP99Ms: loopDelay.count ? loopDelay.percentile(99) / 1e6 : 0,
    eventLoopDelayMaxMs: loopDelay.count ? loopDelay.max / 1e6 : 0,
    runQueueWaitMsDuringFiring: runQueueDuring,
  };
  writeFileSync(args.out, JSON.stringify(result, null, 2));
  await sb.close();
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
