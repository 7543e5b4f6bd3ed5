/**
 * conmon's attach protocol (conmon 2.1.6, src/conn_sock.c and src/ctr_stdio.c) and its ctl FIFO.
 *
 * Attach socket `<bundle>/attach` (SOCK_SEQPACKET, see src/sys/seqpacket.ts): every output packet is one
 * prefix byte (2 = stdout, 3 = stderr; with a tty everything is 2) + up to 8192 bytes of one read() of
 * the container's stdio. Input is raw bytes with no prefix; conmon reads it with a 32768-byte buffer, so
 * larger packets would be truncated: input is sent in chunks of at most that. Output is live only (no
 * replay); a client that stops reading stalls conmon, then the container. When the client half-closes
 * (EOF), conmon closes the container's stdin if it was started with `-i` (and no `--leave-stdin-open`),
 * for every client. conmon closes the connection when it exits.
 *
 * ctl FIFO `<bundle>/ctl`: lines `1 <rows> <cols>\n` resize the tty, `2 0 0\n` reopens the log file.
 */
import { EventEmitter } from 'node:events';
import { closeSync, constants, openSync, writeSync } from 'node:fs';
import type net from 'node:net';
import { shutdownWrite } from '../../sys/seqpacket.ts';
import type { AttachStream, AttachStreamEvents } from '../driver.ts';

export const STDOUT_PREFIX = 2;
export const STDERR_PREFIX = 3;
/** conmon's STDIO_BUF_SIZE: the most payload one output packet carries. */
export const MAX_OUTPUT_PAYLOAD = 8192;
/**
 * Input bytes per packet. conmon 2.1.6 receives with recvfrom(…, CONN_SOCK_BUF_SIZE - 1), so a packet of
 * more than 32767 bytes loses its tail silently; 8 KiB packets stay well inside that and keep each
 * write to the container's stdin pipe small.
 */
export const MAX_INPUT_PACKET = 8192;

export interface Demuxed {
  stream: 'stdout' | 'stderr';
  data: Buffer;
}

/** One output packet → its stream and payload; null for an empty packet or an unknown prefix. */
export function demux(chunk: Buffer): Demuxed | null {
  if (chunk.length < 1) return null;
  const prefix = chunk[0];
  if (prefix === STDOUT_PREFIX) return { stream: 'stdout', data: chunk.subarray(1) };
  if (prefix === STDERR_PREFIX) return { stream: 'stderr', data: chunk.subarray(1) };
  return null;
}

/**
 * One client connection to conmon's attach socket, as an AttachStream: 'stdout'/'stderr' with payloads,
 * 'end' when conmon closes; write() sends input; closeStdin() half-closes (conmon sees stdin EOF).
 */
export class AttachSession extends EventEmitter<AttachStreamEvents> implements AttachStream {
  readonly socket: net.Socket;
  private ended = false;

