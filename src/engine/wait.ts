/** Waiting without blocking: a sleep, and a poll that an inotify event on a directory can wake early. */
import { watch, type FSWatcher } from 'node:fs';

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/**
 * Poll `done` with a short, growing interval until it holds or ms pass. With `watchDir`, an inotify
 * event there (conmon renaming the exit file into place) wakes the check at once.
 */
export async function waitUntil(done: () => boolean, ms: number, watchDir?: string): Promise<boolean> {
  const deadline = Date.now() + ms;
  let interval = 2;
  let wake: (() => void) | undefined;
  let watcher: FSWatcher | undefined;
  if (watchDir) {
    try {
      watcher = watch(watchDir, () => wake?.());
    } catch {
      watcher = undefined;
    }
  }
  try {
    for (;;) {
      if (done()) return true;
      if (Date.now() >= deadline) return false;
      await new Promise<void>((r) => {
        const t = setTimeout(r, Math.min(interval, Math.max(1, deadline - Date.now())));
        wake = () => {
          clearTimeout(t);
          r();
        };
      });
      interval = Math.min(interval * 2, watcher ? 200 : 50);
    }
  } finally {
    watcher?.close();
  }
}
