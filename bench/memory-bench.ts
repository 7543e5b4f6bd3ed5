// Memory (issue "Faster than docker"), Berth against docker (a private dockerd) and podman (a private store,
// runc), all with --network none:
//  1. Peak RSS of one CLI `run --rm busybox true`: GNU time's %M (ru_maxrss of the command: the largest of the
//     CLI process and the children it waited for; conmon and the runtime are not among them, they are
//     re-parented) for bin/berth (the Node CLI process: bin/berth execs Node in place), the docker CLI (dockerd
//     and containerd are not its children) and podman (engine and CLI in one process). Also, for each, the last
//     VmHWM read from /proc/PID/status while it ran (sampled every 2 ms: a lower bound, a cross-check).
//     Median over --runs runs, alternating.
//  2. The idle monitor per container: N idle `sleep` containers per engine; per container the VmRSS
//     (/proc/PID/status) and PSS (/proc/PID/smaps_rollup) of its monitor processes: Berth's conmon and its
//     log writer (berth-log-writer: the default json-file driver), docker's containerd-shim-runc-v2, podman's
//     conmon. Medians over the containers.
//
//   node bench/memory-bench.ts [--runs N] [--idle N] [--no-dockerd] [--no-podman]
//
// Targets: Berth's CLI peak RSS ≤ 48 MiB; its monitor (conmon + writer) RSS ≤ 2.5 MiB per container.
// Everything is private (bench/engines.ts) and removed at the end, also on SIGINT/SIGTERM. Writes
// bench/results/memory-latest.json. A measurement, not a test: exits 0 whatever the numbers.

import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, release } from 'node:os';
import { join, resolve } from 'node:path';
import { cleanupOnSignal, must, NODE_FLOOR, startEngines, type Engine } from './engines.ts';
import { median } from './stats.ts';

const REPO = resolve(import.meta.dirname, '..');
const RESULTS = join(REPO, 'bench', 'results', 'memory-latest.json');
const TIME = '/usr/bin/time';
const CLI_TARGET_MIB = 48;
const MONITOR_TARGET_MIB = 2.5;

interface Options { runs: number; idle: number; dockerd: boolean; podman: boolean }

function parseArgs(argv: string[]): Options {
  const o: Options = { runs: 15, idle: 5, dockerd: true, podman: true };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--no-dockerd') o.dockerd = false;
    else if (a === '--no-podman') o.podman = false;
    else if (a === '--runs' || a === '--idle') {
      const n = Number(argv[++i]);
      if (!Number.isInteger(n) || n < 1) throw new Error(`${a} needs a positive integer`);
      o[a.slice(2) as 'runs' | 'idle'] = n;
    } else {
      process.stderr.write('usage: node bench/memory-bench.ts [--runs N] [--idle N] [--no-dockerd] [--no-podman]\n' +
        '  --runs N   CLI runs per engine (default 15), alternating\n' +
        '  --idle N   idle containers per engine for the monitor figures (default 5)\n');
      process.exit(a === '-h' || a === '--help' ? 0 : 2);
    }
  }
  return o;
}

const kib = (text: string, field: string): number | undefined => {
  const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(text);
  return m ? Number(m[1]) : undefined;
};
const mib = (k: number) => k / 1024;
const r2 = (x: number) => Math.round(x * 100) / 100;

/** The child of `pid` (GNU time has exactly one), or undefined before it forked. */
function childOf(pid: number): number | undefined {
  try {
    const c = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean);
    return c.length ? Number(c[0]) : undefined;
  } catch { return undefined; }
}

/** One CLI run under GNU time: its %M (KiB) and the last VmHWM sampled from the command's process (KiB). */
function peakOnce(argv: string[], out: string): Promise<{ maxrss: number; hwm: number | null }> {
  return new Promise((done, fail) => {
    const p = spawn(TIME, ['-f', '%M', '-o', out, ...argv], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    p.stderr.on('data', (d: Buffer) => { stderr += d; });
    let child: number | undefined;
    let hwm: number | null = null;
    const poll = setInterval(() => {
      child ??= childOf(p.pid!);
      if (child === undefined) return;
      try { hwm = kib(readFileSync(`/proc/${child}/status`, 'utf8'), 'VmHWM') ?? hwm; } catch { /* gone */ }
    }, 2);
    p.on('error', (e) => { clearInterval(poll); fail(e); });
    p.on('close', (status) => {
      clearInterval(poll);
      if (status !== 0) return fail(new Error(`\`${argv.join(' ')}\` failed (exit ${status}): ${stderr.trim().split('\n').pop() ?? ''}`));
      const maxrss = Number(readFileSync(out, 'utf8').trim().split('\n').pop());
      done({ maxrss, hwm });
    });
  });
}

interface Proc { pid: number; comm: string; args: string[] }

function processes(): Proc[] {
  const out: Proc[] = [];
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const stat = readFileSync(`/proc/${e}/stat`, 'utf8');
      if ('ZX'.includes(stat.slice(stat.lastIndexOf(')') + 2)[0]!)) continue;
      out.push({ pid: Number(e), comm: readFileSync(`/proc/${e}/comm`, 'utf8').trim(), args: readFileSync(`/proc/${e}/cmdline`, 'utf8').split('\0') });
    } catch { /* gone */ }
  }
  return out;
}

