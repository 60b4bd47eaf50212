/**
 * Property-based fuzzing over real HTTPS (fast-check): generated bad or odd requests to every Graph, token,
 * identity-metadata and simulator route — bodies (random JSON, deep nesting, long strings, a wrong type in
 * each redirect field, forms, random and non-UTF-8 bytes, gzip), headers (tokens of every kind, content
 * types and encodings, client-request-ids, oversized), paths (ids that are random, encoded, overlong,
 * traversal-like; query strings) and methods (known, unknown, lower case; raw HTTP/1.1 for what a client
 * library will not send).
 *
 * Properties: no 5xx; the process stays up; every error is well formed (Graph-shaped on the Graph and
 * simulator routes and anywhere else, Azure AD-shaped from the token endpoint); every success is JSON or
 * empty. Afterwards every non-terminated call has a timer that will end it (or is an answered, established
 * call, which ends by DELETE or hang-up), and advancing the clock 200 s ends all of them.
 *
 * `SWITCHBOARD_FUZZ_RUNS` (default 1,000) sets the number of requests; the figures are printed as test
 * diagnostics.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { after, before, test } from 'node:test';
import fc from 'fast-check';
import { Agent, request } from 'undici';
import { GRAPH_SCOPE, Harness } from '../support/harness.js';
import {
  BOT,
  CONTOSO,
  FABRIKAM,
  FABRIKAM_BOT,
  PHONES,
  PSTN_INSTANCE,
  RECEPTION_BOT,
  USERS,
  appTarget,
  callFromCaller,
  phoneTarget,
  testDirectory,
  userTarget,
} from '../support/fixtures.js';
import { aadErrorProblem, algNoneToken, flipSignature, forgeToken, graphErrorProblem, hs256WithPublicKey, nowSeconds, rawExchange } from './security-support.js';

const RUNS = Number(process.env.SWITCHBOARD_FUZZ_RUNS ?? 1000);
const SEED = process.env.SWITCHBOARD_FUZZ_SEED === undefined ? undefined : Number(process.env.SWITCHBOARD_FUZZ_SEED);

let h: Harness;
let agent: Agent;
/** Authorization header values, filled in before the run. */
const auth: Record<string, string> = {};
/** Call ids that exist (placed before and during the run). */
const pool: string[] = [];

before(async () => {
  h = await Harness.start(testDirectory);
  agent = new Agent({ connect: { ca: h.sb.caPem! }, connections: 8 });
  const bot = await h.token(CONTOSO, BOT.id, BOT.secret);
  const keys = h.sb.keys;
  Object.assign(auth, {
    bot: `Bearer ${bot}`,
    reception: `Bearer ${await h.token(CONTOSO, RECEPTION_BOT.id, RECEPTION_BOT.secret)}`,
    fabrikam: `Bearer ${await h.token(FABRIKAM, FABRIKAM_BOT.id, FABRIKAM_BOT.secret)}`,
    admin: `Bearer ${h.sb.adminKey}`,
    adminLowercase: `bearer ${h.sb.adminKey}`,
    flipped: `Bearer ${flipSignature(bot)}`,
    algNone: `Bearer ${algNoneToken(keys, CONTOSO, BOT.id)}`,
    hs256: `Bearer ${await hs256WithPublicKey(keys, CONTOSO, BOT.id)}`,
    expired: `Bearer ${await forgeToken(keys, CONTOSO, BOT.id, { iat: nowSeconds() - 9000, nbf: nowSeconds() - 9000, exp: nowSeconds() - 5000 })}`,
    delegated: `Bearer ${await forgeToken(keys, CONTOSO, BOT.id, { scp: 'Calls.Initiate.All' })}`,
    noRoles: `Bearer ${await forgeToken(keys, CONTOSO, BOT.id, { roles: 'Calls.Initiate.All' })}`,
    weirdClaims: `Bearer ${await forgeToken(keys, CONTOSO, BOT.id, { tid: 12, appid: { a: 1 }, aud: ['x', 'https://graph.microsoft.com'] })}`,
    basic: `Basic ${Buffer.from(`${BOT.id}:${BOT.secret}`).toString('base64')}`,
    empty: '',
    bearerOnly: 'Bearer',
    garbage: 'Bearer a.b.c',
    huge: `Bearer ${'A'.repeat(12_000)}`,
    overHeaderLimit: `Bearer ${'A'.repeat(17_000)}`,
  });
  for (let i = 0; i < 12; i++) {
    const id = await h.placeCall(callFromCaller);
    pool.push(id);
  }
  await h.settle();
});
after(async () => {
  await agent?.close();
  await h?.close();
});

