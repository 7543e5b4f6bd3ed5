// Start rate (issue "Faster than docker"): 100 × `run -d --network none busybox sleep 1000000` at a
// concurrency of 10, for Berth, docker (a private dockerd) and podman (a private store, runc), in rounds that
// alternate the engines (the order rotated each round). A round's rate is containers / wall time from the first
// `run -d` to the last one's exit; then every container must be running (`ps -q --filter status=running`
// lists exactly the ids the 100 `run -d` printed: none lost), and all are removed (not timed).
//
//   node bench/start-rate-bench.ts [--rounds N] [--containers N] [--concurrency N] [--no-dockerd] [--no-podman]
//
// Target: Berth's rate ≥ 2× docker's (medians over the rounds). Everything is private (bench/engines.ts) and
// removed at the end, also on SIGINT/SIGTERM. Writes bench/results/start-rate-latest.json. A measurement, not a
// test: exits 0 whatever the numbers, non-zero only when setup fails or a round loses a container.

import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, release } from 'node:os';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { cleanupOnSignal, must, startEngines, type Engine } from './engines.ts';
import { median } from './stats.ts';

const REPO = resolve(import.meta.dirname, '..');
const RESULTS = join(REPO, 'bench', 'results', 'start-rate-latest.json');
const TARGET = 2;

interface Options { rounds: number; containers: number; concurrency: number; dockerd: boolean; podman: boolean }

function parseArgs(argv: string[]): Options {
  const o: Options = { rounds: 3, containers: 100, concurrency: 10, dockerd: true, podman: true };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--no-dockerd') o.dockerd = false;
    else if (a === '--no-podman') o.podman = false;
    else if (a === '--rounds' || a === '--containers' || a === '--concurrency') {
      const n = Number(argv[++i]);
      if (!Number.isInteger(n) || n < 1) throw new Error(`${a} needs a positive integer`);
      o[a.slice(2) as 'rounds' | 'containers' | 'concurrency'] = n;
    } else {
      process.stderr.write('usage: node bench/start-rate-bench.ts [--rounds N] [--containers N] [--concurrency N] [--no-dockerd] [--no-podman]\n' +
        '  --rounds N        rounds per engine (default 3), alternating\n' +
        '  --containers N    containers a round starts (default 100)\n' +
        '  --concurrency N   `run -d` commands at once (default 10)\n');
      process.exit(a === '-h' || a === '--help' ? 0 : 2);
    }
  }
  return o;
}

interface Outcome { status: number | null; stdout: string; stderr: string }

function runAsync(argv: string[]): Promise<Outcome> {
  return new Promise((done) => {
    const p = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d: Buffer) => { stdout += d; });
    p.stderr.on('data', (d: Buffer) => { stderr += d; });
    p.on('error', (e) => done({ status: null, stdout, stderr: e.message }));
    p.on('close', (status) => done({ status, stdout, stderr }));
  });
}

interface Round { seconds: number; rate: number; started: number; failed: number; running: number; lost: number; firstError: string | null }

async function round(e: Engine, o: Options, seq: number): Promise<Round> {
  const argv = (i: number) => [...e.cli, 'run', '-d', ...e.runFlags, '--name', `sr-${seq}-${i}`, 'busybox', 'sleep', '1000000'];
  const ids: string[] = [];
  let failed = 0;
  let firstError: string | null = null;
  let next = 0;
  const t0 = performance.now();
  const worker = async () => {
    while (next < o.containers) {
      const i = next++;
      const r = await runAsync(argv(i));
      const id = r.stdout.trim().split('\n').pop() ?? '';
      if (r.status === 0 && /^[0-9a-f]{64}$/.test(id)) ids.push(id);
      else {
        failed++;
        firstError ??= `exit ${r.status}: ${r.stderr.trim().split('\n').pop() ?? ''}`;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(o.concurrency, o.containers) }, worker));
  const seconds = (performance.now() - t0) / 1000;
  const running = new Set(must([...e.cli, 'ps', '-q', '--no-trunc', '--filter', 'status=running']).split('\n').filter(Boolean));
  const lost = ids.filter((id) => !running.has(id)).length + failed;
  // Remove everything of the round (untimed), in batches.
  const all = must([...e.cli, 'ps', '-aq', '--no-trunc']).split('\n').filter(Boolean);
  for (let i = 0; i < all.length; i += 50) must([...e.cli, ...e.rmForce, ...all.slice(i, i + 50)], 300_000);
  const left = must([...e.cli, 'ps', '-aq']).split('\n').filter(Boolean).length;
  if (left > 0) throw new Error(`${e.name}: ${left} containers left after rm -f`);
  return { seconds, rate: ids.length / seconds, started: ids.length, failed, running: ids.filter((id) => running.has(id)).length, lost, firstError };
}

