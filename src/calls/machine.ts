/**
 * The call state machine: a pure function (call, event, now) → (call, effects). No I/O, no clock, no
 * randomness: the engine (`engine.ts`) persists the new call and performs the effects.
 *
 * An incoming call (what the bot sees):
 *
 *                    redirect (202)                      a target answers       → terminated 200/7015
 *   incoming ──────────────────────────▶ redirecting ──  every target declined  → terminated 603/10059
 *     │  │                                   │           every target busy      → terminated 486/10060
 *     │  │ answer                            │           none reachable         → terminated 480/10037
 *     │  └──────────▶ established            │           ring timeout           → terminated 408/10058
 *     │                    │                 │
 *     │ reject             │ delete          │ delete             → terminating → terminated 200/5000
 *     │ 15 s window        │ caller hangs up │ caller hangs up    → terminated 200/5010
 *     │ delete / hang up   ▼                 ▼
 *     └──────────────▶ terminated ◀──────────┘
 *
 * A bot leg (the call offered to an application that is a redirect target) starts `incoming` with no 15 s
 * window of its own; its answer/reject is reported to the redirected call (`toParent`), and the redirected
 * call ends it (`legEnded`) when another target answers or the ring timeout fires.
 *
 * Graph operations on a call in the wrong state throw typed errors (409 on a live call, 404 once ended);
 * timer events that arrive late (the state moved on) are ignored.
 */
import { createHash } from 'node:crypto';
import { badRequest, callNotFound, conflict, type SwitchboardError } from '../graph/errors.js';
import { identityOf, identitySet, type IdentitySet, type ResultInfo } from '../graph/types.js';
import type { Call, CallEvent, Effect, HistoryEntry, Leg, ResolvedTarget, Transition } from './model.js';
import { RESULTS } from './results.js';
import { INCOMING_WINDOW_SECONDS } from './timeouts.js';

export interface IncomingCallInit {
  id: string;
  tenantId: string;
  applicationId: string;
  callbackUri: string;
  source: IdentitySet;
  callee: IdentitySet;
  myParticipantId: string;
  callChainId: string;
}

/** A caller places a call to a bot: `incoming`, the `created` notification, the 15 s window. */
export function createIncomingCall(init: IncomingCallInit, now: number): Transition {
  const incomingDeadline = now + INCOMING_WINDOW_SECONDS * 1000;
  const call: Call = {
    ...init,
    kind: 'incoming',
    state: 'incoming',
    createdAt: now,
    incomingDeadline,
    legs: [],
    history: [{ at: now, type: 'created', state: 'incoming' }],
    version: 0,
  };
  return {
    call,
    effects: [
      { type: 'notify', changeType: 'created', call },
      { type: 'setTimer', name: 'incomingWindow', at: incomingDeadline },
    ],
  };
}

/** The call offered to a bot that is a redirect target: it rings until the redirected call ends it. */
export function createBotLeg(parent: Call, leg: Leg, callbackUri: string, now: number): Transition {
  const call: Call = {
    id: leg.legCallId ?? deriveId(parent.id, leg.id),
    kind: 'botLeg',
    tenantId: parent.tenantId,
    applicationId: leg.response.kind === 'bot' ? leg.response.applicationId : leg.id,
    parentCallId: parent.id,
    parentTargetId: leg.id,
    state: 'incoming',
    callbackUri,
    source: leg.presentedCaller,
    callee: leg.identity,
    myParticipantId: deriveId(parent.id, `${leg.id}/participant`),
    callChainId: parent.callChainId,
    createdAt: now,
    legs: [],
    history: [{ at: now, type: 'created', state: 'incoming', parentCallId: parent.id }],
    version: 0,
  };
  return { call, effects: [{ type: 'notify', changeType: 'created', call }] };
}

