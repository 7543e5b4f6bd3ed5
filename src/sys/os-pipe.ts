/**
 * An OS pipe whose fds this process holds (pipe2 through koffi: Node has no call for it), so that a child
 * spawned on another thread (src/sys/spawn-thread.ts) can be given one end while this thread reads or
 * writes the other as a net.Socket. Both fds are close-on-exec: only the child that is handed one gets it.
 */
import { closeSync } from 'node:fs';
import net from 'node:net';
import { loadKoffi } from './koffi.ts';

const O_CLOEXEC = 0o2000000;

type Pipe2 = (fds: Buffer, flags: number) => number;
let pipe2: Promise<{ call: Pipe2; errno: () => number }> | undefined;

/** [read end, write end]. */
export async function osPipe(): Promise<[number, number]> {
  pipe2 ??= loadKoffi().then((koffi) => ({
    call: koffi.load('libc.so.6').func('int pipe2(void *, int)') as Pipe2,
    errno: () => koffi.errno(),
  }));
  const p = await pipe2;
  const fds = Buffer.alloc(8);
  if (p.call(fds, O_CLOEXEC) !== 0) throw new Error(`pipe2 failed (errno ${p.errno()})`);
  return [fds.readInt32LE(0), fds.readInt32LE(4)];
}

/** The read end as a readable socket (it takes the fd). */
export const readEnd = (fd: number) => new net.Socket({ fd, readable: true, writable: false });

/** The write end as a writable socket (it takes the fd). */
export const writeEnd = (fd: number) => new net.Socket({ fd, readable: false, writable: true });

export function closeFds(...fds: (number | undefined)[]): void {
  for (const fd of fds) {
    if (fd === undefined) continue;
    try {
      closeSync(fd);
    } catch {
      /* already closed */
    }
  }
}
