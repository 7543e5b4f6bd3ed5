/**
 * Safe extraction of a tar stream (plain, gzip or zstd) into an existing directory.
 *
 * Two policies for paths: 'reject' (image layers) refuses any entry that would touch something outside
 * the destination — an absolute name, a `..` climbing out, a parent that is a symlink, a hard link to a
 * target outside or absent, a whiteout aiming up; 'scoped' (cp into a container) resolves every name
 * with resolveInRoot, the destination being the container's `/`. In both, the last component is never
 * followed: whatever is there is replaced, so a symlink in the archive cannot redirect a later write.
 *
 * File-system calls are synchronous on purpose: each is a short metadata syscall, and going through
 * libuv's thread pool made extraction 2-3x slower than GNU tar (thread hand-offs, not the syscalls,
 * dominated). The event loop still runs between input chunks.
 */
import {
  chmodSync, closeSync, constants, fchmodSync, fchownSync, ftruncateSync, futimesSync, lchownSync, linkSync,
  lstatSync, lutimesSync, mkdirSync, openSync, readdirSync, realpathSync, rmSync, symlinkSync, unlinkSync,
  writeSync,
} from 'node:fs';
import { join, relative, sep } from 'node:path';
import { BerthError, InvalidArgument, NoSpace, NotFound, RuntimeFailure } from '../errors.ts';
import { lsetxattr, mknod } from '../sys/fsx.ts';
import { resolveInRoot } from './securejoin.ts';
import { decompressStream, readTar, type TarEntry } from './tar.ts';

export interface ExtractOptions {
  /** 'reject': refuse entries that leave the destination; 'scoped': resolve them inside it. */
  onSymlinkInPath: 'reject' | 'scoped';
  /**
   * 'overlay': `.wh.NAME` becomes a 0/0 char device NAME and `.wh..wh..opq` trusted.overlay.opaque=y on its
   * directory (overlayfs's form); 'apply': NAME, or the directory's older contents, are deleted; 'keep': files.
   */
  whiteouts: 'overlay' | 'keep' | 'apply';
  /** Leave files owned by the extracting user instead of the archive's uid/gid. */
  noSameOwner?: boolean;
  /** The input is already a plain tar (the caller decompressed it): skip sniffing for gzip/zstd. */
  plain?: boolean;
}

export interface ExtractSummary {
  entries: number;
  /** Bytes of regular-file data written. */
  bytes: number;
}

const WH = '.wh.';
const OPAQUE = '.wh..wh..opq';
/** Holes are made at this granularity: the usual file-system block. */
const HOLE = 4096;
const ZERO = Buffer.alloc(HOLE);
const S_IFCHR = 0o020000;
const S_IFBLK = 0o060000;
const S_IFIFO = 0o010000;
const NEW_FILE = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW;

const code = (e: unknown) => (e as NodeJS.ErrnoException).code;
const lstatOrNull = (p: string) => lstatSync(p, { throwIfNoEntry: false }) ?? null;

/**
 * Extracts `input` into the existing directory `destDir`, preserving modes, ownership, mtimes, xattrs,
 * links, devices and holes. Directory modes and mtimes are set at the end, after their contents.
 * Throws InvalidArgument naming the entry when the path policy refuses it, RuntimeFailure when the host
 * fails; entries before the failing one stay extracted.
 */
export async function extractTar(
  input: AsyncIterable<Buffer>, destDir: string, options: ExtractOptions,
): Promise<ExtractSummary> {
  let root: string;
  try {
    root = realpathSync(destDir);
  } catch (e) {
    throw new NotFound(`extract: destination ${destDir} does not exist`, { cause: e });
  }
  if (!lstatSync(root).isDirectory()) {
    throw new InvalidArgument(`extract: destination ${destDir} is not a directory`);
  }
  const x = new Extractor(root, options);
  const summary: ExtractSummary = { entries: 0, bytes: 0 };
  for await (const { entry, body } of readTar(options.plain ? input : decompressStream(input))) {
    summary.entries++;
    try {
      summary.bytes += await x.entry(entry, body);
    } catch (e) {
      if (e instanceof BerthError) throw e;
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOSPC' || code === 'EDQUOT') {
        throw new NoSpace(`extract ${entry.name}: the file system of ${destDir} is full (${code === 'ENOSPC' ? 'no space or inodes left' : 'quota exceeded'})`, { cause: e });
      }
      throw new RuntimeFailure(`extract ${entry.name}: ${(e as Error).message}`, { cause: e });
    }
  }
  x.finish();
  return summary;
}

class Extractor {
  readonly root: string;
  readonly opts: ExtractOptions;
  /** Directories whose mode and mtime are set at the end (later entries for the same path win). */
  readonly dirs = new Map<string, TarEntry>();
  /** Host directories known to be real directories inside the root. */
  readonly checked = new Set<string>();
  /** Paths written so far, for opaque whiteouts in 'apply' mode. */
  readonly written = new Set<string>();
  /**
   * 'scoped': archive directory name → its resolved components. Only a symlink made or removed, or a
   * directory removed, changes a resolution, and each of those clears this; parents() would still
   * refuse a symlink met through a stale entry.
   */
  readonly resolved = new Map<string, string[]>();
  constructor(root: string, opts: ExtractOptions) {
    this.root = root;
    this.opts = opts;
  }