// --- arbitraries ---------------------------------------------------------------------------

/** A call id for a path: one that exists, or anything a client could put there. */
const callId = fc.oneof(
  { weight: 6, arbitrary: fc.nat().map((i) => ({ pool: i })) },
  { weight: 2, arbitrary: fc.uuid().map((s) => ({ text: s })) },
  { weight: 2, arbitrary: fc.string({ minLength: 1, maxLength: 40 }).map((s) => ({ text: encodeURIComponent(s) })) },
  { weight: 1, arbitrary: fc.integer({ min: 100, max: 700 }).map((n) => ({ text: 'a'.repeat(n) })) },
  {
    weight: 2,
    arbitrary: fc.constantFrom('%zz', '%', '%E0%A4%A', '..', '%2e%2e', '%2F..%2F', '%00', 'a%20b', '%F0%9F%93%9E', 'constructor', '__proto__', '%5B%5D', '*', '$metadata').map((text) => ({ text })),
  },
);
type CallIdSpec = { pool: number } | { text: string };
const resolveId = (spec: CallIdSpec): string => ('pool' in spec ? (pool[spec.pool % pool.length] ?? randomUUID()) : spec.text);

const anyJson = fc.jsonValue({ maxDepth: 4 });
/**
 * Callback URLs that pass the policy point at a closed loopback port: the fuzzer must never make
 * Switchboard send notifications (or DNS queries) to real hosts. Random URLs keep their paths and queries.
 */
const acceptedCallback = fc.webUrl({ withQueryParameters: true, withFragments: true }).map((u) => {
  const url = new URL(u);
  return `https://127.0.0.1:1${url.pathname}${url.search}${url.hash}`;
});
const refusedCallback = fc.webUrl().map((u) => u.replace(/^https:/, 'http:'));
const identity = fc.record({ id: fc.oneof(fc.constantFrom(...Object.values(USERS), BOT.id, RECEPTION_BOT.id, PSTN_INSTANCE.id), fc.string()), displayName: fc.option(fc.string(), { nil: undefined }) }, { requiredKeys: ['id'] });
const target = fc.oneof(
  fc.constantFrom(userTarget(USERS.testUser), userTarget(USERS.manual), userTarget(USERS.busy), appTarget(RECEPTION_BOT.id), phoneTarget(PHONES.answers), phoneTarget('+1')),
  fc.record({ identity: fc.dictionary(fc.constantFrom('user', 'application', 'phone', 'guest', 'encrypted', 'applicationInstance', 'other'), identity, { maxKeys: 3 }) }),
  anyJson,
);
/** A redirect body whose fields are each right, wrong, or missing. */
const redirectBody = fc.record(
  {
    targets: fc.oneof({ weight: 4, arbitrary: fc.array(target, { minLength: 1, maxLength: 4 }) }, { weight: 1, arbitrary: fc.array(target, { minLength: 24, maxLength: 30 }) }, { weight: 2, arbitrary: anyJson }),
    timeout: fc.oneof(fc.integer({ min: 10, max: 100 }), fc.double(), anyJson),
    maskCaller: fc.oneof(fc.boolean(), anyJson),
    maskCallee: fc.oneof(fc.boolean(), anyJson),
    targetDisposition: fc.oneof(fc.constantFrom('default', 'simultaneousRing', 'forward', 'sequential', null), anyJson),
    routingPolicies: fc.oneof(fc.array(fc.constantFrom('disableForwarding', 'none', 'nope')), anyJson),
    callbackUri: fc.oneof(
      fc.constantFrom('https://127.0.0.1:1/x', 'http://bot.example/x', 'https://169.254.169.254/', 'https://[::1]:1/', 'https://10.0.0.1/', 'https://metadata.google.internal/', 'not a url', '', 'https://2130706433:1/'),
      acceptedCallback,
      refusedCallback,
      anyJson,
    ),
  },
  { requiredKeys: [] },
);
const rejectBody = fc.record({ reason: fc.oneof(fc.constantFrom('none', 'busy', 'forbidden', 'maybe', null), anyJson), callbackUri: fc.oneof(acceptedCallback, refusedCallback, anyJson) }, { requiredKeys: [] });
const placeBody = fc.oneof(
  fc.constant(callFromCaller),
  fc.constant({ tenantId: CONTOSO, from: { phone: PHONES.answers }, to: { applicationInstanceId: PSTN_INSTANCE.id } }),
  fc.record({ tenantId: fc.oneof(fc.constantFrom(CONTOSO, FABRIKAM), fc.string()), from: fc.oneof(fc.record({ userId: fc.string() }), fc.record({ phone: fc.string() }), anyJson), to: fc.oneof(fc.record({ applicationId: fc.oneof(fc.constant(BOT.id), fc.string()) }), anyJson) }, { requiredKeys: [] }),
);
const advanceBody = fc.record({ seconds: fc.oneof(fc.double({ min: -5, max: 40, noNaN: false }), fc.integer({ min: 0, max: 10 }), anyJson) }, { requiredKeys: [] });
const tokenForm = fc.record(
  {
    grant_type: fc.constantFrom('client_credentials', 'password', 'authorization_code', '', 'CLIENT_CREDENTIALS'),
    client_id: fc.oneof(fc.constantFrom(BOT.id, FABRIKAM_BOT.id, RECEPTION_BOT.id), fc.string()),
    client_secret: fc.oneof(fc.constantFrom(BOT.secret, 'wrong'), fc.string()),
    scope: fc.oneof(fc.constantFrom(GRAPH_SCOPE, 'https://graph.microsoft.com/Calls.Initiate.All', 'openid', '00000003-0000-0000-c000-000000000000/.default', 'a/.default b/.default'), fc.string()),
    resource: fc.oneof(fc.constant('https://graph.microsoft.com'), fc.string()),
    client_assertion_type: fc.constantFrom('urn:ietf:params:oauth:client-assertion-type:jwt-bearer', 'x'),
    client_assertion: fc.oneof(fc.constant('a.b.c'), fc.string(), fc.constant(auth['algNone'] ?? 'x.y.')),
    claims: fc.string(),
  },
  { requiredKeys: [] },
);

