/**
 * What unpacking may take (src/image/unpack-limits.ts): sizes in docker's units, the free-space decision,
 * a layer's tar counted to the last byte against its cap, and one image's cap held across layers unpacked
 * at once on worker threads.
 */
import assert from 'node:assert/strict';
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { InvalidArgument, NoSpace } from '../../src/errors.ts';
import { unpackInto } from '../../src/image/unpack.ts';
import { unpackInWorker } from '../../src/image/unpack-pool.ts';
import {
  archiveBound, checkArchiveSize, checkInterval, checkRoom, DiskWatch, imageBudget, LayerMeter, spaceVerdict,
  type SpaceFacts,
} from '../../src/image/unpack-limits.ts';
import { bytesIn, exactSize, roughSize } from '../../src/units.ts';
import { tarOf } from '../fixtures/oci-image.ts';
import { chunks, scratchDir } from './util.ts';

const KiB = 1024;
const MiB = 1024 ** 2;
const GiB = 1024 ** 3;

test('sizes: docker\'s RAMInBytes in, exact and rounded binary sizes out', () => {
  assert.equal(bytesIn('2048'), 2048);
  assert.equal(bytesIn('8MiB'), 8 * MiB);
  assert.equal(bytesIn('500MB'), 500 * MiB);
  assert.equal(bytesIn('16g'), 16 * GiB);
  assert.equal(bytesIn(' 1.5 GiB '), 1.5 * GiB);
  assert.equal(bytesIn('1PB'), 1024 ** 5);
  for (const bad of ['', 'lots', '-1', '8 parsecs', '1e9', '0x10', 'MiB']) assert.equal(bytesIn(bad), undefined, bad);
  assert.equal(exactSize(16 * GiB), '16GiB');
  assert.equal(exactSize(8 * MiB), '8MiB');
  assert.equal(exactSize(1536 * MiB), '1536MiB');
  assert.equal(exactSize(1000), '1000 bytes');
  assert.equal(roughSize(3.25 * MiB), '3.3MiB');
  assert.equal(roughSize(512), '512 bytes');
  assert.equal(roughSize(2 * GiB), '2.0GiB');
});

/** statfs numbers for a file system of `total` bytes with `free` available, in 4 KiB blocks. */
const fs = (total: number, free: number): SpaceFacts => ({ bsize: 4096, blocks: total / 4096, bavail: free / 4096 });

test('free space: the reserve is the smaller of 2 GiB and 5% of the file system', () => {
  assert.deepEqual(spaceVerdict(fs(100 * GiB, 3 * GiB)), { free: 3 * GiB, reserve: 2 * GiB, freeInodes: Infinity, inodeReserve: Infinity, enough: true });
  assert.deepEqual(spaceVerdict(fs(100 * GiB, 2 * GiB - 4096)), { free: 2 * GiB - 4096, reserve: 2 * GiB, freeInodes: Infinity, inodeReserve: Infinity, enough: false });
  // a small file system keeps 5%
  assert.equal(spaceVerdict(fs(20 * GiB, 1.5 * GiB)).reserve, 1 * GiB);
  assert.equal(spaceVerdict(fs(20 * GiB, 1.5 * GiB)).enough, true);
  assert.equal(spaceVerdict(fs(64 * MiB, 3 * MiB)).enough, false);
  assert.equal(spaceVerdict(fs(64 * MiB, 4 * MiB)).enough, true);
  // how often it is read: every 64 MiB, at most half the reserve apart, never under 1 MiB
  assert.equal(checkInterval(2 * GiB), 64 * MiB);
  assert.equal(checkInterval(Math.floor(64 * MiB * 0.05)), Math.floor(64 * MiB * 0.05 / 2));
  assert.equal(checkInterval(100 * KiB), MiB);
});

