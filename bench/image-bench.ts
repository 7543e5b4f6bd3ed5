// Image benchmark (issue #3):
//  1. pull + unpack of a ~100 MB, 5-layer gzip image from a loopback registry (Debian's docker-registry):
//     `berth pull` against `podman pull` (a throwaway podman root, overlay driver, vfs if overlay fails) and
//     `skopeo copy docker://… dir:` (download only, nothing unpacked). Every run starts from an empty store.
//  2. `berth create` and `berth run --rm --network none … true` from a 60-layer image against a 1-layer one.
//
//   node bench/image-bench.ts [--runs N] [--create-runs N]
//
// Run with the project's Node 24. Type stripping only: keep this file to erasable TypeScript syntax.
// This is a measurement, not a test: it exits 0 whether or not the target is met, and non-zero only when a
// contender fails to run or setup fails.

import { startRegistry, type RegistryFixture } from '../test/fixtures/registry.ts';
import { ociLayout, skopeoPush, tarOf, type FileSpec } from '../test/fixtures/oci-image.ts';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, release } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { median } from './stats.ts';

const REPO = resolve(import.meta.dirname, '..');
const BERTH = join(REPO, 'bin', 'berth');
const RESULTS = join(REPO, 'bench', 'results', 'image-latest.json');
const PODMAN_TARGET = 1.5;
const MB = 1e6;

interface Options { runs: number; createRuns: number }
class Failure extends Error {}

function parseArgs(argv: string[]): Options {
  const o: Options = { runs: 5, createRuns: 10 };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const m = /^--(runs|create-runs)(?:=(.*))?$/.exec(a);
    if (!m) {
      process.stderr.write('usage: node bench/image-bench.ts [--runs N] [--create-runs N]\n' +
        '  --runs N          timed pulls per contender (default 5), after one warm-up each\n' +
        '  --create-runs N   timed create / run per image (default 10), after one warm-up each\n');
      process.exit(a === '-h' || a === '--help' ? 0 : 2);
    }
    const n = Number(m[2] ?? argv[++i]);
    if (!Number.isInteger(n) || n < 1) throw new Failure(`--${m[1]} needs a positive integer`);
    if (m[1] === 'runs') o.runs = n; else o.createRuns = n;
  }
  return o;
}

function sh(argv: string[], timeout = 300_000): { ok: boolean; out: string; err: string } {
  const r = spawnSync(argv[0]!, argv.slice(1), { encoding: 'utf8', timeout, stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 64 << 20 });
  return { ok: !r.error && r.status === 0, out: String(r.stdout ?? '').trim(), err: r.error?.message ?? String(r.stderr ?? '').trim() };
}

function must(argv: string[], timeout?: number): string {
  const r = sh(argv, timeout);
  if (!r.ok) throw new Failure(`\`${argv.join(' ')}\` failed: ${r.err.split('\n').filter(Boolean).pop() || 'no output'}`);
  return r.out;
}

/** Wall time of one command in ms; throws Failure with its last stderr line if it fails. */
function timed(argv: string[]): number {
  const t0 = performance.now();
  const r = spawnSync(argv[0]!, argv.slice(1), { encoding: 'utf8', timeout: 300_000, stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 64 << 20 });
  const dt = performance.now() - t0;
  if (r.error || r.status !== 0) {
    const why = r.error?.message ?? (String(r.stderr ?? '').trim().split('\n').filter(Boolean).pop() || `exit ${r.status ?? r.signal}`);
    throw new Failure(`\`${argv.join(' ')}\` failed: ${why}`);
  }
  return dt;
}

const has = (cmd: string): boolean => sh(['sh', '-c', `command -v ${cmd}`]).ok;
const tick = (): Promise<void> => new Promise((done) => setImmediate(done));

const r3 = (x: number): number => Math.round(x * 1000) / 1000;

