/**
 * Process identity. A pid alone is never trusted: pids are reused, so every stored pid travels with its
 * start time (field 22 of /proc/<pid>/stat, clock ticks since boot) and is live only while both match.
 */
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';

export interface ProcIdentity {
  pid: number;
  start: number;
}

/** The process's start time in clock ticks since boot, or null when no such process exists. */
export function procStartTime(pid: number): number | null {
  if (!Number.isInteger(pid) || pid <= 0) return null;
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
  } catch {
    return null;
  }
  // The command name (field 2) is in parentheses and may hold spaces: split after the last ')'.
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // rest[0] is field 3 (state); field 22 is rest[19]. A zombie has exited: treat it as gone.
  if (rest[0] === 'Z' || rest[0] === 'X') return null;
  const start = Number(rest[19]);
  return Number.isFinite(start) ? start : null;
}

export function identityOf(pid: number): ProcIdentity | null {
  const start = procStartTime(pid);
  return start === null ? null : { pid, start };
}

/** True when the process that was `pid` at `start` is still running. */
export function isAlive(pid: number, start: number): boolean {
  if (pid <= 0) return false;
  const now = procStartTime(pid);
  return now !== null && now === start;
}

let self: ProcIdentity | undefined;
export function selfIdentity(): ProcIdentity {
  self ??= identityOf(process.pid) ?? { pid: process.pid, start: 0 };
  return self;
}

/** Processes other than this one that hold `path` open (by their fds' links), each with its command line. */
export function openersOf(path: string): { pid: number; command: string }[] {
  const out: { pid: number; command: string }[] = [];
  for (const p of readdirSync('/proc')) {
    if (!/^\d+$/.test(p) || Number(p) === process.pid) continue;
    try {
      const fds = readdirSync(`/proc/${p}/fd`);
      if (!fds.some((fd) => safeReadlink(`/proc/${p}/fd/${fd}`) === path)) continue;
      out.push({ pid: Number(p), command: readFileSync(`/proc/${p}/cmdline`, 'utf8').split('\0').filter(Boolean).join(' ') });
    } catch {
      // exited meanwhile, or not ours to read
    }
  }
  return out;
}

function safeReadlink(path: string): string {
  try {
    return readlinkSync(path);
  } catch {
    return '';
  }
}

/**
 * The processes in the pid namespace `pid` is in (it among them), found by their namespace links: a container's
 * processes where it has no cgroup to list them by (an ordinary user's). Processes not ours to read are not
 * ours to list either.
 */
export function pidsInNamespaceOf(pid: number): number[] {
  const ns = safeReadlink(`/proc/${pid}/ns/pid`);
  if (!ns) return [];
  return readdirSync('/proc')
    .filter((p) => /^\d+$/.test(p) && safeReadlink(`/proc/${p}/ns/pid`) === ns)
    .map(Number)
    .sort((a, b) => a - b);
}
