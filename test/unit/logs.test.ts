/** src/logs: the drivers' option checks, the two file formats' decoders, and the tail's line counting. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { checkLogConfig, expandTag, humanSize, logAttributes, logFile } from '../../src/logs/drivers.ts';
import { decodeEntry, decodeJsonFile, decodeLocal, nanoTime, parseJsonLine } from '../../src/logs/formats.ts';
import { bufferSource, LastLines, lastFrameEnd, visitFramesBackward, visitLinesBackward } from '../../src/logs/tail.ts';
import type { LogRecord } from '../../src/runtime/driver.ts';

test('humanSize is docker\'s FromHumanSize: decimal units, optional i and b', () => {
  assert.equal(humanSize('10m'), 10_000_000);
  assert.equal(humanSize('2k'), 2000);
  assert.equal(humanSize('1.5KB'), 1500);
  assert.equal(humanSize('3 MiB'), 3_000_000);
  assert.equal(humanSize('42'), 42);
  assert.equal(humanSize('lots'), undefined);
  assert.equal(humanSize('-1m'), undefined);
});

test('checkLogConfig: defaults, rotation and docker\'s refusals per driver', () => {
  assert.deepEqual(checkLogConfig('json-file', {}), { maxSize: -1, maxFile: 1, compress: false });
  assert.deepEqual(checkLogConfig('json-file', { 'max-size': '10m', 'max-file': '3', compress: 'true' }), { maxSize: 10_000_000, maxFile: 3, compress: true });
  assert.deepEqual(checkLogConfig('local', {}), { maxSize: 20 * 1024 * 1024, maxFile: 5, compress: true });
  assert.deepEqual(checkLogConfig('local', { 'max-size': '0', compress: 'false', 'max-file': '1' }), { maxSize: -1, maxFile: 1, compress: false });
  assert.deepEqual(checkLogConfig('k8s-file', { 'max-size': '64k' }), { maxSize: 65536, maxFile: 1, compress: false });
  assert.deepEqual(checkLogConfig('none', {}), { maxSize: -1, maxFile: 1, compress: false });
  const refused: [string, Record<string, string>, RegExp][] = [
    ['json-file', { 'max-size': '0' }, /max-size must be a positive number/],
    ['json-file', { 'max-file': '0' }, /max-file cannot be less than 1/],
    ['json-file', { 'max-file': 'x' }, /max-file .* not a whole number/],
    ['json-file', { compress: 'true', 'max-file': '2' }, /compress cannot be true/],
    ['json-file', { compress: 'maybe' }, /not a boolean/],
    ['json-file', { 'max-buffer-size': '1m' }, /unknown log opt 'max-buffer-size' for json-file log driver/],
    ['local', { 'max-file': '-1', compress: 'false' }, /max-file must not be negative/],
    ['local', { 'max-file': '1' }, /compression cannot be enabled when max file count is 1/],
    ['none', { 'max-size': '1m' }, /unknown log opt 'max-size' for none log driver/],
    ['syslog', {}, /no log driver named 'syslog'/],
  ];
  for (const [driver, opts, want] of refused) assert.throws(() => checkLogConfig(driver, opts), want, `${driver} ${JSON.stringify(opts)}`);
});

test('tag templates and attributes from labels and env', () => {
  const c = { id: 'a'.repeat(64), name: 'web', imageName: 'busybox', imageId: `sha256:${'b'.repeat(64)}` };
  assert.equal(expandTag('{{.Name}}/{{ .ID }}/{{.ImageID}}', c), `web/${'a'.repeat(12)}/${'b'.repeat(12)}`);
  assert.throws(() => expandTag('{{.Bogus}}', c), /no field Bogus/);
  const attrs = logAttributes({ labels: 'team,missing', 'env-regex': '^MO', tag: '{{.Name}}' }, { team: 'db', other: 'x' }, ['MODE=fast', 'MOOD=ok', 'PATH=/bin', 'BARE'], c);
  assert.deepEqual(attrs, { team: 'db', MODE: 'fast', MOOD: 'ok', tag: 'web' });
  assert.equal(logFile('json-file', '/d', 'ID'), '/d/ID-json.log');
  assert.equal(logFile('local', '/d', 'ID'), '/d/local-logs/container.log');
  assert.equal(logFile('journald', '/d', 'ID'), null);
});

test('json-file lines decode to records; a torn last line waits, a broken one is skipped', () => {
  const text = '{"log":"a\\n","stream":"stdout","time":"2026-01-02T03:04:05.5Z"}\nnot json\n{"log":"frag","stream":"stderr","time":"2026-01-02T03:04:06Z"}\n{"log":"to';
  const { records, consumed } = decodeJsonFile(Buffer.from(text));
  assert.deepEqual(records.map((r) => [r.stream, r.data.toString(), r.time]), [['stdout', 'a\n', '2026-01-02T03:04:05.5Z'], ['stderr', 'frag', '2026-01-02T03:04:06Z']]);
  assert.equal(text.slice(consumed), '{"log":"to');
  assert.equal(parseJsonLine(Buffer.from('{"stream":"stdout"}')), null, 'no time: not a record');
});

/** A local-format record as docker frames it. */
function frame(source: string, timeNano: bigint, line: string, partial = false): Buffer {
  const varint = (v: bigint) => {
    const out: number[] = [];
    while (v >= 0x80n) {
      out.push(Number(v & 0x7fn) | 0x80);
      v >>= 7n;
    }
    out.push(Number(v));
    return Buffer.from(out);
  };
  const bytes = (field: number, b: Buffer) => Buffer.concat([varint(BigInt((field << 3) | 2)), varint(BigInt(b.length)), b]);
  const msg = Buffer.concat([
    bytes(1, Buffer.from(source)),
    varint(2n << 3n), varint(timeNano),
    ...(line ? [bytes(3, Buffer.from(line))] : []),
    ...(partial ? [varint(4n << 3n), varint(1n)] : []),
    bytes(6, Buffer.concat([bytes(1, Buffer.from('k')), bytes(2, Buffer.from('v'))])), // attrs are skipped
  ]);
  const size = Buffer.alloc(4);
  size.writeUInt32BE(msg.length);
  return Buffer.concat([size, msg, size]);
}

