/**
 * Running host tools by posix_spawn(3) through koffi, for a server that loaded it (`berth serve`). glibc's
 * posix_spawn starts the child with CLONE_VM | CLONE_VFORK, so a spawn costs the same whatever the server's
 * size, where Node's spawn forks, copying the page tables of the whole process: spawning and reaping /bin/true
 * took 4.3 ms that way against 1.2 ms here, at 129 MB RSS (a CNI plugin, `crun start` and mount(8) were each
 * on a container start's path). The calling thread waits only until the child has exec'd (microseconds).
 *
 * The child gets what Node's spawn gives it: stdin from the input (or /dev/null), stdout and stderr into pipes,
 * every signal at its default and none blocked, the environment asked (the command looked up on its PATH),
 * the directory asked, and the process's own priority, not the serving thread's raised one. Its exit is reaped
 * here (libuv reaps only the children it started itself). A CLI never loads this: loading koffi costs more
 * than the fork it would save.
 */
import { accessSync, closeSync, constants } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import { delimiter, join } from 'node:path';
import { loadKoffi } from './koffi.ts';
import type { RunOptions, RunResult } from './run.ts';
import { ownNice } from './thread-priority.ts';

const O_CLOEXEC = 0o2000000;
const O_RDWR = 2;
const WNOHANG = 1;
const POSIX_SPAWN_SETSIGDEF = 0x04;
const POSIX_SPAWN_SETSIGMASK = 0x08;
const POSIX_SPAWN_SETSID = 0x80;
/** glibc's posix_spawn_file_actions_t is 80 bytes, posix_spawnattr_t 336, sigset_t 128: room to spare. */
const FILE_ACTIONS_SIZE = 128;
const ATTR_SIZE = 512;
const SIGSET_SIZE = 128;

type Ptr = Buffer;

interface SpawnCalls {
  spawn(pid: number[], path: string, fa: Ptr, attr: Ptr, argv: (string | null)[], envp: (string | null)[]): number;
  faInit(fa: Ptr): number;
  faDestroy(fa: Ptr): number;
  faDup2(fa: Ptr, fd: number, to: number): number;
  faOpen(fa: Ptr, fd: number, path: string, flags: number, mode: number): number;
  faChdir(fa: Ptr, path: string): number;
  attrInit(attr: Ptr): number;
  attrDestroy(attr: Ptr): number;
  attrSetFlags(attr: Ptr, flags: number): number;
  attrSetSigMask(attr: Ptr, set: Ptr): number;
  attrSetSigDefault(attr: Ptr, set: Ptr): number;
  sigEmpty(set: Ptr): number;
  sigFill(set: Ptr): number;
  pipe2(fds: Ptr, flags: number): number;
  waitpid(pid: number, status: number[], options: number): number;
  errno(): number;
}

let calls: SpawnCalls | undefined;

export async function loadPosixSpawn(): Promise<void> {
  if (calls) return;
  const koffi = await loadKoffi();
  const libc = koffi.load('libc.so.6');
  const f = (proto: string) => libc.func(proto) as (...a: unknown[]) => number;
  calls = {
    spawn: f('int posix_spawn(_Out_ int *pid, const char *path, void *fa, void *attr, const char **argv, const char **envp)') as SpawnCalls['spawn'],
    faInit: f('int posix_spawn_file_actions_init(void *)') as SpawnCalls['faInit'],
    faDestroy: f('int posix_spawn_file_actions_destroy(void *)') as SpawnCalls['faDestroy'],
    faDup2: f('int posix_spawn_file_actions_adddup2(void *, int, int)') as SpawnCalls['faDup2'],
    faOpen: f('int posix_spawn_file_actions_addopen(void *, int, const char *, int, unsigned int)') as SpawnCalls['faOpen'],
    faChdir: f('int posix_spawn_file_actions_addchdir_np(void *, const char *)') as SpawnCalls['faChdir'],
    attrInit: f('int posix_spawnattr_init(void *)') as SpawnCalls['attrInit'],
    attrDestroy: f('int posix_spawnattr_destroy(void *)') as SpawnCalls['attrDestroy'],
    attrSetFlags: f('int posix_spawnattr_setflags(void *, short)') as SpawnCalls['attrSetFlags'],
    attrSetSigMask: f('int posix_spawnattr_setsigmask(void *, void *)') as SpawnCalls['attrSetSigMask'],
    attrSetSigDefault: f('int posix_spawnattr_setsigdefault(void *, void *)') as SpawnCalls['attrSetSigDefault'],
    sigEmpty: f('int sigemptyset(void *)') as SpawnCalls['sigEmpty'],
    sigFill: f('int sigfillset(void *)') as SpawnCalls['sigFill'],
    pipe2: f('int pipe2(void *, int)') as SpawnCalls['pipe2'],
    waitpid: f('int waitpid(int, _Out_ int *status, int)') as SpawnCalls['waitpid'],
    errno: () => koffi.errno(),
  };
}

