// Restart bench (#15): the time from a container's exit to it running again on its first restart, under
// `--restart always`, for Berth without any daemon (the root's supervisor, started on demand) and with
// `berth serve` running (the supervisor in the server), against a private dockerd in the same run where one
// is installed (bench/setup-dockerd). Each run: `run -d --restart always busybox sh -c 'sleep 0.5; exit 1'`,
// then the container's events: the first `die` to the next `start`, by their timeNano. Both engines wait
// 100 ms before a first restart (docker's backoff): that is in the figure. Then the supervisor's memory:
// its RSS with one, then N (default 50), healthy containers running, each probed every second, after 10 s
// of probes.
//
//   node bench/restart-bench.ts [--runs N (10)] [--containers N (50)] [--no-dockerd]
//
// A measurement, not a test: exits 0 whatever the figures, non-zero only when setup fails. Type stripping
// only: keep this file to erasable TypeScript syntax.

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { dockerdUnavailable, startDockerd, stopDockerd, type Dockerd } from './dockerd.ts';
import { median } from './stats.ts';

const REPO = resolve(import.meta.dirname, '..');
const BERTH = join(REPO, 'bin', 'berth');
const RESULTS = join(REPO, 'bench', 'results', 'restart-latest.json');

function arg(name: string, dflt: number, max: number): number {
  const i = process.argv.indexOf(name);
  const n = i >= 0 ? Number(process.argv[i + 1]) : dflt;
  if (!Number.isInteger(n) || n <= 0 || n > max) throw new Error(`${name} needs an integer from 1 to ${max}`);
  return n;
}

function must(argv: string[], env?: NodeJS.ProcessEnv): string {
  const r = spawnSync(argv[0]!, argv.slice(1), { encoding: 'utf8', env: env ?? process.env, maxBuffer: 16 << 20 });
  if (r.status !== 0) throw new Error(`\`${argv.join(' ')}\` failed (${r.status}): ${(r.stderr || r.stdout).trim().split('\n').pop()}`);
  return r.stdout;
}

/** The first die → next start gap of one container, in ms, from its events (waits up to 20 s for them). */
async function firstRestartMs(cli: string[], id: string, since: string): Promise<number> {
  for (let i = 0; i < 200; i++) {
    const out = must([...cli, 'events', '--since', since, '--until', new Date().toISOString(), '--filter', `container=${id}`, '--format', '{{.TimeNano}} {{.Action}}']);
    const ev = out.split('\n').filter(Boolean).map((l) => l.split(' ')).map(([t, a]) => ({ t: BigInt(t!), a: a! }));
    const die = ev.findIndex((e) => e.a === 'die');
    const start = die >= 0 ? ev.slice(die + 1).find((e) => e.a === 'start') : undefined;
    if (die >= 0 && start) return Number(start.t - ev[die]!.t) / 1e6;
    await sleep(100);
  }
  throw new Error(`container ${id.slice(0, 12)}: no restart within 20 s`);
}

async function measure(name: string, cli: string[], runs: number): Promise<number[]> {
  const gaps: number[] = [];
  for (let i = 0; i < runs; i++) {
    const since = new Date(Date.now() - 1000).toISOString();
    const id = must([...cli, 'run', '-d', '--restart', 'always', '--network', 'none', 'busybox', 'sh', '-c', 'sleep 0.5; exit 1']).trim();
    gaps.push(await firstRestartMs(cli, id, since));
    must([...cli, 'rm', '-f', id]);
  }
  console.log(`  ${name.padEnd(28)} exit → running again: median ${median(gaps).toFixed(0)} ms (${gaps.map((g) => g.toFixed(0)).join(' ')})`);
  return gaps;
}

