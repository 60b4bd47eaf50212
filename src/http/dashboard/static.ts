/**
 * The dashboard's static files, public (the data API is what the admin key guards): the page at
 * `/dashboard`, its modules (compiled by `npm run build` into dist/web) and stylesheet under
 * `/dashboard/assets/`. Strict headers: a Content-Security-Policy allowing only this origin (the page
 * handles the admin key), no sniffing, no referrer. Hidden from the OpenAPI document (`schema.hide`).
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { notFound } from '../../graph/errors.js';
import { webBuildDir, webSourceDir } from './paths.js';

const TYPES: Record<string, string> = {
  '.js': 'text/javascript; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.html': 'text/html; charset=utf-8',
};

const SECURITY_HEADERS = {
  'content-security-policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; font-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
  'cache-control': 'no-cache',
};

async function send(reply: FastifyReply, file: string, type: string): Promise<FastifyReply> {
  let content: Buffer;
  try {
    content = await readFile(file);
  } catch {
    if (file.endsWith('.js')) {
      return reply
        .code(503)
        .type('text/plain; charset=utf-8')
        .send('The dashboard is not built: run `npm run build` (it compiles web/ into dist/web).');
    }
    throw notFound(`No dashboard file ${file.split(/[\\/]/).pop() ?? ''}.`);
  }
  return reply.headers(SECURITY_HEADERS).type(type).send(content);
}

export async function registerStaticFiles(app: FastifyInstance): Promise<void> {
  const page = async (_request: unknown, reply: FastifyReply) => send(reply, join(webSourceDir(), 'index.html'), TYPES['.html'] ?? 'text/html');
  app.get('/dashboard', { schema: { hide: true } }, page);
  app.get('/dashboard/', { schema: { hide: true } }, page);
  app.get('/dashboard/assets/:file', { schema: { hide: true } }, async (request, reply) => {
    const { file } = request.params as { file: string };
    const match = /^[A-Za-z0-9_-]+(\.js|\.js\.map|\.css|\.svg)$/.exec(file);
    if (!match?.[1]) throw notFound(`No dashboard file ${file}.`);
    const ext = match[1] === '.js.map' ? '.map' : match[1];
    const dir = ext === '.js' || ext === '.map' ? webBuildDir() : webSourceDir();
    return send(reply, join(dir, file), TYPES[ext] ?? 'application/octet-stream');
  });
}
