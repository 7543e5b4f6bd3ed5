// Log bench: what a container's log costs under each of Berth's file log drivers, k8s-file (conmon writes
// the file itself), json-file and local (conmon writes k8s-file records into a FIFO, dist/berth-log-writer
// turns them into docker's format and rotates them), with `--log-driver none` (conmon reads and drops the
// output) as the floor, and docker's json-file on a private dockerd (bench/dockerd.ts) where one is installed.
//
//   node bench/log-bench.ts [--mb N (100)] [--runs N (3)] [--containers N (10)] [--no-dockerd]
//
// 1. Throughput. A busybox container (`--network none`, detached) writes N MB of 71-byte lines to stdout as
//    fast as it can (a 994,000-byte block of lines made in the container, then `cat` N times: ~800 MB/s
//    through a pipe, so the producer is not what is measured). Timed from `run -d` until the container has
//    exited and its log is complete: the writer process gone (json-file, local) and the log file no longer
//    growing (every driver; docker's dockerd writes its file itself). MB/s is the container's output over
//    that time, `run -d` included. Each contender runs twice a round: alone (the exit seen as the container's
//    processes going, from /proc; `wait` afterwards checks the status) and with `wait C` running from
//    `run -d` on (its return is the exit; its CPU is reported: Berth's wait watches the container's
//    directory, where json-file's and k8s-file's logs grow). The bytes stored are counted by decoding the log
//    files here (all rotated files, gunzipped), independently of `berth logs`; the on-disk size is the files'
//    allocated blocks. CPU time of conmon and berth-log-writer (docker: the shim, and dockerd's and
//    containerd's growth over the run) is sampled from /proc/PID/stat every 10 ms while they run, so the last
//    <10 ms of each is missed (the writer's cutime is its gzips); /proc/PID/io gives their write syscalls.
//    After the run alone, `logs C | wc -c` is timed, its byte count checked against what the files hold and
//    its stderr reported.
// 2. Memory. N idle containers (`sleep 300`) per driver; the RSS and PSS (/proc/PID/smaps_rollup) of each
//    conmon and berth-log-writer (docker: each containerd-shim-runc-v2, and dockerd's RSS growth), mean per
//    container.
// Each figure is the median of --runs rounds; the contenders alternate within a round.
//
// Everything is private and removed at the end (also on SIGINT/SIGTERM): a Berth root under /tmp seeded from
// scripts/mkimage-busybox (reset with `system reset -f`, then checked for processes, mounts and the
// containers' cgroups left behind), and the dockerd of bench/dockerd.ts. Results: the table on stdout and
// bench/results/log-latest.json. A measurement, not a test: exits 0 whatever the figures, non-zero only when
// setup or a run fails. Type stripping only: keep this file to erasable TypeScript syntax.

import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, release } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { gunzipSync } from 'node:zlib';
import { dockerdUnavailable, mountsUnder, startDockerd, stopDockerd, type Dockerd } from './dockerd.ts';
import { median } from './stats.ts';

const REPO = resolve(import.meta.dirname, '..');
// The installed berth (scripts/setup's wrapper around this checkout's dist/), else the checkout's launcher.
const BERTH = existsSync('/usr/local/bin/berth') ? '/usr/local/bin/berth' : join(REPO, 'bin', 'berth');
const RESULTS = join(REPO, 'bench', 'results', 'log-latest.json');
const LINE = '0123456789012345678901234567890123456789012345678901234567890123456789'; // 70 + '\n'
const BLOCK_LINES = 14_000; // 994,000 bytes
const BLOCK_BYTES = BLOCK_LINES * (LINE.length + 1);
const CLK_TCK = 100; // USER_HZ on Linux
const BERTH_DRIVERS = ['none', 'k8s-file', 'json-file', 'local'] as const;

interface Options {
  mb: number;
  runs: number;
  containers: number;
  dockerd: boolean;
}

function usage(code: number): never {
  (code === 0 ? process.stdout : process.stderr).write(
    'usage: node bench/log-bench.ts [--mb N] [--runs N] [--containers N] [--no-dockerd]\n' +
      '  --mb N           MB (10^6 bytes, rounded to 994,000-byte blocks) each throughput container writes (default 100)\n' +
      '  --runs N         rounds of each measurement; medians are reported (default 3)\n' +
      '  --containers N   idle containers per driver for the memory figures (default 10)\n' +
      '  --no-dockerd     skip docker\'s json-file baseline\n',
  );
  process.exit(code);
}

function parseArgs(argv: string[]): Options {
  const o: Options = { mb: 100, runs: 3, containers: 10, dockerd: true };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--no-dockerd') o.dockerd = false;
    else if (a === '-h' || a === '--help') usage(0);
    else if (a === '--mb' || a === '--runs' || a === '--containers') {
      const n = Number(argv[++i]);
      const max = a === '--mb' ? 10_000 : a === '--runs' ? 50 : 200;
      if (!Number.isInteger(n) || n < 1 || n > max) {
        process.stderr.write(`log-bench: ${a} needs an integer from 1 to ${max}\n`);
        usage(2);
      }
      if (a === '--mb') o.mb = n;
      else if (a === '--runs') o.runs = n;
      else o.containers = n;
    } else {
      process.stderr.write(`log-bench: unknown argument: ${a}\n`);
      usage(2);
    }
  }
  return o;
}

