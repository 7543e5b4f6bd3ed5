/**
 * Starting the root's supervisor on demand (src/engine/supervisor.ts), or telling the running one of a
 * restart this process scheduled: its lock tells whether one runs, as for the exit hand-off.
 */
import { spawn } from 'node:child_process';
import { closeSync, openSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tryLockFile, unlockFile } from '../sys/flock.ts';
import type { EngineCore } from './core.ts';
import { handoffPaths } from './exit-handoff.ts';

/** Where a standalone supervisor's warnings go (its stdio), in the root. */
export const supervisorLog = (engine: EngineCore) => join(engine.root, 'supervisor.log');

/**
 * Make sure a supervisor watches this root; with `id`, make it look at that container (a restart this process
 * scheduled): a running one reads the id from the exits directory, a new one reads every due restart at start.
 * An engine with no exit command (a library engine with a postStop hook) supervises its own containers.
 */
export async function wakeSupervisor(engine: EngineCore, id?: string): Promise<void> {
  if (engine.exitCommand.length === 0) return;
  const { lock, exits } = handoffPaths(engine);
  const fd = await tryLockFile(lock).catch(() => null);
  if (fd === null) {
    if (id) {
      try {
        writeFileSync(join(exits, id), '');
      } catch {
        /* no directory yet: the supervisor's tick reads due restarts from the store */
      }
    }
    return;
  }
  unlockFile(fd);
  const log = openSync(supervisorLog(engine), 'a', 0o600);
  try {
    const [cmd, ...args] = engine.exitCommand;
    const child = spawn(cmd!, [...args, 'system', 'supervise'], { detached: true, stdio: ['ignore', log, log] });
    child.on('error', (e) => engine.warn(`cannot start the supervisor: ${e.message}`));
    child.unref();
  } finally {
    closeSync(log);
  }
}
