/**
 * Images through a real registry (Debian's docker-registry on 127.0.0.1, started here): images made by
 * hand are pushed with skopeo and pulled with Berth, and Berth's pushes are read back with skopeo. The
 * container must see exactly the tree the layers describe; hostile layers must fail the pull and leave
 * the store as it was; a pull killed midway must leave nothing a later pull or prune cannot handle.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cli, setupEnv, eventually, type Env } from './helpers.ts';
import { lgetxattr } from '../../src/sys/fsx.ts';
import { startRegistry, type RegistryFixture } from '../fixtures/registry.ts';
import { haveSkopeo, ociLayout, skopeoPush, tarOf } from '../fixtures/oci-image.ts';

const REPO = join(import.meta.dirname, '..', '..');
const BERTH = join(REPO, 'bin', 'berth');

let env: Env;
let reg: RegistryFixture | undefined;
let skip: string | false = false;
let work: string;
let base: Buffer;

before(async () => {
  env = setupEnv('images');
  work = mkdtempSync('/tmp/berth-images-work-');
  if (!haveSkopeo()) skip = 'skopeo is not installed (apt-get install skopeo)';
  try {
    reg = await startRegistry();
  } catch (e) {
    if (!(e as Error).message.startsWith('SKIP:')) throw e;
    skip = (e as Error).message;
  }
  const mk = spawnSync('bash', [join(REPO, 'scripts', 'mkimage-busybox'), join(work, 'bb.tar')]);
  assert.equal(mk.status, 0);
  base = readFileSync(join(work, 'bb.tar'));
});

after(async () => {
  await reg?.stop();
  env?.teardown();
  if (work) rmSync(work, { recursive: true, force: true });
});

/** Push an image made of these layers (base busybox first unless `bare`) to the registry as `name`. */
async function publish(name: string, layers: Buffer[], bare = false, compress: Parameters<typeof ociLayout>[3] = true): Promise<string> {
  const dir = mkdtempSync(join(work, 'layout-'));
  ociLayout(dir, bare ? layers : [base, ...layers], {}, compress);
  skopeoPush(dir, `${reg!.host}/${name}`);
  rmSync(dir, { recursive: true, force: true });
  return `${reg!.host}/${name}`;
}

/** Run berth, require exit 0 and return its stdout (the shared `out`, called ok here). */
const { out: ok } = cli(() => env);

/** What the store holds on disk: layer dirs, blobs, links, and anything temporary. */
function storeState(): { layers: string[]; blobs: string[]; links: number; temps: string[] } {
  const list = (d: string) => (existsSync(d) ? readdirSync(d).sort() : []);
  const layers = list(join(env.root, 'layers'));
  const blobs = list(join(env.root, 'blobs', 'sha256'));
  return {
    layers: layers.filter((n) => !n.startsWith('.')),
    blobs: blobs.filter((n) => /^[0-9a-f]{64}$/.test(n)),
    links: list(join(env.root, 'l')).length,
    temps: [...layers.filter((n) => n.startsWith('.')), ...blobs.filter((n) => !/^[0-9a-f]{64}$/.test(n))],
  };
}

