// `npm run bench`: every row of the issue "Faster than docker" in one run, with docker and podman measured in
// the same run, then ONE table (markdown, printed) and bench/results/summary-latest.json.
//
//   node bench/summary.ts [--runs N] [--quick] [--only step,step…]
//
// Each row comes from a bench run here as a subprocess, which writes its own JSON (bench/results/*-latest.json)
// and removes everything it made (also on SIGINT/SIGTERM, which this script forwards to it):
//   run         bench/run-bench.ts         run --rm busybox true, default network and --network none; the floor
//   exec        bench/exec-bench.ts        exec C true; the runtime's own exec as the floor
//   ps          bench/ps-bench.ts          ps -a over 1,000 containers (when that bench exists; else api's figure)
//   api         bench/api-bench.ts         the docker CLI through berth serve vs through dockerd: run --rm, exec
//   start-rate  bench/start-rate-bench.ts  100 × run -d at concurrency 10
//   memory      bench/memory-bench.ts      peak RSS of a CLI run --rm; the idle monitor per container
//   image       bench/image-bench.ts       pull + unpack MB/s from a loopback registry
// --runs N (default 15) goes to every timed-run bench (alternating contenders, medians). The heavy ones take
// fewer: pulls min(N, 5), start-rate rounds of 100 containers min(N, 3). --quick: 3 runs, 1 pull, 1 round.
//
// A measurement, not a test: exits 0 whatever the figures, non-zero only when a bench failed (its rows then
// say so).

import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { cpus, release } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';

const REPO = resolve(import.meta.dirname, '..');
const NODE = process.execPath;
const RESULTS_DIR = join(REPO, 'bench', 'results');
const SUMMARY = join(RESULTS_DIR, 'summary-latest.json');
const PS_BENCH = join(REPO, 'bench', 'ps-bench.ts');
const STEPS = ['run', 'exec', 'ps', 'api', 'start-rate', 'memory', 'image'] as const;
type StepName = (typeof STEPS)[number];

interface Options { runs: number; quick: boolean; only: Set<StepName> }

function usage(code: number): never {
  (code === 0 ? process.stdout : process.stderr).write(
    'usage: node bench/summary.ts [--runs N] [--quick] [--only step,step…]\n' +
      '  --runs N    timed runs per contender (default 15); pulls take min(N, 5), start-rate rounds min(N, 3)\n' +
      '  --quick     3 runs, 1 pull, 1 start-rate round (a smoke run: figures are rough)\n' +
      `  --only S    only these steps (${STEPS.join(', ')}); the other rows say "not run"\n`);
  process.exit(code);
}

function parseArgs(argv: string[]): Options {
  const o: Options = { runs: 15, quick: false, only: new Set(STEPS) };
  let runsGiven = false;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    let v: string | undefined;
    if (a === '--quick') { o.quick = true; continue; }
    if (a === '-h' || a === '--help') usage(0);
    if (a === '--runs' || a === '--only') v = argv[++i];
    else if (a.startsWith('--runs=') || a.startsWith('--only=')) v = a.slice(7);
    else { process.stderr.write(`bench: unknown argument: ${a}\n`); usage(2); }
    if (a.startsWith('--runs')) {
      const n = Number(v);
      if (!Number.isInteger(n) || n < 1) { process.stderr.write('bench: --runs needs a positive integer\n'); usage(2); }
      o.runs = n;
      runsGiven = true;
    } else {
      const names = (v ?? '').split(',').filter(Boolean);
      for (const n of names) if (!(STEPS as readonly string[]).includes(n)) { process.stderr.write(`bench: no step ${n}\n`); usage(2); }
      o.only = new Set(names as StepName[]);
    }
  }
  if (o.quick && !runsGiven) o.runs = 3;
  return o;
}

// ---- the steps --------------------------------------------------------------------------------------------

interface Step {
  name: StepName;
  script: string;
  args: string[];
  results: string;
}