// --- the test image ---------------------------------------------------------------------------------------
// A small deterministic generator (xorshift32), so text is reproducible and cheap to make.
function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => { x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0; return x; };
}
const SYL = ['ka', 'lo', 'mi', 'ne', 'ru', 'sta', 'ben', 'tor', 'vel', 'qui', 'dra', 'pon', 'ex', 'ul', 'fi', 'gar', 'sho', 'win'];
function words(r: () => number, n: number): string[] {
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    let w = '';
    for (let k = 1 + (r() % 3); k >= 0; k--) w += SYL[r() % SYL.length];
    out.push(w);
  }
  return out;
}
const VOCAB = words(rng(7), 2000);
/** Text of about `bytes` bytes: source-like lines of words from a 2000-word vocabulary. */
function text(r: () => number, bytes: number): string {
  const lines: string[] = [];
  let n = 0;
  while (n < bytes) {
    const k = 3 + (r() % 10);
    let line = '  '.repeat(r() % 4);
    for (let i = 0; i < k; i++) line += (i ? ' ' : '') + VOCAB[r() % VOCAB.length];
    lines.push(line);
    n += line.length + 1;
  }
  return lines.join('\n') + '\n';
}
/** Log-like text: timestamps, levels, components, hex request ids. */
function logText(r: () => number, bytes: number): string {
  const lv = ['INFO', 'INFO', 'INFO', 'DEBUG', 'WARN', 'ERROR'];
  const lines: string[] = [];
  let n = 0;
  for (let s = 0; n < bytes; s++) {
    const line = `2026-01-0${1 + (s >> 20)}T${String((s >> 12) % 24).padStart(2, '0')}:${String((s >> 6) % 60).padStart(2, '0')}:` +
      `${String(s % 60).padStart(2, '0')}.${String(r() % 1000).padStart(3, '0')}Z ${lv[r() % lv.length]} ` +
      `${VOCAB[r() % 40]}[${1000 + (r() % 50)}]: ${VOCAB[r() % VOCAB.length]} ${VOCAB[r() % VOCAB.length]} ` +
      `${VOCAB[r() % VOCAB.length]} req=${(r() % 0x10000).toString(16).padStart(4, '0')} took=${r() % 900}ms`;
    lines.push(line);
    n += line.length + 1;
  }
  return lines.join('\n') + '\n';
}

interface LayerInfo { what: string; files: number; tarBytes: number }

/** The 5-layer pull image: busybox, ~3000 small text files, random blobs, logs, a mix. */
async function pullImageLayers(busyboxTar: Buffer, busyboxFiles: number): Promise<{ layers: Buffer[]; info: LayerInfo[] }> {
  const r = rng(42);
  const info: LayerInfo[] = [];
  const layers: Buffer[] = [];
  const add = async (what: string, files: FileSpec[] | Buffer, count = 0) => {
    const tar = Buffer.isBuffer(files) ? files : await tarOf(files);
    layers.push(tar);
    info.push({ what, files: Buffer.isBuffer(files) ? count : files.filter((f) => !f.name.endsWith('/')).length, tarBytes: tar.length });
  };
  await add('busybox rootfs (binary + applet hard links)', busyboxTar, busyboxFiles);

  // ~3000 small files (0.5–8 KB of text) in 60 package dirs, with a few symlinks.
  const small: FileSpec[] = [{ name: 'usr/' }, { name: 'usr/share/' }, { name: 'usr/share/pkgs/' }];
  for (let d = 0; d < 60; d++) {
    small.push({ name: `usr/share/pkgs/p${d}/` });
    for (let f = 0; f < 50; f++) small.push({ name: `usr/share/pkgs/p${d}/${VOCAB[(d * 50 + f) % VOCAB.length]}-${f}.txt`, data: text(r, 512 + (r() % 7680)) });
    small.push({ name: `usr/share/pkgs/p${d}/current`, linkname: `${VOCAB[d * 50 % VOCAB.length]}-0.txt` });
  }
  await add('~3000 small text files (0.5–8 KB)', small);

  // Incompressible blobs: 8 × 6 MiB.
  const blobs: FileSpec[] = [{ name: 'opt/' }, { name: 'opt/data/' }];
  for (let i = 0; i < 8; i++) blobs.push({ name: `opt/data/blob${i}.bin`, data: randomBytes(6 << 20) });
  await add('8 random files × 6 MiB', blobs);

  // Compressible logs: 16 × 2.5 MB.
  const logs: FileSpec[] = [{ name: 'var/' }, { name: 'var/log/' }, { name: 'var/log/app/' }];
  for (let i = 0; i < 16; i++) logs.push({ name: `var/log/app/app.log.${i}`, data: logText(r, 2_500_000) });
  await add('16 log files × 2.5 MB (text)', logs);

  // A mix: one big random file, 400 medium files half random half text.
  const mix: FileSpec[] = [{ name: 'srv/' }, { name: 'srv/big.bin', data: randomBytes(24 << 20) }, { name: 'srv/assets/' }];
  for (let i = 0; i < 400; i++) {
    mix.push({ name: `srv/assets/a${i}.${i % 2 ? 'dat' : 'txt'}`, data: i % 2 ? randomBytes(16 << 10) : text(r, 16 << 10) });
  }
  await add('24 MiB random file + 400 × 16 KiB files', mix);
  return { layers, info };
}

