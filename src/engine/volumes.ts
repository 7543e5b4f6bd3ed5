/**
 * The engine's side of volumes: which containers use one, making the ones a create needs (and undoing
 * that when the create fails), turning a container's volume mounts into binds at start, releasing typed
 * volumes at stop. The `volume` verbs are in verbs/volume.ts; the data itself is src/volume/store.ts's.
 */
import { lchownSync, lstatSync } from 'node:fs';
import { resolveInRoot } from '../archive/securejoin.ts';
import type { ContainerRow } from '../store/containers.ts';
import type { IdMap, MountSpec } from '../types.ts';
import { toHost } from './userns-rootfs.ts';
import type { VolumeCreateOptions } from '../volume/store.ts';
import type { EngineCore } from './core.ts';
import { newId } from './names.ts';
import { isLive } from './state.ts';

/** Containers whose config mounts the volume, optionally only those running. */
export function volumeUsers(engine: EngineCore, name: string, liveOnly = false, except?: string): ContainerRow[] {
  return engine.containers
    .list()
    .filter((c) => c.id !== except && c.config.mounts.some((m) => m.type === 'volume' && m.source === name))
    .filter((c) => !liveOnly || isLive(c.state) || c.mounted);
}

/** Create the volumes a new container names that do not exist yet; returns the ones it made. */
export function ensureVolumes(engine: EngineCore, requests: VolumeCreateOptions[]): string[] {
  const made: string[] = [];
  try {
    for (const r of requests) {
      if (engine.volumes.create(r, newId).created) made.push(r.name!);
    }
  } catch (e) {
    void dropVolumes(engine, made);
    throw e;
  }
  return made;
}

/** Remove volumes a failed create made (they have no other user yet). */
export async function dropVolumes(engine: EngineCore, names: string[]): Promise<void> {
  for (const n of names) await engine.volumes.remove(n).catch(() => {});
}

/** What the image has at a mount's destination, resolved with the rootfs as `/` (symlinks stay inside). */
function imagePathIn(rootfs: string, dest: string): string {
  return resolveInRoot(rootfs, dest);
}

/** The container's mounts with each volume turned into a bind of its data (mounted, and filled once). */
export async function resolveMounts(engine: EngineCore, row: ContainerRow, rootfs: string): Promise<MountSpec[]> {
  const out: MountSpec[] = [];
  for (const m of row.config.mounts) {
    if (m.type !== 'volume') {
      out.push(m);
      continue;
    }
    const source = await engine.volumes.acquire(m.source);
    if (!m.noCopy) await engine.volumes.copyUp(m.source, imagePathIn(rootfs, m.destination));
    else engine.volumes.repo.takeCopyUp(m.source);
    const userns = row.config.isolation?.userns;
    if (userns) ownForUserns(source, userns.uidMappings, userns.gidMappings);
    out.push({ type: 'bind', source, destination: m.destination, readonly: m.readonly, options: m.options });
  }
  return out;
}

/**
 * A volume's root owned by a host id outside the container's user namespace would be nobody's inside:
 * give it to the container's root (its content, if copied up from the shifted image, is mapped already).
 */
function ownForUserns(dir: string, uids: IdMap[], gids: IdMap[]): void {
  const st = lstatSync(dir);
  const inside = (id: number, maps: IdMap[]) => maps.some((m) => id >= m.hostID && id < m.hostID + m.size);
  if (!inside(st.uid, uids) || !inside(st.gid, gids)) lchownSync(dir, toHost(0, uids), toHost(0, gids));
}

/** After a stop: unmount typed volumes (a tmpfs volume's data goes) that no other live container uses. */
export async function releaseVolumes(engine: EngineCore, row: ContainerRow): Promise<void> {
  for (const m of row.config.mounts) {
    if (m.type !== 'volume') continue;
    if (volumeUsers(engine, m.source, true, row.id).length === 0) await engine.volumes.release(m.source).catch(() => {});
  }
}

/** After a container is gone (`rm -v`, `--rm`): its anonymous volumes that nothing else uses. */
export async function removeAnonymousVolumes(engine: EngineCore, row: ContainerRow): Promise<void> {
  for (const m of row.config.mounts) {
    if (m.type !== 'volume' || !m.anonymous) continue;
    if (volumeUsers(engine, m.source, false, row.id).length > 0) continue;
    await engine.volumes.remove(m.source).catch(() => {});
  }
}
