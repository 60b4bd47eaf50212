/**
 * http/limits — what a request may weigh (contract Part B "Configuration and operation details"):
 * - body size: `limits.bodyBytes` from the directory (fastify's `bodyLimit`) → 413;
 * - headers over 16 KiB → 431 (the HTTPS server's `maxHeaderSize`; status only);
 * - JSON nested deeper than 64, or holding a string (value or key) over 4 KiB → 400, by the JSON parser
 *   installed here at the root, which also keeps fastify's protections (`__proto__` and
 *   `constructor.prototype` keys refused, as secure-json-parse does) and refuses bytes that are not UTF-8;
 * - slow clients: headers not complete within 10 s, or a request not complete within 30 s → the
 *   connection is closed (`headersTimeout`, `requestTimeout`, checked every second); TLS handshakes not
 *   done within 10 s are dropped too;
 * - any other content type than JSON on the Graph and simulator routes → 415 (`text/plain` is not parsed).
 */
import { randomUUID } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { badRequest } from '../graph/errors.js';

export const MAX_HEADER_BYTES = 16 * 1024;
export const MAX_JSON_DEPTH = 64;
export const MAX_JSON_STRING_BYTES = 4 * 1024;
/** Path parameters longer than this are refused by the router (ids are at most 128 by schema). */
export const MAX_PARAM_LENGTH = 512;

/** Slow-client timeouts, in ms. Production uses the defaults; tests may shorten them. */
export interface ServerTimeouts {
  /** Headers must be complete within this (default 10 s). */
  headersTimeoutMs: number;
  /** The whole request must be received within this (default 30 s). */
  requestTimeoutMs: number;
  /** TLS handshake (default 10 s). */
  handshakeTimeoutMs: number;
}

export const DEFAULT_TIMEOUTS: ServerTimeouts = { headersTimeoutMs: 10_000, requestTimeoutMs: 30_000, handshakeTimeoutMs: 10_000 };

export function serverTimeouts(given: Partial<ServerTimeouts> = {}): ServerTimeouts {
  const t = { ...DEFAULT_TIMEOUTS, ...given };
  // Node refuses a headers timeout longer than the request timeout.
  if (t.headersTimeoutMs > t.requestTimeoutMs) t.headersTimeoutMs = t.requestTimeoutMs;
  return t;
}

/**
 * Options for `https.createServer` (fastify passes its `https` object through): header size, the headers
 * timeout, how often Node checks the timeouts (the default, 30 s, would let a slow client live 30 s past
 * its limit), and the TLS handshake timeout.
 */
export function httpsServerLimits(given: Partial<ServerTimeouts> = {}): {
  maxHeaderSize: number;
  headersTimeout: number;
  requestTimeout: number;
  connectionsCheckingInterval: number;
  handshakeTimeout: number;
} {
  const t = serverTimeouts(given);
  return {
    maxHeaderSize: MAX_HEADER_BYTES,
    headersTimeout: t.headersTimeoutMs,
    requestTimeout: t.requestTimeoutMs,
    connectionsCheckingInterval: Math.max(10, Math.min(1000, Math.floor(t.headersTimeoutMs / 4))),
    handshakeTimeout: t.handshakeTimeoutMs,
  };
}

/** Fastify's own options for the same limits (fastify sets `server.requestTimeout` itself, 0 by default). */
export function fastifyServerLimits(given: Partial<ServerTimeouts> = {}): { requestTimeout: number; routerOptions: { maxParamLength: number } } {
  return { requestTimeout: serverTimeouts(given).requestTimeoutMs, routerOptions: { maxParamLength: MAX_PARAM_LENGTH } };
}

/**
 * Node's headers timeout starts with the first byte of a request: a connection that completes the TLS
 * handshake and then sends nothing would stay open until the OS gives up. Such a connection is closed when
 * no request has started within the headers timeout; once a request arrives, Node's own timeouts (headers,
 * request, keep-alive) take over.
 */
function closeIdleConnections(app: FastifyInstance, headersTimeoutMs: number): void {
  const server = app.server as unknown as import('node:events').EventEmitter;
  server.on('secureConnection', (socket: import('node:tls').TLSSocket) => {
    socket.setTimeout(headersTimeoutMs);
    (socket as unknown as Record<symbol, boolean>)[IDLE_GUARD] = true;
  });
  server.on('request', (request: import('node:http').IncomingMessage) => {
    const socket = request.socket as unknown as Record<symbol, boolean> & import('node:net').Socket;
    if (socket[IDLE_GUARD]) {
      socket[IDLE_GUARD] = false;
      socket.setTimeout(0);
    }
  });
}
const IDLE_GUARD = Symbol('switchboard.idleGuard');

/**
 * CONNECT (a proxy tunnel request) is not served: 405 as a Graph error, then the connection is closed
 * (at the latest 5 s later, whatever the client does).
 */
