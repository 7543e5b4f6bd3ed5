/** Listing images (`images`, the API's /images/json), as docker lists them. */
import type { ImageRow } from '../store/images.ts';
import type { EngineCore } from './core.ts';

/**
 * The images; without `all`, not the intermediate ones: an image with no name and no digest that another
 * image was made on (a build's steps, a commit's parent), as `docker images` hides them.
 */
export function listImages(engine: EngineCore, all: boolean): ImageRow[] {
  const rows = engine.images.repo.list();
  if (all) return rows;
  const parents = new Set(rows.map((r) => r.parent).filter(Boolean));
  return rows.filter((r) => r.tags.length > 0 || r.repoDigests.length > 0 || !parents.has(r.id));
}
