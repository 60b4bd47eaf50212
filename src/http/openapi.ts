/**
 * The OpenAPI 3.1 document at `GET /openapi.json` (no key, contract Part B), generated from the routes as
 * registered: an `onRoute` hook (installed before any route) collects every route's method, URL and
 * `schema`; the request side of each operation (path and query parameters, JSON bodies) comes from the very
 * TypeBox schemas fastify validates requests with (graph/schemas.ts, the simulator's), so the document
 * cannot drift from validation. What a route schema does not say (summaries of routes declared elsewhere,
 * response bodies, the token endpoint's form body, security) comes from the catalogue below, keyed by route
 * pattern; a route the catalogue does not know still appears, flagged `x-switchboard-undocumented`, and the
 * coverage test (test/e2e/openapi.test.ts) fails on it.
 *
 * Own routes describe themselves: `schema.summary`, `schema.description`, `schema.tags` (fastify ignores
 * them for validation, as @fastify/swagger does) and `config.openapi` (a partial Operation object merged
 * last). Routes with `schema.hide: true` (the dashboard's static files) and HEAD routes are left out.
 */
import { Type, type TSchema } from '@sinclair/typebox';
import type { FastifyInstance, RouteOptions } from 'fastify';
import { AnswerBodySchema, InvitationParticipantInfoSchema, RedirectBodySchema, RejectBodySchema } from '../graph/schemas.js';
import { packageVersion } from './dashboard/paths.js';
import { AdvanceBodySchema, PlaceCallBodySchema } from './simulator-routes.js';

type Json = Record<string, unknown>;

declare module 'fastify' {
  /** Documentation keys, as @fastify/swagger reads them; fastify ignores them when validating. */
  interface FastifySchema {
    summary?: string;
    description?: string;
    tags?: string[];
    operationId?: string;
    /** Left out of the OpenAPI document (static files). */
    hide?: boolean;
  }
}

export interface OpenApiRouteSchema {
  body?: unknown;
  querystring?: unknown;
  params?: unknown;
  headers?: unknown;
  response?: Record<string, unknown>;
  summary?: string;
  description?: string;
  tags?: string[];
  operationId?: string;
  hide?: boolean;
}

export interface CollectedRoute {
  method: string;
  url: string;
  schema?: OpenApiRouteSchema;
  openapi?: Json;
}

// ------------------------------------------------------------------------------------ response schemas

const IdentitySet = InvitationParticipantInfoSchema.properties.identity;

const ResultInfo = Type.Object({
  '@odata.type': Type.Optional(Type.Literal('#microsoft.graph.resultInfo')),
  code: Type.Integer({ description: 'SIP-style code (contract Part A, resultInfo table).' }),
  subcode: Type.Integer(),
  message: Type.String(),
});

const ParticipantInfo = Type.Object(
  {
    '@odata.type': Type.Literal('#microsoft.graph.participantInfo'),
    identity: IdentitySet,
    endpointType: Type.Optional(Type.String()),
    region: Type.Optional(Type.Union([Type.String(), Type.Null()])),
  },
  { additionalProperties: true },
);

const CALL_STATES = ['incoming', 'establishing', 'ringing', 'established', 'hold', 'transferring', 'transferAccepted', 'redirecting', 'terminating', 'terminated'];

const GraphCall = Type.Object(
  {
    '@odata.type': Type.Literal('#microsoft.graph.call'),
    id: Type.String(),
    state: Type.Union(CALL_STATES.map((s) => Type.Literal(s))),
    direction: Type.Union([Type.Literal('incoming'), Type.Literal('outgoing')]),
    callbackUri: Type.String({ format: 'uri' }),
    source: ParticipantInfo,
    targets: Type.Array(InvitationParticipantInfoSchema),
    tenantId: Type.String(),
    myParticipantId: Type.String(),
    callChainId: Type.String(),
    requestedModalities: Type.Array(Type.String()),
    resultInfo: Type.Optional(ResultInfo),
    answeredBy: Type.Optional(ParticipantInfo),
    terminationReason: Type.Optional(Type.String()),
  },
  { additionalProperties: true, description: 'A #microsoft.graph.call as the calling application sees it. Clients must tolerate unknown properties.' },
);

