/**
 * Logs: pino JSON lines (pretty, human-readable lines only when stdout is a terminal). Every line written
 * while serving a request carries that request's id (`reqId`), and every line about a call carries its
 * `callId`:
 * - request lines (`incoming request`, `request completed`, errors) get `callId` from the URL, through
 *   fastify's `childLoggerFactory` (the call id is known before any hook runs);
 * - at `debug`, lines written by the engine or the notification sender while a request is being served get
 *   the request's `reqId` (and its `callId`, when they name no other call) from an AsyncLocalStorage
 *   context, through pino's `mixin`.
 * Secrets never reach a line: identity/redaction.ts scrubs them (and query values) from every line.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import type { IncomingMessage } from 'node:http';
import { LogController, type FastifyInstance, type FastifyReply, type FastifyRequest, type FastifyServerOptions } from 'fastify';
import pino, { type Bindings, type DestinationStream, type Logger } from 'pino';

interface RequestContext {
  reqId: string;
  callId?: string;
}

const context = new AsyncLocalStorage<RequestContext>();

/** The call id a request URL names: Graph call routes, the simulator's and the dashboard's call routes. */
export function callIdFromUrl(url: string | undefined): string | undefined {
  if (!url) return undefined;
  const path = url.split('?')[0] ?? '';
  const match =
    /^\/(?:v1\.0|beta)\/(?:communications|app)\/calls\/([^/]+)/.exec(path) ??
    /^\/simulator\/calls\/([^/]+)/.exec(path) ??
    /^\/dashboard\/api\/calls\/([^/]+)/.exec(path);
  if (!match?.[1]) return undefined;
  try {
    const id = decodeURIComponent(match[1]);
    return id.length > 0 && id.length <= 128 ? id : undefined;
  } catch {
    return undefined;
  }
}

/** How long a JSON log line may wait in the buffer. */
const LOG_FLUSH_MS = 250;

export interface LoggerOptions {
  level?: string;
  /** Default: pretty when stdout is a TTY. */
  pretty?: boolean;
  /** Default: stdout. */
  destination?: DestinationStream;
}

/**
 * Switchboard's logger: JSON lines (jsonStdout), or pretty lines on a terminal. Secrets are kept out by
 * `secureLogger` (identity/redaction.ts), which startSwitchboard wraps around whatever logger it is given.
 */
export function createLogger(options: LoggerOptions = {}): Logger {
  const pretty = options.pretty ?? (options.destination === undefined && process.stdout.isTTY === true);
  const destination = options.destination ?? (pretty ? prettyStream(process.stdout, process.stdout.hasColors?.() ?? false) : jsonStdout());
  return pino({ level: options.level ?? 'info', mixin: requestContextMixin }, destination);
}

/**
 * stdout for JSON lines: written in the background (sonic-boom, asynchronous), 4 KB at a time, and at
 * least every LOG_FLUSH_MS; pino flushes what is left when the process exits. Writing each line as it came
 * cost ~3-5% of a redirect's CPU (a write and its callback per line).
 */
function jsonStdout(): DestinationStream {
  const stream = pino.destination({ dest: 1, sync: false, minLength: 4096 });
  setInterval(() => {
    try {
      stream.flush();
    } catch {
      // not ready yet (the file descriptor opens asynchronously) or closing: the next round flushes
    }
  }, LOG_FLUSH_MS).unref();
  return stream;
}

/** Adds the current request's id (and call id) to lines that do not carry them already. */
function requestContextMixin(object: object, _level: number, logger: Logger): object {
  const ctx = context.getStore();
  if (!ctx) return {};
  const fields = object as Record<string, unknown>;
  let bound: Bindings | undefined;
  const has = (key: string): boolean => {
    if (key in fields) return true;
    bound ??= logger.bindings();
    return key in bound;
  };
  // A line that names another call was caused by this request only indirectly (a delivery it kicked off):
  // leave it alone rather than attach a misleading request id.
  if (typeof fields.callId === 'string' && ctx.callId !== undefined && fields.callId !== ctx.callId) return {};
  const out: Record<string, string> = {};
  if (!has('reqId')) out.reqId = ctx.reqId;
  if (ctx.callId !== undefined && !has('callId')) out.callId = ctx.callId;
  return out;
}

/** fastify's `childLoggerFactory`: request lines carry `reqId` and, for a call's routes, `callId`. */
export const requestChildLogger: NonNullable<FastifyServerOptions['childLoggerFactory']> = (logger, bindings, options, raw) => {
  const callId = callIdFromUrl((raw as IncomingMessage).url);
  return logger.child(callId ? { ...bindings, callId } : bindings, options);
};

