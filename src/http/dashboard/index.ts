/**
 * http/dashboard — the server side of the dashboard at `/dashboard`:
 * - static files (public: the page, its compiled modules from `dist/web`, its stylesheet from `web/`);
 * - the data API under `/dashboard/api` (admin key): session check, SSE tickets, the live feed
 *   (`GET /dashboard/api/events?ticket=…`, see auth.ts for why a ticket), a snapshot of calls and a call's
 *   timeline (its simulator record, each notification's body and attempts, each Graph request the bot made);
 * - simulator additions (admin key, off in operator mode): `GET /simulator/directory` (no secrets) and
 *   `GET /simulator/calls/:id/notifications/:notificationId` (one notification, with its body).
 * The simulator buttons of the page use the simulator API itself (contract Part B).
 */
import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import type { CallEngine } from '../../calls/engine.js';
import type { CallObserver } from '../../calls/observer.js';
import type { DirectoryIndex } from '../../directory/model.js';
import { notFound, unauthenticated } from '../../graph/errors.js';
import type { Store } from '../../store/store.js';
import { simulatorRecord } from '../simulator-routes.js';
import { requireAdminKey, Tickets } from './auth.js';
import { LiveFeed } from './live.js';
import { GraphRequestLog } from './requests.js';
import { registerStaticFiles } from './static.js';
import { summarize } from './summary.js';

export interface DashboardOptions {
  engine: CallEngine;
  store: Store;
  directory: () => DirectoryIndex;
  adminKey: string;
  /** Operator mode (false): no simulator additions, and the page hides its simulator buttons. */
  simulator: boolean;
  /** Calls in the first snapshot of the live feed. */
  snapshotLimit?: number;
}

const Id = Type.String({ minLength: 1, maxLength: 128 });
const SNAPSHOT_LIMIT = 10_000;

const adminJson = (description: string, schema: Record<string, unknown> = { type: 'object', additionalProperties: true }) => ({
  responses: {
    '200': { description, content: { 'application/json': { schema } } },
    '401': { description: 'The admin key is missing or wrong.', content: { 'application/json': { schema: { $ref: '#/components/schemas/GraphError' } } } },
  },
});

export class Dashboard {
  readonly requests: GraphRequestLog;
  readonly live: LiveFeed;
  private readonly tickets = new Tickets();

  constructor(private readonly o: DashboardOptions) {
    const limit = o.snapshotLimit ?? SNAPSHOT_LIMIT;
    this.live = new LiveFeed(o.engine.clock, async () => (await o.engine.listCalls(limit)).map(summarize));
    this.requests = new GraphRequestLog(o.engine.clock, (callId) => this.live.touch(callId));
  }

  /** For `observers.add`: the live feed's view of the engine. */
  get observer(): CallObserver {
    return this.live;
  }

  /** Hooks that must see every route: Graph request recording, clock moves (install before the routes). */
  instrument(app: FastifyInstance): void {
    this.requests.instrument(app);
    app.addHook('onResponse', (request, reply, done) => {
      if (request.method === 'POST' && request.routeOptions.url === '/simulator/clock/advance' && reply.statusCode === 200) this.live.clockChanged();
      done();
    });
    // Open event streams would keep the server from closing.
    app.addHook('preClose', (done) => {
      this.live.close();
      done();
    });
  }