function refuseConnect(app: FastifyInstance): void {
  (app.server as unknown as import('node:events').EventEmitter).on('connect', (_request: unknown, socket: import('node:net').Socket) => {
    const requestId = randomUUID();
    const body = JSON.stringify({
      error: { code: 'MethodNotAllowed', message: 'CONNECT is not supported.', innerError: { 'request-id': requestId, date: new Date().toISOString(), 'client-request-id': requestId } },
    });
    socket.on('error', () => undefined);
    // Node hands the socket over paused: anything the client sent after the request line would stay unread,
    // the client's close would never be seen, and the connection would stay open for good. Read and drop.
    socket.resume();
    setTimeout(() => socket.destroy(), 5000).unref();
    socket.end(
      `HTTP/1.1 405 Method Not Allowed\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nrequest-id: ${requestId}\r\nclient-request-id: ${requestId}\r\nConnection: close\r\n\r\n${body}`,
    );
  });
}

// --- JSON ----------------------------------------------------------------------------------

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false });

/** Scans raw JSON text for nesting depth before parsing (a 1 MiB `[[[[…` costs the parser a second). */
function depthExceeded(text: string, max: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) {
      inString = true;
    } else if (c === 0x5b || c === 0x7b) {
      if (++depth > max) return true;
    } else if (c === 0x5d || c === 0x7d) {
      depth--;
    }
  }
  return false;
}

function pathLabel(path: ReadonlyArray<string | number>): string {
  let out = '';
  for (const p of path) out += typeof p === 'number' ? `[${p}]` : out === '' ? p : `.${p}`;
  return out === '' ? 'body' : out;
}

function tooLong(s: string): boolean {
  // A UTF-8 character takes at most 3 bytes per UTF-16 unit: short strings need no byte count.
  return s.length * 3 > MAX_JSON_STRING_BYTES && Buffer.byteLength(s, 'utf8') > MAX_JSON_STRING_BYTES;
}

/** Walks a parsed value (depth already bounded): string sizes and prototype-poisoning keys. */
function inspect(value: unknown, path: Array<string | number>): void {
  if (typeof value === 'string') {
    if (tooLong(value)) {
      throw badRequest(`The request body is invalid: ${pathLabel(path)} is longer than ${MAX_JSON_STRING_BYTES} bytes (strings in a request are limited to 4 KiB).`);
    }
    return;
  }
  if (value === null || typeof value !== 'object') return;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      path.push(i);
      inspect(value[i], path);
      path.pop();
    }
    return;
  }
  for (const key of Object.keys(value)) {
    if (tooLong(key)) throw badRequest(`The request body is invalid: a property name under ${pathLabel(path)} is longer than ${MAX_JSON_STRING_BYTES} bytes.`);
    if (key === '__proto__') throw badRequest(`The request body is invalid: the property name "__proto__" is not allowed (under ${pathLabel(path)}).`);
    const child = (value as Record<string, unknown>)[key];
    if (key === 'constructor' && child !== null && typeof child === 'object' && Object.prototype.hasOwnProperty.call(child, 'prototype')) {
      throw badRequest(`The request body is invalid: "constructor.prototype" is not allowed (under ${pathLabel(path)}).`);
    }
    path.push(key);
    inspect(child, path);
    path.pop();
  }
}

/** Parses a JSON request body within Switchboard's limits; throws 400 Graph errors. */
export function parseJsonBody(raw: Buffer | string, method = 'POST'): unknown {
  let text: string;
  if (typeof raw === 'string') {
    text = raw;
  } else {
    try {
      text = utf8.decode(raw);
    } catch {
      throw badRequest('The request body is not valid JSON: it is not UTF-8 text.');
    }
  }
  if (text.trim() === '') {
    // A DELETE with a JSON content type and nothing in it is harmless: no body.
    if (method === 'DELETE') return undefined;
    throw badRequest('The request body is empty: a JSON object is required.');
  }
  if (depthExceeded(text, MAX_JSON_DEPTH)) {
    throw badRequest(`The request body is invalid: JSON nested deeper than ${MAX_JSON_DEPTH} levels is not accepted.`);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    // V8's message quotes the input: keep only its first clause, without the quoted text.
    const reason = (error as Error).message.replace(/,?\s*".*$/s, '').slice(0, 160);
    throw badRequest(`The request body is not valid JSON: ${reason}.`);
  }
  inspect(value, []);
  return value;
}

/**
 * Installs the request limits that are not server options: closes connections that never start a request,
 * and replaces fastify's JSON and text parsers at the root (before any route is registered): JSON goes
 * through `parseJsonBody`; `text/plain` is no longer accepted (415), so a body is JSON or nothing. Scopes
 * that take forms (the token endpoint) add their own parser.
 */
export function installRequestLimits(app: FastifyInstance, timeouts: Partial<ServerTimeouts> = {}): void {
  closeIdleConnections(app, serverTimeouts(timeouts).headersTimeoutMs);
  refuseConnect(app);
  app.removeContentTypeParser(['application/json', 'text/plain']);
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (request: FastifyRequest, body: Buffer | string, done) => {
    try {
      done(null, parseJsonBody(body, request.method));
    } catch (error) {
      done(error as Error, undefined);
    }
  });
}
