// Isolation side by side: the probe (test/fixtures/probe.c) under `berth run --rm` (this checkout's
// bin/berth, with a private engine root) and under `docker run --rm`, both on the busybox rootfs
// scripts/mkimage-busybox builds (imported into each engine with CMD ["sh"]), the probe bound read-only at
// /probe, every container with --network none. Three configurations: the default, --privileged and
// --cap-add SYS_ADMIN. While the probe's exe-write attempt watches /proc, the engine's own exec enters the
// container three times (`exec CTR true`), then `exec CTR touch /tmp/.probe-exe-done` ends the watch: the
// runtime processes entering are what exe-write attacks (CVE-2019-5736).
//
//   node bench/probe-compare.ts [--no-dockerd]
//
// docker: the dockerd on the default socket when one answers; otherwise a private dockerd that this script
// starts and stops itself (bench/dockerd.ts: its own data/exec root, socket and containerd under /tmp, no
// iptables, no bridge — hence --network none) when /usr/sbin/dockerd is installed (`bash bench/setup-dockerd`).
// --no-dockerd skips docker. Prints one table (NAME, then berth | docker per configuration), a verdict and
// writes bench/results/probe-latest.json. The verdict: Berth is no weaker when every attempt docker's
// default container BLOCKED is BLOCKED in Berth's default container too; the other columns are shown for
// comparison (docker's own --privileged may fail to start on a host whose root lacks a capability docker
// asks for, e.g. CAP_SYS_RESOURCE: the table then says so). Exits 1 when Berth is weaker, 2 when setup or
// a Berth run fails, else 0 (also without docker: then only Berth's columns). Everything made is removed at
// the end: containers, the imported image, the private root and any bridge of its, the private dockerd
// with its directories. Run with the project's Node 24 (type stripping only).

import { cleanupOnSignal } from './engines.ts';
import { spawn, spawnSync, type ChildProcess, type SpawnSyncReturns } from 'node:child_process';
import { createHash } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { cpus, release } from 'node:os';
import { join, resolve } from 'node:path';
import { DOCKER, dockerdUnavailable, startDockerd, stopDockerd, type Dockerd } from './dockerd.ts';

const REPO = resolve(import.meta.dirname, '..');
const BERTH = join(REPO, 'bin', 'berth');
const RESULTS = join(REPO, 'bench', 'results', 'probe-latest.json');
const CONFIGS: { name: string; flags: string[] }[] = [
  { name: 'default', flags: [] },
  { name: '--privileged', flags: ['--privileged'] },
  { name: '--cap-add SYS_ADMIN', flags: ['--cap-add', 'SYS_ADMIN'] },
];
/** How long exe-write may wait for the execs (it normally ends at the touch, within a second or two). */
const EXE_WATCH_S = 120;
/** One probe run, all attempts and the execs included; killed after this. */
const RUN_TIMEOUT_MS = 240_000;

interface Line {
  verdict: string;
  detail: string;
}

/** One engine's probe run in one configuration: its lines, or why there are none. */
interface Run {
  ok: boolean;
  error?: string;
  lines: Record<string, Line>;
}

interface Engine {
  label: string;
  /** argv prefix of the engine's CLI (run, exec, rm …follow). */
  cli: string[];
  image: string;
}

class SetupFailure extends Error {}

function fail(msg: string): never {
  throw new SetupFailure(msg);
}

function sh(argv: string[], timeout = 120_000): SpawnSyncReturns<string> {
  return spawnSync(argv[0]!, argv.slice(1), { encoding: 'utf8', timeout, maxBuffer: 16 << 20 });
}

function must(argv: string[], what: string): string {
  const r = sh(argv);
  if (r.status !== 0) fail(`${what}: ${r.error?.message ?? (r.stderr || r.stdout).trim().split('\n').pop()}`);
  return r.stdout;
}

function lastLines(s: string, n = 2): string {
  return s.trim().split('\n').filter(Boolean).slice(-n).join(' | ');
}

/** Linux's dev_t split (12 bits of major, 20 of minor around the low byte). */
function majorMinor(dev: number): string {
  return `${Math.floor(dev / 256) & 0xfff}:${(dev & 0xff) | (Math.floor(dev / 4096) & 0xfff00)}`;
}

/** The host's root disk, or /dev/loop0 where the host refuses even root a raw open of it. */
function blockDevice(): string {
  const root = majorMinor(statSync('/').dev);
  const name = /^DEVNAME=(.+)$/m.exec(readFileSync(`/sys/dev/block/${root}/uevent`, 'utf8'))?.[1];
  try {
    closeSync(openSync(`/dev/${name}`, 'r'));
    return root;
  } catch {
    return majorMinor(statSync('/dev/loop0').rdev);
  }
}

