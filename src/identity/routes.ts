/**
 * identity/routes — the Azure AD and Bot Framework endpoints a bot's libraries call, on Azure AD's own
 * paths (contract Part B "Identity endpoints"): OpenID metadata, instance discovery, JWKS, the token
 * endpoint (client credentials) and the Bot Framework OpenID metadata for notification tokens. Errors
 * here are AAD-shaped (`{error, error_description: "AADSTSnnnn: ..."}`), not Graph-shaped, because
 * MSAL parses them.
 */
import { createHash, randomUUID, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Application, DirectoryIndex, Tenant } from '../directory/model.js';
import { SwitchboardError, toGraphError } from '../graph/errors.js';
import { AadError } from './aad-error.js';
import { CLIENT_ASSERTION_TYPE, verifyClientAssertion } from './client-assertion.js';
import type { SigningKeys } from './keys.js';
import { BOT_FRAMEWORK_ISSUER, GRAPH_APP_ID, GRAPH_RESOURCE, issueAccessToken, issuerFor } from './tokens.js';

export { AadError };

export interface IdentityDeps {
  directory: DirectoryIndex;
  keys: SigningKeys;
  /** `https://HOST:PORT`, the origin bots use as their MSAL authority host. */
  baseUrl: () => string;
}

/** Tenant path segments that name no tenant: AAD's multi-tenant aliases, accepted for metadata only. */
const MULTI_TENANT = new Set(['common', 'organizations']);

/** Paths served by these routes (framework errors there are answered in Azure AD's format). */
export function isIdentityPath(path: string): boolean {
  return /^\/[^/]+\/(?:oauth2\/|v2\.0\/\.well-known\/|\.well-known\/|discovery\/)/.test(path) || path.startsWith('/botframework/');
}

/** A malformed request on an identity path, answered as Azure AD does (AADSTS9002313). */
export function sendAadRequestError(req: FastifyRequest, reply: FastifyReply, detail: string): FastifyReply {
  return sendAadError(req, reply, new AadError(400, 'invalid_request', 9002313, `Invalid request. Request is malformed or invalid. ${detail}`));
}

type TenantRef = { kind: 'tenant'; tenant: Tenant } | { kind: 'multi'; name: string };
type TenantParams = { Params: { tenant: string } };
type FormBody = Record<string, string>;

