// A private dockerd for the benches' docker baselines: started and stopped by the bench itself when
// /usr/sbin/dockerd is installed (`bash bench/setup-dockerd` installs Debian's docker.io without starting a
// service). Its own --data-root, --exec-root, socket, pid file and config file under a mkdtemp dir in /tmp,
// and the containerd it supervises keeps its root and state there too; --iptables=false --ip6tables=false
// --ip-forward=false --bridge=none, so it never touches the host's firewall or makes a docker0 (containers
// there run with --network none). stopDockerd removes everything it made: processes, mounts, directories.
// With `bridge` (a bridge the caller made and removes: bench/host-net.ts), --bridge=<it> instead of none, so its
// containers get docker's default bridge network (veth pairs, IPAM) still without a firewall rule.

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, mkdtempSync, openSync, readdirSync, readFileSync, rmdirSync, rmSync, writeFileSync, type Dirent } from 'node:fs';
import { join } from 'node:path';

export const DOCKER = '/usr/local/bin/docker';
export const DOCKERD = '/usr/sbin/dockerd';
// dockerd uses a containerd already listening here instead of starting its own: then it would not be private.
export const SYSTEM_CONTAINERD = '/run/containerd/containerd.sock';
// Paths outside its roots that dockerd 20.10 / containerd 1.6 make whatever the flags: the plugin socket dir
// and the shims' socket dir. Removed afterwards (empty directories only) when they were not there before.
const HOST_DIRS = ['/run/docker', '/run/containerd'];
const sleepSync = (ms: number) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);

/** Why a private dockerd cannot be had here, or undefined when it can. */
export function dockerdUnavailable(): string | undefined {
  if (!existsSync(DOCKERD)) return `${DOCKERD} is not installed (bash bench/setup-dockerd installs it)`;
  if (!existsSync(DOCKER)) return `no docker CLI at ${DOCKER}`;
  if (existsSync(SYSTEM_CONTAINERD)) return `a containerd already listens at ${SYSTEM_CONTAINERD}: a dockerd would share it`;
  return undefined;
}


export interface Dockerd {
  dir: string;
  proc: ChildProcess;
  docker: string[]; // the CLI, pointed at it
  version: string;
  hostDirsBefore: Set<string>;
}

/** Alive and not a zombie (an exited child stays a zombie until Node's loop reaps it). */
function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

/** Processes whose command line names `dir`: dockerd, its containerd and the shims all do. */
function processesUnder(dir: string): number[] {
  const pids: number[] = [];
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e) || Number(e) === process.pid) continue;
    try {
      if (readFileSync(`/proc/${e}/cmdline`, 'utf8').split('\0').some((a) => a.includes(dir))) pids.push(Number(e));
    } catch { /* gone */ }
  }
  return pids;
}

const unescapeMount = (s: string) => s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));

/** Mount points at or below `dir`. */
export function mountsUnder(dir: string): string[] {
  return readFileSync('/proc/self/mountinfo', 'utf8').split('\n').filter(Boolean)
    .map((l) => unescapeMount(l.split(' ')[4]!))
    .filter((m) => m === dir || m.startsWith(dir + '/'));
}

/** Removes empty directories under (and including) `dir`, deepest first; leaves anything with a file in it. */
function rmdirEmpty(dir: string): void {
  let entries: Dirent[];
  try { entries = readdirSync(dir, { withFileTypes: true }); } catch { return; }
  for (const e of entries) if (e.isDirectory()) rmdirEmpty(join(dir, e.name));
  try { rmdirSync(dir); } catch { /* not empty: leave it, reported below */ }
}

function children(pid: number): number[] {
  const out: number[] = [];
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const stat = readFileSync(`/proc/${e}/stat`, 'utf8');
      if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === pid) out.push(Number(e));
    } catch { /* gone */ }
  }
  return out;
}

export interface DockerdOptions {
  /** An existing host bridge (with its IPv4 address) for the default network; default: none. */
  bridge?: string;
}

