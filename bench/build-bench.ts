// Build bench (#16): a 3-stage Dockerfile (two stages that do not depend on each other, one writing 8 MB,
// and a last one copying from both) with a 50-file context, built cold (every step run: --no-cache) and fully
// cached, by `berth build` (no daemon), by docker's classic builder (a private dockerd, DOCKER_BUILDKIT=0, where
// one is installed: bench/setup-dockerd) and by `buildah bud --layers` (where buildah is installed: apt install
// buildah), alternating, in one run. RUN steps use --network none everywhere (the private dockerd has no
// bridge); Berth's default-network figure is given too. Median wall time of each, and the ratios.
//
//   node bench/build-bench.ts [--runs N (5)] [--no-dockerd] [--no-buildah]
//
// A measurement, not a test: exits 0 whatever the figures, non-zero only when setup fails. Type stripping
// only: keep this file to erasable TypeScript syntax.

import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join, resolve } from 'node:path';
import { dockerdUnavailable, startDockerd, stopDockerd, type Dockerd } from './dockerd.ts';
import { median } from './stats.ts';

const REPO = resolve(import.meta.dirname, '..');
const BERTH = join(REPO, 'bin', 'berth');
const BUILDAH = '/usr/bin/buildah';
const RESULTS = join(REPO, 'bench', 'results', 'build-latest.json');

const DOCKERFILE = [
  'FROM busybox:latest AS data',
  'RUN head -c 8388608 /dev/urandom > /blob',
  'FROM busybox:latest AS tools',
  'COPY files/ /files/',
  'RUN ls /files | wc -l > /count',
  'FROM busybox:latest',
  'COPY --from=data /blob /blob',
  'COPY --from=tools /count /count',
  'CMD ["cat", "/count"]',
  '',
].join('\n');

function arg(name: string, dflt: number, max: number): number {
  const i = process.argv.indexOf(name);
  const n = i >= 0 ? Number(process.argv[i + 1]) : dflt;
  if (!Number.isInteger(n) || n <= 0 || n > max) throw new Error(`${name} needs an integer from 1 to ${max}`);
  return n;
}

function timed(argv: string[], env?: NodeJS.ProcessEnv): number {
  const t = process.hrtime.bigint();
  const r = spawnSync(argv[0]!, argv.slice(1), { encoding: 'utf8', env: env ?? process.env, maxBuffer: 64 << 20 });
  const ms = Number(process.hrtime.bigint() - t) / 1e6;
  if (r.status !== 0) throw new Error(`\`${argv.join(' ')}\` failed (${r.status}): ${(r.stderr || r.stdout).trim().split('\n').slice(-3).join(' | ')}`);
  return ms;
}

interface Builder {
  name: string;
  cold: () => number;
  cached: () => number;
}

