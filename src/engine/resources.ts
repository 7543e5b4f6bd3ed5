/**
 * Resource options (docker's flags, from any face) checked against the host and turned into Resources.
 * The same function serves create (from nothing) and update (over the container's current resources), so
 * an impossible value is refused with docker's message before anything is created or changed.
 */
import { readFileSync, statSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { InvalidArgument } from '../errors.ts';
import type { Resources, ThrottleDevice } from '../types.ts';

/** What a user may ask for; field names follow docker's flags, sizes in bytes. */
export interface ResourceOptions {
  memory?: number;
  /** Bytes of memory+swap, -1 for unlimited. */
  memorySwap?: number;
  memoryReservation?: number;
  kernelMemory?: number;
  memorySwappiness?: number;
  oomKillDisable?: boolean;
  cpuShares?: number;
  /** Number of CPUs, e.g. 0.5. */
  cpus?: number;
  cpuPeriod?: number;
  cpuQuota?: number;
  cpusetCpus?: string;
  cpusetMems?: string;
  blkioWeight?: number;
  deviceReadBps?: { path: string; rate: number }[];
  deviceWriteBps?: { path: string; rate: number }[];
  deviceReadIops?: { path: string; rate: number }[];
  deviceWriteIops?: { path: string; rate: number }[];
  pidsLimit?: number;
}

export interface HostFacts {
  cpus: number;
  /** Online CPUs and memory nodes, as sets of numbers. */
  onlineCpus: Set<number>;
  onlineMems: Set<number>;
  cgroupVersion: 1 | 2;
  /** The v1 memory controller can still take kernel memory limits. */
  kernelMemory: boolean;
  /**
   * The resource controllers containers can use, by their v2 names (v1's blkio is `io`); undefined means all.
   * A limit whose controller is missing is dropped with docker's warning, as docker does on a v2 host that
   * does not delegate it (or a v1 host that does not mount it), instead of failing in the runtime.
   */
  controllers?: ReadonlySet<Controller>;
}

export type Controller = 'memory' | 'cpu' | 'cpuset' | 'io' | 'pids';
const CONTROLLERS: readonly Controller[] = ['memory', 'cpu', 'cpuset', 'io', 'pids'];

/**
 * The controllers a container can be given limits in. v2: the root's cgroup.controllers (runc enables those
 * down to the container's cgroup). v1: those /proc/cgroups shows enabled and bound to a hierarchy (a mounted
 * v1 controller; on a hybrid host the ones in the v2 hierarchy show hierarchy 0). Undefined when the file
 * cannot be read: then nothing is dropped and the runtime has the last word.
 */
export function availableControllers(cgroupVersion: 1 | 2, read: (path: string) => string | undefined): Set<Controller> | undefined {
  const out = new Set<Controller>();
  const text = read(cgroupVersion === 2 ? '/sys/fs/cgroup/cgroup.controllers' : '/proc/cgroups');
  if (text === undefined) return undefined;
  if (cgroupVersion === 2) {
    for (const c of text.split(/\s+/)) {
      if ((CONTROLLERS as readonly string[]).includes(c)) out.add(c as Controller);
    }
    return out;
  }
  for (const line of text.split('\n')) {
    const [name, hierarchy, , enabled] = line.trim().split(/\s+/);
    if (!name || name.startsWith('#') || hierarchy === '0' || enabled !== '1') continue;
    const c = name === 'blkio' ? 'io' : name;
    if ((CONTROLLERS as readonly string[]).includes(c)) out.add(c as Controller);
  }
  return out;
}

export function hostFacts(cgroupVersion: 1 | 2): HostFacts {
  const readOr = (p: string) => {
    try {
      return readFileSync(p, 'utf8');
    } catch {
      return undefined;
    }
  };
  const read = (p: string, dflt: string) => readOr(p)?.trim() ?? dflt;
  const cpus = parseCpuList(read('/sys/devices/system/cpu/online', `0-${availableParallelism() - 1}`));
  return {
    cpus: cpus.size,
    onlineCpus: cpus,
    onlineMems: parseCpuList(read('/sys/devices/system/node/online', '0')),
    cgroupVersion,
    // Not probed, always false: no kernel memory limit takes effect. v2 has none; on v1 kernels since 5.16
    // never set it (the write failed with EOPNOTSUPP, later kernels keep memory.kmem.limit_in_bytes as a
    // no-op: here, 6.18, a write of 64 MiB succeeds and the file still reads unlimited), and runc 1.0+ (1.1.5
    // here) ignores linux.resources.memory.kernel anyway. A probe of the file would claim a limit nobody applies.
    kernelMemory: false,
    controllers: availableControllers(cgroupVersion, readOr),
  };
}

/** `0-3,5` → {0,1,2,3,5}; null when malformed. */
export function parseCpuList(list: string): Set<number> {
  const out = new Set<number>();
  for (const part of list.split(',').filter(Boolean)) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part.trim());
    if (!m) throw new InvalidArgument(`invalid cpuset specification: ${list}`);
    const a = Number(m[1]);
    const b = m[2] === undefined ? a : Number(m[2]);
    if (b < a) throw new InvalidArgument(`invalid cpuset specification: ${list}`);
    for (let i = a; i <= b; i++) out.add(i);
  }
  return out;
}

