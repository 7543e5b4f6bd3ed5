import { test } from 'node:test';
import type { TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  createReadStream, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { gunzipSync, gzipSync, zstdCompressSync, zstdDecompressSync } from 'node:zlib';
import { InvalidArgument, RuntimeFailure } from '../../src/errors.ts';
import { extractTar } from '../../src/archive/extract.ts';
import { packPath } from '../../src/archive/pack.ts';
import { readTar, tarEntry, writeTar, type TarEntry, type TarInput } from '../../src/archive/tar.ts';
import {
  readImageArchive, writeImageArchive, type ArchiveFormat, type ArchiveImage, type Compression, type LoadedImage,
} from '../../src/image/archive.ts';
import { chunks as chunksOf, collect, scratchDir } from './util.ts';

const SKOPEO = '/usr/bin/skopeo';
const MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const INDEX = 'application/vnd.oci.image.index.v1+json';
const LAYER_GZIP = 'application/vnd.oci.image.layer.v1.tar+gzip';
const IMAGE_NAME = 'io.containerd.image.name';
const REF_NAME = 'org.opencontainers.image.ref.name';
const OCI_LAYOUT = '{"imageLayoutVersion":"1.0.0"}';
const HOST_ARCH = process.arch === 'arm64' ? 'arm64' : 'amd64';
const OTHER_ARCH = HOST_ARCH === 'amd64' ? 'arm64' : 'amd64';

const tmp = (t: TestContext) => scratchDir(t, 'berth-image-archive-');

const chunks = (b: Buffer, size = 4093) => chunksOf(b, size);

const sha = (b: Buffer | string) => `sha256:${createHash('sha256').update(b).digest('hex')}`;
const hex = (digest: string) => digest.slice('sha256:'.length);

const fileInput = (name: string, data: Buffer | string, more: Partial<TarEntry> = {}): TarInput => {
  const body = Buffer.from(data);
  return { entry: tarEntry({ name, type: 'file', size: body.length, ...more }), body };
};
const tarOf = (items: TarInput[]) => collect(writeTar(items));
const tarFiles = (files: Record<string, Buffer | string>) =>
  tarOf(Object.entries(files).map(([n, d]) => fileInput(n, d)));

async function tarMembers(archive: Buffer): Promise<{ entry: TarEntry; data: Buffer }[]> {
  const out = [];
  for await (const { entry, body } of readTar(chunks(archive))) out.push({ entry, data: await collect(body) });
  return out;
}

/** `archive` with members dropped or replaced. */
async function edit(archive: Buffer, change: (name: string, data: Buffer) => Buffer | null): Promise<Buffer> {
  const items: TarInput[] = [];
  for (const { entry, data } of await tarMembers(archive)) {
    const next = entry.type === 'file' ? change(entry.name, data) : data;
    if (next) items.push({ entry: { ...entry, size: entry.type === 'file' ? next.length : 0 }, body: next });
  }
  return tarOf(items);
}

const compress = (b: Buffer, c: Compression) => (c === 'gzip' ? gzipSync(b) : c === 'zstd' ? zstdCompressSync(b) : b);
const decompress = (b: Buffer, c: Compression) =>
  (c === 'gzip' ? gunzipSync(b) : c === 'zstd' ? zstdDecompressSync(b) : b);

interface LayerSpec {
  files: Record<string, string>;
  compressed: Compression;
}
interface Built {
  image: ArchiveImage;
  /** The layers as uncompressed tars. */
  tars: Buffer[];
  /** How often each layer blob was opened. */
  opens: number[];
}

async function build(tag: string[], specs: LayerSpec[], env = tag.join(','), arch = 'amd64'): Promise<Built> {
  const tars = await Promise.all(specs.map((s) => tarFiles(s.files)));
  const config = Buffer.from(JSON.stringify({
    architecture: arch, os: 'linux', config: { Env: [`TAGS=${env}`], Cmd: ['sh'] },
    rootfs: { type: 'layers', diff_ids: tars.map(sha) },
  }));
  const opens = specs.map(() => 0);
  const layers = specs.map((s, i) => {
    const blob = compress(tars[i]!, s.compressed);
    return {
      diffId: sha(tars[i]!), digest: sha(blob), size: blob.length, compressed: s.compressed,
      async *open() {
        opens[i]!++;
        yield* chunks(blob, 100);
      },
    };
  });
  return { image: { configDigest: sha(config), config, layers, repoTags: tag }, tars, opens };
}

const BASE: LayerSpec = { files: { 'etc/hostname': 'base\n', 'bin/sh': 'x'.repeat(3000) }, compressed: 'gzip' };
const MID: LayerSpec = { files: { 'usr/lib/lib.so': 'y'.repeat(9000) }, compressed: 'zstd' };
const TOP: LayerSpec = { files: { 'app/run': '#!/bin/sh\necho hi\n' }, compressed: 'none' };

const write = (images: ArchiveImage[], format: ArchiveFormat) => collect(writeImageArchive(images, format));
const read = (archive: Buffer, t: TestContext) => readImageArchive(chunks(archive), tmp(t));

/** Each loaded layer, decompressed, is the tar built; and an uncompressed one reports its diff id. */
function assertLayers(loaded: LoadedImage, built: Built): void {
  assert.equal(loaded.layers.length, built.tars.length);
  loaded.layers.forEach((l, i) => {
    const data = readFileSync(l.file);
    assert.equal(l.size, data.length);
    assert.equal(l.digest, sha(data));
    assert.deepEqual(decompress(data, l.compressed), built.tars[i]);
    if (l.compressed === 'none') assert.equal(l.diffId, sha(built.tars[i]!));
    else assert.equal(l.diffId, undefined);
  });
}

const invalidArchive = (re: RegExp) => (e: unknown) =>
  e instanceof InvalidArgument && /^invalid archive: /.test(e.message) && re.test(e.message);

// ---------------------------------------------------------------------------------------------- round trips

test('docker format: configs, uncompressed layers, tags and diff ids round-trip; shared layers once', async (t) => {
  const a = await build(['busybox:latest', 'localhost:5000/app:1'], [BASE, MID, TOP]);
  const b = await build(['quay.io/org/b:2'], [BASE, TOP], 'b');
  const archive = await write([a.image, b.image], 'docker');
  const names = (await tarMembers(archive)).map((m) => m.entry.name);
  for (const diff of a.image.layers.map((l) => l.diffId)) {
    assert.equal(names.filter((n) => n === `blobs/sha256/${hex(diff)}`).length, 1, `${diff} written once`);
  }
  for (const n of ['manifest.json', 'index.json', 'oci-layout', 'repositories']) assert.ok(names.includes(n), n);

  const loaded = await read(archive, t);
  assert.equal(loaded.length, 2);
  assert.deepEqual(loaded[0]!.config, a.image.config);
  assert.equal(loaded[0]!.configDigest, a.image.configDigest);
  assert.deepEqual(loaded[0]!.repoTags, ['busybox:latest', 'localhost:5000/app:1']);
  assert.deepEqual(loaded[1]!.repoTags, ['quay.io/org/b:2']);
  assertLayers(loaded[0]!, a);
  assertLayers(loaded[1]!, b);
  assert.ok(loaded.every((img) => img.layers.every((l) => l.compressed === 'none' && l.diffId)));
});

test('docker format: manifest.json, repositories and index.json say what docker 25+ writes', async () => {
  const a = await build(['busybox:latest'], [BASE, TOP]);
  const files = new Map((await tarMembers(await write([a.image], 'docker'))).map((m) => [m.entry.name, m.data]));
  const manifest = JSON.parse(files.get('manifest.json')!.toString());
  assert.deepEqual(manifest, [{
    Config: `blobs/sha256/${hex(a.image.configDigest)}`,
    RepoTags: ['docker.io/library/busybox:latest'],
    Layers: a.image.layers.map((l) => `blobs/sha256/${hex(l.diffId)}`),
  }]);
  const repositories = JSON.parse(files.get('repositories')!.toString());
  assert.deepEqual(repositories, { busybox: { latest: hex(a.image.layers[1]!.diffId) } });
  assert.deepEqual(JSON.parse(files.get('oci-layout')!.toString()), { imageLayoutVersion: '1.0.0' });
  const index = JSON.parse(files.get('index.json')!.toString());
  assert.equal(index.manifests.length, 1);
  assert.deepEqual(index.manifests[0].annotations, {
    'io.containerd.image.name': 'docker.io/library/busybox:latest', 'org.opencontainers.image.ref.name': 'latest',
  });
  assert.deepEqual(index.manifests[0].platform, { architecture: 'amd64', os: 'linux' });
  const ociManifest = JSON.parse(files.get(`blobs/sha256/${hex(index.manifests[0].digest)}`)!.toString());
  assert.deepEqual(ociManifest.layers.map((l: { digest: string; mediaType: string }) => [l.digest, l.mediaType]),
    a.image.layers.map((l) => [l.diffId, 'application/vnd.oci.image.layer.v1.tar']));
});

test('oci format: layers kept as stored, one descriptor per image named by its first tag', async (t) => {
  const a = await build(['busybox:latest', 'busybox:1'], [BASE, MID, TOP]);
  const b = await build(['localhost:5000/b:2'], [BASE], 'b');
  const archive = await write([a.image, b.image], 'oci');
  const files = new Map((await tarMembers(archive)).map((m) => [m.entry.name, m.data]));
  assert.equal([...files.keys()].filter((n) => n === `blobs/sha256/${hex(a.image.layers[0]!.digest)}`).length, 1);
  assert.ok(!files.has('manifest.json'));
  const index = JSON.parse(files.get('index.json')!.toString());
  assert.deepEqual(index.manifests.map((d: { annotations: Record<string, string> }) => d.annotations), [
    { 'io.containerd.image.name': 'docker.io/library/busybox:latest', 'org.opencontainers.image.ref.name': 'latest' },
    { 'io.containerd.image.name': 'localhost:5000/b:2', 'org.opencontainers.image.ref.name': '2' },
  ]);
  const manifest = JSON.parse(files.get(`blobs/sha256/${hex(index.manifests[0].digest)}`)!.toString());
  assert.deepEqual(manifest.layers.map((l: { mediaType: string }) => l.mediaType), [
    'application/vnd.oci.image.layer.v1.tar+gzip', 'application/vnd.oci.image.layer.v1.tar+zstd',
    'application/vnd.oci.image.layer.v1.tar',
  ]);

  const loaded = await read(archive, t);
  assert.equal(loaded.length, 2);
  assert.deepEqual(loaded.map((i) => i.repoTags), [['busybox:latest'], ['localhost:5000/b:2']]);
  assert.deepEqual(loaded[0]!.config, a.image.config);
  const blobs = (layers: { digest: string; compressed: Compression }[]) => layers.map((l) => [l.digest, l.compressed]);
  assert.deepEqual(blobs(loaded[0]!.layers), blobs(a.image.layers));
  assertLayers(loaded[0]!, a);
  assertLayers(loaded[1]!, b);
});

test('untagged images, images listed twice, and compressed archives', async (t) => {
  const a = await build([], [TOP]);
  const b1 = await build(['b:1'], [BASE], 'b');
  const b2 = { ...b1.image, repoTags: ['b:2'] };
  for (const format of ['docker', 'oci'] as const) {
    const archive = await write([a.image, b1.image, b2], format);
    const loaded = await read(gzipSync(archive), t);
    assert.equal(loaded.length, 2, format);
    assert.deepEqual(loaded[0]!.repoTags, [], format);
    assert.equal(loaded[0]!.configDigest, a.image.configDigest);
    assert.deepEqual(loaded[1]!.repoTags, format === 'docker' ? ['b:1', 'b:2'] : ['b:1'], format);
    assertLayers(loaded[1]!, b1);
    assert.equal((await read(zstdCompressSync(archive), t)).length, 2);
  }
});

test('deterministic output: same input, same bytes; entries sorted, mtime 0', async () => {
  for (const format of ['docker', 'oci'] as const) {
    const images = async () => [(await build(['x:1'], [BASE, MID, TOP])).image, (await build(['y:1'], [MID])).image];
    const one = await write(await images(), format);
    const two = await write(await images(), format);
    assert.ok(one.equals(two), format);
    const entries = (await tarMembers(one)).map((m) => m.entry);
    const names = entries.map((e) => e.name);
    assert.deepEqual(names, [...names].sort(), format);
    assert.ok(entries.every((e) => e.mtime === 0 && e.uid === 0 && e.gid === 0), format);
  }
});

test('writer: a compressed layer is read twice unless its uncompressed size is given; bad input refused', async () => {
  const a = await build(['a:1'], [BASE]);
  await write([a.image], 'docker');
  assert.deepEqual(a.opens, [2]);
  const b = await build(['a:1'], [BASE]);
  b.image.layers[0]!.uncompressedSize = b.tars[0]!.length;
  await write([b.image], 'docker');
  assert.deepEqual(b.opens, [1]);
  await write([b.image], 'oci');
  assert.deepEqual(b.opens, [2]);

  await assert.rejects(write([{ ...a.image, config: Buffer.from('{}') }], 'docker'), InvalidArgument);
  await assert.rejects(write([{ ...a.image, repoTags: ['Bad:tag'] }], 'oci'), InvalidArgument);
  await assert.rejects(write([a.image], 'tar' as ArchiveFormat), InvalidArgument);
  const corrupt = await build(['a:1'], [TOP]);
  corrupt.image.layers[0]!.diffId = sha('something else');
  corrupt.image.layers[0]!.digest = corrupt.image.layers[0]!.diffId;
  await assert.rejects(write([corrupt.image], 'docker'), RuntimeFailure);
  await assert.rejects(write([corrupt.image], 'oci'), RuntimeFailure);
});

// ---------------------------------------------------------------------------------------------- other writers' layouts

test('reader: classic docker layout, members in any order, a shared layer as a symlink', async (t) => {
  const a = await build(['busybox:latest'], [{ ...BASE, compressed: 'none' }, TOP]);
  const b = await build(['other:1'], [{ ...BASE, compressed: 'none' }], 'b');
  const [idA, idTop, idB] = ['a', 'b', 'c'].map((c) => c.repeat(64));
  const manifest = [
    {
      Config: `${hex(a.image.configDigest)}.json`, RepoTags: ['busybox:latest'],
      Layers: [`${idA}/layer.tar`, `./${idTop}/layer.tar`],
    },
    { Config: `${hex(b.image.configDigest)}.json`, RepoTags: ['other:1'], Layers: [`${idB}/layer.tar`] },
  ];
  const archive = await tarOf([
    fileInput('manifest.json', JSON.stringify(manifest)),
    fileInput('repositories', '{}'),
    { entry: tarEntry({ name: `${idB}/`, type: 'dir' }) },
    { entry: tarEntry({ name: `${idB}/layer.tar`, type: 'symlink', linkname: `../${idA}/layer.tar` }) },
    fileInput(`${idB}/VERSION`, '1.0'),
    fileInput(`${hex(b.image.configDigest)}.json`, b.image.config),
    fileInput(`${idA}/layer.tar`, a.tars[0]!),
    fileInput(`${idTop}/layer.tar`, a.tars[1]!),
    fileInput(`${hex(a.image.configDigest)}.json`, a.image.config),
  ]);
  const loaded = await read(archive, t);
  assert.deepEqual(loaded.map((i) => i.repoTags), [['busybox:latest'], ['other:1']]);
  assertLayers(loaded[0]!, a);
  assertLayers(loaded[1]!, b);
  assert.equal(loaded[1]!.layers[0]!.file, loaded[0]!.layers[0]!.file);
});

test('reader: OCI nested index narrowed to this host, names from annotations, attestations skipped', async (t) => {
  const host = await build([], [BASE], 'host', HOST_ARCH);
  const other = await build([], [MID], 'other', OTHER_ARCH);
  const blobs = new Map<string, Buffer>();
  const add = (data: Buffer) => (blobs.set(sha(data), data), { digest: sha(data), size: data.length });
  const manifestOf = (b: Built) => Buffer.from(JSON.stringify({
    schemaVersion: 2, mediaType: MANIFEST,
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...add(b.image.config) },
    layers: b.image.layers.map((l, i) => ({ mediaType: LAYER_GZIP, ...add(compress(b.tars[i]!, l.compressed)) })),
  }));
  const platformManifest = (b: Built, architecture: string) =>
    ({ mediaType: MANIFEST, ...add(manifestOf(b)), platform: { os: 'linux', architecture } });
  const nested = Buffer.from(JSON.stringify({
    schemaVersion: 2, mediaType: INDEX,
    manifests: [
      { mediaType: MANIFEST, digest: sha('absent'), size: 6, platform: { os: 'unknown', architecture: 'unknown' } },
      platformManifest(other, OTHER_ARCH),
      platformManifest(host, HOST_ARCH),
    ],
  }));
  const index = {
    schemaVersion: 2,
    manifests: [
      { mediaType: INDEX, ...add(nested), annotations: { [IMAGE_NAME]: 'docker.io/library/multi:3', [REF_NAME]: '3' } },
      { mediaType: INDEX, ...add(nested), annotations: { [REF_NAME]: 'registry.example/multi:4' } },
      { mediaType: INDEX, ...add(nested), annotations: { [REF_NAME]: 'bare-tag' } },
      { mediaType: 'application/vnd.oci.artifact.whatever', ...add(Buffer.from('artifact')) },
    ],
  };
  const archive = await tarOf([
    fileInput('index.json', JSON.stringify(index)),
    ...[...blobs].map(([d, data]) => fileInput(`blobs/sha256/${hex(d)}`, data)),
    fileInput('oci-layout', OCI_LAYOUT),
  ]);
  const loaded = await read(archive, t);
  assert.equal(loaded.length, 1);
  assert.deepEqual(loaded[0]!.repoTags, ['multi:3', 'registry.example/multi:4']);
  assert.deepEqual(loaded[0]!.config, host.image.config);
  assertLayers(loaded[0]!, host);
});

