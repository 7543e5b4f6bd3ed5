/**
 * OciDriver: the one RuntimeDriver, parameterised by an OCI runtime binary (crun, runc, or one named in the
 * engine's configuration with its global options). Containers are created under conmon, which outlives the
 * CLI, reports the init pid on its sync pipe and writes the exit file.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { Socket } from 'node:net';
import { dirname, join } from 'node:path';
import { tmpdir } from 'node:os';
import type { Readable, Writable } from 'node:stream';
import { NotSupported, RuntimeFailure, classifyRuntimeError } from '../errors.ts';
import { closeFds, osPipe, readEnd, writeEnd } from '../sys/os-pipe.ts';
import { run, lastLine } from '../sys/run.ts';
import { spawnDetachedOnThread, spawningOffThread } from '../sys/spawn-thread.ts';
import { posixSpawnLoaded, spawnDetached } from '../sys/posix-spawn.ts';
import { trace } from '../sys/trace.ts';
import { cgroupInfo, type RuntimeCandidate } from './probe.ts';
import { cgroupDirs } from './cgroups.ts';
import { warmCgroupJoin } from './cgroup-join-warmer.ts';
import { BPF_ANNOTATION, SeccompCache } from './seccomp-cache.ts';
import type { OciResources } from './spec/resources.ts';
import type { OciSpec } from './spec/index.ts';
import { AttachSession, reopenLog, resizeTerminal } from './conmon/attach.ts';
import { conmonFiles, readExitFile, readPidFile } from './conmon/files.ts';
import { monitorsUnder } from './conmon/processes.ts';
import { execMonitorBinary, startPipedExec } from './exec-piped.ts';
import { readJournal } from '../logs/journald.ts';
import { readWrittenLog } from '../logs/read.ts';
import { startWriter, writerDone, writerFiles } from '../logs/writer.ts';
import { readLog as readK8sFileLog } from './conmon/log.ts';
import { pidsInNamespaceOf } from '../sys/proc.ts';
import type {
  AttachStream, Created, CreateRequest, ExecRequest, ExecStarted, Leftovers, LogReadOptions, LogRecord, LogTarget, Observation, ProbeResult, RuntimeDriver, RuntimeFeatures,
  RuntimeInfo, RuntimeState,
} from './driver.ts';

export const CONMON_PATHS = ['/usr/bin/conmon', '/usr/libexec/podman/conmon', '/usr/local/bin/conmon'];

/** How a runtime is run: its global options (before the verb), and which runtime it is at heart. */
export interface OciRuntimeOptions {
  runtimeArgs?: readonly string[];
  /** crun can run without cgroups; runc and unknown runtimes are not asked to. Default: from the name. */
  kind?: 'crun' | 'runc' | 'other';
  conmon?: string;
  /** A program the runtime is run through, given the runtime's path first (src/runtime/v1-view.c). */
  launcher?: string;
  /** Where crun's compiled seccomp programs are kept (src/runtime/seccomp-cache.ts); none kept without it. */
  seccompCacheDir?: string;
  /**
   * Its containers have no cgroup (an ordinary user's, where none is delegated): a signal for all of a
   * container's processes, which the runtime finds through the cgroup, goes to its init (in a pid namespace of
   * its own, the others die with it).
   */
  cgroupless?: boolean;
}

export class OciDriver implements RuntimeDriver {
  readonly name: string;
  readonly path: string;
  readonly conmon: string;
  readonly runtimeArgs: readonly string[];
  readonly kind: 'crun' | 'runc' | 'other';
  /** What is executed for a runtime call, and the arguments before the verb: the launcher's or the runtime's. */
  private readonly program: string;
  private readonly leadingArgs: readonly string[];
  private readonly seccomp?: SeccompCache;
  private readonly cgroupless: boolean;
  /** Profiles crun compiles in creates under way, by container id: kept once the create succeeds. */
  private readonly compiling = new Map<string, string>();