const MB = 1024 * 1024;

/** Options that carry over to Resources unchanged (cpus and the device throttles are converted). */
const SAME_NAMED = [
  'memory', 'memorySwap', 'memoryReservation', 'kernelMemory', 'memorySwappiness', 'oomKillDisable',
  'cpuShares', 'cpuPeriod', 'cpuQuota', 'cpusetCpus', 'cpusetMems', 'blkioWeight', 'pidsLimit',
] as const satisfies readonly (keyof ResourceOptions & keyof Resources)[];

function throttles(list: { path: string; rate: number }[] | undefined, flag: string): ThrottleDevice[] | undefined {
  if (!list) return undefined;
  return list.map(({ path, rate }) => {
    if (!Number.isInteger(rate) || rate < 0) throw new InvalidArgument(`invalid rate for ${flag}: ${rate}`);
    const st = statSync(path, { throwIfNoEntry: false });
    if (!st) throw new InvalidArgument(`${flag}: no such device: ${path}`);
    if (!st.isBlockDevice()) throw new InvalidArgument(`${flag}: ${path} is not a block device`);
    const rdev = st.rdev;
    const major = Math.floor(rdev / 256) & 0xfff;
    const minor = (rdev & 0xff) | (Math.floor(rdev / 4096) & 0xfff00);
    return { path, major, minor, rate };
  });
}

/**
 * Merge `opts` over `base` and check the result as docker does. Returns the resources and the warnings
 * docker would print for settings this host discards.
 */
