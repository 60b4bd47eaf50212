/**
 * The callback URL policy (src/notifications/callback-policy.ts): address classes, the request-time check,
 * and the connection-time check through the delivery agent's connector, with a fake resolver standing in
 * for DNS (a name that resolves to loopback, metadata or private addresses, as a DNS rebinding attack does).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import https from 'node:https';
import type { LookupAddress } from 'node:dns';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Agent, request } from 'undici';
import { ensureDevCertificates } from '../../src/identity/dev-ca.js';
import { CallbackPolicy, classifyAddress, classifyHost, type CallbackPolicyOptions } from '../../src/notifications/callback-policy.js';
import { guardedConnector } from '../../src/notifications/delivery.js';

describe('address classes', () => {
  const table: Array<[string, string]> = [
    ['127.0.0.1', 'loopback'],
    ['127.255.0.9', 'loopback'],
    ['::1', 'loopback'],
    ['::ffff:127.0.0.1', 'loopback'],
    ['::ffff:7f00:1', 'loopback'],
    ['169.254.169.254', 'metadata'],
    ['169.254.170.2', 'metadata'],
    ['fd00:ec2::254', 'metadata'],
    ['100.100.100.200', 'metadata'],
    ['168.63.129.16', 'metadata'],
    ['::ffff:169.254.169.254', 'metadata'],
    ['64:ff9b::a9fe:a9fe', 'metadata'],
    ['2002:a9fe:a9fe::1', 'metadata'],
    ['169.254.1.1', 'linkLocal'],
    ['fe80::1', 'linkLocal'],
    ['fe80::1%eth0', 'linkLocal'],
    ['10.0.0.1', 'private'],
    ['172.16.0.1', 'private'],
    ['172.31.255.255', 'private'],
    ['192.168.1.1', 'private'],
    ['100.64.0.1', 'private'],
    ['fd12:3456::1', 'private'],
    ['::ffff:10.1.2.3', 'private'],
    ['0.0.0.0', 'unspecified'],
    ['::', 'unspecified'],
    ['224.0.0.1', 'nonUnicast'],
    ['255.255.255.255', 'nonUnicast'],
    ['ff02::1', 'nonUnicast'],
    ['8.8.8.8', 'public'],
    ['172.32.0.1', 'public'],
    ['2606:4700:4700::1111', 'public'],
  ];
  for (const [address, cls] of table) {
    test(`${address} is ${cls}`, () => assert.equal(classifyAddress(address), cls));
  }

  test('host names with a fixed meaning, and URL spellings of addresses', () => {
    assert.equal(classifyHost('localhost'), 'loopback');
    assert.equal(classifyHost('LOCALHOST.'), 'loopback');
    assert.equal(classifyHost('api.localhost'), 'loopback');
    assert.equal(classifyHost('metadata.google.internal'), 'metadata');
    assert.equal(classifyHost('[::1]'), 'loopback');
    assert.equal(classifyHost('bot.example.com'), undefined, 'ordinary names are checked when resolved');
    // The URL parser turns these into 127.0.0.1 / 169.254.169.254 before the policy sees them.
    for (const spelling of ['https://0x7f.1/', 'https://2130706433/', 'https://017700000001/', 'https://127.1/']) {
      assert.equal(classifyHost(new URL(spelling).hostname), 'loopback', spelling);
    }
    assert.equal(classifyHost(new URL('https://2852039166/').hostname), 'metadata');
  });
});

describe('request-time check', () => {
  const dev = new CallbackPolicy({ allowHosts: [], devMode: true });
  const operator = new CallbackPolicy({ allowHosts: ['10.0.0.5', 'Hooks.Internal', '::1'], devMode: false });

  const cases: Array<{ uri: string; dev: string | undefined; operator: string | undefined }> = [
    { uri: 'http://bot.example.com/', dev: 'https-only', operator: 'https-only' },
    { uri: 'not a url', dev: 'invalid-url', operator: 'invalid-url' },
    { uri: 'https://bot.example.com/api', dev: undefined, operator: undefined },
    { uri: 'https://127.0.0.1:9443/api', dev: undefined, operator: 'loopback' },
    { uri: 'https://localhost/api', dev: undefined, operator: 'loopback' },
    { uri: 'https://[::1]:9443/', dev: undefined, operator: undefined },
    { uri: 'https://169.254.169.254/latest/meta-data/', dev: 'metadata', operator: 'metadata' },
    { uri: 'https://metadata.google.internal/computeMetadata/v1/', dev: 'metadata', operator: 'metadata' },
    { uri: 'https://[fd00:ec2::254]/', dev: 'metadata', operator: 'metadata' },
    { uri: 'https://100.100.100.200/', dev: 'metadata', operator: 'metadata' },
    { uri: 'https://10.0.0.5/hook', dev: 'private', operator: undefined },
    { uri: 'https://10.0.0.6/hook', dev: 'private', operator: 'private' },
    { uri: 'https://hooks.internal/x', dev: undefined, operator: undefined },
    { uri: 'https://192.168.0.10/', dev: 'private', operator: 'private' },
    { uri: 'https://[fe80::1]/', dev: 'linkLocal', operator: 'linkLocal' },
    { uri: 'https://0.0.0.0/', dev: 'unspecified', operator: 'unspecified' },
  ];
  for (const c of cases) {
    test(`${c.uri}: dev ${c.dev ?? 'allowed'}, operator ${c.operator ?? 'allowed'}`, () => {
      assert.equal(dev.checkUrl(c.uri)?.rule, c.dev);
      assert.equal(operator.checkUrl(c.uri)?.rule, c.operator);
    });
  }

  test('the refusal names the rule and the way out', () => {
    const message = dev.checkUrl('https://169.254.169.254/x')!.message;
    assert.match(message, /cloud metadata address/);
    assert.match(message, /notifications\.allowHosts/);
    assert.match(operator.checkUrl('https://127.0.0.1/')!.message, /operator mode/);
  });

  test('directory problems name the application', () => {
    const problems = operator.directoryProblems([
      { id: 'app-1', tenantId: 't', callbackUri: 'https://127.0.0.1:9443/api' },
      { id: 'app-2', tenantId: 't', callbackUri: 'https://bot.example.com/api' },
    ]);
    assert.equal(problems.length, 1);
    assert.match(problems[0]!, /app-1.*https:\/\/127\.0\.0\.1:9443\/api.*loopback/);
  });
});

describe('connection-time check (the delivery connector, a fake DNS)', () => {
  let dir: string;
  let server: https.Server;
  let port: number;
  let ca: string;
  const hits: string[] = [];

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'switchboard-callback-policy-'));
    const certs = ensureDevCertificates(dir, ['bot.example.test', 'rebind.example.test', 'mixed.example.test']);
    ca = certs.ca;
    server = https.createServer({ cert: certs.cert, key: certs.key }, (req, res) => {
      hits.push(String(req.headers.host));
      res.writeHead(202).end();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });
  after(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    rmSync(dir, { recursive: true, force: true });
  });

  /** DNS as an attacker would run it. */
  const fakeDns: Record<string, LookupAddress[]> = {
    'bot.example.test': [{ address: '127.0.0.1', family: 4 }],
    'rebind.example.test': [
      { address: '169.254.169.254', family: 4 },
      { address: '10.0.0.1', family: 4 },
    ],
    'mixed.example.test': [
      { address: '10.0.0.1', family: 4 },
      { address: '127.0.0.1', family: 4 },
    ],
  };
  const resolve: NonNullable<CallbackPolicyOptions['resolve']> = (hostname, options, callback) => {
    assert.equal(options.all, true);
    const found = fakeDns[hostname];
    if (!found) return callback(Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' }), []);
    callback(null, found);
  };

  async function post(policy: CallbackPolicy, url: string): Promise<{ status?: number; code?: string | undefined; message?: string | undefined }> {
    const agent = new Agent({ connect: guardedConnector(policy, [ca], 2000) });
    try {
      const res = await request(url, { method: 'POST', dispatcher: agent, body: '{}', headers: { 'content-type': 'application/json' } });
      await res.body.dump();
      return { status: res.statusCode };
    } catch (error) {
      const e = error as { code?: string; message?: string; cause?: { code?: string; message?: string } };
      return { code: e.code ?? e.cause?.code, message: e.message ?? e.cause?.message };
    } finally {
      await agent.close();
    }
  }

  test('dev mode: a name resolving to loopback is delivered', async () => {
    const res = await post(new CallbackPolicy({ allowHosts: [], devMode: true, resolve }), `https://bot.example.test:${port}/api`);
    assert.equal(res.status, 202, JSON.stringify(res));
    assert.ok(hits.includes(`bot.example.test:${port}`));
  });

  test('operator mode: the same name is refused at connect time (ECALLBACKREFUSED), nothing reaches the server', async () => {
    const before = hits.length;
    const res = await post(new CallbackPolicy({ allowHosts: [], devMode: false, resolve }), `https://bot.example.test:${port}/api`);
    assert.equal(res.code, 'ECALLBACKREFUSED', JSON.stringify(res));
    assert.match(res.message ?? '', /resolves to 127\.0\.0\.1, a loopback address/);
    assert.equal(hits.length, before);
  });

  test('operator mode with the host allow-listed: delivered', async () => {
    const res = await post(new CallbackPolicy({ allowHosts: ['bot.example.test'], devMode: false, resolve }), `https://bot.example.test:${port}/api`);
    assert.equal(res.status, 202, JSON.stringify(res));
  });

  test('a name resolving only to metadata and private addresses is refused in every mode', async () => {
    const res = await post(new CallbackPolicy({ allowHosts: [], devMode: true, resolve }), `https://rebind.example.test:${port}/api`);
    assert.equal(res.code, 'ECALLBACKREFUSED', JSON.stringify(res));
    assert.match(res.message ?? '', /169\.254\.169\.254, a cloud metadata address/);
  });

  test('refused addresses are dropped from a mixed answer: only the allowed one is connected to', async () => {
    const res = await post(new CallbackPolicy({ allowHosts: [], devMode: true, resolve }), `https://mixed.example.test:${port}/api`);
    assert.equal(res.status, 202, JSON.stringify(res));
  });

  test('literal IPs are checked before connecting (DNS is not consulted for them)', async () => {
    const operator = new CallbackPolicy({ allowHosts: [], devMode: false, resolve });
    const res = await post(operator, `https://127.0.0.1:${port}/api`);
    assert.equal(res.code, 'ECALLBACKREFUSED', JSON.stringify(res));
    const metadata = await post(new CallbackPolicy({ allowHosts: [], devMode: true, resolve }), 'https://169.254.169.254/latest/meta-data/');
    assert.equal(metadata.code, 'ECALLBACKREFUSED');
  });

  test('names with a fixed meaning are refused before any DNS query', async () => {
    let asked = 0;
    const counting = new CallbackPolicy({ allowHosts: [], devMode: true, resolve: (h, o, cb) => { asked++; resolve(h, o, cb); } });
    const res = await post(counting, 'https://metadata.google.internal/computeMetadata/v1/');
    assert.equal(res.code, 'ECALLBACKREFUSED');
    assert.equal(asked, 0);
  });
});
