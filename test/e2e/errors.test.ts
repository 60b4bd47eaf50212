/**
 * Every way a request can be wrong, end to end: a real Switchboard over HTTPS (virtual clock), a real HTTPS
 * bot receiver, real tokens. Each Graph and simulator failure must be a Graph error
 * `{error: {code, message, innerError: {request-id, date, client-request-id}}}` with the `request-id` and
 * `client-request-id` response headers; the token endpoint answers in Azure AD's own error format.
 * Finally, no call placed here is left without a way to end.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { Harness, type HttpResult } from '../support/harness.js';
import {
  BOT,
  BOT2,
  CONTOSO,
  FABRIKAM,
  FABRIKAM_BOT,
  PHONES,
  PLAIN_BOT,
  RECEPTION_BOT,
  USERS,
  callFromCaller,
  phoneTarget,
  testDirectory,
  userTarget,
} from '../support/fixtures.js';

let h: Harness;
let token: string;
/** Every call this file places, so the last test can check that each one can still end. */
const placed: string[] = [];

before(async () => {
  h = await Harness.start(testDirectory);
  token = await h.token(CONTOSO, BOT.id, BOT.secret);
});
after(async () => h?.close());

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const header = (res: HttpResult, name: string): string | undefined => {
  const v = res.headers[name];
  return Array.isArray(v) ? v[0] : v;
};

/**
 * Asserts a Graph-shaped error. `clientRequestId`: the id the request sent (echoed), or undefined when none
 * was sent (then the server's own id must be there, the same in header and body).
 */
function assertGraphError(
  res: HttpResult,
  expected: { status: number | number[]; code?: string; message?: RegExp; clientRequestId?: string },
  label = '',
): void {
  const what = `${label} → ${res.status} ${res.text.slice(0, 400)}`;
  const statuses = Array.isArray(expected.status) ? expected.status : [expected.status];
  assert.ok(statuses.includes(res.status), `status: expected ${statuses.join(' or ')}: ${what}`);
  assert.match(String(header(res, 'content-type')), /^application\/json/, `content-type: ${what}`);
  assert.ok(res.json && typeof res.json === 'object' && !Array.isArray(res.json), `a JSON object body: ${what}`);
  assert.deepEqual(Object.keys(res.json), ['error'], `only "error" at top level: ${what}`);
  const error = res.json.error;
  assert.equal(typeof error.code, 'string', `error.code: ${what}`);
  assert.ok(error.code.length > 0, `error.code not empty: ${what}`);
  assert.equal(typeof error.message, 'string', `error.message: ${what}`);
  assert.ok(error.message.length > 0, `error.message not empty: ${what}`);
  if (expected.code !== undefined) assert.equal(error.code, expected.code, `error.code: ${what}`);
  if (expected.message) assert.match(error.message, expected.message, `error.message: ${what}`);
  const inner = error.innerError;
  assert.ok(inner && typeof inner === 'object', `innerError: ${what}`);
  assert.match(String(inner['request-id']), UUID, `innerError.request-id is a uuid: ${what}`);
  assert.equal(typeof inner.date, 'string', `innerError.date: ${what}`);
  assert.match(inner.date, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/, `innerError.date is ISO-8601: ${what}`);
  assert.ok(Math.abs(Date.parse(inner.date) - Date.now()) < 10 * 60_000, `innerError.date is about now: ${what}`);
  assert.equal(typeof inner['client-request-id'], 'string', `innerError.client-request-id: ${what}`);
  assert.equal(header(res, 'request-id'), inner['request-id'], `request-id header = innerError.request-id: ${what}`);
  assert.equal(header(res, 'client-request-id'), inner['client-request-id'], `client-request-id header = innerError's: ${what}`);
  if (expected.clientRequestId !== undefined) {
    assert.equal(inner['client-request-id'], expected.clientRequestId, `client-request-id echoed: ${what}`);
  } else {
    assert.ok(inner['client-request-id'].length > 0, `a client-request-id even when none was sent: ${what}`);
  }
}