  constructor(name: string, path: string, opts: OciRuntimeOptions = {}) {
    this.name = name;
    this.path = path;
    this.conmon = opts.conmon ?? CONMON_PATHS.find((p) => existsSync(p)) ?? '';
    this.runtimeArgs = opts.runtimeArgs ?? [];
    this.kind = opts.kind ?? (name === 'crun' || name === 'runc' ? name : 'other');
    this.program = opts.launcher ?? path;
    this.leadingArgs = opts.launcher ? [path, ...this.runtimeArgs] : this.runtimeArgs;
    if (this.kind === 'crun' && opts.seccompCacheDir) this.seccomp = new SeccompCache(opts.seccompCacheDir, path);
    this.cgroupless = opts.cgroupless ?? false;
  }

  /** The driver for a probed runtime (src/runtime/probe.ts): its options and launcher as probed. */
  static of(c: RuntimeCandidate, opts: Pick<OciRuntimeOptions, 'seccompCacheDir' | 'cgroupless'> = {}): OciDriver {
    return new OciDriver(c.name, c.path, { ...opts, runtimeArgs: c.runtimeArgs, kind: c.kind, ...(c.launcher ? { launcher: c.launcher } : {}) });
  }

  /** crun's state dir: its `--root` option, else its default for this user. */
  private stateRoot(): string {
    const i = this.runtimeArgs.findIndex((a) => a === '--root' || a.startsWith('--root='));
    if (i >= 0) return this.runtimeArgs[i]!.startsWith('--root=') ? this.runtimeArgs[i]!.slice(7) : (this.runtimeArgs[i + 1] ?? '');
    return process.getuid?.() === 0 ? '/run/crun' : join(process.env.XDG_RUNTIME_DIR ?? '/run/user/' + String(process.getuid?.()), 'crun');
  }

  prepareSpec(id: string, spec: OciSpec): void {
    const profile = this.seccomp?.profileOf(spec.linux.seccomp);
    // crun's own seccomp annotations (a program of the user's, failing on unknown syscalls…) change what it
    // would make of the profile: such a container compiles, and its program is not kept.
    if (!profile || Object.keys(spec.annotations ?? {}).some((k) => k.startsWith('run.oci.seccomp'))) return;
    const program = this.seccomp!.program(profile);
    if (program) spec.annotations = { ...spec.annotations, [BPF_ANNOTATION]: program };
    else this.compiling.set(id, profile);
  }

  /** Run the runtime (through its launcher, if any) with its global options first, as runc and crun take them. */
  private runtime(args: string[], opts?: { input?: string; timeoutMs?: number }) {
    return run(this.program, [...this.leadingArgs, ...args], opts);
  }

  /** Arguments every conmon we start shares: ids, runtime, bundle, pid and exit files, runtime error log. */
  private conmonArgs(cid: string, uuid: string, bundle: string, pidFile: string, exitDir: string): string[] {
    return [
      '--api-version', '1',
      '-c', cid,
      '-u', uuid,
      '-r', this.program,
      '-b', bundle,
      '-p', pidFile,
      '-n', uuid,
      '--exit-dir', exitDir,
      '--full-attach',
      '--no-sync-log',
      ...this.leadingArgs.flatMap((a) => ['--runtime-arg', a]),
      '--runtime-arg', '--log-format=json',
      '--runtime-arg', '--log',
      `--runtime-arg=${bundle}/oci-log`,
    ];
  }