const CommsNotifications = Type.Object({
  '@odata.type': Type.Literal('#microsoft.graph.commsNotifications'),
  '@switchboard.notificationId': Type.String({ description: 'Stable across retries; also the x-switchboard-notification-id header.' }),
  value: Type.Array(
    Type.Object({
      '@odata.type': Type.Literal('#microsoft.graph.commsNotification'),
      changeType: Type.Union([Type.Literal('created'), Type.Literal('updated'), Type.Literal('deleted')]),
      resource: Type.String(),
      resourceUrl: Type.String(),
      resourceData: Type.Ref('Call'),
    }),
  ),
});

const GraphError = Type.Object({
  error: Type.Object({
    code: Type.String({ description: 'BadRequest, InvalidAuthenticationToken, Forbidden, 7505, 8522, NotFound, Conflict, TooManyRequests ...' }),
    message: Type.String(),
    innerError: Type.Object({
      'request-id': Type.String({ format: 'uuid' }),
      date: Type.String({ format: 'date-time' }),
      'client-request-id': Type.String(),
    }),
  }),
});

const AadError = Type.Object(
  {
    error: Type.String({ description: 'invalid_request, invalid_client, unauthorized_client, invalid_scope, unsupported_grant_type ...' }),
    error_description: Type.String({ description: '"AADSTSnnnn: ..." with trace and correlation ids.' }),
    error_codes: Type.Array(Type.Integer()),
    timestamp: Type.String(),
    trace_id: Type.String(),
    correlation_id: Type.String(),
    error_uri: Type.Optional(Type.String()),
  },
  { additionalProperties: true },
);

const TokenForm = Type.Object(
  {
    grant_type: Type.Literal('client_credentials'),
    client_id: Type.Optional(Type.String({ description: 'Or in Authorization: Basic (client_secret_basic).' })),
    client_secret: Type.Optional(Type.String()),
    client_assertion_type: Type.Optional(Type.Literal('urn:ietf:params:oauth:client-assertion-type:jwt-bearer')),
    client_assertion: Type.Optional(Type.String({ description: 'Certificate credential: a JWT signed with the private key of the application certificate.' })),
    scope: Type.Optional(Type.String({ description: 'v2.0: https://graph.microsoft.com/.default' })),
    resource: Type.Optional(Type.String({ description: 'v1: https://graph.microsoft.com' })),
  },
  { additionalProperties: true, description: 'Extra parameters MSAL sends (claims, client_info, x-client-*) are accepted and ignored.' },
);

const TokenResponse = Type.Object(
  {
    token_type: Type.Literal('Bearer'),
    expires_in: Type.Union([Type.Integer(), Type.String()]),
    ext_expires_in: Type.Union([Type.Integer(), Type.String()]),
    access_token: Type.String({ description: 'RS256 JWT: aud https://graph.microsoft.com, roles [Calls.Initiate.All], tid, appid.' }),
    expires_on: Type.Optional(Type.String()),
    not_before: Type.Optional(Type.String()),
    resource: Type.Optional(Type.String()),
  },
  { additionalProperties: true },
);

const Jwks = Type.Object({ keys: Type.Array(Type.Object({ kty: Type.String(), kid: Type.String(), n: Type.Optional(Type.String()), e: Type.Optional(Type.String()) }, { additionalProperties: true })) });
const OpenIdMetadata = Type.Object({ issuer: Type.String(), jwks_uri: Type.String() }, { additionalProperties: true });

