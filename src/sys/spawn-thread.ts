/**
 * Spawning host tools from a worker thread, for processes that serve many requests (`berth serve`), where
 * posix_spawn (src/sys/posix-spawn.ts, which costs less still) could not be loaded.
 *
 * Node's spawn forks and execs in the calling thread and waits there until the exec has happened, so each
 * call stops the event loop for as long as fork takes, which grows with the process's memory: profiled
 * under 16 clients, `berth serve` spent 39% of its main thread inside spawn (runc, mount, umount), and every
 * other client, a `/_ping` included, waited behind it. A worker thread's spawn stops only that thread.
 *
 * The worker is plain JavaScript evaluated from this file (no bundle of its own) and needs nothing but
 * node:child_process. It is referenced only while a call is in flight, so it never keeps a process alive.
 * A short-lived CLI keeps spawning in its own thread: starting a worker would cost it more than it saves.
 */
import type { Worker } from 'node:worker_threads';
import { nodeWorkerThreads } from './builtins.ts';
import type { RunOptions, RunResult } from './run.ts';
import { ownNice } from './thread-priority.ts';

const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const { spawn } = require('node:child_process');
// Made by a thread that may run above the process's priority (berth serve's): what this one spawns, containers
// included, runs at the process's own.
try {
  const os = require('node:os');
  if (os.getPriority(0) !== workerData.nice) os.setPriority(0, workerData.nice);
} catch {}
parentPort.on('message', ({ id, cmd, args, opts, detached }) => {
  const reply = (m) => parentPort.postMessage({ id, ...m });
  let child;
  if (detached) {
    // A monitor that outlives the call: its pipes are fds the caller made; only its pid comes back.
    try {
      child = spawn(cmd, args, { cwd: opts.cwd, env: opts.env, stdio: opts.stdio, detached: true });
    } catch (e) {
      return reply({ error: { message: e.message, code: e.code } });
    }
    child.once('spawn', () => reply({ pid: child.pid }));
    child.once('error', (e) => reply({ error: { message: e.message, code: e.code } }));
    child.unref();
    return;
  }
  try {
    child = spawn(cmd, args, {
      cwd: opts.cwd, env: opts.env, timeout: opts.timeoutMs ?? 60000,
      stdio: [opts.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
    });
  } catch (e) {
    return reply({ error: { message: e.message, code: e.code } });
  }
  const out = [];
  const err = [];
  child.stdout.on('data', (b) => out.push(b));
  child.stderr.on('data', (b) => err.push(b));
  child.on('error', (e) => reply({ error: { message: e.message, code: e.code } }));
  child.on('close', (code, signal) => reply({ result: {
    code: code ?? (signal ? 128 : 1),
    stdout: Buffer.concat(out).toString('utf8'),
    stderr: Buffer.concat(err).toString('utf8'),
  } }));
  if (opts.input !== undefined) {
    child.stdin.on('error', () => {});
    child.stdin.end(opts.input);
  }
});
`;

interface Pending {
  resolve: (r: Reply) => void;
  reject: (e: Error) => void;
}

/** What the thread answers: a finished run's result, a detached spawn's pid, or the error either met. */
interface Reply {
  id: number;
  result?: RunResult;
  pid?: number;
  error?: { message: string; code?: string };
}

let worker: Worker | undefined;
let enabled = false;
let nextId = 0;
const pending = new Map<number, Pending>();

/** From now on, run() in this process spawns on the worker thread. */
export function spawnOffThread(): void {
  enabled = true;
}

export function spawningOffThread(): boolean {
  return enabled;
}

function theWorker(): Worker {
  if (worker) return worker;
  // SHARE_ENV: the thread sees this process's environment as it is now, so it need not be sent with each call.
  const threads = nodeWorkerThreads();
  const w = new threads.Worker(WORKER_SOURCE, { eval: true, env: threads.SHARE_ENV, workerData: { nice: ownNice() } });
  w.on('message', (m: Reply) => {
    const p = pending.get(m.id);
    if (!p) return;
    pending.delete(m.id);
    if (pending.size === 0) w.unref();
    if (m.error) p.reject(Object.assign(new Error(m.error.message), { code: m.error.code }));
    else p.resolve(m);
  });
  // A worker that dies fails what it held; the next call starts another.
  w.on('error', (e) => fail(w, e));
  w.on('exit', (code) => fail(w, new Error(`the spawning thread exited (${code})`)));
  w.unref();
  worker = w;
  return w;
}

function fail(w: Worker, e: Error): void {
  if (worker !== w) return;
  worker = undefined;
  for (const p of pending.values()) p.reject(e);
  pending.clear();
}

function ask(message: Record<string, unknown>): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const w = theWorker();
    const id = nextId++;
    pending.set(id, { resolve, reject });
    w.ref();
    w.postMessage({ id, ...message });
  });
}

export async function runOnThread(cmd: string, args: readonly string[], opts: RunOptions): Promise<RunResult> {
  const r = await ask({ cmd, args: [...args], opts });
  return r.result!;
}

/**
 * Starts a detached process on the thread with the given stdio (fds of this process, or 'ignore') and
 * resolves with its pid once it runs. Nothing of it is kept: the caller watches it through its fds.
 */
export async function spawnDetachedOnThread(
  cmd: string, args: readonly string[], opts: { cwd: string; env: NodeJS.ProcessEnv; stdio: ('ignore' | number)[] },
): Promise<number> {
  const r = await ask({ cmd, args: [...args], detached: true, opts: { cwd: opts.cwd, env: { ...opts.env }, stdio: opts.stdio } });
  return r.pid!;
}
