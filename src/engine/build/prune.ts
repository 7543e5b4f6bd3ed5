/** `builder prune`: forget the build cache, and remove the step images only the cache kept. */
import type { EngineCore } from '../core.ts';

/**
 * Clear the cache; remove each image it named that has no name, no repo digest and no container (a built
 * image that was tagged stays, and so do the layers it shares with removed steps). The ids removed and the
 * bytes of layers that went with them.
 */
export function pruneBuildCache(engine: EngineCore): { deleted: string[]; reclaimed: number } {
  const named = new Set(engine.buildCache.clear());
  return engine.images.removeUnused(named, (id) => engine.containers.countUsingImage(id));
}
