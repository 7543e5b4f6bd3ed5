/**
 * probeCgroupFeatures over fake cgroup trees: each limit decided by the file the runtime writes, in a cgroup
 * below the root, for hosts with and without BFQ, swap accounting, real-time groups and whole controllers.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { featureWarnings, probeCgroupFeatures, type CgroupFeatures } from '../../src/runtime/cgroup-features.ts';
import { scratchDir } from './util.ts';

function tree(base: string, files: string[], text = ''): void {
  for (const rel of files) {
    mkdirSync(dirname(join(base, rel)), { recursive: true });
    writeFileSync(join(base, rel), text);
  }
}

// The files of a v1 child cgroup, per controller, as kernel 6.18 shows them without BFQ and with swap accounting.
const V1_CHILD: Record<string, string[]> = {
  memory: ['memory.limit_in_bytes', 'memory.memsw.limit_in_bytes', 'memory.soft_limit_in_bytes', 'memory.swappiness', 'memory.oom_control', 'memory.kmem.limit_in_bytes'],
  cpu: ['cpu.shares', 'cpu.cfs_quota_us', 'cpu.cfs_period_us', 'cpu.rt_runtime_us', 'cpu.rt_period_us'],
  cpuset: ['cpuset.cpus', 'cpuset.mems'],
  blkio: ['blkio.throttle.read_bps_device', 'blkio.throttle.write_bps_device', 'blkio.throttle.read_iops_device', 'blkio.throttle.write_iops_device'],
  pids: ['pids.max', 'pids.current'],
};

/** A v1 host: each controller mounted with cgroup.procs at its root and `child` holding the child's files. */
function v1Host(root: string, opts: { without?: string[]; extra?: Record<string, string[]>; child?: string | null; omitControllers?: string[] } = {}): void {
  for (const [ctrl, files] of Object.entries(V1_CHILD)) {
    if (opts.omitControllers?.includes(ctrl)) continue;
    tree(root, [`${ctrl}/cgroup.procs`]);
    if (opts.child === null) continue;
    const kept = [...files.filter((f) => !opts.without?.includes(f)), ...(opts.extra?.[ctrl] ?? [])];
    tree(root, [...kept, 'cgroup.procs'].map((f) => `${ctrl}/${opts.child ?? 'berth'}/${f}`));
  }
}

test('v1 without BFQ (this machine kind): every limit but the block I/O weights and kernel memory', (t) => {
  const root = scratchDir(t, 'berth-feat-');
  v1Host(root);
  const f = probeCgroupFeatures(1, { root });
  const missing = Object.entries(f).filter(([k, v]) => v === false && k !== 'hugetlbSizes').map(([k]) => k).sort();
  assert.deepEqual(missing, ['blkioWeight', 'blkioWeightDevice', 'kernelMemory']);
  assert.ok(featureWarnings(f, 1).includes('WARNING: No blkio weight support'));
  assert.ok(featureWarnings(f, 1).includes('WARNING: No blkio weight_device support'));
  assert.ok(!featureWarnings(f, 1).includes('WARNING: No swap limit support'));
});

test('v1 with BFQ: the bfq files count (they exist only below the root)', (t) => {
  const root = scratchDir(t, 'berth-feat-');
  v1Host(root, { extra: { blkio: ['blkio.bfq.weight', 'blkio.bfq.weight_device'] } });
  const f = probeCgroupFeatures(1, { root });
  assert.equal(f.blkioWeight, true);
  assert.equal(f.blkioWeightDevice, true);
  assert.deepEqual(featureWarnings(f, 1), []);
});

test('v1 with CFQ-era names: blkio.weight and blkio.weight_device', (t) => {
  const root = scratchDir(t, 'berth-feat-');
  v1Host(root, { extra: { blkio: ['blkio.weight', 'blkio.weight_device'] } });
  const f = probeCgroupFeatures(1, { root });
  assert.equal(f.blkioWeight && f.blkioWeightDevice, true);
});