type Body =
  | { kind: 'none' }
  | { kind: 'json'; value: unknown }
  | { kind: 'text'; text: string }
  | { kind: 'bytes'; bytes: Uint8Array }
  | { kind: 'form'; fields: Record<string, string> }
  | { kind: 'gzip'; value: unknown };

const deep = fc.integer({ min: 60, max: 70 }).map((n) => `${'{"a":'.repeat(n)}1${'}'.repeat(n)}`);
const body: fc.Arbitrary<Body> = fc.oneof(
  { weight: 3, arbitrary: fc.constant({ kind: 'none' as const }) },
  { weight: 6, arbitrary: redirectBody.map((value) => ({ kind: 'json' as const, value })) },
  { weight: 2, arbitrary: rejectBody.map((value) => ({ kind: 'json' as const, value })) },
  { weight: 3, arbitrary: placeBody.map((value) => ({ kind: 'json' as const, value })) },
  { weight: 1, arbitrary: advanceBody.map((value) => ({ kind: 'json' as const, value })) },
  { weight: 3, arbitrary: tokenForm.map((fields) => ({ kind: 'form' as const, fields })) },
  { weight: 3, arbitrary: anyJson.map((value) => ({ kind: 'json' as const, value })) },
  { weight: 1, arbitrary: deep.map((text) => ({ kind: 'text' as const, text })) },
  { weight: 1, arbitrary: fc.integer({ min: 4090, max: 4200 }).map((n) => ({ kind: 'json' as const, value: { targets: [userTarget(USERS.testUser, 'é'.repeat(Math.floor(n / 2)))], note: 'x'.repeat(n) } })) },
  { weight: 2, arbitrary: fc.string({ unit: 'binary', maxLength: 300 }).map((text) => ({ kind: 'text' as const, text })) },
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 300 }).map((bytes) => ({ kind: 'bytes' as const, bytes })) },
  { weight: 1, arbitrary: fc.constantFrom('{"__proto__":{"x":1}}', '{"constructor":{"prototype":{"x":1}}}', '{"targets":[{"identity":{"user":{"id":"x","__proto__":{}}}}]}', 'null', '[]', '""', '1e999', '{"a":1,"a":2}').map((text) => ({ kind: 'text' as const, text })) },
  { weight: 1, arbitrary: redirectBody.map((value) => ({ kind: 'gzip' as const, value })) },
  // Over the 1 MiB body limit (rarely: they are slow to send).
  { weight: 1, arbitrary: fc.nat(19).map((n) => (n === 0 ? { kind: 'text' as const, text: JSON.stringify({ targets: [], pad: Array.from({ length: 300 }, () => 'p'.repeat(4000)) }) } : { kind: 'none' as const })) },
);