  constructor(socket: net.Socket) {
    super();
    this.socket = socket;
    // Output flows from the first stdout or stderr listener on: a session made before its reader is ready
    // (connected ahead of a start) keeps what arrives meanwhile in the socket, not in events nobody hears.
    // An empty socket's end comes unasked, though (Node reads its EOF at once): an `end` listener added
    // after it is told too, or a reader that came late would wait for ever.
    let flowing = false;
    (this as EventEmitter).on('newListener', (event: string | symbol, listener: (...a: unknown[]) => void) => {
      if (event === 'end' && this.ended) queueMicrotask(() => listener());
      if (flowing || (event !== 'stdout' && event !== 'stderr')) return;
      flowing = true;
      socket.on('data', (chunk: Buffer) => {
        const d = demux(chunk);
        if (d && d.data.length > 0) this.emit(d.stream, d.data);
      });
    });
    socket.on('end', () => this.finish());
    socket.on('close', () => this.finish());
    socket.on('error', (err: Error) => {
      // A peer gone away while we write is just the end of the session.
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'EPIPE' || code === 'ECONNRESET') return this.finish();
      this.emit('error', err);
    });
  }

  onDrain(fn: () => void): void {
    this.socket.once('drain', fn);
  }

  pause(): void {
    this.socket.pause();
  }

  resume(): void {
    this.socket.resume();
  }

  /** Send input, split into packets conmon reads whole. Returns false when the caller should wait for 'drain' on socket. */
  write(data: Buffer | string): boolean {
    const buf = typeof data === 'string' ? Buffer.from(data) : data;
    let ok = true;
    for (let off = 0; off < buf.length; off += MAX_INPUT_PACKET) {
      ok = this.socket.write(buf.subarray(off, off + MAX_INPUT_PACKET));
    }
    return ok;
  }

  /** stdin EOF: half-close after queued input is sent. Output keeps flowing. */
  closeStdin(): Promise<void> {
    return shutdownWrite(this.socket);
  }

  /** Stop reading and drop the connection (detach); the container keeps running. */
  close(): void {
    this.socket.destroy();
    this.finish();
  }

  private finish(): void {
    if (this.ended) return;
    this.ended = true;
    this.emit('end');
  }
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * Write one line to conmon's ctl FIFO (Node opens files O_CLOEXEC). Non-blocking open: ENXIO means
 * nobody reads it (conmon gone); EAGAIN (FIFO full) is retried a few times.
 */
async function writeCtl(ctlPath: string, line: string): Promise<void> {
  let fd: number;
  try {
    fd = openSync(ctlPath, constants.O_WRONLY | constants.O_NONBLOCK);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENXIO') throw Object.assign(new Error(`${ctlPath}: conmon is not reading its control FIFO`), { code });
    if (code === 'ENOENT') throw Object.assign(new Error(`${ctlPath}: no control FIFO (is conmon running?)`), { code });
    throw e;
  }
  try {
    const buf = Buffer.from(line);
    for (let attempt = 0; ; attempt++) {
      try {
        writeSync(fd, buf);
        return;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EAGAIN' || attempt >= 10) throw e;
        await sleep(10);
      }
    }
  } finally {
    closeSync(fd);
  }
}

/**
 * conmon (2.1.6) applies only the first line of what one read of its ctl FIFO returns, and likewise of
 * its internal resize pipe: two resizes that meet in a pipe set the first size twice. The docker CLI
 * sends two at once on every attach (rows+1, cols+1, then the real size, to force a SIGWINCH), so a
 * resize that follows another within RESIZE_GAP_MS waits out the gap; of those waiting, the newest wins.
 */
const RESIZE_GAP_MS = 40;
const resizes = new Map<string, { last: number; size?: [number, number]; flushed?: Promise<void> }>();

/** Resize the container's tty (conmon with -t). */
export function resizeTerminal(ctlPath: string, rows: number, cols: number): Promise<void> {
  if (!Number.isInteger(rows) || !Number.isInteger(cols) || rows < 0 || cols < 0) {
    return Promise.reject(new Error(`invalid terminal size ${rows}x${cols}`));
  }
  let r = resizes.get(ctlPath);
  if (!r) {
    if (resizes.size > 1000) resizes.clear();
    r = { last: 0 };
    resizes.set(ctlPath, r);
  }
  const state = r;
  state.size = [rows, cols];
  if (state.flushed) return state.flushed;
  const wait = state.last + RESIZE_GAP_MS - Date.now();
  state.flushed = (wait > 0 ? sleep(wait) : Promise.resolve()).then(() => {
    const [h, w] = state.size!;
    state.flushed = undefined;
    state.last = Date.now();
    return writeCtl(ctlPath, `1 ${h} ${w}\n`);
  });
  return state.flushed;
}

/** Make conmon reopen its log file (after it was renamed away for rotation). */
export function reopenLog(ctlPath: string): Promise<void> {
  return writeCtl(ctlPath, '2 0 0\n');
}
