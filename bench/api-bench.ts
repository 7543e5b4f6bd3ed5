// API benchmark (#9): the real docker CLI against `berth serve`, and against a private dockerd that the bench
// starts and stops itself (when /usr/sbin/dockerd is installed: `bash bench/setup-dockerd`). Two measurements:
//   1. `docker run --rm --network none busybox true` and `docker exec C true` (C a running busybox container
//      of each engine's), end to end through the API (median of N), with `berth run` / `berth exec` directly
//      and dockerd as baselines in the same run, alternating, after warm-up runs;
//   2. `docker ps -a` with 1,000 containers in the root (median of N), against berth serve and dockerd
//      (not with --no-ps).
//
//   node bench/api-bench.ts [--runs N] [--warmup N] [--containers N] [--no-dockerd] [--no-ps]
//
// Targets (issue "Faster than docker"): through berth serve, run ≤ 0.4× and exec ≤ 0.8× the docker CLI on
// dockerd.
//
// A private Berth root under /tmp. The dockerd is as private: its own --data-root, --exec-root, socket, pid
// file and config file under /tmp/berth-api-bench-dockerd-*, and the containerd it supervises keeps its root
// and state there too; --iptables=false --ip6tables=false --ip-forward=false --bridge=none, so it never
// touches the host's firewall or makes a docker0. Everything either made is removed at the end (processes,
// mounts, directories). A measurement, not a test: exits 0 whatever the numbers, non-zero only when setup or
// a run fails.

import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { cpus, release } from 'node:os';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { DOCKER, dockerdUnavailable, startDockerd, stopDockerd, type Dockerd } from './dockerd.ts';
import { removeBerthRoot, cleanupOnSignal } from './engines.ts';
// This bench has always reported the upper median (the higher middle sample for an even --runs, and the
// default is 10): kept, so its numbers compare with the results it wrote before.
import { upperMedian as median } from './stats.ts';

const REPO = resolve(import.meta.dirname, '..');
const BERTH = join(REPO, 'bin', 'berth');
const DOCKERD_CREATE_BUDGET_MS = 120_000;
const RESULTS = join(REPO, 'bench', 'results', 'api-latest.json');
const RUN_TARGET = 0.4;
const EXEC_TARGET = 0.8;
const EXEC_CTR = 'api-bench-exec';

function arg(name: string, dflt: number): number {
  const i = process.argv.indexOf(name);
  const n = i >= 0 ? Number(process.argv[i + 1]) : dflt;
  if (!Number.isInteger(n) || n < 0 || (n === 0 && name !== '--warmup')) throw new Error(`${name} needs a positive integer`);
  return n;
}

function must(argv: string[], env?: NodeJS.ProcessEnv): string {
  const r = spawnSync(argv[0]!, argv.slice(1), { encoding: 'utf8', env: { ...process.env, ...env }, maxBuffer: 64 << 20 });
  if (r.status !== 0) throw new Error(`\`${argv.join(' ')}\` failed (${r.status}): ${(r.stderr || r.stdout).trim().split('\n').pop()}`);
  return r.stdout;
}

function quiet(argv: string[], env?: NodeJS.ProcessEnv): void {
  spawnSync(argv[0]!, argv.slice(1), { stdio: 'ignore', env: { ...process.env, ...env }, timeout: 60_000 });
}

function timed(argv: string[], env?: NodeJS.ProcessEnv): number {
  const t = performance.now();
  must(argv, env);
  return performance.now() - t;
}

// Between commands, so a SIGINT/SIGTERM handler gets to run (the commands themselves are spawnSync).
const tick = () => new Promise<void>((r) => setImmediate(r));
const sleepSync = (ms: number) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);

// ---- the bench ----------------------------------------------------------------------------------------------