function rssMiB(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

function supervisorOf(root: string): number | undefined {
  for (const p of readdirSync('/proc').filter((e) => /^\d+$/.test(e))) {
    try {
      const args = readFileSync(`/proc/${p}/cmdline`, 'utf8').split('\0');
      if (args.includes('supervise') && args[args.indexOf('--root') + 1] === root) return Number(p);
    } catch { /* gone */ }
  }
  return undefined;
}

/** The supervisor's RSS with one, then `n`, healthy containers (a check every second); per container. */
async function supervisorMemory(root: string, n: number): Promise<{ one: number; many: number; perContainerKiB: number }> {
  const cli = [BERTH, '--root', root];
  const healthy = () => must([...cli, 'run', '-d', '--health-cmd', 'true', '--health-interval', '1s', '--network', 'none', 'busybox', 'sleep', '1000']).trim();
  const ids = [healthy()];
  await sleep(10_000);
  const pid = supervisorOf(root);
  if (!pid) throw new Error('no supervisor runs for the root');
  const one = rssMiB(pid);
  for (let i = 1; i < n; i++) ids.push(healthy());
  await sleep(10_000);
  const many = rssMiB(pid);
  const unhealthy = ids.filter((id) => must([...cli, 'inspect', '-f', '{{.State.Health.Status}}', id]).trim() !== 'healthy');
  if (unhealthy.length > 0) throw new Error(`${unhealthy.length} of ${n} containers are not healthy`);
  if (supervisorOf(root) !== pid) throw new Error('the supervisor changed meanwhile');
  must([...cli, 'rm', '-f', ...ids]);
  return { one, many, perContainerKiB: ((many - one) * 1024) / (n - 1) };
}

async function main(): Promise<void> {
  const runs = arg('--runs', 10, 100);
  const containers = arg('--containers', 50, 200);
  const root = mkdtempSync('/tmp/berth-restart-bench-');
  const results: Record<string, unknown> = { date: new Date().toISOString(), runs };
  let server: ChildProcess | undefined;
  let dockerd: Dockerd | undefined;
  try {
    const tar = join(root, 'busybox.tar');
    must(['bash', join(REPO, 'scripts', 'mkimage-busybox'), tar]);
    must([BERTH, '--root', root, 'import', '--change', 'CMD ["sh"]', tar, 'busybox:latest']);
    console.log('first restart, `--restart always`, a container that exits after 0.5 s');
    results.berthDaemonless = await measure('berth (no daemon)', [BERTH, '--root', root], runs);
    const sock = join(root, 'api.sock');
    server = spawn(BERTH, ['--root', root, 'serve', '-H', `unix://${sock}`], { stdio: 'ignore' });
    for (let i = 0; i < 100 && !existsSync(sock); i++) await sleep(100);
    results.berthServe = await measure('berth serve (docker CLI)', ['/usr/local/bin/docker', '-H', `unix://${sock}`], runs);
    server.kill('SIGTERM');
    await new Promise((r) => server!.once('exit', r));
    server = undefined;
    const why = process.argv.includes('--no-dockerd') ? 'not asked for (--no-dockerd)' : dockerdUnavailable();
    if (why) console.log(`  dockerd: not measured: ${why}`);
    else {
      dockerd = await startDockerd('/tmp/berth-restart-bench-dockerd-');
      must([...dockerd.docker, 'import', '--change', 'CMD ["sh"]', tar, 'busybox:latest']);
      results.dockerd = await measure(`dockerd ${dockerd.version}`, dockerd.docker, runs);
    }
    console.log(`the supervisor's memory with ${containers} healthy containers, probed every second`);
    const mem = await supervisorMemory(root, containers);
    results.supervisor = mem;
    console.log(`  RSS ${mem.one.toFixed(1)} MiB with 1, ${mem.many.toFixed(1)} MiB with ${containers}: ${mem.perContainerKiB.toFixed(0)} KiB per container`);
  } finally {
    if (server) {
      server.kill('SIGTERM');
      await new Promise((r) => server!.once('exit', r));
    }
    spawnSync(BERTH, ['--root', root, 'system', 'reset', '-f']);
    for (let i = 0; i < 50 && supervisorOf(root); i++) await sleep(200);
    rmSync(root, { recursive: true, force: true });
    if (dockerd) {
      const left = stopDockerd(dockerd);
      if (left.length > 0) console.log(`dockerd left: ${left.join(', ')}`);
    }
  }
  mkdirSync(join(REPO, 'bench', 'results'), { recursive: true });
  writeFileSync(RESULTS, JSON.stringify(results, null, 2));
}

main().catch((e) => {
  console.error(`restart-bench: ${(e as Error).message}`);
  process.exit(1);
});