interface StepOutcome {
  name: StepName;
  command: string;
  exit: number | null;
  seconds: number;
  /** The step's JSON when it wrote one during this run. */
  json: any;
  error: string | null;
}

let current: ChildProcess | undefined;
let interrupted: NodeJS.Signals | undefined;

function runStep(s: Step): Promise<StepOutcome> {
  const command = ['node', relative(REPO, s.script), ...s.args].join(' ');
  console.log(`\n=== ${s.name}: ${command}`);
  const t0 = performance.now();
  const started = Date.now();
  return new Promise((done) => {
    // Its own process group: a terminal's ^C reaches this script alone, which passes it on once (a second
    // signal during a bench's cleanup could cut that cleanup short).
    const p = spawn(NODE, [s.script, ...s.args], { cwd: REPO, stdio: 'inherit', detached: true });
    current = p;
    const finish = (exit: number | null, why: string | null) => {
      current = undefined;
      const seconds = (performance.now() - t0) / 1000;
      let json: any = null;
      let error = why;
      try {
        if (statSync(s.results).mtimeMs >= started - 1000) json = JSON.parse(readFileSync(s.results, 'utf8'));
        else error ??= `no fresh ${relative(REPO, s.results)}`;
      } catch (e) {
        error ??= `no ${relative(REPO, s.results)}: ${(e as Error).message}`;
      }
      if (exit !== 0) error = `exit ${exit}${error ? `; ${error}` : ''}`;
      console.log(`=== ${s.name}: ${exit === 0 ? 'done' : 'FAILED'} in ${seconds.toFixed(0)} s`);
      done({ name: s.name, command, exit, seconds, json: exit === 0 || json ? json : null, error });
    };
    p.on('error', (e) => finish(null, e.message));
    p.on('close', (code, sig) => finish(code ?? (sig ? 128 : null), null));
  });
}

for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.on(sig, () => {
    // The bench running now gets the signal, cleans up and exits; no further step starts.
    interrupted = sig;
    if (current && current.exitCode === null) current.kill(sig);
  });
}

// ---- table cells ------------------------------------------------------------------------------------------

type Met = boolean | null;
interface Cell { text: string; value: number | null; unit: string | null }
interface Row {
  path: string;
  berth: Cell;
  docker: Cell;
  podman: Cell;
  floor: Cell;
  ratio: { text: string; value: number | null; against: string | null };
  target: string;
  met: Met;
  source: string;
}

const cell = (value: number | null | undefined, unit: string, digits = 1, extra = ''): Cell =>
  value === null || value === undefined || !Number.isFinite(value) ? { text: 'n/a', value: null, unit }
    : { text: `${value.toFixed(digits)}${unit.startsWith('/') ? '' : ' '}${unit}${extra}`, value, unit };
const text = (t: string): Cell => ({ text: t, value: null, unit: null });
const skippedCell = (why: string): Cell => text(`skipped: ${why}`);
const none = text('—');
const ratioOf = (a: Cell, b: Cell, against: string) =>
  a.value !== null && b.value !== null && b.value !== 0
    ? { text: `${(a.value / b.value).toFixed(2)}× ${against}`, value: a.value / b.value, against }
    : { text: 'n/a', value: null, against: null };
const noRatio = { text: '—', value: null, against: null };

function failedRow(path: string, target: string, why: string, source: string): Row {
  const c = text(why);
  return { path, berth: c, docker: c, podman: c, floor: c, ratio: noRatio, target, met: null, source };
}

/** The contender named `name` in a bench's `contenders` list: its median in ms. */
function contender(j: any, name: string): number | null {
  const c = (j?.contenders ?? []).find((x: any) => x.name === name);
  return c ? c.median_ms : null;
}

/**
 * A floor cell with the Node CLI's floor beside the runtime's, when the bench measured one (bench/node-floor.mjs:
 * Node 24 doing nothing but the runtime's call): the least any Node command can take on that path.
 */
