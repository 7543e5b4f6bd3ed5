/**
 * A container's cgroup from the host side: where its directories are (one on cgroup v2, one per controller on
 * v1/hybrid), what its statistics files say, and which files each Resources field ends up in.
 *
 * The file mapping (resourceFiles) is what runc v1.1.5 writes for the OCI resources berth puts in the spec
 * (spec/resources.ts): on v1 the docker values go straight to the v1 files; on v2 runc converts them —
 *   cpu.weight      = 1 + ((shares - 2) * 9999) / 262142           (integer division; [2, 262144] → [1, 10000])
 *   cpu.max         = "<quota|max> <period|100000>"
 *   memory.swap.max = memorySwap - memory  (memorySwap is memory+swap in docker's terms; -1 → "max")
 *   memory.low      = memoryReservation
 *   io.weight       = 1 + ((weight - 10) * 9999) / 990              (integer division; [10, 1000] → [1, 10000])
 *   io.bfq.weight   = weight, unconverted, when the BFQ scheduler's file exists (runc prefers it)
 *   io.max          = "MAJ:MIN rbps=N wbps=N riops=N wiops=N" (unset keys read back as "max")
 * Swappiness, OOM-kill-disable and kernel memory have no v2 file (runc ignores them there); runc 1.1 ignores
 * kernel memory on v1 too.
 *
 * Everything here only reads files under a root given by the caller, so tests run against fake trees.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import type { Resources } from '../types.ts';
import type { CgroupInfo } from './probe.ts';
import { ociResources } from './spec/resources.ts';

/** v1 controllers a container's stats and limits live in. */
export const V1_CONTROLLERS = ['memory', 'cpu', 'cpuacct', 'cpuset', 'blkio', 'pids', 'freezer', 'devices'] as const;
export type V1Controller = (typeof V1_CONTROLLERS)[number];

export interface CgroupDirs {
  /** The container's one directory on a pure v2 host. */
  v2?: string;
  /** The container's directory per v1 controller (controllers this host does not mount are absent). */
  v1: Record<string, string>;
}

/** Kernel USER_HZ: the unit of cpuacct.stat and /proc/stat (100 on every Linux architecture docker supports). */
export const USER_HZ = 100;

/**
 * The container's cgroup directories. On v2 the one dir `${root}${cgroupPath}`; on v1/hybrid one per
 * controller, found at `${root}/<controller>` or in a combined mount such as `${root}/cpu,cpuacct`.
 */
export function cgroupDirs(info: CgroupInfo, cgroupPath: string, root = '/sys/fs/cgroup'): CgroupDirs {
  const rel = cgroupPath.startsWith('/') ? cgroupPath : `/${cgroupPath}`;
  if (info.version === 2) return { v2: `${root}${rel}`, v1: {} };
  let mounts: string[] = [];
  try {
    mounts = readdirSync(root);
  } catch {
    // no cgroup filesystem: no dirs
  }
  const v1: Record<string, string> = {};
  for (const ctrl of V1_CONTROLLERS) {
    const mount = mounts.includes(ctrl) ? ctrl : mounts.find((m) => m.split(',').includes(ctrl));
    if (mount) v1[ctrl] = `${root}/${mount}${rel}`;
  }
  return { v1 };
}

export interface BlkioEntry {
  major: number;
  minor: number;
  /** v1: Read, Write, Sync, Async, Discard, Total; v2: read, write (as docker reports them). */
  op: string;
  value: number;
}

export interface CgroupStats {
  /** Total CPU time, ns. */
  cpuUsageNs: number;
  cpuUserNs?: number;
  cpuSystemNs?: number;
  throttled?: { periods: number; throttledPeriods: number; throttledTimeNs: number };
  memoryUsage: number;
  /** The limit, or the host's total memory when unlimited (as docker shows it). */
  memoryLimit: number;
  /** The part docker subtracts from usage: v1 total_inactive_file, v2 inactive_file. */
  memoryCache: number;
  /** v1 only: memory.max_usage_in_bytes and memory.failcnt. */
  memoryMaxUsage?: number;
  memoryFailcnt?: number;
  /** The raw memory.stat. */
  memoryStats: Record<string, number>;
  pidsCurrent: number;
  /** 0 = unlimited. */
  pidsLimit: number;
  blkio: { readBytes: number; writeBytes: number; entries: BlkioEntry[] };
}

