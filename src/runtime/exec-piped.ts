/**
 * An attached exec without a terminal or stdin, run under berth-exec-monitor (src/runtime/exec-monitor.c)
 * instead of conmon: its output comes from the monitor's stdout and stderr, and the monitor records the exit
 * code in the session's exit file as conmon would, so a starter that goes (a killed CLI) leaves the session
 * to the sweep as before. With no stdin there is nothing a client could detach from, so what conmon's attach
 * socket adds (input, detaching, re-attaching) is not needed, and its start (~10 ms) is saved.
 */
import { spawn } from 'node:child_process';
import { EventEmitter } from 'node:events';
import type { Readable } from 'node:stream';
import { RuntimeFailure } from '../errors.ts';
import { closeFds, osPipe, readEnd } from '../sys/os-pipe.ts';
import { helperBinary } from '../sys/helper-binary.ts';
import { posixSpawnLoaded, spawnDetached } from '../sys/posix-spawn.ts';
import { spawnDetachedOnThread, spawningOffThread } from '../sys/spawn-thread.ts';
import type { AttachStream, AttachStreamEvents, ExecStarted } from './driver.ts';
import { readExitFile } from './conmon/files.ts';

/** The monitor's path, null where it is not built (conmon monitors every exec then). */
export const execMonitorBinary = (): string | null => helperBinary('berth-exec-monitor');

export interface PipedExec {
  monitor: string;
  /** The runtime's program and arguments: its exec, detached, with `--pid-file pidFile`. */
  runtime: string[];
  exitFile: string;
  pidFile: string;
  /** The session's directory (the monitor's working directory). */
  dir: string;
}

/**
 * Start the exec; resolves once the process runs. A runtime that fails rejects with `failed(what the monitor
 * said)` (the caller reads the runtime's log first), and what reached the output meanwhile (the runtime's
 * complaint) is dropped.
 */
export async function startPipedExec(req: PipedExec, failed: (status: string) => Error): Promise<ExecStarted> {
  const { out, err, status } = await spawnMonitor(req);
  const stream = new PipedStream(out, err);
  const line = await firstLine(status);
  const pid = Number(line);
  if (!Number.isInteger(pid) || pid <= 0) {
    stream.close();
    // "- STATUS [REASON]": the runtime's exit status, and the monitor's reason when the runtime never ran.
    const [, status, reason] = /^- (-?\d+) ?(.*)$/.exec(line) ?? [];
    throw failed(reason || (status ? `the runtime exited with status ${status} before the process ran` : 'it exited without a report'));
  }
  // The monitor writes the exit file before it closes its output: once both have ended, the code is there.
  const exit = stream.ended.then(() => readExitFile(req.exitFile)?.code ?? -1);
  return { pid, stream, exit };
}

async function spawnMonitor(req: PipedExec): Promise<{ out: Readable; err: Readable; status: Readable }> {
  const args = [req.exitFile, req.pidFile, ...req.runtime];
  if (!spawningOffThread()) {
    // Its own session: a terminal's Ctrl-C ends the CLI, not the one who records the exit.
    const child = spawn(req.monitor, args, { cwd: req.dir, detached: true, stdio: ['ignore', 'pipe', 'pipe', 'pipe'] });
    const started = new Promise<void>((resolve, reject) => {
      child.once('spawn', resolve);
      child.once('error', (e) => reject(new RuntimeFailure(`cannot start berth-exec-monitor: ${e.message}`, { cause: e })));
    });
    await started;
    child.unref();
    const [, out, err, status] = child.stdio as unknown as Readable[];
    return { out: out!, err: err!, status: status! };
  }
  // A long-lived engine posix_spawns where it loaded that (src/sys/posix-spawn.ts), else forks on its spawning
  // thread (src/sys/spawn-thread.ts): either way the pipes are made here.
  const pipes = [await osPipe(), await osPipe(), await osPipe()];
  try {
    const fds: ('ignore' | number)[] = ['ignore', ...pipes.map((p) => p[1])];
    const spawned = posixSpawnLoaded() ? spawnDetached(req.monitor, args, { cwd: req.dir, env: process.env, fds }) : undefined;
    if (spawned === undefined) await spawnDetachedOnThread(req.monitor, args, { cwd: req.dir, env: process.env, stdio: fds });
  } catch (e) {
    closeFds(...pipes.map((p) => p[0]));
    throw new RuntimeFailure(`cannot start berth-exec-monitor: ${(e as Error).message}`, { cause: e });
  } finally {
    closeFds(...pipes.map((p) => p[1]));
  }
  const [out, err, status] = pipes.map((p) => readEnd(p[0]));
  return { out: out!, err: err!, status: status! };
}

