/**
 * directory/load.ts — reads the directory file (Part B "Directory file (YAML)" and "Configuration and
 * operation details") and turns it into a validated `Directory`, or throws a `DirectoryError` listing
 * every problem found, each as `<source>: <field path>: <what is wrong>`.
 *
 * Stages, each collecting problems instead of stopping at the first:
 *   1. YAML syntax (`yaml`), reported with line and column; nothing else runs if the YAML is broken.
 *   2. `${NAME}` substitution from the environment in every string value.
 *   3. Structure and types: the TypeBox schema in `schema.ts`, validated by Ajv with `allErrors`.
 *   4. Meaning: duplicate ids and numbers, E.164, credentials, https callback URIs, behaviours,
 *      forwardTo targets. These run on whatever parts of the file have the right shape, so a type error
 *      in one tenant does not hide a duplicate id in another.
 * Only when no problem was found is the `Directory` built, with defaults filled and `tenantId` set.
 */
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Ajv, type ErrorObject } from 'ajv';
import { isPossiblePhoneNumber } from 'libphonenumber-js';
import { parseDocument } from 'yaml';
import type { Application, ApplicationInstance, Behaviour, Directory, Phone, Tenant, User } from './model.js';
import {
  BEHAVIOUR_KEYS,
  DEFAULT_LIMITS,
  DEFAULT_NOTIFICATIONS,
  DirectoryFileSchema,
  OUTCOME_KEYS,
  type BehaviourFile,
  type DirectoryFile,
} from './schema.js';

/** One thing wrong with the file. `path` is a field path like `tenants[0].users[1].behaviour`. */
export interface DirectoryProblem {
  /** Field path; absent for problems about the file as a whole or YAML syntax. */
  path?: string;
  /** 1-based position, for YAML syntax problems. */
  line?: number;
  column?: number;
  message: string;
}

/** The directory file is unusable. `message` is the user-facing list, one problem per line. */
export class DirectoryError extends Error {
  override readonly name = 'DirectoryError';
  constructor(
    readonly source: string,
    readonly problems: readonly DirectoryProblem[],
  ) {
    super(problems.map((p) => formatProblem(source, p)).join('\n'));
  }
}

function formatProblem(source: string, p: DirectoryProblem): string {
  if (p.line !== undefined) return `${source}:${p.line}:${p.column ?? 1}: ${p.message}`;
  if (p.path) return `${source}: ${p.path}: ${p.message}`;
  return `${source}: ${p.message}`;
}

const E164 = /^\+[1-9]\d{1,14}$/;

/**
 * True for an E.164 number that libphonenumber finds possible for its country code. "Possible" (length)
 * rather than "valid" (allocated ranges) on purpose: demo numbers such as +14255550100 are fictional.
 */
export function isE164(number: string): boolean {
  return E164.test(number) && isPossiblePhoneNumber(number);
}

/** Reads and validates a directory file; problems name the file as given in `path`. */
export function loadDirectoryFile(path: string, env: Record<string, string | undefined> = process.env): Directory {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    const reason = (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (err as Error).message;
    throw new DirectoryError(path, [{ message: `cannot read the directory file: ${reason}` }]);
  }
  return parseDirectory(text, path, env);
}

/**
 * Parses and validates directory YAML. `source` names the text in messages (usually its file path).
 * `env` supplies `${NAME}` values; it defaults to `process.env` like `loadDirectoryFile`.
 */
export function parseDirectory(
  text: string,
  source: string,
  env: Record<string, string | undefined> = process.env,
): Directory {
  const raw = parseYaml(text.replace(/^\uFEFF/, ''), source);

  const problems: DirectoryProblem[] = [];
  // Fields whose value still holds an unresolved `${NAME}`: later stages would only repeat the complaint
  // in other words (e.g. "callbackUri must be https"), so their problems on those fields are dropped.
  const unresolved = new Set<string>();
  const data = substitute(raw, [], env, problems, unresolved);

  const later: DirectoryProblem[] = [];
  if (!validateFile(data)) later.push(...(validateFile.errors ?? []).map(describeSchemaError));
  later.push(...checkMeaning(data));
  problems.push(...later.filter((p) => p.path === undefined || !unresolved.has(p.path)));

  if (problems.length > 0) throw new DirectoryError(source, dedupe(problems));
  // No problems means the schema accepted `data` (the type guard above narrows only inside the `if`).
  return build(data as DirectoryFile);
}

