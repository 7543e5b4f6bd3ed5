/**
 * Images that expand past what the engine allows (daemon.json's max-layer-size and max-image-size, here
 * 8 MiB and 16 MiB), and a disk that fills while a layer unpacks: each is refused with one line naming the
 * image and the layer, and nothing of it is left (no layer dir, no blob, no temp dir, no image). Hostile
 * layers are built here: a file of zeros compresses to almost nothing. Loads always run; pulls need Debian's
 * docker-registry and skopeo, and skip with a message without them; the full-disk case mounts a 64 MiB tmpfs
 * as an engine root, and the inode case one of 4,000 inodes.
 */
import { test, before, after, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BERTH, REPO, cli, setupEnv, type Env, type Result } from './helpers.ts';
import { startRegistry, type RegistryFixture } from '../fixtures/registry.ts';
import { dockerArchive, haveSkopeo, ociLayout, skopeoPush, tarOf } from '../fixtures/oci-image.ts';

const MiB = 1 << 20;

let env: Env;
let work: string;
let base: Buffer;
let reg: RegistryFixture | undefined;
let skipPull: string | false = false;

before(async () => {
  env = setupEnv('caps');
  work = mkdtempSync('/tmp/berth-caps-');
  writeFileSync(join(env.root, 'daemon.json'), JSON.stringify({ 'max-layer-size': '8MiB', 'max-image-size': 16 * MiB }));
  const mk = spawnSync('bash', [join(REPO, 'scripts', 'mkimage-busybox'), join(work, 'bb.tar')]);
  assert.equal(mk.status, 0);
  base = readFileSync(join(work, 'bb.tar'));
  if (!haveSkopeo()) skipPull = 'skopeo is not installed (apt-get install skopeo)';
  else {
    try {
      reg = await startRegistry();
    } catch (e) {
      if (!(e as Error).message.startsWith('SKIP:')) throw e;
      skipPull = (e as Error).message;
    }
  }
});

after(async () => {
  await reg?.stop();
  env?.teardown();
  if (work) rmSync(work, { recursive: true, force: true });
});

const { out: ok } = cli(() => env);

/** A layer of one file: `mib` MiB of `fill` (zeros by default: a sparse file, a tiny gzip). */
const layerOf = (name: string, mib: number, fill = 0) => tarOf([{ name, data: Buffer.alloc(mib * MiB, fill) }]);

/** What the store holds on disk: layer dirs, blobs, links, and anything temporary. */
function storeState(root = env.root): { layers: string[]; blobs: string[]; links: number; temps: string[] } {
  const list = (d: string) => (existsSync(d) ? readdirSync(d).sort() : []);
  const layers = list(join(root, 'layers'));
  const blobs = list(join(root, 'blobs', 'sha256'));
  return {
    layers: layers.filter((n) => !n.startsWith('.')),
    blobs: blobs.filter((n) => /^[0-9a-f]{64}$/.test(n)),
    links: list(join(root, 'l')).length,
    temps: [...layers.filter((n) => n.startsWith('.')), ...blobs.filter((n) => !/^[0-9a-f]{64}$/.test(n)), ...list(join(root, 'tmp'))],
  };
}

/** Load an archive, expecting a refusal: one `Error:` line matching `message`, and the store as it was. */
async function refusedLoad(archive: Buffer, message: RegExp): Promise<Result> {
  const before = storeState();
  const images = ok(['images', '-q', '--no-trunc']);
  const file = join(work, 'refused.tar');
  writeFileSync(file, archive);
  const r = env.berth(['load', '-i', file]);
  assert.equal(r.code, 1, `${r.stdout}${r.stderr}`);
  assert.match(r.stderr.trimEnd(), message);
  assert.equal(r.stderr.split('\n').filter(Boolean).length, 1, `one line: ${r.stderr}`);
  assert.deepEqual(storeState(), before, 'nothing of the refused image is left');
  assert.equal(ok(['images', '-q', '--no-trunc']), images);
  return r;
}

