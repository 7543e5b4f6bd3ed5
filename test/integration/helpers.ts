/**
 * Integration fixture: a private engine root per test file with the busybox image imported through
 * berth's own `import`, a CLI runner, the small CLI helpers every test file uses (cli: ok, runD, rmf,
 * inspect, …), and leak checks (mounts, conmon processes, cgroups).
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { bridgeRuleDeletions } from '../../src/network/bridge-rules.ts';

export const REPO = fileURLToPath(new URL('../..', import.meta.url));
export const BERTH = join(REPO, 'bin', 'berth');

export interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

export interface Env {
  root: string;
  /** Run berth synchronously with this root. */
  berth(args: string[], opts?: { input?: string | Buffer; timeoutMs?: number; env?: NodeJS.ProcessEnv }): Result;
  /** Run berth asynchronously (for concurrency and kill tests). */
  berthAsync(args: string[]): Promise<Result>;
  /** Remove every container, then assert nothing of this root is left on the host. */
  teardown(): void;
}

function toResult(r: SpawnSyncReturns<string>): Result {
  if (r.error) throw r.error;
  return { code: r.status ?? 128, stdout: r.stdout, stderr: r.stderr };
}

/** A fresh engine root with busybox:latest imported. */
export function setupEnv(name: string): Env {
  const removedIds: string[] = [];
  const root = mkdtempSync(`/tmp/berth-test-${name}-`);
  const tar = join(root, 'busybox.tar');
  const mk = spawnSync('bash', [join(REPO, 'scripts', 'mkimage-busybox'), tar], { encoding: 'utf8' });
  if (mk.status !== 0) throw new Error(`mkimage-busybox: ${mk.stderr}`);
  const env: Env = {
    root,
    berth(args, opts = {}) {
      return toResult(
        spawnSync(BERTH, ['--root', root, ...args], {
          encoding: 'utf8',
          input: opts.input,
          timeout: opts.timeoutMs ?? 120_000,
          env: { ...process.env, ...opts.env },
          maxBuffer: 64 << 20,
        }),
      );
    },
    berthAsync(args) {
      return runAsync(BERTH, ['--root', root, ...args]);
    },
    teardown() {
      // A pod's infra container goes only with its pod.
      env.berth(['pod', 'rm', '-f', '--all']);
      const ids = env.berth(['ps', '-aq', '--no-trunc']).stdout.split('\n').filter(Boolean);
      removedIds.push(...ids);
      if (ids.length > 0) env.berth(['rm', '-f', ...ids]);
      // The root's default network keeps its bridge, as docker keeps docker0; a test root takes it along.
      env.berth(['network', 'prune', '-f']);
      // A supervisor ends by itself within seconds of its last supervised container (src/engine/supervisor.ts).
      const until = Date.now() + 10_000;
      while (supervisorsOf(root).length > 0 && Date.now() < until) spawnSync('sleep', ['0.2']);
      spawnSync('ip', ['link', 'del', rootBridge(root)]);
      dropBridgeRules(rootBridge(root));
      const leaks = leaksUnder(root, removedIds);
      if (existsSync(`/sys/class/net/${rootBridge(root)}`)) leaks.push(`bridge ${rootBridge(root)}`);
      rmSync(root, { recursive: true, force: true });
      if (leaks.length > 0) throw new Error(`leaked after teardown:\n${leaks.join('\n')}`);
    },
  };
  const imp = env.berth(['import', '--change', 'CMD ["sh"]', tar, 'busybox:latest']);
  rmSync(tar, { force: true });
  if (imp.code !== 0) throw new Error(`import busybox: ${imp.stderr}`);
  return env;
}

/** A berth run as an assertion message shows it. */
export function show(r: Result): string {
  return `exit ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`;
}

/** Options of one berth run: stdin, timeout, environment. */
export type BerthOpts = Parameters<Env['berth']>[1];

/** What `inspect` says of a container: the fields tests read typed, any other as unknown. */
export interface InspectState extends Record<string, unknown> {
  Status: string;
  Running: boolean;
  Paused: boolean;
  OOMKilled: boolean;
  Pid: number;
  ExitCode: number;
  Error: string;
  StartedAt: string;
  FinishedAt: string;
}

export interface InspectJson {
  Id: string;
  Name: string;
  State: InspectState;
  HostConfig: { Runtime: string; ReadonlyRootfs: boolean } & Record<string, unknown>;
  Config: { Labels: Record<string, string>; StopSignal: string; StopTimeout?: number };
}

