/**
 * Every resource limit docker offers is enforced, measured and reported: the limits reach the container's
 * cgroup files (read back and compared with `inspect`), the kernel enforces them (OOM kill, fork failures
 * under pids.max, CFS quota, cpuset pinning), `update` changes them live or for the next start, impossible
 * values are refused before anything is created, and `stats` (one sample or the stream) reports what the
 * cgroup counters and the container's network namespace say.
 *
 * Measurements come from the cgroup's own counters (cpuacct.usage, pids.current/pids.peak/pids.events,
 * memory.max_usage_in_bytes, blkio service bytes); wall clock only serves as the denominator of a CPU rate and
 * for the block-I/O throttles (busybox `time` inside the container). Tolerances are wide.
 *
 * Which cgroup files a limit lands in comes from src/runtime/cgroups.ts (resourceFiles, fileHolds), so the
 * tests below run on v1 and on a v2 host alike; on this hybrid host the v2 code runs in a v2 view of the
 * host (the last describe: private mount and cgroup namespaces), see docs/architecture.md.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmdirSync, statfsSync, statSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileHolds, hasBfqWeight, readCgroupStats, resourceFilePath, resourceFiles, type CgroupDirs } from '../../src/runtime/cgroups.ts';
import { probeRuntimes, type CgroupInfo } from '../../src/runtime/probe.ts';
import type { Resources } from '../../src/types.ts';
import { BERTH, cli, eventually, leaksUnder, setupEnv, sleep, type Env } from './helpers.ts';

const CG = '/sys/fs/cgroup';
const MiB = 1024 * 1024;
const CGROUP2_SUPER_MAGIC = 0x63677270;
const PARENT = '/berth-test-parent';
const V1_DIRS = ['memory', 'cpu', 'cpuacct', 'cpuset', 'blkio', 'pids', 'freezer', 'devices'];

const isV2 = statfsSync(CG).type === CGROUP2_SUPER_MAGIC;
const VERSION: 1 | 2 = isV2 ? 2 : 1;
const V2_SKIP = 'no cgroup v2 hierarchy with controllers on this host (hybrid v1)';
/** Limits need their controllers: a v2 host must hand all five to containers (a v1 host mounts them). */
const LIMITS_SKIP = (() => {
  if (!isV2) return undefined;
  const have = (tryRead(`${CG}/cgroup.controllers`) ?? '').split(/\s+/);
  const missing = ['cpu', 'cpuset', 'io', 'memory', 'pids'].filter((c) => !have.includes(c));
  return missing.length > 0 ? `the cgroup v2 root does not offer ${missing.join(', ')}` : undefined;
})();
const KMEM_WARNING = 'Your kernel does not support kernel memory limit capabilities or the cgroup is not mounted. Limitation discarded.';
const WEIGHT_WARNING = 'WARNING: Your kernel does not support Block I/O weight or the cgroup is not mounted. Weight discarded.';
const SWAP_WARNING = 'WARNING: Your kernel does not support swap limit capabilities or the cgroup is not mounted. Memory limited without swap.';
/**
 * Swap accounting, as the host shows it (the tests' own reading, not Berth's probe): v1 has memory.memsw.* at
 * the memory root; v2 has memory.swap.max in every child of a root that delegates memory.
 */
const SWAP = isV2
  ? readdirSync(CG, { withFileTypes: true }).some((d) => d.isDirectory() && existsSync(join(CG, d.name, 'memory.swap.max')))
  : existsSync(join(CG, 'memory', 'memory.memsw.limit_in_bytes'));

let env: Env;
before(() => {
  env = setupEnv('resources');
});
after(() => {
  try {
    env.teardown();
  } finally {
    removeParent();
  }
});

// ---- helpers ----

const { runD, runDWarned, inspect, rmf, allIds, containerDirs } = cli(() => env);

/** The container's directories (v1: one per controller; v2: the one dir), as src/runtime/cgroups.ts names them. */
function dirsOf(id: string, parent = '/berth'): CgroupDirs {
  if (isV2) return { v2: `${CG}${parent}/${id}`, v1: {} };
  const v1: Record<string, string> = {};
  for (const c of V1_DIRS) if (existsSync(join(CG, c))) v1[c] = `${CG}/${c}${parent}/${id}`;
  return { v1 };
}

/**
 * Assert that the container's cgroup holds every file src/runtime/cgroups.ts maps `r` to on this host's
 * cgroup version, as the kernel reads it back (fileHolds). Returns how many files were checked.
 */
function assertFiles(id: string, r: Resources, parent = '/berth'): number {
  const dirs = dirsOf(id, parent);
  const files = resourceFiles(VERSION, r, { bfq: hasBfqWeight(dirs), swapLimit: SWAP });
  for (const f of files) {
    const p = resourceFilePath(dirs, f.file);
    assert.ok(p, `no controller for ${f.file}`);
    const text = readFileSync(p, 'utf8');
    assert.ok(fileHolds(f.file, f.value, text), `${f.file}: want ${f.value}, the kernel reads ${JSON.stringify(text.trim())}`);
  }
  return files.length;
}

/** The text of every file limits of `r`'s kinds are written to (the values of `r` do not matter). */
function snapshotFiles(id: string, r: Resources): Record<string, string> {
  const dirs = dirsOf(id);
  return Object.fromEntries(resourceFiles(VERSION, r, { bfq: hasBfqWeight(dirs), swapLimit: SWAP }).map((f) => [f.file, tryRead(resourceFilePath(dirs, f.file)!) ?? '(absent)']));
}

/** A v1 cgroup file of a container under /berth. */
function cgPath(ctrl: string, id: string, file: string, parent = '/berth'): string {
  return `${CG}/${ctrl}${parent}/${id}/${file}`;
}

function readCg(ctrl: string, id: string, file: string, parent = '/berth'): string {
  return readFileSync(cgPath(ctrl, id, file, parent), 'utf8').trim();
}

function tryRead(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch {
    return undefined;
  }
}

/** blkio.bfq.weight reads "default N" on some kernels and plain "N" on others. */
function weightOf(text: string): number {
  const m = /(?:^|default\s+)(\d+)/.exec(text);
  return m ? Number(m[1]) : NaN;
}

/**
 * Whether the container's cgroup has a block I/O weight file (v1 blkio.weight or BFQ's blkio.bfq.weight; v2
 * io.weight or io.bfq.weight): the tests' own look at the host, which differs between machines of one kind
 * (no BFQ scheduler, no weight). Read from the container's dir: the BFQ files never show on a root.
 */
function weightOffered(id: string): boolean {
  const d = dirsOf(id);
  const names = isV2 ? ['io.weight', 'io.bfq.weight'] : ['blkio.weight', 'blkio.bfq.weight'];
  const dir = isV2 ? d.v2 : d.v1.blkio;
  return dir !== undefined && names.some((n) => existsSync(join(dir, n)));
}

function nproc(): number {
  const r = spawnSync('nproc', { encoding: 'utf8' });
  const n = Number(r.stdout?.trim());
  return Number.isInteger(n) && n > 0 ? n : availableParallelism();
}

/**
 * Wait until the container's logs contain `text` (or time runs out); returns the logs. Not lifecycle's
 * logsContain: this one reads both streams, tolerates a failing `logs` while it polls, and returns the text.
 */
async function logsContain(id: string, text: string, ms = 15_000): Promise<string> {
  let out = '';
  await eventually(() => {
    const r = env.berth(['logs', id]);
    out = r.stdout + r.stderr;
    return out.includes(text);
  }, ms, 100);
  return out;
}

/**
 * The whole disk holding `/` as /dev/<name> with its MAJ:MIN, or undefined. A partition is mapped to its disk
 * (blk-throttle refuses partitions); a virtual root (major 0) falls back to the first real disk in /sys/block.
 */
function rootBlockDevice(): { path: string; majmin: string } | undefined {
  const fromSys = (majmin: string) => {
    let dir = `/sys/dev/block/${majmin}`;
    if (!existsSync(dir)) return undefined;
    if (existsSync(`${dir}/partition`)) dir = `${dir}/..`;
    const uevent = tryRead(`${dir}/uevent`) ?? '';
    const name = /^DEVNAME=(.+)$/m.exec(uevent)?.[1];
    const dev = tryRead(`${dir}/dev`);
    if (!name || !dev) return undefined;
    const path = `/dev/${name}`;
    const st = statSync(path, { throwIfNoEntry: false });
    return st?.isBlockDevice() ? { path, majmin: dev } : undefined;
  };
  for (const line of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    const f = line.split(' ');
    if (f[4] === '/' && f[2] && !f[2].startsWith('0:')) {
      const d = fromSys(f[2]);
      if (d) return d;
    }
  }
  for (const name of existsSync('/sys/block') ? readdirSync('/sys/block') : []) {
    if (/^(loop|ram|zram|nbd|dm-|md)/.test(name)) continue;
    const dev = tryRead(`/sys/block/${name}/dev`);
    const d = dev ? fromSys(dev) : undefined;
    if (d) return d;
  }
  return undefined;
}

function removeParent(): void {
  for (const c of readdirSync(CG)) {
    const p = join(CG, c, PARENT);
    try {
      if (existsSync(p)) rmdirSync(p);
    } catch {
      // a container dir still inside: reported by the test itself
    }
  }
  try {
    if (existsSync(join(CG, PARENT, 'cgroup.procs'))) rmdirSync(join(CG, PARENT));
  } catch {
    // as above
  }
}

/** CPU time (ns) the container's cgroup has used: v1 cpuacct.usage, v2 cpu.stat usage_usec. */
function cpuUsageNs(id: string): number {
  if (isV2) {
    const m = /^usage_usec (\d+)$/m.exec(readFileSync(`${CG}/berth/${id}/cpu.stat`, 'utf8'));
    return Number(m?.[1] ?? NaN) * 1000;
  }
  return Number(readCg('cpuacct', id, 'cpuacct.usage'));
}