test('a layered image: whiteouts, opaque dir, re-created path, hard links across dirs, symlink chain, owners, modes, times, devices, xattrs', async (t) => {
  if (skip) return t.skip(skip);
  const l2 = await tarOf([
    { name: 'data/' },
    { name: 'data/keep', data: 'keep\n' },
    { name: 'data/gone', data: 'gone\n' },
    { name: 'data/redo', data: 'v1\n' },
    { name: 'opq/' },
    { name: 'opq/old1', data: '1' },
    { name: 'opq/sub/' },
    { name: 'opq/sub/old2', data: '2' },
    { name: 'dir/' },
    { name: 'dir/x', data: 'x\n', mode: 0o640, uid: 1000, gid: 1001, mtime: 1_600_000_000, xattrs: { 'user.berth': Buffer.from('yes') } },
    { name: 'other/' },
    { name: 'other/y', type: 'hardlink', linkname: 'dir/x' },
    { name: 's1', type: 'symlink', linkname: 's2' },
    { name: 's2', type: 'symlink', linkname: 'data/keep' },
    { name: 'devs/' },
    { name: 'devs/null2', type: 'char', devmajor: 1, devminor: 3, mode: 0o666 },
    { name: 'sparse', data: Buffer.concat([Buffer.alloc(4 << 20), Buffer.from('end')]) },
  ]);
  const l3 = await tarOf([
    { name: 'data/' },
    { name: 'data/.wh.gone', data: '' },
    { name: 'data/.wh.redo', data: '' },
    { name: 'opq/' },
    { name: 'opq/.wh..wh..opq', data: '' },
    { name: 'opq/new', data: 'new\n' },
  ]);
  const l4 = await tarOf([{ name: 'data/' }, { name: 'data/redo', data: 'v2\n' }]);
  // One layer of each kind: gzip (the base), zstd, plain, gzip.
  const ref = await publish('layered:1', [l2, l3, l4], false, ['gzip', 'zstd', 'none', 'gzip']);
  const pulled = env.berth(['pull', ref]);
  assert.equal(pulled.code, 0, pulled.stderr);
  assert.match(pulled.stdout, /Pull complete/);
  assert.match(pulled.stdout, new RegExp(`Status: Downloaded newer image for ${ref.replace(/[.]/g, '\\.')}`));
  assert.equal(pulled.stdout.trim().split('\n').at(-1), ref, 'the last line is the reference pulled');
  const script = [
    'cat /data/keep',
    'test -e /data/gone && echo GONE-STILL-THERE',
    'ls /opq',
    'cat /data/redo',
    "stat -c '%i %h %a %u %g %Y' /dir/x",
    "stat -c '%i %h' /other/y",
    'readlink /s1; readlink /s2; cat /s1',
    "stat -c '%F %t %T %a' /devs/null2",
    "stat -c '%s %b' /sparse",
  ].join('; ');
  const out = ok(['run', '--rm', '--network', 'none', ref, 'sh', '-c', script]).trim().split('\n');
  assert.equal(out[0], 'keep');
  assert.equal(out[1], 'new', `opaque dir shows only the upper layer's entry: ${out.join('|')}`);
  assert.equal(out[2], 'v2');
  const [ino, nlink, mode, uid, gid, mtime] = out[3]!.split(' ');
  assert.deepEqual([nlink, mode, uid, gid, mtime], ['2', '640', '1000', '1001', '1600000000']);
  assert.equal(out[4], `${ino} 2`, 'the hard link across dirs is the same inode');
  assert.deepEqual(out.slice(5, 8), ['s2', 'data/keep', 'keep']);
  assert.equal(out[8], 'character special file 1 3 666');
  const [size, blocks] = out[9]!.split(' ').map(Number);
  assert.equal(size, (4 << 20) + 3);
  assert.ok(blocks! * 512 < 64 << 10, `runs of zeros become holes: ${blocks} blocks allocated`);
  assert.equal(out.length, 10);
  // The xattr is on the unpacked layer file.
  const diffIds = JSON.parse(ok(['image', 'inspect', '-f', '{{json .RootFS.Layers}}', ref])) as string[];
  assert.equal(diffIds.length, 4);
  const x = lgetxattr(join(env.root, 'layers', diffIds[1]!.slice(7), 'diff', 'dir', 'x'), 'user.berth');
  assert.equal(x?.toString(), 'yes');
  ok(['rmi', ref]);
});

