/** `cleanup`: what follows a container's exit (the monitor's exit command, a foreground run, `stop`). */
import type { ContainerRow } from '../../store/containers.ts';
import type { EngineCore } from '../core.ts';
import { decideRestart, NO_RESTART } from '../restart-policy.ts';
import { move } from '../state.ts';
import { wakeSupervisor } from '../supervisor-launch.ts';
import { removeAnonymousVolumes } from '../volumes.ts';
import { teardownRuntime } from './teardown.ts';
import { removeFiles } from './teardown.ts';

/**
 * After an exit: release the runtime's record and the mount, run postStop, and remove an auto-remove
 * container, or schedule its restart when its restart policy says so. The monitor's exit command runs this;
 * so does a foreground run, `wait` and `stop`: whichever comes first releases the mount, and only that one
 * decides on a restart, so that one exit is never restarted twice.
 */
export async function cleanup(engine: EngineCore, ref: string): Promise<ContainerRow> {
  // A remove in progress tears everything down itself and waits for this container's monitor, which
  // may be running this very cleanup as its exit command: taking the lock here would stall both.
  const seen = engine.find(ref);
  if (seen.state === 'removing') return seen;
  let removed = false;
  let restartAt = '';
  const out = await engine.withLock(ref, async (row) => {
    if (row.state !== 'exited') return row;
    const firstAfterExit = row.mounted;
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
    } else if (firstAfterExit && row.restartAt === '') {
      restartAt = scheduleRestart(engine, row);
    }
    return engine.containers.get(row.id) ?? row;
  });
  if (restartAt) {
    if (engine.restartListener) engine.restartListener.restartDue(out.id, restartAt);
    else await wakeSupervisor(engine, out.id);
  }
  return removed ? { ...out, state: 'removing' } : out;
}

/** Record the restart the policy calls for, if any; returns when it is due ('' for none). */
function scheduleRestart(engine: EngineCore, row: ContainerRow): string {
  const ranMs = Date.parse(row.finishedAt) - Date.parse(row.startedAt);
  const d = decideRestart({
    policy: row.config.restartPolicy ?? NO_RESTART,
    exitCode: row.exitCode,
    stoppedByUser: row.stoppedByUser,
    restartCount: row.restartCount,
    lastDelayMs: row.restartDelayMs,
    ranMs: Number.isFinite(ranMs) ? ranMs : 0,
  });
  if (!d.restart) return '';
  const restartAt = new Date(Date.now() + d.delayMs).toISOString();
  engine.containers.update(row.id, { restartAt, restartDelayMs: d.delayMs, restartCount: row.restartCount + 1 }, ['exited']);
  return restartAt;
}
