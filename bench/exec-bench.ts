// Exec benchmark (#4): `berth exec C true` against `docker exec C true` (a private dockerd the bench starts
// and stops itself, when /usr/sbin/dockerd is installed: `bash bench/setup-dockerd`) and `podman exec C true`
// (when podman is installed), each into a long-running busybox container of its own, with `--network none`
// everywhere. Also `exec -d C true` on all three (returns once the process started), and `runc exec` of the
// Berth container straight through the runtime, the floor every contender sits on.
//
//   node bench/exec-bench.ts [--runs N] [--warmup N] [--no-dockerd] [--no-podman]
//
// Targets: berth exec ≤ 0.8× docker exec (issue "Faster than docker"), ≤ 0.5× podman exec (medians).
//
// Everything is private and removed at the end (also on SIGINT/SIGTERM): a Berth root under /tmp; the dockerd
// of bench/dockerd.ts (own data/exec root, socket, containerd; no iptables, no bridge); podman with its own
// --root, --runroot, --tmpdir, --network-config-dir and --volumepath under one /tmp dir, the file events
// backend (in that tmpdir) and cgroupfs, so the host's podman store is never read or written. Podman runs the
// container with the same OCI runtime as Berth's container, and with RLIMIT_NOFILE/NPROC lowered (podman
// raises them past what this host lets a runtime set). A measurement, not a test: exits 0 whatever the
// numbers, non-zero only when setup or a run fails.

import { cleanupOnSignal, NODE_FLOOR } from './engines.ts';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, release } from 'node:os';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { dockerdUnavailable, mountsUnder, startDockerd, stopDockerd, type Dockerd } from './dockerd.ts';
import { podmanUlimits, startPodman, type PrivatePodman } from './podman.ts';
import { stats } from './stats.ts';
import { probeRuntimes } from '../src/runtime/probe.ts';

const REPO = resolve(import.meta.dirname, '..');
const BERTH = join(REPO, 'bin', 'berth');
const RESULTS = join(REPO, 'bench', 'results', 'exec-latest.json');
const DOCKER_TARGET = 0.8;
const PODMAN_TARGET = 0.5;
const CTR = 'exec-bench';

interface Options {
  runs: number;
  warmup: number;
  dockerd: boolean;
  podman: boolean;
}

function usage(code: number): never {
  (code === 0 ? process.stdout : process.stderr).write(
    'usage: node bench/exec-bench.ts [--runs N] [--warmup N] [--no-dockerd] [--no-podman]\n' +
      '  --runs N       timed runs per contender (default 20), alternating, the order rotated each round\n' +
      '  --warmup N     untimed runs per contender first (default 3)\n' +
      '  --no-dockerd   skip the docker baseline\n' +
      '  --no-podman    skip the podman baseline\n',
  );
  process.exit(code);
}

function parseArgs(argv: string[]): Options {
  const o: Options = { runs: 20, warmup: 3, dockerd: true, podman: true };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--no-dockerd') o.dockerd = false;
    else if (a === '--no-podman') o.podman = false;
    else if (a === '-h' || a === '--help') usage(0);
    else if (a === '--runs' || a === '--warmup') {
      const n = Number(argv[++i]);
      if (!Number.isInteger(n) || n < (a === '--runs' ? 1 : 0)) {
        process.stderr.write(`exec bench: ${a} needs a ${a === '--runs' ? 'positive' : 'non-negative'} integer\n`);
        usage(2);
      }
      if (a === '--runs') o.runs = n;
      else o.warmup = n;
    } else {
      process.stderr.write(`exec bench: unknown argument: ${a}\n`);
      usage(2);
    }
  }
  return o;
}

/** Run to completion; throws with the command's last line of stderr when it fails. */
function must(argv: string[], timeout = 120_000): string {
  const r = spawnSync(argv[0]!, argv.slice(1), { encoding: 'utf8', timeout, maxBuffer: 16 << 20 });
  if (r.error || r.status !== 0) {
    const why = r.error ? r.error.message : `exit ${r.status ?? r.signal}`;
    throw new Error(`\`${argv.join(' ')}\` failed (${why}): ${(r.stderr || r.stdout || '').trim().split('\n').pop() ?? ''}`);
  }
  return r.stdout;
}

/** Run, never throws. */
function quiet(argv: string[], timeout = 60_000): number | null {
  return spawnSync(argv[0]!, argv.slice(1), { stdio: 'ignore', timeout }).status;
}

