// The CRI (issue "Pods and Kubernetes"): Berth's CRI server (`berth serve --cri`) against Debian's containerd 1.6
// (CRI plugin, runc), both private, on the same images (busybox, and Berth's catatonit pause image as both
// sandboxes' image), measured in the same run.
//
//   node bench/cri-bench.ts [--runs N] [--no-critest]
//
// 1. Pod start latency: `crictl run` of a busybox container in a new sandbox (RunPodSandbox, CreateContainer,
//    StartContainer through crictl), alternating the runtimes, N runs each (default 15); each pod is removed
//    after (not timed). Target: Berth ≤ 0.5× containerd (medians).
// 2. critest -benchmark (cri-tools v1.29.0), when critest is found: each benchmark's operations, median of its
//    samples, for both runtimes (pods and containers: 20 lifecycles each; images: 10).
//
// crictl and critest come from $CRICTL/$CRITEST, the PATH or /opt/critools/bin (built as
// ../shared/tools/critest/README.md says); without crictl the bench says so and exits 0. Everything is private
// and removed at the end, also on SIGINT/SIGTERM. Writes bench/results/cri-latest.json. A measurement, not a
// test: exits 0 whatever the figures, non-zero only when setup fails.

import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, release } from 'node:os';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { containerdUnavailable, startContainerd, type PrivateContainerd } from './containerd.ts';
import { BERTH, cleanupOnSignal, removeBerthRoot } from './engines.ts';
import { median } from './stats.ts';

const REPO = resolve(import.meta.dirname, '..');
const RESULTS = join(REPO, 'bench', 'results', 'cri-latest.json');
const TARGET = 0.5;
const CRITEST_IMAGE = 'registry.k8s.io/e2e-test-images/busybox:1.29-2';

/** A loopback registry (Debian's docker-registry) with its storage in `dir`. */
async function startRegistry(dir: string): Promise<{ host: string; stop(): void }> {
  const { createServer } = await import('node:net');
  const port = await new Promise<number>((res) => {
    const srv = createServer().listen(0, '127.0.0.1', () => {
      const p = (srv.address() as { port: number }).port;
      srv.close(() => res(p));
    });
  });
  const host = `127.0.0.1:${port}`;
  const cfg = join(dir, 'registry.yml');
  writeFileSync(cfg, `version: 0.1\nlog: {level: error}\nstorage: {filesystem: {rootdirectory: ${join(dir, 'registry')}}}\nhttp: {addr: ${host}}\n`);
  const { spawn } = await import('node:child_process');
  const child = spawn('docker-registry', ['serve', cfg], { stdio: 'ignore' });
  for (const until = Date.now() + 10_000; ; await new Promise((r) => setTimeout(r, 100))) {
    if (await fetch(`http://${host}/v2/`).then((r) => r.ok, () => false)) break;
    if (Date.now() > until) throw new Error('the loopback registry did not start');
  }
  return { host, stop: () => void child.kill('SIGTERM') };
}

function tool(name: string, env: string): string | undefined {
  const given = process.env[env];
  if (given) return existsSync(given) ? given : undefined;
  const onPath = spawnSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' }).stdout.trim();
  if (onPath) return onPath;
  const built = `/opt/critools/bin/${name}`;
  return existsSync(built) ? built : undefined;
}

function must(argv: string[], opts: { input?: string } = {}): string {
  const r = spawnSync(argv[0]!, argv.slice(1), { encoding: 'utf8', timeout: 300_000, input: opts.input });
  if (r.status !== 0) throw new Error(`${argv.join(' ')}: exit ${r.status}: ${r.stderr}`);
  return r.stdout;
}

function parseArgs(argv: string[]): { runs: number; critest: boolean } {
  const o = { runs: 15, critest: true };
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--runs') o.runs = Number(argv[++i]);
    else if (argv[i] === '--no-critest') o.critest = false;
    else {
      process.stderr.write('usage: node bench/cri-bench.ts [--runs N] [--no-critest]\n');
      process.exit(2);
    }
  }
  if (!Number.isInteger(o.runs) || o.runs < 1) throw new Error('--runs needs a positive integer');
  return o;
}

interface Runtime {
  name: 'berth' | 'containerd';
  endpoint: string;
}

const crictlOf = (crictl: string, rt: Runtime) => [crictl, '--runtime-endpoint', rt.endpoint, '--image-endpoint', rt.endpoint, '--timeout', '60s'];