async function main(): Promise<void> {
  const runs = arg('--runs', 5, 50);
  const work = mkdtempSync('/tmp/berth-build-bench-');
  const ctx = join(work, 'ctx');
  mkdirSync(join(ctx, 'files'), { recursive: true });
  writeFileSync(join(ctx, 'Dockerfile'), DOCKERFILE);
  for (let i = 0; i < 50; i++) writeFileSync(join(ctx, 'files', `f${i}.txt`), randomBytes(1024).toString('hex'));
  const tar = join(work, 'busybox.tar');
  spawnSync('bash', [join(REPO, 'scripts', 'mkimage-busybox'), tar]);
  const root = join(work, 'berth-root');
  timed([BERTH, '--root', root, 'import', '--change', 'CMD ["sh"]', tar, 'busybox:latest']);

  const builders: Builder[] = [];
  const berth = (...a: string[]) => [BERTH, '--root', root, 'build', '-q', ...a, '-t', 'bench:build', ctx];
  builders.push({ name: 'berth build', cold: () => timed(berth('--no-cache', '--network', 'none')), cached: () => timed(berth('--network', 'none')) });
  builders.push({ name: 'berth build (default network)', cold: () => timed(berth('--no-cache')), cached: () => timed(berth()) });

  let dockerd: Dockerd | undefined;
  const results: Record<string, { coldMs: number[]; cachedMs: number[] }> = {};
  try {
    const noDockerd = process.argv.includes('--no-dockerd') ? 'not asked for (--no-dockerd)' : dockerdUnavailable();
    if (noDockerd) console.log(`  docker: not measured: ${noDockerd}`);
    else {
      dockerd = await startDockerd('/tmp/berth-build-bench-dockerd-');
      spawnSync(dockerd.docker[0]!, [...dockerd.docker.slice(1), 'import', '--change', 'CMD ["sh"]', tar, 'busybox:latest']);
      const classic = { ...process.env, DOCKER_BUILDKIT: '0' };
      const d = (...a: string[]) => [...dockerd!.docker, 'build', '-q', '--network', 'none', ...a, '-t', 'bench:build', ctx];
      builders.push({ name: `docker ${dockerd.version} classic builder`, cold: () => timed(d('--no-cache'), classic), cached: () => timed(d(), classic) });
    }
    const noBuildah = process.argv.includes('--no-buildah') ? 'not asked for (--no-buildah)' : existsSync(BUILDAH) ? undefined : `${BUILDAH} is not installed (apt install buildah)`;
    if (noBuildah) console.log(`  buildah: not measured: ${noBuildah}`);
    else {
      const bRoot = join(work, 'buildah-root');
      const b = (...a: string[]) => [BUILDAH, '--root', bRoot, '--runroot', join(work, 'buildah-run'), '--storage-driver', 'overlay', ...a];
      timed(b('from', '--name', 'seed', 'scratch'));
      const mnt = spawnSync(b('mount', 'seed')[0]!, b('mount', 'seed').slice(1), { encoding: 'utf8' }).stdout.trim();
      spawnSync('tar', ['-C', mnt, '-xf', tar]);
      timed(b('config', '--cmd', 'sh', 'seed'));
      timed(b('commit', '-q', 'seed', 'busybox:latest'));
      timed(b('rm', 'seed'));
      const version = spawnSync(BUILDAH, ['--version'], { encoding: 'utf8' }).stdout.trim().split(' ')[2] ?? '';
      // crun refuses a hybrid cgroup layout (this host's); buildah's runc does not.
      const bud = (...a: string[]) => b('bud', '-q', '--layers', '--runtime', 'runc', '--network', 'none', ...a, '-t', 'bench:build', ctx);
      builders.push({ name: `buildah ${version} bud --layers`, cold: () => timed(bud('--no-cache')), cached: () => timed(bud()) });
    }
    // One warm-up of each (first-use costs: the page cache, lazily made dirs), then alternating runs.
    for (const b of builders) {
      b.cold();
      b.cached();
      results[b.name] = { coldMs: [], cachedMs: [] };
    }
    for (let i = 0; i < runs; i++) {
      for (const b of builders) {
        results[b.name]!.coldMs.push(b.cold());
        results[b.name]!.cachedMs.push(b.cached());
      }
    }
    console.log(`build bench: ${runs} runs each (median wall time)`);
    for (const [name, r] of Object.entries(results)) {
      console.log(`  ${name.padEnd(36)} cold ${median(r.coldMs).toFixed(0).padStart(6)} ms   cached ${median(r.cachedMs).toFixed(0).padStart(5)} ms`);
    }
    const ours = results['berth build']!;
    for (const [name, r] of Object.entries(results)) {
      if (name.startsWith('berth')) continue;
      console.log(`  berth / ${name}: cold ${(median(ours.coldMs) / median(r.coldMs)).toFixed(2)}x, cached ${(median(ours.cachedMs) / median(r.cachedMs)).toFixed(2)}x`);
    }
  } finally {
    spawnSync(BERTH, ['--root', root, 'system', 'reset', '-f']);
    if (existsSync(join(work, 'buildah-root'))) spawnSync(BUILDAH, ['--root', join(work, 'buildah-root'), '--runroot', join(work, 'buildah-run'), 'rmi', '-a', '-f']);
    spawnSync('umount', ['-R', join(work, 'buildah-root')]);
    rmSync(work, { recursive: true, force: true });
    if (dockerd) {
      const left = stopDockerd(dockerd);
      if (left.length > 0) console.log(`dockerd left: ${left.join(', ')}`);
    }
  }
  mkdirSync(join(REPO, 'bench', 'results'), { recursive: true });
  writeFileSync(RESULTS, JSON.stringify(results, null, 2));
}

main().catch((e) => {
  console.error(`build-bench: ${(e as Error).message}`);
  process.exit(1);
});