export async function registerIdentityRoutes(app: FastifyInstance, deps: IdentityDeps): Promise<void> {
  // Encapsulated: the form parser and the AAD error handler apply to these routes only.
  await app.register(async (scope) => {
    scope.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (_req, body, done) => {
      done(null, Object.fromEntries(new URLSearchParams(typeof body === 'string' ? body : body.toString('utf8'))));
    });

    scope.setErrorHandler((error: unknown, req, reply) => {
      if (error instanceof AadError) return sendAadError(req, reply, error);
      if (error instanceof SwitchboardError) {
        // Raised by the shared body parser (JSON limits, body size): same status, Azure AD's format.
        const { status } = toGraphError(error, { requestId: '', clientRequestId: '' }, new Date());
        if (status < 500) return sendAadError(req, reply, new AadError(status, 'invalid_request', 9002313, `Invalid request. ${error.message}`));
      }
      const status = typeof (error as { statusCode?: unknown }).statusCode === 'number' ? (error as { statusCode: number }).statusCode : 500;
      if (status === 415) {
        return sendAadError(req, reply, missingParameter('grant_type', ' Send the token request as application/x-www-form-urlencoded.'));
      }
      if (status >= 400 && status < 500) {
        return sendAadError(req, reply, new AadError(status, 'invalid_request', 9002313, 'Invalid request. Request is malformed or invalid.'));
      }
      req.log.error({ err: error }, 'identity endpoint failed');
      return sendAadError(req, reply, new AadError(500, 'server_error', 50000, 'There was an error issuing a token.'));
    });

    const { directory, keys } = deps;
    const base = (): string => deps.baseUrl().replace(/\/+$/, '');

    // --- OpenID Connect metadata -------------------------------------------------------------
    scope.get<TenantParams>('/:tenant/v2.0/.well-known/openid-configuration', async (req, reply) => {
      const ref = metadataTenant(directory, req.params.tenant);
      const segment = ref.kind === 'tenant' ? ref.tenant.id : ref.name;
      const b = base();
      return reply.header('cache-control', 'max-age=86400, private').send({
        token_endpoint: `${b}/${segment}/oauth2/v2.0/token`,
        token_endpoint_auth_methods_supported: ['client_secret_post', 'private_key_jwt', 'client_secret_basic'],
        jwks_uri: `${b}/${segment}/discovery/v2.0/keys`,
        response_modes_supported: ['query', 'fragment', 'form_post'],
        subject_types_supported: ['pairwise'],
        id_token_signing_alg_values_supported: ['RS256'],
        response_types_supported: ['code', 'id_token', 'code id_token', 'id_token token'],
        scopes_supported: ['openid', 'profile', 'email', 'offline_access'],
        // Like AAD: the multi-tenant aliases publish a `{tenantid}` template; MSAL only checks the host.
        issuer: `${b}/${ref.kind === 'tenant' ? ref.tenant.id : '{tenantid}'}/v2.0`,
        request_uri_parameter_supported: false,
        authorization_endpoint: `${b}/${segment}/oauth2/v2.0/authorize`,
        http_logout_supported: true,
        frontchannel_logout_supported: true,
        end_session_endpoint: `${b}/${segment}/oauth2/v2.0/logout`,
        claims_supported: ['sub', 'iss', 'aud', 'exp', 'iat', 'nbf', 'tid', 'oid', 'roles', 'appid', 'azp', 'ver'],
        grant_types_supported: ['client_credentials'],
        msgraph_host: new URL(b).host,
      });
    });

    scope.get<TenantParams>('/:tenant/.well-known/openid-configuration', async (req, reply) => {
      const ref = metadataTenant(directory, req.params.tenant);
      const segment = ref.kind === 'tenant' ? ref.tenant.id : ref.name;
      const b = base();
      return reply.header('cache-control', 'max-age=86400, private').send({
        token_endpoint: `${b}/${segment}/oauth2/token`,
        token_endpoint_auth_methods_supported: ['client_secret_post', 'private_key_jwt', 'client_secret_basic'],
        jwks_uri: `${b}/${segment}/discovery/keys`,
        response_modes_supported: ['query', 'fragment', 'form_post'],
        subject_types_supported: ['pairwise'],
        id_token_signing_alg_values_supported: ['RS256'],
        response_types_supported: ['code', 'id_token', 'code id_token', 'token id_token', 'token'],
        scopes_supported: ['openid'],
        // The v1 issuer is the one our access tokens carry, so resource servers can validate with it.
        issuer: issuerFor(ref.kind === 'tenant' ? ref.tenant.id : '{tenantid}'),
        authorization_endpoint: `${b}/${segment}/oauth2/authorize`,
        http_logout_supported: true,
        frontchannel_logout_supported: true,
        end_session_endpoint: `${b}/${segment}/oauth2/logout`,
        claims_supported: ['sub', 'iss', 'aud', 'exp', 'iat', 'nbf', 'tid', 'oid', 'roles', 'appid', 'ver'],
        grant_types_supported: ['client_credentials'],
        msgraph_host: new URL(b).host,
      });
    });

    // AAD serves it at /common/discovery/instance; any known tenant segment works as well.
    scope.get<TenantParams & { Querystring: { authorization_endpoint?: string } }>(
      '/:tenant/discovery/instance',
      async (req, reply) => {
        const ref = metadataTenant(directory, req.params.tenant);
        const b = base();
        const host = new URL(b).host;
        let segment = ref.kind === 'tenant' ? ref.tenant.id : ref.name;
        const asked = req.query.authorization_endpoint;
        if (asked !== undefined) {
          let url: URL;
          try {
            url = new URL(asked);
          } catch {
            throw new AadError(400, 'invalid_instance', 50049, `Unknown or invalid instance: '${asked}' is not a URL.`);
          }
          if (url.host.toLowerCase() !== host.toLowerCase()) {
            throw new AadError(400, 'invalid_instance', 50049, `Unknown or invalid instance: this server is ${host}, not ${url.host}.`);
          }
          segment = url.pathname.split('/').find((s) => s !== '') ?? segment;
        }
        return reply.header('cache-control', 'max-age=86400, private').send({
          tenant_discovery_endpoint: `${b}/${segment}/v2.0/.well-known/openid-configuration`,
          'api-version': '1.1',
          metadata: [{ preferred_network: host, preferred_cache: host, aliases: [host] }],
        });
      },
    );

    // --- Signing keys --------------------------------------------------------------------------
    const graphKeys = async (req: FastifyRequest<TenantParams>, reply: FastifyReply) => {
      metadataTenant(directory, req.params.tenant);
      await keys.refreshIfStale();
      return reply.header('cache-control', 'max-age=3600, private').send(keys.publicJwks('graph'));
    };
    scope.get<TenantParams>('/:tenant/discovery/v2.0/keys', graphKeys);
    scope.get<TenantParams>('/:tenant/discovery/keys', graphKeys);

    // --- Token endpoint ------------------------------------------------------------------------
    const token = (version: 'v1' | 'v2') => async (req: FastifyRequest<TenantParams>, reply: FastifyReply) => {
      const tenant = tokenTenant(directory, req.params.tenant);
      const form = formBody(req);

      const grantType = form['grant_type'];
      if (!grantType) throw missingParameter('grant_type');
      if (grantType !== 'client_credentials') {
        throw new AadError(
          400,
          'unsupported_grant_type',
          70003,
          `The app requested an unsupported grant type '${grantType}'. Switchboard issues tokens with the client credentials grant only (grant_type=client_credentials).`,
        );
      }

      const basic = basicCredentials(req.headers.authorization);
      const clientId = form['client_id'] || basic?.clientId;
      if (!clientId) throw missingParameter('client_id');
      const application = directory.application(clientId) ?? directory.application(clientId.toLowerCase());
      if (!application || application.tenantId !== tenant.id) {
        throw new AadError(
          400,
          'unauthorized_client',
          700016,
          `Application with identifier '${clientId}' was not found in the directory '${tenant.displayName ?? tenant.id}'. This can happen if the application is not in this tenant's applications in the directory file. You may have sent your authentication request to the wrong tenant.`,
        );
      }

      checkResource(version, form, tenant);
      const nowSeconds = Math.floor(Date.now() / 1000);
      const clientAuthentication = await authenticateClient(application, form, basic?.clientSecret, {
        clientId,
        nowSeconds,
        // The assertion's aud: the token endpoint, v2 or v1, under the tenant as requested or as its id.
        audiences: [...new Set([req.params.tenant, tenant.id])].flatMap((t) => [`${base()}/${t}/oauth2/v2.0/token`, `${base()}/${t}/oauth2/token`]),
      });

      const issued = await issueAccessToken(keys, { tenantId: tenant.id, application, nowSeconds, clientAuthentication });
      reply.header('cache-control', 'no-store, no-cache').header('pragma', 'no-cache');
      reply.header('client-request-id', correlationIdOf(req)).header('x-ms-request-id', randomUUID());
      if (version === 'v2') {
        return reply.send({
          token_type: issued.token_type,
          expires_in: issued.expires_in,
          ext_expires_in: issued.ext_expires_in,
          access_token: issued.access_token,
        });
      }
      // The v1 endpoint answers with strings and the resource it issued for, as AAD's v1 endpoint does.
      return reply.send({
        token_type: issued.token_type,
        expires_in: String(issued.expires_in),
        ext_expires_in: String(issued.ext_expires_in),
        expires_on: String(nowSeconds + issued.expires_in),
        not_before: String(nowSeconds),
        resource: GRAPH_RESOURCE,
        access_token: issued.access_token,
      });
    };
    scope.post<TenantParams>('/:tenant/oauth2/v2.0/token', token('v2'));
    scope.post<TenantParams>('/:tenant/oauth2/token', token('v1'));

    // --- Bot Framework metadata (notification tokens) ----------------------------------------
    const botMetadata = async (_req: FastifyRequest, reply: FastifyReply) =>
      reply.header('cache-control', 'max-age=86400, private').send({
        issuer: BOT_FRAMEWORK_ISSUER,
        // Microsoft's document names a placeholder host here too: no interactive flow exists.
        authorization_endpoint: 'https://invalid.botframework.com',
        jwks_uri: `${base()}/botframework/v1/.well-known/keys`,
        id_token_signing_alg_values_supported: ['RS256'],
        token_endpoint_auth_signing_alg_values_supported: ['RS256'],
      });
    scope.get('/botframework/v1/.well-known/openidconfiguration', botMetadata);
    // Where Microsoft's .NET calling samples read it (https://api.aps.skype.com/v1/.well-known/OpenIdConfiguration):
    // such a bot points that URL at Switchboard and validates notifications unchanged.
    scope.get('/v1/.well-known/OpenIdConfiguration', botMetadata);
    scope.get('/botframework/v1/.well-known/keys', async (_req, reply) => {
      // The Bot Framework SDK checks that a key is endorsed for the channel the activity came from.
      await keys.refreshIfStale();
      const { keys: published } = keys.publicJwks('notifications');
      return reply
        .header('cache-control', 'max-age=3600, private')
        .send({ keys: published.map((k) => ({ ...k, endorsements: ['msteams'] })) });
    });
  });
}

