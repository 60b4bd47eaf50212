/**
 * The testing kit (`switchboard/testing`): the example bot's own test suite (a bot developer's view),
 * run here so `npm test` runs it, plus the kit's own behaviours: the directory object goes through the
 * file's validation, the `kit:` callback placeholder, simulator actions, clock, and cleanup.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { startTestSwitchboard, type KitDirectory, type TestSwitchboard } from '../../src/testing/index.js';

// The example bot's tests, exactly as its developer runs them.
import '../../examples/redirect-bot/bot.test.js';

const TENANT = 'contoso';
const BOT = 'bot-1';
const CALLER = 'adele';
const MANUAL = 'megan';

describe('the testing kit', () => {
  let kit: TestSwitchboard;
  before(async () => {
    kit = await startTestSwitchboard({
      directory: {
        tenants: [
          {
            id: TENANT,
            applications: [
              { id: BOT, clientSecret: 'secret-1', roles: ['Calls.Initiate.All'] }, // no callbackUri: the kit's /apps/bot-1
              { id: 'bot-2', clientSecret: 'secret-2', roles: ['Calls.Initiate.All'], callbackUri: 'kit:/hooks/two' },
            ],
            users: [{ id: CALLER, displayName: 'Adele' }, { id: MANUAL, displayName: 'Megan', behaviour: { manual: true } }],
          },
        ],
      },
    });
  });
  after(async () => kit?.close());

  test('the directory object is validated like the file, problems named by field', async () => {
    await assert.rejects(
      startTestSwitchboard({
        directory: {
          tenants: [
            {
              id: TENANT,
              applications: [{ id: BOT, clientSecret: 's', callbackUri: 'http://example.com/hook' }],
              users: [{ id: 'u', behaviour: { answerAfter: -1 } }],
            },
          ],
        },
      }),
      (error: Error) => {
        assert.match(error.message, /tenants\[0\]\.applications\[0\]\.callbackUri/);
        assert.match(error.message, /tenants\[0\]\.users\[0\]\.behaviour/);
        return true;
      },
    );
    await assert.rejects(startTestSwitchboard({ directory: {} as KitDirectory }), /tenants: missing/);
  });

  test('kit: callbacks: an omitted callbackUri goes to /apps/<id>, kit:/path to that path', async () => {
    const one = await kit.placeCall({ tenantId: TENANT, from: { userId: CALLER }, to: { applicationId: BOT } });
    const two = await kit.placeCall({ tenantId: TENANT, from: { userId: CALLER }, to: { applicationId: 'bot-2' } });
    assert.equal((await kit.nextNotification({ callId: one })).request.path, `/apps/${BOT}`);
    const n = await kit.nextNotification({ callId: two, changeType: 'created' });
    assert.equal(n.request.path, '/hooks/two');
    assert.equal(n.state, 'incoming');
    assert.equal(n.resourceUrl, `/communications/calls/${two}`);
    assert.match(String(n.request.headers.authorization), /^Bearer ey/);
    await kit.hangUp(one);
    await kit.hangUp(two);
    const hungUp = await kit.nextNotification({ callId: one, changeType: 'deleted' });
    assert.equal((hungUp.resourceData as { resultInfo?: { subcode?: number } }).resultInfo?.subcode, 5010);
  });

  test('nextNotification takes each notification once, and says what it saw when nothing matches', async () => {
    const callId = await kit.placeCall({ tenantId: TENANT, from: { userId: CALLER }, to: { applicationId: BOT } });
    await kit.nextNotification({ callId, changeType: 'created' });
    await assert.rejects(kit.nextNotification({ callId, changeType: 'created', timeoutMs: 100 }), /no created of call .* received \[created\/incoming \(taken\)\]/);
    assert.equal(kit.notifications({ callId }).length, 1);
    await kit.hangUp(callId);
  });

  test('manual targets act through target(); the clock moves with advance()', async () => {
    const token = await (async () => {
      const res = await kit.fetch(`${kit.authority(TENANT)}/oauth2/v2.0/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ grant_type: 'client_credentials', client_id: BOT, client_secret: 'secret-1', scope: 'https://graph.microsoft.com/.default' }).toString(),
      });
      return ((await res.json()) as { access_token: string }).access_token;
    })();
    const callId = await kit.placeCall({ tenantId: TENANT, from: { userId: CALLER }, to: { applicationId: BOT } });
    await kit.nextNotification({ callId, changeType: 'created' });
    const res = await kit.fetch(`${kit.url}/v1.0/communications/calls/${callId}/redirect`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ targets: [{ identity: { user: { id: MANUAL } } }], timeout: 30 }),
    });
    assert.equal(res.status, 202);
    const before = await kit.now();
    await kit.advance(12.5);
    assert.equal((await kit.now()).getTime() - before.getTime(), 12_500);
    await kit.target(callId, MANUAL).answer();
    const ended = await kit.nextNotification({ callId, changeType: 'deleted' });
    assert.equal((ended.resourceData as { answeredBy?: { identity: { user?: { id: string } } } }).answeredBy?.identity.user?.id, MANUAL);
    await assert.rejects(kit.target(callId, MANUAL).decline(), /409/);
    const record = await kit.record(callId);
    assert.equal(record.targets[0]?.ringState, 'answered');
  });

  test('close() stops everything and removes the temporary data dir', async () => {
    const other = await startTestSwitchboard({ directory: { tenants: [{ id: 't', applications: [{ id: 'a', clientSecret: 'x' }] }] }, clock: 'real' });
    assert.ok(existsSync(other.caFile));
    await assert.rejects(other.advance(1), /advance\(1\): Switchboard answered/, 'the real clock does not advance');
    await other.close();
    assert.equal(existsSync(other.caFile), false);
    await other.close(); // idempotent
  });
});
