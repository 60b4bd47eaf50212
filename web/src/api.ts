/** The dashboard's calls to Switchboard: the admin key goes as a Bearer header, never in a URL. */
import type { CallDetail, DirectoryView, Session } from './types.js';

const KEY = 'switchboard.adminKey';

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

export function storedKey(): string | null {
  return sessionStorage.getItem(KEY);
}
export function storeKey(key: string): void {
  sessionStorage.setItem(KEY, key);
}
export function forgetKey(): void {
  sessionStorage.removeItem(KEY);
}

export class Api {
  constructor(private readonly key: string) {}

  async request<T>(method: string, path: string, body?: unknown): Promise<T> {
    const headers: Record<string, string> = { authorization: `Bearer ${this.key}` };
    if (body !== undefined) headers['content-type'] = 'application/json';
    const res = await fetch(path, { method, headers, ...(body !== undefined ? { body: JSON.stringify(body) } : {}), cache: 'no-store' });
    const text = await res.text();
    let json: unknown;
    try {
      json = text ? JSON.parse(text) : undefined;
    } catch {
      json = undefined;
    }
    if (!res.ok) {
      const message = (json as { error?: { message?: string } } | undefined)?.error?.message ?? (text || res.statusText);
      throw new ApiError(res.status, message);
    }
    return json as T;
  }

  session(): Promise<Session> {
    return this.request('GET', '/dashboard/api/session');
  }
  ticket(): Promise<{ ticket: string }> {
    return this.request('POST', '/dashboard/api/tickets');
  }
  detail(id: string): Promise<CallDetail> {
    return this.request('GET', `/dashboard/api/calls/${encodeURIComponent(id)}`);
  }
  directory(): Promise<DirectoryView> {
    return this.request('GET', '/simulator/directory');
  }
  placeCall(body: { tenantId: string; from: { userId: string } | { phone: string }; to: { applicationId: string } | { applicationInstanceId: string } }): Promise<{ id: string }> {
    return this.request('POST', '/simulator/calls', body);
  }
  targetActs(callId: string, targetId: string, action: 'answer' | 'decline' | 'busy'): Promise<void> {
    return this.request('POST', `/simulator/calls/${encodeURIComponent(callId)}/targets/${encodeURIComponent(targetId)}/${action}`);
  }
  hangUp(callId: string): Promise<void> {
    return this.request('POST', `/simulator/calls/${encodeURIComponent(callId)}/hangup`);
  }
  advance(seconds: number): Promise<{ now: string; mode: string; timersFired: number }> {
    return this.request('POST', '/simulator/clock/advance', { seconds });
  }
  clock(): Promise<{ now: string; mode: 'real' | 'virtual' }> {
    return this.request('GET', '/simulator/clock');
  }
}
