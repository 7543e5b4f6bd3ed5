/** `builder prune`: forget the build cache, and remove the step images only the cache kept. */
import { readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { treeSize } from '../../sys/du.ts';
import type { EngineCore } from '../core.ts';

/**
 * Clear the cache; remove each image it named that has no name, no repo digest and no container (a built
 * image that was tagged stays, and so do the layers it shares with removed steps), and empty the RUN cache
 * mounts. The ids removed and the bytes that went with them.
 */
export function pruneBuildCache(engine: EngineCore): { deleted: string[]; reclaimed: number } {
  const named = new Set(engine.buildCache.clear());
  const r = engine.images.removeUnused(named, (id) => engine.containers.countUsingImage(id));
  // RUN --mount=type=cache directories go too (docker's prune empties its cache mounts).
  const cacheMounts = join(engine.root, 'build-cache');
  let reclaimed = r.reclaimed;
  for (const d of readdirSync(cacheMounts)) {
    reclaimed += treeSize(join(cacheMounts, d));
    rmSync(join(cacheMounts, d), { recursive: true, force: true });
  }
  return { deleted: r.deleted, reclaimed };
}
