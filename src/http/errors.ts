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
import { isIdentityPath, sendAadRequestError } from '../identity/routes.js';

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

/** Sets the request's client-request-id (echoed when it is a sane one) and the two id response headers. */
function stampIds(request: FastifyRequest, reply: FastifyReply): void {
  const given = request.headers['client-request-id'];
  // Echoed in a response header: printable ASCII only, so nothing can be smuggled into the response.
  request.clientRequestId = typeof given === 'string' && /^[\x20-\x7e]{1,128}$/.test(given) ? given : String(request.id);
  void reply.header('request-id', String(request.id));
  void reply.header('client-request-id', request.clientRequestId);
}

/**
 * Errors fastify raises before routing (a path that is not valid percent-encoding, a path segment longer
 * than the router takes): Graph-shaped like every other error, or Azure AD-shaped under the identity paths.
 * Pass as fastify's `frameworkErrors` option.
 */
export function sendFrameworkError(error: FastifyError, request: FastifyRequest, reply: FastifyReply): void {
  stampIds(request, reply);
  const path = request.url.split('?')[0] ?? '';
  const message =
    error.code === 'FST_ERR_MAX_PARAM_LENGTH'
      ? 'The request URL is invalid: a path segment is too long.'
      : 'The request URL is invalid: it is not a valid percent-encoded path.';
  if (isIdentityPath(path)) {
    void sendAadRequestError(request, reply, message);
    return;
  }
  void sendGraphError(reply, badRequest(message));
}

const CLIENT_ERRORS: Record<string, { status: number; code: string; message: string; label: string }> = {
  ERR_HTTP_REQUEST_TIMEOUT: { status: 408, code: 'RequestTimeout', message: 'The request was not received in time: the connection is closed.', label: 'timeout' },
  HPE_HEADER_OVERFLOW: { status: 431, code: 'RequestHeaderFieldsTooLarge', message: 'The request headers are larger than 16 KiB.', label: 'header_overflow' },
};

/**
 * Requests Node's HTTP parser refuses before fastify sees them (not HTTP, headers too large, too slow):
 * the same status fastify would send (400, 431, 408), with a Graph-shaped body, then the connection is
 * closed. Pass as fastify's `clientErrorHandler` (called with the fastify instance as `this`).
 */
export function sendClientError(this: { log: { trace: (o: object, m: string) => void } }, error: NodeJS.ErrnoException, socket: import('node:net').Socket): void {
  if (error.code === 'ECONNRESET' || socket.destroyed) return;
  const known = (error.code && CLIENT_ERRORS[error.code]) || { status: 400, code: 'BadRequest', message: 'The request is not valid HTTP/1.1.', label: 'error' };
  this.log.trace({ err: error }, `client ${known.label}`);
  if (socket.writable) {
    const requestId = newRequestId();
    const body = JSON.stringify({
      error: { code: known.code, message: known.message, innerError: { 'request-id': requestId, date: new Date().toISOString(), 'client-request-id': requestId } },
    });
    socket.write(
      `HTTP/1.1 ${known.status} ${STATUS_TEXT[known.status]}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n` +
        `request-id: ${requestId}\r\nclient-request-id: ${requestId}\r\nConnection: close\r\n\r\n${body}`,
    );
  }
  socket.destroy(error);
}
const STATUS_TEXT: Record<number, string> = { 400: 'Bad Request', 408: 'Request Timeout', 431: 'Request Header Fields Too Large' };

/** request-id / client-request-id on every response, a Graph error for every failure and unknown path. */
export function installGraphErrors(app: FastifyInstance): void {
  app.decorateRequest('clientRequestId', '');
  app.addHook('onRequest', (request, reply, done) => {
    stampIds(request, reply);
    done();
  });
  app.setErrorHandler((error, _request, reply) => sendGraphError(reply, error));
  app.setNotFoundHandler((request, reply) => sendGraphError(reply, notFound(`No resource at ${request.method} ${request.url.split('?')[0]}.`)));
}

export const newRequestId = (): string => randomUUID();
