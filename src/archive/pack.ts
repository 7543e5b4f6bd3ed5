/**
 * Packing a host file or directory tree into a tar stream (`berth cp` out of a container, `export`).
 * Symlinks below the top are stored, never followed; a second path to an inode becomes a hard link.
 *
 * File-system calls are synchronous on purpose: per file they are a few short syscalls, and libuv's
 * thread pool hand-offs made packing ~15x slower than GNU tar. The stream still yields between chunks.
 */
import {
  closeSync, constants, fstatSync, lstatSync, openSync, readdirSync, readlinkSync, readSync, realpathSync,
  type BigIntStats,
} from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { InvalidArgument, NotFound, RuntimeFailure } from '../errors.ts';
import { lgetxattr, llistxattr, splitDev } from '../sys/fsx.ts';
import { tarEntry, writeTar, type TarEntry, type TarEntryType, type TarInput } from './tar.ts';

export interface PackOptions {
  /**
   * Archive name of the top entry ('dir', '.'); the tree's entries are named below it. '' leaves out the
   * top entry of a directory and names its contents without a prefix (`bin/`, not `./bin/`: docker export).
   */
  name: string;
  /** When `hostPath` itself is a symlink, archive what it points to (default: the link itself). */
  followTopSymlink?: boolean;
  /**
   * Archive an overlay upper dir as an image layer: a whiteout (0:0 char device) becomes `.wh.NAME`, an
   * opaque dir (trusted.overlay.opaque=y) gets `.wh..wh..opq`, overlay's own xattrs are left out, and
   * paths `skip` names (archive names without a leading `/`) are not archived.
   */
  layer?: { skip?: (name: string) => boolean };
  /**
   * Which entries to archive (all when absent), asked with each archive name: 'exclude' leaves out the entry
   * and all below it, 'descend' leaves out the entry but still looks below it (a build context's
   * .dockerignore can exclude a directory and take back a file inside it).
   */
  select?: (name: string, isDir: boolean) => PackChoice;
}

export type PackChoice = 'include' | 'exclude' | 'descend';

interface WalkContext {
  inodes: Map<string, string>;
  layer?: PackOptions['layer'];
  select?: PackOptions['select'];
}

const CHUNK = 256 * 1024;
/** SELinux labels belong to the host that set them; a copy gets its label from where it lands. */
const SKIPPED_XATTRS = new Set(['security.selinux']);

const code = (e: unknown) => (e as NodeJS.ErrnoException).code;

/**
 * A tar stream of `hostPath` (a file, or a directory and everything below it), with modes, uid/gid
 * (no user or group names), whole-second mtimes, symlinks, hard links, devices, fifos and xattrs.
 * Sockets are left out. Throws NotFound at once when `hostPath` does not exist; a file that shrinks
 * while it is read fails the stream with RuntimeFailure.
 */
export async function packPath(hostPath: string, options: PackOptions): Promise<Readable> {
  let st: BigIntStats;
  let top = hostPath;
  try {
    if (options.followTopSymlink) top = realpathSync(hostPath);
    st = lstatSync(top, { bigint: true });
  } catch (e) {
    if (code(e) === 'ENOENT') throw new NotFound(`no such file or directory: ${hostPath}`, { cause: e });
    throw new RuntimeFailure(`cannot archive ${hostPath}: ${(e as Error).message}`, { cause: e });
  }
  if (options.name === '' && !st.isDirectory()) throw new InvalidArgument('an empty archive name needs a directory');
  const name = options.name === '' ? '' : options.name.replace(/\/+$/, '') || '.';
  return Readable.from(writeTar(walk(top, name, st, { inodes: new Map(), layer: options.layer, select: options.select })), { objectMode: false });
}

