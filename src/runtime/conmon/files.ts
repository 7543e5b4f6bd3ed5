/**
 * The files conmon keeps in a bundle directory, as OciDriver starts it (`-b`, `--exit-dir`, `-p`,
 * `--conmon-pidfile`, the runtime's `--log`), and how they are read. A container's bundle is its
 * directory; an exec session's is the session's own, where the exit file is named after the container.
 */
import { readFileSync, statSync } from 'node:fs';
import type { MonitorExit } from '../driver.ts';

export function conmonFiles(bundle: string, id: string) {
  return {
    /** conmon writes the exit code here (whole, renamed into place), after the last output reached the log. */
    exitDir: `${bundle}/exit`,
    exit: `${bundle}/exit/${id}`,
    /** Made by conmon when the cgroup saw an OOM kill. */
    oom: `${bundle}/oom`,
    /** The container's init pid (the runtime's --pid-file). */
    pid: `${bundle}/pidfile`,
    /** An exec process's pid. */
    execPid: `${bundle}/exec_pid`,
    /** conmon's own pid. */
    monitorPid: `${bundle}/conmon.pid`,
    /** The attach socket (SEQPACKET) and the control FIFO (resize, log reopen). */
    attach: `${bundle}/attach`,
    ctl: `${bundle}/ctl`,
    /** The runtime's JSON error log. */
    ociLog: `${bundle}/oci-log`,
  };
}

/** The exit code in a conmon exit file and the file's time; null while there is none (or it is empty). */
export function readExitFile(path: string): MonitorExit | null {
  try {
    const text = readFileSync(path, 'utf8').trim();
    if (text === '') return null;
    const code = Number(text);
    if (!Number.isFinite(code)) return null;
    return { code, time: statSync(path).mtime.toISOString() };
  } catch {
    return null;
  }
}

/** A pid file's pid, 0 when it cannot be read. */
export function readPidFile(path: string): number {
  try {
    return Number(readFileSync(path, 'utf8').trim()) || 0;
  } catch {
    return 0;
  }
}