async function place(body: unknown = callFromCaller): Promise<string> {
  const id = await h.placeCall(body);
  placed.push(id);
  return id;
}

/** A fresh incoming call to the test bot (its `created` notification has arrived). */
async function incomingCall(body: unknown = callFromCaller): Promise<string> {
  const id = await place(body);
  await h.receiver.waitFor(id, 'created');
  return id;
}

const redirectPath = (id: string, version = 'v1.0') => `/${version}/communications/calls/${id}/redirect`;

/** POST redirect with a client-request-id; returns the response and the id sent. */
async function postRedirect(
  id: string,
  init: { body?: unknown; raw?: string; headers?: Record<string, string>; token?: string | null },
  version = 'v1.0',
): Promise<{ res: HttpResult; crid: string }> {
  const crid = randomUUID();
  const t = init.token === null ? undefined : (init.token ?? token);
  const res = await h.http('POST', redirectPath(id, version), {
    ...(t ? { token: t } : {}),
    ...(init.body !== undefined ? { body: init.body } : {}),
    ...(init.raw !== undefined ? { raw: init.raw } : {}),
    headers: { 'client-request-id': crid, ...(init.headers ?? {}) },
  });
  return { res, crid };
}

const many = (n: number) => Array.from({ length: n }, (_, i) => userTarget(`${String(i).padStart(8, '0')}-0000-4000-8000-000000000000`));