test('load: a layer past max-layer-size is refused naming the image and the layer, and leaves nothing', async () => {
  // 12 MiB of zeros: 12 KiB of gzip, and a sparse file on disk.
  const over = await layerOf('zeros', 12);
  const r = await refusedLoad(await dockerArchive([{ tags: ['caps/over:1'], layers: [base, over] }]), /^Error: caps\/over:1: layer [0-9a-f]{12}: expands to more than 8MiB \(max-layer-size\)$/);
  assert.doesNotMatch(r.stderr, /at |stack/);
  // the same from stdin, the archive itself gzip-compressed
  const before = storeState();
  const s = env.berth(['load'], { input: await dockerArchive([{ tags: ['caps/over:2'], layers: [over] }], { gzip: true }) });
  assert.equal(s.code, 1);
  assert.match(s.stderr, /^Error: caps\/over:2: layer [0-9a-f]{12}: expands to more than 8MiB \(max-layer-size\)$/m);
  assert.deepEqual(storeState(), before);
  // import takes a rootfs tarball as one layer: the same cap
  writeFileSync(join(work, 'rootfs.tar'), over);
  const i = env.berth(['import', join(work, 'rootfs.tar'), 'caps/imported:1']);
  assert.equal(i.code, 1);
  assert.equal(i.stderr, 'Error: import: expands to more than 8MiB (max-layer-size)\n');
  assert.deepEqual(storeState(), before);
  assert.equal(env.berth(['image', 'inspect', 'caps/imported:1']).code, 1);
});

test('load: layers under the caps load and run; an image past max-image-size, each layer under the layer cap, is refused whole', async () => {
  const six = [await layerOf('a', 6, 1), await layerOf('b', 6, 2), await layerOf('c', 6, 3)];
  // busybox (~2 MiB) + 6 + 6 MiB: within 16 MiB
  const file = join(work, 'fits.tar');
  writeFileSync(file, await dockerArchive([{ tags: ['caps/fits:1'], layers: [base, six[0]!, six[1]!] }]));
  assert.match(ok(['load', '-i', file]), /Loaded image: caps\/fits:1/);
  assert.equal(ok(['run', '--rm', '--network', 'none', 'caps/fits:1', 'sh', '-c', 'cat /a /b | wc -c']).trim(), String(12 * MiB));
  ok(['rmi', 'caps/fits:1']);
  // + 6 MiB more: the third layer crosses the image's cap. The first two unpacked fine and go too.
  await refusedLoad(
    await dockerArchive([{ tags: ['caps/wide:1'], layers: [base, ...six] }]),
    /^Error: caps\/wide:1: layer [0-9a-f]{12}: the image expands to more than 16MiB \(max-image-size\)$/,
  );
});

test('load: an archive member larger than any layer may be is refused before it is spooled', async () => {
  // An uncompressed 12 MiB layer inside a gzip archive: refused by its tar header, before anything is written.
  const archive = await dockerArchive([{ tags: ['caps/member:1'], layers: [await layerOf('zeros', 12)] }], { compress: false, gzip: true });
  assert.ok(archive.length < MiB);
  await refusedLoad(archive, /^Error: invalid archive: [0-9a-f]{64}\.tar is 12\.0MiB, more than a layer may expand to \(max-layer-size 8MiB\)$/);
});

test('daemon.json: info shows the caps; a bad size is refused naming the file and the key, by any verb that needs it and by serve at start', () => {
  assert.match(ok(['info']), /^ {2}Size Caps: 8MiB a layer, 16MiB an image \(max-layer-size, max-image-size\)$/m);
  assert.equal(ok(['info', '-f', '{{.BerthMaxLayerSize}} {{.BerthMaxImageSize}}']).trim(), `${8 * MiB} ${16 * MiB}`);
  const cfg = join(env.root, 'daemon.json');
  const good = readFileSync(cfg);
  writeFileSync(cfg, JSON.stringify({ 'max-layer-size': '8 parsecs' }));
  try {
    const line = `Error: ${cfg}: "max-layer-size" must be a size: bytes as a number, or a string such as "16GiB" or "500MB" (not "8 parsecs")\n`;
    writeFileSync(join(work, 'empty.tar'), 'x');
    const load = env.berth(['load', '-i', join(work, 'empty.tar')]);
    assert.equal(load.code, 1);
    assert.equal(load.stderr, line);
    const serve = env.berth(['serve', '-H', `unix://${join(work, 'api.sock')}`], { timeoutMs: 20_000 });
    assert.equal(serve.code, 125, serve.stderr);
    assert.equal(serve.stderr, line);
    assert.ok(!existsSync(join(work, 'api.sock')));
  } finally {
    writeFileSync(cfg, good);
  }
});