// ---------------------------------------------------------------------------------------------------
// 1. YAML

const MAX_YAML_ERRORS = 5;

function parseYaml(text: string, source: string): unknown {
  // `merge: true` allows `<<: *anchor`, handy for sharing a behaviour between entries.
  const doc = parseDocument(text, { merge: true, prettyErrors: true });
  // Warnings (e.g. an unknown `!tag`) are treated as errors: the value they produce is not what was meant.
  const issues = [...doc.errors, ...doc.warnings].sort((a, b) => a.pos[0] - b.pos[0]);
  if (issues.length > 0) {
    // One slip (an unclosed bracket) can make the parser complain about every token after it; the first
    // few errors locate it, the rest is noise.
    const shown = issues.slice(0, MAX_YAML_ERRORS).map((e): DirectoryProblem => {
      const pos = e.linePos?.[0];
      // prettyErrors appends " at line L, column C:" and a source excerpt; the position is printed
      // in front instead, so keep only the first sentence.
      const message = `YAML: ${(e.message.split('\n')[0] ?? e.message).replace(/ at line \d+, column \d+:?$/, '')}`;
      return pos ? { line: pos.line, column: pos.col, message } : { message };
    });
    const more = issues.length - shown.length;
    if (more > 0) shown.push({ message: `YAML: ${more} more error${more === 1 ? '' : 's'} after these (fix the first ones first)` });
    throw new DirectoryError(source, shown);
  }
  try {
    return doc.toJS();
  } catch (err) {
    // toJS throws for an alias whose anchor is missing or one expanded too many times.
    throw new DirectoryError(source, [{ message: `YAML: ${(err as Error).message}` }]);
  }
}

// ---------------------------------------------------------------------------------------------------
// 2. ${NAME} substitution

type Segment = string | number;

function formatPath(path: readonly Segment[]): string {
  let out = '';
  for (const s of path) {
    if (typeof s === 'number') out += `[${s}]`;
    else if (/^[A-Za-z_][A-Za-z0-9_]*$/.test(s)) out += out ? `.${s}` : s;
    else out += `[${JSON.stringify(s)}]`;
  }
  return out;
}

// `$${NAME}` is an escape for a literal `${NAME}` (a secret may contain that text).
const VARIABLE = /\$(\$?)\{([A-Z0-9_]+)\}/g;

function substitute(
  value: unknown,
  path: Segment[],
  env: Record<string, string | undefined>,
  problems: DirectoryProblem[],
  unresolved: Set<string>,
): unknown {
  if (typeof value === 'string') {
    return value.replace(VARIABLE, (token: string, escape: string, name: string) => {
      if (escape) return token.slice(1);
      const replacement = env[name];
      if (replacement === undefined) {
        const where = formatPath(path);
        unresolved.add(where);
        problems.push({ path: where, message: `environment variable ${name} is not set (used as \${${name}})` });
        return token;
      }
      return replacement;
    });
  }
  if (Array.isArray(value)) return value.map((v, i) => substitute(v, [...path, i], env, problems, unresolved));
  if (isRecord(value)) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = substitute(v, [...path, k], env, problems, unresolved);
    return out;
  }
  return value;
}

// ---------------------------------------------------------------------------------------------------
// 3. Structure and types

const validateFile = new Ajv({ allErrors: true, verbose: true, strict: true }).compile<DirectoryFile>(
  DirectoryFileSchema,
);

function pointerToPath(pointer: string): Segment[] {
  if (!pointer) return [];
  return pointer
    .slice(1)
    .split('/')
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'))
    .map((s) => (/^\d+$/.test(s) ? Number(s) : s));
}

const TYPE_NAMES: Record<string, string> = {
  string: 'a string',
  number: 'a number',
  integer: 'a whole number',
  boolean: 'true or false',
  object: 'a mapping',
  array: 'a list',
  null: 'nothing',
};

