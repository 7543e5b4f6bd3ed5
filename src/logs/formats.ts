/**
 * Decoding docker's two log file formats into log records, a chunk at a time (a chunk may end mid-record:
 * what is consumed says where the next read starts).
 *
 * - json-file: one JSON object per line, `{"log":"…\n","stream":"stdout","time":"RFC3339Nano"}`; a record
 *   whose `log` has no final newline is a fragment of a longer line.
 * - local: protobuf LogEntry messages (source 1, time_nano 2, line 3, partial 4), each framed by its
 *   size as a 4-byte big-endian number before and after; `line` has no newline, `partial` marks fragments.
 */
import type { LogRecord, StreamName } from '../runtime/driver.ts';

export interface Decoded {
  records: LogRecord[];
  consumed: number;
}

export type Decoder = (buf: Buffer) => Decoded;

/** One json-file line (without its newline) as a record; null when it is not one (a line a full disk tore). */
export function parseJsonLine(line: Buffer): LogRecord | null {
  let o: { log?: unknown; stream?: unknown; time?: unknown; attrs?: unknown };
  try {
    o = JSON.parse(line.toString('utf8'));
  } catch {
    return null;
  }
  if (typeof o?.time !== 'string') return null;
  const rec: LogRecord = { time: o.time, stream: o.stream === 'stderr' ? 'stderr' : 'stdout', data: Buffer.from(typeof o.log === 'string' ? o.log : '', 'utf8') };
  if (o.attrs && typeof o.attrs === 'object') rec.attrs = Object.fromEntries(Object.entries(o.attrs).map(([k, v]) => [k, String(v)]));
  return rec;
}

export function decodeJsonFile(buf: Buffer): Decoded {
  const records: LogRecord[] = [];
  let pos = 0;
  for (;;) {
    const nl = buf.indexOf(0x0a, pos);
    if (nl < 0) break;
    const rec = parseJsonLine(buf.subarray(pos, nl));
    pos = nl + 1;
    if (rec) records.push(rec);
  }
  return { records, consumed: pos };
}

/** A protobuf varint at `pos`: its value and the position after it; null when the buffer ends first. */
function varint(buf: Buffer, pos: number): { value: bigint; next: number } | null {
  let value = 0n;
  let shift = 0n;
  for (let i = pos; i < buf.length && shift < 70n; i++) {
    const b = buf[i]!;
    value |= BigInt(b & 0x7f) << shift;
    if ((b & 0x80) === 0) return { value, next: i + 1 };
    shift += 7n;
  }
  return null;
}

/** Nanoseconds since the epoch as RFC 3339 in UTC with nine fraction digits. */
export function nanoTime(ns: bigint): string {
  const ms = ns / 1_000_000n;
  const frac = (((ns % 1_000_000_000n) + 1_000_000_000n) % 1_000_000_000n).toString().padStart(9, '0');
  return `${new Date(Number(ms)).toISOString().slice(0, 19)}.${frac}Z`;
}

/** A LogAttr message (key 1, value 2); null when it is not one. */
function decodeAttr(msg: Buffer): [string, string] | null {
  let key = '';
  let value = '';
  let pos = 0;
  while (pos < msg.length) {
    const tag = varint(msg, pos);
    if (!tag || (tag.value & 7n) !== 2n) return null;
    const len = varint(msg, tag.next);
    if (!len) return null;
    const end = len.next + Number(len.value);
    if (end > msg.length) return null;
    const text = msg.subarray(len.next, end).toString();
    if (tag.value >> 3n === 1n) key = text;
    else if (tag.value >> 3n === 2n) value = text;
    pos = end;
  }
  return [key, value];
}

/** One LogEntry message; null when it is not one. */
export function decodeEntry(msg: Buffer): LogRecord | null {
  let stream: StreamName = 'stdout';
  let time = 0n;
  let line: Buffer = Buffer.alloc(0);
  let partial = false;
  let attrs: Record<string, string> | undefined;
  let pos = 0;
  while (pos < msg.length) {
    const key = varint(msg, pos);
    if (!key) return null;
    pos = key.next;
    const field = Number(key.value >> 3n);
    const wire = Number(key.value & 7n);
    if (wire === 0) {
      const v = varint(msg, pos);
      if (!v) return null;
      pos = v.next;
      if (field === 2) time = BigInt.asIntN(64, v.value);
      else if (field === 4) partial = v.value !== 0n;
    } else if (wire === 2) {
      const len = varint(msg, pos);
      if (!len) return null;
      const end = len.next + Number(len.value);
      if (end > msg.length) return null;
      const bytes = msg.subarray(len.next, end);
      pos = end;
      if (field === 1) stream = bytes.toString() === 'stderr' ? 'stderr' : 'stdout';
      else if (field === 3) line = bytes;
      else if (field === 6) {
        const attr = decodeAttr(bytes);
        if (attr) (attrs ??= {})[attr[0]] = attr[1];
      }
    } else if (wire === 1) pos += 8;
    else if (wire === 5) pos += 4;
    else return null;
  }
  const rec: LogRecord = { time: nanoTime(time), stream, data: partial ? Buffer.from(line) : Buffer.concat([line, Buffer.from('\n')]) };
  if (attrs) rec.attrs = attrs;
  return rec;
}

export function decodeLocal(buf: Buffer): Decoded {
  const records: LogRecord[] = [];
  let pos = 0;
  while (pos + 4 <= buf.length) {
    const size = buf.readUInt32BE(pos);
    const end = pos + 4 + size + 4;
    if (end > buf.length) break;
    const rec = decodeEntry(buf.subarray(pos + 4, pos + 4 + size));
    if (rec) records.push(rec);
    pos = end;
  }
  return { records, consumed: pos };
}