const lastLine = (s: string): string => s.trim().split('\n').filter(Boolean).pop()?.trim() ?? '';

/** Run to completion; throws with the command's last line of stderr when it fails. */
function must(argv: string[], timeout = 120_000): string {
  const r = spawnSync(argv[0]!, argv.slice(1), { encoding: 'utf8', timeout, maxBuffer: 16 << 20 });
  if (r.error || r.status !== 0) {
    const why = r.error ? r.error.message : r.signal ? `killed by ${r.signal}` : `exit ${r.status}`;
    throw new Error(`\`${argv.join(' ')}\` failed (${why}): ${lastLine(r.stderr || r.stdout)}`);
  }
  return r.stdout;
}

/** Run asynchronously (so the 10 ms sampler keeps running): its pid, and its status and output once it ends. */
function run(argv: string[]): { pid: number | undefined; result: Promise<{ status: number | null; stdout: string; stderr: string }> } {
  const c = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
  const result = new Promise<{ status: number | null; stdout: string; stderr: string }>((done) => {
    let stdout = '';
    let stderr = '';
    c.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    c.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    c.on('error', (e) => done({ status: null, stdout, stderr: e.message }));
    c.on('close', (status) => done({ status, stdout, stderr }));
  });
  return { pid: c.pid, result };
}

// --- /proc ------------------------------------------------------------------------------------------------

function statFields(pid: number): string[] | undefined {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return s.slice(s.lastIndexOf(')') + 2).split(' '); // [0] is the state, [11]/[12] utime/stime
  } catch {
    return undefined;
  }
}

/** Alive and not a zombie. */
function alive(pid: number): boolean {
  const f = statFields(pid);
  return f !== undefined && f[0] !== 'Z' && f[0] !== 'X';
}

/** utime + stime in seconds, or undefined once it is gone. */
function cpuSeconds(pid: number): number | undefined {
  const f = statFields(pid);
  return f ? (Number(f[11]) + Number(f[12])) / CLK_TCK : undefined;
}

/** cutime + cstime: the CPU of the children it has waited for (the writer's gzips), in seconds. */
function childCpuSeconds(pid: number): number | undefined {
  const f = statFields(pid);
  return f ? (Number(f[13]) + Number(f[14])) / CLK_TCK : undefined;
}

/** Write syscalls and bytes (/proc/PID/io). */
function ioCounts(pid: number): { syscw: number; wchar: number } | undefined {
  try {
    const t = readFileSync(`/proc/${pid}/io`, 'utf8');
    return { syscw: Number(/syscw: (\d+)/.exec(t)![1]), wchar: Number(/wchar: (\d+)/.exec(t)![1]) };
  } catch {
    return undefined;
  }
}

/** Rss and Pss in KiB (/proc/PID/smaps_rollup). */
function memKiB(pid: number): { rss: number; pss: number } {
  const t = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
  return { rss: Number(/^Rss:\s+(\d+) kB/m.exec(t)![1]), pss: Number(/^Pss:\s+(\d+) kB/m.exec(t)![1]) };
}

function rssKiB(pid: number): number {
  return Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]);
}

interface Proc {
  pid: number;
  ppid: number;
  comm: string;
  args: string[];
}

function processes(): Proc[] {
  const out: Proc[] = [];
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e) || Number(e) === process.pid) continue;
    try {
      const pid = Number(e);
      const f = statFields(pid);
      if (!f || f[0] === 'Z' || f[0] === 'X') continue;
      out.push({ pid, ppid: Number(f[1]), comm: readFileSync(`/proc/${e}/comm`, 'utf8').trim(), args: readFileSync(`/proc/${e}/cmdline`, 'utf8').split('\0') });
    } catch {
      /* gone */
    }
  }
  return out;
}

/** The live processes named `comm` (as /proc/PID/comm has it: 15 characters) whose command line names `id`. */
function procsFor(all: Proc[], comm: string, id: string): number[] {
  return all.filter((p) => p.comm === comm && p.args.some((a) => a.includes(id))).map((p) => p.pid);
}

/** Samples CPU and write counters of some processes every 10 ms, keeping the last reading of each. */
class Sampler {
  private timer: ReturnType<typeof setInterval> | undefined;
  readonly cpu = new Map<number, number>();
  readonly childCpu = new Map<number, number>();
  readonly io = new Map<number, { syscw: number; wchar: number }>();
  private pids: number[] = [];

  watch(pids: number[]): void {
    this.pids.push(...pids);
    this.sample();
    this.timer ??= setInterval(() => this.sample(), 10);
  }

