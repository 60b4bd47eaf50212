/**
 * An example calling bot that redirects incoming calls by rules (rules.yaml), written the way a bot is
 * written for Microsoft's cloud: MSAL for tokens, the Graph JavaScript client for the calls API, and a
 * small `node:https` receiver for notifications whose tokens it checks with `jose`.
 *
 * Nothing here knows about Switchboard: pointing the bot at Switchboard instead of Microsoft is the three
 * URLs of `RedirectBotConfig` (plus trusting Switchboard's dev CA, e.g. NODE_EXTRA_CA_CERTS).
 */
import type { IncomingHttpHeaders } from 'node:http';
import https from 'node:https';
import { ConfidentialClientApplication, type Configuration } from '@azure/msal-node';
import { Client, GraphError } from '@microsoft/microsoft-graph-client';
import { createRemoteJWKSet, customFetch, jwtVerify, type FetchImplementation } from 'jose';
import type { Dispatcher } from 'undici';
import { createRouter, type Decision, type IncomingCall, type RoutingRules, type Target } from './rules.js';

export const MICROSOFT = {
  authorityHost: 'https://login.microsoftonline.com',
  graphBaseUrl: 'https://graph.microsoft.com',
  notificationMetadataUrl: 'https://login.botframework.com/v1/.well-known/openidconfiguration',
} as const;

export interface RedirectBotConfig {
  tenantId: string;
  clientId: string;
  clientSecret: string;
  /** Microsoft: https://login.microsoftonline.com. Switchboard: its URL, e.g. https://127.0.0.1:8443. */
  authorityHost: string;
  /** Microsoft: https://graph.microsoft.com. Switchboard: its URL. */
  graphBaseUrl: string;
  /** OpenID metadata listing the keys of notification tokens. Switchboard: <url>/botframework/v1/.well-known/openidconfiguration. */
  notificationMetadataUrl: string;
  graphVersion?: 'v1.0' | 'beta';
  rules: RoutingRules;
  /**
   * Only for running in the same process as a Switchboard whose CA the process does not trust (tests):
   * the MSAL network client, the undici dispatcher for the Graph client and the fetch for jose.
   * A separate bot process trusts the CA with NODE_EXTRA_CA_CERTS instead.
   */
  trust?: { msalNetworkClient: NonNullable<Configuration['system']>['networkClient']; dispatcher: Dispatcher; fetch: FetchImplementation };
  /** Where the bot tells what it does (decisions, errors). */
  log?: (event: BotEvent) => void;
}

export type BotEvent =
  | { event: 'decision'; callId: string; caller?: string; decision: Decision }
  | { event: 'noRule'; callId: string; caller?: string }
  | { event: 'ended'; callId: string; code?: number; subcode?: number; answeredBy?: string }
  | { event: 'unauthorized'; reason: string }
  | { event: 'error'; callId?: string; message: string; status?: number; code?: string };

/** One notification POST: what any HTTP framework gives you. */
export interface NotificationPost {
  headers: IncomingHttpHeaders | Record<string, string | string[] | undefined>;
  raw: string;
}

interface CallResource {
  id: string;
  state: string;
  source?: { identity?: Record<string, { id?: string } | undefined> };
  targets?: Array<{ identity?: Record<string, { id?: string } | undefined> }>;
  resultInfo?: { code?: number; subcode?: number };
  answeredBy?: { identity?: Record<string, { id?: string } | undefined> };
}

export interface RedirectBot {
  /** Checks the token of a notification POST and acts on it; resolves to the HTTP status to answer. */
  handle(post: NotificationPost): Promise<number>;
  /** Resolves when every redirect/reject started so far has been answered by Graph. */
  drain(): Promise<void>;
  /** The bot's own HTTPS receiver (POST <any path>) on this port; resolves once listening. */
  listen(options: { port: number; host?: string; cert: string; key: string }): Promise<https.Server>;
  graph: Client;
}

