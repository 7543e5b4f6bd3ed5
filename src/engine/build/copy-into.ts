/**
 * COPY and ADD's writing: sources (from the context or another stage's tree) into a step's mounted file
 * system, with docker's destination rules. Each source is archived and the archive extracted at its place,
 * so every entry is resolved inside the image's root (a symlink in the image cannot lead a write out of it)
 * and below a source nothing is followed (a link in the context is copied as a link).
 */
import { chmodSync, lchownSync, lstatSync, mkdirSync, readdirSync } from 'node:fs';
import { basename, join, posix, resolve } from 'node:path';
import { extractTar } from '../../archive/extract.ts';
import { packPath, type PackChoice } from '../../archive/pack.ts';
import { resolveInRoot } from '../../archive/securejoin.ts';
import { InvalidArgument } from '../../errors.ts';

export interface CopySource {
  /** Where the source is on the host (already resolved inside its own root). */
  host: string;
  isDir: boolean;
  /** Its path in the context or stage, for the messages and for `select`. */
  name: string;
}

export interface CopyOptions {
  /** `--chown`: every copied file and directory, and directories the copy made, get these ids. */
  owner?: { uid: number; gid: number };
  /** `--chmod`: the mode of every copied file and directory. */
  mode?: number;
  /** Keep the sources' owners (a stage's files); otherwise they belong to root, as docker's COPY makes them. */
  keepOwners: boolean;
  /** Which entries below a directory source are copied, by their path in the source's root. */
  select?: (name: string, isDir: boolean) => PackChoice;
}

/**
 * Copy `sources` to `dest` (absolute, or relative to `workdir`) inside `root`. A directory source's
 * contents go into the destination; a file lands in it when it is a directory (it ends with `/`, or exists
 * as one), else as it. More than one source needs a directory destination written with a trailing `/`.
 */
export async function copyInto(root: string, sources: CopySource[], dest: string, workdir: string, opts: CopyOptions): Promise<void> {
  const path = posix.resolve(workdir || '/', dest);
  const endsWithSlash = dest.endsWith('/') || dest.endsWith('/.') || dest === '.';
  if (sources.length > 1 && !endsWithSlash) {
    throw new InvalidArgument(`When using COPY with more than one source file, the destination must be a directory and end with a /`);
  }
  const existing = lstatSync(resolveInRoot(root, path), { throwIfNoEntry: false });
  const intoDir = endsWithSlash || existing?.isDirectory() === true;
  for (const src of sources) {
    if (src.isDir) {
      const dir = makeDirs(root, path, opts);
      await extract(src, '', dir, opts);
      for (const child of readdirSync(src.host)) {
        const choice = opts.select?.(posix.join(src.name, child), lstatSync(join(src.host, child)).isDirectory()) ?? 'include';
        if (choice !== 'exclude') adjust(join(dir, child), opts);
      }
    } else {
      const parent = makeDirs(root, intoDir ? path : posix.dirname(path), opts);
      const name = intoDir ? basename(src.name) : posix.basename(path);
      await extract(src, name, parent, opts);
      adjust(join(parent, name), opts);
    }
  }
}

async function extract(src: CopySource, name: string, into: string, opts: CopyOptions): Promise<void> {
  // A file's archive name is its name at the destination; a directory's entries are named below it.
  // Only a directory's entries are chosen; a file source was chosen when it was resolved.
  const select = name === '' && opts.select ? (n: string, isDir: boolean) => opts.select!(posix.join(src.name, n), isDir) : undefined;
  const tar = await packPath(src.host, { name, followTopSymlink: true, ...(select ? { select } : {}) });
  await extractTar(tar, into, { onSymlinkInPath: 'scoped', whiteouts: 'keep', noSameOwner: !opts.keepOwners, plain: true });
}

/** The host path of directory `path` inside `root`, made (with its missing parents) as needed. */
function makeDirs(root: string, path: string, opts: CopyOptions): string {
  const base = resolve(root);
  let host = base;
  let inRoot = '/';
  for (const part of path.split('/').filter(Boolean)) {
    // Each step resolved inside the root: an image's symlinked directory is followed, never out of it.
    host = resolveInRoot(base, posix.join(inRoot, part));
    inRoot = host.slice(base.length) || '/';
    const st = lstatSync(host, { throwIfNoEntry: false });
    if (!st) {
      mkdirSync(host, { mode: 0o755 });
      if (opts.owner) lchownSync(host, opts.owner.uid, opts.owner.gid);
    } else if (!st.isDirectory()) {
      throw new InvalidArgument(`cannot copy to ${path}: ${inRoot} is not a directory`);
    }
  }
  return host;
}

/** Apply `--chown` and `--chmod` to a copied tree (links keep their own mode, as chmod cannot set one). */
function adjust(path: string, opts: CopyOptions): void {
  if (!opts.owner && opts.mode === undefined) return;
  const st = lstatSync(path, { throwIfNoEntry: false });
  if (!st) return;
  if (opts.owner) lchownSync(path, opts.owner.uid, opts.owner.gid);
  if (opts.mode !== undefined && !st.isSymbolicLink()) chmodSync(path, opts.mode);
  if (st.isDirectory()) for (const child of readdirSync(path)) adjust(join(path, child), opts);
}
