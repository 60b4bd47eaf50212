/**
 * Limits, end to end over real HTTPS (contract Part B "Configuration and operation details"): body size
 * (413), header size (431), JSON depth and string length (400), prototype-poisoning keys, content types,
 * number of targets, broken URLs, slow clients (headers and request timeouts, shortened for the test
 * through SwitchboardOptions.timing), and a flood of idle connections that must not stop another client.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type tls from 'node:tls';
import { Harness } from '../support/harness.js';
import { BOT, CONTOSO, USERS, callFromCaller, testDirectory, userTarget } from '../support/fixtures.js';
import { aadErrorProblem, assertGraphError, rawExchange, tlsConnect } from './security-support.js';

const BODY_LIMIT = 32 * 1024;
const HEADERS_TIMEOUT_MS = 300;
const REQUEST_TIMEOUT_MS = 700;

let h: Harness;
let token: string;

before(async () => {
  h = await Harness.start((cb) => ({ ...testDirectory(cb), limits: { requestsPer15Seconds: 50_000, bodyBytes: BODY_LIMIT } }), {
    timing: { headersTimeoutMs: HEADERS_TIMEOUT_MS, requestTimeoutMs: REQUEST_TIMEOUT_MS },
  });
  token = await h.token(CONTOSO, BOT.id, BOT.secret);
});
after(async () => h?.close());

const incomingCall = (): Promise<string> => h.incomingCall();

const redirectPath = (id: string) => `/v1.0/communications/calls/${id}/redirect`;
const target = [userTarget(USERS.testUser)];
/** `n` arrays nested inside each other. */
const nested = (n: number): unknown => {
  let v: unknown = 1;
  for (let i = 0; i < n; i++) v = [v];
  return v;
};

describe('body size (limits.bodyBytes → 413)', () => {
  test('a redirect body over the limit → 413 RequestEntityTooLarge; one under it is read', async () => {
    const id = await incomingCall();
    const padding = Array.from({ length: 40 }, () => 'x'.repeat(1000));
    const big = await h.http('POST', redirectPath(id), { token, body: { targets: target, padding } });
    assertGraphError(big, 413, 'RequestEntityTooLarge');
    assert.equal((await h.record(id)).state, 'incoming');
    const small = await h.http('POST', redirectPath(id), { token, body: { targets: target, padding: padding.slice(0, 20) } });
    assert.equal(small.status, 202, small.text);
  });

  test('the simulator API has the same limit', async () => {
    const res = await h.http('POST', '/simulator/calls', { token: h.sb.adminKey, body: { ...callFromCaller, padding: Array.from({ length: 40 }, () => 'y'.repeat(1000)) } });
    assertGraphError(res, 413, 'RequestEntityTooLarge');
  });

  test('the token endpoint: 413 in Azure AD format', async () => {
    const res = await h.http('POST', `/${CONTOSO}/oauth2/v2.0/token`, { form: { grant_type: 'client_credentials', padding: 'z'.repeat(BODY_LIMIT) } });
    assert.equal(res.status, 413, res.text);
    assert.equal(aadErrorProblem(res.headers, res.text), undefined, res.text);
  });
});

describe('headers (16 KiB → 431)', () => {
  const request = (headerBytes: number) =>
    `GET /v1.0/communications/calls/x HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${token}\r\nX-Padding: ${'p'.repeat(headerBytes)}\r\nConnection: close\r\n\r\n`;

  test('headers over 16 KiB → 431, and the connection is closed', async () => {
    const res = await rawExchange(h.sb.port, h.sb.caPem!, request(17 * 1024));
    assert.equal(res.status, 431);
    assert.equal(res.closed, true);
  });

  test('headers just under 16 KiB are read (the request gets its answer)', async () => {
    const res = await rawExchange(h.sb.port, h.sb.caPem!, request(14 * 1024));
    assert.equal(res.status, 404, res.body);
    assert.equal(JSON.parse(res.body).error.code, '8522');
  });
});

