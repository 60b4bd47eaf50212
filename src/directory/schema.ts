/**
 * directory/schema.ts — the structure and types of the directory file (Part B "Directory file (YAML)"),
 * as a TypeBox schema checked with Ajv by `load.ts`. Only shape lives here: every object is closed
 * (`additionalProperties: false`) so a misspelt key is an error instead of being silently ignored.
 * Meaning (E.164 numbers, duplicate ids, forwardTo targets, conflicting behaviours, https callback URIs)
 * is checked in `load.ts`, which needs the whole file at once.
 *
 * Defaults are applied by `load.ts` when it builds the `Directory`, not by Ajv, so the validated value
 * stays exactly what the file said; the `default` annotations below document them.
 */
import { Type, type Static } from '@sinclair/typebox';

/** Behaviour keys in the order the contract lists them; error messages print this list. */
export const BEHAVIOUR_KEYS = [
  'answerAfter',
  'decline',
  'after',
  'busy',
  'noAnswer',
  'unreachable',
  'manual',
  'forwardTo',
] as const;

/** Outcome keys: each says what the party does when it rings, so at most one may be present. */
export const OUTCOME_KEYS = ['answerAfter', 'decline', 'busy', 'noAnswer', 'unreachable', 'manual'] as const;

export const DEFAULT_LIMITS = { requestsPer15Seconds: 50_000, bodyBytes: 1_048_576 } as const;
export const DEFAULT_NOTIFICATIONS = { giveUpAfterSeconds: 86_400 } as const;
/** Admin keys shorter than this are refused: the key guards the whole simulator API. */
export const ADMIN_KEY_MIN_LENGTH = 8;

const closed = { additionalProperties: false } as const;

// Ids are opaque non-empty strings. Microsoft's are GUIDs, but the format is deliberately not enforced:
// demo and test directories use readable ids, and nothing in Switchboard parses them.
const Id = Type.String({ minLength: 1 });
const Seconds = Type.Number({ minimum: 0 });
/** `true` only: a behaviour flag is turned off by leaving it out, not by writing `false`. */
const Flag = Type.Literal(true);

export const BehaviourSchema = Type.Object(
  {
    answerAfter: Type.Optional(Seconds),
    decline: Type.Optional(Flag),
    after: Type.Optional(Seconds),
    busy: Type.Optional(Flag),
    noAnswer: Type.Optional(Flag),
    unreachable: Type.Optional(Flag),
    manual: Type.Optional(Flag),
    forwardTo: Type.Optional(Type.String({ minLength: 1 })),
  },
  closed,
);

export const InstanceSchema = Type.Object(
  {
    id: Id,
    displayName: Type.Optional(Type.String()),
    phone: Type.Optional(Type.String()),
  },
  closed,
);

export const ApplicationSchema = Type.Object(
  {
    id: Id,
    displayName: Type.Optional(Type.String()),
    clientSecret: Type.Optional(Type.String({ minLength: 1 })),
    certificate: Type.Optional(Type.String({ minLength: 1 })),
    roles: Type.Optional(Type.Array(Type.String({ minLength: 1 }), { default: [] })),
    callbackUri: Type.String({ minLength: 1 }),
    instances: Type.Optional(Type.Array(InstanceSchema, { default: [] })),
    behaviour: Type.Optional(BehaviourSchema),
  },
  closed,
);

export const UserSchema = Type.Object(
  {
    id: Id,
    displayName: Type.Optional(Type.String()),
    behaviour: Type.Optional(BehaviourSchema),
  },
  closed,
);

export const TenantSchema = Type.Object(
  {
    id: Id,
    displayName: Type.Optional(Type.String()),
    applications: Type.Optional(Type.Array(ApplicationSchema, { default: [] })),
    users: Type.Optional(Type.Array(UserSchema, { default: [] })),
  },
  closed,
);

export const PhoneSchema = Type.Object(
  {
    number: Type.String(),
    displayName: Type.Optional(Type.String()),
    behaviour: Type.Optional(BehaviourSchema),
  },
  closed,
);

export const DirectoryFileSchema = Type.Object(
  {
    tenants: Type.Array(TenantSchema, { minItems: 1 }),
    phones: Type.Optional(Type.Array(PhoneSchema, { default: [] })),
    admin: Type.Optional(Type.Object({ key: Type.String({ minLength: ADMIN_KEY_MIN_LENGTH }) }, closed)),
    limits: Type.Optional(
      Type.Object(
        {
          requestsPer15Seconds: Type.Optional(
            Type.Integer({ minimum: 1, default: DEFAULT_LIMITS.requestsPer15Seconds }),
          ),
          bodyBytes: Type.Optional(Type.Integer({ minimum: 1, default: DEFAULT_LIMITS.bodyBytes })),
        },
        closed,
      ),
    ),
    notifications: Type.Optional(
      Type.Object(
        {
          allowHosts: Type.Optional(Type.Array(Type.String({ minLength: 1 }), { default: [] })),
          giveUpAfterSeconds: Type.Optional(
            Type.Number({ exclusiveMinimum: 0, default: DEFAULT_NOTIFICATIONS.giveUpAfterSeconds }),
          ),
        },
        closed,
      ),
    ),
  },
  closed,
);

/** The file as written, once it has passed the schema (before defaults and semantic checks). */
export type DirectoryFile = Static<typeof DirectoryFileSchema>;
export type BehaviourFile = Static<typeof BehaviourSchema>;
