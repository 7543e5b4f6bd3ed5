/**
 * `logs --tail N` without reading the whole log: records are visited newest first, from the end of a file
 * backwards in chunks, until the last N lines are whole. Shared by every file format: lines of text
 * (k8s-file, json-file) and size-framed records (local).
 */
import { readSync } from 'node:fs';
import type { LogRecord } from '../runtime/driver.ts';

/** Bytes of a log: an open file, or a whole buffer (a decompressed rotated file). */
export interface ByteSource {
  size: number;
  /** Read buf.length bytes at pos (fewer only at the end). */
  read(buf: Buffer, pos: number): number;
}

export function fdSource(fd: number, size: number): ByteSource {
  return {
    size,
    read(buf, pos) {
      let got = 0;
      while (got < buf.length) {
        const n = readSync(fd, buf, got, buf.length - got, pos + got);
        if (n <= 0) break;
        got += n;
      }
      return got;
    },
  };
}

export function bufferSource(b: Buffer): ByteSource {
  return { size: b.length, read: (buf, pos) => b.copy(buf, 0, pos, Math.min(b.length, pos + buf.length)) };
}

/** A record ends its line: its data ends with the newline (a fragment of a longer line does not). */
export const endsLine = (rec: LogRecord): boolean => rec.data.length > 0 && rec.data[rec.data.length - 1] === 0x0a;

/**
 * Picks the records of the last `n` lines among those `keep` accepts, visited newest first. A line is what
 * a stream printed up to a newline: its fragments, then the record that ends it; stdout and stderr lines
 * count together, by where each ends, as docker's tail counts them. A last line still without its newline
 * counts as one.
 */
export class LastLines {
  private readonly picked: LogRecord[] = [];
  private count = 0;
  /** Per stream, the line its earliest record seen so far belongs to: taken, or beyond the n lines. */
  private readonly line = new Map<string, 'taken' | 'beyond'>();
  /** Streams whose taken line may have fragments further back. */
  private open = 0;
  private readonly n: number;
  private readonly keep: (rec: LogRecord) => boolean;

  constructor(n: number, keep: (rec: LogRecord) => boolean = () => true) {
    this.n = n;
    this.keep = keep;
  }

  get done(): boolean {
    return this.count >= this.n && this.open === 0;
  }

  /** Take in the record before the ones visited so far; true once no earlier record can be picked. */
  visit(rec: LogRecord): boolean {
    if (this.n <= 0) return true;
    if (!this.keep(rec)) return this.done;
    const cur = this.line.get(rec.stream);
    if (endsLine(rec) || cur === undefined) {
      // The end of one of the stream's lines (its full record, or the fragment an unfinished last line ends
      // with): the stream's line after this one starts right after it, so that one is whole.
      if (cur === 'taken') this.open--;
      if (this.count < this.n) {
        this.count++;
        this.open++;
        this.line.set(rec.stream, 'taken');
        this.picked.push(rec);
      } else this.line.set(rec.stream, 'beyond');
    } else if (cur === 'taken') this.picked.push(rec); // a fragment of a taken line
    return this.done;
  }

  /** What was picked, oldest first. */
  records(): LogRecord[] {
    return [...this.picked].reverse();
  }
}

const CHUNK = 64 << 10;

/**
 * Visit the records of a line format (one record per line) in `src`'s bytes before `end`, newest first,
 * until `visit` says done; `end` must be just after a newline (or 0). Returns whether it said done.
 */
export function visitLinesBackward(src: ByteSource, end: number, parse: (line: Buffer) => LogRecord | null, visit: (rec: LogRecord) => boolean): boolean {
  // buf holds the bytes [pos, pos + buf.length): whole lines but (unless pos is 0) the first one, which is
  // carried over to be completed by the chunk before it.
  let pos = end;
  let carry = Buffer.alloc(0);
  while (pos > 0) {
    const size = Math.min(CHUNK, pos);
    pos -= size;
    const chunk = Buffer.allocUnsafe(size);
    if (src.read(chunk, pos) < size) return false; // truncated meanwhile: what was found stands
    const buf = carry.length > 0 ? Buffer.concat([chunk, carry]) : chunk;
    const first = pos === 0 ? -1 : buf.indexOf(0x0a);
    let nlAfter = buf.length - 1; // buf ends with a newline: that of the line parsed next
    while (nlAfter > first) {
      const nlBefore = nlAfter > 0 ? buf.lastIndexOf(0x0a, nlAfter - 1) : -1;
      const rec = parse(buf.subarray(nlBefore + 1, nlAfter));
      if (rec && visit(rec)) return true;
      nlAfter = nlBefore;
    }
    carry = buf.subarray(0, first + 1);
  }
  return false;
}

/** The offset just after the last newline in `src` (0 when it has none): where its whole lines end. */
export function lastLineEnd(src: ByteSource): number {
  let pos = src.size;
  while (pos > 0) {
    const len = Math.min(CHUNK, pos);
    pos -= len;
    const b = Buffer.allocUnsafe(len);
    const got = src.read(b, pos);
    const nl = b.subarray(0, got).lastIndexOf(0x0a);
    if (nl >= 0) return pos + nl + 1;
  }
  return 0;
}

/**
 * Visit size-framed records (4-byte big-endian size, message, the size again) before `end`, newest first:
 * the trailing size says where each one starts.
 */
export function visitFramesBackward(src: ByteSource, end: number, decode: (msg: Buffer) => LogRecord | null, visit: (rec: LogRecord) => boolean): boolean {
  let pos = end;
  const size = Buffer.alloc(4);
  while (pos >= 8) {
    if (src.read(size, pos - 4) < 4) return false;
    const len = size.readUInt32BE(0);
    const start = pos - 8 - len;
    if (start < 0) return false; // not a frame: a torn file
    const msg = Buffer.allocUnsafe(len);
    if (src.read(msg, start + 4) < len) return false;
    const rec = decode(msg);
    if (rec && visit(rec)) return true;
    pos = start;
  }
  return false;
}

/**
 * Where the whole frames of `src` end. The writer appends each frame in one write, so this is the file's
 * end unless a write is under way (the last frame's two sizes then differ): then the frames are walked.
 */
export function lastFrameEnd(src: ByteSource): number {
  const size = Buffer.alloc(4);
  if (src.size < 8) return 0;
  if (src.read(size, src.size - 4) === 4) {
    const start = src.size - 8 - size.readUInt32BE(0);
    const lead = Buffer.alloc(4);
    if (start >= 0 && src.read(lead, start) === 4 && lead.equals(size)) return src.size;
  }
  let pos = 0;
  while (pos + 8 <= src.size) {
    if (src.read(size, pos) < 4) break;
    const next = pos + 8 + size.readUInt32BE(0);
    if (next > src.size) break;
    pos = next;
  }
  return pos;
}
