/**
 * A build step's file system without a container: the parent image's layers as overlay lower dirs under a
 * fresh upper dir, mounted in the build's work dir. COPY and ADD write into the mount; what they wrote is
 * the upper dir, which becomes the step's layer (src/engine/build/layer.ts) as a container's diff does on
 * commit. `--from` sources are read through the same kind of mount, never written.
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { ImageRow } from '../../store/images.ts';
import type { EngineCore } from '../core.ts';

export interface StepFs {
  /** The merged tree: the image's files with this step's writes over them. */
  target: string;
  /** This step's writes only (overlay's upper dir: whiteouts for deletions). */
  upper: string;
  /** Unmount and remove everything the mount used. */
  dispose(): Promise<void>;
}

/** Mount `img`'s layers (none for `scratch`) under a new upper dir inside `workRoot`. */
export async function mountStepFs(engine: EngineCore, img: ImageRow | undefined, workRoot: string): Promise<StepFs> {
  const dir = mkdtempSync(join(workRoot, 'fs-'));
  const upper = join(dir, 'diff');
  const work = join(dir, 'work');
  const target = join(dir, 'merged');
  const empty = join(dir, 'empty');
  for (const d of [upper, work, target, empty]) mkdirSync(d);
  // Overlay wants at least one lower dir: an image with no layers (scratch) gets an empty one.
  const lowers = img && img.layers.length > 0 ? engine.images.lowerDirs(img) : [empty];
  let mounted = false;
  const dispose = async () => {
    if (mounted) await engine.rootfs.unmount(target, true);
    mounted = false;
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await engine.rootfs.mount(lowers, upper, work, target, engine.root);
    mounted = true;
  } catch (e) {
    await dispose();
    throw e;
  }
  return { target, upper, dispose };
}
