/**
 * The demo: Switchboard (examples/directory.yaml, real clock, data in ./.switchboard) and the example
 * redirect bot (its own process, pointed at Switchboard by three URLs and NODE_EXTRA_CA_CERTS), with a call
 * placed every few seconds from simulated callers. One line per call tells what happened:
 *
 *   #1 Adele Vance → test bot: forwarded to test user ("Adele's direct line"); rang test user; answered by test user after 3.0 s; ended 200/7015 (answered)
 *
 *   npm run demo                     (Ctrl-C stops everything)
 *   DEMO_CALLS=6 npm run demo        (stops by itself after 6 calls)
 *   DEMO_INTERVAL=2 DEMO_PORT=8443   (seconds between calls; Switchboard's port)
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { Agent, request } from 'undici';
import { loadDirectoryFile } from '../../src/directory/load.js';
import type { Directory } from '../../src/directory/model.js';
import { ensureDevCertificates } from '../../src/identity/dev-ca.js';
import { startSwitchboard, type RunningSwitchboard } from '../../src/switchboard.js';
import type { SimulatorRecord } from '../../src/testing/index.js';

const here = (path: string) => fileURLToPath(new URL(path, import.meta.url));
const ROOT = here('../../');
const DIRECTORY_FILE = here('../directory.yaml');
const BOT_PORT = 9443;
const INTERVAL_S = Number(process.env.DEMO_INTERVAL ?? 4);
const MAX_CALLS = process.env.DEMO_CALLS ? Number(process.env.DEMO_CALLS) : Infinity;

const TENANT = '632899f8-2ea1-4604-8413-27bd2892079f';
const BOT_ID = '24701998-1a73-4d42-8085-bf46ed0ae039';
const PSTN_INSTANCE = '7629bdce-046c-4903-86b4-a8f718277e1a';

/** Who calls, in turn (ids of examples/directory.yaml). */
const SCENARIOS: Array<{ from: { userId: string } | { phone: string }; to: { applicationId: string } | { applicationInstanceId: string } }> = [
  { from: { userId: '8d1e6ab6-26c5-4e22-a1bc-06ea7343958e' }, to: { applicationId: BOT_ID } }, // Adele
  { from: { phone: '+12065550123' }, to: { applicationInstanceId: PSTN_INSTANCE } }, // an outside caller dials the main number
  { from: { userId: '5b7e1c0a-3f2d-4e8b-9a61-0c4d2e8f1a04' }, to: { applicationId: BOT_ID } }, // Megan: rota
  { from: { userId: '5b7e1c0a-3f2d-4e8b-9a61-0c4d2e8f1a01' }, to: { applicationId: BOT_ID } }, // Bianca: rota, next turn
  { from: { userId: 'bf5aae9a-d11d-47a8-93b1-782504c9c3f3' }, to: { applicationId: BOT_ID } }, // test user 2
  { from: { userId: '5b7e1c0a-3f2d-4e8b-9a61-0c4d2e8f1a02' }, to: { applicationId: BOT_ID } }, // Nestor: fallback to the mobile
];

const ENDINGS: Record<string, string> = {
  '200/7015': 'answered',
  '200/5000': 'the bot hung up',
  '200/5010': 'the caller hung up',
  '408/10057': 'the bot did not act within 15 s',
  '408/10058': 'nobody answered in time',
  '603/10059': 'every target declined',
  '486/10060': 'every target was busy',
  '480/10037': 'no target reachable',
  '603/0': 'rejected',
  '486/0': 'rejected as busy',
  '403/0': 'rejected as forbidden',
};

// --- names from the directory ----------------------------------------------------------------------

function nameBook(directory: Directory): (id: string | undefined) => string {
  const names = new Map<string, string>();
  // The demo directory's display names carry hints ("Nestor (never answers)"): the story shows the name.
  const short = (displayName: string | undefined, id: string) => displayName?.replace(/\s*\(.*\)\s*$/, '') || id;
  for (const t of directory.tenants) {
    for (const a of t.applications) {
      names.set(a.id, short(a.displayName, a.id));
      for (const i of a.instances) names.set(i.id, `${short(i.displayName, i.id)}${i.phone ? ` (${i.phone})` : ''}`);
    }
    for (const u of t.users) names.set(u.id, short(u.displayName, u.id));
  }
  for (const p of directory.phones) names.set(p.number, p.displayName ? `${p.displayName} (${p.number})` : p.number);
  return (id) => (id === undefined ? '?' : (names.get(id) ?? id));
}

const identityId = (identity: Record<string, { id?: string } | undefined> | undefined): string | undefined =>
  identity ? Object.values(identity).find((v) => v && typeof v === 'object' && typeof v.id === 'string')?.id : undefined;

