/**
 * An ordinary user's identity and storage (issue "Rootless"), with real containers as the test user
 * ($BERTH_ROOTLESS_TEST_USER, else setup's berthtest): `--userns keep-id` (the user's own uid inside, a bind
 * mount's files the user's on the host, a passwd entry; refused as root), pulling from a loopback registry into
 * the user's own store, named volumes, and the fuse-overlayfs storage driver (forced, with /dev/fuse closed to
 * users and then opened for the test, its mode restored after). Everything the user made goes after: its
 * containers, its namespace's holder, its runtime dir and store; no living process of the user is left.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { startRegistry } from '../fixtures/registry.ts';
import { BERTH } from './helpers.ts';
import { as, okAs, prepareUser, removeUserState, TEST_USER, type R, type TestUser } from './rootless-user.ts';

const USER = TEST_USER;
let user: TestUser | undefined;
let skip: string | undefined;
let uid = 0;
let gid = 0;
let home = '';
let dir = '';

const asUser = (args: string[]) => as(USER, args, home);
const ok = (args: string[]) => okAs(user!, args);
/** One line on stderr, no stack. */
const oneLine = (r: R) => assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);

before(() => {
  user = prepareUser('berth-test-rootless-id-');
  ({ skip, uid, gid, home, dir } = user);
});

after(() => user && removeUserState(user));

