/**
 * `stats`: docker's Engine API stats JSON (GET /containers/{id}/stats) built from a container's cgroup, the
 * host's /proc/stat and the container's network namespace (/proc/<init pid>/net/dev), and the docker CLI's
 * derived row (CPU %, memory less cache, NET I/O, BLOCK I/O, PIDs).
 *
 * Nothing here needs an Engine: callers hand in ContainerRow-like targets and the host's CgroupInfo, and
 * tests point cgroupRoot/procRoot at fixture trees.
 */
import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { readCgroupStats, USER_HZ, type BlkioEntry } from '../runtime/cgroups.ts';
import { cgroupInfo, type CgroupInfo } from '../runtime/probe.ts';
import { isLive } from './state.ts';
import type { ContainerState } from '../types.ts';

/** What stats needs of a container (a ContainerRow satisfies it). */
export interface StatsTarget {
  id: string;
  name: string;
  /** The container's init pid; 0 when not running. */
  pid: number;
  /** Engine state; anything but running/paused reads as stopped (zeros). */
  state?: ContainerState;
  /** The network mode matters: a container on the host's network has no counters of its own. */
  config: { cgroupParent?: string; isolation?: { network?: string } };
}

/** Where to read from (tests use fixture trees) and the sample's time. */
export interface StatsEnv {
  cgroupRoot?: string;
  procRoot?: string;
  now?: Date;
}

export interface NetworkStats {
  rx_bytes: number;
  rx_packets: number;
  rx_errors: number;
  rx_dropped: number;
  tx_bytes: number;
  tx_packets: number;
  tx_errors: number;
  tx_dropped: number;
}

export interface CpuStats {
  cpu_usage: { total_usage: number; usage_in_kernelmode: number; usage_in_usermode: number };
  system_cpu_usage?: number;
  online_cpus?: number;
  throttling_data: { periods: number; throttled_periods: number; throttled_time: number };
}

/** docker's container.StatsResponse (Linux fields). */
export interface DockerStats {
  name: string;
  id: string;
  read: string;
  preread: string;
  pids_stats: { current?: number; limit?: number };
  blkio_stats: {
    io_service_bytes_recursive: BlkioEntry[] | null;
    io_serviced_recursive: null;
    io_queue_recursive: null;
    io_service_time_recursive: null;
    io_wait_time_recursive: null;
    io_merged_recursive: null;
    io_time_recursive: null;
    sectors_recursive: null;
  };
  num_procs: number;
  storage_stats: Record<string, never>;
  cpu_stats: CpuStats;
  precpu_stats: CpuStats;
  memory_stats: { usage?: number; max_usage?: number; stats?: Record<string, number>; failcnt?: number; limit?: number };
  networks: Record<string, NetworkStats>;
}

const ZERO_TIME = '0001-01-01T00:00:00Z';

const emptyCpu = (): CpuStats => ({
  cpu_usage: { total_usage: 0, usage_in_kernelmode: 0, usage_in_usermode: 0 },
  throttling_data: { periods: 0, throttled_periods: 0, throttled_time: 0 },
});

