/**
 * Request body schemas (TypeBox → JSON Schema, validated by fastify's Ajv). One source of truth: the same
 * schemas validate requests and will describe them in the OpenAPI document. Bounds come from timeouts.ts.
 * Unknown properties are accepted and ignored, as Microsoft's service does; wrong types are 400.
 */
import { Type, type Static } from '@sinclair/typebox';
import {
  REDIRECT_MAX_TARGETS,
  REDIRECT_TIMEOUT_MAX_SECONDS,
  REDIRECT_TIMEOUT_MIN_SECONDS,
} from '../calls/timeouts.js';

const IdentitySchema = Type.Object(
  {
    '@odata.type': Type.Optional(Type.String()),
    id: Type.String({ minLength: 1, maxLength: 256 }),
    displayName: Type.Optional(Type.Union([Type.String({ maxLength: 256 }), Type.Null()])),
    tenantId: Type.Optional(Type.Union([Type.String({ maxLength: 256 }), Type.Null()])),
  },
  { additionalProperties: true },
);

const IdentitySetSchema = Type.Object(
  {
    '@odata.type': Type.Optional(Type.String()),
    user: Type.Optional(IdentitySchema),
    application: Type.Optional(IdentitySchema),
    applicationInstance: Type.Optional(IdentitySchema),
    phone: Type.Optional(IdentitySchema),
    guest: Type.Optional(IdentitySchema),
    encrypted: Type.Optional(IdentitySchema),
  },
  { additionalProperties: true },
);

export const InvitationParticipantInfoSchema = Type.Object(
  {
    '@odata.type': Type.Optional(Type.String()),
    identity: IdentitySetSchema,
    endpointType: Type.Optional(Type.Union([Type.String(), Type.Null()])),
    replacesCallId: Type.Optional(Type.Union([Type.String(), Type.Null()])),
    hidden: Type.Optional(Type.Union([Type.Boolean(), Type.Null()])),
    participantId: Type.Optional(Type.Union([Type.String(), Type.Null()])),
  },
  { additionalProperties: true },
);

const CallbackUri = Type.String({ minLength: 1, maxLength: 2048 });

export const RedirectBodySchema = Type.Object(
  {
    targets: Type.Array(InvitationParticipantInfoSchema, { minItems: 1, maxItems: REDIRECT_MAX_TARGETS }),
    timeout: Type.Optional(Type.Integer({ minimum: REDIRECT_TIMEOUT_MIN_SECONDS, maximum: REDIRECT_TIMEOUT_MAX_SECONDS })),
    maskCallee: Type.Optional(Type.Boolean()),
    maskCaller: Type.Optional(Type.Boolean()),
    targetDisposition: Type.Optional(
      Type.Union([Type.Literal('default'), Type.Literal('simultaneousRing'), Type.Literal('forward'), Type.Null()]),
    ),
    callbackUri: Type.Optional(CallbackUri),
    routingPolicies: Type.Optional(
      Type.Array(
        Type.Union([
          Type.Literal('none'),
          Type.Literal('noMissedCall'),
          Type.Literal('disableForwardingExceptPhone'),
          Type.Literal('disableForwarding'),
          Type.Literal('preferSkypeForBusiness'),
          Type.Literal('unknownFutureValue'),
        ]),
        { maxItems: 8 },
      ),
    ),
  },
  { additionalProperties: true },
);
export type RedirectBody = Static<typeof RedirectBodySchema>;

export const RejectBodySchema = Type.Object(
  {
    reason: Type.Optional(Type.Union([Type.Literal('none'), Type.Literal('busy'), Type.Literal('forbidden'), Type.Null()])),
    callbackUri: Type.Optional(Type.Union([CallbackUri, Type.Null()])),
  },
  { additionalProperties: true },
);
export type RejectBody = Static<typeof RejectBodySchema>;

/** Media configuration is accepted and ignored: Switchboard has no media yet. */
export const AnswerBodySchema = Type.Object(
  {
    callbackUri: Type.Optional(Type.Union([CallbackUri, Type.Null()])),
    mediaConfig: Type.Optional(Type.Unknown()),
    acceptedModalities: Type.Optional(Type.Array(Type.String(), { maxItems: 8 })),
    participantCapacity: Type.Optional(Type.Integer({ minimum: 0 })),
    callOptions: Type.Optional(Type.Unknown()),
  },
  { additionalProperties: true },
);
export type AnswerBody = Static<typeof AnswerBodySchema>;

export const CallIdParamsSchema = Type.Object({ id: Type.String({ minLength: 1, maxLength: 128 }) });
