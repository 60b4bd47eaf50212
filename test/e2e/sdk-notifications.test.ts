/**
 * Notifications verified the way Microsoft's samples verify them: read the OpenID metadata, follow its
 * `jwks_uri`, and check the `Authorization` JWT with `jose` (`createRemoteJWKSet` + `jwtVerify`): issuer
 * https://api.botframework.com, audience = the bot's application id, RS256. Against a real Switchboard over
 * HTTPS started by the testing kit; the kit's receiver hands each POST to the verifying handler below.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createRemoteJWKSet, customFetch, decodeProtectedHeader, jwtVerify, type FetchImplementation } from 'jose';
import { startTestSwitchboard, type ReceivedPost, type TestSwitchboard } from '../../src/testing/index.js';

const TENANT = '632899f8-2ea1-4604-8413-27bd2892079f';
const BOT = '24701998-1a73-4d42-8085-bf46ed0ae039';
const OTHER_BOT = '22bfd41f-550e-477d-8789-f6f7bd2a5e8b';
const ADELE = '8d1e6ab6-26c5-4e22-a1bc-06ea7343958e';
const ISSUER = 'https://api.botframework.com';

let kit: TestSwitchboard;
let jwks: ReturnType<typeof createRemoteJWKSet>;
let metadata: { issuer: string; jwks_uri: string; id_token_signing_alg_values_supported: string[] };

/** The bot's check of an incoming POST, as Microsoft's samples do it. Returns the status to answer. */
async function verify(post: ReceivedPost, audience: string): Promise<number> {
  const header = post.headers.authorization;
  if (typeof header !== 'string' || !header.startsWith('Bearer ')) return 401;
  try {
    await jwtVerify(header.slice('Bearer '.length), jwks, { issuer: ISSUER, audience, algorithms: ['RS256'] });
    return 202;
  } catch {
    return 401;
  }
}

before(async () => {
  kit = await startTestSwitchboard({
    directory: {
      tenants: [
        {
          id: TENANT,
          applications: [
            { id: BOT, displayName: 'test bot', clientSecret: 'dev-secret', roles: ['Calls.Initiate.All'], callbackUri: 'kit:/api/calls' },
            { id: OTHER_BOT, displayName: 'other bot', clientSecret: 'other-secret', roles: ['Calls.Initiate.All'], callbackUri: 'kit:/api/other' },
          ],
          users: [{ id: ADELE, displayName: 'Adele Vance' }],
        },
      ],
    },
  });
  // Step 1: the OpenID metadata document; step 2: its jwks_uri, fetched (and cached) by jose.
  const res = await kit.fetch(`${kit.url}/botframework/v1/.well-known/openidconfiguration`);
  assert.equal(res.status, 200);
  metadata = (await res.json()) as typeof metadata;
  jwks = createRemoteJWKSet(new URL(metadata.jwks_uri), { [customFetch]: kit.fetch as unknown as FetchImplementation });
});
after(async () => kit?.close());