/** The small CLI helpers of the test files, bound to one engine root. */
export interface Cli {
  /** Run berth and require exit 0. */
  ok(args: string[], opts?: BerthOpts): Result;
  /** ok's stdout. */
  out(args: string[], opts?: BerthOpts): string;
  /** `run -d …`: requires exit 0 and a full (64-hex) id, returns the id. The caller removes it. */
  runD(args: string[]): string;
  /** runD, with what `run` printed on stderr (docker's warnings). */
  runDWarned(args: string[]): { id: string; stderr: string };
  /** `rm -f` these (nothing to do for none), requiring exit 0. */
  rmf(...refs: string[]): void;
  /** `rm -f` these without looking at the outcome (cleanup in `finally`). */
  removeQuietly(...refs: string[]): void;
  /** `inspect ref`: its one object. */
  inspect(ref: string): InspectJson;
  /** `inspect -f format ref`, trimmed. */
  inspect(ref: string, format: string): string;
  /** "<status> <exit code>" of a container, unchecked (polls call it while things change). */
  status(ref: string): string;
  /** `ps -q …` as a list of ids. */
  psIds(args?: string[]): string[];
  /** Every container's full id (`ps -aq --no-trunc`), sorted; unchecked, like teardown's. */
  allIds(): string[];
  /** The container directories of the root, sorted. */
  containerDirs(): string[];
}

/**
 * The CLI helpers bound to `env`. Test files set their Env in before(): pass a getter,
 * `const { ok, runD, rmf } = cli(() => env);`, and it is read at each call.
 */
export function cli(env: Env | (() => Env)): Cli {
  const e = typeof env === 'function' ? env : () => env;
  const ok = (args: string[], opts?: BerthOpts): Result => {
    const r = e().berth(args, opts);
    assert.equal(r.code, 0, `berth ${args.join(' ')}\n${show(r)}`);
    return r;
  };
  const runDWarned = (args: string[]): { id: string; stderr: string } => {
    const r = ok(['run', '-d', ...args]);
    const id = r.stdout.trim();
    assert.match(id, /^[0-9a-f]{64}$/);
    return { id, stderr: r.stderr };
  };
  function inspect(ref: string): InspectJson;
  function inspect(ref: string, format: string): string;
  function inspect(ref: string, format?: string): InspectJson | string {
    if (format !== undefined) return ok(['inspect', '-f', format, ref]).stdout.trim();
    const arr = JSON.parse(ok(['inspect', ref]).stdout) as InspectJson[];
    assert.equal(arr.length, 1);
    return arr[0]!;
  }
  return {
    ok,
    out: (args, opts) => ok(args, opts).stdout,
    runD: (args) => runDWarned(args).id,
    runDWarned,
    rmf(...refs) {
      if (refs.length === 0) return;
      const r = e().berth(['rm', '-f', ...refs]);
      assert.equal(r.code, 0, `rm -f ${refs.join(' ')}: ${show(r)}`);
    },
    removeQuietly(...refs) {
      e().berth(['rm', '-f', ...refs]);
    },
    inspect,
    status: (ref) => e().berth(['inspect', '-f', '{{.State.Status}} {{.State.ExitCode}}', ref]).stdout.trim(),
    psIds: (args = []) => ok(['ps', '-q', ...args]).stdout.split('\n').filter(Boolean),
    allIds: () => e().berth(['ps', '-aq', '--no-trunc']).stdout.split('\n').filter(Boolean).sort(),
    containerDirs() {
      const d = join(e().root, 'containers');
      return existsSync(d) ? readdirSync(d).sort() : [];
    },
  };
}

/** Run a command without blocking this process; its output is collected. `input` (if any) is its stdin. */
export function runAsync(cmd: string, args: string[], opts: { env?: NodeJS.ProcessEnv; input?: string } = {}): Promise<Result> {
  return new Promise((resolve, reject) => {
    const c = spawn(cmd, args, { env: opts.env ?? process.env, stdio: [opts.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    c.stdout!.on('data', (b: Buffer) => (stdout += b.toString()));
    c.stderr!.on('data', (b: Buffer) => (stderr += b.toString()));
    c.on('error', reject);
    c.on('close', (code) => resolve({ code: code ?? 128, stdout, stderr }));
    c.stdin?.end(opts.input);
  });
}

/** conmon processes whose command line names `needle` (a container id or an engine root). */
export function conmonsOf(needle: string): number[] {
  const out: number[] = [];
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      if (cmd.startsWith('/usr/bin/conmon\0') && cmd.includes(needle)) out.push(Number(pid));
    } catch {
      /* gone */
    }
  }
  return out;
}

/** Processes of Berth's program `binary` (its path ends /binary) whose command line names `needle`. */
function helpersOf(binary: string, needle: string): number[] {
  const out: number[] = [];
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      if (cmd.split('\0')[0]!.endsWith(`/${binary}`) && cmd.includes(needle)) out.push(Number(pid));
    } catch {
      /* gone */
    }
  }
  return out;
}

