/**
 * The calls the page knows, kept from the live feed: a map by id plus a newest-first order, and the
 * filtered view the list shows (recomputed at most once per frame, only when something changed).
 * Updates are applied by version, so a snapshot and live events may arrive in any order.
 */
import type { CallSummary } from './types.js';

export type StateFilter = 'all' | 'active' | 'incoming' | 'redirecting' | 'established' | 'terminated';

export class CallsModel {
  private readonly byId = new Map<string, CallSummary>();
  private order: CallSummary[] = [];
  private sorted = true;
  private viewCache: CallSummary[] | undefined;
  private filterText = '';
  private stateFilter: StateFilter = 'all';

  get size(): number {
    return this.byId.size;
  }

  get(id: string): CallSummary | undefined {
    return this.byId.get(id);
  }

  reset(calls: CallSummary[]): void {
    this.byId.clear();
    this.order = [];
    this.apply(calls);
  }

  /** Returns true when something visible may have changed. */
  apply(calls: CallSummary[]): boolean {
    let changed = false;
    for (const call of calls) {
      const known = this.byId.get(call.id);
      if (known && known.version > call.version) continue;
      this.byId.set(call.id, call);
      if (!known) this.sorted = false;
      changed = true;
    }
    if (changed) {
      if (!this.sorted) {
        this.order = [...this.byId.values()];
      } else {
        // Same ids, new objects: replace in place (cheap; order depends on createdAt only, which never changes).
        this.order = this.order.map((c) => this.byId.get(c.id) ?? c);
      }
      this.viewCache = undefined;
    }
    return changed;
  }

  setFilter(text: string, state: StateFilter): void {
    this.filterText = text.trim().toLowerCase();
    this.stateFilter = state;
    this.viewCache = undefined;
  }

  /** The filtered list, newest first. */
  view(): CallSummary[] {
    if (!this.sorted) {
      this.order.sort((a, b) => b.createdAt - a.createdAt || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
      this.sorted = true;
      this.viewCache = undefined;
    }
    if (this.viewCache) return this.viewCache;
    const text = this.filterText;
    const state = this.stateFilter;
    this.viewCache = this.order.filter((c) => {
      if (state === 'active' && c.state === 'terminated') return false;
      if (state !== 'all' && state !== 'active' && c.state !== state) return false;
      if (!text) return true;
      return (
        c.id.includes(text) ||
        c.caller.toLowerCase().includes(text) ||
        c.callee.toLowerCase().includes(text) ||
        c.targets.some((t) => t.label.toLowerCase().includes(text) || t.id.toLowerCase().includes(text))
      );
    });
    return this.viewCache;
  }

  counts(): Map<string, number> {
    const counts = new Map<string, number>();
    for (const c of this.byId.values()) counts.set(c.state, (counts.get(c.state) ?? 0) + 1);
    return counts;
  }
}
