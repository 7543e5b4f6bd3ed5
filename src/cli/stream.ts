/**
 * The CLI's end of an attached stream (exec, run -i/-t, attach, start -a): the user's terminal in raw mode
 * (restored on every way out), window size to conmon's control FIFO, stdin with docker's detach keys and its
 * EOF passed on, the container's stdout and stderr kept apart.
 */
import type { Socket } from 'node:net';
import { AttachSession, resizeTerminal } from '../engine/attach.ts';
import { InvalidArgument } from '../errors.ts';

export const DEFAULT_DETACH_KEYS = 'ctrl-p,ctrl-q';

/** docker's --detach-keys: `ctrl-p,ctrl-q`, `a,b`, `ctrl-@`, `ctrl-[` … → the byte sequence. */
export function parseDetachKeys(spec: string): Buffer {
  if (spec === '') return Buffer.alloc(0);
  return Buffer.from(
    spec.split(',').map((k) => {
      const key = k.trim().toLowerCase();
      if (/^[a-z]$/.test(key) || (key.length === 1 && key.charCodeAt(0) >= 0x20 && key.charCodeAt(0) < 0x7f)) return key.charCodeAt(0);
      const m = /^ctrl-([a-z@[\\\]^_])$/.exec(key);
      if (!m) throw new InvalidArgument(`Invalid detach keys (${spec}) provided`);
      const c = m[1]!;
      return /[a-z]/.test(c) ? c.charCodeAt(0) - 0x60 : c.charCodeAt(0) - 0x40;
    }),
  );
}

/** Matches a key sequence across chunks; returns how much of a chunk to pass on and whether it completed. */
export class DetachMatcher {
  private readonly keys: Buffer;
  private matched = 0;
  constructor(keys: Buffer) {
    this.keys = keys;
  }
  /** The bytes to forward (held-back partial matches are released when the match breaks) and whether to detach. */
  feed(chunk: Buffer): { forward: Buffer; detach: boolean } {
    if (this.keys.length === 0) return { forward: chunk, detach: false };
    const out: number[] = [];
    for (const b of chunk) {
      if (b === this.keys[this.matched]) {
        this.matched++;
        if (this.matched === this.keys.length) return { forward: Buffer.from(out), detach: true };
        continue;
      }
      for (let i = 0; i < this.matched; i++) out.push(this.keys[i]!);
      this.matched = b === this.keys[0] ? 1 : 0;
      if (this.matched === 0) out.push(b);
    }
    return { forward: Buffer.from(out), detach: false };
  }
}

export interface PumpOptions {
  tty: boolean;
  /** Forward our stdin. */
  stdin: boolean;
  detachKeys: Buffer;
  /** conmon's ctl FIFO, for window sizes (tty only). */
  ctlPath?: string;
}

/** Run the stream until the container side closes ('ended') or the user detaches ('detached'). */
export function pump(socket: Socket, opts: PumpOptions): Promise<'ended' | 'detached'> {
  const session = new AttachSession(socket);
  return new Promise((resolve) => {
    const stdin = process.stdin;
    const raw = opts.tty && opts.stdin && stdin.isTTY;
    // As docker: detach keys apply to a terminal only; piped input is data, whatever its bytes.
    const matcher = new DetachMatcher(opts.tty ? opts.detachKeys : Buffer.alloc(0));
    let done = false;
    const resize = () => {
      if (opts.ctlPath && process.stdout.isTTY) {
        resizeTerminal(opts.ctlPath, process.stdout.rows, process.stdout.columns).catch(() => {});
      }
    };
    const restore = () => {
      if (raw) stdin.setRawMode(false);
    };
    const onInput = (chunk: Buffer) => {
      const { forward, detach } = matcher.feed(chunk);
      // Backpressure: stop reading our stdin until the socket drains.
      if (forward.length > 0 && !session.write(forward)) {
        stdin.pause();
        socket.once('drain', () => stdin.resume());
      }
      if (detach) finish('detached');
    };
    const onInputEnd = () => {
      if (!done) session.closeStdin().catch(() => {});
    };
    const finish = (how: 'ended' | 'detached') => {
      if (done) return;
      done = true;
      restore();
      stdin.off('data', onInput);
      stdin.off('end', onInputEnd);
      stdin.pause();
      process.off('SIGWINCH', resize);
      process.off('exit', restore);
      if (how === 'detached') session.close();
      resolve(how);
    };
    const write = (out: NodeJS.WriteStream, data: Buffer) => {
      if (!out.write(data)) {
        socket.pause();
        out.once('drain', () => socket.resume());
      }
    };
    process.on('exit', restore);
    session.on('stdout', (d) => write(process.stdout, d));
    session.on('stderr', (d) => write(opts.tty ? process.stdout : process.stderr, d));
    session.on('end', () => finish('ended'));
    session.on('error', () => finish('ended'));
    if (opts.tty) {
      resize();
      process.on('SIGWINCH', resize);
    }
    if (opts.stdin) {
      if (raw) stdin.setRawMode(true);
      stdin.on('data', onInput);
      stdin.on('end', onInputEnd);
      stdin.resume();
    }
  });
}
