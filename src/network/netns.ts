/**
 * Persistent named network namespaces (`/run/netns/NAME`, the layout `ip netns` and CNI use). A named
 * namespace outlives the container's processes, so the engine can run CNI DEL after the container died
 * and can hand the path to the OCI runtime (`linux.namespaces[].path`) before the container starts. An
 * ordinary user's are bound under its runtime dir instead (net-host.ts), where ip netns cannot reach: made
 * with unshare(1), named with a bind mount, removed with umount.
 *
 * A user-namespaced container must own its network namespace (or it may not mount sysfs, and runc cannot
 * join it in exec): the runtime makes it, and attachNetns names it afterwards.
 */
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, rmSync, statfsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { AlreadyExists, InvalidArgument, RuntimeFailure } from '../errors.ts';
import { isMounted } from '../sys/mount.ts';
import { canPinNamespaces, pinNamespaces } from '../sys/ns-pin.ts';
import { lastLine, run } from '../sys/run.ts';
import { ipIn, netHost } from './net-host.ts';

/** statfs type of nsfs: a file that is a namespace (/run/netns/NAME, /proc/PID/ns/net). */
const NSFS_MAGIC = 0x6e736673;

/** True when `path` is a namespace file that can be joined. */
export function isNamespaceFile(path: string): boolean {
  try {
    return path !== '' && statfsSync(path).type === NSFS_MAGIC;
  } catch {
    return false;
  }
}

let netnsDirShared = false;

/** Where `ip netns` keeps its bind-mounted namespace files; root's containers' namespaces are there. */
export const NETNS_DIR = '/run/netns';

const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,200}$/;

function pathOf(name: string): string {
  if (!NAME_RE.test(name)) throw new InvalidArgument(`invalid network namespace name ${JSON.stringify(name)}`);
  return join(netHost().netnsDir, name);
}

/** The path a namespace named `name` is bound at (see net-host.ts). */
export function netnsPath(name: string): string {
  return pathOf(name);
}

/**
 * Create the namespace `/run/netns/NAME`: its path, and `loopback`, which settles once its `lo` is up (at
 * once when made by system calls; else an ip(8) that runs meanwhile, beside the caller's plugins). Throws
 * AlreadyExists when the name is taken; nothing is left behind on failure.
 */
export async function createNetns(name: string): Promise<{ path: string; loopback: Promise<void> }> {
  const path = pathOf(name);
  if (existsSync(path)) throw new AlreadyExists(`network namespace ${name} already exists`);
  // ip(8) makes the directory a shared mount the first time (so namespaces made later show in mount namespaces
  // made earlier); once it is, a server that loaded the calls makes the namespace itself.
  if (netHost().netnsDir !== NETNS_DIR) {
    await boundNetns(path, ['unshare', [`--net=${path}`, 'true']]);
    const loopback = loopbackUp(path);
    loopback.catch(() => {}); // the caller awaits it
    return { path, loopback };
  }
  if (canPinNamespaces() && (netnsDirShared ||= isMounted(NETNS_DIR))) {
    try {
      pinNamespaces({ net: path });
      return { path, loopback: Promise.resolve() };
    } catch (e) {
      if (existsSync(path)) throw new AlreadyExists(`network namespace ${name} already exists`);
      throw new RuntimeFailure(`create network namespace ${name}: ${(e as Error).message}`);
    }
  }
  const add = await run('ip', ['netns', 'add', name]);
  if (add.code !== 0) {
    if (existsSync(path) && /exists/i.test(add.stderr)) throw new AlreadyExists(`network namespace ${name} already exists`);
    throw new RuntimeFailure(`ip netns add ${name}: ${lastLine(add.stderr) || `exit status ${add.code}`}`);
  }
  const loopback = loopbackUp(path);
  loopback.catch(() => {}); // the caller awaits it
  return { path, loopback };
}

/** Bring the namespace's `lo` up (a new namespace has it down; the plugins only make `eth*`). */
async function loopbackUp(path: string): Promise<void> {
  const lo = await run(...ipIn(path, ['link', 'set', 'lo', 'up']));
  if (lo.code !== 0) throw new RuntimeFailure(`${path}: ip link set lo up: ${lastLine(lo.stderr) || `exit status ${lo.code}`}`);
}

/**
 * Outside /run/netns (an ordinary user's, where ip netns cannot reach): the file made, then `bind` binds a
 * namespace on it; on failure the file goes.
 */
async function boundNetns(path: string, bind: [string, string[]]): Promise<string> {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  closeSync(openSync(path, 'wx'));
  const r = await run(...bind);
  if (r.code !== 0) {
    rmSync(path, { force: true });
    throw new RuntimeFailure(`create network namespace ${path}: ${lastLine(r.stderr) || `exit status ${r.code}`}`);
  }
  return path;
}

/** Name the network namespace of process `pid` `/run/netns/NAME` (`ip netns attach`), with `lo` up. */
export async function attachNetns(name: string, pid: number): Promise<string> {
  const path = pathOf(name);
  if (existsSync(path)) throw new AlreadyExists(`network namespace ${name} already exists`);
  if (netHost().netnsDir !== NETNS_DIR) {
    await boundNetns(path, ['mount', ['--bind', `/proc/${pid}/ns/net`, path]]);
  } else {
    const r = await run('ip', ['netns', 'attach', name, String(pid)]);
    if (r.code !== 0) throw new RuntimeFailure(`ip netns attach ${name} ${pid}: ${lastLine(r.stderr) || `exit status ${r.code}`}`);
  }
  await run(...ipIn(path, ['link', 'set', 'lo', 'up']));
  return path;
}

/**
 * Unmount and remove `/run/netns/NAME`. Idempotent: a missing namespace is not an error. Processes still
 * inside keep the namespace (and its interfaces) alive until they exit.
 */
export async function deleteNetns(name: string): Promise<void> {
  const path = pathOf(name);
  if (!existsSync(path)) return;
  // `ip netns del` ignores a failing umount, so a stale file whose mount is already gone is removed too.
  if (netHost().netnsDir !== NETNS_DIR) {
    if (isNamespaceFile(path)) await run('umount', [path]);
    if (!isNamespaceFile(path)) rmSync(path, { force: true });
    else throw new RuntimeFailure(`umount ${path} failed`);
    return;
  }
  const r = await run('ip', ['netns', 'del', name]);
  if (r.code !== 0 && existsSync(path)) {
    throw new RuntimeFailure(`ip netns del ${name}: ${lastLine(r.stderr) || `exit status ${r.code}`}`);
  }
}

/** Names (not paths) of the named namespaces (net-host.ts) that start with `prefix`, sorted. */
export function listNetns(prefix: string): string[] {
  let names: string[];
  try {
    names = readdirSync(netHost().netnsDir);
  } catch {
    return [];
  }
  return names.filter((n) => n.startsWith(prefix)).sort();
}