function withNodeFloor(floor: Cell, j: any, isNodeFloor: (name: string) => boolean): Cell {
  const c = (j?.contenders ?? []).find((x: any) => isNodeFloor(String(x.name)));
  if (!c || floor.value === null) return floor;
  return { ...floor, text: `${floor.text}; ${c.median_ms.toFixed(1)} ms (Node → runtime)` };
}

function skippedWhy(j: any, ...keys: string[]): string {
  for (const k of keys) if (j?.skipped?.[k]) return String(j.skipped[k]);
  return 'not measured';
}

// run-bench
function runRows(o: StepOutcome | undefined): Row[] {
  const paths = ['`run --rm busybox true`, default network', 'same, `--network none`'];
  const targets = ['≤ 0.5× docker', '≤ 0.35× docker'];
  const src = 'bench/run-bench.ts → bench/results/run-latest.json';
  if (!o?.json) return paths.map((p, i) => failedRow(p, targets[i]!, o ? `failed: ${o.error}` : 'not run', src));
  const j = o.json;
  const floor = withNodeFloor(cell(contender(j, j.floor), 'ms', 1, ` (${j.floor})`), j, (n) => n.startsWith('Node → '));
  return [['berth', 'docker', 'podman', 0.5], ['berth --network none', 'docker --network none', 'podman --network none', 0.35]].map(([b, d, p, limit], i) => {
    const berth = cell(contender(j, b as string), 'ms');
    const docker = contender(j, d as string) !== null ? cell(contender(j, d as string), 'ms', 1, i === 0 ? ' (its bridge)' : '')
      : skippedCell(skippedWhy(j, 'docker'));
    const podman = contender(j, p as string) !== null ? cell(contender(j, p as string), 'ms', 1, i === 0 ? ' (CNI bridge)' : '')
      : skippedCell(skippedWhy(j, i === 0 ? 'podman (default network)' : 'podman', 'podman'));
    const ratio = ratioOf(berth, docker, 'docker');
    return { path: paths[i]!, berth, docker, podman, floor, ratio, target: targets[i]!, met: ratio.value === null ? null : ratio.value <= (limit as number), source: src };
  });
}

// exec-bench
function execRow(o: StepOutcome | undefined): Row {
  const path = '`exec C true`';
  const src = 'bench/exec-bench.ts → bench/results/exec-latest.json';
  if (!o?.json) return failedRow(path, '≤ 0.8× docker', o ? `failed: ${o.error}` : 'not run', src);
  const j = o.json;
  const floorC = (j.contenders ?? []).find((c: any) => /\(floor\)$/.test(c.name));
  const berth = cell(contender(j, 'berth exec'), 'ms');
  const docker = contender(j, 'docker exec') !== null ? cell(contender(j, 'docker exec'), 'ms') : skippedCell(skippedWhy(j, 'docker'));
  const podman = contender(j, 'podman exec') !== null ? cell(contender(j, 'podman exec'), 'ms') : skippedCell(skippedWhy(j, 'podman'));
  const floor = floorC
    ? withNodeFloor(cell(floorC.median_ms, 'ms', 1, ` (${floorC.name.replace(' (floor)', '')})`), j, (n) => n.endsWith('(Node floor)'))
    : skippedCell(skippedWhy(j, 'floor'));
  const ratio = ratioOf(berth, docker, 'docker');
  return { path, berth, docker, podman, floor, ratio, target: '≤ 0.8× docker', met: ratio.value === null ? null : ratio.value <= 0.8, source: src };
}

