/**
 * An advisory lock on a file (flock(2) through koffi: Node has no call for it) that other processes test with
 * flock(1). Held by the fd: closing it, or the process dying, releases it. The fd is close-on-exec (Node opens
 * every file so), so no child, conmon included, keeps the lock after this process is gone.
 */
import { closeSync, openSync } from 'node:fs';
import { loadKoffi } from './koffi.ts';

const LOCK_EX = 2;
const LOCK_NB = 4;
const EWOULDBLOCK = 11;

type Flock = (fd: number, op: number) => number;
let flock: Promise<{ call: Flock; errno: () => number }> | undefined;

/** The fd holding an exclusive lock on `path` (made if missing), or null while another process holds it. */
export async function tryLockFile(path: string): Promise<number | null> {
  flock ??= loadKoffi().then((koffi) => ({
    call: koffi.load('libc.so.6').func('int flock(int, int)') as Flock,
    errno: () => koffi.errno(),
  }));
  const f = await flock;
  const fd = openSync(path, 'a', 0o600);
  if (f.call(fd, LOCK_EX | LOCK_NB) === 0) return fd;
  const errno = f.errno();
  closeSync(fd);
  if (errno === EWOULDBLOCK) return null;
  throw new Error(`flock ${path} failed (errno ${errno})`);
}

/** Release a lock tryLockFile took. */
export function unlockFile(fd: number): void {
  closeSync(fd);
}