const Iso = Type.String({ format: 'date-time' });
const SimulatorRecord = Type.Object(
  {
    id: Type.String(),
    kind: Type.Union([Type.Literal('incoming'), Type.Literal('botLeg')]),
    parentCallId: Type.Optional(Type.String()),
    tenantId: Type.String(),
    applicationId: Type.String(),
    state: Type.String(),
    resultInfo: Type.Optional(ResultInfo),
    answeredBy: Type.Optional(ParticipantInfo),
    createdAt: Iso,
    incomingDeadline: Type.Optional(Iso),
    endedAt: Type.Optional(Iso),
    callbackUri: Type.String(),
    redirect: Type.Optional(
      Type.Object({ timeout: Type.Integer(), maskCaller: Type.Boolean(), maskCallee: Type.Boolean(), disableForwarding: Type.Boolean(), acceptedAt: Iso, ringDeadline: Iso }),
    ),
    caller: Type.Object({ identity: IdentitySet, presentedCallee: Type.Optional(IdentitySet) }),
    callee: Type.Object({ identity: IdentitySet }),
    targets: Type.Array(
      Type.Object(
        {
          id: Type.String({ description: 'User id, application id or E.164 number.' }),
          identity: IdentitySet,
          presentedCaller: IdentitySet,
          ringState: Type.Union(['ringing', 'answered', 'declined', 'busy', 'noAnswer', 'cancelled', 'unreachable', 'forwarded'].map((s) => Type.Literal(s))),
          forwardedTo: Type.Optional(Type.String()),
          forwardedFrom: Type.Optional(Type.String()),
        },
        { additionalProperties: true },
      ),
    ),
    history: Type.Array(Type.Object({ at: Iso, type: Type.String() }, { additionalProperties: true })),
    notifications: Type.Array(
      Type.Object(
        {
          id: Type.String(),
          changeType: Type.String(),
          state: Type.String(),
          url: Type.String(),
          attempts: Type.Array(Type.Object({ at: Iso, status: Type.Optional(Type.Integer()), error: Type.Optional(Type.String()) })),
          delivered: Type.Boolean(),
        },
        { additionalProperties: true },
      ),
    ),
  },
  { additionalProperties: true, description: 'The simulator record of a call (contract Part B); times on Switchboard\'s clock.' },
);

const Clock = Type.Object({ now: Iso, mode: Type.Union([Type.Literal('real'), Type.Literal('virtual')]) });

/** Components: request schemas are the validation schemas themselves. */
const COMPONENT_SCHEMAS: Record<string, TSchema> = {
  RedirectRequest: RedirectBodySchema,
  RejectRequest: RejectBodySchema,
  AnswerRequest: AnswerBodySchema,
  PlaceCallRequest: PlaceCallBodySchema,
  AdvanceClockRequest: AdvanceBodySchema,
  InvitationParticipantInfo: InvitationParticipantInfoSchema,
  Call: GraphCall,
  CommsNotifications,
  ResultInfo,
  GraphError,
  AadError,
  TokenRequest: TokenForm,
  TokenResponse,
  Jwks,
  OpenIdMetadata,
  SimulatorRecord,
  Clock,
};
const REF_OF = new Map<unknown, string>(Object.entries(COMPONENT_SCHEMAS).map(([name, schema]) => [schema, name]));

/** A TypeBox schema as plain JSON Schema (symbols dropped), a `$ref` when it is a component. */
export function jsonSchema(schema: unknown, useRefs = true): Json {
  if (useRefs) {
    const name = REF_OF.get(schema);
    if (name) return { $ref: `#/components/schemas/${name}` };
  }
  const plain = JSON.parse(JSON.stringify(schema ?? {})) as Json;
  return rewriteRefs(plain) as Json;
}

/** TypeBox `Type.Ref('Call')` → `{$ref: 'Call'}`: point it at the components. */
function rewriteRefs(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(rewriteRefs);
  if (node && typeof node === 'object') {
    const out: Json = {};
    for (const [k, v] of Object.entries(node)) {
      out[k] = k === '$ref' && typeof v === 'string' && !v.startsWith('#') ? `#/components/schemas/${v}` : rewriteRefs(v);
    }
    return out;
  }
  return node;
}

const ref = (name: string): Json => ({ $ref: `#/components/schemas/${name}` });
const json = (schema: Json, description: string): Json => ({ description, content: { 'application/json': { schema } } });
const empty = (description: string): Json => ({ description });

const GRAPH_ERRORS: Record<string, string> = {
  '400': 'BadRequest: the body or a parameter is invalid (the message names the field).',
  '401': 'InvalidAuthenticationToken: no valid access token.',
  '403': 'Forbidden: no Calls.Initiate.All application role, a delegated token, or another tenant\'s call ("7505").',
  '404': '"8522": unknown call, another application\'s call, or a call that has ended (or whose 15 s window expired).',
  '409': 'Conflict: the call is not in a state that allows this operation.',
  '413': 'The request body is too large.',
  '415': 'Unsupported Content-Type.',
  '429': 'TooManyRequests: throttled (Retry-After header).',
};
const graphErrors = (...codes: string[]): Json => Object.fromEntries(codes.map((c) => [c, json(ref('GraphError'), GRAPH_ERRORS[c] ?? 'Error')]));
const SIMULATOR_ERRORS = {
  '400': json(ref('GraphError'), 'The body or a parameter is invalid.'),
  '401': json(ref('GraphError'), 'The admin key is missing or wrong.'),
  '404': json(ref('GraphError'), 'Unknown call or target, or the simulator is off (operator mode).'),
};
const AAD_ERRORS = { '400': json(ref('AadError'), 'AAD-shaped error (MSAL parses it).') };