test('v1 without swap accounting, real-time groups or the pids controller', (t) => {
  const root = scratchDir(t, 'berth-feat-');
  v1Host(root, { without: ['memory.memsw.limit_in_bytes', 'cpu.rt_runtime_us', 'cpu.rt_period_us'], omitControllers: ['pids'] });
  const f = probeCgroupFeatures(1, { root });
  assert.equal(f.memoryLimit, true);
  assert.equal(f.swapLimit, false);
  assert.equal(f.cpuRealtime, false);
  assert.equal(f.pidsLimit, false);
  assert.equal(f.cpuCfs, true);
  const w = featureWarnings(f, 1);
  for (const want of ['WARNING: No swap limit support', 'WARNING: No cpu realtime support', 'WARNING: No pids limit support']) assert.ok(w.includes(want), w.join('\n'));
});

test('v1: Berth parent missing, another child decides; no child at all, the parent is made and probed', (t) => {
  const root = scratchDir(t, 'berth-feat-');
  v1Host(root, { child: 'system.slice', extra: { blkio: ['blkio.bfq.weight'] } });
  assert.equal(probeCgroupFeatures(1, { root }).blkioWeight, true);
  assert.equal(existsSync(join(root, 'blkio', 'berth')), false, 'a child to look into: nothing made');

  const bare = scratchDir(t, 'berth-feat-');
  v1Host(bare, { child: null });
  // A real cgroup fs fills a new dir with its controller's files; a plain dir stays empty, so nothing is found.
  const f = probeCgroupFeatures(1, { root: bare });
  assert.equal(existsSync(join(bare, 'memory', 'berth')), true, 'the parent is made where no child exists');
  assert.equal(f.memoryLimit, false);
  // With creation off, the root's own files decide; those never on a root (pids.max) count as present.
  const ro = scratchDir(t, 'berth-feat-');
  v1Host(ro, { child: null });
  tree(ro, ['memory/memory.limit_in_bytes']);
  const g = probeCgroupFeatures(1, { root: ro, create: false });
  assert.equal(g.memoryLimit, true);
  assert.equal(g.swapLimit, false);
  assert.equal(g.pidsLimit, true);
  assert.equal(existsSync(join(ro, 'memory', 'berth')), false);
});

test('a combined v1 mount (cpu,cpuacct) is found by its controller name', (t) => {
  const root = scratchDir(t, 'berth-feat-');
  v1Host(root, { omitControllers: ['cpu'] });
  tree(root, ['cpu,cpuacct/cgroup.procs', 'cpu,cpuacct/berth/cpu.shares', 'cpu,cpuacct/berth/cpu.cfs_quota_us', 'cpu,cpuacct/berth/cpu.cfs_period_us']);
  const f = probeCgroupFeatures(1, { root });
  assert.equal(f.cpuShares && f.cpuCfs, true);
  assert.equal(f.cpuRealtime, false);
});

/** A pure v2 host: the root offers `controllers`; `child` has them enabled with `files`. */
function v2Host(root: string, controllers: string, child: { name: string; controllers: string; files: string[] } | undefined, rootFiles: string[] = []): void {
  tree(root, ['cgroup.controllers'], `${controllers}\n`);
  tree(root, ['cgroup.procs', ...rootFiles]);
  if (child) {
    tree(root, [`${child.name}/cgroup.controllers`], `${child.controllers}\n`);
    tree(root, child.files.map((f) => `${child.name}/${f}`));
  }
}

const V2_FILES = ['memory.max', 'memory.swap.max', 'memory.low', 'cpu.weight', 'cpu.max', 'cpuset.cpus', 'cpuset.mems', 'io.max', 'pids.max', 'hugetlb.2MB.max'];