const contentType = fc.oneof(
  { weight: 6, arbitrary: fc.constant('auto') },
  { weight: 3, arbitrary: fc.constantFrom('application/json', 'application/json; charset=utf-8', 'APPLICATION/JSON', 'application/x-www-form-urlencoded', 'text/plain', 'application/xml', 'multipart/form-data; boundary=x', 'application/json; charset=utf-16', 'application/merge-patch+json', '*/*', '') },
  { weight: 1, arbitrary: fc.string({ maxLength: 40 }) },
);
const authorization = fc.oneof(
  { weight: 8, arbitrary: fc.constantFrom('bot', 'admin', 'reception', 'fabrikam') },
  { weight: 4, arbitrary: fc.constantFrom('flipped', 'algNone', 'hs256', 'expired', 'delegated', 'noRoles', 'weirdClaims', 'basic', 'empty', 'bearerOnly', 'garbage', 'adminLowercase', 'huge', 'overHeaderLimit', 'none') },
  { weight: 1, arbitrary: fc.string({ maxLength: 80 }).map((s) => `raw:Bearer ${s}`) },
);

type Family = 'graph' | 'token' | 'identity' | 'simulator' | 'other';
interface PathSpec {
  family: Family;
  build: (id: string) => string;
  /** The methods the route answers. */
  methods: string[];
}
const tenantSegment = fc.oneof(fc.constantFrom(CONTOSO, FABRIKAM, 'common', 'organizations', CONTOSO.toUpperCase()), fc.uuid(), fc.string({ minLength: 1, maxLength: 20 }).map(encodeURIComponent));
const graphPath: fc.Arbitrary<PathSpec> = fc
  .record({ version: fc.constantFrom('v1.0', 'beta', 'v1.0', 'beta', 'V1.0', 'v2.0'), base: fc.constantFrom('communications/calls', 'app/calls'), op: fc.constantFrom('redirect', 'reject', 'answer', '', '', 'redirect/extra', 'participants', 'keepAlive') })
  .map(({ version, base, op }) => ({
    family: 'graph' as const,
    build: (id: string) => `/${version}/${base}/${id}${op ? `/${op}` : ''}`,
    methods: op === '' ? ['GET', 'DELETE'] : ['POST'],
  }));
const tokenPath: fc.Arbitrary<PathSpec> = fc.record({ tenant: tenantSegment, v: fc.constantFrom('oauth2/v2.0/token', 'oauth2/token') }).map(({ tenant, v }) => ({ family: 'token' as const, build: () => `/${tenant}/${v}`, methods: ['POST'] }));
const identityPath: fc.Arbitrary<PathSpec> = fc
  .record({
    tenant: tenantSegment,
    p: fc.constantFrom('v2.0/.well-known/openid-configuration', '.well-known/openid-configuration', 'discovery/v2.0/keys', 'discovery/keys', 'discovery/instance', 'discovery/instance?api-version=1.1&authorization_endpoint=https%3A%2F%2Fevil.example%2Fx', 'oauth2/v2.0/authorize'),
  })
  .map(({ tenant, p }) => ({ family: 'identity' as const, build: () => `/${tenant}/${p}`, methods: ['GET'] }));
