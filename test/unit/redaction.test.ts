/**
 * identity/redaction: the secret scrubber every log line goes through (scrubSecrets, serializeError,
 * secureLogger), on a real pino logger writing to memory.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import pino from 'pino';
import { REDACT_CENSOR, scrubSecrets, secureLogger, serializeError } from '../../src/identity/redaction.js';

const SECRET_KEYS = ['authorization', 'Authorization', 'cookie', 'client_secret', 'clientSecret', 'client_assertion', 'access_token', 'token', 'adminKey', 'privateJwk', 'password'];

describe('scrubSecrets', () => {
  test('replaces secret keys at any depth, in objects and arrays, and leaves the input as it was', () => {
    const input = {
      msg: 'x',
      headers: { authorization: 'Bearer abc', accept: 'json' },
      list: [{ client_secret: 's1' }, { fine: 1 }],
      deep: { a: { b: { token: 't' } } },
      admin: { key: 'admin-key', name: 'ok' },
    };
    const copy = structuredClone(input);
    const out = scrubSecrets(input);
    assert.deepEqual(out, {
      msg: 'x',
      headers: { authorization: REDACT_CENSOR, accept: 'json' },
      list: [{ client_secret: REDACT_CENSOR }, { fine: 1 }],
      deep: { a: { b: { token: REDACT_CENSOR } } },
      admin: { key: REDACT_CENSOR, name: 'ok' },
    });
    assert.deepEqual(input, copy, 'the logged object itself is not changed');
  });

  test('an object without secrets is returned as it is (no copy)', () => {
    const input = { a: 1, b: { c: [1, 2, { d: 'e' }] }, key: 'not under admin' };
    assert.equal(scrubSecrets(input), input);
  });

  test('req and res at the top are left to their serializers; class instances are not walked', () => {
    class Thing {
      token = 'inside an instance';
    }
    const req = { headers: { authorization: 'x' } };
    const thing = new Thing();
    const out = scrubSecrets({ req, thing });
    assert.equal(out.req, req);
    assert.equal(out.thing, thing);
  });

  test('property: no secret value survives, whatever the shape', () => {
    const secret = fc.string({ minLength: 8 }).map((s) => `SECRET-${s}`);
    const leaf: fc.Arbitrary<unknown> = fc.oneof(fc.integer(), fc.string(), fc.boolean(), fc.constant(null));
    const tree = fc.letrec<{ node: unknown }>((tie) => ({
      node: fc.oneof(
        { depthSize: 'small', withCrossShrink: true },
        leaf,
        fc.array(tie('node'), { maxLength: 3 }),
        fc.dictionary(fc.oneof(fc.string(), fc.constantFrom(...SECRET_KEYS)), tie('node'), { maxKeys: 4 }),
      ),
    })).node;
    fc.assert(
      fc.property(tree, fc.constantFrom(...SECRET_KEYS), secret, fc.integer({ min: 0, max: 5 }), (shape, key, value, depth) => {
        let wrapped: unknown = { [key]: value };
        for (let i = 0; i < depth; i++) wrapped = { level: wrapped, other: shape };
        const out = JSON.stringify(scrubSecrets({ payload: wrapped, shape }));
        assert.ok(!out.includes(value), out);
      }),
    );
  });
});

describe('secureLogger', () => {
  const capture = (): { lines: () => string[]; logger: pino.Logger } => {
    let raw = '';
    const logger = secureLogger(pino({ level: 'trace' }, { write: (chunk: string) => void (raw += chunk) }));
    return { lines: () => raw.split('\n').filter(Boolean), logger };
  };

  test('log lines carry no secret: fields, nested bodies, errors with raw bytes, query strings', () => {
    const { lines, logger } = capture();
    const error = Object.assign(new Error('bad header'), { rawPacket: Buffer.from('Authorization: Bearer eyJraw'), body: 'client_secret=s3cret' });
    logger.info({ authorization: 'Bearer eyJtop', body: { client_secret: 's3cret', nested: [{ access_token: 'eyJtok' }] } }, 'one');
    logger.error({ err: error }, 'two');
    logger.info({ req: { method: 'POST', url: '/t/oauth2/v2.0/token?client_secret=s3cret&api-version=1', headers: { authorization: 'Bearer eyJreq' } } }, 'three');
    const text = lines().join('\n');
    for (const secret of ['eyJtop', 's3cret', 'eyJtok', 'eyJraw', 'eyJreq']) assert.ok(!text.includes(secret), `${secret} in ${text}`);
    assert.match(text, /client_secret=\[redacted\]&api-version=1/);
    assert.match(text, /"msg":"two"/);
    assert.match(text, /bad header/, 'the error message is kept');
  });

  test('serializeError keeps type, message and stack', () => {
    const out = serializeError(new TypeError('boom')) as { type: string; message: string; stack: string };
    assert.equal(out.type, 'TypeError');
    assert.equal(out.message, 'boom');
    assert.match(out.stack, /boom/);
  });
});