function describeValue(v: unknown): string {
  if (v === null || v === undefined) return 'an empty value';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'number') {
    if (Number.isNaN(v)) return '.nan';
    if (!Number.isFinite(v)) return v > 0 ? '.inf' : '-.inf';
    return `the number ${v}`;
  }
  if (typeof v === 'boolean') return `${v}`;
  if (typeof v === 'string') return `the string ${JSON.stringify(v)}`;
  if (isRecord(v)) return 'a mapping';
  return typeof v;
}

function describeSchemaError(e: ErrorObject): DirectoryProblem {
  const segments = pointerToPath(e.instancePath);
  const path = formatPath(segments);
  const at = (message: string, where = path): DirectoryProblem => (where ? { path: where, message } : { message });
  const params = e.params as Record<string, unknown>;

  switch (e.keyword) {
    case 'additionalProperties': {
      const key = String(params['additionalProperty']);
      const properties = (e.parentSchema as { properties?: Record<string, unknown> } | undefined)?.properties;
      const allowed = properties ? ` (allowed: ${Object.keys(properties).join(', ')})` : '';
      const what = segments.at(-1) === 'behaviour' ? 'behaviour key' : segments.length === 0 ? 'top-level key' : 'key';
      return at(`unknown ${what} ${JSON.stringify(key)}${allowed}`);
    }
    case 'required': {
      const missing = String(params['missingProperty']);
      const where = formatPath([...segments, missing]);
      if (missing === 'tenants') return at('missing (at least one tenant is required)', where);
      return at('missing (required)', where);
    }
    case 'type': {
      const expected = String(params['type']);
      if (segments.length === 0) return at(`the file must be a mapping with a "tenants" list (got ${describeValue(e.data)})`);
      let message = `expected ${TYPE_NAMES[expected] ?? expected}, got ${describeValue(e.data)}`;
      // YAML has .inf and .nan; they are numbers to JavaScript but not to JSON Schema.
      if (typeof e.data === 'number' && !Number.isFinite(e.data)) {
        message = `expected a finite number, got ${describeValue(e.data)}`;
      }
      // Unquoted `+14255550100` is an integer in YAML, and `id: 123` a number: both need quotes.
      if (expected === 'string' && (typeof e.data === 'number' || typeof e.data === 'boolean')) {
        message += '; put the value in quotes';
      }
      if (e.data === null && (expected === 'array' || expected === 'object')) {
        message += `; write ${expected === 'array' ? '[]' : '{}'} or remove the key`;
      }
      return at(message);
    }
    case 'const':
      if (params['allowedValue'] === true) return at('must be true (leave the key out to turn it off)');
      return at(`must be ${JSON.stringify(params['allowedValue'])}`);
    case 'minLength': {
      const limit = Number(params['limit']);
      if (limit <= 1) return at('must not be empty');
      return at(`must be at least ${limit} characters (got ${String(e.data).length})`);
    }
    case 'minimum':
      return at(`must be ${String(params['limit'])} or more (got ${String(e.data)})`);
    case 'exclusiveMinimum':
      return at(`must be more than ${String(params['limit'])} (got ${String(e.data)})`);
    case 'minItems':
      if (path === 'tenants') return at('at least one tenant is required');
      return at(`must have at least ${String(params['limit'])} entries`);
    default:
      return at(e.message ?? `fails ${e.keyword}`);
  }
}

// ---------------------------------------------------------------------------------------------------
// 4. Meaning

type IdKind = 'tenant' | 'application' | 'application instance' | 'user';

interface BehaviourSite {
  path: string;
  behaviour: Record<string, unknown>;
  /** Forwarding-graph node of the party that has this behaviour. */
  node: string;
}

/**
 * Semantic checks. Works on `unknown` because it also runs on files that failed the schema: every
 * access is guarded, and a field of the wrong type is skipped (the schema stage has reported it).
 */