describe('redirect: bad bodies are 400 BadRequest naming the field', () => {
  const cases: Array<{ name: string; body: unknown; message: RegExp }> = [
    { name: 'timeout 14 (below 15)', body: { targets: [userTarget(USERS.testUser)], timeout: 14 }, message: /timeout/ },
    { name: 'timeout 91 (above 90)', body: { targets: [userTarget(USERS.testUser)], timeout: 91 }, message: /timeout/ },
    { name: 'timeout "20" (a string)', body: { targets: [userTarget(USERS.testUser)], timeout: '20' }, message: /timeout/ },
    { name: 'timeout 20.5 (not an integer)', body: { targets: [userTarget(USERS.testUser)], timeout: 20.5 }, message: /timeout/ },
    { name: '0 targets', body: { targets: [] }, message: /targets/ },
    { name: '26 targets', body: { targets: many(26) }, message: /targets/ },
    { name: 'targets missing', body: { timeout: 30 }, message: /targets/ },
    { name: 'targets[0] without identity', body: { targets: [{ '@odata.type': '#microsoft.graph.invitationParticipantInfo' }] }, message: /targets\[0\]\.identity|identity/ },
    {
      name: 'an identity set naming two kinds',
      body: { targets: [{ identity: { user: { id: USERS.testUser }, phone: { id: PHONES.answers } } }] },
      message: /targets\[0\]\.identity/,
    },
    { name: 'an identity set naming none', body: { targets: [{ identity: {} }] }, message: /targets\[0\]\.identity/ },
    { name: 'a phone id without "+" ("4255550100")', body: { targets: [phoneTarget('4255550100')] }, message: /E\.164|phone/ },
    { name: 'a phone id with spaces ("+1 425 555 0100")', body: { targets: [phoneTarget('+1 425 555 0100')] }, message: /E\.164|phone/ },
    { name: 'callbackUri http://', body: { targets: [userTarget(USERS.testUser)], callbackUri: 'http://127.0.0.1/api/calls' }, message: /callbackUri/ },
    { name: 'callbackUri not a URL', body: { targets: [userTarget(USERS.testUser)], callbackUri: 'not a url' }, message: /callbackUri/ },
    { name: 'targetDisposition "bogus"', body: { targets: [userTarget(USERS.testUser)], targetDisposition: 'bogus' }, message: /targetDisposition/ },
    { name: 'routingPolicies ["bogus"]', body: { targets: [userTarget(USERS.testUser)], routingPolicies: ['bogus'] }, message: /routingPolicies/ },
    { name: 'maskCaller "yes"', body: { targets: [userTarget(USERS.testUser)], maskCaller: 'yes' }, message: /maskCaller/ },
  ];
  for (const c of cases) {
    test(c.name, async () => {
      const id = await incomingCall();
      const { res, crid } = await postRedirect(id, { body: c.body });
      assertGraphError(res, { status: 400, code: 'BadRequest', message: c.message, clientRequestId: crid }, c.name);
      assert.equal((await h.record(id)).state, 'incoming', 'a refused redirect leaves the call incoming');
    });
  }

  test('the same validation on /beta and the /app/calls alias', async () => {
    const id = await incomingCall();
    for (const path of [`/beta/communications/calls/${id}/redirect`, `/beta/app/calls/${id}/redirect`, `/v1.0/app/calls/${id}/redirect`]) {
      const res = await h.http('POST', path, { token, body: { targets: [userTarget(USERS.testUser)], timeout: 14 } });
      assertGraphError(res, { status: 400, code: 'BadRequest', message: /timeout/ }, path);
    }
  });

  test('a phone target from a bot without an application instance: 400 saying an instance with a number is required', async () => {
    const id = await incomingCall({ tenantId: CONTOSO, from: { userId: USERS.caller }, to: { applicationId: PLAIN_BOT.id } });
    const plainToken = await h.token(CONTOSO, PLAIN_BOT.id, PLAIN_BOT.secret);
    const { res, crid } = await postRedirect(id, { body: { targets: [phoneTarget(PHONES.answers)] }, token: plainToken });
    assertGraphError(res, { status: 400, code: 'BadRequest', message: /application instance with a phone number/i, clientRequestId: crid });
    assert.equal((await h.record(id)).state, 'incoming');
    // A user target from the same bot is fine: the instance is needed for phone targets only.
    const ok = await postRedirect(id, { body: { targets: [userTarget(USERS.noAnswer)], timeout: 15 }, token: plainToken });
    assert.equal(ok.res.status, 202, ok.res.text);
  });

  test('unknown fields are ignored: 202', async () => {
    const id = await incomingCall();
    const { res } = await postRedirect(id, {
      body: {
        targets: [{ ...userTarget(USERS.noAnswer), somethingNew: { nested: true } }],
        timeout: 20,
        futureField: 'whatever',
        '@odata.context': 'https://graph.microsoft.com/v1.0/$metadata',
      },
    });
    assert.equal(res.status, 202, res.text);
    assert.equal(res.text, '');
    assert.equal((await h.record(id)).state, 'redirecting');
  });
});

describe('redirect: bodies that are not a JSON object', () => {
  const cases: Array<{ name: string; raw: string; contentType?: string; status: number; code: string; message?: RegExp }> = [
    { name: 'body not JSON', raw: '{"targets": [', status: 400, code: 'BadRequest', message: /JSON/ },
    { name: 'empty body', raw: '', status: 400, code: 'BadRequest' },
    { name: 'a JSON array', raw: '[]', status: 400, code: 'BadRequest', message: /object/ },
    { name: 'a JSON string', raw: '"targets"', status: 400, code: 'BadRequest' },
    { name: 'JSON null', raw: 'null', status: 400, code: 'BadRequest' },
    {
      name: 'text/plain content type',
      raw: JSON.stringify({ targets: [userTarget(USERS.testUser)] }),
      contentType: 'text/plain',
      status: 415,
      code: 'UnsupportedMediaType',
    },
  ];
  for (const c of cases) {
    test(`${c.name} → ${c.status}`, async () => {
      const id = await incomingCall();
      const { res, crid } = await postRedirect(id, { raw: c.raw, ...(c.contentType ? { headers: { 'content-type': c.contentType } } : {}) });
      assertGraphError(res, { status: c.status, code: c.code, ...(c.message ? { message: c.message } : {}), clientRequestId: crid }, c.name);
      assert.equal((await h.record(id)).state, 'incoming');
    });
  }
});

