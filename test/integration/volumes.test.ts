/**
 * Volumes and mounts as a docker user meets them: named volumes that outlive containers, sharing,
 * read-only mounts, copy-up of the image's content, tmpfs volumes, anonymous volumes from the image's
 * VOLUME and `rm -v`, `--volumes-from`, `--mount`, propagation from the host, and `diff`.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cli, REPO, setupEnv, show, type Env } from './helpers.ts';

let env: Env;

const { ok } = cli(() => env);
const volumes = () => ok(['volume', 'ls', '-q']).stdout.split('\n').filter(Boolean).sort();

before(() => {
  env = setupEnv('volumes');
  // An image with content under a VOLUME path, like most database images.
  const dir = mkdtempSync('/tmp/berth-vimg-');
  const tar = join(dir, 'img.tar');
  const mk = spawnSync('bash', [join(REPO, 'scripts', 'mkimage-busybox'), tar], { encoding: 'utf8' });
  assert.equal(mk.status, 0, mk.stderr);
  mkdirSync(join(dir, 'data'), { mode: 0o750 });
  writeFileSync(join(dir, 'data', 'seed'), 'from the image\n');
  spawnSync('chown', ['-R', '1234:1234', join(dir, 'data')]);
  // An absolute symlink to the VOLUME dir: copy-up through it must resolve inside the image, not on the host.
  symlinkSync('/data', join(dir, 'linked'));
  const app = spawnSync('tar', ['--numeric-owner', '-rf', tar, '-C', dir, 'data', 'linked'], { encoding: 'utf8' });
  assert.equal(app.status, 0, app.stderr);
  ok(['import', '--change', 'VOLUME /data', '--change', 'CMD ["sh"]', tar, 'vimg:latest']);
  rmSync(dir, { recursive: true, force: true });
});

after(() => {
  if (!env) return;
  env.berth(['rm', '-f', ...env.berth(['ps', '-aq']).stdout.split('\n').filter(Boolean)]);
  env.berth(['volume', 'prune', '-af']);
  env.teardown();
});

test('a named volume keeps data after the container that wrote it is removed', () => {
  ok(['volume', 'create', 'keep']);
  ok(['run', '--name', 'writer', '-v', 'keep:/data', 'busybox', 'sh', '-c', 'echo kept > /data/f']);
  ok(['rm', 'writer']);
  assert.equal(ok(['run', '--rm', '-v', 'keep:/data', 'busybox', 'cat', '/data/f']).stdout, 'kept\n');
  const info = JSON.parse(ok(['volume', 'inspect', 'keep']).stdout) as Record<string, unknown>[];
  assert.equal(info.length, 1);
  assert.equal(info[0]!.Name, 'keep');
  assert.equal(info[0]!.Driver, 'local');
  assert.equal(info[0]!.Mountpoint, join(env.root, 'volumes', 'keep', '_data'));
  assert.equal(readFileSync(join(env.root, 'volumes', 'keep', '_data', 'f'), 'utf8'), 'kept\n');
  ok(['volume', 'rm', 'keep']);
  assert.ok(!existsSync(join(env.root, 'volumes', 'keep')));
});

test('-v NAME creates the volume on first use; two containers share it', () => {
  const a = ok(['run', '-d', '--name', 'sh-a', '-v', 'shared:/s', 'busybox', 'sh', '-c', 'echo hi-from-a > /s/msg; sleep 100']).stdout.trim();
  try {
    assert.ok(volumes().includes('shared'));
    const r = ok(['run', '--rm', '-v', 'shared:/s', 'busybox', 'sh', '-c', 'for i in $(seq 50); do [ -f /s/msg ] && break; sleep 0.1; done; cat /s/msg']);
    assert.equal(r.stdout, 'hi-from-a\n');
  } finally {
    ok(['rm', '-f', a]);
  }
  ok(['volume', 'rm', 'shared']);
});

test(':ro and readonly refuse writes; reads still work', () => {
  ok(['volume', 'create', 'rov']);
  ok(['run', '--rm', '-v', 'rov:/d', 'busybox', 'sh', '-c', 'echo x > /d/x']);
  const ro = env.berth(['run', '--rm', '-v', 'rov:/d:ro', 'busybox', 'sh', '-c', 'cat /d/x && echo y > /d/y']);
  assert.notEqual(ro.code, 0, show(ro));
  assert.equal(ro.stdout, 'x\n');
  assert.match(ro.stderr, /Read-only file system/);
  const m = env.berth(['run', '--rm', '--mount', 'type=volume,src=rov,dst=/d,readonly', 'busybox', 'touch', '/d/z']);
  assert.notEqual(m.code, 0, show(m));
  assert.match(m.stderr, /Read-only file system/);
  ok(['volume', 'rm', 'rov']);
});

test('copy-up fills a new volume from the image, owner and mode included, and never a used one', () => {
  const r = ok(['run', '--rm', '-v', 'seeded:/data', 'vimg', 'sh', '-c', 'cat /data/seed; stat -c "%u:%g %a" /data']);
  assert.equal(r.stdout, 'from the image\n1234:1234 750\n');
  // A used volume keeps its own content: deleting the seed and mounting again does not bring it back.
  ok(['run', '--rm', '-v', 'seeded:/data', 'vimg', 'rm', '/data/seed']);
  const again = ok(['run', '--rm', '-v', 'seeded:/data', 'vimg', 'ls', '-A', '/data']);
  assert.equal(again.stdout, '');
  // A mount point that is a symlink in the image is filled from where the link points inside the image.
  assert.equal(ok(['run', '--rm', '-v', 'vialink:/linked', 'vimg', 'cat', '/linked/seed']).stdout, 'from the image\n');
  // volume-nocopy leaves a new volume empty.
  const nc = ok(['run', '--rm', '--mount', 'type=volume,src=nocopy,dst=/data,volume-nocopy', 'vimg', 'ls', '-A', '/data']);
  assert.equal(nc.stdout, '');
  ok(['volume', 'rm', 'seeded', 'nocopy', 'vialink']);
});

test('a tmpfs volume holds data while mounted and is empty for the next container', () => {
  ok(['volume', 'create', '--opt', 'type=tmpfs', '--opt', 'device=tmpfs', '--opt', 'o=size=2m', 'tv']);
  const r = ok(['run', '--rm', '-v', 'tv:/t', 'busybox', 'sh', '-c', 'echo a > /t/a; cat /t/a; df -k /t | tail -1']);
  assert.match(r.stdout, /^a\ntmpfs\s+2048\s/);
  assert.equal(ok(['run', '--rm', '-v', 'tv:/t', 'busybox', 'ls', '-A', '/t']).stdout, '');
  const mounted = readFileSync('/proc/self/mountinfo', 'utf8').includes(join(env.root, 'volumes', 'tv'));
  assert.equal(mounted, false, 'the tmpfs is unmounted once no container uses it');
  ok(['volume', 'rm', 'tv']);
});

test("the image's VOLUME gets an anonymous volume; --volumes-from shares it; rm -v removes it", () => {
  const id = ok(['run', '-d', '--name', 'anon', 'vimg', 'sh', '-c', 'echo more >> /data/seed; sleep 100']).stdout.trim();
  const mounts = JSON.parse(ok(['inspect', '-f', '{{json .Mounts}}', id]).stdout) as { Type: string; Name: string; Destination: string }[];
  assert.equal(mounts.length, 1);
  assert.equal(mounts[0]!.Type, 'volume');
  assert.equal(mounts[0]!.Destination, '/data');
  const name = mounts[0]!.Name;
  assert.match(name, /^[0-9a-f]{64}$/);
  assert.ok(volumes().includes(name));
  const r = ok(['run', '--rm', '--volumes-from', 'anon:ro', 'busybox', 'sh', '-c', 'for i in $(seq 50); do grep -q more /data/seed && break; sleep 0.1; done; cat /data/seed; touch /data/x 2>/dev/null || echo read-only']);
  assert.equal(r.stdout, 'from the image\nmore\nread-only\n');
  // The borrower is gone (--rm), but the volume is the owner's: still there.
  assert.ok(volumes().includes(name));
  ok(['rm', '-f', '-v', id]);
  assert.ok(!volumes().includes(name), 'rm -v removed the anonymous volume');
});

test('run --rm removes its anonymous volumes; named ones stay', () => {
  const before = volumes();
  ok(['run', '--rm', '-v', '/scratch', '-v', 'stays:/named', 'busybox', 'true']);
  assert.deepEqual(volumes(), [...before, 'stays'].sort());
  ok(['volume', 'rm', 'stays']);
});

test('volume rm refuses a volume in use; -f removes its containers too; prune takes only unused ones', () => {
  ok(['create', '--name', 'holder', '-v', 'busy:/b', 'busybox', 'true']);
  const r = env.berth(['volume', 'rm', 'busy']);
  assert.equal(r.code, 1, show(r));
  assert.match(r.stderr, /^Error: remove busy: volume is in use - \[[0-9a-f]{64}\]\n$/);
  ok(['volume', 'create', '--label', 'team=a', 'unused']);
  const pr = ok(['volume', 'prune', '-f', '-a', '--filter', 'label=team=a']);
  assert.match(pr.stdout, /^Deleted Volumes:\nunused\n\nTotal reclaimed space: /);
  assert.ok(volumes().includes('busy'));
  ok(['volume', 'rm', '-f', 'busy']);
  assert.equal(env.berth(['inspect', 'holder']).code, 1, 'the container using it went with it');
  assert.ok(!volumes().includes('busy'));
});

test('volume errors: bad names, options and unknown volumes', () => {
  const bad = env.berth(['volume', 'create', 'a/b']);
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /includes invalid characters for a local volume name/);
  const opt = env.berth(['volume', 'create', '--opt', 'color=blue', 'x1']);
  assert.match(opt.stderr, /invalid option key: "color"/);
  const missing = env.berth(['volume', 'inspect', 'nope']);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /no such volume: nope/);
  const mnt = env.berth(['run', '--rm', '--mount', 'type=volume,dst=/x,tmpfs-size=1m', 'busybox', 'true']);
  assert.equal(mnt.code, 125);
  assert.match(mnt.stderr, /for "--mount" flag: tmpfs options are not allowed with type=volume/);
  assert.ok(!volumes().includes('x1'));
});

test('--mount tmpfs and bind, and rslave propagation shows a host mount made later inside', async () => {
  const t = ok(['run', '--rm', '--mount', 'type=tmpfs,dst=/tt,tmpfs-size=1m,tmpfs-mode=1770', 'busybox', 'sh', '-c', 'df -k /tt | tail -1; stat -c %a /tt']);
  assert.match(t.stdout, /^tmpfs\s+1024\s.*\n1770\n$/);
  const host = mkdtempSync('/tmp/berth-prop-');
  // The source must sit on a shared mount for anything to propagate (as on a systemd host's /).
  assert.equal(spawnSync('mount', ['--bind', host, host]).status, 0);
  assert.equal(spawnSync('mount', ['--make-shared', host]).status, 0);
  mkdirSync(join(host, 'sub'));
  const id = ok(['run', '-d', '--mount', `type=bind,src=${host},dst=/h,bind-propagation=rslave`, 'busybox', 'sleep', '100']).stdout.trim();
  try {
    assert.equal(spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'late', join(host, 'sub')]).status, 0);
    writeFileSync(join(host, 'sub', 'hello'), 'late mount\n');
    const r = ok(['exec', id, 'cat', '/h/sub/hello']);
    assert.equal(r.stdout, 'late mount\n');
    const spec = JSON.parse(readFileSync(join(env.root, 'containers', id, 'config.json'), 'utf8')) as { linux: { rootfsPropagation?: string } };
    assert.equal(spec.linux.rootfsPropagation, 'rslave');
  } finally {
    ok(['rm', '-f', id]);
    spawnSync('umount', [join(host, 'sub')]);
    spawnSync('umount', [host]);
    rmSync(host, { recursive: true, force: true });
  }
});

test('diff lists added, changed and deleted paths from the upper dir', () => {
  ok(['run', '--name', 'differ', 'busybox', 'sh', '-c', 'echo a > /tmp/new; echo x >> /etc/passwd; rm /etc/group']);
  const r = ok(['diff', 'differ']);
  assert.equal(r.stdout, 'C /etc\nD /etc/group\nC /etc/passwd\nC /tmp\nA /tmp/new\n');
  // Sizes come from the same upper dir: /tmp/new (2 bytes) plus the copied-up /etc/passwd.
  const passwdAfter = Number(ok(['run', '--rm', 'busybox', 'stat', '-c', '%s', '/etc/passwd']).stdout) + 2; // 'x\n' appended
  const sizes = JSON.parse(ok(['inspect', '-s', '-f', '{{json .}}', 'differ']).stdout) as { SizeRw: number; SizeRootFs: number };
  assert.equal(sizes.SizeRw, passwdAfter + 2);
  assert.ok(sizes.SizeRootFs > 1_000_000, 'the image (busybox is ~2 MB) is part of the virtual size');
  assert.match(ok(['ps', '-a', '-s', '--filter', 'name=differ', '--format', '{{.Size}}']).stdout, new RegExp(`^${passwdAfter + 2}B \\(virtual [\\d.]+MB\\)\n$`));
  ok(['rm', 'differ']);
});
