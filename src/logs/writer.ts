/**
 * Starting Berth's log writer (src/logs/log-writer.c, built to dist/berth-log-writer) for a container run,
 * and waiting for it to finish. The monitor writes its k8s-file records into a FIFO in the bundle; the
 * writer, started first on the FIFO's other end, turns them into the driver's file. Its pid file exists
 * while records may still be on their way: a reader that saw the container exit waits for it to go.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Readable } from 'node:stream';
import { NotSupported, RuntimeFailure } from '../errors.ts';
import type { LogTarget } from '../runtime/driver.ts';
import { posixSpawnLoaded, spawnDetached } from '../sys/posix-spawn.ts';
import { spawnDetachedOnThread, spawningOffThread } from '../sys/spawn-thread.ts';
import { helperBinary } from '../sys/helper-binary.ts';
import { closeFds, osPipe, readEnd } from '../sys/os-pipe.ts';

export const writerBinary = (): string | null => helperBinary('berth-log-writer');

export const writerFiles = (bundle: string) => ({ fifo: `${bundle}/log.fifo`, pid: `${bundle}/log-writer.pid` });

/** The writer's arguments for a target. */
function writerArgs(log: LogTarget, bundle: string): string[] {
  const f = writerFiles(bundle);
  // --parent: if this process dies before conmon opens the FIFO, the writer waits briefly for one on its way, then goes.
  const args = ['--format', log.driver, '--fifo', f.fifo, '--path', log.path!, '--pid-file', f.pid, '--parent', String(process.pid)];
  if (log.maxSize > 0) args.push('--max-size', String(log.maxSize));
  if (log.maxFile > 1) args.push('--max-file', String(log.maxFile));
  if (log.compress) args.push('--compress');
  const attrs = Object.entries(log.attrs).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  if (attrs.length > 0) {
    if (log.driver === 'json-file') args.push('--attrs', JSON.stringify(Object.fromEntries(attrs)));
    else for (const [k, v] of attrs) args.push('--attr', `${k}=${v}`);
  }
  return args;
}

/** A started writer: the path the monitor writes its records to, and a way to stop it if the run fails. */
export interface StartedWriter {
  monitorPath: string;
  stop: () => void;
}

/**
 * Start the writer for a container run whose log is json-file or local, and wait for its FIFO. It exits
 * once the monitor that opens `monitorPath` has closed it (or after two minutes if none ever does).
 */
export async function startWriter(log: LogTarget, bundle: string): Promise<StartedWriter> {
  const bin = writerBinary();
  if (!bin) throw new NotSupported(`log driver ${log.driver} needs berth-log-writer, which is not built (run scripts/build)`);
  const f = writerFiles(bundle);
  mkdirSync(dirname(log.path!), { recursive: true, mode: 0o700 });
  const args = writerArgs(log, bundle);
  // Its stdout says "ready" once the FIFO is there, or closes with the reason it is not (stderr, same pipe).
  let pid: number;
  let said: Promise<string>;
  if (spawningOffThread()) {
    const [r, w] = await osPipe();
    try {
      const fds: ('ignore' | number)[] = ['ignore', w, w];
      // posix_spawn where the server loaded it (no fork of the server), else a fork on the spawning thread.
      pid = (posixSpawnLoaded() ? spawnDetached(bin, args, { cwd: bundle, env: {}, fds }) : undefined) ?? (await spawnDetachedOnThread(bin, args, { cwd: bundle, env: {}, stdio: fds }));
    } catch (e) {
      closeFds(r);
      throw new RuntimeFailure(`cannot start berth-log-writer: ${(e as Error).message}`, { cause: e });
    } finally {
      closeFds(w);
    }
    said = firstLine(readEnd(r));
  } else {
    const child = spawn(bin, args, { cwd: bundle, detached: true, stdio: ['ignore', 'pipe', 'pipe'], env: {} });
    child.unref();
    pid = await new Promise<number>((resolve, reject) => {
      child.once('spawn', () => resolve(child.pid!));
      child.once('error', (e) => reject(new RuntimeFailure(`cannot start berth-log-writer: ${e.message}`, { cause: e })));
    });
    const err = firstLine(child.stderr!);
    said = firstLine(child.stdout!).then(async (out) => out || (await err));
  }
  const line = await said;
  if (line !== 'ready') throw new RuntimeFailure(`berth-log-writer: ${line || 'exited before its FIFO was ready'}`);
  return {
    monitorPath: f.fifo,
    stop: () => {
      try {
        process.kill(pid, 'SIGTERM');
      } catch {
        /* gone already */
      }
    },
  };
}

/** The first line a stream gives (without its newline), or all it gives before it closes; then it is closed. */
function firstLine(s: Readable): Promise<string> {
  return new Promise<string>((resolve) => {
    const chunks: Buffer[] = [];
    s.on('data', (d: Buffer) => {
      chunks.push(d);
      if (d.includes(0x0a)) s.destroy();
    });
    s.on('close', () => resolve(Buffer.concat(chunks).toString().split('\n')[0]!.trim()));
    s.on('error', () => s.destroy());
  });
}

/** The pid of the bundle's writer while it runs (its pid file names a live process), else undefined. */
function livePid(bundle: string): number | undefined {
  let pid: number;
  try {
    pid = Number(readFileSync(writerFiles(bundle).pid, 'utf8').trim());
  } catch {
    return undefined;
  }
  if (!Number.isInteger(pid) || pid <= 0) return undefined;
  try {
    process.kill(pid, 0);
    return pid;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM' ? pid : undefined;
  }
}

/** True while a writer of this bundle runs. */
export function writerRunning(bundle: string): boolean {
  return livePid(bundle) !== undefined;
}

/**
 * Stop the bundle's writer, if one still runs, and wait (at most a second) until it has gone: its container's
 * files are being removed. One is left only by a run whose starter died before its monitor opened the FIFO,
 * waiting out its grace for a monitor on the way; a writer whose monitor ended has gone by itself.
 */
export async function stopWriter(bundle: string): Promise<void> {
  const pid = livePid(bundle);
  if (pid === undefined) return;
  try {
    process.kill(pid, 'SIGTERM');
  } catch {
    return; // gone meanwhile
  }
  const until = Date.now() + 1000;
  while (Date.now() < until) {
    try {
      process.kill(pid, 0);
    } catch {
      return;
    }
    await new Promise((r) => setTimeout(r, 2));
  }
}

/**
 * Wait until the bundle's writer has written everything and gone (at most `timeoutMs`): after a
 * container's exit, the last records may still be in the FIFO.
 */
export async function writerDone(bundle: string, timeoutMs = 5000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (writerRunning(bundle) && Date.now() < until) await new Promise((r) => setTimeout(r, 2));
}
