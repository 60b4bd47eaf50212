/**
 * The benchmark suite runs (issue 6): `runBench` with the `--quick` sizes, in this process, writing to a
 * temporary file (the committed bench/results.json is left alone), and every figure of the issue is there
 * as a number. The figures themselves are not asserted: they depend on the machine and its load.
 * store.postgres.* is checked when a PostgreSQL URL is given (SWITCHBOARD_BENCH_PG_URL, or the tests' own
 * SWITCHBOARD_TEST_PG_URL).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { KEYS, runBench, valueAt, type Results } from '../../bench/run.js';

const PG_URL = process.env.SWITCHBOARD_BENCH_PG_URL ?? process.env.SWITCHBOARD_TEST_PG_URL;

test('npm run bench -- --quick: every figure of the issue, as numbers, in nested objects', { timeout: 240_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'switchboard-bench-test-'));
  try {
    const out = join(dir, 'results.json');
    const lines: string[] = [];
    const started = Date.now();
    await runBench({ quick: true, out, ...(PG_URL ? { pgUrl: PG_URL } : {}), log: (line) => lines.push(line) });
    const seconds = (Date.now() - started) / 1000;
    const results = JSON.parse(readFileSync(out, 'utf8')) as Results;
    for (const key of KEYS) {
      if (key.startsWith('store.postgres.') && !PG_URL) continue;
      const value = valueAt(results, key);
      assert.equal(typeof value, 'number', `${key} is a number (got ${JSON.stringify(value)})\n${lines.join('\n')}`);
      assert.ok(Number.isFinite(value as number) && (value as number) >= 0, `${key} = ${String(value)}`);
    }
    // Nested objects, not dotted keys.
    assert.equal(typeof results.workflow, 'object');
    assert.equal(typeof (results.peer as { prism?: unknown }).prism, 'object');
    assert.equal(Object.keys(results).some((k) => k.includes('.')), false);
    // Throughput figures measured something, and nothing failed along the way.
    for (const key of ['workflow.perSecond', 'workflow.floorPerSecond', 'redirect.perSecond', 'peer.prism.perSecond', 'ringing.calls']) {
      assert.ok((valueAt(results, key) as number) > 0, `${key} > 0`);
    }
    assert.equal(valueAt(results, 'workflow.errors'), 0, String(valueAt(results, 'workflow.firstError')));
    assert.equal(valueAt(results, 'redirect.errors'), 0, String(valueAt(results, 'redirect.firstError')));
    assert.equal(valueAt(results, 'peer.prism.errors'), 0, String(valueAt(results, 'peer.prism.firstError')));
    assert.equal(valueAt(results, 'ringing.placeErrors'), 0);
    assert.equal(valueAt(results, 'ringing.firedBeforeMeasure'), 0, 'memory is read while every call still rings');
    assert.equal(valueAt(results, 'timers.fired'), valueAt(results, 'ringing.calls'), 'every ring timeout fired');
    // The table names every figure.
    const printed = lines.join('\n');
    for (const key of KEYS) assert.match(printed, new RegExp(key.replace(/\./g, '\\.')));
    assert.ok(seconds < 120, `--quick took ${seconds} s`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
