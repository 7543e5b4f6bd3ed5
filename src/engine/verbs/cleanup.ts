/** `cleanup`: what follows a container's exit (the monitor's exit command, a foreground run, `stop`). */
import type { ContainerRow } from '../../store/containers.ts';
import type { EngineCore } from '../core.ts';
import { move } from '../state.ts';
import { removeAnonymousVolumes } from '../volumes.ts';
import { teardownRuntime } from './teardown.ts';
import { removeFiles } from './teardown.ts';

/**
 * After an exit: release the runtime's record and the mount, run postStop, and remove an auto-remove
 * container. The monitor's exit command runs this; so does a foreground run and `stop`.
 */
export async function cleanup(engine: EngineCore, ref: string): Promise<ContainerRow> {
  // A remove in progress tears everything down itself and waits for this container's monitor, which
  // may be running this very cleanup as its exit command: taking the lock here would stall both.
  const seen = engine.find(ref);
  if (seen.state === 'removing') return seen;
  let removed = false;
  const out = await engine.withLock(ref, async (row) => {
    if (row.state !== 'exited') return row;
    if (row.mounted) {
      await teardownRuntime(engine, row);
      await engine.options.hooks?.postStop?.(row);
    }
    if (row.config.autoRemove) {
      engine.containers.update(row.id, ...move('remove'));
      await removeFiles(engine, row.id);
      engine.containers.delete(row.id);
      engine.emitContainer(row, 'destroy');
      await removeAnonymousVolumes(engine, row);
      removed = true;
    }
    return engine.containers.get(row.id) ?? row;
  });
  return removed ? { ...out, state: 'removing' } : out;
}
