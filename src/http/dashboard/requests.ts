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

function bounded(value: unknown): unknown {
  if (value === undefined || value === null) return undefined;
  try {
    const text = JSON.stringify(value);
    if (text === undefined) return undefined;
    return text.length <= BODY_LIMIT ? (JSON.parse(text) as unknown) : { '@switchboard.truncated': true, bytes: text.length, start: text.slice(0, 1024) };
  } catch {
    return undefined;
  }
}

export class GraphRequestLog {
  private readonly byCall = new Map<string, { entries: GraphRequestEntry[]; bytes: number }>();
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

  add(callId: string, entry: GraphRequestEntry): void {
    const size = (e: GraphRequestEntry): number => 256 + e.path.length + (e.body === undefined ? 0 : JSON.stringify(e.body).length) + (e.error === undefined ? 0 : JSON.stringify(e.error).length);
    const known = this.byCall.get(callId) ?? { entries: [], bytes: 0 };
    this.byCall.delete(callId); // re-inserted last: most recently used
    known.entries.push(entry);
    known.bytes += size(entry);
    this.bytes += size(entry);
    while (known.entries.length > this.perCall) {
      const dropped = known.entries.shift();
      if (dropped) {
        known.bytes -= size(dropped);
        this.bytes -= size(dropped);
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
    return [...(this.byCall.get(callId)?.entries ?? [])];
  }

  /** Hooks that record every Graph call route's request (install before the routes). */
  instrument(app: FastifyInstance): void {
    app.addHook('onRequest', async (request) => {
      if (GRAPH_ROUTE.test(request.routeOptions.url ?? '')) this.startedAt.set(request, this.clock.now());
    });
    app.addHook('onSend', async (request, reply, payload) => {
      if (reply.statusCode >= 400 && typeof payload === 'string' && GRAPH_ROUTE.test(request.routeOptions.url ?? '')) {
        this.errorBodies.set(request, payload.slice(0, BODY_LIMIT));
      }
      return payload;
    });
    app.addHook('onResponse', async (request, reply) => {
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
      const body = bounded(request.body);
      this.add(callId, {
        at: this.startedAt.get(request) ?? this.clock.now(),
        method: request.method,
        path: request.url.split('?')[0] ?? request.url,
        route,
        status: reply.statusCode,
        durationMs: Math.round(reply.elapsedTime * 100) / 100,
        requestId: String(request.id),
        ...(applicationId ? { applicationId } : {}),
        ...(body !== undefined ? { body } : {}),
        ...(error !== undefined ? { error } : {}),
      });
    });
  }
}
