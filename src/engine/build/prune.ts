/** `builder prune`: forget the build cache (all of it, or what the filters and `--keep-storage` select) and the step images only it kept. */
import { readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { BuildCacheRow } from '../../store/build-cache.ts';
import { treeSize } from '../../sys/du.ts';
import type { EngineCore } from '../core.ts';
import { pruneSelector, type PruneFilters } from '../prune-filters.ts';

export interface BuildPruneOptions {
  /** `until=DURATION|TIME`: only entries last used before then go. */
  filters?: PruneFilters;
  /** `--keep-storage`: then entries go least recently used first until what is left takes at most this many bytes. */
  keepStorage?: number;
}

/**
 * Forget cache entries; remove each image they named that has no name, no repo digest, no container and no
 * entry left naming it (a built image that was tagged stays, and so do the layers it shares with removed
 * steps). Without filters or `keepStorage` every entry goes and the RUN cache mounts are emptied too; with
 * them the cache mounts stay. The ids removed and the bytes that went with them.
 */
export function pruneBuildCache(engine: EngineCore, o: BuildPruneOptions = {}): { deleted: string[]; reclaimed: number } {
  const selective = Object.values(o.filters ?? {}).some((v) => (v ?? []).length > 0) || o.keepStorage !== undefined;
  if (selective) return pruneSome(engine, o);
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

function pruneSome(engine: EngineCore, o: BuildPruneOptions): { deleted: string[]; reclaimed: number } {
  const old = pruneSelector<BuildCacheRow>(o.filters ?? {}, ['until'], (r) => ({ created: r.lastUsed, labels: {} }));
  const hasUntil = (o.filters?.until ?? []).length > 0;
  const entries = engine.buildCache.list().sort((a, b) => a.lastUsed.localeCompare(b.lastUsed));
  const size = (r: BuildCacheRow) => stepSize(engine, r.imageId);
  let total = entries.reduce((n, r) => n + size(r), 0);
  const gone: BuildCacheRow[] = [];
  for (const r of entries) {
    const over = o.keepStorage !== undefined && total > o.keepStorage;
    if ((hasUntil && old(r)) || over) {
      gone.push(r);
      total -= size(r);
    }
  }
  const named = new Set(engine.buildCache.remove(gone.map((r) => r.key)));
  const stillNamed = engine.buildCache.imageIds();
  return engine.images.removeUnused([...named].filter((id) => !stillNamed.has(id)), (id) => engine.containers.countUsingImage(id));
}

/** What a step's image adds over its parent: the bytes of its own layer (none for a config step). */
function stepSize(engine: EngineCore, imageId: string): number {
  const img = engine.images.repo.get(imageId);
  if (!img) return 0;
  const parentLayers = new Set(img.parent ? (engine.images.repo.get(img.parent)?.layers ?? []) : []);
  return img.layers.filter((l) => !parentLayers.has(l)).reduce((n, l) => n + (engine.images.repo.layer(l)?.size ?? 0), 0);
}
