/**
 * The redirect bot's own tests, written as a bot developer writes them: Switchboard's testing kit starts
 * an in-process Switchboard (virtual clock), the bot's real MSAL + Graph client talk to it over HTTPS, and
 * the kit's receiver hands each notification to the bot's webhook handler. Ring timeouts and the 15 s
 * window pass in milliseconds with `advance()`.
 *
 *   node --import tsx --test examples/redirect-bot/bot.test.ts      (after `npm run build`)
 */
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, test } from 'node:test';
import { startTestSwitchboard, type TestSwitchboard } from 'switchboard/testing';
import { createRedirectBot, type BotEvent, type RedirectBot } from './bot.js';
import { parseRules } from './rules.js';

const TENANT = '632899f8-2ea1-4604-8413-27bd2892079f';
const BOT = { id: '24701998-1a73-4d42-8085-bf46ed0ae039', secret: 'dev-secret' };
const INSTANCE = '7629bdce-046c-4903-86b4-a8f718277e1a';
const ADELE = '8d1e6ab6-26c5-4e22-a1bc-06ea7343958e';
const TEST_USER = '98da8a1a-1b87-452c-a713-65d3f10b1253'; // answers after 3 s
const DECLINER = 'bf5aae9a-d11d-47a8-93b1-782504c9c3f3'; // declines
const NESTOR = '5b7e1c0a-3f2d-4e8b-9a61-0c4d2e8f1a02'; // never answers
const FIONA = '5b7e1c0a-3f2d-4e8b-9a61-0c4d2e8f1a03'; // forwards to test user; answers after 1 s herself
const MEGAN = '5b7e1c0a-3f2d-4e8b-9a61-0c4d2e8f1a04';
const MOBILE = '+12345678901'; // answers after 5 s

const rules = parseRules({
  rules: [
    { name: 'Adele', when: { caller: ADELE }, forward: TEST_USER },
    { name: 'front desk', when: { calledVia: INSTANCE }, ringGroup: { targets: [DECLINER, NESTOR, FIONA], timeout: 20, disableForwarding: true } },
    { name: 'nobody home', when: { caller: DECLINER }, ringGroup: { targets: [NESTOR], timeout: 30 } },
    { name: 'rota', when: { caller: MEGAN }, roundRobin: [TEST_USER, FIONA] },
    { name: 'fallback', pstn: MOBILE },
  ],
});

let kit: TestSwitchboard;
let bot: RedirectBot;
let events: BotEvent[] = [];

before(async () => {
  kit = await startTestSwitchboard({
    directory: {
      tenants: [
        {
          id: TENANT,
          applications: [
            {
              id: BOT.id,
              displayName: 'test bot',
              clientSecret: BOT.secret,
              roles: ['Calls.Initiate.All'],
              callbackUri: 'kit:/api/calls', // the kit's receiver, which hands POSTs to the bot below
              instances: [{ id: INSTANCE, displayName: 'PstnAppInstance', phone: '+14255550100' }],
            },
          ],
          users: [
            { id: ADELE, displayName: 'Adele Vance' },
            { id: TEST_USER, displayName: 'test user', behaviour: { answerAfter: 3 } },
            { id: DECLINER, displayName: 'test user 2', behaviour: { decline: true } },
            { id: NESTOR, displayName: 'Nestor', behaviour: { noAnswer: true } },
            { id: FIONA, displayName: 'Fiona', behaviour: { forwardTo: TEST_USER, answerAfter: 1 } },
            { id: MEGAN, displayName: 'Megan' },
          ],
        },
      ],
      phones: [{ number: MOBILE, behaviour: { answerAfter: 5 } }],
    },
  });
  bot = createRedirectBot({
    tenantId: TENANT,
    clientId: BOT.id,
    clientSecret: BOT.secret,
    // The three URLs that point a bot at Switchboard:
    authorityHost: kit.url,
    graphBaseUrl: kit.url,
    notificationMetadataUrl: `${kit.url}/botframework/v1/.well-known/openidconfiguration`,
    rules,
    // In one process with Switchboard: trust the kit's CA without NODE_EXTRA_CA_CERTS.
    trust: { msalNetworkClient: kit.msalNetworkClient(), dispatcher: kit.dispatcher, fetch: kit.fetch },
    log: (e) => events.push(e),
  });
  kit.onNotification((post) => bot.handle(post));
});
after(async () => kit?.close());
beforeEach(() => {
  events = [];
});

/** A call reaches the bot, which redirects it; resolves once Graph has accepted the redirect. */
async function redirected(from: { userId: string } | { phone: string }, to: { applicationId: string } | { applicationInstanceId: string } = { applicationId: BOT.id }) {
  const callId = await kit.placeCall({ tenantId: TENANT, from, to });
  await kit.nextNotification({ callId, changeType: 'created' });
  await bot.drain();
  assert.deepEqual(events.filter((e) => e.event === 'error'), [], 'Graph accepted what the bot sent');
  await kit.nextNotification({ callId, changeType: 'updated', state: 'redirecting' });
  return callId;
}