export function resolveResources(
  opts: ResourceOptions,
  base: Resources,
  host: HostFacts,
  mode: 'create' | 'update' = 'create',
): { resources: Resources; warnings: string[] } {
  const r: Resources = { ...base };
  const warnings: string[] = [];
  const set = <K extends keyof Resources>(k: K, v: Resources[K] | undefined) => {
    if (v !== undefined) r[k] = v;
  };
  for (const k of SAME_NAMED) set(k, opts[k]);
  if (opts.cpus !== undefined) r.nanoCpus = Math.round(opts.cpus * 1e9);
  set('blkioDeviceReadBps', throttles(opts.deviceReadBps, '--device-read-bps'));
  set('blkioDeviceWriteBps', throttles(opts.deviceWriteBps, '--device-write-bps'));
  set('blkioDeviceReadIOps', throttles(opts.deviceReadIops, '--device-read-iops'));
  set('blkioDeviceWriteIOps', throttles(opts.deviceWriteIops, '--device-write-iops'));

  const bad = (m: string) => {
    throw new InvalidArgument(m);
  };
  if (r.memory !== undefined && (!Number.isFinite(r.memory) || r.memory < 6 * MB)) bad('Minimum memory limit allowed is 6MB');
  discardUnsupported(r, base, host, warnings);
  if (mode === 'update' && opts.memory !== undefined && opts.memorySwap === undefined && base.memorySwap !== undefined && base.memorySwap !== -1) {
    if (opts.memory > base.memorySwap) {
      bad('Memory limit should be smaller than already set memoryswap limit, update the memoryswap at the same time');
    }
  }
  // docker records the default swap as a number at create (memory+swap = twice memory); update keeps it.
  if (mode === 'create' && r.memory !== undefined && r.memorySwap === undefined) r.memorySwap = 2 * r.memory;
  if (r.memorySwap !== undefined && r.memorySwap !== -1) {
    if (r.memory === undefined) bad('You should always set the Memory limit when using Memoryswap limit');
    if (r.memorySwap < r.memory!) bad('Minimum memoryswap limit should be larger than memory limit, see usage');
  }
  if (r.memoryReservation !== undefined) {
    if (r.memoryReservation < 6 * MB) bad('Minimum memory reservation allowed is 6MB');
    if (r.memory !== undefined && r.memory < r.memoryReservation) {
      bad('Minimum memory limit can not be less than memory reservation limit, see usage');
    }
  }
  if (r.kernelMemory !== undefined) {
    if (r.kernelMemory < 4 * MB) bad('Minimum kernel memory limit allowed is 4MB');
    if (!host.kernelMemory) {
      warnings.push('Your kernel does not support kernel memory limit capabilities or the cgroup is not mounted. Limitation discarded.');
      delete r.kernelMemory;
    }
  }
  if (r.memorySwappiness !== undefined && r.memorySwappiness !== -1) {
    if (!Number.isInteger(r.memorySwappiness) || r.memorySwappiness < 0 || r.memorySwappiness > 100) {
      bad(`Invalid value: ${r.memorySwappiness}, valid memory swappiness range is 0-100`);
    }
    if (host.cgroupVersion === 2) {
      warnings.push('Your kernel does not support memory swappiness capabilities or the cgroup is not mounted. Memory swappiness discarded.');
      delete r.memorySwappiness;
    }
  }
  if (r.memorySwappiness === -1) delete r.memorySwappiness;
  if (r.oomKillDisable && host.cgroupVersion === 2) {
    warnings.push('Your kernel does not support OomKillDisable. OomKillDisable discarded.');
    delete r.oomKillDisable;
  } else if (r.oomKillDisable && r.memory === undefined) {
    warnings.push("Disabling the OOM killer on containers without setting a '-m/--memory' limit may be dangerous.");
  }
  if (r.cpuShares !== undefined && (!Number.isInteger(r.cpuShares) || r.cpuShares < 0)) bad(`invalid CPU shares: ${r.cpuShares}`);
  if (r.nanoCpus !== undefined) {
    if (opts.cpus !== undefined && (opts.cpuPeriod !== undefined || r.cpuPeriod)) bad('Conflicting options: Nano CPUs and CPU Period cannot both be set');
    if (opts.cpus !== undefined && (opts.cpuQuota !== undefined || r.cpuQuota)) bad('Conflicting options: Nano CPUs and CPU Quota cannot both be set');
    if (r.nanoCpus < 0 || r.nanoCpus > host.cpus * 1e9 || (r.nanoCpus > 0 && r.nanoCpus < 1e7)) {
      bad(`Range of CPUs is from 0.01 to ${host.cpus}.00, as there are only ${host.cpus} CPUs available`);
    }
  }
  if ((opts.cpuPeriod !== undefined || opts.cpuQuota !== undefined) && r.nanoCpus && opts.cpus === undefined) {
    bad('Conflicting options: CPU Period or Quota cannot be set when Nano CPUs are set');
  }
  if (r.cpuPeriod !== undefined && r.cpuPeriod !== 0 && (r.cpuPeriod < 1000 || r.cpuPeriod > 1_000_000)) {
    bad('CPU cfs period can not be less than 1ms (i.e. 1000) or larger than 1s (i.e. 1000000)');
  }
  if (r.cpuQuota !== undefined && r.cpuQuota !== 0 && r.cpuQuota !== -1 && r.cpuQuota < 1000) {
    bad('CPU cfs quota can not be less than 1ms (i.e. 1000)');
  }
  for (const [value, online, what] of [
    [r.cpusetCpus, host.onlineCpus, 'CPUs'],
    [r.cpusetMems, host.onlineMems, 'memory nodes'],
  ] as const) {
    if (!value) continue;
    let want: Set<number>;
    try {
      want = parseCpuList(value);
    } catch {
      return bad(`Invalid value ${value} for cpuset ${what === 'CPUs' ? 'cpus' : 'mems'}`);
    }
    for (const c of want) {
      if (!online.has(c)) {
        bad(`Requested ${what} are not available - requested ${value}, available: ${[...online].join(',')}`);
      }
    }
  }
  if (r.blkioWeight !== undefined && r.blkioWeight !== 0 && (r.blkioWeight < 10 || r.blkioWeight > 1000)) {
    bad('Range of blkio weight is from 10 to 1000');
  }
  if (r.pidsLimit !== undefined && !Number.isInteger(r.pidsLimit)) bad(`invalid pids limit: ${r.pidsLimit}`);
  return { resources: r, warnings };
}

