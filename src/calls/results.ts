/**
 * resultInfo on termination: Switchboard's table (contract Part A, "resultInfo on termination").
 * Microsoft documents no codes for redirect outcomes; these SIP-style codes are stable.
 */
import type { ResultInfo } from '../graph/types.js';

const result = (code: number, subcode: number, message: string): ResultInfo => ({
  '@odata.type': '#microsoft.graph.resultInfo',
  code,
  subcode,
  message,
});

export const RESULTS = {
  redirectAnswered: (by: string) => result(200, 7015, `The call was redirected and answered by ${by}.`),
  botHungUp: () => result(200, 5000, 'The call was ended by the application.'),
  callerHungUp: () => result(200, 5010, 'The caller hung up.'),
  rejected: (reason: 'none' | 'busy' | 'forbidden') =>
    reason === 'busy'
      ? result(486, 0, 'The application rejected the call as busy.')
      : reason === 'forbidden'
        ? result(403, 0, 'The application rejected the call as forbidden.')
        : result(603, 0, 'The application rejected the call.'),
  incomingWindowExpired: () =>
    result(408, 10057, 'The application did not answer, reject or redirect the call within its 15-second incoming window.'),
  noAnswer: (timeoutSeconds: number) => result(408, 10058, `No redirect target answered within ${timeoutSeconds} seconds.`),
  allDeclined: () => result(603, 10059, 'Every redirect target declined the call.'),
  allBusy: () => result(486, 10060, 'Every redirect target was busy.'),
  unreachable: () => result(480, 10037, 'No redirect target could be reached.'),
  /** A bot target's own leg, when another target answered first (Switchboard's choice: SIP 487). */
  answeredElsewhere: () => result(487, 0, 'Another redirect target answered the call.'),
} as const;