test('local frames decode forwards and backwards; a partial frame at the end waits', () => {
  const t = 1_767_322_245_123_456_789n;
  const file = Buffer.concat([frame('stdout', t, 'one'), frame('stderr', t + 1n, 'par', true), frame('stderr', t + 2n, 'tial'), frame('stdout', t + 3n, '')]);
  const torn = Buffer.concat([file, frame('stdout', t, 'cut').subarray(0, 9)]);
  const { records, consumed } = decodeLocal(torn);
  assert.equal(consumed, file.length);
  assert.deepEqual(records.map((r) => [r.stream, r.data.toString()]), [['stdout', 'one\n'], ['stderr', 'par'], ['stderr', 'tial\n'], ['stdout', '\n']]);
  assert.equal(records[0]!.time, '2026-01-02T02:50:45.123456789Z');
  assert.equal(nanoTime(0n), '1970-01-01T00:00:00.000000000Z');
  assert.equal(lastFrameEnd(bufferSource(torn)), file.length, 'a torn write is found by walking the frames');
  assert.equal(lastFrameEnd(bufferSource(file)), file.length);
  const back: string[] = [];
  visitFramesBackward(bufferSource(file), file.length, decodeEntry, (r) => (back.push(r.data.toString()), false));
  assert.deepEqual(back, ['\n', 'tial\n', 'par', 'one\n']);
});

const rec = (stream: 'stdout' | 'stderr', data: string): LogRecord => ({ time: '2026-01-01T00:00:00Z', stream, data: Buffer.from(data) });

test('LastLines counts lines by where they end, fragments with their line, both streams together', () => {
  // stdout "ab" in two fragments, stderr e1, stdout cd, stdout "x" unfinished
  const recs = [rec('stdout', 'a'), rec('stderr', 'e1\n'), rec('stdout', 'b\n'), rec('stdout', 'cd\n'), rec('stdout', 'x')];
  const pick = (n: number) => {
    const p = new LastLines(n);
    for (const r of [...recs].reverse()) if (p.visit(r)) break;
    return p.records().map((r) => r.data.toString());
  };
  assert.deepEqual(pick(1), ['x']);
  assert.deepEqual(pick(2), ['cd\n', 'x']);
  assert.deepEqual(pick(3), ['a', 'b\n', 'cd\n', 'x']);
  assert.deepEqual(pick(4), ['a', 'e1\n', 'b\n', 'cd\n', 'x']);
  assert.deepEqual(pick(0), []);
  // the same read backwards from json-file bytes in small chunks
  const text = Buffer.from(recs.map((r) => `${JSON.stringify({ log: r.data.toString(), stream: r.stream, time: r.time })}\n`).join(''));
  const p = new LastLines(3);
  visitLinesBackward(bufferSource(text), text.length, parseJsonLine, (r) => p.visit(r));
  assert.deepEqual(p.records().map((r) => r.data.toString()), ['a', 'b\n', 'cd\n', 'x']);
});