function readText(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

/** A one-number file; "max" (or an absent/garbled file) gives `dflt`. */
function readNum(path: string | undefined, dflt = 0): number {
  if (!path) return dflt;
  const t = readText(path)?.trim();
  if (!t || t === 'max') return dflt;
  const n = Number(t);
  return Number.isFinite(n) ? n : dflt;
}

/** A "key value" per line file (memory.stat, cpu.stat, cpuacct.stat). */
export function parseKeyValues(text: string | undefined): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of (text ?? '').split('\n')) {
    const [k, v] = line.trim().split(/\s+/);
    if (k && v !== undefined && Number.isFinite(Number(v))) out[k] = Number(v);
  }
  return out;
}

/** Host memory from /proc/meminfo MemTotal, bytes (0 if unreadable). */
export function hostMemory(procRoot = '/proc'): number {
  const m = /^MemTotal:\s+(\d+)\s*kB/m.exec(readText(`${procRoot}/meminfo`) ?? '');
  return m ? Number(m[1]) * 1024 : 0;
}

/** v1 blkio "MAJ:MIN Op value" lines (plus a final "Total N" line, skipped). */
export function parseBlkioV1(text: string | undefined): BlkioEntry[] {
  const out: BlkioEntry[] = [];
  for (const line of (text ?? '').split('\n')) {
    const m = /^(\d+):(\d+)\s+(\S+)\s+(\d+)$/.exec(line.trim());
    if (m) out.push({ major: Number(m[1]), minor: Number(m[2]), op: m[3]!, value: Number(m[4]) });
  }
  return out;
}

/** v2 io.stat "MAJ:MIN rbytes=N wbytes=N rios=N …" lines → docker's read/write entries. */
export function parseIoStatV2(text: string | undefined): BlkioEntry[] {
  const out: BlkioEntry[] = [];
  for (const line of (text ?? '').split('\n')) {
    const [dev, ...kvs] = line.trim().split(/\s+/);
    const m = /^(\d+):(\d+)$/.exec(dev ?? '');
    if (!m) continue;
    const kv = Object.fromEntries(kvs.map((s) => s.split('=') as [string, string]));
    const major = Number(m[1]);
    const minor = Number(m[2]);
    out.push({ major, minor, op: 'read', value: Number(kv.rbytes ?? 0) || 0 });
    out.push({ major, minor, op: 'write', value: Number(kv.wbytes ?? 0) || 0 });
  }
  return out;
}

function sumOps(entries: BlkioEntry[]): { readBytes: number; writeBytes: number } {
  let readBytes = 0;
  let writeBytes = 0;
  for (const e of entries) {
    const c = e.op[0]?.toLowerCase();
    if (c === 'r') readBytes += e.value;
    else if (c === 'w') writeBytes += e.value;
  }
  return { readBytes, writeBytes };
}

/**
 * Read a container's cgroup statistics. Missing files read as 0 (a controller may be absent, or the cgroup
 * may be going away mid-read); null when the cgroup directory itself does not exist.
 */
export function readCgroupStats(info: CgroupInfo, cgroupPath: string, root = '/sys/fs/cgroup', procRoot = '/proc'): CgroupStats | null {
  const dirs = cgroupDirs(info, cgroupPath, root);
  return dirs.v2 !== undefined ? readV2(dirs.v2, procRoot) : readV1(dirs.v1, procRoot);
}

function readV2(dir: string, procRoot: string): CgroupStats | null {
  if (!existsSync(dir)) return null;
  const cpu = parseKeyValues(readText(`${dir}/cpu.stat`));
  const memoryStats = parseKeyValues(readText(`${dir}/memory.stat`));
  const host = hostMemory(procRoot);
  let memoryLimit = readNum(`${dir}/memory.max`, host);
  if (host > 0 && memoryLimit > host) memoryLimit = host;
  const entries = parseIoStatV2(readText(`${dir}/io.stat`));
  return {
    cpuUsageNs: (cpu.usage_usec ?? 0) * 1000,
    cpuUserNs: (cpu.user_usec ?? 0) * 1000,
    cpuSystemNs: (cpu.system_usec ?? 0) * 1000,
    throttled: { periods: cpu.nr_periods ?? 0, throttledPeriods: cpu.nr_throttled ?? 0, throttledTimeNs: (cpu.throttled_usec ?? 0) * 1000 },
    memoryUsage: readNum(`${dir}/memory.current`),
    memoryLimit,
    memoryCache: memoryStats.inactive_file ?? 0,
    memoryStats,
    pidsCurrent: readNum(`${dir}/pids.current`),
    pidsLimit: readNum(`${dir}/pids.max`),
    blkio: { ...sumOps(entries), entries },
  };
}

