/**
 * Taking an image archive apart before it is parsed (`berth load`).
 *
 * Members come in any order (docker writes manifest.json last, skopeo first), so every regular file is
 * spooled to the caller's work directory, then looked up by its archive path. Spooled files are named by
 * a counter, never by the member's name, so nothing an archive says can place a file outside that
 * directory; names that are absolute or hold `..` are refused all the same, as no writer of these
 * formats makes them. Symlinks and hard links are not created either: they are kept as aliases, resolved
 * inside the archive when a path is looked up (docker before 25 links a layer shared by two images to its
 * first copy), and a link pointing out of the archive is refused. Devices and fifos are ignored.
 *
 * Each file is hashed as it is written; a member named `blobs/<algorithm>/<hex>` must match its name.
 * With limits, no member may be larger than a layer archive within `max-layer-size` (nothing else in an
 * image archive comes near one), and the disk's free space is watched as members are written
 * (src/image/unpack-limits.ts): a gzip archive can hold an uncompressed layer of any size.
 */
import { createHash, type Hash } from 'node:crypto';
import { open, readFile, type FileHandle } from 'node:fs/promises';
import { join, posix } from 'node:path';
import { InvalidArchive, InvalidArgument, RuntimeFailure } from '../errors.ts';
import { decompressStream, readTar, type TarEntry } from '../archive/tar.ts';
import { sniffCompression, type Compression } from './archive-format.ts';
import { archiveBound, DiskWatch } from './unpack-limits.ts';
import { exactSize, roughSize } from '../units.ts';

/** A regular file of the archive, now on disk. */
export interface Member {
  /** The archive path, normalized (no `./`, no trailing `/`). */
  path: string;
  /** Where it was spooled. */
  file: string;
  size: number;
  /** `sha256:<hex>` of its bytes. */
  digest: string;
  compressed: Compression;
}

/** Linux's limit on symlinks followed in one lookup (MAXSYMLINKS). */
const MAX_LINKS = 40;
/** Bound on a JSON member read into memory (configs with long histories are well under a megabyte). */
const MAX_JSON = 64 << 20;
const BLOB_RE = /^blobs\/(sha256|sha512)\/([a-f0-9]+)$/;

export const invalid = (why: string, cause?: unknown) => new InvalidArchive(why, cause === undefined ? undefined : { cause });

/** The members of a spooled archive, by archive path. */
export class Spool {
  readonly #files = new Map<string, Member>();
  /** Link path → the archive path it stands for (a symlink's target resolved against its directory). */
  readonly #links = new Map<string, string>();

  get size(): number {
    return this.#files.size;
  }

  addFile(m: Member): void {
    this.#links.delete(m.path);
    this.#files.set(m.path, m);
  }

  addLink(path: string, target: string): void {
    this.#files.delete(path);
    this.#links.set(path, target);
  }

