/** A running container's stdio, terminal size, processes and log. */
import { Conflict, NotSupported } from '../../errors.ts';
import { readsLog } from '../../logs/drivers.ts';
import type { AttachStream, LogReadOptions, LogRecord } from '../../runtime/driver.ts';
import type { EngineCore } from '../core.ts';
import { isLive, mayExit } from '../state.ts';

/** Pids of the container's processes (for top). */
/**
 * Connect to a running container's stdio (`docker attach`). The monitor replays nothing: what the
 * container printed before is in its log only.
 */
export async function attach(engine: EngineCore, ref: string): Promise<AttachStream> {
  const row = engine.inspect(ref);
  if (!isLive(row.state)) throw new Conflict('You cannot attach to a stopped container, start it first');
  return engine.watcher(row).attach(engine.dir(row.id));
}

/** Set a running container's terminal size; a container without a tty has none, and is left alone. */
export async function resize(engine: EngineCore, ref: string, rows: number, cols: number): Promise<void> {
  const row = engine.inspect(ref);
  if (!row.config.tty) return;
  if (!isLive(row.state)) throw new Conflict(`container ${row.id} is not running`);
  await engine.watcher(row).resize(engine.dir(row.id), rows, cols);
}

export async function pids(engine: EngineCore, ref: string): Promise<number[]> {
  const row = engine.inspect(ref);
  if (!isLive(row.state)) throw new Conflict(`container ${row.id} is not running`);
  return engine.driver(row.config.runtime).pids(row.id);
}

/**
 * Read the container's log; with `follow`, keep reading until the container exits (nothing is lost: the
 * monitor records the exit after the last output) or `signal` aborts (the reader went away).
 */
export async function readLogs(engine: EngineCore, ref: string, out: (rec: LogRecord) => void, opts: LogReadOptions & { signal?: AbortSignal } = {}): Promise<void> {
  const row = engine.find(ref);
  const log = engine.logTarget(row);
  if (!readsLog(log.driver)) throw new NotSupported(`configured logging driver does not support reading (${log.driver})`);
  const running = () => {
    if (opts.signal?.aborted) return false;
    const r = engine.containers.get(row.id);
    return r !== undefined && mayExit(engine.sync(r).state) && !(r.state === 'created' && r.monitorPid === 0);
  };
  await engine.watcher(row).readLog(engine.dir(row.id), log, running, out, opts);
}

/** Have a running container's monitor reopen its log file (the CRI's ReopenContainerLog, after a rotation). */
export async function reopenLog(engine: EngineCore, ref: string): Promise<void> {
  const row = engine.inspect(ref);
  if (row.state !== 'running') throw new Conflict(`container ${row.id} is not running`);
  if ((row.config.logDriver ?? 'k8s-file') !== 'k8s-file') throw new NotSupported(`container ${row.id} does not log to a file its monitor writes (log driver ${row.config.logDriver})`);
  await engine.driver(row.config.runtime).reopenLog(engine.dir(row.id));
}