export function posixSpawnLoaded(): boolean {
  return calls !== undefined;
}

const ERRNO_NAMES: Record<number, string> = { 2: 'ENOENT', 8: 'ENOEXEC', 13: 'EACCES', 12: 'ENOMEM', 11: 'EAGAIN', 24: 'EMFILE' };

function spawnError(cmd: string, errno: number): Error {
  const code = ERRNO_NAMES[errno] ?? `errno ${errno}`;
  return Object.assign(new Error(`spawn ${cmd} ${code}`), { code, errno: -errno });
}

const found = new Map<string, string>();

/** The file `cmd` names: itself with a slash in it, else the first executable of that name on `path`. */
function lookUp(cmd: string, path: string | undefined): string | undefined {
  if (cmd.includes('/')) return cmd;
  const key = `${path}\0${cmd}`;
  const known = found.get(key);
  if (known) return known;
  for (const dir of (path ?? '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin').split(delimiter)) {
    const file = join(dir || '.', cmd);
    try {
      accessSync(file, constants.X_OK);
      found.set(key, file);
      return file;
    } catch {
      /* not here */
    }
  }
  return undefined;
}

function pipe(c: SpawnCalls): [read: number, write: number] {
  const fds = Buffer.alloc(8);
  if (c.pipe2(fds, O_CLOEXEC) !== 0) throw spawnError('pipe2', c.errno());
  return [fds.readInt32LE(0), fds.readInt32LE(4)];
}

/** Read a pipe to its end. */
function drain(fd: number): Promise<Buffer> {
  return new Promise((resolve) => {
    const s = new net.Socket({ fd, readable: true, writable: false });
    const chunks: Buffer[] = [];
    s.on('data', (b: Buffer) => chunks.push(b));
    s.on('error', () => {}); // a reset pipe ends what was read
    s.on('close', () => resolve(Buffer.concat(chunks)));
  });
}

/**
 * The child's exit, reaped: at once when it has exited, else polled (as it will soon, once its output has
 * ended). `background`: the polls do not keep the process alive (a detached monitor's).
 */
async function reap(c: SpawnCalls, pid: number, background = false): Promise<number> {
  const status = [0];
  for (let wait = 1; ; wait = Math.min(wait * 2, 50)) {
    const r = c.waitpid(pid, status, WNOHANG);
    if (r === pid) break;
    if (r < 0) return 1; // not ours to reap (should not happen): as a failed run
    await new Promise((res) => (background ? setTimeout(res, wait).unref() : setTimeout(res, wait)));
  }
  const s = status[0]!;
  return (s & 0x7f) === 0 ? (s >> 8) & 0xff : 128;
}

/** This thread's nice value; one not permitted (a raise without the privilege) leaves it as it is. */
function setNice(nice: number): void {
  try {
    os.setPriority(0, nice);
  } catch {
    /* kept */
  }
}

/**
 * posix_spawn `cmd` with `fds` as its descriptors 0, 1, 2, …: a descriptor of this process, or 'ignore'
 * (/dev/null). With `session`, in a session of its own (Node's `detached`). Returns its pid.
 */
