/**
 * FakeDriver: a RuntimeDriver that needs no root, no namespaces, no cgroups and no conmon, so the engine's
 * own logic (sync, repair, failed starts, exec records, logs) can be tested in milliseconds, and the driver
 * contract (test/contract/driver.ts) has a second implementation to keep it honest, as podman's
 * oci_missing.go does for its OCIRuntime.
 *
 * The container's command runs as a plain host process, with the bundle's `rootfs` as its working dir and
 * the rootfs's bin dirs first on PATH (the test image is busybox-static, which runs on the host): real pids,
 * exit codes, signals, stdio. The monitor is this object, in memory, plus one real stand-in process per
 * container (`monitorPid`) that lives exactly as long as a monitor would: until the exit is recorded. So a
 * test can kill the "monitor" without a record, as a crash would. State lives in this process only: an
 * engine in another process cannot see it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { accessSync, constants, existsSync, readFileSync, statSync } from 'node:fs';
import { constants as osConstants } from 'node:os';
import { join } from 'node:path';
import { CannotInvoke, CommandNotFound, RuntimeFailure } from '../errors.ts';
import { procStartTime } from '../sys/proc.ts';
import type {
  AttachStream, AttachStreamEvents, Created, CreateRequest, ExecRequest, ExecStarted, Leftovers, LogReadOptions, LogRecord, LogTarget, MonitorExit,
  Observation, ProbeResult, RuntimeDriver, RuntimeFeatures, RuntimeInfo, RuntimeState,
} from './driver.ts';
import { LastLines } from '../logs/tail.ts';
import type { OciResources } from './spec/resources.ts';

/** One monitored process (a container's init, or an exec session's process). */
interface Monitored {
  bundle: string;
  /** Stand-in for the monitor's pid: alive until the exit is recorded. */
  monitor: ChildProcess;
  proc?: ChildProcess;
  pid: number;
  status: 'created' | 'running' | 'paused' | 'stopped';
  exit: MonitorExit | null;
  oomKilled: boolean;
  log: LogRecord[];
  streams: Set<FakeStream>;
  size?: [number, number];
  /** Wakes log followers when a record or the exit comes. */
  changed: EventEmitter;
  resources?: object;
  /** The monitor died (crashMonitor): nothing more is recorded, as a dead monitor records nothing. */
  monitorDead?: boolean;
}

/** An in-memory AttachStream over a monitored process's stdio. */
class FakeStream extends EventEmitter<AttachStreamEvents> implements AttachStream {
  private ended = false;
  private readonly target: Monitored;
  constructor(target: Monitored) {
    super();
    this.target = target;
  }
  write(data: Buffer | string): boolean {
    const stdin = this.target.proc?.stdin;
    if (!stdin || stdin.destroyed) return true;
    return stdin.write(data);
  }
  onDrain(fn: () => void): void {
    const stdin = this.target.proc?.stdin;
    if (!stdin || !stdin.writableNeedDrain) return fn();
    stdin.once('drain', fn);
  }
  async closeStdin(): Promise<void> {
    this.target.proc?.stdin?.end();
  }
  pause(): void {}
  resume(): void {}
  close(): void {
    this.finish();
  }
  finish(): void {
    if (this.ended) return;
    this.ended = true;
    this.target.streams.delete(this);
    this.emit('end');
  }
}

/** The command line a bundle's config.json asks for, resolved in its rootfs as a runtime would. */
function processOf(bundle: string): { args: string[]; env: string[]; cwd: string; rootfs: string } {
  const spec = JSON.parse(readFileSync(join(bundle, 'config.json'), 'utf8')) as {
    root?: { path?: string };
    process?: { args?: string[]; env?: string[]; cwd?: string };
  };
  const root = spec.root?.path ?? 'rootfs';
  const rootfs = root.startsWith('/') ? root : join(bundle, root);
  return { args: spec.process?.args ?? [], env: spec.process?.env ?? [], cwd: spec.process?.cwd ?? '/', rootfs };
}

/** args[0] as a path on the host: absolute in the rootfs, or looked up in the rootfs's PATH. */
function resolveCommand(rootfs: string, cmd: string, env: string[]): string {
  const inRootfs = (p: string) => join(rootfs, p);
  const path = env.find((e) => e.startsWith('PATH='))?.slice(5) ?? '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
  const candidates = cmd.includes('/') ? [inRootfs(cmd)] : path.split(':').map((d) => inRootfs(join(d, cmd)));
  const found = candidates.find((c) => existsSync(c));
  // The runtimes' own words, so the engine maps them to docker's codes as it does theirs (127, 126).
  if (!found) throw new CommandNotFound(`exec: "${cmd}": executable file not found in $PATH`);
  try {
    if (statSync(found).isDirectory()) throw new Error('directory');
    accessSync(found, constants.X_OK);
  } catch {
    throw new CannotInvoke(`exec: "${cmd}": permission denied`);
  }
  return found;
}

