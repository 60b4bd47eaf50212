/**
 * clock/ — Switchboard's time for calls: real, or virtual (moved only by the simulator API). Nothing else
 * in the code reads `Date.now()` for call timing; tokens are the exception (always the real clock).
 */

export interface Clock {
  readonly mode: 'real' | 'virtual';
  /** Epoch milliseconds. */
  now(): number;
}

export class RealClock implements Clock {
  readonly mode = 'real' as const;
  now(): number {
    return Date.now();
  }
}

/** Starts where the store left it (or at the real time on first start) and moves only when told. */
export class VirtualClock implements Clock {
  readonly mode = 'virtual' as const;
  constructor(private current: number) {}
  now(): number {
    return this.current;
  }
  /** Moves to `to` (never backwards). */
  set(to: number): void {
    if (to > this.current) this.current = to;
  }
}
