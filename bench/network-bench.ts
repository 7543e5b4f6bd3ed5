// Network benchmark: TCP throughput container↔container on one user network and host → published port
// (iperf3), and connection setup rate through a published port (Node's net), for the berth on PATH and,
// when a dockerd answers, docker's bridge. Every metric is also measured over the host's loopback in the
// same run; the ratio column is berth/docker, or berth/loopback when docker is absent.
//
//   node bench/network-bench.ts [--runs N] [--install] [--no-docker]
//
// Needs root (ip netns exec, nsenter). Run with the project's Node 24: type stripping only. A measurement,
// not a test: exits 0 whatever the numbers, non-zero only when setup or a run fails.

import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { cpus, release } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { median } from './stats.ts';

const REPO = resolve(import.meta.dirname, '..');
const RESULTS = join(REPO, 'bench', 'results', 'network-latest.json');
const IPERF_SECONDS = 3;
const CONNS = 2000;
const LOOPBACK_PORTS = { iperf: 25201, conn: 25202 };

interface Options { runs: number; install: boolean; docker: boolean }
type Metric = 'c2c' | 'published' | 'connrate';
const METRICS: { key: Metric; label: string; unit: string; iperf: boolean }[] = [
  { key: 'c2c', label: 'TCP container↔container', unit: 'Gbit/s', iperf: true },
  { key: 'published', label: 'TCP host→published port', unit: 'Gbit/s', iperf: true },
  { key: 'connrate', label: 'connect+close, published', unit: 'conn/s', iperf: false },
];

/** One engine's containers: A and B on a user network, P with ports published on 127.0.0.1. */
interface Engine {
  name: string;
  hostPorts: { iperf: number; conn: number };
  /** argv prefix that runs a host binary inside a container's network namespace */
  nsExec(id: string): string[];
  ids: string[];
  network?: string;
  a?: string; b?: string; p?: string; aIp?: string;
  samples: Record<Metric, number[]>;
}

class Failure extends Error {}

function parseArgs(argv: string[]): Options {
  const o: Options = { runs: 3, install: false, docker: true };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--install') o.install = true;
    else if (a === '--no-docker') o.docker = false;
    else if (a === '--runs' || a.startsWith('--runs=')) {
      const n = Number(a === '--runs' ? argv[++i] : a.slice(7));
      if (!Number.isInteger(n) || n < 1) throw new Failure('--runs needs a positive integer');
      o.runs = n;
    } else {
      process.stderr.write('usage: node bench/network-bench.ts [--runs N] [--install] [--no-docker]\n');
      process.exit(a === '-h' || a === '--help' ? 0 : 2);
    }
  }
  return o;
}

function sh(argv: string[], timeout = 60_000): { ok: boolean; out: string; err: string } {
  const r = spawnSync(argv[0]!, argv.slice(1), { encoding: 'utf8', timeout, stdio: ['ignore', 'pipe', 'pipe'] });
  return { ok: !r.error && r.status === 0, out: String(r.stdout ?? '').trim(), err: r.error?.message ?? String(r.stderr ?? '').trim() };
}

function must(argv: string[], timeout?: number): string {
  const r = sh(argv, timeout);
  if (!r.ok) throw new Failure(`\`${argv.join(' ')}\` failed: ${r.err.split('\n').pop() || 'no output'}`);
  return r.out;
}

const has = (cmd: string): boolean => sh(['sh', '-c', `command -v ${cmd}`]).ok;
const tick = (): Promise<void> => new Promise((done) => setImmediate(done));
const sleep = (ms: number): Promise<void> => new Promise((done) => setTimeout(done, ms));

// --- background servers ----------------------------------------------------------------------------------
// Detached, so each server leads its own process group: a ^C on the terminal does not reach it, and cleanup
// kills the whole group (ip netns exec and nsenter exec the server, so the group is just the server).
const servers: ChildProcess[] = [];