interface CatalogueEntry {
  method: string;
  pattern: RegExp;
  operation: (url: string) => Json;
}

const GRAPH_PATH = /^\/(v1\.0|beta)\/(communications|app)\/calls\/:id(?:\/(redirect|reject|answer))?$/;

function graphOperation(method: string, url: string): Json {
  const m = GRAPH_PATH.exec(url);
  const version = m?.[1] ?? 'v1.0';
  const base = m?.[2] ?? 'communications';
  const action = m?.[3] ?? (method === 'GET' ? 'get' : 'delete');
  const alias = base === 'app' ? ' (deprecated /app/calls alias of /communications/calls)' : '';
  const common = {
    tags: [`Graph calls ${version}`],
    operationId: `${version === 'beta' ? 'beta' : 'v1'}_${base}_calls_${action}`,
    security: [{ graphToken: [] }],
    ...(base === 'app' ? { deprecated: true } : {}),
  };
  switch (action) {
    case 'redirect':
      return {
        ...common,
        summary: `Redirect an incoming call${alias}`,
        description:
          'Rings 1..25 targets (simultaneous ring) within the 15-second incoming window. timeout 15..90 s (default 55, or 60 with several targets); ' +
          'maskCallee/maskCaller (beta, honoured on v1.0 too), callbackUri (https), routingPolicies (disableForwarding). Unknown fields are ignored.',
        responses: { '202': empty('Accepted: the targets start ringing; the outcome arrives as notifications.'), ...graphErrors('400', '401', '403', '404', '409', '413', '415', '429') },
      };
    case 'reject':
      return {
        ...common,
        summary: `Reject an incoming call${alias}`,
        responses: { '202': empty('Accepted: the call ends (resultInfo 603/486/403).'), ...graphErrors('400', '401', '403', '404', '409', '413', '415', '429') },
      };
    case 'answer':
      return {
        ...common,
        summary: `Answer an incoming call${alias}`,
        description: 'Media is out of scope: the call becomes established.',
        responses: { '202': empty('Accepted: the call becomes established.'), ...graphErrors('400', '401', '403', '404', '409', '413', '415', '429') },
      };
    case 'get':
      return { ...common, summary: `Get a call${alias}`, responses: { '200': json(ref('Call'), 'The call.'), ...graphErrors('401', '403', '404', '429') } };
    default:
      return {
        ...common,
        summary: `Hang up a call${alias}`,
        description: 'Notifications follow: updated (terminating), then deleted (terminated, resultInfo 200/5000).',
        responses: { '204': empty('Hung up.'), ...graphErrors('401', '403', '404', '409', '429') },
      };
  }
}

const identity = (summary: string, responses: Json, extra: Json = {}): Json => ({ tags: ['Identity (Azure AD, Bot Framework)'], security: [], summary, responses, ...extra });
const simulator = (summary: string, responses: Json, extra: Json = {}): Json => ({
  tags: ['Simulator'],
  security: [{ adminKey: [] }],
  summary,
  responses: { ...responses, ...SIMULATOR_ERRORS },
  ...extra,
});

const tokenOperation = (version: 'v1' | 'v2') => (): Json =>
  identity(
    `Token endpoint, ${version === 'v2' ? 'v2.0' : 'v1'} (client credentials grant)`,
    { '200': json(ref('TokenResponse'), 'An access token for Microsoft Graph.'), ...AAD_ERRORS, '401': json(ref('AadError'), 'invalid_client: wrong secret or assertion.') },
    {
      requestBody: { required: true, content: { 'application/x-www-form-urlencoded': { schema: ref('TokenRequest') } } },
      parameters: [{ name: 'client-request-id', in: 'query', required: false, schema: { type: 'string' }, description: 'Echoed; MSAL sends it.' }],
    },
  );

