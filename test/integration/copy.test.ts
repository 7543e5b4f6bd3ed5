/**
 * `cp` in both directions and as tar streams, on running and stopped containers; paths that climb out
 * through symlinks stay inside the container; `export`.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, rmSync, statSync, symlinkSync, utimesSync, writeFileSync, chownSync, chmodSync } from 'node:fs';
import { join } from 'node:path';
import { cli, setupEnv, type Env } from './helpers.ts';

let env: Env;
let work: string;
let ctr: string;

const { ok } = cli(() => env);

/** A tree with a file owned by 1234:5678 at mode 0640 and an old mtime, a setuid file, a symlink and a subdir. */
function makeTree(dir: string): void {
  mkdirSync(join(dir, 'sub'), { recursive: true });
  writeFileSync(join(dir, 'owned'), 'owned by 1234\n');
  chownSync(join(dir, 'owned'), 1234, 5678);
  chmodSync(join(dir, 'owned'), 0o640);
  utimesSync(join(dir, 'owned'), new Date('2001-02-03T04:05:06Z'), new Date('2001-02-03T04:05:06Z'));
  writeFileSync(join(dir, 'sub', 'tool'), '#!/bin/sh\n');
  chmodSync(join(dir, 'sub', 'tool'), 0o4755);
  symlinkSync('owned', join(dir, 'link'));
}

before(() => {
  env = setupEnv('copy');
  work = mkdtempSync('/tmp/berth-cp-');
  ctr = ok(['run', '-d', '--name', 'cpbox', 'busybox', 'sleep', '300']).stdout.trim();
});

after(() => {
  rmSync(work, { recursive: true, force: true });
  env?.teardown();
});

test('cp -a round-trips a tree: modes, owners, mtimes and a symlink, into and out of a running container', () => {
  const src = join(work, 'tree');
  makeTree(src);
  ok(['cp', '-a', src, 'cpbox:/data']);
  const inside = ok(['exec', 'cpbox', 'sh', '-c', 'cd /data && stat -c "%n %u:%g %a" owned sub/tool && readlink link && date -u -r owned +%Y-%m-%dT%H:%M:%S']).stdout;
  assert.equal(inside, 'owned 1234:5678 640\nsub/tool 0:0 4755\nowned\n2001-02-03T04:05:06\n');
  const back = join(work, 'back');
  mkdirSync(back);
  ok(['cp', '-a', 'cpbox:/data', back]);
  const st = statSync(join(back, 'data', 'owned'));
  assert.equal(`${st.uid}:${st.gid} ${(st.mode & 0o7777).toString(8)}`, '1234:5678 640');
  assert.equal(st.mtime.toISOString(), '2001-02-03T04:05:06.000Z');
  assert.equal((statSync(join(back, 'data', 'sub', 'tool')).mode & 0o7777).toString(8), '4755');
  assert.equal(readlinkSync(join(back, 'data', 'link')), 'owned');
  assert.equal(readFileSync(join(back, 'data', 'owned'), 'utf8'), 'owned by 1234\n');
});

test("without -a, files copied in belong to the container's root, as with docker", () => {
  const f = join(work, 'plain');
  writeFileSync(f, 'x');
  chownSync(f, 4321, 4321);
  ok(['cp', f, 'cpbox:/tmp/']);
  assert.equal(ok(['exec', 'cpbox', 'stat', '-c', '%u:%g', '/tmp/plain']).stdout, '0:0\n');
});

test("docker's landing rules: into a directory, as a new name, a directory's contents with /.", () => {
  const d = join(work, 'rules');
  mkdirSync(join(d, 'dir'), { recursive: true });
  writeFileSync(join(d, 'dir', 'f'), 'f\n');
  ok(['exec', 'cpbox', 'mkdir', '-p', '/r/existing']);
  ok(['cp', join(d, 'dir'), 'cpbox:/r/existing']); // into: /r/existing/dir/f
  ok(['cp', join(d, 'dir'), 'cpbox:/r/newname']); // as: /r/newname/f
  ok(['cp', `${join(d, 'dir')}/.`, 'cpbox:/r/existing']); // contents: /r/existing/f
  ok(['cp', join(d, 'dir', 'f'), 'cpbox:/r/renamed']); // file as new name
  const ls = ok(['exec', 'cpbox', 'find', '/r', '-type', 'f']).stdout.split('\n').filter(Boolean).sort();
  assert.deepEqual(ls, ['/r/existing/dir/f', '/r/existing/f', '/r/newname/f', '/r/renamed']);
  const bad = env.berth(['cp', join(d, 'dir'), 'cpbox:/r/renamed']);
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /cannot copy a directory to a file/);
});

