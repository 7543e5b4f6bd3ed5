/**
 * Reaching a container's files from the host, for `cp`, `export` and the archive API, as docker does:
 * the container's overlay (mounted while it runs; mounted for the duration, under its lock, when it
 * does not), with a path under one of its volumes or binds mapped to that mount's host source. The
 * kernel filesystems and tmpfs mounts inside the container are not part of it. Every path is resolved
 * with the container's root as `/`, so no symlink in the container leads out of it.
 */
import { join, posix } from 'node:path';
import { resolveInRoot } from '../archive/securejoin.ts';
import { RuntimeFailure } from '../errors.ts';
import type { ContainerRow } from '../store/containers.ts';
import { mountOverlay, unmount } from '../sys/mount.ts';
import { isAlive } from '../sys/proc.ts';
import type { Engine } from './engine.ts';

export interface ContainerFs {
  row: ContainerRow;
  /** The host path of a container path (`followFinal`: resolve a symlink in the last component too). */
  resolve(path: string, followFinal?: boolean): string;
  /** The host path of the container's `/` (for export). */
  root: string;
}

function under(dest: string, path: string): string | null {
  if (path === dest) return '';
  return path.startsWith(`${dest}/`) ? path.slice(dest.length + 1) : null;
}

/** Run fn with the container's filesystem reachable; works on running, paused, created and exited containers. */
function resolver(engine: Engine, row: ContainerRow, rootfs: string): ContainerFs['resolve'] {
  const mounts = row.config.mounts
    .filter((m) => m.type !== 'tmpfs')
    .map((m) => ({ dest: posix.normalize(m.destination), source: m.type === 'volume' ? engine.volumes.mountpoint(m.source) : m.source }))
    .sort((a, b) => b.dest.length - a.dest.length);
  return (p, follow = true) => {
    const norm = posix.normalize(`/${p}`);
    for (const m of mounts) {
      const rest = under(m.dest, norm);
      if (rest !== null) return resolveInRoot(m.source, rest, { followFinal: follow });
    }
    return resolveInRoot(rootfs, norm, { followFinal: follow });
  };
}

/** Run fn with the container's filesystem reachable; works on running, paused, created and exited containers. */
export async function withContainerFs<T>(engine: Engine, ref: string, fn: (fs: ContainerFs) => Promise<T>): Promise<T> {
  const row = engine.inspect(ref);
  const rootfs = join(engine.dir(row.id), 'rootfs');
  if ((row.state === 'running' || row.state === 'paused') && row.mounted && isAlive(row.pid, row.pidStart)) {
    return fn({ row, root: rootfs, resolve: resolver(engine, row, rootfs) });
  }
  return engine.withLock(ref, async (locked) => {
    const d = engine.dir(locked.id);
    const img = engine.images.repo.get(locked.imageId);
    if (!img) throw new RuntimeFailure(`image ${locked.imageId.slice(0, 12)} of container ${locked.name} is gone`);
    const mountedHere = !locked.mounted;
    if (mountedHere) await mountOverlay(await engine.lowerDirsFor(locked, img), join(d, 'diff'), join(d, 'work'), rootfs, engine.root);
    try {
      return await fn({ row: locked, root: rootfs, resolve: resolver(engine, locked, rootfs) });
    } finally {
      if (mountedHere) await unmount(rootfs, true);
    }
  });
}