  /** The path's components below the root, by the configured policy. */
  locate(e: TarEntry, name: string): string[] {
    if (this.opts.onSymlinkInPath === 'scoped') {
      const trimmed = name.replace(/\/+$/, '');
      const cut = trimmed.lastIndexOf('/');
      const last = trimmed.slice(cut + 1);
      if (last === '' || last === '.' || last === '..') return this.scoped(name, false);
      const parent = cut < 0 ? '' : trimmed.slice(0, cut);
      let dir = this.resolved.get(parent);
      if (!dir) this.resolved.set(parent, (dir = this.scoped(parent, true)));
      return [...dir, last];
    }
    if (name.startsWith('/')) throw refuse(e, 'absolute path');
    const out: string[] = [];
    for (const p of name.split('/')) {
      if (p === '..' && out.pop() === undefined) {
        throw refuse(e, `${JSON.stringify(name)} climbs out of the destination`);
      } else if (p !== '' && p !== '.' && p !== '..') out.push(p);
    }
    return out;
  }

  scoped(name: string, followFinal: boolean): string[] {
    const rel = relative(this.root, resolveInRoot(this.root, name, { followFinal }));
    return rel === '' ? [] : rel.split(sep);
  }

  /** Checks (and with `create`, makes) the directories above `rel`; false if one is missing. */
  parents(e: TarEntry, rel: string[], create: boolean): boolean {
    for (let i = 1; i < rel.length; i++) {
      const dir = join(this.root, ...rel.slice(0, i));
      if (this.checked.has(dir)) continue;
      const st = lstatOrNull(dir);
      if (!st) {
        if (!create) return false;
        mkdirSync(dir, 0o755);
      } else if (st.isSymbolicLink()) {
        throw refuse(e, `its parent ${rel.slice(0, i).join('/')} is a symlink`);
      } else if (!st.isDirectory()) {
        throw refuse(e, `its parent ${rel.slice(0, i).join('/')} is not a directory`);
      }
      this.checked.add(dir);
    }
    return true;
  }

  /** Removes whatever is at `path`, unless it is a directory and `keepDir`; true if a directory is kept. */
  clear(path: string, keepDir: boolean): boolean {
    const st = lstatOrNull(path);
    if (!st) return false;
    if (st.isSymbolicLink()) this.resolved.clear();
    if (!st.isDirectory()) {
      unlinkSync(path);
      return false;
    }
    if (keepDir) return true;
    rmSync(path, { recursive: true, force: true });
    this.resolved.clear();
    const gone = (p: string) => p === path || p.startsWith(path + sep);
    for (const p of this.checked) if (gone(p)) this.checked.delete(p);
    for (const p of this.dirs.keys()) if (gone(p)) this.dirs.delete(p);
    return false;
  }

  /** Extracts one entry; returns the file bytes written. */
  async entry(e: TarEntry, body: AsyncIterable<Buffer>): Promise<number> {
    const base = e.name.replace(/\/+$/, '').split('/').pop() ?? '';
    if (this.opts.whiteouts !== 'keep' && base.startsWith(WH)) {
      this.whiteout(e, base);
      return 0;
    }
    const rel = this.locate(e, e.name);
    const path = join(this.root, ...rel);
    if (rel.length === 0 && e.type !== 'dir') throw refuse(e, 'it would replace the destination directory');
    this.parents(e, rel, true);
    if (this.opts.whiteouts === 'apply') this.written.add(path);
    let bytes = 0;
    switch (e.type) {
      case 'dir':
        if (!this.clear(path, true)) mkdirSync(path, 0o700);
        this.checked.add(path);
        if (!this.opts.noSameOwner) lchownSync(path, e.uid, e.gid);
        setXattrs(path, e);
        this.dirs.delete(path);
        this.dirs.set(path, e);
        return 0;
      case 'hardlink': {
        const target = this.linkTarget(e);
        this.clear(path, false);
        linkSync(target, path);
        this.resolved.clear();
        return 0;
      }
      case 'file':
        this.clear(path, false);
        bytes = await writeFile(path, body, e, !this.opts.noSameOwner);
        break;
      case 'symlink':
        this.clear(path, false);
        symlinkSync(e.linkname, path);
        this.resolved.clear();
        break;
      default: {
        this.clear(path, false);
        const kind = e.type === 'char' ? S_IFCHR : e.type === 'block' ? S_IFBLK : S_IFIFO;
        mknod(path, kind | (e.mode & 0o777), e.devmajor, e.devminor);
      }
    }
    if (e.type !== 'file') {
      if (!this.opts.noSameOwner) lchownSync(path, e.uid, e.gid);
      // Linux has no symlink modes; chmod after chown, which clears setuid/setgid.
      if (e.type !== 'symlink') chmodSync(path, e.mode & 0o7777);
      setXattrs(path, e);
      lutimesSync(path, e.mtime, e.mtime);
    }
    return bytes;
  }