test('DiskWatch reads statfs once at the start and then every interval; refuses below the reserve with NoSpace', () => {
  let free = 10 * MiB;
  let reads = 0;
  const statfs = () => (reads++, fs(64 * MiB, free));
  const w = new DiskWatch('/some/layers', statfs);
  assert.equal(reads, 1, 'read at once');
  const interval = checkInterval(spaceVerdict(fs(64 * MiB, free)).reserve);
  w.add(interval - 1);
  assert.equal(reads, 1);
  w.add(1);
  assert.equal(reads, 2);
  free = 3 * MiB;
  w.add(interval - 1);
  assert.equal(reads, 2, 'not read again before the interval');
  assert.throws(() => w.add(1), (e: unknown) => {
    assert.ok(e instanceof NoSpace);
    assert.equal((e as Error).message, 'stopped with 3.0MiB free on the file system of /some/layers, less than the 3.2MiB kept free');
    return true;
  });
  // a disk already below its reserve refuses before anything is written
  assert.throws(() => new DiskWatch('/x', () => fs(64 * MiB, MiB)), NoSpace);
  // a download must leave the reserve too
  checkRoom('/x', 6 * MiB, () => fs(64 * MiB, 10 * MiB));
  assert.throws(() => checkRoom('/x', 7 * MiB, () => fs(64 * MiB, 10 * MiB)), /7\.0MiB would leave 3\.0MiB free on the file system of \/x, less than the 3\.2MiB kept free/);
});

test('inodes: where the file system has a fixed number, an unpack stops below the reserve of them; elsewhere they do not count', () => {
  const withInodes = (files: number, ffree: number): SpaceFacts => ({ ...fs(100 * GiB, 50 * GiB), files, ffree });
  assert.equal(spaceVerdict(withInodes(6_553_600, 100_000)).inodeReserve, 100_000);
  assert.equal(spaceVerdict(withInodes(6_553_600, 100_000)).enough, true);
  assert.equal(spaceVerdict(withInodes(6_553_600, 99_999)).enough, false);
  assert.equal(spaceVerdict(withInodes(1_000_000, 50_000)).inodeReserve, 50_000);
  // btrfs and xfs report no fixed count (files 0): inodes never stop an unpack there
  assert.equal(spaceVerdict(withInodes(0, 0)).enough, true);
  assert.equal(spaceVerdict(withInodes(0, 0)).freeInodes, Infinity);
  // at most half the inode reserve can be used between two reads, at one inode per 512-byte tar header
  assert.equal(checkInterval(2 * GiB, 50_000), 25_000 * 512);
  assert.equal(checkInterval(2 * GiB, 1_000_000), 64 * MiB);
  let ffree = 200_000;
  let reads = 0;
  const w = new DiskWatch('/some/layers', () => (reads++, withInodes(1_000_000, ffree)));
  ffree = 49_999;
  w.add(25_000 * 512 - 1);
  assert.equal(reads, 1);
  assert.throws(() => w.add(1), (e: unknown) => {
    assert.ok(e instanceof NoSpace);
    assert.equal((e as Error).message, 'stopped with 49999 free inodes on the file system of /some/layers, less than the 50000 kept free');
    return true;
  });
});

const roomy = () => fs(100 * GiB, 50 * GiB);

test('LayerMeter: a layer may be exactly its cap; one byte more is refused; every layer adds to the image', () => {
  const budget = imageBudget({ maxLayerSize: 8 * MiB, maxImageSize: 12 * MiB });
  const a = new LayerMeter({ budget, disk: '/x' }, roomy);
  a.add(4 * MiB);
  a.add(4 * MiB);
  assert.throws(() => a.add(1), (e: unknown) => e instanceof InvalidArgument && (e as Error).message === 'expands to more than 8MiB (max-layer-size)');
  const b = new LayerMeter({ budget, disk: '/x' }, roomy);
  b.add(4 * MiB - 1);
  assert.throws(() => b.add(2), (e: unknown) => e instanceof InvalidArgument && (e as Error).message === 'the image expands to more than 12MiB (max-image-size)');
  // no budget (a commit): only the disk counts
  new LayerMeter({ disk: '/x' }, roomy).add(100 * GiB);
});

