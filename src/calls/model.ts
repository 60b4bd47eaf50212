/**
 * calls/ — the heart: the call as data, the events that move it, the pure transition function
 * (`machine.ts`) and the engine that performs its effects (`engine.ts`).
 *
 * This file: the shapes. A call is plain JSON (it is persisted as is); times are epoch milliseconds on
 * Switchboard's clock (virtual or real).
 */
import type { CallState, ChangeType, IdentityKind, IdentitySet, ResultInfo } from '../graph/types.js';

export type RingState = 'ringing' | 'answered' | 'declined' | 'busy' | 'noAnswer' | 'cancelled' | 'unreachable' | 'forwarded';

/**
 * What a target will do once it rings, as the telephony plane decided when the redirect was accepted.
 * `bot`: an application without a simulated behaviour; it gets its own leg and acts through the Graph API.
 */
export type TargetResponse =
  | { kind: 'answerAfter'; seconds: number }
  | { kind: 'declineAfter'; seconds: number }
  | { kind: 'busy' }
  | { kind: 'unreachable' }
  | { kind: 'noAnswer' }
  | { kind: 'manual' }
  | { kind: 'bot'; applicationId: string; callbackUri: string };

/** A target resolved by the plane: who rings, and what it will do. */
export interface ResolvedTarget {
  /** The user id, application id or E.164 number. */
  id: string;
  kind: IdentityKind;
  identity: IdentitySet;
  response: TargetResponse;
  /** Set on a target whose own forwarding rule sent the call on: it does not ring itself. */
  forwardedTo?: string;
  /** Set on the target that rings in place of `forwardedFrom`. */
  forwardedFrom?: string;
}

/** One target of a redirect, as it rings. */
export interface Leg extends ResolvedTarget {
  ringState: RingState;
  /** The identity this target was shown as the caller (the bot's when `maskCaller`). */
  presentedCaller: IdentitySet;
  ringStartedAt?: number;
  endedAt?: number;
  /** For `bot` targets: the id of the call delivered to that application. */
  legCallId?: string;
}

export interface RedirectRequest {
  timeoutSeconds: number;
  maskCaller: boolean;
  maskCallee: boolean;
  disableForwarding: boolean;
  acceptedAt: number;
  ringDeadline: number;
}

export interface HistoryEntry {
  at: number;
  type: string;
  [detail: string]: unknown;
}

export interface Call {
  id: string;
  /** `incoming`: a call delivered to a bot. `botLeg`: the leg offered to a bot that is a redirect target. */
  kind: 'incoming' | 'botLeg';
  tenantId: string;
  applicationId: string;
  /** For `botLeg`: the redirected call this leg belongs to. */
  parentCallId?: string;
  /** For `botLeg`: the target id (application id) in the parent's legs. */
  parentTargetId?: string;
  state: CallState;
  /** Where this call's notifications go now (the bot's global URI, or a per-call one given later). */
  callbackUri: string;
  /** The caller, as this call's application sees it. */
  source: IdentitySet;
  /** The application or application instance the call came to. */
  callee: IdentitySet;
  myParticipantId: string;
  callChainId: string;
  createdAt: number;
  /** End of the 15 s window in which the bot must act (incoming calls only). */
  incomingDeadline?: number;
  redirect?: RedirectRequest;
  legs: Leg[];
  /** The identity the caller was shown once a target answered (the bot's when `maskCallee`). */
  presentedCallee?: IdentitySet;
  answeredBy?: { targetId: string; identity: IdentitySet };
  resultInfo?: ResultInfo;
  endedAt?: number;
  history: HistoryEntry[];
  /** Optimistic concurrency: bumped on every persisted change. */
  version: number;
}

export type TimerName = 'incomingWindow' | 'ringTimeout' | `target:${string}`;

export type CallEvent =
  | {
      type: 'redirect';
      targets: ResolvedTarget[];
      timeoutSeconds: number;
      maskCaller: boolean;
      maskCallee: boolean;
      disableForwarding: boolean;
      /** Bot identity presented when masking. */
      botIdentity: IdentitySet;
      callbackUri?: string;
    }
  | { type: 'reject'; reason: 'none' | 'busy' | 'forbidden'; callbackUri?: string }
  | { type: 'answer'; callbackUri?: string }
  | { type: 'delete' }
  | { type: 'callerHungUp' }
  | { type: 'targetAnswered'; targetId: string }
  | { type: 'targetDeclined'; targetId: string }
  | { type: 'targetBusy'; targetId: string }
  | { type: 'targetUnreachable'; targetId: string }
  /** A bot leg is ended from its redirected call (another target answered, timeout, caller gone). */
  | { type: 'legEnded'; resultInfo: ResultInfo }
  | { type: 'timerFired'; timer: TimerName };

export type Effect =
  | { type: 'notify'; changeType: ChangeType; call: Call }
  | { type: 'setTimer'; name: TimerName; at: number }
  | { type: 'cancelTimer'; name: TimerName }
  | { type: 'cancelAllTimers' }
  | { type: 'ring'; targetId: string }
  | { type: 'stopRinging'; targetId: string }
  /** A bot target starts ringing: deliver a leg call to that application. */
  | { type: 'offerLeg'; targetId: string }
  /** End a bot target's leg call. */
  | { type: 'endLeg'; legCallId: string; resultInfo: ResultInfo }
  /** A bot leg acted: tell the redirected call. */
  | { type: 'toParent'; parentCallId: string; event: CallEvent };

export interface Transition {
  call: Call;
  effects: Effect[];
}

export const TERMINAL_RING_STATES: ReadonlySet<RingState> = new Set(['answered', 'declined', 'busy', 'noAnswer', 'cancelled', 'unreachable', 'forwarded']);
