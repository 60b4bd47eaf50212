/**
 * Stories of the redirect workflow, end to end: a real Switchboard over HTTPS, a real HTTPS bot receiver,
 * tokens from the token endpoint, the virtual clock. "Adele calls the bot; the bot rings ..."
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import { Agent, fetch as undiciFetch } from 'undici';
import { Harness } from '../support/harness.js';
import {
  BOT,
  BOT2,
  CONTOSO,
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

let h: Harness;
let token: string;

before(async () => {
  h = await Harness.start(testDirectory);
  token = await h.token(CONTOSO, BOT.id, BOT.secret);
});
after(async () => h?.close());

const redirect = (callId: string, body: unknown, version = 'beta', base = 'communications/calls') =>
  h.http('POST', `/${version}/${base}/${callId}/redirect`, { token, body });

const incomingCall = (): Promise<string> => h.incomingCall();

describe("Microsoft's examples", () => {
  test('example 1: the bot forwards Adele to test bot 2, which answers after 2 s', async () => {
    const id = await h.placeCall(callFromCaller);
    const created = await h.receiver.waitFor(id, 'created', 'incoming');
    assert.equal(created.path, '/api/calls');
    assert.equal(created.resourceUrl, `/communications/calls/${id}`);
    const call = created.resourceData as Record<string, any>;
    assert.equal(call['@odata.type'], '#microsoft.graph.call');
    assert.equal(call.direction, 'incoming');
    assert.equal(call.tenantId, CONTOSO);
    assert.equal(call.source.identity.user.id, USERS.caller);
    assert.equal(call.targets[0].identity.application.id, BOT.id);

    const res = await redirect(id, { targets: [appTarget(BOT2.id, BOT2.name)], callbackUri: h.receiver.url(`/api/calls/${BOT.id}`) });
    assert.equal(res.status, 202);
    assert.equal(res.text, '');
    await h.receiver.waitFor(id, 'updated', 'redirecting');

    await h.advance(1.9);
    assert.equal((await h.record(id)).state, 'redirecting', 'test bot 2 has not answered yet at 1.9 s');
    await h.advance(0.2);
    const deleted = await h.receiver.waitFor(id, 'deleted', 'terminated');
    assert.equal(deleted.path, `/api/calls/${BOT.id}`, 'sent to the redirect callbackUri');
    const ended = deleted.resourceData as Record<string, any>;
    assert.deepEqual([ended.resultInfo.code, ended.resultInfo.subcode], [200, 7015]);
    assert.equal(ended.answeredBy.identity.application.id, BOT2.id);

    const get = await h.http('GET', `/beta/communications/calls/${id}`, { token });
    assert.equal(get.status, 404, 'a terminated call is gone for Graph');
    assert.equal(get.json.error.code, '8522');

    await h.settle();
    const record = await h.record(id);
    assert.equal(record.state, 'terminated');
    assert.equal(record.caller.identity.user.id, USERS.caller);
    assert.equal(record.targets[0].ringState, 'answered');
    assert.ok(record.history.every((e: { at: string }) => /^\d{4}-\d\d-\d\dT/.test(e.at)));
    const kinds = record.notifications.map((n: { changeType: string; state: string }) => `${n.changeType}/${n.state}`);
    assert.deepEqual(kinds, ['created/incoming', 'updated/redirecting', 'deleted/terminated']);
    assert.ok(record.notifications.every((n: { delivered: boolean; attempts: Array<{ status: number }> }) => n.delivered && n.attempts[0]?.status === 202));
  });

  test('example 2: simultaneous ring of test user and test user 2 with disableForwarding', async () => {
    const id = await incomingCall();
    const res = await redirect(id, {
      targets: [userTarget(USERS.testUser, 'test user'), userTarget(USERS.testUser2, 'test user 2'), userTarget(USERS.noAnswer)],
      routingPolicies: ['disableForwarding'],
      callbackUri: h.receiver.url(`/api/calls/${BOT.id}`),
    });
    assert.equal(res.status, 202);
    await h.advance(3);
    const deleted = await h.receiver.waitFor(id, 'deleted');
    const ended = deleted.resourceData as Record<string, any>;
    assert.deepEqual([ended.resultInfo.code, ended.resultInfo.subcode], [200, 7015]);
    assert.equal(ended.answeredBy.identity.user.id, USERS.testUser);
    const record = await h.record(id);
    const states = Object.fromEntries(record.targets.map((t: { id: string; ringState: string }) => [t.id, t.ringState]));
    assert.deepEqual(states, { [USERS.testUser]: 'answered', [USERS.testUser2]: 'declined', [USERS.noAnswer]: 'cancelled' });
    assert.equal(record.redirect.timeout, 60, 'several targets: 60 s by default');
  });

  test('example 3: forward to a PSTN number; the answerer is reported encrypted', async () => {
    const id = await h.placeCall({ tenantId: CONTOSO, from: { userId: USERS.caller }, to: { applicationInstanceId: PSTN_INSTANCE.id } });
    const created = await h.receiver.waitFor(id, 'created');
    assert.equal((created.resourceData as any).targets[0].identity.applicationInstance.id, PSTN_INSTANCE.id);
    const res = await redirect(id, { targets: [phoneTarget(PHONES.answers)], callbackUri: h.receiver.url(`/api/calls/${BOT.id}`) });
    assert.equal(res.status, 202);
    await h.advance(5);
    const ended = (await h.receiver.waitFor(id, 'deleted')).resourceData as Record<string, any>;
    assert.deepEqual([ended.resultInfo.code, ended.resultInfo.subcode], [200, 7015]);
    assert.ok(ended.answeredBy.identity.encrypted?.id, 'PSTN answerer is encrypted');
    assert.equal(ended.answeredBy.identity.phone, undefined);
    assert.equal((await h.record(id)).redirect.timeout, 55, 'one target: 55 s by default');
  });
});

describe('each behaviour of the simulated plane', () => {
  const outcome = async (targets: unknown[], extra: Record<string, unknown> = {}, advance = 0) => {
    const id = await incomingCall();
    const res = await redirect(id, { targets, ...extra });
    assert.equal(res.status, 202, res.text);
    if (advance) await h.advance(advance);
    const ended = (await h.receiver.waitFor(id, 'deleted')).resourceData as Record<string, any>;
    return { id, result: [ended.resultInfo.code, ended.resultInfo.subcode], ended, record: await h.record(id) };
  };

  test('busy: ends at once 486/10060', async () => {
    const { result, record } = await outcome([userTarget(USERS.busy)]);
    assert.deepEqual(result, [486, 10060]);
    assert.equal(record.targets[0].ringState, 'busy');
  });
  test('unreachable and unknown targets: 480/10037', async () => {
    const { result, record } = await outcome([userTarget(USERS.unreachable), userTarget('99999999-9999-4999-8999-999999999999'), phoneTarget('+19995550123')]);
    assert.deepEqual(result, [480, 10037]);
    assert.deepEqual(record.targets.map((t: { ringState: string }) => t.ringState), ['unreachable', 'unreachable', 'unreachable']);
  });
  test('decline after 4 s: 603/10059', async () => {
    const { result, record } = await outcome([userTarget(USERS.slowDecline)], {}, 4);
    assert.deepEqual(result, [603, 10059]);
    assert.equal(record.targets[0].ringState, 'declined');
  });
  test('declined and busy together: declined wins, 603/10059', async () => {
    const { result } = await outcome([userTarget(USERS.testUser2), userTarget(USERS.busy)]);
    assert.deepEqual(result, [603, 10059]);
  });
  test('no answer: the ring timeout (15 s) ends it 408/10058, even after a decline', async () => {
    const id = await incomingCall();
    assert.equal((await redirect(id, { targets: [userTarget(USERS.noAnswer), userTarget(USERS.testUser2)], timeout: 15 })).status, 202);
    await h.advance(14.9);
    assert.equal((await h.record(id)).state, 'redirecting');
    await h.advance(0.1);
    const ended = (await h.receiver.waitFor(id, 'deleted')).resourceData as Record<string, any>;
    assert.deepEqual([ended.resultInfo.code, ended.resultInfo.subcode], [408, 10058]);
    const record = await h.record(id);
    assert.deepEqual(record.targets.map((t: { ringState: string }) => t.ringState), ['noAnswer', 'declined']);
  });
  test('manual: Megan answers through the simulator API', async () => {
    const id = await incomingCall();
    await redirect(id, { targets: [userTarget(USERS.manual), userTarget(USERS.noAnswer)] });
    const early = await h.simulator('POST', `/calls/${id}/targets/${USERS.busy}/answer`);
    assert.equal(early.status, 404, 'not a target of this call');
    const act = await h.simulator('POST', `/calls/${id}/targets/${USERS.manual}/answer`);
    assert.equal(act.status, 204, act.text);
    const ended = (await h.receiver.waitFor(id, 'deleted')).resourceData as Record<string, any>;
    assert.equal(ended.answeredBy.identity.user.id, USERS.manual);
    const again = await h.simulator('POST', `/calls/${id}/targets/${USERS.noAnswer}/answer`);
    assert.equal(again.status, 409, 'no longer ringing');
  });
  test('manual decline and busy through the simulator API', async () => {
    const id = await incomingCall();
    await redirect(id, { targets: [userTarget(USERS.manual)] });
    assert.equal((await h.simulator('POST', `/calls/${id}/targets/${USERS.manual}/busy`)).status, 204);
    const ended = (await h.receiver.waitFor(id, 'deleted')).resourceData as Record<string, any>;
    assert.deepEqual([ended.resultInfo.code, ended.resultInfo.subcode], [486, 10060]);
  });
  test('forwardTo is followed: Fiona forwards to test user, who answers after 3 s', async () => {
    const { result, ended, record } = await outcome([userTarget(USERS.forwarder)], {}, 3);
    assert.deepEqual(result, [200, 7015]);
    assert.equal(ended.answeredBy.identity.user.id, USERS.testUser);
    const fiona = record.targets.find((t: { id: string }) => t.id === USERS.forwarder);
    const test = record.targets.find((t: { id: string }) => t.id === USERS.testUser);
    assert.equal(fiona.ringState, 'forwarded');
    assert.equal(fiona.forwardedTo, USERS.testUser);
    assert.equal(test.forwardedFrom, USERS.forwarder);
    assert.equal(test.ringState, 'answered');
  });
  test('disableForwarding: Fiona rings herself and answers after 1 s', async () => {
    const { ended, record } = await outcome([userTarget(USERS.forwarder)], { routingPolicies: ['disableForwarding'] }, 1);
    assert.equal(ended.answeredBy.identity.user.id, USERS.forwarder);
    assert.equal(record.targets.length, 1);
  });
  test('maskCaller and maskCallee are observable in the record', async () => {
    const plain = await outcome([userTarget(USERS.testUser)], {}, 3);
    assert.equal(plain.record.targets[0].presentedCaller.user.id, USERS.caller);
    assert.equal(plain.record.caller.presentedCallee.user.id, USERS.testUser);
    const masked = await outcome([userTarget(USERS.testUser)], { maskCaller: true, maskCallee: true }, 3);
    assert.equal(masked.record.targets[0].presentedCaller.application.id, BOT.id, 'target sees the bot');
    assert.equal(masked.record.caller.presentedCallee.application.id, BOT.id, 'caller sees the bot');
  });
  test('a bot target without behaviour gets its own leg, answers it through Graph, and wins', async () => {
    const id = await incomingCall();
    await redirect(id, { targets: [appTarget(RECEPTION_BOT.id), userTarget(USERS.noAnswer)] });
    const legs = () => h.receiver.notifications().filter((n) => n.path === '/api/reception' && n.changeType === 'created');
    for (let i = 0; i < 50 && !legs().some((n) => (n.resourceData as any).source.identity.user?.id === USERS.caller); i++) await new Promise((r) => setTimeout(r, 50));
    const leg = legs().find((n) => (n.resourceData as any).source.identity.user?.id === USERS.caller);
    assert.ok(leg, 'reception bot got a created notification for its leg');
    const legId = leg.resourceData.id;
    const receptionToken = await h.token(CONTOSO, RECEPTION_BOT.id, RECEPTION_BOT.secret);
    const notMine = await h.http('POST', `/v1.0/communications/calls/${legId}/answer`, { token, body: {} });
    assert.equal(notMine.status, 404, "the first bot cannot see the reception bot's leg");
    const answer = await h.http('POST', `/v1.0/communications/calls/${legId}/answer`, { token: receptionToken, body: {} });
    assert.equal(answer.status, 202, answer.text);
    const ended = (await h.receiver.waitFor(id, 'deleted')).resourceData as Record<string, any>;
    assert.equal(ended.answeredBy.identity.application.id, RECEPTION_BOT.id);
    await h.receiver.waitFor(legId, 'updated', 'established');
    const record = await h.record(id);
    assert.equal(record.targets[1].ringState, 'cancelled');
    // The caller hangs up: the reception bot's leg ends.
    assert.equal((await h.simulator('POST', `/calls/${id}/hangup`)).status, 204);
    const legEnded = (await h.receiver.waitFor(legId, 'deleted')).resourceData as Record<string, any>;
    assert.deepEqual([legEnded.resultInfo.code, legEnded.resultInfo.subcode], [200, 5010]);
  });
});

describe('the 15 s window, reject, answer, delete, hang up', () => {
  test('the window expires: 408/10057, then a redirect is 404 saying so', async () => {
    const id = await incomingCall();
    await h.advance(14.9);
    assert.equal((await h.record(id)).state, 'incoming');
    await h.advance(0.1);
    const ended = (await h.receiver.waitFor(id, 'deleted')).resourceData as Record<string, any>;
    assert.deepEqual([ended.resultInfo.code, ended.resultInfo.subcode], [408, 10057]);
    const late = await redirect(id, { targets: [userTarget(USERS.testUser)] });
    assert.equal(late.status, 404);
    assert.equal(late.json.error.code, '8522');
    assert.match(late.json.error.message, /15-second incoming window expired at \d{4}-/);
  });
  test('reject (busy): 202, the call ends 486/0; a redirect after is 404', async () => {
    const id = await incomingCall();
    const res = await h.http('POST', `/v1.0/communications/calls/${id}/reject`, { token, body: { reason: 'busy' } });
    assert.equal(res.status, 202);
    const ended = (await h.receiver.waitFor(id, 'deleted')).resourceData as Record<string, any>;
    assert.deepEqual([ended.resultInfo.code, ended.resultInfo.subcode], [486, 0]);
    assert.equal((await redirect(id, { targets: [userTarget(USERS.testUser)] })).status, 404);
  });
  test('answer then DELETE: established, then terminating and terminated 200/5000', async () => {
    const id = await incomingCall();
    assert.equal((await h.http('POST', `/v1.0/app/calls/${id}/answer`, { token, body: { acceptedModalities: ['audio'] } })).status, 202);
    await h.receiver.waitFor(id, 'updated', 'established');
    const get = await h.http('GET', `/v1.0/communications/calls/${id}`, { token });
    assert.equal(get.status, 200);
    assert.equal(get.json.state, 'established');
    const conflict = await redirect(id, { targets: [userTarget(USERS.testUser)] });
    assert.equal(conflict.status, 409, 'redirect after answer');
    assert.equal(conflict.json.error.code, 'Conflict');
    assert.equal((await h.http('DELETE', `/beta/app/calls/${id}`, { token })).status, 204);
    await h.receiver.waitFor(id, 'updated', 'terminating');
    const ended = (await h.receiver.waitFor(id, 'deleted', 'terminated')).resourceData as Record<string, any>;
    assert.deepEqual([ended.resultInfo.code, ended.resultInfo.subcode], [200, 5000]);
  });
  test('DELETE while redirecting cancels the ringing targets', async () => {
    const id = await incomingCall();
    await redirect(id, { targets: [userTarget(USERS.noAnswer)] });
    assert.equal((await h.http('DELETE', `/v1.0/communications/calls/${id}`, { token })).status, 204);
    await h.receiver.waitFor(id, 'deleted');
    assert.equal((await h.record(id)).targets[0].ringState, 'cancelled');
  });
  test('the caller hangs up while the targets ring: 200/5010', async () => {
    const id = await incomingCall();
    await redirect(id, { targets: [userTarget(USERS.noAnswer)] });
    assert.equal((await h.simulator('POST', `/calls/${id}/hangup`)).status, 204);
    const ended = (await h.receiver.waitFor(id, 'deleted')).resourceData as Record<string, any>;
    assert.deepEqual([ended.resultInfo.code, ended.resultInfo.subcode], [200, 5010]);
    assert.equal((await h.simulator('POST', `/calls/${id}/hangup`)).status, 409, 'already ended');
  });
  test('a second redirect is 409 Conflict', async () => {
    const id = await incomingCall();
    assert.equal((await redirect(id, { targets: [userTarget(USERS.noAnswer)] })).status, 202);
    const again = await redirect(id, { targets: [userTarget(USERS.testUser)] });
    assert.equal(again.status, 409);
    assert.equal(again.json.error.code, 'Conflict');
  });
  test('/v1.0 and the deprecated /app/calls alias behave the same', async () => {
    const id = await incomingCall();
    const res = await redirect(id, { targets: [userTarget(USERS.testUser)], maskCallee: true }, 'v1.0', 'app/calls');
    assert.equal(res.status, 202);
    await h.advance(3);
    const ended = (await h.receiver.waitFor(id, 'deleted')).resourceData as Record<string, any>;
    assert.equal(ended.answeredBy.identity.user.id, USERS.testUser, 'answeredBy on v1.0 too');
  });
});

describe('notifications', () => {
  test('are signed RS256 by a key from the bot-framework OpenID metadata, aud = the bot', async () => {
    const id = await incomingCall();
    const created = await h.receiver.waitFor(id, 'created');
    const auth = String(created.request.headers.authorization);
    assert.match(auth, /^Bearer /);
    const agent = new Agent({ connect: { ca: h.sb.caPem ?? '' } });
    const meta = (await (await undiciFetch(`${h.sb.url}/botframework/v1/.well-known/openidconfiguration`, { dispatcher: agent })).json()) as { jwks_uri: string };
    const jwks = (await (await undiciFetch(meta.jwks_uri, { dispatcher: agent })).json()) as Parameters<typeof import('jose').createLocalJWKSet>[0];
    await agent.close();
    const { createLocalJWKSet } = await import('jose');
    const { payload, protectedHeader } = await jwtVerify(auth.slice(7), createLocalJWKSet(jwks), {
      issuer: 'https://api.botframework.com',
      audience: BOT.id,
    });
    assert.equal(protectedHeader.alg, 'RS256');
    assert.ok(payload.exp);
    assert.equal(typeof createRemoteJWKSet, 'function');
    const notificationId = created.request.headers['x-switchboard-notification-id'];
    assert.equal((created.request.json as Record<string, unknown>)['@switchboard.notificationId'], notificationId);
  });

  test('a bot answering 500 gets retries with backoff on the virtual clock, in order', async () => {
    let failures = 2;
    h.receiver.status = (r) => ((r.json as any)?.value?.[0]?.changeType === 'created' && failures-- > 0 ? 500 : 202);
    try {
      const id = await h.placeCall(callFromCaller);
      await h.settle();
      let record = await h.record(id);
      assert.equal(record.notifications[0].delivered, false);
      assert.equal(record.notifications[0].attempts[0].status, 500);
      await h.advance(1); // first retry after 1 s
      await h.settle();
      await h.advance(2); // then 2 s
      await h.receiver.waitFor(id, 'created');
      await h.settle();
      record = await h.record(id);
      const attempts = record.notifications[0].attempts.map((a: { status: number }) => a.status);
      assert.deepEqual(attempts, [500, 500, 202]);
      const times = record.notifications[0].attempts.map((a: { at: string }) => Date.parse(a.at));
      assert.deepEqual([times[1] - times[0], times[2] - times[1]], [1000, 2000]);
      // The window ends the call meanwhile: its deleted notification comes after created, never before.
      await h.advance(15);
      await h.receiver.waitFor(id, 'deleted');
      const order = h.receiver.notifications(id).map((n) => n.changeType);
      assert.deepEqual(order, ['created', 'deleted']);
    } finally {
      h.receiver.status = () => 202;
    }
  });
});
