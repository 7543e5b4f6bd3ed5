import { test } from 'node:test';
import assert from 'node:assert/strict';
import { encodeFrame, FrameDecoder, HEADER_SIZE } from '../../src/engine/frame.ts';
import { demux } from '../../src/runtime/conmon/attach.ts';

test('encodeFrame writes the 8-byte header and the payload', () => {
  const f = encodeFrame(2, Buffer.from('oops\n'));
  assert.deepEqual([...f.subarray(0, HEADER_SIZE)], [2, 0, 0, 0, 0, 0, 0, 5]);
  assert.equal(f.subarray(HEADER_SIZE).toString(), 'oops\n');
  const big = encodeFrame(1, Buffer.alloc(0x010203, 0x61));
  assert.deepEqual([...big.subarray(0, HEADER_SIZE)], [1, 0, 0, 0, 0, 0x01, 0x02, 0x03]);
  assert.deepEqual([...encodeFrame(0, Buffer.alloc(0))], [0, 0, 0, 0, 0, 0, 0, 0]);
});

test('FrameDecoder: several frames in one chunk', () => {
  const d = new FrameDecoder();
  const chunk = Buffer.concat([
    encodeFrame(1, Buffer.from('a')),
    encodeFrame(2, Buffer.from('bc')),
    encodeFrame(0, Buffer.alloc(0)),
    encodeFrame(3, Buffer.from('err')),
  ]);
  const frames = d.push(chunk);
  assert.deepEqual(
    frames.map((f) => [f.stream, f.data.toString()]),
    [[1, 'a'], [2, 'bc'], [0, ''], [3, 'err']],
  );
  assert.equal(d.buffered, 0);
});

test('FrameDecoder: frames split at every byte boundary', () => {
  const all = Buffer.concat([encodeFrame(1, Buffer.from('hello')), encodeFrame(2, Buffer.from('world!'))]);
  for (let cut = 0; cut <= all.length; cut++) {
    const d = new FrameDecoder();
    const frames = [...d.push(all.subarray(0, cut)), ...d.push(all.subarray(cut))];
    assert.deepEqual(frames.map((f) => [f.stream, f.data.toString()]), [[1, 'hello'], [2, 'world!']], `cut at ${cut}`);
  }
  // One byte at a time.
  const d = new FrameDecoder();
  const out: string[] = [];
  for (const b of all) for (const f of d.push(Buffer.from([b]))) out.push(`${f.stream}:${f.data.toString()}`);
  assert.deepEqual(out, ['1:hello', '2:world!']);
});

test('FrameDecoder: a large payload fed in small chunks, with a partial next frame', () => {
  const payload = Buffer.alloc(1 << 20);
  for (let i = 0; i < payload.length; i++) payload[i] = i & 0xff;
  const all = Buffer.concat([encodeFrame(1, payload), encodeFrame(2, Buffer.from('tail'))]);
  const d = new FrameDecoder();
  const frames = [];
  for (let off = 0; off < all.length - 3; off += 4096) frames.push(...d.push(all.subarray(off, Math.min(off + 4096, all.length - 3))));
  assert.equal(frames.length, 1);
  assert.equal(frames[0]!.stream, 1);
  assert.ok(frames[0]!.data.equals(payload));
  assert.equal(d.buffered, 9);
  assert.deepEqual(d.push(all.subarray(all.length - 3)).map((f) => f.data.toString()), ['tail']);
});

test('FrameDecoder rejects non-zero header bytes and unknown stream ids', () => {
  assert.throws(() => new FrameDecoder().push(Buffer.from([1, 0, 1, 0, 0, 0, 0, 0])), /bytes 1-3 must be zero/);
  assert.throws(() => new FrameDecoder().push(Buffer.from([1, 9, 0, 0, 0, 0, 0, 0])), /bytes 1-3 must be zero/);
  assert.throws(() => new FrameDecoder().push(Buffer.from([4, 0, 0, 0, 0, 0, 0, 1, 0x61])), /unknown stream id 4/);
  // A bad header after a good frame in the same chunk: the whole push fails (the stream is corrupt).
  const d = new FrameDecoder();
  assert.throws(() => d.push(Buffer.concat([encodeFrame(1, Buffer.from('x')), Buffer.from([7, 0, 0, 0, 0, 0, 0, 0])])), /unknown stream id 7/);
  // Not enough bytes for a header yet: nothing to judge.
  assert.deepEqual(new FrameDecoder().push(Buffer.from([9, 9, 9])), []);
});

test('demux: conmon attach packets', () => {
  assert.deepEqual(demux(Buffer.from([2, 0x68, 0x69])), { stream: 'stdout', data: Buffer.from('hi') });
  assert.deepEqual(demux(Buffer.from([3, 0x65])), { stream: 'stderr', data: Buffer.from('e') });
  assert.deepEqual(demux(Buffer.from([2])), { stream: 'stdout', data: Buffer.alloc(0) });
  assert.equal(demux(Buffer.alloc(0)), null);
  assert.equal(demux(Buffer.from([1, 0x61])), null);
});