const ended = async (callId: string) => (await kit.nextNotification({ callId, changeType: 'deleted' })).resourceData as unknown as {
  resultInfo: { code: number; subcode: number };
  answeredBy?: { identity: Record<string, { id: string }> };
};

describe('the redirect bot', () => {
  test('forwards Adele to test user, who answers after 3 s', async () => {
    const callId = await redirected({ userId: ADELE });
    await kit.advance(2.9);
    assert.equal((await kit.record(callId)).state, 'redirecting', 'still ringing at 2.9 s');
    await kit.advance(0.1);
    const call = await ended(callId);
    assert.deepEqual([call.resultInfo.code, call.resultInfo.subcode], [200, 7015]);
    assert.equal(call.answeredBy?.identity['user']?.id, TEST_USER);
  });

  test('rings the front desk group with disableForwarding: Fiona answers herself after 1 s', async () => {
    const callId = await redirected({ phone: '+12065550123' }, { applicationInstanceId: INSTANCE });
    await kit.advance(1);
    const call = await ended(callId);
    assert.equal(call.answeredBy?.identity['user']?.id, FIONA, 'not forwarded');
    const record = await kit.record(callId);
    assert.equal(record.redirect?.timeout, 20);
    assert.equal(record.redirect?.disableForwarding, true);
    assert.deepEqual(Object.fromEntries(record.targets.map((t) => [t.id, t.ringState])), { [DECLINER]: 'declined', [NESTOR]: 'cancelled', [FIONA]: 'answered' });
  });

  test('the rota alternates; Fiona forwards to test user when forwarding is allowed', async () => {
    const first = await redirected({ userId: MEGAN });
    await kit.advance(3);
    assert.equal((await ended(first)).answeredBy?.identity['user']?.id, TEST_USER);
    const second = await redirected({ userId: MEGAN });
    await kit.advance(3);
    assert.equal((await ended(second)).answeredBy?.identity['user']?.id, TEST_USER, 'answered by the forward target');
    const fiona = (await kit.record(second)).targets.find((t) => t.id === FIONA);
    assert.equal(fiona?.ringState, 'forwarded');
    assert.deepEqual(
      events.filter((e) => e.event === 'decision').map((e) => (e.event === 'decision' && e.decision.kind === 'redirect' ? e.decision.targets : [])),
      [[{ kind: 'user', id: TEST_USER }], [{ kind: 'user', id: FIONA }]],
    );
  });

  test('anyone else falls back to the duty mobile (PSTN), answered after 5 s', async () => {
    const callId = await redirected({ phone: '+442071838750' });
    await kit.advance(5);
    const call = await ended(callId);
    assert.deepEqual([call.resultInfo.code, call.resultInfo.subcode], [200, 7015]);
    assert.ok(call.answeredBy?.identity['encrypted'], 'a PSTN answerer is reported encrypted');
  });

  test('nobody answers: the ring timeout (30 s) ends the call 408/10058', async () => {
    const callId = await redirected({ userId: DECLINER });
    await kit.advance(29.9);
    assert.equal((await kit.record(callId)).state, 'redirecting');
    await kit.advance(0.1);
    const call = await ended(callId);
    assert.deepEqual([call.resultInfo.code, call.resultInfo.subcode], [408, 10058]);
  });

  test('a bot that is down for 15 s loses the call (408/10057), and Graph then says 404 8522', async () => {
    kit.onNotification(() => 503); // the bot's endpoint fails
    try {
      const callId = await kit.placeCall({ tenantId: TENANT, from: { userId: ADELE }, to: { applicationId: BOT.id } });
      await kit.settle();
      await kit.advance(15);
      kit.onNotification((post) => bot.handle(post)); // back up: the retried notifications arrive
      await kit.advance(60);
      const call = await ended(callId);
      assert.deepEqual([call.resultInfo.code, call.resultInfo.subcode], [408, 10057]);
      await bot.drain();
      const late = events.find((e) => e.event === 'error' && e.callId === callId);
      assert.equal(late?.event === 'error' ? late.status : undefined, 404, 'the late redirect is refused');
      assert.equal(late?.event === 'error' ? late.code : undefined, '8522');
    } finally {
      kit.onNotification((post) => bot.handle(post));
    }
  });

  test('a notification without a valid token is refused with 401 and not acted on', async () => {
    const status = await bot.handle({ headers: { authorization: 'Bearer not.a.jwt' }, raw: '{"value":[]}' });
    assert.equal(status, 401);
    assert.equal(events.at(-1)?.event, 'unauthorized');
  });
});
