/**
 * Conformance with Microsoft's Graph JavaScript client, `@microsoft/microsoft-graph-client` v3, pointed at
 * Switchboard (`baseUrl` + `customHosts`), authenticated by MSAL, on v1.0 and beta: Microsoft's three
 * call-redirect examples, GET of the call, reject, answer + delete, and Graph errors read as `GraphError`.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ConfidentialClientApplication } from '@azure/msal-node';
import { Client, GraphError, ResponseType, type AuthenticationProvider } from '@microsoft/microsoft-graph-client';
import type { Call } from '@microsoft/microsoft-graph-types-beta';
import { Agent } from 'undici';
import { msalNetworkClient } from '../../src/testing/network.js';
import { GRAPH_SCOPE, Harness } from '../support/harness.js';
import {
  BOT,
  BOT2,
  CONTOSO,
  FABRIKAM,
  FABRIKAM_BOT,
  PHONES,
  PLAIN_BOT,
  PSTN_INSTANCE,
  USERS,
  appTarget,
  callFromCaller,
  phoneTarget,
  testDirectory,
  userTarget,
} from '../support/fixtures.js';

let h: Harness;
/** Client.init with the callback-style authProvider, v1.0. */
let v1: Client;
/** Client.initWithMiddleware with an AuthenticationProvider object, beta. */
let beta: Client;

/** A Graph AuthenticationProvider backed by MSAL (client credentials), as a bot would write it. */
function msalAuthProvider(tenantId: string, clientId: string, clientSecret: string): AuthenticationProvider {
  const host = new URL(h.sb.url).host;
  const cca = new ConfidentialClientApplication({
    auth: { clientId, clientSecret, authority: `${h.sb.url}/${tenantId}`, knownAuthorities: [host] },
    system: { networkClient: msalNetworkClient(h.sb.caPem ?? '') },
  });
  return {
    async getAccessToken() {
      const result = await cca.acquireTokenByClientCredential({ scopes: [GRAPH_SCOPE] });
      if (!result) throw new Error('MSAL returned no token');
      return result.accessToken;
    },
  };
}

/** undici's Agent trusting the dev CA, handed to Node's built-in fetch (which the Graph client calls) as `dispatcher`. */
let dispatcher: Agent;

/** What a bot sets to reach Switchboard instead of graph.microsoft.com (plus trusting the dev CA). */
const switchboardOptions = () => ({
  baseUrl: h.sb.url,
  // Host name only: the client compares it with the URL's host name, port left out.
  customHosts: new Set([new URL(h.sb.url).hostname]),
  // Node's fetch accepts undici 7's Agent at run time; the cast only bridges two copies of undici's types.
  fetchOptions: { dispatcher } as unknown as RequestInit,
});

before(async () => {
  h = await Harness.start(testDirectory);
  dispatcher = new Agent({ connect: { ca: h.sb.caPem ?? '' } });
  const provider = msalAuthProvider(CONTOSO, BOT.id, BOT.secret);
  v1 = Client.init({
    ...switchboardOptions(),
    defaultVersion: 'v1.0',
    authProvider: (done) => {
      provider.getAccessToken().then(
        (token) => done(null, token),
        (error: Error) => done(error, null),
      );
    },
  });
  beta = Client.initWithMiddleware({ ...switchboardOptions(), defaultVersion: 'beta', authProvider: provider });
});
after(async () => {
  await dispatcher?.close();
  await h?.close();
});

async function incoming(call: unknown = callFromCaller): Promise<string> {
  const id = await h.placeCall(call);
  await h.receiver.waitFor(id, 'created');
  return id;
}

async function graphError(promise: Promise<unknown>): Promise<GraphError> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof GraphError, `expected a GraphError, got ${String(error)}`);
    return error;
  }
  assert.fail('the request succeeded');
}

type Ended = { resultInfo: { code: number; subcode: number }; answeredBy?: { identity: Record<string, { id: string }> } };