describe('JSON depth and string length (→ 400)', () => {
  test('nested 64 deep is read; 65 deep → 400 naming the limit', async () => {
    const id = await incomingCall();
    // The body object is level 1: `extra` adds 63 more.
    const deep = await h.http('POST', redirectPath(id), { token, body: { targets: target, extra: nested(64) } });
    assertGraphError(deep, 400, 'BadRequest', /nested deeper than 64/);
    assert.equal((await h.record(id)).state, 'incoming');
    const ok = await h.http('POST', redirectPath(id), { token, body: { targets: target, extra: nested(63) } });
    assert.equal(ok.status, 202, ok.text);
  });

  test('a very deep body (100,000 levels) is refused fast, without parsing', async () => {
    const id = await incomingCall();
    const started = performance.now();
    const res = await h.http('POST', redirectPath(id), { token, raw: `{"targets":${'['.repeat(15_000)}${']'.repeat(15_000)}}` });
    assertGraphError(res, 400, 'BadRequest', /nested deeper than 64/);
    assert.ok(performance.now() - started < 1000);
  });

  test('strings: 4096 bytes are read; 4097 bytes (or 2049 two-byte characters, or a long key) → 400 naming the field', async () => {
    const id = await incomingCall();
    for (const [name, body, field] of [
      ['4097 ASCII bytes', { targets: [userTarget(USERS.testUser, 'a'.repeat(4097))] }, /targets\[0\]\.identity\.user\.displayName/],
      ['2049 × "é"', { targets: target, note: 'é'.repeat(2049) }, /note is longer than 4096 bytes/],
      ['a 5000-byte key', { targets: target, ['k'.repeat(5000)]: 1 }, /property name/],
    ] as const) {
      const res = await h.http('POST', redirectPath(id), { token, body });
      assertGraphError(res, 400, 'BadRequest', field);
      assert.ok(res.text.length < 2000, `${name}: the error does not echo the string`);
    }
    const ok = await h.http('POST', redirectPath(id), { token, body: { targets: target, note: 'n'.repeat(4096) } });
    assert.equal(ok.status, 202, ok.text);
  });

  test('"__proto__" and "constructor.prototype" keys → 400 (prototype poisoning), and Object.prototype is untouched', async () => {
    const id = await incomingCall();
    for (const raw of [
      `{"targets":${JSON.stringify(target)},"__proto__":{"polluted":true}}`,
      `{"targets":[{"identity":{"user":{"id":"${USERS.testUser}","__proto__":{"polluted":true}}}}]}`,
      `{"targets":${JSON.stringify(target)},"constructor":{"prototype":{"polluted":true}}}`,
    ]) {
      const res = await h.http('POST', redirectPath(id), { token, raw });
      assertGraphError(res, 400, 'BadRequest', /__proto__|constructor\.prototype/);
    }
    assert.equal(({} as Record<string, unknown>)['polluted'], undefined);
    const fine = await h.http('POST', redirectPath(id), { token, raw: `{"targets":${JSON.stringify(target)},"constructor":"just a string"}` });
    assert.equal(fine.status, 202, fine.text);
  });

  test('bytes that are not UTF-8 → 400', async () => {
    const id = await incomingCall();
    const body = Buffer.concat([Buffer.from('{"targets":[{"identity":{"user":{"id":"'), Buffer.from([0xc3, 0x28, 0xff]), Buffer.from('"}}}]}')]);
    const res = await rawExchange(
      h.sb.port,
      h.sb.caPem!,
      Buffer.concat([
        Buffer.from(`POST ${redirectPath(id)} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${token}\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n`),
        body,
      ]),
    );
    assert.equal(res.status, 400, res.body);
    assert.match(JSON.parse(res.body).error.message, /UTF-8/);
  });
});

