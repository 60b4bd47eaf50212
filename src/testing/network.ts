/**
 * testing/network — HTTP clients that trust a given CA (Switchboard's dev CA) without touching the
 * process-wide trust store, for Microsoft's clients running in the same process as Switchboard:
 *
 * - `msalNetworkClient(ca)`: an MSAL `INetworkModule` (pass it as `system.networkClient`). MSAL for Node
 *   7 sends its requests with the global `fetch` and offers no TLS option; this module sends them with
 *   `node:https` and the given CA instead.
 * - `trustingFetch(ca)`: a WHATWG `fetch` and the undici `Agent` behind it. The agent can also be handed
 *   to Node's built-in fetch as `dispatcher` (the Graph JS client's `fetchOptions.dispatcher`).
 *
 * Outside tests, prefer `NODE_EXTRA_CA_CERTS=<ca file>`: every client trusts the CA with no code at all.
 */
import https from 'node:https';
import { Agent, fetch as undiciFetch } from 'undici';

/** The shape of MSAL's `NetworkResponse` (declared here so the kit does not depend on MSAL). */
export interface MsalNetworkResponse<T> {
  headers: Record<string, string>;
  body: T;
  status: number;
}

/** The shape of MSAL's `NetworkRequestOptions`. */
export interface MsalNetworkRequestOptions {
  headers?: Record<string, string>;
  body?: string;
}

/**
 * Structurally identical to `INetworkModule` from `@azure/msal-node` (`@azure/msal-common`), so it can be
 * passed as `system.networkClient` of a `ConfidentialClientApplication`.
 */
export interface MsalNetworkModule {
  sendGetRequestAsync<T>(url: string, options?: MsalNetworkRequestOptions, timeout?: number): Promise<MsalNetworkResponse<T>>;
  sendPostRequestAsync<T>(url: string, options?: MsalNetworkRequestOptions): Promise<MsalNetworkResponse<T>>;
}

export interface MsalNetworkClientOptions {
  /** Called once per HTTP request MSAL makes (method and URL), before it is sent: handy to count token requests. */
  onRequest?: (method: 'GET' | 'POST', url: string) => void;
}

/**
 * An MSAL network client over `node:https` that trusts `ca` (PEM, one or several) besides nothing else:
 * use it for authorities served by Switchboard.
 */
export function msalNetworkClient(ca: string | string[], options: MsalNetworkClientOptions = {}): MsalNetworkModule {
  const agent = new https.Agent({ ca, keepAlive: false });
  const send = <T>(method: 'GET' | 'POST', url: string, req: MsalNetworkRequestOptions | undefined, timeout?: number) =>
    new Promise<MsalNetworkResponse<T>>((resolve, reject) => {
      options.onRequest?.(method, url);
      const body = method === 'POST' ? (req?.body ?? '') : undefined;
      const headers: Record<string, string | number> = { ...(req?.headers ?? {}) };
      if (body !== undefined) headers['content-length'] = Buffer.byteLength(body);
      const request = https.request(url, { method, headers, agent }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', reject);
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          const responseHeaders: Record<string, string> = {};
          for (const [name, value] of Object.entries(res.headers)) {
            if (value !== undefined) responseHeaders[name] = Array.isArray(value) ? value.join(', ') : value;
          }
          let parsed: unknown = {};
          if (text.trim() !== '') {
            try {
              parsed = JSON.parse(text);
            } catch (error) {
              // MSAL's own client fails the same way (tokenParsingError) on a body that is not JSON.
              reject(new Error(`Failed to parse response from ${method} ${url} (status ${res.statusCode}): ${(error as Error).message}`));
              return;
            }
          }
          resolve({ headers: responseHeaders, body: parsed as T, status: res.statusCode ?? 0 });
        });
      });
      if (timeout) request.setTimeout(timeout, () => request.destroy(new Error(`Request timeout after ${timeout} ms: ${method} ${url}`)));
      request.on('error', (error) => reject(new Error(`Network request failed: ${method} ${url}: ${error.message}`, { cause: error })));
      request.end(body);
    });
  return {
    sendGetRequestAsync: <T>(url: string, req?: MsalNetworkRequestOptions, timeout?: number) => send<T>('GET', url, req, timeout),
    sendPostRequestAsync: <T>(url: string, req?: MsalNetworkRequestOptions) => send<T>('POST', url, req),
  };
}

/** A `fetch` signature both the DOM lib and undici satisfy. */
export type FetchLike = (input: string | URL, init?: RequestInit) => Promise<Response>;

export interface TrustingFetch {
  /** WHATWG fetch (undici) whose TLS connections trust `ca`. */
  fetch: FetchLike;
  /** The undici Agent behind `fetch`; also accepted by Node's built-in fetch as `{ dispatcher }`. */
  dispatcher: Agent;
  close(): Promise<void>;
}

/** A fetch (and its undici dispatcher) that trusts `ca` (PEM). */
export function trustingFetch(ca: string | string[]): TrustingFetch {
  const dispatcher = new Agent({ connect: { ca } });
  const fetch: FetchLike = (input, init) =>
    undiciFetch(input, { ...(init as object), dispatcher } as Parameters<typeof undiciFetch>[1]) as unknown as Promise<Response>;
  return { fetch, dispatcher, close: () => dispatcher.close() };
}