for (const version of ['v1.0', 'beta'] as const) {
  // v1.0 through Client.init (callback authProvider), beta through initWithMiddleware (provider object).
  const client = () => (version === 'v1.0' ? v1 : beta);
  describe(`Microsoft's redirect examples through the Graph client, ${version}`, () => {
    test('example 1: forward to test bot 2, answered after 2 s; 202 with an empty body', async () => {
      const id = await incoming();
      // ResponseType.RAW hands back the fetch Response, so the test sees the status Graph answers.
      const res = (await client()
        .api(`/communications/calls/${id}/redirect`)
        .responseType(ResponseType.RAW)
        .post({
          targets: [appTarget(BOT2.id, BOT2.name)],
          targetDisposition: 'default',
          callbackUri: h.receiver.url(`/api/calls/${BOT.id}`),
        })) as Response;
      assert.equal(res.status, 202);
      assert.equal(await res.text(), '', '202 Accepted, empty body');
      assert.match(res.headers.get('request-id') ?? '', /^[0-9a-f-]{36}$/);
      await h.receiver.waitFor(id, 'updated', 'redirecting');
      await h.advance(1.9);
      assert.equal((await h.record(id)).state, 'redirecting');
      await h.advance(0.1);
      const ended = (await h.receiver.waitFor(id, 'deleted', 'terminated')).resourceData as unknown as Ended;
      assert.deepEqual([ended.resultInfo.code, ended.resultInfo.subcode], [200, 7015]);
      assert.equal(ended.answeredBy?.identity['application']?.id, BOT2.id);
    });

    test('example 2: simultaneous ring of test user and test user 2 with disableForwarding', async () => {
      const id = await incoming();
      await client().api(`/communications/calls/${id}/redirect`).post({
        targets: [userTarget(USERS.testUser, 'test user'), userTarget(USERS.testUser2, 'test user 2')],
        routingPolicies: ['disableForwarding'],
        callbackUri: h.receiver.url(`/api/calls/${BOT.id}`),
      });
      await h.advance(3);
      const ended = (await h.receiver.waitFor(id, 'deleted')).resourceData as unknown as Ended;
      assert.deepEqual([ended.resultInfo.code, ended.resultInfo.subcode], [200, 7015]);
      assert.equal(ended.answeredBy?.identity['user']?.id, USERS.testUser);
      assert.equal((await h.record(id)).redirect.disableForwarding, true);
    });

    test('example 3: a call to the PSTN instance forwarded to a phone, answered after 5 s (encrypted)', async () => {
      const id = await incoming({ tenantId: CONTOSO, from: { userId: USERS.caller }, to: { applicationInstanceId: PSTN_INSTANCE.id } });
      await client().api(`/communications/calls/${id}/redirect`).post({
        targets: [phoneTarget(PHONES.answers)],
        callbackUri: h.receiver.url(`/api/calls/${BOT.id}`),
      });
      await h.advance(5);
      const ended = (await h.receiver.waitFor(id, 'deleted')).resourceData as unknown as Ended;
      assert.deepEqual([ended.resultInfo.code, ended.resultInfo.subcode], [200, 7015]);
      assert.ok(ended.answeredBy?.identity['encrypted']?.id, 'the PSTN answerer is encrypted');
    });
  });
}

describe('GET, reject, answer and delete through the Graph client', () => {
  test('GET the call (v1.0 and beta, /app/calls alias too) as a typed Call', async () => {
    const id = await incoming();
    const call = (await v1.api(`/communications/calls/${id}`).get()) as Call;
    assert.equal(call.id, id);
    assert.equal(call.state, 'incoming');
    assert.equal(call.direction, 'incoming');
    assert.equal(call.tenantId, CONTOSO);
    assert.equal(call.source?.identity?.user?.id, USERS.caller);
    const viaAlias = (await beta.api(`/app/calls/${id}`).get()) as Call;
    assert.equal(viaAlias.id, id);
    await v1.api(`/communications/calls/${id}/reject`).post({ reason: 'none' });
  });

  test('reject (busy): 202, then the call ends 486/0', async () => {
    const id = await incoming();
    await v1.api(`/communications/calls/${id}/reject`).post({ reason: 'busy' });
    const ended = (await h.receiver.waitFor(id, 'deleted')).resourceData as unknown as Ended;
    assert.deepEqual([ended.resultInfo.code, ended.resultInfo.subcode], [486, 0]);
  });

  test('answer, then DELETE: 204, terminated 200/5000', async () => {
    const id = await incoming();
    await beta.api(`/communications/calls/${id}/answer`).post({ callbackUri: h.receiver.url('/api/calls'), acceptedModalities: ['audio'] });
    await h.receiver.waitFor(id, 'updated', 'established');
    const established = (await beta.api(`/communications/calls/${id}`).get()) as Call;
    assert.equal(established.state, 'established');
    const res: unknown = await beta.api(`/communications/calls/${id}`).delete();
    assert.ok(res === undefined || res === null || res === '', 'DELETE: 204, no content');
    const ended = (await h.receiver.waitFor(id, 'deleted', 'terminated')).resourceData as unknown as Ended;
    assert.deepEqual([ended.resultInfo.code, ended.resultInfo.subcode], [200, 5000]);
  });
});

