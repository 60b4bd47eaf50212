/**
 * cli/ — the `switchboard` command (Part B, fixed): `switchboard serve [options]`. Prints what a bot needs
 * (authority, Graph base URL, demo client credentials, the CA to trust), then `listening on https://HOST:PORT`.
 * `switchboard keys rotate` adds new signing keys to the store; the previous ones stay published (and
 * accepted) until every token they signed has expired, and running servers pick the new ones up.
 */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Command, InvalidArgumentError, Option } from 'commander';
import { DirectoryError, loadDirectoryFile } from '../directory/load.js';
import type { Directory } from '../directory/model.js';
import { RETIRED_KEY_GRACE_MS, SigningKeys, type KeyUse } from '../identity/keys.js';
import { CallbackConfigurationError } from '../notifications/callback-policy.js';
import { openStore } from '../store/open.js';
import { startSwitchboard, type RunningSwitchboard } from '../switchboard.js';

const port = (value: string): number => {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new InvalidArgumentError('a port number, 0 to 65535');
  return n;
};

interface ServeOptions {
  config?: string;
  host: string;
  port: number;
  store?: string;
  clock: string;
  tlsCert?: string;
  tlsKey?: string;
  data: string;
  simulator: boolean;
  logLevel: string;
}

const EMPTY_DIRECTORY: Directory = {
  tenants: [],
  phones: [],
  limits: { requestsPer15Seconds: 50_000, bodyBytes: 1_048_576 },
  notifications: { allowHosts: [], giveUpAfterSeconds: 86_400 },
};

export function banner(sb: RunningSwitchboard, directory: Directory, configFile: string | undefined): string {
  const lines = [
    'Switchboard: Microsoft Graph calls API (call redirect), self-hosted',
    `  directory      ${configFile ?? '(none: empty directory)'}`,
    `  clock          ${sb.clock.mode}`,
    `  store          ${sb.store.kind}`,
    `  Graph base URL ${sb.url}/v1.0  and  ${sb.url}/beta`,
    `  dashboard      ${sb.url}/dashboard   (metrics ${sb.url}/metrics, OpenAPI ${sb.url}/openapi.json)`,
  ];
  if (sb.caFile) lines.push(`  dev CA         ${sb.caFile}   (bots: NODE_EXTRA_CA_CERTS=${sb.caFile})`);
  for (const tenant of directory.tenants) {
    lines.push(`  tenant ${tenant.id}${tenant.displayName ? ` (${tenant.displayName})` : ''}`);
    lines.push(`    authority    ${sb.url}/${tenant.id}   (MSAL knownAuthorities: ["${new URL(sb.url).host}"])`);
    for (const app of tenant.applications) {
      // The banner may show the demo directory's secrets (Part B); log lines never do.
      const secret = app.clientSecret ? `  clientSecret ${app.clientSecret}` : '';
      lines.push(`    bot          ${app.displayName ?? ''}  clientId ${app.id}${secret}`);
    }
  }
  if (sb.adminKeyGenerated && sb.app.hasRoute({ method: 'GET', url: '/simulator/clock' })) {
    lines.push(`  simulator      admin key (shown once): ${sb.adminKey}`);
  }
  return lines.join('\n');
}

async function serve(options: ServeOptions): Promise<void> {
  if (options.clock !== 'real' && options.clock !== 'virtual') throw new Error(`--clock must be real or virtual (got ${options.clock})`);
  if (Boolean(options.tlsCert) !== Boolean(options.tlsKey)) throw new Error('--tls-cert and --tls-key go together');
  let directory = EMPTY_DIRECTORY;
  if (options.config) {
    try {
      directory = loadDirectoryFile(options.config);
    } catch (error) {
      if (error instanceof DirectoryError) {
        console.error(`switchboard: the directory file is invalid:\n${error.message}`);
        process.exit(2);
      }
      throw error;
    }
  }
  let sb: RunningSwitchboard;
  try {
    sb = await startSwitchboard({
      directory,
      host: options.host,
      port: options.port,
      dataDir: options.data,
      clock: options.clock,
      simulator: options.simulator,
      logLevel: options.logLevel,
      ...(options.store ? { store: options.store } : {}),
      ...(options.tlsCert && options.tlsKey ? { tls: { certFile: options.tlsCert, keyFile: options.tlsKey } } : {}),
    });
  } catch (error) {
    if (error instanceof CallbackConfigurationError) {
      console.error(`switchboard: ${error.message}`);
      process.exit(2);
    }
    throw error;
  }
  process.stdout.write(`${banner(sb, directory, options.config)}\n`);
  process.stdout.write(`switchboard listening on ${sb.url}\n`);
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    process.stdout.write(`switchboard: ${signal}, stopping\n`);
    void sb.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
}

