/**
 * The Graph calls routes (Part A): redirect, reject, answer, GET, DELETE, under /v1.0 and /beta, on
 * /communications/calls and the deprecated /app/calls alias. Every request carries a verified access token;
 * bodies are validated by schema, then by the rules a schema cannot say (one identity per target, E.164,
 * the callback URL policy). Authenticated requests are counted against the throttling budget of their
 * (tenant, application) before anything else happens.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { parsePhoneNumberFromString } from 'libphonenumber-js';
import type { Caller, CallEngine } from '../calls/engine.js';
import { defaultRedirectTimeout } from '../calls/timeouts.js';
import { badRequest } from '../graph/errors.js';
import { renderCall } from '../graph/render.js';
import {
  AnswerBodySchema,
  CallIdParamsSchema,
  RedirectBodySchema,
  RejectBodySchema,
  type AnswerBody,
  type RedirectBody,
  type RejectBody,
} from '../graph/schemas.js';
import { IDENTITY_KINDS, identityOf, type InvitationParticipantInfo } from '../graph/types.js';
import { CallbackPolicy } from '../notifications/callback-policy.js';
import { Throttle } from './throttle.js';

export const GRAPH_VERSIONS = ['/v1.0', '/beta'] as const;
export const CALLS_BASES = ['/communications/calls', '/app/calls'] as const;

export interface GraphRouteDeps {
  engine: CallEngine;
  /** Verifies the Authorization header; throws 401/403 typed errors. */
  authenticate: (authorization: string | undefined) => Promise<Caller>;
  /** Where per-call callback URIs may point (default: dev mode, nothing allow-listed). */
  callbackPolicy?: CallbackPolicy;
  /** Requests per 15 s per application per tenant (default 50,000), or a throttle to share. */
  throttle?: Throttle | number;
}

const DEV_POLICY = new CallbackPolicy({ allowHosts: [], devMode: true });

export function isE164(value: string): boolean {
  if (!/^\+[1-9]\d{1,14}$/.test(value)) return false;
  const parsed = parsePhoneNumberFromString(value);
  return parsed !== undefined && parsed.number === value && parsed.isPossible();
}

/** A per-call callback URI, checked against the callback URL policy (400 naming the rule). */
export function checkCallbackUri(value: string | null | undefined, field = 'callbackUri', policy: CallbackPolicy = DEV_POLICY): string | undefined {
  if (value === undefined || value === null) return undefined;
  const refusal = policy.checkUrl(value, field);
  if (refusal) throw badRequest(refusal.message);
  return new URL(value).toString();
}

function checkTargets(targets: InvitationParticipantInfo[]): void {
  targets.forEach((target, i) => {
    const kinds = IDENTITY_KINDS.filter((k) => target.identity[k] !== undefined && target.identity[k] !== null);
    if (kinds.length !== 1) {
      throw badRequest(
        `targets[${i}].identity must name exactly one of ${IDENTITY_KINDS.join(', ')} (found ${kinds.length ? kinds.join(', ') : 'none'}).`,
      );
    }
    const one = identityOf(target.identity);
    if (one?.kind === 'phone' && !isE164(one.identity.id)) {
      throw badRequest(`targets[${i}].identity.phone.id must be a phone number in E.164 format, such as +14255550100 (got ${JSON.stringify(one.identity.id)}).`);
    }
  });
}

export async function registerGraphRoutes(app: FastifyInstance, deps: GraphRouteDeps): Promise<void> {
  const { engine } = deps;
  const policy = deps.callbackPolicy ?? DEV_POLICY;
  const throttle = deps.throttle instanceof Throttle ? deps.throttle : new Throttle(deps.throttle ?? 50_000);
  const checkUri = (value: string | null | undefined) => checkCallbackUri(value, 'callbackUri', policy);
  await app.register(async (scope) => {
    scope.decorateRequest('caller', null);
    scope.addHook('onRequest', async (request) => {
      // onRequest: the token is checked before the body is read, so an unauthenticated caller learns nothing.
      const caller = await deps.authenticate(request.headers.authorization);
      // Then the budget of that (tenant, application): a throttled request costs no body parsing either.
      throttle.check(`${caller.tenantId}/${caller.applicationId}`);
      (request as FastifyRequest & { caller: Caller }).caller = caller;
    });
    const callerOf = (request: FastifyRequest): Caller => (request as FastifyRequest & { caller: Caller }).caller;
    const params = { params: CallIdParamsSchema };

    for (const version of GRAPH_VERSIONS) {
      for (const base of CALLS_BASES) {
        const path = `${version}${base}/:id`;

        scope.post(`${path}/redirect`, { schema: { ...params, body: RedirectBodySchema } }, async (request, reply) => {
          const { id } = request.params as { id: string };
          const body = request.body as RedirectBody;
          const targets = body.targets as InvitationParticipantInfo[];
          checkTargets(targets);
          const callbackUri = checkUri(body.callbackUri);
          await engine.redirect(id, callerOf(request), {
            targets,
            timeoutSeconds: body.timeout ?? defaultRedirectTimeout(targets.length),
            maskCaller: body.maskCaller ?? false,
            maskCallee: body.maskCallee ?? false,
            disableForwarding: (body.routingPolicies ?? []).includes('disableForwarding'),
            ...(callbackUri ? { callbackUri } : {}),
          });
          return reply.code(202).send();
        });

        scope.post(`${path}/reject`, { schema: { ...params, body: RejectBodySchema } }, async (request, reply) => {
          const { id } = request.params as { id: string };
          const body = request.body as RejectBody;
          const callbackUri = checkUri(body.callbackUri);
          await engine.graphEvent(id, callerOf(request), {
            type: 'reject',
            reason: body.reason ?? 'none',
            ...(callbackUri ? { callbackUri } : {}),
          });
          return reply.code(202).send();
        });

        scope.post(`${path}/answer`, { schema: { ...params, body: AnswerBodySchema } }, async (request, reply) => {
          const { id } = request.params as { id: string };
          const body = (request.body ?? {}) as AnswerBody;
          const callbackUri = checkUri(body.callbackUri);
          await engine.graphEvent(id, callerOf(request), { type: 'answer', ...(callbackUri ? { callbackUri } : {}) });
          return reply.code(202).send();
        });

        scope.get(path, { schema: params }, async (request) => {
          const { id } = request.params as { id: string };
          return renderCall(await engine.getCall(id, callerOf(request)));
        });

        scope.delete(path, { schema: params }, async (request, reply) => {
          const { id } = request.params as { id: string };
          await engine.graphEvent(id, callerOf(request), { type: 'delete' });
          return reply.code(204).send();
        });
      }
    }
  });
}