const botFrameworkPath: fc.Arbitrary<PathSpec> = fc.constantFrom('/botframework/v1/.well-known/openidconfiguration', '/botframework/v1/.well-known/keys').map((p) => ({ family: 'identity' as const, build: () => p, methods: ['GET'] }));
const simulatorPath: fc.Arbitrary<PathSpec> = fc
  .record({
    p: fc.constantFrom('calls', 'calls/{id}', 'calls/{id}/hangup', 'calls/{id}/targets/{target}/answer', 'calls/{id}/targets/{target}/decline', 'calls/{id}/targets/{target}/busy', 'clock', 'clock/advance', 'calls?limit=5', 'calls?limit=-1', 'calls?limit=99999999'),
    target: fc.oneof(fc.constantFrom(USERS.manual, USERS.testUser, PHONES.answers, RECEPTION_BOT.id), fc.string({ minLength: 1, maxLength: 20 }).map(encodeURIComponent)),
  })
  .map(({ p, target: t }) => ({
    family: 'simulator' as const,
    build: (id: string) => `/simulator/${p.replace('{id}', id).replace('{target}', t)}`,
    methods: p === 'calls' ? ['GET', 'POST'] : p.includes('/') && !p.startsWith('calls/{id}') ? ['POST'] : p === 'calls/{id}' || p === 'clock' || p.startsWith('calls?') ? ['GET'] : ['POST'],
  }));
const otherPath: fc.Arbitrary<PathSpec> = fc
  .oneof(fc.constantFrom('/', '/v1.0', '/v1.0/', '/beta/communications', '/simulator', '/favicon.ico', '/v1.0/communications/calls', '//v1.0//communications/calls/x', '/v1.0/communications/calls/x/redirect/'), fc.webPath())
  .map((p) => ({ family: 'other' as const, build: () => (p.startsWith('/') ? p : `/${p}`), methods: ['GET'] }));
const pathSpec = fc.oneof(
  { weight: 8, arbitrary: graphPath },
  { weight: 4, arbitrary: tokenPath },
  { weight: 2, arbitrary: identityPath },
  { weight: 1, arbitrary: botFrameworkPath },
  { weight: 4, arbitrary: simulatorPath },
  { weight: 1, arbitrary: otherPath },
);

interface FuzzRequest {
  path: PathSpec;
  id: CallIdSpec;
  method: { kind: 'route' } | { kind: 'any'; name: string };
  query: string;
  authorization: string;
  contentType: string;
  contentEncoding: string;
  clientRequestId: string | undefined;
  body: Body;
  raw: boolean;
}

const randomRequest: fc.Arbitrary<FuzzRequest> = fc.record({
  path: pathSpec,
  id: callId,
  method: fc.oneof({ weight: 8, arbitrary: fc.constant({ kind: 'route' as const }) }, { weight: 2, arbitrary: fc.constantFrom('GET', 'POST', 'DELETE', 'PUT', 'PATCH', 'HEAD', 'OPTIONS', 'get', 'FOO', 'TRACE', 'CONNECT').map((name) => ({ kind: 'any' as const, name })) }),
  query: fc.oneof({ weight: 6, arbitrary: fc.constant('') }, { weight: 1, arbitrary: fc.constantFrom('?$select=id', '?client-request-id=x', '?a=%zz', `?x=${'q'.repeat(3000)}`, '?__proto__[x]=1') }, { weight: 1, arbitrary: fc.string({ maxLength: 30 }).map((s) => `?q=${encodeURIComponent(s)}`) }),
  authorization,
  contentType,
  contentEncoding: fc.oneof({ weight: 8, arbitrary: fc.constant('') }, { weight: 1, arbitrary: fc.constantFrom('gzip', 'br', 'deflate', 'identity', 'x-unknown') }),
  clientRequestId: fc.option(fc.oneof(fc.uuid(), fc.string({ maxLength: 200 })), { nil: undefined }),
  body,
  raw: fc.nat(3).map((n) => n === 0), // a quarter go over a raw TLS socket
});

/**
 * Requests that are right but for at most one thing (so the fuzzer reaches the call machine, not only the
 * front door): place calls, act on existing ones with the right token, ask for tokens.
 */
