/**
 * A blob read while it downloads, so that a layer unpacks as its bytes arrive rather than after. The
 * download (on the main thread) appends to `<blob>.partial` and then publishes how many bytes the file
 * holds; the unpack (on a worker thread, or in-process for a small layer) reads up to that count and
 * waits for more. The bytes go through the page cache, not through messages between threads, and the
 * download never waits for the unpack: a slow unpack reads what has long been on disk.
 *
 * The count is one BigInt64 in a SharedArrayBuffer (passed to a worker as it is). Below zero it says the
 * file will not be completed: the download failed, or it started the file over (a registry that would
 * not resume a cut transfer), so what was read no longer describes the file. The reader then fails; on a
 * restart the caller unpacks the finished file instead (see `restarted`).
 *
 * Nothing read this way is trusted until the download's digest check passed: the unpack goes to a temp
 * dir that is renamed into place only after it (src/image/layers.ts).
 */
import { closeSync, openSync, readSync } from 'node:fs';
import { RuntimeFailure } from '../errors.ts';

/** Atomics.waitAsync (ES2024; Node has it, the project's TypeScript lib is ES2023). */
const waitAsync = (Atomics as unknown as {
  waitAsync(a: BigInt64Array, index: number, value: bigint): { async: boolean; value: Promise<string> | string };
}).waitAsync;

const ABORTED = -1n;
const RESTARTED = -2n;

/** What a reader needs, on any thread. */
export interface GrowingFileShare {
  /** The blob's final path; `<path>.partial` while it downloads. */
  path: string;
  /** Its size once complete (the descriptor's). */
  size: number;
  /** One BigInt64: the bytes written so far, or ABORTED / RESTARTED. */
  count: SharedArrayBuffer;
}

/** The writer's side: the download reports here what its file holds. */
export class GrowingFile {
  readonly share: GrowingFileShare;
  readonly #count: BigInt64Array;
  #restarted = false;

  constructor(path: string, size: number) {
    this.share = { path, size, count: new SharedArrayBuffer(8) };
    this.#count = new BigInt64Array(this.share.count);
  }

  /** True when the download started its file over after a reader may have read it. */
  get restarted(): boolean {
    return this.#restarted;
  }

  /** The file now holds its first `bytes` bytes; fewer than before means it started over. */
  wrote(bytes: number): void {
    const before = Atomics.load(this.#count, 0);
    if (before < 0n) return;
    if (BigInt(bytes) < before) {
      this.#restarted = true;
      this.#publish(RESTARTED);
    } else {
      this.#publish(BigInt(bytes));
    }
  }

  /** The download will not complete the file: a waiting reader fails. */
  abort(): void {
    if (Atomics.load(this.#count, 0) >= 0n) this.#publish(ABORTED);
  }

  #publish(value: bigint): void {
    Atomics.store(this.#count, 0, value);
    Atomics.notify(this.#count, 0);
  }
}

/** Raised by a reader whose file started over: the caller reads the finished file instead. */
export class FileRestarted extends Error {}

/** The file's bytes in order as they are written, `chunk` at most at once; ends after `share.size` bytes. */
export async function* readGrowingFile(share: GrowingFileShare, chunk = 1 << 20): AsyncGenerator<Buffer> {
  const count = new BigInt64Array(share.count);
  let fd: number | undefined;
  let at = 0;
  try {
    while (at < share.size) {
      const written = Atomics.load(count, 0);
      if (written === RESTARTED) throw new FileRestarted(`${share.path}: the download started over`);
      if (written === ABORTED) throw new RuntimeFailure(`${share.path}: the download stopped`);
      if (written <= BigInt(at)) {
        const w = waitAsync(count, 0, written);
        if (w.async) await w.value;
        continue;
      }
      fd ??= openBlob(share.path);
      const buf = Buffer.allocUnsafe(Math.min(chunk, Number(written) - at));
      const n = readSync(fd, buf, 0, buf.length, at);
      if (n === 0) throw new RuntimeFailure(`${share.path}: shorter than the ${written} bytes written`);
      at += n;
      yield n < buf.length ? buf.subarray(0, n) : buf;
    }
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/** The finished blob if it is there, else the download's file (renamed onto the blob between two tries). */
function openBlob(path: string): number {
  for (const p of [path, `${path}.partial`, path]) {
    try {
      return openSync(p, 'r');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    }
  }
  throw new RuntimeFailure(`${path}: neither the blob nor its download is there`);
}