/** Push an image of these layers to the test registry as `name`; returns its reference. */
function publish(name: string, layers: Buffer[], compress: Parameters<typeof ociLayout>[3] = true): string {
  const dir = mkdtempSync(join(work, 'layout-'));
  ociLayout(dir, layers, {}, compress);
  skopeoPush(dir, `${reg!.host}/${name}`);
  rmSync(dir, { recursive: true, force: true });
  return `${reg!.host}/${name}`;
}

test('pull: past the layer cap, past the image cap across parallel unpacks, and too large by its descriptor alone: refused, nothing left', async (t) => {
  if (skipPull) return t.skip(skipPull);
  const before = storeState();
  const images = ok(['images', '-q', '--no-trunc']);
  const refused = (args: string[], message: RegExp, code = 1) => {
    const r = env.berth(args);
    assert.equal(r.code, code, `${r.stdout}${r.stderr}`);
    // pull's progress goes to stdout, run's to stderr: the error is the last line, and the only one
    const lines = r.stderr.trimEnd().split('\n');
    assert.match(lines.at(-1)!, message);
    assert.equal(lines.filter((l) => l.startsWith('Error')).length, 1, r.stderr);
    if (args[0] === 'pull') assert.equal(lines.length, 1, r.stderr);
    assert.deepEqual(storeState(), before, `nothing is left: ${args.join(' ')}`);
    assert.equal(ok(['images', '-q', '--no-trunc']), images);
  };
  const over = publish('caps/over:1', [base, await layerOf('zeros', 12)]);
  const esc = (s: string) => s.replace(/[.]/g, '\\.');
  refused(['pull', over], new RegExp(`^Error: ${esc(over)}: layer [0-9a-f]{12}: expands to more than 8MiB \\(max-layer-size\\)$`));
  // run pulls what it lacks, and exits as docker's run does on a refusal: 125
  refused(['run', '--rm', '--network', 'none', over, 'true'], /expands to more than 8MiB \(max-layer-size\)/, 125);
  // three layers of 6 MiB, unpacked two at a time on worker threads: 18 MiB against 16
  const wide = publish('caps/wide:1', [await layerOf('a', 6, 1), await layerOf('b', 6, 2), await layerOf('c', 6, 3)]);
  refused(['pull', wide], new RegExp(`^Error: ${esc(wide)}: layer [0-9a-f]{12}: the image expands to more than 16MiB \\(max-image-size\\)$`));
  // 9 MiB of random bytes does not compress: the registry's descriptor says it is too large, and nothing is fetched
  const big = publish('caps/big:1', [await tarOf([{ name: 'noise', data: randomBytes(9 * MiB) }])]);
  refused(['pull', big], new RegExp(`^Error: ${esc(big)}: layer [0-9a-f]{12}: its archive alone is 9\\.0MiB, more than the 8MiB a layer may expand to \\(max-layer-size\\)$`));
  // within the caps, the same registry's image pulls and runs
  const fits = publish('caps/fits:1', [base, await layerOf('a', 6, 1)]);
  ok(['pull', '-q', fits]);
  assert.equal(ok(['run', '--rm', '--network', 'none', fits, 'sh', '-c', 'wc -c < /a']).trim(), String(6 * MiB));
  ok(['rmi', fits]);
});

/**
 * Run `fn` with a fresh tmpfs (mount options `opts`) mounted at a new dir under /tmp; skip the test when no
 * tmpfs can be mounted. The tmpfs is unmounted and its dir removed afterwards, whatever `fn` did.
 */
async function onTmpfs(t: TestContext, prefix: string, opts: string, fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = mkdtempSync(`/tmp/${prefix}`);
  const mnt = spawnSync('mount', ['-t', 'tmpfs', '-o', `${opts},mode=0711`, 'tmpfs', dir], { encoding: 'utf8' });
  if (mnt.status !== 0) {
    rmdirSync(dir);
    return t.skip(`cannot mount a tmpfs: ${mnt.stderr.trim()}`);
  }
  try {
    await fn(dir);
  } finally {
    const u = spawnSync('umount', [dir], { encoding: 'utf8' });
    rmdirSync(dir);
    assert.equal(u.status, 0, u.stderr);
  }
}

