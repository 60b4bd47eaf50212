// temporary: phase timings of single workflows
import { mkdtempSync, mkdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ADMIN_KEY, BOT, TENANT, USERS, placeCallBody, redirectBody, writeBenchDirectory } from './directory.js';
import { BENCH_DIR, BenchBot, benchAgent, exchange, startChild, waitForLog } from './support.js';

const tmp = mkdtempSync(join(tmpdir(), 'probe-'));
const bot = await BenchBot.start(join(tmp, 'bot'));
bot.tracking = true;
const cfg = join(tmp, 'dir.yaml');
writeBenchDirectory(cfg, bot.url);
mkdirSync(join(tmp, 's'));
const child = startChild(['--import', 'tsx', join(BENCH_DIR, 'serve.ts'), 'serve', '--config', cfg, '--port', '0', '--data', join(tmp, 's', 'data')], { logFile: join(tmp, 's.log'), env: { NODE_EXTRA_CA_CERTS: bot.caPath }, switchboard: true });
const [, url] = await waitForLog(child, /listening on (https:\/\/\S+)/);
const [, ca] = await waitForLog(child, /dev CA\s+(\S+)/);
const a = benchAgent(4, readFileSync(ca!, 'utf8'));
const tok = JSON.parse((await exchange(a, `${url}/${TENANT}/oauth2/v2.0/token`, 'POST', { 'content-type': 'application/x-www-form-urlencoded' }, new URLSearchParams({ grant_type: 'client_credentials', client_id: BOT.id, client_secret: BOT.secret, scope: 'https://graph.microsoft.com/.default' }).toString())).text).access_token;
for (let i = 0; i < 15; i++) {
  const t0 = performance.now();
  const r = await exchange(a, `${url}/simulator/calls`, 'POST', { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'application/json' }, placeCallBody);
  const id = JSON.parse(r.text).id;
  const t1 = performance.now();
  await bot.waitFor(id, 'created');
  const t2 = performance.now();
  await exchange(a, `${url}/beta/communications/calls/${id}/redirect`, 'POST', { authorization: `Bearer ${tok}`, 'content-type': 'application/json' }, redirectBody(USERS.answerer, 30));
  const t3 = performance.now();
  await bot.waitFor(id, 'updated');
  const t4 = performance.now();
  await bot.waitFor(id, 'deleted');
  const t5 = performance.now();
  console.log([t1 - t0, t2 - t1, t3 - t2, t4 - t3, t5 - t4].map((x) => x.toFixed(1)).join('  '));
}
await child.stop();
await bot.close();
await a.close();
