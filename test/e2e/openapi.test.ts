/**
 * The OpenAPI 3.1 document at /openapi.json: no key needed; every registered route (but HEAD and the
 * dashboard's static files) is described, and nothing else; request bodies are the very schemas fastify
 * validates with; every schema in it is valid JSON Schema 2020-12 and real responses validate against the
 * documented ones.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import Ajv2020 from 'ajv/dist/2020.js';
import type { FastifyInstance } from 'fastify';
import { RedirectBodySchema } from '../../src/graph/schemas.js';
import { openApiPath } from '../../src/http/openapi.js';
import { PlaceCallBodySchema } from '../../src/http/simulator-routes.js';
import { Harness } from '../support/harness.js';
import { BOT, CONTOSO, callFromCaller, testDirectory } from '../support/fixtures.js';

let h: Harness;
let doc: any; // eslint-disable-line @typescript-eslint/no-explicit-any -- a JSON document under test

before(async () => {
  h = await Harness.start(testDirectory);
  const res = await h.http('GET', '/openapi.json');
  assert.equal(res.status, 200, res.text);
  doc = res.json;
});
after(async () => h?.close());

/** Every route fastify has, from its own route tree (independent of the document's collector). */
function registeredRoutes(app: FastifyInstance): Array<{ method: string; url: string }> {
  const out: Array<{ method: string; url: string }> = [];
  const stack: string[] = [];
  for (const line of app.printRoutes({ commonPrefix: false }).split('\n')) {
    const m = /^([│├└─\s]*)(\S.*?)(?: \(([A-Z, ]+)\))?$/.exec(line);
    if (!m?.[1] || !m[2]) continue;
    const depth = Math.max(0, m[1].length / 4 - 1);
    stack.length = depth;
    const url = (stack[depth - 1] ?? '') + m[2];
    stack[depth] = url;
    for (const method of m[3]?.split(', ') ?? []) out.push({ method, url });
  }
  return out;
}

const STATIC = new Set(['/dashboard', '/dashboard/', '/dashboard/assets/:file']);
const METHODS = ['get', 'put', 'post', 'delete', 'patch', 'options', 'head', 'trace'];

