/** Listing containers (`ps`, the API's container list). */
import type { ContainerRow } from '../../store/containers.ts';
import { checkFilters, matchesFilters, wantsStopped, type ContainerFilters } from '../container-filters.ts';
import type { EngineCore } from '../core.ts';
import { isUpOrRestarting } from '../state.ts';
import { repair } from './repair.ts';

/**
 * The containers, freshly reconciled: running (or restarting) ones unless `all` (or a filter that asks for stopped ones),
 * narrowed by docker's filters (src/engine/container-filters.ts; refused when malformed).
 */
export async function list(engine: EngineCore, all = false, filters: ContainerFilters = {}): Promise<ContainerRow[]> {
  checkFilters(filters);
  await repair(engine);
  const rows = engine.containers.list().map((r) => engine.sync(r));
  const wanted = all || wantsStopped(filters) ? rows : rows.filter(isUpOrRestarting);
  return wanted.filter((r) => matchesFilters(filters, r));
}