const goodTargets = fc.array(fc.constantFrom(userTarget(USERS.testUser), userTarget(USERS.manual), userTarget(USERS.busy), userTarget(USERS.noAnswer), appTarget(RECEPTION_BOT.id), phoneTarget(PHONES.answers)), { minLength: 1, maxLength: 3 });
const goodRedirect = fc.record({ targets: goodTargets, timeout: fc.integer({ min: 15, max: 90 }) }, { requiredKeys: ['targets'] });
const validish: fc.Arbitrary<FuzzRequest> = fc
  .record({
    op: fc.constantFrom('place', 'place', 'redirect', 'redirect', 'reject', 'answer', 'get', 'delete', 'hangup', 'target', 'advance', 'token'),
    version: fc.constantFrom('v1.0', 'beta'),
    id: fc.nat().map((i) => ({ pool: i })),
    redirect: fc.oneof({ weight: 3, arbitrary: goodRedirect }, { weight: 1, arbitrary: redirectBody }),
    target: fc.constantFrom(USERS.manual, USERS.testUser, PHONES.answers, RECEPTION_BOT.id),
    action: fc.constantFrom('answer', 'decline', 'busy'),
    reason: fc.constantFrom('none', 'busy', 'forbidden'),
    seconds: fc.constantFrom(0.5, 1, 3, 5, 16),
    token: fc.constantFrom('bot', 'bot', 'bot', 'reception', 'fabrikam'),
    form: fc.oneof({ weight: 3, arbitrary: fc.constant({ grant_type: 'client_credentials', client_id: BOT.id, client_secret: BOT.secret, scope: GRAPH_SCOPE }) }, { weight: 1, arbitrary: tokenForm }),
    mutation: fc.oneof(
      { weight: 5, arbitrary: fc.constant<Partial<FuzzRequest>>({}) },
      { weight: 1, arbitrary: contentType.map((contentType) => ({ contentType })) },
      { weight: 1, arbitrary: authorization.map((a) => ({ authorization: a })) },
      { weight: 1, arbitrary: body.map((b) => ({ body: b })) },
      { weight: 1, arbitrary: fc.boolean().map(() => ({ raw: true })) },
    ),
  })
  .map(({ op, version, id, redirect, target: t, action, reason, seconds, token, form, mutation }): FuzzRequest => {
    const base: Omit<FuzzRequest, 'path' | 'method' | 'body' | 'authorization'> = { id, query: '', contentType: 'auto', contentEncoding: '', clientRequestId: undefined, raw: false };
    const graph = (suffix: string, method: string, b: Body): FuzzRequest => ({
      ...base,
      path: { family: 'graph', build: (callId) => `/${version}/communications/calls/${callId}${suffix}`, methods: [method] },
      method: { kind: 'any', name: method },
      body: b,
      authorization: token,
    });
    const sim = (p: (callId: string) => string, method: string, b: Body): FuzzRequest => ({
      ...base,
      path: { family: 'simulator', build: p, methods: [method] },
      method: { kind: 'any', name: method },
      body: b,
      authorization: 'admin',
    });
    let r: FuzzRequest;
    switch (op) {
      case 'place':
        r = sim(() => '/simulator/calls', 'POST', { kind: 'json', value: callFromCaller });
        break;
      case 'redirect':
        r = graph('/redirect', 'POST', { kind: 'json', value: redirect });
        break;
      case 'reject':
        r = graph('/reject', 'POST', { kind: 'json', value: { reason } });
        break;
      case 'answer':
        r = graph('/answer', 'POST', { kind: 'json', value: {} });
        break;
      case 'get':
        r = graph('', 'GET', { kind: 'none' });
        break;
      case 'delete':
        r = graph('', 'DELETE', { kind: 'none' });
        break;
      case 'hangup':
        r = sim((callId) => `/simulator/calls/${callId}/hangup`, 'POST', { kind: 'none' });
        break;
      case 'target':
        r = sim((callId) => `/simulator/calls/${callId}/targets/${encodeURIComponent(t)}/${action}`, 'POST', { kind: 'none' });
        break;
      case 'advance':
        r = sim(() => '/simulator/clock/advance', 'POST', { kind: 'json', value: { seconds } });
        break;
      default:
        r = { ...base, path: { family: 'token', build: () => `/${CONTOSO}/oauth2/v2.0/token`, methods: ['POST'] }, method: { kind: 'any', name: 'POST' }, body: { kind: 'form', fields: form }, authorization: 'none' };
    }
    return { ...r, ...mutation };
  });

const fuzzRequest: fc.Arbitrary<FuzzRequest> = fc.oneof({ weight: 3, arbitrary: randomRequest }, { weight: 2, arbitrary: validish });

// --- sending -------------------------------------------------------------------------------

interface Outcome {
  status?: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  method: string;
  url: string;
  family: Family;
}

const headerSafe = (s: string) => /^[\t\x20-\x7e\x80-\xff]*$/.test(s);

