/**
 * The real command line (Part B "Command line"): `node bin/switchboard.js serve …` as a child process, on the
 * compiled build in dist/ (`npm run build`, which `npm test` runs first). It must print what a bot needs,
 * serve HTTPS with its dev CA, stop cleanly on SIGTERM, refuse a bad directory file with a message naming
 * the field, and hide the simulator API with --no-simulator. Every child is killed in `after`, always.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, describe, test } from 'node:test';
import { Agent, request } from 'undici';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const BIN = join(ROOT, 'bin', 'switchboard.js');

const TENANT = '632899f8-2ea1-4604-8413-27bd2892079f';
const APP = '24701998-1a73-4d42-8085-bf46ed0ae039';
const SECRET = 'cli-demo-secret-7f3a';
const ADMIN_KEY = 'cli-test-admin-key-0123456789';

const directoryYaml = (extra = '') => `# a directory for the CLI tests
admin: { key: ${ADMIN_KEY} }
${extra}tenants:
  - id: ${TENANT}
    displayName: Contoso
    applications:
      - id: ${APP}
        displayName: test bot
        clientSecret: ${SECRET}
        roles: [Calls.Initiate.All]
        callbackUri: https://127.0.0.1:9443/api/calls
        instances:
          - id: 7629bdce-046c-4903-86b4-a8f718277e1a
            displayName: PstnAppInstance
            phone: "+14255550100"
    users:
      - id: 8d1e6ab6-26c5-4e22-a1bc-06ea7343958e
        displayName: Adele Vance
      - id: 98da8a1a-1b87-452c-a713-65d3f10b1253
        displayName: test user
        behaviour: { answerAfter: 3 }
phones:
  - number: "+12345678901"
    behaviour: { answerAfter: 5 }
`;

const workDir = mkdtempSync(join(tmpdir(), 'switchboard-cli-test-'));
const children = new Set<ChildProcess>();

after(async () => {
  for (const child of children) {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      await new Promise((r) => child.once('exit', r));
    }
  }
  rmSync(workDir, { recursive: true, force: true });
});

interface Served {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Resolves with the URL once `listening on https://…` is printed; rejects if the process exits first. */
  listening: (timeoutMs?: number) => Promise<string>;
}

let seq = 0;
function serve(args: string[], config?: string): Served {
  const name = `run-${++seq}`;
  const dataDir = join(workDir, name, 'data');
  const full = ['serve', '--port', '0', '--data', dataDir, '--clock', 'virtual', '--log-level', 'warn'];
  if (config !== undefined) {
    const file = join(workDir, `${name}.yaml`);
    writeFileSync(file, config);
    full.push('--config', file);
  }
  const child = spawn(process.execPath, [BIN, ...full, ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env } });
  children.add(child);
  let out = '';
  let err = '';
  child.stdout?.setEncoding('utf8').on('data', (d: string) => (out += d));
  child.stderr?.setEncoding('utf8').on('data', (d: string) => (err += d));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) => child.once('exit', (code, signal) => r({ code, signal })));
  const listening = (timeoutMs = 30_000) =>
    new Promise<string>((resolveUrl, reject) => {
      const timer = setTimeout(() => reject(new Error(`not listening after ${timeoutMs} ms\nstdout:\n${out}\nstderr:\n${err}`)), timeoutMs);
      const check = () => {
        const m = /listening on (https:\/\/127\.0\.0\.1:(\d+))/.exec(out);
        if (m?.[1]) {
          clearTimeout(timer);
          resolveUrl(m[1]);
        }
      };
      child.stdout?.on('data', check);
      check();
      void exited.then(({ code, signal }) => {
        clearTimeout(timer);
        reject(new Error(`exited (${code ?? signal}) before listening\nstdout:\n${out}\nstderr:\n${err}`));
      });
    });
  return { child, stdout: () => out, stderr: () => err, exited, listening };
}

async function get(url: string, ca: string, token?: string): Promise<{ status: number; json: any }> {
  const agent = new Agent({ connect: { ca } });
  try {
    const res = await request(url, { dispatcher: agent, headers: token ? { authorization: `Bearer ${token}` } : {} });
    const text = await res.body.text();
    return { status: res.statusCode, json: text ? JSON.parse(text) : undefined };
  } finally {
    await agent.close();
  }
}

