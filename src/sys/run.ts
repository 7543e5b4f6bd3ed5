/**
 * Running host tools (runtime verbs, mount, tar) with captured output. One place, so every spawn has
 * the same error shape and a timeout.
 */
import { spawn } from 'node:child_process';
import { posixSpawnLoaded, runSpawned } from './posix-spawn.ts';
import { runOnThread, spawningOffThread } from './spawn-thread.ts';

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  input?: string | Buffer;
  timeoutMs?: number;
  cwd?: string;
  env?: NodeJS.ProcessEnv;
}

export function run(cmd: string, args: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
  if (posixSpawnLoaded()) return runSpawned(cmd, args, opts);
  if (spawningOffThread()) return runOnThread(cmd, args, opts);
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, {
      cwd: opts.cwd,
      env: opts.env,
      stdio: [opts.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
      timeout: opts.timeoutMs ?? 60_000,
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout!.on('data', (b: Buffer) => out.push(b));
    child.stderr!.on('data', (b: Buffer) => err.push(b));
    child.on('error', reject);
    child.on('close', (code, signal) => {
      resolve({
        code: code ?? (signal ? 128 : 1),
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
      });
    });
    if (opts.input !== undefined) child.stdin!.end(opts.input);
  });
}

/** Like run(), but a non-zero exit throws with the tool's own last line of stderr. */
export async function runOk(cmd: string, args: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
  const r = await run(cmd, args, opts);
  if (r.code !== 0) {
    const msg = lastLine(r.stderr) || lastLine(r.stdout) || `exit status ${r.code}`;
    throw new Error(`${cmd} ${args[0] ?? ''}: ${msg}`);
  }
  return r;
}

export function lastLine(text: string): string {
  const lines = text.split('\n').map((l) => l.trim()).filter(Boolean);
  return lines[lines.length - 1] ?? '';
}
