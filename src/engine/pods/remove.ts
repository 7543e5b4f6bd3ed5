/**
 * `pod rm`: the pod's containers, its infra container (or a pinned pod's namespaces), its row and its cgroup.
 * Running containers only with force. Done under the pod's lock, which a container being made in the pod takes
 * too, so none slips in meanwhile. If the infra container or the namespaces cannot be removed, the pod stays,
 * and `pod rm` tries again.
 */
import { rmdirSync, rmSync } from 'node:fs';
import { Conflict, RuntimeFailure } from '../../errors.ts';
import type { PodRow } from '../../store/pods.ts';
import { existingCgroupDirs } from '../../runtime/cgroups.ts';
import type { EngineCore } from '../core.ts';
import { isLive } from '../state.ts';
import { remove } from '../verbs/remove.ts';
import { findPod } from './find.ts';
import { withPodLock } from './lock.ts';
import { podMembers } from './members.ts';
import { podDir } from './paths.ts';
import { releasePod } from './pinned.ts';

export async function removePod(engine: EngineCore, ref: string, force = false): Promise<string> {
  const pod = findPod(engine, ref);
  const removeAll = async () => {
    const { infra, others } = podMembers(engine, pod);
    const live = [...others, ...(infra ? [infra] : [])].filter((r) => isLive(r.state));
    if (live.length > 0 && !force) {
      throw new Conflict(`pod ${pod.name} has running containers (${live.map((r) => r.name).join(', ')}): stop the pod first or remove it with --force`);
    }
    for (const r of others.reverse()) await remove(engine, r.id, force, true);
    if (pod.config.pinned) await releasePod(engine, pod);
    engine.pods.delete(pod.id);
    if (infra) {
      try {
        await remove(engine, infra.id, force, true);
      } catch (e) {
        engine.pods.insert(pod);
        throw e;
      }
    }
  };
  if (pod.config.pinned || engine.containers.get(pod.config.infraId)) await withPodLock(engine, pod, removeAll);
  else await removeAll();
  if (pod.config.pinned) rmSync(podDir(engine, pod.id), { recursive: true, force: true });
  if (pod.config.ownsCgroup) removePodCgroup(pod);
  engine.emit('pod', 'remove', pod.id, { name: pod.name });
  return pod.id;
}

/**
 * The pod's cgroup, in every hierarchy: the runtime made it as its containers' parent and removed only theirs.
 * Empty by now; one that is not (a process the runtime did not kill) is reported, not left silently.
 */
export function removePodCgroup(pod: PodRow): void {
  const busy: string[] = [];
  for (const dir of existingCgroupDirs(pod.config.cgroupParent).reverse()) {
    try {
      rmdirSync(dir);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') busy.push(`${dir} (${(e as NodeJS.ErrnoException).code})`);
    }
  }
  if (busy.length > 0) throw new RuntimeFailure(`pod ${pod.name} is removed, but its cgroup could not be: ${busy.join(', ')}`);
}