function readV1(d: Record<string, string>, procRoot: string): CgroupStats | null {
  if (!Object.values(d).some((p) => existsSync(p))) return null;
  const at = (ctrl: string, file: string) => (d[ctrl] ? `${d[ctrl]}/${file}` : undefined);
  const acct = parseKeyValues(readText(at('cpuacct', 'cpuacct.stat') ?? ''));
  const cpu = parseKeyValues(readText(at('cpu', 'cpu.stat') ?? ''));
  const memoryStats = parseKeyValues(readText(at('memory', 'memory.stat') ?? ''));
  const host = hostMemory(procRoot);
  let memoryLimit = readNum(at('memory', 'memory.limit_in_bytes'), host);
  // Unlimited reads as PAGE_COUNTER_MAX pages (~9.2e18); docker clamps to the host's memory.
  if (host > 0 && memoryLimit > host) memoryLimit = host;
  let entries: BlkioEntry[] = [];
  for (const f of ['blkio.throttle.io_service_bytes_recursive', 'blkio.io_service_bytes_recursive', 'blkio.bfq.io_service_bytes_recursive']) {
    entries = parseBlkioV1(readText(at('blkio', f) ?? ''));
    if (entries.length > 0) break;
  }
  const tick = 1e9 / USER_HZ;
  return {
    cpuUsageNs: readNum(at('cpuacct', 'cpuacct.usage')),
    cpuUserNs: (acct.user ?? 0) * tick,
    cpuSystemNs: (acct.system ?? 0) * tick,
    throttled: { periods: cpu.nr_periods ?? 0, throttledPeriods: cpu.nr_throttled ?? 0, throttledTimeNs: cpu.throttled_time ?? 0 },
    memoryUsage: readNum(at('memory', 'memory.usage_in_bytes')),
    memoryMaxUsage: readNum(at('memory', 'memory.max_usage_in_bytes')),
    memoryFailcnt: readNum(at('memory', 'memory.failcnt')),
    memoryLimit,
    memoryCache: memoryStats.total_inactive_file ?? 0,
    memoryStats,
    pidsCurrent: readNum(at('pids', 'pids.current')),
    pidsLimit: readNum(at('pids', 'pids.max')),
    blkio: { ...sumOps(entries), entries },
  };
}

// ---- Resources → cgroup files ----

export interface ResourceFile {
  /** v1: `<controller>/<file>` (resolve with resourceFilePath); v2: the file in the container's dir. */
  file: string;
  /** What the runtime writes. */
  value: string;
}

export interface ResourceFileOptions {
  /**
   * The block-I/O weight goes to BFQ's file (v1 blkio.bfq.weight when blkio.weight is absent; v2 io.bfq.weight
   * when it exists), unconverted, as runc does. See hasBfqWeight.
   */
  bfq?: boolean;
  /** The host has swap accounting (default true); without it no swap file is written. */
  swapLimit?: boolean;
}

/** runc's ConvertCPUSharesToCgroupV2Value: [2, 262144] → [1, 10000]; 0 stays unset. */
export function cpuSharesToWeight(shares: number): number {
  return shares === 0 ? 0 : 1 + Math.floor(((shares - 2) * 9999) / 262142);
}

/** runc's ConvertBlkIOToIOWeightValue: [10, 1000] → [1, 10000]; 0 stays unset. */
export function blkioWeightToIoWeight(weight: number): number {
  return weight === 0 ? 0 : 1 + Math.floor(((weight - 10) * 9999) / 990);
}

/**
 * runc's ConvertMemorySwapToCgroupV2Value plus its numToStr: memory.swap.max for docker's memory+swap, or
 * undefined when nothing is written.
 */
export function swapToV2(memorySwap: number, memory: number): string | undefined {
  if (memory === -1 && memorySwap === 0) return 'max';
  if (memorySwap === -1) return 'max';
  if (memorySwap === 0) return undefined;
  return String(memorySwap - memory);
}

