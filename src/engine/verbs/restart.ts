/** `restart`: stop and start under one hold of the lock. */
import type { ContainerRow } from '../../store/containers.ts';
import type { EngineCore } from '../core.ts';
import { start } from './start.ts';
import { stop } from './stop.ts';

/**
 * Stop, then start, holding the lock once across both (stop and start take it again reentrantly): no other
 * verb sees the container between the two. The old run's exit command waits for the lock, then finds the
 * container running again and leaves it be. RestartCount stays: as docker's, it counts the restarts a
 * restart policy made, not the user's.
 */
export async function restart(engine: EngineCore, ref: string, timeout?: number, signal?: string): Promise<ContainerRow> {
  return engine.withLock(ref, async (row) => {
    await stop(engine, row.id, timeout, signal);
    const started = await start(engine, row.id);
    engine.emitContainer(started, 'restart');
    return started;
  });
}