// --- helpers ---------------------------------------------------------------------------------

function findTenant(directory: DirectoryIndex, segment: string): Tenant | undefined {
  const exact = directory.tenant(segment);
  if (exact) return exact;
  const lower = segment.toLowerCase();
  return directory.directory.tenants.find((t) => t.id.toLowerCase() === lower);
}

function unknownTenant(segment: string): AadError {
  return new AadError(
    400,
    'invalid_tenant',
    90002,
    `Tenant '${segment}' not found. Check to make sure you have the correct tenant ID: it must be a tenant id from Switchboard's directory file.`,
  );
}

function metadataTenant(directory: DirectoryIndex, segment: string): TenantRef {
  const lower = segment.toLowerCase();
  if (MULTI_TENANT.has(lower)) return { kind: 'multi', name: lower };
  const tenant = findTenant(directory, segment);
  if (!tenant) throw unknownTenant(segment);
  return { kind: 'tenant', tenant };
}

function tokenTenant(directory: DirectoryIndex, segment: string): Tenant {
  if (MULTI_TENANT.has(segment.toLowerCase())) {
    // The client-credentials grant needs a tenant-specific authority (AAD answers the same).
    throw new AadError(
      400,
      'invalid_request',
      50059,
      `No tenant-identifying information found in either the request or implied by any provided credentials. The client credentials grant needs a tenant-specific authority, not '/${segment}'.`,
    );
  }
  const tenant = findTenant(directory, segment);
  if (!tenant) {
    const error = unknownTenant(segment);
    // On the token endpoint AAD reports an unknown tenant as invalid_request.
    throw new AadError(error.status, 'invalid_request', error.code, error.message);
  }
  return tenant;
}