/** Entries for `host` and, for a directory, everything below it in name order. */
async function* walk(host: string, name: string, st: BigIntStats, ctx: WalkContext): AsyncGenerator<TarInput> {
  const type = typeOf(st);
  if (!type) return;
  if (name === '') return yield* children(host, '', ctx);
  const choice = ctx.select?.(name, type === 'dir') ?? 'include';
  if (choice === 'exclude') return;
  if (choice === 'descend') return type === 'dir' ? yield* children(host, `${name}/`, ctx) : undefined;
  const mtime = Number(st.mtimeNs / 1_000_000_000n);
  let opaque = false;
  const xattrs = readXattrs(host);
  if (ctx.layer) {
    if (ctx.layer.skip?.(name)) return;
    if (type === 'char' && st.rdev === 0n) {
      const cut = name.lastIndexOf('/') + 1;
      return yield { entry: tarEntry({ name: `${name.slice(0, cut)}.wh.${name.slice(cut)}`, type: 'file', mode: 0, mtime }) };
    }
    for (const k of Object.keys(xattrs)) {
      if (!k.startsWith('trusted.overlay.')) continue;
      if (k === 'trusted.overlay.opaque' && xattrs[k]!.toString() === 'y') opaque = true;
      delete xattrs[k];
    }
  }
  const entry = tarEntry({
    name,
    type,
    mode: Number(st.mode) & 0o7777,
    uid: Number(st.uid),
    gid: Number(st.gid),
    mtime,
    xattrs,
  });
  if (type !== 'dir' && st.nlink > 1n) {
    const key = `${st.dev}:${st.ino}`;
    const first = ctx.inodes.get(key);
    if (first !== undefined) return yield { entry: { ...entry, type: 'hardlink', linkname: first } };
    ctx.inodes.set(key, name);
  }
  if (type === 'char' || type === 'block') {
    const { major, minor } = splitDev(st.rdev);
    entry.devmajor = major;
    entry.devminor = minor;
  }
  if (type === 'symlink') entry.linkname = readlinkSync(host);
  if (type === 'file') {
    entry.size = Number(st.size);
    return yield { entry, body: readFile(host, entry.size) };
  }
  yield { entry };
  if (opaque) yield { entry: tarEntry({ name: `${name}/.wh..wh..opq`, type: 'file', mode: 0, mtime }) };
  if (type === 'dir') yield* children(host, `${name}/`, ctx);
}

async function* children(host: string, prefix: string, ctx: WalkContext): AsyncGenerator<TarInput> {
  for (const child of readdirSync(host).sort()) {
    const path = join(host, child);
    const st = lstatSync(path, { bigint: true, throwIfNoEntry: false });
    // Removed since readdir: as with GNU tar, what is gone is not archived.
    if (st) yield* walk(path, `${prefix}${child}`, st, ctx);
  }
}

function typeOf(st: BigIntStats): TarEntryType | undefined {
  if (st.isFile()) return 'file';
  if (st.isDirectory()) return 'dir';
  if (st.isSymbolicLink()) return 'symlink';
  if (st.isCharacterDevice()) return 'char';
  if (st.isBlockDevice()) return 'block';
  if (st.isFIFO()) return 'fifo';
  return undefined;
}

function readXattrs(path: string): TarEntry['xattrs'] {
  const out: TarEntry['xattrs'] = {};
  try {
    for (const name of llistxattr(path)) {
      const value = SKIPPED_XATTRS.has(name) ? undefined : lgetxattr(path, name);
      if (value) out[name] = value;
    }
  } catch (e) {
    if (code(e) !== 'ENOENT' && code(e) !== 'EPERM') throw e;
  }
  return out;
}

/** Exactly `size` bytes of the file, in bounded chunks. */
async function* readFile(path: string, size: number): AsyncGenerator<Buffer> {
  // O_NOFOLLOW and O_NONBLOCK: a path swapped for a symlink or a fifo since lstat must not be followed or block.
  const fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  try {
    if (!fstatSync(fd).isFile()) throw new RuntimeFailure(`${path} changed while being archived`);
    for (let left = size; left > 0; ) {
      const buf = Buffer.allocUnsafe(Math.min(left, CHUNK));
      const n = readSync(fd, buf, 0, buf.length, null);
      if (n === 0) throw new RuntimeFailure(`${path} shrank while being archived`);
      left -= n;
      yield buf.subarray(0, n);
    }
  } finally {
    closeSync(fd);
  }
}