  create(req: CreateRequest): Promise<Created> {
    if (!this.conmon) return Promise.reject(new RuntimeFailure('conmon is not installed (apt-get install conmon)'));
    const f = conmonFiles(req.bundle, req.id);
    // What an earlier run of this container left: its exit would read as this run's.
    for (const old of [f.oom, f.ociLog, f.pid, f.monitorPid, f.exit]) rmSync(old, { force: true });
    mkdirSync(f.exitDir, { recursive: true, mode: 0o700 });
    const log = req.log;
    // json-file and local: conmon writes k8s-file records into the log writer's FIFO, the writer the file.
    const writing = log.driver === 'json-file' || log.driver === 'local';
    const writer = writing ? startWriter(log, req.bundle) : undefined;
    const monitorLog = writing ? `k8s-file:${writerFiles(req.bundle).fifo}` : log.driver === 'k8s-file' ? `k8s-file:${log.path}` : log.driver === 'journald' ? 'journald:' : 'none';
    // conmon opens the file but makes no directory: a log path a CRI client chose may be in one not made yet.
    if (log.driver === 'k8s-file' && log.path) mkdirSync(dirname(log.path), { recursive: true, mode: 0o755 });
    const args = [
      ...this.conmonArgs(req.id, req.id, req.bundle, f.pid, f.exitDir),
      '--conmon-pidfile', f.monitorPid,
      '-l', monitorLog,
    ];
    if (log.driver === 'k8s-file' && log.maxSize > 0) args.push('--log-size-max', String(log.maxSize));
    if (req.noCgroups) {
      if (!this.features().supportsNoCgroups) {
        return Promise.reject(new NotSupported(`${this.name} cannot run a container without cgroups`));
      }
      args.push('--runtime-arg', '--cgroup-manager=disabled');
    }
    if (req.preserveFds) args.push(`--runtime-opt=--preserve-fds=${req.preserveFds}`);
    if (req.tty) args.push('-t');
    if (req.stdin) args.push('-i');
    if (req.stdin && req.leaveStdinOpen) args.push('--leave-stdin-open');
    if (req.exitCommand && req.exitCommand.length > 0) {
      args.push('--exit-command', req.exitCommand[0]!);
      for (const a of req.exitCommand.slice(1)) args.push('--exit-command-arg', a);
    }
    // Awaited below, after the writer is up; a bundle that fails meanwhile must not reject unwatched.
    req.bundleReady?.catch(() => {});
    // The runtime puts the container's process into its cgroups: that join's wait runs while the bundle is made.
    if (!req.noCgroups) void warmCgroupJoin();
    return (async () => {
      // conmon opens its log first thing: the writer's FIFO must be there before conmon starts.
      const w = await writer;
      trace('create: log writer ready');
      const c = spawnConmon(this.conmon!, args, req.bundle, false, req.preserveFds ?? 0);
      try {
        // conmon blocks on one byte from the start pipe before it forks the runtime: send it once the
        // bundle is ready; if it never will be, kill conmon while it is still that one waiting process.
        try {
          await (req.bundleReady ?? Promise.resolve());
        } catch (e) {
          c.kill('SIGKILL');
          throw e;
        }
        c.go();
        trace('create: monitor told to go');
        const pid = await c.sync.next();
        trace('create: pid');
        if (pid.data === undefined || pid.data <= 0) throw runtimeError(pid.message, req.bundle);
        const profile = this.compiling.get(req.id);
        if (profile) this.seccomp!.learn(profile, join(this.stateRoot(), req.id, 'seccomp.bpf'));
        return { pid: pid.data, monitorPid: readPidFile(f.monitorPid) };
      } catch (e) {
        w?.stop(); // conmon exits on a failed create, which ends the writer too; this covers a conmon that never opened the FIFO
        throw e;
      } finally {
        this.compiling.delete(req.id);
        c.close();
      }
    })();
  }

  expectJoin(): void {
    void warmCgroupJoin();
  }