// api-bench: run and exec through the API
function apiRows(o: StepOutcome | undefined): Row[] {
  const paths = ['docker CLI → `berth serve`: `run --rm --network none`', 'docker CLI → `berth serve`: `exec C true`'];
  const targets = ['≤ 0.4× dockerd', '≤ 0.8× dockerd'];
  const src = 'bench/api-bench.ts → bench/results/api-latest.json';
  if (!o?.json) return paths.map((p, i) => failedRow(p, targets[i]!, o ? `failed: ${o.error}` : 'not run', src));
  const j = o.json;
  const podman = skippedCell('podman\'s API service is not part of this bench');
  return [[j.run_ms, 0.4], [j.exec_ms ?? {}, 0.8]].map(([m, limit], i) => {
    const berth = cell(m['docker CLI → berth serve'], 'ms', 1);
    const docker = m['docker CLI → dockerd'] !== undefined ? cell(m['docker CLI → dockerd'], 'ms') : skippedCell(j.dockerd_skipped ?? 'not measured');
    const direct = m[i === 0 ? 'berth run (no API)' : 'berth exec (no API)'];
    const ratio = ratioOf(berth, docker, 'dockerd');
    return {
      path: paths[i]!, berth, docker, podman,
      floor: direct !== undefined ? cell(direct, 'ms', 1, ' (berth CLI, no API)') : none,
      ratio, target: targets[i]!, met: ratio.value === null ? null : ratio.value <= (limit as number), source: src,
    };
  });
}

// start-rate-bench
function startRateRow(o: StepOutcome | undefined): Row {
  const path = '100 × `run -d` at concurrency 10 (starts/s; none lost)';
  const src = 'bench/start-rate-bench.ts → bench/results/start-rate-latest.json';
  const target = '≥ 2× docker\'s rate';
  if (!o?.json) return failedRow(path, target, o ? `failed: ${o.error}` : 'not run', src);
  const j = o.json;
  const e = (name: string): Cell => {
    const s = j.engines?.[name];
    if (!s) return skippedCell(j.skipped?.[name] ?? 'not measured');
    return cell(s.median_rate_per_s, '/s', 1, `, ${s.lost_total} lost`);
  };
  const berth = e('berth');
  const docker = e('docker');
  const ratio = ratioOf(berth, docker, 'docker');
  const lost = j.engines?.berth?.lost_total ?? null;
  return { path, berth, docker, podman: e('podman'), floor: none, ratio, target, met: ratio.value === null ? null : ratio.value >= 2 && lost === 0, source: src };
}

// ps: bench/ps-bench.ts when present, else api-bench's ps figures
function psRow(ps: StepOutcome | undefined, api: StepOutcome | undefined): Row {
  const path = '`ps -a` over 1,000 containers';
  const target = '≤ 40 ms (berth)';
  if (ps?.json) {
    const j = ps.json;
    const med = (k: string): number | null => j.ms?.[k]?.median ?? null;
    const berth = cell(med('berth ps -a'), 'ms', 1, ` (${j.containers})`);
    const docker = med('docker ps -a') !== null
      ? cell(med('docker ps -a'), 'ms', 1, j.dockerd_containers === j.containers ? '' : ` (${j.dockerd_containers} containers)`)
      : skippedCell(j.dockerd_skipped ?? 'not measured');
    const nodeFloor = med('Node floor: read and print the rows');
    const floor = nodeFloor !== null ? cell(nodeFloor, 'ms', 1, ' (Node: read and print the rows)') : none;
    return {
      path, berth, docker, podman: skippedCell('not measured by ps-bench'), floor, ratio: ratioOf(berth, docker, 'docker'), target,
      met: berth.value === null ? null : berth.value <= 40,
      source: `bench/ps-bench.ts → bench/results/ps-latest.json (berth ps -a and docker ps -a, ${j.running} running, ${j.exited} exited)`,
    };
  }
  const src = 'bench/api-bench.ts (its ps -a part; bench/ps-bench.ts ' + (existsSync(PS_BENCH) ? `failed: ${ps?.error ?? 'not run'})` : 'absent)');
  if (!api?.json?.ps_ms) return failedRow(path, target, api ? `failed: ${api.error ?? 'no ps figures'}` : 'not run', src);
  const j = api.json;
  const berth = cell(j.ps_ms.berth_cli, 'ms', 1, ` (${j.containers}; via serve ${j.ps_ms.docker_cli_berth_serve.toFixed(0)} ms)`);
  const docker = j.ps_ms.docker_cli_dockerd !== undefined
    ? cell(j.ps_ms.docker_cli_dockerd, 'ms', 1, j.dockerd_containers === j.containers ? '' : ` (${j.dockerd_containers} containers)`)
    : skippedCell(j.dockerd_skipped ?? 'not measured');
  return {
    path, berth, docker, podman: skippedCell('not measured by api-bench'), floor: none,
    ratio: ratioOf(berth, docker, 'docker'), target, met: berth.value === null ? null : berth.value <= 40, source: src,
  };
}

