/**
 * identity/redaction — log lines never carry secrets, tokens or `Authorization` headers (contract Part B),
 * whichever pino logger Switchboard is given: `secureLogger` wraps it in a child that
 * - replaces the value of every key that may hold a secret (headers, form fields, keys, the raw bytes Node
 *   attaches to a client error), at any depth of a logged object, and
 * - logs request URLs with every query value cut out except a few harmless ones (a client may put a
 *   secret or a token in a query string; the token endpoint's form body is never logged at all).
 */
import pino, { type Logger } from 'pino';

export const REDACT_CENSOR = '[redacted]';

/**
 * Keys whose values never reach a log line, wherever they sit in a logged object (compared lower-cased):
 * headers, form fields, tokens, keys, and the raw request bytes Node attaches to HTTP client errors
 * (e.g. headers too large). `key` is secret only under `admin` (the directory's admin key), `body` only
 * under `err` (an error may carry the body it failed on).
 */
const SECRET_KEYS = new Set([
  'authorization',
  'proxy-authorization',
  'cookie',
  'set-cookie',
  'client_secret',
  'clientsecret',
  'client_assertion',
  'access_token',
  'token',
  'adminkey',
  'privatekey',
  'privatejwk',
  'password',
  'rawpacket',
]);
const SECRET_UNDER: Record<string, string> = { admin: 'key', err: 'body' };
/** Serialized by their own serializers (never headers): not walked. */
const SERIALIZED_KEYS = new Set(['req', 'res']);
const MAX_DEPTH = 6;

function isSecretKey(key: string, parent: string | undefined): boolean {
  const lower = key.toLowerCase();
  return SECRET_KEYS.has(lower) || (parent !== undefined && SECRET_UNDER[parent] === lower);
}

function isPlain(value: object): boolean {
  if (Array.isArray(value)) return true;
  const proto = Object.getPrototypeOf(value) as unknown;
  return proto === Object.prototype || proto === null;
}

/**
 * `value` with every secret key's value replaced by the censor. Plain objects and arrays are walked (to
 * a depth of 6); nothing is copied unless something is censored, so a line without secrets costs a walk
 * of its own keys only (pino's path-based `redact` parsed every path on every line: ~6% of a redirect).
 */
export function scrubSecrets<T>(value: T, parent?: string, depth = 0): T {
  if (value === null || typeof value !== 'object' || depth > MAX_DEPTH || !isPlain(value)) return value;
  if (Array.isArray(value)) {
    let copy: unknown[] | undefined;
    for (let i = 0; i < value.length; i++) {
      const item: unknown = value[i];
      const scrubbed = scrubSecrets(item, parent, depth + 1);
      if (scrubbed !== item) (copy ??= value.slice())[i] = scrubbed;
    }
    return (copy ?? value) as T;
  }
  const record = value as Record<string, unknown>;
  let copy: Record<string, unknown> | undefined;
  for (const key in record) {
    if (!Object.prototype.hasOwnProperty.call(record, key)) continue;
    const item = record[key];
    if (item === undefined) continue;
    let scrubbed: unknown;
    if (isSecretKey(key, parent)) scrubbed = REDACT_CENSOR;
    else if (depth === 0 && SERIALIZED_KEYS.has(key)) continue;
    else scrubbed = scrubSecrets(item, key.toLowerCase(), depth + 1);
    if (scrubbed !== item) (copy ??= { ...record })[key] = scrubbed;
  }
  return (copy ?? value) as T;
}

/** Query parameters whose values are logged as they are; every other value is replaced. */
const SAFE_QUERY_NAMES = new Set(['api-version', 'client-request-id', 'limit', 'authorization_endpoint']);

/** A request URL as it may be logged: path kept, each query value cut out unless its name is known to be harmless. */
export function redactUrl(url: string | undefined): string | undefined {
  if (url === undefined) return undefined;
  const cut = url;
  const q = cut.indexOf('?');
  if (q < 0) return cut;
  const query = cut
    .slice(q + 1)
    .split('&')
    .map((pair) => {
      const eq = pair.indexOf('=');
      if (eq < 0) return pair.length > 64 ? REDACT_CENSOR : pair;
      let name = pair.slice(0, eq);
      try {
        name = decodeURIComponent(name);
      } catch {
        return REDACT_CENSOR;
      }
      return SAFE_QUERY_NAMES.has(name.toLowerCase()) ? pair : `${pair.slice(0, eq)}=${REDACT_CENSOR}`;
    })
    .join('&');
  return `${cut.slice(0, q)}?${query}`;
}

interface RawRequestLike {
  method?: string;
  url?: string;
  host?: string;
  hostname?: string;
  ip?: string;
  socket?: { remotePort?: number };
}

/** The `req` serializer: fastify's fields, URL redacted, never headers. */
export function serializeRequest(req: RawRequestLike): Record<string, unknown> {
  return {
    method: req.method,
    url: redactUrl(req.url),
    host: req.host ?? req.hostname,
    remoteAddress: req.ip,
    remotePort: req.socket?.remotePort,
  };
}

/** The `err` serializer: pino's, without the raw bytes or body an error may carry, secrets scrubbed. */
export function serializeError(err: unknown): unknown {
  if (!(err instanceof Error)) return scrubSecrets(err);
  const serialized = pino.stdSerializers.err(err) as unknown as Record<string, unknown>;
  delete serialized.rawPacket;
  delete serialized.body;
  return scrubSecrets(serialized, 'err');
}

/**
 * A child of `base` that keeps secrets out of its lines, whatever options `base` was created with: the
 * logged object is scrubbed (`formatters.log` runs before serializers), `req` and `err` have serializers
 * that never emit headers, raw bytes or bodies.
 */
export function secureLogger(base: Logger): Logger {
  return base.child(
    {},
    { formatters: { log: (object) => scrubSecrets(object) }, serializers: { req: serializeRequest, err: serializeError } },
  );
}
