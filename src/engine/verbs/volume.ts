/** The `volume` verbs: rm (with force, of the containers using it too), the list filters, prune. */
import { Conflict } from '../../errors.ts';
import type { VolumeRow } from '../../store/volumes.ts';
import type { EngineCore } from '../core.ts';
import { volumeUsers } from '../volumes.ts';
import { remove } from './remove.ts';

/** `volume rm [-f]`: refused while a container uses it; with force those containers are removed first. */
export async function removeVolume(engine: EngineCore, name: string, force: boolean): Promise<void> {
  engine.volumes.get(name);
  const users = volumeUsers(engine, name);
  if (users.length > 0 && !force) {
    throw new Conflict(`remove ${name}: volume is in use - [${users.map((u) => u.id).join(', ')}]`);
  }
  for (const u of users) await remove(engine, u.id, true);
  await engine.volumes.remove(name);
}

export interface VolumeFilter {
  /** Match every `label` (key or key=value) given. */
  labels?: string[];
  dangling?: boolean;
  name?: string[];
  driver?: string[];
}

export function matchVolume(engine: EngineCore, v: VolumeRow, f: VolumeFilter): boolean {
  for (const l of f.labels ?? []) {
    const i = l.indexOf('=');
    const [k, val] = i < 0 ? [l, undefined] : [l.slice(0, i), l.slice(i + 1)];
    if (!(k in v.labels) || (val !== undefined && v.labels[k] !== val)) return false;
  }
  if (f.name && !f.name.some((n) => v.name.includes(n))) return false;
  if (f.driver && !f.driver.includes(v.driver)) return false;
  if (f.dangling !== undefined && (volumeUsers(engine, v.name).length === 0) !== f.dangling) return false;
  return true;
}

/** `volume prune`: unused volumes, anonymous ones only unless `all` (docker 23+). Returns names and sizes. */
export async function pruneVolumes(engine: EngineCore, all: boolean, f: VolumeFilter): Promise<{ name: string; size: number }[]> {
  const out: { name: string; size: number }[] = [];
  for (const v of engine.volumes.repo.list()) {
    if (!all && !v.anonymous) continue;
    if (!matchVolume(engine, v, { ...f, dangling: true })) continue;
    const size = engine.volumes.size(v.name);
    await engine.volumes.remove(v.name);
    out.push({ name: v.name, size });
  }
  return out;
}
