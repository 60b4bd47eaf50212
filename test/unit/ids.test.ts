/** calls/ids: call and notification ids are UUIDv7 GUIDs that sort by creation time. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { timeOrderedUuid } from '../../src/calls/ids.js';

const V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

test('UUIDv7 format, unique, and ordered by the millisecond they were made in', async () => {
  const first = Array.from({ length: 1000 }, () => timeOrderedUuid());
  await new Promise((resolve) => setTimeout(resolve, 5));
  const later = timeOrderedUuid();
  for (const id of [...first, later]) assert.match(id, V7);
  assert.equal(new Set(first).size, first.length, 'no two alike (the random pool refills every 256 ids)');
  for (const id of first) assert.ok(id < later, `${id} sorts before ${later}`);
  const ms = Number.parseInt(later.replace(/-/g, '').slice(0, 12), 16);
  assert.ok(Math.abs(ms - Date.now()) < 1000, 'the first 48 bits are the time in ms');
});
