/**
 * The engine: runs the pure machine and performs its effects. Every change goes through one unit of work:
 * load the calls it touches, apply events (following effects that reach other calls: a bot leg answering
 * reaches its redirected call, the redirected call ends its bot legs), then write calls, timers and outbox
 * rows in one store transaction. Work is serialised in this process (one queue), so a call's events are
 * applied in order; the store's version check catches another process changing the same call.
 *
 * Timers live in the store. On the real clock one `setTimeout` waits for the earliest; on the virtual
 * clock nothing fires until the simulator advances time, and then every timer due fires in order.
 */
import { randomUUID } from 'node:crypto';
import { timeOrderedUuid } from './ids.js';
import type { Logger } from 'pino';
import type { Clock, VirtualClock } from '../clock/clock.js';
import type { DirectoryIndex } from '../directory/model.js';
import { badRequest, callNotFound, conflict, notFound, tenantMismatch } from '../graph/errors.js';
import { renderNotification } from '../graph/render.js';
import { identityOf, identitySet, type IdentitySet, type InvitationParticipantInfo } from '../graph/types.js';
import type { Deliverer } from '../notifications/delivery.js';
import type { TelephonyPlane } from '../planes/plane.js';
import { VersionConflict, type CallChange, type NewNotification, type Store, type TimerRow } from '../store/store.js';
import { createBotLeg, createIncomingCall, transition, windowExpiredError } from './machine.js';
import type { Call, CallEvent, Effect, TimerName } from './model.js';
import type { Observers } from './observer.js';

export interface EngineOptions {
  store: Store;
  clock: Clock;
  plane: TelephonyPlane;
  directory: () => DirectoryIndex;
  deliverer: Deliverer;
  logger: Logger;
  observers?: Observers;
  /**
   * Set when several processes share the store (PostgreSQL): due timers are claimed under a lease (real
   * clock) so each fires in one process, the virtual clock is re-read from the store before work, and the
   * store is polled so a dead process's timers are taken over once their lease expires.
   */
  shared?: { owner: string; leaseMs: number; pollMs: number };
}

/** Due timers fired together, in one unit of work. */
const TIMER_BATCH = 256;
/** At most this many units of work share one transaction (group commit). */
const GROUP_MAX = 64;

/** A unit of work waiting for its turn. */
interface Submitted {
  work: (uow: UnitOfWork) => Promise<unknown>;
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
}

/** Who is calling the Graph API: from the verified access token. */
export interface Caller {
  tenantId: string;
  applicationId: string;
}

export interface PlaceCallRequest {
  tenantId: string;
  from: { userId: string } | { phone: string };
  to: { applicationId: string } | { applicationInstanceId: string };
}

interface Pending {
  call: Call;
  expectedVersion: number;
  timers: Map<TimerName, number | null>;
  cancelAll: boolean;
  notifications: NewNotification[];
}

/** One transaction's worth of changes, across the calls an event reaches. */
class UnitOfWork {
  readonly pending = new Map<string, Pending>();
  private readonly followUps: Array<{ callId: string; event: CallEvent }> = [];

  constructor(
    private readonly store: Store,
    readonly now: number,
    private readonly logger: Logger,
    /** Calls changed by earlier units of the same group commit (not in the store yet): read from here. */
    private readonly group?: GroupCommit,
  ) {}

  async load(callId: string): Promise<Call | undefined> {
    const p = this.pending.get(callId);
    if (p) return p.call;
    const grouped = this.group?.pending.get(callId);
    if (grouped) {
      this.pending.set(callId, { call: grouped.call, expectedVersion: grouped.expectedVersion, timers: new Map(), cancelAll: false, notifications: [] });
      return grouped.call;
    }
    const call = await this.store.getCall(callId);
    if (call) this.pending.set(callId, { call, expectedVersion: call.version, timers: new Map(), cancelAll: false, notifications: [] });
    return call;
  }

  /** Records a new call and performs its creation effects. */
  create(call: Call, effects: Effect[]): void {
    this.pending.set(call.id, { call, expectedVersion: -1, timers: new Map(), cancelAll: false, notifications: [] });
    this.perform(call, effects);
  }