test('tar streams: cp ctr:path - and cp - ctr:dir', () => {
  const out = spawnSync('tar', ['-tvf', '-'], { input: Buffer.from(env.berth(['cp', 'cpbox:/etc/passwd', '-'], {}).stdout, 'latin1'), encoding: 'utf8' });
  assert.match(out.stdout, /^-rw-r--r-- 0\/0\s+\d+ .* passwd\n$/);
  const tar = spawnSync('tar', ['-C', join(work), '-cf', '-', 'tree'], { maxBuffer: 1 << 24 }).stdout;
  ok(['cp', '-', 'cpbox:/tmp'], { input: tar });
  assert.equal(ok(['exec', 'cpbox', 'stat', '-c', '%u:%g', '/tmp/tree/owned']).stdout, '1234:5678\n');
});

test('paths that climb out through symlinks stay inside the container', () => {
  ok(['exec', 'cpbox', 'sh', '-c', 'ln -s ../../../../../etc /up; ln -s /etc /abs; echo inside > /etc/marker']);
  const f = join(work, 'evil');
  writeFileSync(f, 'should land in the container\n');
  ok(['cp', f, 'cpbox:/up/']);
  ok(['cp', f, 'cpbox:/abs/evil2']);
  assert.ok(!existsSync('/etc/evil') && !existsSync('/etc/evil2'), 'nothing written to the host /etc');
  assert.equal(ok(['exec', 'cpbox', 'cat', '/etc/evil', '/etc/evil2']).stdout, 'should land in the container\n'.repeat(2));
  // Reading through the same links reads the container's /etc, not the host's.
  const back = join(work, 'marker');
  ok(['cp', 'cpbox:/up/marker', back]);
  assert.equal(readFileSync(back, 'utf8'), 'inside\n');
  // A tar whose entry goes through a symlink the archive itself planted stays inside too.
  const evilDir = mkdtempSync(join(work, 'tarlink-'));
  symlinkSync('/', join(evilDir, 'root'));
  const t1 = spawnSync('tar', ['-C', evilDir, '-cf', '-', 'root'], { maxBuffer: 1 << 24 }).stdout;
  ok(['cp', '-', 'cpbox:/tmp'], { input: t1 });
  mkdirSync(join(evilDir, 'x', 'root', 'etc'), { recursive: true });
  writeFileSync(join(evilDir, 'x', 'root', 'etc', 'planted'), 'p\n');
  const t2 = spawnSync('tar', ['-C', join(evilDir, 'x'), '-cf', '-', 'root/etc/planted'], { maxBuffer: 1 << 24 }).stdout;
  ok(['cp', '-', 'cpbox:/tmp'], { input: t2 });
  assert.ok(!existsSync('/etc/planted'), 'nothing written through the planted link on the host');
  // The planted link is resolved with the target directory as its root: the file lands below /tmp.
  assert.equal(ok(['exec', 'cpbox', 'cat', '/tmp/etc/planted']).stdout, 'p\n');
});

test('cp works on a stopped container and leaves nothing mounted; volumes are reached too', () => {
  const id = ok(['create', '-v', 'cpvol:/vol', 'busybox', 'true']).stdout.trim();
  const f = join(work, 'tostopped');
  writeFileSync(f, 'stopped\n');
  ok(['cp', f, `${id}:/vol/f`]);
  ok(['cp', f, `${id}:/g`]);
  const mounts = readFileSync('/proc/self/mountinfo', 'utf8');
  assert.ok(!mounts.includes(join(env.root, 'containers', id)), 'the rootfs was unmounted again');
  assert.equal(ok(['start', '-a', id]).code, 0);
  assert.equal(readFileSync(join(env.root, 'volumes', 'cpvol', '_data', 'f'), 'utf8'), 'stopped\n');
  const back = join(work, 'fromstopped');
  ok(['cp', `${id}:/g`, back]);
  assert.equal(readFileSync(back, 'utf8'), 'stopped\n');
  ok(['rm', id]);
  ok(['volume', 'rm', 'cpvol']);
});