function checkMeaning(data: unknown): DirectoryProblem[] {
  const problems: DirectoryProblem[] = [];
  const problem = (path: string, message: string): void => {
    problems.push({ path, message });
  };

  // One id namespace for every kind: the Graph API and the simulator address tenants, bots, instances
  // and users by id alone. Keys are lower-cased because GUIDs are case-insensitive, so "ABC…" and
  // "abc…" would name the same object to a client.
  const ids = new Map<string, { path: string; kind: IdKind }>();
  const idKinds = new Map<string, IdKind>();
  const registerId = (path: string, id: unknown, kind: IdKind): void => {
    if (typeof id !== 'string' || id === '') return;
    if (id.startsWith('+')) {
      // forwardTo and simulator target ids read a leading '+' as a phone number.
      problem(path, `id ${JSON.stringify(id)} must not start with "+" (reserved for phone numbers)`);
    }
    const key = id.toLowerCase();
    const first = ids.get(key);
    if (first) problem(path, `duplicate id ${JSON.stringify(id)} (already used by ${first.kind} ${first.path})`);
    else ids.set(key, { path, kind });
    if (!idKinds.has(id)) idKinds.set(id, kind);
  };

  // Instance numbers and PSTN numbers share a namespace: a call to a number must reach one party.
  const numbers = new Map<string, string>();
  const checkNumber = (path: string, number: string): void => {
    const wrong = numberProblem(number);
    if (wrong) return problem(path, wrong);
    const first = numbers.get(number);
    if (first) problem(path, `duplicate number ${JSON.stringify(number)} (already used by ${first})`);
    else numbers.set(number, path);
  };

  const behaviours: BehaviourSite[] = [];
  const addBehaviour = (ownerPath: string, owner: Record<string, unknown>, node: string): void => {
    const behaviour = owner['behaviour'];
    if (isRecord(behaviour)) behaviours.push({ path: `${ownerPath}.behaviour`, behaviour, node });
  };
  // Forwarding graph aliases: an application instance's number leads to its application's node.
  const numberNodes = new Map<string, string>();

  if (!isRecord(data)) return problems; // the schema stage said the file must be a mapping

  for (const [t, tenant] of records(data['tenants'])) {
    const tPath = `tenants[${t}]`;
    registerId(`${tPath}.id`, tenant['id'], 'tenant');

    for (const [a, app] of records(tenant['applications'])) {
      const aPath = `${tPath}.applications[${a}]`;
      registerId(`${aPath}.id`, app['id'], 'application');
      const appNode = `application ${String(app['id'])}`;
      if (!('clientSecret' in app) && !('certificate' in app)) problem(aPath, 'missing clientSecret (or certificate)');
      const certificate = app['certificate'];
      if (typeof certificate === 'string' && certificate !== '') {
        const wrong = certificateProblem(certificate);
        if (wrong) problem(`${aPath}.certificate`, wrong);
      }
      const callbackUri = app['callbackUri'];
      if (typeof callbackUri === 'string' && callbackUri !== '') {
        const wrong = callbackProblem(callbackUri);
        if (wrong) problem(`${aPath}.callbackUri`, wrong);
      }
      for (const [i, instance] of records(app['instances'])) {
        const iPath = `${aPath}.instances[${i}]`;
        registerId(`${iPath}.id`, instance['id'], 'application instance');
        const phone = instance['phone'];
        if (typeof phone === 'string') {
          checkNumber(`${iPath}.phone`, phone);
          if (!numberNodes.has(phone)) numberNodes.set(phone, appNode);
        }
      }
      addBehaviour(aPath, app, appNode);
    }

    for (const [u, user] of records(tenant['users'])) {
      const uPath = `${tPath}.users[${u}]`;
      registerId(`${uPath}.id`, user['id'], 'user');
      addBehaviour(uPath, user, `user ${String(user['id'])}`);
    }
  }

  for (const [p, phone] of records(data['phones'])) {
    const pPath = `phones[${p}]`;
    const number = phone['number'];
    if (typeof number === 'string') {
      checkNumber(`${pPath}.number`, number);
      if (!numberNodes.has(number)) numberNodes.set(number, `number ${number}`);
      addBehaviour(pPath, phone, `number ${number}`);
    }
  }

  const notifications = data['notifications'];
  if (isRecord(notifications) && Array.isArray(notifications['allowHosts'])) {
    notifications['allowHosts'].forEach((host: unknown, h) => {
      // Hosts are compared with a URL's host name; a URL or path here would never match.
      if (typeof host === 'string' && /[\s/@]/.test(host)) {
        problem(
          `notifications.allowHosts[${h}]`,
          `${JSON.stringify(host)} is not a host name (write the host only, e.g. "10.0.0.5" or "hooks.internal")`,
        );
      }
    });
  }

  // Behaviours: keys and types were checked by the schema; here, how the keys combine.
  const forwards = new Map<string, { target: string; path: string; forwardTo: string }>();
  for (const { path, behaviour, node } of behaviours) {
    const outcomes = OUTCOME_KEYS.filter((k) => k in behaviour);
    if (outcomes.length > 1) {
      problem(
        path,
        `conflicting behaviours ${listed(outcomes)} (choose one; only forwardTo combines with another key)`,
      );
    }
    if ('after' in behaviour && !('decline' in behaviour)) {
      problem(`${path}.after`, '"after" is only allowed with "decline: true" (seconds before declining)');
    }
    const forwardTo = behaviour['forwardTo'];
    if (typeof forwardTo !== 'string' || forwardTo === '') continue;
    const fPath = `${path}.forwardTo`;
    if (forwardTo.startsWith('+')) {
      const wrong = numberProblem(forwardTo);
      if (wrong) problem(fPath, wrong);
      else forwards.set(node, { target: numberNodes.get(forwardTo) ?? `number ${forwardTo}`, path: fPath, forwardTo });
      continue;
    }
    const kind = idKinds.get(forwardTo);
    if (kind === 'user') forwards.set(node, { target: `user ${forwardTo}`, path: fPath, forwardTo });
    else if (kind) problem(fPath, `${JSON.stringify(forwardTo)} is ${article(kind)} ${kind} id; forwardTo takes a user id or an E.164 number`);
    else problem(fPath, `unknown user ${JSON.stringify(forwardTo)} (forwardTo takes the id of a user in the directory or an E.164 number)`);
  }
  problems.push(...forwardingLoops(forwards));

  return problems;
}