  async exec(req: ExecRequest): Promise<ExecStarted> {
    const f = conmonFiles(req.dir, req.id);
    // Output only, no terminal: berth-exec-monitor instead of conmon (src/runtime/exec-piped.ts).
    const monitor = req.attach && !req.tty && !req.stdin && !req.preserveFds ? execMonitorBinary() : null;
    if (monitor) {
      mkdirSync(f.exitDir, { recursive: true, mode: 0o700 });
      const runtime = [
        this.program, ...this.leadingArgs, '--log-format=json', '--log', f.ociLog,
        'exec', '--pid-file', f.execPid, '--process', `${req.dir}/process.json`, '--detach', req.id,
      ];
      // The runtime's log says why it failed; without one, the monitor's own report does (it could not run it).
      const failed = (said: string) => runtimeError(readOciLog(f.ociLog) ? undefined : `berth-exec-monitor: ${said}`, req.dir);
      return startPipedExec({ monitor, runtime, exitFile: f.exit, pidFile: f.execPid, dir: req.dir }, failed);
    }
    if (!this.conmon) throw new RuntimeFailure('conmon is not installed (apt-get install conmon)');
    mkdirSync(f.exitDir, { recursive: true, mode: 0o700 });
    const args = [
      ...this.conmonArgs(req.id, req.session, req.dir, f.execPid, f.exitDir),
      '-l', 'none',
      '-e',
      '--exec-process-spec', `${req.dir}/process.json`,
    ];
    if (req.attach) args.push('--exec-attach');
    if (req.tty) args.push('-t');
    if (req.stdin) args.push('-i');
    // conmon 2.1.6 has no --preserve-fds of its own: the runtime's exec gets it (after the verb).
    if (req.preserveFds) args.push(`--runtime-opt=--preserve-fds=${req.preserveFds}`);
    const c = spawnConmon(this.conmon, args, req.dir, req.attach, req.preserveFds ?? 0);
    // conmon is starting: meanwhile load the attach socket's FFI (not once the socket is up).
    const seqpacket = req.attach ? import('../sys/seqpacket.ts') : undefined;
    void seqpacket?.then((m) => m.preloadSeqpacket(), () => {});
    let started = false;
    let stream: AttachSession | undefined;
    try {
      c.go();
      if (req.attach) {
        // conmon says the attach socket exists, then waits for a second byte before it runs the process.
        const ready = await c.attach!.next();
        if (ready.data !== 0) throw runtimeError(ready.message, req.dir);
        trace('exec: attach ready');
        const conn = await (await seqpacket!).connectSeqpacket(f.attach);
        trace('exec: connected');
        stream = new AttachSession(conn);
        // A caller that lets go of the session while its process runs (a detach: it closes the stream,
        // which conmon did not end) must not be held by conmon's pipes until the process ends: they stay
        // open but unref'd, so a caller that lives on (the API server) still gets the exit.
        conn.once('close', () => {
          if (!conn.readableEnded && !conn.errored) c.unref();
        });
        c.go();
      }
      const pid = await c.sync.next();
      if (pid.data === undefined || pid.data <= 0) throw runtimeError(pid.message, req.dir);
      started = true;
      if (!req.attach) {
        // Detached: let go of conmon now (it records the exit code in the exit file) so a caller that
        // exits is not held until the process ends; watch the file without keeping the event loop alive.
        c.close();
        return { pid: pid.data, exit: waitForExitFile(f.exit) };
      }
      const exit = c.sync.next().then(
        (m) => (typeof m.data === 'number' ? m.data : -1),
        () => readExitFile(f.exit)?.code ?? -1,
      );
      void exit.finally(() => c.close());
      return { pid: pid.data, stream, exit };
    } finally {
      if (!started) {
        stream?.close();
        c.close();
      }
    }
  }

  observe(bundle: string, id: string): Observation {
    const f = conmonFiles(bundle, id);
    return { exit: readExitFile(f.exit), oomKilled: existsSync(f.oom) };
  }

  monitorPid(bundle: string): number {
    return readPidFile(conmonFiles(bundle, '').monitorPid);
  }

  watchPaths(bundle: string): string[] {
    // The exit file is renamed into its own dir: nothing else changes there.
    return [conmonFiles(bundle, '').exitDir];
  }

  async attach(bundle: string): Promise<AttachStream> {
    const { connectSeqpacket } = await import('../sys/seqpacket.ts');
    return new AttachSession(await connectSeqpacket(conmonFiles(bundle, '').attach));
  }

  resize(bundle: string, rows: number, cols: number): Promise<void> {
    return resizeTerminal(conmonFiles(bundle, '').ctl, rows, cols);
  }

  reopenLog(bundle: string): Promise<void> {
    return reopenLog(conmonFiles(bundle, '').ctl);
  }