/**
 * The cgroup files the runtime writes for `r` and their values, in the order runc writes them. Follows
 * spec/resources.ts for docker's defaults (memory+swap = 2 × memory when unset, --cpus → quota over a
 * 100 ms period, pids ≤ 0 → unlimited); throws InvalidArgument for the combinations it rejects.
 */
export function resourceFiles(version: 1 | 2, r: Resources, opts: ResourceFileOptions = {}): ResourceFile[] {
  // As an update says them: -1 included, which a new cgroup holds anyway.
  const oci = ociResources(r, { swapLimit: opts.swapLimit ?? true, update: true });
  const out: ResourceFile[] = [];
  const add = (file: string, value: number | string) => out.push({ file, value: String(value) });
  const mem = oci.memory;
  const cpu = oci.cpu;
  const bio = oci.blockIO;
  if (version === 1) {
    if (mem?.limit !== undefined && mem.limit !== 0) add('memory/memory.limit_in_bytes', mem.limit);
    if (mem?.swap !== undefined && mem.swap !== 0) add('memory/memory.memsw.limit_in_bytes', mem.swap);
    if (mem?.reservation) add('memory/memory.soft_limit_in_bytes', mem.reservation);
    if (mem?.disableOOMKiller) add('memory/memory.oom_control', 1);
    if (mem?.swappiness !== undefined && mem.swappiness !== -1) add('memory/memory.swappiness', mem.swappiness);
    if (cpu?.shares) add('cpu/cpu.shares', cpu.shares);
    if (cpu?.period) add('cpu/cpu.cfs_period_us', cpu.period);
    if (cpu?.quota) add('cpu/cpu.cfs_quota_us', cpu.quota);
    if (cpu?.cpus) add('cpuset/cpuset.cpus', cpu.cpus);
    if (cpu?.mems) add('cpuset/cpuset.mems', cpu.mems);
    if (bio?.weight) add(opts.bfq ? 'blkio/blkio.bfq.weight' : 'blkio/blkio.weight', bio.weight);
    for (const d of bio?.weightDevice ?? []) add(opts.bfq ? 'blkio/blkio.bfq.weight_device' : 'blkio/blkio.weight_device', `${d.major}:${d.minor} ${d.weight}`);
    const v1Throttle = [
      ['read_bps_device', bio?.throttleReadBpsDevice],
      ['write_bps_device', bio?.throttleWriteBpsDevice],
      ['read_iops_device', bio?.throttleReadIOPSDevice],
      ['write_iops_device', bio?.throttleWriteIOPSDevice],
    ] as const;
    for (const [name, list] of v1Throttle) for (const t of list ?? []) add(`blkio/blkio.throttle.${name}`, `${t.major}:${t.minor} ${t.rate}`);
    if (oci.pids) add('pids/pids.max', oci.pids.limit > 0 ? oci.pids.limit : 'max');
    return out;
  }
  if (mem) {
    const swap = swapToV2(mem.swap ?? 0, mem.limit ?? 0);
    if (swap !== undefined) add('memory.swap.max', swap);
    if (mem.limit) add('memory.max', mem.limit === -1 ? 'max' : mem.limit);
    if (mem.reservation) add('memory.low', mem.reservation === -1 ? 'max' : mem.reservation);
  }
  if (cpu?.shares) add('cpu.weight', cpuSharesToWeight(cpu.shares));
  if (cpu?.quota || cpu?.period) add('cpu.max', `${cpu.quota && cpu.quota > 0 ? cpu.quota : 'max'} ${cpu.period || 100000}`);
  if (cpu?.cpus) add('cpuset.cpus', cpu.cpus);
  if (cpu?.mems) add('cpuset.mems', cpu.mems);
  if (oci.pids) add('pids.max', oci.pids.limit > 0 ? oci.pids.limit : 'max');
  if (bio?.weight) add(opts.bfq ? 'io.bfq.weight' : 'io.weight', opts.bfq ? bio.weight : blkioWeightToIoWeight(bio.weight));
  // Per-device weights exist only through BFQ on v2 (runc writes them to io.bfq.weight, nowhere else).
  if (opts.bfq) for (const d of bio?.weightDevice ?? []) add('io.bfq.weight', `${d.major}:${d.minor} ${d.weight}`);
  // runc writes one io.max line per throttle; the kernel keeps one line per device with all four keys.
  const devs = new Map<string, Record<'rbps' | 'wbps' | 'riops' | 'wiops', string>>();
  const v2Throttle = [
    ['rbps', bio?.throttleReadBpsDevice],
    ['wbps', bio?.throttleWriteBpsDevice],
    ['riops', bio?.throttleReadIOPSDevice],
    ['wiops', bio?.throttleWriteIOPSDevice],
  ] as const;
  for (const [key, list] of v2Throttle) {
    for (const t of list ?? []) {
      const dev = `${t.major}:${t.minor}`;
      if (!devs.has(dev)) devs.set(dev, { rbps: 'max', wbps: 'max', riops: 'max', wiops: 'max' });
      devs.get(dev)![key] = String(t.rate);
    }
  }
  for (const [dev, v] of devs) add('io.max', `${dev} rbps=${v.rbps} wbps=${v.wbps} riops=${v.riops} wiops=${v.wiops}`);
  return out;
}