function spawnWith(cmd: string, args: readonly string[], o: { cwd?: string; env: NodeJS.ProcessEnv; fds: (number | 'ignore')[]; session?: boolean }): number {
  const c = calls!;
  const file = lookUp(cmd, o.env.PATH);
  if (!file) throw spawnError(cmd, 2);
  const fa = Buffer.alloc(FILE_ACTIONS_SIZE);
  const attr = Buffer.alloc(ATTR_SIZE);
  const sigs = Buffer.alloc(SIGSET_SIZE);
  c.faInit(fa);
  c.attrInit(attr);
  try {
    o.fds.forEach((fd, i) => {
      if (fd === 'ignore') c.faOpen(fa, i, '/dev/null', O_RDWR, 0);
      else c.faDup2(fa, fd, i); // the same number: glibc clears its close-on-exec, as POSIX now asks
    });
    if (o.cwd) c.faChdir(fa, o.cwd);
    c.sigEmpty(sigs);
    c.attrSetSigMask(attr, sigs);
    c.sigFill(sigs);
    // glibc's own two (32 and 33, its threads' signals), which sigfillset leaves out: its posix_spawn would
    // set them ignored in the child, and an ignored signal stays so across exec.
    sigs[3]! |= 0x80;
    sigs[4]! |= 0x01;
    c.attrSetSigDefault(attr, sigs);
    c.attrSetFlags(attr, POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK | (o.session ? POSIX_SPAWN_SETSID : 0));
    const envp = [...Object.entries(o.env).flatMap(([k, v]) => (v === undefined ? [] : [`${k}=${v}`])), null];
    const pid = [0];
    // The child starts with this thread's priority: the process's own for it, as for every process Berth starts.
    const serving = os.getPriority(0);
    const own = ownNice();
    if (serving !== own) setNice(own);
    let rc: number;
    try {
      rc = c.spawn(pid, file, fa, attr, [cmd, ...args, null], envp);
    } finally {
      if (serving !== own) setNice(serving);
    }
    if (rc !== 0) throw spawnError(cmd, rc);
    return pid[0]!;
  } finally {
    c.faDestroy(fa);
    c.attrDestroy(attr);
  }
}

/** run() by posix_spawn: the same result and errors as Node's spawn gives it. */
export async function runSpawned(cmd: string, args: readonly string[], opts: RunOptions): Promise<RunResult> {
  const c = calls!;
  const input = opts.input !== undefined ? pipe(c) : undefined;
  const out = pipe(c);
  const err = pipe(c);
  let pid: number;
  try {
    pid = spawnWith(cmd, args, { cwd: opts.cwd, env: opts.env ?? process.env, fds: [input?.[0] ?? 'ignore', out[1], err[1]] });
  } catch (e) {
    for (const fd of [...(input ?? []), ...out, ...err]) closeSync(fd);
    throw e;
  }
  // The child's ends are the child's now.
  for (const fd of [input?.[0], out[1], err[1]]) if (fd !== undefined) closeSync(fd);
  const timer = setTimeout(() => {
    try {
      process.kill(pid, 'SIGTERM');
    } catch {
      /* gone */
    }
  }, opts.timeoutMs ?? 60_000);
  try {
    if (input) {
      const w = new net.Socket({ fd: input[1], readable: false, writable: true });
      w.on('error', () => {}); // a child that does not read its input
      w.end(opts.input!);
    }
    const [stdout, stderr] = await Promise.all([drain(out[0]), drain(err[0])]);
    const code = await reap(c, pid);
    return { code, stdout: stdout.toString('utf8'), stderr: stderr.toString('utf8') };
  } finally {
    clearTimeout(timer);
  }
}

/**
 * A process that outlives the call (a monitor), in a session of its own, with `fds` as its descriptors 0, 1, 2, …
 * Returns its pid; it is reaped here when it exits. Refused (undefined) when a descriptor to pass sits where
 * another is to go (the dup2s would overwrite it): the caller spawns another way.
 */
export function spawnDetached(cmd: string, args: readonly string[], o: { cwd: string; env: NodeJS.ProcessEnv; fds: (number | 'ignore')[] }): number | undefined {
  if (o.fds.some((fd, i) => typeof fd === 'number' && fd !== i && fd < o.fds.length)) return undefined;
  const pid = spawnWith(cmd, args, { ...o, session: true });
  void reap(calls!, pid, true);
  return pid;
}