// image-bench
function pullRow(o: StepOutcome | undefined): Row {
  const path = 'pull + unpack MB/s (loopback registry)';
  const target = '≥ 1.5× podman\'s';
  const src = 'bench/image-bench.ts → bench/results/image-latest.json';
  if (!o?.json) return failedRow(path, target, o ? `failed: ${o.error}` : 'not run', src);
  const rs: any[] = o.json.pull?.results ?? [];
  const find = (re: RegExp) => rs.find((r) => re.test(r.contender));
  const b = find(/^berth/);
  const p = find(/^podman/);
  const s = find(/^skopeo/);
  const berth = cell(b?.mb_per_s, 'MB/s');
  const podman = p ? cell(p.mb_per_s, 'MB/s', 1, o.json.pull?.podman_driver && o.json.pull.podman_driver !== 'overlay' ? ` (${o.json.pull.podman_driver})` : '')
    : skippedCell(o.json.skipped?.podman ?? 'not measured');
  return {
    path, berth, podman,
    docker: skippedCell('not measured: image-bench compares podman and skopeo'),
    floor: s ? cell(s.mb_per_s, 'MB/s', 1, ' (skopeo copy, download only)') : skippedCell(o.json.skipped?.skopeo ?? 'skopeo not measured'),
    ratio: ratioOf(berth, podman, 'podman'), target, met: berth.value !== null && podman.value !== null ? berth.value / podman.value >= 1.5 : null, source: src,
  };
}

// memory-bench
function memoryRows(o: StepOutcome | undefined): Row[] {
  const paths = ['peak RSS of one CLI `run --rm`', 'idle monitor per container, RSS (PSS)'];
  const targets = ['≤ 48 MiB (berth)', '≤ 2.5 MiB (berth RSS)'];
  const src = 'bench/memory-bench.ts → bench/results/memory-latest.json';
  if (!o?.json) return paths.map((p, i) => failedRow(p, targets[i]!, o ? `failed: ${o.error}` : 'not run', src));
  const j = o.json;
  const cli = (n: string) => j.cli_peak_rss?.engines?.[n] ? cell(j.cli_peak_rss.engines[n].median_maxrss_mib, 'MiB') : skippedCell(j.skipped?.[n] ?? 'not measured');
  const mon = (n: string) => {
    const m = j.idle_monitor?.engines?.[n];
    return m ? cell(m.rss_mib, 'MiB', 2, ` (${m.pss_mib.toFixed(2)})`) : skippedCell(j.skipped?.[n] ?? 'not measured');
  };
  const rows: Row[] = [];
  {
    const berth = cli('berth');
    const docker = cli('docker');
    const nodeFloor = j.cli_peak_rss?.node_floor_mib;
    const floor = typeof nodeFloor === 'number' ? cell(nodeFloor, 'MiB', 1, ' (Node: sqlite, one child)') : none;
    rows.push({ path: paths[0]!, berth, docker, podman: cli('podman'), floor, ratio: ratioOf(berth, docker, 'docker'), target: targets[0]!, met: berth.value === null ? null : berth.value <= 48, source: src });
  }
  {
    const berth = mon('berth');
    const docker = mon('docker');
    rows.push({ path: paths[1]!, berth, docker, podman: mon('podman'), floor: none, ratio: ratioOf(berth, docker, 'docker'), target: targets[1]!, met: berth.value === null ? null : berth.value <= 2.5, source: src });
  }
  return rows;
}

