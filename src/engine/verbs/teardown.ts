/** Undoing the runtime side of a container: its runtime record, monitor and mount (src/engine/bundle.ts), and its files. */
import { renameSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { ContainerRow } from '../../store/containers.ts';
import type { EngineCore } from '../core.ts';
import { tearDown } from '../bundle.ts';
import { stopWriter } from '../../logs/writer.ts';
import { mountPoints } from '../../sys/mount.ts';

/** Undo the runtime side of a container (src/engine/bundle.ts). */
export async function teardownRuntime(engine: EngineCore, row: ContainerRow, runtimeToo = false): Promise<void> {
  await tearDown(engine, row, runtimeToo);
}

/**
 * Removes the container's directory: renamed out of the way at once (one rename, into the root's tmp), then
 * removed behind the caller (unless something is still mounted in it), as a long-lived engine must not stop
 * for a big upper dir, nor make its client wait for one (a CRI RemoveContainer spent 4–8 ms of its ~8 ms
 * removing a small one). A CLI's process still finishes the removal before it exits (the pending removal keeps
 * it alive). A log writer still waiting for a monitor that will not come (src/logs/writer.ts) goes first.
 */
export async function removeFiles(engine: EngineCore, id: string): Promise<void> {
  const dir = engine.dir(id);
  await stopWriter(dir);
  // Something still mounted inside cannot be removed: removed in place, its failure is the caller's to report
  // (the container stays, dead, for `rm` to try again).
  if (mountPoints().some((m) => m.startsWith(`${dir}/`))) {
    await rm(dir, { recursive: true, force: true });
    return;
  }
  const gone = join(engine.root, 'tmp', `removed-${id}-${process.pid}-${Date.now()}`);
  try {
    renameSync(dir, gone);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
    await rm(dir, { recursive: true, force: true }); // another file system, or the tmp dir missing: in place
    return;
  }
  void rm(gone, { recursive: true, force: true }).catch((e: unknown) => engine.notice(`removing ${gone}: ${(e as Error).message}`));
}
