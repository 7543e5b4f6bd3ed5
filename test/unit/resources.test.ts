/** resolveResources: docker's checks and warnings, for create (from nothing) and update (over current limits). */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { InvalidArgument } from '../../src/errors.ts';
import { statSync } from 'node:fs';
import { availableControllers, hostFacts, parseCpuList, resolveResources, validateOomScoreAdj, type HostFacts } from '../../src/engine/resources.ts';
import { ociResources } from '../../src/runtime/spec/resources.ts';

const MB = 1024 * 1024;
const v1: HostFacts = { cpus: 2, onlineCpus: new Set([0, 1]), onlineMems: new Set([0]), cgroupVersion: 1, kernelMemory: true };
const v2: HostFacts = { ...v1, cgroupVersion: 2, kernelMemory: false };

const refuses = (opts: Parameters<typeof resolveResources>[0], msg: RegExp, host = v1, base = {}) =>
  assert.throws(() => resolveResources(opts, base, host), (e: unknown) => e instanceof InvalidArgument && msg.test((e as Error).message));

test('accepted values pass through; --cpus becomes nano CPUs', () => {
  const { resources, warnings } = resolveResources(
    { memory: 64 * MB, memorySwap: 128 * MB, memoryReservation: 32 * MB, cpus: 1.5, cpusetCpus: '0-1', blkioWeight: 300, pidsLimit: 20, memorySwappiness: 10 },
    {},
    v1,
  );
  assert.deepEqual(resources, {
    memory: 64 * MB,
    memorySwap: 128 * MB,
    memoryReservation: 32 * MB,
    nanoCpus: 1.5e9,
    cpusetCpus: '0-1',
    blkioWeight: 300,
    pidsLimit: 20,
    memorySwappiness: 10,
  });
  assert.deepEqual(warnings, []);
});

test('docker refusals with docker messages', () => {
  refuses({ memory: MB }, /Minimum memory limit allowed is 6MB/);
  refuses({ memorySwap: 64 * MB }, /always set the Memory limit/);
  refuses({ memory: 64 * MB, memorySwap: 32 * MB }, /memoryswap limit should be larger than memory limit/);
  refuses({ memory: 64 * MB, memoryReservation: 128 * MB }, /can not be less than memory reservation/);
  refuses({ memoryReservation: MB }, /Minimum memory reservation allowed is 6MB/);
  refuses({ kernelMemory: MB }, /Minimum kernel memory limit allowed is 4MB/);
  refuses({ memorySwappiness: 101 }, /valid memory swappiness range is 0-100/);
  refuses({ cpus: 3 }, /Range of CPUs is from 0.01 to 2.00, as there are only 2 CPUs available/);
  refuses({ cpus: 0.001 }, /Range of CPUs/);
  refuses({ cpus: 0.5, cpuQuota: 50000 }, /Nano CPUs and CPU Quota cannot both be set/);
  refuses({ cpus: 0.5, cpuPeriod: 50000 }, /Nano CPUs and CPU Period cannot both be set/);
  refuses({ cpuPeriod: 999 }, /CPU cfs period can not be less than 1ms/);
  refuses({ cpuPeriod: 1_000_001 }, /larger than 1s/);
  refuses({ cpuQuota: 999 }, /CPU cfs quota can not be less than 1ms/);
  refuses({ cpuShares: -1 }, /invalid CPU shares/);
  refuses({ cpusetCpus: '3' }, /Requested CPUs are not available - requested 3, available: 0,1/);
  refuses({ cpusetCpus: 'a-b' }, /Invalid value a-b for cpuset cpus/);
  refuses({ cpusetMems: '1' }, /Requested memory nodes are not available/);
  refuses({ blkioWeight: 5 }, /Range of blkio weight is from 10 to 1000/);
  refuses({ blkioWeight: 1001 }, /Range of blkio weight/);
  refuses({ deviceReadBps: [{ path: '/dev/null', rate: 1 }] }, /not a block device/);
  refuses({ deviceReadBps: [{ path: '/dev/nope-nope', rate: 1 }] }, /no such device/);
  assert.throws(() => validateOomScoreAdj(1001), /range for oom score adj is \[-1000, 1000\]/);
  assert.equal(validateOomScoreAdj(-1000), -1000);
});

test('update merges over the current limits and checks the result', () => {
  const base = { memory: 64 * MB, memorySwap: 128 * MB, memoryReservation: 32 * MB, nanoCpus: 5e8 };
  const upd = (o: Parameters<typeof resolveResources>[0]) => resolveResources(o, base, v1, 'update');
  assert.deepEqual(upd({ memory: 96 * MB }).resources, { ...base, memory: 96 * MB });
  // docker: a memory limit above the memory+swap already set needs the swap updated with it
  assert.throws(() => upd({ memory: 256 * MB }), /smaller than already set memoryswap limit, update the memoryswap at the same time/);
  assert.deepEqual(upd({ memory: 256 * MB, memorySwap: 512 * MB }).resources.memorySwap, 512 * MB);
  // lowering memory under the kept reservation is refused
  assert.throws(() => upd({ memory: 16 * MB }), /can not be less than memory reservation/);
  // period/quota cannot be added to a container limited with --cpus, unless --cpus is given again
  assert.throws(() => upd({ cpuQuota: 20000 }), /CPU Period or Quota cannot be set when Nano CPUs are set/);
  assert.equal(upd({ cpus: 1 }).resources.nanoCpus, 1e9);
});