  /** Applies an event to a call (already loaded) and everything that follows from it. */
  async apply(callId: string, event: CallEvent): Promise<Call> {
    const p = this.pending.get(callId);
    if (!p) throw new Error(`call ${callId} not loaded`);
    const { call, effects } = transition(p.call, event, this.now);
    p.call = call;
    this.perform(call, effects);
    while (this.followUps.length) {
      const next = this.followUps.shift();
      if (!next) break;
      const target = await this.load(next.callId);
      if (!target) continue;
      try {
        const t = transition(target, next.event, this.now);
        const tp = this.pending.get(next.callId);
        if (tp) tp.call = t.call;
        this.perform(t.call, t.effects);
      } catch (error) {
        // A follow-up that no longer applies (the other call moved on) is not the caller's error.
        this.logger.debug({ callId: next.callId, event: next.event.type, err: error }, 'follow-up event ignored');
      }
    }
    return this.pending.get(callId)?.call ?? call;
  }

  private perform(call: Call, effects: Effect[]): void {
    const p = this.pending.get(call.id);
    if (!p) return;
    for (const effect of effects) {
      switch (effect.type) {
        case 'notify': {
          // Time-ordered (UUIDv7), as call ids: see ids.ts.
          const id = timeOrderedUuid();
          p.notifications.push({
            id,
            callId: call.id,
            changeType: effect.changeType,
            state: effect.call.state,
            url: effect.call.callbackUri,
            audience: effect.call.applicationId,
            body: JSON.stringify(renderNotification(effect.call, effect.changeType, id)),
            createdAt: this.now,
            nextAttemptAt: this.now,
          });
          break;
        }
        case 'setTimer':
          p.timers.set(effect.name, effect.at);
          break;
        case 'cancelTimer':
          p.timers.set(effect.name, null);
          break;
        case 'cancelAllTimers':
          p.timers.clear();
          p.cancelAll = true;
          break;
        case 'offerLeg': {
          const leg = call.legs.find((l) => l.id === effect.targetId);
          if (!leg || leg.response.kind !== 'bot') break;
          const created = createBotLeg(call, leg, leg.response.callbackUri, this.now);
          this.create(created.call, created.effects);
          break;
        }
        case 'endLeg':
          this.followUps.push({ callId: effect.legCallId, event: { type: 'legEnded', resultInfo: effect.resultInfo } });
          break;
        case 'toParent':
          this.followUps.push({ callId: effect.parentCallId, event: effect.event });
          break;
        case 'ring':
        case 'stopRinging':
          // The simulated plane needs no signal (its responses are timers); a SIP plane will act here.
          break;
      }
    }
  }

  changes(): CallChange[] {
    return changesOf(this.pending);
  }

  earliestTimer(): number | undefined {
    return earliestOf(this.pending);
  }
}

function changesOf(pending: Map<string, Pending>): CallChange[] {
  return [...pending.values()].map((p) => {
        const setTimers: CallChange['setTimers'] = [];
        const cancelTimers: TimerName[] = [];
        for (const [name, at] of p.timers) {
          if (at === null) cancelTimers.push(name);
          else setTimers.push({ name, at });
        }
        return {
          call: { ...p.call, version: p.expectedVersion + 1 },
          expectedVersion: p.expectedVersion,
          setTimers,
          cancelTimers,
          cancelAllTimers: p.cancelAll,
          notifications: p.notifications,
        };
      });
}

function earliestOf(pending: Map<string, Pending>): number | undefined {
  let min: number | undefined;
  for (const p of pending.values()) for (const at of p.timers.values()) if (at !== null && (min === undefined || at < min)) min = at;
  return min;
}

/**
 * Several units of work written in ONE transaction (group commit). Units run one after another, in order;
 * each sees the calls the earlier ones changed (their state is kept here, not read back from the store),
 * and its changes are folded into the group's per call: the latest call, the timer changes in order, the
 * notifications in order. Nothing is written until the group commits; no caller is answered before.
 */
class GroupCommit {
  readonly pending = new Map<string, Pending>();

  /** Folds one unit's changes in; a call created twice in one group is that unit's conflict. */
  add(uow: UnitOfWork): void {
    for (const [callId, p] of uow.pending) if (p.expectedVersion < 0 && this.pending.has(callId)) throw new VersionConflict(callId);
    for (const [callId, p] of uow.pending) {
      const g = this.pending.get(callId);
      if (!g) {
        this.pending.set(callId, { call: p.call, expectedVersion: p.expectedVersion, timers: new Map(p.timers), cancelAll: p.cancelAll, notifications: [...p.notifications] });
        continue;
      }
      g.call = p.call;
      if (p.cancelAll) {
        // Every timer set so far goes; the timers this unit set after cancelling stay.
        g.cancelAll = true;
        g.timers = new Map(p.timers);
      } else {
        for (const [name, at] of p.timers) g.timers.set(name, at);
      }
      g.notifications.push(...p.notifications);
    }
  }

