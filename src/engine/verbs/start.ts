/** `start`: bringing a created or exited container up under its monitor and letting it run. */
import { Conflict, asBerthError } from '../../errors.ts';
import type { ContainerRow } from '../../store/containers.ts';
import { trace } from '../../sys/trace.ts';
import { bringUp } from '../bundle.ts';
import type { EngineCore, StartOptions } from '../core.ts';
import { refreshPeers } from '../network-attach.ts';
import { canStart, move } from '../state.ts';
import { teardownRuntime } from './teardown.ts';
import { remove } from './remove.ts';
import { wakeSupervisor } from '../supervisor-launch.ts';
import { probes, STARTING } from '../healthcheck.ts';
import { ensureInfraRunning } from '../pods/member.ts';

/** Start a created or exited container; a failed start of an auto-remove container removes it, as docker's does. */
export async function start(engine: EngineCore, ref: string, opts: StartOptions = {}): Promise<ContainerRow> {
  let autoRemove = false;
  const asked = engine.find(ref);
  if (asked.config.pod !== undefined && asked.state !== 'running') await ensureInfraRunning(engine, asked.config.pod, asked.id);
  try {
    const row = await startLocked(engine, ref, opts, (r) => (autoRemove = r.config.autoRemove ?? false));
    // Its exit may call for a restart after a wait, its check for probes: a supervisor must be there to run them.
    const supervised = (row.config.restartPolicy?.name ?? 'no') !== 'no' || probes(row.config.healthcheck);
    if (supervised && !engine.restartListener) await wakeSupervisor(engine);
    return row;
  } catch (e) {
    if (autoRemove) await remove(engine, ref, true, true).catch(() => {});
    throw e;
  }
}

async function startLocked(engine: EngineCore, ref: string, opts: StartOptions, seen: (row: ContainerRow) => void): Promise<ContainerRow> {
  return engine.withLock(ref, async (row) => {
    seen(row);
    if (row.state === 'running') return row;
    if (row.state === 'paused') throw new Conflict(`cannot start a paused container, try unpause instead`);
    if (!canStart(row.state)) throw new Conflict(`container ${row.name} is ${row.state}`);
    if (row.state === 'exited' || row.mounted) await teardownRuntime(engine, row);
    const drv = engine.driver(row.config.runtime);
    let startedAt = '';
    try {
      // Mount, wire and create the runtime's container (src/engine/bundle.ts).
      await bringUp(engine, row, drv, opts);
      await opts.beforeStart?.(engine.containers.get(row.id)!, () => drv.attach(engine.dir(row.id)));
      trace('start: runtime start');
      // Taken before the process can run, so it is never after the exit file's FinishedAt.
      startedAt = new Date().toISOString();
      // The API's ConsoleSize: the terminal's first size, set before the process can read it.
      if (row.config.tty && row.config.consoleSize) await drv.resize(engine.dir(row.id), ...row.config.consoleSize);
      await drv.start(row.id);
      trace('start: started');
    } catch (e) {
      await teardownRuntime(engine, engine.containers.get(row.id)!).catch(() => {});
      const err = asBerthError(e);
      // The container keeps docker's codes: 126 and 127 for a command it cannot run, 128 for any other failed
      // start (the CLI's own exit code stays 125 for those).
      const exitCode = err.exitCode === 125 ? 128 : err.exitCode;
      engine.containers.update(row.id, { exitCode, error: err.message, monitorPid: 0, monitorStart: 0, pid: 0, pidStart: 0, restartAt: '' });
      throw err;
    }
    // RestartCount counts on (docker's is cumulative over the policy's restarts); a user's start begins the wait anew.
    const policy = opts.byPolicy ? {} : { restartDelayMs: 0 };
    const health = probes(row.config.healthcheck) ? STARTING : null;
    engine.containers.update(row.id, ...move('start', { startedAt, finishedAt: '', exitCode: 0, error: '', oomKilled: false, restartAt: '', stoppedByUser: false, health, ...policy }));
    engine.emitContainer(row, 'start');
    const now = engine.sync(engine.containers.get(row.id)!);
    // Peers on its user networks learn its name now that it runs.
    if (now.net.networks) await refreshPeers(engine, now, Object.keys(now.net.networks));
    await engine.options.hooks?.start?.(now);
    return now;
  });
}