/** The absolute path of a resourceFiles entry for a container whose dirs are `dirs` (undefined: no such controller). */
export function resourceFilePath(dirs: CgroupDirs, file: string): string | undefined {
  if (dirs.v2 !== undefined) return `${dirs.v2}/${file}`;
  const i = file.indexOf('/');
  const dir = dirs.v1[file.slice(0, i)];
  return dir === undefined ? undefined : `${dir}/${file.slice(i + 1)}`;
}

/**
 * Whether a cgroup file, as the kernel reads it back, holds a value resourceFiles says the runtime wrote to it.
 * Most files read back as written; the exceptions, v1 and v2:
 *   memory.oom_control          "oom_kill_disable 1\nunder_oom 0\n…"       (the oom_kill_disable line)
 *   blkio.weight/blkio.bfq.weight, io.weight/io.bfq.weight   "default 300\n8:0 500" or "300" (the default)
 *   a per-device weight         "MAJ:MIN N" among the weight file's lines       (the device's line)
 *   blkio.throttle.*_device     one "MAJ:MIN N" line per device                (the device's line)
 *   io.max                      one "MAJ:MIN rbps=… wbps=… riops=… wiops=…" line per device
 */
export function fileHolds(file: string, value: string, text: string): boolean {
  const got = text.trim();
  const base = file.slice(file.lastIndexOf('/') + 1);
  const lines = got.split('\n').map((l) => l.trim());
  if (base === 'memory.oom_control') return lines.includes(`oom_kill_disable ${value}`);
  if (/^(blkio|io)(\.bfq)?\.weight(_device)?$/.test(base) && value.includes(':')) return lines.includes(value);
  if (/^(blkio|io)(\.bfq)?\.weight$/.test(base)) {
    const m = /^(?:default\s+)?(\d+)$/.exec(lines[0] ?? '');
    return m !== null && m[1] === value;
  }
  if (/^blkio\.throttle\..*_device$/.test(base) || base === 'io.max') return lines.includes(value);
  return got === value;
}

/** Whether the runtime writes the block-I/O weight to BFQ's file for a cgroup (the `bfq` option of resourceFiles). */
export function hasBfqWeight(dirs: CgroupDirs): boolean {
  if (dirs.v2 !== undefined) return existsSync(`${dirs.v2}/io.bfq.weight`);
  const b = dirs.v1.blkio;
  return b !== undefined && !existsSync(`${b}/blkio.weight`) && existsSync(`${b}/blkio.bfq.weight`);
}

/**
 * The directories of a cgroup that exist now, in every hierarchy mounted under `root` (on v2 the one; on
 * v1/hybrid one per mount, named= hierarchies and the unified one included; a controller's symlink to a
 * combined mount is not counted twice).
 */
export function existingCgroupDirs(cgroupPath: string, root = '/sys/fs/cgroup'): string[] {
  const rel = cgroupPath.startsWith('/') ? cgroupPath : `/${cgroupPath}`;
  let mounts: string[] = [];
  try {
    mounts = readdirSync(root, { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => d.name);
  } catch {
    // no cgroup filesystem
  }
  return [`${root}${rel}`, ...mounts.map((m) => `${root}/${m}${rel}`)].filter((d) => existsSync(d));
}
