/**
 * identity/client-assertion — certificate credentials on the token endpoint: the `client_assertion` JWT
 * (RFC 7523) that `@azure/msal-node` signs with the application's private key when configured with
 * `clientCertificate: {thumbprintSha256 | thumbprint, privateKey}`:
 *   header `{alg: PS256, x5t#S256}` (or `{alg: RS256, x5t}` with a SHA-1 thumbprint), optionally `x5c`;
 *   claims `aud` = the token endpoint URL, `iss` = `sub` = the client id, `jti`, `nbf`, `exp` (10 min).
 * It is verified against the `certificate` (PEM) the application has in the directory; failures are the
 * AADSTS errors Azure AD answers, so MSAL raises the same exceptions.
 */
import { X509Certificate, createHash, type KeyObject } from 'node:crypto';
import { decodeProtectedHeader, errors, jwtVerify, type JWTPayload } from 'jose';
import type { Application } from '../directory/model.js';
import { AadError } from './aad-error.js';
import { CLOCK_TOLERANCE_SECONDS } from './tokens.js';

export const CLIENT_ASSERTION_TYPE = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';
/** Azure AD takes RS256 and PS256 assertions (MSAL uses PS256 with a SHA-256 thumbprint, RS256 with SHA-1). */
const ASSERTION_ALGORITHMS = ['RS256', 'PS256'];
/** An assertion longer than this is not one (a certificate chain in x5c is a few KiB). */
const MAX_ASSERTION_LENGTH = 16 * 1024;

interface CertificateInfo {
  publicKey: KeyObject;
  /** base64url SHA-1 and SHA-256 of the DER certificate, as the x5t / x5t#S256 headers carry them. */
  x5t: string;
  x5tS256: string;
  /** Hex SHA-1 thumbprint, as the Azure portal shows it. */
  thumbprintHex: string;
  validFrom: number;
  validTo: number;
}

const certificates = new Map<string, CertificateInfo>();

/** The parsed certificate of an application (cached by PEM). */
export function certificateInfo(pem: string): CertificateInfo {
  const cached = certificates.get(pem);
  if (cached) return cached;
  const x509 = new X509Certificate(pem);
  const info: CertificateInfo = {
    publicKey: x509.publicKey,
    x5t: createHash('sha1').update(x509.raw).digest('base64url'),
    x5tS256: createHash('sha256').update(x509.raw).digest('base64url'),
    thumbprintHex: createHash('sha1').update(x509.raw).digest('hex').toUpperCase(),
    validFrom: Date.parse(x509.validFrom),
    validTo: Date.parse(x509.validTo),
  };
  certificates.set(pem, info);
  return info;
}

export interface AssertionCheck {
  application: Application;
  /** The `client_id` of the request. */
  clientId: string;
  /** The token endpoint URLs the `aud` claim may name (compared case-insensitively). */
  audiences: string[];
  /** Real clock, epoch seconds. */
  nowSeconds: number;
}

const invalidSignature = (application: Application, reason: string, thumbprint?: string): AadError =>
  new AadError(
    401,
    'invalid_client',
    700027,
    `Client assertion failed signature validation. [Reason - ${reason}${thumbprint ? `, Thumbprint of key used by client: '${thumbprint}'` : ''}, Found keys for app Id '${application.id}': the certificate in Switchboard's directory file.]`,
  );

const malformed = (detail: string): AadError => new AadError(400, 'invalid_request', 50027, `JWT token is invalid or malformed. ${detail}`);

/** Verifies a client assertion for `check.application`; throws the AAD error Azure AD would answer. */
export async function verifyClientAssertion(assertion: string, check: AssertionCheck): Promise<void> {
  const { application } = check;
  if (!application.certificate) {
    throw invalidSignature(application, `The key was not found: application '${application.id}' has no certificate in the directory file (add certificate: <PEM>, or authenticate with its clientSecret)`);
  }
  if (assertion.length > MAX_ASSERTION_LENGTH || assertion.split('.').length !== 3) {
    throw malformed('The client_assertion must be a signed JWT (three base64url parts separated by dots).');
  }
  let header: ReturnType<typeof decodeProtectedHeader>;
  try {
    header = decodeProtectedHeader(assertion);
  } catch {
    throw malformed('The client_assertion header is not valid base64url JSON.');
  }
  if (typeof header.alg !== 'string' || !ASSERTION_ALGORITHMS.includes(header.alg)) {
    throw malformed(`The client_assertion is signed with alg '${String(header.alg)}'; a certificate credential is signed with RS256 or PS256.`);
  }

  const cert = certificateInfo(application.certificate);
  const s256 = header['x5t#S256'];
  const s1 = header.x5t;
  if (typeof s256 === 'string' && s256 !== cert.x5tS256) throw invalidSignature(application, 'The key was not found.', s256);
  if (s256 === undefined && typeof s1 === 'string' && s1 !== cert.x5t) throw invalidSignature(application, 'The key was not found.', s1);
  const nowMs = check.nowSeconds * 1000;
  if (nowMs < cert.validFrom || nowMs > cert.validTo) {
    throw invalidSignature(application, 'The key used is expired.', cert.thumbprintHex);
  }

  let payload: JWTPayload;
  try {
    ({ payload } = await jwtVerify(assertion, cert.publicKey, {
      algorithms: ASSERTION_ALGORITHMS,
      currentDate: new Date(nowMs),
      clockTolerance: CLOCK_TOLERANCE_SECONDS,
      requiredClaims: ['exp'],
    }));
  } catch (error) {
    if (error instanceof errors.JWTExpired || (error instanceof errors.JWTClaimValidationFailed && (error.claim === 'nbf' || error.claim === 'iat'))) {
      const claims = (error as errors.JWTExpired).payload ?? {};
      throw new AadError(
        401,
        'invalid_client',
        700024,
        `Client assertion is not within its valid time range. Current time: ${new Date(nowMs).toISOString()}, assertion valid from ${typeof claims.nbf === 'number' ? new Date(claims.nbf * 1000).toISOString() : '(none)'}, expiry time of assertion ${typeof claims.exp === 'number' ? new Date(claims.exp * 1000).toISOString() : '(none)'}.`,
      );
    }
    if (error instanceof errors.JWTClaimValidationFailed) throw malformed(`The client_assertion claim '${error.claim}' is invalid (${error.reason}).`);
    if (error instanceof errors.JWSSignatureVerificationFailed) {
      throw invalidSignature(application, 'The assertion signature does not verify with the certificate registered for the application.', typeof s256 === 'string' ? s256 : typeof s1 === 'string' ? s1 : undefined);
    }
    throw malformed('The client_assertion could not be read as a signed JWT.');
  }

  if (payload.iss !== check.clientId || payload.sub !== check.clientId) {
    throw new AadError(
      401,
      'invalid_client',
      700021,
      `Client assertion application identifier doesn't match 'client_id' parameter. Review the documentation at https://learn.microsoft.com/entra/identity-platform/certificate-credentials: iss and sub must both be '${check.clientId}'.`,
    );
  }
  const audiences = (Array.isArray(payload.aud) ? payload.aud : [payload.aud]).filter((a): a is string => typeof a === 'string');
  const accepted = new Set(check.audiences.map((a) => a.toLowerCase()));
  if (!audiences.some((a) => accepted.has(a.toLowerCase()))) {
    throw new AadError(
      401,
      'invalid_client',
      700023,
      `Client assertion audience claim does not match Realm issuer: aud must be this server's token endpoint, ${check.audiences[0] ?? ''}.`,
    );
  }
}
