/**
 * The simulator API (Part B, fixed): place incoming calls, act as callers and targets, read a call's full
 * record, read and advance the virtual clock. Guarded by the admin key (constant-time comparison).
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { Type, type Static } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import type { CallEngine } from '../calls/engine.js';
import type { Call } from '../calls/model.js';
import { notFound, unauthenticated } from '../graph/errors.js';
import { participantInfo } from '../graph/types.js';
import type { OutboxRow, Store } from '../store/store.js';

const Id = Type.String({ minLength: 1, maxLength: 128 });

export const PlaceCallBodySchema = Type.Object({
  tenantId: Id,
  from: Type.Union([Type.Object({ userId: Id }), Type.Object({ phone: Type.String({ minLength: 2, maxLength: 16 }) })]),
  to: Type.Union([Type.Object({ applicationId: Id }), Type.Object({ applicationInstanceId: Id })]),
});
export type PlaceCallBody = Static<typeof PlaceCallBodySchema>;

export const AdvanceBodySchema = Type.Object({
  seconds: Type.Number({ exclusiveMinimum: 0, maximum: 366 * 86_400 }),
});

const iso = (ms: number | undefined): string | undefined => (ms === undefined ? undefined : new Date(ms).toISOString());

/** The simulator record of a call (Part B), times on Switchboard's clock. */
export function simulatorRecord(call: Call, notifications: OutboxRow[]): Record<string, unknown> {
  return {
    id: call.id,
    kind: call.kind,
    ...(call.parentCallId ? { parentCallId: call.parentCallId } : {}),
    tenantId: call.tenantId,
    applicationId: call.applicationId,
    state: call.state,
    ...(call.resultInfo ? { resultInfo: call.resultInfo } : {}),
    ...(call.answeredBy ? { answeredBy: participantInfo(call.answeredBy.identity) } : {}),
    createdAt: iso(call.createdAt),
    ...(call.incomingDeadline !== undefined ? { incomingDeadline: iso(call.incomingDeadline) } : {}),
    ...(call.endedAt !== undefined ? { endedAt: iso(call.endedAt) } : {}),
    callbackUri: call.callbackUri,
    ...(call.redirect
      ? {
          redirect: {
            timeout: call.redirect.timeoutSeconds,
            maskCaller: call.redirect.maskCaller,
            maskCallee: call.redirect.maskCallee,
            disableForwarding: call.redirect.disableForwarding,
            acceptedAt: iso(call.redirect.acceptedAt),
            ringDeadline: iso(call.redirect.ringDeadline),
          },
        }
      : {}),
    caller: { identity: call.source, ...(call.presentedCallee ? { presentedCallee: call.presentedCallee } : {}) },
    callee: { identity: call.callee },
    targets: call.legs.map((leg) => ({
      id: leg.id,
      identity: leg.identity,
      presentedCaller: leg.presentedCaller,
      ringState: leg.ringState,
      behaviour: leg.response.kind,
      ...(leg.forwardedTo ? { forwardedTo: leg.forwardedTo } : {}),
      ...(leg.forwardedFrom ? { forwardedFrom: leg.forwardedFrom } : {}),
      ...(leg.legCallId ? { legCallId: leg.legCallId } : {}),
      ...(leg.ringStartedAt !== undefined ? { ringStartedAt: iso(leg.ringStartedAt) } : {}),
      ...(leg.endedAt !== undefined ? { endedAt: iso(leg.endedAt) } : {}),
    })),
    history: call.history.map((h) => ({ ...h, at: iso(h.at) })),
    notifications: notifications.map((n) => ({
      id: n.id,
      changeType: n.changeType,
      state: n.state,
      url: n.url,
      attempts: n.attempts.map((a) => ({ at: iso(a.at), ...(a.status !== undefined ? { status: a.status } : {}), ...(a.error ? { error: a.error } : {}) })),
      delivered: n.delivered,
      dead: n.dead,
      ...(n.delivered || n.dead ? {} : { nextAttemptAt: iso(n.nextAttemptAt) }),
    })),
  };
}

function sameSecret(given: string, expected: string): boolean {
  const a = createHash('sha256').update(given).digest();
  const b = createHash('sha256').update(expected).digest();
  return timingSafeEqual(a, b);
}

export interface SimulatorRouteDeps {
  engine: CallEngine;
  store: Store;
  adminKey: string;
}

export async function registerSimulatorRoutes(app: FastifyInstance, deps: SimulatorRouteDeps): Promise<void> {
  const { engine, store } = deps;
  await app.register(
    async (scope) => {
      scope.addHook('onRequest', async (request) => {
        const header = request.headers.authorization ?? '';
        const match = /^Bearer (.+)$/.exec(header);
        if (!match?.[1] || !sameSecret(match[1], deps.adminKey)) {
          throw unauthenticated('The simulator API needs Authorization: Bearer <admin key>.');
        }
      });
      const callParams = { params: Type.Object({ id: Id }) };

      scope.post('/calls', { schema: { body: PlaceCallBodySchema } }, async (request, reply) => {
        const call = await engine.placeCall(request.body as PlaceCallBody);
        return reply.code(201).send({ id: call.id });
      });

      scope.get('/calls', { schema: { querystring: Type.Object({ limit: Type.Optional(Type.String({ pattern: '^[0-9]{1,5}$' })) }) } }, async (request) => {
        const { limit } = request.query as { limit?: string };
        const calls = await engine.listCalls(Math.min(Number(limit ?? 100), 10_000));
        return {
          value: calls.map((c) => ({
            id: c.id,
            kind: c.kind,
            tenantId: c.tenantId,
            applicationId: c.applicationId,
            state: c.state,
            createdAt: iso(c.createdAt),
            ...(c.resultInfo ? { resultInfo: c.resultInfo } : {}),
          })),
        };
      });

      scope.get('/calls/:id', { schema: callParams }, async (request) => {
        const { id } = request.params as { id: string };
        const call = await engine.record(id);
        if (!call) throw notFound(`No call ${id}.`);
        return simulatorRecord(call, await store.notificationsOf(id));
      });

      scope.post('/calls/:id/hangup', { schema: callParams }, async (request, reply) => {
        const { id } = request.params as { id: string };
        await engine.callerHangsUp(id);
        return reply.code(204).send();
      });

      for (const action of ['answer', 'decline', 'busy'] as const) {
        scope.post(
          `/calls/:id/targets/:targetId/${action}`,
          { schema: { params: Type.Object({ id: Id, targetId: Id }) } },
          async (request, reply) => {
            const { id, targetId } = request.params as { id: string; targetId: string };
            await engine.targetActs(id, targetId, action);
            return reply.code(204).send();
          },
        );
      }

      scope.get('/clock', async () => ({ now: new Date(engine.clock.now()).toISOString(), mode: engine.clock.mode }));

      scope.post('/clock/advance', { schema: { body: AdvanceBodySchema } }, async (request) => {
        const { seconds } = request.body as Static<typeof AdvanceBodySchema>;
        const { now, fired } = await engine.advance(seconds);
        return { now: new Date(now).toISOString(), mode: engine.clock.mode, timersFired: fired };
      });
    },
    { prefix: '/simulator' },
  );
}
