/** `start --all [--filter …]` (podman's form): every stopped container the filters name, one result each. */
import { asBerthError } from '../../errors.ts';
import type { ContainerFilters } from '../container-filters.ts';
import type { EngineCore } from '../core.ts';
import { comesBackAtBoot, NO_RESTART } from '../restart-policy.ts';
import { isLive } from '../state.ts';
import { list } from './list.ts';
import { start } from './start.ts';

export interface StartAllResult {
  id: string;
  name: string;
  error?: string;
}

/**
 * Start every container that is not running and matches the filters. With a `restart-policy` filter this is
 * the boot-time start: only the containers their policy brings back (src/engine/restart-policy.ts:
 * `always` ones, `unless-stopped` ones the user did not stop, `on-failure` ones whose last exit failed).
 */
export async function startAll(engine: EngineCore, filters: ContainerFilters = {}): Promise<StartAllResult[]> {
  const atBoot = (filters['restart-policy'] ?? []).length > 0;
  const rows = (await list(engine, true, filters)).filter((r) => !isLive(r.state) && (r.state === 'created' || r.state === 'exited'));
  const out: StartAllResult[] = [];
  for (const r of rows) {
    if (atBoot && !comesBackAtBoot(r.config.restartPolicy ?? NO_RESTART, r.stoppedByUser, r.exitCode)) continue;
    try {
      await start(engine, r.id);
      out.push({ id: r.id, name: r.name });
    } catch (e) {
      out.push({ id: r.id, name: r.name, error: asBerthError(e).message });
    }
  }
  return out;
}