// ---- main ---------------------------------------------------------------------------------------------------

function markdown(rows: Row[]): string[] {
  const head = ['path', 'berth', 'docker', 'podman', 'floor', 'ratio', 'target', 'met'];
  const esc = (s: string) => s.replaceAll('|', '\\|');
  const lines = rows.map((r) => [r.path, r.berth.text, r.docker.text, r.podman.text, r.floor.text, r.ratio.text, r.target,
    r.met === null ? 'n/a' : r.met ? 'MET' : 'NOT MET'].map(esc));
  const w = head.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i]!.length)));
  const fmt = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(w[i]!)).join(' | ')} |`;
  return [fmt(head), `|${w.map((n) => '-'.repeat(n + 2)).join('|')}|`, ...lines.map(fmt)];
}

async function main(o: Options): Promise<number> {
  const t0 = performance.now();
  const load0 = readFileSync('/proc/loadavg', 'utf8').trim();
  const pulls = o.quick ? 1 : Math.min(o.runs, 5);
  const rounds = o.quick ? 1 : Math.min(o.runs, 3);
  const psBench = existsSync(PS_BENCH);
  console.log(`bench summary: ${o.runs} runs per contender; pulls ${pulls}; start-rate rounds ${rounds}; steps ${[...o.only].join(', ')}`);
  console.log(`host: Linux ${release()}, ${cpus().length} cpu (${cpus()[0]?.model ?? '?'}), node ${process.version}; load ${load0}`);
  console.log(`ps -a figure: ${psBench ? 'bench/ps-bench.ts' : 'bench/api-bench.ts (bench/ps-bench.ts absent)'}`);

  const b = (f: string) => join(REPO, 'bench', f);
  const r = (f: string) => join(RESULTS_DIR, f);
  const out = new Map<StepName, StepOutcome>();
  const run = async (s: Step) => {
    if (!o.only.has(s.name) || interrupted) return;
    out.set(s.name, await runStep(s));
  };
  const runs = String(o.runs);
  await run({ name: 'run', script: b('run-bench.ts'), args: ['--runs', runs], results: r('run-latest.json') });
  await run({ name: 'exec', script: b('exec-bench.ts'), args: ['--runs', runs, '--warmup', o.quick ? '1' : '3'], results: r('exec-latest.json') });
  if (psBench) await run({ name: 'ps', script: PS_BENCH, args: ['--runs', runs], results: r('ps-latest.json') });
  // api-bench measures ps -a itself only when ps-bench is absent or failed.
  const psFromApi = !out.get('ps')?.json && o.only.has('ps');
  await run({ name: 'api', script: b('api-bench.ts'), args: ['--runs', runs, '--warmup', '2', ...(psFromApi ? [] : ['--no-ps'])], results: r('api-latest.json') });
  await run({ name: 'start-rate', script: b('start-rate-bench.ts'), args: ['--rounds', String(rounds)], results: r('start-rate-latest.json') });
  await run({ name: 'memory', script: b('memory-bench.ts'), args: ['--runs', runs, '--idle', o.quick ? '3' : '5'], results: r('memory-latest.json') });
  await run({ name: 'image', script: b('image-bench.ts'), args: ['--runs', String(pulls), '--create-runs', '1'], results: r('image-latest.json') });

  const rows: Row[] = [
    ...runRows(out.get('run')),
    execRow(out.get('exec')),
    ...apiRows(out.get('api')),
    startRateRow(out.get('start-rate')),
    psRow(out.get('ps'), psFromApi ? out.get('api') : undefined),
    pullRow(out.get('image')),
    ...memoryRows(out.get('memory')),
  ];
  const load1 = readFileSync('/proc/loadavg', 'utf8').trim();
  const minutes = (performance.now() - t0) / 60000;
  const header = `Measured ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC on Linux ${release()}, ${cpus().length} cpu; ` +
    `${o.runs} runs per contender (alternating; medians), pulls ${pulls}, start-rate rounds ${rounds}; load ${load0.split(' ').slice(0, 3).join(' ')} → ${load1.split(' ').slice(0, 3).join(' ')}.`;
  const v = (j: any) => j ?? {};
  const notes = [
    `docker: a private dockerd ${v(out.get('run')?.json).dockerd ?? v(out.get('exec')?.json).dockerd ?? ''} with --iptables=false; in the default-network row its default bridge is a bridge the bench makes (bkd-<pid>) and removes; every other docker figure is --network none.`,
    `podman: ${v(out.get('run')?.json).podman ?? 'podman'} on a private store with runc (its crun cannot run on this hybrid cgroup host); default network = its CNI bridge.`,
    `floor: the runtime run directly (\`${v(out.get('run')?.json).floor ?? 'crun run'}\` of a bare bundle; \`crun exec\` of the berth container); berth's runtime: ${v(out.get('run')?.json).berth_runtime ?? '?'}. "Node → runtime": the same call from a Node 24 process that does nothing else (bench/node-floor.mjs), the floor of any Node CLI; for ps -a and RSS, Node floors in those rows' benches.`,
    'ratio: berth ÷ peer of the figures shown (times and RSS: lower is better; starts/s and MB/s: higher is better).',
    'peak RSS: GNU time %M of the berth CLI process (Node; conmon and the runtime are separate processes, not counted), the docker CLI, podman (engine and CLI in one process); --network none.',
    'idle monitor: per idle `sleep` container, VmRSS and (PSS from smaps_rollup) of berth\'s conmon + its log writer (json-file), docker\'s containerd-shim-runc-v2, podman\'s conmon.',
    'start rate: 100 × `run -d --network none busybox sleep` at concurrency 10; every container checked running, then removed.',
    `ps -a row: ${rows.find((x) => x.path.startsWith('`ps -a`'))!.source}.`,
  ];
  const table = markdown(rows);
  console.log('\n' + header + '\n');
  for (const l of table) console.log(l);
  console.log('');
  for (const n of notes) console.log(`- ${n}`);
  const failed = [...out.values()].filter((s) => s.exit !== 0);
  for (const s of failed) console.log(`- step ${s.name} FAILED: ${s.error}`);

  // An interrupted run's table is partial: the last complete one stays saved.
  if (interrupted) {
    console.log(`\ninterrupted (${interrupted}): ${relative(process.cwd(), SUMMARY) || SUMMARY} not written`);
    return 130;
  }
  mkdirSync(RESULTS_DIR, { recursive: true });
  writeFileSync(SUMMARY, JSON.stringify({
    date: new Date().toISOString(),
    host: { kernel: release(), cpus: cpus().length, cpu_model: cpus()[0]?.model ?? null, node: process.version, load_before: load0, load_after: load1 },
    options: { runs: o.runs, quick: o.quick, pulls, start_rate_rounds: rounds, steps: [...o.only] },
    minutes: Math.round(minutes * 10) / 10,
    header, table, notes,
    rows,
    steps: [...out.values()].map((s) => ({ name: s.name, command: s.command, exit: s.exit, seconds: Math.round(s.seconds), error: s.error })),
  }, null, 2) + '\n');
  console.log(`\nsummary: ${relative(process.cwd(), SUMMARY) || SUMMARY} (${minutes.toFixed(1)} min)`);
  return failed.length ? 1 : 0;
}

process.exitCode = await main(parseArgs(process.argv.slice(2)));
