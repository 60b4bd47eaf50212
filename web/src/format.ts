/** Small formatting helpers and a DOM builder (no framework). */
import type { Behaviour, IdentitySet } from './types.js';

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] ?? c);
}

/** 1234 → "1.2 s", 75_000 → "1 m 15 s", 4_000_000 → "1 h 06 m". */
export function duration(ms: number): string {
  const negative = ms < 0;
  const abs = Math.abs(ms);
  let text: string;
  if (abs < 60_000) text = `${(abs / 1000).toFixed(1)} s`;
  else if (abs < 3_600_000) text = `${Math.floor(abs / 60_000)} m ${String(Math.floor((abs % 60_000) / 1000)).padStart(2, '0')} s`;
  else if (abs < 86_400_000) text = `${Math.floor(abs / 3_600_000)} h ${String(Math.floor((abs % 3_600_000) / 60_000)).padStart(2, '0')} m`;
  else text = `${Math.floor(abs / 86_400_000)} d ${Math.floor((abs % 86_400_000) / 3_600_000)} h`;
  return negative ? `-${text}` : text;
}

/** "+3.250 s" from a base time. */
export function offset(ms: number, base: number): string {
  const d = (ms - base) / 1000;
  return `${d >= 0 ? '+' : ''}${d.toFixed(3)} s`;
}

export function clockText(ms: number): string {
  return new Date(ms).toISOString().replace('T', ' ').slice(0, 23) + 'Z';
}

export function identityLabel(set: IdentitySet | undefined): string {
  if (!set) return '(unknown)';
  for (const kind of ['user', 'application', 'applicationInstance', 'phone', 'guest', 'encrypted']) {
    const one = set[kind];
    if (one && typeof one === 'object') {
      const name = one.displayName ?? one.id;
      return kind === 'phone' && one.displayName ? `${one.displayName} (${one.id})` : kind === 'user' || kind === 'phone' ? name : `${name} [${kind}]`;
    }
  }
  return '(unknown)';
}

export function behaviourText(b: Behaviour | undefined, names: Map<string, string> = new Map()): string {
  if (!b) return 'manual (default)';
  const parts: string[] = [];
  if (b.forwardTo) parts.push(`forwards to ${names.get(b.forwardTo) ?? b.forwardTo}`);
  if (b.answerAfter !== undefined) parts.push(`answers after ${b.answerAfter} s`);
  if (b.decline) parts.push(b.after ? `declines after ${b.after} s` : 'declines');
  if (b.busy) parts.push('busy');
  if (b.noAnswer) parts.push('never answers');
  if (b.unreachable) parts.push('unreachable');
  if (b.manual) parts.push('manual (simulator buttons)');
  return parts.join(', ') || 'manual (default)';
}

type Child = Node | string | null | undefined | false;

/** `h('button', {class: 'x', onclick}, 'text')`. Attributes starting with "on" are listeners. */
export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Record<string, string | number | boolean | ((event: Event) => void) | undefined> = {},
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined || value === false) continue;
    if (typeof value === 'function') el.addEventListener(name.slice(2), value);
    else if (value === true) el.setAttribute(name, '');
    else el.setAttribute(name, String(value));
  }
  for (const child of children) if (child !== null && child !== undefined && child !== false) el.append(child);
  return el;
}

export function prettyJson(value: unknown): string {
  return JSON.stringify(value, null, 2) ?? '';
}
