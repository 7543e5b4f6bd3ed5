/**
 * mount(2) and umount2(2) through koffi, for a process that lives long enough to have loaded it: a server
 * (`berth serve`) calls loadMountCalls() once at start-up, and from then on its container mounts cost a
 * system call rather than a mount(8) process each (~2 ms apiece when idle, several under load). A CLI keeps
 * spawning mount(8): loading koffi costs more than the one or two mounts a command makes.
 */
import { loadKoffi } from './koffi.ts';

export interface MountCalls {
  /** mount(2); throws with the call's errno name. */
  mount(source: string, target: string, type: string, flags: number, data: string): void;
  /** umount2(2); returns the errno (0 when done), since a caller decides what a busy or unmounted target means. */
  umount(target: string, flags: number): number;
}

export const MS_NOSUID = 0x2;
export const MS_NODEV = 0x4;
export const MS_NOEXEC = 0x8;
export const MNT_DETACH = 0x2;

/** The errno names a mount reports most, for its message. */
const NAMES: Record<number, string> = { 1: 'EPERM', 2: 'ENOENT', 12: 'ENOMEM', 16: 'EBUSY', 19: 'ENODEV', 20: 'ENOTDIR', 22: 'EINVAL', 28: 'ENOSPC' };

let calls: MountCalls | undefined;

/** The loaded calls, or undefined in a process that has not loaded them (mount(8) it is). */
export function mountCalls(): MountCalls | undefined {
  return calls;
}

export async function loadMountCalls(): Promise<void> {
  if (calls) return;
  const koffi = await loadKoffi();
  const libc = koffi.load('libc.so.6');
  const mount = libc.func('int mount(const char *, const char *, const char *, unsigned long, const char *)') as (s: string, t: string, ty: string, f: number, d: string) => number;
  const umount2 = libc.func('int umount2(const char *, int)') as (t: string, f: number) => number;
  calls = {
    mount(source, target, type, flags, data) {
      if (mount(source, target, type, flags, data) === 0) return;
      const errno = koffi.errno();
      throw Object.assign(new Error(NAMES[errno] ?? `errno ${errno}`), { errno });
    },
    umount: (target, flags) => (umount2(target, flags) === 0 ? 0 : koffi.errno()),
  };
}