/** Cores used over a window, measured by the cgroup's CPU counter. */
async function coresUsed(ids: string[], ms: number): Promise<number[]> {
  const u0 = ids.map(cpuUsageNs);
  const t0 = process.hrtime.bigint();
  await sleep(ms);
  const u1 = ids.map(cpuUsageNs);
  const wall = Number(process.hrtime.bigint() - t0);
  return ids.map((_, i) => (u1[i]! - u0[i]!) / wall);
}

function pidsCurrent(id: string): number {
  return Number(isV2 ? tryRead(`${CG}/berth/${id}/pids.current`) : tryRead(cgPath('pids', id, 'pids.current')));
}

/** docker's size strings: "19.5MiB", "64MiB", "1.2GiB", "512KiB", "100B". */
function parseSize(s: string): number {
  const m = /^([\d.]+)\s*([KMGT]?i?B)$/.exec(s.trim());
  assert.ok(m, `not a size: ${s}`);
  const mult: Record<string, number> = { B: 1, KiB: 1024, MiB: MiB, GiB: 1024 * MiB, TiB: 1024 * 1024 * MiB, kB: 1e3, KB: 1e3, MB: 1e6, GB: 1e9 };
  const k = mult[m[2]!];
  assert.ok(k, `unknown unit in ${s}`);
  return Number(m[1]) * k;
}

// ---- limits reach the cgroup files ----

describe('limits reach the cgroup files', () => {
  test('every docker limit is written to its v1 file and reported by inspect', (t) => {
    if (isV2) return t.skip('cgroup v2 host: see the v2 test');
    const dev = rootBlockDevice();
    const devFlags = dev ? ['--device-write-bps', `${dev.path}:1mb`, '--device-read-iops', `${dev.path}:100`] : [];
    if (!dev) t.diagnostic('no block device found: --device-write-bps and --device-read-iops not checked');
    const { id, stderr } = runDWarned([
      '-m', '64m', '--memory-swap', '128m', '--memory-reservation', '32m', '--memory-swappiness', '10',
      '--oom-kill-disable', '-c', '512', '--cpus', '0.5', '--cpuset-cpus', '0', '--pids-limit', '50',
      '--blkio-weight', '300', ...devFlags, '--oom-score-adj', '200',
      'busybox', 'sleep', '300',
    ]);
    try {
      // What this host offers decides what is written and what is dropped with docker's warning.
      const weight = weightOffered(id);
      t.diagnostic(`block I/O weight: ${weight ? 'offered' : 'not offered (no BFQ)'}; swap accounting: ${SWAP ? 'on' : 'off'}`);
      assert.equal(stderr.includes(WEIGHT_WARNING), !weight, stderr);
      assert.equal(stderr.includes(SWAP_WARNING), !SWAP, stderr);
      // the files, by their v1 names
      assert.equal(readCg('memory', id, 'memory.limit_in_bytes'), String(64 * MiB));
      if (SWAP) assert.equal(readCg('memory', id, 'memory.memsw.limit_in_bytes'), String(128 * MiB));
      assert.equal(readCg('memory', id, 'memory.soft_limit_in_bytes'), String(32 * MiB));
      assert.equal(readCg('memory', id, 'memory.swappiness'), '10');
      assert.match(readCg('memory', id, 'memory.oom_control'), /^oom_kill_disable 1$/m);
      assert.equal(readCg('cpu', id, 'cpu.shares'), '512');
      assert.equal(readCg('cpu', id, 'cpu.cfs_quota_us'), '50000');
      assert.equal(readCg('cpu', id, 'cpu.cfs_period_us'), '100000');
      assert.equal(readCg('cpuset', id, 'cpuset.cpus'), '0');
      assert.equal(readCg('pids', id, 'pids.max'), '50');
      const wfile = existsSync(cgPath('blkio', id, 'blkio.weight')) ? 'blkio.weight' : 'blkio.bfq.weight';
      if (weight) assert.equal(weightOf(readCg('blkio', id, wfile)), 300, wfile);
      if (dev) {
        assert.equal(readCg('blkio', id, 'blkio.throttle.write_bps_device'), `${dev.majmin} ${MiB}`);
        assert.equal(readCg('blkio', id, 'blkio.throttle.read_iops_device'), `${dev.majmin} 100`);
      }
      const info = inspect(id);
      const pid = info.State.Pid as number;
      assert.equal(readFileSync(`/proc/${pid}/oom_score_adj`, 'utf8').trim(), '200');

      // inspect reports what the files say
      const hc = info.HostConfig;
      assert.equal(hc.Memory, Number(readCg('memory', id, 'memory.limit_in_bytes')));
      assert.equal(hc.MemorySwap, SWAP ? Number(readCg('memory', id, 'memory.memsw.limit_in_bytes')) : -1);
      assert.equal(hc.MemoryReservation, Number(readCg('memory', id, 'memory.soft_limit_in_bytes')));
      assert.equal(hc.MemorySwappiness, 10);
      assert.equal(hc.OomKillDisable, true);
      assert.equal(hc.NanoCpus, (Number(readCg('cpu', id, 'cpu.cfs_quota_us')) / Number(readCg('cpu', id, 'cpu.cfs_period_us'))) * 1e9);
      assert.equal(hc.CpuShares, Number(readCg('cpu', id, 'cpu.shares')));
      assert.equal(hc.CpusetCpus, readCg('cpuset', id, 'cpuset.cpus'));
      assert.equal(hc.PidsLimit, Number(readCg('pids', id, 'pids.max')));
      assert.equal(hc.BlkioWeight, weight ? weightOf(readCg('blkio', id, wfile)) : 0);
      assert.equal(hc.OomScoreAdj, 200);
      if (dev) {
        assert.deepEqual(hc.BlkioDeviceWriteBps, [{ Path: dev.path, Rate: MiB }]);
        assert.deepEqual(hc.BlkioDeviceReadIOps, [{ Path: dev.path, Rate: 100 }]);
      }

      // and src/runtime/cgroups.ts's map of Resources → files agrees with every file on disk
      const [maj, min] = (dev?.majmin ?? '0:0').split(':').map(Number) as [number, number];
      const r: Resources = {
        memory: 64 * MiB, memorySwap: SWAP ? 128 * MiB : -1, memoryReservation: 32 * MiB, memorySwappiness: 10, oomKillDisable: true,
        cpuShares: 512, nanoCpus: 5e8, cpusetCpus: '0', pidsLimit: 50, ...(weight ? { blkioWeight: 300 } : {}),
        ...(dev
          ? {
              blkioDeviceWriteBps: [{ path: dev.path, major: maj, minor: min, rate: MiB }],
              blkioDeviceReadIOps: [{ path: dev.path, major: maj, minor: min, rate: 100 }],
            }
          : {}),
      };
      const checked = assertFiles(id, r);
      assert.ok(checked >= 8, `resourceFiles gave ${checked} files`);
    } finally {
      rmf(id);
    }
  });

  test('--blkio-weight-device reaches its file where the host has one, else goes with docker warning; info says which', (t) => {
    if (LIMITS_SKIP) return t.skip(LIMITS_SKIP);
    const dev = rootBlockDevice();
    if (!dev) return t.skip('no block device found');
    const { id, stderr } = runDWarned(['--blkio-weight-device', `${dev.path}:200`, 'busybox', 'sleep', '300']);
    try {
      // the oracle: the per-device weight file in the container's own cgroup (v1 CFQ's or BFQ's; v2 only BFQ's)
      const d = dirsOf(id);
      const dir = isV2 ? d.v2! : d.v1.blkio!;
      const file = (isV2 ? ['io.bfq.weight'] : ['blkio.weight_device', 'blkio.bfq.weight_device']).find((f) => existsSync(join(dir, f)));
      t.diagnostic(`per-device block I/O weight: ${file ?? 'not offered'}`);
      const warning = 'WARNING: Your kernel does not support Block I/O weight_device or the cgroup is not mounted. Weight-device discarded.';
      assert.equal(stderr.includes(warning), file === undefined, stderr);
      const hc = inspect(id).HostConfig;
      if (file) {
        assert.ok(readFileSync(join(dir, file), 'utf8').split('\n').map((l) => l.trim()).includes(`${dev.majmin} 200`), file);
        assert.deepEqual(hc.BlkioWeightDevice, [{ Path: dev.path, Weight: 200 }]);
      } else {
        assert.deepEqual(hc.BlkioWeightDevice, []);
      }
      // berth info names what the host lacks, on stderr after the report, as docker info does
      const info = env.berth(['info']);
      assert.equal(info.code, 0, info.stderr);
      const lacks = isV2 ? 'WARNING: No io.weight (per device) support' : 'WARNING: No blkio weight_device support';
      assert.equal(info.stderr.split('\n').includes(lacks), file === undefined, info.stderr);
      assert.equal(info.stderr.split('\n').includes(isV2 ? 'WARNING: No io.weight support' : 'WARNING: No blkio weight support'), !weightOffered(id), info.stderr);
      assert.equal(info.stderr.split('\n').includes('WARNING: No swap limit support'), !SWAP, info.stderr);
    } finally {
      rmf(id);
    }
    for (const [spec, why] of [
      [`${dev.path}:5`, `invalid weight for device: ${dev.path}:5`],
      ['sda:100', 'bad format for device path: sda:100'],
      [dev.path, `bad format: ${dev.path}`],
    ]) {
      const r = env.berth(['create', '--blkio-weight-device', spec!, 'busybox']);
      assert.equal(r.code, 125, r.stderr);
      assert.equal(r.stderr, `Error: invalid argument "${spec}" for "--blkio-weight-device" flag: ${why}\n`);
    }
    assert.equal(env.berth(['ps', '-aq']).stdout, '', 'a refused create makes nothing');
  });

  test('--cpu-period/--cpu-quota, --cpuset-mems, --device-read-bps and --device-write-iops reach their files and inspect', (t) => {
    if (LIMITS_SKIP) return t.skip(LIMITS_SKIP);
    const dev = rootBlockDevice();
    if (!dev) t.diagnostic('no block device found: --device-read-bps and --device-write-iops not checked');
    const devFlags = dev ? ['--device-read-bps', `${dev.path}:2mb`, '--device-write-iops', `${dev.path}:40`] : [];
    const id = runD(['--cpu-period', '50000', '--cpu-quota', '20000', '--cpuset-mems', '0', ...devFlags, 'busybox', 'sleep', '300']);
    try {
      if (!isV2) {
        assert.equal(readCg('cpu', id, 'cpu.cfs_period_us'), '50000');
        assert.equal(readCg('cpu', id, 'cpu.cfs_quota_us'), '20000');
        assert.equal(readCg('cpuset', id, 'cpuset.mems'), '0');
        if (dev) {
          assert.equal(readCg('blkio', id, 'blkio.throttle.read_bps_device'), `${dev.majmin} ${2 * MiB}`);
          assert.equal(readCg('blkio', id, 'blkio.throttle.write_iops_device'), `${dev.majmin} 40`);
        }
      }
      const [maj, min] = (dev?.majmin ?? '0:0').split(':').map(Number) as [number, number];
      const r: Resources = {
        cpuPeriod: 50000, cpuQuota: 20000, cpusetMems: '0',
        ...(dev
          ? {
              blkioDeviceReadBps: [{ path: dev.path, major: maj, minor: min, rate: 2 * MiB }],
              blkioDeviceWriteIOps: [{ path: dev.path, major: maj, minor: min, rate: 40 }],
            }
          : {}),
      };
      assert.equal(assertFiles(id, r), isV2 ? (dev ? 3 : 2) : dev ? 5 : 3);
      const hc = inspect(id).HostConfig;
      assert.equal(hc.CpuPeriod, 50000);
      assert.equal(hc.CpuQuota, 20000);
      assert.equal(hc.NanoCpus, 0);
      assert.equal(hc.CpusetMems, '0');
      if (dev) {
        assert.deepEqual(hc.BlkioDeviceReadBps, [{ Path: dev.path, Rate: 2 * MiB }]);
        assert.deepEqual(hc.BlkioDeviceWriteIOps, [{ Path: dev.path, Rate: 40 }]);
        assert.equal(hc.BlkioDeviceWriteBps, null, 'one not asked for is null, as docker shows it');
      }
    } finally {
      rmf(id);
    }
  });

  test('--kernel-memory is dropped with docker warning: no kernel memory limit takes effect here', (t) => {
    const r = env.berth(['run', '--rm', '--kernel-memory', '64m', '-m', '128m', 'busybox', 'true']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stderr, `WARNING: ${KMEM_WARNING}\n`);
    if (isV2) return; // v2 has no kernel memory file at all
    // Why it is not probed (src/engine/resources.ts): the v1 file may still be there, but kernels since 5.16
    // never set the limit (the write fails, or on newer ones is accepted and ignored); runc 1.1 would not
    // write it anyway. Measured on a container's cgroup.
    const id = runD(['-m', '128m', '--kernel-memory', '64m', 'busybox', 'sleep', '300']);
    try {
      assert.equal(inspect(id).HostConfig.KernelMemory, 0);
      const kmem = cgPath('memory', id, 'memory.kmem.limit_in_bytes');
      const unlimited = tryRead(kmem);
      if (unlimited === undefined) return t.diagnostic('this kernel has no memory.kmem.limit_in_bytes');
      assert.ok(Number(unlimited) > 1e18, `kmem limit ${unlimited}: the runtime wrote one`);
      const [maj = 0, min = 0] = (/^(\d+)\.(\d+)/.exec(readFileSync('/proc/sys/kernel/osrelease', 'utf8')) ?? []).slice(1).map(Number);
      let wrote = true;
      try {
        writeFileSync(kmem, String(64 * MiB));
      } catch {
        wrote = false; // 5.16 up to the no-op file: EOPNOTSUPP
      }
      const after = tryRead(kmem);
      t.diagnostic(`kernel ${maj}.${min}: a kmem write was ${wrote ? 'accepted' : 'refused'}; the file reads ${after}`);
      if (maj > 5 || (maj === 5 && min >= 16)) {
        assert.equal(after, unlimited, `kernel ${maj}.${min} applied a kmem limit: hostFacts needs a probe after all`);
      }
    } finally {
      rmf(id);
    }
  });

  test('--cgroup-parent puts the cgroup under that parent; rm removes it', () => {
    const id = runD(['--cgroup-parent', PARENT, 'busybox', 'sleep', '300']);
    const dir = isV2 ? `${CG}${PARENT}/${id}` : `${CG}/memory${PARENT}/${id}`;
    try {
      assert.ok(existsSync(dir), `${dir} missing`);
      assert.equal(inspect(id).HostConfig.CgroupParent, PARENT);
      assert.ok(!existsSync(isV2 ? `${CG}/berth/${id}` : `${CG}/memory/berth/${id}`), 'cgroup also under /berth');
      const pid = inspect(id).State.Pid as number;
      const self = readFileSync(`/proc/${pid}/cgroup`, 'utf8');
      assert.match(self, new RegExp(`${PARENT}/${id}$`, 'm'));
    } finally {
      rmf(id);
    }
    const left = isV2 ? [dir] : V1_DIRS.map((c) => `${CG}/${c}${PARENT}/${id}`);
    assert.deepEqual(left.filter((d) => existsSync(d)), []);
    removeParent();
  });
});