test('symlinks that cross into and out of volumes and binds resolve as in the container', () => {
  const bind = join(work, 'bindsrc');
  mkdirSync(bind);
  // Planted on the host side of a bind, pointing at "/etc": in the container that is the container's /etc.
  symlinkSync('/etc', join(bind, 'hostetc'));
  const id = ok(['run', '-d', '--hostname', 'cpvolhost', '-v', 'cpv:/vol', '-v', 'cpro:/ro:ro', '-v', `${bind}:/b`, 'busybox', 'sleep', '300']).stdout.trim();
  try {
    ok(['exec', id, 'sh', '-c', [
      'mkdir -p /vol/sub && echo in-sub > /vol/sub/f',
      'ln -s /vol/sub /vol/abs2', // absolute, inside the volume
      'ln -s /vol /tovol', // on the rootfs, into the volume
      'ln -s ../../../etc /vol/up', // relative, climbing out of the volume
      'ln -s ../../../../../../.. /vol/esc', // climbing further than any root
      'ln -s /ro /toro',
    ].join(' && ')]);
    const out = (name: string) => join(work, name);
    ok(['cp', `${id}:/vol/abs2/f`, out('abs2-f')]);
    assert.equal(readFileSync(out('abs2-f'), 'utf8'), 'in-sub\n');
    ok(['cp', `${id}:/tovol/sub/f`, out('tovol-f')]);
    assert.equal(readFileSync(out('tovol-f'), 'utf8'), 'in-sub\n');
    // /vol/up is the container's /etc: its hostname file is the container's, never the host's.
    ok(['cp', `${id}:/vol/up/hostname`, out('up-hostname')]);
    assert.equal(readFileSync(out('up-hostname'), 'utf8'), 'cpvolhost\n');
    ok(['cp', `${id}:/b/hostetc/hostname`, out('b-hostname')]);
    assert.equal(readFileSync(out('b-hostname'), 'utf8'), 'cpvolhost\n');
    // Into a directory through the same links.
    const f = out('through-up');
    writeFileSync(f, 'via up\n');
    ok(['cp', f, `${id}:/vol/up/`]);
    assert.equal(ok(['exec', id, 'cat', '/etc/through-up']).stdout, 'via up\n');
    assert.ok(!existsSync('/etc/through-up'), 'nothing written to the host /etc');
    ok(['cp', f, `${id}:/tovol/sub/`]);
    assert.equal(ok(['exec', id, 'cat', '/vol/sub/through-up']).stdout, 'via up\n');
    assert.equal(readFileSync(join(env.root, 'volumes', 'cpv', '_data', 'sub', 'through-up'), 'utf8'), 'via up\n');
    // An escape attempt: "../../../../../../.." from the volume stops at the container's /.
    ok(['cp', `${id}:/vol/esc/etc/passwd`, out('esc-passwd')]);
    assert.equal(readFileSync(out('esc-passwd'), 'utf8'), ok(['exec', id, 'cat', '/etc/passwd']).stdout);
    const esc = out('escaped');
    writeFileSync(esc, 'stays inside\n');
    ok(['cp', esc, `${id}:/vol/esc/`]);
    assert.equal(ok(['exec', id, 'cat', '/escaped']).stdout, 'stays inside\n');
    for (const p of ['/escaped', join(env.root, 'escaped'), join(env.root, 'volumes', 'escaped'), join(env.root, 'volumes', 'cpv', 'escaped')]) {
      assert.ok(!existsSync(p), `nothing at ${p}`);
    }
    // A read-only volume stays read-only, also when reached through a link on the rootfs.
    for (const dst of ['/ro/', '/toro/']) {
      const r = env.berth(['cp', f, `${id}:${dst}`]);
      assert.equal(r.code, 1);
      assert.equal(r.stderr, `Error: mounted volume is marked read-only: cannot copy into ${dst}\n`);
    }
    // Stopped, the same paths lead to the same files.
    ok(['stop', '-t', '0', id]);
    ok(['cp', `${id}:/vol/up/hostname`, out('stopped-hostname')]);
    assert.equal(readFileSync(out('stopped-hostname'), 'utf8'), 'cpvolhost\n');
    ok(['cp', `${id}:/tovol/sub/f`, out('stopped-f')]);
    assert.equal(readFileSync(out('stopped-f'), 'utf8'), 'in-sub\n');
  } finally {
    ok(['rm', '-f', '-v', id]);
    ok(['volume', 'rm', 'cpv', 'cpro']);
  }
});

test('cp errors: a missing path, two containers, none', () => {
  const m = env.berth(['cp', 'cpbox:/nope', join(work, 'x')]);
  assert.equal(m.code, 1);
  assert.match(m.stderr, /^Error: Could not find the file \/nope in container\n$/);
  assert.match(env.berth(['cp', 'cpbox:/a', 'cpbox:/b']).stderr, /copying between containers is not supported/);
  assert.match(env.berth(['cp', '/tmp/a', '/tmp/b']).stderr, /must specify at least one container source/);
  assert.ok(!lstatSync(work).isSymbolicLink());
});

test('export writes the whole filesystem with the changes made in the container', () => {
  ok(['exec', 'cpbox', 'sh', '-c', 'echo exported > /exported; rm /bin/vi']);
  const out = join(work, 'export.tar');
  ok(['export', '-o', out, ctr]);
  const names = spawnSync('tar', ['-tf', out], { encoding: 'utf8', maxBuffer: 1 << 24 }).stdout.split('\n');
  // docker's names: relative, without a leading ./
  assert.ok(names.includes('exported'));
  assert.ok(names.includes('bin/busybox'));
  assert.ok(!names.some((n) => n.startsWith('./') || n.startsWith('/')));
  assert.ok(!names.includes('bin/vi'), 'a deleted file is not exported');
  assert.ok(!names.some((n) => n.startsWith('proc/') && n !== 'proc/'), 'no /proc contents');
  const content = spawnSync('tar', ['-xOf', out, 'exported'], { encoding: 'utf8' }).stdout;
  assert.equal(content, 'exported\n');
});
