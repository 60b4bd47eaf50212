/**
 * What the engine and the notification sender report as they work, for metrics and the dashboard's live
 * feed. Observers must not throw and must not block: they are called on the hot path, after the fact.
 */
import type { Call } from './model.js';
import type { OutboxRow } from '../store/store.js';

export interface CallObserver {
  /** After a transaction committed: every call it changed, as now stored. */
  callsChanged?(calls: Call[]): void;
  /** A timer fired `latenessMs` after its due time (real clock; 0 on the virtual clock). */
  timerFired?(name: string, latenessMs: number): void;
  /** One delivery attempt finished. */
  notificationAttempted?(row: OutboxRow, outcome: { status?: number; error?: string; accepted: boolean; dead: boolean; durationMs: number }): void;
}

/** Fans one report out to several observers; an observer that throws is ignored. */
export class Observers implements Required<CallObserver> {
  private readonly list: CallObserver[] = [];
  add(observer: CallObserver): void {
    this.list.push(observer);
  }
  callsChanged(calls: Call[]): void {
    for (const o of this.list) safely(() => o.callsChanged?.(calls));
  }
  timerFired(name: string, latenessMs: number): void {
    for (const o of this.list) safely(() => o.timerFired?.(name, latenessMs));
  }
  notificationAttempted(row: OutboxRow, outcome: Parameters<Required<CallObserver>['notificationAttempted']>[1]): void {
    for (const o of this.list) safely(() => o.notificationAttempted?.(row, outcome));
  }
}

function safely(fn: () => void): void {
  try {
    fn();
  } catch {
    // An observer's failure must never fail a call.
  }
}