const CATALOGUE: CatalogueEntry[] = [
  ...(['POST', 'GET', 'DELETE'] as const).map((method) => ({ method, pattern: GRAPH_PATH, operation: (url: string) => graphOperation(method, url) })),
  {
    method: 'GET',
    pattern: /^\/:tenant\/v2\.0\/\.well-known\/openid-configuration$/,
    operation: () => identity('OpenID Connect metadata (v2.0), as MSAL reads it', { '200': json(ref('OpenIdMetadata'), 'Metadata.'), ...AAD_ERRORS }),
  },
  {
    method: 'GET',
    pattern: /^\/:tenant\/\.well-known\/openid-configuration$/,
    operation: () => identity('OpenID Connect metadata (v1)', { '200': json(ref('OpenIdMetadata'), 'Metadata.'), ...AAD_ERRORS }),
  },
  {
    method: 'GET',
    pattern: /^\/:tenant\/discovery\/instance$/,
    operation: () =>
      identity(
        'Instance discovery (MSAL probes /common/discovery/instance)',
        { '200': json({ type: 'object', additionalProperties: true }, 'Discovery metadata naming this host.'), ...AAD_ERRORS },
        { parameters: [{ name: 'authorization_endpoint', in: 'query', required: false, schema: { type: 'string' } }, { name: 'api-version', in: 'query', required: false, schema: { type: 'string' } }] },
      ),
  },
  {
    method: 'GET',
    pattern: /^\/:tenant\/discovery\/(v2\.0\/)?keys$/,
    operation: () => identity('Signing keys of access tokens (JWKS)', { '200': json(ref('Jwks'), 'Public keys.'), ...AAD_ERRORS }),
  },
  { method: 'POST', pattern: /^\/:tenant\/oauth2\/v2\.0\/token$/, operation: tokenOperation('v2') },
  { method: 'POST', pattern: /^\/:tenant\/oauth2\/token$/, operation: tokenOperation('v1') },
  {
    method: 'GET',
    pattern: /^\/botframework\/v1\/\.well-known\/openidconfiguration$/,
    operation: () => identity('Bot Framework OpenID metadata (verifies notification tokens)', { '200': json(ref('OpenIdMetadata'), 'Metadata listing jwks_uri.') }),
  },
  {
    method: 'GET',
    pattern: /^\/v1\/\.well-known\/OpenIdConfiguration$/,
    operation: () =>
      identity('Bot Framework OpenID metadata where Microsoft\'s .NET calling samples read it (api.aps.skype.com path)', {
        '200': json(ref('OpenIdMetadata'), 'Metadata listing jwks_uri.'),
      }),
  },
  {
    method: 'GET',
    pattern: /^\/botframework\/v1\/\.well-known\/keys$/,
    operation: () => identity('Signing keys of notification tokens (JWKS, endorsed for msteams)', { '200': json(ref('Jwks'), 'Public keys.') }),
  },
  {
    method: 'POST',
    pattern: /^\/simulator\/calls$/,
    operation: () =>
      simulator('Place an incoming call (the bot gets the created notification)', {
        '201': json({ type: 'object', required: ['id'], properties: { id: { type: 'string' } } }, 'The new call\'s id (the Graph call id).'),
      }),
  },
  {
    method: 'GET',
    pattern: /^\/simulator\/calls$/,
    operation: () =>
      simulator('List recent calls (most recent first)', {
        '200': json(
          {
            type: 'object',
            properties: {
              value: {
                type: 'array',
                items: { type: 'object', properties: { id: { type: 'string' }, kind: { type: 'string' }, state: { type: 'string' }, createdAt: { type: 'string', format: 'date-time' }, resultInfo: ref('ResultInfo') } },
              },
            },
          },
          'Calls.',
        ),
      }),
  },
  { method: 'GET', pattern: /^\/simulator\/calls\/:id$/, operation: () => simulator('A call\'s full simulator record', { '200': json(ref('SimulatorRecord'), 'The record.') }) },
  { method: 'POST', pattern: /^\/simulator\/calls\/:id\/hangup$/, operation: () => simulator('The caller hangs up', { '204': empty('Done.'), '409': json(ref('GraphError'), 'The call has ended.') }) },
  ...(['answer', 'decline', 'busy'] as const).map((action) => ({
    method: 'POST',
    pattern: new RegExp(`^/simulator/calls/:id/targets/:targetId/${action}$`),
    operation: () =>
      simulator(`A ringing target ${action === 'busy' ? 'is busy' : `${action}s`} (targetId: user id, application id or E.164 number)`, {
        '204': empty('Done.'),
        '409': json(ref('GraphError'), 'The call is not redirecting or the target is not ringing.'),
      }),
  })),
  { method: 'GET', pattern: /^\/simulator\/clock$/, operation: () => simulator('Switchboard\'s clock', { '200': json(ref('Clock'), 'now and mode.') }) },
  {
    method: 'POST',
    pattern: /^\/simulator\/clock\/advance$/,
    operation: () =>
      simulator('Advance the virtual clock, firing every timer due in order', {
        '200': json({ type: 'object', properties: { now: { type: 'string', format: 'date-time' }, mode: { type: 'string' }, timersFired: { type: 'integer' } } }, 'The new time.'),
      }),
  },
];

