/**
 * Reading a json-file or local log as the log writer keeps it: the rotated files oldest first (PATH.N …
 * PATH.1, each gzipped or not), then the current one, which is followed across rotations (an open fd
 * reads a file to its end after it was renamed; then the new PATH is opened).
 */
import { closeSync, existsSync, fstatSync, openSync, readFileSync, readSync, statSync, watch, type FSWatcher } from 'node:fs';
import { dirname } from 'node:path';
import { gunzipSync } from 'node:zlib';
import type { LogReadOptions, LogRecord, LogTarget } from '../runtime/driver.ts';
import { decodeEntry, decodeJsonFile, decodeLocal, parseJsonLine, type Decoder } from './formats.ts';
import { bufferSource, fdSource, lastFrameEnd, LastLines, lastLineEnd, visitFramesBackward, visitLinesBackward, type ByteSource } from './tail.ts';

/** The rotated files of a log that exist, oldest first. */
function rotatedFiles(path: string): string[] {
  const out: string[] = [];
  for (let i = 1; i < 10_000; i++) {
    // While gzip runs both exist, the .gz still partial: the plain one is whole until gzip removes it.
    const f = [`${path}.${i}`, `${path}.${i}.gz`].find((c) => existsSync(c));
    if (!f) break;
    out.push(f);
  }
  return out.reverse();
}

function readWhole(file: string): Buffer {
  try {
    const b = readFileSync(file);
    return file.endsWith('.gz') ? gunzipSync(b) : b;
  } catch {
    return Buffer.alloc(0); // rotated away or being compressed meanwhile: what was read stands
  }
}

/** The current file, read as it grows and followed when the writer rotates it. */
class CurrentFile {
  private fd: number | null = null;
  private offset = 0;
  private pending = Buffer.alloc(0);
  /** The last record read, to find where reading stopped when the writer rotated more than once meanwhile. */
  private last: LogRecord | undefined;
  private readonly path: string;
  private readonly decode: Decoder;

  constructor(path: string, decode: Decoder) {
    this.path = path;
    this.decode = decode;
  }

  /** Open the file and go on from `end(fd, size)` (where its whole records end); false when there is none. */
  startAt(end: (src: ByteSource) => number): ByteSource | null {
    try {
      this.fd = openSync(this.path, 'r');
    } catch {
      return null;
    }
    const src = fdSource(this.fd, fstatSync(this.fd).size);
    this.offset = end(src);
    this.pending = Buffer.alloc(0);
    return src;
  }

  read(): LogRecord[] {
    const out: LogRecord[] = [];
    for (;;) {
      if (this.fd === null) {
        try {
          this.fd = openSync(this.path, 'r');
        } catch {
          return out; // not made yet
        }
        this.offset = 0;
        this.pending = Buffer.alloc(0);
      }
      const chunks: Buffer[] = [this.pending];
      for (;;) {
        const b = Buffer.allocUnsafe(1 << 20);
        const n = readSync(this.fd, b, 0, b.length, this.offset);
        if (n <= 0) break;
        this.offset += n;
        chunks.push(b.subarray(0, n));
      }
      const all = Buffer.concat(chunks);
      const { records, consumed } = this.decode(all);
      for (const r of records) out.push(r); // not push(...records): a big file has more than a call's arguments
      if (records.length > 0) this.last = records[records.length - 1];
      this.pending = all.subarray(consumed);
      // Rotated (PATH is a new file) or started over (max-file 1 truncates): go on in the file PATH is now.
      let ino: number | undefined;
      try {
        ino = statSync(this.path).ino;
      } catch {
        return out;
      }
      const st = fstatSync(this.fd);
      if (ino === st.ino && st.size >= this.offset) return out;
      if (ino === st.ino) {
        this.offset = 0;
        this.pending = Buffer.alloc(0);
        continue;
      }
      closeSync(this.fd);
      this.fd = null;
      for (const r of this.missed()) out.push(r);
    }
  }