function missingParameter(name: string, hint = ''): AadError {
  return new AadError(400, 'invalid_request', 900144, `The request body must contain the following parameter: '${name}'.${hint}`);
}

function formBody(req: FastifyRequest): FormBody {
  const type = (req.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase();
  if (type !== 'application/x-www-form-urlencoded' || typeof req.body !== 'object' || req.body === null) {
    throw missingParameter('grant_type', ' Send the token request as application/x-www-form-urlencoded.');
  }
  return req.body as FormBody;
}

/** `Authorization: Basic` (client_secret_basic): RFC 6749 §2.3.1 form-encodes both parts. */
function basicCredentials(header: string | undefined): { clientId: string; clientSecret: string } | undefined {
  const match = header ? /^\s*basic\s+(\S+)\s*$/i.exec(header) : null;
  if (!match?.[1]) return undefined;
  const decoded = Buffer.from(match[1], 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return undefined;
  try {
    const decode = (s: string) => decodeURIComponent(s.replace(/\+/g, ' '));
    return { clientId: decode(decoded.slice(0, colon)), clientSecret: decode(decoded.slice(colon + 1)) };
  } catch {
    return undefined;
  }
}

const GRAPH_RESOURCES = new Set([GRAPH_RESOURCE, `${GRAPH_RESOURCE}/`, GRAPH_APP_ID]);
const OIDC_SCOPES = new Set(['openid', 'profile', 'offline_access', 'email']);

/** v2: `scope` must be exactly one `<resource>/.default`; v1: `resource`. The resource must be Graph. */
function checkResource(version: 'v1' | 'v2', form: FormBody, tenant: Tenant): void {
  let resource: string;
  if (version === 'v1' && form['resource']) {
    resource = form['resource'];
  } else {
    const raw = form['scope'];
    if (!raw || raw.trim() === '') throw missingParameter(version === 'v1' ? 'resource' : 'scope');
    const scopes = raw.split(/\s+/).filter((s) => s !== '' && !OIDC_SCOPES.has(s.toLowerCase()));
    if (scopes.length === 0) throw missingParameter('scope');
    const notDefault = scopes.find((s) => !s.endsWith('/.default'));
    if (notDefault !== undefined) {
      throw new AadError(
        400,
        'invalid_scope',
        1002012,
        `The provided value for scope ${notDefault} is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI).`,
      );
    }
    if (scopes.length > 1) {
      throw new AadError(
        400,
        'invalid_scope',
        28000,
        `Provided value for the input parameter scope is not valid because it contains more than one resource. Scope ${scopes.join(' ')} is not valid.`,
      );
    }
    resource = scopes[0]!.slice(0, -'/.default'.length);
  }
  if (!GRAPH_RESOURCES.has(resource.toLowerCase())) {
    throw new AadError(
      400,
      'invalid_resource',
      500011,
      `The resource principal named ${resource} was not found in the tenant named ${tenant.displayName ?? tenant.id}. Switchboard issues tokens for Microsoft Graph only: use scope ${GRAPH_RESOURCE}/.default.`,
    );
  }
}

/** Checks the client's credential: a client secret (post or basic) or a certificate's client assertion. */
async function authenticateClient(
  application: Application,
  form: FormBody,
  basicSecret: string | undefined,
  assertionCheck: { clientId: string; nowSeconds: number; audiences: string[] },
): Promise<'secret' | 'certificate'> {
  if (form['client_assertion'] !== undefined || form['client_assertion_type'] !== undefined) {
    const type = form['client_assertion_type'];
    if (type !== undefined && type !== CLIENT_ASSERTION_TYPE) {
      throw new AadError(400, 'invalid_request', 50027, `Invalid client_assertion_type '${type}'; expected '${CLIENT_ASSERTION_TYPE}'.`);
    }
    const assertion = form['client_assertion'];
    if (!assertion) throw missingParameter('client_assertion');
    if (type === undefined) throw missingParameter('client_assertion_type');
    await verifyClientAssertion(assertion, { application, ...assertionCheck });
    return 'certificate';
  }
  const secret = form['client_secret'] ?? basicSecret;
  if (secret === undefined || secret === '') {
    throw new AadError(
      401,
      'invalid_client',
      7000218,
      "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.",
    );
  }
  if (application.clientSecret === undefined || !secretsEqual(secret, application.clientSecret)) {
    throw new AadError(
      401,
      'invalid_client',
      7000215,
      `Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '${application.id}'.`,
    );
  }
  return 'secret';
}

/** Constant time whatever the lengths: both sides are hashed to 32 bytes first. */
function secretsEqual(given: string, expected: string): boolean {
  const a = createHash('sha256').update(given, 'utf8').digest();
  const b = createHash('sha256').update(expected, 'utf8').digest();
  return timingSafeEqual(a, b);
}

/** MSAL sends `client-request-id` as a header, a query parameter or a body field; echoed as correlation id. */
function correlationIdOf(req: FastifyRequest): string {
  const query = req.query as Record<string, unknown> | undefined;
  const body = req.body as Record<string, unknown> | undefined;
  const candidates = [req.headers['client-request-id'], query?.['client-request-id'], body?.['client-request-id']];
  for (const candidate of candidates) {
    // Only id-shaped values: the id goes into a response header and must not smuggle anything.
    if (typeof candidate === 'string' && /^[A-Za-z0-9-]{1,64}$/.test(candidate)) return candidate;
  }
  return randomUUID();
}

function sendAadError(req: FastifyRequest, reply: FastifyReply, error: AadError): FastifyReply {
  const traceId = randomUUID();
  const correlationId = correlationIdOf(req);
  const now = new Date();
  // AAD's format: "2024-05-01 12:34:56Z".
  const timestamp = `${now.toISOString().slice(0, 19).replace('T', ' ')}Z`;
  return reply
    .code(error.status)
    .header('cache-control', 'no-store, no-cache')
    .header('pragma', 'no-cache')
    .header('client-request-id', correlationId)
    .header('x-ms-request-id', traceId)
    .send({
      error: error.error,
      error_description: `AADSTS${error.code}: ${error.message}\r\nTrace ID: ${traceId}\r\nCorrelation ID: ${correlationId}\r\nTimestamp: ${timestamp}`,
      error_codes: [error.code],
      timestamp,
      trace_id: traceId,
      correlation_id: correlationId,
      error_uri: `https://login.microsoftonline.com/error?code=${error.code}`,
    });
}