function readText(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

/**
 * The host's CPU time as docker counts it, from /proc/stat: the first 7 fields of the `cpu` line (user, nice,
 * system, idle, iowait, irq, softirq) in ns, and the number of `cpuN` lines (online CPUs).
 */
export function parseProcStat(text: string): { systemNs: number; onlineCpus: number } {
  let systemNs = 0;
  let onlineCpus = 0;
  for (const line of text.split('\n')) {
    if (/^cpu\s/.test(line)) {
      const ticks = line.trim().split(/\s+/).slice(1, 8).reduce((a, f) => a + Number(f), 0);
      systemNs = (ticks * 1e9) / USER_HZ;
    } else if (/^cpu\d/.test(line)) onlineCpus++;
  }
  return { systemNs, onlineCpus };
}

/** /proc/<pid>/net/dev → docker's networks map: every interface but lo. */
export function parseNetDev(text: string): Record<string, NetworkStats> {
  const out: Record<string, NetworkStats> = {};
  for (const line of text.split('\n')) {
    const i = line.indexOf(':');
    if (i < 0) continue;
    const name = line.slice(0, i).trim();
    const f = line.slice(i + 1).trim().split(/\s+/).map(Number);
    if (!name || name === 'lo' || f.length < 16 || f.some((n) => !Number.isFinite(n))) continue;
    out[name] = {
      rx_bytes: f[0]!,
      rx_packets: f[1]!,
      rx_errors: f[2]!,
      rx_dropped: f[3]!,
      tx_bytes: f[8]!,
      tx_packets: f[9]!,
      tx_errors: f[10]!,
      tx_dropped: f[11]!,
    };
  }
  return out;
}

/** The container's cgroup path, as the engine creates it. */
export function containerCgroupPath(t: StatsTarget): string {
  return `${t.config.cgroupParent ?? '/berth'}/${t.id}`;
}

/**
 * `--network host`: the container's /proc/<pid>/net/dev is the host's, and docker reports no interfaces for
 * it (its host sandbox has none of its own), so NET I/O shows 0B / 0B rather than the host's traffic. A
 * `container:` network shares that container's namespace and its counters, as docker reports them.
 */
const hostNetwork = (t: StatsTarget) => t.config.isolation?.network === 'host';

const live = (t: StatsTarget) => t.pid > 0 && (t.state === undefined || isLive(t.state));

/**
 * One stats sample of a container in docker's JSON shape. `prev` is the previous sample (its cpu_stats become
 * precpu_stats and its read time preread); a stopped or vanished container gives all zeros.
 */
export function statsSnapshot(target: StatsTarget, info: CgroupInfo, prev?: DockerStats | null, env: StatsEnv = {}): DockerStats {
  const procRoot = env.procRoot ?? '/proc';
  const now = env.now ?? new Date();
  const s: DockerStats = {
    name: target.name.startsWith('/') ? target.name : `/${target.name}`,
    id: target.id,
    read: ZERO_TIME,
    preread: prev?.read ?? ZERO_TIME,
    pids_stats: {},
    blkio_stats: {
      io_service_bytes_recursive: null,
      io_serviced_recursive: null,
      io_queue_recursive: null,
      io_service_time_recursive: null,
      io_wait_time_recursive: null,
      io_merged_recursive: null,
      io_time_recursive: null,
      sectors_recursive: null,
    },
    num_procs: 0,
    storage_stats: {},
    cpu_stats: emptyCpu(),
    precpu_stats: prev?.cpu_stats ?? emptyCpu(),
    memory_stats: {},
    networks: {},
  };
  if (!live(target)) return s;
  const cg = readCgroupStats(info, containerCgroupPath(target), env.cgroupRoot, procRoot);
  if (!cg) return s;
  const sys = parseProcStat(readText(`${procRoot}/stat`) ?? '');
  s.read = now.toISOString();
  s.pids_stats = omitZero({ current: cg.pidsCurrent, limit: cg.pidsLimit });
  s.blkio_stats.io_service_bytes_recursive = cg.blkio.entries;
  s.cpu_stats = {
    cpu_usage: { total_usage: cg.cpuUsageNs, usage_in_kernelmode: cg.cpuSystemNs ?? 0, usage_in_usermode: cg.cpuUserNs ?? 0 },
    ...omitZero({ system_cpu_usage: sys.systemNs, online_cpus: sys.onlineCpus }),
    throttling_data: {
      periods: cg.throttled?.periods ?? 0,
      throttled_periods: cg.throttled?.throttledPeriods ?? 0,
      throttled_time: cg.throttled?.throttledTimeNs ?? 0,
    },
  };
  s.memory_stats = omitZero({ usage: cg.memoryUsage, max_usage: cg.memoryMaxUsage, failcnt: cg.memoryFailcnt, limit: cg.memoryLimit });
  if (Object.keys(cg.memoryStats).length > 0) s.memory_stats.stats = cg.memoryStats;
  s.networks = hostNetwork(target) ? {} : parseNetDev(readText(`${procRoot}/${target.pid}/net/dev`) ?? '');
  return s;
}

/** Go's omitempty for numbers. */
function omitZero<T extends Record<string, number | undefined>>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined && v !== 0)) as Partial<T>;
}

// ---- the docker CLI's arithmetic ----

/** docker's calculateCPUPercentUnix. */
export function cpuPercent(pre: CpuStats, cur: CpuStats): number {
  const cpuDelta = cur.cpu_usage.total_usage - pre.cpu_usage.total_usage;
  const systemDelta = (cur.system_cpu_usage ?? 0) - (pre.system_cpu_usage ?? 0);
  const online = cur.online_cpus ?? 0;
  return systemDelta > 0 && cpuDelta > 0 ? (cpuDelta / systemDelta) * online * 100 : 0;
}