test('create records the default memory+swap as docker does: twice the memory', () => {
  assert.equal(resolveResources({ memory: 32 * MB }, {}, v1).resources.memorySwap, 64 * MB);
  assert.equal(resolveResources({ memory: 32 * MB, memorySwap: -1 }, {}, v1).resources.memorySwap, -1);
});

test('settings the host discards are dropped with docker warnings', () => {
  const k = resolveResources({ kernelMemory: 64 * MB }, {}, { ...v1, kernelMemory: false });
  assert.equal(k.resources.kernelMemory, undefined);
  assert.match(k.warnings[0]!, /does not support kernel memory limit/);
  const s = resolveResources({ memorySwappiness: 10, oomKillDisable: true, memory: 64 * MB }, {}, v2);
  assert.equal(s.resources.memorySwappiness, undefined);
  assert.equal(s.resources.oomKillDisable, undefined);
  assert.equal(s.warnings.length, 2);
  const o = resolveResources({ oomKillDisable: true }, {}, v1);
  assert.equal(o.resources.oomKillDisable, true);
  assert.match(o.warnings[0]!, /without setting a '-m\/--memory' limit may be dangerous/);
  assert.equal(resolveResources({ memorySwappiness: -1 }, {}, v1).resources.memorySwappiness, undefined);
});

test('cpu lists', () => {
  assert.deepEqual([...parseCpuList('0-2,5')], [0, 1, 2, 5]);
  assert.deepEqual([...parseCpuList('')], []);
  assert.throws(() => parseCpuList('2-1'), InvalidArgument);
  assert.throws(() => parseCpuList('x'), InvalidArgument);
});

test('ociResources for a live update: unlimited pids is -1, nano CPUs become quota over 100 ms', () => {
  assert.deepEqual(ociResources({ pidsLimit: -1 }).pids, { limit: -1 });
  assert.deepEqual(ociResources({ pidsLimit: 0 }).pids, undefined);
  assert.deepEqual(ociResources({ nanoCpus: 2.5e8 }).cpu, { period: 100000, quota: 25000 });
  assert.deepEqual(ociResources({ memory: 64 * MB, memorySwap: -1 }).memory, { limit: 64 * MB, swap: -1 });
  assert.equal(ociResources({}).devices, undefined);
});

// ---- controllers the host lacks: docker's warnings, the limit dropped ----

const PROC_CGROUPS_HYBRID = `#subsys_name\thierarchy\tnum_cgroups\tenabled
cpuset\t3\t5\t1
cpu\t1\t5\t1
cpuacct\t2\t5\t1
blkio\t7\t5\t1
memory\t4\t41\t1
devices\t5\t5\t1
freezer\t6\t5\t1
net_cls\t0\t3\t1
perf_event\t0\t3\t1
net_prio\t0\t3\t1
hugetlb\t0\t3\t1
pids\t8\t5\t1
`;

test('availableControllers: v2 from cgroup.controllers, v1 from /proc/cgroups (bound and enabled; blkio is io)', () => {
  const files = (m: Record<string, string>) => (p: string) => m[p];
  const sorted = (s: Set<string> | undefined) => (s ? [...s].sort() : s);
  assert.deepEqual(sorted(availableControllers(2, files({ '/sys/fs/cgroup/cgroup.controllers': 'cpuset cpu io memory hugetlb pids rdma misc\n' }))), [
    'cpu', 'cpuset', 'io', 'memory', 'pids',
  ]);
  // this host seen through a cgroup2 mount: the v1 hierarchies hold every resource controller
  assert.deepEqual(sorted(availableControllers(2, files({ '/sys/fs/cgroup/cgroup.controllers': 'hugetlb\n' }))), []);
  assert.deepEqual(sorted(availableControllers(2, files({ '/sys/fs/cgroup/cgroup.controllers': '' }))), []);
  // unreadable: unknown, so nothing is dropped
  assert.equal(availableControllers(2, files({})), undefined);
  assert.equal(availableControllers(1, files({})), undefined);
  assert.deepEqual(sorted(availableControllers(1, files({ '/proc/cgroups': PROC_CGROUPS_HYBRID }))), ['cpu', 'cpuset', 'io', 'memory', 'pids']);
  const noPids = PROC_CGROUPS_HYBRID.replace('pids\t8\t5\t1', 'pids\t0\t1\t1').replace('memory\t4\t41\t1', 'memory\t4\t41\t0');
  assert.deepEqual(sorted(availableControllers(1, files({ '/proc/cgroups': noPids }))), ['cpu', 'cpuset', 'io']);
  // the real host: whatever it is, the probe gives a set and never claims kernel memory
  const h = hostFacts(1);
  assert.ok(h.controllers === undefined || h.controllers instanceof Set);
  assert.equal(h.kernelMemory, false);
});