function parse(stdout: string): Record<string, Line> {
  const out: Record<string, Line> = {};
  for (const line of stdout.split('\n')) {
    const m = /^(\S+) (ALLOWED|BLOCKED|ERROR)(?: (.*))?$/.exec(line);
    if (m) out[m[1]!] = { verdict: m[2]!, detail: m[3] ?? '' };
  }
  return out;
}

/** A table cell: BLOCKED and its errno or reason word; ALLOWED, with in parentheses the errno of a call
 *  that got past every privilege check and failed for another reason; ERROR. */
function cell(l: Line | undefined): string {
  if (!l) return '-';
  if (l.verdict === 'ERROR') return 'ERROR';
  if (l.verdict === 'BLOCKED') return `BLOCKED ${l.detail.split(' ')[0] ?? ''}`.trim();
  const errno = /^\((E[A-Z0-9]+)[:)]/.exec(l.detail)?.[1];
  return errno ? `ALLOWED (${errno})` : 'ALLOWED';
}

/** The default docker socket's server version, or undefined when no dockerd answers there. */
function defaultDockerVersion(): string | undefined {
  if (!existsSync(DOCKER)) return undefined;
  const r = sh([DOCKER, 'version', '--format', '{{.Server.Version}}'], 20_000);
  return r.status === 0 && r.stdout.trim() ? r.stdout.trim() : undefined;
}

const children = new Set<ChildProcess>();

/** Run argv to the end without blocking, collecting output; `onStderr` sees stderr as it comes. */
function start(argv: string[], onStderr?: (all: string) => void): { done: Promise<{ code: number; stdout: string; stderr: string }>; child: ChildProcess } {
  const child = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (b: Buffer) => (stdout += b.toString()));
  child.stderr!.on('data', (b: Buffer) => {
    stderr += b.toString();
    onStderr?.(stderr);
  });
  const done = new Promise<{ code: number; stdout: string; stderr: string }>((res) => {
    child.on('error', (e) => {
      children.delete(child);
      res({ code: 127, stdout, stderr: stderr + e.message });
    });
    child.on('close', (code, sig) => {
      children.delete(child);
      res({ code: code ?? (sig ? 128 : 1), stdout, stderr });
    });
  });
  return { done, child };
}

let runCount = 0;

/**
 * The probe in a fresh container of `engine` with `flags`. Once it says it watches, the engine's exec
 * enters the container three times and then ends the watch.
 */
async function probeRun(engine: Engine, flags: string[], probeDir: string, blk: string): Promise<Run> {
  const name = `berth-probe-compare-${process.pid}-${++runCount}`;
  let announce: () => void = () => {};
  const watching = new Promise<void>((r) => (announce = r));
  const { done, child } = start(
    [...engine.cli, 'run', '--rm', '--name', name, '--network', 'none', ...flags, '-v', `${probeDir}:/probe:ro`, engine.image,
      '/probe/probe', '--blk', blk, '--exe-watch', String(EXE_WATCH_S)],
    (err) => { if (err.includes('probe: exe-write: watching\n')) announce(); },
  );
  const timer = setTimeout(() => child.kill('SIGKILL'), RUN_TIMEOUT_MS);
  const execErrors: string[] = [];
  try {
    const first = await Promise.race([watching.then(() => 'watching' as const), done.then(() => 'ended' as const)]);
    if (first === 'watching') {
      for (const cmd of [['true'], ['true'], ['true'], ['touch', '/tmp/.probe-exe-done']]) {
        const e = await start([...engine.cli, 'exec', name, ...cmd]).done;
        if (e.code !== 0) execErrors.push(`exec ${cmd.join(' ')}: exit ${e.code}: ${lastLines(e.stderr)}`);
      }
    }
    const r = await done;
    const lines = parse(r.stdout);
    if (r.code !== 0) {
      return { ok: false, error: `run exited ${r.code}: ${lastLines(r.stderr.replace('probe: exe-write: watching\n', '')) || '(no stderr)'}`, lines };
    }
    const missing = execErrors.length ? `; ${execErrors.join('; ')}` : '';
    return { ok: true, ...(missing ? { error: missing.slice(2) } : {}), lines };
  } finally {
    clearTimeout(timer);
    // `run --rm` removes it; a run that failed or was killed may leave it behind.
    sh([...engine.cli, 'rm', '-f', name], 60_000);
  }
}

function rootBridge(root: string): string {
  return `bd-${createHash('sha256').update(root).digest('hex').slice(0, 12)}`;
}

