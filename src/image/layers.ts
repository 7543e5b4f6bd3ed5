/**
 * Unpacked layers: `<root>/layers/<diffid-hex>/diff`, one per distinct layer content, shared by every
 * image that has it. A layer is unpacked into `layers/.tmp-<pid>-<start>-<id>` and renamed into place,
 * so a layer dir either is whole or does not exist; a killed unpack leaves a temp dir garbage
 * collection recognises by its dead owner.
 *
 * Overlay's lowerdir option must fit in a page: 60 layers of `/var/lib/berth/layers/<64 hex>/diff`
 * would not. Each layer gets a short random link, `<root>/l/<12 chars>` → `../layers/<id>/diff`, and
 * the mount names lower dirs by link relative to the root (mount runs there): ~15 bytes a layer.
 */
import { nodeCrypto } from '../sys/builtins.ts';
import {
  existsSync, mkdirSync, readFileSync, readlinkSync, renameSync, rmSync, symlinkSync, writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { BerthError, InvalidArgument, NoSpace } from '../errors.ts';
import { isAlive, selfIdentity } from '../sys/proc.ts';
import type { BlobSource, UnpackWorkers } from './unpack-pool.ts';
import type { ImageBudget, UnpackLimits } from './unpack-limits.ts';
import { entriesOf } from '../sys/dir.ts';

const LINK_CHARS = 'abcdefghijklmnopqrstuvwxyz0123456789';

export interface Unpacked {
  /** `sha256:` digest of the uncompressed tar. */
  diffId: string;
  /** Bytes of file data in the layer. */
  size: number;
  link: string;
}

/** How a blob's unpack runs: on these workers (else a worker of its own); renamed into place only once `verified`. */
export interface UnpackVia {
  workers?: UnpackWorkers;
  /** The blob's download and digest check, when it is unpacked while it downloads: a failure discards the layer. */
  verified?: Promise<unknown>;
}

export class LayerDirs {
  readonly root: string;

  constructor(root: string) {
    this.root = root;
  }

  dir(id: string): string {
    return join(this.root, 'layers', id, 'diff');
  }

  /** The lower-dir path of a layer for overlay: its short link (absolute; the mount makes it relative). */
  lower(id: string, link: string): string {
    return link ? join(this.root, 'l', link) : this.dir(id);
  }

  exists(id: string): boolean {
    return existsSync(this.dir(id));
  }

  /**
   * Unpack a layer archive (plain, gzip or zstd) into its dir. With `expectedDiffId`, an archive whose
   * uncompressed digest differs is refused. Entries that would land outside the layer (`..`, absolute
   * names, paths through symlinks, hard links or whiteouts aiming out) fail it with InvalidArgument naming
   * the entry; nothing outside the temp dir is touched, and the temp dir is removed. So is a layer that
   * expands past `budget`'s caps, or one that would leave the disk below its reserve (unpack-limits.ts),
   * and one whose blob fails its download (`via.verified`).
   */
  async unpack(
    input: AsyncIterable<Buffer> | BlobSource, expectedDiffId?: string, what = 'layer', budget?: ImageBudget, via: UnpackVia = {},
  ): Promise<Unpacked> {
    const me = selfIdentity();
    const tmp = join(this.root, 'layers', `.tmp-${me.pid}-${me.start}-${nodeCrypto().randomBytes(4).toString('hex')}`);
    mkdirSync(join(tmp, 'diff'), { recursive: true, mode: 0o755 });
    try {
      const limits: UnpackLimits = { budget, disk: join(this.root, 'layers') };
      // A stored blob unpacks on a worker thread: the file creations and writes are synchronous calls,
      // and layers of one pull then unpack on several CPUs while the main thread downloads.
      // The unpackers (tar reading, extraction, workers) load here: a command that only uses layers
      // already unpacked, a run of a present image, does not load them.
      const { diffId, bytes } = !('file' in input)
        ? await (await import('./unpack.ts')).unpackInto(input, join(tmp, 'diff'), limits)
        : via.workers
          ? await via.workers.unpack(input, join(tmp, 'diff'), limits)
          : await (await import('./unpack-pool.ts')).unpackInWorker(input, join(tmp, 'diff'), limits);
      const summary = { bytes };
      // Content unpacked as it downloaded is the blob's only once the download's digest check passed.
      await via.verified;
      if (expectedDiffId && diffId !== expectedDiffId) {
        throw new InvalidArgument(`content digest ${diffId} does not match the image config's ${expectedDiffId}`);
      }
      const id = diffId.slice(7);
      const final = join(this.root, 'layers', id);
      if (existsSync(join(final, 'diff'))) {
        // Another process unpacked the same content meanwhile: keep theirs.
        rmSync(tmp, { recursive: true, force: true });
      } else {
        rmSync(final, { recursive: true, force: true });
        renameSync(tmp, final);
      }
      return { diffId, size: summary.bytes, link: this.ensureLink(id) };
    } catch (e) {
      rmSync(tmp, { recursive: true, force: true });
      // Whatever was wrong with the content (a bad tar, a digest mismatch, a refused member, a size past a
      // cap) is said of this layer; so is a disk that filled while it unpacked.
      if (e instanceof NoSpace) throw new NoSpace(`${what}: ${e.message}`, { cause: e });
      if (e instanceof BerthError && !(e instanceof InvalidArgument)) throw e;
      throw new InvalidArgument(`${what}: ${(e as Error).message}`, { cause: e });
    }
  }

  /** The layer's short link, made if missing (a link points at its layer or is replaced). */
  ensureLink(id: string): string {
    const recorded = join(this.root, 'layers', id, 'link');
    const target = `../layers/${id}/diff`;
    let name = '';
    try {
      name = readlinkOr(join(this.root, 'l', readFileText(recorded))) === target ? readFileText(recorded) : '';
    } catch {
      name = '';
    }
    if (name) return name;
    mkdirSync(join(this.root, 'l'), { recursive: true });
    for (;;) {
      const bytes = nodeCrypto().randomBytes(12);
      name = Array.from(bytes, (b) => LINK_CHARS[b % LINK_CHARS.length]).join('');
      try {
        symlinkSync(target, join(this.root, 'l', name));
        break;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      }
    }
    writeText(recorded, name);
    return name;
  }

  /** Remove a layer dir and its link. */
  remove(id: string, link: string): void {
    if (link && readlinkOr(join(this.root, 'l', link)) === `../layers/${id}/diff`) rmSync(join(this.root, 'l', link), { force: true });
    rmSync(join(this.root, 'layers', id), { recursive: true, force: true });
  }

  /** Layer dir names present on disk (whole layers only). */
  listDirs(): string[] {
    return entriesOf(join(this.root, 'layers')).filter((n) => /^[0-9a-f]{64}$/.test(n));
  }

  /** Remove temp dirs of unpacks whose process is gone, and links whose layer is gone. Returns the count. */
  sweepLeftovers(): number {
    let n = 0;
    for (const name of entriesOf(join(this.root, 'layers'))) {
      const m = /^\.tmp-(\d+)-(\d+)-/.exec(name);
      if (m && !isAlive(Number(m[1]), Number(m[2]))) {
        rmSync(join(this.root, 'layers', name), { recursive: true, force: true });
        n++;
      }
    }
    for (const name of entriesOf(join(this.root, 'l'))) {
      const target = readlinkOr(join(this.root, 'l', name));
      if (!existsSync(join(this.root, 'l', target))) {
        rmSync(join(this.root, 'l', name), { force: true });
        n++;
      }
    }
    return n;
  }
}

function readlinkOr(p: string): string {
  try {
    return readlinkSync(p);
  } catch {
    return '';
  }
}

const readFileText = (p: string) => readFileSync(p, 'utf8').trim();
const writeText = (p: string, s: string) => writeFileSync(p, s);
