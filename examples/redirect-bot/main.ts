/**
 * The redirect bot as a process: reads its settings from the environment, listens for notifications
 * over HTTPS, and prints one JSON line per thing it does (decision, end of call, error) on stdout.
 *
 * Against Microsoft's cloud (defaults) or Switchboard (the three URLs), e.g.:
 *
 *   NODE_EXTRA_CA_CERTS=.switchboard/tls/ca.pem \
 *   AUTHORITY_HOST=https://127.0.0.1:8443 GRAPH_BASE_URL=https://127.0.0.1:8443 \
 *   NOTIFICATION_METADATA_URL=https://127.0.0.1:8443/botframework/v1/.well-known/openidconfiguration \
 *   TENANT_ID=632899f8-2ea1-4604-8413-27bd2892079f CLIENT_ID=24701998-1a73-4d42-8085-bf46ed0ae039 CLIENT_SECRET=dev-secret \
 *   BOT_TLS_CERT=.switchboard/tls/server.pem BOT_TLS_KEY=.switchboard/tls/server-key.pem \
 *   node --import tsx examples/redirect-bot/main.ts
 *
 * NODE_EXTRA_CA_CERTS makes MSAL, the Graph client and jose (all on Node's fetch) trust Switchboard's dev
 * CA: no code change. Switchboard trusts its own dev CA for webhooks, so the bot's HTTPS certificate can
 * be the dev server certificate (it covers 127.0.0.1 and localhost).
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { MICROSOFT, createRedirectBot } from './bot.js';
import { loadRules } from './rules.js';

function required(name: string): string {
  const value = process.env[name];
  if (!value) {
    console.error(`redirect-bot: set ${name}`);
    process.exit(2);
  }
  return value;
}

const out = (line: Record<string, unknown>) => process.stdout.write(`${JSON.stringify(line)}\n`);

const rulesFile = process.env.RULES_FILE ?? fileURLToPath(new URL('./rules.yaml', import.meta.url));
const bot = createRedirectBot({
  tenantId: required('TENANT_ID'),
  clientId: required('CLIENT_ID'),
  clientSecret: required('CLIENT_SECRET'),
  authorityHost: process.env.AUTHORITY_HOST ?? MICROSOFT.authorityHost,
  graphBaseUrl: process.env.GRAPH_BASE_URL ?? MICROSOFT.graphBaseUrl,
  notificationMetadataUrl: process.env.NOTIFICATION_METADATA_URL ?? MICROSOFT.notificationMetadataUrl,
  graphVersion: process.env.GRAPH_VERSION === 'beta' ? 'beta' : 'v1.0',
  rules: loadRules(rulesFile),
  log: (event) => out(event),
});

const port = Number(process.env.BOT_PORT ?? 9443);
const host = process.env.BOT_HOST ?? '127.0.0.1';
const server = await bot
  .listen({ port, host, cert: readFileSync(required('BOT_TLS_CERT'), 'utf8'), key: readFileSync(required('BOT_TLS_KEY'), 'utf8') })
  .catch((error: NodeJS.ErrnoException) => {
    console.error(`redirect-bot: cannot listen on ${host}:${port}: ${error.code === 'EADDRINUSE' ? 'the port is in use' : error.message}`);
    process.exit(1);
  });
out({ event: 'listening', url: `https://${host}:${port}/api/calls`, rules: rulesFile });

let stopping = false;
const stop = () => {
  if (stopping) return;
  stopping = true;
  server.closeAllConnections();
  server.close(() => process.exit(0));
  setTimeout(() => process.exit(0), 2000).unref();
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