  changes(): CallChange[] {
    return changesOf(this.pending);
  }

  earliestTimer(): number | undefined {
    return earliestOf(this.pending);
  }
}

export class CallEngine {
  /** Settles once every unit submitted so far has (for stop()). */
  private queue: Promise<unknown> = Promise.resolve();
  private readonly submitted: Submitted[] = [];
  private draining = false;
  private timer: NodeJS.Timeout | undefined;
  private armedFor: number | undefined;
  private stopped = false;
  private firing = false;
  private poller: NodeJS.Timeout | undefined;
  private advancing: Promise<unknown> = Promise.resolve();

  constructor(private readonly o: EngineOptions) {}

  get clock(): Clock {
    return this.o.clock;
  }

  /** At start: fire timers that came due while stopped, send what the outbox holds, arm the next timer. */
  async start(): Promise<void> {
    await this.syncClock();
    await this.fireDueTimers();
    this.o.deliverer.kick();
    const shared = this.o.shared;
    if (shared) {
      this.poller = setInterval(() => {
        void this.syncClock()
          .then(() => this.fireDueTimers())
          .then(() => this.o.deliverer.kick())
          .catch((error: unknown) => this.o.logger.error({ err: error }, 'shared-store poll failed'));
      }, shared.pollMs);
      this.poller.unref();
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    if (this.poller) clearInterval(this.poller);
    await this.queue.catch(() => undefined);
  }

  /** Shared store + virtual clock: another process may have advanced it. */
  private async syncClock(): Promise<void> {
    if (!this.o.shared || this.o.clock.mode !== 'virtual') return;
    const stored = await this.o.store.clockNow();
    if (stored !== undefined) (this.o.clock as VirtualClock).set(stored);
  }

  /**
   * Serialises work in this process. Work submitted while the engine is busy, or within one turn of the
   * event loop (requests read together), runs as one group: its units one after another, then ONE
   * transaction for all (group commit), then every caller is answered. A group whose commit fails is run
   * again one unit at a time, each committed alone (and retried on a version conflict with another process).
   */
  private run<T>(work: (uow: UnitOfWork) => Promise<T>): Promise<T> {
    const result = new Promise<T>((resolve, reject) => {
      this.submitted.push({ work, resolve: resolve as (value: unknown) => void, reject });
    });
    if (!this.draining) {
      this.draining = true;
      setImmediate(() => void this.drain());
    }
    const settled = result.then(
      () => undefined,
      () => undefined,
    );
    this.queue = this.queue.then(() => settled);
    return result;
  }

  private async drain(): Promise<void> {
    try {
      while (this.submitted.length > 0) {
        const group = this.submitted.splice(0, GROUP_MAX);
        await this.runGroup(group);
      }
    } finally {
      this.draining = false;
    }
  }

  private async runGroup(items: Submitted[]): Promise<void> {
    if (items.length === 1) return this.runAlone(items[0]!);
    try {
      await this.syncClock();
    } catch (error) {
      for (const item of items) item.reject(error);
      return;
    }
    const now = this.o.clock.now();
    const group = new GroupCommit();
    const done: Array<{ item: Submitted; value: unknown }> = [];
    for (const item of items) {
      const uow = new UnitOfWork(this.o.store, now, this.o.logger, group);
      try {
        const value = await item.work(uow);
        group.add(uow);
        done.push({ item, value });
      } catch (error) {
        item.reject(error); // its changes never reached the group
      }
    }
    if (done.length === 0) return;
    const changes = group.changes();
    try {
      await this.o.store.commit(changes);
    } catch (error) {
      this.o.logger.debug({ err: error, units: done.length }, 'group commit failed; committing its units one by one');
      for (const { item } of done) await this.runAlone(item);
      return;
    }
    this.afterCommit(group, changes);
    for (const { item, value } of done) item.resolve(value);
  }

  /** One unit, committed alone; retried (up to 3 times) on a version conflict with another process. */
  private async runAlone(item: Submitted): Promise<void> {
    try {
      await this.syncClock();
      for (let attempt = 0; ; attempt++) {
        const uow = new UnitOfWork(this.o.store, this.o.clock.now(), this.o.logger);
        const value = await item.work(uow);
        const changes = uow.changes();
        try {
          await this.o.store.commit(changes);
        } catch (error) {
          if (error instanceof VersionConflict && attempt < 3) continue;
          throw error;
        }
        this.afterCommit(uow, changes);
        item.resolve(value);
        return;
      }
    } catch (error) {
      item.reject(error);
    }
  }

  /** `changes`: what was committed (uow.changes(), computed once). */
  private afterCommit(uow: UnitOfWork | GroupCommit, changes: CallChange[]): void {
    this.o.observers?.callsChanged(changes.map((c) => c.call));
    let notified = false;
    for (const change of changes) {
      const n = change.notifications.length;
      if (!n) continue;
      notified = true;
      this.o.logger.debug({ callId: change.call.id, state: change.call.state, notifications: n }, 'call changed');
    }
    if (notified) this.o.deliverer.kick();
    const earliest = uow.earliestTimer();
    if (earliest === undefined) return;
    if (earliest <= this.o.clock.now()) {
      // Due already (a target that declines after 0 s): fire now, on either clock, after this unit of work.
      void this.fireDueTimers().catch((error: unknown) => this.o.logger.error({ err: error }, 'timer firing failed'));
    } else {
      this.arm(earliest);
    }
  }

  // ------------------------------------------------------------------ simulator: incoming calls

  async placeCall(request: PlaceCallRequest): Promise<Call> {
    const dir = this.o.directory();
    const tenant = dir.tenant(request.tenantId);
    if (!tenant) throw badRequest(`tenantId: no tenant ${request.tenantId} in the directory.`);
    let source: IdentitySet;
    if ('userId' in request.from) {
      const user = dir.user(request.from.userId);
      if (!user) throw badRequest(`from.userId: no user ${request.from.userId} in the directory.`);
      source = identitySet('user', { id: user.id, ...(user.displayName ? { displayName: user.displayName } : {}), tenantId: user.tenantId });
    } else {
      if (!/^\+[1-9]\d{1,14}$/.test(request.from.phone)) throw badRequest(`from.phone: ${request.from.phone} is not an E.164 number.`);
      const phone = dir.phone(request.from.phone);
      source = identitySet('phone', { id: request.from.phone, ...(phone?.displayName ? { displayName: phone.displayName } : {}) });
    }
    let callee: IdentitySet;
    let applicationId: string;
    if ('applicationId' in request.to) {
      const app = dir.application(request.to.applicationId);
      if (!app || app.tenantId !== tenant.id) throw badRequest(`to.applicationId: no application ${request.to.applicationId} in tenant ${tenant.id}.`);
      applicationId = app.id;
      callee = identitySet('application', { id: app.id, ...(app.displayName ? { displayName: app.displayName } : {}) });
    } else {
      const found = dir.instance(request.to.applicationInstanceId);
      if (!found || found.application.tenantId !== tenant.id) {
        throw badRequest(`to.applicationInstanceId: no application instance ${request.to.applicationInstanceId} in tenant ${tenant.id}.`);
      }
      applicationId = found.application.id;
      const { instance } = found;
      callee = identitySet('applicationInstance', {
        id: instance.id,
        ...(instance.displayName ? { displayName: instance.displayName } : {}),
        tenantId: tenant.id,
      });
    }
    const app = dir.application(applicationId);
    if (!app) throw badRequest(`no application ${applicationId}`);
    return this.run(async (uow) => {
      const created = createIncomingCall(
        {
          // Time-ordered (UUIDv7, still a GUID): see ids.ts.
          id: timeOrderedUuid(),
          tenantId: tenant.id,
          applicationId,
          callbackUri: app.callbackUri,
          source,
          callee,
          myParticipantId: randomUUID(),
          callChainId: randomUUID(),
        },
        uow.now,
      );
      uow.create(created.call, created.effects);
      return created.call;
    });
  }

  async callerHangsUp(callId: string): Promise<Call> {
    return this.run(async (uow) => {
      const call = await uow.load(callId);
      if (!call) throw notFound(`No call ${callId}.`);
      // After a redirect answered by a bot, the caller is connected to that bot's leg: hang that up.
      if (call.state === 'terminated' && call.answeredBy) {
        const leg = call.legs.find((l) => l.id === call.answeredBy?.targetId);
        if (leg?.legCallId) {
          const legCall = await uow.load(leg.legCallId);
          if (legCall && legCall.state !== 'terminated') return uow.apply(leg.legCallId, { type: 'callerHungUp' });
        }
      }
      return uow.apply(callId, { type: 'callerHungUp' });
    });
  }

  /** A ringing target acts (simulator). A bot target's leg acts as its bot would through the Graph API. */
  async targetActs(callId: string, targetId: string, action: 'answer' | 'decline' | 'busy'): Promise<Call> {
    return this.run(async (uow) => {
      const call = await uow.load(callId);
      if (!call) throw notFound(`No call ${callId}.`);
      if (call.state !== 'redirecting') throw conflict(`Call ${callId} is ${call.state}: it has no ringing target.`);
      const leg = call.legs.find((l) => l.id === targetId);
      if (!leg) throw notFound(`Call ${callId} has no target ${targetId}.`);
      if (leg.ringState !== 'ringing') throw conflict(`Target ${targetId} of call ${callId} is not ringing (it is ${leg.ringState}).`);
      if (leg.legCallId && (await uow.load(leg.legCallId))) {
        const event: CallEvent =
          action === 'answer' ? { type: 'answer' } : { type: 'reject', reason: action === 'busy' ? 'busy' : 'none' };
        await uow.apply(leg.legCallId, event);
        return (await uow.load(callId)) ?? call;
      }
      const event: CallEvent =
        action === 'answer' ? { type: 'targetAnswered', targetId } : action === 'busy' ? { type: 'targetBusy', targetId } : { type: 'targetDeclined', targetId };
      return uow.apply(callId, event);
    });
  }

  // ------------------------------------------------------------------ Graph operations

  /** The call as `caller` may see it: 404 unknown/ended/another application's, 403 another tenant's. */
  private visible(call: Call | undefined, callId: string, caller: Caller): Call {
    if (!call) throw callNotFound(`Call ${callId} was not found.`);
    if (call.tenantId !== caller.tenantId) throw tenantMismatch();
    if (call.applicationId !== caller.applicationId) throw callNotFound(`Call ${callId} was not found.`);
    if (call.state === 'terminated') {
      if (call.resultInfo?.subcode === 10057 && call.incomingDeadline !== undefined) throw windowExpiredError(call);
      throw callNotFound(`Call ${callId} has ended (${call.resultInfo?.message ?? 'terminated'}).`);
    }
    return call;
  }

  async getCall(callId: string, caller: Caller): Promise<Call> {
    return this.visible(await this.o.store.getCall(callId), callId, caller);
  }

  async graphEvent(callId: string, caller: Caller, event: CallEvent): Promise<Call> {
    return this.run(async (uow) => {
      this.visible(await uow.load(callId), callId, caller);
      return uow.apply(callId, event);
    });
  }

  async redirect(
    callId: string,
    caller: Caller,
    request: {
      targets: InvitationParticipantInfo[];
      timeoutSeconds: number;
      maskCaller: boolean;
      maskCallee: boolean;
      disableForwarding: boolean;
      callbackUri?: string;
    },
  ): Promise<Call> {
    const dir = this.o.directory();
    // A phone target needs an application instance with a phone number (Microsoft: "requires an application
    // instance with a PSTN number assigned").
    const phoneTargets = request.targets.filter((t) => identityOf(t.identity)?.kind === 'phone');
    if (phoneTargets.length) {
      const app = dir.application(caller.applicationId);
      if (!app?.instances.some((i) => i.phone)) {
        throw badRequest(
          `targets: redirecting to a phone number requires the application ${caller.applicationId} to have an application instance ` +
            `with a phone number in tenant ${caller.tenantId}; add one under the application's "instances" in the directory ` +
            '(id, displayName, phone in E.164).',
        );
      }
    }
    return this.run(async (uow) => {
      const call = this.visible(await uow.load(callId), callId, caller);
      const targets = this.o.plane.resolveTargets(
        { tenantId: call.tenantId, applicationId: call.applicationId, disableForwarding: request.disableForwarding },
        request.targets,
      );
      const event: CallEvent = {
        type: 'redirect',
        targets,
        timeoutSeconds: request.timeoutSeconds,
        maskCaller: request.maskCaller,
        maskCallee: request.maskCallee,
        disableForwarding: request.disableForwarding,
        botIdentity: call.callee,
        ...(request.callbackUri ? { callbackUri: request.callbackUri } : {}),
      };
      return uow.apply(callId, event);
    });
  }

  // ------------------------------------------------------------------ timers

  private arm(at: number): void {
    if (this.o.clock.mode !== 'real' || this.stopped) return;
    if (this.armedFor !== undefined && this.armedFor <= at && this.timer) return;
    if (this.timer) clearTimeout(this.timer);
    this.armedFor = at;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.armedFor = undefined;
      void this.fireDueTimers().catch((error: unknown) => this.o.logger.error({ err: error }, 'timer firing failed'));
    }, Math.min(Math.max(0, at - this.o.clock.now()), 2 ** 31 - 1));
  }

  /** Fires every timer due now, earliest first, then arms the next one (real clock). */
  async fireDueTimers(): Promise<number> {
    if (this.firing) return 0;
    this.firing = true;
    let fired = 0;
    const seen = new Set<string>();
    try {
      for (;;) {
        const { store, shared } = this.o;
        const due =
          shared && store.claimDueTimers
            ? await store.claimDueTimers(this.o.clock.now(), TIMER_BATCH, shared.owner, shared.leaseMs)
            : await store.dueTimers(this.o.clock.now(), TIMER_BATCH);
        if (due.length === 0) break;
        const batch: TimerRow[] = [];
        for (const timer of due) {
          const key = `${timer.callId}/${timer.name}/${timer.dueAt}`;
          if (seen.has(key)) {
            // It fired and failed to go away (its batch failed to commit): drop it rather than loop forever.
            this.o.logger.error({ callId: timer.callId, timer: timer.name }, 'timer could not be fired; dropped');
            await this.o.store.deleteTimer(timer.callId, timer.name);
            continue;
          }
          seen.add(key);
          batch.push(timer);
        }
        fired += batch.length;
        // The due timers fire in order in ONE unit of work, so one transaction (not one per timer) writes
        // their calls, timers and notifications: under load, ring timeouts keep their time.
        await this.run(async (uow) => {
          for (const timer of batch) {
            const call = await uow.load(timer.callId);
            if (!call) {
              await this.o.store.deleteTimer(timer.callId, timer.name);
              continue;
            }
            const p = uow.pending.get(timer.callId);
            p?.timers.set(timer.name, null); // the fired timer goes, unless the transition sets it again
            this.o.observers?.timerFired(timer.name, this.o.clock.mode === 'real' ? Math.max(0, uow.now - timer.dueAt) : 0);
            try {
              await uow.apply(timer.callId, { type: 'timerFired', timer: timer.name });
            } catch (error) {
              // Its transition failed (the call is left as it was): the timer is dropped, the others fire.
              this.o.logger.error({ err: error, callId: timer.callId, timer: timer.name }, 'timer failed; dropped');
            }
          }
        }).catch((error: unknown) => this.o.logger.error({ err: error, timers: batch.length }, 'timers failed'));
      }
    } finally {
      this.firing = false;
    }
    const next = await this.o.store.nextTimerDue();
    if (next !== undefined) this.arm(next);
    return fired;
  }

  /** Virtual clock only: moves time forward, firing each timer at its own instant, in order. */
  async advance(seconds: number): Promise<{ now: number; fired: number }> {
    const result = this.advancing.then(() => this.advanceNow(seconds));
    this.advancing = result.catch(() => undefined);
    return result;
  }

  private async advanceNow(seconds: number): Promise<{ now: number; fired: number }> {
    if (this.o.clock.mode !== 'virtual') throw badRequest('The clock is real: start Switchboard with --clock virtual to advance it.');
    await this.syncClock();
    const clock = this.o.clock as VirtualClock;
    const target = clock.now() + Math.round(seconds * 1000);
    let fired = 0;
    for (;;) {
      const next = await this.o.store.nextTimerDue();
      if (next === undefined || next > target) break;
      clock.set(next);
      await this.o.store.setClockNow(clock.now());
      const n = await this.fireDueTimers();
      fired += n;
      if (n === 0) break; // defensive: a due timer that did not fire would loop forever
    }
    clock.set(target);
    await this.o.store.setClockNow(clock.now());
    this.o.deliverer.kick();
    return { now: clock.now(), fired };
  }

  async listCalls(limit: number): Promise<Call[]> {
    return this.o.store.listCalls(limit);
  }

  async record(callId: string): Promise<Call | undefined> {
    return this.o.store.getCall(callId);
  }
}