function encodeBody(b: Body, contentType: string): { bytes?: Buffer; type?: string | undefined } {
  switch (b.kind) {
    case 'none':
      return {};
    case 'json':
      return { bytes: Buffer.from(JSON.stringify(b.value) ?? 'null'), type: 'application/json' };
    case 'text':
      return { bytes: Buffer.from(b.text, 'utf8'), type: 'application/json' };
    case 'bytes':
      return { bytes: Buffer.from(b.bytes), type: contentType === 'auto' ? 'application/octet-stream' : undefined };
    case 'form':
      return { bytes: Buffer.from(new URLSearchParams(b.fields).toString()), type: 'application/x-www-form-urlencoded' };
    case 'gzip':
      return { bytes: gzipSync(Buffer.from(JSON.stringify(b.value) ?? 'null')), type: 'application/json' };
  }
}

async function send(r: FuzzRequest): Promise<Outcome> {
  const id = resolveId(r.id);
  const path = r.path.build(id) + r.query;
  const method = r.method.kind === 'route' ? (r.path.methods[id.length % r.path.methods.length] ?? 'GET') : r.method.name;
  const { bytes, type } = encodeBody(r.body, r.contentType);
  const headers: Record<string, string> = {};
  if (r.authorization.startsWith('raw:')) headers['authorization'] = r.authorization.slice(4);
  else if (r.authorization !== 'none') headers['authorization'] = auth[r.authorization] ?? '';
  const ct = r.contentType === 'auto' ? type : r.contentType;
  if (ct !== undefined && (bytes !== undefined || r.contentType !== 'auto')) headers['content-type'] = ct;
  if (r.contentEncoding) headers['content-encoding'] = r.contentEncoding;
  if (r.clientRequestId !== undefined) headers['client-request-id'] = r.clientRequestId;
  for (const [k, v] of Object.entries(headers)) if (!headerSafe(v)) delete headers[k];

  const standardMethod = ['GET', 'POST', 'DELETE', 'PUT', 'PATCH', 'HEAD', 'OPTIONS'].includes(method);
  const sendBody = bytes !== undefined && method !== 'GET' && method !== 'HEAD';
  if (!r.raw && standardMethod) {
    try {
      const res = await request(`${h.sb.url}${path}`, {
        method: method as 'GET',
        headers,
        dispatcher: agent,
        ...(sendBody ? { body: bytes } : {}),
      });
      const text = await res.body.text();
      // undici sends the path as the URL parser writes it ('/./x' → '/x'): check against what was sent.
      const sent = new URL(path, h.sb.url);
      return { status: res.statusCode, headers: res.headers, text, method, url: `${sent.pathname}${sent.search}`, family: r.path.family };
    } catch (error) {
      // undici refuses some inputs itself (e.g. a path it cannot send): fall through to raw.
      if (!(error instanceof Error) || !/invalid|Invalid/.test(error.message)) throw error;
    }
  }
  const lines = [`${method} ${path} HTTP/1.1`, `Host: 127.0.0.1:${h.sb.port}`, 'Connection: close'];
  for (const [k, v] of Object.entries(headers)) lines.push(`${k}: ${v}`);
  if (sendBody) lines.push(`Content-Length: ${bytes.length}`);
  const head = Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'latin1');
  const res = await rawExchange(h.sb.port, h.sb.caPem!, sendBody ? Buffer.concat([head, bytes]) : head, { timeoutMs: 5000 });
  return { ...(res.status !== undefined ? { status: res.status } : {}), headers: res.headers, text: res.body, method, url: path, family: r.path.family };
}

// --- checking ------------------------------------------------------------------------------

const stats = { requests: 0, fiveHundreds: 0, statuses: new Map<number, number>(), raw: 0 };