/** One `crictl run` in a new sandbox, timed; the pod is removed after (not timed). */
function podStart(crictl: string, rt: Runtime, dir: string, i: number): number {
  const pod = join(dir, `pod-${rt.name}-${i}.json`);
  const ctr = join(dir, `ctr-${rt.name}-${i}.json`);
  writeFileSync(pod, JSON.stringify({ metadata: { name: `bench-${i}`, namespace: 'bench', uid: `${rt.name}-${i}`, attempt: 0 }, linux: {} }));
  writeFileSync(ctr, JSON.stringify({ metadata: { name: 'sleeper' }, image: { image: 'docker.io/library/busybox:latest' }, command: ['sleep', '3600'], linux: {} }));
  const t0 = performance.now();
  must([...crictlOf(crictl, rt), 'run', '--no-pull', ctr, pod]);
  const ms = performance.now() - t0;
  must([...crictlOf(crictl, rt), 'rmp', '-fa']);
  return ms;
}

interface OpFigure {
  benchmark: string;
  operation: string;
  berthMs: number;
  containerdMs: number;
}

/** critest -benchmark against one runtime: each data file's operations, median of the samples (ms). */
function critestBenchmark(critest: string, rt: Runtime, dir: string, pullImage: string): Map<string, number> {
  const out = join(dir, `critest-${rt.name}`);
  mkdirSync(out, { recursive: true });
  const params = join(dir, 'params.yaml');
  writeFileSync(params, `containersNumber: 20\ncontainersNumberParallel: 1\npodsNumber: 20\npodsNumberParallel: 1\nimagesNumber: 10\nimagesNumberParallel: 1\nimagePullingBenchmarkImage: ${pullImage}\n`);
  const r = spawnSync(critest, ['-benchmark', '--benchmarking-params-file', params, '--benchmarking-output-dir', out, '--runtime-endpoint', rt.endpoint, '--image-endpoint', rt.endpoint, '--ginkgo.no-color'], { encoding: 'utf8', cwd: out, timeout: 900_000 });
  writeFileSync(join(out, 'critest.log'), r.stdout + r.stderr);
  const figures = new Map<string, number>();
  for (const f of readdirSync(out).filter((n) => n.endsWith('_benchmark_data.json'))) {
    const d = JSON.parse(readFileSync(join(out, f), 'utf8')) as { operationsNames: string[]; datapoints: { operationsDurationsNs: number[] }[] };
    d.operationsNames.forEach((op, k) => {
      const xs = d.datapoints.map((p) => p.operationsDurationsNs[k]!).filter((x) => x > 0);
      if (xs.length > 0) figures.set(`${f.replace('_benchmark_data.json', '')}/${op}`, median(xs) / 1e6);
    });
  }
  return figures;
}

