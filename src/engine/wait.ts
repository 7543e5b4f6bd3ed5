/** Waiting without blocking: a sleep, and a poll that an inotify event on a directory can wake early. */
import { watch, type FSWatcher } from 'node:fs';

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/**
 * Poll `done` with a short, growing interval until it holds or ms pass. With `watchDirs`, an inotify event
 * in one of them (a monitor recording an exit: RuntimeDriver.watchPaths) wakes the check at once.
 */
export async function waitUntil(done: () => boolean, ms: number, watchDirs: readonly string[] = []): Promise<boolean> {
  const deadline = Date.now() + ms;
  let interval = 2;
  let wake: (() => void) | undefined;
  const watchers: FSWatcher[] = [];
  for (const dir of watchDirs) {
    try {
      watchers.push(watch(dir, () => wake?.()));
    } catch {
      // gone already: the poll still ends the wait
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
      interval = Math.min(interval * 2, watchers.length > 0 ? 200 : 50);
    }
  } finally {
    for (const w of watchers) w.close();
  }
}
