/**
 * Content-addressed blobs: `<root>/blobs/sha256/<hex>` holds layer archives as fetched (compressed or
 * not), image configs and manifests. A blob is written to a temporary name, its digest checked, synced
 * and renamed into place, so a blob path that exists always holds the bytes its name promises. A fetch
 * in progress writes `<hex>.partial` beside it (the registry client resumes from it).
 */
import { nodeCrypto } from '../sys/builtins.ts';
import {
  closeSync, createReadStream, existsSync, fsyncSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync,
  rmSync, statSync, writeSync, type ReadStream,
} from 'node:fs';
import { join } from 'node:path';
import { InvalidArgument, NotFound } from '../errors.ts';
import { isAlive, selfIdentity } from '../sys/proc.ts';

const DIGEST = /^sha256:([0-9a-f]{64})$/;

/** The hex part of a `sha256:` digest; InvalidArgument for anything else. */
export function digestHex(digest: string): string {
  const m = DIGEST.exec(digest);
  if (!m) throw new InvalidArgument(`invalid digest: ${digest}`);
  return m[1]!;
}

export const sha256 = (b: Buffer | string): string => `sha256:${nodeCrypto().createHash('sha256').update(b).digest('hex')}`;

export class BlobStore {
  readonly dir: string;

  constructor(root: string) {
    this.dir = join(root, 'blobs', 'sha256');
  }

  /** Make the blob dir (a fresh root has none until the first blob). */
  ensureDir(): void {
    mkdirSync(this.dir, { recursive: true });
  }

  path(digest: string): string {
    return join(this.dir, digestHex(digest));
  }

  has(digest: string): boolean {
    return existsSync(this.path(digest));
  }

  size(digest: string): number | undefined {
    return statSync(this.path(digest), { throwIfNoEntry: false })?.size;
  }

  read(digest: string): Buffer {
    try {
      return readFileSync(this.path(digest));
    } catch (e) {
      throw new NotFound(`blob ${digest} is not in the store`, { cause: e });
    }
  }

  open(digest: string): ReadStream {
    if (!this.has(digest)) throw new NotFound(`blob ${digest} is not in the store`);
    return createReadStream(this.path(digest), { highWaterMark: 1 << 20 });
  }

  /** Store bytes (a config or manifest); returns their digest. */
  put(bytes: Buffer): string {
    const digest = sha256(bytes);
    if (this.has(digest)) return digest;
    const tmp = this.tmpName();
    const fd = openSync(tmp, 'wx', 0o644);
    try {
      writeSync(fd, bytes);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, this.path(digest));
    return digest;
  }

  /**
   * Store a stream; returns its digest and size. With `expected`, a stream whose digest differs is
   * refused and nothing is kept.
   */
  async write(input: AsyncIterable<Buffer>, expected?: string): Promise<{ digest: string; size: number }> {
    const tmp = this.tmpName();
    const fd = openSync(tmp, 'wx', 0o644);
    const h = nodeCrypto().createHash('sha256');
    let size = 0;
    try {
      for await (const chunk of input) {
        h.update(chunk);
        writeSync(fd, chunk);
        size += chunk.length;
      }
      fsyncSync(fd);
    } catch (e) {
      closeSync(fd);
      rmSync(tmp, { force: true });
      throw e;
    }
    closeSync(fd);
    const digest = `sha256:${h.digest('hex')}`;
    if (expected && expected !== digest) {
      rmSync(tmp, { force: true });
      throw new InvalidArgument(`blob digest mismatch: expected ${expected}, got ${digest}`);
    }
    renameSync(tmp, this.path(digest));
    return { digest, size };
  }

  /**
   * Run fn holding the blob's fetch lock (`<hex>.lock`, naming its holder's pid and start time): two pulls
   * of one image must not write the same partial file. A lock whose holder died is taken over.
   */
  async withFetchLock<T>(digest: string, fn: () => Promise<T>): Promise<T> {
    const lock = `${this.path(digest)}.lock`;
    const me = selfIdentity();
    for (;;) {
      try {
        const fd = openSync(lock, 'wx', 0o644);
        writeSync(fd, `${me.pid} ${me.start}`);
        closeSync(fd);
        break;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      }
      let holder = '';
      try {
        holder = readFileSync(lock, 'utf8');
      } catch {
        continue; // released meanwhile
      }
      const [pid, start] = holder.split(' ').map(Number);
      // A holder that has not written its name yet is alive by definition: wait for it.
      if (holder && !isAlive(pid!, start!)) rmSync(lock, { force: true });
      else await new Promise((r) => setTimeout(r, 50));
    }
    try {
      return await fn();
    } finally {
      rmSync(lock, { force: true });
    }
  }

  remove(digest: string): void {
    rmSync(this.path(digest), { force: true });
  }

  /** Digests of the whole blobs present. */
  list(): string[] {
    return this.entries().filter((f) => /^[0-9a-f]{64}$/.test(f)).map((f) => `sha256:${f}`);
  }

  /** Names in the blob dir that are not whole blobs: partial fetches and temporaries. */
  leftovers(): string[] {
    return this.entries().filter((f) => !/^[0-9a-f]{64}$/.test(f));
  }

  private entries(): string[] {
    try {
      return readdirSync(this.dir);
    } catch {
      return [];
    }
  }

  /** A temporary name in the blob dir (same file system, so the final rename is atomic). */
  tmpName(): string {
    mkdirSync(this.dir, { recursive: true });
    const me = selfIdentity();
    return join(this.dir, `.tmp-${me.pid}-${me.start}-${nodeCrypto().randomBytes(6).toString('hex')}`);
  }
}