/**
 * A party forwarding to itself, directly or through others, would ring forever; report each loop once,
 * at the forwardTo of the first member met in file order.
 */
function forwardingLoops(forwards: Map<string, { target: string; path: string; forwardTo: string }>): DirectoryProblem[] {
  const problems: DirectoryProblem[] = [];
  const reported = new Set<string>();
  for (const start of forwards.keys()) {
    const chain: string[] = [];
    let node: string | undefined = start;
    while (node !== undefined && !chain.includes(node)) {
      chain.push(node);
      node = forwards.get(node)?.target;
    }
    if (node !== start) continue; // no loop, or a loop that `start` only leads into (reported from inside)
    const members = [...chain].sort().join('\n');
    if (reported.has(members)) continue;
    reported.add(members);
    const first = forwards.get(start);
    if (!first) continue;
    const steps = [...chain, start].map((n) => n.replace(/^(user|number|application) /, ''));
    problems.push({ path: first.path, message: `forwarding loop: ${steps.join(' → ')}` });
  }
  return problems;
}

function numberProblem(number: string): string | undefined {
  if (!E164.test(number)) {
    return `${JSON.stringify(number)} is not an E.164 number (write "+", the country code and the number, digits only, e.g. "+14255550100")`;
  }
  if (!isPossiblePhoneNumber(number)) {
    return `${JSON.stringify(number)} is not a possible phone number (unknown country code, or wrong length for it)`;
  }
  return undefined;
}

function callbackProblem(uri: string): string | undefined {
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    return `${JSON.stringify(uri)} is not an absolute URL (expected https://host/path)`;
  }
  if (url.protocol !== 'https:') return `must be https (got ${JSON.stringify(uri)})`;
  return undefined;
}

function certificateProblem(pem: string): string | undefined {
  // A private key pasted here would be a leak, and is not what the credential check needs.
  if (/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(pem)) {
    return 'holds a private key; give the public certificate (PEM "-----BEGIN CERTIFICATE-----") instead';
  }
  try {
    new X509Certificate(pem);
    return undefined;
  } catch {
    return 'is not a PEM certificate (expected "-----BEGIN CERTIFICATE-----" … "-----END CERTIFICATE-----")';
  }
}