async function main(): Promise<void> {
  const runs = arg('--runs', 10);
  const warmup = arg('--warmup', 2);
  const count = arg('--containers', 1000);
  const wantDockerd = !process.argv.includes('--no-dockerd');
  const wantPs = !process.argv.includes('--no-ps');
  if (!existsSync(DOCKER)) throw new Error(`${DOCKER} is not installed: nothing to drive the API with`);
  const root = mkdtempSync('/tmp/berth-api-bench-');
  const sock = join(root, 'api.sock');
  const env = { DOCKER_HOST: `unix://${sock}` };
  const b = (...a: string[]) => [BERTH, '--root', root, ...a];
  let server: ReturnType<typeof spawn> | undefined;
  let dockerd: Dockerd | undefined;

  const cleanup = () => {
    if (dockerd) {
      const d = dockerd;
      dockerd = undefined;
      for (const l of stopDockerd(d)) console.log(`dockerd cleanup: ${l}`);
    }
    if (server) {
      server.kill('SIGTERM');
      server = undefined;
      sleepSync(300);
    }
    for (const l of removeBerthRoot(root)) console.log(`berth cleanup: ${l}`);
  };
  const removeHandlers = cleanupOnSignal('api bench', cleanup);

  try {
    const tar = join(root, 'busybox.tar');
    must(['bash', join(REPO, 'scripts', 'mkimage-busybox'), tar]);
    must(b('import', '--change', 'CMD ["sh"]', tar, 'busybox:latest'));
    server = spawn(BERTH, ['--root', root, 'serve', '-H', `unix://${sock}`], { stdio: 'ignore' });
    for (let i = 0; i < 200 && !existsSync(sock); i++) await new Promise((r) => setTimeout(r, 25));
    if (!existsSync(sock)) throw new Error('berth serve did not create its socket');

    let dockerdSkipped: string | null = null;
    if (!wantDockerd) dockerdSkipped = '--no-dockerd';
    else dockerdSkipped = dockerdUnavailable() ?? null;
    if (!dockerdSkipped) {
      dockerd = await startDockerd('/tmp/berth-api-bench-dockerd-');
      // The same rootfs tar, the same CMD.
      must([...dockerd.docker, 'import', '--change', 'CMD ["sh"]', tar, 'busybox:latest']);
    }
    if (dockerdSkipped) console.log(`dockerd baseline skipped: ${dockerdSkipped}`);

    const RUN = ['run', '--rm', '--network', 'none', 'busybox', 'true'];
    const SLEEPER = ['run', '-d', '--network', 'none', '--name', EXEC_CTR, 'busybox', 'sleep', '1000000'];
    const EXEC = ['exec', EXEC_CTR, 'true'];
    must([DOCKER, ...SLEEPER], env);
    if (dockerd) must([...dockerd.docker, ...SLEEPER]);
    const cases: [string, string[], NodeJS.ProcessEnv?][] = [
      ['docker CLI → berth serve', [DOCKER, ...RUN], env],
      ['berth run (no API)', b(...RUN)],
      ['exec: docker CLI → berth serve', [DOCKER, ...EXEC], env],
      ['exec: berth exec (no API)', b(...EXEC)],
    ];
    if (dockerd) cases.push(['docker CLI → dockerd', [...dockerd.docker, ...RUN]], ['exec: docker CLI → dockerd', [...dockerd.docker, ...EXEC]]);
    const samples: Record<string, number[]> = Object.fromEntries(cases.map(([k]) => [k, []]));
    for (let i = 0; i < warmup; i++) for (const [, argv, e] of cases) { timed(argv, e); await tick(); }
    // Alternate, and rotate which goes first, so none always follows the same one.
    for (let i = 0; i < runs; i++) {
      for (let j = 0; j < cases.length; j++) {
        const [k, argv, e] = cases[(i + j) % cases.length]!;
        samples[k]!.push(timed(argv, e));
        await tick();
      }
    }
    const medians = Object.fromEntries(Object.entries(samples).map(([k, v]) => [k, median(v)]));
    const runMedians = Object.fromEntries(Object.entries(medians).filter(([k]) => !k.startsWith('exec: ')));
    const execMedians = Object.fromEntries(Object.entries(medians).filter(([k]) => k.startsWith('exec: ')).map(([k, v]) => [k.slice(6), v]));
    quiet([DOCKER, 'rm', '-f', EXEC_CTR], env);
    if (dockerd) quiet([...dockerd.docker, 'rm', '-f', EXEC_CTR]);

    // 1,000 containers (created, never started: ps lists them all the same).
    const t0 = performance.now();
    for (let i = 0; wantPs && i < count; i++) { must(b('create', '--network', 'none', 'busybox', 'true')); await tick(); }
    const createSecs = (performance.now() - t0) / 1000;
    const ps: number[] = [];
    const listed = wantPs ? must([DOCKER, 'ps', '-aq'], env).trim().split('\n').length : 0;
    for (let i = 0; wantPs && i < runs; i++) ps.push(timed([DOCKER, 'ps', '-a'], env));
    const psBerth: number[] = [];
    for (let i = 0; wantPs && i < runs; i++) psBerth.push(timed(b('ps', '-a')));

    // The same count in dockerd, within a time budget (docker create one at a time).
    let dPs: number[] = [];
    let dListed = 0;
    let dCreateSecs = 0;
    if (dockerd && wantPs) {
      const t1 = performance.now();
      let made = 0;
      while (made < count && performance.now() - t1 < DOCKERD_CREATE_BUDGET_MS) {
        must([...dockerd.docker, 'create', '--network', 'none', 'busybox', 'true']);
        made++;
        await tick();
      }
      dCreateSecs = (performance.now() - t1) / 1000;
      dListed = must([...dockerd.docker, 'ps', '-aq']).trim().split('\n').filter(Boolean).length;
      for (let i = 0; i < runs; i++) dPs.push(timed([...dockerd.docker, 'ps', '-a']));
    }

    const ms = (x: number) => `${x.toFixed(0)} ms`;
    console.log(`\napi bench: ${runs} runs each, alternating, after ${warmup} warm-up run(s) each; host ${release()}, ${cpus().length} cpu`);
    console.log('\n1. run --rm --network none busybox true');
    for (const [k, v] of Object.entries(runMedians)) console.log(`  ${k.padEnd(28)} ${ms(v).padStart(8)}`);
    const ratio = dockerd ? runMedians['docker CLI → berth serve']! / runMedians['docker CLI → dockerd']! : undefined;
    console.log(ratio !== undefined
      ? `  berth serve / dockerd: ${ratio.toFixed(2)}× (target ≤ ${RUN_TARGET}×) ${ratio <= RUN_TARGET ? 'MET' : 'NOT MET'}`
      : `  berth serve / dockerd: not measured (${dockerdSkipped})`);
    console.log('\n   exec C true (C running busybox sleep, --network none)');
    for (const [k, v] of Object.entries(execMedians)) console.log(`  ${k.padEnd(28)} ${ms(v).padStart(8)}`);
    const execRatio = dockerd ? execMedians['docker CLI → berth serve']! / execMedians['docker CLI → dockerd']! : undefined;
    console.log(execRatio !== undefined
      ? `  berth serve / dockerd: ${execRatio.toFixed(2)}× (target ≤ ${EXEC_TARGET}×) ${execRatio <= EXEC_TARGET ? 'MET' : 'NOT MET'}`
      : `  berth serve / dockerd: not measured (${dockerdSkipped})`);
    if (!wantPs) console.log('\n2. ps -a: skipped (--no-ps)');
    else {
      console.log(`\n2. ps -a with ${listed} containers (made in ${createSecs.toFixed(0)} s)`);
      console.log(`  docker ps -a → berth serve   ${ms(median(ps)).padStart(8)}  (target ≤ 100 ms: ${median(ps) <= 100 ? 'MET' : 'NOT MET'})`);
      console.log(`  berth ps -a (no API)         ${ms(median(psBerth)).padStart(8)}`);
    }
    let psRatio: number | null = null;
    if (dockerd && wantPs) {
      const note = dListed === listed ? '' : `; ${dListed} containers, not ${listed}: the ${DOCKERD_CREATE_BUDGET_MS / 1000} s budget ran out`;
      console.log(`  docker ps -a → dockerd       ${ms(median(dPs)).padStart(8)}  (${dListed} made in ${dCreateSecs.toFixed(0)} s${note})`);
      if (dListed === listed) {
        psRatio = median(ps) / median(dPs);
        console.log(`  berth serve / dockerd: ${psRatio.toFixed(2)}×`);
      }
    }
    mkdirSync(join(REPO, 'bench', 'results'), { recursive: true });
    writeFileSync(RESULTS, JSON.stringify({
      date: new Date().toISOString(), host: { kernel: release(), cpus: cpus().length }, runs, warmup,
      network: 'none', containers: listed,
      dockerd: dockerd ? dockerd.version : null, dockerd_skipped: dockerdSkipped,
      dockerd_flags: dockerd ? '--iptables=false --ip6tables=false --ip-forward=false --ip-masq=false --bridge=none --storage-driver overlay2, private data/exec root' : null,
      run_ms: runMedians, run_samples_ms: samples, ratio_vs_dockerd: ratio ?? null,
      exec_ms: execMedians, exec_ratio_vs_dockerd: execRatio ?? null,
      targets: { run_ratio_max: RUN_TARGET, exec_ratio_max: EXEC_TARGET },
      ps_skipped: wantPs ? null : '--no-ps',
      ps_ms: wantPs ? { docker_cli_berth_serve: median(ps), berth_cli: median(psBerth), ...(dockerd ? { docker_cli_dockerd: median(dPs) } : {}) } : null,
      ps_ratio_vs_dockerd: psRatio, dockerd_containers: dockerd ? dListed : null, dockerd_create_s: dockerd ? dCreateSecs : null,
      ps_samples_ms: { ps, psBerth, ...(dockerd ? { psDockerd: dPs } : {}) },
    }, null, 2) + '\n');
    console.log(`results: ${RESULTS}`);
  } finally {
    cleanup();
    removeHandlers();
  }
}

main().catch((e: unknown) => {
  process.stderr.write(`api bench: ${(e as Error).message}\n`);
  process.exitCode = 1;
});
