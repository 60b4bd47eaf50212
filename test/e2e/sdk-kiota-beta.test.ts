/**
 * Conformance with Microsoft's Kiota-based beta SDK, `@microsoft/msgraph-beta-sdk`, authenticated by
 * `@azure/identity` pointed at Switchboard. The npm package ships the models and `GraphBetaRequestAdapter`
 * but no `communications` request builders, so the redirect goes as a Kiota `RequestInformation` (the exact
 * URL template the generated builder would use) through that adapter, serialized with the SDK's own models.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ClientSecretCredential } from '@azure/identity';
import { HttpMethod, RequestInformation, type SerializationWriter } from '@microsoft/kiota-abstractions';
import { TokenCredentialAuthenticationProvider } from '@microsoft/microsoft-graph-client/authProviders/azureTokenCredentials/index.js';
import { Client } from '@microsoft/microsoft-graph-client';
import { GraphBetaRequestAdapter } from '@microsoft/msgraph-beta-sdk';
import {
  createCallFromDiscriminatorValue,
  serializeInvitationParticipantInfo,
  type Call,
  type InvitationParticipantInfo,
} from '@microsoft/msgraph-beta-sdk/models/index.js';
import { createODataErrorFromDiscriminatorValue, type ODataError } from '@microsoft/msgraph-beta-sdk/models/oDataErrors/index.js';
import { createGraphClientFactory, GraphAzureIdentityAuthenticationProvider } from '@microsoft/msgraph-sdk-core';
import { Agent } from 'undici';
import { trustingFetch, type TrustingFetch } from '../../src/testing/network.js';
import { GRAPH_SCOPE, Harness } from '../support/harness.js';
import { BOT, BOT2, CONTOSO, USERS, callFromCaller, testDirectory } from '../support/fixtures.js';

let h: Harness;
let http: TrustingFetch;
let adapter: GraphBetaRequestAdapter;
let credential: ClientSecretCredential;
const errors = { XXX: createODataErrorFromDiscriminatorValue };

/** The redirect body the generated `RedirectPostRequestBody` serializer would write. */
interface RedirectBody {
  targets: InvitationParticipantInfo[];
  timeout?: number;
  callbackUri?: string;
}
function serializeRedirectBody(writer: SerializationWriter, body: Partial<RedirectBody> | undefined | null = {}): void {
  if (!body) return;
  writer.writeCollectionOfObjectValues<InvitationParticipantInfo>('targets', body.targets, serializeInvitationParticipantInfo);
  writer.writeNumberValue('timeout', body.timeout);
  writer.writeStringValue('callbackUri', body.callbackUri);
}

/** POST {+baseurl}/communications/calls/{call%2Did}/redirect — the template of the generated builder. */
function redirectRequest(callId: string, body: RedirectBody): RequestInformation {
  const request = new RequestInformation(HttpMethod.POST, '{+baseurl}/communications/calls/{call%2Did}/redirect', { 'call%2Did': callId });
  request.headers.tryAdd('Accept', 'application/json');
  request.setContentFromParsable(adapter, 'application/json', body, serializeRedirectBody);
  return request;
}
function getCallRequest(callId: string): RequestInformation {
  const request = new RequestInformation(HttpMethod.GET, '{+baseurl}/communications/calls/{call%2Did}', { 'call%2Did': callId });
  request.headers.tryAdd('Accept', 'application/json');
  return request;
}

const userTarget = (id: string): InvitationParticipantInfo => ({
  odataType: '#microsoft.graph.invitationParticipantInfo',
  identity: { odataType: '#microsoft.graph.identitySet', user: { odataType: '#microsoft.graph.identity', id } },
});
const appTarget = (id: string): InvitationParticipantInfo => ({
  odataType: '#microsoft.graph.invitationParticipantInfo',
  identity: { odataType: '#microsoft.graph.identitySet', application: { odataType: '#microsoft.graph.identity', id } },
});

before(async () => {
  h = await Harness.start(testDirectory);
  http = trustingFetch(h.sb.caPem ?? '');
  // @azure/identity: the authority host is Switchboard; instance discovery off; trust the dev CA
  // (tlsOptions goes into the credential's HTTP pipeline).
  credential = new ClientSecretCredential(CONTOSO, BOT.id, BOT.secret, {
    authorityHost: h.sb.url,
    disableInstanceDiscovery: true,
    tlsOptions: { ca: h.sb.caPem ?? '' },
  });
  // allowedHosts holds host names (compared with the URL's hostname, port left out).
  const auth = new GraphAzureIdentityAuthenticationProvider(credential, [GRAPH_SCOPE], undefined, new Set([new URL(h.sb.url).hostname]));
  const httpClient = createGraphClientFactory(
    { graphServiceTargetVersion: 'beta', graphServiceLibraryClientVersion: '1.0.0' },
    http.fetch as (request: string, init: RequestInit) => Promise<Response>,
  );
  adapter = new GraphBetaRequestAdapter(auth, undefined, undefined, httpClient);
  adapter.baseUrl = `${h.sb.url}/beta`;
});
after(async () => {
  await http?.close();
  await h?.close();
});

async function incoming(): Promise<string> {
  const id = await h.placeCall(callFromCaller);
  await h.receiver.waitFor(id, 'created');
  return id;
}