test("--userns keep-id: the user's own uid and gid inside, its passwd and group entries and home, a bind mount's files the user's", (t) => {
  if (skip) return t.skip(skip);
  const mine = join(dir, 'keep');
  mkdirSync(mine);
  chownSync(mine, uid, gid);
  const out = ok(['run', '--rm', '--network', 'none', '--userns', 'keep-id', '-v', `${mine}:/data`, 'busybox', 'sh', '-c',
    'id -u; id -g; id -un; echo $HOME; grep "^[^:]*:[^:]*:$(id -u):" /etc/passwd; echo made > /data/f; cat /proc/self/uid_map']).split('\n');
  assert.deepEqual(out.slice(0, 4), [String(uid), String(gid), USER, home]);
  assert.equal(out[4], `${USER}:*:${uid}:${gid}:${USER}:${home}:/bin/sh`);
  // The container's 0 is the namespace's 1 (the first subordinate id); the user is the namespace's 0.
  assert.match(out[5]!, /^\s*0\s+1\s+\d+$/);
  assert.match(out.join('\n'), new RegExp(`^\\s*${uid}\\s+0\\s+1$`, 'm'));
  const st = statSync(join(mine, 'f'));
  assert.deepEqual([st.uid, st.gid], [uid, gid], "the file is the user's on the host");
  // --user wins over keep-id's default; without keep-id the user is root inside, as before.
  assert.equal(ok(['run', '--rm', '--network', 'none', '--userns', 'keep-id', '-u', '0', 'busybox', 'id', '-u']).trim(), '0');
  assert.equal(ok(['run', '--rm', '--network', 'none', 'busybox', 'id', '-u']).trim(), '0');
  // The host's network goes with it; a host pid namespace cannot, in one line.
  assert.equal(ok(['run', '--rm', '--network', 'host', '--userns', 'keep-id', 'busybox', 'id', '-u']).trim(), String(uid));
  const pid = asUser(['run', '--rm', '--network', 'none', '--pid', 'host', '--userns', 'keep-id', 'busybox', 'true']);
  assert.equal(pid.code, 125);
  assert.match(pid.stderr, /--userns keep-id cannot be combined with a host pid or ipc namespace/);
  oneLine(pid);
  // auto and remap map root's or another user's ranges, which the user's namespace does not hold.
  const auto = asUser(['run', '--rm', '--network', 'none', '--userns', 'auto', 'busybox', 'true']);
  assert.equal(auto.code, 125);
  assert.match(auto.stderr, /--userns auto: an ordinary user's containers take --userns keep-id or host/);
  oneLine(auto);
  assert.equal(ok(['ps', '-aq']).trim(), '', 'nothing made by the refusals');
});

test('--userns keep-id as root: refused in one line, exit 125, nothing made', (t) => {
  if (skip) return t.skip(skip);
  const root = mkdtempSync('/tmp/berth-test-keepid-root-');
  try {
    const berth = (args: string[]) => spawnSync(BERTH, ['--root', root, ...args], { encoding: 'utf8', timeout: 60_000 });
    assert.equal(berth(['import', join(dir, 'busybox.tar'), 'busybox:latest']).status, 0);
    const r = berth(['run', '--rm', '--network', 'none', '--userns', 'keep-id', 'busybox', 'true']);
    assert.equal(r.status, 125);
    assert.match(r.stderr, /--userns keep-id is only supported in rootless mode/);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    assert.equal(berth(['ps', '-aq']).stdout, '');
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test("a pull as the user from a loopback registry: the image is the user's alone", async (t) => {
  if (skip) return t.skip(skip);
  const reg = await startRegistry().catch((e: Error) => e);
  if (reg instanceof Error) return t.skip(reg.message);
  const ref = `${reg.host}/rootless/box:1`;
  try {
    ok(['tag', 'busybox', ref]);
    ok(['push', '-q', ref]);
    ok(['rmi', ref]);
    assert.match(ok(['pull', ref]), new RegExp(`${ref.replace(/[.]/g, '\\.')}\\n$`));
    assert.equal(ok(['images', '--format', '{{.Repository}}:{{.Tag}}', `${reg.host}/rootless/box`]).trim(), ref);
    assert.equal(ok(['run', '--rm', '--network', 'none', ref, 'echo', 'pulled']).trim(), 'pulled');
    const rootImages = spawnSync(BERTH, ['images', '--format', '{{.Repository}}'], { encoding: 'utf8' });
    assert.equal(rootImages.status, 0, rootImages.stderr);
    assert.ok(!rootImages.stdout.includes(`${reg.host}/rootless/box`), "root's images do not list the user's");
    ok(['rmi', ref]);
  } finally {
    await reg.stop();
  }
});

test("named volumes as the user: written by one container, read by another, in the user's store, removed", (t) => {
  if (skip) return t.skip(skip);
  ok(['volume', 'create', 'userdata']);
  ok(['run', '--rm', '--network', 'none', '-v', 'userdata:/data', 'busybox', 'sh', '-c', 'echo kept > /data/f']);
  assert.equal(ok(['run', '--rm', '--network', 'none', '-v', 'userdata:/data:ro', 'busybox', 'cat', '/data/f']).trim(), 'kept');
  // keep-id's user writes there too: the volume's root is the user's.
  ok(['run', '--rm', '--network', 'none', '--userns', 'keep-id', '-v', 'userdata:/data', 'busybox', 'sh', '-c', 'echo mine > /data/g']);
  const mountpoint = ok(['volume', 'inspect', '-f', '{{.Mountpoint}}', 'userdata']).trim();
  assert.ok(mountpoint.startsWith(join(home, '.local', 'share', 'berth')), mountpoint);
  assert.equal(statSync(join(mountpoint, 'g')).uid, uid);
  assert.match(ok(['volume', 'ls', '-q']), /^userdata$/m);
  const rootVolumes = spawnSync(BERTH, ['volume', 'ls', '-q'], { encoding: 'utf8' }).stdout;
  assert.ok(!/^userdata$/m.test(rootVolumes), "root's volumes do not list the user's");
  ok(['volume', 'rm', 'userdata']);
  assert.equal(ok(['volume', 'ls', '-q']).trim(), '');
  assert.ok(!existsSync(mountpoint));
});

test('the fuse-overlayfs storage driver: refused in one line while /dev/fuse is closed to users, mounts once it is open', (t) => {
  if (skip) return t.skip(skip);
  if (!existsSync('/usr/bin/fuse-overlayfs')) return t.skip('fuse-overlayfs is not installed (apt-get install fuse-overlayfs)');
  if (!existsSync('/dev/fuse')) return t.skip('no /dev/fuse on this host');
  const mode = statSync('/dev/fuse').mode & 0o777;
  const fuse = (args: string[]) => ['--storage-driver', 'fuse-overlayfs', ...args];
  try {
    chmodSync('/dev/fuse', 0o600);
    const closed = asUser(fuse(['run', '--rm', '--network', 'none', 'busybox', 'true']));
    assert.equal(closed.code, 125);
    assert.match(closed.stderr, /storage driver fuse-overlayfs \(asked for by --storage-driver\): \/dev\/fuse is mode 0600 here, so this user cannot open it: a root user opens it with chmod 0666 \/dev\/fuse/);
    oneLine(closed);
    assert.equal(ok(['ps', '-aq']).trim(), '', 'nothing made');
    assert.match(ok(['info']), /Storage Driver: overlay\n {2}Why: kernel \d+\.\d+ mounts overlay in a user namespace/);

    chmodSync('/dev/fuse', 0o666);
    assert.match(ok(fuse(['info'])), /Storage Driver: fuse-overlayfs\n {2}Why: asked for by --storage-driver/);
    const id = ok(fuse(['run', '-d', '--network', 'none', 'busybox', 'sh', '-c', 'echo layer > /f; exec sleep 600'])).trim();
    assert.equal(ok(['inspect', '-f', '{{.GraphDriver.Name}}', id]).trim(), 'fuse-overlayfs');
    assert.match(ok(['exec', id, 'cat', '/proc/self/mountinfo']), / \/ \S+ - fuse\.fuse-overlayfs /);
    // A later command without the flag starts it with the driver it was made with.
    ok(['stop', '-t', '1', id]);
    assert.match(ok(['diff', id]), /^A \/f$/m);
    ok(['start', id]);
    assert.equal(ok(['exec', id, 'cat', '/f']).trim(), 'layer');
    ok(['rm', '-f', id]);
    // keep-id over fuse-overlayfs: the container's other ids reach the files (allow_other).
    assert.equal(ok(fuse(['run', '--rm', '--network', 'none', '--userns', 'keep-id', 'busybox', 'sh', '-c', 'id -u; cat /etc/hostname >/dev/null && echo read'])).trim(), `${uid}\nread`);
    // (Ended ones wait for init to reap them, in state Z.)
    const daemons = spawnSync('ps', ['-o', 'stat=,comm=', '-u', USER], { encoding: 'utf8' }).stdout.split('\n').filter((l) => /fuse-overlayfs/.test(l) && !/^\s*Z/.test(l));
    assert.deepEqual(daemons, [], 'no FUSE daemon outlives its mount');
  } finally {
    chmodSync('/dev/fuse', mode);
  }
});
