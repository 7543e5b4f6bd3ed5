/**
 * `system df`: disk used by images, containers and volumes, and how much of it nothing uses. An image's
 * layers are shared, so image sizes add up per distinct layer.
 */
import { join } from 'node:path';
import { treeSize } from '../sys/du.ts';
import type { EngineCore as Engine } from './core.ts';
import { volumeUsers } from './volumes.ts';
import { isLive } from './state.ts';

export interface DfRow {
  type: 'Images' | 'Containers' | 'Local Volumes' | 'Build Cache';
  total: number;
  active: number;
  size: number;
  reclaimable: number;
}

export function diskUsage(engine: Engine): DfRow[] {
  const containers = engine.containers.list().map((r) => engine.sync(r));
  const images = engine.images.repo.list();
  const usedImages = new Set(containers.map((c) => c.imageId));
  const layerSize = new Map(engine.images.repo.layers().map((l) => [l.id, l.size]));
  const allLayers = new Set(images.flatMap((i) => i.layers));
  const activeLayers = new Set(images.filter((i) => usedImages.has(i.id)).flatMap((i) => i.layers));
  const sum = (ids: Iterable<string>) => [...ids].reduce((n, id) => n + (layerSize.get(id) ?? 0), 0);
  const imageSize = sum(allLayers);

  let ctrSize = 0;
  let ctrIdle = 0;
  for (const c of containers) {
    const rw = treeSize(join(engine.dir(c.id), 'diff'));
    ctrSize += rw;
    if (c.state !== 'running' && c.state !== 'paused') ctrIdle += rw;
  }
  const volumes = engine.volumes.repo.list();
  let volSize = 0;
  let volIdle = 0;
  let volActive = 0;
  for (const v of volumes) {
    const size = engine.volumes.size(v.name);
    volSize += size;
    if (volumeUsers(engine, v.name).length > 0) volActive++;
    else volIdle += size;
  }
  return [
    { type: 'Images', total: images.length, active: images.filter((i) => usedImages.has(i.id)).length, size: imageSize, reclaimable: imageSize - sum(activeLayers) },
    { type: 'Containers', total: containers.length, active: containers.filter((c) => isLive(c.state)).length, size: ctrSize, reclaimable: ctrIdle },
    { type: 'Local Volumes', total: volumes.length, active: volActive, size: volSize, reclaimable: volIdle },
    { type: 'Build Cache', total: 0, active: 0, size: 0, reclaimable: 0 },
  ];
}