/** The monitor's report: its first line (empty when it went without one). */
function firstLine(status: Readable): Promise<string> {
  return new Promise((resolve) => {
    let text = '';
    const done = () => {
      status.destroy();
      resolve(text.split('\n')[0]!.trim());
    };
    status.on('data', (chunk: Buffer) => {
      text += chunk.toString();
      if (text.includes('\n')) done();
    });
    status.once('end', done);
    status.once('error', done);
  });
}

/**
 * The process's output as an AttachStream. A caller that lets go (close) stops hearing it, but the output is
 * still read to its end, unref'd, so the monitor is never blocked and a caller that lives on gets the exit.
 */
/** What output is held for a reader not yet listening before the pipes are left to fill instead. */
const HELD_MAX = 1 << 20;

class PipedStream extends EventEmitter<AttachStreamEvents> implements AttachStream {
  /** Both outputs have ended: the monitor has gone, its exit file written. */
  readonly ended: Promise<void>;
  private over = false;
  private closed = false;
  private readonly out: Readable;
  private readonly err: Readable;

  constructor(out: Readable, err: Readable) {
    super();
    this.out = out;
    this.err = err;
    const endOf = (s: Readable) => new Promise<void>((resolve) => {
      s.once('end', resolve);
      s.once('close', resolve);
      s.once('error', () => resolve());
    });
    this.ended = Promise.all([endOf(out), endOf(err)]).then(() => {
      this.over = true;
      if (!this.closed) this.emit('end');
    });
    // Output is read from the start and held until the first stdout or stderr listener, then handed over in
    // order: left in the pipes instead, it was lost when a quick process's output and EOF both arrived before
    // the reader listened (Node closed the pipe's socket at EOF, and the caller, told of the end, never read).
    // A process that prints much before its reader is there (a few ms) is paused past HELD_MAX. An `end`
    // listener added after the end is told too, after what was held.
    const held: ['stdout' | 'stderr', Buffer][] = [];
    let heldBytes = 0;
    let listening = false;
    const onData = (name: 'stdout' | 'stderr') => (d: Buffer) => {
      if (this.closed) return;
      if (listening) {
        this.emit(name, d);
        return;
      }
      held.push([name, d]);
      heldBytes += d.length;
      if (heldBytes > HELD_MAX) {
        out.pause();
        err.pause();
      }
    };
    out.on('data', onData('stdout'));
    err.on('data', onData('stderr'));
    (this as EventEmitter).on('newListener', (event: string | symbol, listener: (...a: unknown[]) => void) => {
      if (event === 'end' && this.over && !this.closed) queueMicrotask(() => listener());
      if (listening || (event !== 'stdout' && event !== 'stderr')) return;
      listening = true;
      // After this listener is added (newListener runs before): replayed then, in order.
      queueMicrotask(() => {
        for (const [name, d] of held.splice(0)) if (!this.closed) this.emit(name, d);
        heldBytes = 0;
        out.resume();
        err.resume();
      });
    });
  }

  /** No stdin: input has nowhere to go. */
  write(): boolean {
    return true;
  }

  onDrain(fn: () => void): void {
    queueMicrotask(fn);
  }

  closeStdin(): Promise<void> {
    return Promise.resolve();
  }

  pause(): void {
    this.out.pause();
    this.err.pause();
  }

  resume(): void {
    this.out.resume();
    this.err.resume();
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const s of [this.out, this.err]) {
      s.resume();
      (s as Readable & { unref?: () => void }).unref?.();
    }
  }
}
