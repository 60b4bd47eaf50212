/**
 * The Graph calls routes (Part A): redirect, reject, answer, GET, DELETE, under /v1.0 and /beta, on
 * /communications/calls and the deprecated /app/calls alias. Every request carries a verified access token;
 * bodies are validated by schema, then by the rules a schema cannot say (one identity per target, E.164,
 * https callbackUri).
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

export const GRAPH_VERSIONS = ['/v1.0', '/beta'] as const;
export const CALLS_BASES = ['/communications/calls', '/app/calls'] as const;

export interface GraphRouteDeps {
  engine: CallEngine;
  /** Verifies the Authorization header; throws 401/403 typed errors. */
  authenticate: (authorization: string | undefined) => Promise<Caller>;
}

export function isE164(value: string): boolean {
  if (!/^\+[1-9]\d{1,14}$/.test(value)) return false;
  const parsed = parsePhoneNumberFromString(value);
  return parsed !== undefined && parsed.number === value && parsed.isPossible();
}

export function checkCallbackUri(value: string | null | undefined, field = 'callbackUri'): string | undefined {
  if (value === undefined || value === null) return undefined;
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw badRequest(`${field} is not an absolute URL: ${JSON.stringify(value.slice(0, 100))}.`);
  }
  if (url.protocol !== 'https:') throw badRequest(`${field} must be an https URL (got ${url.protocol.replace(':', '')}).`);
  return url.toString();
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
  await app.register(async (scope) => {
    scope.decorateRequest('caller', null);
    scope.addHook('onRequest', async (request) => {
      // onRequest: the token is checked before the body is read, so an unauthenticated caller learns nothing.
      (request as FastifyRequest & { caller: Caller }).caller = await deps.authenticate(request.headers.authorization);
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
          const callbackUri = checkCallbackUri(body.callbackUri);
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
          const callbackUri = checkCallbackUri(body.callbackUri);
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
          const callbackUri = checkCallbackUri(body.callbackUri);
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
