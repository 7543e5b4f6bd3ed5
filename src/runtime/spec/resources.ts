/**
 * Resources → the OCI spec's linux.resources, in cgroup v1 terms (runtimes convert for v2: see
 * src/runtime/cgroups.ts). Used for the spec at create and for `runtime update` on a live container.
 */
import { InvalidArgument } from '../../errors.ts';
import type { Resources, ThrottleDevice } from '../../types.ts';
import type { DeviceCgroupRule } from './devices.ts';

interface OciThrottle {
  major: number;
  minor: number;
  rate: number;
}

export interface OciResources {
  devices?: DeviceCgroupRule[];
  /** Bytes; swap is memory+swap; -1 = unlimited. */
  memory?: { limit?: number; reservation?: number; swap?: number; kernel?: number; swappiness?: number; disableOOMKiller?: boolean };
  cpu?: { shares?: number; quota?: number; period?: number; cpus?: string; mems?: string };
  blockIO?: {
    weight?: number;
    weightDevice?: { major: number; minor: number; weight: number }[];
    throttleReadBpsDevice?: OciThrottle[];
    throttleWriteBpsDevice?: OciThrottle[];
    throttleReadIOPSDevice?: OciThrottle[];
    throttleWriteIOPSDevice?: OciThrottle[];
  };
  pids?: { limit: number };
}

/** docker's --cpus: a 100 ms period and the matching quota. */
export const NANO_CPU_PERIOD = 100_000;

/** What the host's cgroups can take, where the spec must leave a field out rather than say "unlimited". */
export interface ResourceHost {
  /**
   * Swap accounting (v1 memory.memsw.*, v2 memory.swap.max). Without it the runtime must not be handed any
   * swap value, -1 included: runc writes every swap it is given, and the file is not there.
   */
  swapLimit: boolean;
  /**
   * For an update of a running container: a quota of -1 must be said to lift the one it has. A new
   * container's cgroup has none, so its spec leaves -1 out (crun 1.8 on cgroup v1 writes -1 as an unsigned
   * number, which the kernel refuses).
   */
  update?: boolean;
}

function memory(r: Resources, host: ResourceHost): OciResources['memory'] {
  const out: NonNullable<OciResources['memory']> = {};
  const { memory: limit, memorySwap } = r;
  if (limit === undefined) {
    if (memorySwap !== undefined && memorySwap !== -1) {
      throw new InvalidArgument('You should always set the Memory limit when using Memoryswap limit');
    }
  } else {
    out.limit = limit;
    if (memorySwap !== undefined && memorySwap !== -1 && memorySwap < limit) {
      throw new InvalidArgument('Minimum memoryswap limit should be larger than memory limit');
    }
    if (host.swapLimit) out.swap = memorySwap ?? 2 * limit;
  }
  if (r.memoryReservation !== undefined) out.reservation = r.memoryReservation;
  if (r.kernelMemory !== undefined) out.kernel = r.kernelMemory;
  if (r.memorySwappiness !== undefined) out.swappiness = r.memorySwappiness;
  if (r.oomKillDisable) out.disableOOMKiller = true;
  return Object.keys(out).length > 0 ? out : undefined;
}

function cpu(r: Resources, host: ResourceHost): OciResources['cpu'] {
  const out: NonNullable<OciResources['cpu']> = {};
  if (r.cpuShares !== undefined && r.cpuShares > 0) out.shares = r.cpuShares;
  if (r.nanoCpus !== undefined && r.nanoCpus > 0) {
    out.period = NANO_CPU_PERIOD;
    out.quota = Math.round((r.nanoCpus * NANO_CPU_PERIOD) / 1e9);
  } else {
    if (r.cpuQuota !== undefined && (r.cpuQuota > 0 || (r.cpuQuota === -1 && host.update))) out.quota = r.cpuQuota;
    if (r.cpuPeriod !== undefined && r.cpuPeriod !== 0) out.period = r.cpuPeriod;
  }
  if (r.cpusetCpus) out.cpus = r.cpusetCpus;
  if (r.cpusetMems) out.mems = r.cpusetMems;
  return Object.keys(out).length > 0 ? out : undefined;
}

const throttle = (list: ThrottleDevice[] | undefined) => list?.map(({ major, minor, rate }) => ({ major, minor, rate }));

function blockIO(r: Resources): OciResources['blockIO'] {
  const out: NonNullable<OciResources['blockIO']> = {};
  if (r.blkioWeight !== undefined && r.blkioWeight > 0) out.weight = r.blkioWeight;
  const weighted = r.blkioWeightDevice?.filter((d) => d.weight > 0);
  if (weighted?.length) out.weightDevice = weighted.map(({ major, minor, weight }) => ({ major, minor, weight }));
  if (r.blkioDeviceReadBps?.length) out.throttleReadBpsDevice = throttle(r.blkioDeviceReadBps);
  if (r.blkioDeviceWriteBps?.length) out.throttleWriteBpsDevice = throttle(r.blkioDeviceWriteBps);
  if (r.blkioDeviceReadIOps?.length) out.throttleReadIOPSDevice = throttle(r.blkioDeviceReadIOps);
  if (r.blkioDeviceWriteIOps?.length) out.throttleWriteIOPSDevice = throttle(r.blkioDeviceWriteIOps);
  return Object.keys(out).length > 0 ? out : undefined;
}

/** The resources part of the spec (without the device rules, which buildSpec adds). */
export function ociResources(r: Resources, host: ResourceHost = { swapLimit: true }): OciResources {
  const out: OciResources = {};
  const mem = memory(r, host);
  if (mem) out.memory = mem;
  const c = cpu(r, host);
  if (c) out.cpu = c;
  const b = blockIO(r);
  if (b) out.blockIO = b;
  // docker: 0 or negative means unlimited. A live update to unlimited must say so: -1 is "max".
  if (r.pidsLimit !== undefined && r.pidsLimit !== 0) out.pids = { limit: r.pidsLimit > 0 ? r.pidsLimit : -1 };
  return out;
}
