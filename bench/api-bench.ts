// API benchmark (#9): the real docker CLI against `berth serve`, and against dockerd when one answers at
// /var/run/docker.sock. Two measurements:
//   1. `docker run --rm busybox true`, end to end through the API (median of N), with `berth run` directly
//      and, where present, dockerd as baselines in the same run;
//   2. `docker ps -a` with 1,000 containers in the root (median of N).
//
//   node bench/api-bench.ts [--runs N] [--containers N]
//
// A private engine root under /tmp; everything it made is removed at the end. A measurement, not a test:
// exits 0 whatever the numbers, non-zero only when setup or a run fails.

import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, release } from 'node:os';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';

const REPO = resolve(import.meta.dirname, '..');
const BERTH = join(REPO, 'bin', 'berth');
const DOCKER = '/usr/local/bin/docker';
const RESULTS = join(REPO, 'bench', 'results', 'api-latest.json');

function arg(name: string, dflt: number): number {
  const i = process.argv.indexOf(name);
  const n = i >= 0 ? Number(process.argv[i + 1]) : dflt;
  if (!Number.isInteger(n) || n < 1) throw new Error(`${name} needs a positive integer`);
  return n;
}

function must(argv: string[], env?: NodeJS.ProcessEnv): string {
  const r = spawnSync(argv[0]!, argv.slice(1), { encoding: 'utf8', env: { ...process.env, ...env }, maxBuffer: 64 << 20 });
  if (r.status !== 0) throw new Error(`\`${argv.join(' ')}\` failed (${r.status}): ${(r.stderr || r.stdout).trim().split('\n').pop()}`);
  return r.stdout;
}

function timed(argv: string[], env?: NodeJS.ProcessEnv): number {
  const t = performance.now();
  must(argv, env);
  return performance.now() - t;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function main(): Promise<void> {
  const runs = arg('--runs', 10);
  const count = arg('--containers', 1000);
  if (!existsSync(DOCKER)) throw new Error(`${DOCKER} is not installed: nothing to drive the API with`);
  const root = mkdtempSync('/tmp/berth-api-bench-');
  const sock = join(root, 'api.sock');
  const env = { DOCKER_HOST: `unix://${sock}` };
  const b = (...a: string[]) => [BERTH, '--root', root, ...a];
  let server: ReturnType<typeof spawn> | undefined;
  try {
    const tar = join(root, 'busybox.tar');
    must(['bash', join(REPO, 'scripts', 'mkimage-busybox'), tar]);
    must(b('import', '--change', 'CMD ["sh"]', tar, 'busybox:latest'));
    server = spawn(BERTH, ['--root', root, 'serve', '-H', `unix://${sock}`], { stdio: 'ignore' });
    for (let i = 0; i < 200 && !existsSync(sock); i++) await new Promise((r) => setTimeout(r, 25));
    if (!existsSync(sock)) throw new Error('berth serve did not create its socket');

    const dockerd = spawnSync(DOCKER, ['-H', 'unix:///var/run/docker.sock', 'version', '--format', '{{.Server.Version}}'], { encoding: 'utf8' });
    const haveDockerd = dockerd.status === 0;
    const samples: Record<string, number[]> = { 'docker CLI → berth serve': [], 'berth run (no API)': [] };
    if (haveDockerd) samples['docker CLI → dockerd'] = [];
    // Warm-up, then alternate.
    timed([DOCKER, 'run', '--rm', '--network', 'none', 'busybox', 'true'], env);
    timed(b('run', '--rm', '--network', 'none', 'busybox', 'true'));
    for (let i = 0; i < runs; i++) {
      samples['docker CLI → berth serve']!.push(timed([DOCKER, 'run', '--rm', '--network', 'none', 'busybox', 'true'], env));
      samples['berth run (no API)']!.push(timed(b('run', '--rm', '--network', 'none', 'busybox', 'true')));
      if (haveDockerd) samples['docker CLI → dockerd']!.push(timed([DOCKER, '-H', 'unix:///var/run/docker.sock', 'run', '--rm', '--network', 'none', 'busybox', 'true']));
    }
    const runMedians = Object.fromEntries(Object.entries(samples).map(([k, v]) => [k, median(v)]));

    // 1,000 containers (created, never started: ps lists them all the same).
    const t0 = performance.now();
    for (let i = 0; i < count; i++) must(b('create', '--network', 'none', 'busybox', 'true'));
    const createSecs = (performance.now() - t0) / 1000;
    const ps: number[] = [];
    const listed = must([DOCKER, 'ps', '-aq'], env).trim().split('\n').length;
    for (let i = 0; i < runs; i++) ps.push(timed([DOCKER, 'ps', '-a'], env));
    const psBerth: number[] = [];
    for (let i = 0; i < runs; i++) psBerth.push(timed(b('ps', '-a')));

    const ms = (x: number) => `${x.toFixed(0)} ms`;
    console.log(`api bench: ${runs} runs each, alternating, after a warm-up; host ${release()}, ${cpus().length} cpu`);
    console.log('\n1. run --rm busybox true');
    for (const [k, v] of Object.entries(runMedians)) console.log(`  ${k.padEnd(28)} ${ms(v).padStart(8)}`);
    const target = haveDockerd ? runMedians['docker CLI → berth serve']! / runMedians['docker CLI → dockerd']! : undefined;
    console.log(haveDockerd
      ? `  berth serve / dockerd: ${target!.toFixed(2)}× (target ≤ 0.25×) ${target! <= 0.25 ? 'MET' : 'NOT MET'}`
      : '  no dockerd answers at /var/run/docker.sock: the dockerd ratio was not measured');
    console.log(`\n2. ps -a with ${listed} containers (made in ${createSecs.toFixed(0)} s)`);
    console.log(`  docker ps -a → berth serve   ${ms(median(ps)).padStart(8)}  (target ≤ 100 ms: ${median(ps) <= 100 ? 'MET' : 'NOT MET'})`);
    console.log(`  berth ps -a (no API)         ${ms(median(psBerth)).padStart(8)}`);
    mkdirSync(join(REPO, 'bench', 'results'), { recursive: true });
    writeFileSync(RESULTS, JSON.stringify({
      date: new Date().toISOString(), runs, containers: listed, dockerd: haveDockerd ? dockerd.stdout.trim() : null,
      run_ms: runMedians, run_samples_ms: samples, ratio_vs_dockerd: target ?? null,
      ps_ms: { docker_cli_berth_serve: median(ps), berth_cli: median(psBerth) }, ps_samples_ms: { ps, psBerth },
    }, null, 2));
    console.log(`results: ${RESULTS}`);
  } finally {
    server?.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 300));
    const ids = spawnSync(BERTH, ['--root', root, 'ps', '-aq', '--no-trunc'], { encoding: 'utf8' }).stdout.split('\n').filter(Boolean);
    for (let i = 0; i < ids.length; i += 200) spawnSync(BERTH, ['--root', root, 'rm', '-f', ...ids.slice(i, i + 200)]);
    spawnSync(BERTH, ['--root', root, 'network', 'prune', '-f']);
    rmSync(root, { recursive: true, force: true });
  }
}

main().catch((e: unknown) => {
  process.stderr.write(`api bench: ${(e as Error).message}\n`);
  process.exitCode = 1;
});
