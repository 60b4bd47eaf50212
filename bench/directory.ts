/**
 * The directory every bench server loads: one tenant, one bot, a caller and three targets. Written as a
 * YAML directory file (the `--config` a user gives `switchboard serve`).
 */
import { writeFileSync } from 'node:fs';
import { stringify } from 'yaml';

export const TENANT = '632899f8-2ea1-4604-8413-27bd2892079f';
export const BOT = { id: '24701998-1a73-4d42-8085-bf46ed0ae039', secret: 'bench-secret' };
export const ADMIN_KEY = 'bench-admin-key-0123456789abcdef';
export const USERS = {
  caller: '8d1e6ab6-26c5-4e22-a1bc-06ea7343958e',
  /** answerAfter 0: answers the instant it rings (the workflow's target). */
  answerer: '98da8a1a-1b87-452c-a713-65d3f10b1253',
  /** noAnswer: rings until the redirect's timeout (the ringing figures, the redirect-only figure). */
  noAnswer: '5b7e1c0a-3f2d-4e8b-9a61-0c4d2e8f1a02',
  /** manual: rings until the simulator API acts for it. */
  manual: '5b7e1c0a-3f2d-4e8b-9a61-0c4d2e8f1a04',
};

export function writeBenchDirectory(file: string, callbackUri: string): void {
  const directory = {
    admin: { key: ADMIN_KEY },
    // The bench drives one application far past Microsoft's 50,000 requests per 15 s (that ceiling is what
    // redirect.perSecond is compared with), so the throttle is raised out of the way.
    limits: { requestsPer15Seconds: 100_000_000 },
    tenants: [
      {
        id: TENANT,
        displayName: 'Bench',
        applications: [
          { id: BOT.id, displayName: 'bench bot', clientSecret: BOT.secret, roles: ['Calls.Initiate.All'], callbackUri },
        ],
        users: [
          { id: USERS.caller, displayName: 'Bench caller' },
          { id: USERS.answerer, displayName: 'Bench answerer', behaviour: { answerAfter: 0 } },
          { id: USERS.noAnswer, displayName: 'Bench no-answer', behaviour: { noAnswer: true } },
          { id: USERS.manual, displayName: 'Bench manual', behaviour: { manual: true } },
        ],
      },
    ],
  };
  writeFileSync(file, stringify(directory));
}

export const placeCallBody = JSON.stringify({ tenantId: TENANT, from: { userId: USERS.caller }, to: { applicationId: BOT.id } });

export function redirectBody(userId: string, timeout: number): string {
  return JSON.stringify({
    targets: [
      {
        '@odata.type': '#microsoft.graph.invitationParticipantInfo',
        identity: { '@odata.type': '#microsoft.graph.identitySet', user: { '@odata.type': '#microsoft.graph.identity', id: userId, displayName: 'Target' } },
      },
    ],
    timeout,
  });
}