  async register(app: FastifyInstance): Promise<void> {
    const { engine, store } = this.o;
    await registerStaticFiles(app);

    await app.register(
      async (scope) => {
        const guard = requireAdminKey(this.o.adminKey);

        scope.get(
          '/session',
          {
            onRequest: guard,
            schema: { summary: 'Check the admin key; what the page may show (simulator on or off) and Switchboard\'s clock', tags: ['Dashboard'] },
            config: {
              openapi: adminJson('The session.', {
                type: 'object',
                properties: { simulator: { type: 'boolean' }, now: { type: 'string', format: 'date-time' }, mode: { type: 'string', enum: ['real', 'virtual'] } },
              }),
            },
          },
          async () => ({ simulator: this.o.simulator, now: new Date(engine.clock.now()).toISOString(), mode: engine.clock.mode }),
        );

        scope.post(
          '/tickets',
          {
            onRequest: guard,
            schema: { summary: 'A one-time ticket (30 s) for opening the live feed (EventSource cannot send the key in a header)', tags: ['Dashboard'] },
            config: {
              openapi: adminJson('The ticket.', { type: 'object', properties: { ticket: { type: 'string' }, expiresInSeconds: { type: 'integer' } } }),
            },
          },
          async (_request, reply) => reply.code(201).send(this.tickets.issue()),
        );

        scope.get(
          '/events',
          {
            schema: {
              summary: 'The live feed (server-sent events): snapshot, then calls and clock events',
              description:
                'Events: `snapshot` {now, mode, calls: CallSummary[]} first, then `calls` {now, mode, calls (changed), touched (call ids whose timeline moved)} ' +
                'and `clock` {now, mode}. Times are epoch milliseconds on Switchboard\'s clock. Authenticated by a ticket from POST /dashboard/api/tickets.',
              tags: ['Dashboard'],
              querystring: Type.Object({ ticket: Type.String({ minLength: 1, maxLength: 64 }) }),
            },
            config: {
              openapi: {
                security: [],
                responses: {
                  '200': { description: 'An event stream.', content: { 'text/event-stream': { schema: { type: 'string' } } } },
                  '401': { description: 'The ticket is unknown, used or expired.', content: { 'application/json': { schema: { $ref: '#/components/schemas/GraphError' } } } },
                },
              },
            },
          },
          async (request, reply) => {
            const { ticket } = request.query as { ticket: string };
            if (!this.tickets.redeem(ticket)) throw unauthenticated('The live feed needs a fresh ticket: POST /dashboard/api/tickets with the admin key.');
            reply.hijack();
            await this.live.subscribe(reply.raw, reply.getHeaders());
          },
        );

        scope.get(
          '/calls',
          {
            onRequest: guard,
            schema: {
              summary: 'The most recent calls, summarised as the live feed sends them',
              tags: ['Dashboard'],
              querystring: Type.Object({ limit: Type.Optional(Type.String({ pattern: '^[0-9]{1,5}$' })) }),
            },
            config: { openapi: adminJson('{now, mode, calls}.') },
          },
          async (request) => {
            const { limit } = request.query as { limit?: string };
            const calls = await engine.listCalls(Math.min(Number(limit ?? SNAPSHOT_LIMIT), 50_000));
            return { now: engine.clock.now(), mode: engine.clock.mode, calls: calls.map(summarize) };
          },
        );

        scope.get(
          '/calls/:id',
          {
            onRequest: guard,
            schema: {
              summary: 'A call\'s timeline: its simulator record, notification bodies and attempts, the Graph requests the bot made',
              tags: ['Dashboard'],
              params: Type.Object({ id: Id }),
            },
            config: { openapi: adminJson('{now, mode, record, graphRequests}.') },
          },
          async (request) => {
            const { id } = request.params as { id: string };
            const call = await engine.record(id);
            if (!call) throw notFound(`No call ${id}.`);
            const rows = await store.notificationsOf(id);
            const record = simulatorRecord(call, rows) as { notifications: Array<Record<string, unknown>> } & Record<string, unknown>;
            record.notifications = record.notifications.map((n, i) => {
              const row = rows[i];
              return { ...n, createdAt: row ? new Date(row.createdAt).toISOString() : undefined, body: row ? parseBody(row.body) : undefined };
            });
            return { now: engine.clock.now(), mode: engine.clock.mode, record, graphRequests: this.requests.of(id) };
          },
        );
      },
      { prefix: '/dashboard/api' },
    );

    if (!this.o.simulator) return;
    await app.register(
      async (scope) => {
        scope.addHook('onRequest', requireAdminKey(this.o.adminKey));

        scope.get(
          '/directory',
          {
            schema: { summary: 'The directory: tenants, bots (applications, instances), users, phones and their behaviours; no secrets', tags: ['Simulator'] },
            config: { openapi: { security: [{ adminKey: [] }], ...adminJson('The directory.') } },
          },
          async () => publicDirectory(this.o.directory()),
        );

        scope.get(
          '/calls/:id/notifications/:notificationId',
          {
            schema: {
              summary: 'One notification of a call: its delivery attempts and the body as sent',
              tags: ['Simulator'],
              params: Type.Object({ id: Id, notificationId: Id }),
            },
            config: { openapi: { security: [{ adminKey: [] }], ...adminJson('The notification.') } },
          },
          async (request) => {
            const { id, notificationId } = request.params as { id: string; notificationId: string };
            const rows = await store.notificationsOf(id);
            const row = rows.find((r) => r.id === notificationId);
            if (!row) throw notFound(`Call ${id} has no notification ${notificationId}.`);
            const call = await engine.record(id);
            const record = call ? (simulatorRecord(call, [row]) as { notifications: unknown[] }) : undefined;
            return { ...((record?.notifications[0] as object | undefined) ?? {}), createdAt: new Date(row.createdAt).toISOString(), body: parseBody(row.body) };
          },
        );
      },
      { prefix: '/simulator' },
    );
  }
}

function parseBody(body: string): unknown {
  try {
    return JSON.parse(body) as unknown;
  } catch {
    return body;
  }
}

/** The directory without secrets (client secrets, certificates, the admin key). */
export function publicDirectory(index: DirectoryIndex): Record<string, unknown> {
  const d = index.directory;
  return {
    tenants: d.tenants.map((t) => ({
      id: t.id,
      ...(t.displayName ? { displayName: t.displayName } : {}),
      applications: t.applications.map((a) => ({
        id: a.id,
        ...(a.displayName ? { displayName: a.displayName } : {}),
        roles: a.roles,
        callbackUri: a.callbackUri,
        credentials: [...(a.clientSecret ? ['secret'] : []), ...(a.certificate ? ['certificate'] : [])],
        instances: a.instances.map((i) => ({ id: i.id, ...(i.displayName ? { displayName: i.displayName } : {}), ...(i.phone ? { phone: i.phone } : {}) })),
        ...(a.behaviour ? { behaviour: a.behaviour } : {}),
      })),
      users: t.users.map((u) => ({ id: u.id, ...(u.displayName ? { displayName: u.displayName } : {}), behaviour: u.behaviour ?? { manual: true } })),
    })),
    phones: d.phones.map((p) => ({ number: p.number, ...(p.displayName ? { displayName: p.displayName } : {}), behaviour: p.behaviour ?? { manual: true } })),
  };
}
