/** Undoing the runtime side of a container: its runtime record, monitor and mount (src/engine/bundle.ts), and its files. */
import { rm } from 'node:fs/promises';
import type { ContainerRow } from '../../store/containers.ts';
import type { EngineCore } from '../core.ts';
import { tearDown } from '../bundle.ts';
import { stopWriter } from '../../logs/writer.ts';

/** Undo the runtime side of a container (src/engine/bundle.ts). */
export async function teardownRuntime(engine: EngineCore, row: ContainerRow, runtimeToo = false): Promise<void> {
  await tearDown(engine, row, runtimeToo);
}

/**
 * Removes the container's directory; asynchronously, as a long-lived engine must not stop for a big upper dir.
 * A log writer still waiting for a monitor that will not come (src/logs/writer.ts) goes first.
 */
export async function removeFiles(engine: EngineCore, id: string): Promise<void> {
  await stopWriter(engine.dir(id));
  await rm(engine.dir(id), { recursive: true, force: true });
}
