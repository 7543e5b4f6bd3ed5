/**
 * OciDriver: the one RuntimeDriver, parameterised by crun or runc. Containers are created under conmon,
 * which outlives the CLI, reports the init pid on its sync pipe and writes the exit file.
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import type { Readable, Writable } from 'node:stream';
import { NotSupported, RuntimeFailure, classifyRuntimeError } from '../errors.ts';
import { run, lastLine } from '../sys/run.ts';
import type { Created, CreateRequest, RuntimeDriver, RuntimeFeatures, RuntimeInfo, RuntimeState } from './driver.ts';

export const CONMON_PATHS = ['/usr/bin/conmon', '/usr/libexec/podman/conmon', '/usr/local/bin/conmon'];

export class OciDriver implements RuntimeDriver {
  readonly name: string;
  readonly path: string;
  readonly conmon: string;

  constructor(name: string, path: string, conmon = CONMON_PATHS.find((p) => existsSync(p)) ?? '') {
    this.name = name;
    this.path = path;
    this.conmon = conmon;
  }

  create(req: CreateRequest): Promise<Created> {
    if (!this.conmon) return Promise.reject(new RuntimeFailure('conmon is not installed (apt-get install conmon)'));
    const ociLog = `${req.bundle}/oci-log`;
    const args = [
      '--api-version', '1',
      '-c', req.id,
      '-u', req.id,
      '-r', this.path,
      '-b', req.bundle,
      '-p', `${req.bundle}/pidfile`,
      '-n', req.id,
      '--exit-dir', req.exitDir,
      '--full-attach',
      '--conmon-pidfile', `${req.bundle}/conmon.pid`,
      '--no-sync-log',
      '--runtime-arg', '--log-format=json',
      '--runtime-arg', '--log',
      `--runtime-arg=${ociLog}`,
      '-l', req.logPath ? `k8s-file:${req.logPath}` : req.logDriver === 'journald' ? 'journald:' : 'none',
    ];
    if (req.logPath && req.logSizeMax) args.push('--log-size-max', String(req.logSizeMax));
    if (req.noCgroups) {
      if (!this.features().supportsNoCgroups) {
        return Promise.reject(new NotSupported(`${this.name} cannot run a container without cgroups`));
      }
      args.push('--runtime-arg', '--cgroup-manager=disabled');
    }
    if (req.tty) args.push('-t');
    if (req.stdin) args.push('-i');
    if (req.exitCommand && req.exitCommand.length > 0) {
      args.push('--exit-command', req.exitCommand[0]!);
      for (const a of req.exitCommand.slice(1)) args.push('--exit-command-arg', a);
    }
    const child = spawn(this.conmon, args, {
      cwd: req.bundle,
      detached: true,
      stdio: ['ignore', 'ignore', 'ignore', 'pipe', 'pipe'],
      env: { ...process.env, _OCI_SYNCPIPE: '3', _OCI_STARTPIPE: '4' },
    });
    const sync = child.stdio[3] as Readable;
    const start = child.stdio[4] as Writable;
    return new Promise<Created>((resolve, reject) => {
      let buf = '';
      let settled = false;
      const finish = (err: Error | null, pid?: number) => {
        if (settled) return;
        settled = true;
        sync.destroy();
        start.destroy();
        child.unref();
        if (err) reject(err);
        else resolve({ pid: pid!, conmonPid: readPidFile(`${req.bundle}/conmon.pid`) });
      };
      sync.on('data', (chunk: Buffer) => {
        buf += chunk.toString('utf8');
        let nl: number;
        while ((nl = buf.indexOf('\n')) >= 0) {
          const line = buf.slice(0, nl).trim();
          buf = buf.slice(nl + 1);
          if (!line) continue;
          let msg: { data?: number; message?: string };
          try {
            msg = JSON.parse(line) as typeof msg;
          } catch {
            continue;
          }
          if (typeof msg.data === 'number' && msg.data > 0) return finish(null, msg.data);
          return finish(classifyRuntimeError(cleanRuntimeMessage(msg.message || readOciLog(ociLog) || 'container create failed')));
        }
      });
      // EOF without a pid: the runtime failed without writing to stderr; its --log file says why.
      sync.on('end', () => finish(classifyRuntimeError(cleanRuntimeMessage(readOciLog(ociLog) || 'conmon exited before the container was created'))));
      sync.on('error', () => {});
      start.on('error', () => {});
      child.on('error', (e) => finish(new RuntimeFailure(`cannot start conmon: ${e.message}`)));
      // conmon blocks on one byte from the start pipe before it forks the runtime: send it once the
      // bundle is ready; if it never will be, kill conmon while it is still that one waiting process.
      (req.bundleReady ?? Promise.resolve()).then(
        () => start.write('0'),
        (e: unknown) => {
          child.kill('SIGKILL');
          finish(e instanceof Error ? e : new Error(String(e)));
        },
      );
    });
  }

  async start(id: string): Promise<void> {
    await this.verb(['start', id]);
  }

  async kill(id: string, signal: string, all = false): Promise<void> {
    await this.verb(all ? ['kill', '--all', id, signal] : ['kill', id, signal]);
  }

  async delete(id: string, force: boolean): Promise<void> {
    const r = await run(this.path, force ? ['delete', '--force', id] : ['delete', id]);
    if (r.code !== 0 && !isAbsent(r.stderr)) throw new RuntimeFailure(`${this.name} delete: ${lastLine(r.stderr)}`);
  }

  async pause(id: string): Promise<void> {
    await this.verb(['pause', id]);
  }

  async unpause(id: string): Promise<void> {
    await this.verb(['resume', id]);
  }

  async state(id: string): Promise<RuntimeState | null> {
    const r = await run(this.path, ['state', id]);
    if (r.code !== 0) {
      if (isAbsent(r.stderr)) return null;
      throw new RuntimeFailure(`${this.name} state: ${lastLine(r.stderr)}`);
    }
    const s = JSON.parse(r.stdout) as { status: RuntimeState['status']; pid?: number };
    return { status: s.status, pid: s.pid ?? 0 };
  }

  async pids(id: string): Promise<number[]> {
    const r = await this.verb(['ps', '--format', 'json', id]);
    return (JSON.parse(r.stdout || '[]') as number[] | null) ?? [];
  }

  async update(id: string, resources: object): Promise<void> {
    const r = await run(this.path, ['update', '--resources', '-', id], { input: JSON.stringify(resources) });
    if (r.code !== 0) throw new RuntimeFailure(`${this.name} update: ${lastLine(r.stderr)}`);
  }

  async checkpoint(): Promise<void> {
    throw new NotSupported(
      'checkpoint is not supported on this host: CRIU 3.17 cannot checkpoint on this kernel',
    );
  }

  features(): RuntimeFeatures {
    return { supportsCheckpoint: false, supportsJsonErrors: true, supportsNoCgroups: this.name === 'crun' };
  }

  async runtimeInfo(): Promise<RuntimeInfo> {
    const r = await run(this.path, ['--version']);
    return { name: this.name, path: this.path, version: (r.stdout.split('\n')[0] ?? '').trim() };
  }

  private async verb(args: string[]) {
    const r = await run(this.path, args);
    if (r.code !== 0) throw new RuntimeFailure(`${this.name} ${args[0]}: ${lastLine(r.stderr) || `exit ${r.code}`}`);
    return r;
  }
}

function isAbsent(stderr: string): boolean {
  return /does not exist|no such file|not found|container .* not exist/i.test(stderr);
}

function readPidFile(path: string): number {
  try {
    return Number(readFileSync(path, 'utf8').trim()) || 0;
  } catch {
    return 0;
  }
}

/** The last JSON error line the runtime appended to its --log file. */
function readOciLog(path: string): string {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    return '';
  }
  const lines = text.trim().split('\n').reverse();
  for (const l of lines) {
    try {
      const j = JSON.parse(l) as { level?: string; msg?: string };
      if (j.msg && (j.level === 'error' || j.level === 'fatal' || !j.level)) return j.msg;
    } catch {
      if (l.trim()) return l.trim();
    }
  }
  return '';
}

/** Runtime messages nest "runc create failed: unable to start container process: exec: …": keep them whole but one line. */
function cleanRuntimeMessage(msg: string): string {
  return msg.replace(/\s*\n\s*/g, ' ').trim();
}