/** Resolves once the process is stopped (state T in /proc/PID/stat) or gone. */
async function stoppedOrGone(pid: number): Promise<void> {
  for (let i = 0; i < 2000; i++) {
    let stat: string;
    try {
      stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    } catch {
      return;
    }
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    if (state === 'T' || state === 'Z') return;
    await new Promise((r) => setTimeout(r, 1));
  }
}

export class FakeDriver implements RuntimeDriver {
  readonly name: string;
  readonly path = '';
  private readonly containers = new Map<string, Monitored>();
  private readonly byBundle = new Map<string, Monitored>();

  constructor(name = 'fake') {
    this.name = name;
  }

  /** A stand-in for a monitor: a real process that lives until stopped. */
  private standIn(): ChildProcess {
    const p = spawn('sleep', ['infinity'], { stdio: 'ignore', detached: true });
    p.unref();
    return p;
  }

  private record(m: Monitored, stream: 'stdout' | 'stderr', data: Buffer): void {
    // A record per line, as a monitor logs them (a read that ends mid-line leaves a fragment).
    const time = new Date().toISOString().replace('Z', '000000Z');
    for (let at = 0; at < data.length; ) {
      const nl = data.indexOf(0x0a, at);
      const end = nl < 0 ? data.length : nl + 1;
      m.log.push({ time, stream, data: data.subarray(at, end) });
      at = end;
    }
    for (const s of m.streams) s.emit(stream, data);
    m.changed.emit('change');
  }