/** The monitor processes of a container, by role: comm as /proc has it (15 characters) and the id in argv. */
const MONITORS: Record<string, { role: string; comm: string }[]> = {
  berth: [{ role: 'conmon', comm: 'conmon' }, { role: 'log writer', comm: 'berth-log-write' }],
  docker: [{ role: 'containerd-shim-runc-v2', comm: 'containerd-shim' }],
  podman: [{ role: 'conmon', comm: 'conmon' }],
};

interface MonitorFigures { rss_kib: number; pss_kib: number; by_role: Record<string, { rss_kib: number; pss_kib: number; count: number }> }

/** `n` idle containers; per container the sum over its monitor processes; the medians over the containers. */
async function idleMonitors(e: Engine, n: number): Promise<MonitorFigures & { per_container: MonitorFigures[] }> {
  const ids: string[] = [];
  try {
    for (let i = 0; i < n; i++) ids.push(must([...e.cli, 'run', '-d', ...e.runFlags, 'busybox', 'sleep', '1000000']).split('\n').pop()!);
    await new Promise((r) => setTimeout(r, 2000)); // idle
    const all = processes();
    const per: MonitorFigures[] = ids.map((id) => {
      const f: MonitorFigures = { rss_kib: 0, pss_kib: 0, by_role: {} };
      for (const m of MONITORS[e.name]!) {
        const pids = all.filter((p) => p.comm === m.comm && p.args.some((a) => a.includes(id))).map((p) => p.pid);
        const role = { rss_kib: 0, pss_kib: 0, count: pids.length };
        for (const pid of pids) {
          role.rss_kib += kib(readFileSync(`/proc/${pid}/status`, 'utf8'), 'VmRSS') ?? 0;
          role.pss_kib += kib(readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'), 'Pss') ?? 0;
        }
        if (pids.length === 0) throw new Error(`${e.name}: no ${m.role} process for ${id.slice(0, 12)}`);
        f.by_role[m.role] = role;
        f.rss_kib += role.rss_kib;
        f.pss_kib += role.pss_kib;
      }
      return f;
    });
    const roles = Object.fromEntries(MONITORS[e.name]!.map((m) => [m.role, {
      rss_kib: median(per.map((p) => p.by_role[m.role]!.rss_kib)),
      pss_kib: median(per.map((p) => p.by_role[m.role]!.pss_kib)),
      count: median(per.map((p) => p.by_role[m.role]!.count)),
    }]));
    return { rss_kib: median(per.map((p) => p.rss_kib)), pss_kib: median(per.map((p) => p.pss_kib)), by_role: roles, per_container: per };
  } finally {
    if (ids.length) must([...e.cli, ...e.rmForce, ...ids], 300_000);
  }
}

async function main(o: Options): Promise<void> {
  if (!existsSync(TIME)) throw new Error(`${TIME} is not installed (apt-get install time)`);
  const setup = await startEngines('/tmp/berth-memory-bench-', { dockerd: o.dockerd, podman: o.podman });
  const removeHandlers = cleanupOnSignal('memory bench', () => { for (const l of setup.cleanup()) process.stderr.write(`cleanup: ${l}\n`); });
  try {
    const { engines } = setup;
    console.log(`memory bench: ${o.runs} CLI runs per engine (alternating), ${o.idle} idle containers per engine; ` +
      `host ${release()}, ${cpus().length} cpu; ${engines.map((e) => e.version).join(', ')}`);
    for (const [k, v] of Object.entries(setup.skipped)) console.log(`${k}: skipped (${v})`);
    const out = join(setup.work, 'time.out');

    // --- 1. CLI peak RSS ---
    const argv = (e: Engine) => [...e.cli, 'run', '--rm', ...e.runFlags, 'busybox', 'true'];
    const samples = new Map(engines.map((e) => [e.name, { maxrss: [] as number[], hwm: [] as number[] }]));
    for (const e of engines) await peakOnce(argv(e), out); // warm-up
    for (let i = 0; i < o.runs; i++) {
      for (let j = 0; j < engines.length; j++) {
        const e = engines[(i + j) % engines.length]!;
        const r = await peakOnce(argv(e), out);
        samples.get(e.name)!.maxrss.push(r.maxrss);
        if (r.hwm !== null) samples.get(e.name)!.hwm.push(r.hwm);
      }
    }
    // A Node CLI's floor: Node 24 with node:sqlite and node:child_process loaded, a database open and one child
    // spawned and waited for (bench/node-floor.mjs), nothing else.
    const nodeFloor: number[] = [];
    for (let i = 0; i < o.runs; i++) nodeFloor.push((await peakOnce([process.execPath, NODE_FLOOR, 'rss'], out)).maxrss);
    const nodeFloorMib = r2(mib(median(nodeFloor)));
    rmSync(out, { force: true });
    const cli = Object.fromEntries([...samples].map(([name, s]) => [name, {
      median_maxrss_mib: r2(mib(median(s.maxrss))),
      max_maxrss_mib: r2(mib(Math.max(...s.maxrss))),
      median_polled_hwm_mib: s.hwm.length ? r2(mib(median(s.hwm))) : null,
      samples_maxrss_kib: s.maxrss,
    }]));
    console.log('\n1. peak RSS of one CLI `run --rm --network none busybox true` (GNU time %M; median)');
    for (const [name, c] of Object.entries(cli)) {
      console.log(`  ${name.padEnd(7)} ${c.median_maxrss_mib.toFixed(1).padStart(6)} MiB  (max ${c.max_maxrss_mib.toFixed(1)}; polled VmHWM ${c.median_polled_hwm_mib?.toFixed(1) ?? 'n/a'})`);
    }
    console.log(`  ${'Node floor'.padEnd(7)} ${nodeFloorMib.toFixed(1).padStart(6)} MiB  (bench/node-floor.mjs rss: node:sqlite, a database, one child)`);
    const berthCli = cli['berth']!.median_maxrss_mib;
    console.log(`  target berth ≤ ${CLI_TARGET_MIB} MiB: ${berthCli <= CLI_TARGET_MIB ? 'MET' : 'NOT MET'}`);

    // --- 2. idle monitor per container ---
    const monitors: Record<string, Awaited<ReturnType<typeof idleMonitors>>> = {};
    for (const e of engines) monitors[e.name] = await idleMonitors(e, o.idle);
    console.log(`\n2. idle monitor per container (${o.idle} idle sleep containers each; medians)`);
    for (const [name, m] of Object.entries(monitors)) {
      const roles = Object.entries(m.by_role).map(([r, f]) => `${r} ${mib(f.rss_kib).toFixed(2)}/${mib(f.pss_kib).toFixed(2)}`).join(' + ');
      console.log(`  ${name.padEnd(7)} RSS ${mib(m.rss_kib).toFixed(2).padStart(5)} MiB, PSS ${mib(m.pss_kib).toFixed(2).padStart(5)} MiB  (${roles}, RSS/PSS MiB)`);
    }
    const berthMon = mib(monitors['berth']!.rss_kib);
    console.log(`  target berth ≤ ${MONITOR_TARGET_MIB} MiB RSS: ${berthMon <= MONITOR_TARGET_MIB ? 'MET' : 'NOT MET'}`);

    mkdirSync(resolve(RESULTS, '..'), { recursive: true });
    writeFileSync(RESULTS, JSON.stringify({
      date: new Date().toISOString(),
      host: { kernel: release(), cpus: cpus().length, node: process.version, load_avg: readFileSync('/proc/loadavg', 'utf8').trim() },
      runs: o.runs, idle_containers: o.idle, network: 'none',
      versions: Object.fromEntries(engines.map((e) => [e.name, e.version])),
      cli_peak_rss: {
        command: 'run --rm --network none busybox true', method: 'GNU time %M (ru_maxrss: the process and its waited-for children)',
        engines: cli, node_floor_mib: nodeFloorMib, target: { max_mib: CLI_TARGET_MIB, met: berthCli <= CLI_TARGET_MIB },
      },
      idle_monitor: {
        command: 'run -d --network none busybox sleep 1000000', method: 'VmRSS (/proc/PID/status), Pss (/proc/PID/smaps_rollup), summed per container',
        monitors: Object.fromEntries(Object.entries(MONITORS).map(([k, v]) => [k, v.map((m) => m.role)])),
        engines: Object.fromEntries(Object.entries(monitors).map(([k, m]) => [k, {
          rss_mib: r2(mib(m.rss_kib)), pss_mib: r2(mib(m.pss_kib)),
          by_role: Object.fromEntries(Object.entries(m.by_role).map(([r, f]) => [r, { rss_mib: r2(mib(f.rss_kib)), pss_mib: r2(mib(f.pss_kib)), processes: f.count }])),
          per_container_kib: m.per_container.map((p) => ({ rss: p.rss_kib, pss: p.pss_kib })),
        }])),
        target: { max_rss_mib: MONITOR_TARGET_MIB, met: berthMon <= MONITOR_TARGET_MIB },
      },
      skipped: setup.skipped,
      notes: setup.notes,
    }, null, 2) + '\n');
    console.log(`results: ${RESULTS}`);
  } finally {
    removeHandlers();
    for (const l of setup.cleanup()) process.stderr.write(`cleanup: ${l}\n`);
  }
}

try {
  await main(parseArgs(process.argv.slice(2)));
} catch (e) {
  process.stderr.write(`memory bench: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exitCode = 1;
}