// ------------------------------------------------------------------------------------ the document

/** `/calls/:id` → `/calls/{id}`; a wildcard becomes `{wildcard}`. */
export function openApiPath(url: string): string {
  return url.replace(/:([A-Za-z0-9_]+)(\([^)]*\))?/g, '{$1}').replace(/\*$/, '{wildcard}');
}

function parametersFrom(schema: unknown, location: 'path' | 'query' | 'header'): Json[] {
  const s = schema as { properties?: Record<string, unknown>; required?: string[] } | undefined;
  if (!s?.properties) return [];
  return Object.entries(s.properties).map(([name, prop]) => ({
    name,
    in: location,
    required: location === 'path' || (s.required ?? []).includes(name),
    schema: jsonSchema(prop, false),
  }));
}

function operationFor(route: CollectedRoute): Json {
  const method = route.method.toUpperCase();
  const schema = route.schema ?? {};
  const catalogued = CATALOGUE.find((c) => c.method === method && c.pattern.test(route.url));
  const op: Json = { ...(catalogued ? catalogued.operation(route.url) : {}) };
  if (schema.summary) op.summary = schema.summary;
  if (schema.description) op.description = schema.description;
  if (schema.tags) op.tags = schema.tags;
  if (schema.operationId) op.operationId = schema.operationId;

  // Request side: from the validation schemas.
  const parameters: Json[] = [...parametersFrom(schema.params, 'path'), ...parametersFrom(schema.querystring, 'query'), ...parametersFrom(schema.headers, 'header')];
  for (const m of route.url.matchAll(/:([A-Za-z0-9_]+)/g)) {
    const name = m[1] ?? '';
    if (!parameters.some((p) => p.in === 'path' && p.name === name)) parameters.push({ name, in: 'path', required: true, schema: { type: 'string' } });
  }
  const extra = (op.parameters as Json[] | undefined) ?? [];
  for (const p of extra) if (!parameters.some((q) => q.in === p.in && q.name === p.name)) parameters.push(p);
  if (parameters.length) op.parameters = parameters;
  else delete op.parameters;
  if (schema.body !== undefined) {
    // Bodies the route marks optional (answer) still go through the schema when sent.
    op.requestBody = { required: method !== 'POST' || !/\/answer$/.test(route.url), content: { 'application/json': { schema: jsonSchema(schema.body) } } };
  }
  if (schema.response) {
    const responses: Json = { ...((op.responses as Json | undefined) ?? {}) };
    for (const [status, body] of Object.entries(schema.response)) responses[status] = json(jsonSchema(body), `Status ${status}.`);
    op.responses = responses;
  }
  if (route.openapi) {
    for (const [k, v] of Object.entries(route.openapi)) {
      if (k === 'responses') op.responses = { ...((op.responses as Json | undefined) ?? {}), ...(v as Json) };
      else if (k === 'parameters') op.parameters = [...((op.parameters as Json[] | undefined) ?? []), ...(v as Json[])];
      else op[k] = v;
    }
  }
  if (!op.summary) {
    op.summary = `${method} ${route.url}`;
    op['x-switchboard-undocumented'] = true;
  }
  op.operationId ??= `${method.toLowerCase()}${openApiPath(route.url).replace(/[{}]/g, '').replace(/[^A-Za-z0-9]+(.)?/g, (_m, c: string | undefined) => (c ? c.toUpperCase() : ''))}`;
  if (!op.responses) op.responses = { default: { description: 'Response.' } };
  if (!op.tags) op.tags = [route.url.startsWith('/simulator') ? 'Simulator' : route.url.startsWith('/dashboard') ? 'Dashboard' : 'Other'];
  if (!op.security) op.security = route.url.startsWith('/simulator') || route.url.startsWith('/dashboard/api') ? [{ adminKey: [] }] : [];
  return op;
}