describe('reject', () => {
  test('reason "maybe" → 400 naming reason', async () => {
    const id = await incomingCall();
    const crid = randomUUID();
    const res = await h.http('POST', `/v1.0/communications/calls/${id}/reject`, {
      token,
      body: { reason: 'maybe' },
      headers: { 'client-request-id': crid },
    });
    assertGraphError(res, { status: 400, code: 'BadRequest', message: /reason/, clientRequestId: crid });
    assert.equal((await h.record(id)).state, 'incoming');
  });
});

describe('authentication on the Graph routes', () => {
  let id: string;
  before(async () => {
    id = await incomingCall();
  });

  const flipSignature = (jwt: string): string => {
    const [head, payload, sig] = jwt.split('.') as [string, string, string];
    // A character in the middle of the signature: every bit of it counts (the last one has padding bits).
    const i = Math.floor(sig.length / 2);
    const flipped = sig[i] === 'A' ? 'B' : 'A';
    return `${head}.${payload}.${sig.slice(0, i)}${flipped}${sig.slice(i + 1)}`;
  };

  const cases: Array<{ name: string; authorization: () => string | undefined }> = [
    { name: 'no Authorization header', authorization: () => undefined },
    { name: 'a garbage token', authorization: () => 'Bearer not-a-token' },
    { name: 'a JWT-looking garbage token', authorization: () => 'Bearer aaa.bbb.ccc' },
    { name: 'a token with a bad signature', authorization: () => `Bearer ${flipSignature(token)}` },
    { name: 'the simulator admin key as a Graph token', authorization: () => `Bearer ${h.sb.adminKey}` },
    { name: 'Basic instead of Bearer', authorization: () => `Basic ${Buffer.from(`${BOT.id}:${BOT.secret}`).toString('base64')}` },
  ];
  for (const c of cases) {
    for (const op of ['redirect', 'get'] as const) {
      test(`${c.name} (${op}) → 401 InvalidAuthenticationToken`, async () => {
        const crid = randomUUID();
        const authorization = c.authorization();
        const headers: Record<string, string> = { 'client-request-id': crid, ...(authorization ? { authorization } : {}) };
        const res =
          op === 'redirect'
            ? await h.http('POST', redirectPath(id), { body: { targets: [userTarget(USERS.testUser)] }, headers })
            : await h.http('GET', `/v1.0/communications/calls/${id}`, { headers });
        assertGraphError(res, { status: 401, code: 'InvalidAuthenticationToken', clientRequestId: crid }, c.name);
        assert.equal((await h.record(id)).state, 'incoming');
      });
    }
  }

  test('the token with the signature intact still works (the flip is what fails)', async () => {
    const res = await h.http('GET', `/v1.0/communications/calls/${id}`, { token });
    assert.equal(res.status, 200, res.text);
    assert.equal(res.json.state, 'incoming');
  });
});