// ---- enforcement ----

describe('limits are enforced', () => {
  test('a memory hog under --memory 32m is OOM-killed: exit 137, OOMKilled true', () => {
    const name = 'res-oom';
    const r = env.berth(['run', '--name', name, '--memory', '32m', 'busybox', 'sh', '-c', 'x=a; while :; do x=$x$x; done']);
    try {
      assert.equal(r.code, 137, r.stderr);
      const st = inspect(name).State;
      assert.equal(st.OOMKilled, true);
      assert.equal(st.ExitCode, 137);
    } finally {
      rmf(name);
    }
  });

  test('a fork bomb under --pids-limit 20 is held at 20 and cleaned by rm -f', async () => {
    // pid 1 survives: the bomb runs in a subshell, which dies on its first failed fork; its sleeps stay.
    const bomb = '(for i in $(seq 1 60); do sleep 30 & done; wait); echo bomb-over; sleep 300';
    const id = runD(['--pids-limit', '20', 'busybox', 'sh', '-c', bomb]);
    try {
      let peak = 0;
      const end = Date.now() + 2500;
      while (Date.now() < end) {
        const n = pidsCurrent(id);
        if (Number.isFinite(n)) peak = Math.max(peak, n);
        assert.ok(!(n > 20), `pids.current ${n} > 20`);
        await sleep(20);
      }
      assert.ok(peak >= 18, `the bomb never reached the limit (peak ${peak})`);
      const pidsDir = isV2 ? `${CG}/berth/${id}` : `${CG}/pids/berth/${id}`;
      const kernelPeak = tryRead(`${pidsDir}/pids.peak`);
      if (kernelPeak !== undefined) assert.ok(Number(kernelPeak) <= 20, `pids.peak ${kernelPeak}`);
      const events = tryRead(`${pidsDir}/pids.events`) ?? '';
      assert.match(events, /^max [1-9]\d*$/m, `no fork failures counted: ${events}`);
      const logs = await logsContain(id, 'bomb-over');
      assert.match(logs, /can't fork|Resource temporarily unavailable/);
      assert.equal(inspect(id).State.Status, 'running', 'pid 1 should outlive the bomb');
      // the host is not taken down
      const host = spawnSync('sh', ['-c', 'for i in 1 2 3 4 5; do true & done; wait; echo ok'], { encoding: 'utf8' });
      assert.equal(host.stdout.trim(), 'ok');
    } finally {
      rmf(id);
    }
    assert.deepEqual(leaksUnder(env.root).filter((l) => l.includes(id)), []);
    assert.ok(!existsSync(isV2 ? `${CG}/berth/${id}` : `${CG}/pids/berth/${id}`));
  });

  test('--cpus 0.5 holds a busy loop near half a core; unlimited it uses more than 0.8', async () => {
    const loop = ['busybox', 'sh', '-c', 'while :; do :; done'];
    const limited = runD(['--cpus', '0.5', ...loop]);
    const free = runD(loop);
    try {
      await sleep(700);
      // The quota is a hard cap: no 3 s window may exceed it. Other load on a 2-CPU host can only lower the
      // rates, so up to three windows are measured until both loops have shown their rate once.
      const seen: string[] = [];
      let limitedOk = false;
      let freeOk = false;
      for (let i = 0; i < 3 && !(limitedOk && freeOk); i++) {
        const [a, b] = await coresUsed([limited, free], 3000);
        seen.push(`limited ${a!.toFixed(3)} / unlimited ${b!.toFixed(3)}`);
        assert.ok(a! <= 0.65, `--cpus 0.5 used ${a!.toFixed(3)} cores`);
        if (a! >= 0.35) limitedOk = true;
        if (b! > 0.8) freeOk = true;
      }
      assert.ok(limitedOk, `--cpus 0.5 never reached 0.35 cores: ${seen.join('; ')}`);
      assert.ok(freeOk, `the unlimited loop never used more than 0.8 cores (is the measurement working?): ${seen.join('; ')}`);
      if (!isV2) {
        const st = readCg('cpu', limited, 'cpu.stat');
        assert.match(st, /^nr_throttled [1-9]\d*$/m, `no throttling counted: ${st}`);
      }
    } finally {
      rmf(limited, free);
    }
  });

  test('--cpu-period 50000 --cpu-quota 20000 caps a busy loop at 0.4 of a core', async (t) => {
    if (LIMITS_SKIP) return t.skip(LIMITS_SKIP);
    const id = runD(['--cpu-period', '50000', '--cpu-quota', '20000', 'busybox', 'sh', '-c', 'while :; do :; done']);
    try {
      await sleep(500);
      // A hard cap: no window may exceed it (other load can only lower the rate).
      const [used] = await coresUsed([id], 2500);
      assert.ok(used! <= 0.4 * 1.25, `--cpu-quota 20000/50000 used ${used!.toFixed(3)} cores`);
      assert.ok(used! > 0.05, `the loop did not run (${used!.toFixed(3)} cores)`);
      const st = readFileSync(isV2 ? `${CG}/berth/${id}/cpu.stat` : cgPath('cpu', id, 'cpu.stat'), 'utf8');
      assert.match(st, /^nr_throttled [1-9]\d*$/m, `no throttling counted: ${st}`);
    } finally {
      rmf(id);
    }
  });

  test('--device-write-bps, --device-read-bps and --device-write-iops hold direct I/O to their rates', (t) => {
    if (LIMITS_SKIP) return t.skip(LIMITS_SKIP);
    const dev = rootBlockDevice();
    if (!dev) return t.skip('no block device found');
    // O_DIRECT I/O to the container's overlay (upper dir on that disk), timed inside by busybox `time`.
    const prog = [
      'time dd if=/dev/zero of=/w bs=1M count=3 oflag=direct',
      'time dd if=/w of=/dev/null bs=1M iflag=direct',
      'time dd if=/dev/zero of=/i bs=4k count=80 oflag=direct',
    ].join('; ');
    const seconds = (flags: string[]) => {
      const r = env.berth(['run', '--rm', ...flags, 'busybox', 'sh', '-c', prog], { timeoutMs: 60_000 });
      assert.equal(r.code, 0, r.stderr);
      const s = [...r.stderr.matchAll(/^real\s+(\d+)m\s*([\d.]+)s$/gm)].map((m) => Number(m[1]) * 60 + Number(m[2]));
      assert.equal(s.length, 3, r.stderr);
      return s as [number, number, number];
    };
    const limited = seconds(['--device-write-bps', `${dev.path}:1mb`, '--device-read-bps', `${dev.path}:1mb`, '--device-write-iops', `${dev.path}:40`]);
    const free = seconds([]);
    t.diagnostic(`limited ${limited.join(' s, ')} s; unlimited ${free.join(' s, ')} s`);
    // 3 MB at 1 MB/s and 80 writes at 40/s: 3 s and 2 s, less the first slice blk-throttle lets through.
    assert.ok(limited[0] >= 1.8, `3 MB written in ${limited[0]} s under --device-write-bps 1mb`);
    assert.ok(limited[1] >= 1.8, `3 MB read in ${limited[1]} s under --device-read-bps 1mb`);
    assert.ok(limited[2] >= 1.2, `80 writes in ${limited[2]} s under --device-write-iops 40`);
    for (const [i, s] of free.entries()) assert.ok(s < 1, `unlimited dd #${i + 1} took ${s} s: is the disk that busy?`);
  });

  test('--cpuset-cpus 0 pins the container to CPU 0', async () => {
    const id = runD(['--cpuset-cpus', '0', 'busybox', 'sh', '-c', 'grep Cpus_allowed_list /proc/self/status; echo done; sleep 300']);
    try {
      const logs = await logsContain(id, 'done');
      assert.match(logs, /^Cpus_allowed_list:\s+0$/m);
      const file = isV2 ? readFileSync(`${CG}/berth/${id}/cpuset.cpus`, 'utf8').trim() : readCg('cpuset', id, 'cpuset.cpus');
      assert.equal(file, '0');
    } finally {
      rmf(id);
    }
  });
});

// ---- update ----
// Expectations are Resources; the files they end up in come from src/runtime/cgroups.ts's mapping (the v1 or
// v2 names and runc's conversions, pinned file by file in test/unit/cgroups.test.ts), so these run on either.

describe('update', () => {
  test('on a running container: --memory, --cpus, --pids-limit, then cpuset, weight, shares, reservation', (t) => {
    if (LIMITS_SKIP) return t.skip(LIMITS_SKIP);
    const id = runD(['-m', '32m', '--pids-limit', '30', 'busybox', 'sleep', '300']);
    try {
      let r: Resources = { memory: 32 * MiB, memorySwap: SWAP ? 64 * MiB : -1, pidsLimit: 30 };
      assertFiles(id, r);
      const u = env.berth(['update', '--memory', '64m', id]);
      assert.equal(u.code, 0, u.stderr);
      r = { ...r, memory: 64 * MiB };
      assertFiles(id, r);
      assert.equal(inspect(id).HostConfig.Memory, 64 * MiB);

      const c = env.berth(['update', '--cpus', '1', '--pids-limit', '100', id]);
      assert.equal(c.code, 0, c.stderr);
      r = { ...r, nanoCpus: 1e9, pidsLimit: 100 };
      assertFiles(id, r); // the memory files too: an update of other limits keeps them
      const hc = inspect(id).HostConfig;
      assert.equal(hc.NanoCpus, 1e9);
      assert.equal(hc.PidsLimit, 100);
      assert.equal(hc.Memory, 64 * MiB, 'an update of other limits keeps the memory');

      const o = env.berth(['update', '--cpuset-cpus', '0', '--blkio-weight', '500', '-c', '256', '--memory-reservation', '16m', id]);
      assert.equal(o.code, 0, o.stderr);
      // a host without a weight file (no BFQ) drops the weight with docker's warning and applies the rest
      const weight = weightOffered(id);
      assert.equal(o.stderr.includes(WEIGHT_WARNING), !weight, o.stderr);
      r = { ...r, cpusetCpus: '0', ...(weight ? { blkioWeight: 500 } : {}), cpuShares: 256, memoryReservation: 16 * MiB };
      assert.equal(assertFiles(id, r), resourceFiles(VERSION, r, { swapLimit: SWAP }).length);
      const hc2 = inspect(id).HostConfig;
      assert.equal(hc2.CpusetCpus, '0');
      assert.equal(hc2.BlkioWeight, weight ? 500 : 0);
      assert.equal(hc2.CpuShares, 256);
      assert.equal(hc2.MemoryReservation, 16 * MiB);
      assert.equal(hc2.NanoCpus, 1e9, 'earlier updates are kept');
    } finally {
      rmf(id);
    }
  });

  test('on a running container: --cpu-period, --cpu-quota and --cpuset-mems', (t) => {
    if (LIMITS_SKIP) return t.skip(LIMITS_SKIP);
    const id = runD(['--cpu-period', '100000', '--cpu-quota', '50000', 'busybox', 'sleep', '300']);
    try {
      let r: Resources = { cpuPeriod: 100000, cpuQuota: 50000 };
      assertFiles(id, r);
      const u = env.berth(['update', '--cpu-period', '50000', '--cpu-quota', '10000', '--cpuset-mems', '0', id]);
      assert.equal(u.code, 0, u.stderr);
      r = { cpuPeriod: 50000, cpuQuota: 10000, cpusetMems: '0' };
      assertFiles(id, r);
      if (!isV2) {
        assert.equal(readCg('cpu', id, 'cpu.cfs_period_us'), '50000');
        assert.equal(readCg('cpu', id, 'cpu.cfs_quota_us'), '10000');
        assert.equal(readCg('cpuset', id, 'cpuset.mems'), '0');
      }
      const hc = inspect(id).HostConfig;
      assert.deepEqual([hc.CpuPeriod, hc.CpuQuota, hc.CpusetMems, hc.NanoCpus], [50000, 10000, '0', 0]);
      // a quota alone keeps the period; -1 lifts the quota
      const q = env.berth(['update', '--cpu-quota', '-1', id]);
      assert.equal(q.code, 0, q.stderr);
      r = { ...r, cpuQuota: -1 };
      assertFiles(id, r);
      assert.equal(inspect(id).HostConfig.CpuQuota, -1);
    } finally {
      rmf(id);
    }
  });

  test('a 48 MB allocation dies under --memory 32m but lives after update --memory 96m', async (t) => {
    if (LIMITS_SKIP) return t.skip(LIMITS_SKIP);
    // The allocation is held in a shell variable; the sleep leaves time for the update to land first.
    const hog = 'sleep 3; x=$(head -c 48000000 /dev/zero | tr "\\0" a); echo allocated ${#x}; sleep 300';
    const dies = runD(['-m', '32m', 'busybox', 'sh', '-c', hog]);
    const lives = runD(['-m', '32m', 'busybox', 'sh', '-c', hog]);
    try {
      const u = env.berth(['update', '--memory', '96m', '--memory-swap', '192m', lives]);
      assert.equal(u.code, 0, u.stderr);
      assertFiles(lives, { memory: 96 * MiB, memorySwap: 192 * MiB });
      const w = env.berth(['wait', dies], { timeoutMs: 30_000 });
      assert.equal(w.stdout.trim(), '137', w.stderr);
      assert.equal(inspect(dies).State.OOMKilled, true);

      const logs = await logsContain(lives, 'allocated 48000000');
      assert.match(logs, /allocated 48000000/);
      const st = inspect(lives);
      assert.equal(st.State.Status, 'running');
      assert.equal(st.State.OOMKilled, false);
      assert.equal(st.HostConfig.Memory, 96 * MiB);
      assert.equal(st.HostConfig.MemorySwap, 192 * MiB);
      // the high-water mark: v1 memory.max_usage_in_bytes, v2 memory.peak (kernel 5.19+)
      const peak = isV2 ? tryRead(`${CG}/berth/${lives}/memory.peak`) : readCg('memory', lives, 'memory.max_usage_in_bytes');
      if (peak !== undefined) assert.ok(Number(peak) > 32 * MiB, `the container never used more than the old limit (${peak})`);
    } finally {
      rmf(dies, lives);
    }
  });

  test('on a stopped container the update is kept and applied at the next start', (t) => {
    if (LIMITS_SKIP) return t.skip(LIMITS_SKIP);
    const id = runD(['-m', '32m', 'busybox', 'sleep', '300']);
    try {
      assert.equal(env.berth(['stop', '-t', '0', id]).code, 0);
      const u = env.berth(['update', '--memory', '64m', '--pids-limit', '40', '--cpus', '0.5', id]);
      assert.equal(u.code, 0, u.stderr);
      let hc = inspect(id).HostConfig;
      assert.equal(hc.Memory, 64 * MiB);
      assert.equal(hc.PidsLimit, 40);
      assert.equal(hc.NanoCpus, 5e8);
      const s = env.berth(['start', id]);
      assert.equal(s.code, 0, s.stderr);
      // memory+swap stays the 64m recorded at create: equal to the new memory, so no swap
      assertFiles(id, { memory: 64 * MiB, memorySwap: 64 * MiB, pidsLimit: 40, nanoCpus: 5e8 });
      hc = inspect(id).HostConfig;
      assert.equal(hc.Memory, 64 * MiB);
    } finally {
      rmf(id);
    }
  });

  test('on a created (never started) container the update is applied at the first start', (t) => {
    if (LIMITS_SKIP) return t.skip(LIMITS_SKIP);
    const c = env.berth(['create', '-m', '32m', 'busybox', 'sleep', '300']);
    assert.equal(c.code, 0, c.stderr);
    const id = c.stdout.trim();
    try {
      const u = env.berth(['update', '--memory', '48m', '--memory-swap', '96m', '--pids-limit', '25', id]);
      assert.equal(u.code, 0, u.stderr);
      assert.equal(env.berth(['start', id]).code, 0);
      assert.equal(assertFiles(id, { memory: 48 * MiB, memorySwap: 96 * MiB, pidsLimit: 25 }), SWAP ? 3 : 2);
    } finally {
      rmf(id);
    }
  });

  test("update --memory above the memory+swap limit without --memory-swap is refused, as docker does", (t) => {
    if (LIMITS_SKIP) return t.skip(LIMITS_SKIP);
    if (!SWAP) return t.skip('no swap accounting on this host: memory+swap is unlimited (-1), so no update exceeds it');
    // -m 32m gives memory+swap 64m (inspect says MemorySwap 67108864); docker's daemon refuses a memory limit
    // above it unless --memory-swap comes along: "Memory limit should be smaller than already set memoryswap
    // limit, update the memoryswap at the same time" (exit 1), and nothing changes.
    const id = runD(['-m', '32m', 'busybox', 'sleep', '300']);
    try {
      assert.equal(inspect(id).HostConfig.MemorySwap, 64 * MiB);
      const r = env.berth(['update', '--memory', '96m', id]);
      assert.equal(r.code, 1, `update --memory 96m: exit ${r.code}; files now ${JSON.stringify(snapshotFiles(id, { memory: 1, memorySwap: 2 }))}`);
      assert.match(r.stderr, /Memory limit should be smaller than already set memoryswap limit, update the memoryswap at the same time/);
      assertFiles(id, { memory: 32 * MiB, memorySwap: 64 * MiB });
      assert.equal(inspect(id).HostConfig.Memory, 32 * MiB);
    } finally {
      rmf(id);
    }
  });

  test('update with no flags, or with bad values, exits 1 and changes nothing', (t) => {
    if (LIMITS_SKIP) return t.skip(LIMITS_SKIP);
    const id = runD(['-m', '32m', '--cpus', '0.5', '--pids-limit', '30', 'busybox', 'sleep', '300']);
    try {
      const none = env.berth(['update', id]);
      assert.equal(none.code, 1);
      assert.match(none.stderr, /provide one or more flags/);
      // every file a limit of these kinds is written to (cpuset: the container's, inherited)
      const watched: Resources = { memory: 1, memorySwap: 2, memoryReservation: 1, nanoCpus: 1, pidsLimit: 1, cpusetCpus: '0' };
      const before = snapshotFiles(id, watched);
      assert.equal(Object.keys(before).length, resourceFiles(VERSION, watched).length);
      const hcBefore = inspect(id).HostConfig;
      for (const bad of [
        ['--memory', '2k'],
        ['--cpus', String(nproc() + 1)],
        ['--memory-reservation', '64m'],
        ['--memory-swap', '16m'],
        ['--cpuset-cpus', String(nproc() + 5)],
        ['--blkio-weight', '5'],
        ['--cpu-quota', '50000'],
        ['--cpuset-mems', '7'],
      ]) {
        const r = env.berth(['update', ...bad, id]);
        assert.equal(r.code, 1, `update ${bad.join(' ')}: exit ${r.code} ${r.stderr}`);
        assert.ok(r.stderr.trim().length > 0, `update ${bad.join(' ')}: no message`);
        assert.deepEqual(snapshotFiles(id, watched), before, `update ${bad.join(' ')} changed a file`);
        assert.deepEqual(inspect(id).HostConfig, hcBefore, `update ${bad.join(' ')} changed inspect`);
      }
    } finally {
      rmf(id);
    }
  });

  test('update --kernel-memory is dropped with docker warning and changes nothing', (t) => {
    if (LIMITS_SKIP) return t.skip(LIMITS_SKIP);
    const id = runD(['-m', '64m', 'busybox', 'sleep', '300']);
    try {
      const r = env.berth(['update', '--kernel-memory', '32m', id]);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stderr, `WARNING: ${KMEM_WARNING}\n`);
      assert.equal(r.stdout.trim(), id);
      assert.equal(inspect(id).HostConfig.KernelMemory, 0);
      assertFiles(id, { memory: 64 * MiB, memorySwap: 128 * MiB });
    } finally {
      rmf(id);
    }
  });
});

