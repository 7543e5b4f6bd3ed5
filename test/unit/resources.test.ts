/** resolveResources: docker's checks and warnings, for create (from nothing) and update (over current limits). */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { InvalidArgument } from '../../src/errors.ts';
import { statSync } from 'node:fs';
import { hostFacts, parseCpuList, resolveResources, validateOomScoreAdj, type HostFacts } from '../../src/engine/resources.ts';
import { ALL_FEATURES, type CgroupFeatures } from '../../src/runtime/cgroup-features.ts';
import { ociResources } from '../../src/runtime/spec/resources.ts';

const MB = 1024 * 1024;
const v1: HostFacts = { cpus: 2, onlineCpus: new Set([0, 1]), onlineMems: new Set([0]), cgroupVersion: 1, features: { ...ALL_FEATURES, kernelMemory: true } };
/** What probeCgroupFeatures gives on a v2 host with every controller: v2 has no swappiness or OOM-kill-disable file. */
const v2: HostFacts = { ...v1, cgroupVersion: 2, features: { ...ALL_FEATURES, memorySwappiness: false, oomKillDisable: false, cpuRealtime: false } };
/** A host lacking the limits named. */
const without = (host: HostFacts, ...missing: (keyof CgroupFeatures)[]): HostFacts => ({
  ...host,
  features: { ...host.features, ...Object.fromEntries(missing.map((k) => [k, false])) },
});
const NOTHING = Object.keys(ALL_FEATURES).filter((k) => k !== 'hugetlbSizes') as (keyof CgroupFeatures)[];

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
  const k = resolveResources({ kernelMemory: 64 * MB }, {}, without(v1, 'kernelMemory'));
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

// ---- limits the host lacks: docker's warnings, the limit dropped ----