/** docker's calculateMemUsageUnixNoCache: usage less v1 total_inactive_file / v2 inactive_file. */
export function memUsageNoCache(mem: DockerStats['memory_stats']): number {
  const usage = mem.usage ?? 0;
  const st = mem.stats ?? {};
  const v1 = st.total_inactive_file;
  if (v1 !== undefined && v1 < usage) return usage - v1;
  const v2 = st.inactive_file ?? 0;
  return v2 < usage ? usage - v2 : usage;
}

export function memPercent(limit: number, usedNoCache: number): number {
  return limit !== 0 ? (usedNoCache / limit) * 100 : 0;
}

/** docker's calculateBlockIO: sums over devices, by the op's first letter. */
export function blockIO(entries: readonly BlkioEntry[] | null): { read: number; write: number } {
  let read = 0;
  let write = 0;
  for (const e of entries ?? []) {
    const c = e.op[0]?.toLowerCase();
    if (c === 'r') read += e.value;
    else if (c === 'w') write += e.value;
  }
  return { read, write };
}

export function networkIO(nets: Record<string, NetworkStats>): { rx: number; tx: number } {
  let rx = 0;
  let tx = 0;
  for (const n of Object.values(nets)) (rx += n.rx_bytes), (tx += n.tx_bytes);
  return { rx, tx };
}

/**
 * docker's StatsEntry for a sample: the numbers the CLI shows (memory is usage less cache, as docker shows
 * it). src/cli/commands/stats.ts formats them.
 */
export interface StatsEntry {
  id: string;
  /** Without the leading "/". */
  name: string;
  cpuPercentage: number;
  memory: number;
  memoryLimit: number;
  memoryPercentage: number;
  networkRx: number;
  networkTx: number;
  blockRead: number;
  blockWrite: number;
  pidsCurrent: number;
}

export function statsEntry(s: DockerStats): StatsEntry {
  const memory = memUsageNoCache(s.memory_stats);
  const memoryLimit = s.memory_stats.limit ?? 0;
  const net = networkIO(s.networks);
  const blk = blockIO(s.blkio_stats.io_service_bytes_recursive);
  return {
    id: s.id,
    name: s.name.replace(/^\//, ''),
    cpuPercentage: cpuPercent(s.precpu_stats, s.cpu_stats),
    memory,
    memoryLimit,
    memoryPercentage: memPercent(memoryLimit, memory),
    networkRx: net.rx,
    networkTx: net.tx,
    blockRead: blk.read,
    blockWrite: blk.write,
    pidsCurrent: s.pids_stats.current ?? 0,
  };
}

// ---- sampling over time ----

async function pause(ms: number, signal?: AbortSignal): Promise<boolean> {
  try {
    await sleep(ms, undefined, { signal });
    return true;
  } catch {
    return false;
  }
}

/**
 * One frame whose CPU % is meaningful: a first read, `delayMs` of waiting, and a second read against it
 * (docker's --no-stream asks the daemon for the previous sample the same way).
 */
export async function sampleOnce(
  targets: readonly StatsTarget[],
  info: CgroupInfo = cgroupInfo(),
  delayMs = 500,
  env: Omit<StatsEnv, 'now'> = {},
): Promise<DockerStats[]> {
  const first = targets.map((t) => statsSnapshot(t, info, null, env));
  if (targets.some(live)) await pause(delayMs);
  return targets.map((t, i) => statsSnapshot(t, info, first[i], env));
}

/**
 * Stream frames: call `getRows` every `interval` ms (the set may change: new containers join, gone ones drop
 * out), sample each against its previous sample, and hand the frame to `onFrame`, until `signal` aborts. The
 * first frame comes after a priming read and min(interval, 500) ms, so its CPU % is already a rate.
 */
export async function streamStats(
  getRows: () => Promise<readonly StatsTarget[]> | readonly StatsTarget[],
  interval: number,
  onFrame: (frame: DockerStats[], rows: readonly StatsTarget[]) => void | Promise<void>,
  signal?: AbortSignal,
  info: CgroupInfo = cgroupInfo(),
  env: Omit<StatsEnv, 'now'> = {},
): Promise<void> {
  const prev = new Map<string, DockerStats>();
  const prime = await getRows();
  for (const t of prime) prev.set(t.id, statsSnapshot(t, info, null, env));
  if (!(await pause(Math.min(interval, 500), signal))) return;
  while (!signal?.aborted) {
    const rows = await getRows();
    if (signal?.aborted) return;
    const frame = rows.map((t) => statsSnapshot(t, info, prev.get(t.id), env));
    prev.clear();
    for (const s of frame) prev.set(s.id, s);
    await onFrame(frame, rows);
    if (!(await pause(interval, signal))) return;
  }
}