// ---------------------------------------------------------------------------------------------- refusals

/** Asserts that reading `archive` fails with `invalid archive: …` matching `re`. */
async function refuses(t: TestContext, archive: Buffer, re: RegExp): Promise<void> {
  await assert.rejects(read(archive, t), invalidArchive(re));
}

const members = async (archive: Buffer) => (await tarMembers(archive)).map((m) => fileInput(m.entry.name, m.data));
const replace = (name: string, data: string | Buffer | null) => (n: string, d: Buffer) =>
  n === name ? (data === null ? null : Buffer.from(data)) : d;

test('reader: names and links that leave the archive are refused; nothing is written outside workDir', async (t) => {
  const oci = await write([(await build(['a:1'], [BASE])).image], 'oci');
  const base = tmp(t);
  const cases: [TarInput, RegExp][] = [
    [fileInput('../evil', 'x'), /"..\/evil" climbs out of the archive/],
    [fileInput('blobs/../../evil', 'x'), /climbs out of the archive/],
    [fileInput('/etc/evil', 'x'), /"\/etc\/evil" is absolute/],
    [{ entry: tarEntry({ name: 'l', type: 'symlink', linkname: '../../etc/passwd' }) }, /link "l" points outside/],
    [{ entry: tarEntry({ name: 'd/l', type: 'symlink', linkname: '/etc/passwd' }) }, /points outside/],
    [{ entry: tarEntry({ name: 'h', type: 'hardlink', linkname: '../x' }) }, /climbs out/],
  ];
  for (const [evil, re] of cases) {
    const work = mkdtempSync(join(base, 'work-'));
    const archive = await tarOf([...(await members(oci)), evil]);
    await assert.rejects(readImageArchive(chunks(archive), work), invalidArchive(re), evil.entry.name);
    assert.deepEqual(readdirSync(base).filter((n) => !n.startsWith('work-')), []);
  }
});

