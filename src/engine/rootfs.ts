/**
 * How a container's root filesystem is made from its image's layers. The engine's default is an overlay
 * mount (the layers as lower dirs, the container's own diff as the upper one), by the kernel or by
 * fuse-overlayfs (src/engine/storage-driver.ts says which). Tests of the engine's own logic give one that
 * needs no mount (with FakeDriver: see EngineOptions).
 */
import { mountFuseOverlay } from '../sys/fuse-overlayfs.ts';
import { mountOverlay, unmount } from '../sys/mount.ts';
import { FUSE_OVERLAYFS, type StorageDriverName } from './storage-driver.ts';

export interface RootfsMounter {
  /** Make `target` show `lower` (bottom layer last, as overlay's lowerdir) with writes going to `upper`. */
  mount(lower: string[], upper: string, work: string, target: string, root: string): Promise<void>;
  /** Undo mount; `known` says the caller's records have it mounted (no need to look). */
  unmount(target: string, known: boolean): Promise<void>;
}

export const overlayRootfs: RootfsMounter = {
  mount: (lower, upper, work, target, root) => mountOverlay(lower, upper, work, target, root),
  unmount: (target, known) => unmount(target, known),
};

/** The same layout through fuse-overlayfs; unmounting it ends its daemon. */
export const fuseOverlayRootfs: RootfsMounter = {
  mount: (lower, upper, work, target) => mountFuseOverlay(FUSE_OVERLAYFS, lower, upper, work, target),
  unmount: (target, known) => unmount(target, known),
};

export function mounterFor(driver: StorageDriverName): RootfsMounter {
  return driver === 'fuse-overlayfs' ? fuseOverlayRootfs : overlayRootfs;
}