  sample(): void {
    for (const p of this.pids) {
      const c = cpuSeconds(p);
      if (c !== undefined) this.cpu.set(p, c);
      const cc = childCpuSeconds(p);
      if (cc !== undefined) this.childCpu.set(p, cc);
      const io = ioCounts(p);
      if (io) this.io.set(p, io);
    }
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  cpuOf(pids: number[]): number {
    return pids.reduce((s, p) => s + (this.cpu.get(p) ?? 0), 0);
  }

  childCpuOf(pids: number[]): number {
    return pids.reduce((s, p) => s + (this.childCpu.get(p) ?? 0), 0);
  }

  syscwOf(pids: number[]): number {
    return pids.reduce((s, p) => s + (this.io.get(p)?.syscw ?? 0), 0);
  }
}

// --- the log files ----------------------------------------------------------------------------------------

/** The log's files: the current one and its rotated ones (PATH.N, PATH.N.gz). */
function logFiles(path: string): string[] {
  let names: string[];
  try {
    names = readdirSync(dirname(path));
  } catch {
    return [];
  }
  const base = basename(path);
  return names.filter((n) => n === base || new RegExp(`^${base.replace(/[.]/g, '\\.')}\\.\\d+(\\.gz)?$`).test(n)).map((n) => join(dirname(path), n));
}

function diskBytes(files: string[]): { apparent: number; allocated: number } {
  let apparent = 0;
  let allocated = 0;
  for (const f of files) {
    try {
      const st = statSync(f);
      apparent += st.size;
      allocated += st.blocks * 512;
    } catch {
      /* gone */
    }
  }
  return { apparent, allocated };
}

function fileSize(path: string): number {
  try {
    return statSync(path).size;
  } catch {
    return -1;
  }
}

/** The container output a log's files hold (what `logs` would print), decoded here from the driver's format. */
function storedBytes(driver: string, files: string[]): number {
  let total = 0;
  for (const f of files) {
    let b = readFileSync(f);
    if (f.endsWith('.gz')) b = gunzipSync(b);
    if (driver === 'k8s-file') total += k8sBytes(b);
    else if (driver === 'json-file') total += jsonFileBytes(b);
    else if (driver === 'local') total += localBytes(b);
  }
  return total;
}

/** k8s-file: `TIME STREAM F|P DATA\n`; a full (F) record's line ends with a newline that DATA lacks. */
function k8sBytes(b: Buffer): number {
  let n = 0;
  for (let at = 0; at < b.length; ) {
    let nl = b.indexOf(0x0a, at);
    if (nl < 0) nl = b.length;
    const s1 = b.indexOf(0x20, at);
    const s2 = s1 >= 0 && s1 < nl ? b.indexOf(0x20, s1 + 1) : -1;
    if (s2 >= 0 && s2 < nl) {
      const tag = b[s2 + 1];
      const dataAt = Math.min(s2 + 3, nl);
      n += nl - dataAt + (tag === 0x46 /* F */ ? 1 : 0);
    }
    at = nl + 1;
  }
  return n;
}

/** json-file: one JSON object a line, its "log" the bytes (with the line's newline). */
function jsonFileBytes(b: Buffer): number {
  let n = 0;
  for (let at = 0; at < b.length; ) {
    let nl = b.indexOf(0x0a, at);
    if (nl < 0) nl = b.length;
    if (nl > at) {
      const rec = JSON.parse(b.toString('utf8', at, nl)) as { log?: string };
      if (rec.log) n += Buffer.byteLength(rec.log);
    }
    at = nl + 1;
  }
  return n;
}

function varint(b: Buffer, at: number): [number, number] {
  let v = 0;
  let mul = 1;
  for (;;) {
    const c = b[at++]!;
    v += (c & 0x7f) * mul;
    if (c < 0x80) return [v, at];
    mul *= 128;
  }
}

/** local: size, a LogEntry protobuf (3: the line's bytes without its newline, 4: partial), size. */
function localBytes(b: Buffer): number {
  let n = 0;
  for (let at = 0; at + 4 <= b.length; ) {
    const size = b.readUInt32BE(at);
    const end = at + 4 + size;
    let data = 0;
    let partial = false;
    for (let p = at + 4; p < end; ) {
      let key: number;
      [key, p] = varint(b, p);
      const wire = key & 7;
      const field = key >>> 3;
      if (wire === 0) {
        let v: number;
        [v, p] = varint(b, p);
        if (field === 4) partial = v !== 0;
      } else if (wire === 2) {
        let len: number;
        [len, p] = varint(b, p);
        if (field === 3) data = len;
        p += len;
      } else throw new Error(`local log: unexpected wire type ${wire}`);
    }
    n += data + (partial ? 0 : 1);
    at = end + 4;
  }
  return n;
}

// --- contenders -------------------------------------------------------------------------------------------

interface Engine {
  name: string; // the contender's label
  driver: string;
  cli: string[];
  runFlags: string[];
  /** The monitor's and the log writer's processes of a container (docker: the shim). */
  monitors(all: Proc[], id: string): number[];
  writers(all: Proc[], id: string): number[];
  /** Long-lived processes whose CPU growth over a run counts (docker: dockerd, containerd). */
  daemons: number[];
  logPath(id: string): string | null;
}

function berthEngine(root: string, driver: string): Engine {
  const cli = [BERTH, '--root', root];
  return {
    name: driver === 'none' ? 'berth none (floor)' : `berth ${driver}`,
    driver,
    cli,
    runFlags: ['--network', 'none', '--log-driver', driver],
    monitors: (all, id) => procsFor(all, 'conmon', id),
    writers: (all, id) => procsFor(all, 'berth-log-write', id),
    daemons: [],
    logPath: (id) => {
      if (driver === 'none') return null;
      if (driver === 'local') return join(root, 'containers', id, 'local-logs', 'container.log');
      return must([...cli, 'inspect', '-f', '{{.LogPath}}', id]).trim();
    },
  };
}

function dockerEngine(d: Dockerd, containerd: number): Engine {
  return {
    name: `docker ${d.version} json-file`,
    driver: 'json-file',
    cli: d.docker,
    runFlags: ['--network', 'none', '--log-driver', 'json-file'],
    monitors: (all, id) => procsFor(all, 'containerd-shim', id),
    writers: () => [],
    daemons: [d.proc.pid!, containerd],
    logPath: (id) => must([...d.docker, 'inspect', '-f', '{{.LogPath}}', id]).trim(),
  };
}

/** berth-log-writer runs beside each json-file and local container of Berth's. */
const expectedWriters = (e: Engine): number => (e.name.startsWith('berth') && (e.driver === 'json-file' || e.driver === 'local') ? 1 : 0);

interface ThroughputRun {
  /** Whether `wait C` ran alongside (what a foreground `run` or a waiting script costs while the container logs). */
  waiter: boolean;
  runDMs: number;
  wallS: number;
  mbPerS: number;
  outputBytes: number;
  storedBytes: number;
  diskApparent: number;
  diskAllocated: number;
  logFiles: number;
  monitorCpuS: number;
  writerCpuS: number;
  /** The writer's waited-for children: local's (and a compressing json-file's) gzips. */
  gzipCpuS: number;
  waiterCpuS: number | null;
  daemonCpuS: number;
  monitorWrites: number;
  writerWrites: number;
  daemonWrites: number;
  logsS: number | null;
  logsBytes: number | null;
  logsOk: boolean | null;
  logsError: string | null;
}

const daemonTotals = (e: Engine) => ({
  cpu: e.daemons.reduce((s, p) => s + (cpuSeconds(p) ?? 0), 0),
  syscw: e.daemons.reduce((s, p) => s + (ioCounts(p)?.syscw ?? 0), 0),
});

/**
 * One throughput run. With `waiter`, `wait C` runs from `run -d` on and its return counts as the exit;
 * without, nothing but this bench (which only reads /proc and stats the log file) watches the container,
 * and the exit is its processes (the monitor's children) going away; `wait` afterwards checks the status.
 * `readLogs`: then also time `logs C | wc -c`.
 */
async function throughputOnce(e: Engine, blocks: number, waiter: boolean, readLogs: boolean): Promise<ThroughputRun> {
  const outputBytes = blocks * BLOCK_BYTES;
  const script = `yes ${LINE} | head -n ${BLOCK_LINES} > /tmp/block; i=0; while [ $i -lt ${blocks} ]; do cat /tmp/block; i=$((i+1)); done`;
  const daemon0 = daemonTotals(e);
  const t0 = performance.now();
  const id = must([...e.cli, 'run', '-d', ...e.runFlags, 'busybox', 'sh', '-c', script]).trim();
  const tRun = performance.now();
  try {
    const sampler = new Sampler();
    const all = processes();
    const monitors = e.monitors(all, id);
    const writers = e.writers(all, id);
    if (monitors.length !== 1) throw new Error(`${e.name}: ${monitors.length} monitor processes for ${id.slice(0, 12)}`);
    if (writers.length !== expectedWriters(e)) throw new Error(`${e.name}: ${writers.length} writer processes for ${id.slice(0, 12)}`);
    // The container's processes: the monitor's children (the runtime has exited once `run -d` returned).
    const inits = all.filter((p) => p.ppid === monitors[0]).map((p) => p.pid);
    let waiting: Promise<{ status: number | null; stdout: string; stderr: string }> | undefined;
    let waiterPid: number | undefined;
    if (waiter) {
      const w = run([...e.cli, 'wait', id]);
      waiting = w.result;
      waiterPid = w.pid;
    }
    sampler.watch([...monitors, ...writers, ...(waiterPid ? [waiterPid] : [])]);
    const path = e.logPath(id);
    // Exited: `wait` returned, or (no waiter) the container's processes are gone.
    if (waiting) {
      const w = await waiting;
      if (w.status !== 0 || w.stdout.trim() !== '0') throw new Error(`${e.name}: wait ${id.slice(0, 12)}: exit ${w.status}, status ${w.stdout.trim()}: ${lastLine(w.stderr)}`);
    } else {
      for (const until = performance.now() + 600_000; inits.some(alive); ) {
        if (performance.now() > until) throw new Error(`${e.name}: ${id.slice(0, 12)} still running after 10 minutes`);
        await sleep(5);
      }
    }
    const tExit = performance.now();
    // Complete once the writer is gone and the file has not grown for 300 ms; the time is when it last grew.
    let tDone = tExit;
    let size = path ? fileSize(path) : -1;
    let stableSince = performance.now();
    for (const until = performance.now() + 60_000; ; ) {
      await sleep(5);
      const now = performance.now();
      const writing = writers.filter(alive);
      if (writing.length > 0) tDone = now;
      const s = path ? fileSize(path) : -1;
      if (s !== size) {
        size = s;
        tDone = now;
        stableSince = now;
      }
      if (writing.length === 0 && now - stableSince >= 300) break;
      if (now > until) throw new Error(`${e.name}: the log of ${id.slice(0, 12)} was still being written a minute after the container exited`);
    }
    sampler.sample();
    sampler.stop();
    const daemon1 = daemonTotals(e);
    if (!waiter) {
      const st = must([...e.cli, 'wait', id]).trim();
      if (st !== '0') throw new Error(`${e.name}: ${id.slice(0, 12)} exited ${st}`);
    }
    const files = path ? logFiles(path) : [];
    const disk = diskBytes(files);
    const stored = path ? storedBytes(e.driver, files) : 0;
    let logs: { s: number; bytes: number; ok: boolean; error: string | null } | null = null;
    if (path && readLogs) {
      const q = (a: string) => `'${a.replace(/'/g, `'\\''`)}'`;
      const t = performance.now();
      const r = spawnSync('sh', ['-c', `${[...e.cli, 'logs', id].map(q).join(' ')} | wc -c`], { encoding: 'utf8', timeout: 300_000, maxBuffer: 64 << 20 });
      const s = (performance.now() - t) / 1000;
      const bytes = Number(r.stdout.trim());
      // sh's status is wc's: the CLI's failure shows on its stderr.
      const errLines = r.stderr.split('\n').map((l) => l.trim()).filter(Boolean);
      const error = r.error ? r.error.message : errLines.length > 0 ? (errLines.find((l) => /^(berth:|\w*Error\b)/.test(l)) ?? errLines[0]!) : null;
      // A rotating log prints what its files kept.
      logs = { s, bytes, ok: error === null && bytes === stored, error };
    }
    const wallS = (tDone - t0) / 1000;
    return {
      waiter,
      runDMs: tRun - t0,
      wallS,
      mbPerS: outputBytes / 1e6 / wallS,
      outputBytes,
      storedBytes: stored,
      diskApparent: disk.apparent,
      diskAllocated: disk.allocated,
      logFiles: files.length,
      monitorCpuS: sampler.cpuOf(monitors),
      writerCpuS: sampler.cpuOf(writers),
      gzipCpuS: sampler.childCpuOf(writers),
      waiterCpuS: waiterPid ? sampler.cpuOf([waiterPid]) : null,
      daemonCpuS: daemon1.cpu - daemon0.cpu,
      monitorWrites: sampler.syscwOf(monitors),
      writerWrites: sampler.syscwOf(writers),
      daemonWrites: daemon1.syscw - daemon0.syscw,
      logsS: logs?.s ?? null,
      logsBytes: logs?.bytes ?? null,
      logsOk: logs?.ok ?? null,
      logsError: logs?.error ?? null,
    };
  } finally {
    must([...e.cli, 'rm', '-f', id]);
  }
}

interface MemoryRound {
  monitorRss: number;
  monitorPss: number;
  writerRss: number;
  writerPss: number;
  daemonRssDelta: number;
}

/** N idle containers: the mean per container of the monitor's and writer's RSS and PSS, in KiB. */
async function memoryOnce(e: Engine, n: number): Promise<MemoryRound> {
  const ids: string[] = [];
  const daemon = e.daemons[0];
  const rss0 = daemon ? rssKiB(daemon) : 0;
  try {
    for (let i = 0; i < n; i++) ids.push(must([...e.cli, 'run', '-d', ...e.runFlags, 'busybox', 'sleep', '300']).trim());
    await sleep(1000);
    const all = processes();
    const sum = { monitorRss: 0, monitorPss: 0, writerRss: 0, writerPss: 0 };
    for (const id of ids) {
      const mons = e.monitors(all, id);
      if (mons.length !== 1) throw new Error(`${e.name}: ${mons.length} monitor processes for ${id.slice(0, 12)}`);
      const wrs = e.writers(all, id);
      if (wrs.length !== expectedWriters(e)) throw new Error(`${e.name}: ${wrs.length} writer processes for ${id.slice(0, 12)}`);
      for (const p of mons) {
        const m = memKiB(p);
        sum.monitorRss += m.rss;
        sum.monitorPss += m.pss;
      }
      for (const p of wrs) {
        const m = memKiB(p);
        sum.writerRss += m.rss;
        sum.writerPss += m.pss;
      }
    }
    return {
      monitorRss: sum.monitorRss / n,
      monitorPss: sum.monitorPss / n,
      writerRss: sum.writerRss / n,
      writerPss: sum.writerPss / n,
      daemonRssDelta: daemon ? (rssKiB(daemon) - rss0) / n : 0,
    };
  } finally {
    if (ids.length > 0) must([...e.cli, 'rm', '-f', ...ids]);
  }
}

// --- cleanup ----------------------------------------------------------------------------------------------

const opts = parseArgs(process.argv.slice(2));
const root = mkdtempSync('/tmp/berth-logbench-');
const work = mkdtempSync('/tmp/berth-logbench-work-');
let dockerd: Dockerd | undefined;
let cleanedUp = false;

/** Reset the root and check what it left: processes naming it, mounts under it, the containers' cgroups. */
function cleanup(): string[] {
  if (cleanedUp) return [];
  cleanedUp = true;
  const left: string[] = [];
  const ids = existsSync(join(root, 'containers')) ? readdirSync(join(root, 'containers')) : [];
  const reset = spawnSync(BERTH, ['--root', root, 'system', 'reset', '-f'], { encoding: 'utf8', timeout: 120_000 });
  if (reset.status !== 0) left.push(`system reset -f failed: ${lastLine(reset.stderr)}`);
  const sleepSync = (ms: number) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
  let procs: Proc[] = [];
  for (let i = 0; i < 50; i++) {
    procs = processes().filter((p) => p.args.some((a) => a.includes(root)));
    if (procs.length === 0) break;
    sleepSync(100);
  }
  if (procs.length > 0) left.push(`processes still naming the root: ${procs.map((p) => `${p.pid} ${p.comm}`).join(', ')}`);
  const mounts = mountsUnder(root);
  if (mounts.length > 0) left.push(`mounts under the root: ${mounts.join(' ')}`);
  const cgroups: string[] = [];
  for (const ctl of readdirSync('/sys/fs/cgroup')) {
    for (const id of ids) {
      const d = join('/sys/fs/cgroup', ctl, 'berth', id);
      if (existsSync(d)) cgroups.push(d);
    }
  }
  if (cgroups.length > 0) left.push(`cgroups left: ${cgroups.slice(0, 5).join(' ')}${cgroups.length > 5 ? ` and ${cgroups.length - 5} more` : ''}`);
  if (mounts.length === 0) rmSync(root, { recursive: true, force: true });
  rmSync(work, { recursive: true, force: true });
  if (dockerd) left.push(...stopDockerd(dockerd).map((l) => `dockerd: ${l}`));
  return left;
}

for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.on(sig, () => {
    for (const l of cleanup()) process.stderr.write(`log-bench: cleanup: ${l}\n`);
    process.exit(128 + (sig === 'SIGINT' ? 2 : sig === 'SIGTERM' ? 15 : 1));
  });
}

// --- main -------------------------------------------------------------------------------------------------

const mib = (b: number) => (b / 1048576).toFixed(1);
const pad = (s: string, w: number) => s.padStart(w);

async function main(): Promise<void> {
  const blocks = Math.max(1, Math.round((opts.mb * 1e6) / BLOCK_BYTES));
  const outputBytes = blocks * BLOCK_BYTES;
  console.log(`log bench: ${(outputBytes / 1e6).toFixed(1)} MB of 71-byte lines per throughput run, ${opts.containers} idle containers per driver for memory, ${opts.runs} rounds, medians`);
  const load0 = loadavg()[0]!;
  console.log(`host: Linux ${release()}, ${cpus().length} cpu (${cpus()[0]?.model ?? '?'}), load ${load0.toFixed(2)}, node ${process.version}; berth ${BERTH}`);
  const tar = join(work, 'busybox.tar');
  must(['bash', join(REPO, 'scripts', 'mkimage-busybox'), tar]);
  must([BERTH, '--root', root, 'import', '--change', 'CMD ["sh"]', tar, 'busybox:latest']);
  const info = must([BERTH, '--root', root, 'info']);
  const runtime = /Default Runtime: (\S+)/.exec(info)?.[1] ?? '?';
  const conmonVersion = lastLine(spawnSync('conmon', ['--version'], { encoding: 'utf8' }).stdout.split('\n')[0] ?? '');
  console.log(`berth: runtime ${runtime}, ${conmonVersion}, root ${root}`);

  const engines: Engine[] = BERTH_DRIVERS.map((d) => berthEngine(root, d));
  const skipped: Record<string, string> = {};
  const why = opts.dockerd ? dockerdUnavailable() : 'not asked for (--no-dockerd)';
  if (why) {
    skipped.docker = why;
    console.log(`docker: not measured: ${why}`);
  } else {
    dockerd = await startDockerd('/tmp/berth-logbench-dockerd-');
    must([...dockerd.docker, 'import', '--change', 'CMD ["sh"]', tar, 'busybox:latest']);
    const containerd = processes().find((p) => p.comm === 'containerd' && p.args.some((a) => a.includes(dockerd!.dir)));
    if (!containerd) throw new Error("dockerd's containerd not found");
    engines.push(dockerEngine(dockerd, containerd.pid));
  }

  // Warm-up: one small run each (page cache, first-run costs).
  for (const e of engines) await throughputOnce(e, 2, false, false);

  const tp = new Map<string, { alone: ThroughputRun[]; waited: ThroughputRun[] }>(engines.map((e) => [e.name, { alone: [], waited: [] }]));
  for (let r = 0; r < opts.runs; r++) {
    for (const e of engines) {
      for (const waiter of [false, true]) {
        const x = await throughputOnce(e, blocks, waiter, !waiter);
        const t = tp.get(e.name)!;
        (waiter ? t.waited : t.alone).push(x);
        console.log(`  round ${r + 1} ${`${e.name}${waiter ? ' + wait' : ''}`.padEnd(40)} ${x.wallS.toFixed(2)} s, ${x.mbPerS.toFixed(1)} MB/s` +
          (e.driver !== 'none' ? `, stored ${x.storedBytes} B` : '') +
          (x.logsS !== null ? `; logs ${x.logsS.toFixed(2)} s, ${x.logsBytes} B${x.logsError ? ` (${x.logsError})` : ''}` : ''));
      }
    }
  }

  const memEngines = engines.filter((e) => e.driver !== 'none');
  const mem = new Map<string, MemoryRound[]>(memEngines.map((e) => [e.name, []]));
  for (let r = 0; r < opts.runs; r++) {
    for (const e of memEngines) mem.get(e.name)!.push(await memoryOnce(e, opts.containers));
  }

  // --- report ---------------------------------------------------------------------------------------------
  const med = (xs: (number | null)[]) => {
    const v = xs.filter((x): x is number => x !== null);
    return v.length > 0 ? median(v) : null;
  };
  const tpSummary = engines.map((e) => {
    const { alone, waited } = tp.get(e.name)!;
    const pick = (f: (x: ThroughputRun) => number | null, runs = alone) => med(runs.map(f));
    const berth = e.name.startsWith('berth');
    return {
      name: e.name,
      driver: e.driver,
      run_d_ms: pick((x) => x.runDMs),
      wall_s: pick((x) => x.wallS),
      mb_per_s: pick((x) => x.mbPerS),
      with_wait: {
        wall_s: pick((x) => x.wallS, waited),
        mb_per_s: pick((x) => x.mbPerS, waited),
        wait_cpu_s: pick((x) => x.waiterCpuS, waited),
        monitor_cpu_s: pick((x) => x.monitorCpuS, waited),
        writer_cpu_s: berth ? pick((x) => x.writerCpuS, waited) : null,
        daemon_cpu_s: e.daemons.length > 0 ? pick((x) => x.daemonCpuS, waited) : null,
      },
      output_bytes: outputBytes,
      stored_bytes: pick((x) => x.storedBytes),
      stored_complete: e.driver === 'none' ? null : [...alone, ...waited].every((x) => x.storedBytes === outputBytes),
      disk_apparent_bytes: pick((x) => x.diskApparent),
      disk_allocated_bytes: pick((x) => x.diskAllocated),
      log_files: pick((x) => x.logFiles),
      monitor_cpu_s: pick((x) => x.monitorCpuS),
      writer_cpu_s: berth ? pick((x) => x.writerCpuS) : null,
      gzip_cpu_s: berth ? pick((x) => x.gzipCpuS) : null,
      daemon_cpu_s: e.daemons.length > 0 ? pick((x) => x.daemonCpuS) : null,
      monitor_write_syscalls: pick((x) => x.monitorWrites),
      writer_write_syscalls: berth ? pick((x) => x.writerWrites) : null,
      daemon_write_syscalls: e.daemons.length > 0 ? pick((x) => x.daemonWrites) : null,
      logs_s: pick((x) => x.logsS),
      logs_bytes: pick((x) => x.logsBytes),
      logs_ok_runs: e.driver === 'none' ? null : alone.filter((x) => x.logsOk).length,
      logs_errors: [...new Set(alone.map((x) => x.logsError).filter((x): x is string => x !== null))],
      runs: { alone, with_wait: waited },
    };
  });
  const memSummary = memEngines.map((e) => {
    const rounds = mem.get(e.name)!;
    const pick = (f: (x: MemoryRound) => number) => median(rounds.map(f));
    return {
      name: e.name,
      monitor: e.name.startsWith('docker') ? 'containerd-shim-runc-v2' : 'conmon',
      monitor_rss_kib: pick((x) => x.monitorRss),
      monitor_pss_kib: pick((x) => x.monitorPss),
      writer_rss_kib: pick((x) => x.writerRss),
      writer_pss_kib: pick((x) => x.writerPss),
      total_rss_kib: pick((x) => x.monitorRss + x.writerRss),
      total_pss_kib: pick((x) => x.monitorPss + x.writerPss),
      dockerd_rss_delta_kib: e.daemons.length > 0 ? pick((x) => x.daemonRssDelta) : null,
      rounds,
    };
  });

  const f = (x: number | null, d = 2) => (x === null ? '-' : x.toFixed(d));
  const table = (head: string[], widths: number[], rows: string[][]) => {
    const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[0]!) : pad(c, widths[i]!))).join('');
    console.log(line(head));
    for (const r of rows) console.log(line(r));
  };
  console.log('');
  console.log(`throughput: ${(outputBytes / 1e6).toFixed(1)} MB of container output, from \`run -d\` until exited and the log complete (median of ${opts.runs})`);
  table(
    ['contender', 'run -d ms', 'wall s', 'MB/s', 'stored', 'disk MiB', 'files', 'mon CPU s', 'wr CPU s', 'gzip CPU s', 'dmn CPU s', 'mon writes', 'wr writes'],
    [34, 10, 8, 8, 9, 10, 6, 10, 9, 11, 10, 11, 11],
    tpSummary.map((s) => {
      const none = s.driver === 'none';
      return [
        s.name, f(s.run_d_ms, 0), f(s.wall_s), f(s.mb_per_s, 1),
        none ? '-' : s.stored_complete ? 'all' : `${mib(s.stored_bytes!)}Mi`,
        none ? '-' : mib(s.disk_allocated_bytes!), none ? '-' : String(s.log_files),
        f(s.monitor_cpu_s), f(s.writer_cpu_s), f(s.gzip_cpu_s), f(s.daemon_cpu_s),
        f(s.monitor_write_syscalls, 0), f(s.writer_write_syscalls ?? s.daemon_write_syscalls, 0),
      ];
    }),
  );
  console.log('  nothing else watching the container. mon = conmon (docker: containerd-shim); wr = berth-log-writer (docker:');
  console.log('  its writer is dockerd); gzip = the writer\'s compressing children; dmn = dockerd + containerd CPU over the run;');
  console.log('  writes = write(2)-family syscalls (/proc/PID/io syscw; docker\'s "wr writes" are dockerd\'s + containerd\'s);');
  console.log('  stored = the output decoded back from the log files ("all": every byte); disk = allocated blocks of the log files');
  console.log('');
  console.log('the same with `wait C` running from `run -d` on (as `run` in the foreground, or a script waiting, would be)');
  table(
    ['contender', 'wall s', 'MB/s', 'vs alone', 'wait CPU s', 'mon CPU s', 'wr CPU s', 'dmn CPU s'],
    [34, 8, 8, 10, 11, 10, 9, 10],
    tpSummary.map((s) => [
      s.name, f(s.with_wait.wall_s), f(s.with_wait.mb_per_s, 1),
      s.with_wait.mb_per_s !== null && s.mb_per_s !== null ? `${((s.with_wait.mb_per_s / s.mb_per_s - 1) * 100).toFixed(0)}%` : '-',
      f(s.with_wait.wait_cpu_s), f(s.with_wait.monitor_cpu_s), f(s.with_wait.writer_cpu_s), f(s.with_wait.daemon_cpu_s),
    ]),
  );
  console.log('  a waiter\'s CPU is what watching for the exit costs while the container logs (berth\'s watches the exit dir only)');
  console.log('');
  console.log(`reading it back: \`logs C | wc -c\` after the run (should print what the files keep: all ${outputBytes} bytes but for local)`);
  table(
    ['contender', 'logs s', 'MB/s', 'bytes', 'ok runs', '  error'],
    [34, 8, 8, 12, 9, 0],
    tpSummary.filter((s) => s.driver !== 'none').map((s) => [
      s.name, f(s.logs_s), s.logs_s === null || !s.logs_ok_runs ? '-' : f(outputBytes / 1e6 / s.logs_s, 1), f(s.logs_bytes, 0),
      `${s.logs_ok_runs}/${opts.runs}`, s.logs_errors.length > 0 ? `  ${s.logs_errors.join('; ')}` : '',
    ]),
  );
  console.log('  (a rotating driver keeps only its last files: local\'s defaults are 5 files of 20 MiB; its "bytes" is what is kept)');

  console.log('');
  console.log(`memory: per idle container (\`sleep 300\`), ${opts.containers} running per driver, KiB (median of ${opts.runs} rounds of the mean)`);
  table(
    ['contender', 'monitor', 'mon RSS', 'mon PSS', 'wr RSS', 'wr PSS', 'sum RSS', 'sum PSS', 'dockerd ΔRSS'],
    [34, 25, 9, 9, 9, 9, 9, 9, 14],
    memSummary.map((s) => {
      const hasWriter = s.name === 'berth json-file' || s.name === 'berth local';
      return [
        s.name, s.monitor, f(s.monitor_rss_kib, 0), f(s.monitor_pss_kib, 0),
        hasWriter ? f(s.writer_rss_kib, 0) : '-', hasWriter ? f(s.writer_pss_kib, 0) : '-',
        f(s.total_rss_kib, 0), f(s.total_pss_kib, 0), f(s.dockerd_rss_delta_kib, 0),
      ];
    }),
  );
  console.log('  docker\'s json-file writer runs inside dockerd: its growth per container is the last column');


  // Other work on the host skews every figure here: say how busy it was.
  const load1 = loadavg()[0]!;
  console.log('');
  console.log(`host load (1 min) ${load0.toFixed(2)} at the start, ${load1.toFixed(2)} at the end, on ${cpus().length} cpu`);
  const result = {
    date: new Date().toISOString(),
    host: { kernel: release(), cpus: cpus().length, cpu_model: cpus()[0]?.model ?? null, node: process.version, load_start: load0, load_end: load1 },
    berth: BERTH,
    runtime,
    conmon: conmonVersion,
    dockerd: dockerd?.version ?? null,
    options: opts,
    output_bytes: outputBytes,
    producer: `sh -c 'yes <70 digits> | head -n ${BLOCK_LINES} > /tmp/block; cat /tmp/block ${blocks} times'`,
    throughput: tpSummary,
    memory: memSummary,
    skipped,
  };
  mkdirSync(dirname(RESULTS), { recursive: true });
  writeFileSync(RESULTS, JSON.stringify(result, null, 2) + '\n');
  console.log('');
  console.log(`results: bench/results/${basename(RESULTS)}`);
}

let code = 0;
try {
  await main();
} catch (e) {
  process.stderr.write(`log-bench: ${e instanceof Error ? e.message : String(e)}\n`);
  code = 1;
} finally {
  const left = cleanup();
  if (left.length > 0) {
    for (const l of left) process.stderr.write(`log-bench: cleanup: ${l}\n`);
    code = code || 1;
  } else console.log('cleanup: root reset and removed; no processes, mounts or container cgroups left');
}
process.exit(code);
