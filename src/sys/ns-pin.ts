/**
 * New namespaces pinned to files, made in this process by system calls (koffi), as `ip netns add` makes one
 * in a process of its own: the calling thread unshares, binds each new namespace onto its file, and goes back
 * to the namespaces it was in. Network, IPC and UTS namespaces are per thread and may be unshared in a
 * threaded process; the calls run back to back on the main thread, so no JavaScript (and no socket it would
 * open) ever runs inside the new namespaces. For a server, which loaded the calls (loadNsPin); a CLI spawns
 * ip(8), which costs less than loading koffi.
 */
import { closeSync, openSync, rmSync } from 'node:fs';
import { loadKoffi } from './koffi.ts';
import { mountCalls } from './mount-calls.ts';

const CLONE = { net: 0x40000000, ipc: 0x08000000, uts: 0x04000000 } as const;
const MS_BIND = 0x1000;

export type PinnableNamespace = keyof typeof CLONE;

interface NsCalls {
  socket(domain: number, type: number, protocol: number): number;
  ioctl(fd: number, request: number, arg: Buffer): number;
  unshare(flags: number): number;
  setns(fd: number, type: number): number;
  sethostname(name: string, len: number): number;
  errno(): number;
  /** The namespaces this process's threads are in, open for the way back. */
  home: Record<PinnableNamespace, number>;
}

let calls: NsCalls | undefined;

export async function loadNsPin(): Promise<void> {
  if (calls) return;
  const koffi = await loadKoffi();
  const libc = koffi.load('libc.so.6');
  calls = {
    socket: libc.func('int socket(int, int, int)') as (d: number, t: number, p: number) => number,
    ioctl: libc.func('int ioctl(int, unsigned long, void *)') as (fd: number, r: number, a: Buffer) => number,
    unshare: libc.func('int unshare(int)') as (f: number) => number,
    setns: libc.func('int setns(int, int)') as (fd: number, t: number) => number,
    sethostname: libc.func('int sethostname(const char *, size_t)') as (n: string, l: number) => number,
    errno: () => koffi.errno(),
    home: { net: openSync('/proc/thread-self/ns/net', 'r'), ipc: openSync('/proc/thread-self/ns/ipc', 'r'), uts: openSync('/proc/thread-self/ns/uts', 'r') },
  };
}

/** True when pinNamespaces can make namespaces here (the calls are loaded, and mount(2) with them). */
export function canPinNamespaces(): boolean {
  return calls !== undefined && mountCalls() !== undefined;
}

const AF_INET = 2;
const SOCK_DGRAM_CLOEXEC = 2 | 0o2000000;
const SIOCGIFFLAGS = 0x8913;
const SIOCSIFFLAGS = 0x8914;
const IFF_UP = 0x1;

/**
 * Bring `lo` up through a socket made in its network namespace (a socket stays in the namespace it was made
 * in): a new namespace has it down, and ip(8) would cost a process.
 */
function loopbackUp(c: NsCalls, fd: number): void {
  const ifreq = Buffer.alloc(40);
  ifreq.write('lo');
  if (c.ioctl(fd, SIOCGIFFLAGS, ifreq) !== 0) throw new Error(`lo: SIOCGIFFLAGS: errno ${c.errno()}`);
  ifreq.writeUInt16LE(ifreq.readUInt16LE(16) | IFF_UP, 16);
  if (c.ioctl(fd, SIOCSIFFLAGS, ifreq) !== 0) throw new Error(`lo: SIOCSIFFLAGS: errno ${c.errno()}`);
}

/**
 * New namespaces, each bound on its file (made here; none may exist), the UTS one with `hostname`, the network
 * one with `lo` up. Throws, leaving no file, when a call fails; if the thread cannot go back to its own
 * namespaces, the process cannot go on and exits.
 */
export function pinNamespaces(files: Partial<Record<PinnableNamespace, string>>, hostname?: string): void {
  const c = calls!;
  const mount = mountCalls()!;
  const kinds = (Object.keys(files) as PinnableNamespace[]).filter((k) => files[k]);
  const made: string[] = [];
  const undo = () => {
    for (const f of made) rmSync(f, { force: true });
  };
  try {
    for (const k of kinds) {
      closeSync(openSync(files[k]!, 'wx', 0o444));
      made.push(files[k]!);
    }
  } catch (e) {
    undo();
    throw e;
  }
  if (c.unshare(kinds.reduce((f, k) => f | CLONE[k], 0)) !== 0) {
    const errno = c.errno();
    undo();
    throw new Error(`unshare: errno ${errno}`);
  }
  let failed: string | undefined;
  const sock = kinds.includes('net') ? c.socket(AF_INET, SOCK_DGRAM_CLOEXEC, 0) : -2;
  if (sock === -1) failed = `socket: errno ${c.errno()}`;
  if (hostname !== undefined && kinds.includes('uts') && c.sethostname(hostname, Buffer.byteLength(hostname)) !== 0) failed = `sethostname: errno ${c.errno()}`;
  for (const k of kinds) {
    if (failed) break;
    try {
      mount.mount(`/proc/thread-self/ns/${k}`, files[k]!, 'none', MS_BIND, '');
    } catch (e) {
      failed = `bind the new ${k} namespace on ${files[k]}: ${(e as Error).message}`;
    }
  }
  for (const k of kinds) {
    if (c.setns(c.home[k], CLONE[k]) === 0) continue;
    process.stderr.write(`berth: cannot return to the host's ${k} namespace (errno ${c.errno()}): exiting\n`);
    process.exit(70);
  }
  if (sock >= 0) {
    try {
      if (!failed) loopbackUp(c, sock);
    } catch (e) {
      failed = (e as Error).message;
    } finally {
      closeSync(sock);
    }
  }
  if (failed) {
    for (const k of kinds) mount.umount(files[k]!, 2);
    undo();
    throw new Error(failed);
  }
}
