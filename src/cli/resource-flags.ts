/** docker's resource flags, shared by run/create and update, and their translation into ResourceOptions. */
import type { ResourceOptions } from '../engine/resources.ts';
import { InvalidArgument } from '../errors.ts';
import { bytesIn } from '../units.ts';
import type { FlagDef, FlagValues } from './flags.ts';

/** Flags `docker update` takes too. */
export const updatableFlags = [
  { name: 'memory', short: 'm', type: 'string', description: 'Memory limit' },
  { name: 'memory-swap', type: 'string', description: "Swap limit equal to memory plus swap: '-1' to enable unlimited swap" },
  { name: 'memory-reservation', type: 'string', description: 'Memory soft limit' },
  { name: 'kernel-memory', type: 'string', description: 'Kernel memory limit' },
  { name: 'cpu-shares', short: 'c', type: 'int', description: 'CPU shares (relative weight)' },
  { name: 'cpus', type: 'string', description: 'Number of CPUs' },
  { name: 'cpu-period', type: 'int', description: 'Limit CPU CFS (Completely Fair Scheduler) period' },
  { name: 'cpu-quota', type: 'int', description: 'Limit CPU CFS (Completely Fair Scheduler) quota' },
  { name: 'cpuset-cpus', type: 'string', description: 'CPUs in which to allow execution (0-3, 0,1)' },
  { name: 'cpuset-mems', type: 'string', description: 'MEMs in which to allow execution (0-3, 0,1)' },
  { name: 'blkio-weight', type: 'int', description: 'Block IO (relative weight), between 10 and 1000, or 0 to disable' },
  { name: 'pids-limit', type: 'int', description: 'Tune container pids limit (set -1 for unlimited)' },
] as const satisfies readonly FlagDef[];

/** Flags only `run`/`create` take. */
export const createOnlyResourceFlags = [
  { name: 'memory-swappiness', type: 'int', default: -1, description: 'Tune container memory swappiness (0 to 100)' },
  { name: 'oom-kill-disable', type: 'bool', description: 'Disable OOM Killer' },
  { name: 'oom-score-adj', type: 'int', description: "Tune host's OOM preferences (-1000 to 1000)" },
  { name: 'blkio-weight-device', type: 'list', description: 'Block IO weight (relative device weight)' },
  { name: 'device-read-bps', type: 'list', description: 'Limit read rate (bytes per second) from a device' },
  { name: 'device-write-bps', type: 'list', description: 'Limit write rate (bytes per second) to a device' },
  { name: 'device-read-iops', type: 'list', description: 'Limit read rate (IO per second) from a device' },
  { name: 'device-write-iops', type: 'list', description: 'Limit write rate (IO per second) to a device' },
  { name: 'cgroup-parent', type: 'string', description: 'Optional parent cgroup for the container' },
  { name: 'cgroups', type: 'string', default: 'enabled', description: 'Control container cgroup configuration ("enabled"|"disabled")' },
] as const satisfies readonly FlagDef[];

/** docker's RAMInBytes: `512m`, `1g`, `100k`, `2048` (bytes); case-insensitive, optional `b`. */
export function parseBytes(value: string, flag: string): number {
  const n = bytesIn(value);
  if (n === undefined) throw new InvalidArgument(`invalid argument "${value}" for "${flag}" flag: invalid size: '${value}'`);
  return n;
}

function throttle(list: string[], flag: string, bytes: boolean): { path: string; rate: number }[] | undefined {
  if (list.length === 0) return undefined;
  return list.map((spec) => {
    const i = spec.lastIndexOf(':');
    if (i <= 0) throw new InvalidArgument(`invalid argument "${spec}" for "${flag}" flag: bad format: ${spec}`);
    const path = spec.slice(0, i);
    const v = spec.slice(i + 1);
    if (!path.startsWith('/dev/')) throw new InvalidArgument(`invalid argument "${spec}" for "${flag}" flag: bad format for path: ${path}`);
    if (bytes) return { path, rate: parseBytes(v, flag) };
    if (!/^\d+$/.test(v)) throw new InvalidArgument(`invalid argument "${spec}" for "${flag}" flag: invalid rate for device: ${spec}. The correct format is <device-path>:<number>. Number must be a positive integer`);
    return { path, rate: Number(v) };
  });
}

/** docker's ValidateWeightDevice: `/dev/sda:200`, the weight 10–1000 or 0. */
function weightDevices(list: string[]): { path: string; weight: number }[] | undefined {
  if (list.length === 0) return undefined;
  const fail = (spec: string, why: string) => new InvalidArgument(`invalid argument "${spec}" for "--blkio-weight-device" flag: ${why}`);
  return list.map((spec) => {
    const i = spec.indexOf(':');
    if (i <= 0) throw fail(spec, `bad format: ${spec}`);
    const path = spec.slice(0, i);
    const v = spec.slice(i + 1);
    if (!path.startsWith('/dev/')) throw fail(spec, `bad format for device path: ${spec}`);
    const weight = Number(v);
    if (!/^\d+$/.test(v) || (weight > 0 && (weight < 10 || weight > 1000))) throw fail(spec, `invalid weight for device: ${spec}`);
    return { path, weight };
  });
}

type Updatable = FlagValues<typeof updatableFlags>;
type CreateOnly = FlagValues<typeof createOnlyResourceFlags>;

export function toResourceOptions(f: Updatable & Partial<CreateOnly>, changed: Set<string>): ResourceOptions {
  const o: ResourceOptions = {};
  if (changed.has('memory')) o.memory = parseBytes(f.memory, '-m, --memory');
  if (changed.has('memory-swap')) o.memorySwap = f['memory-swap'] === '-1' ? -1 : parseBytes(f['memory-swap'], '--memory-swap');
  if (changed.has('memory-reservation')) o.memoryReservation = parseBytes(f['memory-reservation'], '--memory-reservation');
  if (changed.has('kernel-memory')) o.kernelMemory = parseBytes(f['kernel-memory'], '--kernel-memory');
  if (changed.has('cpu-shares')) o.cpuShares = f['cpu-shares'];
  if (changed.has('cpus')) {
    const n = Number(f.cpus);
    if (f.cpus.trim() === '' || !Number.isFinite(n)) throw new InvalidArgument(`invalid argument "${f.cpus}" for "--cpus" flag: failed to parse ${f.cpus} as a rational number`);
    o.cpus = n;
  }
  if (changed.has('cpu-period')) o.cpuPeriod = f['cpu-period'];
  if (changed.has('cpu-quota')) o.cpuQuota = f['cpu-quota'];
  if (changed.has('cpuset-cpus')) o.cpusetCpus = f['cpuset-cpus'];
  if (changed.has('cpuset-mems')) o.cpusetMems = f['cpuset-mems'];
  if (changed.has('blkio-weight')) o.blkioWeight = f['blkio-weight'];
  if (changed.has('pids-limit')) o.pidsLimit = f['pids-limit'];
  if (changed.has('memory-swappiness')) o.memorySwappiness = f['memory-swappiness'];
  if (f['oom-kill-disable']) o.oomKillDisable = true;
  o.blkioWeightDevice = weightDevices(f['blkio-weight-device'] ?? []);
  o.deviceReadBps = throttle(f['device-read-bps'] ?? [], '--device-read-bps', true);
  o.deviceWriteBps = throttle(f['device-write-bps'] ?? [], '--device-write-bps', true);
  o.deviceReadIops = throttle(f['device-read-iops'] ?? [], '--device-read-iops', false);
  o.deviceWriteIops = throttle(f['device-write-iops'] ?? [], '--device-write-iops', false);
  return o;
}