  paths(): string[] {
    return [...this.#files.keys(), ...this.#links.keys()];
  }

  /** The regular file at `path`, following links in any component; undefined if there is none. */
  find(path: string): Member | undefined {
    let parts = normalize(path, 'path').split('/');
    for (let i = 0, hops = 0; i < parts.length; i++) {
      const target = this.#links.get(parts.slice(0, i + 1).join('/'));
      if (target === undefined) continue;
      if (++hops > MAX_LINKS) throw invalid(`too many levels of links resolving ${JSON.stringify(path)}`);
      parts = [...(target ? target.split('/') : []), ...parts.slice(i + 1)];
      i = -1;
    }
    return this.#files.get(parts.join('/'));
  }

  /** The file at `path`, or InvalidArgument saying who wanted it. */
  need(path: string, wantedBy: string): Member {
    const m = this.find(path);
    if (!m) throw invalid(`${wantedBy} names ${JSON.stringify(path)}, which the archive does not hold`);
    return m;
  }

  async bytes(m: Member): Promise<Buffer> {
    if (m.size > MAX_JSON) throw invalid(`${m.path} is too large (${m.size} bytes) for a JSON document`);
    return readFile(m.file);
  }

  async json(m: Member): Promise<unknown> {
    const data = await this.bytes(m);
    try {
      return JSON.parse(data.toString('utf8'));
    } catch (e) {
      throw invalid(`${m.path} is not valid JSON`, e);
    }
  }
}

/** `name` as a relative archive path; refuses absolute names and `..`. */
function normalize(name: string, what = 'member'): string {
  if (name.startsWith('/')) throw invalid(`${what} ${JSON.stringify(name)} is absolute`);
  const parts = name.split('/').filter((p) => p !== '' && p !== '.');
  if (parts.includes('..')) throw invalid(`${what} ${JSON.stringify(name)} climbs out of the archive ("..")`);
  return parts.join('/');
}

/** The archive path a link stands for; refuses one that leads out of the archive. */
function linkTarget(path: string, e: TarEntry): string {
  const out = () =>
    invalid(`link ${JSON.stringify(e.name)} points outside the archive (to ${JSON.stringify(e.linkname)})`);
  if (e.linkname === '' || e.linkname.startsWith('/')) throw out();
  if (e.type === 'hardlink') return normalize(e.linkname);
  const joined = posix.normalize(posix.join(posix.dirname(path), e.linkname));
  if (joined === '..' || joined.startsWith('../')) throw out();
  return joined === '.' ? '' : joined.replace(/\/+$/, '');
}

/** What spooling is held to: the layer cap its members are checked against, and the disk it watches. */
export interface SpoolLimits {
  maxLayerSize: number;
  /** Watches the work dir's file system. */
  disk: DiskWatch;
}

/**
 * Reads the (possibly gzip or zstd compressed) tar `input` into `workDir`. Throws InvalidArgument
 * `invalid archive: …` for input that is not a tar, a refused member, or a blob not matching its name;
 * NoSpace when the disk falls below its reserve.
 */
export async function spoolArchive(input: AsyncIterable<Buffer>, workDir: string, limits?: SpoolLimits): Promise<Spool> {
  const spool = new Spool();
  const seen = { bytes: 0 };
  let entries = 0;
  try {
    for await (const { entry, body } of readTar(counted(decompressStream(input), seen))) {
      entries++;
      const path = normalize(entry.name);
      if (entry.type === 'symlink' || entry.type === 'hardlink') spool.addLink(path, linkTarget(path, entry));
      else if (entry.type === 'file' && path !== '') {
        if (limits && entry.size > archiveBound(limits.maxLayerSize)) {
          throw invalid(`${path} is ${roughSize(entry.size)}, more than a layer may expand to (max-layer-size ${exactSize(limits.maxLayerSize)})`);
        }
        spool.addFile(await spoolFile(body, path, join(workDir, `member-${entries}`), limits?.disk));
      }
    }
  } catch (e) {
    if (!(e instanceof InvalidArgument) || e instanceof InvalidArchive) throw e;
    if (entries === 0) throw invalid('the input is not a tar archive (plain, gzip or zstd)', e);
    throw invalid(e.message, e);
  }
  if (seen.bytes === 0) throw invalid('the input is empty');
  return spool;
}

async function* counted(chunks: AsyncIterable<Buffer>, seen: { bytes: number }): AsyncGenerator<Buffer> {
  for await (const chunk of chunks) {
    seen.bytes += chunk.length;
    yield chunk;
  }
}

async function spoolFile(body: AsyncIterable<Buffer>, path: string, file: string, disk?: DiskWatch): Promise<Member> {
  const blob = BLOB_RE.exec(path);
  const hash = createHash('sha256');
  const named: Hash | undefined = blob && blob[1] !== 'sha256' ? createHash(blob[1]!) : undefined;
  let head = Buffer.alloc(0);
  let size = 0;
  const fh = await open(file, 'wx').catch((e: unknown) => {
    throw new RuntimeFailure(`cannot extract ${path} into ${file}: ${(e as Error).message}`, { cause: e });
  });
  try {
    for await (const chunk of body) {
      disk?.add(chunk.length);
      hash.update(chunk);
      named?.update(chunk);
      if (head.length < 4) head = Buffer.concat([head, chunk.subarray(0, 4)]);
      for (let off = 0; off < chunk.length; ) off += (await writeChunk(fh, chunk, off, file)).bytesWritten;
      size += chunk.length;
    }
  } finally {
    await fh.close();
  }
  const hex = hash.digest('hex');
  const namedHex = named ? named.digest('hex') : hex;
  if (blob && namedHex !== blob[2]) {
    throw invalid(`blob ${path} does not match its digest (its content is ${blob[1]}:${namedHex})`);
  }
  return { path, file, size, digest: `sha256:${hex}`, compressed: sniffCompression(head) };
}

function writeChunk(fh: FileHandle, chunk: Buffer, offset: number, file: string): Promise<{ bytesWritten: number }> {
  return fh.write(chunk, offset).catch((e: unknown) => {
    throw new RuntimeFailure(`cannot write ${file}: ${(e as Error).message}`, { cause: e });
  });
}