describe('content types, targets, URLs', () => {
  test('text/plain, application/xml, form → 415 UnsupportedMediaType', async () => {
    const id = await incomingCall();
    for (const type of ['text/plain', 'application/xml', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x']) {
      const res = await h.http('POST', redirectPath(id), { token, raw: JSON.stringify({ targets: target }), headers: { 'content-type': type } });
      assertGraphError(res, 415, 'UnsupportedMediaType');
    }
    assert.equal((await h.record(id)).state, 'incoming');
  });

  test('26 targets → 400 naming targets', async () => {
    const id = await incomingCall();
    const res = await h.http('POST', redirectPath(id), { token, body: { targets: Array.from({ length: 26 }, () => userTarget(USERS.testUser)) } });
    assertGraphError(res, 400, 'BadRequest', /targets/);
  });

  test('a path that is not valid percent-encoding → 400 Graph error (Azure AD error on the token endpoint)', async () => {
    const graph = await rawExchange(h.sb.port, h.sb.caPem!, `GET /v1.0/communications/calls/%E0%A4%A HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`);
    assert.equal(graph.status, 400, graph.body);
    assert.equal(JSON.parse(graph.body).error.code, 'BadRequest');
    const aad = await rawExchange(h.sb.port, h.sb.caPem!, `POST /%zz/oauth2/v2.0/token HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`);
    assert.equal(aad.status, 400, aad.body);
    assert.equal(aadErrorProblem(aad.headers, aad.body), undefined, aad.body);
  });

  test('CONNECT → 405 Graph error, and the connection is closed even with unread data behind the request', async () => {
    const connections = () => new Promise<number>((resolve) => h.sb.app.server.getConnections((_e, n) => resolve(n)));
    const before = await connections();
    const res = await rawExchange(h.sb.port, h.sb.caPem!, `CONNECT 127.0.0.1:22 HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Pad: ${'p'.repeat(12_000)}\r\nContent-Length: 8000\r\n\r\n${'b'.repeat(8000)}`);
    assert.equal(res.status, 405, res.body);
    assert.equal(JSON.parse(res.body).error.code, 'MethodNotAllowed');
    await new Promise((r) => setTimeout(r, 300));
    assert.ok((await connections()) <= before, 'no connection left behind (it would also keep the server from closing)');
  });

  test('an overlong call id (150 and 1,000 characters) → 400 Graph error', async () => {
    for (const length of [150, 1000]) {
      const res = await h.http('GET', `/v1.0/communications/calls/${'a'.repeat(length)}`, { token });
      assertGraphError(res, 400, 'BadRequest');
    }
  });
});

describe('slow clients (timeouts shortened to 300 ms headers, 700 ms request)', () => {
  test('headers trickling in → the connection is closed soon after the headers timeout', async () => {
    const pieces = ['GET /v1.0/communications/calls/x HTTP/1.1\r\n', 'Host: 127.0.0.1\r\n', ...Array.from({ length: 40 }, (_, i) => `X-Slow-${i}: y\r\n`)];
    const res = await rawExchange(h.sb.port, h.sb.caPem!, pieces, { paceMs: 100, timeoutMs: 5000 });
    assert.equal(res.closed, true, 'closed by the server');
    assert.ok(res.elapsedMs < 2000, `closed after ${res.elapsedMs} ms`);
    assert.ok(res.status === undefined || res.status === 408, `status ${String(res.status)}`);
  });

  test('a body trickling in → the connection is closed soon after the request timeout', async () => {
    const id = await incomingCall();
    const body = JSON.stringify({ targets: target });
    const head = `POST ${redirectPath(id)} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${token}\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n`;
    const res = await rawExchange(h.sb.port, h.sb.caPem!, [head, ...body.split('')], { paceMs: 100, timeoutMs: 5000 });
    assert.equal(res.closed, true);
    assert.ok(res.elapsedMs < 3000, `closed after ${res.elapsedMs} ms`);
    assert.equal((await h.record(id)).state, 'incoming', 'the partial request did nothing');
  });

  test('idle connections that never send a request are closed too', async () => {
    const sockets = await Promise.all(Array.from({ length: 30 }, () => tlsConnect(h.sb.port, h.sb.caPem!)));
    // Read (and drop) what comes: a socket nobody reads from never sees the server's FIN ('end', then 'close'),
    // only a reset. Whether the server's close is a FIN or a reset depends on timing (unread bytes on its
    // side), which is why this test once missed 1 socket in 30 under load.
    for (const s of sockets) s.resume();
    const closed = await Promise.all(
      sockets.map(
        (s) =>
          new Promise<boolean>((resolve) => {
            if (s.destroyed) return resolve(true);
            // Generous: the server closes them after ~1 s; a loaded CI machine must not turn that into a failure.
            const t = setTimeout(() => resolve(false), 15_000);
            s.on('close', () => {
              clearTimeout(t);
              resolve(true);
            });
            s.on('error', () => undefined);
          }),
      ),
    );
    for (const s of sockets) s.destroy();
    assert.equal(closed.filter(Boolean).length, sockets.length);
  });

  test('a normal request is unaffected by the short timeouts', async () => {
    const res = await h.http('GET', '/simulator/clock', { token: h.sb.adminKey });
    assert.equal(res.status, 200);
  });
});

describe('a flood of connections (default timeouts)', () => {
  test('500 idle TLS connections do not stop another client being served', { timeout: 60_000 }, async () => {
    const flood = await Harness.start(testDirectory);
    const sockets: tls.TLSSocket[] = [];
    try {
      const floodToken = await flood.token(CONTOSO, BOT.id, BOT.secret);
      for (let i = 0; i < 500; i += 50) {
        sockets.push(...(await Promise.all(Array.from({ length: 50 }, () => tlsConnect(flood.sb.port, flood.sb.caPem!)))));
      }
      // Half of them start a request and stop in the middle of the headers.
      sockets.forEach((s, i) => {
        s.on('error', () => undefined);
        if (i % 2 === 0) s.write('POST /v1.0/communications/calls/x/redirect HTTP/1.1\r\nHost: 127.0.0.1\r\n');
      });
      assert.equal(sockets.filter((s) => !s.destroyed).length, 500, 'all 500 connections are open');
      const times: number[] = [];
      for (let i = 0; i < 20; i++) {
        const started = performance.now();
        const id = await flood.placeCall(callFromCaller);
        const res = await flood.http('GET', `/v1.0/communications/calls/${id}`, { token: floodToken });
        assert.equal(res.status, 200, res.text);
        times.push(performance.now() - started);
      }
      times.sort((a, b) => a - b);
      const p95 = times[Math.floor(times.length * 0.95) - 1]!;
      assert.ok(p95 < 1000, `another client is served (p95 ${p95.toFixed(1)} ms for place + GET)`);
      assert.equal(sockets.filter((s) => !s.destroyed).length, 500, 'the flood is still connected while the client was served');
    } finally {
      for (const s of sockets) s.destroy();
      await flood.close();
    }
  });
});
