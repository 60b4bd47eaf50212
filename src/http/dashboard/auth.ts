/**
 * The dashboard's data API is behind the admin key (`Authorization: Bearer <admin key>`, compared in
 * constant time). EventSource cannot send headers, so the live feed authenticates with a ticket: the page
 * POSTs for one with the key in the header and opens `/dashboard/api/events?ticket=…`. A ticket is random
 * (128 bits), lives 30 seconds (real clock) and works once, so the admin key itself never appears in a URL
 * (URLs end up in access logs, proxies and browser history) and a ticket seen in a log is already spent.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import { unauthenticated } from '../../graph/errors.js';

export function sameSecret(given: string, expected: string): boolean {
  const a = createHash('sha256').update(given).digest();
  const b = createHash('sha256').update(expected).digest();
  return timingSafeEqual(a, b);
}

/** An onRequest hook: 401 (Graph-shaped) unless the request carries the admin key. */
export function requireAdminKey(adminKey: string) {
  return async (request: FastifyRequest): Promise<void> => {
    const match = /^Bearer (.+)$/.exec(request.headers.authorization ?? '');
    if (!match?.[1] || !sameSecret(match[1], adminKey)) {
      throw unauthenticated('The dashboard API needs Authorization: Bearer <admin key>.');
    }
  };
}

export class Tickets {
  private readonly live = new Map<string, number>();
  constructor(
    private readonly ttlMs = 30_000,
    private readonly max = 1_000,
  ) {}

  issue(): { ticket: string; expiresInSeconds: number } {
    const now = Date.now();
    for (const [t, expires] of this.live) if (expires <= now) this.live.delete(t);
    while (this.live.size >= this.max) {
      const oldest = this.live.keys().next().value;
      if (oldest === undefined) break;
      this.live.delete(oldest);
    }
    const ticket = randomBytes(16).toString('base64url');
    this.live.set(ticket, now + this.ttlMs);
    return { ticket, expiresInSeconds: this.ttlMs / 1000 };
  }

  /** True once per ticket, before it expires. */
  redeem(ticket: string | undefined): boolean {
    if (!ticket) return false;
    const expires = this.live.get(ticket);
    if (expires === undefined) return false;
    this.live.delete(ticket);
    return expires > Date.now();
  }
}