test('reader: links inside the archive are followed (symlinked directories, hard links, chains)', async (t) => {
  const a = await build(['a:1'], [TOP]);
  const diff = hex(a.image.layers[0]!.diffId);
  const archive = await tarOf([
    fileInput('manifest.json', JSON.stringify([{ Config: 'cfg/c.json', RepoTags: ['a:1'], Layers: ['l2/layer.tar'] }])),
    fileInput(`store/${diff}`, a.tars[0]!),
    { entry: tarEntry({ name: 'l1', type: 'symlink', linkname: `store/./${diff}` }) },
    { entry: tarEntry({ name: 'l2', type: 'symlink', linkname: 'dir/sub/..' }) },
    { entry: tarEntry({ name: 'dir/layer.tar', type: 'symlink', linkname: '../l1' }) },
    fileInput('config.json', a.image.config),
    { entry: tarEntry({ name: 'cfg/c.json', type: 'hardlink', linkname: 'config.json' }) },
  ]);
  const [loaded] = await read(archive, t);
  assert.deepEqual(loaded!.config, a.image.config);
  assertLayers(loaded!, a);
  const loop = await tarOf([
    fileInput('manifest.json', JSON.stringify([{ Config: 'x', Layers: [] }])),
    { entry: tarEntry({ name: 'x', type: 'symlink', linkname: 'y' }) },
    { entry: tarEntry({ name: 'y', type: 'symlink', linkname: 'x' }) },
  ]);
  await refuses(t, loop, /too many levels of links/);
});

