/**
 * http/ — the fastify server: Graph routes, simulator routes, identity routes (from identity/), request ids,
 * and the one error handler that turns any thrown error into a Graph-shaped JSON error.
 *
 * This file: request ids, and mapping fastify's own errors (validation, body parsing, limits) into the
 * typed errors of graph/errors.ts, then to Graph JSON.
 */
import { randomUUID } from 'node:crypto';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { SwitchboardError, badRequest, notFound, toGraphError } from '../graph/errors.js';

declare module 'fastify' {
  interface FastifyRequest {
    clientRequestId: string;
  }
}

interface AjvError {
  instancePath?: string;
  keyword?: string;
  message?: string;
  params?: Record<string, unknown>;
}

/** `/targets/0/identity` → `targets[0].identity`. */
function fieldName(instancePath: string, extra?: string): string {
  const parts = instancePath.split('/').filter(Boolean);
  if (extra) parts.push(extra);
  return parts.map((p, i) => (/^\d+$/.test(p) ? `[${p}]` : i === 0 ? p : `.${p}`)).join('') || 'body';
}

/** A validation failure as a message naming the field: "timeout must be >= 15 (got 14)". */
export function describeValidation(errors: AjvError[], body: unknown): string {
  const first = errors[0];
  if (!first) return 'The request body is invalid.';
  const path = first.instancePath ?? '';
  if (first.keyword === 'required') {
    return `The request body is invalid: ${fieldName(path, String(first.params?.missingProperty ?? ''))} is required.`;
  }
  if (path === '' && first.keyword === 'type') return 'The request body must be a JSON object.';
  const field = fieldName(path);
  const union = errors.find((e) => (e.keyword === 'anyOf' || e.keyword === 'oneOf') && e.instancePath === path);
  const value = valueAt(body, path);
  const got = value === undefined ? '' : ` (got ${JSON.stringify(value)?.slice(0, 80)})`;
  if (union || first.keyword === 'const' || first.keyword === 'enum') {
    const allowed = errors
      .filter((e) => e.instancePath === path && e.keyword === 'const')
      .map((e) => JSON.stringify(e.params?.allowedValue))
      .filter((v) => v !== 'null');
    return `The request body is invalid: ${field} has an invalid value${got}${allowed.length ? `; allowed: ${allowed.join(', ')}` : ''}.`;
  }
  return `The request body is invalid: ${field} ${first.message ?? 'is invalid'}${got}.`;
}

function valueAt(body: unknown, instancePath: string): unknown {
  let node: unknown = body;
  for (const part of instancePath.split('/').filter(Boolean)) {
    if (node === null || typeof node !== 'object') return undefined;
    node = (node as Record<string, unknown>)[part.replace(/~1/g, '/').replace(/~0/g, '~')];
  }
  return node;
}

/** fastify's own errors, as typed Switchboard errors. */
function fromFastify(error: FastifyError, request: FastifyRequest): SwitchboardError {
  if (error.validation) {
    return badRequest(describeValidation(error.validation as AjvError[], request.body));
  }
  switch (error.code) {
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return badRequest('The request body is empty: a JSON object is required.');
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return badRequest(`The request body is not valid JSON: ${error.message}`);
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new SwitchboardError('payloadTooLarge', 'The request body is too large.');
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
    case 'FST_ERR_CTP_INVALID_TYPE':
      return new SwitchboardError('unsupportedMediaType', 'Unsupported Content-Type: send application/json.');
    default:
      break;
  }
  if (error instanceof SyntaxError || error.statusCode === 400) return badRequest(`The request is malformed: ${error.message}`);
  if (error.statusCode === 413) return new SwitchboardError('payloadTooLarge', 'The request body is too large.');
  if (error.statusCode === 415) return new SwitchboardError('unsupportedMediaType', 'Unsupported Content-Type: send application/json.');
  return new SwitchboardError('internal', 'An internal error occurred.');
}

export function sendGraphError(reply: FastifyReply, error: unknown): FastifyReply {
  const request = reply.request;
  const typed = error instanceof SwitchboardError ? error : fromFastify(error as FastifyError, request);
  if (typed.kind === 'internal') request.log.error({ err: error }, 'internal error');
  const { status, body } = toGraphError(typed, { requestId: String(request.id), clientRequestId: request.clientRequestId }, new Date());
  if (typed.retryAfter !== undefined) void reply.header('retry-after', String(typed.retryAfter));
  return reply.code(status).type('application/json').send(body);
}

/** request-id / client-request-id on every response, a Graph error for every failure and unknown path. */
export function installGraphErrors(app: FastifyInstance): void {
  app.decorateRequest('clientRequestId', '');
  app.addHook('onRequest', async (request, reply) => {
    const given = request.headers['client-request-id'];
    request.clientRequestId = typeof given === 'string' && given.length > 0 && given.length <= 128 ? given : String(request.id);
    void reply.header('request-id', String(request.id));
    void reply.header('client-request-id', request.clientRequestId);
  });
  app.setErrorHandler((error, _request, reply) => sendGraphError(reply, error));
  app.setNotFoundHandler((request, reply) => sendGraphError(reply, notFound(`No resource at ${request.method} ${request.url.split('?')[0]}.`)));
}

export const newRequestId = (): string => randomUUID();