function check(r: FuzzRequest, o: Outcome): void {
  stats.requests++;
  if (r.raw) stats.raw++;
  const what = `${o.method} ${o.url.slice(0, 200)} → ${o.status} ${o.text.slice(0, 300)}`;
  assert.ok(o.status !== undefined, `no response: ${what}`);
  stats.statuses.set(o.status, (stats.statuses.get(o.status) ?? 0) + 1);
  if (o.status >= 500) stats.fiveHundreds++;
  assert.ok(o.status < 500, `5xx: ${what}`);
  if (o.method === 'HEAD') return;
  if (o.status < 300) {
    if (o.text !== '') {
      assert.match(String(o.headers['content-type']), /^application\/json/, `success content-type: ${what}`);
      JSON.parse(o.text);
    }
    return;
  }
  assert.ok(o.status >= 400, `an error status: ${what}`);
  const graph = graphErrorProblem(o.status, o.headers, o.text);
  const aad = aadErrorProblem(o.headers, o.text);
  // 431 and 408 come from the HTTP parser, before any route: Graph-shaped everywhere.
  const beforeRouting = o.status === 431 || o.status === 408;
  const tokenPathSent = /^\/[^/?]+\/oauth2\/(?:v2\.0\/)?token(?:\?|$)/.test(o.url);
  if (o.family === 'token' && o.method === 'POST' && tokenPathSent && !beforeRouting) assert.equal(aad, undefined, `Azure AD error shape (${aad}): ${what}`);
  else if (o.family === 'token' || o.family === 'identity') assert.ok(aad === undefined || graph === undefined, `identity error (${aad} / ${graph}): ${what}`);
  else assert.equal(graph, undefined, `Graph error shape (${graph}): ${what}`);
}

test(`fuzz: ${RUNS} generated requests to every Graph, token and simulator route`, { timeout: Math.max(120_000, RUNS * 60) }, async (t) => {
  const started = performance.now();
  await fc.assert(
    fc.asyncProperty(fuzzRequest, async (r) => {
      const outcome = await send(r);
      check(r, outcome);
      // Calls placed by the fuzzer join the pool of ids the next requests aim at.
      if (outcome.status === 201 && outcome.url.startsWith('/simulator/calls')) {
        const created = JSON.parse(outcome.text) as { id?: string };
        if (created.id) pool.push(created.id);
      }
    }),
    { numRuns: RUNS, ...(SEED !== undefined ? { seed: SEED } : {}), endOnFailure: true, includeErrorInReport: true },
  );
  const seconds = (performance.now() - started) / 1000;
  const statuses = [...stats.statuses].sort((a, b) => a[0] - b[0]).map(([s, n]) => `${s}: ${n}`).join(', ');
  t.diagnostic(`fuzzed ${stats.requests} requests (${stats.raw} over raw TLS) in ${seconds.toFixed(1)} s; 5xx seen: ${stats.fiveHundreds}; statuses ${statuses}`);
  assert.equal(stats.fiveHundreds, 0);

  // The process is up and serving.
  assert.equal((await h.simulator('GET', '/clock')).status, 200);
  const tokenRes = await h.http('POST', `/${CONTOSO}/oauth2/v2.0/token`, { form: { grant_type: 'client_credentials', client_id: BOT.id, client_secret: BOT.secret, scope: GRAPH_SCOPE } });
  assert.equal(tokenRes.status, 200);
  await h.settle();

  // Every call that has not ended has a timer that will end it (incoming: its 15 s window; redirecting:
  // its ring timeout; a bot's leg: its parent's ring timeout), or is established (answered: ends by DELETE
  // or hang-up).
  const calls = await h.sb.store.listCalls(100_000);
  const timers = await h.sb.store.dueTimers(Number.MAX_SAFE_INTEGER, 100_000);
  const timed = new Set(timers.map((tm) => tm.callId));
  const byId = new Map(calls.map((c) => [c.id, c]));
  const live = calls.filter((c) => c.state !== 'terminated');
  const established = live.filter((c) => c.state === 'established');
  for (const call of live) {
    if (call.state === 'established') continue;
    if (call.kind === 'botLeg') {
      const parent = byId.get(call.parentCallId ?? '');
      assert.ok(parent && parent.state !== 'terminated' && timed.has(parent.id), `bot leg ${call.id} (${call.state}) has a live parent with a timer`);
    } else {
      assert.ok(timed.has(call.id), `call ${call.id} (${call.state}) has a timer`);
    }
  }
  t.diagnostic(`${calls.length} calls in the store: ${live.length} not terminated (${established.length} established, answered by the bot), ${timers.length} timers`);

  // And they do end: 200 s later (more than the 15 s window and the 90 s longest ring) only established calls are left.
  await h.advance(200);
  await h.settle();
  const after = (await h.sb.store.listCalls(100_000)).filter((c) => c.state !== 'terminated');
  assert.deepEqual(
    after.filter((c) => c.state !== 'established').map((c) => `${c.id} ${c.kind} ${c.state}`),
    [],
    'every incoming or ringing call has ended',
  );
});
