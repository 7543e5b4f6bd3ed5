/**
 * What a build step leaves: an image over its parent's, with the step's layer (if it changed any file) and
 * its config, and a history entry naming the step. Every step's result is an image of the store, as the
 * steps of docker's classic builder are: the cache names them (src/engine/build/cache-key.ts), RUN starts
 * its container from one, and the last one is what the build tags.
 */
import { readdirSync } from 'node:fs';
import { packPath } from '../../archive/pack.ts';
import type { Lease } from '../../image/store.ts';
import type { ImageConfigDoc, ImageRow, LayerRow } from '../../store/images.ts';
import { ENGINE_STUBS } from '../commit.ts';
import type { EngineCore } from '../core.ts';
import { trace } from '../../sys/trace.ts';


/**
 * The step's layer from an overlay upper dir; undefined when the step changed nothing (a step that only
 * made the engine's own mount points changed nothing either).
 */
export async function layerFromUpper(engine: EngineCore, upper: string, lease: Lease, what: string): Promise<LayerRow | undefined> {
  if (isEmptyUpper(upper)) return undefined;
  trace(`layer: ${what}: pack`);
  const tar = await packPath(upper, { name: '', layer: { skip: (n) => ENGINE_STUBS.has(n) } });
  const layer = await engine.images.layerFromStream(tar, lease, undefined, what);
  trace(`layer: ${what}: stored`);
  lease.hold(`sha256:${layer.id}`);
  return layer;
}

/** Nothing but empty directories on the way to the engine's stub files. */
function isEmptyUpper(dir: string, prefix = ''): boolean {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const name = prefix + e.name;
    if (e.isDirectory()) {
      if (!isEmptyUpper(`${dir}/${e.name}`, `${name}/`)) return false;
    } else if (!ENGINE_STUBS.has(name)) {
      return false;
    }
  }
  return true;
}

export interface StepResult {
  /** Replaces the image config's `config` (docker's Config); undefined keeps the parent's. */
  config?: ImageConfigDoc['config'];
  layer?: LayerRow;
  /** The history line, as docker's classic builder writes it (`/bin/sh -c #(nop)  ENV A=b`, `RUN …`). */
  createdBy: string;
  /** When the step was made; now by default (a step restored from a `--cache-from` image keeps its time). */
  created?: string;
}

/** The empty config of an image built `FROM scratch`. */
export function scratchConfig(): ImageConfigDoc {
  return { architecture: 'amd64', os: 'linux', created: new Date(0).toISOString(), config: {}, rootfs: { type: 'layers', diff_ids: [] }, history: [] };
}

/** Record the step's image over `parent` (undefined for scratch); returns its id. */
export function addStepImage(engine: EngineCore, parent: ImageRow | undefined, step: StepResult): string {
  const base = parent?.config ?? scratchConfig();
  const now = step.created ?? new Date().toISOString();
  const doc: ImageConfigDoc = {
    ...base,
    created: now,
    config: step.config ?? base.config,
    rootfs: { type: 'layers', diff_ids: [...base.rootfs.diff_ids, ...(step.layer ? [`sha256:${step.layer.id}`] : [])] },
    history: [...(base.history ?? []), { created: now, created_by: step.createdBy, ...(step.layer ? {} : { empty_layer: true }) }],
  };
  // The image a step made is the build's, not the container's it may have run in.
  delete doc.container;
  delete doc.container_config;
  return engine.images.addImage(Buffer.from(JSON.stringify(doc)), { parent: parent?.id ?? '' });
}

/** The image a step with this key made before, if the cache has it and it is still in the store. */
export function cachedStep(engine: EngineCore, key: string, noCache: boolean): ImageRow | undefined {
  const hit = noCache ? undefined : engine.buildCache.hit(key);
  return hit ? engine.images.repo.get(hit) : undefined;
}

/** Record the step's image over `parent`, held by the build's lease and cached under `key`. */
export function recordStep(engine: EngineCore, lease: Lease, key: string, parent: ImageRow | undefined, step: StepResult): ImageRow {
  const id = addStepImage(engine, parent, step);
  lease.hold(`sha256:${id}`);
  engine.buildCache.put(key, id);
  return engine.images.repo.get(id)!;
}

/**
 * `--cache-from`: the step as an image listed there made it, found by its history as docker's classic
 * builder finds it. A source matches when its history and layers begin with the parent's and its next
 * history line is the step's; the step is then restored over the parent from the source's layer and time,
 * so a chain restored to the end is the source image itself (same config bytes, same id). `createdBy` must
 * say all the step does (the caller passes none for a step whose history line does not).
 */
export function fromCacheSources(sources: ImageRow[], parent: ImageRow | undefined, createdBy: string, config: ImageConfigDoc['config'] | undefined): { source: ImageRow; step: StepResult } | undefined {
  const base = parent?.config ?? scratchConfig();
  const baseHistory = base.history ?? [];
  const baseLayers = base.rootfs.diff_ids;
  for (const source of sources) {
    const history = source.config.history ?? [];
    const layers = source.config.rootfs.diff_ids;
    if (history.length <= baseHistory.length || layers.length < baseLayers.length) continue;
    if (baseHistory.some((h, i) => JSON.stringify(h) !== JSON.stringify(history[i]))) continue;
    if (baseLayers.some((d, i) => d !== layers[i])) continue;
    const next = history[baseHistory.length]!;
    if (next.created_by !== createdBy) continue;
    let layer: LayerRow | undefined;
    if (!next.empty_layer) {
      const diffId = layers[baseLayers.length];
      if (!diffId) continue;
      layer = { id: diffId.replace(/^sha256:/, '') } as LayerRow;
    }
    return { source, step: { createdBy, created: next.created, ...(config ? { config } : {}), ...(layer ? { layer } : {}) } };
  }
  return undefined;
}