/**
 * Drop the limits whose controller the host lacks, with docker's warnings (verifyPlatformContainerResources)
 * for those asked for now (an update also drops, silently, what `base` holds of them); --cpus without the
 * cpu controller is refused, as docker refuses it.
 */
function discardUnsupported(r: Resources, base: Resources, host: HostFacts, warnings: string[]): void {
  const has = (c: Controller) => host.controllers === undefined || host.controllers.has(c);
  const asked = (k: keyof Resources) => r[k] !== undefined && r[k] !== base[k];
  const drop = (keys: (keyof Resources)[], warning?: string) => {
    if (warning && keys.some(asked)) warnings.push(warning);
    for (const k of keys) delete r[k];
  };
  if (!has('memory')) {
    if (r.memory !== undefined) {
      drop(['memory'], 'Your kernel does not support memory limit capabilities or the cgroup is not mounted. Limitation discarded.');
      r.memorySwap = -1;
    }
    drop(['memoryReservation'], 'Your kernel does not support memory soft limit capabilities or the cgroup is not mounted. Limitation discarded.');
    const swappiness = r.memorySwappiness !== undefined && r.memorySwappiness !== -1;
    drop(['memorySwappiness'], swappiness ? 'Your kernel does not support memory swappiness capabilities or the cgroup is not mounted. Memory swappiness discarded.' : undefined);
    drop(['oomKillDisable'], r.oomKillDisable ? 'Your kernel does not support OomKillDisable. OomKillDisable discarded.' : undefined);
  }
  if (!has('pids')) {
    drop(['pidsLimit'], r.pidsLimit !== undefined && r.pidsLimit > 0 ? 'Your kernel does not support PIDs limit capabilities or the cgroup is not mounted. PIDs limit discarded.' : undefined);
  }
  if (!has('cpu')) {
    if (r.nanoCpus) throw new InvalidArgument('NanoCPUs can not be set, as your kernel does not support CPU CFS scheduler or the cgroup is not mounted');
    drop(['cpuShares'], 'Your kernel does not support CPU shares or the cgroup is not mounted. Shares discarded.');
    drop(['cpuPeriod', 'cpuQuota'], 'Your kernel does not support CPU CFS scheduler. CPU period/quota discarded.');
  }
  if (!has('cpuset')) drop(['cpusetCpus', 'cpusetMems'], 'Your kernel does not support cpuset or the cgroup is not mounted. Cpuset discarded.');
  if (!has('io')) {
    drop(['blkioWeight'], 'Your kernel does not support Block I/O weight or the cgroup is not mounted. Weight discarded.');
    drop(['blkioDeviceReadBps'], 'Your kernel does not support BPS Block I/O read limit or the cgroup is not mounted. Block I/O BPS read limit discarded.');
    drop(['blkioDeviceWriteBps'], 'Your kernel does not support BPS Block I/O write limit or the cgroup is not mounted. Block I/O BPS write limit discarded.');
    drop(['blkioDeviceReadIOps'], 'Your kernel does not support IOPS Block read limit or the cgroup is not mounted. Block I/O IOPS read limit discarded.');
    drop(['blkioDeviceWriteIOps'], 'Your kernel does not support IOPS Block write limit or the cgroup is not mounted. Block I/O IOPS write limit discarded.');
  }
}

export function validateOomScoreAdj(v: number | undefined): number | undefined {
  if (v === undefined) return undefined;
  if (!Number.isInteger(v) || v < -1000 || v > 1000) throw new InvalidArgument(`Invalid value ${v}, range for oom score adj is [-1000, 1000]`);
  return v;
}