describe('tenant and application isolation', () => {
  test("the Fabrikam bot's token on a Contoso call → 403 7505 (GET, redirect, reject, answer, DELETE)", async () => {
    const id = await incomingCall();
    const fabToken = await h.token(FABRIKAM, FABRIKAM_BOT.id, FABRIKAM_BOT.secret);
    const attempts: Array<[string, () => Promise<HttpResult>]> = [
      ['GET', () => h.http('GET', `/v1.0/communications/calls/${id}`, { token: fabToken, headers: { 'client-request-id': 'crid-7505' } })],
      ['redirect', () => h.http('POST', redirectPath(id), { token: fabToken, body: { targets: [userTarget(USERS.testUser)] }, headers: { 'client-request-id': 'crid-7505' } })],
      ['reject', () => h.http('POST', `/beta/communications/calls/${id}/reject`, { token: fabToken, body: { reason: 'none' }, headers: { 'client-request-id': 'crid-7505' } })],
      ['answer', () => h.http('POST', `/beta/app/calls/${id}/answer`, { token: fabToken, body: {}, headers: { 'client-request-id': 'crid-7505' } })],
      ['DELETE', () => h.http('DELETE', `/v1.0/communications/calls/${id}`, { token: fabToken, headers: { 'client-request-id': 'crid-7505' } })],
    ];
    for (const [name, run] of attempts) {
      assertGraphError(await run(), { status: 403, code: '7505', clientRequestId: 'crid-7505' }, name);
    }
    assert.equal((await h.record(id)).state, 'incoming', 'nothing happened to the call');
  });

  for (const other of [BOT2, RECEPTION_BOT]) {
    test(`another Contoso application (${other.name}) → 404 8522`, async () => {
      const id = await incomingCall();
      const otherToken = await h.token(CONTOSO, other.id, other.secret);
      const get = await h.http('GET', `/v1.0/communications/calls/${id}`, { token: otherToken });
      assertGraphError(get, { status: 404, code: '8522' }, 'GET');
      const redirect = await postRedirect(id, { body: { targets: [userTarget(USERS.testUser)] }, token: otherToken });
      assertGraphError(redirect.res, { status: 404, code: '8522', clientRequestId: redirect.crid }, 'redirect');
      const del = await h.http('DELETE', `/v1.0/communications/calls/${id}`, { token: otherToken });
      assertGraphError(del, { status: 404, code: '8522' }, 'DELETE');
      assert.equal((await h.record(id)).state, 'incoming');
    });
  }

  test('an unknown call id → 404 8522 (GET, redirect, DELETE)', async () => {
    const unknown = randomUUID();
    assertGraphError(await h.http('GET', `/v1.0/communications/calls/${unknown}`, { token }), { status: 404, code: '8522' }, 'GET');
    const r = await postRedirect(unknown, { body: { targets: [userTarget(USERS.testUser)] } });
    assertGraphError(r.res, { status: 404, code: '8522', clientRequestId: r.crid }, 'redirect');
    assertGraphError(await h.http('DELETE', `/beta/app/calls/${unknown}`, { token }), { status: 404, code: '8522' }, 'DELETE');
  });

  test('GET (and redirect) after termination → 404 8522', async () => {
    const id = await incomingCall();
    assert.equal((await h.http('DELETE', `/v1.0/communications/calls/${id}`, { token })).status, 204);
    await h.receiver.waitFor(id, 'deleted');
    assertGraphError(await h.http('GET', `/v1.0/communications/calls/${id}`, { token }), { status: 404, code: '8522' }, 'GET');
    assertGraphError(await h.http('GET', `/beta/app/calls/${id}`, { token }), { status: 404, code: '8522' }, 'GET beta alias');
    const r = await postRedirect(id, { body: { targets: [userTarget(USERS.testUser)] } });
    assertGraphError(r.res, { status: 404, code: '8522', clientRequestId: r.crid }, 'redirect');
    assertGraphError(await h.http('DELETE', `/v1.0/communications/calls/${id}`, { token }), { status: 404, code: '8522' }, 'DELETE again');
    assert.equal((await h.record(id)).state, 'terminated', 'the simulator record keeps it');
  });
});

describe('unknown paths and methods', () => {
  test('an unknown path → 404 Graph error', async () => {
    for (const path of ['/v1.0/nothing/here', '/beta/communications/meetings', '/no-such-thing', '/v1.0/communications/calls']) {
      const crid = randomUUID();
      const res = await h.http('GET', path, { token, headers: { 'client-request-id': crid } });
      assertGraphError(res, { status: 404, clientRequestId: crid }, path);
    }
  });

  test('GET on …/redirect → 404 or 405, Graph-shaped', async () => {
    const id = await incomingCall();
    const crid = randomUUID();
    const res = await h.http('GET', redirectPath(id), { token, headers: { 'client-request-id': crid } });
    assertGraphError(res, { status: [404, 405], clientRequestId: crid });
    if (res.status === 405) assert.equal(res.json.error.code, 'MethodNotAllowed');
    const put = await h.http('PUT', `/v1.0/communications/calls/${id}`, { token, body: {} });
    assertGraphError(put, { status: [404, 405] }, 'PUT on a call');
    assert.equal((await h.record(id)).state, 'incoming');
  });

  test('without a client-request-id the server supplies one, the same in header and body', async () => {
    const res = await h.http('GET', `/v1.0/communications/calls/${randomUUID()}`, { token });
    assertGraphError(res, { status: 404, code: '8522' });
    assert.notEqual(res.json.error.innerError['client-request-id'], '');
  });
});

