/**
 * Which resource limits this host's cgroups can take, decided file by file.
 *
 * A controller being mounted is not enough: the files a limit is written to depend on the kernel's build and
 * the block scheduler. Seen on hosts of one kind: a v1 blkio controller with neither `blkio.weight` (CFQ, gone
 * since 5.0) nor `blkio.bfq.weight` (BFQ not loaded), where runc fails the whole create on `--blkio-weight`;
 * `memory.memsw.*` exists only with swap accounting. So each limit is looked up as the file the runtime will
 * write, in a cgroup below the root: several files (pids.max, the BFQ weights, every v2 limit) never appear on
 * the root itself.
 *
 * The probe dir is Berth's parent cgroup (`<hierarchy>/berth`, where containers go by default), else any other
 * child of the hierarchy's root. On v1 a missing parent is created (runc creates the same directory for the
 * first container, and a new v1 cgroup shows every file of its controller). On v2 a child shows only the
 * controllers its parent delegates, so where no child has the controller yet, the root's own evidence decides:
 * `io.cost.qos` (root only) means io.weight exists below; a BFQ scheduler offered by a disk means io.bfq.weight.
 *
 * Everything reads under `root`, so tests probe fake trees.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { entriesOf } from '../sys/dir.ts';

/** One flag per limit docker can be asked for; true when the host has the file the runtime writes. */
export interface CgroupFeatures {
  memoryLimit: boolean;
  swapLimit: boolean;
  memoryReservation: boolean;
  memorySwappiness: boolean;
  oomKillDisable: boolean;
  /**
   * Always false: no kernel memory limit takes effect anywhere Berth runs. v2 has none; v1 kernels since 5.16
   * accept a write to memory.kmem.limit_in_bytes and ignore it (here, 6.18, the file still reads unlimited),
   * and runc 1.1 never writes it. Probing the file would claim a limit nobody applies.
   */
  kernelMemory: boolean;
  cpuShares: boolean;
  cpuCfs: boolean;
  /** cpu.rt_runtime_us / cpu.rt_period_us (v1 with CONFIG_RT_GROUP_SCHED; v2 has no such files). */
  cpuRealtime: boolean;
  cpuset: boolean;
  blkioWeight: boolean;
  blkioWeightDevice: boolean;
  blkioReadBps: boolean;
  blkioWriteBps: boolean;
  blkioReadIOps: boolean;
  blkioWriteIOps: boolean;
  pidsLimit: boolean;
  /** Huge page sizes with a limit file (`2MB`, `1GB`), empty without the hugetlb controller. */
  hugetlbSizes: string[];
}

export type CgroupFeature = Exclude<keyof CgroupFeatures, 'hugetlbSizes'>;

/** Every limit supported: what the engine assumes where the cgroup tree cannot be read at all. */
export const ALL_FEATURES: CgroupFeatures = {
  memoryLimit: true, swapLimit: true, memoryReservation: true, memorySwappiness: true, oomKillDisable: true,
  kernelMemory: false, cpuShares: true, cpuCfs: true, cpuRealtime: true, cpuset: true, blkioWeight: true,
  blkioWeightDevice: true, blkioReadBps: true, blkioWriteBps: true, blkioReadIOps: true, blkioWriteIOps: true,
  pidsLimit: true, hugetlbSizes: [],
};

/**
 * The files each limit needs, per version: every file of one inner list must exist, any of the lists will do.
 * v1 names are those runc 1.1 writes (it prefers blkio.weight and falls back to the BFQ names); on v2 runc
 * writes io.bfq.weight where it exists, else io.weight, and per-device weights only through BFQ.
 */
const V1_FILES: Record<Exclude<CgroupFeature, 'kernelMemory'>, [controller: string, files: string[][]]> = {
  memoryLimit: ['memory', [['memory.limit_in_bytes']]],
  swapLimit: ['memory', [['memory.memsw.limit_in_bytes']]],
  memoryReservation: ['memory', [['memory.soft_limit_in_bytes']]],
  memorySwappiness: ['memory', [['memory.swappiness']]],
  oomKillDisable: ['memory', [['memory.oom_control']]],
  cpuShares: ['cpu', [['cpu.shares']]],
  cpuCfs: ['cpu', [['cpu.cfs_quota_us', 'cpu.cfs_period_us']]],
  cpuRealtime: ['cpu', [['cpu.rt_runtime_us', 'cpu.rt_period_us']]],
  cpuset: ['cpuset', [['cpuset.cpus', 'cpuset.mems']]],
  blkioWeight: ['blkio', [['blkio.weight'], ['blkio.bfq.weight']]],
  blkioWeightDevice: ['blkio', [['blkio.weight_device'], ['blkio.bfq.weight_device']]],
  blkioReadBps: ['blkio', [['blkio.throttle.read_bps_device']]],
  blkioWriteBps: ['blkio', [['blkio.throttle.write_bps_device']]],
  blkioReadIOps: ['blkio', [['blkio.throttle.read_iops_device']]],
  blkioWriteIOps: ['blkio', [['blkio.throttle.write_iops_device']]],
  pidsLimit: ['pids', [['pids.max']]],
};