// --- the story of one call ---------------------------------------------------------------------------

interface BotDecision {
  rule: string;
  kind: 'redirect' | 'reject';
  action?: string;
  reason?: string;
  targets?: Array<{ kind: string; id?: string; number?: string }>;
  timeout?: number;
  disableForwarding?: boolean;
}

function story(n: number, record: SimulatorRecord, decision: BotDecision | undefined, botError: string | undefined, name: (id: string | undefined) => string): string {
  const caller = name(identityId(record.caller.identity));
  const callee = name(identityId(record.callee?.identity));
  const parts: string[] = [];
  const targetNames = (decision?.targets ?? []).map((t) => name(t.id ?? t.number));
  if (decision?.kind === 'reject') parts.push(`rejected (${decision.reason}) ("${decision.rule}")`);
  else if (decision) {
    const what =
      decision.action === 'ringGroup'
        ? `ring group ${targetNames.join(', ')} (${[decision.disableForwarding ? 'disableForwarding' : '', decision.timeout ? `timeout ${decision.timeout} s` : ''].filter(Boolean).join(', ') || 'default timeout'})`
        : decision.action === 'roundRobin'
          ? `round robin, this time ${targetNames.join(', ')}`
          : decision.action === 'pstn'
            ? `PSTN fallback to ${targetNames.join(', ')}`
            : `forwarded to ${targetNames.join(', ')}`;
    parts.push(`${what} ("${decision.rule}")`);
  } else parts.push(botError ? `bot failed: ${botError}` : 'the bot did nothing');

  if (record.targets.length > 0) {
    const rang = record.targets
      .filter((t) => !t.forwardedFrom)
      .map((t) => {
        if (t.ringState === 'forwarded') {
          const to = record.targets.find((f) => f.forwardedFrom === t.id);
          return `${name(t.id)} forwarded to ${name(t.forwardedTo)}${to ? ` (${to.ringState})` : ''}`;
        }
        return record.targets.length > 1 ? `${name(t.id)} (${t.ringState})` : name(t.id);
      });
    parts.push(`rang ${rang.join(', ')}`);
  }
  const answered = record.targets.find((t) => t.ringState === 'answered');
  if (answered && record.redirect) {
    const at = record.history.find((h) => h.type === 'target' && h['targetId'] === answered.id && h['ringState'] === 'answered')?.at ?? record.endedAt;
    const seconds = at ? (Date.parse(at) - Date.parse(record.redirect.acceptedAt)) / 1000 : NaN;
    parts.push(`answered by ${name(answered.id)} after ${seconds.toFixed(1)} s`);
  }
  const code = record.resultInfo ? `${record.resultInfo.code}/${record.resultInfo.subcode}` : '?';
  parts.push(`ended ${code}${ENDINGS[code] ? ` (${ENDINGS[code]})` : ''}`);
  return `#${n} ${caller} → ${callee}: ${parts.join('; ')}`;
}

// --- running it ----------------------------------------------------------------------------------------

