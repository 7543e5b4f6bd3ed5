/**
 * The watching side of the exit hand-off (src/engine/exit-handoff.ts): an engine that stays up takes the
 * exits of its root's containers and cleans each up in its own process.
 */
import { mkdirSync, watch, type FSWatcher } from 'node:fs';
import { readdir, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { NoSuchContainer } from '../errors.ts';
import { tryLockFile, unlockFile } from '../sys/flock.ts';
import type { ContainerRow } from '../store/containers.ts';
import type { EngineCore } from './core.ts';
import { handoffPaths } from './exit-handoff.ts';
import { cleanup } from './verbs/cleanup.ts';

export interface ExitWatch {
  /** This watcher holds the root's lock: exits are handed to it. */
  held(): boolean;
  /** Stop taking exits: the lock goes first, so that no exit is handed to a watcher that no longer reads. */
  close(): Promise<void>;
}

const ID = /^[0-9a-f]{64}$/;
const RETRY_LOCK_MS = 1000;

/**
 * Take the exits of this engine's root (one watcher per root; another engine that holds the lock keeps it,
 * and this one takes over when it goes) and clean each up in this process; `cleaned` sees each row after.
 */
export async function watchExits(engine: EngineCore, cleaned?: (row: ContainerRow) => void): Promise<ExitWatch> {
  const { lock, exits } = handoffPaths(engine);
  mkdirSync(exits, { recursive: true, mode: 0o700 });
  const inFlight = new Map<string, Promise<void>>();
  let draining: Promise<void> | undefined;
  let again = false;
  let closed = false;

  const cleanOne = (id: string) => {
    if (inFlight.has(id)) return;
    const done = cleanup(engine, id)
      .then((row) => cleaned?.(row))
      .catch((e: unknown) => {
        if (!(e instanceof NoSuchContainer) && !closed) engine.warn(`cleaning up container ${id.slice(0, 12)} after its exit: ${e instanceof Error ? e.message : String(e)}`);
      })
      .finally(() => inFlight.delete(id));
    inFlight.set(id, done);
  };
  const drainOnce = async () => {
    const names = await readdir(exits).catch(() => [] as string[]);
    for (const name of names) {
      await unlink(join(exits, name)).catch(() => {});
      if (ID.test(name)) cleanOne(name);
    }
  };
  // Events arrive in bursts and may coalesce: each one reads the whole directory, one read at a time.
  const drain = (): Promise<void> => {
    if (draining) {
      again = true;
      return draining;
    }
    draining = (async () => {
      do {
        again = false;
        await drainOnce();
      } while (again);
    })().finally(() => (draining = undefined));
    return draining;
  };

  // Watch before taking the lock: an id left the moment the lock is held is seen.
  const watcher: FSWatcher = watch(exits, () => void drain());
  watcher.on('error', () => {});
  let fd = await tryLockFile(lock);
  let retry: NodeJS.Timeout | undefined;
  if (fd === null) {
    retry = setInterval(() => {
      void tryLockFile(lock).then((got) => {
        if (got === null) return;
        if (closed) return unlockFile(got);
        fd = got;
        clearInterval(retry);
        void drain();
      }, () => {});
    }, RETRY_LOCK_MS);
    retry.unref();
  }
  void drain();

  return {
    held: () => fd !== null && !closed,
    async close() {
      if (closed) return;
      closed = true;
      clearInterval(retry);
      if (fd !== null) unlockFile(fd);
      // Exits handed over before the lock went are in the directory already.
      await drain();
      watcher.close();
      await Promise.all(inFlight.values());
    },
  };
}