describe('simulator API errors', () => {
  test('no key → 401; wrong key → 401; a Graph token → 401', async () => {
    const crid = randomUUID();
    const none = await h.http('GET', '/simulator/clock', { headers: { 'client-request-id': crid } });
    assertGraphError(none, { status: 401, clientRequestId: crid }, 'no key');
    const wrong = await h.http('GET', '/simulator/clock', { token: 'test-admin-key-0123456788' });
    assertGraphError(wrong, { status: 401 }, 'wrong key');
    const graphToken = await h.http('POST', '/simulator/calls', { token, body: callFromCaller });
    assertGraphError(graphToken, { status: 401 }, 'a Graph access token');
    const advance = await h.http('POST', '/simulator/clock/advance', { body: { seconds: 100 } });
    assertGraphError(advance, { status: 401 }, 'advance without a key');
  });

  const badCalls: Array<{ name: string; body: unknown; field: RegExp }> = [
    { name: 'unknown tenant', body: { ...callFromCaller, tenantId: randomUUID() }, field: /tenantId/ },
    { name: 'unknown user', body: { ...callFromCaller, from: { userId: randomUUID() } }, field: /from\.userId|userId/ },
    { name: 'unknown application', body: { ...callFromCaller, to: { applicationId: randomUUID() } }, field: /to\.applicationId|applicationId/ },
    { name: 'an application of another tenant', body: { ...callFromCaller, to: { applicationId: FABRIKAM_BOT.id } }, field: /to\.applicationId|applicationId/ },
    { name: 'unknown application instance', body: { ...callFromCaller, to: { applicationInstanceId: randomUUID() } }, field: /applicationInstanceId/ },
    { name: 'a bad phone ("4255550100")', body: { ...callFromCaller, from: { phone: '4255550100' } }, field: /phone/ },
    { name: 'a bad phone ("+1 425 555")', body: { ...callFromCaller, from: { phone: '+1 425 555' } }, field: /phone/ },
    { name: 'tenantId missing', body: { from: callFromCaller.from, to: callFromCaller.to }, field: /tenantId/ },
  ];
  for (const c of badCalls) {
    test(`POST /simulator/calls with ${c.name} → 400 naming the field`, async () => {
      const crid = randomUUID();
      const res = await h.http('POST', '/simulator/calls', { token: h.sb.adminKey, body: c.body, headers: { 'client-request-id': crid } });
      assertGraphError(res, { status: 400, code: 'BadRequest', message: c.field, clientRequestId: crid }, c.name);
    });
  }

  test('actions on an unknown call → 404', async () => {
    const unknown = randomUUID();
    const paths: Array<['GET' | 'POST', string]> = [
      ['GET', `/calls/${unknown}`],
      ['POST', `/calls/${unknown}/hangup`],
      ['POST', `/calls/${unknown}/targets/${USERS.manual}/answer`],
      ['POST', `/calls/${unknown}/targets/${USERS.manual}/decline`],
      ['POST', `/calls/${unknown}/targets/${PHONES.answers}/busy`],
    ];
    for (const [method, path] of paths) {
      const res = await h.simulator(method, path);
      assertGraphError(res, { status: 404 }, `${method} ${path}`);
    }
  });

  for (const seconds of [-1, 'x', null]) {
    test(`advance with seconds ${JSON.stringify(seconds)} → 400 naming seconds`, async () => {
      const before = (await h.simulator('GET', '/clock')).json.now;
      const res = await h.simulator('POST', '/clock/advance', { seconds });
      assertGraphError(res, { status: 400, code: 'BadRequest', message: /seconds/ }, `seconds ${JSON.stringify(seconds)}`);
      assert.equal((await h.simulator('GET', '/clock')).json.now, before, 'the clock did not move');
    });
  }
  test('advance without seconds → 400 naming seconds', async () => {
    const res = await h.simulator('POST', '/clock/advance', {});
    assertGraphError(res, { status: 400, code: 'BadRequest', message: /seconds/ });
  });
});

