/**
 * `system df`: disk used by images, containers and volumes, and how much of it nothing uses. An image's
 * layers are shared, so image sizes add up per distinct layer.
 */
import { join } from 'node:path';
import { treeSize } from '../sys/du.ts';
import type { EngineCore } from './core.ts';
import { volumeUsers } from './volumes.ts';
import { isLive } from './state.ts';
import type { ContainerRow } from '../store/containers.ts';
import type { ImageRow } from '../store/images.ts';

export interface DfRow {
  type: 'Images' | 'Containers' | 'Local Volumes' | 'Build Cache';
  total: number;
  active: number;
  size: number;
  reclaimable: number;
}

/** Everything `system df` reports, object by object (the API's `/system/df` shows it all). */
export interface DiskUsage {
  /** Bytes of the distinct layers of all images. */
  layersSize: number;
  images: { image: ImageRow; containers: number }[];
  containers: { row: ContainerRow; sizeRw: number; sizeRootFs: number }[];
  volumes: { name: string; size: number; refCount: number }[];
}

export function diskUsageDetail(engine: EngineCore): DiskUsage {
  const containers = engine.containers.list().map((r) => engine.sync(r));
  const images = engine.images.repo.list();
  const layerSize = new Map(engine.images.repo.layers().map((l) => [l.id, l.size]));
  return {
    layersSize: [...new Set(images.flatMap((i) => i.layers))].reduce((n, id) => n + (layerSize.get(id) ?? 0), 0),
    images: images.map((image) => ({ image, containers: containers.filter((c) => c.imageId === image.id).length })),
    containers: containers.map((row) => {
      const sizeRw = treeSize(join(engine.dir(row.id), 'diff'));
      return { row, sizeRw, sizeRootFs: sizeRw + (engine.images.repo.get(row.imageId)?.size ?? 0) };
    }),
    volumes: engine.volumes.repo.list().map((v) => ({ name: v.name, size: engine.volumes.size(v.name), refCount: volumeUsers(engine, v.name).length })),
  };
}

/** `docker system df`'s table: per kind, how many, how many in use, their size and what nothing uses. */
export function diskUsage(engine: EngineCore): DfRow[] {
  const d = diskUsageDetail(engine);
  const layerSize = new Map(engine.images.repo.layers().map((l) => [l.id, l.size]));
  const sum = (ids: Iterable<string>) => [...ids].reduce((n, id) => n + (layerSize.get(id) ?? 0), 0);
  const used = d.images.filter((i) => i.containers > 0);
  const activeLayers = new Set(used.flatMap((i) => i.image.layers));
  const ctrSize = d.containers.reduce((n, c) => n + c.sizeRw, 0);
  const ctrIdle = d.containers.filter((c) => !isLive(c.row.state)).reduce((n, c) => n + c.sizeRw, 0);
  const volSize = d.volumes.reduce((n, v) => n + v.size, 0);
  const volIdle = d.volumes.filter((v) => v.refCount === 0).reduce((n, v) => n + v.size, 0);
  return [
    { type: 'Images', total: d.images.length, active: used.length, size: d.layersSize, reclaimable: d.layersSize - sum(activeLayers) },
    { type: 'Containers', total: d.containers.length, active: d.containers.filter((c) => isLive(c.row.state)).length, size: ctrSize, reclaimable: ctrIdle },
    { type: 'Local Volumes', total: d.volumes.length, active: d.volumes.filter((v) => v.refCount > 0).length, size: volSize, reclaimable: volIdle },
    { type: 'Build Cache', total: 0, active: 0, size: 0, reclaimable: 0 },
  ];
}