/** Log writers (src/logs/writer.ts) whose command line names `needle` (a container id or an engine root). */
export const logWritersOf = (needle: string): number[] => helpersOf('berth-log-writer', needle);

/** Exec monitors (src/runtime/exec-monitor.c) whose command line names `needle`. */
export const execMonitorsOf = (needle: string): number[] => helpersOf('berth-exec-monitor', needle);

/** Processes of `berth system supervise` on this root (src/engine/supervisor.ts). */
export function supervisorsOf(root: string): number[] {
  const out: number[] = [];
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      const args = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
      const at = args.indexOf('--root');
      if (at >= 0 && args[at + 1] === root && args.includes('supervise')) out.push(Number(pid));
    } catch {
      /* gone */
    }
  }
  return out;
}

/** The bridge of a non-default root's default network (src/engine/networks.ts names it so). */
export function rootBridge(root: string): string {
  return `bd-${createHash('sha256').update(root).digest('hex').slice(0, 12)}`;
}

/**
 * Mounts, conmon processes, cgroups and netns that belong to containers of this root: those whose dirs
 * are still there, and `removed` ones (a removed container's dir is gone, its cgroup must be too).
 */
export function leaksUnder(root: string, removed: readonly string[] = []): string[] {
  const out: string[] = [];
  for (const line of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    const mp = line.split(' ')[4];
    if (mp && mp.startsWith(root)) out.push(`mount ${mp}`);
  }
  for (const pid of conmonsOf(root)) out.push(`conmon pid ${pid}`);
  for (const pid of logWritersOf(root)) out.push(`berth-log-writer pid ${pid}`);
  for (const pid of execMonitorsOf(root)) out.push(`berth-exec-monitor pid ${pid}`);
  for (const pid of supervisorsOf(root)) out.push(`supervisor pid ${pid}`);
  const ctrs = existsSync(join(root, 'containers')) ? readdirSync(join(root, 'containers')) : [];
  for (const id of new Set([...ctrs, ...removed])) {
    for (const c of ['memory', 'pids', 'cpu', 'freezer', 'devices', 'unified', '.']) {
      const p = join('/sys/fs/cgroup', c, 'berth', id);
      if (existsSync(p)) out.push(`cgroup ${p}`);
    }
    if (existsSync(`/run/netns/berth-${id.slice(0, 16)}`)) out.push(`netns berth-${id.slice(0, 16)}`);
  }
  return out;
}

/** Every cgroup Berth created anywhere (any root), for the end-of-suite check. */
export function berthCgroups(): string[] {
  const out: string[] = [];
  for (const c of readdirSync('/sys/fs/cgroup')) {
    const p = join('/sys/fs/cgroup', c, 'berth');
    if (existsSync(p)) {
      for (const d of readdirSync(p, { withFileTypes: true })) if (d.isDirectory()) out.push(join(p, d.name));
    }
  }
  const v2 = '/sys/fs/cgroup/berth';
  if (existsSync(join(v2, 'cgroup.procs'))) {
    for (const d of readdirSync(v2, { withFileTypes: true })) if (d.isDirectory()) out.push(join(v2, d.name));
  }
  return out;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Poll until fn returns truthy or the time runs out; returns the last value. */
export async function eventually<T>(fn: () => T, ms = 10_000, every = 50): Promise<T> {
  const end = Date.now() + ms;
  let v = fn();
  while (!v && Date.now() < end) {
    await sleep(every);
    v = fn();
  }
  return v;
}

/** Remove a network's own rules (src/network/bridge-rules.ts) of a bridge a test root took along. */
export function dropBridgeRules(bridge: string): void {
  for (const tool of ['iptables', 'ip6tables']) {
    for (const table of ['filter', 'nat']) {
      const saved = spawnSync(`${tool}-save`, ['-t', table], { encoding: 'utf8' });
      if (saved.status !== 0) continue;
      const st = bridgeRuleDeletions(saved.stdout.split('\n'), bridge);
      if (st.length > 0) spawnSync(`${tool}-restore`, ['--noflush'], { input: `*${table}\n${st.join('\n')}\nCOMMIT\n` });
    }
  }
}

/** Rules of test roots' networks (bridges bd-… and bn-…) still in the host's tables. */
export function testBridgeRules(): string[] {
  const out: string[] = [];
  for (const tool of ['iptables', 'ip6tables']) {
    for (const table of ['filter', 'nat']) {
      const saved = spawnSync(`${tool}-save`, ['-t', table], { encoding: 'utf8' });
      if (saved.status !== 0) continue;
      for (const l of saved.stdout.split('\n')) {
        const m = /--comment "berth (?:bridge|internal) ((?:bd|bn)-[0-9a-f]{12})"/.exec(l);
        if (m) out.push(`${tool} ${table} rule of bridge ${m[1]}`);
      }
    }
  }
  return out;
}