/**
 * fastify's request lines, one per request at `info`: `request completed` names the method, URL, status and
 * time (fastify's default writes `incoming request` and `request completed` at `info`: two lines per request,
 * each serialized and written, were ~8% of a redirect's CPU); `incoming request` is written at `debug`.
 */
export class RequestLogController extends LogController {
  override incomingRequest(request: FastifyRequest): void {
    if ((request.log as unknown as Logger).isLevelEnabled('debug')) request.log.debug({ req: request }, 'incoming request');
  }

  override requestCompleted(error: Error | null | undefined, request: FastifyRequest, reply: FastifyReply): void {
    const fields = { req: request, res: { statusCode: reply.statusCode }, responseTime: reply.elapsedTime };
    if (error) reply.log.error({ ...fields, err: error }, 'request errored');
    else reply.log.info(fields, 'request completed');
  }
}

/**
 * Runs each request in a context the mixin reads (install before the routes). Only when the logger writes
 * `debug` lines: at `info` the engine and the sender write no line during a request but warnings and errors,
 * which name their call; and an AsyncLocalStorage turns on Node's promise hooks for every promise of the
 * process (~3% of a redirect's CPU on Node 20).
 */
export function installRequestContext(app: FastifyInstance, logger: Logger): void {
  if (!logger.isLevelEnabled('debug')) return;
  app.addHook('onRequest', (request, _reply, done) => {
    const callId = callIdFromUrl(request.url);
    context.run({ reqId: String(request.id), ...(callId ? { callId } : {}) }, done);
  });
}

// ------------------------------------------------------------------------------------ pretty lines

const LEVELS: Record<number, [string, string]> = {
  10: ['TRACE', '\x1b[90m'],
  20: ['DEBUG', '\x1b[36m'],
  30: ['INFO ', '\x1b[32m'],
  40: ['WARN ', '\x1b[33m'],
  50: ['ERROR', '\x1b[31m'],
  60: ['FATAL', '\x1b[35m'],
};
const OMIT = new Set(['level', 'time', 'msg', 'pid', 'hostname', 'reqId', 'callId', 'req', 'res', 'responseTime', 'err']);

/** One JSON line as one readable line: `12:00:01.123 INFO  [req 1a2b3c4d call 5e6f7a8b] message key=value`. */
export function prettyLine(json: string, colors: boolean): string {
  let o: Record<string, unknown>;
  try {
    o = JSON.parse(json) as Record<string, unknown>;
  } catch {
    return json.endsWith('\n') ? json : `${json}\n`;
  }
  const paint = (code: string, text: string): string => (colors ? `${code}${text}\x1b[0m` : text);
  const time = typeof o.time === 'number' ? new Date(o.time).toISOString().slice(11, 23) : '';
  const [label, color] = LEVELS[Number(o.level)] ?? ['LOG  ', ''];
  const ids: string[] = [];
  if (typeof o.reqId === 'string') ids.push(`req ${o.reqId.slice(0, 8)}`);
  if (typeof o.callId === 'string') ids.push(`call ${o.callId.slice(0, 8)}`);
  const parts = [paint('\x1b[90m', time), paint(color, label)];
  if (ids.length) parts.push(paint('\x1b[90m', `[${ids.join(' ')}]`));
  parts.push(String(o.msg ?? ''));
  const req = o.req as { method?: string; url?: string } | undefined;
  if (req?.method) parts.push(`${req.method} ${req.url ?? ''}`);
  const res = o.res as { statusCode?: number } | undefined;
  if (res?.statusCode !== undefined) parts.push(`→ ${res.statusCode}${typeof o.responseTime === 'number' ? ` in ${o.responseTime.toFixed(1)} ms` : ''}`);
  for (const [key, value] of Object.entries(o)) {
    if (OMIT.has(key) || value === undefined) continue;
    parts.push(paint('\x1b[90m', `${key}=${typeof value === 'string' ? value : JSON.stringify(value)}`));
  }
  let line = parts.join(' ');
  const err = o.err as { type?: string; message?: string; stack?: string } | undefined;
  if (err) line += `\n  ${paint('\x1b[31m', err.stack ?? `${err.type ?? 'Error'}: ${err.message ?? ''}`)}`;
  return `${line}\n`;
}

/** A pino destination that writes pretty lines (for a terminal). */
export function prettyStream(out: NodeJS.WritableStream, colors: boolean): DestinationStream {
  return {
    write(chunk: string): void {
      for (const line of chunk.split('\n')) if (line.trim()) out.write(prettyLine(line, colors));
    },
  };
}