// ---------------------------------------------------------------------------------------------------
// Building the Directory

function build(file: DirectoryFile): Directory {
  const directory: Directory = {
    tenants: file.tenants.map(buildTenant),
    phones: (file.phones ?? []).map((p) => {
      const phone: Phone = { number: p.number };
      if (p.displayName !== undefined) phone.displayName = p.displayName;
      if (p.behaviour !== undefined) phone.behaviour = buildBehaviour(p.behaviour);
      return phone;
    }),
    limits: {
      requestsPer15Seconds: file.limits?.requestsPer15Seconds ?? DEFAULT_LIMITS.requestsPer15Seconds,
      bodyBytes: file.limits?.bodyBytes ?? DEFAULT_LIMITS.bodyBytes,
    },
    notifications: {
      allowHosts: [...(file.notifications?.allowHosts ?? [])],
      giveUpAfterSeconds: file.notifications?.giveUpAfterSeconds ?? DEFAULT_NOTIFICATIONS.giveUpAfterSeconds,
    },
  };
  if (file.admin !== undefined) directory.admin = { key: file.admin.key };
  return directory;
}

function buildTenant(t: DirectoryFile['tenants'][number]): Tenant {
  const tenant: Tenant = {
    id: t.id,
    applications: (t.applications ?? []).map((a) => {
      const application: Application = {
        id: a.id,
        tenantId: t.id,
        // No default role: a bot registered without Calls.Initiate.All gets a token that Graph refuses
        // (403), exactly as in Azure AD.
        roles: [...(a.roles ?? [])],
        callbackUri: a.callbackUri,
        instances: (a.instances ?? []).map((i) => {
          const instance: ApplicationInstance = { id: i.id };
          if (i.displayName !== undefined) instance.displayName = i.displayName;
          if (i.phone !== undefined) instance.phone = i.phone;
          return instance;
        }),
      };
      if (a.displayName !== undefined) application.displayName = a.displayName;
      if (a.clientSecret !== undefined) application.clientSecret = a.clientSecret;
      if (a.certificate !== undefined) application.certificate = a.certificate;
      if (a.behaviour !== undefined) application.behaviour = buildBehaviour(a.behaviour);
      return application;
    }),
    users: (t.users ?? []).map((u) => {
      const user: User = { id: u.id, tenantId: t.id };
      if (u.displayName !== undefined) user.displayName = u.displayName;
      if (u.behaviour !== undefined) user.behaviour = buildBehaviour(u.behaviour);
      return user;
    }),
  };
  if (t.displayName !== undefined) tenant.displayName = t.displayName;
  return tenant;
}

function buildBehaviour(b: BehaviourFile): Behaviour {
  const behaviour: Behaviour = {};
  for (const key of BEHAVIOUR_KEYS) {
    const value = b[key];
    if (value !== undefined) (behaviour as Record<string, unknown>)[key] = value;
  }
  return behaviour;
}

// ---------------------------------------------------------------------------------------------------
// Helpers

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !Buffer.isBuffer(v);
}

/** The entries of `v` that are mappings, with their indexes; nothing when `v` is not a list. */
function records(v: unknown): [number, Record<string, unknown>][] {
  if (!Array.isArray(v)) return [];
  return v.flatMap((item: unknown, i): [number, Record<string, unknown>][] => (isRecord(item) ? [[i, item]] : []));
}

/** `"a"`, `"a" and "b"`, `"a", "b" and "c"`. */
function listed(words: readonly string[]): string {
  const quoted = words.map((w) => JSON.stringify(w));
  const last = quoted.pop();
  return quoted.length > 0 ? `${quoted.join(', ')} and ${last}` : (last ?? '');
}

function article(word: string): string {
  return /^[aeiou]/.test(word) ? 'an' : 'a';
}

function dedupe(problems: DirectoryProblem[]): DirectoryProblem[] {
  const seen = new Set<string>();
  return problems.filter((p) => {
    const key = `${p.path ?? ''}\n${p.line ?? ''}:${p.column ?? ''}\n${p.message}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}
