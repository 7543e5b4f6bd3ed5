// ps benchmark: `berth ps -a` (and `ps -a --no-trunc -q`) from the CLI over N containers, most of them created
// or exited and a few running `sleep`, against `docker ps -a` over as many containers in a private dockerd
// (when /usr/sbin/dockerd is installed: `bash bench/setup-dockerd`; see bench/dockerd.ts). Target: berth's
// `ps -a` median ≤ 40 ms over 1,000 containers.
//
//   node bench/ps-bench.ts [--containers N] [--running N] [--exited N] [--runs N] [--warmup N] [--no-dockerd]
//                          [--berth PATH]...
//
// Each --berth PATH (another build's bin/berth, e.g. an older commit's worktree) is timed against the same
// root beside this tree's, for before/after figures from one run. Samples alternate between the commands,
// rotating which goes first. Containers are made through the library (one process; a CLI start per create
// would take a minute more), all with --network none, as dockerd's are (it runs with --bridge=none). The
// root is private, under /tmp, and removed at the end, on SIGINT/SIGTERM too, with everything in it; the
// dockerd removes its own (stopDockerd). A measurement, not a test: exits 0 whatever the numbers, non-zero
// only when setup or a run fails.

import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { cpus, release } from 'node:os';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { dockerdUnavailable, startDockerd, stopDockerd, type Dockerd } from './dockerd.ts';
import { removeBerthRoot, cleanupOnSignal, NODE_FLOOR } from './engines.ts';
import { stats } from './stats.ts';

const REPO = resolve(import.meta.dirname, '..');
const BERTH = join(REPO, 'bin', 'berth');
const RESULTS = join(REPO, 'bench', 'results', 'ps-latest.json');
const DOCKERD_CREATE_BUDGET_MS = 240_000;
const TARGET_MS = 40;

function arg(name: string, dflt: number): number {
  const i = process.argv.indexOf(name);
  const n = i >= 0 ? Number(process.argv[i + 1]) : dflt;
  if (!Number.isInteger(n) || n < 0) throw new Error(`${name} needs a non-negative integer`);
  return n;
}

const others = process.argv.flatMap((a, i) => (a === '--berth' ? [resolve(process.argv[i + 1] ?? '')] : []));

function must(argv: string[]): string {
  const r = spawnSync(argv[0]!, argv.slice(1), { encoding: 'utf8', maxBuffer: 64 << 20 });
  if (r.status !== 0) throw new Error(`\`${argv.join(' ')}\` failed (${r.status}): ${(r.stderr || r.stdout).trim().split('\n').pop()}`);
  return r.stdout;
}

function timed(argv: string[]): number {
  const t = performance.now();
  must(argv);
  return performance.now() - t;
}

// Between commands, so a SIGINT/SIGTERM handler gets to run (the commands themselves are spawnSync).
const tick = () => new Promise<void>((r) => setImmediate(r));

/** N containers in a Berth root: `running` of them run `sleep`, `exited` ran `true`, the rest never started. */
async function populateBerth(root: string, count: number, running: number, exited: number): Promise<void> {
  const { Engine } = (await import(join(REPO, 'dist', 'index.js'))) as typeof import('../src/index.ts');
  const engine = new Engine({ root });
  let done!: () => void;
  populating = { stop: false, done: new Promise<void>((r) => (done = r)) };
  try {
    for (let i = 0; i < count && !populating.stop; i++) {
      const run = i < running;
      const row = await engine.create({ image: 'busybox', cmd: run ? ['sleep', '100000'] : ['true'], network: 'none' });
      if (i < running + exited) await engine.start(row.id);
    }
  } finally {
    engine.close();
    populating = undefined;
    done();
  }
}

/**
 * populateBerth at work: its engine holds a container's lock during each create and start, which a reset of
 * the root waits for, so an interrupted bench lets the step under way finish and the engine close first.
 */
let populating: { stop: boolean; done: Promise<void> } | undefined;

/** The same mix in dockerd, one CLI call each, within a time budget; how many were made. */
async function populateDocker(d: Dockerd, count: number, running: number, exited: number): Promise<number> {
  const t0 = performance.now();
  let made = 0;
  for (; made < count && performance.now() - t0 < DOCKERD_CREATE_BUDGET_MS; made++) {
    const verb = made < running + exited ? ['run', '-d'] : ['create'];
    must([...d.docker, ...verb, '--network', 'none', 'busybox', ...(made < running ? ['sleep', '100000'] : ['true'])]);
    await tick();
  }
  return made;
}

