/**
 * Health checks, as docker has them: the check a container gets (its own `--health-*` flags or
 * `Config.Healthcheck` over the image's HEALTHCHECK), and what each probe's result does to its health.
 *
 * - A probe runs the test in the container (`CMD` argv, `CMD-SHELL` through /bin/sh -c) as the container's
 *   user, with its environment and working directory; exit 0 is healthy, anything else a failure, and a probe
 *   still running at the timeout is killed and fails with exit code -1.
 * - Probes run every interval (every start interval during the start period). Failures during the start
 *   period do not count until a probe has passed; `retries` failures in a row make it unhealthy; one pass
 *   makes it healthy again. The last 5 results are kept, their output cut at 4 KiB.
 * - Durations are nanoseconds, 0 meaning the default: interval and timeout 30 s, start period 0, start
 *   interval 5 s; retries 0 means 3.
 */
import { InvalidArgument } from '../errors.ts';
import type { HealthConfig, HealthResult, HealthState } from '../types.ts';

export const DEFAULT_INTERVAL_NS = 30e9;
export const DEFAULT_TIMEOUT_NS = 30e9;
export const DEFAULT_START_INTERVAL_NS = 5e9;
export const DEFAULT_RETRIES = 3;
export const MAX_LOG_ENTRIES = 5;
export const MAX_OUTPUT_BYTES = 4096;
const MINIMUM_NS = 1e6;

/** docker's Config.Healthcheck as it arrives (API) or as flags make it. */
export interface HealthInput {
  Test?: string[] | null;
  Interval?: number;
  Timeout?: number;
  StartPeriod?: number;
  StartInterval?: number;
  Retries?: number;
}

/** docker's daemon checks (its messages); the test's first word must be one docker knows. */
export function validateHealth(h: HealthInput): void {
  const floor = (v: number | undefined, what: string) => {
    if (v !== undefined && v !== 0 && !(v >= MINIMUM_NS)) throw new InvalidArgument(`${what} in Healthcheck cannot be less than 1ms`);
  };
  floor(h.Interval, 'Interval');
  floor(h.Timeout, 'Timeout');
  if (h.Retries !== undefined && !(Number.isInteger(h.Retries) && h.Retries >= 0)) throw new InvalidArgument('Retries in Healthcheck cannot be negative');
  floor(h.StartPeriod, 'StartPeriod');
  floor(h.StartInterval, 'StartInterval');
  const kind = h.Test?.[0];
  if (kind !== undefined && !['NONE', 'CMD', 'CMD-SHELL'].includes(kind)) {
    throw new InvalidArgument(`invalid health check test: the first word must be NONE, CMD or CMD-SHELL, not ${JSON.stringify(kind)}`);
  }
  if ((kind === 'CMD' || kind === 'CMD-SHELL') && h.Test!.length < 2) throw new InvalidArgument(`invalid health check test: ${kind} needs a command`);
}

/**
 * The container's check: its own over the image's, field by field (docker's merge: an empty test or a zero
 * duration takes the image's). Undefined when there is none, or the test is NONE.
 */
export function resolveHealth(own: HealthInput | undefined, image: HealthInput | undefined): HealthConfig | undefined {
  if (own) validateHealth(own);
  const pick = (k: 'Interval' | 'Timeout' | 'StartPeriod' | 'StartInterval' | 'Retries') => (own?.[k] || image?.[k] || 0);
  const test = own?.Test && own.Test.length > 0 ? own.Test : (image?.Test ?? []);
  if (test.length === 0 || test[0] === 'NONE') return test[0] === 'NONE' ? { test: ['NONE'], interval: 0, timeout: 0, startPeriod: 0, startInterval: 0, retries: 0 } : undefined;
  return { test, interval: pick('Interval'), timeout: pick('Timeout'), startPeriod: pick('StartPeriod'), startInterval: pick('StartInterval'), retries: pick('Retries') };
}

/** Whether the check runs probes (a NONE test is a check that turns the image's off). */
export const probes = (h: HealthConfig | undefined): h is HealthConfig => !!h && h.test[0] !== 'NONE';

/** The argv a probe runs. */
export function probeArgv(h: HealthConfig): string[] {
  return h.test[0] === 'CMD-SHELL' ? ['/bin/sh', '-c', h.test.slice(1).join(' ')] : h.test.slice(1);
}

/** When the next probe is due after one at `lastMs` (or the start at `startedMs`): the start interval in the start period. */
export function nextProbeDelayMs(h: HealthConfig, startedMs: number, nowMs: number, status: HealthState['status']): number {
  const inStart = status === 'starting' && nowMs - startedMs < h.startPeriod / 1e6;
  return (inStart ? h.startInterval || DEFAULT_START_INTERVAL_NS : h.interval || DEFAULT_INTERVAL_NS) / 1e6;
}

export const STARTING: HealthState = { status: 'starting', failingStreak: 0, log: [] };

/** The health after a probe's result (docker's rules, in the file comment); `startedMs` the run's start. */
export function afterProbe(h: HealthConfig, state: HealthState, result: HealthResult, startedMs: number): HealthState {
  const log = [...state.log, result].slice(-MAX_LOG_ENTRIES);
  if (result.exitCode === 0) return { status: 'healthy', failingStreak: 0, log };
  const inStartPeriod = state.status === 'starting' && Date.parse(result.start) - startedMs < h.startPeriod / 1e6;
  if (inStartPeriod) return { ...state, log };
  const failingStreak = state.failingStreak + 1;
  return { status: failingStreak >= (h.retries || DEFAULT_RETRIES) ? 'unhealthy' : state.status, failingStreak, log };
}

/** A probe's output as kept: stdout and stderr together, cut at 4 KiB. */
export function keptOutput(out: string): string {
  const b = Buffer.from(out);
  return b.length <= MAX_OUTPUT_BYTES ? out : b.subarray(0, MAX_OUTPUT_BYTES).toString();
}