// ---- refusals before create ----

test('impossible values are refused before anything is created (exit 125, one line)', () => {
  const n = nproc();
  const cases: [string[], RegExp][] = [
    [['--cpus', String(n + 1)], new RegExp(`Range of CPUs is from 0\\.01 to ${n}\\.00`)],
    [['--cpuset-cpus', String(n + 5)], /Requested CPUs are not available/],
    [['--blkio-weight', '5'], /Range of blkio weight is from 10 to 1000/],
    [['-m', '32m', '--memory-reservation', '64m'], /Minimum memory limit can not be less than memory reservation limit/],
    [['-m', '64m', '--memory-swap', '32m'], /Minimum memoryswap limit should be larger than memory limit/],
    [['--oom-score-adj', '2000'], /range for oom score adj is \[-1000, 1000\]/],
    [['--memory-swappiness', '101'], /valid memory swappiness range is 0-100/],
    [['--cpu-period', '10'], /CPU cfs period can not be less than 1ms/],
    [['--cpu-quota', '10'], /CPU cfs quota can not be less than 1ms/],
    [['--cpus', '1', '--cpu-quota', '50000'], /Conflicting options: Nano CPUs and CPU Quota cannot both be set/],
    [['--device-read-bps', '/dev/null:1mb'], /not a block device/],
    [['--runtime', 'runc', '--cgroups', 'disabled'], /crun/],
    [['--cgroups', 'bogus'], /--cgroups/],
  ];
  const ids = allIds();
  const dirs = containerDirs();
  for (const [flags, msg] of cases) {
    const r = env.berth(['run', '--rm', ...flags, 'busybox', 'true']);
    const what = flags.join(' ');
    assert.equal(r.code, 125, `${what}: exit ${r.code}, stderr ${r.stderr}`);
    assert.equal(r.stdout, '', `${what}: stdout ${r.stdout}`);
    assert.equal(r.stderr.trim().split('\n').length, 1, `${what}: not one line:\n${r.stderr}`);
    assert.match(r.stderr, msg, what);
    assert.deepEqual(allIds(), ids, `${what}: a container was created`);
    assert.deepEqual(containerDirs(), dirs, `${what}: a container directory was created`);
  }
});

