/** `rm` and `container prune`. */
import { join } from 'node:path';
import { Conflict, NoSuchContainer, asBerthError } from '../../errors.ts';
import type { ContainerRow } from '../../store/containers.ts';
import { treeSize } from '../../sys/du.ts';
import { isAlive } from '../../sys/proc.ts';
import type { EngineCore } from '../core.ts';
import { canRemove, isLive, move } from '../state.ts';
import { pruneSelector, type PruneFilters } from '../prune-filters.ts';
import { removeAnonymousVolumes } from '../volumes.ts';
import { waitUntil } from '../wait.ts';
import { repair } from './repair.ts';
import { teardownRuntime } from './teardown.ts';
import { removeFiles } from './teardown.ts';

/** Remove a container; a running one only with force (SIGKILL first); `volumes` also drops its anonymous volumes. */
export async function remove(engine: EngineCore, ref: string, force = false, volumes = false): Promise<string> {
  return engine.withLock(ref, async (row) => {
    const pod = row.config.pod !== undefined ? engine.pods.get(row.config.pod) : undefined;
    if (pod?.config.infraId === row.id) {
      throw new Conflict(`container ${row.name} is the infra container of pod ${pod.name}: it goes with the pod (\`pod rm ${pod.name}\`)`);
    }
    if (isLive(row.state) && !force) {
      throw new Conflict(
        `cannot remove container "${ref}": container is ${row.state}: stop the container before removing or force remove`,
      );
    }
    if (row.restartAt !== '' && !force) {
      throw new Conflict(`cannot remove container "${ref}": container is restarting: stop the container before removing or force remove`);
    }
    if (!canRemove(row.state)) throw new Conflict(`container ${row.name} is ${row.state}`);
    engine.containers.update(row.id, ...move('remove'));
    try {
      if (isLive(row.state)) {
        const drv = engine.driver(row.config.runtime);
        await drv.kill(row.id, 'SIGKILL', true).catch(() => {});
        if (row.state === 'paused') await drv.unpause(row.id).catch(() => {});
        engine.emitContainer(row, 'kill', { signal: '9' });
        await waitUntil(() => engine.recordedExit(row) !== null || !isAlive(row.monitorPid, row.monitorStart), 10_000);
        // The row is `removing` now, so no other process's sync reports this exit: report it here.
        engine.emitContainer(row, 'die', { exitCode: String(engine.recordedExit(row)?.code ?? 137) });
      }
      await teardownRuntime(engine, row);
      if (row.mounted) await engine.options.hooks?.postStop?.(row);
      await removeFiles(engine, row.id);
    } catch (e) {
      // What could not be undone stays visible, as docker's dead containers do; `rm` tries again.
      const err = asBerthError(e);
      engine.containers.update(row.id, ...move('removeFailed', { error: err.message }));
      throw err;
    }
    engine.containers.delete(row.id);
    engine.emitContainer(row, 'destroy');
    if (volumes) await removeAnonymousVolumes(engine, row);
    // The monitor outlives the container by its exit command (which sees the row gone and returns): wait,
    // so that a remove leaves no monitor behind.
    if (row.monitorPid !== 0) await waitUntil(() => !isAlive(row.monitorPid, row.monitorStart), 10_000);
    return row.id;
  });
}

/**
 * Remove every stopped container the filters select (not a CRI client's); the removed ids and the bytes of
 * their own files (docker's SpaceReclaimed: what their writable layers held).
 */
export async function prune(engine: EngineCore, filters: PruneFilters = {}): Promise<{ ids: string[]; reclaimed: number }> {
  const select = pruneSelector<ContainerRow>(filters, ['until', 'label', 'label!'], (r) => ({ created: r.createdAt, labels: r.config.labels }));
  await repair(engine);
  const ids: string[] = [];
  let reclaimed = 0;
  for (const row of engine.containers.list()) {
    const r = engine.sync(row);
    // A CRI client's containers are its own to collect (kubelet's garbage collection), as containerd keeps them apart.
    if (!isLive(r.state) && canRemove(r.state) && r.restartAt === '' && !r.config.cri && select(r)) {
      const size = treeSize(join(engine.dir(r.id), 'diff'));
      try {
        await remove(engine, r.id);
        ids.push(r.id);
        reclaimed += size;
      } catch (e) {
        if (!(e instanceof NoSuchContainer) && !(e instanceof Conflict)) throw e;
      }
    }
  }
  return { ids, reclaimed };
}
