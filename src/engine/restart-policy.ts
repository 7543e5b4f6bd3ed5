/**
 * Restart policies, as docker has them: what `--restart` and `HostConfig.RestartPolicy` may say, and whether
 * (and after how long) an exited container runs again.
 *
 * - `no` never; `always` after any exit; `unless-stopped` unless the user stopped it (stop, or kill with
 *   SIGKILL or its stop signal); `on-failure[:N]` after a non-zero exit, at most N times (0: no limit).
 * - The wait before a restart starts at 100 ms and doubles with each restart, to at most a minute; a run that
 *   lasted 10 s or more starts it over at 100 ms.
 * - A user's stop is never undone by a policy, whatever the policy says: only the boot-time start
 *   (`berth start --all --filter restart-policy=…`) brings back `always` containers the user stopped, as
 *   docker's daemon does when it starts.
 */
import { InvalidArgument } from '../errors.ts';
import type { RestartPolicy, RestartPolicyName } from '../types.ts';

export const POLICY_NAMES: readonly RestartPolicyName[] = ['no', 'always', 'on-failure', 'unless-stopped'];

export const NO_RESTART: RestartPolicy = { name: 'no', maximumRetryCount: 0 };

/** The first wait before a restart, its growth, its cap, and the run that starts it over. */
export const FIRST_DELAY_MS = 100;
export const MAX_DELAY_MS = 60_000;
export const STEADY_RUN_MS = 10_000;

/** `--restart NAME[:N]` as docker's CLI reads it: the count must be a whole number; the name is checked later. */
export function parseRestartFlag(text: string): { name: string; maximumRetryCount: number } {
  if (text === '') return { name: '', maximumRetryCount: 0 };
  const i = text.indexOf(':');
  const name = i < 0 ? text : text.slice(0, i);
  const count = i < 0 ? '' : text.slice(i + 1);
  if (i >= 0 && name === '') throw new InvalidArgument('invalid restart policy format: no policy provided before colon');
  let maximumRetryCount = 0;
  if (count !== '') {
    if (!/^[+-]?\d+$/.test(count)) throw new InvalidArgument('invalid restart policy format: maximum retry count must be an integer');
    maximumRetryCount = Number(count);
  }
  return { name, maximumRetryCount };
}

/** A policy as docker's daemon validates one (its messages); an empty name is `no`. */
export function validateRestartPolicy(p: { name?: string; maximumRetryCount?: number }): RestartPolicy {
  const name = p.name || 'no';
  const count = p.maximumRetryCount ?? 0;
  if (!Number.isSafeInteger(count)) throw new InvalidArgument(`invalid restart policy: maximum retry count must be an integer`);
  if (!(POLICY_NAMES as readonly string[]).includes(name)) {
    throw new InvalidArgument(`invalid restart policy: unknown policy '${name}'; use one of 'no', 'always', 'on-failure', or 'unless-stopped'`);
  }
  if (name !== 'on-failure' && count !== 0) {
    throw new InvalidArgument(`invalid restart policy: maximum retry count can only be used with 'on-failure'${count < 0 ? ' and cannot be negative' : ''}`);
  }
  if (count < 0) throw new InvalidArgument('invalid restart policy: maximum retry count cannot be negative');
  return { name: name as RestartPolicyName, maximumRetryCount: count };
}

/** What an exit leads to, from the container's record of it. */
export interface ExitFacts {
  policy: RestartPolicy;
  exitCode: number;
  /** The user stopped it (stop, or kill with SIGKILL or its stop signal) since it last started. */
  stoppedByUser: boolean;
  /** Restarts so far, docker's cumulative RestartCount (on-failure counts these). */
  restartCount: number;
  /** The wait before the last restart, 0 when there was none. */
  lastDelayMs: number;
  /** How long the run that just ended lasted. */
  ranMs: number;
}

/** Whether the container runs again, and after how long; docker's restart manager's rules. */
export function decideRestart(f: ExitFacts): { restart: false } | { restart: true; delayMs: number } {
  const p = f.policy;
  let restart = false;
  if (p.name === 'always' || p.name === 'unless-stopped') restart = !f.stoppedByUser;
  else if (p.name === 'on-failure') restart = !f.stoppedByUser && f.exitCode !== 0 && (p.maximumRetryCount === 0 || f.restartCount < p.maximumRetryCount);
  if (!restart) return { restart: false };
  const last = f.ranMs >= STEADY_RUN_MS ? 0 : f.lastDelayMs;
  return { restart: true, delayMs: last === 0 ? FIRST_DELAY_MS : Math.min(last * 2, MAX_DELAY_MS) };
}

/** Whether a boot-time start (`start --all --filter restart-policy=…`) brings the container back. */
export function comesBackAtBoot(policy: RestartPolicy, stoppedByUser: boolean, exitCode: number): boolean {
  if (policy.name === 'always') return true;
  if (policy.name === 'unless-stopped') return !stoppedByUser;
  if (policy.name === 'on-failure') return !stoppedByUser && exitCode !== 0;
  return false;
}