test('reader: blobs that do not match their digest or size, and missing members, are refused', async (t) => {
  const a = await build(['a:1'], [BASE, TOP]);
  const docker = await write([a.image], 'docker');
  const oci = await write([a.image], 'oci');
  const layerBlob = `blobs/sha256/${hex(a.image.layers[0]!.digest)}`;
  const corrupt = await edit(oci, replace(layerBlob, gzipSync('other')));
  await refuses(t, corrupt, /blobs\/sha256\/.* does not match its digest/);
  await refuses(t, await edit(oci, replace(layerBlob, null)), new RegExp(`missing blob ${a.image.layers[0]!.digest}`));
  const topLayer = `blobs/sha256/${hex(a.image.layers[1]!.diffId)}`;
  await refuses(t, await edit(docker, replace(topLayer, null)), new RegExp(`names "${topLayer}", which the archive`));
  await refuses(t, await edit(docker, replace('manifest.json', '[{"Config":"nope"}]')), /entry 1 is malformed/);
  await refuses(t, await edit(docker, replace('manifest.json', '{')), /manifest.json is not valid JSON/);
  await refuses(t, await edit(docker, replace('manifest.json', '[]')), /manifest.json lists no images/);

  const index = (await tarMembers(oci)).find((m) => m.entry.name === 'index.json')!.data.toString();
  const shrunk = index.replace(/"size":\d+/, '"size":1');
  await refuses(t, await edit(oci, replace('index.json', shrunk)), /bytes, but its descriptor says 1$/);
  const other = (await tarMembers(oci)).find((m) => m.entry.name === 'oci-layout')!;
  const layout2 = await edit(oci, replace(other.entry.name, '{"imageLayoutVersion":"2.0.0"}'));
  await refuses(t, layout2, /layout version "2.0.0"/);
});

