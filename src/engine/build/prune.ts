/** `builder prune`: forget the build cache, and remove the step images only the cache kept. */
import type { EngineCore } from '../core.ts';

/**
 * Clear the cache; remove each image it named that has no name, no repo digest and no container (a built
 * image that was tagged stays, and so do the layers it shares with removed steps). Returns the ids removed.
 */
export function pruneBuildCache(engine: EngineCore): string[] {
  const removed: string[] = [];
  for (const id of new Set(engine.buildCache.clear())) {
    const img = engine.images.repo.get(id);
    if (!img || img.tags.length > 0 || img.repoDigests.length > 0 || engine.containers.countUsingImage(id) > 0) continue;
    engine.images.remove(id, false, (i) => engine.containers.countUsingImage(i));
    removed.push(id);
  }
  return removed;
}
