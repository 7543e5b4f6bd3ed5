/**
 * The container state machine, in one place: the states, the transitions between them with the states each
 * may start from, the predicates verbs check before acting, and docker's word for each state.
 *
 *   creating ──create──▶ created ──start──▶ running ◀──unpause── paused
 *                           ▲  │               │  └───pause──────▶ ▲
 *                           │  └──exit──┐      exit               │
 *                     reset │           ▼      ▼                  exit
 *                           └─────── exited ◀──────────────────────┘
 *   any but removing ──remove──▶ removing ──(row deleted) / removeFailed──▶ dead ──remove──▶ removing
 *
 * Every write of a state takes its guard from here (`move`): the row is updated only if it is still in one of
 * the transition's source states, so a reader that recorded an exit meanwhile is never overwritten. `dead` has
 * docker's meaning: a removal that failed part way; `rm` tries again.
 */
import type { ContainerState, RestartPolicy } from '../types.ts';
import { decideRestart } from './restart-policy.ts';

interface Transition {
  from: readonly ContainerState[];
  to: ContainerState;
}

export const TRANSITIONS = {
  /** The create finished: the row inserted as `creating` is complete. */
  create: { from: ['creating'], to: 'created' },
  /** The runtime started the container's process (a start after an exit runs it again). */
  start: { from: ['created', 'exited'], to: 'running' },
  /** A start's owner died after the runtime ran the process: the next holder adopts it as it is. */
  adoptRunning: { from: ['created'], to: 'running' },
  adoptPaused: { from: ['created'], to: 'paused' },
  pause: { from: ['running'], to: 'paused' },
  unpause: { from: ['paused'], to: 'running' },
  /** The monitor reported the exit, or died without a report and the process is gone. */
  exit: { from: ['created', 'running', 'paused'], to: 'exited' },
  remove: { from: ['created', 'running', 'paused', 'exited', 'dead'], to: 'removing' },
  /** Removal failed part way: what is left stays visible as dead, and a later `rm` tries again. */
  removeFailed: { from: ['removing'], to: 'dead' },
} as const satisfies Record<string, Transition>;

export type TransitionName = keyof typeof TRANSITIONS;

/**
 * A transition as the arguments of ContainerRepo.update: the patch with the new state, and the guard (the
 * states the row may be in for the write to happen).
 */
export function move<P extends object>(t: TransitionName, patch?: P): [P & { state: ContainerState }, readonly ContainerState[]] {
  const { from, to } = TRANSITIONS[t];
  return [{ ...(patch ?? ({} as P)), state: to }, from];
}

const isIn = (t: TransitionName) => (s: ContainerState) => (TRANSITIONS[t].from as readonly ContainerState[]).includes(s);

export const canStart = isIn('start');
export const canPause = isIn('pause');
export const canUnpause = isIn('unpause');
export const canRemove = isIn('remove');
/** The monitor may still be watching it: sync reconciles these states with the exit file and liveness. */
export const mayExit = isIn('exit');

/** A process of the container runs (or is frozen): it can be signalled, stopped, inspected for pids. */
export const isLive = (s: ContainerState): boolean => s === 'running' || s === 'paused';
export const canKill = isLive;
export const canStop = isLive;
/** exec needs a process that can act: a paused container refuses it, as docker's does. */
export const canExec = (s: ContainerState): boolean => s === 'running';
/** The container will not run again by itself: `wait` returns. */
export const hasEnded = (s: ContainerState): boolean => s === 'exited' || s === 'dead';

/** Docker's State.Status for a state (a create in progress shows as created, as docker has no such word). */
export function dockerStatus(s: ContainerState): string {
  return s === 'creating' ? 'created' : s;
}

/** What the status of a container is decided from. */
export interface StatusFacts {
  state: ContainerState;
  restartAt: string;
  /** With the rest below: an exit whose cleanup has not run yet (still mounted) that its policy will restart. */
  mounted?: boolean;
  exitCode?: number;
  stoppedByUser?: boolean;
  restartCount?: number;
  config?: { restartPolicy?: RestartPolicy };
}

/**
 * Docker's State.Status for a container: `restarting` while a restart its policy scheduled is due, and from
 * the moment it exits when its policy will restart it (before the exit's cleanup schedules that restart:
 * docker's daemon, handling the exit at once, never shows such a container stopped).
 */
export function dockerStatusOf(r: StatusFacts): string {
  if (r.state === 'exited' && (r.restartAt !== '' || willRestart(r))) return 'restarting';
  return dockerStatus(r.state);
}

function willRestart(r: StatusFacts): boolean {
  const policy = r.config?.restartPolicy;
  if (!r.mounted || !policy || policy.name === 'no') return false;
  return decideRestart({ policy, exitCode: r.exitCode ?? 0, stoppedByUser: r.stoppedByUser ?? false, restartCount: r.restartCount ?? 0, lastDelayMs: 0, ranMs: 0 }).restart;
}

/**
 * Docker's State.Running: true for a live container, and for a restarting one (docker lists it in `ps`
 * without -a, and compose's stop finds it there).
 */
export function isUpOrRestarting(r: StatusFacts): boolean {
  return isLive(r.state) || dockerStatusOf(r) === 'restarting';
}

/**
 * What a stop acts on: a live container; one waiting out its restart policy's delay (the stop calls the
 * restart off); and one with a restart policy that has just exited and whose cleanup, which decides on a
 * restart, has not run yet (the stop tells that cleanup the user stopped it). Any other is stopped already.
 */
export function stopActsOn(r: StatusFacts & { mounted: boolean; config: { restartPolicy?: RestartPolicy } }): boolean {
  const mayRestart = (r.config.restartPolicy?.name ?? 'no') !== 'no';
  return isUpOrRestarting(r) || (mayRestart && r.state === 'exited' && r.mounted);
}

/** The words docker's `status=` filter takes (ps, the API's container list). */
export const DOCKER_STATUS_WORDS = ['created', 'restarting', 'running', 'removing', 'paused', 'exited', 'dead'] as const;
