/** Health checks (src/engine/healthcheck.ts) and Go durations (src/durations.ts): docker's rules, without containers. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { goDuration, parseGoDuration } from '../../src/durations.ts';
import { afterProbe, keptOutput, nextProbeDelayMs, probeArgv, resolveHealth, STARTING, validateHealth } from '../../src/engine/healthcheck.ts';
import { InvalidArgument } from '../../src/errors.ts';
import type { HealthConfig, HealthResult } from '../../src/types.ts';

test('Go durations in and out', () => {
  assert.equal(parseGoDuration('1m30s'), 90e9);
  assert.equal(parseGoDuration('200ms'), 200e6);
  assert.equal(parseGoDuration('1.5s'), 1.5e9);
  assert.equal(parseGoDuration('-2s'), -2e9);
  assert.equal(parseGoDuration('0'), 0);
  assert.equal(parseGoDuration('1ns'), 1);
  for (const bad of ['', '5', 'often', '1x', 's']) assert.equal(parseGoDuration(bad), null, bad);
  assert.equal(goDuration(30e9), '30s');
  assert.equal(goDuration(90e9), '1m30s');
  assert.equal(goDuration(300e6), '300ms');
  assert.equal(goDuration(3600e9), '1h0m0s');
  assert.equal(goDuration(0), '0s');
});

test('the container\'s check over the image\'s, field by field; NONE turns it off; docker\'s refusals', () => {
  const image = { Test: ['CMD', 'true'], Interval: 5e9, Retries: 4 };
  assert.deepEqual(resolveHealth(undefined, image), { test: ['CMD', 'true'], interval: 5e9, timeout: 0, startPeriod: 0, startInterval: 0, retries: 4 });
  assert.deepEqual(resolveHealth({ Interval: 1e9 }, image), { test: ['CMD', 'true'], interval: 1e9, timeout: 0, startPeriod: 0, startInterval: 0, retries: 4 });
  assert.deepEqual(resolveHealth({ Test: ['CMD-SHELL', 'curl x'] }, image)?.test, ['CMD-SHELL', 'curl x']);
  assert.deepEqual(resolveHealth({ Test: ['NONE'] }, image)?.test, ['NONE']);
  assert.equal(resolveHealth(undefined, undefined), undefined);
  const refused = (h: object, msg: string) => assert.throws(() => validateHealth(h), (e: unknown) => e instanceof InvalidArgument && (e as Error).message === msg);
  refused({ Interval: 999_999 }, 'Interval in Healthcheck cannot be less than 1ms');
  refused({ Timeout: -1 }, 'Timeout in Healthcheck cannot be less than 1ms');
  refused({ StartPeriod: 5 }, 'StartPeriod in Healthcheck cannot be less than 1ms');
  refused({ StartInterval: 5 }, 'StartInterval in Healthcheck cannot be less than 1ms');
  refused({ Retries: -1 }, 'Retries in Healthcheck cannot be negative');
  assert.throws(() => validateHealth({ Test: ['SHELL', 'x'] }), /the first word must be NONE, CMD or CMD-SHELL/);
  assert.deepEqual(probeArgv({ test: ['CMD-SHELL', 'a && b'], interval: 0, timeout: 0, startPeriod: 0, startInterval: 0, retries: 0 }), ['/bin/sh', '-c', 'a && b']);
  assert.deepEqual(probeArgv({ test: ['CMD', 'curl', '-f', 'x'], interval: 0, timeout: 0, startPeriod: 0, startInterval: 0, retries: 0 }), ['curl', '-f', 'x']);
});

const check = (over: Partial<HealthConfig> = {}): HealthConfig => ({ test: ['CMD', 'x'], interval: 0, timeout: 0, startPeriod: 0, startInterval: 0, retries: 0, ...over });
const at = (startedMs: number, afterMs: number, exitCode: number): HealthResult => ({
  start: new Date(startedMs + afterMs).toISOString(), end: new Date(startedMs + afterMs + 10).toISOString(), exitCode, output: '',
});

test('probe results: one pass is healthy, retries failures in a row unhealthy (3 by default), 5 kept', () => {
  const t0 = Date.parse('2026-12-06T10:00:00Z');
  let s = STARTING;
  s = afterProbe(check(), s, at(t0, 1000, 1), t0);
  assert.deepEqual([s.status, s.failingStreak], ['starting', 1]);
  s = afterProbe(check(), s, at(t0, 2000, 1), t0);
  s = afterProbe(check(), s, at(t0, 3000, 1), t0);
  assert.deepEqual([s.status, s.failingStreak], ['unhealthy', 3]);
  s = afterProbe(check(), s, at(t0, 4000, 0), t0);
  assert.deepEqual([s.status, s.failingStreak], ['healthy', 0]);
  s = afterProbe(check({ retries: 1 }), s, at(t0, 5000, -1), t0);
  assert.deepEqual([s.status, s.failingStreak], ['unhealthy', 1]);
  for (let i = 0; i < 5; i++) s = afterProbe(check(), s, at(t0, 6000 + i, 0), t0);
  assert.equal(s.log.length, 5);
});

test('the start period: failures do not count until a probe passed, and probes come every start interval', () => {
  const t0 = Date.parse('2026-12-06T10:00:00Z');
  const c = check({ startPeriod: 10e9, startInterval: 1e9, retries: 1 });
  let s = afterProbe(c, STARTING, at(t0, 1000, 1), t0);
  assert.deepEqual([s.status, s.failingStreak], ['starting', 0]);
  assert.equal(nextProbeDelayMs(c, t0, t0 + 1000, s.status), 1000);
  assert.equal(nextProbeDelayMs(c, t0, t0 + 11_000, s.status), 30_000, 'after the start period: the interval (default 30 s)');
  s = afterProbe(c, s, at(t0, 2000, 0), t0);
  assert.equal(s.status, 'healthy');
  assert.equal(nextProbeDelayMs(c, t0, t0 + 2000, s.status), 30_000, 'healthy: the interval, start period or not');
  s = afterProbe(c, s, at(t0, 3000, 1), t0);
  assert.deepEqual([s.status, s.failingStreak], ['unhealthy', 1], 'once it passed, failures count');
  assert.equal(afterProbe(c, STARTING, at(t0, 12_000, 1), t0).status, 'unhealthy', 'past the start period they count');
  assert.equal(keptOutput('x'.repeat(5000)).length, 4096);
});
