/**
 * The redirect bot's routing rules (rules.yaml): which targets an incoming call is redirected to.
 * Pure logic, no I/O besides reading the file: `decide(call)` is what the bot's tests exercise.
 */
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';

export type Target = { kind: 'user' | 'application'; id: string } | { kind: 'phone'; number: string };

export type Action =
  | { kind: 'forward'; target: Target }
  | { kind: 'ringGroup'; targets: Target[]; timeout?: number; disableForwarding: boolean }
  | { kind: 'roundRobin'; targets: Target[] }
  | { kind: 'pstn'; target: Target }
  | { kind: 'reject'; reason: 'none' | 'busy' | 'forbidden' };

export interface Rule {
  name: string;
  when?: { caller?: string[]; calledVia?: string[] };
  action: Action;
}

export interface RoutingRules {
  rules: Rule[];
}

/** What the bot decided for one call. */
export type Decision =
  | { rule: string; kind: 'redirect'; action: Action['kind']; targets: Target[]; timeout?: number; disableForwarding: boolean }
  | { rule: string; kind: 'reject'; reason: 'none' | 'busy' | 'forbidden' };

/** The parts of the incoming call the rules look at (from the `created` notification's call). */
export interface IncomingCall {
  /** User id or E.164 number of the caller. */
  caller?: string;
  /** Application instance id, and its number when known, or the application id, the call came to. */
  calledVia: string[];
}

const E164 = /^\+[1-9]\d{1,14}$/;

export function parseTarget(value: unknown, where: string): Target {
  if (typeof value !== 'string' || value.trim() === '') throw new Error(`${where}: a target is a user id, an E.164 number or app:<id>`);
  const v = value.trim();
  if (v.startsWith('app:')) return { kind: 'application', id: v.slice(4) };
  if (v.startsWith('+')) {
    if (!E164.test(v)) throw new Error(`${where}: ${v} is not an E.164 number`);
    return { kind: 'phone', number: v };
  }
  return { kind: 'user', id: v.startsWith('user:') ? v.slice(5) : v };
}

const list = (value: unknown): string[] | undefined =>
  value === undefined ? undefined : (Array.isArray(value) ? value : [value]).map((v) => String(v));

/** Validates the rules document (parsed YAML/JSON); throws with the rule's position on a mistake. */
export function parseRules(doc: unknown): RoutingRules {
  const raw = (doc as { rules?: unknown } | null)?.rules;
  if (!Array.isArray(raw) || raw.length === 0) throw new Error('rules: a non-empty list of rules is required');
  const rules = raw.map((r: Record<string, unknown>, i): Rule => {
    const where = `rules[${i}]${typeof r?.['name'] === 'string' ? ` (${r['name']})` : ''}`;
    const actions = ['forward', 'ringGroup', 'roundRobin', 'pstn', 'reject'].filter((k) => r?.[k] !== undefined);
    if (actions.length !== 1) throw new Error(`${where}: exactly one of forward, ringGroup, roundRobin, pstn, reject`);
    let action: Action;
    switch (actions[0]) {
      case 'forward':
        action = { kind: 'forward', target: parseTarget(r['forward'], `${where}.forward`) };
        break;
      case 'pstn': {
        const target = parseTarget(r['pstn'], `${where}.pstn`);
        if (target.kind !== 'phone') throw new Error(`${where}.pstn: an E.164 number`);
        action = { kind: 'pstn', target };
        break;
      }
      case 'ringGroup': {
        const g = r['ringGroup'] as { targets?: unknown; timeout?: unknown; disableForwarding?: unknown };
        if (!Array.isArray(g?.targets) || g.targets.length < 1 || g.targets.length > 25) throw new Error(`${where}.ringGroup.targets: 1 to 25 targets`);
        if (g.timeout !== undefined && (typeof g.timeout !== 'number' || !Number.isInteger(g.timeout) || g.timeout < 15 || g.timeout > 90)) {
          throw new Error(`${where}.ringGroup.timeout: whole seconds, 15 to 90`);
        }
        action = {
          kind: 'ringGroup',
          targets: g.targets.map((t, j) => parseTarget(t, `${where}.ringGroup.targets[${j}]`)),
          ...(typeof g.timeout === 'number' ? { timeout: g.timeout } : {}),
          disableForwarding: g.disableForwarding === true,
        };
        break;
      }
      case 'roundRobin': {
        const targets = r['roundRobin'];
        if (!Array.isArray(targets) || targets.length === 0) throw new Error(`${where}.roundRobin: a list of targets`);
        action = { kind: 'roundRobin', targets: targets.map((t, j) => parseTarget(t, `${where}.roundRobin[${j}]`)) };
        break;
      }
      default: {
        const reason = r['reject'];
        if (reason !== 'none' && reason !== 'busy' && reason !== 'forbidden') throw new Error(`${where}.reject: none, busy or forbidden`);
        action = { kind: 'reject', reason };
      }
    }
    const when = r['when'] as { caller?: unknown; calledVia?: unknown } | undefined;
    const caller = list(when?.caller);
    const calledVia = list(when?.calledVia);
    return {
      name: typeof r['name'] === 'string' ? r['name'] : `rule ${i + 1}`,
      ...(when ? { when: { ...(caller ? { caller } : {}), ...(calledVia ? { calledVia } : {}) } } : {}),
      action,
    };
  });
  return { rules };
}

export function loadRules(file: string): RoutingRules {
  return parseRules(parse(readFileSync(file, 'utf8')));
}

/** Decides for one call. Round-robin state lives in the returned function's closure (per bot). */
export function createRouter(routing: RoutingRules): (call: IncomingCall) => Decision | undefined {
  const turns = new Map<Rule, number>();
  return (call) => {
    const rule = routing.rules.find(
      (r) =>
        (!r.when?.caller || (call.caller !== undefined && r.when.caller.includes(call.caller))) &&
        (!r.when?.calledVia || r.when.calledVia.some((v) => call.calledVia.includes(v))),
    );
    if (!rule) return undefined;
    const a = rule.action;
    switch (a.kind) {
      case 'reject':
        return { rule: rule.name, kind: 'reject', reason: a.reason };
      case 'forward':
      case 'pstn':
        return { rule: rule.name, kind: 'redirect', action: a.kind, targets: [a.target], disableForwarding: false };
      case 'ringGroup':
        return {
          rule: rule.name,
          kind: 'redirect',
          action: a.kind,
          targets: a.targets,
          ...(a.timeout !== undefined ? { timeout: a.timeout } : {}),
          disableForwarding: a.disableForwarding,
        };
      case 'roundRobin': {
        const turn = turns.get(rule) ?? 0;
        turns.set(rule, turn + 1);
        return { rule: rule.name, kind: 'redirect', action: a.kind, targets: [a.targets[turn % a.targets.length]!], disableForwarding: false };
      }
    }
  };
}