/** Compressed bytes of the layout's one image: layers and config (what a pull downloads, bar the manifest). */
function layoutBytes(dir: string): { layers: number[]; config: number } {
  const index = JSON.parse(readFileSync(join(dir, 'index.json'), 'utf8'));
  const m = JSON.parse(readFileSync(join(dir, 'blobs', 'sha256', index.manifests[0].digest.slice(7)), 'utf8'));
  return { layers: m.layers.map((l: { size: number }) => l.size), config: m.config.size };
}

// --- state and cleanup ------------------------------------------------------------------------------------
let work = '';
let reg: RegistryFixture | undefined;
let cleanedUp = false;
let interrupted: NodeJS.Signals | undefined;
const berthRoots = new Set<string>();

/** Mount points at or under dir, deepest first. */
function mountsUnder(dir: string): string[] {
  const decode = (s: string) => s.replace(/\\([0-7]{3})/g, (_, o) => String.fromCharCode(parseInt(o, 8)));
  return readFileSync('/proc/mounts', 'utf8').split('\n').map((l) => decode(l.split(' ')[1] ?? ''))
    .filter((p) => p === dir || p.startsWith(dir + '/')).reverse();
}

function unmountUnder(dir: string): void {
  for (const m of mountsUnder(dir)) {
    const r = sh(['umount', m]);
    if (!r.ok) sh(['umount', '-l', m]);
  }
}

function removeBerthRoot(root: string): void {
  if (existsSync(root)) {
    const ids = sh([BERTH, '--root', root, 'ps', '-aq'], 60_000);
    if (ids.ok && ids.out) {
      const rm = sh([BERTH, '--root', root, 'rm', '-f', ...ids.out.split('\n')], 120_000);
      if (!rm.ok) process.stderr.write(`image-bench: berth rm -f in ${root}: ${rm.err}\n`);
    }
  }
  unmountUnder(root);
  rmSync(root, { recursive: true, force: true });
  berthRoots.delete(root);
}

async function cleanup(): Promise<void> {
  if (cleanedUp) return;
  cleanedUp = true;
  await reg?.stop().catch((e) => process.stderr.write(`image-bench: stopping the registry: ${(e as Error).message}\n`));
  for (const root of [...berthRoots]) removeBerthRoot(root);
  if (work) {
    unmountUnder(work);
    rmSync(work, { recursive: true, force: true });
  }
}
const signalExit = (sig: NodeJS.Signals): number => 128 + (sig === 'SIGINT' ? 2 : sig === 'SIGTERM' ? 15 : 1);
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.on(sig, () => { interrupted = sig; void cleanup().then(() => process.exit(signalExit(sig))); });
}

// --- pull contenders --------------------------------------------------------------------------------------
interface Puller {
  name: string;
  what: string;
  /** Prepare an empty destination for run `i`; returns the argv to time. */
  prepare(i: number): string[];
  samples: number[];
}

function berthPuller(ref: string): Puller {
  const root = (i: number) => join(work, `berth-pull-${i}`);
  return {
    name: 'berth pull', what: 'download + unpack', samples: [],
    prepare(i) { berthRoots.add(root(i)); return [BERTH, '--root', root(i), 'pull', '-q', ref]; },
  };
}

function podmanPuller(ref: string, driver: string): Puller {
  const base = (i: number) => join(work, `podman-${i}`);
  return {
    name: `podman pull (${driver})`, what: 'download + unpack', samples: [],
    prepare(i) {
      const b = base(i);
      for (const d of ['root', 'runroot', 'tmp', 'net']) mkdirSync(join(b, d), { recursive: true });
      return ['podman', '--root', join(b, 'root'), '--runroot', join(b, 'runroot'), '--tmpdir', join(b, 'tmp'),
        '--network-config-dir', join(b, 'net'), '--events-backend', 'none', '--storage-driver', driver,
        'pull', '-q', '--tls-verify=false', ref];
    },
  };
}