test('hostile layers fail the pull naming the entry; the store and the host are unchanged', async (t) => {
  if (skip) return t.skip(skip);
  const victim = mkdtempSync('/tmp/berth-victim-');
  writeFileSync(join(victim, 'keep'), 'mine');
  const cases: [string, Buffer, RegExp][] = [
    ['dotdot', await tarOf([{ name: 'a/' }, { name: `a/../../../../../..${victim}/dotdot`, data: 'x' }]), /dotdot/],
    ['absolute', await tarOf([{ name: `${victim}/absolute`, data: 'x' }]), /absolute/],
    ['through-symlink', await tarOf([{ name: 'ln', type: 'symlink', linkname: victim }, { name: 'ln/through', data: 'x' }]), /ln\/through/],
    ['hardlink-out', await tarOf([{ name: 'hl', type: 'hardlink', linkname: `../../../../..${victim}/keep` }]), /hl/],
    ['whiteout-out', await tarOf([{ name: 'ln', type: 'symlink', linkname: victim }, { name: 'ln/.wh.keep', data: '' }]), /ln\/\.wh\.keep/],
  ];
  const before = storeState();
  const imagesBefore = ok(['images', '-q']);
  for (const [name, layer, names] of cases) {
    const ref = await publish(`evil-${name}:1`, [layer], true);
    const r = env.berth(['pull', ref]);
    assert.equal(r.code, 1, `${name}: ${r.stdout}${r.stderr}`);
    assert.match(r.stderr, names, `${name}: the error names the entry: ${r.stderr}`);
    assert.equal(r.stderr.trim().split('\n').length, 1, `${name}: one line: ${r.stderr}`);
    assert.deepEqual(storeState(), before, `${name}: the store is unchanged`);
  }
  assert.equal(ok(['images', '-q']), imagesBefore);
  assert.deepEqual(readdirSync(victim), ['keep']);
  assert.equal(readFileSync(join(victim, 'keep'), 'utf8'), 'mine');
  rmSync(victim, { recursive: true, force: true });
});

test('a 60-layer image pulls and runs (short lower-dir links keep the mount options in a page)', async (t) => {
  if (skip) return t.skip(skip);
  const layers: Buffer[] = [];
  for (let i = 1; i < 60; i++) layers.push(await tarOf([{ name: 'layers/' }, { name: `layers/${i}`, data: `${i}\n` }]));
  const ref = await publish('deep:60', layers);
  ok(['pull', '-q', ref]);
  assert.equal((JSON.parse(ok(['image', 'inspect', '-f', '{{json .RootFS.Layers}}', ref])) as string[]).length, 60);
  const out = ok(['run', '--rm', '--network', 'none', ref, 'sh', '-c', 'ls /layers | wc -l; cat /layers/59']);
  assert.deepEqual(out.trim().split(/\s+/), ['59', '59']);
  ok(['rmi', ref]);
});

test('two pulls of one image at once both succeed and share its layers', async (t) => {
  if (skip) return t.skip(skip);
  const layers = [];
  for (let i = 0; i < 3; i++) layers.push(await tarOf([{ name: `part${i}`, data: randomBytes(8 << 20) }]));
  const ref = await publish('twice:1', layers);
  const [a, b] = await Promise.all([env.berthAsync(['pull', '-q', ref]), env.berthAsync(['pull', '-q', ref])]);
  assert.equal(a.code, 0, a.stderr);
  assert.equal(b.code, 0, b.stderr);
  assert.equal(ok(['run', '--rm', '--network', 'none', ref, 'sh', '-c', 'cat /part0 /part1 /part2 | wc -c']).trim(), String(24 << 20));
  assert.deepEqual(storeState().temps, [], 'no partial, lock or temp file is left');
  ok(['rmi', ref]);
});

test('push: skopeo reads what Berth pushed; a second push skips the layer; another repository mounts it', async (t) => {
  if (skip) return t.skip(skip);
  const ref = `${reg!.host}/pushed/busybox:1`;
  ok(['tag', 'busybox', ref]);
  const first = ok(['push', ref]);
  assert.match(first, /The push refers to repository \[127\.0\.0\.1:\d+\/pushed\/busybox\]/);
  assert.match(first, /: Pushed/);
  const m = /1: digest: (sha256:[0-9a-f]{64}) size: \d+/.exec(first);
  assert.ok(m, first);
  const raw = spawnSync('skopeo', ['inspect', '--raw', '--tls-verify=false', `docker://${ref}`], { encoding: 'utf8' });
  assert.equal(raw.status, 0, raw.stderr);
  assert.equal(JSON.parse(raw.stdout).mediaType, 'application/vnd.docker.distribution.manifest.v2+json');
  const dir = join(work, 'copied');
  const cp = spawnSync('skopeo', ['copy', '-q', '--src-tls-verify=false', `docker://${ref}`, `oci:${dir}`], { encoding: 'utf8' });
  assert.equal(cp.status, 0, cp.stderr);
  assert.match(ok(['push', ref]), /Layer already exists/);
  const other = `${reg!.host}/elsewhere/bb:2`;
  ok(['tag', 'busybox', other]);
  assert.match(ok(['push', other]), /Mounted from pushed\/busybox/);
  // What was pushed pulls and runs in another root.
  ok(['rmi', ref, other]);
  const again = ok(['run', '--rm', '--network', 'none', ref, 'echo', 'round-trip']);
  assert.equal(again.trim(), 'round-trip');
  assert.match(ok(['images', '--digests', `${reg!.host}/pushed/busybox`]), new RegExp(m[1]!));
  ok(['rmi', ref]);
});

