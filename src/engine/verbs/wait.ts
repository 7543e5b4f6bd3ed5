/** Waiting for a container's exit: bounded (waitExit, for stop) and `docker wait`'s. */
import { NoSuchContainer } from '../../errors.ts';
import type { EngineCore } from '../core.ts';
import { hasEnded, isLive } from '../state.ts';
import { waitUntil } from '../wait.ts';
import { cleanup } from './cleanup.ts';

/** Wait until the container's monitor records its exit, up to ms (Infinity for ever). True when it exited. */
export async function waitExit(engine: EngineCore, id: string, ms: number): Promise<boolean> {
  const first = engine.containers.get(id);
  if (!first) return true;
  return waitUntil(() => {
    const row = engine.containers.get(id);
    if (!row) return true;
    return !isLive(engine.sync(row).state);
  }, ms, engine.watcher(first).watchPaths(engine.dir(id)));
}

/** Block until the container is not running, like `docker wait`; returns the exit code. */
export async function wait(engine: EngineCore, ref: string): Promise<number> {
  const row = engine.find(ref);
  await waitUntil(() => {
    const r = engine.containers.get(row.id);
    if (!r) return true;
    return hasEnded(engine.sync(r).state);
  }, Infinity, engine.watcher(row).watchPaths(engine.dir(row.id)));
  const r = engine.containers.get(row.id);
  const code = r ? r.exitCode : (engine.recordedExit(row)?.code ?? engine.exitCodeOf(row.id) ?? -1);
  // Release the mount and runtime state now rather than leave it to the monitor's exit command (which an
  // engine with a postStop callback does not use); idempotent, and it honours --rm.
  if (r?.mounted) {
    await cleanup(engine, row.id).catch((e: unknown) => {
      if (!(e instanceof NoSuchContainer)) throw e;
    });
  }
  return code;
}
