/**
 * `build --output`: besides the image in the store, the result written out as BuildKit's exporters write it:
 * `type=docker` (a docker-archive, as `save`), `type=oci` (an OCI layout archive), `type=tar` (the image's
 * file system as one tar) or `type=local` (that file system into a directory). `dest=-` is stdout for the
 * archive types.
 */
import { createWriteStream, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { Readable, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { extractTar } from '../../archive/extract.ts';
import { packPath } from '../../archive/pack.ts';
import { InvalidArgument } from '../../errors.ts';
import { saveImages } from '../../image/save-load.ts';
import type { EngineCore } from '../core.ts';
import { mountStepFs } from './step-fs.ts';

export interface OutputSpec {
  type: 'docker' | 'oci' | 'tar' | 'local';
  dest: string;
}

/** `type=…,dest=…`, or a bare path (a directory: type=local), as `--output` takes it. */
export function parseOutput(text: string): OutputSpec {
  if (!text.includes('=')) return { type: 'local', dest: text };
  const fields = new Map(text.split(',').map((f) => [f.slice(0, f.indexOf('=')), f.slice(f.indexOf('=') + 1)] as const));
  const type = fields.get('type') ?? 'local';
  if (!['docker', 'oci', 'tar', 'local'].includes(type)) throw new InvalidArgument(`--output type=${type}: use docker, oci, tar or local`);
  const dest = fields.get('dest');
  if (!dest) throw new InvalidArgument(`--output type=${type} needs dest=PATH`);
  if (type === 'local' && dest === '-') throw new InvalidArgument('--output type=local needs a directory, not -');
  return { type: type as OutputSpec['type'], dest };
}

/** Write the built image `imageId` (known by `ref`, its tag or id) out as `spec` asks; `stdout` for `dest=-`. */
export async function writeOutput(engine: EngineCore, ref: string, spec: OutputSpec, stdout: Writable): Promise<void> {
  const sink = () => (spec.dest === '-' ? stdout : createWriteStream(spec.dest));
  if (spec.type === 'docker' || spec.type === 'oci') {
    await pipeline(Readable.from(saveImages(engine.images, [ref], spec.type)), sink(), { end: spec.dest !== '-' });
    return;
  }
  const img = engine.images.resolve(ref);
  const fs = await mountStepFs(engine, img, join(engine.root, 'build'));
  try {
    const tar = await packPath(fs.target, { name: '' });
    if (spec.type === 'tar') await pipeline(tar, sink(), { end: spec.dest !== '-' });
    else {
      mkdirSync(spec.dest, { recursive: true });
      await extractTar(tar, spec.dest, { onSymlinkInPath: 'scoped', whiteouts: 'keep', plain: true });
    }
  } finally {
    await fs.dispose();
  }
}
