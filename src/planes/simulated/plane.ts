/**
 * The simulated plane: every user, phone and bot in the directory behaves as its `behaviour` says
 * (answer after N s, decline, busy, no answer, unreachable, manual, forward). The behaviour is turned into
 * a TargetResponse when the redirect is accepted; the call machine schedules it as timers, so a restart
 * or a virtual clock needs nothing from this plane.
 */
import type { ResolvedTarget, TargetResponse } from '../../calls/model.js';
import { MAX_FORWARD_HOPS } from '../../calls/timeouts.js';
import type { Behaviour, DirectoryIndex } from '../../directory/model.js';
import { identityOf, identitySet, type IdentityKind, type IdentitySet, type InvitationParticipantInfo } from '../../graph/types.js';
import type { TargetContext, TelephonyPlane } from '../plane.js';

interface Party {
  id: string;
  kind: IdentityKind;
  identity: IdentitySet;
  /** undefined: not in the directory (unreachable). */
  behaviour: Behaviour | 'bot' | undefined;
  found: boolean;
  botApplicationId?: string;
  botCallbackUri?: string;
}

export class SimulatedPlane implements TelephonyPlane {
  constructor(private readonly directory: () => DirectoryIndex) {}

  resolveTargets(context: TargetContext, targets: InvitationParticipantInfo[]): ResolvedTarget[] {
    const resolved: ResolvedTarget[] = [];
    for (const target of targets) this.resolveParty(this.partyOf(target.identity), context, resolved, 0);
    return resolved;
  }

  ring(): void {
    // Simulated parties need no signal: their response was scheduled when the redirect was accepted.
  }

  stopRinging(): void {}

  private resolveParty(party: Party, context: TargetContext, out: ResolvedTarget[], hops: number, forwardedFrom?: string): void {
    const base: ResolvedTarget = { id: party.id, kind: party.kind, identity: party.identity, response: { kind: 'unreachable' } };
    if (forwardedFrom !== undefined) base.forwardedFrom = forwardedFrom;
    if (!party.found || party.behaviour === undefined) {
      out.push(base);
      return;
    }
    if (party.behaviour === 'bot') {
      out.push({ ...base, response: { kind: 'bot', applicationId: party.botApplicationId ?? party.id, callbackUri: party.botCallbackUri ?? '' } });
      return;
    }
    const behaviour = party.behaviour;
    if (behaviour.forwardTo !== undefined && !context.disableForwarding) {
      if (hops >= MAX_FORWARD_HOPS) {
        out.push(base); // a forwarding loop or a chain too long: unreachable
        return;
      }
      const next = this.partyOfId(behaviour.forwardTo);
      out.push({ ...base, response: responseOf(behaviour), forwardedTo: next.id });
      this.resolveParty(next, context, out, hops + 1, party.id);
      return;
    }
    out.push({ ...base, response: responseOf(behaviour) });
  }

  /** A forwardTo value: a user id or an E.164 number. */
  private partyOfId(id: string): Party {
    return id.startsWith('+') ? this.partyOf(identitySet('phone', { id })) : this.partyOf(identitySet('user', { id }));
  }

  private partyOf(requested: IdentitySet): Party {
    const dir = this.directory();
    const one = identityOf(requested);
    if (!one) return { id: 'unknown', kind: 'user', identity: requested, behaviour: undefined, found: false };
    const { kind, identity } = one;
    const unknown: Party = { id: identity.id, kind, identity: identitySet(kind, identity), behaviour: undefined, found: false };
    switch (kind) {
      case 'user': {
        const user = dir.user(identity.id);
        if (!user) return unknown;
        return {
          id: user.id,
          kind,
          identity: identitySet('user', { id: user.id, ...(user.displayName ? { displayName: user.displayName } : {}), tenantId: user.tenantId }),
          behaviour: user.behaviour ?? { manual: true },
          found: true,
        };
      }
      case 'phone': {
        const instance = dir.instanceByPhone(identity.id);
        if (instance) return this.applicationParty(identity.id, 'phone', identitySet('phone', { id: identity.id }), instance.application.id);
        const phone = dir.phone(identity.id);
        if (!phone) return unknown;
        return {
          id: phone.number,
          kind,
          identity: identitySet('phone', { id: phone.number, ...(phone.displayName ? { displayName: phone.displayName } : {}) }),
          behaviour: phone.behaviour ?? { manual: true },
          found: true,
        };
      }
      case 'application':
        return dir.application(identity.id) ? this.applicationParty(identity.id, kind, requested, identity.id) : unknown;
      case 'applicationInstance': {
        const instance = dir.instance(identity.id);
        if (!instance) return unknown;
        const { instance: inst } = instance;
        const set = identitySet('applicationInstance', { id: inst.id, ...(inst.displayName ? { displayName: inst.displayName } : {}), tenantId: instance.application.tenantId });
        return this.applicationParty(inst.id, kind, set, instance.application.id);
      }
      default:
        return unknown; // guests and encrypted identities cannot be rung by the simulated plane
    }
  }

  private applicationParty(id: string, kind: IdentityKind, requested: IdentitySet, applicationId: string): Party {
    const app = this.directory().application(applicationId);
    if (!app) return { id, kind, identity: requested, behaviour: undefined, found: false };
    const identity =
      kind === 'application'
        ? identitySet('application', { id: app.id, ...(app.displayName ? { displayName: app.displayName } : {}) })
        : requested;
    if (app.behaviour) return { id, kind, identity, behaviour: app.behaviour, found: true };
    return { id, kind, identity, behaviour: 'bot', found: true, botApplicationId: app.id, botCallbackUri: app.callbackUri };
  }
}

/** A behaviour's own response, forwarding aside. With only `forwardTo` (forwarding disabled) it does not answer. */
export function responseOf(b: Behaviour): TargetResponse {
  if (b.unreachable) return { kind: 'unreachable' };
  if (b.busy) return { kind: 'busy' };
  if (b.decline) return { kind: 'declineAfter', seconds: b.after ?? 0 };
  if (b.answerAfter !== undefined) return { kind: 'answerAfter', seconds: b.answerAfter };
  if (b.noAnswer) return { kind: 'noAnswer' };
  if (b.manual) return { kind: 'manual' };
  if (b.forwardTo !== undefined) return { kind: 'noAnswer' };
  return { kind: 'manual' };
}
