/** A pod's containers, brought up to date: the infra container first, the others oldest first. */
import type { ContainerRow } from '../../store/containers.ts';
import type { PodRow } from '../../store/pods.ts';
import type { EngineCore } from '../core.ts';

export function podMembers(engine: EngineCore, pod: PodRow): { infra?: ContainerRow; others: ContainerRow[] } {
  const rows = engine.pods.memberIds(pod.id).flatMap((id) => engine.lookupSynced(id) ?? []);
  return { infra: rows.find((r) => r.id === pod.config.infraId), others: rows.filter((r) => r.id !== pod.config.infraId) };
}

/** Every container of the pod, infra first. */
export function allMembers(engine: EngineCore, pod: PodRow): ContainerRow[] {
  const { infra, others } = podMembers(engine, pod);
  return infra ? [infra, ...others] : others;
}
