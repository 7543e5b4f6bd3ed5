/**
 * A blob read while it downloads (src/image/growing-file.ts): the reader never passes what the writer
 * published, waits for more, ends at the blob's size, and fails when the download stops or starts over;
 * a layer unpacked that way on a worker thread gets the same diff id as from the finished file.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { appendFileSync, mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { gzipSync } from 'node:zlib';
import { RuntimeFailure } from '../../src/errors.ts';
import { FileRestarted, GrowingFile, readGrowingFile } from '../../src/image/growing-file.ts';
import { UnpackWorkers } from '../../src/image/unpack-pool.ts';
import { tarOf } from '../fixtures/oci-image.ts';
import { collect, scratchDir } from './util.ts';

test('reads only what was published, waits for the rest, and follows the rename onto the blob', async (t) => {
  const dir = scratchDir(t, 'berth-growing-');
  const blob = join(dir, 'blob');
  const data = randomBytes(300_000);
  const g = new GrowingFile(blob, data.length);
  const seen: number[] = [0];
  const reading = (async () => {
    const parts: Buffer[] = [];
    for await (const c of readGrowingFile(g.share, 64 * 1024)) {
      parts.push(c);
      seen.push(parts.reduce((n, p) => n + p.length, 0));
    }
    return Buffer.concat(parts);
  })();
  // Bytes in the file but not yet published are not read.
  writeFileSync(`${blob}.partial`, data.subarray(0, 200_000));
  g.wrote(100_000);
  await sleep(20);
  assert.equal(seen.at(-1), 100_000);
  g.wrote(200_000);
  appendFileSync(`${blob}.partial`, data.subarray(200_000));
  renameSync(`${blob}.partial`, blob);
  g.wrote(data.length);
  assert.ok((await reading).equals(data));
});

test('a download that stops or starts over fails its reader', async (t) => {
  const dir = scratchDir(t, 'berth-growing-');
  const blob = join(dir, 'blob');
  writeFileSync(`${blob}.partial`, Buffer.alloc(1000, 1));
  const stopped = new GrowingFile(blob, 4000);
  stopped.wrote(1000);
  const r1 = collect(readGrowingFile(stopped.share));
  await sleep(10);
  stopped.abort();
  await assert.rejects(r1, (e) => e instanceof RuntimeFailure && /the download stopped/.test(e.message));

  const restarted = new GrowingFile(blob, 4000);
  restarted.wrote(1000);
  const r2 = collect(readGrowingFile(restarted.share));
  await sleep(10);
  restarted.wrote(0);
  await assert.rejects(r2, FileRestarted);
  assert.equal(restarted.restarted, true);
});

test('a layer unpacked on a worker while its blob grows has the diff id of its tar', async (t) => {
  const dir = scratchDir(t, 'berth-growing-');
  const tar = await tarOf([{ name: 'a/' }, { name: 'a/big', data: randomBytes(3 << 20) }, { name: 'a/small', data: 'x\n' }]);
  const gz = gzipSync(tar);
  const blob = join(dir, 'blob');
  const g = new GrowingFile(blob, gz.length);
  const workers = new UnpackWorkers();
  t.after(() => workers.close());
  workers.warmFor([gz.length], 1);
  mkdirSync(join(dir, 'out'));
  const unpacking = workers.unpack({ file: blob, growing: g.share }, join(dir, 'out'), { disk: dir });
  for (let at = 0; at < gz.length; at += 256 * 1024) {
    appendFileSync(`${blob}.partial`, gz.subarray(at, at + 256 * 1024));
    g.wrote(Math.min(gz.length, at + 256 * 1024));
    await sleep(2);
  }
  const { diffId, bytes } = await unpacking;
  assert.equal(diffId, `sha256:${createHash('sha256').update(tar).digest('hex')}`);
  assert.equal(bytes, (3 << 20) + 2);
});
