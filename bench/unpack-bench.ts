// Unpack benchmark: `berth load` of a docker-archive holding one large gzip layer (default 512 MiB of
// uncompressed tar: 256 files of 2 MiB, non-zero so every block is written, not a hole), each run into an
// empty root. Measures what a layer's unpack costs end to end (gunzip, hash, extract), e.g. before and
// after a change to the unpack path. Several launchers may be given to alternate between builds:
//
//   node bench/unpack-bench.ts [--runs N] [--mib N] [--berth PATH]...
//
// Run with the project's Node 24. Type stripping only: keep this file to erasable TypeScript syntax.

import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createWriteStream, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import { tarEntry, writeTar } from '../src/archive/tar.ts';
import { median } from './stats.ts';

const REPO = resolve(import.meta.dirname, '..');

function parseArgs(argv: string[]): { runs: number; mib: number; berths: string[] } {
  const o = { runs: 5, mib: 512, berths: [] as string[] };
  for (let i = 0; i < argv.length; i++) {
    const m = /^--(runs|mib|berth)(?:=(.*))?$/.exec(argv[i]!);
    if (!m) {
      process.stderr.write('usage: node bench/unpack-bench.ts [--runs N] [--mib N] [--berth PATH]...\n');
      process.exit(2);
    }
    const v = m[2] ?? argv[++i]!;
    if (m[1] === 'berth') o.berths.push(resolve(v));
    else o[m[1] as 'runs' | 'mib'] = Number(v);
  }
  if (o.berths.length === 0) o.berths.push(join(REPO, 'bin', 'berth'));
  return o;
}

/** A docker-archive with one gzip layer of `mib` MiB of tar; returns its path. */
async function makeArchive(dir: string, mib: number): Promise<string> {
  const chunk = Buffer.alloc(1 << 20);
  for (let i = 0; i < chunk.length; i++) chunk[i] = 32 + ((i * 7 + (i >> 9)) % 90);
  const files = Math.max(1, Math.floor(mib / 2));
  async function* items() {
    for (let f = 0; f < files; f++) {
      yield { entry: tarEntry({ name: `data/f${f}`, type: 'file', mode: 0o644, size: 2 << 20, mtime: 1_700_000_000 }), body: (async function* () { yield chunk; yield chunk; })() };
    }
  }
  const hash = createHash('sha256');
  const hashed = async function* (src: AsyncIterable<Buffer>) {
    for await (const c of src) {
      hash.update(c);
      yield c;
    }
  };
  await pipeline(hashed(writeTar(items())), createGzip({ level: 1 }), createWriteStream(join(dir, 'layer.tar.gz')));
  const diffId = `sha256:${hash.digest('hex')}`;
  writeFileSync(join(dir, 'config.json'), JSON.stringify({ architecture: 'amd64', os: 'linux', config: {}, rootfs: { type: 'layers', diff_ids: [diffId] } }));
  writeFileSync(join(dir, 'manifest.json'), JSON.stringify([{ Config: 'config.json', RepoTags: ['bench/unpack:1'], Layers: ['layer.tar.gz'] }]));
  const archive = join(dir, 'archive.tar');
  const t = spawnSync('tar', ['-cf', archive, '-C', dir, 'manifest.json', 'config.json', 'layer.tar.gz']);
  if (t.status !== 0) throw new Error(`tar: ${t.stderr}`);
  rmSync(join(dir, 'layer.tar.gz'));
  return archive;
}

function loadOnce(berth: string, archive: string): number {
  const root = mkdtempSync('/tmp/berth-bench-unpack-');
  try {
    const t0 = performance.now();
    const r = spawnSync(berth, ['--root', root, 'load', '-q', '-i', archive], { encoding: 'utf8' });
    const ms = performance.now() - t0;
    if (r.status !== 0) throw new Error(`${berth} load: ${r.stderr}`);
    return ms;
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

const o = parseArgs(process.argv.slice(2));
const work = mkdtempSync('/tmp/berth-bench-unpack-work-');
try {
  const archive = await makeArchive(work, o.mib);
  const times = new Map<string, number[]>(o.berths.map((b) => [b, []]));
  for (const b of o.berths) loadOnce(b, archive); // warm-up
  for (let i = 0; i < o.runs; i++) for (const b of o.berths) times.get(b)!.push(loadOnce(b, archive));
  for (const [b, ts] of times) {
    process.stdout.write(`${b}: ${o.mib} MiB layer, median ${median(ts).toFixed(0)} ms over ${o.runs} (${ts.map((t) => t.toFixed(0)).join(', ')})\n`);
  }
} finally {
  rmSync(work, { recursive: true, force: true });
}
