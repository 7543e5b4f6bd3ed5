import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ownProcsFile, warmCgroupJoin } from '../../src/runtime/cgroup-join-warmer.ts';
import type { CgroupInfo } from '../../src/runtime/probe.ts';

const V2: CgroupInfo = { mode: 'v2', version: 2, v2Controllers: ['cpu', 'memory', 'pids'] };
const HYBRID: CgroupInfo = { mode: 'hybrid', version: 1, v2Controllers: ['hugetlb'] };
const V1: CgroupInfo = { mode: 'v1', version: 1, v2Controllers: [] };

const tmp = mkdtempSync(join(tmpdir(), 'berth-warm-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

test('ownProcsFile: the v2 cgroup this process is in, on a v2 host and a hybrid one', () => {
  const self = '0::/user.slice/session-1.scope\n';
  assert.equal(ownProcsFile(V2, self, '/R'), '/R/user.slice/session-1.scope/cgroup.procs');
  assert.equal(ownProcsFile(V2, '0::/\n', '/R'), '/R/cgroup.procs');
  const hybrid = '9:name=systemd:/a\n8:pids:/a\n4:memory:/b/c\n0::/a\n';
  assert.equal(ownProcsFile(HYBRID, hybrid, '/R'), '/R/unified/a/cgroup.procs');
  // Never a v1 controller's dir: a hybrid host whose process has no v2 line gets no file.
  assert.equal(ownProcsFile(HYBRID, '8:pids:/a\n4:memory:/memory\n', '/R'), undefined);
  assert.equal(ownProcsFile(V2, '', '/R'), undefined);
});

test('ownProcsFile: on a v1-only host, the pids hierarchy where it is mounted', () => {
  const root = join(tmp, 'v1');
  for (const d of ['pids', 'memory', 'cpu,cpuacct', 'systemd']) mkdirSync(join(root, d), { recursive: true });
  const self = '9:name=systemd:/x\n7:cpu,cpuacct:/y\n5:pids:/system.slice/a.service\n4:memory:/z\n';
  assert.equal(ownProcsFile(V1, self, root), `${root}/pids/system.slice/a.service/cgroup.procs`);
  assert.equal(ownProcsFile(V1, '5:pids:/\n', root), `${root}/pids/cgroup.procs`);
  assert.equal(ownProcsFile(V1, '4:memory:/z\n', root), undefined);
  assert.equal(ownProcsFile(V1, self, join(tmp, 'nowhere')), undefined);
});

test('warmCgroupJoin: the kernel takes the join, and this process stays in the cgroups it was in', { skip: process.getuid?.() !== 0 || !existsSync('/sys/fs/cgroup') ? 'needs root and a cgroup filesystem' : false }, async () => {
  const before = readFileSync('/proc/self/cgroup', 'utf8');
  const first = warmCgroupJoin();
  // One join at a time: a second hint while the first waits is the same join.
  assert.equal(warmCgroupJoin(), first);
  assert.equal(await first, true);
  assert.equal(readFileSync('/proc/self/cgroup', 'utf8'), before);
  assert.equal(await warmCgroupJoin(), true);
  assert.equal(readFileSync('/proc/self/cgroup', 'utf8'), before);
});
