/**
 * The directory the end-to-end stories run against: Microsoft's example ids (call-redirect page) plus a
 * cast of users whose behaviours cover every branch of the simulated plane.
 */
import type { Directory } from '../../src/directory/model.js';

export const CONTOSO = '632899f8-2ea1-4604-8413-27bd2892079f';
export const FABRIKAM = 'f0b1e2d3-0000-4000-8000-00000000fab1';
export const BOT = { id: '24701998-1a73-4d42-8085-bf46ed0ae039', secret: 'dev-secret', name: 'test bot' };
export const BOT2 = { id: '22bfd41f-550e-477d-8789-f6f7bd2a5e8b', secret: 'bot2-secret', name: 'test bot 2' };
/** A bot with no simulated behaviour: as a redirect target it gets its own leg and acts through Graph. */
export const RECEPTION_BOT = { id: '5b0c3e2a-7d1f-4c55-9e0b-2f8a1c6d4e71', secret: 'reception-secret', name: 'reception bot' };
/** A bot without an application instance (so without a phone number). */
export const PLAIN_BOT = { id: '0f3b8c1e-4a2d-4e6f-8b9a-1c2d3e4f5a6b', secret: 'plain-secret', name: 'plain bot' };
export const FABRIKAM_BOT = { id: 'a1b2c3d4-e5f6-4711-8899-aabbccddeeff', secret: 'fab-secret', name: 'fabrikam bot' };
export const PSTN_INSTANCE = { id: '7629bdce-046c-4903-86b4-a8f718277e1a', phone: '+14255550100', name: 'PstnAppInstance' };

export const USERS = {
  caller: '8d1e6ab6-26c5-4e22-a1bc-06ea7343958e',
  testUser: '98da8a1a-1b87-452c-a713-65d3f10b1253', // answers after 3 s
  testUser2: 'bf5aae9a-d11d-47a8-93b1-782504c9c3f3', // declines
  busy: '11111111-1111-4111-8111-111111111111',
  unreachable: '22222222-2222-4222-8222-222222222222',
  noAnswer: '33333333-3333-4333-8333-333333333333',
  manual: '44444444-4444-4444-8444-444444444444',
  forwarder: '55555555-5555-4555-8555-555555555555', // forwards to testUser; answers after 1 s itself
  slowDecline: '66666666-6666-4666-8666-666666666666', // declines after 4 s
  fabrikamUser: '77777777-7777-4777-8777-777777777777',
};
export const PHONES = { answers: '+12345678901', busy: '+12345678902' };

export function testDirectory(callback: (path: string) => string): Directory {
  return {
    admin: { key: 'test-admin-key-0123456789' },
    limits: { requestsPer15Seconds: 50_000, bodyBytes: 1_048_576 },
    notifications: { allowHosts: [], giveUpAfterSeconds: 86_400 },
    tenants: [
      {
        id: CONTOSO,
        displayName: 'Contoso',
        applications: [
          {
            id: BOT.id,
            tenantId: CONTOSO,
            displayName: BOT.name,
            clientSecret: BOT.secret,
            roles: ['Calls.Initiate.All'],
            callbackUri: callback('/api/calls'),
            instances: [{ id: PSTN_INSTANCE.id, displayName: PSTN_INSTANCE.name, phone: PSTN_INSTANCE.phone }],
          },
          {
            id: BOT2.id,
            tenantId: CONTOSO,
            displayName: BOT2.name,
            clientSecret: BOT2.secret,
            roles: ['Calls.Initiate.All'],
            callbackUri: callback('/api/calls/test-bot-2'),
            instances: [],
            behaviour: { answerAfter: 2 },
          },
          {
            id: RECEPTION_BOT.id,
            tenantId: CONTOSO,
            displayName: RECEPTION_BOT.name,
            clientSecret: RECEPTION_BOT.secret,
            roles: ['Calls.Initiate.All'],
            callbackUri: callback('/api/reception'),
            instances: [],
          },
          {
            id: PLAIN_BOT.id,
            tenantId: CONTOSO,
            displayName: PLAIN_BOT.name,
            clientSecret: PLAIN_BOT.secret,
            roles: ['Calls.Initiate.All'],
            callbackUri: callback('/api/plain'),
            instances: [],
          },
        ],
        users: [
          { id: USERS.caller, tenantId: CONTOSO, displayName: 'Adele Vance' },
          { id: USERS.testUser, tenantId: CONTOSO, displayName: 'test user', behaviour: { answerAfter: 3 } },
          { id: USERS.testUser2, tenantId: CONTOSO, displayName: 'test user 2', behaviour: { decline: true } },
          { id: USERS.busy, tenantId: CONTOSO, displayName: 'Bianca Busy', behaviour: { busy: true } },
          { id: USERS.unreachable, tenantId: CONTOSO, displayName: 'Uma Unreachable', behaviour: { unreachable: true } },
          { id: USERS.noAnswer, tenantId: CONTOSO, displayName: 'Nestor Noanswer', behaviour: { noAnswer: true } },
          { id: USERS.manual, tenantId: CONTOSO, displayName: 'Megan Manual', behaviour: { manual: true } },
          { id: USERS.forwarder, tenantId: CONTOSO, displayName: 'Fiona Forward', behaviour: { forwardTo: USERS.testUser, answerAfter: 1 } },
          { id: USERS.slowDecline, tenantId: CONTOSO, displayName: 'Diego Decline', behaviour: { decline: true, after: 4 } },
        ],
      },
      {
        id: FABRIKAM,
        displayName: 'Fabrikam',
        applications: [
          {
            id: FABRIKAM_BOT.id,
            tenantId: FABRIKAM,
            displayName: FABRIKAM_BOT.name,
            clientSecret: FABRIKAM_BOT.secret,
            roles: ['Calls.Initiate.All'],
            callbackUri: callback('/api/fabrikam'),
            instances: [],
          },
        ],
        users: [{ id: USERS.fabrikamUser, tenantId: FABRIKAM, displayName: 'Fabrikam user' }],
      },
    ],
    phones: [
      { number: PHONES.answers, displayName: 'PSTN answerer', behaviour: { answerAfter: 5 } },
      { number: PHONES.busy, behaviour: { busy: true } },
    ],
  };
}

export const userTarget = (id: string, displayName?: string) => ({
  '@odata.type': '#microsoft.graph.invitationParticipantInfo',
  identity: {
    '@odata.type': '#microsoft.graph.identitySet',
    user: { '@odata.type': '#microsoft.graph.identity', id, ...(displayName ? { displayName } : {}) },
  },
});
export const appTarget = (id: string, displayName?: string) => ({
  '@odata.type': '#microsoft.graph.invitationParticipantInfo',
  identity: {
    '@odata.type': '#microsoft.graph.identitySet',
    application: { '@odata.type': '#microsoft.graph.identity', id, ...(displayName ? { displayName } : {}) },
  },
});
export const phoneTarget = (id: string) => ({
  '@odata.type': '#microsoft.graph.invitationParticipantInfo',
  identity: { '@odata.type': '#microsoft.graph.identitySet', phone: { '@odata.type': '#microsoft.graph.identity', id } },
});

export const callFromCaller = { tenantId: CONTOSO, from: { userId: USERS.caller }, to: { applicationId: BOT.id } };
