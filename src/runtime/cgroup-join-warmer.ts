/**
 * Paying the kernel's cgroup-join wait beside other work instead of in the runtime.
 *
 * Every write to a `cgroup.procs` takes the kernel's cgroup migration lock (one per-CPU rwsem for all
 * hierarchies). Its writer first turns the lock's readers (fork and exit) onto a slow path, which waits
 * for an RCU grace period, ~17 ms on this machine; a writer that comes while the lock is turned, or within
 * about a grace period after the last writer left, does not wait. `runtime create` and `runtime exec` each
 * put a process into the container's cgroups, so after a quiet spell each waited the whole period on the
 * critical path (measured: `crun exec` ~22 ms cold, ~9 ms just after another join).
 *
 * `warmCgroupJoin()` writes this process's pid to the `cgroup.procs` of the cgroup it is already in (a
 * migration that moves nothing) on a thread-pool thread, so the wait runs while the caller prepares the
 * runtime's call, and the runtime's join finds the lock turned. A host that mounts its v2 hierarchy with
 * `favordynmods` keeps the lock turned for good and has no wait to save. Only a hint: a failure is ignored.
 */
import { close, openSync, readFileSync, write } from 'node:fs';
import { cgroupDirs } from './cgroups.ts';
import { cgroupInfo, type CgroupInfo } from './probe.ts';

let warming: Promise<boolean> | undefined;

/**
 * Start a join that moves nothing, unless one is under way. Returns at once; the promise (which never
 * rejects) tells, for a caller that wants to know, whether the kernel took the join.
 */
export function warmCgroupJoin(): Promise<boolean> {
  if (warming) return warming;
  let fd: number;
  try {
    const file = ownProcsFile(cgroupInfo(), readFileSync('/proc/self/cgroup', 'utf8'));
    if (!file) return Promise.resolve(false);
    fd = openSync(file, 'r+'); // here, so that the write, which waits, is the thread pool's only step
  } catch {
    return Promise.resolve(false); // no cgroup filesystem, or none this process may write
  }
  const joining = new Promise<boolean>((resolve) =>
    write(fd, String(process.pid), (err) => {
      warming = undefined;
      close(fd, () => resolve(!err));
    }),
  );
  warming = joining;
  return joining;
}

/**
 * The `cgroup.procs` of the cgroup this process is in (`self`: /proc/self/cgroup's text), in the v2
 * hierarchy where there is one, else in the v1 pids hierarchy; undefined when neither is listed.
 */
export function ownProcsFile(info: CgroupInfo, self: string, root = '/sys/fs/cgroup'): string | undefined {
  const entries = self.split('\n').map((l) => l.split(':')).filter((f) => f.length >= 3);
  const pathOf = (f: string[]) => f.slice(2).join(':');
  if (info.mode !== 'v1') {
    const v2 = entries.find((f) => f[0] === '0' && f[1] === '');
    if (!v2) return undefined;
    return procsIn(`${info.mode === 'v2' ? root : `${root}/unified`}${pathOf(v2)}`);
  }
  const pids = entries.find((f) => f[1]!.split(',').includes('pids'));
  const dir = pids ? cgroupDirs(info, pathOf(pids), root).v1.pids : undefined;
  return dir ? procsIn(dir) : undefined;
}

const procsIn = (dir: string) => `${dir.replace(/\/+$/, '')}/cgroup.procs`;
