/**
 * Reaching a container's files from the host, for `cp`, `export` and the archive API, as docker does:
 * the container's overlay (mounted while it runs; mounted for the duration, under its lock, when it
 * does not), with a path that reaches one of its volumes or binds continued in that mount's host source.
 * The kernel filesystems and tmpfs mounts inside the container are not part of it. Every path is resolved
 * in the container's namespace, symlinks crossing from the rootfs into a volume and back included, with
 * the container's root as `/`, so no symlink in the container or in a volume leads out of it.
 */
import { join, posix } from 'node:path';
import { resolveInMounts } from '../archive/securejoin.ts';
import { RuntimeFailure } from '../errors.ts';
import type { ContainerRow } from '../store/containers.ts';
import { isAlive } from '../sys/proc.ts';
import type { EngineCore } from './core.ts';
import { etcBinds } from './network-attach.ts';
import { isLive } from './state.ts';
import { lowerDirsFor } from './bundle.ts';

export interface ContainerFs {
  row: ContainerRow;
  /** The host path of a container path (`followFinal`: resolve a symlink in the last component too). */
  resolve(path: string, followFinal?: boolean): string;
  /** As resolve, with the mount the path led onto (undefined: the container's own root filesystem). */
  locate(path: string, followFinal?: boolean): { host: string; mount?: { destination: string; readonly: boolean } };
  /** The host path of the container's `/` (for export). */
  root: string;
}

const depth = (p: string) => p.split('/').filter(Boolean).length;

/**
 * The container's tree as its processes see it: the rootfs with its volumes, binds and (once it has
 * started) the hosts, resolv.conf and hostname files the engine keeps for it, mounted over it in the
 * runtime's order (parents first). A path is resolved through all of them at once (resolveInMounts).
 */
function resolver(engine: EngineCore, row: ContainerRow, rootfs: string): ContainerFs['locate'] {
  const user = row.config.mounts
    .filter((m) => m.type !== 'tmpfs')
    .map((m) => ({ destination: posix.normalize(m.destination), source: m.type === 'volume' ? engine.volumes.mountpoint(m.source) : m.source, readonly: m.readonly }));
  const mounts = [...user, ...etcBinds(engine, row).map((m) => ({ ...m, readonly: false }))].sort((a, b) => depth(a.destination) - depth(b.destination));
  return (p, follow = true) => {
    const r = resolveInMounts(rootfs, mounts, posix.normalize(`/${p}`), { followFinal: follow });
    const m = mounts[r.mount];
    return { host: r.host, ...(m ? { mount: { destination: m.destination, readonly: m.readonly } } : {}) };
  };
}

function containerFs(engine: EngineCore, row: ContainerRow, rootfs: string): ContainerFs {
  const locate = resolver(engine, row, rootfs);
  return { row, root: rootfs, locate, resolve: (p, follow) => locate(p, follow).host };
}

/** Run fn with the container's filesystem reachable; works on running, paused, created and exited containers. */
export async function withContainerFs<T>(engine: EngineCore, ref: string, fn: (fs: ContainerFs) => Promise<T>): Promise<T> {
  const row = engine.inspect(ref);
  const rootfs = join(engine.dir(row.id), 'rootfs');
  if (isLive(row.state) && row.mounted && isAlive(row.pid, row.pidStart)) {
    return fn(containerFs(engine, row, rootfs));
  }
  return engine.withLock(ref, async (locked) => {
    const d = engine.dir(locked.id);
    const img = engine.images.repo.get(locked.imageId);
    if (!img) throw new RuntimeFailure(`image ${locked.imageId.slice(0, 12)} of container ${locked.name} is gone`);
    const mountedHere = !locked.mounted;
    if (mountedHere) await engine.rootfsOf(locked).mount(await lowerDirsFor(engine, locked, img), join(d, 'diff'), join(d, 'work'), rootfs, engine.root);
    try {
      return await fn(containerFs(engine, locked, rootfs));
    } finally {
      if (mountedHere) await engine.rootfsOf(locked).unmount(rootfs, true);
    }
  });
}
