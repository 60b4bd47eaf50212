/**
 * identity/tokens — the JWTs Switchboard signs and checks: Graph access tokens (issued by the token
 * endpoint, verified on every Graph request) and the bot-framework token on notification POSTs.
 * Tokens always use the real clock, whatever `--clock` says (Part B "Clocks").
 */
import { createHash, randomBytes } from 'node:crypto';
import { SignJWT, decodeProtectedHeader, errors, jwtVerify, type JWTPayload } from 'jose';
import type { Application } from '../directory/model.js';
import { forbidden, unauthenticated } from '../graph/errors.js';
import type { SigningKeys } from './keys.js';

/** Graph's resource URI and application id: v1 tokens for Graph carry the URI; both are accepted. */
export const GRAPH_RESOURCE = 'https://graph.microsoft.com';
export const GRAPH_APP_ID = '00000003-0000-0000-c000-000000000000';
export const CALLS_ROLE = 'Calls.Initiate.All';
export const BOT_FRAMEWORK_ISSUER = 'https://api.botframework.com';

/** Azure AD issues client-credentials tokens for 3599 s; we do the same. */
export const ACCESS_TOKEN_LIFETIME_SECONDS = 3599;
export const NOTIFICATION_TOKEN_LIFETIME_SECONDS = 3600;
/** Accepted clock skew between the token's issuer and its verifier. */
export const CLOCK_TOLERANCE_SECONDS = 300;

export const issuerFor = (tenantId: string): string => `https://sts.windows.net/${tenantId}/`;

export interface AccessTokenClaims {
  aud: string;
  iss: string;
  tid: string;
  appid: string;
  azp?: string;
  /** `1`: client secret, `2`: certificate. */
  appidacr?: string;
  idtyp?: string;
  oid?: string;
  sub?: string;
  roles: string[];
  /** Present only on delegated (user) tokens, which the calls API refuses. */
  scp?: string;
  iat: number;
  nbf: number;
  exp: number;
  uti?: string;
  jti?: string;
  ver?: string;
}

export interface TokenResponse {
  access_token: string;
  expires_in: number;
  ext_expires_in: number;
  token_type: 'Bearer';
}

export interface IssueParams {
  tenantId: string;
  application: Application;
  /** Real clock, epoch seconds. */
  nowSeconds: number;
  /** How the client authenticated; sets `appidacr` (default `secret`). */
  clientAuthentication?: 'secret' | 'certificate';
}

export async function issueAccessToken(keys: SigningKeys, params: IssueParams): Promise<TokenResponse> {
  const { tenantId, application, nowSeconds } = params;
  await keys.refreshIfStale();
  const { kid, privateKey } = keys.current('graph');
  const issuer = issuerFor(tenantId);
  const objectId = stableUuid(`service-principal:${application.id.toLowerCase()}`);
  const uti = randomBytes(16).toString('base64url');
  const claims: JWTPayload = {
    tid: tenantId,
    appid: application.id,
    azp: application.id,
    appidacr: params.clientAuthentication === 'certificate' ? '2' : '1',
    azpacr: params.clientAuthentication === 'certificate' ? '2' : '1',
    idp: issuer,
    idtyp: 'app',
    oid: objectId,
    roles: [...application.roles],
    uti,
    ver: '1.0',
  };
  if (application.displayName !== undefined) claims['app_displayname'] = application.displayName;
  const accessToken = await new SignJWT(claims)
    .setProtectedHeader({ alg: 'RS256', typ: 'JWT', kid })
    .setAudience(GRAPH_RESOURCE)
    .setIssuer(issuer)
    .setSubject(objectId)
    .setIssuedAt(nowSeconds)
    .setNotBefore(nowSeconds)
    .setExpirationTime(nowSeconds + ACCESS_TOKEN_LIFETIME_SECONDS)
    .setJti(uti)
    .sign(privateKey);
  return {
    access_token: accessToken,
    expires_in: ACCESS_TOKEN_LIFETIME_SECONDS,
    ext_expires_in: ACCESS_TOKEN_LIFETIME_SECONDS,
    token_type: 'Bearer',
  };
}

/**
 * Tokens that passed every check, by their exact text (signature included, so no other string can match),
 * with the key set they were verified against. A bot sends the same token for up to an hour: its RS256
 * signature is checked once, not on every request. An entry is used only while the published keys are the
 * same set and the token is within its `nbf`/`exp` (with the same tolerance); anything else takes the full
 * path, which gives the precise error.
 */
const verifiedTokens = new WeakMap<SigningKeys, Map<string, { claims: AccessTokenClaims; jwks: unknown }>>();
const VERIFIED_TOKEN_CACHE_MAX = 1_000;

/**
 * Checks the `Authorization` header of a Graph request. Throws `unauthenticated` (401
 * InvalidAuthenticationToken) for anything wrong with the token itself, and `forbidden` (403) for a valid
 * token that lacks the application permission the calls API needs.
 */