describe('notification tokens, verified like Microsoft samples', () => {
  test('the metadata names the bot-framework issuer, RS256, and a jwks_uri on Switchboard', () => {
    assert.equal(metadata.issuer, ISSUER);
    assert.ok(metadata.id_token_signing_alg_values_supported.includes('RS256'));
    assert.ok(metadata.jwks_uri.startsWith(`${kit.url}/`), metadata.jwks_uri);
  });

  test('every notification of a call carries a JWT that verifies (iss, aud = bot, RS256, kid in the JWKS)', async () => {
    const statuses: number[] = [];
    kit.onNotification(async (post) => {
      const status = await verify(post, BOT);
      statuses.push(status);
      return status;
    });
    try {
      const callId = await kit.placeCall({ tenantId: TENANT, from: { userId: ADELE }, to: { applicationId: BOT } });
      const created = await kit.nextNotification({ callId, changeType: 'created' });
      const token = String(created.request.headers.authorization).slice('Bearer '.length);
      const { payload, protectedHeader } = await jwtVerify(token, jwks, { issuer: ISSUER, audience: BOT });
      assert.equal(protectedHeader.alg, 'RS256');
      assert.ok(jwks.jwks()?.keys.some((k) => k.kid === protectedHeader.kid), 'signed with a key of the published set');
      assert.ok(payload.exp && payload.exp > Date.now() / 1000, 'not expired (real clock)');
      await kit.advance(15); // the bot does nothing: the window expires, `deleted` follows
      await kit.nextNotification({ callId, changeType: 'deleted' });
      assert.deepEqual(statuses, [202, 202], 'created and deleted both verified');
    } finally {
      kit.onNotification(undefined);
    }
  });

  test("verified as Microsoft's .NET calling samples do: metadata at /v1/.well-known/OpenIdConfiguration, issuer graph or botframework", async () => {
    // Their AuthenticationProvider reads https://api.aps.skype.com/v1/.well-known/OpenIdConfiguration and accepts
    // either issuer; such a bot points that URL at Switchboard.
    const res = await kit.fetch(`${kit.url}/v1/.well-known/OpenIdConfiguration`);
    assert.equal(res.status, 200);
    const dotnet = (await res.json()) as typeof metadata;
    const dotnetKeys = createRemoteJWKSet(new URL(dotnet.jwks_uri), { [customFetch]: kit.fetch as unknown as FetchImplementation });
    const callId = await kit.placeCall({ tenantId: TENANT, from: { userId: ADELE }, to: { applicationId: BOT } });
    const created = await kit.nextNotification({ callId, changeType: 'created' });
    const token = String(created.request.headers.authorization).slice('Bearer '.length);
    const { payload } = await jwtVerify(token, dotnetKeys, { issuer: ['https://graph.microsoft.com', 'https://api.botframework.com'], audience: BOT });
    assert.equal(payload.aud, BOT);
    await kit.advance(15);
    await kit.nextNotification({ callId, changeType: 'deleted' });
  });

  test("a token for another bot does not verify for this one (audience), nor one with a forged signature", async () => {
    const callId = await kit.placeCall({ tenantId: TENANT, from: { userId: ADELE }, to: { applicationId: OTHER_BOT } });
    const created = await kit.nextNotification({ callId, changeType: 'created', path: '/api/other' });
    const token = String(created.request.headers.authorization).slice('Bearer '.length);
    await jwtVerify(token, jwks, { issuer: ISSUER, audience: OTHER_BOT });
    await assert.rejects(jwtVerify(token, jwks, { issuer: ISSUER, audience: BOT }), /aud/);
    const [h, p] = token.split('.');
    const forged = `${h}.${p}.${Buffer.from('not a signature').toString('base64url')}`;
    assert.equal(decodeProtectedHeader(forged).alg, 'RS256');
    await assert.rejects(jwtVerify(forged, jwks, { issuer: ISSUER, audience: OTHER_BOT }), /signature/);
    await kit.advance(15);
  });

  test('a bot that answers 401 gets the notification again later (retry on Switchboard\'s clock)', async () => {
    let refuse = true;
    kit.onNotification(async (post) => (refuse ? 401 : verify(post, BOT)));
    try {
      const callId = await kit.placeCall({ tenantId: TENANT, from: { userId: ADELE }, to: { applicationId: BOT } });
      await kit.settle();
      const first = await kit.record(callId);
      assert.equal(first.notifications[0]?.attempts[0]?.status, 401);
      assert.equal(first.notifications[0]?.delivered, false);
      refuse = false;
      await kit.advance(1); // first retry after 1 s
      const created = await kit.nextNotification({ callId, changeType: 'created' });
      assert.equal(created.request.headers['x-switchboard-notification-id'], first.notifications[0]?.id, 'same id on the retry');
      await kit.advance(15);
      await kit.nextNotification({ callId, changeType: 'deleted' });
    } finally {
      kit.onNotification(undefined);
    }
  });
});