describe('switchboard serve', () => {
  test('prints the banner and the listening line, serves the simulator on the virtual clock, stops on SIGTERM with 0', async () => {
    const run = serve([], directoryYaml());
    const url = await run.listening();
    const port = Number(new URL(url).port);
    assert.ok(port > 0, `a real port, not 0: ${url}`);
    const out = run.stdout();
    const lines = out.split('\n');
    assert.ok(lines.some((l) => l.includes(`listening on https://127.0.0.1:${port}`)), out);

    // What a bot needs: authority, Graph base URL, client id and secret, the CA to trust.
    assert.ok(out.includes(`${url}/${TENANT}`), `authority URL in the banner:\n${out}`);
    assert.ok(out.includes(`${url}/v1.0`), `Graph base URL in the banner:\n${out}`);
    assert.ok(out.includes(APP), `client id in the banner:\n${out}`);
    assert.ok(out.includes(SECRET), `client secret in the banner:\n${out}`);
    assert.match(out, /NODE_EXTRA_CA_CERTS/, 'the banner says how to trust the dev CA');
    const caPath = /(\/\S+\.pem)\b/.exec(out)?.[1];
    assert.ok(caPath, `a CA file path in the banner:\n${out}`);
    assert.ok(existsSync(caPath), `the printed CA file exists: ${caPath}`);
    const ca = readFileSync(caPath, 'utf8');
    assert.match(ca, /-----BEGIN CERTIFICATE-----/);
    assert.ok(!out.includes(ADMIN_KEY), 'the admin key from the directory is never printed');

    // HTTPS with the printed CA, the admin key from the directory, the virtual clock.
    const clock = await get(`${url}/simulator/clock`, ca, ADMIN_KEY);
    assert.equal(clock.status, 200, JSON.stringify(clock.json));
    assert.equal(clock.json.mode, 'virtual');
    assert.match(clock.json.now, /^\d{4}-\d\d-\d\dT/);
    assert.equal((await get(`${url}/simulator/clock`, ca)).status, 401, 'the simulator needs the key');

    // The printed credentials get a token.
    const agent = new Agent({ connect: { ca } });
    try {
      const res = await request(`${url}/${TENANT}/oauth2/v2.0/token`, {
        method: 'POST',
        dispatcher: agent,
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ grant_type: 'client_credentials', client_id: APP, client_secret: SECRET, scope: 'https://graph.microsoft.com/.default' }).toString(),
      });
      const body = (await res.body.json()) as { access_token?: string };
      assert.equal(res.statusCode, 200, JSON.stringify(body));
      assert.ok(body.access_token);
    } finally {
      await agent.close();
    }

    run.child.kill('SIGTERM');
    const { code, signal } = await run.exited;
    assert.equal(signal, null, `stopped by its own exit, not killed by ${signal}`);
    assert.equal(code, 0, `exit code 0 on SIGTERM\nstderr:\n${run.stderr()}`);
  });

  test('--no-simulator: the simulator API answers 404; SIGTERM still exits 0', async () => {
    // Operator mode allows a loopback callbackUri only when its host is listed in allowHosts.
    const run = serve(['--no-simulator'], directoryYaml('notifications: { allowHosts: ["127.0.0.1"] }\n'));
    const url = await run.listening();
    const printed = /(\/\S+\.pem)\b/.exec(run.stdout())?.[1];
    assert.ok(printed, `a CA file path in the banner:\n${run.stdout()}`);
    const ca = readFileSync(printed, 'utf8');
    const clock = await get(`${url}/simulator/clock`, ca, ADMIN_KEY);
    assert.equal(clock.status, 404, JSON.stringify(clock.json));
    assert.equal(typeof clock.json?.error?.code, 'string', 'a Graph-shaped 404');
    const calls = await get(`${url}/simulator/calls`, ca, ADMIN_KEY);
    assert.equal(calls.status, 404);
    assert.ok(!run.stdout().includes('admin key'), 'no admin key in the banner when the simulator is off');
    run.child.kill('SIGTERM');
    const { code } = await run.exited;
    assert.equal(code, 0, run.stderr());
  });

  const base = directoryYaml();
  const badFiles: Array<{ name: string; yaml: string; field: RegExp; problem: RegExp }> = [
    {
      name: 'a duplicate id',
      yaml: base.replace('id: 98da8a1a-1b87-452c-a713-65d3f10b1253', 'id: 8d1e6ab6-26c5-4e22-a1bc-06ea7343958e'),
      field: /tenants\[0\]\.users\[1\]\.id/,
      problem: /duplicate id/i,
    },
    {
      name: 'a non-E.164 number',
      yaml: base.replace('phone: "+14255550100"', 'phone: "4255550100"'),
      field: /tenants\[0\]\.applications\[0\]\.instances\[0\]\.phone/,
      problem: /E\.164/,
    },
    {
      name: 'an unknown behaviour key',
      yaml: base.replace('behaviour: { answerAfter: 3 }', 'behaviour: { ringTwice: true }'),
      field: /tenants\[0\]\.users\[1\]\.behaviour/,
      problem: /unknown behaviour key "ringTwice"/,
    },
    {
      name: 'a missing clientSecret',
      yaml: base.replace(`        clientSecret: ${SECRET}\n`, ''),
      field: /tenants\[0\]\.applications\[0\]/,
      problem: /clientSecret/,
    },
  ];
  for (const bad of badFiles) {
    test(`a directory file with ${bad.name} stops the start: non-zero exit, stderr names the field and the problem`, async () => {
      assert.notEqual(bad.yaml, base, 'the fixture changed something');
      const run = serve([], bad.yaml);
      let timer: NodeJS.Timeout | undefined;
      const { code, signal } = await Promise.race([
        run.exited,
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error(`still running\nstdout:\n${run.stdout()}`)), 30_000);
        }),
      ]).finally(() => clearTimeout(timer));
      assert.equal(signal, null);
      assert.notEqual(code, 0, 'non-zero exit');
      assert.ok(code !== null && code > 0);
      const stderr = run.stderr();
      assert.match(stderr, bad.field, `field named:\n${stderr}`);
      assert.match(stderr, bad.problem, `problem named:\n${stderr}`);
      // The field and the problem on one line.
      const line = stderr.split('\n').find((l) => bad.field.test(l));
      assert.ok(line && bad.problem.test(line), `one line says both:\n${stderr}`);
      assert.doesNotMatch(run.stdout(), /listening on/, 'it never listened');
    });
  }
});