test('a limit whose controller is missing is dropped with docker warning; --cpus is refused', () => {
  const none: HostFacts = { ...v2, controllers: new Set() };
  const all = resolveResources(
    {
      memory: 64 * MB, memoryReservation: 32 * MB, memorySwappiness: 10, oomKillDisable: true, pidsLimit: 20, cpuShares: 512,
      cpuPeriod: 50000, cpuQuota: 25000, cpusetCpus: '0', cpusetMems: '0', blkioWeight: 300,
    },
    {},
    { ...v1, controllers: new Set() },
  );
  assert.deepEqual(all.resources, { memorySwap: -1 });
  assert.deepEqual(all.warnings, [
    'Your kernel does not support memory limit capabilities or the cgroup is not mounted. Limitation discarded.',
    'Your kernel does not support memory soft limit capabilities or the cgroup is not mounted. Limitation discarded.',
    'Your kernel does not support memory swappiness capabilities or the cgroup is not mounted. Memory swappiness discarded.',
    'Your kernel does not support OomKillDisable. OomKillDisable discarded.',
    'Your kernel does not support PIDs limit capabilities or the cgroup is not mounted. PIDs limit discarded.',
    'Your kernel does not support CPU shares or the cgroup is not mounted. Shares discarded.',
    'Your kernel does not support CPU CFS scheduler. CPU period/quota discarded.',
    'Your kernel does not support cpuset or the cgroup is not mounted. Cpuset discarded.',
    'Your kernel does not support Block I/O weight or the cgroup is not mounted. Weight discarded.',
  ]);
  refuses({ cpus: 0.5 }, /NanoCPUs can not be set, as your kernel does not support CPU CFS scheduler or the cgroup is not mounted/, none);
  // --memory-swap goes with the discarded memory (docker: MemorySwap -1), not refused for want of --memory
  assert.deepEqual(resolveResources({ memory: 64 * MB, memorySwap: 128 * MB }, {}, none).resources, { memorySwap: -1 });
  // unlimited pids and the default swappiness need no warning
  assert.deepEqual(resolveResources({ pidsLimit: -1, memorySwappiness: -1 }, {}, none), { resources: {}, warnings: [] });
  // block devices: each throttle its own warning
  const dev = ['/dev/vda', '/dev/sda', '/dev/nvme0n1', '/dev/xvda'].find((p) => statSync(p, { throwIfNoEntry: false })?.isBlockDevice());
  if (dev) {
    const io = resolveResources(
      { deviceReadBps: [{ path: dev, rate: 1 }], deviceWriteBps: [{ path: dev, rate: 1 }], deviceReadIops: [{ path: dev, rate: 1 }], deviceWriteIops: [{ path: dev, rate: 1 }] },
      {},
      none,
    );
    assert.deepEqual(io.resources, {});
    assert.deepEqual(io.warnings.map((w) => /support (.*?) or the cgroup/.exec(w)?.[1]), [
      'BPS Block I/O read limit', 'BPS Block I/O write limit', 'IOPS Block read limit', 'IOPS Block write limit',
    ]);
  }
  // only the missing controller's limits go; a host with all of them keeps everything
  const noPids = resolveResources({ memory: 64 * MB, pidsLimit: 20 }, {}, { ...v2, controllers: new Set(['memory', 'cpu', 'cpuset', 'io'] as const) });
  assert.deepEqual(noPids.resources, { memory: 64 * MB, memorySwap: 128 * MB });
  assert.equal(noPids.warnings.length, 1);
  const full = resolveResources({ memory: 64 * MB, pidsLimit: 20, cpus: 1 }, {}, { ...v2, controllers: new Set(['memory', 'cpu', 'cpuset', 'io', 'pids'] as const) });
  assert.deepEqual(full, { resources: { memory: 64 * MB, memorySwap: 128 * MB, pidsLimit: 20, nanoCpus: 1e9 }, warnings: [] });
  // update: the limit asked for is dropped with the warning, what the container held of them silently
  const upd = resolveResources({ memory: 96 * MB }, { pidsLimit: 10 }, none, 'update');
  assert.deepEqual(upd.resources, { memorySwap: -1 });
  assert.deepEqual(upd.warnings, ['Your kernel does not support memory limit capabilities or the cgroup is not mounted. Limitation discarded.']);
});

test('--kernel-memory: always dropped with docker warning, whatever the host (see hostFacts)', () => {
  for (const host of [hostFacts(1), hostFacts(2), { ...v1, kernelMemory: false }]) {
    const k = resolveResources({ kernelMemory: 64 * MB, memory: 128 * MB }, {}, host);
    assert.equal(k.resources.kernelMemory, undefined);
    assert.ok(
      k.warnings.includes('Your kernel does not support kernel memory limit capabilities or the cgroup is not mounted. Limitation discarded.'),
      k.warnings.join('\n'),
    );
  }
});
