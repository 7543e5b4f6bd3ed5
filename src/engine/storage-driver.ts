/**
 * Which storage driver mounts containers' root filesystems, and why: the kernel's overlay, or fuse-overlayfs
 * (a FUSE daemon doing overlay's work) where an ordinary user's kernel refuses overlay in a user namespace
 * (before 5.11). One may be asked for, as docker's daemon.json `storage-driver` or podman's `--storage-driver`.
 * A container keeps the driver it was made with (ContainerConfig.storageDriver), so a later start by another
 * command mounts it the same way; both unmount alike.
 */
import { existsSync } from 'node:fs';
import { release } from 'node:os';
import { InvalidArgument } from '../errors.ts';
import { deviceAccess } from '../sys/device-access.ts';

export type StorageDriverName = 'overlay' | 'fuse-overlayfs';

export const FUSE_OVERLAYFS = '/usr/bin/fuse-overlayfs';

/** The driver and why; `problem` is the one line a create refuses with when it cannot mount on this host. */
export interface StorageChoice {
  name: StorageDriverName;
  why: string;
  problem?: string;
}

/** What the choice depends on. */
export interface StorageHost {
  /** An ordinary user's engine (root of the user's namespace). */
  rootless: boolean;
  kernel: [number, number];
  /** fuse-overlayfs's path, if installed. */
  fuseOverlayfs?: string;
  /** Whether this process may open /dev/fuse, and its mode when it may not. */
  devFuse: { usable: boolean; mode?: string };
}

/** A driver's name as asked for: docker's `overlay2` is the kernel's overlay too. */
export function parseStorageDriver(value: string, source: string): StorageDriverName {
  if (value === 'overlay' || value === 'overlay2') return 'overlay';
  if (value === 'fuse-overlayfs') return value;
  throw new InvalidArgument(`${source}: unknown storage driver ${JSON.stringify(value)}: overlay (or overlay2) or fuse-overlayfs`);
}

/** The driver for `asked` (a name and who asked), else the host's best, each with its reason. */
export function chooseStorageDriver(asked: { name: StorageDriverName; by: string } | undefined, host: StorageHost): StorageChoice {
  const [major, minor] = host.kernel;
  const k = `kernel ${major}.${minor}`;
  const overlayInUserns = major > 5 || (major === 5 && minor >= 11);
  if (asked?.name === 'overlay') {
    const refused = host.rootless && !overlayInUserns;
    return { name: 'overlay', why: `asked for by ${asked.by}`, ...(refused ? { problem: `storage driver overlay: ${k} refuses overlay in a user namespace (5.11 and later allow it): use fuse-overlayfs` } : {}) };
  }
  if (asked === undefined && (!host.rootless || overlayInUserns)) {
    return { name: 'overlay', why: host.rootless ? `${k} mounts overlay in a user namespace (5.11 and later)` : "the kernel's overlay" };
  }
  const why = asked ? `asked for by ${asked.by}` : `${k} refuses overlay in a user namespace (before 5.11)`;
  return { name: 'fuse-overlayfs', why, ...(fuseProblem(host) ? { problem: `storage driver fuse-overlayfs (${why}): ${fuseProblem(host)}` } : {}) };
}

/** What keeps fuse-overlayfs from mounting here, with the fix. */
function fuseProblem(host: StorageHost): string | undefined {
  if (!host.fuseOverlayfs) return 'fuse-overlayfs is not installed (apt-get install fuse-overlayfs)';
  if (host.devFuse.usable) return undefined;
  const who = host.rootless ? 'this user' : 'Berth';
  return host.devFuse.mode
    ? `/dev/fuse is mode ${host.devFuse.mode} here, so ${who} cannot open it: a root user opens it with chmod 0666 /dev/fuse (Debian's default)`
    : 'no /dev/fuse: a root user loads the fuse module (modprobe fuse)';
}

/** This host's facts for the choice. */
export function storageHost(rootless: boolean): StorageHost {
  const m = /^(\d+)\.(\d+)/.exec(release());
  const fuse = deviceAccess('/dev/fuse');
  const devFuse: StorageHost['devFuse'] = fuse.opens ? { usable: true } : { usable: false, ...(fuse.mode ? { mode: fuse.mode } : {}) };
  return {
    rootless,
    kernel: m ? [Number(m[1]), Number(m[2])] : [0, 0],
    ...(existsSync(FUSE_OVERLAYFS) ? { fuseOverlayfs: FUSE_OVERLAYFS } : {}),
    devFuse,
  };
}
