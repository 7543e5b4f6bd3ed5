/**
 * Reading a json-file or local log as the log writer keeps it: the rotated files oldest first (PATH.N …
 * PATH.1, each gzipped or not), then the current one, which is followed across rotations (an open fd
 * reads a file to its end after it was renamed; then the new PATH is opened).
 */
import { closeSync, existsSync, fstatSync, openSync, readFileSync, readSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import { nodeZlib } from '../sys/builtins.ts';
import type { LogReadOptions, LogRecord, LogTarget } from '../runtime/driver.ts';
import { followLog } from './follow.ts';
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
    return file.endsWith('.gz') ? nodeZlib().gunzipSync(b) : b;
  } catch {
    return Buffer.alloc(0); // rotated away or being compressed meanwhile: what was read stands
  }
}

/**
 * The rotated files' contents, newest first: all opened before any is read (an open file keeps its bytes
 * through a rename or gzip's unlink), each inode once (a rename between two opens shows a file twice).
 */
function snapshotRotated(path: string): { ino: number; data: Buffer }[] {
  const opened: { fd: number; gz: boolean; ino: number }[] = [];
  const seen = new Set<number>();
  try {
    for (let i = 1; i < 10_000; i++) {
      let got = false;
      for (const [name, gz] of [[`${path}.${i}`, false], [`${path}.${i}.gz`, true]] as const) {
        let fd: number;
        try {
          fd = openSync(name, 'r');
        } catch {
          continue;
        }
        const ino = fstatSync(fd).ino;
        if (seen.has(ino)) closeSync(fd);
        else {
          seen.add(ino);
          opened.push({ fd, gz, ino });
        }
        got = true;
        break;
      }
      if (!got) break;
    }
    return opened.map(({ fd, gz, ino }) => {
      try {
        const b = readFileSync(fd);
        return { ino, data: gz ? nodeZlib().gunzipSync(b) : b };
      } catch {
        return { ino, data: Buffer.alloc(0) }; // a .gz gzip is still writing: the plain file is read next time
      }
    });
  } finally {
    for (const { fd } of opened) closeSync(fd);
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
      // Rotated: the file PATH is now is opened before the rotated ones are looked at, so no rotation in
      // between can put a file between the two unseen.
      const next = openIfThere(this.path);
      closeSync(this.fd);
      this.fd = next;
      this.offset = 0;
      this.pending = Buffer.alloc(0);
      for (const r of this.missed(next)) out.push(r);
      if (next === null) return out;
    }
  }

  /** The first record of the file open at `fd` (undefined while it has none). */
  private firstRecord(fd: number): LogRecord | undefined {
    const b = Buffer.allocUnsafe(64 << 10);
    const n = readSync(fd, b, 0, b.length, 0);
    return this.decode(b.subarray(0, n)).records[0];
  }

  /**
   * The records of files rotated past since the one just finished: that file is the rotated one holding
   * the last record read (PATH.1 unless the writer rotated again meanwhile); the records after it there,
   * and the files newer than it, were never seen. The writer may rotate (rename, gzip) while they are
   * looked at: the files are opened first, each once (by inode), and the search is tried again if the
   * record was not found. `next` is the file to be read next: it, and a file newer than it (rotated
   * meanwhile), are not "missed"; a rotated copy of it is known by its inode, or by its first record once
   * gzip made a new file of it.
   */
  private missed(next: number | null): LogRecord[] {
    const last = this.last;
    if (!last) return [];
    const same = (a: LogRecord, b: LogRecord) => a.time === b.time && a.stream === b.stream && a.data.equals(b.data);
    const nextIno = next === null ? -1 : fstatSync(next).ino;
    const nextFirst = next === null ? undefined : this.firstRecord(next);
    for (let attempt = 0; attempt < 5; attempt++) {
      let newer: LogRecord[][] = [];
      for (const { ino, data } of snapshotRotated(this.path)) {
        const recs = this.decode(data).records;
        if (ino === nextIno || (nextFirst && recs[0] && same(recs[0], nextFirst))) {
          newer = []; // the file read next, or newer than it: read there and after, not here
          continue;
        }
        let at = recs.length - 1;
        while (at >= 0 && !same(recs[at]!, last)) at--;
        if (at >= 0) {
          newer.push(recs.slice(at + 1));
          const all = newer.reverse().flat();
          if (all.length > 0) this.last = all[all.length - 1];
          return all;
        }
        newer.push(recs);
      }
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
  const still = live();
  if (!still) await flushed();
  const current = new CurrentFile(path, format.decode);
  try {
    if (opts.tail !== undefined && opts.tail >= 0) readTail(path, format, current, opts.tail, inRange).forEach(out);
    else {
      for (const f of rotatedFiles(path)) format.decode(readWhole(f)).records.filter(inRange).forEach(out);
      current.read().filter(inRange).forEach(out);
    }
    if (!opts.follow || !still || until <= Date.now()) return;
    await followLog([...watchDirs, dirname(path)], live, async (ended) => {
      if (ended) await flushed();
      for (const rec of current.read()) if (inRange(rec)) out(rec);
    });
  } finally {
    current.close();
  }
}

/** The file opened for reading; null while there is none. */
function openIfThere(path: string): number | null {
  try {
    return openSync(path, 'r');
  } catch {
    return null;
  }
}
