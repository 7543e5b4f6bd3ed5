/** A restart its policy scheduled, run when it is due (by the supervisor, src/engine/supervisor.ts). */
import type { EngineCore } from '../core.ts';
import { start } from './start.ts';

/**
 * Start the container again if it is still due: not started by the user meanwhile, not stopped (which calls
 * the restart off), not removed. A start that fails leaves it exited with the error, as docker's does.
 */
export async function restartNow(engine: EngineCore, id: string): Promise<void> {
  await engine.withLock(id, async (row) => {
    if (row.state !== 'exited' || row.restartAt === '') return;
    if (Date.parse(row.restartAt) > Date.now() + 5) return;
    await start(engine, id, { byPolicy: true });
  });
}