describe('token endpoint errors (Azure AD format)', () => {
  const tokenRequest = (form: Record<string, string>, tenant = CONTOSO) => h.http('POST', `/${tenant}/oauth2/v2.0/token`, { form });
  const base = { grant_type: 'client_credentials', client_id: BOT.id, client_secret: BOT.secret, scope: 'https://graph.microsoft.com/.default' };

  const assertAad = (res: HttpResult, status: number, error: string, code?: number) => {
    assert.equal(res.status, status, res.text);
    assert.equal(res.json?.error, error, res.text);
    assert.ok(Array.isArray(res.json.error_codes), 'error_codes is a list');
    if (code !== undefined) assert.ok(res.json.error_codes.includes(code), `error_codes has ${code}: ${res.text}`);
    assert.equal(typeof res.json.error_description, 'string');
    assert.match(res.json.error_description, /^AADSTS\d+: /);
    assert.equal(res.json.access_token, undefined);
  };

  test('wrong secret → 401 invalid_client, AADSTS7000215', async () => {
    assertAad(await tokenRequest({ ...base, client_secret: 'not-the-secret' }), 401, 'invalid_client', 7000215);
  });
  test("another application's secret → 401 invalid_client", async () => {
    assertAad(await tokenRequest({ ...base, client_secret: BOT2.secret }), 401, 'invalid_client', 7000215);
  });
  test('unknown client → 400', async () => {
    const res = await tokenRequest({ ...base, client_id: randomUUID() });
    assertAad(res, 400, 'unauthorized_client');
  });
  test("a client of another tenant on this tenant's endpoint → 400", async () => {
    const res = await tokenRequest({ ...base, client_id: FABRIKAM_BOT.id, client_secret: FABRIKAM_BOT.secret });
    assert.equal(res.status, 400, res.text);
    assert.equal(res.json.access_token, undefined);
  });
  test('grant_type password → 400 unsupported_grant_type', async () => {
    assertAad(await tokenRequest({ ...base, grant_type: 'password', username: 'adele', password: 'x' }), 400, 'unsupported_grant_type');
  });
});

describe('after all of this, every call can still end', () => {
  test('each live call is incoming, redirecting or established; 200 s later the incoming and redirecting ones are terminated', async () => {
    await h.settle();
    assert.ok(placed.length > 30, `calls placed: ${placed.length}`);
    const before = new Map<string, string>();
    for (const id of placed) {
      const record = await h.record(id);
      before.set(id, record.state);
      if (record.state !== 'terminated') {
        assert.ok(['incoming', 'redirecting', 'established'].includes(record.state), `call ${id} is ${record.state}`);
      }
    }
    await h.advance(200);
    await h.settle();
    for (const [id, state] of before) {
      const record = await h.record(id);
      if (state === 'incoming' || state === 'redirecting') {
        assert.equal(record.state, 'terminated', `call ${id} was ${state} and is now ${record.state}`);
        assert.ok(record.resultInfo, `call ${id} has a resultInfo`);
        assert.ok([10057, 10058].includes(record.resultInfo.subcode), `call ${id} ended by a timer: ${JSON.stringify(record.resultInfo)}`);
      } else if (state === 'established') {
        assert.equal((await h.simulator('POST', `/calls/${id}/hangup`)).status, 204, `the caller can hang up ${id}`);
      }
    }
    for (const id of placed) assert.equal((await h.record(id)).state, 'terminated', `call ${id} ended`);
  });
});