describe('GET /openapi.json', () => {
  test('is public OpenAPI 3.1 with the server it was asked on', () => {
    assert.equal(doc.openapi, '3.1.0');
    assert.equal(doc.info.title, 'Switchboard');
    assert.equal(doc.servers[0].url, h.sb.url);
    assert.ok(doc.components.securitySchemes.graphToken && doc.components.securitySchemes.adminKey);
  });

  test('every registered route is described (except HEAD and the dashboard\'s static files), and only those', () => {
    const routes = registeredRoutes(h.sb.app).filter((r) => r.method !== 'HEAD' && !STATIC.has(r.url));
    assert.ok(routes.length >= 40, `found ${routes.length} routes`);
    for (const r of routes) assert.ok(h.sb.app.hasRoute({ method: r.method as 'GET', url: r.url }), `route tree parsed wrong: ${r.method} ${r.url}`);
    const missing: string[] = [];
    const undocumented: string[] = [];
    for (const r of routes) {
      const op = doc.paths[openApiPath(r.url)]?.[r.method.toLowerCase()];
      if (!op) missing.push(`${r.method} ${r.url}`);
      else if (op['x-switchboard-undocumented'] || !op.summary || !op.responses || Object.keys(op.responses).length === 0) undocumented.push(`${r.method} ${r.url}`);
    }
    assert.deepEqual(missing, [], 'routes missing from the document');
    assert.deepEqual(undocumented, [], 'routes without a summary or responses (give them schema.summary, or a catalogue entry in src/http/openapi.ts)');
    const described = Object.entries(doc.paths as Record<string, Record<string, unknown>>).flatMap(([path, item]) =>
      Object.keys(item)
        .filter((k) => METHODS.includes(k))
        .map((m) => `${m.toUpperCase()} ${path}`),
    );
    const registered = new Set(routes.map((r) => `${r.method} ${openApiPath(r.url)}`));
    assert.deepEqual(described.filter((d) => !registered.has(d)), [], 'operations without a route');
    assert.equal(new Set(described).size, described.length);
    const ids = described.map((d) => {
      const [method = '', path = ''] = d.split(' ');
      return doc.paths[path][method.toLowerCase()].operationId as string;
    });
    assert.equal(new Set(ids).size, ids.length, 'operationIds are unique');
  });

  test('covers Graph (v1.0 and beta, both aliases), token and simulator routes', () => {
    for (const version of ['v1.0', 'beta']) {
      for (const base of ['communications', 'app']) {
        const call = `/${version}/${base}/calls/{id}`;
        assert.ok(doc.paths[`${call}/redirect`].post);
        assert.ok(doc.paths[`${call}/reject`].post);
        assert.ok(doc.paths[`${call}/answer`].post);
        assert.ok(doc.paths[call].get && doc.paths[call].delete);
        assert.equal(Boolean(doc.paths[`${call}/redirect`].post.deprecated), base === 'app');
      }
    }
    const token = doc.paths['/{tenant}/oauth2/v2.0/token'].post;
    assert.deepEqual(token.requestBody.content['application/x-www-form-urlencoded'].schema, { $ref: '#/components/schemas/TokenRequest' });
    assert.deepEqual(token.security, []);
    for (const path of ['/simulator/calls', '/simulator/calls/{id}', '/simulator/clock', '/simulator/clock/advance', '/simulator/directory']) {
      const item = doc.paths[path];
      assert.ok(item, path);
      for (const op of Object.values(item) as Array<{ security: unknown }>) assert.deepEqual(op.security, [{ adminKey: [] }], path);
    }
    assert.deepEqual(doc.paths['/v1.0/communications/calls/{id}/redirect'].post.security, [{ graphToken: [] }]);
    assert.deepEqual(doc.paths['/metrics'].get.security, []);
  });

  test('request schemas are the validation schemas (one source of truth)', () => {
    const redirect = doc.paths['/beta/communications/calls/{id}/redirect'].post;
    assert.deepEqual(redirect.requestBody.content['application/json'].schema, { $ref: '#/components/schemas/RedirectRequest' });
    assert.deepEqual(doc.components.schemas.RedirectRequest, JSON.parse(JSON.stringify(RedirectBodySchema)));
    assert.equal(doc.components.schemas.RedirectRequest.properties.timeout.minimum, 15);
    assert.equal(doc.components.schemas.RedirectRequest.properties.timeout.maximum, 90);
    assert.deepEqual(doc.components.schemas.PlaceCallRequest, JSON.parse(JSON.stringify(PlaceCallBodySchema)));
    assert.deepEqual(redirect.parameters, [{ name: 'id', in: 'path', required: true, schema: { type: 'string', minLength: 1, maxLength: 128 } }]);
    const list = doc.paths['/simulator/calls'].get;
    assert.deepEqual(list.parameters.map((p: { name: string; in: string; required: boolean }) => [p.name, p.in, p.required]), [['limit', 'query', false]]);
  });

  test('every schema is valid JSON Schema 2020-12, and real responses validate', async () => {
    const ajv = new Ajv2020.default({ strict: false, validateFormats: false, allErrors: true });
    ajv.addSchema({ $id: 'https://switchboard.test/openapi.json', components: doc.components });
    const schemaAt = (pointer: string) => ajv.compile({ $ref: `https://switchboard.test/openapi.json${pointer}` });
    for (const name of Object.keys(doc.components.schemas)) schemaAt(`#/components/schemas/${name}`);
    // Inline schemas of every operation compile too.
    for (const [path, item] of Object.entries(doc.paths as Record<string, Record<string, any>>)) {
      for (const [method, op] of Object.entries(item)) {
        for (const p of op.parameters ?? []) assert.doesNotThrow(() => ajv.compile(p.schema), `${method} ${path} ${p.name}`);
        for (const [status, response] of Object.entries(op.responses as Record<string, any>)) {
          for (const media of Object.values(response.content ?? {}) as Array<{ schema: unknown }>) {
            assert.doesNotThrow(() => ajv.compile({ $id: `https://switchboard.test/${method}${path}/${status}`, ...(media.schema as object), components: doc.components }), `${method} ${path} ${status}`);
          }
        }
      }
    }

    // A call as GET returns it, a simulator record, a Graph error: each matches its documented schema.
    const token = await h.token(CONTOSO, BOT.id, BOT.secret);
    const id = await h.placeCall(callFromCaller);
    await h.receiver.waitFor(id, 'created');
    const call = await h.http('GET', `/v1.0/communications/calls/${id}`, { token });
    const validCall = schemaAt('#/components/schemas/Call');
    assert.ok(validCall(call.json), JSON.stringify(validCall.errors));
    const validNotification = schemaAt('#/components/schemas/CommsNotifications');
    assert.ok(validNotification(h.receiver.notifications(id)[0]?.request.json), JSON.stringify(validNotification.errors));
    const validRecord = schemaAt('#/components/schemas/SimulatorRecord');
    assert.ok(validRecord(await h.record(id)), JSON.stringify(validRecord.errors));
    const error = await h.http('GET', '/v1.0/communications/calls/unknown-call', { token });
    const validError = schemaAt('#/components/schemas/GraphError');
    assert.ok(validError(error.json), JSON.stringify(validError.errors));
    const issued = await h.http('POST', `/${CONTOSO}/oauth2/v2.0/token`, {
      form: { grant_type: 'client_credentials', client_id: BOT.id, client_secret: BOT.secret, scope: 'https://graph.microsoft.com/.default' },
    });
    const validToken = schemaAt('#/components/schemas/TokenResponse');
    assert.ok(validToken(issued.json), JSON.stringify(validToken.errors));
  });
});
