import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import {
  blkioWeightToIoWeight, cgroupDirs, cpuSharesToWeight, fileHolds, hasBfqWeight, readCgroupStats, resourceFilePath, resourceFiles, swapToV2,
} from '../../src/runtime/cgroups.ts';
import type { CgroupInfo } from '../../src/runtime/probe.ts';
import {
  blockIO, cpuPercent, memPercent, memUsageNoCache, parseNetDev, parseProcStat, sampleOnce, statsEntry, statsSnapshot, streamStats,
  type CpuStats, type DockerStats, type StatsTarget,
} from '../../src/engine/stats.ts';
import { bytesSize, statsRow } from '../../src/cli/commands/stats.ts';
import { formatRows } from '../../src/cli/format.ts';
import { DEFAULT_FORMAT, HEADERS } from '../../src/cli/commands/stats.ts';
import { InvalidArgument } from '../../src/errors.ts';

const V1: CgroupInfo = { mode: 'hybrid', version: 1, v2Controllers: ['hugetlb'] };
const V2: CgroupInfo = { mode: 'v2', version: 2, v2Controllers: ['cpu', 'memory', 'io', 'pids'] };

const tmp = mkdtempSync(join(tmpdir(), 'berth-cg-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

function tree(base: string, files: Record<string, string>): string {
  for (const [rel, text] of Object.entries(files)) {
    const p = join(base, rel);
    mkdirSync(dirname(p), { recursive: true });
    writeFileSync(p, text);
  }
  return base;
}

const ID = 'c0ffee'.padEnd(64, '0');
const CG = `/berth/${ID}`;
const MEMINFO = 'MemTotal:        8000000 kB\nMemFree:         1000000 kB\n';
const PROC_STAT = (user: number, idle: number) =>
  `cpu  ${user} 0 100 ${idle} 10 0 5 7 0 0\ncpu0 ${user / 2} 0 50 ${idle / 2} 5 0 2 3 0 0\ncpu1 ${user / 2} 0 50 ${idle / 2} 5 0 3 4 0 0\nintr 1 2 3\nctxt 99\n`;
const NET_DEV = `Inter-|   Receive                                                |  Transmit
 face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed
    lo:    3193      29    0    0    0     0          0         0     3193      29    0    0    0     0       0          0
  eth0: 1500000    1200    1    2    0     0          0         3   250000     900    4    5    0     0       0          0
`;

// A v1 host, per-controller mounts (cpu and cpuacct separate, as on this host).
const v1root = tree(join(tmp, 'v1'), {
  [`memory${CG}/memory.usage_in_bytes`]: '10485760\n',
  [`memory${CG}/memory.limit_in_bytes`]: '9223372036854771712\n',
  [`memory${CG}/memory.max_usage_in_bytes`]: '20971520\n',
  [`memory${CG}/memory.failcnt`]: '0\n',
  [`memory${CG}/memory.stat`]: 'cache 4194304\nrss 6291456\ninactive_file 1048576\ntotal_cache 4194304\ntotal_rss 6291456\ntotal_inactive_file 2097152\n',
  [`cpuacct${CG}/cpuacct.usage`]: '5000000000\n',
  [`cpuacct${CG}/cpuacct.stat`]: 'user 300\nsystem 150\n',
  [`cpu${CG}/cpu.stat`]: 'nr_periods 10\nnr_throttled 2\nthrottled_time 123456\n',
  [`pids${CG}/pids.current`]: '3\n',
  [`pids${CG}/pids.max`]: 'max\n',
  [`blkio${CG}/blkio.throttle.io_service_bytes_recursive`]:
    '8:0 Read 4096\n8:0 Write 8192\n8:0 Sync 0\n8:0 Async 12288\n8:0 Discard 0\n8:0 Total 12288\n8:16 Read 1000\n8:16 Write 0\nTotal 13288\n',
  [`blkio${CG}/blkio.bfq.weight`]: '100\n',
  [`cpuset${CG}/cpuset.cpus`]: '0-1\n',
  [`freezer${CG}/freezer.state`]: 'THAWED\n',
  [`devices${CG}/devices.list`]: 'a *:* rwm\n',
});
// A v1 host with a combined cpu,cpuacct mount and the usual symlinks.
const v1combined = tree(join(tmp, 'v1c'), {
  [`cpu,cpuacct${CG}/cpuacct.usage`]: '42\n',
  [`memory${CG}/memory.usage_in_bytes`]: '1\n',
});
symlinkSync('cpu,cpuacct', join(v1combined, 'cpu'));
symlinkSync('cpu,cpuacct', join(v1combined, 'cpuacct'));
// Only the combined directory, no symlinks.
const v1nolinks = tree(join(tmp, 'v1n'), { [`cpuacct,cpu${CG}/cpuacct.usage`]: '7\n' });

const v2root = tree(join(tmp, 'v2'), {
  [`${CG.slice(1)}/cpu.stat`]: 'usage_usec 2500000\nuser_usec 2000000\nsystem_usec 500000\nnr_periods 4\nnr_throttled 1\nthrottled_usec 300\n',
  [`${CG.slice(1)}/memory.current`]: '52428800\n',
  [`${CG.slice(1)}/memory.max`]: 'max\n',
  [`${CG.slice(1)}/memory.stat`]: 'anon 40000000\nfile 12000000\ninactive_file 4194304\nactive_file 7000000\n',
  [`${CG.slice(1)}/pids.current`]: '5\n',
  [`${CG.slice(1)}/pids.max`]: '100\n',
  [`${CG.slice(1)}/io.stat`]: '8:0 rbytes=1048576 wbytes=2097152 rios=10 wios=20 dbytes=0 dios=0\n8:16 rbytes=100 wbytes=0 rios=1 wios=0 dbytes=0 dios=0\n',
});
const proc = tree(join(tmp, 'proc'), { meminfo: MEMINFO, stat: PROC_STAT(1000, 9000), '4242/net/dev': NET_DEV });

test('cgroupDirs: v2 is one dir; v1 one per controller, combined mounts found', () => {
  assert.deepEqual(cgroupDirs(V2, CG, '/sys/fs/cgroup'), { v2: `/sys/fs/cgroup${CG}`, v1: {} });
  const d = cgroupDirs(V1, CG, v1root);
  assert.equal(d.v2, undefined);
  for (const c of ['memory', 'cpu', 'cpuacct', 'cpuset', 'blkio', 'pids', 'freezer', 'devices']) assert.equal(d.v1[c], `${v1root}/${c}${CG}`);
  const c = cgroupDirs(V1, CG, v1combined);
  assert.equal(c.v1.cpu, `${v1combined}/cpu${CG}`);
  assert.equal(c.v1.cpuacct, `${v1combined}/cpuacct${CG}`);
  assert.equal(c.v1.pids, undefined);
  const n = cgroupDirs(V1, CG, v1nolinks);
  assert.equal(n.v1.cpu, `${v1nolinks}/cpuacct,cpu${CG}`);
  assert.equal(n.v1.cpuacct, `${v1nolinks}/cpuacct,cpu${CG}`);
  assert.deepEqual(cgroupDirs(V1, CG, join(tmp, 'nowhere')), { v1: {} });
});

test('readCgroupStats v1: cpuacct, ticks → ns, usage, limit clamped to host memory, cache, pids, blkio', () => {
  const s = readCgroupStats(V1, CG, v1root, proc)!;
  assert.equal(s.cpuUsageNs, 5_000_000_000);
  assert.equal(s.cpuUserNs, 3_000_000_000);
  assert.equal(s.cpuSystemNs, 1_500_000_000);
  assert.deepEqual(s.throttled, { periods: 10, throttledPeriods: 2, throttledTimeNs: 123456 });
  assert.equal(s.memoryUsage, 10485760);
  assert.equal(s.memoryLimit, 8_000_000 * 1024);
  assert.equal(s.memoryCache, 2097152);
  assert.equal(s.memoryMaxUsage, 20971520);
  assert.equal(s.memoryStats.total_rss, 6291456);
  assert.equal(s.pidsCurrent, 3);
  assert.equal(s.pidsLimit, 0);
  assert.equal(s.blkio.readBytes, 5096);
  assert.equal(s.blkio.writeBytes, 8192);
  assert.equal(s.blkio.entries.length, 8);
  assert.deepEqual(s.blkio.entries[0], { major: 8, minor: 0, op: 'Read', value: 4096 });
  // combined mount via symlinks; missing files read as 0
  const c = readCgroupStats(V1, CG, v1combined, proc)!;
  assert.equal(c.cpuUsageNs, 42);
  assert.equal(c.memoryUsage, 1);
  assert.equal(c.pidsCurrent, 0);
  assert.deepEqual(c.blkio, { readBytes: 0, writeBytes: 0, entries: [] });
  // a vanished cgroup
  assert.equal(readCgroupStats(V1, '/berth/gone', v1root, proc), null);
});

test('readCgroupStats v1: falls back from the throttle file to the CFQ/BFQ one', () => {
  const root = tree(join(tmp, 'v1cfq'), {
    [`blkio${CG}/blkio.throttle.io_service_bytes_recursive`]: 'Total 0\n',
    [`blkio${CG}/blkio.io_service_bytes_recursive`]: '8:0 Read 10\n8:0 Write 20\nTotal 30\n',
  });
  const s = readCgroupStats(V1, CG, root, proc)!;
  assert.deepEqual([s.blkio.readBytes, s.blkio.writeBytes], [10, 20]);
});

test('readCgroupStats v2: cpu.stat usec → ns, memory.max "max" → host memory, inactive_file, pids, io.stat', () => {
  const s = readCgroupStats(V2, CG, v2root, proc)!;
  assert.equal(s.cpuUsageNs, 2_500_000_000);
  assert.equal(s.cpuUserNs, 2_000_000_000);
  assert.equal(s.cpuSystemNs, 500_000_000);
  assert.deepEqual(s.throttled, { periods: 4, throttledPeriods: 1, throttledTimeNs: 300_000 });
  assert.equal(s.memoryUsage, 52428800);
  assert.equal(s.memoryLimit, 8_000_000 * 1024);
  assert.equal(s.memoryCache, 4194304);
  assert.equal(s.memoryStats.anon, 40000000);
  assert.equal(s.pidsCurrent, 5);
  assert.equal(s.pidsLimit, 100);
  assert.equal(s.blkio.readBytes, 1048676);
  assert.equal(s.blkio.writeBytes, 2097152);
  assert.deepEqual(s.blkio.entries.slice(0, 2), [
    { major: 8, minor: 0, op: 'read', value: 1048576 },
    { major: 8, minor: 0, op: 'write', value: 2097152 },
  ]);
  assert.equal(readCgroupStats(V2, '/berth/gone', v2root, proc), null);
  // a set limit is kept; a missing file is 0, not a throw
  const root = tree(join(tmp, 'v2b'), { [`${CG.slice(1)}/memory.max`]: '104857600\n' });
  const b = readCgroupStats(V2, CG, root, proc)!;
  assert.equal(b.memoryLimit, 104857600);
  assert.equal(b.cpuUsageNs, 0);
  assert.equal(b.pidsCurrent, 0);
});

const files = (l: { file: string; value: string }[]) => Object.fromEntries(l.map((f) => [f.file, f.value]));

test('resourceFiles v1: every field', () => {
  const r = resourceFiles(1, {
    memory: 104857600,
    memorySwap: 209715200,
    memoryReservation: 52428800,
    memorySwappiness: 10,
    oomKillDisable: true,
    kernelMemory: 1 << 30,
    cpuShares: 512,
    cpuQuota: 50000,
    cpuPeriod: 100000,
    cpusetCpus: '0',
    cpusetMems: '0',
    blkioWeight: 300,
    blkioDeviceReadBps: [{ path: '/dev/sda', major: 8, minor: 0, rate: 1048576 }],
    blkioDeviceWriteBps: [{ path: '/dev/sda', major: 8, minor: 0, rate: 2097152 }],
    blkioDeviceReadIOps: [{ path: '/dev/sda', major: 8, minor: 0, rate: 100 }],
    blkioDeviceWriteIOps: [{ path: '/dev/sdb', major: 8, minor: 16, rate: 200 }],
    pidsLimit: 64,
  });
  assert.deepEqual(files(r), {
    'memory/memory.limit_in_bytes': '104857600',
    'memory/memory.memsw.limit_in_bytes': '209715200',
    'memory/memory.soft_limit_in_bytes': '52428800',
    'memory/memory.oom_control': '1',
    'memory/memory.swappiness': '10',
    'cpu/cpu.shares': '512',
    'cpu/cpu.cfs_period_us': '100000',
    'cpu/cpu.cfs_quota_us': '50000',
    'cpuset/cpuset.cpus': '0',
    'cpuset/cpuset.mems': '0',
    'blkio/blkio.weight': '300',
    'blkio/blkio.throttle.read_bps_device': '8:0 1048576',
    'blkio/blkio.throttle.write_bps_device': '8:0 2097152',
    'blkio/blkio.throttle.read_iops_device': '8:0 100',
    'blkio/blkio.throttle.write_iops_device': '8:16 200',
    'pids/pids.max': '64',
  });
  assert.equal(r.length, 16, 'kernel memory writes nothing (runc 1.1 ignores it)');
  // docker defaults: swap twice memory when unset; -1 unlimited; --cpus; pids ≤ 0 unlimited; BFQ weight file
  assert.deepEqual(files(resourceFiles(1, { memory: 1000 })), { 'memory/memory.limit_in_bytes': '1000', 'memory/memory.memsw.limit_in_bytes': '2000' });
  assert.equal(files(resourceFiles(1, { memory: 1000, memorySwap: -1 }))['memory/memory.memsw.limit_in_bytes'], '-1');
  assert.deepEqual(files(resourceFiles(1, { nanoCpus: 1_500_000_000 })), { 'cpu/cpu.cfs_period_us': '100000', 'cpu/cpu.cfs_quota_us': '150000' });
  assert.deepEqual(files(resourceFiles(1, { pidsLimit: -1 })), { 'pids/pids.max': 'max' });
  assert.deepEqual(files(resourceFiles(1, { pidsLimit: 0 })), {});
  assert.deepEqual(files(resourceFiles(1, { blkioWeight: 300 }, { bfq: true })), { 'blkio/blkio.bfq.weight': '300' });
  assert.deepEqual(resourceFiles(1, {}), []);
  assert.throws(() => resourceFiles(1, { memorySwap: 100 }), InvalidArgument);
});

test('resourceFiles v2: runc conversions', () => {
  const r = resourceFiles(2, {
    memory: 104857600,
    memorySwap: 314572800,
    memoryReservation: 52428800,
    memorySwappiness: 10,
    oomKillDisable: true,
    cpuShares: 1024,
    cpuQuota: 50000,
    cpuPeriod: 200000,
    cpusetCpus: '0-1',
    cpusetMems: '0',
    blkioWeight: 1000,
    blkioDeviceReadBps: [{ path: '/dev/sda', major: 8, minor: 0, rate: 1048576 }],
    blkioDeviceWriteIOps: [{ path: '/dev/sda', major: 8, minor: 0, rate: 50 }],
    blkioDeviceWriteBps: [{ path: '/dev/sdb', major: 8, minor: 16, rate: 4096 }],
    pidsLimit: 64,
  });
  assert.deepEqual(r, [
    { file: 'memory.swap.max', value: '209715200' },
    { file: 'memory.max', value: '104857600' },
    { file: 'memory.low', value: '52428800' },
    { file: 'cpu.weight', value: '39' },
    { file: 'cpu.max', value: '50000 200000' },
    { file: 'cpuset.cpus', value: '0-1' },
    { file: 'cpuset.mems', value: '0' },
    { file: 'pids.max', value: '64' },
    { file: 'io.weight', value: '10000' },
    { file: 'io.max', value: '8:0 rbps=1048576 wbps=max riops=max wiops=50' },
    { file: 'io.max', value: '8:16 rbps=max wbps=4096 riops=max wiops=max' },
  ]);
  assert.deepEqual(files(resourceFiles(2, { memory: 1000, memorySwap: -1 })), { 'memory.swap.max': 'max', 'memory.max': '1000' });
  assert.deepEqual(files(resourceFiles(2, { memory: 1000, memorySwap: 1000 })), { 'memory.swap.max': '0', 'memory.max': '1000' });
  assert.deepEqual(files(resourceFiles(2, { memory: 1000 })), { 'memory.swap.max': '1000', 'memory.max': '1000' });
  assert.deepEqual(files(resourceFiles(2, { nanoCpus: 1_500_000_000 })), { 'cpu.max': '150000 100000' });
  assert.deepEqual(files(resourceFiles(2, { cpuPeriod: 50000 })), { 'cpu.max': 'max 50000' });
  assert.deepEqual(files(resourceFiles(2, { cpuQuota: 25000 })), { 'cpu.max': '25000 100000' });
  assert.deepEqual(files(resourceFiles(2, { cpuShares: 2 })), { 'cpu.weight': '1' });
  assert.deepEqual(files(resourceFiles(2, { cpuShares: 262144 })), { 'cpu.weight': '10000' });
  assert.deepEqual(files(resourceFiles(2, { blkioWeight: 10 })), { 'io.weight': '1' });
  assert.deepEqual(files(resourceFiles(2, { blkioWeight: 500 }, { bfq: true })), { 'io.bfq.weight': '500' });
  assert.deepEqual(files(resourceFiles(2, { pidsLimit: -1 })), { 'pids.max': 'max' });
});

test('conversion helpers match runc v1.1.5', () => {
  assert.deepEqual([2, 1024, 262144, 0].map(cpuSharesToWeight), [1, 39, 10000, 0]);
  assert.deepEqual([10, 500, 1000, 0].map(blkioWeightToIoWeight), [1, 4950, 10000, 0]);
  assert.equal(swapToV2(-1, 100), 'max');
  assert.equal(swapToV2(0, -1), 'max');
  assert.equal(swapToV2(0, 100), undefined);
  assert.equal(swapToV2(300, 100), '200');
});

test('resourceFilePath and hasBfqWeight resolve against the container dirs', () => {
  const d1 = cgroupDirs(V1, CG, v1root);
  assert.equal(resourceFilePath(d1, 'memory/memory.limit_in_bytes'), `${v1root}/memory${CG}/memory.limit_in_bytes`);
  assert.equal(resourceFilePath(cgroupDirs(V1, CG, v1combined), 'pids/pids.max'), undefined);
  assert.equal(resourceFilePath(cgroupDirs(V2, CG, v2root), 'memory.max'), `${v2root}${CG}/memory.max`);
  assert.equal(hasBfqWeight(d1), true);
  assert.equal(hasBfqWeight(cgroupDirs(V2, CG, v2root)), false);
});

test('/proc/stat: system CPU ns from the first 7 fields, online CPUs', () => {
  const s = parseProcStat(PROC_STAT(1000, 9000));
  assert.equal(s.systemNs, ((1000 + 0 + 100 + 9000 + 10 + 0 + 5) * 1e9) / 100);
  assert.equal(s.onlineCpus, 2);
});

test('/proc/<pid>/net/dev: every interface but lo', () => {
  assert.deepEqual(parseNetDev(NET_DEV), {
    eth0: { rx_bytes: 1500000, rx_packets: 1200, rx_errors: 1, rx_dropped: 2, tx_bytes: 250000, tx_packets: 900, tx_errors: 4, tx_dropped: 5 },
  });
  assert.deepEqual(parseNetDev(NET_DEV.split('\n').slice(0, 3).join('\n')), {});
});

const cpu = (total: number, system: number, online = 2): CpuStats => ({
  cpu_usage: { total_usage: total, usage_in_kernelmode: 0, usage_in_usermode: 0 },
  system_cpu_usage: system,
  online_cpus: online,
  throttling_data: { periods: 0, throttled_periods: 0, throttled_time: 0 },
});

test("CPU %: docker's calculateCPUPercentUnix", () => {
  // one busy core of two: the container used 1 s while the host counted 2 s of CPU
  assert.equal(cpuPercent(cpu(1e9, 10e9), cpu(2e9, 12e9)), 100);
  assert.equal(cpuPercent(cpu(0, 0), cpu(5e8, 2e9, 4)), 100);
  assert.equal(cpuPercent(cpu(2e9, 12e9), cpu(2e9, 14e9)), 0, 'no CPU used');
  assert.equal(cpuPercent(cpu(1e9, 12e9), cpu(2e9, 12e9)), 0, 'no system delta');
});

test('memory: usage less cache (v1 total_inactive_file, v2 inactive_file), percent of limit', () => {
  assert.equal(memUsageNoCache({ usage: 100, stats: { total_inactive_file: 30, inactive_file: 10 } }), 70);
  assert.equal(memUsageNoCache({ usage: 100, stats: { inactive_file: 10 } }), 90);
  assert.equal(memUsageNoCache({ usage: 100, stats: { inactive_file: 200 } }), 100);
  assert.equal(memUsageNoCache({ usage: 100, stats: { total_inactive_file: 200, inactive_file: 40 } }), 60);
  assert.equal(memUsageNoCache({}), 0);
  assert.equal(memPercent(200, 50), 25);
  assert.equal(memPercent(0, 50), 0);
  assert.deepEqual(blockIO([{ major: 8, minor: 0, op: 'Read', value: 1 }, { major: 8, minor: 0, op: 'write', value: 2 }, { major: 8, minor: 0, op: 'Total', value: 3 }]), { read: 1, write: 2 });
});

const target = (over: Partial<StatsTarget> = {}): StatsTarget => ({ id: ID, name: 'web', pid: 4242, state: 'running', config: {}, ...over });

test('statsSnapshot v1: the Engine API shape, precpu from the previous sample, the CLI row', () => {
  const t0 = new Date('2025-01-01T00:00:00.000Z');
  const first = statsSnapshot(target(), V1, null, { cgroupRoot: v1root, procRoot: proc, now: t0 });
  assert.equal(first.name, '/web');
  assert.equal(first.id, ID);
  assert.equal(first.read, '2025-01-01T00:00:00.000Z');
  assert.equal(first.preread, '0001-01-01T00:00:00Z');
  assert.deepEqual(first.pids_stats, { current: 3 });
  assert.equal(first.cpu_stats.cpu_usage.total_usage, 5e9);
  assert.equal(first.cpu_stats.cpu_usage.usage_in_usermode, 3e9);
  assert.equal(first.cpu_stats.cpu_usage.usage_in_kernelmode, 1.5e9);
  assert.equal(first.cpu_stats.online_cpus, 2);
  assert.equal(first.cpu_stats.system_cpu_usage, parseProcStat(PROC_STAT(1000, 9000)).systemNs);
  assert.deepEqual(first.cpu_stats.throttling_data, { periods: 10, throttled_periods: 2, throttled_time: 123456 });
  assert.equal(first.memory_stats.usage, 10485760);
  assert.equal(first.memory_stats.limit, 8_192_000_000);
  assert.equal(first.memory_stats.stats!.total_inactive_file, 2097152);
  assert.equal(first.blkio_stats.io_service_bytes_recursive![1]!.op, 'Write');
  assert.deepEqual(Object.keys(first.networks), ['eth0']);

  // a second sample: 1 s more container CPU over 2 s more host CPU on 2 CPUs → 100 %
  const cpuUsage = join(v1root, `cpuacct${CG}/cpuacct.usage`);
  writeFileSync(cpuUsage, '6000000000\n');
  writeFileSync(join(proc, 'stat'), PROC_STAT(1100, 9100));
  try {
    const second = statsSnapshot(target(), V1, first, { cgroupRoot: v1root, procRoot: proc, now: new Date(t0.getTime() + 1000) });
    assert.equal(second.preread, first.read);
    assert.deepEqual(second.precpu_stats, first.cpu_stats);
    const e = statsEntry(second);
    assert.equal(e.cpuPercentage, 100);
    assert.equal(e.memory, 10485760 - 2097152);
    assert.equal(e.networkRx, 1500000);
    assert.equal(e.blockRead, 5096);
    const row = statsRow(second);
    assert.deepEqual(row, {
      BlockIO: '5.1kB / 8.19kB',
      CPUPerc: '100.00%',
      Container: ID.slice(0, 12),
      ID: ID.slice(0, 12),
      MemPerc: '0.10%',
      MemUsage: '8MiB / 7.629GiB',
      Name: 'web',
      NetIO: '1.5MB / 250kB',
      PIDs: '3',
    });
    assert.equal(statsRow(second, { trunc: false, container: 'web' }).ID, ID);
    assert.equal(statsRow(second, { trunc: false, container: 'web' }).Container, 'web');
    const table = formatRows(undefined, DEFAULT_FORMAT, HEADERS, [row]).split('\n');
    assert.match(table[0]!, /^CONTAINER ID +NAME +CPU % +MEM USAGE \/ LIMIT +MEM % +NET I\/O +BLOCK I\/O +PIDS$/);
    assert.match(table[1]!, /^c0ffee000000 +web +100\.00% +8MiB \/ 7\.629GiB +0\.10% +1\.5MB \/ 250kB +5\.1kB \/ 8\.19kB +3$/);
    assert.equal(
      formatRows('json', DEFAULT_FORMAT, HEADERS, [row]),
      '{"BlockIO":"5.1kB / 8.19kB","CPUPerc":"100.00%","Container":"c0ffee000000","ID":"c0ffee000000","MemPerc":"0.10%","MemUsage":"8MiB / 7.629GiB","Name":"web","NetIO":"1.5MB / 250kB","PIDs":"3"}\n',
    );
  } finally {
    writeFileSync(cpuUsage, '5000000000\n');
    writeFileSync(join(proc, 'stat'), PROC_STAT(1000, 9000));
  }
});

test('statsSnapshot v2, and zeros for a stopped or vanished container', () => {
  const s = statsSnapshot(target(), V2, null, { cgroupRoot: v2root, procRoot: proc });
  assert.deepEqual(s.pids_stats, { current: 5, limit: 100 });
  assert.equal(statsEntry(s).memory, 52428800 - 4194304);
  assert.equal(statsEntry(s).blockWrite, 2097152);
  assert.equal(s.memory_stats.max_usage, undefined);
  const zero = (x: DockerStats) => {
    assert.equal(x.read, '0001-01-01T00:00:00Z');
    assert.deepEqual(x.networks, {});
    assert.deepEqual(x.memory_stats, {});
    assert.deepEqual(statsRow(x), {
      BlockIO: '0B / 0B', CPUPerc: '0.00%', Container: x.id.slice(0, 12), ID: x.id.slice(0, 12), MemPerc: '0.00%', MemUsage: '0B / 0B', Name: 'web', NetIO: '0B / 0B', PIDs: '0',
    });
  };
  zero(statsSnapshot(target({ pid: 0, state: 'exited' }), V2, null, { cgroupRoot: v2root, procRoot: proc }));
  zero(statsSnapshot(target({ id: 'gone' + ID.slice(4) }), V2, null, { cgroupRoot: v2root, procRoot: proc }));
  // only lo in the netns → empty networks
  const loOnly = tree(join(tmp, 'proc-lo'), { meminfo: MEMINFO, stat: PROC_STAT(1, 1), '7/net/dev': NET_DEV.split('\n').slice(0, 3).join('\n') + '\n' });
  assert.deepEqual(statsSnapshot(target({ pid: 7 }), V2, null, { cgroupRoot: v2root, procRoot: loOnly }).networks, {});
  // a custom cgroup parent
  const custom = tree(join(tmp, 'v2custom'), { [`my/parent/${ID}/pids.current`]: '9\n' });
  assert.equal(statsSnapshot(target({ config: { cgroupParent: '/my/parent' } }), V2, null, { cgroupRoot: custom, procRoot: proc }).pids_stats.current, 9);
});

test('bytesSize is go-units BytesSize', () => {
  assert.deepEqual([0, 1023, 1024, 1536, 8388608, 1073741824 * 7.629, 123456789].map(bytesSize), ['0B', '1023B', '1KiB', '1.5KiB', '8MiB', '7.629GiB', '117.7MiB']);
});

test('sampleOnce and streamStats: precpu comes from the earlier read; frames until aborted; rows come and go', async () => {
  const env = { cgroupRoot: v1root, procRoot: proc };
  const [one] = await sampleOnce([target()], V1, 10, env);
  assert.notEqual(one!.preread, '0001-01-01T00:00:00Z');
  assert.equal(one!.precpu_stats.cpu_usage.total_usage, 5e9);

  const ac = new AbortController();
  const frames: DockerStats[][] = [];
  let calls = 0;
  await streamStats(
    () => (++calls >= 3 ? [] : [target()]),
    20,
    (frame) => {
      frames.push(frame);
      if (frames.length === 3) ac.abort();
    },
    ac.signal,
    V1,
    env,
  );
  assert.equal(frames.length, 3);
  assert.equal(frames[0]!.length, 1);
  assert.notEqual(frames[0]![0]!.preread, '0001-01-01T00:00:00Z');
  assert.equal(frames[1]!.length, 0, 'a container that stops drops out');
  // an already-aborted signal returns at once
  const done = new AbortController();
  done.abort();
  let n = 0;
  await streamStats(() => [target()], 10_000, () => void n++, done.signal, V1, env);
  assert.equal(n, 0);
});

test('fileHolds: what the kernel reads back for each written value, v1 and v2', () => {
  // plain files read back as written
  assert.ok(fileHolds('memory.max', '67108864', '67108864\n'));
  assert.ok(!fileHolds('memory.max', '67108864', 'max\n'));
  assert.ok(fileHolds('cpu.max', 'max 50000', 'max 50000\n'));
  assert.ok(fileHolds('memory/memory.limit_in_bytes', '1048576', '1048576\n'));
  // v1 oom_control: the oom_kill_disable line
  assert.ok(fileHolds('memory/memory.oom_control', '1', 'oom_kill_disable 1\nunder_oom 0\noom_kill 0\n'));
  assert.ok(!fileHolds('memory/memory.oom_control', '1', 'oom_kill_disable 0\nunder_oom 0\n'));
  // weights: plain (CFQ, v1) or "default N" (BFQ, and v2 io.weight), per-device lines after
  assert.ok(fileHolds('blkio/blkio.weight', '300', '300\n'));
  assert.ok(fileHolds('blkio/blkio.bfq.weight', '300', 'default 300\n'));
  assert.ok(fileHolds('io.weight', '4950', 'default 4950\n8:0 100\n'));
  assert.ok(fileHolds('io.bfq.weight', '500', 'default 500\n'));
  assert.ok(!fileHolds('io.weight', '4950', 'default 100\n'));
  assert.ok(!fileHolds('io.weight', '49', 'default 4950\n'));
  // per-device files: the device's own line
  assert.ok(fileHolds('blkio/blkio.throttle.read_bps_device', '254:0 1048576', '8:0 5\n254:0 1048576\n'));
  assert.ok(!fileHolds('blkio/blkio.throttle.read_bps_device', '254:0 1048576', '254:0 1048575\n'));
  assert.ok(fileHolds('io.max', '8:16 rbps=max wbps=4096 riops=max wiops=max', '8:0 rbps=1 wbps=max riops=max wiops=50\n8:16 rbps=max wbps=4096 riops=max wiops=max\n'));
  assert.ok(!fileHolds('io.max', '8:16 rbps=max wbps=4096 riops=max wiops=max', ''));
});

/**
 * A v2 cgroup as the kernel would show it after runc wrote resourceFiles(2, r): the tests on a v2 host read
 * their expectations through the same mapping, resourceFilePath and fileHolds, so this is their dry run.
 */
test('v2: resourceFiles → resourceFilePath → fileHolds round trip over a kernel-formatted tree', () => {
  const r = {
    memory: 64 * 1024 * 1024, memorySwap: 128 * 1024 * 1024, memoryReservation: 32 * 1024 * 1024, cpuShares: 512,
    cpuQuota: 25000, cpuPeriod: 50000, cpusetCpus: '0', cpusetMems: '0', pidsLimit: 50, blkioWeight: 300,
    blkioDeviceReadBps: [{ path: '/dev/vda', major: 254, minor: 0, rate: 1048576 }],
    blkioDeviceWriteIOps: [{ path: '/dev/vda', major: 254, minor: 0, rate: 50 }],
  };
  const dir = `berth-parent/${ID}`;
  const root = tree(join(tmp, 'v2rt'), {
    [`${dir}/memory.max`]: '67108864\n',
    [`${dir}/memory.swap.max`]: '67108864\n',
    [`${dir}/memory.low`]: '33554432\n',
    [`${dir}/cpu.weight`]: '20\n',
    [`${dir}/cpu.max`]: '25000 50000\n',
    [`${dir}/cpuset.cpus`]: '0\n',
    [`${dir}/cpuset.mems`]: '0\n',
    [`${dir}/pids.max`]: '50\n',
    [`${dir}/io.weight`]: 'default 2930\n',
    [`${dir}/io.max`]: '254:0 rbps=1048576 wbps=max riops=max wiops=50\n',
  });
  const dirs = cgroupDirs(V2, `/berth-parent/${ID}`, root);
  assert.equal(hasBfqWeight(dirs), false);
  const want = resourceFiles(2, r, { bfq: hasBfqWeight(dirs) });
  assert.deepEqual(want.map((f) => f.file).sort(), [
    'cpu.max', 'cpu.weight', 'cpuset.cpus', 'cpuset.mems', 'io.max', 'io.weight', 'memory.low', 'memory.max', 'memory.swap.max', 'pids.max',
  ]);
  for (const f of want) {
    const p = resourceFilePath(dirs, f.file)!;
    assert.equal(p, `${root}/${dir}/${f.file}`);
    assert.ok(fileHolds(f.file, f.value, readFileSync(p, 'utf8')), `${f.file}: want ${f.value}, have ${readFileSync(p, 'utf8')}`);
  }
  // an update's new value is seen as different
  const after = resourceFiles(2, { ...r, memory: 96 * 1024 * 1024, memorySwap: 192 * 1024 * 1024 });
  const mem = after.find((f) => f.file === 'memory.max')!;
  assert.ok(!fileHolds(mem.file, mem.value, readFileSync(resourceFilePath(dirs, mem.file)!, 'utf8')));
  // with BFQ's file the weight goes there unconverted
  writeFileSync(join(root, dir, 'io.bfq.weight'), 'default 300\n');
  const bfq = resourceFiles(2, r, { bfq: hasBfqWeight(dirs) }).find((f) => f.file.includes('weight') && f.file.startsWith('io'))!;
  assert.deepEqual(bfq, { file: 'io.bfq.weight', value: '300' });
  assert.ok(fileHolds(bfq.file, bfq.value, readFileSync(resourceFilePath(dirs, bfq.file)!, 'utf8')));
});

test('resourceFiles v2: cpu.max for quota alone, period alone and unlimited quota; pids unlimited', () => {
  assert.deepEqual(files(resourceFiles(2, { cpuQuota: -1, cpuPeriod: 50000 })), { 'cpu.max': 'max 50000' });
  assert.deepEqual(files(resourceFiles(2, { cpuQuota: 150000, cpuPeriod: 1_000_000 })), { 'cpu.max': '150000 1000000' });
  assert.deepEqual(files(resourceFiles(1, { cpuQuota: -1, cpuPeriod: 50000 })), { 'cpu/cpu.cfs_period_us': '50000', 'cpu/cpu.cfs_quota_us': '-1' });
  // --cpus wins over period/quota (resolveResources refuses both together; the spec keeps nano CPUs)
  assert.deepEqual(files(resourceFiles(2, { nanoCpus: 5e8 })), { 'cpu.max': '50000 100000' });
  // swappiness, OOM-kill-disable and kernel memory have no v2 file
  assert.deepEqual(resourceFiles(2, { memorySwappiness: 10, oomKillDisable: true, kernelMemory: 64 << 20 }), []);
});

test('readCgroupStats v2 on a cgroup without controllers: core cpu.stat only (a v2 view of this hybrid host)', () => {
  // What runc makes in a cgroup2 mount whose controllers v1 holds: cgroup.*, cpu.stat, *.pressure.
  const root = tree(join(tmp, 'v2bare'), {
    [`${CG.slice(1)}/cgroup.procs`]: '4242\n',
    [`${CG.slice(1)}/cpu.stat`]: 'usage_usec 44611\nuser_usec 22305\nsystem_usec 22306\nnice_usec 0\n',
    [`${CG.slice(1)}/cgroup.freeze`]: '0\n',
  });
  const s = readCgroupStats(V2, CG, root, proc)!;
  assert.equal(s.cpuUsageNs, 44_611_000);
  assert.equal(s.cpuUserNs, 22_305_000);
  assert.deepEqual(s.throttled, { periods: 0, throttledPeriods: 0, throttledTimeNs: 0 });
  assert.equal(s.memoryUsage, 0);
  assert.equal(s.memoryLimit, 8_000_000 * 1024, 'no memory.max: the host memory, as docker shows an unlimited one');
  assert.equal(s.pidsCurrent, 0);
  assert.deepEqual(s.blkio.entries, []);
  const row = statsRow(statsSnapshot(target(), V2, null, { cgroupRoot: root, procRoot: proc }));
  assert.equal(row.MemUsage, '0B / 7.629GiB');
  assert.equal(row.BlockIO, '0B / 0B');
});

test('stats NET I/O: --network host shows nothing of the host; a shared (container:) netns shows its counters', () => {
  const host = statsSnapshot(target({ config: { isolation: { network: 'host' } } }), V1, null, { cgroupRoot: v1root, procRoot: proc });
  assert.deepEqual(host.networks, {});
  assert.equal(statsRow(host).NetIO, '0B / 0B');
  assert.equal(statsRow(host).PIDs, '3', 'the rest of the sample is there');
  for (const network of ['bridge', 'none', `container:${'a'.repeat(64)}`, 'ns:/run/netns/x', undefined]) {
    const s = statsSnapshot(target({ config: { isolation: { network } } }), V1, null, { cgroupRoot: v1root, procRoot: proc });
    assert.deepEqual(Object.keys(s.networks), ['eth0'], String(network));
    assert.equal(statsRow(s).NetIO, '1.5MB / 250kB');
  }
});

test("NET I/O: rx and tx summed over every interface but lo, each in docker's units (3 significant digits, 1000)", () => {
  const two = `${NET_DEV}  eth1:     784       5    0    0    0     0          0         0     1500       9    0    0    0     0       0          0\n`;
  const e = statsEntry({ ...statsSnapshot(target(), V1, null, { cgroupRoot: v1root, procRoot: proc }), networks: parseNetDev(two) });
  assert.deepEqual([e.networkRx, e.networkTx], [1500000 + 784, 250000 + 1500]);
  // the audit's numbers: 2284 bytes read 2.28kB; 2430 read 2.43kB (the counter had moved on by then)
  const row = (rx: number, tx: number) => statsRow({ ...statsSnapshot(target(), V1, null, { cgroupRoot: v1root, procRoot: proc }), networks: { eth0: { ...parseNetDev(NET_DEV).eth0!, rx_bytes: rx, tx_bytes: tx } } }).NetIO;
  assert.equal(row(2284, 472), '2.28kB / 472B');
  assert.equal(row(2430, 0), '2.43kB / 0B');
  assert.equal(row(999, 1000), '999B / 1kB');
  assert.equal(row(999_500, 12_345_678), '1e+03kB / 12.3MB', "Go's %.3g, as docker prints it");
});
