/**
 * The Graph requests a bot made about each call, for the dashboard's timeline: method, path, status,
 * duration, the request body and (for failures) the error body. Kept in memory, keyed by the `:id` route
 * parameter: the last 50 per call, for the calls most recently asked about, within 20,000 calls and about
 * 32 MB (the oldest calls are forgotten first), so a busy server's memory stays bounded. In this process
 * only: requests served by another process sharing the store are not seen.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Clock } from '../../clock/clock.js';

export interface GraphRequestEntry {
  /** Switchboard's clock, epoch ms, when the request arrived. */
  at: number;
  method: string;
  path: string;
  route: string;
  status: number;
  durationMs: number;
  requestId: string;
  /** The application whose token was verified, when it was. */
  applicationId?: string;
  body?: unknown;
  /** The Graph error body, for failures. */
  error?: unknown;
}

const GRAPH_ROUTE = /^\/(?:v1\.0|beta)\/(?:communications|app)\/calls\/:id(?:\/|$)/;
const BODY_LIMIT = 8 * 1024;

/**
 * A body as the timeline keeps it, and its size: the parsed body itself (the request is done with it), or a
 * truncated excerpt when it is over BODY_LIMIT. Serialized once: this runs for every Graph request.
 */
function bounded(value: unknown): { body?: unknown; bytes: number } {
  if (value === undefined || value === null) return { bytes: 0 };
  try {
    const text = JSON.stringify(value);
    if (text === undefined) return { bytes: 0 };
    if (text.length <= BODY_LIMIT) return { body: value, bytes: text.length };
    const body = { '@switchboard.truncated': true, bytes: text.length, start: text.slice(0, 1024) };
    return { body, bytes: 1100 };
  } catch {
    return { bytes: 0 };
  }
}

export class GraphRequestLog {
  private readonly byCall = new Map<string, { entries: Array<{ entry: GraphRequestEntry; bytes: number }>; bytes: number }>();
  private bytes = 0;
  private readonly errorBodies = new WeakMap<FastifyRequest, string>();
  private readonly startedAt = new WeakMap<FastifyRequest, number>();

  constructor(
    private readonly clock: Clock,
    private readonly onRecorded: (callId: string) => void = () => undefined,
    private readonly perCall = 50,
    private readonly maxCalls = 20_000,
    private readonly maxBytes = 32 * 1024 * 1024,
  ) {}

  /** `bytes`: the entry's body and error as JSON, when the caller knows it (else measured here). */
  add(callId: string, entry: GraphRequestEntry, bytes?: number): void {
    const size =
      256 +
      entry.path.length +
      (bytes ?? (entry.body === undefined ? 0 : JSON.stringify(entry.body).length) + (entry.error === undefined ? 0 : JSON.stringify(entry.error).length));
    const known = this.byCall.get(callId) ?? { entries: [], bytes: 0 };
    this.byCall.delete(callId); // re-inserted last: most recently used
    known.entries.push({ entry, bytes: size });
    known.bytes += size;
    this.bytes += size;
    while (known.entries.length > this.perCall) {
      const dropped = known.entries.shift();
      if (dropped) {
        known.bytes -= dropped.bytes;
        this.bytes -= dropped.bytes;
      }
    }
    this.byCall.set(callId, known);
    while (this.byCall.size > this.maxCalls || (this.bytes > this.maxBytes && this.byCall.size > 1)) {
      const oldest = this.byCall.keys().next().value;
      if (oldest === undefined) break;
      this.bytes -= this.byCall.get(oldest)?.bytes ?? 0;
      this.byCall.delete(oldest);
    }
    this.onRecorded(callId);
  }

  of(callId: string): GraphRequestEntry[] {
    return (this.byCall.get(callId)?.entries ?? []).map((e) => e.entry);
  }

  /** Hooks that record every Graph call route's request (install before the routes). */
  instrument(app: FastifyInstance): void {
    // Callback-style hooks (no promise per hook per request): they run for every request.
    app.addHook('onRequest', (request, _reply, done) => {
      if (GRAPH_ROUTE.test(request.routeOptions.url ?? '')) this.startedAt.set(request, this.clock.now());
      done();
    });
    app.addHook('onSend', (request, reply, payload, done) => {
      if (reply.statusCode >= 400 && typeof payload === 'string' && GRAPH_ROUTE.test(request.routeOptions.url ?? '')) {
        this.errorBodies.set(request, payload.slice(0, BODY_LIMIT));
      }
      done(null, payload);
    });
    app.addHook('onResponse', (request, reply, done) => {
      this.record(request, reply.statusCode, reply.elapsedTime);
      done();
    });
  }

  private record(request: FastifyRequest, status: number, elapsedMs: number): void {
    const route = request.routeOptions.url ?? '';
    if (!GRAPH_ROUTE.test(route)) return;
    const callId = (request.params as { id?: unknown } | undefined)?.id;
    if (typeof callId !== 'string' || callId === '') return;
    const applicationId = (request as FastifyRequest & { caller?: { applicationId?: string } | null }).caller?.applicationId;
    const errorText = this.errorBodies.get(request);
    let error: unknown;
    if (errorText !== undefined) {
      try {
        error = JSON.parse(errorText) as unknown;
      } catch {
        error = errorText;
      }
    }
    const { body, bytes } = bounded(request.body);
    const entry: GraphRequestEntry = {
      at: this.startedAt.get(request) ?? this.clock.now(),
      method: request.method,
      path: request.url.split('?')[0] ?? request.url,
      route,
      status,
      durationMs: Math.round(elapsedMs * 100) / 100,
      requestId: String(request.id),
      ...(applicationId ? { applicationId } : {}),
      ...(body !== undefined ? { body } : {}),
      ...(error !== undefined ? { error } : {}),
    };
    this.add(callId, entry, bytes + (errorText?.length ?? 0));
  }
}