async function main(o: Options): Promise<number> {
  const setup = await startEngines('/tmp/berth-start-rate-', { dockerd: o.dockerd, podman: o.podman });
  const removeHandlers = cleanupOnSignal('start-rate bench', () => { for (const l of setup.cleanup()) process.stderr.write(`cleanup: ${l}\n`); });
  let code = 0;
  try {
    const { engines } = setup;
    console.log(`start-rate bench: ${o.rounds} round(s) of ${o.containers} × run -d at concurrency ${o.concurrency}, --network none; ` +
      `host ${release()}, ${cpus().length} cpu; ${engines.map((e) => e.version).join(', ')}`);
    for (const [k, v] of Object.entries(setup.skipped)) console.log(`${k}: skipped (${v})`);
    // One small warm-up round each (a tenth of the containers), untimed.
    for (const e of engines) await round(e, { ...o, containers: Math.max(1, Math.floor(o.containers / 10)) }, 0);
    const rounds = new Map<string, Round[]>(engines.map((e) => [e.name, []]));
    for (let r = 0; r < o.rounds; r++) {
      for (let j = 0; j < engines.length; j++) {
        const e = engines[(r + j) % engines.length]!;
        const res = await round(e, o, r + 1);
        rounds.get(e.name)!.push(res);
        console.log(`round ${r + 1} ${e.name.padEnd(7)} ${res.rate.toFixed(1).padStart(6)} starts/s  (${res.started}/${o.containers} started in ` +
          `${res.seconds.toFixed(2)} s, ${res.running} running, ${res.lost} lost${res.firstError ? `; first error: ${res.firstError}` : ''})`);
        if (res.lost > 0) code = 1;
      }
    }
    const summary = Object.fromEntries([...rounds].map(([name, rs]) => [name, {
      median_rate_per_s: median(rs.map((x) => x.rate)),
      median_seconds: median(rs.map((x) => x.seconds)),
      lost_total: rs.reduce((a, x) => a + x.lost, 0),
      rounds: rs,
    }]));
    const ratio = summary['docker'] ? summary['berth']!.median_rate_per_s / summary['docker'].median_rate_per_s : null;
    console.log('');
    for (const [name, s] of Object.entries(summary)) {
      console.log(`${name.padEnd(7)} median ${s.median_rate_per_s.toFixed(1).padStart(6)} starts/s (${s.median_seconds.toFixed(2)} s per ${o.containers}), lost ${s.lost_total}`);
    }
    console.log(ratio === null ? `berth / docker rate: n/a (docker ${setup.skipped.docker})`
      : `berth / docker rate: ${ratio.toFixed(2)}× (target ≥ ${TARGET}×) ${ratio >= TARGET ? 'MET' : 'NOT MET'}`);
    mkdirSync(resolve(RESULTS, '..'), { recursive: true });
    writeFileSync(RESULTS, JSON.stringify({
      date: new Date().toISOString(),
      host: { kernel: release(), cpus: cpus().length, node: process.version, load_avg: readFileSync('/proc/loadavg', 'utf8').trim() },
      containers: o.containers, concurrency: o.concurrency, rounds: o.rounds, network: 'none',
      command: 'run -d --network none --name sr-R-I busybox sleep 1000000',
      versions: Object.fromEntries(engines.map((e) => [e.name, e.version])),
      engines: summary,
      berth_over_docker_rate: ratio,
      target: { text: `berth rate ≥ ${TARGET}× docker rate, none lost`, met: ratio === null ? null : ratio >= TARGET && summary['berth']!.lost_total === 0 },
      skipped: setup.skipped,
      notes: setup.notes,
    }, null, 2) + '\n');
    console.log(`results: ${RESULTS}`);
  } finally {
    removeHandlers();
    for (const l of setup.cleanup()) process.stderr.write(`cleanup: ${l}\n`);
  }
  return code;
}

try {
  process.exitCode = await main(parseArgs(process.argv.slice(2)));
} catch (e) {
  process.stderr.write(`start-rate bench: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exitCode = 1;
}