  /**
   * The records of files rotated past since the one just finished: that file is the rotated one holding
   * the last record read (PATH.1 unless the writer rotated again meanwhile); the records after it there,
   * and the files newer than it, were never seen.
   */
  private missed(): LogRecord[] {
    const last = this.last;
    if (!last) return [];
    const same = (r: LogRecord) => r.time === last.time && r.stream === last.stream && r.data.equals(last.data);
    const newer: LogRecord[][] = [];
    for (const f of rotatedFiles(this.path).reverse()) {
      const recs = this.decode(readWhole(f)).records;
      let at = recs.length - 1;
      while (at >= 0 && !same(recs[at]!)) at--;
      if (at >= 0) {
        newer.push(recs.slice(at + 1));
        const all = newer.reverse().flat();
        if (all.length > 0) this.last = all[all.length - 1];
        return all;
      }
      newer.push(recs);
    }
    return []; // rotated out of the kept files altogether: nothing to find it by
  }

  close(): void {
    if (this.fd !== null) closeSync(this.fd);
    this.fd = null;
  }
}

/** The format's ways to decode and to visit backwards. */
const FORMATS = {
  'json-file': {
    decode: decodeJsonFile,
    end: lastLineEnd,
    backward: (src: ByteSource, end: number, visit: (rec: LogRecord) => boolean) => visitLinesBackward(src, end, parseJsonLine, visit),
  },
  local: {
    decode: decodeLocal,
    end: lastFrameEnd,
    backward: (src: ByteSource, end: number, visit: (rec: LogRecord) => boolean) => visitFramesBackward(src, end, decodeEntry, visit),
  },
};

/**
 * The records of the last `n` lines of the log in range, read backwards from the current file's end and
 * on into the rotated files only as far as needed; the current file is left open at its end for following.
 */
function readTail(path: string, format: (typeof FORMATS)['local'], current: CurrentFile, n: number, inRange: (rec: LogRecord) => boolean): LogRecord[] {
  const pick = new LastLines(n, inRange);
  if (n <= 0) {
    current.startAt((src) => format.end(src));
    return [];
  }
  const src = current.startAt((s) => format.end(s));
  let done = src !== null && format.backward(src, format.end(src), (rec) => pick.visit(rec));
  for (const f of rotatedFiles(path).reverse()) {
    if (done) break;
    const b = bufferSource(readWhole(f));
    done = format.backward(b, format.end(b), (rec) => pick.visit(rec));
  }
  return pick.records();
}

/**
 * Read a json-file or local log; with `follow`, keep reading while `live()` holds. Once the container is
 * not live, `flushed()` waits for the writer's last records before the final read.
 */
export async function readWrittenLog(
  log: LogTarget,
  watchDirs: string[],
  live: () => boolean,
  flushed: () => Promise<void>,
  out: (rec: LogRecord) => void,
  opts: LogReadOptions = {},
): Promise<void> {
  const path = log.path!;
  const format = FORMATS[log.driver === 'local' ? 'local' : 'json-file'];
  const since = opts.since ?? -Infinity;
  const until = opts.until ?? Infinity;
  const inRange = (rec: LogRecord) => {
    const t = Date.parse(rec.time);
    return t >= since && t <= until;
  };
  let still = live();
  if (!still) await flushed();
  const current = new CurrentFile(path, format.decode);
  try {
    if (opts.tail !== undefined && opts.tail >= 0) readTail(path, format, current, opts.tail, inRange).forEach(out);
    else {
      for (const f of rotatedFiles(path)) format.decode(readWhole(f)).records.filter(inRange).forEach(out);
      current.read().filter(inRange).forEach(out);
    }
    if (!opts.follow || !still || until <= Date.now()) return;
    let wake: (() => void) | undefined;
    const watchers: FSWatcher[] = [];
    for (const d of new Set([...watchDirs, dirname(path)])) {
      try {
        watchers.push(watch(d, () => wake?.()));
      } catch {
        /* gone already: the poll below still ends the loop */
      }
    }
    try {
      for (;;) {
        still = live();
        if (!still) await flushed();
        for (const rec of current.read()) if (inRange(rec)) out(rec);
        if (!still) return;
        await new Promise<void>((r) => {
          const timer = setTimeout(r, 50);
          wake = () => {
            clearTimeout(timer);
            r();
          };
        });
      }
    } finally {
      for (const w of watchers) w.close();
    }
  } finally {
    current.close();
  }
}
