/**
 * The error catalogue. Everything below the HTTP layer throws one of these typed errors; `toGraphError`
 * is the one place where they become a Graph error (status, `error.code`, message). Codes follow what
 * Microsoft's calls service answers (`7505` tenant mismatch, `8522` call not found).
 */

export type ErrorKind =
  | 'badRequest'
  | 'unauthenticated'
  | 'forbidden'
  | 'tenantMismatch'
  | 'callNotFound'
  | 'notFound'
  | 'methodNotAllowed'
  | 'conflict'
  | 'payloadTooLarge'
  | 'unsupportedMediaType'
  | 'tooManyRequests'
  | 'internal';

export class SwitchboardError extends Error {
  constructor(
    readonly kind: ErrorKind,
    message: string,
    /** Seconds, for `tooManyRequests`. */
    readonly retryAfter?: number,
  ) {
    super(message);
    this.name = 'SwitchboardError';
  }
}

export const badRequest = (message: string) => new SwitchboardError('badRequest', message);
export const unauthenticated = (message: string) => new SwitchboardError('unauthenticated', message);
export const forbidden = (message: string) => new SwitchboardError('forbidden', message);
export const tenantMismatch = () => new SwitchboardError('tenantMismatch', 'Request authorization tenant mismatch.');
export const callNotFound = (message = 'Call not found.') => new SwitchboardError('callNotFound', message);
export const notFound = (message: string) => new SwitchboardError('notFound', message);
export const conflict = (message: string) => new SwitchboardError('conflict', message);

interface GraphErrorShape {
  status: number;
  code: string;
}

const CATALOGUE: Record<ErrorKind, GraphErrorShape> = {
  badRequest: { status: 400, code: 'BadRequest' },
  unauthenticated: { status: 401, code: 'InvalidAuthenticationToken' },
  forbidden: { status: 403, code: 'Forbidden' },
  tenantMismatch: { status: 403, code: '7505' },
  callNotFound: { status: 404, code: '8522' },
  notFound: { status: 404, code: 'NotFound' },
  methodNotAllowed: { status: 405, code: 'MethodNotAllowed' },
  conflict: { status: 409, code: 'Conflict' },
  payloadTooLarge: { status: 413, code: 'RequestEntityTooLarge' },
  unsupportedMediaType: { status: 415, code: 'UnsupportedMediaType' },
  tooManyRequests: { status: 429, code: 'TooManyRequests' },
  internal: { status: 500, code: 'InternalServerError' },
};

export interface GraphErrorBody {
  error: {
    code: string;
    message: string;
    innerError: { 'request-id': string; date: string; 'client-request-id': string };
  };
}

export interface RequestIds {
  requestId: string;
  clientRequestId: string;
}

/** The status and Graph JSON body for any thrown value; unknown errors become a 500 without details. */
export function toGraphError(error: unknown, ids: RequestIds, date: Date): { status: number; body: GraphErrorBody } {
  const typed = error instanceof SwitchboardError ? error : new SwitchboardError('internal', 'An internal error occurred.');
  const { status, code } = CATALOGUE[typed.kind];
  return {
    status,
    body: {
      error: {
        code,
        message: typed.message,
        innerError: { 'request-id': ids.requestId, date: date.toISOString(), 'client-request-id': ids.clientRequestId },
      },
    },
  };
}