  /** The host path of a hard link's target: an existing non-directory inside the root. */
  linkTarget(e: TarEntry): string {
    const rel = this.locate(e, e.linkname);
    const ok = rel.length > 0 && this.parents(e, rel, false);
    const path = join(this.root, ...rel);
    const st = ok ? lstatOrNull(path) : null;
    if (!st) throw refuse(e, `hard link target ${JSON.stringify(e.linkname)} does not exist in the destination`);
    if (st.isDirectory()) throw refuse(e, `hard link target ${JSON.stringify(e.linkname)} is a directory`);
    return path;
  }

  whiteout(e: TarEntry, base: string): void {
    const rel = this.locate(e, e.name);
    const dirRel = rel.slice(0, -1);
    const dir = join(this.root, ...dirRel);
    if (base === OPAQUE) {
      if (!this.parents(e, rel, this.opts.whiteouts === 'overlay')) return;
      if (this.opts.whiteouts === 'overlay') return lsetxattr(dir, 'trusted.overlay.opaque', Buffer.from('y'));
      this.resolved.clear();
      for (const child of readdirSync(dir)) {
        if (!this.written.has(join(dir, child))) rmSync(join(dir, child), { recursive: true, force: true });
      }
      return;
    }
    const name = base.slice(WH.length);
    if (name === '' || name === '.' || name === '..') throw refuse(e, 'the whiteout aims outside its directory');
    const path = join(dir, name);
    if (!this.parents(e, [...dirRel, name], this.opts.whiteouts === 'overlay')) return;
    this.clear(path, false);
    if (this.opts.whiteouts === 'overlay') mknod(path, S_IFCHR, 0, 0);
  }

  /** Directory modes and mtimes, set last: writing their contents would have changed the mtimes. */
  finish(): void {
    for (const [path, e] of [...this.dirs].reverse()) {
      chmodSync(path, e.mode & 0o7777);
      lutimesSync(path, e.mtime, e.mtime);
    }
  }
}

function setXattrs(path: string, e: TarEntry): void {
  for (const [name, value] of Object.entries(e.xattrs)) {
    try {
      lsetxattr(path, name, value);
    } catch (err) {
      // As moby does: file systems without xattrs, and user.* on symlinks, refuse; the rest must work.
      if (code(err) !== 'ENOTSUP' && code(err) !== 'EPERM') throw err;
    }
  }
}

function refuse(e: TarEntry, why: string): InvalidArgument {
  return new InvalidArgument(`refusing to extract ${JSON.stringify(e.name)}: ${why}`);
}

/** Writes a regular file, leaving 4 KiB-aligned zero blocks as holes, then sets its metadata. */
async function writeFile(path: string, body: AsyncIterable<Buffer>, e: TarEntry, chown: boolean): Promise<number> {
  const fd = openSync(path, NEW_FILE, 0o600);
  try {
    const out = { fd, pos: 0, end: 0 };
    let carry: Buffer = Buffer.alloc(0);
    for await (let chunk of body) {
      if (carry.length > 0) {
        const need = HOLE - carry.length;
        carry = Buffer.concat([carry, chunk.subarray(0, need)]);
        chunk = chunk.subarray(need);
        if (carry.length < HOLE) continue;
        writeBlocks(out, carry);
      }
      const whole = chunk.length - (chunk.length % HOLE);
      writeBlocks(out, chunk.subarray(0, whole));
      carry = chunk.subarray(whole);
    }
    writeBlocks(out, carry);
    if (out.end < out.pos) ftruncateSync(fd, out.pos);
    if (chown) fchownSync(fd, e.uid, e.gid);
    fchmodSync(fd, e.mode & 0o7777);
    setXattrs(path, e);
    futimesSync(fd, e.mtime, e.mtime);
    return out.pos;
  } finally {
    closeSync(fd);
  }
}

/**
 * Writes `buf` at `out.pos` (block-aligned) except its all-zero blocks, and advances `out.pos`;
 * `out.end` is where the last written byte ends.
 */
function writeBlocks(out: { fd: number; pos: number; end: number }, buf: Buffer): void {
  let run = -1;
  for (let i = 0; ; i += HOLE) {
    const end = Math.min(i, buf.length);
    const block = buf.subarray(end, i + HOLE);
    const zero = block.length === 0 || block.equals(ZERO.subarray(0, block.length));
    if (!zero && run < 0) run = i;
    if (zero && run >= 0) {
      for (let off = run; off < end; ) off += writeSync(out.fd, buf, off, end - off, out.pos + off);
      out.end = out.pos + end;
      run = -1;
    }
    if (block.length === 0) break;
  }
  out.pos += buf.length;
}