// ---- --cgroups disabled on crun ----

describe('--cgroups disabled on crun', () => {
  let skip: string | undefined;
  before(() => {
    const crun = probeRuntimes().find((c) => c.name === 'crun')!;
    if (!crun.usable) skip = `crun is not usable here: ${crun.reason}`;
  });

  test('runs without any cgroup of its own', (t) => {
    if (skip) return t.skip(skip);
    const r = env.berth(['run', '--rm', '--runtime', 'crun', '--cgroups', 'disabled', 'busybox', 'cat', '/proc/self/cgroup']);
    assert.equal(r.code, 0, r.stderr);
    assert.ok(r.stdout.trim().length > 0, 'empty /proc/self/cgroup');
    assert.doesNotMatch(r.stdout, /\/berth\//);

    const id = runD(['--runtime', 'crun', '--cgroups', 'disabled', 'busybox', 'sleep', '300']);
    try {
      assert.equal(inspect(id).State.Status, 'running');
      const dirs = isV2 ? [`${CG}/berth/${id}`] : V1_DIRS.map((c) => `${CG}/${c}/berth/${id}`);
      assert.ok(!existsSync(`${CG}/memory/berth/${id}`), 'a memory cgroup was created');
      assert.deepEqual(dirs.filter((d) => existsSync(d)), []);
      const pid = inspect(id).State.Pid as number;
      assert.doesNotMatch(readFileSync(`/proc/${pid}/cgroup`, 'utf8'), new RegExp(id));
    } finally {
      rmf(id);
    }
  });
});

// ---- cgroup v2 ----

test('cgroup v2: the limits reach memory.max, memory.swap.max, cpu.max, pids.max, cpuset.cpus', (t) => {
  if (!isV2) return t.skip(V2_SKIP);
  const controllers = tryRead(`${CG}/cgroup.controllers`) ?? '';
  if (!/\bmemory\b/.test(controllers) || !/\bpids\b/.test(controllers)) return t.skip(V2_SKIP);
  const id = runD(['-m', '64m', '--memory-swap', '128m', '--cpus', '0.5', '--cpuset-cpus', '0', '--pids-limit', '50', 'busybox', 'sleep', '300']);
  const dir = `${CG}/berth/${id}`;
  try {
    assert.equal(readFileSync(`${dir}/memory.max`, 'utf8').trim(), String(64 * MiB));
    assert.equal(readFileSync(`${dir}/memory.swap.max`, 'utf8').trim(), String(128 * MiB - 64 * MiB));
    assert.equal(readFileSync(`${dir}/cpu.max`, 'utf8').trim(), '50000 100000');
    assert.equal(readFileSync(`${dir}/pids.max`, 'utf8').trim(), '50');
    assert.equal(readFileSync(`${dir}/cpuset.cpus`, 'utf8').trim(), '0');
    const r: Resources = { memory: 64 * MiB, memorySwap: 128 * MiB, nanoCpus: 5e8, cpusetCpus: '0', pidsLimit: 50 };
    assert.equal(assertFiles(id, r), 5);
    const hc = inspect(id).HostConfig;
    assert.equal(hc.Memory, 64 * MiB);
    assert.equal(hc.MemorySwap, 128 * MiB);
    assert.equal(hc.NanoCpus, 5e8);
    assert.equal(hc.PidsLimit, 50);
  } finally {
    rmf(id);
  }
});

// ---- stats ----

describe('stats --no-stream', () => {
  test('PIDS, MEM USAGE / LIMIT and the header match the cgroup', async () => {
    const prog = 'x=$(head -c 20000000 /dev/zero | tr "\\0" a); sleep 300 & sleep 300 & sleep 300 & echo ready; wait';
    const name = 'res-stats-mem';
    const id = runD(['--name', name, '-m', '64m', 'busybox', 'sh', '-c', prog]);
    try {
      await logsContain(id, 'ready');
      await eventually(() => pidsCurrent(id) >= 4, 5000);

      const table = env.berth(['stats', '--no-stream', id]);
      assert.equal(table.code, 0, table.stderr);
      const lines = table.stdout.trimEnd().split('\n');
      assert.match(lines[0]!, /^CONTAINER ID\s+NAME\s+CPU %\s+MEM USAGE \/ LIMIT\s+MEM %\s+NET I\/O\s+BLOCK I\/O\s+PIDS$/);
      assert.equal(lines.length, 2, table.stdout);
      assert.match(lines[1]!, new RegExp(`^${id.slice(0, 12)}\\s+${name}\\s`));

      const r = env.berth(['stats', '--no-stream', '--format', '{{.Name}} {{.MemUsage}} {{.PIDs}}', id]);
      assert.equal(r.code, 0, r.stderr);
      const pids = pidsCurrent(id);
      const usage = isV2
        ? Number(readFileSync(`${CG}/berth/${id}/memory.current`, 'utf8'))
        : Number(readCg('memory', id, 'memory.usage_in_bytes'));
      const stat = isV2 ? readFileSync(`${CG}/berth/${id}/memory.stat`, 'utf8') : readCg('memory', id, 'memory.stat');
      const inactive = Number((isV2 ? /^inactive_file (\d+)$/m : /^total_inactive_file (\d+)$/m).exec(stat)?.[1] ?? 0);
      const m = /^(\S+) (\S+) \/ (\S+) (\d+)$/.exec(r.stdout.trim());
      assert.ok(m, `unexpected --format output: ${JSON.stringify(r.stdout)}`);
      assert.equal(m[1], name);
      assert.equal(Number(m[4]), pids, 'PIDS column vs pids.current');
      assert.ok(pids >= 4, `pids.current ${pids}: sh and 3 sleeps expected`);
      assert.equal(m[3], '64MiB');
      const want = usage - inactive;
      const got = parseSize(m[2]!);
      assert.ok(want > 20e6 * 0.9, `the container holds only ${want} bytes`);
      assert.ok(Math.abs(got - want) <= 0.25 * want, `MEM USAGE ${m[2]} vs cgroup ${want} bytes`);
    } finally {
      rmf(id);
    }
  });

  test('CPU % of a busy loop under --cpus 0.5 is between 30 and 70', async () => {
    const id = runD(['--cpus', '0.5', 'busybox', 'sh', '-c', 'while :; do :; done']);
    try {
      await sleep(700);
      const r = env.berth(['stats', '--no-stream', '--format', '{{.CPUPerc}}', id]);
      assert.equal(r.code, 0, r.stderr);
      const m = /^([\d.]+)%$/.exec(r.stdout.trim());
      assert.ok(m, `unexpected CPU %: ${JSON.stringify(r.stdout)}`);
      const pct = Number(m[1]);
      assert.ok(pct >= 30 && pct <= 70, `CPU % ${pct}`);
    } finally {
      rmf(id);
    }
  });
});

/**
 * Whether docker's rendering of a byte count (go-units HumanSizeWithPrecision(n, 3): decimal units, 3
 * significant digits, e.g. "2.28kB", "472B", "1e+03kB") can stand for some count in [lo, hi]: counters that
 * move between our read and Berth's give a range, not a number.
 */
function showsBetween(shown: string, lo: number, hi: number): boolean {
  const m = /^([\d.]+(?:e\+\d+)?)(B|kB|MB|GB|TB)$/.exec(shown.trim());
  assert.ok(m, `not a decimal size: ${shown}`);
  const unit = { B: 1, kB: 1e3, MB: 1e6, GB: 1e9, TB: 1e12 }[m[2]!]!;
  const x = Number(m[1]);
  const half = x === 0 ? 0 : 0.5 * 10 ** (Math.floor(Math.log10(x)) - 2);
  return (x - half) * unit <= hi && (x + half) * unit >= lo;
}

/** rx and tx bytes summed over every interface but lo, from a net/dev file (independent of Berth's parser). */
function netTotals(path: string): { rx: number; tx: number } {
  let rx = 0;
  let tx = 0;
  for (const line of readFileSync(path, 'utf8').split('\n').slice(2)) {
    const [name, rest] = line.split(':');
    if (!rest || name!.trim() === 'lo') continue;
    const f = rest.trim().split(/\s+/).map(Number);
    rx += f[0]!;
    tx += f[8]!;
  }
  return { rx, tx };
}

/** The container's block I/O bytes as the cgroup counts them (v1 blkio service bytes, v2 io.stat). */
function blkioTotals(id: string): { read: number; write: number } {
  let read = 0;
  let write = 0;
  if (isV2) {
    for (const m of (tryRead(`${CG}/berth/${id}/io.stat`) ?? '').matchAll(/rbytes=(\d+) wbytes=(\d+)/g)) (read += Number(m[1])), (write += Number(m[2]));
    return { read, write };
  }
  for (const f of ['blkio.throttle.io_service_bytes_recursive', 'blkio.io_service_bytes_recursive', 'blkio.bfq.io_service_bytes_recursive']) {
    const text = tryRead(cgPath('blkio', id, f)) ?? '';
    for (const m of text.matchAll(/^\d+:\d+ (Read|Write) (\d+)$/gm)) {
      if (m[1] === 'Read') read += Number(m[2]);
      else write += Number(m[2]);
    }
    if (/^\d+:\d+ /m.test(text)) break;
  }
  return { read, write };
}

describe('stats', () => {
  test('--all shows created and exited containers with zeros; without it they are left out', () => {
    const c = env.berth(['create', '--name', 'res-stats-created', 'busybox', 'true']);
    assert.equal(c.code, 0, c.stderr);
    const created = c.stdout.trim();
    const exited = env.berth(['run', '-d', '--name', 'res-stats-exited', 'busybox', 'true']).stdout.trim();
    const running = runD(['--name', 'res-stats-running', 'busybox', 'sleep', '300']);
    try {
      assert.equal(env.berth(['wait', exited]).stdout.trim(), '0');
      const fmt = '{{.ID}}|{{.Name}}|{{.CPUPerc}}|{{.MemUsage}}|{{.MemPerc}}|{{.NetIO}}|{{.BlockIO}}|{{.PIDs}}';
      const all = env.berth(['stats', '--no-stream', '--all', '--format', fmt]);
      assert.equal(all.code, 0, all.stderr);
      const rows = all.stdout.trim().split('\n');
      for (const [id, name] of [[created, 'res-stats-created'], [exited, 'res-stats-exited']] as const) {
        assert.ok(rows.includes(`${id.slice(0, 12)}|${name}|0.00%|0B / 0B|0.00%|0B / 0B|0B / 0B|0`), `${name} in:\n${all.stdout}`);
      }
      const live = rows.find((l) => l.startsWith(running.slice(0, 12)));
      assert.ok(live, all.stdout);
      assert.doesNotMatch(live, /\|0B \/ 0B\|0\.00%\|/, 'the running one has a memory figure');
      assert.ok(Number(live.split('|').at(-1)) >= 1);
      const plain = env.berth(['stats', '--no-stream', '--format', '{{.ID}}']);
      assert.equal(plain.code, 0, plain.stderr);
      assert.ok(plain.stdout.split('\n').includes(running.slice(0, 12)), plain.stdout);
      for (const id of [created, exited]) assert.ok(!plain.stdout.includes(id.slice(0, 12)), `${id} listed without --all`);
      // named explicitly, a created container shows (zeros) without --all, as docker's does
      const named = env.berth(['stats', '--no-stream', '--format', fmt, 'res-stats-created']);
      assert.equal(named.stdout.trim(), `${created.slice(0, 12)}|res-stats-created|0.00%|0B / 0B|0.00%|0B / 0B|0B / 0B|0`);
    } finally {
      rmf(created, exited, running);
    }
  });

  test('the stream (no --no-stream): a frame about every second, following the container, until killed', async () => {
    // A new sleep every 0.4 s: PIDS must grow from frame to frame.
    const id = runD(['busybox', 'sh', '-c', 'i=0; while [ $i -lt 40 ]; do sleep 300 & i=$((i+1)); sleep 0.4; done; wait']);
    const child = spawn(BERTH, ['--root', env.root, 'stats', '--format', 'table {{.ID}}\t{{.PIDs}}', id], { stdio: ['ignore', 'pipe', 'pipe'] });
    const frames: { at: number; text: string }[] = [];
    let stderr = '';
    let buf = '';
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    child.stdout.on('data', (b: Buffer) => {
      buf += b.toString();
      // a frame is a header line and its rows; it is complete when the next header (or more rows) arrive
      const parts = buf.split(/^(?=CONTAINER ID)/m);
      buf = parts.pop()!;
      for (const p of parts) if (p.trim()) frames.push({ at: Date.now(), text: p });
      if (/^CONTAINER ID.*\n.+\n$/m.test(buf)) frames.push({ at: Date.now(), text: buf }), (buf = '');
    });
    const exited = new Promise<{ code: number | null; signal: string | null }>((res) => child.on('exit', (code, signal) => res({ code, signal })));
    try {
      await eventually(() => frames.length >= 4, 15_000, 50);
      assert.ok(frames.length >= 4, `${frames.length} frames in 15 s; stderr ${stderr}`);
      const t0 = Date.now();
      child.kill('SIGTERM');
      const end = await exited;
      assert.ok(Date.now() - t0 < 3000, 'stats took more than 3 s to stop');
      assert.deepEqual(end, { code: 0, signal: null }, `stats ended with ${JSON.stringify(end)}: ${stderr}`);
      assert.equal(stderr, '');
      const pids: number[] = [];
      for (const f of frames.slice(0, 4)) {
        const lines = f.text.trimEnd().split('\n');
        assert.match(lines[0]!, /^CONTAINER ID\s+PIDS$/);
        assert.equal(lines.length, 2, f.text);
        const m = new RegExp(`^${id.slice(0, 12)}\\s+(\\d+)$`).exec(lines[1]!);
        assert.ok(m, lines[1]);
        pids.push(Number(m[1]));
      }
      const gaps = frames.slice(1, 4).map((f, i) => f.at - frames[i]!.at);
      for (const g of gaps) assert.ok(g >= 800 && g <= 3000, `frames ${gaps.join(', ')} ms apart`);
      assert.ok(pids.every((n, i) => i === 0 || n >= pids[i - 1]!), `PIDS went down: ${pids.join(', ')}`);
      assert.ok(pids[3]! > pids[0]!, `PIDS did not follow the container: ${pids.join(', ')}`);
    } finally {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      rmf(id);
    }
  });

  test("NET I/O is the container's own counters (rx / tx, every interface but lo), in docker's units", async (t) => {
    const prog = 'gw=$(ip route | awk "/^default/ {print \\$3}"); ping -c 5 -s 1000 -i 0.2 $gw >/dev/null && echo pinged; sleep 300';
    const id = runD(['busybox', 'sh', '-c', prog]);
    try {
      await logsContain(id, 'pinged');
      const pid = inspect(id).State.Pid as number;
      const before = netTotals(`/proc/${pid}/net/dev`);
      const r = env.berth(['stats', '--no-stream', '--format', '{{.NetIO}}', id]);
      const after = netTotals(`/proc/${pid}/net/dev`);
      assert.equal(r.code, 0, r.stderr);
      assert.ok(before.tx >= 5 * 1000 && before.rx >= 5 * 1000, `the pings were not counted: ${JSON.stringify(before)}`);
      const [rx, tx] = r.stdout.trim().split(' / ');
      t.diagnostic(`NET I/O ${r.stdout.trim()}; net/dev rx ${before.rx}..${after.rx}, tx ${before.tx}..${after.tx}`);
      assert.ok(showsBetween(rx!, before.rx, after.rx), `rx ${rx} for ${before.rx}..${after.rx} bytes`);
      assert.ok(showsBetween(tx!, before.tx, after.tx), `tx ${tx} for ${before.tx}..${after.tx} bytes`);
    } finally {
      rmf(id);
    }
  });

  test('NET I/O of a --network host container is 0B / 0B, not the host traffic (as docker)', () => {
    const id = runD(['--network', 'host', 'busybox', 'sleep', '300']);
    try {
      const pid = inspect(id).State.Pid as number;
      const host = netTotals(`/proc/${pid}/net/dev`);
      assert.ok(host.rx + host.tx > 0, 'the host network has no traffic: the test shows nothing');
      const r = env.berth(['stats', '--no-stream', '--format', '{{.NetIO}} {{.PIDs}}', id]);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout.trim(), '0B / 0B 1');
    } finally {
      rmf(id);
    }
  });

  test('BLOCK I/O after dd conv=fsync is what the cgroup counted, at least the 8 MiB written', async () => {
    const id = runD(['busybox', 'sh', '-c', 'dd if=/dev/zero of=/f bs=1M count=8 conv=fsync 2>/dev/null && echo written; sleep 300']);
    try {
      await logsContain(id, 'written');
      const before = blkioTotals(id);
      const r = env.berth(['stats', '--no-stream', '--format', '{{.BlockIO}}', id]);
      const after = blkioTotals(id);
      assert.equal(r.code, 0, r.stderr);
      assert.ok(before.write >= 8 * MiB, `the cgroup counted ${before.write} bytes written`);
      const [read, write] = r.stdout.trim().split(' / ');
      assert.ok(showsBetween(read!, before.read, after.read), `read ${read} for ${before.read}..${after.read} bytes`);
      assert.ok(showsBetween(write!, before.write, after.write), `write ${write} for ${before.write}..${after.write} bytes`);
    } finally {
      rmf(id);
    }
  });

  test('top CONTAINER [ps options] lists exactly the processes of its cgroup', async () => {
    const id = runD(['busybox', 'sh', '-c', 'sleep 301 & sleep 302 & echo ready; wait']);
    try {
      await logsContain(id, 'ready');
      const procs = (isV2 ? tryRead(`${CG}/berth/${id}/cgroup.procs`) : tryRead(cgPath('pids', id, 'cgroup.procs')))!.split('\n').sort();
      assert.equal(procs.length, 3, procs.join(' '));
      const r = env.berth(['top', id, '-o', 'pid,comm,args']);
      assert.equal(r.code, 0, r.stderr);
      const lines = r.stdout.trimEnd().split('\n');
      assert.match(lines[0]!, /^\s*PID\s+COMMAND\s+COMMAND$/);
      assert.deepEqual(lines.slice(1).map((l) => l.trim().split(/\s+/)[0]).sort(), procs);
      assert.ok(lines.some((l) => /sleep 302$/.test(l)), r.stdout);
      const bad = env.berth(['top', id, '-o', 'comm']);
      assert.equal(bad.code, 1, 'ps output without a PID column');
      assert.match(bad.stderr, /PID/);
    } finally {
      rmf(id);
    }
  });
});