export async function verifyAccessToken(
  keys: SigningKeys,
  authorization: string | undefined,
  nowSeconds: number = Math.floor(Date.now() / 1000),
): Promise<AccessTokenClaims> {
  const token = bearerToken(authorization);
  let cache = verifiedTokens.get(keys);
  const cached = cache?.get(token);
  if (
    cached &&
    cached.jwks === keys.localJwks('graph') &&
    cached.claims.nbf <= nowSeconds + CLOCK_TOLERANCE_SECONDS &&
    cached.claims.exp > nowSeconds - CLOCK_TOLERANCE_SECONDS
  ) {
    return { ...cached.claims, roles: [...cached.claims.roles] };
  }
  const claims = await verifyAccessTokenFully(keys, token, nowSeconds);
  if (!cache || cache.size >= VERIFIED_TOKEN_CACHE_MAX) {
    cache = new Map();
    verifiedTokens.set(keys, cache);
  }
  cache.set(token, { claims: { ...claims, roles: [...claims.roles] }, jwks: keys.localJwks('graph') });
  return claims;
}

async function verifyAccessTokenFully(keys: SigningKeys, token: string, nowSeconds: number): Promise<AccessTokenClaims> {

  const malformed = 'Access token is malformed: expected a signed JWT (three base64url parts separated by dots).';
  if (token.split('.').length !== 3) throw unauthenticated(malformed);
  let header: ReturnType<typeof decodeProtectedHeader>;
  try {
    header = decodeProtectedHeader(token);
  } catch {
    throw unauthenticated(malformed);
  }
  // Checked before any key is looked up, so `none` and HMAC tokens (HS256 keyed with our public key,
  // the classic algorithm-confusion attack) never reach a verifier.
  if (header.alg !== 'RS256') {
    throw unauthenticated(`Access token is signed with alg '${String(header.alg)}'; only RS256 tokens issued by this server are accepted.`);
  }
  if (typeof header.kid !== 'string' || header.kid === '') {
    throw unauthenticated("Access token has no 'kid' header: it was not issued by this server's token endpoint.");
  }
  if (!(await keys.refreshFor('graph', header.kid))) {
    throw unauthenticated(
      `Access token was signed with an unknown key (kid '${header.kid}'). Get a new token from this server's token endpoint.`,
    );
  }

  let payload: JWTPayload;
  try {
    ({ payload } = await jwtVerify(token, keys.localJwks('graph'), {
      algorithms: ['RS256'],
      clockTolerance: CLOCK_TOLERANCE_SECONDS,
      currentDate: new Date(nowSeconds * 1000),
      audience: [GRAPH_RESOURCE, GRAPH_APP_ID],
      requiredClaims: ['exp', 'nbf', 'iss', 'aud'],
    }));
  } catch (error) {
    throw unauthenticated(verificationMessage(error));
  }

  const tid = payload['tid'];
  if (typeof tid !== 'string' || tid === '') throw unauthenticated("Access token has no 'tid' (tenant id) claim.");
  if (payload.iss !== issuerFor(tid)) {
    throw unauthenticated(`Invalid issuer: the access token's iss is '${String(payload.iss)}'; expected '${issuerFor(tid)}'.`);
  }
  const appid = typeof payload['appid'] === 'string' ? payload['appid'] : payload['azp'];
  if (typeof appid !== 'string' || appid === '') throw unauthenticated("Access token has no 'appid' claim.");

  if (payload['scp'] !== undefined) {
    throw forbidden('Delegated permissions are not supported: the calls API needs the application permission Calls.Initiate.All.');
  }
  const rolesClaim = payload['roles'];
  const roles = Array.isArray(rolesClaim) ? rolesClaim.filter((r): r is string => typeof r === 'string') : [];
  if (!roles.includes(CALLS_ROLE)) {
    throw forbidden(
      `The access token lacks the application permission ${CALLS_ROLE} in its roles claim (application ${appid}); grant the role to the application in the directory.`,
    );
  }

  return toClaims(payload, tid, appid, roles);
}

/**
 * A notification token is reused for the same audience while the notifications key that signed it is still
 * the current one, for this long after it was issued (it lives NOTIFICATION_TOKEN_LIFETIME_SECONDS, so a
 * reused token still has at least 10 minutes left). Signing RS256 costs about a millisecond and a half of
 * CPU; one token per bot per 50 minutes instead of one per notification (the Bot Framework's own connector
 * reuses its tokens the same way).
 */
export const NOTIFICATION_TOKEN_REUSE_SECONDS = 50 * 60;
/** Audiences are the directory's applications; the cache is cleared if it ever holds more than this. */
const NOTIFICATION_TOKEN_CACHE_MAX = 10_000;
const notificationTokens = new WeakMap<SigningKeys, Map<string, { kid: string; iat: number; token: string }>>();

/**
 * The JWT on notification POSTs: signed with the `notifications` key, `aud` = the bot's application id.
 * Without an explicit `nowSeconds` (the sender's call), a token issued less than
 * NOTIFICATION_TOKEN_REUSE_SECONDS ago for the same audience with the current key is returned again; a key
 * rotation (picked up within the key re-read interval) makes the next token a new one.
 */
