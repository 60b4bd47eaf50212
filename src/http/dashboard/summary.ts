/**
 * A call as the dashboard's list shows it: small (10,000 of them go in one snapshot), labels instead of
 * identity sets, times as epoch milliseconds on Switchboard's clock.
 */
import type { Call } from '../../calls/model.js';
import { identityOf, type IdentitySet } from '../../graph/types.js';

export interface TargetSummary {
  id: string;
  label: string;
  kind: string;
  ringState: string;
  behaviour: string;
  /** A bot target's own leg call. */
  legCallId?: string;
}

export interface CallSummary {
  id: string;
  kind: 'incoming' | 'botLeg';
  parentCallId?: string;
  tenantId: string;
  applicationId: string;
  state: string;
  version: number;
  caller: string;
  callerKind: string;
  callee: string;
  targets: TargetSummary[];
  createdAt: number;
  incomingDeadline?: number;
  redirectAcceptedAt?: number;
  ringDeadline?: number;
  endedAt?: number;
  resultInfo?: { code: number; subcode: number; message: string };
  answeredBy?: string;
}

export function label(set: IdentitySet | undefined): string {
  const one = identityOf(set);
  if (!one) return '(unknown)';
  const { kind, identity } = one;
  if (kind === 'phone') return identity.displayName ? `${identity.displayName} (${identity.id})` : identity.id;
  return identity.displayName ?? identity.id;
}

export function summarize(call: Call): CallSummary {
  return {
    id: call.id,
    kind: call.kind,
    ...(call.parentCallId ? { parentCallId: call.parentCallId } : {}),
    tenantId: call.tenantId,
    applicationId: call.applicationId,
    state: call.state,
    version: call.version,
    caller: label(call.source),
    callerKind: identityOf(call.source)?.kind ?? 'unknown',
    callee: label(call.callee),
    targets: call.legs.map((leg) => ({
      id: leg.id,
      label: label(leg.identity),
      kind: leg.kind,
      ringState: leg.ringState,
      behaviour: leg.response.kind,
      ...(leg.legCallId ? { legCallId: leg.legCallId } : {}),
    })),
    createdAt: call.createdAt,
    ...(call.incomingDeadline !== undefined ? { incomingDeadline: call.incomingDeadline } : {}),
    ...(call.redirect ? { redirectAcceptedAt: call.redirect.acceptedAt, ringDeadline: call.redirect.ringDeadline } : {}),
    ...(call.endedAt !== undefined ? { endedAt: call.endedAt } : {}),
    ...(call.resultInfo ? { resultInfo: { code: call.resultInfo.code, subcode: call.resultInfo.subcode, message: call.resultInfo.message } } : {}),
    ...(call.answeredBy ? { answeredBy: label(call.answeredBy.identity) } : {}),
  };
}
