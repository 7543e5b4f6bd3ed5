/**
 * Following a growing log until its container ends: read what is new, then sleep until inotify on
 * `watchDirs` says something changed (a 50 ms poll covers what it misses). `readMore(ended)` is called
 * once more after the end, so nothing written before it is lost.
 */
import { watch, type FSWatcher } from 'node:fs';

export async function followLog(watchDirs: readonly string[], live: () => boolean, readMore: (ended: boolean) => void | Promise<void>): Promise<void> {
  let wake: (() => void) | undefined;
  const watchers: FSWatcher[] = [];
  for (const d of new Set(watchDirs)) {
    try {
      watchers.push(watch(d, () => wake?.()));
    } catch {
      /* gone already: the poll below still ends the loop */
    }
  }
  try {
    for (;;) {
      const still = live();
      await readMore(!still);
      if (!still) return;
      await new Promise<void>((r) => {
        const timer = setTimeout(r, 50);
        wake = () => {
          clearTimeout(timer);
          r();
        };
      });
    }
  } finally {
    for (const w of watchers) w.close();
  }
}
