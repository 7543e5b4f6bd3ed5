/**
 * Files in and out of containers as tar streams (`cp`, `export`, the archive API). Container paths are
 * resolved as the container sees them, through its volumes and binds, with its root as `/`
 * (src/engine/fs-access.ts); archives written into a container are extracted with every entry kept
 * inside the target directory.
 */
import { lstatSync, readlinkSync } from 'node:fs';
import { posix } from 'node:path';
import type { Readable } from 'node:stream';
import { extractTar, type ExtractSummary } from '../archive/extract.ts';
import { packPath } from '../archive/pack.ts';
import { InvalidArgument, NotFound } from '../errors.ts';
import type { EngineCore } from './core.ts';
import { withContainerFs } from './fs-access.ts';

/** What docker's archive API reports of a path (X-Docker-Container-Path-Stat). */
export interface PathStat {
  name: string;
  size: number;
  /** Go's os.FileMode bits: permissions plus ModeDir (1<<31) or ModeSymlink (1<<27) and the like. */
  mode: number;
  mtime: string;
  linkTarget: string;
  isDir: boolean;
}

const GO_MODE = { dir: 2 ** 31, symlink: 2 ** 27, device: 2 ** 26, pipe: 2 ** 25, socket: 2 ** 24, charDevice: 2 ** 21 };

function pathStat(host: string, ctrPath: string): PathStat {
  const st = lstatSync(host, { throwIfNoEntry: false });
  if (!st) throw new NotFound(`Could not find the file ${ctrPath} in container`);
  let mode = st.mode & 0o777;
  if (st.isDirectory()) mode += GO_MODE.dir;
  else if (st.isSymbolicLink()) mode += GO_MODE.symlink;
  else if (st.isCharacterDevice()) mode += GO_MODE.device + GO_MODE.charDevice;
  else if (st.isBlockDevice()) mode += GO_MODE.device;
  else if (st.isFIFO()) mode += GO_MODE.pipe;
  else if (st.isSocket()) mode += GO_MODE.socket;
  return {
    name: posix.basename(ctrPath) || '/',
    size: st.size,
    mode,
    mtime: st.mtime.toISOString(),
    linkTarget: st.isSymbolicLink() ? readlinkSync(host) : '',
    isDir: st.isDirectory(),
  };
}

/** Stat a container path (the final symlink not followed unless `follow`, as docker's HEAD archive). */
export async function statInContainer(engine: EngineCore, ref: string, path: string, follow = false): Promise<PathStat> {
  return withContainerFs(engine, ref, async (fs) => pathStat(fs.resolve(path, follow), path));
}

/**
 * Stream `path` out of the container as a tar whose top entry is named `name` (default: the path's
 * base name; '.' for a directory's contents). `sink` consumes the stream while the files are reachable.
 */
export async function copyFromContainer(
  engine: EngineCore,
  ref: string,
  path: string,
  sink: (tar: Readable, stat: PathStat) => Promise<void>,
  opts: { name?: string; followLink?: boolean } = {},
): Promise<void> {
  await withContainerFs(engine, ref, async (fs) => {
    const host = fs.resolve(path, opts.followLink ?? false);
    const stat = pathStat(host, path);
    const tar = await packPath(host, { name: opts.name ?? (posix.basename(posix.normalize(`/${path}`)) || '.') });
    await sink(tar, stat);
  });
}

/**
 * Extract a tar into the container directory `dir` (which must exist). Entries cannot leave it: a
 * symlink met on the way is resolved inside the container. `noOverwriteDirNonDir` as docker's API.
 */
export async function copyToContainer(
  engine: EngineCore,
  ref: string,
  dir: string,
  tar: AsyncIterable<Buffer>,
  opts: { preserveOwner?: boolean } = {},
): Promise<ExtractSummary> {
  return withContainerFs(engine, ref, async (fs) => {
    const { host, mount } = fs.locate(dir, true);
    const st = lstatSync(host, { throwIfNoEntry: false });
    if (!st) throw new NotFound(`Could not find the file ${dir} in container ${fs.row.name}`);
    if (!st.isDirectory()) throw new InvalidArgument(`extraction point is not a directory: ${dir}`);
    // Where the path led, symlinks followed: a link on the rootfs into a writable volume may be written through.
    if (mount?.readonly) throw new InvalidArgument(`mounted volume is marked read-only: cannot copy into ${dir}`);
    if (!mount && fs.row.config.readonlyRootfs) throw new InvalidArgument(`container rootfs is marked read-only: cannot copy into ${dir}`);
    return extractTar(tar, host, { onSymlinkInPath: 'scoped', whiteouts: 'keep', noSameOwner: !(opts.preserveOwner ?? true) });
  });
}

/** `export`: the container's whole filesystem as a tar stream, entries named without a leading `./`. */
export async function exportContainer(engine: EngineCore, ref: string, sink: (tar: Readable) => Promise<void>): Promise<void> {
  await withContainerFs(engine, ref, async (fs) => sink(await packPath(fs.resolve('/', true), { name: '' })));
}
