/**
 * Waiting for a container's condition, as the API's `wait?condition=` means it: `not-running` (it is not
 * running now, or once it stops), `next-exit` (an exit after the call) or `removed`. Like a daemon, the
 * waiter reaps an exited container at once (its mount, the runtime's state and, for --rm, the container),
 * rather than leave it to the monitor's exit command, a new process: `docker run --rm` waits for that.
 */
import { NoSuchContainer } from '../errors.ts';
import type { ContainerRow } from '../store/containers.ts';
import type { EngineCore } from './core.ts';
import { hasEnded, isLive } from './state.ts';
import { waitUntil } from './wait.ts';
import { cleanup } from './verbs/cleanup.ts';

export type WaitCondition = 'not-running' | 'next-exit' | 'removed';

export interface WaitResult {
  code: number;
  /** The error a failed start recorded, '' when none. */
  error: string;
}

/** Resolves when the condition is met, or with undefined once `signal` aborts (the waiter went away). */
export async function waitForCondition(engine: EngineCore, ref: string, condition: WaitCondition, signal?: AbortSignal): Promise<WaitResult | undefined> {
  const first = engine.inspect(ref);
  const id = first.id;
  let code = first.exitCode;
  let error = '';
  let sawRun = isLive(first.state);
  let reaping = false;
  const met = (): boolean => {
    if (signal?.aborted) return true;
    let r: ContainerRow;
    try {
      r = engine.inspect(id);
    } catch (e) {
      if (e instanceof NoSuchContainer) {
        // Removed (--rm) before this poll saw it exit: its die event has the code.
        code = engine.exitCodeOf(id) ?? code;
        return true;
      }
      throw e;
    }
    if (isLive(r.state)) sawRun = true;
    if (hasEnded(r.state)) {
      code = r.exitCode;
      error = r.error;
      if (r.mounted && !reaping) {
        reaping = true;
        // Its end (the container released, or removed for --rm) is checked at once, not at the next poll.
        cleanup(engine, id).catch(() => {}).finally(() => nudge());
      }
    }
    if (condition === 'removed') return false;
    if (condition === 'not-running') return !isLive(r.state);
    // next-exit: an exit after this call (a finish time not seen at its start).
    return hasEnded(r.state) && (sawRun || r.finishedAt !== first.finishedAt);
  };
  let nudge = () => {};
  const onAbort = () => nudge();
  signal?.addEventListener('abort', onAbort, { once: true });
  // An exit, a cleanup or a removal this process records (its supervisor's, another request's) is seen at once.
  const unwatch = engine.watchContainers((changed) => changed === id && nudge());
  try {
    await waitUntil(met, Infinity, engine.watcher(first).watchPaths(engine.dir(id)), (wake) => (nudge = wake));
  } finally {
    unwatch();
    signal?.removeEventListener('abort', onAbort);
  }
  return signal?.aborted ? undefined : { code, error };
}
