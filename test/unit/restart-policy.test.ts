/** Restart policies (src/engine/restart-policy.ts): docker's parsing and validation, its backoff and its rules. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { InvalidArgument } from '../../src/errors.ts';
import { comesBackAtBoot, decideRestart, parseRestartFlag, validateRestartPolicy, type ExitFacts } from '../../src/engine/restart-policy.ts';

const refused = (f: () => unknown, msg: string) =>
  assert.throws(f, (e: unknown) => e instanceof InvalidArgument && (e as Error).message === msg);

test('--restart as docker\'s CLI reads it, and policies as its daemon checks them', () => {
  assert.deepEqual(parseRestartFlag('on-failure:3'), { name: 'on-failure', maximumRetryCount: 3 });
  assert.deepEqual(parseRestartFlag('always'), { name: 'always', maximumRetryCount: 0 });
  assert.deepEqual(parseRestartFlag('on-failure:'), { name: 'on-failure', maximumRetryCount: 0 });
  refused(() => parseRestartFlag(':1'), 'invalid restart policy format: no policy provided before colon');
  refused(() => parseRestartFlag('on-failure:1.5'), 'invalid restart policy format: maximum retry count must be an integer');
  assert.deepEqual(validateRestartPolicy({}), { name: 'no', maximumRetryCount: 0 });
  assert.deepEqual(validateRestartPolicy({ name: 'unless-stopped' }), { name: 'unless-stopped', maximumRetryCount: 0 });
  assert.deepEqual(validateRestartPolicy({ name: 'on-failure', maximumRetryCount: 5 }), { name: 'on-failure', maximumRetryCount: 5 });
  refused(() => validateRestartPolicy({ name: 'unknown' }), "invalid restart policy: unknown policy 'unknown'; use one of 'no', 'always', 'on-failure', or 'unless-stopped'");
  refused(() => validateRestartPolicy({ name: 'always', maximumRetryCount: 123 }), "invalid restart policy: maximum retry count can only be used with 'on-failure'");
  refused(() => validateRestartPolicy({ name: 'no', maximumRetryCount: -1 }), "invalid restart policy: maximum retry count can only be used with 'on-failure' and cannot be negative");
  refused(() => validateRestartPolicy({ name: 'on-failure', maximumRetryCount: -123 }), 'invalid restart policy: maximum retry count cannot be negative');
});

const exit = (over: Partial<ExitFacts>): ExitFacts => ({
  policy: { name: 'always', maximumRetryCount: 0 }, exitCode: 0, stoppedByUser: false, restartCount: 0, lastDelayMs: 0, ranMs: 500, ...over,
});

test('the wait: 100 ms, doubling to a minute, back to 100 ms after a run of 10 s', () => {
  const waits: number[] = [];
  let last = 0;
  for (let i = 0; i < 12; i++) {
    const d = decideRestart(exit({ lastDelayMs: last, restartCount: i }));
    assert.ok(d.restart);
    waits.push(d.delayMs);
    last = d.delayMs;
  }
  assert.deepEqual(waits, [100, 200, 400, 800, 1600, 3200, 6400, 12800, 25600, 51200, 60000, 60000]);
  assert.deepEqual(decideRestart(exit({ lastDelayMs: 60000, ranMs: 10_000 })), { restart: true, delayMs: 100 });
  assert.deepEqual(decideRestart(exit({ lastDelayMs: 60000, ranMs: 9_999 })), { restart: true, delayMs: 60000 });
});

test('who restarts: always and unless-stopped unless the user stopped it; on-failure on failures, up to its count', () => {
  const onFailure = (max: number) => ({ name: 'on-failure' as const, maximumRetryCount: max });
  assert.equal(decideRestart(exit({ policy: { name: 'no', maximumRetryCount: 0 }, exitCode: 1 })).restart, false);
  assert.equal(decideRestart(exit({ stoppedByUser: true })).restart, false);
  assert.equal(decideRestart(exit({ policy: { name: 'unless-stopped', maximumRetryCount: 0 }, exitCode: 137 })).restart, true);
  assert.equal(decideRestart(exit({ policy: { name: 'unless-stopped', maximumRetryCount: 0 }, stoppedByUser: true })).restart, false);
  assert.equal(decideRestart(exit({ policy: onFailure(0), exitCode: 0 })).restart, false);
  assert.equal(decideRestart(exit({ policy: onFailure(0), exitCode: 1, restartCount: 1000 })).restart, true, '0 is no limit');
  assert.equal(decideRestart(exit({ policy: onFailure(2), exitCode: 1, restartCount: 1 })).restart, true);
  assert.equal(decideRestart(exit({ policy: onFailure(2), exitCode: 1, restartCount: 2 })).restart, false);
  assert.equal(decideRestart(exit({ policy: onFailure(2), exitCode: 1, stoppedByUser: true })).restart, false);
});

test('at boot: always ones even if the user stopped them, unless-stopped ones only if not, on-failure ones that failed', () => {
  assert.equal(comesBackAtBoot({ name: 'always', maximumRetryCount: 0 }, true, 0), true);
  assert.equal(comesBackAtBoot({ name: 'unless-stopped', maximumRetryCount: 0 }, false, 0), true);
  assert.equal(comesBackAtBoot({ name: 'unless-stopped', maximumRetryCount: 0 }, true, 137), false);
  assert.equal(comesBackAtBoot({ name: 'on-failure', maximumRetryCount: 3 }, false, -1), true);
  assert.equal(comesBackAtBoot({ name: 'on-failure', maximumRetryCount: 3 }, false, 0), false);
  assert.equal(comesBackAtBoot({ name: 'no', maximumRetryCount: 0 }, false, 1), false);
});
