/**
 * Helpers shared by the security suites (test/e2e/security-*.test.ts and fuzz.test.ts): a raw TLS client
 * for requests undici will not send (odd methods, broken encodings, slow senders), forged tokens, and the
 * shape checks for Graph and Azure AD errors.
 */
import assert from 'node:assert/strict';
import { createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import tls from 'node:tls';
import { SignJWT, base64url, type JWTPayload } from 'jose';
import type { SigningKeys } from '../../src/identity/keys.js';

export interface RawResponse {
  /** Undefined when the server closed the connection without answering. */
  status?: number;
  headers: Record<string, string>;
  body: string;
  /** The connection was closed by the server (or reset). */
  closed: boolean;
  /** ms from the first byte sent to the close (or to the timeout). */
  elapsedMs: number;
}

/** Opens a TLS connection to the server (trusting `ca`). */
export function tlsConnect(port: number, ca: string): Promise<tls.TLSSocket> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host: '127.0.0.1', port, ca }, () => resolve(socket));
    socket.once('error', reject);
  });
}

/** Parses one HTTP/1.1 response (content-length or chunked) out of the bytes received. */
export function parseResponse(raw: Buffer): { status?: number; headers: Record<string, string>; body: string } {
  const text = raw.toString('latin1');
  const end = text.indexOf('\r\n\r\n');
  if (end < 0) return { headers: {}, body: '' };
  const [statusLine, ...lines] = text.slice(0, end).split('\r\n');
  const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(statusLine ?? '')?.[1]);
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(':');
    if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  let bodyBytes = raw.subarray(Buffer.byteLength(text.slice(0, end + 4), 'latin1'));
  if (headers['transfer-encoding']?.includes('chunked')) {
    const parts: Buffer[] = [];
    let at = 0;
    for (;;) {
      const lineEnd = bodyBytes.indexOf('\r\n', at);
      if (lineEnd < 0) break;
      const size = parseInt(bodyBytes.subarray(at, lineEnd).toString('latin1'), 16);
      if (!Number.isFinite(size) || size === 0) break;
      parts.push(bodyBytes.subarray(lineEnd + 2, lineEnd + 2 + size));
      at = lineEnd + 2 + size + 2;
    }
    bodyBytes = Buffer.concat(parts);
  } else if (headers['content-length'] !== undefined) {
    bodyBytes = bodyBytes.subarray(0, Number(headers['content-length']));
  }
  return { ...(Number.isFinite(status) ? { status } : {}), headers, body: bodyBytes.toString('utf8') };
}

/**
 * Sends `request` (bytes as given, so anything goes) and reads until the server closes or answers a
 * complete response, or `timeoutMs` passes. `pace`: send it in pieces, waiting between them (slow client).
 */
export async function rawExchange(
  port: number,
  ca: string,
  request: string | Buffer | Array<string | Buffer>,
  options: { timeoutMs?: number; paceMs?: number } = {},
): Promise<RawResponse> {
  const socket = await tlsConnect(port, ca);
  const started = Date.now();
  const chunks: Buffer[] = [];
  let closed = false;
  const done = new Promise<void>((resolve) => {
    const finish = () => {
      closed = true;
      resolve();
    };
    socket.on('data', (c: Buffer) => {
      chunks.push(c);
      const parsed = parseResponse(Buffer.concat(chunks));
      // A complete response with a length is enough (the server may keep the connection open).
      const length = parsed.headers['content-length'];
      if (parsed.status !== undefined && length !== undefined) {
        const received = Buffer.concat(chunks);
        const headEnd = received.indexOf('\r\n\r\n');
        if (received.length - headEnd - 4 >= Number(length)) resolve();
      }
    });
    socket.on('close', finish);
    socket.on('error', finish);
    socket.on('end', finish);
  });
  const pieces = Array.isArray(request) ? request : [request];
  const timeout = new Promise<void>((resolve) => setTimeout(resolve, options.timeoutMs ?? 5000).unref());
  const writer = (async () => {
    for (const piece of pieces) {
      if (closed || socket.destroyed) return;
      socket.write(piece);
      if (options.paceMs) await new Promise((r) => setTimeout(r, options.paceMs));
    }
  })();
  await Promise.race([done, timeout]);
  // A complete response: give the server a moment to close the connection, if it is going to.
  if (!closed) await Promise.race([new Promise<void>((resolve) => socket.once('close', () => resolve())), new Promise<void>((resolve) => setTimeout(resolve, 300).unref())]);
  await Promise.race([writer, Promise.resolve()]);
  const elapsedMs = Date.now() - started;
  const wasClosed = closed || socket.destroyed;
  socket.destroy();
  return { ...parseResponse(Buffer.concat(chunks)), closed: wasClosed, elapsedMs };
}

// --- tokens ------------------------------------------------------------------------------------

export const nowSeconds = (): number => Math.floor(Date.now() / 1000);

let strangerKey: KeyObject | undefined;
/** An RSA key that is not the server's. */
export const stranger = (): KeyObject => (strangerKey ??= generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey);