test('a disk that fills while a layer unpacks: refused naming the layer with what is free; nothing is left (a 64 MiB tmpfs root)', async (t) => {
  await onTmpfs(t, 'berth-caps-tmpfs-', 'size=64m', async (root) => {
    const berth = (args: string[]) => spawnSync(BERTH, ['--root', root, ...args], { encoding: 'utf8', timeout: 120_000 });
    mkdirSync(join(root, 'in'));
    // 80 MiB of a non-zero byte: written block by block (no holes), more than the disk holds, and a gzip of
    // ~80 KiB. Without the reserve it would fail with ENOSPC once the disk is full.
    const full = join(root, 'in', 'full.tar');
    writeFileSync(full, await dockerArchive([{ tags: ['caps/full:1'], layers: [await layerOf('data', 80, 0x61)] }]));
    const before = storeState(root);
    const r = berth(['load', '-i', full]);
    assert.equal(r.status, 1, r.stdout + r.stderr);
    assert.match(r.stderr, new RegExp(`^Error: caps/full:1: layer [0-9a-f]{12}: stopped with [\\d.]+MiB free on the file system of ${root}/layers, less than the 3\\.2MiB kept free\\n$`));
    assert.deepEqual(storeState(root), { ...before, layers: [], blobs: [], temps: [] });
    assert.equal(berth(['images', '-q']).stdout, '');
    // the space it took is free again: a layer of 40 MiB fits
    const fits = join(root, 'in', 'fits.tar');
    writeFileSync(fits, await dockerArchive([{ tags: ['caps/fits:1'], layers: [await layerOf('data', 40, 0x61)] }]));
    rmSync(full);
    const f = berth(['load', '-i', fits]);
    assert.equal(f.status, 0, f.stderr);
    assert.match(f.stdout, /Loaded image: caps\/fits:1/);
  });
});

test('a layer of many empty files on a disk with few inodes: refused naming the layer with the inodes free; nothing is left (a tmpfs root of 4,000 inodes)', async (t) => {
  await onTmpfs(t, 'berth-caps-inodes-', 'size=256m,nr_inodes=4000', async (root) => {
    const berth = (args: string[]) => spawnSync(BERTH, ['--root', root, ...args], { encoding: 'utf8', timeout: 120_000 });
    mkdirSync(join(root, 'in'));
    // 6,000 empty files: 3 MiB of tar headers, next to nothing of disk, more inodes than the disk has.
    const files = Array.from({ length: 6000 }, (_, i) => ({ name: `f${i}`, data: '' }));
    const many = join(root, 'in', 'many.tar');
    writeFileSync(many, await dockerArchive([{ tags: ['caps/many:1'], layers: [await tarOf(files)] }]));
    const before = storeState(root);
    const r = berth(['load', '-i', many]);
    assert.equal(r.status, 1, r.stdout + r.stderr);
    assert.match(r.stderr, new RegExp(`^Error: caps/many:1: layer [0-9a-f]{12}: stopped with \\d+ free inodes on the file system of ${root}/layers, less than the 200 kept free\\n$`));
    assert.deepEqual(storeState(root), { ...before, layers: [], blobs: [], temps: [] });
    // the inodes it took are free again: a layer of 1,000 files fits
    rmSync(many);
    const fits = join(root, 'in', 'fits.tar');
    writeFileSync(fits, await dockerArchive([{ tags: ['caps/fits:1'], layers: [await tarOf(files.slice(0, 1000))] }]));
    const f = berth(['load', '-i', fits]);
    assert.equal(f.status, 0, f.stderr);
    assert.match(f.stdout, /Loaded image: caps\/fits:1/);
  });
});

test('an extract that runs out of inodes or space is NoSpace naming the file system, not an internal failure', async (t) => {
  await onTmpfs(t, 'berth-caps-enospc-', 'size=16m,nr_inodes=50', async (dir) => {
    const { extractTar } = await import('../../src/archive/extract.ts');
    const { NoSpace } = await import('../../src/errors.ts');
    const tar = await tarOf(Array.from({ length: 100 }, (_, i) => ({ name: `f${i}`, data: '' })));
    const once = async function* () {
      yield tar;
    };
    await assert.rejects(extractTar(once(), dir, { plain: true, onSymlinkInPath: 'reject', whiteouts: 'overlay' }), (e: unknown) => {
      assert.ok(e instanceof NoSpace, String(e));
      assert.match((e as Error).message, new RegExp(`^extract f\\d+: the file system of ${dir} is full \\(no space or inodes left\\)$`));
      return true;
    });
  });
});