test('reader: a config that disagrees with its layers is refused', async (t) => {
  const a = await build(['a:1'], [{ ...BASE, compressed: 'none' }, TOP]);
  const layers = a.tars.map((tar) => `blobs/sha256/${hex(sha(tar))}`);
  const archiveWith = async (config: object, layerPaths = layers) => tarOf([
    fileInput('manifest.json', JSON.stringify([{ Config: 'c.json', RepoTags: ['a:1'], Layers: layerPaths }])),
    fileInput('c.json', JSON.stringify(config)),
    ...a.tars.map((tar, i) => fileInput(layers[i]!, tar)),
  ]);
  const diffIds = a.tars.map(sha);
  const good = { rootfs: { diff_ids: diffIds } };
  const wrong = { rootfs: { diff_ids: [diffIds[0], sha('2')] } };
  await refuses(t, await archiveWith(wrong), /the image config says sha256:/);
  await refuses(t, await archiveWith(good, layers.slice(1)), /1 layers, but the image config lists 2/);
  await refuses(t, await archiveWith({ rootfs: {} }), /no valid rootfs.diff_ids/);
  await refuses(t, await edit(await archiveWith(good), replace('c.json', 'x')), /not valid JSON/);
  const badTag = (await archiveWith({ rootfs: { diff_ids: diffIds } })).toString('latin1').replace('"a:1"', '"A:1"');
  await refuses(t, Buffer.from(badTag, 'latin1'), /invalid tag "A:1"/);
  assert.equal((await read(await archiveWith({ rootfs: { diff_ids: diffIds } }), t)).length, 1);
});

