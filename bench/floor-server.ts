/**
 * The floor: a bare `node:https` server that does no work. It reads each request body and answers at
 * once (201 with a small JSON id for `/place`, else 202 empty), with a certificate from the same dev CA
 * code Switchboard uses. Started by the bench as a child process, like Switchboard.
 *   node --import tsx bench/floor-server.ts <dir>
 */
import https from 'node:https';
import { ensureDevCertificates } from '../src/identity/dev-ca.js';

const dir = process.argv[2];
if (!dir) throw new Error('usage: floor-server.ts <dir>');
const certs = ensureDevCertificates(dir, ['127.0.0.1']);
let n = 0;
const server = https.createServer({ cert: certs.cert, key: certs.key, keepAliveTimeout: 30_000 }, (req, res) => {
  req.on('data', () => undefined);
  req.on('end', () => {
    if (req.url === '/place') {
      n++;
      res.writeHead(201, { 'content-type': 'application/json' }).end(`{"id":"floor-${n}"}`);
    } else {
      res.writeHead(202).end();
    }
  });
});
server.maxRequestsPerSocket = 0;
server.listen(0, '127.0.0.1', () => {
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  process.stdout.write(`floor listening on https://127.0.0.1:${port} ca ${certs.caPath}\n`);
});
process.on('SIGTERM', () => {
  server.closeAllConnections();
  server.close(() => process.exit(0));
});