describe('Graph errors read as GraphError', () => {
  test('400 BadRequest for a timeout of 14, naming the field; the ids match the response headers', async () => {
    const id = await incoming();
    const error = await graphError(beta.api(`/communications/calls/${id}/redirect`).post({ targets: [userTarget(USERS.testUser)], timeout: 14 }));
    assert.equal(error.statusCode, 400);
    assert.equal(error.code, 'BadRequest');
    assert.match(error.message, /timeout/);
    assert.match(error.requestId ?? '', /^[0-9a-f-]{36}$/);
    assert.equal(error.headers?.get('request-id'), error.requestId);
    assert.ok(error.date instanceof Date && !Number.isNaN(error.date.getTime()), 'innerError.date parsed');
    await v1.api(`/communications/calls/${id}/reject`).post({ reason: 'none' });
  });

  test('404 "8522" for an unknown call', async () => {
    const error = await graphError(v1.api('/communications/calls/0b5e3c3e-0000-4000-8000-000000000000').get());
    assert.equal(error.statusCode, 404);
    assert.equal(error.code, '8522');
  });

  test('409 Conflict for a second redirect', async () => {
    const id = await incoming();
    await v1.api(`/communications/calls/${id}/redirect`).post({ targets: [userTarget(USERS.noAnswer)] });
    const error = await graphError(v1.api(`/communications/calls/${id}/redirect`).post({ targets: [userTarget(USERS.testUser)] }));
    assert.equal(error.statusCode, 409);
    assert.equal(error.code, 'Conflict');
    await v1.api(`/communications/calls/${id}`).delete();
  });

  test('404 "8522" once the 15-second window has expired, saying so', async () => {
    const id = await incoming();
    await h.advance(15);
    await h.receiver.waitFor(id, 'deleted');
    const error = await graphError(beta.api(`/communications/calls/${id}/redirect`).post({ targets: [userTarget(USERS.testUser)] }));
    assert.equal(error.statusCode, 404);
    assert.equal(error.code, '8522');
    assert.match(error.message, /15-second incoming window expired/);
  });

  test('403 "7505" for another tenant\'s token', async () => {
    const id = await incoming();
    const fabrikam = Client.initWithMiddleware({ ...switchboardOptions(), authProvider: msalAuthProvider(FABRIKAM, FABRIKAM_BOT.id, FABRIKAM_BOT.secret) });
    const error = await graphError(fabrikam.api(`/communications/calls/${id}`).get());
    assert.equal(error.statusCode, 403);
    assert.equal(error.code, '7505');
    await v1.api(`/communications/calls/${id}/reject`).post({ reason: 'none' });
  });

  test('400 for a phone target when the bot has no application instance', async () => {
    const plain = Client.initWithMiddleware({ ...switchboardOptions(), authProvider: msalAuthProvider(CONTOSO, PLAIN_BOT.id, PLAIN_BOT.secret) });
    const id = await incoming({ tenantId: CONTOSO, from: { userId: USERS.caller }, to: { applicationId: PLAIN_BOT.id } });
    const error = await graphError(plain.api(`/communications/calls/${id}/redirect`).post({ targets: [phoneTarget(PHONES.answers)] }));
    assert.equal(error.statusCode, 400);
    assert.equal(error.code, 'BadRequest');
    assert.match(error.message, /application instance/i);
  });

  test('401 InvalidAuthenticationToken for a token Switchboard did not issue', async () => {
    const forged = Client.initWithMiddleware({ ...switchboardOptions(), authProvider: { getAccessToken: async () => 'eyJhbGciOiJIUzI1NiJ9.e30.c2lnbmF0dXJl' } });
    const error = await graphError(forged.api('/communications/calls/anything').get());
    assert.equal(error.statusCode, 401);
    assert.equal(error.code, 'InvalidAuthenticationToken');
  });

  test('without customHosts the client sends no token to a non-Microsoft host: 401', async () => {
    const { customHosts: _ignored, ...withoutCustomHosts } = switchboardOptions();
    const noHosts = Client.initWithMiddleware({ ...withoutCustomHosts, authProvider: msalAuthProvider(CONTOSO, BOT.id, BOT.secret) });
    const error = await graphError(noHosts.api('/communications/calls/anything').get());
    assert.equal(error.statusCode, 401);
    assert.equal(error.code, 'InvalidAuthenticationToken');
    assert.match(error.message, /empty/i);
  });
});
