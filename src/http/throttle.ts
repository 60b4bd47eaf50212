/**
 * http/throttle — the Graph throttling budget per application per tenant (contract Part A "Errors" and
 * Part B "Throttling"): by default 50,000 requests per 15 s, configurable with the directory's
 * `limits.requestsPer15Seconds`. A sliding 15 s window kept as fifteen 1 s buckets per (tenant,
 * application): a request is admitted while the requests counted in the last 15 s are under the limit;
 * otherwise it is refused with 429 `TooManyRequests` and `Retry-After` = whole seconds (1–15) until enough
 * of the oldest requests leave the window. Refused requests are not counted, so a client that waits as told
 * gets in. Counted on the real clock (the virtual clock moves call timers, not clients).
 *
 * Only authenticated requests reach the throttle, so its keys are (tenant, application) pairs from tokens
 * this server signed: the map is bounded by the directory.
 */
import { SwitchboardError } from '../graph/errors.js';

export const THROTTLE_WINDOW_SECONDS = 15;

interface Window {
  /** counts[i] holds the requests admitted during second `seconds[i]` (epoch seconds). */
  counts: number[];
  seconds: number[];
}

export class Throttle {
  private readonly windows = new Map<string, Window>();

  constructor(
    /** Requests admitted per sliding 15 s window, per key. */
    readonly limit: number,
    /** Real clock, epoch ms (injectable for tests). */
    private readonly now: () => number = Date.now,
  ) {
    if (!Number.isInteger(limit) || limit < 1) throw new Error(`throttle limit must be a positive integer (got ${limit})`);
  }

  /** Counts one request; returns undefined when admitted, or the Retry-After seconds when refused. */
  hit(key: string): number | undefined {
    const nowMs = this.now();
    const second = Math.floor(nowMs / 1000);
    let window = this.windows.get(key);
    if (!window) {
      window = { counts: new Array<number>(THROTTLE_WINDOW_SECONDS).fill(0), seconds: new Array<number>(THROTTLE_WINDOW_SECONDS).fill(-1) };
      this.windows.set(key, window);
    }
    const slot = second % THROTTLE_WINDOW_SECONDS;
    if (window.seconds[slot] !== second) {
      window.seconds[slot] = second;
      window.counts[slot] = 0;
    }
    // Live buckets: the seconds (second - 14 .. second).
    let total = 0;
    for (let i = 0; i < THROTTLE_WINDOW_SECONDS; i++) {
      const s = window.seconds[i]!;
      if (s > second - THROTTLE_WINDOW_SECONDS && s <= second) total += window.counts[i]!;
    }
    if (total < this.limit) {
      window.counts[slot]! += 1;
      return undefined;
    }
    // Refused: the oldest buckets leave the window one by one; wait until the count is under the limit.
    let remaining = total;
    for (let age = THROTTLE_WINDOW_SECONDS - 1; age >= 0; age--) {
      const s = second - age;
      const i = ((s % THROTTLE_WINDOW_SECONDS) + THROTTLE_WINDOW_SECONDS) % THROTTLE_WINDOW_SECONDS;
      if (window.seconds[i] !== s) continue;
      remaining -= window.counts[i]!;
      if (remaining < this.limit) {
        // Bucket `s` counts until the end of second s + 14, i.e. until (s + 15) * 1000 ms.
        const waitMs = (s + THROTTLE_WINDOW_SECONDS) * 1000 - nowMs;
        return clampRetryAfter(Math.ceil(waitMs / 1000));
      }
    }
    return THROTTLE_WINDOW_SECONDS;
  }

  /** The Graph error for a refused request. */
  static error(retryAfterSeconds: number, limit: number): SwitchboardError {
    return new SwitchboardError(
      'tooManyRequests',
      `Too many requests: this application may send ${limit} requests per ${THROTTLE_WINDOW_SECONDS} seconds in this tenant. Retry after ${retryAfterSeconds} second${retryAfterSeconds === 1 ? '' : 's'}.`,
      retryAfterSeconds,
    );
  }

  /** Throws the 429 error when `key` is over its budget. */
  check(key: string): void {
    const retryAfter = this.hit(key);
    if (retryAfter !== undefined) throw Throttle.error(retryAfter, this.limit);
  }
}

function clampRetryAfter(seconds: number): number {
  return Math.min(THROTTLE_WINDOW_SECONDS, Math.max(1, seconds));
}