async function startServer(prefix: string[], argv: string[], port: number): Promise<void> {
  if (listening(prefix, port)) throw new Failure(`port ${port} is already taken (${prefix.join(' ') || 'host'})`);
  const all = [...prefix, ...argv];
  const child = spawn(all[0]!, all.slice(1), { detached: true, stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  child.stderr!.on('data', (d: Buffer) => { err += d.toString(); });
  child.on('error', (e) => { err += e.message; });
  servers.push(child);
  for (let t = 0; t < 100; t++) {
    if (listening(prefix, port)) return;
    if (child.exitCode !== null || child.signalCode !== null) break;
    await sleep(50);
  }
  throw new Failure(`\`${all.join(' ')}\` did not start listening on ${port}: ${err.trim() || 'no output'}`);
}

function listening(prefix: string[], port: number): boolean {
  return sh([...prefix, 'ss', '-Hltn', `sport = :${port}`]).out !== '';
}

/** Kill every server's process group; the promise settles once they have exited (or after 2 s). */
function killServers(): Promise<unknown> {
  const live = servers.splice(0).filter((c) => c.pid !== undefined && c.exitCode === null && c.signalCode === null);
  for (const c of live) {
    try { process.kill(-c.pid!, 'SIGKILL'); } catch { /* already gone */ }
  }
  const exits = live.map((c) => new Promise((done) => c.once('exit', done)));
  return Promise.race([Promise.all(exits), sleep(2000)]);
}

// --- measurements ----------------------------------------------------------------------------------------
/** Received Gbit/s of one iperf3 run (client run via `prefix`); throws with iperf3's own error. */
function iperf(prefix: string[], host: string, port: number): number {
  const argv = [...prefix, 'iperf3', '-c', host, '-p', String(port), '-t', String(IPERF_SECONDS), '-J'];
  const r = spawnSync(argv[0]!, argv.slice(1), { encoding: 'utf8', timeout: (IPERF_SECONDS + 30) * 1000 });
  let j: { error?: string; end?: { sum_received?: { bits_per_second?: number } } } = {};
  try { j = JSON.parse(r.stdout); } catch { /* reported below */ }
  const bps = j.end?.sum_received?.bits_per_second;
  if (r.status !== 0 || typeof bps !== 'number') {
    throw new Failure(`\`${argv.join(' ')}\` failed: ${j.error ?? r.error?.message ?? (r.stderr.trim() || `exit ${r.status}`)}`);
  }
  return bps / 1e9;
}

/** Sequential connect+close against 127.0.0.1:port; connections per second. */
async function connRate(port: number, n: number): Promise<number> {
  const t0 = performance.now();
  for (let i = 0; i < n; i++) {
    await new Promise<void>((ok, bad) => {
      const s = connect({ host: '127.0.0.1', port }, () => { s.destroy(); ok(); });
      s.on('error', (e) => bad(new Failure(`connect 127.0.0.1:${port}: ${e.message}`)));
    });
  }
  return n / ((performance.now() - t0) / 1000);
}

// Accepts and closes at once; runs on the host's Node 24 inside the target namespace (busybox cannot).
const connServer = (port: number): string[] =>
  [process.execPath, '-e', `require('net').createServer(s=>{s.on('error',()=>{});s.destroy()}).listen(${port})`];

// --- engines ---------------------------------------------------------------------------------------------
function berthEngine(): Engine {
  return {
    name: 'berth', hostPorts: { iperf: 15201, conn: 15202 }, ids: [],
    nsExec: (id) => ['ip', 'netns', 'exec', `berth-${id.slice(0, 16)}`],
    samples: { c2c: [], published: [], connrate: [] },
  };
}

function dockerEngine(): Engine {
  const pids = new Map<string, string>();
  return {
    name: 'docker', hostPorts: { iperf: 15211, conn: 15212 }, ids: [],
    nsExec(id) {
      if (!pids.has(id)) pids.set(id, must(['docker', 'inspect', '-f', '{{.State.Pid}}', id]));
      return ['nsenter', '-t', pids.get(id)!, '-n'];
    },
    samples: { c2c: [], published: [], connrate: [] },
  };
}

function setUp(e: Engine): void {
  const net = `netbench-${process.pid}`;
  must([e.name, 'network', 'create', net]);
  e.network = net;
  const run = (...args: string[]): string => {
    const id = must([e.name, 'run', '-d', ...args, 'busybox', 'sleep', '3600'], 120_000).split('\n').pop()!;
    e.ids.push(id);
    return id;
  };
  e.a = run('--network', net);
  e.b = run('--network', net);
  e.p = run('-p', `127.0.0.1:${e.hostPorts.iperf}:5201`, '-p', `127.0.0.1:${e.hostPorts.conn}:5202`);
  e.aIp = must([e.name, 'inspect', '-f', `{{(index .NetworkSettings.Networks "${net}").IPAddress}}`, e.a]);
  if (!/^\d+\.\d+\.\d+\.\d+$/.test(e.aIp)) throw new Failure(`${e.name}: container A has no IPv4 address on ${net}: "${e.aIp}"`);
}

function tearDown(e: Engine): void {
  const steps = [e.ids.length > 0 ? [e.name, 'rm', '-f', ...e.ids] : [], e.network ? [e.name, 'network', 'rm', e.network] : []];
  e.ids = [];
  e.network = undefined;
  for (const argv of steps.filter((a) => a.length > 0)) {
    const r = sh(argv, 120_000);
    if (!r.ok) process.stderr.write(`network-bench: \`${argv.join(' ')}\` failed: ${r.err}\n`);
  }
}

// --- main ------------------------------------------------------------------------------------------------
const engines: Engine[] = [];
let cleanedUp = false;
let interrupted: NodeJS.Signals | undefined;
const signalExit = (sig: NodeJS.Signals): number => 128 + (sig === 'SIGINT' ? 2 : sig === 'SIGTERM' ? 15 : 1);
function cleanup(): void {
  if (cleanedUp) return;
  cleanedUp = true;
  killServers();
  for (const e of engines) tearDown(e);
}
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.on(sig, () => {
    interrupted = sig;
    void killServers().then(() => { cleanup(); process.exit(signalExit(sig)); });
  });
}

async function main(opts: Options): Promise<number> {
  console.log(`network bench: ${opts.runs} runs, alternating; iperf3 -t ${IPERF_SECONDS}; ${CONNS} connections per rate run`);
  console.log(`host: Linux ${release()}, ${cpus().length} cpu, node ${process.version}`);
  const notes: string[] = [];

  let iperfOk = has('iperf3');
  if (!iperfOk && opts.install) {
    console.log('iperf3: installing (apt-get install -y iperf3)');
    const env = 'DEBIAN_FRONTEND=noninteractive';
    must(['sh', '-c', `${env} apt-get install -y iperf3 >/dev/null || (apt-get update >/dev/null && ${env} apt-get install -y iperf3 >/dev/null)`], 600_000);
    iperfOk = has('iperf3');
  }
  if (!iperfOk) {
    const note = 'iperf3 not installed (rerun with --install): throughput measurements skipped';
    console.log(note);
    notes.push(note);
  }

  const dockerVersion = opts.docker ? sh(['docker', 'version', '--format', '{{.Server.Version}}'], 20_000) : undefined;
  if (!opts.docker) notes.push('docker: skipped (--no-docker)');
  else if (!dockerVersion!.ok || !dockerVersion!.out) notes.push('docker: no dockerd answered');
  else if (!sh(['docker', 'image', 'inspect', 'busybox']).ok) notes.push('docker: no busybox image');
  console.log(notes.filter((n) => n.startsWith('docker')).join('\n') || `docker: ${dockerVersion!.out}`);

  engines.push(berthEngine());
  if (opts.docker && notes.every((n) => !n.startsWith('docker'))) engines.push(dockerEngine());
  for (const e of engines) setUp(e);

  const loop = { c2c: [] as number[], published: [] as number[], connrate: [] as number[] };
  await startServer([], connServer(LOOPBACK_PORTS.conn), LOOPBACK_PORTS.conn);
  if (iperfOk) await startServer([], ['iperf3', '-s', '-p', String(LOOPBACK_PORTS.iperf)], LOOPBACK_PORTS.iperf);
  for (const e of engines) {
    await startServer(e.nsExec(e.p!), connServer(5202), 5202);
    if (iperfOk) {
      await startServer(e.nsExec(e.a!), ['iperf3', '-s', '-p', '5201'], 5201);
      await startServer(e.nsExec(e.p!), ['iperf3', '-s', '-p', '5201'], 5201);
    }
  }

  // Warm-up: the first connections through a fresh DNAT/proxy path pay for ARP, conntrack and JIT.
  await connRate(LOOPBACK_PORTS.conn, 200);
  for (const e of engines) await connRate(e.hostPorts.conn, 200);

  for (let i = 0; i < opts.runs; i++) {
    process.stdout.write(`run ${i + 1}/${opts.runs}…\n`);
    if (iperfOk) {
      // One loopback iperf run is the same-run baseline for both throughput metrics.
      const lo = iperf([], '127.0.0.1', LOOPBACK_PORTS.iperf);
      loop.c2c.push(lo);
      loop.published.push(lo);
      await tick();
    }
    loop.connrate.push(await connRate(LOOPBACK_PORTS.conn, CONNS));
    for (const e of engines) {
      if (iperfOk) {
        e.samples.c2c.push(iperf(e.nsExec(e.b!), e.aIp!, 5201));
        await tick();
        e.samples.published.push(iperf([], '127.0.0.1', e.hostPorts.iperf));
        await tick();
      }
      e.samples.connrate.push(await connRate(e.hostPorts.conn, CONNS));
    }
  }

  // --- report ----------------------------------------------------------------------------------------
  const berth = engines[0]!;
  const docker = engines.find((e) => e.name === 'docker');
  const base = docker ? 'docker' : 'loopback';
  const fmt = (xs: number[], unit: string): string => median(xs).toFixed(unit === 'conn/s' ? 0 : 2);
  const rows = [['metric', 'unit', 'host loopback', 'berth', 'docker', `berth/${base}`]];
  const results = [];
  for (const m of METRICS) {
    if (m.iperf && !iperfOk) continue;
    const baseSamples = docker ? docker.samples[m.key] : loop[m.key];
    const ratio = median(berth.samples[m.key]) / median(baseSamples);
    rows.push([m.label, m.unit, fmt(loop[m.key], m.unit), fmt(berth.samples[m.key], m.unit),
      docker ? fmt(docker.samples[m.key], m.unit) : 'n/a', ratio.toFixed(2)]);
    const r3 = (xs: number[]): number[] => xs.map((x) => Math.round(x * 1000) / 1000);
    results.push({
      metric: m.key, label: m.label, unit: m.unit,
      loopback: { median: median(loop[m.key]), samples: r3(loop[m.key]) },
      ...Object.fromEntries(engines.map((e) => [e.name, { median: median(e.samples[m.key]), samples: r3(e.samples[m.key]) }])),
      ratio_baseline: base, ratio,
      berth_over_loopback: median(berth.samples[m.key]) / median(loop[m.key]),
    });
  }
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
  console.log('');
  for (const r of rows) console.log(r.map((cell, c) => (c < 2 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join('  '));
  console.log('(medians; higher is better; throughput is iperf3 end.sum_received)');
  if (notes.length > 0) console.log(`notes: ${notes.join('; ')}`);

  mkdirSync(resolve(RESULTS, '..'), { recursive: true });
  writeFileSync(RESULTS, JSON.stringify({
    date: new Date().toISOString(),
    host: { kernel: release(), cpus: cpus().length, cpu_model: cpus()[0]?.model ?? null, node: process.version },
    runs: opts.runs, iperf_seconds: IPERF_SECONDS, connections_per_run: CONNS,
    docker: docker ? dockerVersion!.out : null, results, notes,
  }, null, 2) + '\n');
  console.log(`results: ${relative(process.cwd(), RESULTS) || RESULTS}`);
  return 0;
}

let code = 1;
try {
  code = await main(parseArgs(process.argv.slice(2)));
} catch (e) {
  // After a signal the servers are gone, so the run in flight fails: that failure is not news.
  if (interrupted) process.stderr.write(`network-bench: interrupted (${interrupted})\n`);
  else process.stderr.write(`network-bench: ${e instanceof Error ? e.message : String(e)}\n`);
  if (!interrupted && !(e instanceof Failure) && e instanceof Error) process.stderr.write(`${e.stack}\n`);
} finally {
  await killServers(); // reap them here rather than leave zombies for init
  cleanup();
}
process.exit(interrupted ? signalExit(interrupted) : code);