/** The runtime's binary on PATH (the launcher takes a path). */
function runtimePath(cmd: string): string {
  return (process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin').split(':').map((d) => join(d, cmd)).find((p) => p !== cmd && existsSync(p)) ?? cmd;
}

function which(cmd: string): boolean {
  return (process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin').split(':').some((d) => d !== '' && existsSync(join(d, cmd)));
}

interface Contender {
  name: string;
  /** who it is measured against: the berth exec (-d) with the same flags is compared to it */
  kind: 'berth' | 'docker' | 'podman' | 'floor';
  detach: boolean;
  argv: string[];
  samples: number[];
}

class Interrupted extends Error {}

/** One timed run; a failure (non-zero exit) ends the bench with the command's stderr. */
function timeOnce(c: Contender): number {
  const t0 = performance.now();
  const r = spawnSync(c.argv[0]!, c.argv.slice(1), { stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8', timeout: 60_000 });
  const dt = performance.now() - t0;
  if (r.signal === 'SIGINT' || r.signal === 'SIGTERM') throw new Interrupted(`${c.name}: interrupted`);
  if (r.error || r.status !== 0) {
    throw new Error(`${c.name}: \`${c.argv.join(' ')}\` failed (${r.error?.message ?? `exit ${r.status ?? r.signal}`}): ${r.stderr.trim().split('\n').pop() ?? ''}`);
  }
  return dt;
}

const tick = () => new Promise<void>((r) => setImmediate(r));

const ms = (x: number) => `${x.toFixed(1)} ms`;
const round = (x: number) => Math.round(x * 100) / 100;

/** The soft limit of an rlimit of this process (from /proc/self/limits), or undefined when unlimited. */
// ---- the bench ----------------------------------------------------------------------------------------------

async function main(opts: Options): Promise<void> {
  if (!existsSync(join(REPO, 'dist', 'berth.mjs'))) throw new Error('berth: not built (run scripts/build)');
  const root = mkdtempSync('/tmp/berth-exec-bench-');
  const b = (...a: string[]) => [BERTH, '--root', root, ...a];
  let dockerd: Dockerd | undefined;
  let podman: PrivatePodman | undefined;
  const left: string[] = [];

  let cleaned = false;
  const cleanup = () => {
    if (cleaned) return;
    cleaned = true;
    if (dockerd) for (const l of stopDockerd(dockerd)) left.push(`dockerd: ${l}`);
    if (podman) left.push(...podman.stop());
    if (existsSync(root)) {
      quiet(b('rm', '-f', CTR));
      const ids = spawnSync(BERTH, ['--root', root, 'ps', '-aq', '--no-trunc'], { encoding: 'utf8' }).stdout.split('\n').filter(Boolean);
      if (ids.length) quiet(b('rm', '-f', ...ids));
      quiet(b('network', 'prune', '-f'));
      const still = mountsUnder(root);
      if (still.length) left.push(`berth: STILL MOUNTED: ${still.join(' ')}`);
      else rmSync(root, { recursive: true, force: true });
    }
    for (const l of left) console.log(`cleanup: ${l}`);
  };
  const removeHandlers = cleanupOnSignal('exec bench', cleanup);

  const skipped: Record<string, string> = {};
  const notes: string[] = [];
  const contenders: Contender[] = [];
  const add = (name: string, kind: Contender['kind'], detach: boolean, argv: string[]) =>
    contenders.push({ name, kind, detach, argv, samples: [] });

  try {
    console.log(`exec bench: ${opts.runs} timed runs per contender, alternating, after ${opts.warmup} warm-up run(s) each`);
    console.log(`host: Linux ${release()}, ${cpus().length} cpu, node ${process.version}`);
    const tar = join(root, 'busybox.tar');
    must(['bash', join(REPO, 'scripts', 'mkimage-busybox'), tar]);

    // --- berth ---------------------------------------------------------------------------------------------
    must(b('import', '--change', 'CMD ["sh"]', tar, 'busybox:latest'));
    const bid = must(b('run', '-d', '--network', 'none', '--name', CTR, 'busybox', 'sleep', '1000000')).trim();
    const runtime = must(b('inspect', '-f', '{{.HostConfig.Runtime}}', CTR)).trim();
    console.log(`berth: container ${bid.slice(0, 12)} on ${runtime}`);
    add('berth exec', 'berth', false, b('exec', CTR, 'true'));
    add('berth exec -d', 'berth', true, b('exec', '-d', CTR, 'true'));
    // The floor: the runtime's own exec of the same container (its state is in the runtime's default root),
    // through the engine's launcher where it has one (crun on a hybrid cgroup host: src/runtime/v1-view.c).
    const launcher = probeRuntimes().find((c) => c.name === runtime)?.launcher;
    const floorArgv = [...(launcher ? [launcher, runtimePath(runtime)] : [runtime]), 'exec', bid, 'true'];
    if (quiet(floorArgv) === 0) {
      add(`${runtime} exec (floor)`, 'floor', false, floorArgv);
      // A Node CLI's floor: Node 24 doing nothing but run that exec (bench/node-floor.mjs).
      add(`Node → ${runtime} exec (Node floor)`, 'floor', false, [process.execPath, NODE_FLOOR, 'spawn', ...floorArgv]);
    } else {
      skipped['floor'] = `\`${runtime} exec\` of the berth container failed`;
      console.log(`floor: ${skipped['floor']}, skipped`);
    }

    // --- docker --------------------------------------------------------------------------------------------
    const noDockerd = opts.dockerd ? dockerdUnavailable() : '--no-dockerd';
    if (noDockerd) {
      skipped['docker'] = noDockerd;
      console.log(`docker: skipped (${noDockerd})`);
    } else {
      dockerd = await startDockerd('/tmp/berth-exec-bench-dockerd-');
      const d = dockerd.docker;
      must([...d, 'import', '--change', 'CMD ["sh"]', tar, 'busybox:latest']);
      must([...d, 'run', '-d', '--network', 'none', '--name', CTR, 'busybox', 'sleep', '1000000']);
      add('docker exec', 'docker', false, [...d, 'exec', CTR, 'true']);
      add('docker exec -d', 'docker', true, [...d, 'exec', '-d', CTR, 'true']);
    }

    // --- podman --------------------------------------------------------------------------------------------
    let podmanVersion: string | null = null;
    if (!opts.podman) skipped['podman'] = '--no-podman';
    else if (!which('podman')) skipped['podman'] = 'not installed';
    else {
      podmanVersion = must(['podman', '--version']).trim();
      const limits = podmanUlimits();
      // The same runtime as Berth's where podman can run it; crun on a hybrid cgroup host needs Berth's
      // launcher, which podman does not have, so podman falls back to runc there.
      let podmanRuntime = runtime;
      for (const rt of runtime === 'runc' ? ['runc'] : [runtime, 'runc']) {
        podman = startPodman('/tmp/berth-exec-bench-podman-', rt);
        must([...podman.argv, 'import', '--change', 'CMD ["sh"]', tar, 'busybox:latest']);
        const argv = [...podman.argv, 'run', '-d', '--network', 'none', ...limits.flags, '--name', CTR, 'busybox', 'sleep', '1000000'];
        const r = spawnSync(argv[0]!, argv.slice(1), { encoding: 'utf8', timeout: 120_000 });
        if (r.status === 0) { podmanRuntime = rt; break; }
        const why = (r.stderr || '').trim().split('\n').pop() ?? `exit ${r.status}`;
        left.push(...podman.stop());
        podman = undefined;
        if (rt === 'runc') throw new Error(`podman: \`run -d\` failed: ${why}`);
        notes.push(`podman cannot run ${rt} here (${why}); it runs runc`);
      }
      add('podman exec', 'podman', false, [...podman!.argv, 'exec', CTR, 'true']);
      add('podman exec -d', 'podman', true, [...podman!.argv, 'exec', '-d', CTR, 'true']);
      notes.push(`podman: ${podmanVersion}, --runtime ${podmanRuntime}, overlay, cgroupfs, file events, private root/runroot/tmpdir; ${limits.note}`);
      console.log(`podman: ${podmanVersion}, private root in ${podman!.dir}, runtime ${podmanRuntime}`);
    }
    if (skipped['podman']) console.log(`podman: skipped (${skipped['podman']})`);
    rmSync(tar, { force: true });

    // --- measure -------------------------------------------------------------------------------------------
    // spawnSync blocks the event loop: yield between runs so a SIGINT/SIGTERM handler can clean up.
    for (let i = 0; i < opts.warmup; i++) for (const c of contenders) { timeOnce(c); await tick(); }
    for (let i = 0; i < opts.runs; i++) {
      for (let j = 0; j < contenders.length; j++) {
        const c = contenders[(i + j) % contenders.length]!;
        c.samples.push(timeOnce(c));
        await tick();
      }
    }

    // --- report --------------------------------------------------------------------------------------------
    const st = new Map(contenders.map((c) => [c.name, stats(c.samples)] as const));
    const w = Math.max(...contenders.map((c) => c.name.length)) + 4;
    console.log('');
    console.log(`${'contender'.padEnd(w)}${'median'.padStart(10)}${'p90'.padStart(10)}${'min'.padStart(10)}${'max'.padStart(10)}`);
    for (const c of contenders) {
      const s = st.get(c.name)!;
      console.log(`${c.name.padEnd(w)}${ms(s.median).padStart(10)}${ms(s.p90).padStart(10)}${ms(s.min).padStart(10)}${ms(s.max).padStart(10)}`);
    }
    const med = (name: string) => st.get(name)?.median;
    const ratio = (a: string, bName: string) => {
      const x = med(a);
      const y = med(bName);
      return x !== undefined && y !== undefined ? x / y : null;
    };
    const targets = {
      docker: {
        target: `berth exec median ≤ ${DOCKER_TARGET} × docker exec median`,
        ratio: ratio('berth exec', 'docker exec'),
        met: null as boolean | null,
      },
      podman: {
        target: `berth exec median ≤ ${PODMAN_TARGET} × podman exec median`,
        ratio: ratio('berth exec', 'podman exec'),
        met: null as boolean | null,
      },
    };
    if (targets.docker.ratio !== null) targets.docker.met = targets.docker.ratio <= DOCKER_TARGET;
    if (targets.podman.ratio !== null) targets.podman.met = targets.podman.ratio <= PODMAN_TARGET;
    const verdict = (met: boolean | null) => (met === null ? '' : met ? '  MET' : '  NOT MET');
    const line = (label: string, r: number | null, limit: number | undefined, why: string | undefined, met: boolean | null) =>
      console.log(`  ${label}: ` + (r === null ? `n/a (${why ?? 'not measured'})` : `${r.toFixed(2)}×${limit === undefined ? '' : ` (target ≤ ${limit.toFixed(1)}×)`}${verdict(met)}`));
    console.log('');
    console.log('ratios (medians):');
    line('berth exec    / docker exec   ', targets.docker.ratio, DOCKER_TARGET, skipped['docker'], targets.docker.met);
    line('berth exec    / podman exec   ', targets.podman.ratio, PODMAN_TARGET, skipped['podman'], targets.podman.met);
    line('berth exec -d / docker exec -d', ratio('berth exec -d', 'docker exec -d'), undefined, skipped['docker'], null);
    line('berth exec -d / podman exec -d', ratio('berth exec -d', 'podman exec -d'), undefined, skipped['podman'], null);
    const floor = contenders.find((c) => c.kind === 'floor');
    if (floor) {
      const f = med(floor.name)!;
      console.log(`  over the floor (${floor.name} ${ms(f)}): berth exec +${ms(med('berth exec')! - f)}` +
        (med('docker exec') !== undefined ? `, docker exec +${ms(med('docker exec')! - f)}` : '') +
        (med('podman exec') !== undefined ? `, podman exec +${ms(med('podman exec')! - f)}` : ''));
    }
    for (const [k, v] of Object.entries(skipped)) console.log(`skipped ${k}: ${v}`);

    mkdirSync(resolve(RESULTS, '..'), { recursive: true });
    const shown = (argv: string[]) => argv.map((a) => (a === BERTH ? 'bin/berth' : a)).join(' ')
      .replaceAll(root, '<root>').replaceAll(podman?.dir ?? '\0', '<podman>').replaceAll(dockerd?.dir ?? '\0', '<dockerd>').replaceAll(bid, '<id>');
    writeFileSync(RESULTS, JSON.stringify({
      date: new Date().toISOString(),
      host: { kernel: release(), cpus: cpus().length, cpu_model: cpus()[0]?.model ?? null, node: process.version, load_avg: readFileSync('/proc/loadavg', 'utf8').trim() },
      runs: opts.runs,
      warmup_runs: opts.warmup,
      network: 'none',
      runtime,
      dockerd: dockerd ? dockerd.version : null,
      podman: podmanVersion,
      contenders: contenders.map((c) => {
        const s = st.get(c.name)!;
        return {
          name: c.name, detach: c.detach, command: shown(c.argv),
          median_ms: round(s.median), p90_ms: round(s.p90), min_ms: round(s.min), max_ms: round(s.max),
          samples_ms: c.samples.map(round),
        };
      }),
      ratios: {
        berth_exec_over_docker_exec: targets.docker.ratio === null ? null : round(targets.docker.ratio),
        berth_exec_over_podman_exec: targets.podman.ratio === null ? null : round(targets.podman.ratio),
        berth_exec_d_over_docker_exec_d: (() => { const r = ratio('berth exec -d', 'docker exec -d'); return r === null ? null : round(r); })(),
        berth_exec_d_over_podman_exec_d: (() => { const r = ratio('berth exec -d', 'podman exec -d'); return r === null ? null : round(r); })(),
      },
      targets,
      skipped,
      notes,
    }, null, 2) + '\n');
    console.log(`results: ${RESULTS}`);
  } finally {
    cleanup();
    removeHandlers();
  }
}

main(parseArgs(process.argv.slice(2))).catch((e: unknown) => {
  process.stderr.write(`exec bench: ${(e as Error).message}\n`);
  process.exitCode = e instanceof Interrupted ? 130 : 1;
});
