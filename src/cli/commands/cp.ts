/**
 * `berth cp [-a] [-L] [-q] CONTAINER:SRC DEST|-` and `berth cp SRC|- CONTAINER:DEST`, with docker's rules
 * for where a copy lands (into an existing directory, as a new name, or a directory's contents with
 * `SRC/.`) and tar streams on `-`.
 */
import { lstatSync, statSync } from 'node:fs';
import { basename, dirname, posix, resolve } from 'node:path';
import type { FlagDef } from '../flags.ts';
import { fail, parse, withEngine, type Command } from '../common.ts';
import { humanSize } from '../format.ts';
import { toStdout } from '../stream.ts';
import { packPath } from '../../archive/pack.ts';
import { extractTar } from '../../archive/extract.ts';
import { copyFromContainer, copyToContainer, statInContainer } from '../../engine/copy.ts';
import { InvalidArgument, NotFound } from '../../errors.ts';
import type { Engine } from '../../engine/engine.ts';
import type { Globals } from '../globals.ts';

const flags = [
  { name: 'archive', short: 'a', type: 'bool', description: 'Archive mode (copy all uid/gid information)' },
  { name: 'follow-link', short: 'L', type: 'bool', description: 'Always follow symbol link in SRC_PATH' },
  { name: 'quiet', short: 'q', type: 'bool', description: 'Suppress progress output during copy' },
] as const satisfies readonly FlagDef[];

const cmd: Command<typeof flags> = {
  usage: '[OPTIONS] CONTAINER:SRC_PATH DEST_PATH|-\n\tberth cp [OPTIONS] SRC_PATH|- CONTAINER:DEST_PATH',
  description: 'Copy files/folders between a container and the local filesystem',
  flags,
  args: [2, 2],
};

/** `ctr:/path` → [ctr, path]; a local path (absolute, ./relative, or without a colon) → null. */
function splitRef(arg: string): [string, string] | null {
  if (arg.startsWith('/') || arg.startsWith('.')) return null;
  const i = arg.indexOf(':');
  return i > 0 ? [arg.slice(0, i), arg.slice(i + 1)] : null;
}

/** Where a copy of a `srcIsDir` source lands, given what exists at `dest`: [directory, name to give it]. */
function landing(src: string, srcIsDir: boolean, dest: string, destIsDir: boolean | undefined): [string, string] {
  const contentsOnly = srcIsDir && /(^|\/)\.$/.test(src);
  const srcName = basename(posix.normalize(src));
  if (destIsDir === undefined) {
    if (dest.endsWith('/') && !srcIsDir) throw new InvalidArgument(`no such directory: ${dest}`);
    return [dirname(dest.replace(/\/+$/, '') || '/'), basename(dest.replace(/\/+$/, '')) || '.'];
  }
  if (!destIsDir) {
    if (srcIsDir) throw new InvalidArgument(`cannot copy a directory to a file: ${dest}`);
    if (dest.endsWith('/')) throw new InvalidArgument(`not a directory: ${dest}`);
    return [dirname(dest), basename(dest)];
  }
  return [dest, contentsOnly ? '.' : srcName];
}

async function fromContainer(engine: Engine, ctr: string, src: string, dest: string, f: { archive: boolean; 'follow-link': boolean; quiet: boolean }): Promise<number> {
  if (dest === '-') {
    await copyFromContainer(engine, ctr, src, (tar) => toStdout(tar), { followLink: f['follow-link'] });
    return 0;
  }
  const st = await statInContainer(engine, ctr, src);
  const srcIsDir = f['follow-link'] ? (await statInContainer(engine, ctr, src, true)).isDir : st.isDir;
  const hostSt = statSync(dest, { throwIfNoEntry: false });
  const [dir, name] = landing(src, srcIsDir, dest, hostSt ? hostSt.isDirectory() : undefined);
  if (!statSync(dir, { throwIfNoEntry: false })?.isDirectory()) throw new NotFound(`no such directory: ${dir}`);
  let bytes = 0;
  await copyFromContainer(
    engine,
    ctr,
    src,
    async (tar) => {
      bytes = (await extractTar(tar, resolve(dir), { onSymlinkInPath: 'scoped', whiteouts: 'keep', noSameOwner: !f.archive })).bytes;
    },
    { name, followLink: f['follow-link'] },
  );
  if (!f.quiet) process.stderr.write(`Successfully copied ${humanSize(bytes)} to ${dest}\n`);
  return 0;
}

async function toContainer(engine: Engine, src: string, ctr: string, dest: string, f: { archive: boolean; 'follow-link': boolean; quiet: boolean }): Promise<number> {
  if (src === '-') {
    await copyToContainer(engine, ctr, dest, process.stdin, { preserveOwner: true });
    return 0;
  }
  const hostSt = f['follow-link'] ? statSync(src, { throwIfNoEntry: false }) : lstatSync(src, { throwIfNoEntry: false });
  if (!hostSt) throw new NotFound(`lstat ${resolve(src)}: no such file or directory`);
  let destIsDir: boolean | undefined;
  try {
    destIsDir = (await statInContainer(engine, ctr, dest.replace(/\/+$/, '') || '/')).isDir;
  } catch (e) {
    if (!(e instanceof NotFound)) throw e;
  }
  // A destination that is a symlink to a directory counts as that directory (docker follows it).
  if (destIsDir === false) destIsDir = (await statInContainer(engine, ctr, dest, true).catch(() => null))?.isDir ?? false;
  const [dir, name] = landing(src, hostSt.isDirectory(), dest, destIsDir);
  const tar = await packPath(resolve(src), { name, followTopSymlink: f['follow-link'] });
  const { bytes } = await copyToContainer(engine, ctr, dir, tar, { preserveOwner: f.archive });
  if (!f.quiet) process.stderr.write(`Successfully copied ${humanSize(bytes)} to ${ctr}:${dest}\n`);
  return 0;
}

export async function main(argv: string[], g: Globals): Promise<number> {
  const p = parse(cmd, argv, 'cp');
  if (typeof p === 'number') return p;
  const [a, b] = p.args as [string, string];
  const from = splitRef(a);
  const to = splitRef(b);
  if (from && to) return fail('Error: copying between containers is not supported', 1);
  if (!from && !to) return fail('Error: must specify at least one container source', 1);
  return withEngine(g, 'cp', async (engine) => {
    if (from) return fromContainer(engine, from[0], from[1] || '/', b, p.flags);
    return toContainer(engine, a, to![0], to![1] || '/', p.flags);
  });
}