export class OpenApi {
  readonly routes: CollectedRoute[] = [];
  private cached: Json | undefined;

  /** Collects routes as they are registered: call before registering any route. */
  collect(app: FastifyInstance): void {
    app.addHook('onRoute', (options: RouteOptions) => {
      const methods = Array.isArray(options.method) ? options.method : [options.method];
      const schema = options.schema as OpenApiRouteSchema | undefined;
      const openapi = (options.config as { openapi?: Json } | undefined)?.openapi;
      for (const method of methods) {
        if (method === 'HEAD' || schema?.hide) continue;
        this.routes.push({ method, url: options.url, ...(schema ? { schema } : {}), ...(openapi ? { openapi } : {}) });
      }
      this.cached = undefined;
    });
  }

  document(origin?: string): Json {
    if (!this.cached) {
      const paths: Record<string, Json> = {};
      for (const route of this.routes) {
        const path = openApiPath(route.url);
        const item = (paths[path] ??= {});
        item[route.method.toLowerCase()] = operationFor(route);
      }
      const sorted = Object.fromEntries(Object.entries(paths).sort(([a], [b]) => a.localeCompare(b)));
      this.cached = {
        openapi: '3.1.0',
        jsonSchemaDialect: 'https://spec.openapis.org/oas/3.1/dialect/base',
        info: {
          title: 'Switchboard',
          version: packageVersion(),
          summary: 'Self-hosted Microsoft Graph calls API (call redirect) with a simulated telephony plane',
          description:
            'Graph routes (Part A of the contract) under /v1.0 and /beta, the Azure AD and Bot Framework identity endpoints, the simulator API ' +
            '(admin key), the dashboard data API, metrics. Request schemas are the ones Switchboard validates requests with.',
          license: { name: 'MIT', identifier: 'MIT' },
        },
        tags: [
          { name: 'Graph calls v1.0' },
          { name: 'Graph calls beta' },
          { name: 'Identity (Azure AD, Bot Framework)' },
          { name: 'Simulator', description: 'Guarded by Authorization: Bearer <admin key>; 404 in operator mode (--no-simulator).' },
          { name: 'Dashboard', description: 'The dashboard\'s data API (admin key).' },
          { name: 'Observability' },
        ],
        paths: sorted,
        webhooks: {
          callNotification: {
            post: {
              summary: 'A call notification, POSTed to the bot\'s callbackUri',
              description:
                'Authorization: Bearer <JWT> (iss https://api.botframework.com, aud = the bot\'s application id). Answer 2xx to accept; ' +
                'failures are retried with backoff (1 s doubling to 5 min) until giveUpAfterSeconds.',
              parameters: [{ name: 'x-switchboard-notification-id', in: 'header', required: true, schema: { type: 'string' } }],
              requestBody: { required: true, content: { 'application/json': { schema: ref('CommsNotifications') } } },
              responses: { '202': empty('Accepted.'), '401': empty('The bot rejected the token (retried).') },
            },
          },
        },
        components: {
          schemas: Object.fromEntries(Object.entries(COMPONENT_SCHEMAS).map(([name, schema]) => [name, jsonSchema(schema, false)])),
          securitySchemes: {
            graphToken: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT', description: 'An access token from /{tenant}/oauth2/v2.0/token with the Calls.Initiate.All role.' },
            adminKey: { type: 'http', scheme: 'bearer', description: 'The admin key (directory admin.key, or the one printed at start).' },
          },
        },
      };
    }
    return origin ? { ...this.cached, servers: [{ url: origin }] } : this.cached;
  }

  async register(app: FastifyInstance): Promise<void> {
    app.get(
      '/openapi.json',
      {
        schema: { summary: 'This OpenAPI 3.1 document; no key needed', tags: ['Observability'] },
        config: { openapi: { responses: { '200': json({ type: 'object' }, 'The document.') } } },
      },
      async (request) => this.document(`https://${request.host}`),
    );
  }
}
