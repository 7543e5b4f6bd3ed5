/**
 * The system-call paths a server takes once it loaded them (src/sys/mount-calls.ts, src/sys/ns-pin.ts): the
 * same mounts and namespaces as mount(8), umount(8), ip(8) and unshare(1) make, and their failures leave
 * nothing behind. This process loads the calls for all its tests, as `berth serve` does at start-up.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createNetns, deleteNetns } from '../../src/network/netns.ts';
import { isMounted, mountFs, mountOverlay, mountPoints, unmount } from '../../src/sys/mount.ts';
import { loadMountCalls, mountCalls } from '../../src/sys/mount-calls.ts';
import { canPinNamespaces, loadNsPin, pinNamespaces } from '../../src/sys/ns-pin.ts';

const tmp = mkdtempSync(join(tmpdir(), 'berth-host-calls-'));
const NS = 'btest-calls';

before(async () => {
  await Promise.all([loadMountCalls(), loadNsPin()]);
  // ip(8) makes /run/netns a shared mount the first time; createNetns makes namespaces itself only after that.
  spawnSync('ip', ['netns', 'add', `${NS}-first`]);
  spawnSync('ip', ['netns', 'del', `${NS}-first`]);
});

after(async () => {
  for (const m of mountPoints().filter((p) => p.startsWith(`${tmp}/`)).sort((a, b) => b.length - a.length)) spawnSync('umount', ['-l', m]);
  await deleteNetns(`${NS}-a`).catch(() => {});
  rmSync(tmp, { recursive: true, force: true });
});

const sh = (cmd: string, args: string[]) => spawnSync(cmd, args, { encoding: 'utf8' });

test('an overlay and a tmpfs mounted by system calls are the mounts mount(8) makes, and unmount undoes them', async () => {
  assert.ok(mountCalls(), 'the calls are loaded');
  const d = join(tmp, 'ovl');
  for (const s of ['lower', 'upper', 'work', 'merged']) mkdirSync(join(d, s), { recursive: true });
  writeFileSync(join(d, 'lower', 'from-lower'), 'x');
  await mountOverlay([join(d, 'lower')], join(d, 'upper'), join(d, 'work'), join(d, 'merged'));
  assert.ok(isMounted(join(d, 'merged')));
  assert.equal(readFileSync(join(d, 'merged', 'from-lower'), 'utf8'), 'x');
  writeFileSync(join(d, 'merged', 'written'), 'y');
  assert.ok(existsSync(join(d, 'upper', 'written')), 'writes go to the upper dir');
  await unmount(join(d, 'merged'), true);
  assert.ok(!isMounted(join(d, 'merged')));
  await unmount(join(d, 'merged'), true); // not mounted: no error, as with umount(8)

  const shm = join(tmp, 'shm');
  mkdirSync(shm);
  await mountFs('tmpfs', 'shm', shm, 'nosuid,nodev,noexec,mode=1777,size=1048576');
  const line = readFileSync('/proc/self/mountinfo', 'utf8').split('\n').find((l) => l.split(' ')[4] === shm)!;
  assert.match(line, /nosuid,nodev,noexec/, 'the flag words became flags');
  assert.match(line, /size=1024k/);
  assert.equal(statSync(shm).mode & 0o7777, 0o1777);
  await unmount(shm);
  assert.ok(!isMounted(shm));
});

test('a failed mount by system call says why and leaves nothing mounted', async () => {
  const d = join(tmp, 'bad');
  mkdirSync(join(d, 'merged'), { recursive: true });
  await assert.rejects(mountOverlay([join(d, 'missing')], join(d, 'upper'), join(d, 'work'), join(d, 'merged')), /mount overlay on .*merged: ENOENT/);
  assert.ok(!isMounted(join(d, 'merged')));
});

test('a network namespace made by system calls is a named one with lo up, which ip(8) sees and removes', async () => {
  assert.ok(canPinNamespaces());
  const { path, loopback } = await createNetns(`${NS}-a`);
  await loopback;
  assert.equal(path, `/run/netns/${NS}-a`);
  assert.ok(sh('ip', ['netns', 'list']).stdout.includes(`${NS}-a`));
  const lo = sh('ip', ['-n', `${NS}-a`, 'link', 'show', 'lo']).stdout;
  assert.ok(lo.includes(',UP'), `lo is up: ${lo}`);
  assert.notEqual(readlinkSync('/proc/self/ns/net'), sh('ip', ['netns', 'exec', `${NS}-a`, 'readlink', '/proc/self/ns/net']).stdout.trim(), 'it is not this process’s');
  await assert.rejects(createNetns(`${NS}-a`), /already exists/);
  await deleteNetns(`${NS}-a`);
  assert.ok(!existsSync(path));
});

test('IPC and UTS namespaces pinned to files have the hostname asked, and this process stays in its own', () => {
  const ipc = join(tmp, 'ipc');
  const uts = join(tmp, 'uts');
  const before = { net: readlinkSync('/proc/thread-self/ns/net'), ipc: readlinkSync('/proc/thread-self/ns/ipc'), uts: readlinkSync('/proc/thread-self/ns/uts') };
  pinNamespaces({ ipc, uts }, 'pinned-host');
  assert.deepEqual({ net: readlinkSync('/proc/thread-self/ns/net'), ipc: readlinkSync('/proc/thread-self/ns/ipc'), uts: readlinkSync('/proc/thread-self/ns/uts') }, before);
  assert.ok(isMounted(ipc) && isMounted(uts));
  assert.equal(sh('nsenter', [`--uts=${uts}`, 'hostname']).stdout.trim(), 'pinned-host');
  assert.notEqual(sh('nsenter', [`--ipc=${ipc}`, 'readlink', '/proc/self/ns/ipc']).stdout.trim(), before.ipc);
  // A file that exists already: refused before anything is made.
  assert.throws(() => pinNamespaces({ ipc }, undefined), /EEXIST/);
  for (const f of [ipc, uts]) spawnSync('umount', [f]);
});