async function main(): Promise<number> {
  const args = process.argv.slice(2);
  if (args.some((a) => a !== '--no-dockerd')) {
    process.stderr.write('usage: node bench/probe-compare.ts [--no-dockerd]\n');
    return args.includes('-h') || args.includes('--help') ? 0 : 2;
  }
  const wantDocker = !args.includes('--no-dockerd');
  const tmp = mkdtempSync('/tmp/berth-probe-compare-');
  const probeDir = join(tmp, 'probe');
  const berthRoot = join(tmp, 'berth-root');
  let dockerd: Dockerd | undefined;
  let docker: Engine | undefined;
  let importedSystemImage: string | undefined;
  const cleanupNotes: string[] = [];

  const cleanup = () => {
    for (const c of children) c.kill('SIGKILL');
    if (existsSync(berthRoot)) {
      const ids = sh([BERTH, '--root', berthRoot, 'ps', '-aq', '--no-trunc']).stdout?.split('\n').filter(Boolean) ?? [];
      if (ids.length > 0) {
        cleanupNotes.push(`berth: ${ids.length} container(s) left, removed`);
        sh([BERTH, '--root', berthRoot, 'rm', '-f', ...ids]);
      }
      sh([BERTH, '--root', berthRoot, 'network', 'prune', '-f']);
      const br = rootBridge(berthRoot);
      if (existsSync(`/sys/class/net/${br}`)) {
        cleanupNotes.push(`berth: the private root made bridge ${br}, deleted`);
        sh(['ip', 'link', 'del', br]);
      }
    }
    if (dockerd) {
      const d = dockerd;
      dockerd = undefined;
      for (const l of stopDockerd(d)) cleanupNotes.push(`dockerd: ${l}`);
    } else if (docker && importedSystemImage) {
      sh([...docker.cli, 'rmi', importedSystemImage]);
    }
    rmSync(tmp, { recursive: true, force: true });
  };
  const removeHandlers = cleanupOnSignal('probe-compare', () => {
    cleanup();
    for (const n of cleanupNotes) console.log(`cleanup: ${n}`);
  });

  try {
    mkdirSync(probeDir);
    const cc = sh(['gcc', '-static', '-O2', '-o', join(probeDir, 'probe'), join(REPO, 'test', 'fixtures', 'probe.c')]);
    if (cc.status !== 0) fail(`gcc: ${cc.error?.message ?? cc.stderr}`);
    const tar = join(tmp, 'busybox.tar');
    must(['bash', join(REPO, 'scripts', 'mkimage-busybox'), tar], 'mkimage-busybox');
    const blk = blockDevice();
    must([BERTH, '--root', berthRoot, 'import', '--change', 'CMD ["sh"]', tar, 'busybox:latest'], 'berth import');
    const berth: Engine = { label: 'berth', cli: [BERTH, '--root', berthRoot], image: 'busybox:latest' };
    // The OCI runtime matters to exe-write: it is the process entering the container.
    const runtime = sh([BERTH, '--root', berthRoot, 'info', '--format', '{{.DefaultRuntime}}']).stdout?.trim() || 'unknown';

    // docker: the default socket's dockerd, else a private one, loaded with the same rootfs tar.
    let dockerNote: string;
    let dockerVersion: string | undefined;
    if (!wantDocker) dockerNote = 'skipped: --no-dockerd';
    else if ((dockerVersion = defaultDockerVersion())) {
      dockerNote = `the dockerd on the default socket (${dockerVersion})`;
      // Under a tag of its own (removed at the end), so a busybox of the user's is neither used nor touched.
      docker = { label: 'docker', cli: [DOCKER], image: `berth-probe-busybox:${process.pid}` };
      must([DOCKER, 'import', '--change', 'CMD ["sh"]', tar, docker.image], 'docker import');
      importedSystemImage = docker.image;
    } else {
      const why = dockerdUnavailable();
      if (why) dockerNote = `skipped: no dockerd answers on the default socket and ${why}`;
      else {
        try {
          dockerd = await startDockerd('/tmp/berth-probe-compare-dockerd-');
        } catch (e) {
          fail(`starting a private dockerd: ${(e as Error).message}`);
        }
        dockerVersion = dockerd.version;
        dockerNote = `a private dockerd ${dockerVersion} started for this run (${dockerd.dir})`;
        docker = { label: 'docker', cli: dockerd.docker, image: 'busybox:latest' };
        must([...docker.cli, 'import', '--change', 'CMD ["sh"]', tar, docker.image], 'docker import');
      }
    }
    console.log(`berth: ${BERTH} (private root ${berthRoot}, runtime ${runtime})`);
    console.log(`docker: ${dockerNote}`);

    // One configuration at a time, Berth then docker: never two probes at once (exe-write watches /proc).
    const results: { config: string; flags: string[]; berth: Run; docker?: Run }[] = [];
    for (const c of CONFIGS) {
      const b = await probeRun(berth, c.flags, probeDir, blk);
      if (!b.ok) fail(`berth run ${c.name}: ${b.error}`);
      const d = docker ? await probeRun(docker, c.flags, probeDir, blk) : undefined;
      results.push({ config: c.name, flags: c.flags, berth: b, ...(d ? { docker: d } : {}) });
    }

    // The table: NAME, then berth | docker for each configuration.
    const names = [...new Set(results.flatMap((r) => [...Object.keys(r.berth.lines), ...Object.keys(r.docker?.lines ?? {})]))];
    const header = ['NAME', ...results.flatMap((r) => [`berth ${r.config}`, ...(docker ? [`docker ${r.config}`] : [])])];
    const body = names.map((n) => [n, ...results.flatMap((r) => [cell(r.berth.lines[n]), ...(docker ? [r.docker!.ok || Object.keys(r.docker!.lines).length ? cell(r.docker!.lines[n]) : 'no run' ] : [])])]);
    const rows = [header, ...body];
    const width = header.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
    console.log('');
    for (const r of rows) console.log(r.map((c, i) => c.padEnd(width[i]!)).join(' | ').trimEnd());
    console.log('ALLOWED (Exxx): the call got past every privilege check and failed for a reason unrelated to privilege');
    console.log('');
    for (const r of results) {
      for (const [label, run] of [['berth', r.berth], ['docker', r.docker]] as const) {
        if (run?.error) console.log(`${label} ${r.config}: ${run.error}`);
      }
    }
    const exeLine = (l: Line | undefined) => (l ? `${l.verdict} ${l.detail}`.trim() : '(no run)');
    const exe = results.map((r) => `  ${r.config}: berth exe-write ${exeLine(r.berth.lines['exe-write'])}` +
      (r.docker ? `\n  ${r.config}: docker exe-write ${exeLine(r.docker.lines['exe-write'])}` : ''));
    console.log(`exe-write in detail:\n${exe.join('\n')}`);

    // The verdict, on the default column.
    const def = results[0]!;
    let verdict: { compared: boolean; berth_no_weaker: boolean | null; weaker: string[]; note: string };
    if (!def.docker || !def.docker.ok) {
      const note = def.docker ? `docker's default run failed (${def.docker.error}): no comparison` : `no docker (${dockerNote}): no comparison`;
      verdict = { compared: false, berth_no_weaker: null, weaker: [], note };
    } else {
      const dockerBlocked = Object.entries(def.docker.lines).filter(([, l]) => l.verdict === 'BLOCKED').map(([n]) => n);
      const weaker = dockerBlocked.filter((n) => def.berth.lines[n]?.verdict !== 'BLOCKED');
      const note = weaker.length
        ? `Berth is WEAKER: docker blocks, Berth does not: ${weaker.join(', ')}`
        : `Berth is no weaker: all ${dockerBlocked.length} attempts docker's default container blocks are blocked in Berth's too` +
          (dockerBlocked.length < names.length ? ` (docker did not block: ${names.filter((n) => !dockerBlocked.includes(n)).map((n) => `${n} ${cell(def.docker!.lines[n])}`).join(', ')})` : '');
      verdict = { compared: true, berth_no_weaker: weaker.length === 0, weaker, note };
    }
    console.log(`\nverdict (default column): ${verdict.note}`);

    mkdirSync(join(REPO, 'bench', 'results'), { recursive: true });
    writeFileSync(RESULTS, JSON.stringify({
      date: new Date().toISOString(),
      host: { kernel: release(), cpus: cpus().length },
      network: 'none',
      block_device: blk,
      berth: { runtime },
      docker: docker ? { version: dockerVersion, how: dockerNote, private: Boolean(dockerd) } : null,
      docker_skipped: docker ? null : dockerNote,
      verdict,
      configs: results.map((r) => ({ config: r.config, flags: r.flags, berth: r.berth, docker: r.docker ?? null })),
    }, null, 2) + '\n');
    console.log(`results: ${RESULTS}`);
    return verdict.berth_no_weaker === false ? 1 : 0;
  } finally {
    cleanup();
    for (const n of cleanupNotes) console.log(`cleanup: ${n}`);
    removeHandlers();
  }
}

main().then((code) => {
  process.exitCode = code;
}, (e: unknown) => {
  if (!(e instanceof SetupFailure)) throw e;
  process.stderr.write(`probe-compare: ${e.message}\n`);
  process.exitCode = 2;
});