test('reader: garbage, empty input and unknown layouts are refused with a clear message', async (t) => {
  const docker = await write([(await build(['a:1'], [BASE])).image], 'docker');
  const gz = gzipSync(docker);
  await refuses(t, Buffer.alloc(0), /^invalid archive: the input is empty$/);
  await refuses(t, Buffer.from('this is not an archive at all, just some text'.repeat(40)), /is not a tar archive/);
  await refuses(t, gzipSync(Buffer.from('gzip, but not a tar inside'.repeat(40))), /is not a tar archive/);
  await refuses(t, gz.subarray(0, gz.length >> 1), /^invalid archive: corrupt gzip stream/);
  await refuses(t, docker.subarray(0, 3000), /^invalid archive: truncated tar archive/);
  await refuses(t, Buffer.alloc(1024), /the tar archive holds no files/);
  await refuses(t, await tarFiles({ 'hello.txt': 'hi' }), /neither a docker archive .* nor an OCI image layout/);
  const legacy = { repositories: '{}', [`${'d'.repeat(64)}/json`]: '{}', [`${'d'.repeat(64)}/layer.tar`]: '' };
  await refuses(t, await tarFiles(legacy), /from before docker 1\.10 \(no manifest.json\)/);
  const emptyIndex = { 'index.json': '{"schemaVersion":2,"manifests":[]}', 'oci-layout': OCI_LAYOUT };
  await refuses(t, await tarFiles(emptyIndex), /index.json lists no image for linux\//);
});

// ---------------------------------------------------------------------------------------------- interop

function skopeo(args: string[]): string {
  return execFileSync(SKOPEO, ['--insecure-policy', ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

const skopeoOk = existsSync(SKOPEO);
const noSkopeo = skopeoOk ? false : `skopeo is not installed at ${SKOPEO}: interop with containers/image not checked`;

test('skopeo reads our docker-archive and oci-archive', { skip: noSkopeo }, async (t) => {
  const dir = tmp(t);
  const a = await build(['busybox:latest'], [BASE, MID, TOP]);
  const b = await build(['localhost:5000/app:1'], [BASE], 'b');
  const dockerFile = join(dir, 'docker.tar');
  const ociFile = join(dir, 'oci.tar');
  writeFileSync(dockerFile, await write([a.image], 'docker'));
  writeFileSync(ociFile, await write([a.image], 'oci'));
  const diffIds = a.image.layers.map((l) => l.diffId);

  const fromDocker = JSON.parse(skopeo(['inspect', `docker-archive:${dockerFile}`]));
  assert.deepEqual(fromDocker.Layers, diffIds);
  assert.deepEqual(fromDocker.Env, ['TAGS=busybox:latest']);
  const fromOci = JSON.parse(skopeo(['inspect', `oci-archive:${ociFile}`]));
  assert.deepEqual(fromOci.Layers, a.image.layers.map((l) => l.digest));
  assert.deepEqual(JSON.parse(skopeo(['inspect', '--config', `oci-archive:${ociFile}`])).rootfs.diff_ids, diffIds);
  // The docker layout is an OCI layout too.
  assert.deepEqual(JSON.parse(skopeo(['inspect', `oci-archive:${dockerFile}`])).Layers, diffIds);

  const both = join(dir, 'both.tar');
  writeFileSync(both, await write([a.image, b.image], 'docker'));
  assert.deepEqual(JSON.parse(skopeo(['inspect', `docker-archive:${both}:localhost:5000/app:1`])).Layers, [diffIds[0]]);
  assert.deepEqual(JSON.parse(skopeo(['inspect', `docker-archive:${both}:@0`])).Layers, diffIds);
});

test('we read what skopeo writes: an oci layout and a classic docker-archive', { skip: noSkopeo }, async (t) => {
  const dir = tmp(t);
  // No zstd layer: skopeo 1.9 cannot convert one to a docker-archive.
  const a = await build(['busybox:latest'], [BASE, { ...MID, compressed: 'gzip' }, TOP]);
  const dockerFile = join(dir, 'docker.tar');
  writeFileSync(dockerFile, await write([a.image], 'docker'));

  const layoutDir = join(dir, 'layout');
  skopeo(['copy', '-q', `docker-archive:${dockerFile}`, `oci:${layoutDir}:example.com/copied:v1`]);
  const [copied] = await readImageArchive(await packPath(layoutDir, { name: '' }), tmp(t));
  assert.deepEqual(copied!.repoTags, ['example.com/copied:v1']);
  assert.deepEqual(copied!.config, a.image.config);
  assertLayers(copied!, a);

  const ociDir = join(dir, 'ours');
  mkdirSync(ociDir);
  const extract = { onSymlinkInPath: 'reject', whiteouts: 'keep', noSameOwner: true } as const;
  await extractTar(chunks(await write([a.image], 'oci')), ociDir, extract);
  const fromSkopeo = join(dir, 'skopeo-docker.tar');
  skopeo(['copy', '-q', `oci:${ociDir}:latest`, `docker-archive:${fromSkopeo}:example.com/back:v2`]);
  const [back] = await readImageArchive(createReadStream(fromSkopeo), tmp(t));
  assert.deepEqual(back!.repoTags, ['example.com/back:v2']);
  assert.deepEqual(back!.config, a.image.config);
  assertLayers(back!, a);
  assert.ok(back!.layers.every((l) => l.compressed === 'none' && l.diffId));
});
