/**
 * identity/redaction — log lines never carry secrets, tokens or `Authorization` headers (contract Part B),
 * whichever pino logger Switchboard is given: `secureLogger` wraps it in a child that
 * - redacts the paths where a secret could sit (headers, form fields, keys, the raw bytes Node attaches to
 *   a client error), and
 * - logs request URLs with every query value cut out except a few harmless ones (a client may put a
 *   secret or a token in a query string; the token endpoint's form body is never logged at all).
 */
import type { Logger } from 'pino';

export const REDACT_CENSOR = '[redacted]';

export const SECRET_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["proxy-authorization"]',
  'res.headers["set-cookie"]',
  'headers.authorization',
  'headers.cookie',
  '*.headers.authorization',
  'authorization',
  '*.authorization',
  'client_secret',
  '*.client_secret',
  'clientSecret',
  '*.clientSecret',
  'client_assertion',
  '*.client_assertion',
  'access_token',
  '*.access_token',
  'token',
  '*.token',
  'adminKey',
  '*.adminKey',
  'admin.key',
  '*.privateKey',
  'privateJwk',
  '*.privateJwk',
  'password',
  '*.password',
  // Node attaches the raw request bytes (headers included) to HTTP client errors (e.g. headers too large).
  'err.rawPacket',
  '*.rawPacket',
  'err.body',
];

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

/** A child of `base` that redacts secrets, whatever options `base` was created with. */
export function secureLogger(base: Logger): Logger {
  return base.child({}, { redact: { paths: [...new Set(SECRET_PATHS)], censor: REDACT_CENSOR }, serializers: { req: serializeRequest } });
}