async function main(): Promise<void> {
  const o = parseArgs(process.argv.slice(2));
  const crictl = tool('crictl', 'CRICTL');
  const critest = o.critest ? tool('critest', 'CRITEST') : undefined;
  const why = !crictl ? 'crictl (cri-tools v1.29.0) is not built here: see ../shared/tools/critest/README.md' : containerdUnavailable();
  mkdirSync(join(REPO, 'bench', 'results'), { recursive: true });
  if (why) {
    process.stdout.write(`cri bench: skipped: ${why}\n`);
    writeFileSync(RESULTS, JSON.stringify({ skipped: why, at: new Date().toISOString() }, null, 2));
    return;
  }
  const dir = mkdtempSync('/tmp/berth-cri-bench-');
  const root = join(dir, 'berth-root');
  let containerd: PrivateContainerd | undefined;
  let registry: { host: string; stop(): void } | undefined;
  let server: ReturnType<typeof import('node:child_process').spawn> | undefined;
  const cleanup = () => {
    const left: string[] = [];
    if (server && server.exitCode === null) server.kill('SIGTERM');
    const until = Date.now() + 10_000;
    while (server && server.exitCode === null && Date.now() < until) spawnSync('sleep', ['0.1']);
    if (existsSync(root)) left.push(...removeBerthRoot(root));
    // Sandboxes critest or a failed step left: removed through containerd while it runs.
    if (containerd && crictl) spawnSync(crictl, ['--runtime-endpoint', containerd.endpoint, '--timeout', '60s', 'rmp', '-fa'], { stdio: 'ignore', timeout: 120_000 });
    if (containerd) left.push(...containerd.stop());
    registry?.stop();
    rmSync(dir, { recursive: true, force: true });
    if (left.length > 0) process.stderr.write(`cri bench: left behind: ${left.join(', ')}\n`);
  };
  const off = cleanupOnSignal('cri bench', cleanup);
  try {
    // The images: busybox, and Berth's pause image (catatonit -P), made by a first pod; both saved for containerd.
    must(['bash', join(REPO, 'scripts', 'mkimage-busybox'), join(dir, 'busybox.tar')]);
    must([BERTH, '--root', root, 'import', '--change', 'CMD ["sh"]', join(dir, 'busybox.tar'), 'busybox:latest']);
    const podId = must([BERTH, '--root', root, 'pod', 'create', '--network', 'none']).trim();
    const pause = must([BERTH, '--root', root, 'pod', 'inspect', '--format', '{{.InfraContainerId}}', podId]).trim();
    const pauseImage = must([BERTH, '--root', root, 'inspect', '--format', '{{.Config.Image}}', pause]).trim();
    must([BERTH, '--root', root, 'pod', 'rm', podId]);
    // critest's container benchmark runs its default test image; both runtimes get busybox under that name.
    must([BERTH, '--root', root, 'tag', 'busybox:latest', CRITEST_IMAGE]);
    must([BERTH, '--root', root, 'save', '-o', join(dir, 'images.tar'), 'busybox:latest', CRITEST_IMAGE, pauseImage]);
    // Its image benchmark pulls: from a loopback registry holding busybox.
    registry = await startRegistry(dir);
    // An image of its own (a commit adds a layer): removing it after a pull, as the benchmark does, removes every
    // name of its image, which must not be busybox's.
    const pullImage = `${registry.host}/bench/busybox:1`;
    must([BERTH, '--root', root, 'run', '--name', 'pull-source', '--network', 'none', 'busybox', 'touch', '/pulled']);
    must([BERTH, '--root', root, 'commit', 'pull-source', pullImage]);
    must([BERTH, '--root', root, 'rm', 'pull-source']);
    must([BERTH, '--root', root, 'push', '-q', pullImage]);
    must([BERTH, '--root', root, 'rmi', pullImage]);

    containerd = await startContainerd(join(dir, 'containerd'), { sandboxImage: pauseImage, subnet: '10.95.1.0/24', bridge: 'bcribench0', httpRegistries: [registry.host] });
    containerd.importImages(join(dir, 'images.tar'));
    const sock = join(dir, 'berth-cri.sock');
    const { spawn } = await import('node:child_process');
    let log = '';
    server = spawn(BERTH, ['--root', root, 'serve', '--cri', `unix://${sock}`, '--cri-network', 'bench', '--cri-subnet', '10.95.2.0/24'], { stdio: ['ignore', 'ignore', 'pipe'] });
    server.stderr!.on('data', (b: Buffer) => (log += b.toString()));
    for (const until = Date.now() + 20_000; !/CRI listening/.test(log); await new Promise((r) => setTimeout(r, 50))) {
      if (Date.now() > until || server.exitCode !== null) throw new Error(`berth serve --cri did not start:\n${log}`);
    }
    const runtimes: Runtime[] = [{ name: 'berth', endpoint: `unix://${sock}` }, { name: 'containerd', endpoint: containerd.endpoint }];

    // A first pod each, not counted: the network's first use, caches.
    for (const rt of runtimes) podStart(crictl!, rt, dir, 0);
    const times: Record<string, number[]> = { berth: [], containerd: [] };
    for (let i = 1; i <= o.runs; i++) {
      for (const rt of i % 2 ? runtimes : [...runtimes].reverse()) times[rt.name]!.push(podStart(crictl!, rt, dir, i));
    }
    const berthMs = median(times.berth!);
    const containerdMs = median(times.containerd!);

    let ops: OpFigure[] = [];
    if (critest) {
      const b = critestBenchmark(critest, runtimes[0]!, dir, pullImage);
      const c = critestBenchmark(critest, runtimes[1]!, dir, pullImage);
      ops = [...b.keys()].filter((k) => c.has(k)).map((k) => ({ benchmark: k.split('/')[0]!, operation: k.split('/')[1]!, berthMs: b.get(k)!, containerdMs: c.get(k)! }));
    }
    const result = {
      at: new Date().toISOString(),
      host: { kernel: release(), cpus: cpus().length },
      containerd: containerd.version,
      runs: o.runs,
      podStart: { berthMs, containerdMs, ratio: berthMs / containerdMs, target: TARGET, met: berthMs / containerdMs <= TARGET, samples: times },
      critestBenchmark: critest ? ops : `critest not found: the -benchmark figures were not taken`,
    };
    writeFileSync(RESULTS, JSON.stringify(result, null, 2));
    const f = (x: number) => x.toFixed(1);
    process.stdout.write(`pod start (crictl run: RunPodSandbox + CreateContainer + StartContainer), medians of ${o.runs}:\n`);
    process.stdout.write(`  berth ${f(berthMs)} ms, containerd ${containerd.version} ${f(containerdMs)} ms: ${(berthMs / containerdMs).toFixed(2)}× (target ≤ ${TARGET}×)\n`);
    if (ops.length > 0) {
      process.stdout.write('critest -benchmark, median per operation (ms):\n');
      for (const op of ops) process.stdout.write(`  ${op.benchmark.padEnd(16)} ${op.operation.padEnd(18)} berth ${f(op.berthMs).padStart(7)}  containerd ${f(op.containerdMs).padStart(7)}  ${(op.berthMs / op.containerdMs).toFixed(2)}×\n`);
    }
  } finally {
    off();
    cleanup();
  }
}

main().catch((e) => {
  process.stderr.write(`cri bench: ${(e as Error).message}\n`);
  process.exit(1);
});