const V2_FILES: Record<Exclude<CgroupFeature, 'kernelMemory'>, [controller: string, files: string[][]]> = {
  memoryLimit: ['memory', [['memory.max']]],
  swapLimit: ['memory', [['memory.swap.max']]],
  memoryReservation: ['memory', [['memory.low']]],
  memorySwappiness: ['memory', []],
  oomKillDisable: ['memory', []],
  cpuShares: ['cpu', [['cpu.weight']]],
  cpuCfs: ['cpu', [['cpu.max']]],
  cpuRealtime: ['cpu', []],
  cpuset: ['cpuset', [['cpuset.cpus', 'cpuset.mems']]],
  blkioWeight: ['io', [['io.bfq.weight'], ['io.weight']]],
  blkioWeightDevice: ['io', [['io.bfq.weight']]],
  blkioReadBps: ['io', [['io.max']]],
  blkioWriteBps: ['io', [['io.max']]],
  blkioReadIOps: ['io', [['io.max']]],
  blkioWriteIOps: ['io', [['io.max']]],
  pidsLimit: ['pids', [['pids.max']]],
};

/** The file system the probe reads; tests pass a fake tree's root. */
export interface ProbeOptions {
  /** The cgroup mount point (default /sys/fs/cgroup). */
  root?: string;
  /** /sys/block, for the schedulers disks offer (v2 fallback only). */
  blockRoot?: string;
  /** Berth's parent cgroup below each hierarchy's root (default `berth`). */
  parent?: string;
  /** Make a missing v1 parent (default true; false keeps a probe from writing). */
  create?: boolean;
}