  readLog(bundle: string, log: LogTarget, live: () => boolean, out: (rec: LogRecord) => void, opts?: LogReadOptions): Promise<void> {
    if (log.driver === 'k8s-file') return readK8sFileLog(log.path!, [dirname(log.path!), ...this.watchPaths(bundle)], live, out, opts);
    if (log.driver === 'json-file' || log.driver === 'local') {
      return readWrittenLog(log, this.watchPaths(bundle), live, () => writerDone(bundle), out, opts);
    }
    if (log.driver === 'journald') return readJournal(log.id, live, out, opts);
    return Promise.reject(new NotSupported(`configured logging driver does not support reading (${log.driver})`));
  }

  async start(id: string): Promise<void> {
    await this.verb(['start', id]);
  }

  async probe(id: string, dir: string, process: object, timeoutMs: number): Promise<ProbeResult> {
    const spec = `${dir}/probe.json`;
    const pidFile = `${dir}/probe.pid`;
    writeFileSync(spec, JSON.stringify(process));
    rmSync(pidFile, { force: true });
    let timedOut = false;
    // At the timeout the process itself is killed (the runtime's pid file names it): the runtime's exec then
    // returns. A runtime that never wrote the pid file is stopped by run()'s own, later, timeout.
    const timer = setTimeout(() => {
      timedOut = true;
      const pid = readPidFile(pidFile);
      if (pid > 0) {
        try {
          globalThis.process.kill(pid, 'SIGKILL');
        } catch {
          /* ended meanwhile */
        }
      }
    }, timeoutMs);
    try {
      const r = await this.runtime(['exec', '--process', spec, '--pid-file', pidFile, id], { timeoutMs: timeoutMs + 10_000 });
      return { exitCode: timedOut ? -1 : r.code, output: r.stdout + r.stderr, timedOut };
    } finally {
      clearTimeout(timer);
      rmSync(pidFile, { force: true });
    }
  }

  async kill(id: string, signal: string, all = false): Promise<void> {
    await this.verb(all && !this.cgroupless ? ['kill', '--all', id, signal] : ['kill', id, signal]);
  }

  async delete(id: string, force: boolean): Promise<void> {
    const r = await this.runtime(force ? ['delete', '--force', id] : ['delete', id]);
    if (r.code !== 0 && !isAbsent(r.stderr)) throw new RuntimeFailure(`${this.name} delete: ${lastLine(r.stderr)}`);
  }

  async pause(id: string): Promise<void> {
    await this.verb(['pause', id]);
  }

  async unpause(id: string): Promise<void> {
    await this.verb(['resume', id]);
  }

  async state(id: string): Promise<RuntimeState | null> {
    const r = await this.runtime(['state', id]);
    if (r.code !== 0) {
      if (isAbsent(r.stderr)) return null;
      throw new RuntimeFailure(`${this.name} state: ${lastLine(r.stderr)}`);
    }
    const s = JSON.parse(r.stdout) as { status: RuntimeState['status']; pid?: number };
    return { status: s.status, pid: s.pid ?? 0 };
  }

  async leftovers(dir: string): Promise<Leftovers> {
    const r = await this.verb(['list', '--format', 'json']);
    // runc prints `null` for none, crun an empty array.
    const listed = (JSON.parse(r.stdout.trim() || '[]') as { id: string; bundle: string }[] | null) ?? [];
    const prefix = `${dir.replace(/\/+$/, '')}/`;
    return {
      containers: listed.filter((c) => c.bundle.startsWith(prefix)).map((c) => ({ id: c.id, bundle: c.bundle })),
      monitors: monitorsUnder(this.conmon, dir),
    };
  }

  async pids(id: string): Promise<number[]> {
    // The runtime's ps lists a container's cgroup; one without a cgroup is found by its pid namespace, which an
    // ordinary user's container always has of its own (the host's is refused it).
    if (this.cgroupless) {
      const s = await this.state(id);
      return s && s.pid > 0 ? pidsInNamespaceOf(s.pid) : [];
    }
    const r = await this.verb(['ps', '--format', 'json', id]);
    return (JSON.parse(r.stdout || '[]') as number[] | null) ?? [];
  }

