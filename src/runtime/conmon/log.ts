/**
 * Reading conmon's k8s-file log: `<RFC3339Nano> <stdout|stderr> <F|P> <bytes>`. A P line is a fragment
 * joined to what follows (conmon appended a newline to it that was not the program's).
 */
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { followLog } from '../../logs/follow.ts';
import { fdSource, LastLines, lastLineEnd, visitLinesBackward } from '../../logs/tail.ts';
import type { LogReadOptions, LogRecord, StreamName } from '../driver.ts';


/** One line of the file (without its newline) as a record; null when it is not one. */
function parseLine(line: Buffer): LogRecord | null {
  const s1 = line.indexOf(0x20);
  const s2 = line.indexOf(0x20, s1 + 1);
  const s3 = line.indexOf(0x20, s2 + 1);
  if (s1 < 0 || s2 < 0 || s3 < 0) return null;
  const stream = line.subarray(s1 + 1, s2).toString() as StreamName;
  const full = line.subarray(s2 + 1, s3).toString() === 'F';
  const body = line.subarray(s3 + 1);
  return {
    time: line.subarray(0, s1).toString(),
    stream,
    data: full ? Buffer.concat([body, Buffer.from('\n')]) : Buffer.from(body),
  };
}

/** Parse complete lines from a buffer; returns records and how many bytes were consumed. */
export function parseLogChunk(buf: Buffer): { records: LogRecord[]; consumed: number } {
  const records: LogRecord[] = [];
  let pos = 0;
  for (;;) {
    const nl = buf.indexOf(0x0a, pos);
    if (nl < 0) break;
    const rec = parseLine(buf.subarray(pos, nl));
    pos = nl + 1;
    if (rec) records.push(rec);
  }
  return { records, consumed: pos };
}

/** Incremental reader of a growing log file. */
export class LogTail {
  readonly path: string;
  private offset = 0;
  private inode = -1;
  private pending: Buffer = Buffer.alloc(0);

  constructor(path: string) {
    this.path = path;
  }

  /**
   * The records of the last `n` lines of the file among the records `keep` accepts (in file order), read
   * backwards from the end in chunks until those lines are whole; later read()s go on from the end. A line
   * is what the program printed up to a newline: the fragments (P) conmon wrote of it, then its full record
   * (F), of one stream; stdout and stderr lines are counted together, by where each ends, as docker's tail
   * counts the lines of its log. A last line still without its newline counts as one.
   */
  readTail(n: number, keep: (rec: LogRecord) => boolean = () => true): LogRecord[] {
    const fd = openIfThere(this.path);
    if (fd === null) return [];
    try {
      const st = fstatSync(fd);
      this.inode = st.ino;
      this.pending = Buffer.alloc(0);
      const src = fdSource(fd, st.size);
      // Bytes after the last newline are a record conmon is still writing: the next read() takes them.
      const end = lastLineEnd(src);
      this.offset = end;
      const pick = new LastLines(n, keep);
      visitLinesBackward(src, end, parseLine, (rec) => pick.visit(rec));
      return pick.records();
    } finally {
      closeSync(fd);
    }
  }

  /** Read whatever was appended since the last call. */
  read(): LogRecord[] {
    const fd = openIfThere(this.path);
    if (fd === null) return [];
    try {
      const st = fstatSync(fd);
      const size = st.size;
      // conmon's max-size rotation replaces the file (a new inode); truncation shrinks it: start over.
      if (st.ino !== this.inode || size < this.offset) {
        if (this.inode !== -1) this.pending = Buffer.alloc(0);
        this.offset = 0;
        this.inode = st.ino;
      }
      const chunks: Buffer[] = [this.pending];
      while (this.offset < size) {
        const b = Buffer.allocUnsafe(Math.min(1 << 20, size - this.offset));
        const n = readSync(fd, b, 0, b.length, this.offset);
        if (n <= 0) break;
        this.offset += n;
        chunks.push(b.subarray(0, n));
      }
      const all = Buffer.concat(chunks);
      const { records, consumed } = parseLogChunk(all);
      this.pending = all.subarray(consumed);
      return records;
    } finally {
      closeSync(fd);
    }
  }
}

/**
 * Read a k8s-file log; with `follow`, keep reading while `live()` holds (conmon writes the exit file only
 * after the last output reached the log, so reading once more after the end loses nothing). inotify on
 * `watchDirs` wakes the loop at once; a 50 ms poll covers what it misses.
 */
export async function readLog(
  path: string,
  watchDirs: string[],
  live: () => boolean,
  out: (rec: LogRecord) => void,
  opts: LogReadOptions = {},
): Promise<void> {
  const since = opts.since ?? -Infinity;
  const until = opts.until ?? Infinity;
  const inRange = (rec: LogRecord) => {
    const t = Date.parse(rec.time);
    return t >= since && t <= until;
  };
  const t = new LogTail(path);
  const first = opts.tail !== undefined && opts.tail >= 0 ? t.readTail(opts.tail, inRange) : t.read().filter(inRange);
  first.forEach(out);
  if (!opts.follow || until <= Date.now()) return;
  await followLog(watchDirs, live, () => {
    for (const rec of t.read()) if (inRange(rec)) out(rec);
  });
}

/** The log opened for reading; null while there is none (the monitor has not made it, or it was removed). */
function openIfThere(path: string): number | null {
  try {
    return openSync(path, 'r');
  } catch {
    return null;
  }
}