function childDirs(dir: string): string[] {
  try {
    return readdirSync(dir, { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => join(dir, d.name));
  } catch {
    return [];
  }
}

const anyOf = (present: Set<string>, alternatives: string[][]) => alternatives.some((all) => all.every((f) => present.has(f)));

/** The files of one cgroup dir below a v1 hierarchy's root: Berth's parent, another child, or a new parent. */
function v1ProbeFiles(hierarchy: string, parent: string, create: boolean): Set<string> | undefined {
  const own = join(hierarchy, parent);
  if (existsSync(own)) return new Set(entriesOf(own));
  const other = childDirs(hierarchy)[0];
  if (other) return new Set(entriesOf(other));
  if (create) {
    try {
      mkdirSync(own);
      return new Set(entriesOf(own));
    } catch {
      // a read-only cgroup tree: the root's own files are all there is to go by
    }
  }
  return undefined;
}

function probeV1(root: string, parent: string, create: boolean): CgroupFeatures {
  const mounts = entriesOf(root);
  const hierarchyOf = (ctrl: string) => {
    const m = mounts.includes(ctrl) ? ctrl : mounts.find((x) => x.split(',').includes(ctrl));
    return m === undefined ? undefined : join(root, m);
  };
  const filesOf = new Map<string, Set<string> | undefined>();
  const has = (ctrl: string, alternatives: string[][]): boolean => {
    const hierarchy = hierarchyOf(ctrl);
    if (!hierarchy || !existsSync(join(hierarchy, 'cgroup.procs'))) return false;
    if (!filesOf.has(ctrl)) filesOf.set(ctrl, v1ProbeFiles(hierarchy, parent, create));
    // No child to look into: the root shows most v1 files; those it never shows (pids.max, the BFQ weights)
    // are taken as present, and the runtime has the last word.
    const files = filesOf.get(ctrl) ?? new Set([...entriesOf(hierarchy), 'pids.max', 'blkio.bfq.weight', 'blkio.bfq.weight_device']);
    return anyOf(files, alternatives);
  };
  const out = { ...ALL_FEATURES };
  for (const [feature, [ctrl, alternatives]] of Object.entries(V1_FILES) as [CgroupFeature, [string, string[][]]][]) {
    out[feature] = has(ctrl, alternatives);
  }
  out.hugetlbSizes = hugetlbSizes(hierarchyOf('hugetlb'), /^hugetlb\.(\w+)\.limit_in_bytes$/);
  return out;
}

function probeV2(root: string, blockRoot: string, parent: string): CgroupFeatures {
  const available = new Set(readWords(join(root, 'cgroup.controllers')));
  const rootFiles = new Set(entriesOf(root));
  // A child that has the controller enabled shows its files as a container's cgroup will.
  const children = [join(root, parent), ...childDirs(root)].filter((d) => existsSync(join(d, 'cgroup.controllers')));
  const probeDirOf = (ctrl: string) => children.find((d) => readWords(join(d, 'cgroup.controllers')).includes(ctrl));
  const bfqOffered = () => childDirs(blockRoot).some((d) => /\bbfq\b/.test(readText(join(d, 'queue', 'scheduler'))));
  const has = (ctrl: string, alternatives: string[][]): boolean => {
    if (!available.has(ctrl) || alternatives.length === 0) return false;
    const dir = probeDirOf(ctrl);
    if (dir) return anyOf(new Set(entriesOf(dir)), alternatives);
    // No child shows the controller: what the root tells of the files its children would get.
    const fallback = new Set<string>();
    for (const all of alternatives) for (const f of all) fallback.add(f);
    if (ctrl === 'io') {
      fallback.delete('io.weight');
      fallback.delete('io.bfq.weight');
      if (rootFiles.has('io.cost.qos')) fallback.add('io.weight');
      if (bfqOffered()) fallback.add('io.bfq.weight');
    }
    return anyOf(fallback, alternatives);
  };
  const out = { ...ALL_FEATURES };
  for (const [feature, [ctrl, alternatives]] of Object.entries(V2_FILES) as [CgroupFeature, [string, string[][]]][]) {
    out[feature] = has(ctrl, alternatives);
  }
  const hugetlbDir = available.has('hugetlb') ? (probeDirOf('hugetlb') ?? root) : undefined;
  out.hugetlbSizes = hugetlbSizes(hugetlbDir, /^hugetlb\.(\w+)\.max$/);
  if (hugetlbDir === root && out.hugetlbSizes.length === 0) out.hugetlbSizes = hugePageSizes();
  return out;
}

function hugetlbSizes(dir: string | undefined, pattern: RegExp): string[] {
  if (!dir) return [];
  return entriesOf(dir).flatMap((f) => pattern.exec(f)?.[1] ?? []).sort();
}

/** The kernel's huge page sizes (`hugepages-2048kB` → `2MB`). */
function hugePageSizes(): string[] {
  return entriesOf('/sys/kernel/mm/hugepages').flatMap((d) => {
    const kb = Number(/^hugepages-(\d+)kB$/.exec(d)?.[1]);
    if (!kb) return [];
    return [kb >= 1024 * 1024 ? `${kb / 1024 / 1024}GB` : kb >= 1024 ? `${kb / 1024}MB` : `${kb}KB`];
  });
}

function readText(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}

function readWords(path: string): string[] {
  return readText(path).split(/\s+/).filter(Boolean);
}

/** Probe the host's cgroups for `version` (1 covers hybrid: the limits live in the v1 hierarchies). */
export function probeCgroupFeatures(version: 1 | 2, opts: ProbeOptions = {}): CgroupFeatures {
  const root = opts.root ?? '/sys/fs/cgroup';
  const parent = opts.parent ?? 'berth';
  if (!existsSync(root)) return { ...ALL_FEATURES };
  return version === 2 ? probeV2(root, opts.blockRoot ?? '/sys/block', parent) : probeV1(root, parent, opts.create ?? true);
}

/**
 * How docker's `info` names each missing limit (daemon/info_unix.go), per cgroup version; Berth adds the limits
 * docker's info leaves out but its create warns about (swappiness, real-time CPU, the v1 block I/O weights).
 * An empty name: the version has no such file, and its absence is no news.
 */
const WARNING_NAMES: [CgroupFeature, v1: string, v2: string][] = [
  ['memoryLimit', 'memory limit', 'memory limit'],
  ['swapLimit', 'swap limit', 'swap limit'],
  ['oomKillDisable', 'oom kill disable', ''],
  ['memorySwappiness', 'memory swappiness', ''],
  ['cpuCfs', 'cpu cfs quota', 'cpu cfs quota'],
  ['cpuCfs', 'cpu cfs period', 'cpu cfs period'],
  ['cpuShares', 'cpu shares', 'cpu shares'],
  ['cpuset', 'cpuset', 'cpuset'],
  ['pidsLimit', 'pids limit', 'pids limit'],
  ['cpuRealtime', 'cpu realtime', ''],
  ['blkioWeight', 'blkio weight', 'io.weight'],
  ['blkioWeightDevice', 'blkio weight_device', 'io.weight (per device)'],
  ['blkioReadBps', 'blkio throttle.read_bps_device', 'io.max (rbps)'],
  ['blkioWriteBps', 'blkio throttle.write_bps_device', 'io.max (wbps)'],
  ['blkioReadIOps', 'blkio throttle.read_iops_device', 'io.max (riops)'],
  ['blkioWriteIOps', 'blkio throttle.write_iops_device', 'io.max (wiops)'],
];

/** What the host lacks, as `WARNING: No … support` lines in docker's words. */
export function featureWarnings(f: CgroupFeatures, version: 1 | 2): string[] {
  return WARNING_NAMES.flatMap(([feature, v1, v2]) => {
    const name = version === 1 ? v1 : v2;
    return name && !f[feature] ? [`WARNING: No ${name} support`] : [];
  });
}
