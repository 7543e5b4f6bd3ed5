/**
 * AF_UNIX SOCK_SEQPACKET sockets (conmon's attach socket), which Node's `net` cannot create.
 *
 * The socket is made and connected through koffi (loaded lazily, only on attach paths; its native module
 * straight, ~2 ms: see loadKoffi), then handed to libuv. `new net.Socket({ fd })` refuses such an fd
 * (libuv's uv_guess_handle only knows SOCK_STREAM and says "UNKNOWN"), so the fd is opened in a
 * `pipe_wrap` Pipe handle and that handle is given to net.Socket. libuv then read()s it: on SEQPACKET each
 * read() returns exactly one packet (its buffer is 64 KiB, more than conmon's 8193-byte packets), and a
 * flowing net.Socket emits each read as its own 'data' chunk, so one 'data' chunk = one packet
 * (test/integration/seqpacket.test.ts checks this with many back-to-back packets). `_writev` is disabled
 * on the socket, so one write() = one packet.
 * A zero-length packet would read as EOF; never send one.
 *
 * Half-close: `sock.end()` makes libuv call shutdown(fd, SHUT_WR) once queued writes have drained, which
 * is what the peer sees as EOF; shutdownWrite() wraps that (a raw FFI shutdown() could overtake writes
 * still queued in libuv).
 */
import net from 'node:net';
import { closeSync, openSync } from 'node:fs';
import { basename, dirname } from 'node:path';
import { nodeUtil } from './builtins.ts';
import { loadKoffi } from './koffi.ts';

const AF_UNIX = 1;
const SOCK_SEQPACKET = 5;
const SOCK_NONBLOCK = 0x800;
const SOCK_CLOEXEC = 0x80000;
const EAGAIN = 11;
const EINTR = 4;
const SUN_PATH_MAX = 108;

interface Libc {
  errno(): number;
  socket(domain: number, type: number, protocol: number): number;
  connect(fd: number, addr: Buffer, len: number): number;
  bind(fd: number, addr: Buffer, len: number): number;
  listen(fd: number, backlog: number): number;
  accept4(fd: number, addr: null, len: null, flags: number): number;
  close(fd: number): number;
}

let libc: Promise<Libc> | undefined;

function loadLibc(): Promise<Libc> {
  libc ??= loadKoffi().then((koffi) => {
    const lib = koffi.load('libc.so.6');
    return {
      errno: () => koffi.errno(),
      socket: lib.func('int socket(int, int, int)'),
      connect: lib.func('int connect(int, const void *, uint32_t)'),
      bind: lib.func('int bind(int, const void *, uint32_t)'),
      listen: lib.func('int listen(int, int)'),
      accept4: lib.func('int accept4(int, void *, void *, int)'),
      close: lib.func('int close(int)'),
    } as Libc;
  });
  return libc;
}

/**
 * Start loading the FFI now, so that it is ready by the time a socket is to be connected (exec loads it
 * while conmon starts). A failure is reported by the connect that needs it.
 */
export function preloadSeqpacket(): void {
  loadLibc().catch(() => {});
}

interface PipeHandle {
  open(fd: number): number;
  close(cb?: () => void): void;
}

interface PipeWrap {
  Pipe: new (type: number) => PipeHandle;
  constants: { SOCKET: number };
}

/** Wrap a connected, non-blocking SEQPACKET fd in a net.Socket read and written by libuv. Takes the fd. */
function wrapFd(fd: number, allowHalfOpen: boolean): net.Socket {
  const { Pipe, constants } = (process as unknown as { binding(name: string): PipeWrap }).binding('pipe_wrap');
  const handle = new Pipe(constants.SOCKET);
  const err = handle.open(fd);
  if (err) {
    handle.close();
    closeSync(fd);
    throw new Error(`cannot use socket fd ${fd}: ${nodeUtil().getSystemErrorMessage(err)}`);
  }
  const sock = new net.Socket({ handle, readable: true, writable: true, allowHalfOpen } as unknown as net.SocketConstructorOpts);
  // Keep one write() = one packet: writev would merge queued writes into one (possibly oversized) packet.
  (sock as unknown as { _writev: unknown })._writev = null;
  return sock;
}

/**
 * `struct sockaddr_un` for `path`; a path too long for sun_path goes through `/proc/self/fd/<dirfd>/`
 * (the caller closes the returned dirfd).
 */