test('on a terminal, pull draws one bar per layer and rewrites it in place', async (t) => {
  if (skip) return t.skip(skip);
  const ref = await publish('bars:1', [await tarOf([{ name: 'blob', data: randomBytes(4 << 20) }])]);
  const cmd = `${BERTH} --root ${env.root} pull ${ref}`;
  const r = spawnSync('script', ['-qfec', cmd, '/dev/null'], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /\x1b\[\d+A/, 'the cursor moves up to rewrite a layer line');
  assert.match(r.stdout, /\[=+>?\s*\]\s+[\d.]+[kMG]?B\/[\d.]+[kMG]?B/, 'a progress bar with sizes');
  assert.match(r.stdout, /Pull complete/);
  ok(['rmi', ref]);
});

test('a pull killed with SIGKILL leaves no image; the next pull completes; prune reclaims everything', async (t) => {
  if (skip) return t.skip(skip);
  const big = await tarOf([{ name: 'big', data: randomBytes(96 << 20) }]);
  const ref = await publish('big:1', [big], false, false);
  const before = storeState();
  const child = spawn(BERTH, ['--root', env.root, 'pull', '-q', ref], { stdio: 'ignore' });
  const partial = await eventually(() => {
    const names = existsSync(join(env.root, 'blobs', 'sha256')) ? readdirSync(join(env.root, 'blobs', 'sha256')) : [];
    const p = names.find((n) => n.endsWith('.partial'));
    return p && statSync(join(env.root, 'blobs', 'sha256', p), { throwIfNoEntry: false })?.size ? p : undefined;
  }, 20_000, 2);
  child.kill('SIGKILL');
  await new Promise((r) => child.once('exit', r));
  assert.ok(partial, 'the pull was caught mid-download');
  assert.equal(env.berth(['image', 'inspect', ref]).code, 1, 'no half image');
  ok(['pull', '-q', ref]);
  assert.equal(ok(['run', '--rm', '--network', 'none', ref, 'sh', '-c', 'wc -c < /big']).trim(), String(96 << 20));
  ok(['rmi', ref]);
  ok(['image', 'prune', '-f']);
  assert.deepEqual(storeState(), before);
});

test('pull errors: bad reference, unknown repository, unknown tag', async (t) => {
  if (skip) return t.skip(skip);
  let r = env.berth(['pull', 'Not/Valid']);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /invalid reference format/);
  r = env.berth(['pull', `${reg!.host}/nothing-here:1`]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /not found|unknown|does not exist/);
  assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
  r = env.berth(['push', `${reg!.host}/not-tagged-here:1`]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /No such image/);
});

test('short names go to docker.io through a configured mirror', async (t) => {
  if (skip) return t.skip(skip);
  ok(['tag', 'busybox', `${reg!.host}/library/busybox:mirrored`]);
  ok(['push', '-q', `${reg!.host}/library/busybox:mirrored`]);
  writeFileSync(join(env.root, 'registries.json'), JSON.stringify({ 'registry-mirrors': [`http://${reg!.host}`] }));
  try {
    const r = ok(['pull', 'busybox:mirrored']);
    assert.equal(r.trim().split('\n').at(-1), 'docker.io/library/busybox:mirrored');
    assert.match(ok(['images', 'busybox']), /busybox\s+mirrored/);
  } finally {
    rmSync(join(env.root, 'registries.json'));
  }
  ok(['rmi', 'busybox:mirrored', `${reg!.host}/library/busybox:mirrored`]);
});