async function main(): Promise<void> {
  const directory = loadDirectoryFile(DIRECTORY_FILE);
  const name = nameBook(directory);
  const dataDir = resolve(ROOT, '.switchboard');
  const port = Number(process.env.DEMO_PORT ?? 8443);

  let sb: RunningSwitchboard;
  try {
    sb = await startSwitchboard({ directory, dataDir, port, clock: 'real', logLevel: process.env.DEMO_LOG ?? 'warn' });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    console.error(`demo: cannot start Switchboard on port ${port}: ${code === 'EADDRINUSE' ? 'the port is in use (DEMO_PORT=... to pick another)' : (error as Error).message}`);
    process.exit(1);
  }
  // The bot's HTTPS certificate: the dev server certificate, issued by the CA Switchboard trusts for webhooks.
  const dev = ensureDevCertificates(dataDir, ['127.0.0.1']);
  const app = directory.tenants.find((t) => t.id === TENANT)?.applications.find((a) => a.id === BOT_ID);
  console.log(`Switchboard ${sb.url} (dev CA ${sb.caFile}); starting the redirect bot on https://127.0.0.1:${BOT_PORT}/api/calls ...`);

  const bot: ChildProcess = spawn(process.execPath, ['--import', 'tsx', here('./main.ts')], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'inherit'],
    env: {
      ...process.env,
      NODE_EXTRA_CA_CERTS: sb.caFile ?? '',
      AUTHORITY_HOST: sb.url,
      GRAPH_BASE_URL: sb.url,
      NOTIFICATION_METADATA_URL: `${sb.url}/botframework/v1/.well-known/openidconfiguration`,
      TENANT_ID: TENANT,
      CLIENT_ID: BOT_ID,
      CLIENT_SECRET: app?.clientSecret ?? '',
      BOT_PORT: String(BOT_PORT),
      BOT_TLS_CERT: dev.certPath,
      BOT_TLS_KEY: dev.keyPath,
    },
  });

  const decisions = new Map<string, BotDecision>();
  const botErrors = new Map<string, string>();
  let listening!: () => void;
  const ready = new Promise<void>((r) => (listening = r));
  createInterface({ input: bot.stdout! }).on('line', (line) => {
    let event: { event?: string; callId?: string; decision?: BotDecision; message?: string };
    try {
      event = JSON.parse(line) as typeof event;
    } catch {
      console.log(`  [bot] ${line}`);
      return;
    }
    if (event.event === 'listening') listening();
    else if (event.event === 'decision' && event.callId && event.decision) decisions.set(event.callId, event.decision);
    else if (event.event === 'error' && event.callId) botErrors.set(event.callId, event.message ?? 'error');
    else if (event.event === 'unauthorized') console.log(`  [bot] refused a notification: ${JSON.stringify(event)}`);
  });
  const botExited = once(bot, 'exit');

  const agent = new Agent({ connect: { ca: sb.caPem ?? '' } });
  const simulator = async (method: 'GET' | 'POST', path: string, body?: unknown) => {
    const res = await request(`${sb.url}/simulator${path}`, {
      method,
      dispatcher: agent,
      headers: { authorization: `Bearer ${sb.adminKey}`, ...(body ? { 'content-type': 'application/json' } : {}) },
      ...(body ? { body: JSON.stringify(body) } : {}),
    });
    const text = await res.body.text();
    if (res.statusCode >= 300) throw new Error(`simulator ${method} ${path}: ${res.statusCode} ${text}`);
    return text ? (JSON.parse(text) as unknown) : undefined;
  };

  let stopping = false;
  let placeTimer: NodeJS.Timeout | undefined;
  let pollTimer: NodeJS.Timeout | undefined;
  const open = new Map<string, { n: number; endedSeen?: number }>();
  let placed = 0;

  const stop = async (why: string) => {
    if (stopping) return;
    stopping = true;
    clearTimeout(placeTimer);
    clearInterval(pollTimer);
    console.log(`demo: ${why}, stopping`);
    if (bot.exitCode === null && bot.signalCode === null) bot.kill('SIGTERM');
    await Promise.race([botExited, new Promise((r) => setTimeout(r, 3000))]);
    await agent.close();
    await sb.close();
    console.log('demo: stopped');
    process.exit(0);
  };
  process.on('SIGINT', () => void stop('Ctrl-C'));
  process.on('SIGTERM', () => void stop('SIGTERM'));
  void botExited.then(([code]) => {
    if (!stopping) {
      console.error(`demo: the bot exited (code ${code})`);
      void stop('bot gone');
    }
  });

  await Promise.race([ready, botExited]);
  if (stopping) return;
  console.log(`demo: placing a call every ${INTERVAL_S} s (Ctrl-C to stop)`);

  const placeNext = async () => {
    if (stopping || placed >= MAX_CALLS) return;
    const scenario = SCENARIOS[placed % SCENARIOS.length]!;
    placed += 1;
    const n = placed;
    try {
      const { id } = (await simulator('POST', '/calls', { tenantId: TENANT, ...scenario })) as { id: string };
      open.set(id, { n });
    } catch (error) {
      console.error(`#${n} could not be placed: ${(error as Error).message}`);
    }
    if (placed < MAX_CALLS) placeTimer = setTimeout(() => void placeNext(), INTERVAL_S * 1000);
  };

  pollTimer = setInterval(() => {
    for (const [id, entry] of open) {
      void (simulator('GET', `/calls/${id}`) as Promise<SimulatorRecord>).then(
        (record) => {
          if (stopping || !open.has(id) || record.state !== 'terminated') return;
          // Give the bot a moment to log its decision / the final notification to arrive.
          const settled = record.notifications.every((x) => x.delivered) || (entry.endedSeen !== undefined && Date.now() - entry.endedSeen > 2000);
          entry.endedSeen ??= Date.now();
          if (!settled) return;
          open.delete(id);
          console.log(story(entry.n, record, decisions.get(id), botErrors.get(id), name));
          if (placed >= MAX_CALLS && open.size === 0) void stop(`${placed} calls done`);
        },
        () => undefined,
      );
    }
  }, 500);

  await placeNext();
}

void main();
