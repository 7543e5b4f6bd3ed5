/** Listing containers (`ps`, the API's container list). */
import type { ContainerRow } from '../../store/containers.ts';
import { checkFilters, selectContainers, type ContainerFilters } from '../container-filters.ts';
import type { EngineCore } from '../core.ts';
import { pseudoId } from '../network-inspect.ts';
import { repair } from './repair.ts';

/**
 * The containers, newest first, freshly reconciled: running (or restarting) ones unless `all` (or a `status`
 * filter), narrowed by docker's filters (src/engine/container-filters.ts; refused when malformed).
 */
export async function list(engine: EngineCore, all = false, filters: ContainerFilters = {}): Promise<ContainerRow[]> {
  checkFilters(filters);
  await repair(engine);
  const rows = engine.containers.list().map((r) => engine.sync(r));
  return selectContainers(rows, all, filters, {
    find: (ref) => engine.find(ref),
    networks: () => [...engine.networks.list(), ...['host', 'none'].map((name) => ({ id: pseudoId(name), name }))],
  });
}