  /** Run `args` for `m` (its pid was taken at create: a stopped shell that execs the command when continued). */
  private launch(m: Monitored, args: string[], env: string[], cwd: string, rootfs: string, stopFirst: boolean): void {
    const exe = resolveCommand(rootfs, args[0] ?? '', env);
    const sh = resolveCommand(rootfs, '/bin/sh', env);
    const hostPath = [...new Set(['/bin', '/usr/bin', '/sbin', '/usr/sbin'].map((d) => join(rootfs, d)))].join(':');
    const script = stopFirst ? 'kill -STOP $$; exec "$@"' : 'exec "$@"';
    const p = spawn(sh, ['-c', script, 'sh', exe, ...args.slice(1)], {
      cwd: existsSync(join(rootfs, cwd)) ? join(rootfs, cwd) : rootfs,
      env: { ...Object.fromEntries(env.map((e) => [e.slice(0, e.indexOf('=')), e.slice(e.indexOf('=') + 1)])), PATH: hostPath },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    m.proc = p;
    m.pid = p.pid ?? 0;
    p.stdout!.on('data', (b: Buffer) => this.record(m, 'stdout', b));
    p.stderr!.on('data', (b: Buffer) => this.record(m, 'stderr', b));
    p.stdin!.on('error', () => {});
    p.on('close', (code, signal) => {
      m.status = 'stopped';
      for (const s of [...m.streams]) s.finish();
      if (m.monitorDead) return;
      m.exit = { code: code ?? 128 + (signal ? (osConstants.signals[signal] ?? 0) : 0), time: new Date().toISOString() };
      for (const s of [...m.streams]) s.finish();
      m.changed.emit('change');
      // The monitor leaves once it recorded the exit.
      m.monitor.kill('SIGKILL');
    });
  }

  private monitored(bundle: string): Monitored {
    // A container's log outlives its runs, as a log file does.
    const earlier = this.byBundle.get(bundle)?.log ?? [];
    const m: Monitored = {
      bundle,
      monitor: this.standIn(),
      pid: 0,
      status: 'created',
      exit: null,
      oomKilled: false,
      log: earlier,
      streams: new Set(),
      changed: new EventEmitter(),
    };
    this.byBundle.set(bundle, m);
    return m;
  }

  async create(req: CreateRequest): Promise<Created> {
    await (req.bundleReady ?? Promise.resolve());
    const { args, env, cwd, rootfs } = processOf(req.bundle);
    const m = this.monitored(req.bundle);
    try {
      this.launch(m, args, env, cwd, rootfs, true);
    } catch (e) {
      m.monitor.kill('SIGKILL');
      this.byBundle.delete(req.bundle);
      throw e;
    }
    // As a runtime's create returns with its init waiting: here, once the shell has stopped itself (a start
    // sent before that would be lost, and the shell would stop for good).
    await stoppedOrGone(m.pid);
    this.containers.set(req.id, m);
    return { pid: m.pid, monitorPid: m.monitor.pid ?? 0 };
  }

  async start(id: string): Promise<void> {
    const m = this.get(id);
    if (m.status !== 'created') throw new RuntimeFailure(`fake: container ${id} is ${m.status}, not created`);
    m.status = 'running';
    m.proc?.kill('SIGCONT');
  }

  prepareSpec(): void {
    // the spec as the engine wrote it is all this driver reads
  }

  expectJoin(): void {
    // processes here join no cgroup
  }

  async exec(req: ExecRequest): Promise<ExecStarted> {
    const c = this.get(req.id);
    if (c.status !== 'running') throw new RuntimeFailure(`fake: container ${req.id} is not running`);
    const spec = JSON.parse(readFileSync(join(req.dir, 'process.json'), 'utf8')) as { args: string[]; env?: string[]; cwd?: string };
    const m = this.monitored(req.dir);
    try {
      this.launch(m, spec.args, spec.env ?? [], spec.cwd ?? '/', processOf(c.bundle).rootfs, false);
    } catch (e) {
      m.monitor.kill('SIGKILL');
      this.byBundle.delete(req.dir);
      throw e;
    }
    m.status = 'running';
    const stream = req.attach ? this.streamOf(m) : undefined;
    const exit = new Promise<number>((resolve) => m.proc!.once('close', () => resolve(m.exit?.code ?? -1)));
    return { pid: m.pid, stream, exit };
  }

  async probe(id: string, _dir: string, process: object, timeoutMs: number): Promise<ProbeResult> {
    const c = this.get(id);
    if (c.status !== 'running') throw new RuntimeFailure(`fake: container ${id} is not running`);
    const spec = process as { args: string[]; env?: string[]; cwd?: string };
    const rootfs = processOf(c.bundle).rootfs;
    const env = spec.env ?? [];
    const exe = resolveCommand(rootfs, spec.args[0] ?? '', env);
    const hostPath = [...new Set(['/bin', '/usr/bin', '/sbin', '/usr/sbin'].map((d) => join(rootfs, d)))].join(':');
    const p = spawn(exe, spec.args.slice(1), { env: { PATH: hostPath }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    p.stdout!.on('data', (b: Buffer) => (out += b.toString()));
    p.stderr!.on('data', (b: Buffer) => (err += b.toString()));
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      p.kill('SIGKILL');
    }, timeoutMs);
    const code = await new Promise<number>((resolve) => p.once('close', (c2) => resolve(c2 ?? -1)));
    clearTimeout(timer);
    return { exitCode: timedOut ? -1 : code, output: out + err, timedOut };
  }

  private streamOf(m: Monitored): FakeStream {
    const s = new FakeStream(m);
    m.streams.add(s);
    if (m.exit) queueMicrotask(() => s.finish());
    return s;
  }

  observe(bundle: string): Observation {
    const m = this.byBundle.get(bundle);
    return { exit: m?.exit ?? null, oomKilled: m?.oomKilled ?? false };
  }

  monitorPid(bundle: string): number {
    return this.byBundle.get(bundle)?.monitor.pid ?? 0;
  }

  watchPaths(): string[] {
    return [];
  }

  async attach(bundle: string): Promise<AttachStream> {
    const m = this.byBundle.get(bundle);
    if (!m || m.exit) throw new RuntimeFailure(`fake: nothing runs in ${bundle}`);
    return this.streamOf(m);
  }

  async resize(bundle: string, rows: number, cols: number): Promise<void> {
    const m = this.byBundle.get(bundle);
    if (!m) throw new RuntimeFailure(`fake: nothing runs in ${bundle}`);
    m.size = [rows, cols];
  }

  async reopenLog(bundle: string): Promise<void> {
    if (!this.byBundle.get(bundle)) throw new RuntimeFailure(`fake: nothing runs in ${bundle}`);
  }

  /** The last size set by resize (for tests). */
  sizeOf(bundle: string): [number, number] | undefined {
    return this.byBundle.get(bundle)?.size;
  }

  async readLog(bundle: string, _log: LogTarget, live: () => boolean, out: (rec: LogRecord) => void, opts: LogReadOptions = {}): Promise<void> {
    const m = this.byBundle.get(bundle);
    if (!m) return;
    const inRange = (r: LogRecord) => {
      const t = Date.parse(r.time);
      return t >= (opts.since ?? -Infinity) && t <= (opts.until ?? Infinity);
    };
    const first = m.log.filter(inRange);
    if (opts.tail !== undefined && opts.tail >= 0) {
      const pick = new LastLines(opts.tail);
      for (let i = first.length - 1; i >= 0 && !pick.visit(first[i]!); i--);
      pick.records().forEach(out);
    } else first.forEach(out);
    if (!opts.follow) return;
    let seen = m.log.length;
    for (;;) {
      const still = live() && !m.exit;
      for (; seen < m.log.length; seen++) if (inRange(m.log[seen]!)) out(m.log[seen]!);
      if (!still) return;
      await new Promise<void>((r) => {
        const t = setTimeout(done, 20);
        function done() {
          clearTimeout(t);
          m!.changed.off('change', done);
          r();
        }
        m.changed.once('change', done);
      });
    }
  }

  async kill(id: string, signal: string): Promise<void> {
    const m = this.get(id);
    if (m.status === 'stopped' || !m.proc) throw new RuntimeFailure(`fake: container ${id} is not running`);
    const sig = /^\d+$/.test(signal) ? Number(signal) : (signal.startsWith('SIG') ? signal : `SIG${signal}`) as NodeJS.Signals;
    // A stopped shell (created, or paused) must be continued to act on a deadly signal.
    m.proc.kill(sig);
    if (m.status !== 'running') m.proc.kill('SIGCONT');
  }

  async delete(id: string, force: boolean): Promise<void> {
    const m = this.containers.get(id);
    if (!m) return;
    if (m.status !== 'stopped') {
      if (!force && m.status !== 'created') throw new RuntimeFailure(`fake: container ${id} is ${m.status}`);
      m.proc?.kill('SIGKILL');
      m.proc?.kill('SIGCONT');
      await new Promise<void>((r) => (m.exit ? r() : m.proc?.once('close', () => r())));
    }
    this.containers.delete(id);
  }

  async pause(id: string): Promise<void> {
    const m = this.get(id);
    if (m.status !== 'running') throw new RuntimeFailure(`fake: container ${id} is not running`);
    m.proc?.kill('SIGSTOP');
    m.status = 'paused';
  }

  async unpause(id: string): Promise<void> {
    const m = this.get(id);
    if (m.status !== 'paused') throw new RuntimeFailure(`fake: container ${id} is not paused`);
    m.proc?.kill('SIGCONT');
    m.status = 'running';
  }

  async state(id: string): Promise<RuntimeState | null> {
    const m = this.containers.get(id);
    return m ? { status: m.status, pid: m.status === 'stopped' ? 0 : m.pid } : null;
  }

  async leftovers(dir: string): Promise<Leftovers> {
    const prefix = `${dir.replace(/\/+$/, '')}/`;
    const under = [...this.byBundle.values()].filter((m) => m.bundle.startsWith(prefix));
    return {
      containers: [...this.containers].filter(([, m]) => m.bundle.startsWith(prefix)).map(([id, m]) => ({ id, bundle: m.bundle })),
      monitors: under.flatMap((m) => (m.monitor.pid !== undefined && procStartTime(m.monitor.pid) !== null ? [m.monitor.pid] : [])),
    };
  }

  async pids(id: string): Promise<number[]> {
    const m = this.get(id);
    return m.status === 'stopped' ? [] : [m.pid];
  }

  async update(id: string, resources: OciResources): Promise<void> {
    this.get(id).resources = resources;
  }

  async checkpoint(): Promise<void> {
    throw new RuntimeFailure('fake: no checkpoints');
  }

  features(): RuntimeFeatures {
    return { supportsCheckpoint: false, supportsJsonErrors: false, supportsNoCgroups: true };
  }

  async runtimeInfo(): Promise<RuntimeInfo> {
    return { name: this.name, path: '', version: 'fake' };
  }

  async monitorInfo(): Promise<{ name: string; version: string } | null> {
    return { name: 'fake-monitor', version: 'fake' };
  }

  /** Simulate a monitor crash: it dies without recording anything (for tests of the engine's sync). */
  crashMonitor(bundle: string): void {
    const m = this.byBundle.get(bundle);
    if (!m) return;
    m.monitorDead = true;
    m.monitor.kill('SIGKILL');
  }

  /** Stop every process this driver started (a test's cleanup). */
  shutdown(): void {
    for (const m of this.byBundle.values()) {
      m.proc?.kill('SIGKILL');
      m.proc?.kill('SIGCONT');
      m.monitor.kill('SIGKILL');
    }
  }

  private get(id: string): Monitored {
    const m = this.containers.get(id);
    if (!m) throw new RuntimeFailure(`fake: container ${id} does not exist`);
    return m;
  }
}
