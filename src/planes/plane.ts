/**
 * planes/ — telephony behind one interface. The engine asks a plane who rings for each redirect target and
 * what each will do, and tells it when a target starts and stops ringing. `simulated/` is the embedded plane
 * driven by the directory's behaviours; a SIP plane will implement the same interface.
 */
import type { Call, Leg, ResolvedTarget } from '../calls/model.js';
import type { InvitationParticipantInfo } from '../graph/types.js';

export interface TargetContext {
  tenantId: string;
  applicationId: string;
  /** `routingPolicies` has `disableForwarding`: targets' own forwarding rules are not followed. */
  disableForwarding: boolean;
}

export interface TelephonyPlane {
  /**
   * Who rings for each requested target. An unknown target is not an error: it resolves as `unreachable`.
   * A target whose forwarding applies yields two entries: itself (`forwardedTo`) and the one that rings.
   */
  resolveTargets(context: TargetContext, targets: InvitationParticipantInfo[]): ResolvedTarget[];
  ring(call: Call, leg: Leg): void;
  stopRinging(call: Call, leg: Leg): void;
}
