/**
 * COPY and ADD as build steps: the sources (context paths, heredoc bodies, another stage's or image's files,
 * and for ADD a URL or a local archive to unpack) written into the parent image's file system under a new
 * upper dir, with no container; the upper dir is the step's layer.
 */
import { createReadStream, createWriteStream, lstatSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join, posix } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { extractTar } from '../../archive/extract.ts';
import { resolveInRoot } from '../../archive/securejoin.ts';
import { InvalidArgument, RuntimeFailure } from '../../errors.ts';
import { trace } from '../../sys/trace.ts';
import { fileHead, looksLikeArchive } from '../../image/archive-format.ts';
import type { Lease } from '../../image/store.ts';
import type { ImageRow, LayerRow } from '../../store/images.ts';
import type { EngineCore } from '../core.ts';
import type { BuildContext } from './context.ts';
import { copyInto, type CopySource } from './copy-into.ts';
import { layerFromUpper } from './step-image.ts';
import { mountStepFs, type StepFs } from './step-fs.ts';

export interface CopyRequest {
  instruction: string;
  /** Source words as expanded: context paths, `<<NAME` heredocs, URLs (ADD). */
  sources: string[];
  heredocs: { name: string; content: string }[];
  dest: string;
  workdir: string;
  add: boolean;
  owner?: { uid: number; gid: number };
  mode?: number;
}

/** Run a COPY/ADD on `parent`; its layer (undefined when it wrote nothing). Its mounts go through `later`. */
export async function copyStep(
  engine: EngineCore,
  req: CopyRequest & { fromImage: ImageRow | undefined; context: BuildContext; workRoot: string },
  parent: ImageRow | undefined,
  lease: Lease,
  later: (cleanup: () => Promise<void>) => void,
): Promise<LayerRow | undefined> {
  const held: StepFs[] = [];
  const scratch = mkdtempSync(join(req.workRoot, 'src-'));
  try {
    trace(`copy: ${req.sources.join(' ')}: mount`);
    const fs = await mountStepFs(engine, parent, req.workRoot);
    held.push(fs);
    let fromRoot: string | undefined;
    if (req.fromImage) {
      const from = await mountStepFs(engine, req.fromImage, req.workRoot);
      held.push(from);
      fromRoot = from.target;
    }
    const sources: CopySource[] = [];
    const archives: CopySource[] = [];
    for (const word of req.sources) {
      const heredoc = heredocNamed(word, req);
      if (heredoc) {
        const host = join(scratch, `heredoc-${sources.length}`);
        writeFileSync(host, heredoc.content, { mode: 0o644 });
        sources.push({ host, isDir: false, name: heredoc.name });
      } else if (/^https?:\/\//.test(word)) {
        if (!req.add) throw new InvalidArgument(`COPY cannot fetch ${word}: use ADD for a URL`);
        sources.push(await download(word, scratch));
      } else if (fromRoot) {
        const name = posix.normalize(`/${word}`).slice(1);
        const host = resolveInRoot(fromRoot, name);
        const st = lstatSync(host, { throwIfNoEntry: false });
        if (!st) throw new InvalidArgument(`${req.instruction} failed: ${word}: no such file or directory in the --from source`);
        sources.push({ host, isDir: st.isDirectory(), name: name || '.' });
      } else {
        for (const s of req.context.sources(word, req.instruction)) (req.add && !s.isDir && isArchive(s.host) ? archives : sources).push(s);
      }
    }
    if (sources.length + archives.length > 1 && !req.dest.endsWith('/')) {
      throw new InvalidArgument(`When using ${req.instruction} with more than one source file, the destination must be a directory and end with a /`);
    }
    const opts = {
      ...(req.owner ? { owner: req.owner } : {}),
      ...(req.mode !== undefined ? { mode: req.mode } : {}),
      keepOwners: fromRoot !== undefined,
      ...(fromRoot ? {} : { select: req.context.select }),
    };
    trace(`copy: ${req.sources.join(' ')}: copy`);
    if (sources.length > 0) await copyInto(fs.target, sources, req.dest, req.workdir, opts);
    trace(`copy: ${req.sources.join(' ')}: layer`);
    for (const a of archives) await unpackInto(fs.target, a, req);
    return await layerFromUpper(engine, fs.upper, lease, `${req.instruction} ${req.sources.join(' ')}`);
  } finally {
    // Off the build's path: the layer is stored; unmounting and removing can go on beside the next step.
    later(async () => {
      for (const m of held.reverse()) await m.dispose().catch(() => {});
      rmSync(scratch, { recursive: true, force: true });
    });
  }
}

function heredocNamed(word: string, req: CopyRequest): { name: string; content: string } | undefined {
  if (!word.startsWith('<<')) return undefined;
  const name = word.replace(/^<<-?/, '').replace(/^["']|["']$/g, '');
  return req.heredocs.find((h) => h.name === name);
}

/** A local tar (plain, gzip or zstd) that ADD unpacks instead of copying. */
const isArchive = (path: string) => looksLikeArchive(fileHead(path, 512));

/** ADD of a local archive: its entries under the destination directory (made as needed). */
async function unpackInto(root: string, a: CopySource, req: CopyRequest): Promise<void> {
  const path = posix.resolve(req.workdir || '/', req.dest);
  const dir = resolveInRoot(root, path);
  mkdirSync(dir, { recursive: true, mode: 0o755 });
  await extractTar(createReadStream(a.host), dir, { onSymlinkInPath: 'scoped', whiteouts: 'keep' });
}

/** ADD of a URL: fetched into the scratch dir, then copied as a file of mode 0600 (as docker's). */
async function download(url: string, scratch: string): Promise<CopySource> {
  const name = posix.basename(new URL(url).pathname) || 'index.html';
  const host = join(scratch, `url-${name}`);
  let res: Response;
  try {
    res = await fetch(url, { redirect: 'follow' });
  } catch (e) {
    throw new RuntimeFailure(`ADD ${url}: cannot fetch it: ${(e as Error & { cause?: Error }).cause?.message ?? (e as Error).message}`, { cause: e });
  }
  if (!res.ok || !res.body) throw new RuntimeFailure(`ADD ${url}: the server answered ${res.status} ${res.statusText}`);
  await pipeline(Readable.fromWeb(res.body as import('node:stream/web').ReadableStream), createWriteStream(host, { mode: 0o600 }));
  return { host, isDir: false, name };
}