async function main(): Promise<void> {
  const count = arg('--containers', 1000);
  const running = arg('--running', 5);
  const exited = arg('--exited', 100);
  const runs = arg('--runs', 15);
  const warmup = arg('--warmup', 2);
  if (running + exited > count) throw new Error('--running plus --exited exceed --containers');
  for (const b of others) if (!existsSync(b)) throw new Error(`--berth ${b}: no such file`);
  const root = mkdtempSync('/tmp/berth-ps-bench-');
  const b = (bin: string, ...a: string[]) => [bin, '--root', root, ...a];
  let dockerd: Dockerd | undefined;

  let cleaningUp = false;
  const cleanup = async () => {
    cleaningUp = true;
    if (populating) {
      populating.stop = true;
      await populating.done;
    }
    if (dockerd) {
      const d = dockerd;
      dockerd = undefined;
      for (const l of stopDockerd(d)) console.log(`dockerd cleanup: ${l}`);
    }
    for (const l of removeBerthRoot(root)) console.log(`berth cleanup: ${l}`);
  };
  const removeHandlers = cleanupOnSignal('ps bench', cleanup);

  try {
    const tar = join(root, 'busybox.tar');
    must(['bash', join(REPO, 'scripts', 'mkimage-busybox'), tar]);
    must(b(BERTH, 'import', '--change', 'CMD ["sh"]', tar, 'busybox:latest'));
    const t0 = performance.now();
    await populateBerth(root, count, running, exited);
    if (cleaningUp) return; // interrupted: the signal's cleanup goes on
    const berthMadeS = (performance.now() - t0) / 1000;
    const listed = must(b(BERTH, 'ps', '-aq')).trim().split('\n').filter(Boolean).length;
    console.log(`berth: ${listed} containers (${running} running, ${exited} exited) made in ${berthMadeS.toFixed(0)} s`);

    const dockerdSkipped = process.argv.includes('--no-dockerd') ? '--no-dockerd' : (dockerdUnavailable() ?? null);
    let dockerListed = 0;
    let dockerMadeS = 0;
    if (!dockerdSkipped) {
      dockerd = await startDockerd('/tmp/berth-ps-bench-dockerd-');
      must([...dockerd.docker, 'import', '--change', 'CMD ["sh"]', tar, 'busybox:latest']);
      const t1 = performance.now();
      await populateDocker(dockerd, count, running, exited);
      dockerMadeS = (performance.now() - t1) / 1000;
      dockerListed = must([...dockerd.docker, 'ps', '-aq']).trim().split('\n').filter(Boolean).length;
      console.log(`dockerd: ${dockerListed} containers made in ${dockerMadeS.toFixed(0)} s`);
    } else console.log(`docker baseline skipped: ${dockerdSkipped}`);

    const cases: [string, string[]][] = [];
    for (const [label, bin] of [['berth', BERTH], ...others.map((o) => [`berth (${o})`, o])] as [string, string][]) {
      cases.push([`${label} ps -a`, b(bin, 'ps', '-a')], [`${label} ps -a --no-trunc -q`, b(bin, 'ps', '-a', '--no-trunc', '-q')]);
    }
    if (dockerd) cases.push(['docker ps -a', [...dockerd.docker, 'ps', '-a']], ['docker ps -a --no-trunc -q', [...dockerd.docker, 'ps', '-a', '--no-trunc', '-q']]);
    // A Node CLI's floor: Node 24 reading the same store's rows and printing a line each (bench/node-floor.mjs).
    cases.push(['Node floor: read and print the rows', [process.execPath, NODE_FLOOR, 'ps', root]]);
    const samples: Record<string, number[]> = Object.fromEntries(cases.map(([k]) => [k, []]));
    for (let i = 0; i < warmup; i++) for (const [, argv] of cases) { timed(argv); await tick(); }
    for (let i = 0; i < runs; i++) {
      for (let j = 0; j < cases.length; j++) {
        const [k, argv] = cases[(i + j) % cases.length]!;
        samples[k]!.push(timed(argv));
        await tick();
      }
    }

    const summary = Object.fromEntries(Object.entries(samples).map(([k, v]) => [k, stats(v)]));
    const ms = (x: number) => `${x.toFixed(1)} ms`;
    console.log(`\nps bench: ${runs} runs each, alternating, after ${warmup} warm-up run(s) each; host ${release()}, ${cpus().length} cpu`);
    console.log(`${'command'.padEnd(48)} ${'median'.padStart(10)} ${'p90'.padStart(10)} ${'min'.padStart(10)}`);
    for (const [k, s] of Object.entries(summary)) console.log(`${k.padEnd(48)} ${ms(s.median).padStart(10)} ${ms(s.p90).padStart(10)} ${ms(s.min).padStart(10)}`);
    const berthPs = summary['berth ps -a']!.median;
    console.log(`\nberth ps -a over ${listed} containers: ${ms(berthPs)} (target ≤ ${TARGET_MS} ms: ${berthPs <= TARGET_MS ? 'MET' : 'NOT MET'})`);
    if (dockerd && dockerListed !== listed) console.log(`dockerd holds ${dockerListed} containers, not ${listed}: the ${DOCKERD_CREATE_BUDGET_MS / 1000} s budget ran out`);
    mkdirSync(join(REPO, 'bench', 'results'), { recursive: true });
    writeFileSync(RESULTS, JSON.stringify({
      date: new Date().toISOString(), host: { kernel: release(), cpus: cpus().length }, runs, warmup,
      containers: listed, running, exited, network: 'none', target_ms: TARGET_MS,
      dockerd: dockerd ? dockerd.version : null, dockerd_skipped: dockerdSkipped, dockerd_containers: dockerd ? dockerListed : null,
      made_s: { berth: berthMadeS, ...(dockerd ? { dockerd: dockerMadeS } : {}) },
      ms: summary, samples_ms: samples,
    }, null, 2) + '\n');
    console.log(`results: ${RESULTS}`);
  } finally {
    await cleanup();
    removeHandlers();
  }
}

main().catch((e: unknown) => {
  process.stderr.write(`ps bench: ${(e as Error).message}\n`);
  process.exitCode = 1;
});