// ---- cgroup v2 on a hybrid host: a v2 view in private mount and cgroup namespaces ----
//
// Every resource controller of this host (cpu, cpuacct, cpuset, memory, blkio, pids) is bound to a v1
// hierarchy, and a controller belongs to one hierarchy system-wide: a mount namespace changes which hierarchy
// a path shows, not where the controllers are. They could only move to v2 by removing every v1 cgroup of
// theirs (the engines' and the test harness's own), which would change the host. What can be had: the v2
// hierarchy (the one at /sys/fs/cgroup/unified) mounted at /sys/fs/cgroup in a private mount namespace, so
// Berth and runc see a pure v2 host. A cgroup namespace rooted at a cgroup of this test's own keeps runc from
// enabling anything in the host's subtree_control (it enables what the root's cgroup.controllers offers:
// here nothing). In there, v2 has no resource controllers but its core files (cgroup.procs, cgroup.freeze,
// cgroup.events, cpu.stat): cgroup placement, the v2 stats path, freezing, and the refusal path of limits
// run for real; the limits themselves run on a v2 host only (the v2 test above and the update tests).

describe('cgroup v2 view of a hybrid host (private mount and cgroup namespaces; runc)', () => {
  const UNIFIED = '/sys/fs/cgroup/unified';
  let skip: string | undefined;
  let holder: ReturnType<typeof spawn> | undefined;
  let nsRoot = ''; // the host path of the cgroup that is the namespace's root
  let subtreeBefore = '';
  let controllersBefore = '';
  let v2env: Env | undefined;

  const nsBerth = (args: string[], timeoutMs = 120_000) => {
    const r = spawnSync('nsenter', [`--mount=/proc/${holder!.pid}/ns/mnt`, `--cgroup=/proc/${holder!.pid}/ns/cgroup`, BERTH, '--root', v2env!.root, ...args], {
      encoding: 'utf8',
      timeout: timeoutMs,
    });
    if (r.error) throw r.error;
    return { code: r.status ?? 128, stdout: r.stdout, stderr: r.stderr };
  };
  const nsRunD = (args: string[]) => {
    const r = nsBerth(['run', '-d', '--runtime', 'runc', '--network', 'none', ...args]);
    assert.equal(r.code, 0, `run -d ${args.join(' ')}: ${r.stderr}`);
    return { id: r.stdout.trim(), stderr: r.stderr };
  };
  const nsInspect = (id: string) => JSON.parse(nsBerth(['inspect', id]).stdout)[0];
  const nsRm = (...ids: string[]) => assert.equal(nsBerth(['rm', '-f', ...ids]).code, 0);
  /** The host path of a container's v2 cgroup. */
  const dirOf = (id: string, parent = '/berth') => `${nsRoot}${parent}/${id}`;
  const usageUsec = (id: string) => Number(/^usage_usec (\d+)$/m.exec(readFileSync(`${dirOf(id)}/cpu.stat`, 'utf8'))?.[1]);

  before(async () => {
    if (isV2) return void (skip = 'a v2 host: the tests above run on it directly');
    if (!existsSync(`${UNIFIED}/cgroup.procs`)) return void (skip = 'no v2 hierarchy at /sys/fs/cgroup/unified');
    subtreeBefore = readFileSync(`${UNIFIED}/cgroup.subtree_control`, 'utf8');
    controllersBefore = readFileSync(`${UNIFIED}/cgroup.controllers`, 'utf8');
    nsRoot = `${UNIFIED}/berth-test-v2-${process.pid}`;
    mkdirSync(nsRoot);
    // sh puts itself in nsRoot, then becomes unshare, which becomes the namespaces' holder (one pid throughout)
    const inner = 'mount -t cgroup2 none /sys/fs/cgroup && echo ready && exec sleep 1800';
    holder = spawn('sh', ['-c', `echo $$ > ${nsRoot}/cgroup.procs && exec unshare -m -C --propagation private sh -c '${inner}'`], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    holder.stdout!.on('data', (b: Buffer) => (out += b.toString()));
    holder.stderr!.on('data', (b: Buffer) => (out += b.toString()));
    await eventually(() => out.includes('ready') || holder!.exitCode !== null, 10_000);
    if (!out.includes('ready')) return void (skip = `no private cgroup2 mount: ${out.trim()}`);
    v2env = setupEnv('resources-v2');
    const info = nsBerth(['info']);
    if (!/Cgroup Version: 2/.test(info.stdout)) skip = `berth does not see cgroup v2 in the namespace: ${info.stdout}`;
  });

  after(() => {
    const errors: unknown[] = [];
    const attempt = (f: () => void) => {
      try {
        f();
      } catch (e) {
        errors.push(e);
      }
    };
    if (v2env && holder?.exitCode === null) {
      attempt(() => {
        const ids = nsBerth(['ps', '-aq', '--no-trunc']).stdout.split('\n').filter(Boolean);
        if (ids.length > 0) nsRm(...ids);
      });
    }
    if (v2env) attempt(() => v2env!.teardown());
    if (holder && holder.exitCode === null) holder.kill('SIGKILL');
    attempt(() => {
      if (!nsRoot || !existsSync(nsRoot)) return;
      const end = Date.now() + 5000;
      for (;;) {
        try {
          for (const d of cgroupTree(nsRoot)) rmdirSync(d);
          break;
        } catch (e) {
          if (Date.now() > end) throw e; // the holder's exit may take a moment to leave the cgroup
          spawnSync('sleep', ['0.05']);
        }
      }
    });
    attempt(() => assert.equal(readFileSync(`${UNIFIED}/cgroup.subtree_control`, 'utf8'), subtreeBefore, 'the host v2 subtree_control changed'));
    if (errors.length > 0) throw errors[0];
  });

  test('Berth and runc see a v2 host without controllers', (t) => {
    if (skip) return t.skip(skip);
    const r = spawnSync('nsenter', [`--mount=/proc/${holder!.pid}/ns/mnt`, 'sh', '-c', 'cat /sys/fs/cgroup/cgroup.controllers; stat -f -c %T /sys/fs/cgroup'], {
      encoding: 'utf8',
    });
    // a cgroup2 mount whose root (this test's cgroup) offers no controllers: cgroup.controllers is empty
    assert.equal(r.stdout, 'cgroup2fs\n');
    // and on the host nothing moved: the same controllers in v2, the v1 hierarchies mounted
    assert.equal(readFileSync(`${UNIFIED}/cgroup.controllers`, 'utf8'), controllersBefore);
    assert.equal(statfsSync(CG).type === CGROUP2_SUPER_MAGIC, false);
    assert.ok(existsSync(`${CG}/memory/cgroup.procs`), 'the v1 memory hierarchy is still mounted on the host');
  });

  test("a container's cgroup is /berth/<id> in the v2 hierarchy, with a cgroup namespace of its own; rm removes it", async (t) => {
    if (skip) return t.skip(skip);
    const inside = 'cat /proc/self/cgroup; [ -f /sys/fs/cgroup/cgroup.freeze ] && [ ! -e /sys/fs/cgroup/memory ] && echo v2; echo listed; sleep 300';
    const { id } = nsRunD(['busybox', 'sh', '-c', inside]);
    const { id: child } = nsRunD(['--cgroup-parent', PARENT, 'busybox', 'sleep', '300']);
    try {
      const info = nsInspect(id);
      const pid = info.State.Pid as number;
      assert.equal(info.HostConfig.CgroupnsMode, 'private', "docker's default on v2");
      assert.deepEqual(readFileSync(`${dirOf(id)}/cgroup.procs`, 'utf8').trim().split('\n'), [String(pid)]);
      const hostView = readFileSync(`/proc/${pid}/cgroup`, 'utf8');
      assert.match(hostView, new RegExp(`^0::/${nsRoot.slice(UNIFIED.length + 1)}/berth/${id}$`, 'm'));
      // inside: its own cgroup is the root of a cgroup2 mount
      await eventually(() => nsBerth(['logs', id]).stdout.includes('listed'), 10_000);
      const lines = nsBerth(['logs', id]).stdout.trimEnd().split('\n');
      assert.deepEqual(lines.slice(-3), ['0::/', 'v2', 'listed']);
      // the kernel still lists this host's v1 hierarchies; the cgroup namespace roots each at the container
      for (const l of lines.slice(0, -2)) assert.match(l, /^\d+:[^:]*:\/$/);
      // --cgroup-parent on v2
      assert.ok(existsSync(`${dirOf(child, PARENT)}/cgroup.procs`), 'no cgroup under the parent');
      assert.equal(nsInspect(child).HostConfig.CgroupParent, PARENT);
      // top: runc's ps reads the v2 cgroup
      const top = nsBerth(['top', id, '-o', 'pid,args']);
      assert.equal(top.code, 0, top.stderr);
      assert.ok(top.stdout.split('\n').some((l) => l.trim().startsWith(`${pid} `)), top.stdout);
    } finally {
      nsRm(id, child);
    }
    assert.ok(!existsSync(dirOf(id)), 'rm left the v2 cgroup');
    assert.ok(!existsSync(dirOf(child, PARENT)), 'rm left the v2 cgroup under the parent');
  });

  test('limits the hierarchy cannot take are dropped with docker warnings; --cpus is refused; update warns alike', (t) => {
    if (skip) return t.skip(skip);
    const { id, stderr } = nsRunD(['-m', '64m', '--pids-limit', '20', '-c', '512', '--cpuset-cpus', '0', '--blkio-weight', '300', '--kernel-memory', '32m', 'busybox', 'sleep', '300']);
    try {
      assert.deepEqual(stderr.trim().split('\n'), [
        // docker's order (verifyPlatformContainerResources): memory, kernel memory, pids, cpu, cpuset, block I/O
        'WARNING: Your kernel does not support memory limit capabilities or the cgroup is not mounted. Limitation discarded.',
        `WARNING: ${KMEM_WARNING}`,
        'WARNING: Your kernel does not support PIDs limit capabilities or the cgroup is not mounted. PIDs limit discarded.',
        'WARNING: Your kernel does not support CPU shares or the cgroup is not mounted. Shares discarded.',
        'WARNING: Your kernel does not support cpuset or the cgroup is not mounted. Cpuset discarded.',
        'WARNING: Your kernel does not support Block I/O weight or the cgroup is not mounted. Weight discarded.',
      ]);
      const info = nsInspect(id);
      assert.equal(info.State.Status, 'running');
      const hc = info.HostConfig;
      assert.deepEqual([hc.Memory, hc.MemorySwap, hc.PidsLimit, hc.CpuShares, hc.CpusetCpus, hc.BlkioWeight, hc.KernelMemory], [0, -1, null, 0, '', 0, 0]);
      assert.deepEqual(readdirSync(dirOf(id)).filter((f) => /^(memory|pids|cpuset|io)\.|^cpu\.(max|weight)$/.test(f) && !f.endsWith('.pressure')), []);

      const u = nsBerth(['update', '--memory', '96m', '--pids-limit', '30', id]);
      assert.equal(u.code, 0, u.stderr);
      assert.equal(u.stderr.trim().split('\n').length, 2, u.stderr);
      assert.match(u.stderr, /memory limit capabilities .* Limitation discarded/);
      assert.match(u.stderr, /PIDs limit discarded/);
      assert.equal(nsInspect(id).HostConfig.Memory, 0);

      const ids = nsBerth(['ps', '-aq']).stdout;
      const cpus = nsBerth(['run', '--rm', '--runtime', 'runc', '--network', 'none', '--cpus', '0.5', 'busybox', 'true']);
      assert.equal(cpus.code, 125, cpus.stderr);
      assert.match(cpus.stderr, /NanoCPUs can not be set, as your kernel does not support CPU CFS scheduler or the cgroup is not mounted/);
      assert.equal(nsBerth(['ps', '-aq']).stdout, ids, 'a container was created');
    } finally {
      nsRm(id);
    }
  });

  test('stats on v2: CPU from cpu.stat (read where the kernel keeps it), no memory or pids without their controllers', async (t) => {
    if (skip) return t.skip(skip);
    const { id } = nsRunD(['busybox', 'sh', '-c', 'while :; do :; done']);
    try {
      await sleep(300);
      // The engine's v2 reader on the real v2 directory, bracketed by two reads of cpu.stat.
      const info: CgroupInfo = { mode: 'v2', version: 2, v2Controllers: [] };
      const u0 = usageUsec(id);
      const cg = readCgroupStats(info, `/berth/${id}`, nsRoot)!;
      const u1 = usageUsec(id);
      assert.ok(cg.cpuUsageNs >= u0 * 1000 && cg.cpuUsageNs <= u1 * 1000, `${cg.cpuUsageNs} ns outside ${u0}..${u1} µs`);
      assert.ok(cg.cpuUsageNs > 0);
      assert.equal(cg.memoryUsage, 0);
      assert.equal(cg.pidsCurrent, 0);

      const r = nsBerth(['stats', '--no-stream', '--format', '{{.CPUPerc}}|{{.MemUsage}}|{{.NetIO}}|{{.BlockIO}}|{{.PIDs}}', id]);
      assert.equal(r.code, 0, r.stderr);
      const [cpu, mem, net, blk, pids] = r.stdout.trim().split('|');
      assert.ok(Number(cpu!.replace('%', '')) > 0, `CPU % ${cpu} of a busy loop`);
      assert.match(mem!, /^0B \/ [\d.]+GiB$/, 'no memory.current without the memory controller: 0 of the host memory');
      assert.deepEqual([net, blk, pids], ['0B / 0B', '0B / 0B', '0']);
    } finally {
      nsRm(id);
    }
  });

  test('pause and unpause freeze the v2 cgroup (cgroup.freeze, no freezer controller needed)', async (t) => {
    if (skip) return t.skip(skip);
    const { id } = nsRunD(['busybox', 'sh', '-c', 'while :; do :; done']);
    try {
      assert.equal(nsBerth(['pause', id]).code, 0);
      assert.equal(readFileSync(`${dirOf(id)}/cgroup.freeze`, 'utf8').trim(), '1');
      assert.match(readFileSync(`${dirOf(id)}/cgroup.events`, 'utf8'), /^frozen 1$/m);
      assert.equal(nsInspect(id).State.Status, 'paused');
      const a = usageUsec(id);
      await sleep(400);
      assert.equal(usageUsec(id), a, 'a frozen loop used CPU');
      assert.equal(nsBerth(['unpause', id]).code, 0);
      assert.match(readFileSync(`${dirOf(id)}/cgroup.events`, 'utf8'), /^frozen 0$/m);
      await eventually(() => usageUsec(id) > a, 5000);
      assert.ok(usageUsec(id) > a, 'the loop did not run again');
    } finally {
      nsRm(id);
    }
  });
});

/** A cgroup directory's subdirectories, deepest first, then itself. */
function cgroupTree(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) if (e.isDirectory()) out.push(...cgroupTree(join(dir, e.name)));
  out.push(dir);
  return out;
}
