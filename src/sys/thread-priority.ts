/**
 * Scheduling priority per thread. Linux keeps the nice value per thread (setpriority on PRIO_PROCESS 0 is the
 * calling thread alone), and a new thread or process starts with its creator's. `berth serve` raises its main
 * thread, which parses every request, above the work it starts: on a host whose cores are all busy with
 * container starts, a request otherwise waits its turn behind runc and conmon (16 clients on 2 cores kept a
 * run queue of 10 to 30). What it starts keeps the process's own priority: the thread that spawns (and so
 * every process it forks, containers included) and threads that do bulk work (unpacking layers) go back to
 * the process's own when they start.
 */
import os from 'node:os';

let own: number | undefined;

/** Lower the calling thread's nice value by `steps` (a higher priority); false where that is not permitted. */
export function raiseThisThread(steps: number): boolean {
  const now = os.getPriority(0);
  own ??= now;
  try {
    os.setPriority(0, Math.max(-20, now - steps));
    return true;
  } catch {
    return false;
  }
}

/** The nice value of the process as it started, before any raise: what bulk work runs at. */
export function ownNice(): number {
  return own ?? os.getPriority(0);
}

/** Set the calling thread's nice value (a worker thread going back to the process's own); quiet when refused. */
export function setThisThreadNice(nice: number): void {
  try {
    if (os.getPriority(0) !== nice) os.setPriority(0, nice);
  } catch {
    /* not permitted (a higher priority than this thread's, unprivileged): it keeps its own */
  }
}
