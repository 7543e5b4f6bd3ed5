/**
 * A pod's state is its containers' (the infra container's included), in podman's words: Running when all
 * run, Degraded when only some do, Paused, Exited or Created when all are, Created for a pod with none.
 */
import type { PodRow } from '../../store/pods.ts';
import type { ContainerState } from '../../types.ts';

export type PodStatus = 'Created' | 'Running' | 'Degraded' | 'Paused' | 'Exited' | 'Error';

export function podStatus(states: readonly ContainerState[]): PodStatus {
  const count = (...s: ContainerState[]) => states.filter((x) => s.includes(x)).length;
  const total = states.length;
  const running = count('running');
  if (total === 0) return 'Created';
  if (running === total) return 'Running';
  if (running > 0) return 'Degraded';
  if (count('paused') === total) return 'Paused';
  if (count('exited') === total) return 'Exited';
  // None runs: any exited makes it Exited, as a pod whose infra was stopped and a container never started.
  if (count('exited') > 0) return 'Exited';
  if (count('dead', 'removing') > 0) return 'Error';
  if (count('paused') > 0) return 'Degraded';
  return 'Created';
}

/** Whether a pinned pod's namespaces are up (src/engine/pods/pinned.ts records them while they are). */
export function isPinnedUp(pod: Pick<PodRow, 'state'>): boolean {
  return pod.state.up === true;
}