/** A token signed with the server's current graph key, with the given claims over sane defaults. */
export async function forgeToken(keys: SigningKeys, tenant: string, appId: string, claims: JWTPayload = {}, header: Record<string, unknown> = {}): Promise<string> {
  const { kid, privateKey } = keys.current('graph');
  const now = nowSeconds();
  return new SignJWT({
    aud: 'https://graph.microsoft.com',
    iss: `https://sts.windows.net/${tenant}/`,
    tid: tenant,
    appid: appId,
    roles: ['Calls.Initiate.All'],
    iat: now,
    nbf: now,
    exp: now + 3599,
    ...claims,
  })
    .setProtectedHeader({ alg: 'RS256', typ: 'JWT', kid, ...header })
    .sign(privateKey);
}

/** An unsigned token (`alg: none`) with the server's kid. */
export function algNoneToken(keys: SigningKeys, tenant: string, appId: string): string {
  const now = nowSeconds();
  const head = base64url.encode(JSON.stringify({ alg: 'none', typ: 'JWT', kid: keys.current('graph').kid }));
  const body = base64url.encode(
    JSON.stringify({ aud: 'https://graph.microsoft.com', iss: `https://sts.windows.net/${tenant}/`, tid: tenant, appid: appId, roles: ['Calls.Initiate.All'], iat: now, nbf: now, exp: now + 3599 }),
  );
  return `${head}.${body}.`;
}

/** HS256 keyed with the server's public key in PEM (the algorithm-confusion attack). */
export async function hs256WithPublicKey(keys: SigningKeys, tenant: string, appId: string): Promise<string> {
  const publicPem = createPublicKey(keys.current('graph').privateKey).export({ type: 'spki', format: 'pem' }).toString();
  const now = nowSeconds();
  return new SignJWT({ tid: tenant, appid: appId, roles: ['Calls.Initiate.All'] })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT', kid: keys.current('graph').kid })
    .setAudience('https://graph.microsoft.com')
    .setIssuer(`https://sts.windows.net/${tenant}/`)
    .setIssuedAt(now)
    .setNotBefore(now)
    .setExpirationTime(now + 3599)
    .sign(new TextEncoder().encode(publicPem));
}

/** Flips one character in the middle of the signature. */
export function flipSignature(jwt: string): string {
  const [head, payload, sig] = jwt.split('.') as [string, string, string];
  const i = Math.floor(sig.length / 2);
  return `${head}.${payload}.${sig.slice(0, i)}${sig[i] === 'A' ? 'B' : 'A'}${sig.slice(i + 1)}`;
}

// --- error shapes ------------------------------------------------------------------------------

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Asserts a Graph error body (`{error: {code, message, innerError}}`); returns a failure text or undefined. */
export function graphErrorProblem(status: number, headers: Record<string, string | string[] | undefined>, text: string): string | undefined {
  const contentType = String(headers['content-type'] ?? '');
  if (!contentType.startsWith('application/json')) return `content-type ${contentType}`;
  let json: any; // eslint-disable-line @typescript-eslint/no-explicit-any
  try {
    json = JSON.parse(text);
  } catch {
    return 'body is not JSON';
  }
  if (!json || typeof json !== 'object' || Array.isArray(json)) return 'body is not an object';
  if (Object.keys(json).join() !== 'error') return `top-level keys ${Object.keys(json).join()}`;
  const e = json.error;
  if (typeof e?.code !== 'string' || e.code === '') return 'error.code';
  if (typeof e.message !== 'string' || e.message === '') return 'error.message';
  const inner = e.innerError;
  if (!inner || !UUID.test(String(inner['request-id']))) return 'innerError.request-id';
  if (typeof inner.date !== 'string' || Number.isNaN(Date.parse(inner.date))) return 'innerError.date';
  if (typeof inner['client-request-id'] !== 'string' || inner['client-request-id'] === '') return 'innerError.client-request-id';
  if (headers['request-id'] !== inner['request-id']) return 'request-id header';
  if (status === 429 && !/^(?:[1-9]|1[0-5])$/.test(String(headers['retry-after']))) return `Retry-After ${String(headers['retry-after'])}`;
  return undefined;
}

/** Asserts an Azure AD error body; returns a failure text or undefined. */
export function aadErrorProblem(headers: Record<string, string | string[] | undefined>, text: string): string | undefined {
  const contentType = String(headers['content-type'] ?? '');
  if (!contentType.startsWith('application/json')) return `content-type ${contentType}`;
  let json: any; // eslint-disable-line @typescript-eslint/no-explicit-any
  try {
    json = JSON.parse(text);
  } catch {
    return 'body is not JSON';
  }
  if (typeof json?.error !== 'string' || json.error === '') return 'error';
  if (typeof json.error_description !== 'string' || !/^AADSTS\d+: /.test(json.error_description)) return 'error_description';
  if (!Array.isArray(json.error_codes) || typeof json.error_codes[0] !== 'number') return 'error_codes';
  if (!UUID.test(String(json.trace_id))) return 'trace_id';
  if (typeof json.correlation_id !== 'string') return 'correlation_id';
  return undefined;
}

export function assertGraphError(res: { status: number; headers: Record<string, string | string[] | undefined>; text: string }, status: number, code?: string, message?: RegExp): void {
  const what = `${res.status} ${res.text.slice(0, 300)}`;
  assert.equal(res.status, status, what);
  const problem = graphErrorProblem(res.status, res.headers, res.text);
  assert.equal(problem, undefined, `${problem}: ${what}`);
  const body = JSON.parse(res.text) as { error: { code: string; message: string } };
  if (code !== undefined) assert.equal(body.error.code, code, what);
  if (message) assert.match(body.error.message, message, what);
}