interface RotateOptions {
  data: string;
  store?: string;
  use: 'graph' | 'notifications' | 'all';
}

/** `switchboard keys rotate`: one new key per use; prints the new and retired key ids. */
export async function rotateKeys(options: RotateOptions, out: (line: string) => void = (line) => process.stdout.write(`${line}\n`)): Promise<Array<{ use: KeyUse; kid: string; retired: string[] }>> {
  const url = options.store ?? `sqlite:${join(resolve(options.data), 'switchboard.db')}`;
  // A mistyped --data would otherwise create a new store and rotate keys nobody uses.
  const file = url.startsWith('sqlite:') ? url.slice('sqlite:'.length) : undefined;
  if (file !== undefined && file !== '' && file !== ':memory:' && !existsSync(file)) {
    throw new Error(`switchboard keys rotate: no store at ${file} (give the server's --data DIR or --store URL)`);
  }
  const store = await openStore(url);
  try {
    const keys = await SigningKeys.load(store);
    const uses: KeyUse[] = options.use === 'all' ? ['graph', 'notifications'] : [options.use];
    const done: Array<{ use: KeyUse; kid: string; retired: string[] }> = [];
    for (const use of uses) {
      const retired = [keys.current(use).kid];
      const kid = await keys.rotate(use);
      done.push({ use, kid, retired });
      const until = new Date(Date.now() + RETIRED_KEY_GRACE_MS).toISOString();
      out(`rotated ${use} signing key: new kid ${kid}; retired ${retired.join(', ')} (still published and accepted until ${until})`);
    }
    out('running servers sharing this store sign with the new keys within a few seconds; tokens signed with the old keys stay valid until they expire');
    return done;
  } finally {
    await store.close();
  }
}

export async function main(argv: string[]): Promise<void> {
  const program = new Command('switchboard').description('Self-hosted Microsoft Graph calls API (call redirect) with a simulated telephony plane');
  program
    .command('serve')
    .description('start the HTTPS server')
    .option('--config <file>', 'directory file (YAML)')
    .option('--host <host>', 'address to listen on', '127.0.0.1')
    .option('--port <port>', 'port to listen on (0: any free port)', port, 8443)
    .option('--store <url>', 'sqlite:<file> (default: sqlite:<data dir>/switchboard.db) or postgres://…')
    .option('--clock <mode>', 'real, or virtual (moved by POST /simulator/clock/advance)', 'real')
    .option('--tls-cert <file>', 'server certificate (PEM); default: issued by a dev CA in the data dir')
    .option('--tls-key <file>', 'server key (PEM)')
    .option('--data <dir>', 'data directory', './.switchboard')
    .option('--no-simulator', 'operator mode: the simulator API answers 404')
    .option('--log-level <level>', 'fatal, error, warn, info, debug, trace', 'info')
    .action(serve);
  const keys = program.command('keys').description('signing keys (access tokens and notification tokens)');
  keys
    .command('rotate')
    .description('add a new signing key and retire the current one (still published until the tokens it signed expire)')
    .option('--data <dir>', 'data directory', './.switchboard')
    .option('--store <url>', 'sqlite:<file> (default: sqlite:<data dir>/switchboard.db) or postgres://…')
    .addOption(new Option('--use <use>', 'which keys').choices(['graph', 'notifications', 'all']).default('all'))
    .action(async (options: RotateOptions) => {
      await rotateKeys(options);
    });
  await program.parseAsync(argv);
}