test('a limit the host lacks is dropped with docker warning; --cpus is refused', () => {
  const none = without(v2, ...NOTHING);
  const all = resolveResources(
    {
      memory: 64 * MB, memoryReservation: 32 * MB, memorySwappiness: 10, oomKillDisable: true, pidsLimit: 20, cpuShares: 512,
      cpuPeriod: 50000, cpuQuota: 25000, cpusetCpus: '0', cpusetMems: '0', blkioWeight: 300,
    },
    {},
    without(v1, ...NOTHING),
  );
  assert.deepEqual(all.resources, { memorySwap: -1 });
  assert.deepEqual(all.warnings, [
    'Your kernel does not support memory limit capabilities or the cgroup is not mounted. Limitation discarded.',
    'Your kernel does not support memory swappiness capabilities or the cgroup is not mounted. Memory swappiness discarded.',
    'Your kernel does not support memory soft limit capabilities or the cgroup is not mounted. Limitation discarded.',
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
    // docker empties a discarded device list: inspect shows [] (null for one never asked for).
    assert.deepEqual(io.resources, { blkioDeviceReadBps: [], blkioDeviceWriteBps: [], blkioDeviceReadIOps: [], blkioDeviceWriteIOps: [] });
    assert.deepEqual(io.warnings.map((w) => /support (.*?) or the cgroup/.exec(w)?.[1]), [
      'BPS Block I/O read limit', 'BPS Block I/O write limit', 'IOPS Block read limit', 'IOPS Block write limit',
    ]);
  }
  // only the missing limit goes; a host with all of them keeps everything
  const noPids = resolveResources({ memory: 64 * MB, pidsLimit: 20 }, {}, without(v2, 'pidsLimit'));
  assert.deepEqual(noPids.resources, { memory: 64 * MB, memorySwap: 128 * MB });
  assert.equal(noPids.warnings.length, 1);
  const full = resolveResources({ memory: 64 * MB, pidsLimit: 20, cpus: 1 }, {}, v2);
  assert.deepEqual(full, { resources: { memory: 64 * MB, memorySwap: 128 * MB, pidsLimit: 20, nanoCpus: 1e9 }, warnings: [] });
  // update: the limit asked for is dropped with the warning, what the container held of them silently
  const upd = resolveResources({ memory: 96 * MB }, { pidsLimit: 10 }, none, 'update');
  assert.deepEqual(upd.resources, { memorySwap: -1 });
  assert.deepEqual(upd.warnings, ['Your kernel does not support memory limit capabilities or the cgroup is not mounted. Limitation discarded.']);
});

test('per file, not per controller: a blkio controller without weight files keeps its throttles', () => {
  const dev = ['/dev/vda', '/dev/sda', '/dev/nvme0n1', '/dev/xvda'].find((p) => statSync(p, { throwIfNoEntry: false })?.isBlockDevice());
  const host = without(v1, 'blkioWeight', 'blkioWeightDevice');
  const r = resolveResources({ blkioWeight: 300, ...(dev ? { deviceReadBps: [{ path: dev, rate: MB }], blkioWeightDevice: [{ path: dev, weight: 200 }] } : {}) }, {}, host);
  assert.equal(r.resources.blkioWeight, undefined);
  assert.deepEqual(r.resources.blkioWeightDevice, dev ? [] : undefined);
  assert.equal(r.warnings[0], 'Your kernel does not support Block I/O weight or the cgroup is not mounted. Weight discarded.');
  if (dev) {
    assert.equal(r.resources.blkioDeviceReadBps?.[0]?.rate, MB);
    assert.equal(r.warnings[1], 'Your kernel does not support Block I/O weight_device or the cgroup is not mounted. Weight-device discarded.');
    // where the host has them, a per-device weight is kept with the device's numbers
    const kept = resolveResources({ blkioWeightDevice: [{ path: dev, weight: 200 }] }, {}, v1).resources.blkioWeightDevice;
    assert.equal(kept?.[0]?.weight, 200);
    assert.ok(kept![0]!.major > 0);
    assert.throws(() => resolveResources({ blkioWeightDevice: [{ path: dev, weight: 5 }] }, {}, v1), /invalid weight for device/);
  }
});

test('no swap accounting: memory limited without swap, docker warning, and no swap in the spec', () => {
  const host = without(v1, 'swapLimit');
  const c = resolveResources({ memory: 64 * MB }, {}, host);
  assert.deepEqual(c.resources, { memory: 64 * MB, memorySwap: -1 });
  assert.deepEqual(c.warnings, ['Your kernel does not support swap limit capabilities or the cgroup is not mounted. Memory limited without swap.']);
  assert.deepEqual(resolveResources({ memory: 64 * MB, memorySwap: 256 * MB }, {}, host).resources.memorySwap, -1);
  // no memory limit, no swap warning; an update of other limits repeats none
  assert.deepEqual(resolveResources({ pidsLimit: 5 }, {}, host).warnings, []);
  assert.deepEqual(resolveResources({ cpuShares: 100 }, c.resources, host, 'update').warnings, []);
  // the runtime is handed no swap value at all (runc would write -1 to a file that is not there)
  assert.deepEqual(ociResources(c.resources, { swapLimit: false }).memory, { limit: 64 * MB });
  assert.deepEqual(ociResources(c.resources, { swapLimit: true }).memory, { limit: 64 * MB, swap: -1 });
  assert.deepEqual(ociResources({ memory: 64 * MB }, { swapLimit: false }).memory, { limit: 64 * MB });
});

test('--kernel-memory: always dropped with docker warning, whatever the host (see hostFacts)', () => {
  for (const host of [hostFacts(1), hostFacts(2), without(v1, 'kernelMemory')]) {
    const k = resolveResources({ kernelMemory: 64 * MB, memory: 128 * MB }, {}, host);
    assert.equal(k.resources.kernelMemory, undefined);
    assert.ok(
      k.warnings.includes('Your kernel does not support kernel memory limit capabilities or the cgroup is not mounted. Limitation discarded.'),
      k.warnings.join('\n'),
    );
  }
});