function sockaddr(path: string): { addr: Buffer; len: number; dirfd: number } {
  let dirfd = -1;
  let p = path;
  if (Buffer.byteLength(p) >= SUN_PATH_MAX) {
    dirfd = openSync(dirname(path), 'r');
    p = `/proc/self/fd/${dirfd}/${basename(path)}`;
    if (Buffer.byteLength(p) >= SUN_PATH_MAX) {
      closeSync(dirfd);
      throw Object.assign(new Error('name too long'), { errno: 36 });
    }
  }
  const addr = Buffer.alloc(2 + SUN_PATH_MAX);
  addr.writeUInt16LE(AF_UNIX, 0);
  const n = addr.write(p, 2);
  return { addr, len: 2 + n + 1, dirfd };
}

function errnoOf(e: unknown): number {
  if (e && typeof e === 'object') {
    const x = e as { errno?: number; code?: string };
    if (typeof x.errno === 'number') return Math.abs(x.errno);
    if (x.code === 'ENOENT') return 2;
  }
  return 0;
}

/** A one-line Error for a failed socket call on `path`, with `code` = errno name. */
function socketError(op: string, path: string, errno: number): Error {
  let why: string;
  if (errno === 2 || errno === 20) why = 'the socket does not exist';
  else if (errno === 111) why = 'connection refused (nothing is listening)';
  else if (errno === 13) why = 'permission denied';
  else if (errno > 0) why = nodeUtil().getSystemErrorMessage(-errno).toLowerCase();
  else why = 'unknown error';
  const code = errno > 0 ? nodeUtil().getSystemErrorName(-errno) : 'EUNKNOWN';
  return Object.assign(new Error(`${op} ${path}: ${why}`), { code, errno, path });
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * Connect to the SEQPACKET socket at `path` (any length). Each 'data' chunk of the result is one packet;
 * each write() sends one packet. Throws a one-line Error (code ENOENT, ECONNREFUSED, …) on failure.
 */
export async function connectSeqpacket(path: string): Promise<net.Socket> {
  const c = await loadLibc();
  let target: ReturnType<typeof sockaddr>;
  try {
    target = sockaddr(path);
  } catch (e) {
    throw socketError('connect', path, errnoOf(e));
  }
  let fd = -1;
  try {
    fd = c.socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) throw socketError('socket for', path, c.errno());
    // Non-blocking connect on AF_UNIX completes at once, or fails with EAGAIN while the listener's
    // backlog is full: retry that for a while instead of blocking the event loop.
    for (let attempt = 0; ; attempt++) {
      if (c.connect(fd, target.addr, target.len) === 0) break;
      const errno = c.errno();
      if ((errno === EAGAIN || errno === EINTR) && attempt < 100) {
        await sleep(20);
        continue;
      }
      throw socketError('connect', path, errno);
    }
  } catch (e) {
    if (fd >= 0) c.close(fd);
    throw e;
  } finally {
    if (target.dirfd >= 0) closeSync(target.dirfd);
  }
  return wrapFd(fd, false);
}

/**
 * Half-close: no more packets from us; the peer reads EOF (conmon then closes the container's stdin).
 * Queued writes are sent first. Reading goes on. Resolves once the shutdown is done.
 */
export function shutdownWrite(sock: net.Socket): Promise<void> {
  if (sock.writableFinished || sock.destroyed) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const done = (err?: Error | null) => {
      sock.off('finish', done);
      sock.off('close', done);
      if (err) reject(err);
      else resolve();
    };
    sock.once('finish', done);
    sock.once('close', () => done());
    sock.end();
  });
}

export interface SeqpacketServer {
  readonly path: string;
  /** The next client connection. */
  accept(): Promise<net.Socket>;
  close(): void;
}

/**
 * A SEQPACKET listener at `path` (any length), for tests standing in for conmon. Accept is polled.
 * Accepted sockets allow half-open (like conmon, they keep writing after the client's EOF).
 */
export async function listenSeqpacket(path: string): Promise<SeqpacketServer> {
  const c = await loadLibc();
  const target = sockaddr(path);
  let fd = -1;
  try {
    fd = c.socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) throw socketError('socket for', path, c.errno());
    if (c.bind(fd, target.addr, target.len) !== 0) throw socketError('bind', path, c.errno());
    if (c.listen(fd, 16) !== 0) throw socketError('listen', path, c.errno());
  } catch (e) {
    if (fd >= 0) c.close(fd);
    throw e;
  } finally {
    if (target.dirfd >= 0) closeSync(target.dirfd);
  }
  let open = true;
  return {
    path,
    async accept() {
      for (;;) {
        if (!open) throw new Error(`accept ${path}: server closed`);
        const cfd = c.accept4(fd, null, null, SOCK_CLOEXEC | SOCK_NONBLOCK);
        if (cfd >= 0) return wrapFd(cfd, true);
        const errno = c.errno();
        if (errno !== EAGAIN && errno !== EINTR) throw socketError('accept', path, errno);
        await sleep(5);
      }
    },
    close() {
      if (!open) return;
      open = false;
      c.close(fd);
    },
  };
}