test('v2, a child with every controller: io.weight (iocost) gives the weight, not per-device weights', (t) => {
  const root = scratchDir(t, 'berth-feat-');
  const all = 'cpuset cpu io memory hugetlb pids';
  v2Host(root, all, { name: 'system.slice', controllers: all, files: [...V2_FILES, 'io.weight'] });
  const f = probeCgroupFeatures(2, { root, blockRoot: join(root, 'noblock') });
  assert.equal(f.blkioWeight, true);
  assert.equal(f.blkioWeightDevice, false);
  assert.equal(f.swapLimit && f.memoryLimit && f.cpuCfs && f.pidsLimit && f.blkioReadBps, true);
  // v2 has no swappiness, OOM-kill-disable, real-time or kernel memory files
  assert.equal(f.memorySwappiness || f.oomKillDisable || f.cpuRealtime || f.kernelMemory, false);
  assert.deepEqual(f.hugetlbSizes, ['2MB']);
  assert.deepEqual(featureWarnings(f, 2), ['WARNING: No io.weight (per device) support']);
});

test('v2 with BFQ: io.bfq.weight gives both weights; with neither file, no weight', (t) => {
  const root = scratchDir(t, 'berth-feat-');
  v2Host(root, 'io memory', { name: 'berth', controllers: 'io memory', files: ['io.max', 'io.bfq.weight', 'memory.max'] });
  const f = probeCgroupFeatures(2, { root, blockRoot: join(root, 'noblock') });
  assert.equal(f.blkioWeight && f.blkioWeightDevice, true);
  assert.equal(f.swapLimit, false, 'no memory.swap.max: no swap accounting');
  assert.equal(f.cpuShares, false, 'cpu not offered');

  const none = scratchDir(t, 'berth-feat-');
  v2Host(none, 'io', { name: 'berth', controllers: 'io', files: ['io.max'] });
  const g = probeCgroupFeatures(2, { root: none, blockRoot: join(none, 'noblock') });
  assert.equal(g.blkioWeight, false);
  assert.ok(featureWarnings(g, 2).includes('WARNING: No io.weight support'));
});

test('v2 where no child has the controller: the root tells (io.cost.qos, a disk offering bfq)', (t) => {
  const root = scratchDir(t, 'berth-feat-');
  v2Host(root, 'io memory', { name: 'init.scope', controllers: '', files: [] }, ['io.cost.qos']);
  const f = probeCgroupFeatures(2, { root, blockRoot: join(root, 'noblock') });
  assert.equal(f.blkioWeight, true);
  assert.equal(f.blkioWeightDevice, false);
  assert.equal(f.blkioReadBps, true);
  assert.equal(f.memoryLimit, true);

  const bfq = scratchDir(t, 'berth-feat-');
  v2Host(bfq, 'io', undefined);
  tree(bfq, ['block/sda/queue/scheduler'], 'mq-deadline kyber [bfq] none\n');
  const g = probeCgroupFeatures(2, { root: bfq, blockRoot: join(bfq, 'block') });
  assert.equal(g.blkioWeight && g.blkioWeightDevice, true);

  const plain = scratchDir(t, 'berth-feat-');
  v2Host(plain, 'io', undefined);
  tree(plain, ['block/vda/queue/scheduler'], 'none [mq-deadline] kyber\n');
  assert.equal(probeCgroupFeatures(2, { root: plain, blockRoot: join(plain, 'block') }).blkioWeight, false);
});

test('v2 without controllers (as this hybrid host seen through a cgroup2 mount): nothing can be limited', (t) => {
  const root = scratchDir(t, 'berth-feat-');
  v2Host(root, '', undefined);
  const f: CgroupFeatures = probeCgroupFeatures(2, { root });
  assert.deepEqual(Object.entries(f).filter(([, v]) => v === true), []);
  assert.ok(featureWarnings(f, 2).includes('WARNING: No memory limit support'));
});

test('the real host: a result for every limit, and never kernel memory', () => {
  const f = probeCgroupFeatures(existsSync('/sys/fs/cgroup/cgroup.controllers') ? 2 : 1);
  assert.equal(f.kernelMemory, false);
  for (const [k, v] of Object.entries(f)) assert.ok(typeof v === 'boolean' || Array.isArray(v), k);
});