const graphTarget = (t: Target) => ({
  '@odata.type': '#microsoft.graph.invitationParticipantInfo',
  identity: {
    '@odata.type': '#microsoft.graph.identitySet',
    ...(t.kind === 'phone'
      ? { phone: { '@odata.type': '#microsoft.graph.identity', id: t.number } }
      : { [t.kind]: { '@odata.type': '#microsoft.graph.identity', id: t.id } }),
  },
});

function firstId(identity: Record<string, { id?: string } | undefined> | undefined): string | undefined {
  if (!identity) return undefined;
  for (const key of ['user', 'phone', 'application', 'applicationInstance', 'guest', 'encrypted']) {
    const id = identity[key]?.id;
    if (id) return id;
  }
  return undefined;
}

export function createRedirectBot(config: RedirectBotConfig): RedirectBot {
  const log = config.log ?? (() => undefined);
  const decide = createRouter(config.rules);

  // --- MSAL: client credentials against the configured authority --------------------------------
  const authorityUrl = new URL(config.authorityHost);
  const msal = new ConfidentialClientApplication({
    auth: {
      clientId: config.clientId,
      clientSecret: config.clientSecret,
      authority: `${authorityUrl.origin}/${config.tenantId}`,
      // Any authority but Azure AD's own must be listed, or MSAL asks Microsoft's cloud about it first.
      ...(authorityUrl.host !== new URL(MICROSOFT.authorityHost).host ? { knownAuthorities: [authorityUrl.host] } : {}),
    },
    ...(config.trust?.msalNetworkClient ? { system: { networkClient: config.trust.msalNetworkClient } } : {}),
  });

  // --- Graph client: base URL, and the host allowed to receive the token -----------------------
  const graphUrl = new URL(config.graphBaseUrl);
  const graph = Client.initWithMiddleware({
    baseUrl: graphUrl.origin,
    defaultVersion: config.graphVersion ?? 'v1.0',
    // The client attaches the token only for Graph's hosts and these (host names, no port).
    ...(graphUrl.hostname !== new URL(MICROSOFT.graphBaseUrl).hostname ? { customHosts: new Set([graphUrl.hostname]) } : {}),
    // undici's Agent is what Node's fetch takes as `dispatcher`; its types differ from @types/node's copy.
    ...(config.trust?.dispatcher ? { fetchOptions: { dispatcher: config.trust.dispatcher } as unknown as RequestInit } : {}),
    authProvider: {
      async getAccessToken() {
        const result = await msal.acquireTokenByClientCredential({ scopes: ['https://graph.microsoft.com/.default'] });
        if (!result) throw new Error('MSAL returned no token');
        return result.accessToken;
      },
    },
  });

  // --- Notification tokens: OpenID metadata -> jwks_uri -> jose ---------------------------------
  const fetchImpl: FetchImplementation = config.trust?.fetch ?? ((url, init) => fetch(url, init));
  let jwks: Promise<ReturnType<typeof createRemoteJWKSet>> | undefined;
  const keys = () =>
    (jwks ??= (async () => {
      const res = await fetchImpl(config.notificationMetadataUrl, { headers: new Headers(), method: 'GET', redirect: 'manual', signal: AbortSignal.timeout(5000) });
      if (!res.ok) throw new Error(`OpenID metadata ${config.notificationMetadataUrl}: HTTP ${res.status}`);
      const metadata = (await res.json()) as { jwks_uri: string };
      return createRemoteJWKSet(new URL(metadata.jwks_uri), { [customFetch]: fetchImpl });
    })().catch((error: unknown) => {
      jwks = undefined; // try again on the next notification
      throw error;
    }));

  async function authorized(headers: NotificationPost['headers']): Promise<boolean> {
    const header = headers['authorization'];
    if (typeof header !== 'string' || !/^Bearer /i.test(header)) {
      log({ event: 'unauthorized', reason: 'no bearer token' });
      return false;
    }
    try {
      await jwtVerify(header.slice(7).trim(), await keys(), { issuer: 'https://api.botframework.com', audience: config.clientId, algorithms: ['RS256'] });
      return true;
    } catch (error) {
      log({ event: 'unauthorized', reason: (error as Error).message });
      return false;
    }
  }

  // --- Acting on calls -----------------------------------------------------------------------------
  const inFlight = new Set<Promise<void>>();
  const track = (work: Promise<void>) => {
    inFlight.add(work);
    void work.finally(() => inFlight.delete(work));
  };

  async function onIncoming(call: CallResource): Promise<void> {
    const incoming: IncomingCall = {
      ...(firstId(call.source?.identity) ? { caller: firstId(call.source?.identity)! } : {}),
      calledVia: (call.targets ?? []).flatMap((t) => [t.identity?.['applicationInstance']?.id, t.identity?.['application']?.id]).filter((v): v is string => !!v),
    };
    const decision = decide(incoming);
    const path = `/communications/calls/${call.id}`;
    try {
      if (!decision) {
        log({ event: 'noRule', callId: call.id, ...(incoming.caller ? { caller: incoming.caller } : {}) });
        await graph.api(`${path}/reject`).post({ reason: 'none' });
        return;
      }
      log({ event: 'decision', callId: call.id, ...(incoming.caller ? { caller: incoming.caller } : {}), decision });
      if (decision.kind === 'reject') {
        await graph.api(`${path}/reject`).post({ reason: decision.reason });
        return;
      }
      await graph.api(`${path}/redirect`).post({
        targets: decision.targets.map(graphTarget),
        ...(decision.timeout !== undefined ? { timeout: decision.timeout } : {}),
        ...(decision.disableForwarding ? { routingPolicies: ['disableForwarding'] } : {}),
      });
    } catch (error) {
      const e = error as GraphError;
      log({
        event: 'error',
        callId: call.id,
        message: e.message,
        ...(e instanceof GraphError ? { status: e.statusCode, ...(e.code ? { code: e.code } : {}) } : {}),
      });
    }
  }

  async function handle(post: NotificationPost): Promise<number> {
    if (!(await authorized(post.headers))) return 401;
    let body: { value?: Array<{ changeType?: string; resourceData?: CallResource }> };
    try {
      body = JSON.parse(post.raw) as typeof body;
    } catch {
      return 400;
    }
    for (const n of body.value ?? []) {
      const call = n.resourceData;
      if (!call?.id) continue;
      if (n.changeType === 'created' && call.state === 'incoming') {
        // Answer the POST at once (Microsoft expects a quick 2xx) and act within the 15 s window.
        track(onIncoming(call));
      } else if (n.changeType === 'deleted') {
        const answeredBy = firstId(call.answeredBy?.identity);
        log({ event: 'ended', callId: call.id, ...(call.resultInfo?.code !== undefined ? { code: call.resultInfo.code } : {}), ...(call.resultInfo?.subcode !== undefined ? { subcode: call.resultInfo.subcode } : {}), ...(answeredBy ? { answeredBy } : {}) });
      }
    }
    return 202;
  }

  return {
    handle,
    graph,
    async drain() {
      while (inFlight.size > 0) await Promise.allSettled([...inFlight]);
    },
    listen({ port, host = '127.0.0.1', cert, key }) {
      const server = https.createServer({ cert, key }, (req, res) => {
        if (req.method !== 'POST') {
          res.writeHead(405, { allow: 'POST' }).end();
          return;
        }
        const chunks: Buffer[] = [];
        req.on('data', (c: Buffer) => chunks.push(c));
        req.on('end', () => {
          handle({ headers: req.headers, raw: Buffer.concat(chunks).toString('utf8') }).then(
            (status) => res.writeHead(status).end(),
            () => res.writeHead(500).end(),
          );
        });
      });
      return new Promise((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, host, () => resolve(server));
      });
    },
  };
}
