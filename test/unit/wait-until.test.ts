// waitUntil (src/engine/wait.ts): the caller's wake ends a wait at once. Timers are frozen (node:test's mock
// timers), so no poll can end these waits: only the wake can.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { waitUntil } from '../../src/engine/wait.ts';

test('a wake ends a wait whose poll would not come: the condition is checked again at once', { timeout: 10_000 }, async (t) => {
  t.mock.timers.enable({ apis: ['setTimeout'] });
  let done = false;
  let wake!: () => void;
  let checks = 0;
  const waiting = waitUntil(() => (checks++, done), Infinity, [], (w) => (wake = w));
  await Promise.resolve();
  assert.equal(checks, 1, 'checked once, then waiting');
  wake(); // woken while the condition still fails: checked again, and the wait goes on
  await new Promise<void>((r) => setImmediate(r));
  assert.equal(checks, 2);
  done = true;
  wake();
  assert.equal(await waiting, true);
  assert.equal(checks, 3);
});

test('a wake that comes before the wait is set up is not lost', { timeout: 10_000 }, async (t) => {
  t.mock.timers.enable({ apis: ['setTimeout'] });
  let done = false;
  const waiting = waitUntil(() => done, Infinity, [], (wake) => {
    done = true; // what the wake reports happened before the first check's wait began
    wake();
  });
  assert.equal(await waiting, true);
});

test('without a wake, frozen timers hold the wait (the two tests above are not ended by a poll)', { timeout: 10_000 }, async (t) => {
  t.mock.timers.enable({ apis: ['setTimeout'] });
  let done = false;
  let settled = false;
  const waiting = waitUntil(() => done, Infinity).then((v) => ((settled = true), v));
  for (let i = 0; i < 5; i++) await new Promise<void>((r) => setImmediate(r));
  assert.equal(settled, false);
  done = true;
  t.mock.timers.tick(10); // the poll's timer, advanced by hand
  assert.equal(await waiting, true);
});