  async update(id: string, resources: OciResources): Promise<void> {
    // crun 1.8 on cgroup v1 writes a quota of -1 as an unsigned number, which the kernel refuses: lifted below.
    const liftQuota = this.kind === 'crun' && resources.cpu?.quota === -1 && cgroupInfo().version === 1;
    const given = liftQuota ? { ...resources, cpu: { ...resources.cpu, quota: undefined } } : resources;
    // From a file: crun opens /dev/stdin for `-`, which fails on the socket Node gives a child as stdin.
    const dir = mkdtempSync(join(tmpdir(), 'berth-update-'));
    const file = join(dir, 'resources.json');
    let r;
    try {
      writeFileSync(file, JSON.stringify(given), { mode: 0o600 });
      r = await this.runtime(['update', '--resources', file, id]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    if (r.code !== 0) throw new RuntimeFailure(`${this.name} update: ${lastLine(r.stderr)}`);
    if (liftQuota) await this.liftCpuQuotaV1(id);
  }

  /** Lift the CFS quota in the v1 cpu cgroup the container's process is in. */
  private async liftCpuQuotaV1(id: string): Promise<void> {
    const st = await this.state(id);
    if (!st || st.pid <= 0) throw new RuntimeFailure(`${this.name} update: container ${id} has no process to find its cpu cgroup by`);
    const entry = readFileSync(`/proc/${st.pid}/cgroup`, 'utf8').split('\n').map((l) => l.split(':')).find((f) => f[1]?.split(',').includes('cpu'));
    const dir = entry ? cgroupDirs(cgroupInfo(), entry.slice(2).join(':')).v1.cpu : undefined;
    if (!dir) throw new RuntimeFailure(`${this.name} update: no v1 cpu cgroup for container ${id}`);
    writeFileSync(join(dir, 'cpu.cfs_quota_us'), '-1');
  }

  async checkpoint(): Promise<void> {
    throw new NotSupported(
      'checkpoint is not supported on this host: CRIU 3.17 cannot checkpoint on this kernel',
    );
  }

  features(): RuntimeFeatures {
    return { supportsCheckpoint: false, supportsJsonErrors: true, supportsNoCgroups: this.kind === 'crun' };
  }

  async runtimeInfo(): Promise<RuntimeInfo> {
    const r = await run(this.path, ['--version']);
    return { name: this.name, path: this.path, version: (r.stdout.split('\n')[0] ?? '').trim() };
  }
  async monitorInfo(): Promise<{ name: string; version: string } | null> {
    if (!this.conmon) return null;
    const r = await run(this.conmon, ['--version']);
    return { name: 'conmon', version: (r.stdout.split('\n')[0] ?? '').replace(/^conmon version /, '') };
  }


  private async verb(args: string[]) {
    const r = await this.runtime(args);
    if (r.code !== 0) throw new RuntimeFailure(`${this.name} ${args[0]}: ${lastLine(r.stderr) || `exit ${r.code}`}`);
    return r;
  }
}

interface ConmonMessage {
  data?: number;
  message?: string;
}

/** One JSON message a line, as conmon writes them on its sync and attach pipes. EOF rejects. */
class MessagePipe {
  private buf = '';
  private queue: ConmonMessage[] = [];
  private waiters: ((m: ConmonMessage) => void)[] = [];
  private ended = false;

  constructor(stream: Readable) {
    stream.on('data', (chunk: Buffer) => {
      this.buf += chunk.toString('utf8');
      let nl: number;
      while ((nl = this.buf.indexOf('\n')) >= 0) {
        const line = this.buf.slice(0, nl).trim();
        this.buf = this.buf.slice(nl + 1);
        if (!line) continue;
        try {
          this.push(JSON.parse(line) as ConmonMessage);
        } catch {
          /* not conmon's JSON: ignore */
        }
      }
    });
    const end = () => {
      this.ended = true;
      for (const w of this.waiters.splice(0)) w({});
    };
    stream.on('end', end);
    stream.on('close', end);
    stream.on('error', end);
  }

  private push(m: ConmonMessage): void {
    const w = this.waiters.shift();
    if (w) w(m);
    else this.queue.push(m);
  }

  /** The next message; at EOF an empty one (no data: the caller treats it as failure). */
  next(): Promise<ConmonMessage> {
    const m = this.queue.shift();
    if (m) return Promise.resolve(m);
    if (this.ended) return Promise.resolve({});
    return new Promise((resolve) => this.waiters.push(resolve));
  }
}

/**
 * Start conmon detached with its pipes: the caller's preserved fds first (they must be fds 3…3+N-1 for the
 * runtime's --preserve-fds), then sync, start and (exec) attach pipes, named to conmon by _OCI_*PIPE.
 * `go()` writes one byte to the start pipe; `close()` lets go of every pipe.
 */
interface ConmonHandle {
  kill(signal: NodeJS.Signals): void;
  sync: { next(): Promise<ConmonMessage> };
  attach?: { next(): Promise<ConmonMessage> };
  go(): void;
  /** Keep the pipes and conmon's handle but let the event loop end without them. */
  unref(): void;
  close(): void;
}

function spawnConmon(conmon: string, args: string[], cwd: string, attachPipe: boolean, preserveFds = 0): ConmonHandle {
  if (spawningOffThread()) return spawnConmonOffThread(conmon, args, cwd, attachPipe, preserveFds);
  const stdio: ('ignore' | 'pipe' | number)[] = ['ignore', 'ignore', 'ignore'];
  for (let i = 0; i < preserveFds; i++) stdio.push(3 + i);
  const syncFd = stdio.length;
  stdio.push('pipe', 'pipe');
  if (attachPipe) stdio.push('pipe');
  const env: NodeJS.ProcessEnv = { ...process.env, _OCI_SYNCPIPE: String(syncFd), _OCI_STARTPIPE: String(syncFd + 1) };
  if (attachPipe) env._OCI_ATTACHPIPE = String(syncFd + 2);
  const child = spawn(conmon, args, { cwd, detached: true, stdio, env });
  const pipes = child.stdio as unknown as (Readable | Writable | null)[];
  const syncStream = pipes[syncFd] as Readable;
  const start = pipes[syncFd + 1] as Writable;
  const attachStream = attachPipe ? (pipes[syncFd + 2] as Readable) : undefined;
  start.on('error', () => {});
  const failed = new Promise<never>((_, reject) => child.on('error', (e) => reject(new RuntimeFailure(`cannot start conmon: ${e.message}`))));
  failed.catch(() => {});
  const sync = new MessagePipe(syncStream);
  const attach = attachStream ? new MessagePipe(attachStream) : undefined;
  return {
    kill: (signal) => child.kill(signal),
    sync: { next: () => Promise.race([sync.next(), failed]) },
    attach: attach ? { next: () => Promise.race([attach.next(), failed]) } : undefined,
    go: () => void start.write('0'),
    unref: () => {
      for (const p of [syncStream, start, attachStream]) (p as unknown as Socket | undefined)?.unref();
      child.unref();
    },
    close: () => {
      syncStream.destroy();
      start.destroy();
      attachStream?.destroy();
      child.unref();
    },
  };
}

/**
 * spawnConmon for a long-lived engine (src/sys/spawn-thread.ts): the pipes are made here (fds of this
 * process), conmon is forked on the spawning thread with their far ends, and this thread reads and writes
 * the near ends as sockets. Calls made before conmon runs wait for it, in order.
 */
function spawnConmonOffThread(conmon: string, args: string[], cwd: string, attachPipe: boolean, preserveFds: number): ConmonHandle {
  const started = (async () => {
    const sync = await osPipe();
    const start = await osPipe();
    const attach = attachPipe ? await osPipe() : undefined;
    const stdio: ('ignore' | number)[] = ['ignore', 'ignore', 'ignore'];
    for (let i = 0; i < preserveFds; i++) stdio.push(3 + i);
    const syncFd = stdio.length;
    stdio.push(sync[1], start[0]);
    if (attach) stdio.push(attach[1]);
    const env: NodeJS.ProcessEnv = { ...process.env, _OCI_SYNCPIPE: String(syncFd), _OCI_STARTPIPE: String(syncFd + 1) };
    if (attach) env._OCI_ATTACHPIPE = String(syncFd + 2);
    let pid: number;
    try {
      // posix_spawn where the server loaded it (no fork of the server), else a fork on the spawning thread.
      pid = (posixSpawnLoaded() ? spawnDetached(conmon, args, { cwd, env, fds: stdio }) : undefined) ?? (await spawnDetachedOnThread(conmon, args, { cwd, env, stdio }));
    } catch (e) {
      closeFds(sync[0], start[1], attach?.[0]);
      throw new RuntimeFailure(`cannot start conmon: ${(e as Error).message}`);
    } finally {
      // conmon has its copies: ours of its ends would keep the pipes open after it is gone.
      closeFds(sync[1], start[0], attach?.[1]);
    }
    const startStream = writeEnd(start[1]);
    startStream.on('error', () => {});
    const syncStream = readEnd(sync[0]);
    const attachStream = attach ? readEnd(attach[0]) : undefined;
    return { pid, syncStream, startStream, attachStream, sync: new MessagePipe(syncStream), attach: attachStream ? new MessagePipe(attachStream) : undefined };
  })();
  started.catch(() => {});
  const streams = (s: Awaited<typeof started>) => [s.syncStream, s.startStream, s.attachStream];
  return {
    kill: (signal) => void started.then((s) => process.kill(s.pid, signal), () => {}),
    sync: { next: () => started.then((s) => s.sync.next()) },
    attach: attachPipe ? { next: () => started.then((s) => s.attach!.next()) } : undefined,
    go: () => void started.then((s) => s.startStream.write('0'), () => {}),
    unref: () => void started.then((s) => { for (const p of streams(s)) p?.unref(); }, () => {}),
    close: () => void started.then((s) => { for (const p of streams(s)) p?.destroy(); }, () => {}),
  };
}

/** A runtime failure as docker's exit code class: conmon's message, else the runtime's --log file. */
function runtimeError(message: string | undefined, bundle: string): Error {
  const text = cleanRuntimeMessage(message || readOciLog(conmonFiles(bundle, '').ociLog) || 'the monitor exited before the runtime reported a pid');
  return classifyRuntimeError(inDockersWords(text, bundle));
}

/**
 * crun's words for a command that cannot be run, as docker (through runc) says them, which scripts match:
 * `exec: "CMD": executable file not found in $PATH`, `exec: "CMD": permission denied`. crun's second one
 * does not name the command: it is the spec's.
 */
function inDockersWords(text: string, bundle: string): string {
  const notFound = /executable file `([^`]*)` not found in \$PATH/.exec(text);
  if (notFound) return `exec: "${notFound[1]}": executable file not found in $PATH`;
  const cannot = /open executable: (.*)$/.exec(text);
  if (!cannot) return text;
  let cmd = '';
  try {
    cmd = (JSON.parse(readFileSync(join(bundle, 'config.json'), 'utf8')) as { process?: { args?: string[] } }).process?.args?.[0] ?? '';
  } catch {
    return text;
  }
  return `exec: "${cmd}": ${cannot[1]!.toLowerCase()}`;
}

/**
 * Resolves with the exit file's code once conmon has written it; polls on an unref'd timer. -1 when its
 * directory is gone (whoever removed it read the code first: the caller's record of the session has it).
 */
function waitForExitFile(path: string): Promise<number> {
  return new Promise((resolve) => {
    const tick = () => {
      let text: string | undefined;
      try {
        text = readFileSync(path, 'utf8').trim();
      } catch {
        if (!existsSync(dirname(path))) return resolve(-1);
      }
      // conmon writes it whole (g_file_set_contents: a temporary file renamed into place).
      if (text !== undefined && text !== '' && Number.isFinite(Number(text))) return resolve(Number(text));
      setTimeout(tick, 50).unref();
    };
    tick();
  });
}

function isAbsent(stderr: string): boolean {
  return /does not exist|no such file|not found|container .* not exist/i.test(stderr);
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
