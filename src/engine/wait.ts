/** Waiting without blocking: a sleep, and a poll that an inotify event on a directory can wake early. */
import { watch, type FSWatcher } from 'node:fs';

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/**
 * Poll `done` with a short, growing interval until it holds or ms pass. With `watchDirs`, an inotify event
 * in one of them (a monitor recording an exit: RuntimeDriver.watchPaths) wakes the check at once; so does
 * the function `onWake` is given, for what the caller itself knows to end (work it started in-process).
 */
export async function waitUntil(
  done: () => boolean, ms: number, watchDirs: readonly string[] = [], onWake?: (wake: () => void) => void,
): Promise<boolean> {
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
  let early = false; // woken before the wait that wake() would end was set up
  onWake?.(() => (wake ? wake() : (early = true)));
  try {
    for (;;) {
      if (done()) return true;
      if (Date.now() >= deadline) return false;
      if (early) {
        early = false;
        continue;
      }
      await new Promise<void>((r) => {
        const end = () => {
          clearTimeout(t);
          wake = undefined;
          r();
        };
        const t = setTimeout(end, Math.min(interval, Math.max(1, deadline - Date.now())));
        wake = end;
      });
      interval = Math.min(interval * 2, watchers.length > 0 ? 200 : 50);
    }
  } finally {
    for (const w of watchers) w.close();
  }
}