function skopeoPuller(ref: string): Puller {
  const dir = (i: number) => join(work, `skopeo-${i}`);
  return {
    name: 'skopeo copy dir:', what: 'download only (no unpack)', samples: [],
    prepare(i) { rmSync(dir(i), { recursive: true, force: true }); return ['skopeo', 'copy', '-q', '--src-tls-verify=false', `docker://${ref}`, `dir:${dir(i)}`]; },
  };
}

// Every run pulls into a new, empty dir, and nothing is deleted until the end. Deleting between runs made
// later runs slower: on an ext4 without a journal (this host's) the inode allocator skips inodes freed in
// the last 60 s (300 s while their inode table block is dirty), looking each up in the buffer cache, so
// creates after an `rm -rf` of a few thousand files cost far more (measured with perf: a third of the
// unpack's CPU in ext4_create → find_inode_bit → recently_deleted).
let runSeq = 0;
async function pullOnce(p: Puller): Promise<number> {
  const argv = p.prepare(++runSeq);
  sh(['sync'], 600_000); // the previous run's writeback is not this run's cost
  const dt = timed(argv);
  await tick();
  return dt;
}

// --- main -------------------------------------------------------------------------------------------------
async function main(opts: Options): Promise<number> {
  const tStart = performance.now();
  console.log(`image bench: pull ${opts.runs} runs per contender, create/run ${opts.createRuns} runs per image; alternating, after one warm-up each`);
  console.log(`host: Linux ${release()}, ${cpus().length} cpu, node ${process.version}`);
  const notes: string[] = [];
  if (!existsSync(join(REPO, 'dist', 'berth.mjs'))) throw new Failure('berth: not built (run scripts/build)');
  if (!has('skopeo')) throw new Failure('skopeo is needed to push the test images (apt-get install skopeo)');

  work = mkdtempSync('/tmp/berth-image-bench-');
  const bbTarPath = join(work, 'busybox.tar');
  must(['bash', join(REPO, 'scripts', 'mkimage-busybox'), bbTarPath]);
  const busybox = readFileSync(bbTarPath);

  // --- build and push the images ---
  let t0 = performance.now();
  const bbFiles = Number(must(['sh', '-c', `tar -tvf '${bbTarPath}' | grep -vc '^d'`])) || 0;
  const built = await pullImageLayers(busybox, bbFiles);
  const bigDir = ociLayout(join(work, 'layout-big'), built.layers);
  const sizes = layoutBytes(bigDir);
  const imageBytes = sizes.layers.reduce((a, b) => a + b, 0) + sizes.config;
  const rawBytes = built.layers.reduce((a, b) => a + b.length, 0);
  built.layers.length = 0;
  const l1Dir = ociLayout(join(work, 'layout-1'), [busybox]);
  const deep: Buffer[] = [busybox];
  for (let i = 1; i < 60; i++) {
    deep.push(await tarOf([{ name: 'etc/' }, { name: `etc/layer-${i}`, data: `layer ${i}\n` }, { name: 'etc/motd', data: `built by layer ${i}\n` }]));
  }
  const l60Dir = ociLayout(join(work, 'layout-60'), deep);
  console.log(`images built in ${((performance.now() - t0) / 1000).toFixed(1)} s:`);
  console.log(`  pull image: ${sizes.layers.length} gzip layers, ${(imageBytes / MB).toFixed(1)} MB compressed (layers + config), ` +
    `${(rawBytes / MB).toFixed(1)} MB of tar`);
  built.info.forEach((l, i) => console.log(`    layer ${i + 1}: ${(sizes.layers[i]! / MB).toFixed(1).padStart(5)} MB gz, ` +
    `${(l.tarBytes / MB).toFixed(1).padStart(5)} MB tar, ${String(l.files).padStart(4)} files — ${l.what}`));

  reg = await startRegistry();
  t0 = performance.now();
  const big = `${reg.host}/bench/big:latest`;
  const one = `${reg.host}/bench/layers1:latest`;
  const sixty = `${reg.host}/bench/layers60:latest`;
  skopeoPush(bigDir, big);
  skopeoPush(l1Dir, one);
  skopeoPush(l60Dir, sixty);
  for (const d of [bigDir, l1Dir, l60Dir]) rmSync(d, { recursive: true, force: true });
  console.log(`registry: docker-registry on ${reg.host}; pushed with skopeo in ${((performance.now() - t0) / 1000).toFixed(1)} s`);

  // --- 1. pull ---
  const pullers: Puller[] = [berthPuller(big)];
  const skipped: Record<string, string> = {};
  let podmanDriver: string | null = null;
  if (!has('podman')) { skipped['podman'] = 'not installed'; console.log('podman: not installed, skipped'); }
  else {
    // The warm-up run doubles as the probe for the overlay driver.
    for (const driver of ['overlay', 'vfs']) {
      const p = podmanPuller(big, driver);
      try {
        await pullOnce(p);
        pullers.push(p);
        podmanDriver = driver;
        break;
      } catch (e) {
        const note = `podman with --storage-driver ${driver} failed: ${(e as Error).message}`;
        console.log(note);
        notes.push(note);
      }
    }
    if (podmanDriver === 'vfs') notes.push('podman measured with the vfs driver (overlay failed; see above)');
    if (!podmanDriver) skipped['podman'] = 'failed with overlay and vfs';
    else console.log(`podman: storage driver ${podmanDriver}`);
  }
  if (has('skopeo')) pullers.push(skopeoPuller(big));
  else { skipped['skopeo'] = 'not installed'; console.log('skopeo: not installed, skipped'); }

  for (const p of pullers) if (!p.name.startsWith('podman')) await pullOnce(p); // warm-up (podman's was the probe)
  for (let i = 0; i < opts.runs; i++) {
    process.stdout.write(`pull run ${i + 1}/${opts.runs}…\n`);
    for (const p of pullers) p.samples.push(await pullOnce(p));
  }

  // --- 2. create / run from 1 vs 60 layers ---
  const root2 = join(work, 'berth-layers');
  berthRoots.add(root2);
  const b2 = (...args: string[]) => [BERTH, '--root', root2, ...args];
  must(b2('pull', '-q', one));
  must(b2('pull', '-q', sixty));
  const layerCount = (ref: string) => JSON.parse(must(b2('image', 'inspect', ref)))[0]?.RootFS?.Layers?.length ?? null;
  const counts = { one: layerCount(one), sixty: layerCount(sixty) };
  if (counts.one !== 1 || counts.sixty !== 60) notes.push(`layer counts as berth sees them: ${counts.one} and ${counts.sixty}`);
  const cr = { create1: [] as number[], create60: [] as number[], run1: [] as number[], run60: [] as number[] };
  const createOnce = (ref: string): number => {
    const name = `ib-${process.pid}-${++runSeq}`;
    const dt = timed(b2('create', '--name', name, ref, 'true'));
    must(b2('rm', name));
    return dt;
  };
  const runOnce = (ref: string): number => timed(b2('run', '--rm', '--network', 'none', ref, 'true'));
  for (let i = 0; i <= opts.createRuns; i++) {
    if (i === 0) process.stdout.write('create/run warm-up…\n');
    const s = [createOnce(one), createOnce(sixty), runOnce(one), runOnce(sixty)];
    if (i > 0) { cr.create1.push(s[0]!); cr.create60.push(s[1]!); cr.run1.push(s[2]!); cr.run60.push(s[3]!); }
    await tick();
  }

  // --- report ---
  const berthP = pullers[0]!;
  const bMed = median(berthP.samples);
  const rows = [['contender', 'what', 'median s', 'MB/s', 'min s', 'max s', 'berth/peer']];
  const pullResults = pullers.map((p) => {
    const m = median(p.samples);
    const ratio = p === berthP ? null : m / bMed;
    rows.push([p.name, p.what, (m / 1000).toFixed(2), (imageBytes / MB / (m / 1000)).toFixed(1),
      (Math.min(...p.samples) / 1000).toFixed(2), (Math.max(...p.samples) / 1000).toFixed(2), ratio === null ? '—' : `${ratio.toFixed(2)}×`]);
    return { contender: p.name, what: p.what, median_ms: r3(m), mb_per_s: r3(imageBytes / MB / (m / 1000)),
      samples_ms: p.samples.map(r3), berth_over_peer: ratio === null ? null : r3(ratio) };
  });
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
  console.log('');
  console.log(`1. pull of ${(imageBytes / MB).toFixed(1)} MB (gzip, ${sizes.layers.length} layers) from loopback; each run into an empty store`);
  for (const r of rows) console.log(r.map((cell, c) => (c < 2 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join('  '));
  console.log('(MB/s = compressed image bytes / wall time, MB = 10^6 B; berth/peer = peer time / berth time, higher = berth faster)');
  const berthRate = imageBytes / MB / (bMed / 1000);
  console.log(`MB/s ratio, berth ÷ peer: ${pullResults.filter((r) => r.contender !== berthP.name)
    .map((r) => `${r.contender} ${(berthRate / r.mb_per_s).toFixed(2)}×`).join(', ') || 'no peer measured'}`);

  const podmanR = pullResults.find((r) => r.contender.startsWith('podman'));
  const met = podmanR ? podmanR.berth_over_peer! >= PODMAN_TARGET : null;
  console.log(`target: berth ≥ ${PODMAN_TARGET}× podman: ` +
    (podmanR ? `${podmanR.berth_over_peer!.toFixed(2)}×  ${met ? 'MET' : 'NOT MET'}` : 'n/a (podman not measured)'));

  const ms = (x: number) => `${x.toFixed(1)} ms`;
  const rows2 = [['berth (median)', '1 layer', '60 layers', '60 − 1', '60 / 1']];
  for (const [label, a, b] of [['create', cr.create1, cr.create60], ['run --rm --network none … true', cr.run1, cr.run60]] as const) {
    const m1 = median(a), m60 = median(b);
    rows2.push([label, ms(m1), ms(m60), `${m60 - m1 >= 0 ? '+' : ''}${ms(m60 - m1)}`, `${(m60 / m1).toFixed(2)}×`]);
  }
  const w2 = rows2[0]!.map((_, c) => Math.max(...rows2.map((r) => r[c]!.length)));
  console.log('');
  console.log(`2. container from a 60-layer vs a 1-layer image (busybox + 59 tiny layers), ${opts.createRuns} runs`);
  for (const r of rows2) console.log(r.map((cell, c) => (c === 0 ? cell.padEnd(w2[c]!) : cell.padStart(w2[c]!))).join('  '));
  if (notes.length > 0) console.log(`notes: ${notes.join('; ')}`);

  mkdirSync(resolve(RESULTS, '..'), { recursive: true });
  const version = (argv: string[]) => { const r = sh(argv); return r.ok ? r.out.split('\n')[0]! : null; };
  writeFileSync(RESULTS, JSON.stringify({
    date: new Date().toISOString(),
    host: { kernel: release(), cpus: cpus().length, cpu_model: cpus()[0]?.model ?? null, node: process.version },
    runs: opts.runs, create_runs: opts.createRuns,
    versions: { podman: version(['podman', '--version']), skopeo: version(['skopeo', '--version']) },
    pull: {
      image: {
        compressed_bytes: imageBytes, tar_bytes: rawBytes,
        layers: built.info.map((l, i) => ({ what: l.what, files: l.files, gzip_bytes: sizes.layers[i], tar_bytes: l.tarBytes })),
      },
      podman_driver: podmanDriver,
      results: pullResults,
      target: { text: `berth ≥ ${PODMAN_TARGET}× podman (peer time / berth time)`, met },
    },
    layers: {
      layer_counts: counts,
      create: { one_ms: r3(median(cr.create1)), sixty_ms: r3(median(cr.create60)), one_samples: cr.create1.map(r3), sixty_samples: cr.create60.map(r3) },
      run: { one_ms: r3(median(cr.run1)), sixty_ms: r3(median(cr.run60)), one_samples: cr.run1.map(r3), sixty_samples: cr.run60.map(r3) },
    },
    skipped, notes,
  }, null, 2) + '\n');
  console.log(`results: ${relative(process.cwd(), RESULTS) || RESULTS}`);
  console.log(`bench took ${((performance.now() - tStart) / 1000).toFixed(0)} s`);
  return 0;
}

let code = 1;
try {
  code = await main(parseArgs(process.argv.slice(2)));
} catch (e) {
  if (interrupted) process.stderr.write(`image-bench: interrupted (${interrupted})\n`);
  else process.stderr.write(`image-bench: ${e instanceof Error ? e.message : String(e)}\n`);
  if (!interrupted && !(e instanceof Failure) && e instanceof Error) process.stderr.write(`${e.stack}\n`);
} finally {
  const dir = work;
  await cleanup();
  if (dir) {
    const left = mountsUnder(dir);
    if (left.length > 0) { process.stderr.write(`image-bench: mounts left under ${dir}: ${left.join(' ')}\n`); code ||= 1; }
    if (existsSync(dir)) { process.stderr.write(`image-bench: ${dir} could not be removed\n`); code ||= 1; }
  }
}
process.exit(interrupted ? signalExit(interrupted) : code);
