/**
 * The CLI's end of an attached stream (exec, run -i/-t, attach, start -a): the user's terminal in raw mode
 * (restored on every way out), its window size passed on, stdin with docker's detach keys and its EOF
 * passed on, the container's stdout and stderr kept apart.
 */
import { pipeline } from 'node:stream/promises';
import { DetachMatcher } from '../engine/detach-keys.ts';
import type { AttachStream } from '../engine/types.ts';

export interface PumpOptions {
  tty: boolean;
  /** Forward our stdin. */
  stdin: boolean;
  detachKeys: Buffer;
  /** Pass the terminal's size on (tty only). */
  resize?: (rows: number, cols: number) => Promise<void>;
  /** The output streams to show (`run -a`); both when absent. */
  show?: { stdout: boolean; stderr: boolean };
}

/** Run the stream until the container side closes ('ended') or the user detaches ('detached'). */
export function pump(session: AttachStream, opts: PumpOptions): Promise<'ended' | 'detached'> {
  return new Promise((resolve) => {
    const stdin = process.stdin;
    const raw = opts.tty && opts.stdin && stdin.isTTY;
    // As docker: detach keys apply to a terminal only; piped input is data, whatever its bytes.
    const matcher = new DetachMatcher(opts.tty ? opts.detachKeys : Buffer.alloc(0));
    let done = false;
    const resize = () => {
      if (opts.resize && process.stdout.isTTY) opts.resize(process.stdout.rows, process.stdout.columns).catch(() => {});
    };
    const restore = () => {
      if (raw) stdin.setRawMode(false);
    };
    const onInput = (chunk: Buffer) => {
      const { forward, detach } = matcher.feed(chunk);
      // Backpressure: stop reading our stdin until the stream drains.
      if (forward.length > 0 && !session.write(forward)) {
        stdin.pause();
        session.onDrain(() => stdin.resume());
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
        session.pause();
        out.once('drain', () => session.resume());
      }
    };
    process.on('exit', restore);
    const show = opts.show ?? { stdout: true, stderr: true };
    session.on('stdout', (d) => show.stdout && write(process.stdout, d));
    session.on('stderr', (d) => show.stderr && write(opts.tty ? process.stdout : process.stderr, d));
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

/** Stream to stdout; a reader that stops early (`| head`) ends the copy quietly. */
export async function toStdout(tar: AsyncIterable<Buffer> & NodeJS.ReadableStream): Promise<void> {
  try {
    await pipeline(tar, process.stdout);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EPIPE') throw e;
  }
}