/** A stable UUID-shaped id derived from others (pure: the same inputs give the same id). */
export function deriveId(...parts: string[]): string {
  const h = createHash('sha256').update(parts.join('\u0000')).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

/** The identity a PSTN answerer is reported with: Microsoft reports it `encrypted`, never the number. */
export function encryptedIdentity(tenantId: string, number: string): IdentitySet {
  const id = BigInt(`0x${createHash('sha256').update(`${tenantId}/${number}`).digest('hex')}`).toString(36).slice(0, 44);
  return identitySet('encrypted', { id });
}

class Draft {
  readonly call: Call;
  readonly effects: Effect[] = [];
  constructor(
    original: Call,
    readonly now: number,
  ) {
    this.call = { ...original, legs: original.legs.map((l) => ({ ...l })), history: [...original.history] };
  }
  log(type: string, detail: Omit<HistoryEntry, 'at' | 'type'> = {}): void {
    this.call.history.push({ at: this.now, type, ...detail });
  }
  setState(state: Call['state']): void {
    this.log('state', { from: this.call.state, to: state });
    this.call.state = state;
  }
  notify(changeType: 'created' | 'updated' | 'deleted'): void {
    const snapshot = { ...this.call, legs: this.call.legs.map((l) => ({ ...l })), history: [...this.call.history] };
    this.effects.push({ type: 'notify', changeType, call: snapshot });
  }
  leg(targetId: string): Leg | undefined {
    return this.call.legs.find((l) => l.id === targetId);
  }
  /** Ends the call. `viaTerminating`: the bot hung up, so it first sees `terminating` (Part A, DELETE). */
  terminate(resultInfo: ResultInfo, viaTerminating = false): void {
    if (viaTerminating) {
      this.setState('terminating');
      this.notify('updated');
    }
    this.call.resultInfo = resultInfo;
    this.call.endedAt = this.now;
    this.setState('terminated');
    this.effects.push({ type: 'cancelAllTimers' });
    this.notify('deleted');
  }
  /** A leg stops ringing (another answered, timeout, the call ended): tell the plane or the bot leg. */
  endLeg(leg: Leg, ringState: Leg['ringState'], legResult: ResultInfo): void {
    leg.ringState = ringState;
    leg.endedAt = this.now;
    this.log('target', { targetId: leg.id, ringState });
    this.effects.push({ type: 'cancelTimer', name: `target:${leg.id}` });
    if (leg.legCallId) this.effects.push({ type: 'endLeg', legCallId: leg.legCallId, resultInfo: legResult });
    else this.effects.push({ type: 'stopRinging', targetId: leg.id });
  }
  stopAllRinging(ringState: Leg['ringState'], legResult: ResultInfo): void {
    for (const leg of this.call.legs) if (leg.ringState === 'ringing') this.endLeg(leg, ringState, legResult);
  }
  done(): Transition {
    return { call: this.call, effects: this.effects };
  }
}

/** Who answered, for resultInfo.message: never a phone number (Microsoft reports PSTN answerers encrypted). */
const displayNameOf = (set: IdentitySet): string => {
  const one = identityOf(set);
  if (one?.kind === 'phone') return one.identity.displayName ?? 'a phone number';
  return one?.identity.displayName ?? one?.identity.id ?? 'the target';
};

/** Applies one event. Throws the typed Graph errors for operations invalid in the call's state. */
export function transition(call: Call, event: CallEvent, now: number): Transition {
  if (call.state === 'terminated') return onTerminated(call, event);
  const d = new Draft(call, now);
  if (call.kind === 'botLeg') onBotLeg(d, event);
  else if (call.state === 'incoming') onIncoming(d, event);
  else if (call.state === 'redirecting') onRedirecting(d, event);
  else onEstablished(d, event);
  return d.done();
}

function onTerminated(call: Call, event: CallEvent): Transition {
  switch (event.type) {
    case 'timerFired':
    case 'legEnded':
    case 'targetAnswered':
    case 'targetDeclined':
    case 'targetBusy':
    case 'targetUnreachable':
      return { call, effects: [] }; // late: the call has ended
    case 'callerHungUp':
      throw conflict(`Call ${call.id} has already ended.`);
    default:
      if (call.resultInfo?.subcode === 10057 && call.incomingDeadline !== undefined) throw windowExpiredError(call);
      throw callNotFound(`Call ${call.id} has ended${call.resultInfo ? ` (${call.resultInfo.message})` : ''}.`);
  }
}

function windowExpired(call: Call, now: number): boolean {
  return call.incomingDeadline !== undefined && now >= call.incomingDeadline;
}

/** The 404 for an operation after the 15 s window: Microsoft's code, a message that says what happened. */
export function windowExpiredError(call: Call): SwitchboardError {
  const at = new Date(call.incomingDeadline ?? call.createdAt).toISOString();
  return callNotFound(
    `Call ${call.id} is gone: its ${INCOMING_WINDOW_SECONDS}-second incoming window expired at ${at}; ` +
      `a bot must redirect, answer or reject an incoming call within ${INCOMING_WINDOW_SECONDS} seconds of the incoming notification.`,
  );
}

function assertWithinWindow(d: Draft): void {
  if (windowExpired(d.call, d.now)) throw windowExpiredError(d.call);
}

function onIncoming(d: Draft, event: CallEvent): void {
  switch (event.type) {
    case 'redirect':
      assertWithinWindow(d);
      return startRedirect(d, event);
    case 'answer':
      assertWithinWindow(d);
      if (event.callbackUri) d.call.callbackUri = event.callbackUri;
      d.log('answer');
      d.effects.push({ type: 'cancelTimer', name: 'incomingWindow' });
      d.setState('established');
      d.notify('updated');
      return;
    case 'reject':
      assertWithinWindow(d);
      if (event.callbackUri) d.call.callbackUri = event.callbackUri;
      d.log('reject', { reason: event.reason });
      return d.terminate(RESULTS.rejected(event.reason));
    case 'delete':
      assertWithinWindow(d);
      d.log('delete');
      return d.terminate(RESULTS.botHungUp(), true);
    case 'callerHungUp':
      d.log('callerHungUp');
      return d.terminate(RESULTS.callerHungUp());
    case 'timerFired':
      if (event.timer === 'incomingWindow' && windowExpired(d.call, d.now)) {
        d.log('incomingWindowExpired');
        d.terminate(RESULTS.incomingWindowExpired());
      }
      return;
    case 'legEnded':
      return;
    case 'targetAnswered':
    case 'targetDeclined':
    case 'targetBusy':
    case 'targetUnreachable':
      throw conflict(`Call ${d.call.id} is not being redirected: it has no ringing target.`);
  }
}

function startRedirect(d: Draft, event: Extract<CallEvent, { type: 'redirect' }>): void {
  const { call, now } = d;
  if (event.callbackUri) call.callbackUri = event.callbackUri;
  call.redirect = {
    timeoutSeconds: event.timeoutSeconds,
    maskCaller: event.maskCaller,
    maskCallee: event.maskCallee,
    disableForwarding: event.disableForwarding,
    acceptedAt: now,
    ringDeadline: now + event.timeoutSeconds * 1000,
  };
  const presentedCaller = event.maskCaller ? event.botIdentity : call.source;
  const seen = new Set<string>();
  call.legs = [];
  for (const target of event.targets) {
    if (seen.has(target.id)) continue; // the same target twice (or forwarded to one already ringing) rings once
    seen.add(target.id);
    call.legs.push(newLeg(call, target, presentedCaller, now));
  }
  d.log('redirect', {
    targets: call.legs.map((l) => l.id),
    timeoutSeconds: event.timeoutSeconds,
    maskCaller: event.maskCaller,
    maskCallee: event.maskCallee,
    disableForwarding: event.disableForwarding,
  });
  d.effects.push({ type: 'cancelTimer', name: 'incomingWindow' });
  d.setState('redirecting');
  d.notify('updated');
  d.effects.push({ type: 'setTimer', name: 'ringTimeout', at: call.redirect.ringDeadline });
  for (const leg of call.legs) {
    if (leg.forwardedTo) {
      d.log('target', { targetId: leg.id, ringState: 'forwarded', forwardedTo: leg.forwardedTo });
      continue;
    }
    const r = leg.response;
    if (r.kind === 'busy' || r.kind === 'unreachable') {
      leg.ringState = r.kind;
      leg.endedAt = now;
      d.log('target', { targetId: leg.id, ringState: r.kind });
      continue;
    }
    d.log('target', { targetId: leg.id, ringState: 'ringing' });
    if (r.kind === 'bot') d.effects.push({ type: 'offerLeg', targetId: leg.id });
    else d.effects.push({ type: 'ring', targetId: leg.id });
    if (r.kind === 'answerAfter' || r.kind === 'declineAfter') {
      d.effects.push({ type: 'setTimer', name: `target:${leg.id}`, at: now + r.seconds * 1000 });
    }
  }
  settle(d);
}

function newLeg(call: Call, target: ResolvedTarget, presentedCaller: IdentitySet, now: number): Leg {
  const leg: Leg = { ...target, ringState: target.forwardedTo ? 'forwarded' : 'ringing', presentedCaller };
  if (!target.forwardedTo) leg.ringStartedAt = now;
  if (target.response.kind === 'bot' && !target.forwardedTo) leg.legCallId = deriveId(call.id, target.id);
  return leg;
}

/** In `redirecting`, once no target rings: the outcome by Part A's table (first matching row wins). */
function settle(d: Draft): void {
  const legs = d.call.legs;
  if (legs.some((l) => l.ringState === 'ringing')) return;
  if (legs.some((l) => l.ringState === 'declined')) return d.terminate(RESULTS.allDeclined());
  if (legs.some((l) => l.ringState === 'busy')) return d.terminate(RESULTS.allBusy());
  return d.terminate(RESULTS.unreachable());
}

function onRedirecting(d: Draft, event: CallEvent): void {
  const call = d.call;
  switch (event.type) {
    case 'redirect':
    case 'answer':
    case 'reject':
      throw conflict(`Call ${call.id} is already being redirected (state redirecting); ${event.type} is only valid on an incoming call.`);
    case 'delete':
      d.log('delete');
      d.stopAllRinging('cancelled', RESULTS.botHungUp());
      return d.terminate(RESULTS.botHungUp(), true);
    case 'callerHungUp':
      d.log('callerHungUp');
      d.stopAllRinging('cancelled', RESULTS.callerHungUp());
      return d.terminate(RESULTS.callerHungUp());
    case 'targetAnswered':
      return targetAnswered(d, requireRinging(d, event.targetId));
    case 'targetDeclined':
    case 'targetBusy':
    case 'targetUnreachable': {
      const leg = requireRinging(d, event.targetId);
      const ringState = event.type === 'targetDeclined' ? 'declined' : event.type === 'targetBusy' ? 'busy' : 'unreachable';
      leg.ringState = ringState;
      leg.endedAt = d.now;
      d.log('target', { targetId: leg.id, ringState });
      d.effects.push({ type: 'cancelTimer', name: `target:${leg.id}` });
      return settle(d);
    }
    case 'timerFired': {
      if (event.timer === 'ringTimeout') {
        if (!call.redirect || d.now < call.redirect.ringDeadline) return;
        d.log('ringTimeout', { timeoutSeconds: call.redirect.timeoutSeconds });
        d.stopAllRinging('noAnswer', RESULTS.noAnswer(call.redirect.timeoutSeconds));
        return d.terminate(RESULTS.noAnswer(call.redirect.timeoutSeconds));
      }
      if (event.timer.startsWith('target:')) {
        const leg = d.leg(event.timer.slice('target:'.length));
        if (!leg || leg.ringState !== 'ringing') return;
        // Its due time is known (ringing started + the behaviour's seconds, as set in startRedirect): a
        // timer delivered early is ignored, as the window and ring timers are.
        const r = leg.response;
        if ((r.kind === 'answerAfter' || r.kind === 'declineAfter') && leg.ringStartedAt !== undefined && d.now < leg.ringStartedAt + r.seconds * 1000) return;
        if (leg.response.kind === 'answerAfter') return targetAnswered(d, leg);
        if (leg.response.kind === 'declineAfter') {
          leg.ringState = 'declined';
          leg.endedAt = d.now;
          d.log('target', { targetId: leg.id, ringState: 'declined' });
          return settle(d);
        }
      }
      return;
    }
    case 'legEnded':
      return;
  }
}

function requireRinging(d: Draft, targetId: string): Leg {
  const leg = d.leg(targetId);
  if (!leg) throw badRequest(`Target ${targetId} is not a target of call ${d.call.id}.`);
  if (leg.ringState !== 'ringing') throw conflict(`Target ${targetId} of call ${d.call.id} is not ringing (it is ${leg.ringState}).`);
  return leg;
}

/** First answer wins: the others stop ringing at once, the redirected call ends 200/7015. */
function targetAnswered(d: Draft, leg: Leg): void {
  const call = d.call;
  leg.ringState = 'answered';
  leg.endedAt = d.now;
  d.log('target', { targetId: leg.id, ringState: 'answered' });
  d.effects.push({ type: 'cancelTimer', name: `target:${leg.id}` });
  d.stopAllRinging('cancelled', RESULTS.answeredElsewhere());
  const identity = leg.kind === 'phone' ? encryptedIdentity(call.tenantId, leg.id) : leg.identity;
  call.answeredBy = { targetId: leg.id, identity };
  call.presentedCallee = call.redirect?.maskCallee ? call.callee : leg.identity;
  d.terminate(RESULTS.redirectAnswered(displayNameOf(leg.identity)));
}

function onEstablished(d: Draft, event: CallEvent): void {
  switch (event.type) {
    case 'delete':
      d.log('delete');
      return d.terminate(RESULTS.botHungUp(), true);
    case 'callerHungUp':
      d.log('callerHungUp');
      return d.terminate(RESULTS.callerHungUp());
    case 'timerFired':
    case 'legEnded':
      return;
    case 'redirect':
    case 'answer':
    case 'reject':
      throw conflict(`Call ${d.call.id} is ${d.call.state}; ${event.type} is only valid on an incoming call.`);
    default:
      throw conflict(`Call ${d.call.id} is ${d.call.state}: it has no ringing target.`);
  }
}

function onBotLeg(d: Draft, event: CallEvent): void {
  const call = d.call;
  const parent = (e: CallEvent): void => {
    if (call.parentCallId) d.effects.push({ type: 'toParent', parentCallId: call.parentCallId, event: e });
  };
  const targetId = call.parentTargetId ?? call.applicationId;
  if (event.type === 'legEnded') {
    // Also when already established: its answer crossed the redirected call ending it (another target won).
    d.log('legEnded', { code: event.resultInfo.code, subcode: event.resultInfo.subcode });
    return d.terminate(event.resultInfo);
  }
  if (call.state !== 'incoming') return onEstablished(d, event);
  switch (event.type) {
    case 'answer':
      if (event.callbackUri) call.callbackUri = event.callbackUri;
      d.log('answer');
      d.setState('established');
      d.notify('updated');
      return parent({ type: 'targetAnswered', targetId });
    case 'reject':
      if (event.callbackUri) call.callbackUri = event.callbackUri;
      d.log('reject', { reason: event.reason });
      d.terminate(RESULTS.rejected(event.reason));
      return parent(event.reason === 'busy' ? { type: 'targetBusy', targetId } : { type: 'targetDeclined', targetId });
    case 'delete':
      d.log('delete');
      d.terminate(RESULTS.botHungUp(), true);
      return parent({ type: 'targetDeclined', targetId });
    case 'callerHungUp':
      d.log('callerHungUp');
      return d.terminate(RESULTS.callerHungUp());
    case 'redirect':
      throw badRequest(
        `Call ${call.id} was offered to this application as a redirect target; Switchboard does not support redirecting it again.`,
      );
    case 'timerFired':
      return;
    default:
      throw conflict(`Call ${call.id} is ${call.state}: it has no ringing target.`);
  }
}
