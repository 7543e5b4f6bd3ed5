// Rootless (issue "Rootless"): `run --rm --network none busybox true` as an ordinary user (setup's berthtest,
// through runuser) against the same as root, and against podman rootless where it runs (with runc: its default
// crun refuses this machine kind's hybrid cgroup layout, and the bench says so), alternating, N runs each
// (default 11), medians. The user's commands include runuser's own start, measured alone and reported beside.
// The same on each one's default network: root's bridge; the user's bridge in its own network namespace behind
// slirp4netns (Berth), podman's slirp4netns per container. Both need /dev/net/tun open to the user, so the bench
// opens it (mode 0666) while it runs and puts the host's mode back after.
//
//   node bench/rootless-bench.ts [--runs N]
//
// Without the user (scripts/setup makes it) the bench says so and exits 0. Each store it fills is removed at
// the end: the user's Berth store and namespace holder, podman's store for the user. Writes
// bench/results/rootless-latest.json. A measurement, not a test.

import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { BERTH } from './engines.ts';
import { median } from './stats.ts';

const REPO = resolve(import.meta.dirname, '..');
const RESULTS = join(REPO, 'bench', 'results', 'rootless-latest.json');
const USER = 'berthtest';

const runs = (() => {
  const i = process.argv.indexOf('--runs');
  return i > 0 ? Number(process.argv[i + 1]) : 11;
})();

function timed(argv: string[]): number {
  const t0 = performance.now();
  const r = spawnSync(argv[0]!, argv.slice(1), { encoding: 'utf8', cwd: '/tmp', env: { PATH: process.env.PATH, HOME: `/home/${USER}`, USER, LOGNAME: USER } });
  const ms = performance.now() - t0;
  if (r.status !== 0) throw new Error(`${argv.join(' ')}: exit ${r.status}: ${r.stderr}`);
  return ms;
}

const asUser = (argv: string[]) => ['runuser', '-u', USER, '--', ...argv];

function main(): void {
  mkdirSync(join(REPO, 'bench', 'results'), { recursive: true });
  if (spawnSync('id', [USER]).status !== 0) {
    process.stdout.write(`rootless bench: skipped: no user ${USER} (scripts/setup makes it)\n`);
    writeFileSync(RESULTS, JSON.stringify({ skipped: `no user ${USER}`, at: new Date().toISOString() }, null, 2));
    return;
  }
  const uid = Number(spawnSync('id', ['-u', USER], { encoding: 'utf8' }).stdout.trim());
  const dir = mkdtempSync('/tmp/berth-rootless-bench-');
  chmodSync(dir, 0o755);
  const root = join(dir, 'root-store');
  const podman = existsSync('/usr/bin/podman');
  const tunMode = statSync('/dev/net/tun').mode & 0o777;
  chmodSync('/dev/net/tun', 0o666);
  try {
    const tar = join(dir, 'busybox.tar');
    spawnSync('bash', [join(REPO, 'scripts', 'mkimage-busybox'), tar]);
    chmodSync(tar, 0o644);
    spawnSync(BERTH, ['--root', root, 'import', '--change', 'CMD ["sh"]', tar, 'busybox:latest']);
    timed(asUser([BERTH, 'import', '--change', 'CMD ["sh"]', tar, 'busybox:latest']));
    let podmanWhy = podman ? '' : 'podman is not installed';
    if (podman) {
      spawnSync('runuser', ['-u', USER, '--', 'podman', 'import', tar, 'localhost/bb:latest'], { cwd: '/tmp' });
      const dflt = spawnSync('runuser', ['-u', USER, '--', 'podman', 'run', '--rm', '--network', 'none', 'localhost/bb:latest', '/bin/true'], { encoding: 'utf8', cwd: '/tmp' });
      if (dflt.status !== 0) podmanWhy = `its default runtime fails here (${dflt.stderr.trim().split('\n').pop()}): measured with --runtime runc`;
    }
    const cmds: Record<string, string[]> = {
      root: [BERTH, '--root', root, 'run', '--rm', '--network', 'none', 'busybox', 'true'],
      rootless: asUser([BERTH, 'run', '--rm', '--network', 'none', 'busybox', 'true']),
      runuser: asUser(['true']),
      ...(podman ? { podman: asUser(['podman', '--runtime', 'runc', 'run', '--rm', '--network', 'none', 'localhost/bb:latest', '/bin/true']) } : {}),
      'root bridge': [BERTH, '--root', root, 'run', '--rm', 'busybox', 'true'],
      'rootless bridge': asUser([BERTH, 'run', '--rm', 'busybox', 'true']),
      ...(podman ? { 'podman bridge': asUser(['podman', '--runtime', 'runc', 'run', '--rm', 'localhost/bb:latest', '/bin/true']) } : {}),
    };
    for (const c of Object.values(cmds)) timed(c); // a first run each, not counted
    const t: Record<string, number[]> = Object.fromEntries(Object.keys(cmds).map((k) => [k, []]));
    for (let i = 0; i < runs; i++) for (const [k, c] of Object.entries(cmds)) t[k]!.push(timed(c));
    const m = Object.fromEntries(Object.entries(t).map(([k, xs]) => [k, median(xs)]));
    const result = { at: new Date().toISOString(), runs, medians: m, podman: podmanWhy || 'default runtime', samples: t };
    writeFileSync(RESULTS, JSON.stringify(result, null, 2));
    const f = (x: number | undefined) => (x === undefined ? '-' : `${x.toFixed(1)} ms`);
    const ratio = (a: number | undefined, b: number | undefined) => (a === undefined || b === undefined ? '-' : `${(a / b).toFixed(2)}×`);
    process.stdout.write(`run --rm busybox true on each one's default network, medians of ${runs}:\n`);
    process.stdout.write(`  berth as root ${f(m['root bridge'])}, berth rootless ${f(m['rootless bridge'])} (${ratio(m['rootless bridge'], m['root bridge'])} root)`);
    process.stdout.write(podman ? `, podman rootless ${f(m['podman bridge'])} (berth rootless ${ratio(m['rootless bridge'], m['podman bridge'])})\n` : '\n');
    process.stdout.write(`run --rm --network none busybox true, medians of ${runs}:\n`);
    process.stdout.write(`  berth as root ${f(m.root)}, berth rootless ${f(m.rootless)} (${(m.rootless! / m.root!).toFixed(2)}× root; runuser alone ${f(m.runuser)})\n`);
    if (podman) process.stdout.write(`  podman rootless ${f(m.podman)}: berth rootless ${(m.rootless! / m.podman!).toFixed(2)}× (${podmanWhy || 'default runtime'})\n`);
    else process.stdout.write(`  podman rootless: not measured: ${podmanWhy}\n`);
  } finally {
    chmodSync('/dev/net/tun', tunMode);
    spawnSync(BERTH, ['--root', root, 'system', 'reset', '-f'], { stdio: 'ignore' });
    if (podman) spawnSync('runuser', ['-u', USER, '--', 'podman', 'system', 'reset', '-f'], { stdio: 'ignore', cwd: '/tmp' });
    const pidfile = `/tmp/berth-run-${uid}/pause.pid`;
    if (existsSync(pidfile)) spawnSync('kill', ['-9', readFileSync(pidfile, 'utf8').trim()]);
    spawnSync('pkill', ['-9', '-u', USER]);
    rmSync(`/tmp/berth-run-${uid}`, { recursive: true, force: true });
    rmSync(`/home/${USER}/.local/share/berth`, { recursive: true, force: true });
    rmSync(dir, { recursive: true, force: true });
  }
}

main();