async function odataError(promise: Promise<unknown>): Promise<ODataError> {
  try {
    await promise;
  } catch (error) {
    const e = error as ODataError;
    assert.ok(typeof e.responseStatusCode === 'number', `expected an ODataError, got ${Object.prototype.toString.call(error)}`);
    return e;
  }
  assert.fail('the request succeeded');
}

describe('@microsoft/msgraph-beta-sdk (Kiota) with @azure/identity', () => {
  test('ClientSecretCredential gets a Graph token from Switchboard', async () => {
    const token = await credential.getToken(GRAPH_SCOPE);
    assert.ok(token.token.split('.').length === 3);
    assert.ok(token.expiresOnTimestamp > Date.now() + 3000_000);
  });

  test('GET the call, deserialized into the SDK\'s Call model', async () => {
    const id = await incoming();
    const call = (await adapter.send(getCallRequest(id), createCallFromDiscriminatorValue, errors)) as Call | undefined;
    assert.equal(call?.id, id);
    assert.equal(call?.state, 'incoming');
    assert.equal(call?.source?.identity?.user?.id, USERS.caller);
    assert.equal(call?.tenantId, CONTOSO);
  });

  test('redirect (example 1) through GraphBetaRequestAdapter: 202, test bot 2 answers after 2 s', async () => {
    const id = await incoming();
    await adapter.sendNoResponseContent(redirectRequest(id, { targets: [appTarget(BOT2.id)], callbackUri: h.receiver.url(`/api/calls/${BOT.id}`) }), errors);
    await h.receiver.waitFor(id, 'updated', 'redirecting');
    await h.advance(2);
    const ended = (await h.receiver.waitFor(id, 'deleted')).resourceData as Record<string, any>;
    assert.deepEqual([ended.resultInfo.code, ended.resultInfo.subcode], [200, 7015]);
    assert.equal(ended.answeredBy.identity.application.id, BOT2.id);
    // What went over the wire: the SDK's serializer wrote Graph's JSON.
    assert.equal((await h.record(id)).redirect.timeout, 55);
  });

  test('errors come back as ODataError: responseStatusCode and errorEscaped.code (409, 400, 404 8522)', async () => {
    const id = await incoming();
    await adapter.sendNoResponseContent(redirectRequest(id, { targets: [userTarget(USERS.noAnswer)], timeout: 20 }), errors);
    const conflict = await odataError(adapter.sendNoResponseContent(redirectRequest(id, { targets: [userTarget(USERS.testUser)] }), errors));
    assert.equal(conflict.responseStatusCode, 409);
    assert.equal(conflict.errorEscaped?.code, 'Conflict');
    const id2 = await incoming();
    const bad = await odataError(adapter.sendNoResponseContent(redirectRequest(id2, { targets: [userTarget(USERS.testUser)], timeout: 14 }), errors));
    assert.equal(bad.responseStatusCode, 400);
    assert.equal(bad.errorEscaped?.code, 'BadRequest');
    assert.equal(bad.message, bad.errorEscaped?.message, 'the exception message is Graph\'s message');
    assert.match(bad.errorEscaped?.message ?? '', /timeout/);
    assert.match(bad.errorEscaped?.innerError?.requestId ?? '', /^[0-9a-f-]{36}$/, 'innerError request-id read by the SDK');
    const missing = await odataError(adapter.send(getCallRequest('4f0c0000-0000-4000-8000-000000000000'), createCallFromDiscriminatorValue, errors));
    assert.equal(missing.responseStatusCode, 404);
    assert.equal(missing.errorEscaped?.code, '8522');
  });

  test('allowedHosts with a port never matches: the SDK sends no token (401)', async () => {
    const portAuth = new GraphAzureIdentityAuthenticationProvider(credential, [GRAPH_SCOPE], undefined, new Set([new URL(h.sb.url).host]));
    const portAdapter = new GraphBetaRequestAdapter(
      portAuth,
      undefined,
      undefined,
      createGraphClientFactory({ graphServiceTargetVersion: 'beta', graphServiceLibraryClientVersion: '1.0.0' }, http.fetch as (request: string, init: RequestInit) => Promise<Response>),
    );
    portAdapter.baseUrl = `${h.sb.url}/beta`;
    const e = await odataError(portAdapter.send(getCallRequest('x'), createCallFromDiscriminatorValue, errors));
    assert.equal(e.responseStatusCode, 401);
    assert.equal(e.errorEscaped?.code, 'InvalidAuthenticationToken');
    assert.match(e.message, /empty/i);
  });

  test('the Graph JS client with TokenCredentialAuthenticationProvider(@azure/identity) works too', async () => {
    const dispatcher = new Agent({ connect: { ca: h.sb.caPem ?? '' } });
    try {
      const client = Client.initWithMiddleware({
        baseUrl: h.sb.url,
        customHosts: new Set([new URL(h.sb.url).hostname]),
        fetchOptions: { dispatcher } as unknown as RequestInit,
        authProvider: new TokenCredentialAuthenticationProvider(credential, { scopes: [GRAPH_SCOPE] }),
      });
      const id = await incoming();
      const call = (await client.api(`/communications/calls/${id}`).version('beta').get()) as { id: string; state: string };
      assert.equal(call.state, 'incoming');
      await client.api(`/communications/calls/${id}/reject`).post({ reason: 'none' });
      await h.receiver.waitFor(id, 'deleted');
    } finally {
      await dispatcher.close();
    }
  });
});