export async function signNotificationToken(
  keys: SigningKeys,
  audience: string,
  nowSeconds?: number,
  options: { serviceUrl?: string } = {},
): Promise<string> {
  await keys.refreshIfStale();
  const { kid, privateKey } = keys.current('notifications');
  const reusable = nowSeconds === undefined && options.serviceUrl === undefined;
  const now = nowSeconds ?? Math.floor(Date.now() / 1000);
  let cache = notificationTokens.get(keys);
  if (reusable) {
    const cached = cache?.get(audience);
    if (cached && cached.kid === kid && now >= cached.iat && now - cached.iat < NOTIFICATION_TOKEN_REUSE_SECONDS) return cached.token;
  }
  const token = await signNotification(privateKey, kid, audience, now, options);
  if (reusable) {
    if (!cache || cache.size >= NOTIFICATION_TOKEN_CACHE_MAX) {
      cache = new Map();
      notificationTokens.set(keys, cache);
    }
    cache.set(audience, { kid, iat: now, token });
  }
  return token;
}

function signNotification(
  privateKey: ReturnType<SigningKeys['current']>['privateKey'],
  kid: string,
  audience: string,
  nowSeconds: number,
  options: { serviceUrl?: string },
): Promise<string> {
  const claims: JWTPayload = options.serviceUrl === undefined ? {} : { serviceurl: options.serviceUrl };
  return new SignJWT(claims)
    .setProtectedHeader({ alg: 'RS256', typ: 'JWT', kid })
    .setIssuer(BOT_FRAMEWORK_ISSUER)
    .setAudience(audience)
    .setIssuedAt(nowSeconds)
    .setNotBefore(nowSeconds)
    .setExpirationTime(nowSeconds + NOTIFICATION_TOKEN_LIFETIME_SECONDS)
    .sign(privateKey);
}

function bearerToken(authorization: string | undefined): string {
  if (authorization === undefined || authorization.trim() === '') {
    throw unauthenticated("Access token is empty: send 'Authorization: Bearer <access token>'.");
  }
  // RFC 6750: the scheme name is case-insensitive.
  const match = /^\s*(\S+)(?:\s+(\S*))?\s*$/.exec(authorization);
  if (!match || match[1]?.toLowerCase() !== 'bearer') {
    throw unauthenticated("The Authorization header must use the Bearer scheme: 'Authorization: Bearer <access token>'.");
  }
  const token = match[2];
  if (!token) throw unauthenticated("Access token is empty: send 'Authorization: Bearer <access token>'.");
  return token;
}

function verificationMessage(error: unknown): string {
  if (error instanceof errors.JWTExpired) return 'Access token has expired or is not yet valid.';
  if (error instanceof errors.JWTClaimValidationFailed) {
    if (error.claim === 'nbf' || error.claim === 'iat') return 'Access token has expired or is not yet valid.';
    if (error.claim === 'aud') {
      return `Invalid audience: the access token's aud must be ${GRAPH_RESOURCE} (request scope ${GRAPH_RESOURCE}/.default).`;
    }
    return `Access token claim '${error.claim}' is invalid: ${error.reason === 'missing' ? 'it is missing' : error.message}.`;
  }
  if (error instanceof errors.JWSSignatureVerificationFailed) return 'Access token signature is invalid.';
  if (error instanceof errors.JOSEAlgNotAllowed) return 'Access token algorithm is not allowed; only RS256 is accepted.';
  if (error instanceof errors.JWKSNoMatchingKey) return 'Access token was signed with an unknown key.';
  if (error instanceof errors.JWSInvalid || error instanceof errors.JWTInvalid) return 'Access token is malformed.';
  return 'Access token validation failed.';
}

function toClaims(payload: JWTPayload, tid: string, appid: string, roles: string[]): AccessTokenClaims {
  const str = (name: string): string | undefined => (typeof payload[name] === 'string' ? (payload[name] as string) : undefined);
  const claims: AccessTokenClaims = {
    aud: Array.isArray(payload.aud) ? (payload.aud[0] ?? '') : (payload.aud ?? ''),
    iss: payload.iss ?? '',
    tid,
    appid,
    roles,
    iat: payload.iat ?? payload.nbf ?? 0,
    nbf: payload.nbf ?? 0,
    exp: payload.exp ?? 0,
  };
  for (const name of ['azp', 'appidacr', 'idtyp', 'oid', 'sub', 'uti', 'jti', 'ver'] as const) {
    const value = str(name);
    if (value !== undefined) claims[name] = value;
  }
  return claims;
}

/** A name-based (version 5, SHA-1) UUID: the same application always gets the same object id. */
function stableUuid(name: string): string {
  const namespace = Buffer.from('6f1c2b7e9d4a4e0f8c3b5a29d1e7f604', 'hex');
  const bytes = createHash('sha1').update(namespace).update(name).digest().subarray(0, 16);
  bytes[6] = (bytes[6]! & 0x0f) | 0x50;
  bytes[8] = (bytes[8]! & 0x3f) | 0x80;
  const hex = bytes.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