export async function startDockerd(prefix = '/tmp/berth-bench-dockerd-', opts: DockerdOptions = {}): Promise<Dockerd> {
  const hostDirsBefore = new Set(HOST_DIRS.filter((d) => existsSync(d)));
  const dir = mkdtempSync(prefix);
  const sock = join(dir, 'docker.sock');
  // Our own config file: /etc/docker/daemon.json is not read, and the daemon's identity key (otherwise made
  // at /etc/docker/key.json) stays in the dir.
  writeFileSync(join(dir, 'daemon.json'), JSON.stringify({ 'deprecated-key-path': join(dir, 'key.json') }));
  const argv = [
    '--config-file', join(dir, 'daemon.json'),
    '--data-root', join(dir, 'data'), '--exec-root', join(dir, 'exec'),
    '-H', `unix://${sock}`, '--pidfile', join(dir, 'dockerd.pid'),
    '--iptables=false', '--ip6tables=false', '--ip-forward=false', '--ip-masq=false', `--bridge=${opts.bridge ?? 'none'}`,
    '--storage-driver', 'overlay2', '--log-level', 'warn',
  ];
  const log = join(dir, 'dockerd.log');
  const fd = openSync(log, 'a');
  const proc = spawn(DOCKERD, argv, { stdio: ['ignore', fd, fd] });
  closeSync(fd);
  proc.on('error', () => { /* seen below as no answer */ });
  const d: Dockerd = { dir, proc, docker: [DOCKER, '-H', `unix://${sock}`], version: '', hostDirsBefore };
  try {
    const tail = () => readFileSync(log, 'utf8').trim().split('\n').slice(-3).join(' | ');
    for (let i = 0; ; i++) {
      if (proc.exitCode !== null || proc.signalCode !== null) throw new Error(`dockerd exited (${proc.exitCode ?? proc.signalCode}): ${tail()}`);
      const v = spawnSync(DOCKER, [...d.docker.slice(1), 'version', '--format', '{{.Server.Version}}'], { encoding: 'utf8' });
      if (v.status === 0) { d.version = v.stdout.trim(); break; }
      if (i >= 300) throw new Error(`dockerd did not answer in 30 s: ${tail()}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    // Its containerd must be the one it supervises, configured under our exec root (root and state in the dir).
    const ctrd = children(proc.pid!).filter((p) => readFileSync(`/proc/${p}/comm`, 'utf8').trim() === 'containerd');
    const cfg = join(dir, 'exec', 'containerd', 'containerd.toml');
    if (ctrd.length !== 1 || !readFileSync(`/proc/${ctrd[0]}/cmdline`, 'utf8').split('\0').includes(cfg)) {
      throw new Error(`dockerd's containerd is not the private one (children: ${ctrd.join(',') || 'none'})`);
    }
    const toml = readFileSync(cfg, 'utf8');
    for (const key of ['root', 'state']) {
      const m = new RegExp(`^${key} = "(.*)"$`, 'm').exec(toml);
      if (!m?.[1]?.startsWith(dir + '/')) throw new Error(`containerd's ${key} is not under ${dir}: ${m?.[1]}`);
    }
    console.log(`dockerd ${d.version}: private, in ${dir} (containerd pid ${ctrd[0]}, config ${cfg})`);
    return d;
  } catch (e) {
    stopDockerd(d);
    throw e;
  }
}

/** SIGTERM, up to 20 s, SIGKILL; then any containerd/shim left, mounts under the dir, the dir itself, and the
 *  empty host directories that were not there before. Synchronous, so a signal handler can call it. */
export function stopDockerd(d: Dockerd): string[] {
  const left: string[] = [];
  const pid = d.proc.pid;
  if (pid !== undefined && alive(pid)) {
    process.kill(pid, 'SIGTERM');
    const until = Date.now() + 20_000;
    while (alive(pid) && Date.now() < until) sleepSync(100);
    if (alive(pid)) { process.kill(pid, 'SIGKILL'); left.push('dockerd needed SIGKILL'); }
  }
  let strays = processesUnder(d.dir);
  if (strays.length) {
    left.push(`processes after dockerd stopped, ended: ${strays.join(' ')}`);
    for (const p of strays) try { process.kill(p, 'SIGTERM'); } catch { /* gone */ }
    const until = Date.now() + 5_000;
    while (strays.some(alive) && Date.now() < until) sleepSync(100);
    for (const p of strays.filter(alive)) try { process.kill(p, 'SIGKILL'); } catch { /* gone */ }
    sleepSync(200);
    strays = processesUnder(d.dir).filter(alive);
    if (strays.length) left.push(`STILL RUNNING: ${strays.join(' ')}`);
  }
  for (let round = 0; round < 5; round++) {
    const mounts = mountsUnder(d.dir).sort((a, b) => b.length - a.length);
    if (!mounts.length) break;
    if (round === 0) left.push(`mounts after dockerd stopped, unmounted: ${mounts.length}`);
    for (const m of mounts) if (spawnSync('umount', [m]).status !== 0) spawnSync('umount', ['-l', m]);
  }
  const mounts = mountsUnder(d.dir);
  if (mounts.length) left.push(`STILL MOUNTED: ${mounts.join(' ')}`);
  else rmSync(d.dir, { recursive: true, force: true });
  for (const h of HOST_DIRS) {
    if (d.hostDirsBefore.has(h)) continue;
    rmdirEmpty(h);
    if (existsSync(h)) left.push(`${h} not empty, left in place`);
  }
  return left;
}
