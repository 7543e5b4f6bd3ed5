/**
 * Resource options (docker's flags, from any face) checked against the host and turned into Resources.
 * The same function serves create (from nothing) and update (over the container's current resources), so
 * an impossible value is refused with docker's message before anything is created or changed.
 */
import { readFileSync, statSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { InvalidArgument } from '../errors.ts';
import { probeCgroupFeatures, type CgroupFeatures } from '../runtime/cgroup-features.ts';
import type { Resources, ThrottleDevice, WeightDevice } from '../types.ts';

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
  blkioWeightDevice?: { path: string; weight: number }[];
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
  /**
   * The limits this host's cgroups can take, probed file by file (src/runtime/cgroup-features.ts). A limit the
   * host cannot take is dropped with docker's warning, as docker does, instead of failing in the runtime.
   */
  features: CgroupFeatures;
}

/**
 * The host's CPUs, memory nodes and cgroup features. `features` may be a function: it is then called only when
 * a limit is asked for, so a create without limits does not probe the cgroup tree.
 */
export function hostFacts(cgroupVersion: 1 | 2, features: CgroupFeatures | (() => CgroupFeatures) = () => probeCgroupFeatures(cgroupVersion)): HostFacts {
  const read = (p: string, dflt: string) => {
    try {
      return readFileSync(p, 'utf8').trim();
    } catch {
      return dflt;
    }
  };
  const cpus = parseCpuList(read('/sys/devices/system/cpu/online', `0-${availableParallelism() - 1}`));
  return {
    cpus: cpus.size,
    onlineCpus: cpus,
    onlineMems: parseCpuList(read('/sys/devices/system/node/online', '0')),
    cgroupVersion,
    get features() {
      return typeof features === 'function' ? features() : features;
    },
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

/** A block device's numbers, refusing what is not one with the flag's name. */
function blockDevice(path: string, flag: string): { major: number; minor: number } {
  const st = statSync(path, { throwIfNoEntry: false });
  if (!st) throw new InvalidArgument(`${flag}: no such device: ${path}`);
  if (!st.isBlockDevice()) throw new InvalidArgument(`${flag}: ${path} is not a block device`);
  const rdev = st.rdev;
  return { major: Math.floor(rdev / 256) & 0xfff, minor: (rdev & 0xff) | (Math.floor(rdev / 4096) & 0xfff00) };
}

function throttles(list: { path: string; rate: number }[] | undefined, flag: string): ThrottleDevice[] | undefined {
  if (!list) return undefined;
  return list.map(({ path, rate }) => {
    if (!Number.isInteger(rate) || rate < 0) throw new InvalidArgument(`invalid rate for ${flag}: ${rate}`);
    return { path, ...blockDevice(path, flag), rate };
  });
}

function weightDevices(list: { path: string; weight: number }[] | undefined): WeightDevice[] | undefined {
  if (!list) return undefined;
  return list.map(({ path, weight }) => {
    if (!Number.isInteger(weight) || (weight !== 0 && (weight < 10 || weight > 1000))) {
      throw new InvalidArgument(`invalid weight for device: ${path}:${weight}`);
    }
    return { path, ...blockDevice(path, '--blkio-weight-device'), weight };
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
  set('blkioWeightDevice', weightDevices(opts.blkioWeightDevice));
  set('blkioDeviceReadBps', throttles(opts.deviceReadBps, '--device-read-bps'));
  set('blkioDeviceWriteBps', throttles(opts.deviceWriteBps, '--device-write-bps'));
  set('blkioDeviceReadIOps', throttles(opts.deviceReadIops, '--device-read-iops'));
  set('blkioDeviceWriteIOps', throttles(opts.deviceWriteIops, '--device-write-iops'));

  const bad = (m: string) => {
    throw new InvalidArgument(m);
  };
  if (r.memory !== undefined && (!Number.isFinite(r.memory) || r.memory < 6 * MB)) bad('Minimum memory limit allowed is 6MB');
  if (r.kernelMemory !== undefined && r.kernelMemory < 4 * MB) bad('Minimum kernel memory limit allowed is 4MB');
  if (r.memorySwappiness === -1) delete r.memorySwappiness;
  if (r.memorySwappiness !== undefined && (!Number.isInteger(r.memorySwappiness) || r.memorySwappiness < 0 || r.memorySwappiness > 100)) {
    bad(`Invalid value: ${r.memorySwappiness}, valid memory swappiness range is 0-100`);
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
  if (r.memoryReservation !== undefined && r.memoryReservation < 6 * MB) bad('Minimum memory reservation allowed is 6MB');
  // Values are checked above on every host; what this host cannot take goes only now, with docker's warning.
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
    if (r.memory !== undefined && r.memory < r.memoryReservation) {
      bad('Minimum memory limit can not be less than memory reservation limit, see usage');
    }
  }
  if (r.oomKillDisable && r.memory === undefined) {
    warnings.push("Disabling the OOM killer on containers without setting a '-m/--memory' limit may be dangerous.");
  }
  return { resources: r, warnings };
}

/**
 * Drop the limits the host cannot take, each with docker's warning (verifyPlatformContainerResources) when it
 * is asked for now; an update drops silently what `base` holds of them. `--cpus` without CFS is refused, as
 * docker refuses it. The order of the checks, and so of the warnings, is docker's.
 */
function discardUnsupported(r: Resources, base: Resources, host: HostFacts, warnings: string[]): void {
  if (Object.keys(r).length === 0) return; // no limit: no need to know what the host can take
  const f = host.features;
  const asked = (k: keyof Resources) => r[k] !== undefined && r[k] !== base[k];
  const drop = (keys: (keyof Resources)[], warning?: string) => {
    if (warning && keys.some(asked)) warnings.push(warning);
    for (const k of keys) delete r[k];
  };
  if (!f.memoryLimit && r.memory !== undefined) {
    drop(['memory'], 'Your kernel does not support memory limit capabilities or the cgroup is not mounted. Limitation discarded.');
    r.memorySwap = -1;
  }
  if (!f.swapLimit && r.memory !== undefined && r.memorySwap !== -1) {
    // Only the swap part goes: the memory limit still applies, and -1 keeps the runtime off the swap file.
    if (asked('memory') || asked('memorySwap')) {
      warnings.push('Your kernel does not support swap limit capabilities or the cgroup is not mounted. Memory limited without swap.');
    }
    r.memorySwap = -1;
  }
  if (!f.memorySwappiness) {
    drop(['memorySwappiness'], 'Your kernel does not support memory swappiness capabilities or the cgroup is not mounted. Memory swappiness discarded.');
  }
  if (!f.memoryReservation) {
    drop(['memoryReservation'], 'Your kernel does not support memory soft limit capabilities or the cgroup is not mounted. Limitation discarded.');
  }
  if (!f.kernelMemory) {
    drop(['kernelMemory'], 'Your kernel does not support kernel memory limit capabilities or the cgroup is not mounted. Limitation discarded.');
  }
  if (!f.oomKillDisable) drop(['oomKillDisable'], r.oomKillDisable ? 'Your kernel does not support OomKillDisable. OomKillDisable discarded.' : undefined);
  if (!f.pidsLimit) {
    drop(['pidsLimit'], r.pidsLimit !== undefined && r.pidsLimit > 0 ? 'Your kernel does not support PIDs limit capabilities or the cgroup is not mounted. PIDs limit discarded.' : undefined);
  }
  if (!f.cpuCfs && r.nanoCpus) throw new InvalidArgument('NanoCPUs can not be set, as your kernel does not support CPU CFS scheduler or the cgroup is not mounted');
  if (!f.cpuShares) drop(['cpuShares'], 'Your kernel does not support CPU shares or the cgroup is not mounted. Shares discarded.');
  if (!f.cpuCfs) drop(['cpuPeriod', 'cpuQuota'], 'Your kernel does not support CPU CFS scheduler. CPU period/quota discarded.');
  if (!f.cpuset) drop(['cpusetCpus', 'cpusetMems'], 'Your kernel does not support cpuset or the cgroup is not mounted. Cpuset discarded.');
  if (!f.blkioWeight) drop(['blkioWeight'], 'Your kernel does not support Block I/O weight or the cgroup is not mounted. Weight discarded.');
  if (!f.blkioWeightDevice && r.blkioWeightDevice?.length) {
    drop(['blkioWeightDevice'], 'Your kernel does not support Block I/O weight_device or the cgroup is not mounted. Weight-device discarded.');
    // docker empties a discarded device list (inspect shows [], where one never asked for shows null).
    r.blkioWeightDevice = [];
  }
  const throttle: [boolean, keyof Resources, string][] = [
    [f.blkioReadBps, 'blkioDeviceReadBps', 'Your kernel does not support BPS Block I/O read limit or the cgroup is not mounted. Block I/O BPS read limit discarded.'],
    [f.blkioWriteBps, 'blkioDeviceWriteBps', 'Your kernel does not support BPS Block I/O write limit or the cgroup is not mounted. Block I/O BPS write limit discarded.'],
    [f.blkioReadIOps, 'blkioDeviceReadIOps', 'Your kernel does not support IOPS Block read limit or the cgroup is not mounted. Block I/O IOPS read limit discarded.'],
    [f.blkioWriteIOps, 'blkioDeviceWriteIOps', 'Your kernel does not support IOPS Block write limit or the cgroup is not mounted. Block I/O IOPS write limit discarded.'],
  ];
  for (const [ok, key, warning] of throttle) {
    if (ok) continue;
    const asked = (r[key] as unknown[] | undefined)?.length;
    drop([key], warning);
    // docker empties a discarded device list (inspect shows [], where one never asked for shows null).
    if (asked) (r as Record<string, unknown>)[key] = [];
  }
}

export function validateOomScoreAdj(v: number | undefined): number | undefined {
  if (v === undefined) return undefined;
  if (!Number.isInteger(v) || v < -1000 || v > 1000) throw new InvalidArgument(`Invalid value ${v}, range for oom score adj is [-1000, 1000]`);
  return v;
}