test('archives: a compressed size past the bound cannot be within the cap', () => {
  const caps = { maxLayerSize: 8 * MiB, maxImageSize: 64 * MiB };
  checkArchiveSize(archiveBound(8 * MiB), caps);
  assert.throws(() => checkArchiveSize(archiveBound(8 * MiB) + 1, caps), /its archive alone is 8\.1MiB, more than the 8MiB a layer may expand to \(max-layer-size\)/);
  // incompressible data grows a little when gzipped, and stays within the bound
  const random = Buffer.alloc(8 * MiB);
  for (let i = 0; i < random.length; i += 4) random.writeUInt32LE((Math.random() * 2 ** 32) >>> 0, i);
  assert.ok(gzipSync(random).length > random.length);
  assert.ok(gzipSync(random).length <= archiveBound(random.length));
});

test('unpackInto counts the whole tar stream, even bytes after its end blocks', async (t) => {
  const dir = scratchDir(t, 'berth-limits-');
  const small = await tarOf([{ name: 'f', data: 'hi' }]);
  const trailing = Buffer.concat([small, Buffer.alloc(9 * MiB)]);
  const limits = { budget: imageBudget({ maxLayerSize: 8 * MiB, maxImageSize: 64 * MiB }), disk: dir };
  mkdirSync(join(dir, 'a'));
  await assert.rejects(unpackInto(chunks(gzipSync(trailing), 64 * KiB), join(dir, 'a'), limits), /expands to more than 8MiB \(max-layer-size\)/);
  // a sparse file: 9 MiB of zeros is 9 MiB of tar, however little disk it takes
  mkdirSync(join(dir, 'b'));
  const zeros = await tarOf([{ name: 'zeros', data: Buffer.alloc(9 * MiB) }]);
  await assert.rejects(unpackInto(chunks(gzipSync(zeros), 64 * KiB), join(dir, 'b'), limits), /max-layer-size/);
  mkdirSync(join(dir, 'c'));
  const ok = await unpackInto(chunks(gzipSync(small), 64 * KiB), join(dir, 'c'), limits);
  assert.equal(ok.bytes, 2);
  assert.deepEqual(readdirSync(join(dir, 'c')), ['f']);
});

test('one image cap across layers unpacked at once on worker threads (a shared counter)', async (t) => {
  const dir = scratchDir(t, 'berth-limits-');
  const layers: string[] = [];
  for (let i = 0; i < 4; i++) {
    const file = join(dir, `layer${i}.tar.gz`);
    writeFileSync(file, gzipSync(await tarOf([{ name: `part${i}`, data: Buffer.alloc(5 * MiB, i + 1) }])));
    layers.push(file);
  }
  // Each layer is within the layer cap; two fit in the image, four do not.
  const unpackAll = (n: number, round: string) => {
    const budget = imageBudget({ maxLayerSize: 6 * MiB, maxImageSize: 11 * MiB });
    const runs = layers.slice(0, n).map((f, i) => {
      mkdirSync(join(dir, `${round}${i}`));
      return unpackInWorker(f, join(dir, `${round}${i}`), { budget, disk: dir });
    });
    return { budget, results: Promise.allSettled(runs) };
  };
  let { budget, results } = unpackAll(2, 'two');
  assert.deepEqual((await results).map((r) => r.status), ['fulfilled', 'fulfilled']);
  const counted = Number(new BigInt64Array(budget.counter)[0]);
  assert.ok(counted > 10 * MiB && counted < 11 * MiB, `both layers' tars were counted in one place: ${counted}`);
  ({ budget, results } = unpackAll(4, 'four'));
  const settled = await results;
  const refused = settled.filter((r) => r.status === 'rejected').map((r) => (r as PromiseRejectedResult).reason as Error);
  assert.ok(refused.length >= 1, 'the image cap holds across the workers');
  for (const e of refused) {
    assert.ok(e instanceof InvalidArgument, `rebuilt as InvalidArgument across the thread: ${e}`);
    assert.match(e.message, /^the image expands to more than 11MiB \(max-image-size\)$/);
  }
});
