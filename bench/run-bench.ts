// Startup benchmark: `berth run --rm busybox true` against the OCI runtime
// floor (crun/runc running a prepared bundle directly), docker and podman,
// each on its default network and with --network none.
//
//   node bench/run-bench.ts [--runs N] [--no-berth]
//
// Everything is private and removed at the end (also on SIGINT/SIGTERM/SIGHUP):
// a Berth root under /tmp (its default network gets a bridge named after the
// root; `system reset -f` removes it with its rules); a private dockerd
// (bench/dockerd.ts) whose default network is a bridge this bench makes
// (bench/host-net.ts: bkd-<pid>, a free 172.30.X.0/24, no iptables rules since
// dockerd runs with --iptables=false) and deletes; podman on a private store
// (bench/podman.ts) on runc (its crun cannot run on this hybrid cgroup host
// without Berth's launcher), whose default CNI network leaves cni-podman0 and
// /var/lib/cni behind: both removed when they were not there before.
//
// Targets (issue "Faster than docker"): berth ≤ 0.5× docker on the default
// network (docker on its default bridge), ≤ 0.35× with --network none.
//
// Run with the project's Node 24 (scripts/bench does). Type stripping only:
// keep this file to erasable TypeScript syntax.
//
// This is a measurement, not a test: it exits 0 whether or not the targets are
// met, and non-zero only when a contender fails to run (or setup fails).

import { probeRuntimes } from "../src/runtime/probe.ts";
import { dockerdUnavailable, mountsUnder, startDockerd, stopDockerd, type Dockerd } from "./dockerd.ts";
import { dockerBridges, makeBridge, restoreHostNet, snapshotHostNet, type PrivateBridge } from "./host-net.ts";
import { podmanUlimits, startPodman, type PrivatePodman } from "./podman.ts";
import { NODE_FLOOR } from "./engines.ts";
import { stats } from "./stats.ts";
import { spawnSync } from "node:child_process";
import type { SpawnSyncOptions } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { cpus, release, tmpdir } from "node:os";
import { join, relative, resolve } from "node:path";
import { performance } from "node:perf_hooks";

const REPO = resolve(import.meta.dirname, "..");
const BERTH = join(REPO, "bin", "berth");
const RESULTS = join(REPO, "bench", "results", "run-latest.json");
const CGROUP_UNIFIED_CONTROLLERS = "/sys/fs/cgroup/unified/cgroup.controllers";
const FLOOR_SLACK_MS = 70;
/** berth / docker targets: default network (docker's default bridge), and --network none. */
const DOCKER_RATIO_DEFAULT = 0.5;
const DOCKER_RATIO_NONE = 0.35;

interface Options {
  runs: number;
  berth: boolean;
}

interface Contender {
  name: string;
  floor: boolean;
  /** argv; for floors a fresh container id is appended per run */
  argv: string[];
  env?: NodeJS.ProcessEnv;
  samples: number[];
}

class RunFailure extends Error {}
class Interrupted extends Error {}

function usage(code: number): never {
  const out = code === 0 ? process.stdout : process.stderr;
  out.write("usage: node bench/run-bench.ts [--runs N] [--no-berth]\n" +
    "  --runs N         timed runs per contender (default 15), alternating (order rotated each round), after one warm-up each\n" +
    "  --no-berth       measure only the runtime floor and docker/podman (berth not built yet)\n");
  process.exit(code);
}

function parseArgs(argv: string[]): Options {
  const opts: Options = { runs: 15, berth: true };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    let value: string | undefined;
    if (a === "--runs") value = argv[++i];
    else if (a.startsWith("--runs=")) value = a.slice("--runs=".length);
    else if (a === "--no-berth") { opts.berth = false; continue; }
    else if (a === "-h" || a === "--help") usage(0);
    else { process.stderr.write(`run-bench: unknown argument: ${a}\n`); usage(2); }
    const n = Number(value);
    if (!Number.isInteger(n) || n < 1) { process.stderr.write(`run-bench: --runs needs a positive integer\n`); usage(2); }
    opts.runs = n;
  }
  return opts;
}

/** Run a command for its output; never throws. */
function sh(argv: string[], opts: SpawnSyncOptions = {}): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(argv[0]!, argv.slice(1), { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], timeout: 60_000, ...opts });
  return {
    status: r.error ? null : r.status,
    stdout: String(r.stdout ?? ""),
    stderr: r.error ? String(r.error.message) : String(r.stderr ?? ""),
  };
}

function which(cmd: string): string | undefined {
  for (const dir of (process.env.PATH ?? "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin").split(":")) {
    if (!dir) continue;
    const p = join(dir, cmd);
    if (existsSync(p)) return p;
  }
  return undefined;
}

function firstLine(s: string): string {
  return s.trim().split("\n").filter(Boolean).pop()?.trim() ?? "";
}

const ms = (x: number): string => `${x.toFixed(1)} ms`;
const round = (x: number): number => Math.round(x * 1000) / 1000;

// ---------------------------------------------------------------------------

const opts = parseArgs(process.argv.slice(2));
const work = mkdtempSync(join(tmpdir(), "berth-bench-"));
const bundle = join(work, "bundle");
/** The private Berth root every berth contender runs in. */
const berthRoot = join(work, "berth-root");
/** runtime name -> its private --root state dir (so cleanup is exact) */
const runtimeRoots = new Map<string, string>();
let idSeq = 0;
let cleanedUp = false;

/** The private dockerd, the bridge made for it, podman's private store, and the host as found. */
let dockerd: Dockerd | undefined;
let dockerdBridges: string[] = [];
let bridge: PrivateBridge | undefined;
let podman: PrivatePodman | undefined;
let podmanOnCni = false;
const hostBefore = snapshotHostNet();

/** Synchronous, so the signal handlers can call it. */
function cleanup(): void {
  if (cleanedUp) return;
  cleanedUp = true;
  const say = (l: string) => process.stderr.write(`run-bench: cleanup: ${l}\n`);
  if (dockerd) {
    dockerdBridges = dockerBridges(dockerd.docker);
    for (const l of stopDockerd(dockerd)) say(`dockerd: ${l}`);
  }
  if (podman) for (const l of podman.stop()) say(l);
  if (existsSync(join(berthRoot, "berth.db"))) {
    // Retried: a build running beside the bench can leave dist/ half-written for a moment.
    let r = sh([BERTH, "--root", berthRoot, "system", "reset", "-f"], { timeout: 120_000 });
    for (let i = 0; i < 3 && r.status !== 0; i++) {
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 2000);
      r = sh([BERTH, "--root", berthRoot, "system", "reset", "-f"], { timeout: 120_000 });
    }
    if (r.status !== 0) say(`berth system reset -f failed: ${firstLine(r.stderr)}`);
  }
  for (const l of restoreHostNet(hostBefore, { bridge, dockerBridges: dockerdBridges, podman: podmanOnCni })) say(l);
  for (const [runtime, root] of runtimeRoots) {
    if (!existsSync(root)) continue;
    let ids: string[] = [];
    try { ids = readdirSync(root); } catch { /* nothing there */ }
    for (const id of ids) sh([...runtimeArgv(runtime), "--root", root, "delete", "--force", id]);
  }
  const mounts = mountsUnder(work);
  if (mounts.length) say(`STILL MOUNTED, ${work} left: ${mounts.join(" ")}`);
  else try { rmSync(work, { recursive: true, force: true }); } catch (e) {
    say(`could not remove ${work}: ${(e as Error).message}`);
  }
}
for (const sig of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
  process.on(sig, () => { cleanup(); process.exit(128 + (sig === "SIGINT" ? 2 : sig === "SIGTERM" ? 15 : 1)); });
}

/** The busybox rootfs tarball every contender's image is made from. */
const busyboxTar = join(work, "busybox.tar");

function prepareBundle(): void {
  const tar = busyboxTar;
  const mk = sh(["bash", join(REPO, "scripts", "mkimage-busybox"), tar]);
  if (mk.status !== 0) throw new Error(`scripts/mkimage-busybox failed: ${firstLine(mk.stderr)}`);
  mkdirSync(join(bundle, "rootfs"), { recursive: true });
  const x = sh(["tar", "--numeric-owner", "-xf", tar, "-C", join(bundle, "rootfs")]);
  if (x.status !== 0) throw new Error(`extracting rootfs failed: ${firstLine(x.stderr)}`);
  const spec = sh(["runc", "spec"], { cwd: bundle });
  if (spec.status !== 0) throw new Error(`runc spec failed: ${firstLine(spec.stderr)}`);
  const cfgPath = join(bundle, "config.json");
  const cfg = JSON.parse(readFileSync(cfgPath, "utf8"));
  cfg.process.args = ["true"];
  cfg.process.terminal = false;
  cfg.root.readonly = false;
  writeFileSync(cfgPath, JSON.stringify(cfg, null, 2) + "\n");
}

function floorArgv(runtime: string): string[] {
  let root = runtimeRoots.get(runtime);
  if (!root) {
    root = join(work, "state", runtime);
    mkdirSync(root, { recursive: true, mode: 0o700 });
    runtimeRoots.set(runtime, root);
  }
  return [...runtimeArgv(runtime), "--root", root, "run", "--bundle", bundle];
}

/** The runtime's command: crun on a hybrid host runs through the engine's launcher (src/runtime/v1-view.c). */
function runtimeArgv(runtime: string): string[] {
  const launcher = probeRuntimes().find((c) => c.name === runtime)?.launcher;
  return launcher ? [launcher, which(runtime) ?? runtime] : [runtime];
}

function nextId(): string {
  return `berth-bench-${process.pid}-${++idSeq}`;
}

function argvFor(c: Contender): string[] {
  return c.floor ? [...c.argv, nextId()] : c.argv;
}

/** One timed run; throws RunFailure (with the command's stderr) if it fails. */
function timeOnce(c: Contender): number {
  const argv = argvFor(c);
  const t0 = performance.now();
  const r = spawnSync(argv[0]!, argv.slice(1), { stdio: "ignore", env: c.env ?? process.env, timeout: 120_000 });
  const dt = performance.now() - t0;
  if (r.signal === "SIGINT" || r.signal === "SIGTERM") throw new Interrupted(`${c.name}: interrupted (${r.signal})`);
  if (r.error || r.status !== 0) {
    // Run it again with stderr captured so the failure can be explained.
    const again = sh(argvFor(c), { env: c.env ?? process.env, timeout: 120_000 });
    const why = r.error ? r.error.message : r.signal ? `killed by ${r.signal}` : `exit ${r.status}`;
    throw new RunFailure(`${c.name}: \`${argv.join(" ")}\` failed (${why})` +
      (again.stderr.trim() ? `: ${firstLine(again.stderr)}` : ""));
  }
  return dt;
}

function cgroupControllersNote(): string | undefined {
  try {
    const ctl = readFileSync(CGROUP_UNIFIED_CONTROLLERS, "utf8").trim();
    return ctl ? `${CGROUP_UNIFIED_CONTROLLERS} holds "${ctl}"` : undefined;
  } catch { return undefined; }
}

/** Let the event loop turn so a pending SIGINT/SIGTERM handler can run. */
function tick(): Promise<void> {
  return new Promise((done) => setImmediate(done));
}

async function main(): Promise<number> {
  const notes: string[] = [];
  const skipped: Record<string, string> = {};
  const contenders: Contender[] = [];
  const add = (name: string, argv: string[], floor = false) => contenders.push({ name, floor, argv, samples: [] });

  console.log(`berth bench: ${opts.runs} timed runs per contender, alternating, after one warm-up each`);
  console.log(`host: Linux ${release()}, ${cpus().length} cpu, node ${process.version}`);

  if (!which("runc")) throw new Error("runc is not installed (run scripts/setup); it is needed for `runc spec` and the floor");
  prepareBundle();

  // --- the floor: which OCI runtimes can run a bare bundle here ---------------
  const floors: string[] = [];
  if (which("crun")) {
    const probe = sh([...floorArgv("crun"), nextId()]);
    if (probe.status === 0) floors.push("crun");
    else {
      const why = firstLine(probe.stderr) || `exit ${probe.status}`;
      const cg = cgroupControllersNote();
      const note = `crun cannot run here (${why}${cg ? `; ${cg}` : ""})`;
      console.log(`floor: ${note}; the floor is \`runc run --bundle B id\``);
      skipped["crun"] = note;
      notes.push(`${note}; floor is runc run`);
    }
  } else {
    skipped["crun"] = "not installed";
    console.log("floor: crun not installed; the floor is `runc run --bundle B id`");
  }
  const runcProbe = sh([...floorArgv("runc"), nextId()]);
  if (runcProbe.status === 0) floors.push("runc");
  else if (floors.length === 0) throw new RunFailure(`runc: cannot run the floor bundle: ${firstLine(runcProbe.stderr) || `exit ${runcProbe.status}`}`);
  else { skipped["runc"] = `cannot run here: ${firstLine(runcProbe.stderr)}`; console.log(`floor: runc ${skipped["runc"]}`); }
  for (const rt of floors) add(`${rt} run`, floorArgv(rt), true);
  if (floors.length > 1) console.log(`floor: both crun and runc work; measuring both`);
  // A Node CLI's floor: Node 24 doing nothing but that run (bench/node-floor.mjs); never the floor chosen below.
  add(`Node → ${floors[0]} run`, [process.execPath, NODE_FLOOR, "spawn", ...floorArgv(floors[0]!)], true);

  // --- berth (a private root; its default network is a bridge of its own) -------
  let berthRuntime: string | null = null;
  if (opts.berth) {
    if (!existsSync(join(REPO, "dist", "berth.mjs"))) throw new RunFailure("berth: not built (run scripts/setup)");
    const b = (...a: string[]) => [BERTH, "--root", berthRoot, ...a];
    const imp = sh(b("import", "--change", 'CMD ["sh"]', busyboxTar, "busybox:latest"), { timeout: 120_000 });
    if (imp.status !== 0) throw new RunFailure(`berth: import of busybox failed: ${firstLine(imp.stderr)}`);
    berthRuntime = firstLine(sh(b("info", "--format", "{{.DefaultRuntime}}")).stdout) || null;
    add("berth", b("run", "--rm", "busybox", "true"));
    add("berth --network none", b("run", "--rm", "--network", "none", "busybox", "true"));
    if (floors.length > 1) {
      for (const rt of floors) add(`berth --network none --runtime ${rt}`, b("run", "--rm", "--network", "none", "--runtime", rt, "busybox", "true"));
    }
  } else {
    skipped["berth"] = "--no-berth";
    console.log("berth: skipped (--no-berth)");
  }

  // --- docker: a private dockerd, its default network a bridge of this bench's ----
  let dockerVersion: string | null = null;
  const noDockerd = dockerdUnavailable();
  if (noDockerd) {
    skipped["docker"] = `not available (${noDockerd})`;
    console.log(`docker: not available, skipped (${noDockerd})`);
  } else {
    try {
      bridge = makeBridge();
    } catch (e) {
      skipped["docker"] = `no bridge for its default network: ${(e as Error).message}; --network none only`;
      console.log(`docker: ${skipped["docker"]}`);
    }
    dockerd = await startDockerd("/tmp/berth-run-bench-dockerd-", bridge ? { bridge: bridge.name } : {});
    dockerVersion = dockerd.version;
    const imp = sh([...dockerd.docker, "import", "--change", 'CMD ["sh"]', busyboxTar, "busybox:latest"]);
    if (imp.status !== 0) throw new RunFailure(`docker import into the private dockerd failed: ${firstLine(imp.stderr)}`);
    if (bridge) {
      add("docker", [...dockerd.docker, "run", "--rm", "busybox", "true"]);
      notes.push(`docker: a private dockerd ${dockerd.version}; default network = its default bridge on ${bridge.name} (${bridge.subnet}), ` +
        "made by the bench; --iptables=false (no NAT rules), --ip-forward=false");
    }
    add("docker --network none", [...dockerd.docker, "run", "--rm", "--network", "none", "busybox", "true"]);
  }

  // --- podman: a private store, on runc --------------------------------------
  let podmanVersion: string | null = null;
  if (!which("podman")) { skipped["podman"] = "not installed"; console.log("podman: not installed, skipped"); }
  else {
    podman = startPodman("/tmp/berth-run-bench-podman-", "runc");
    podmanOnCni = true;
    podmanVersion = firstLine(sh(["podman", "--version"]).stdout) || null;
    const imp = sh([...podman.argv, "import", "--change", 'CMD ["sh"]', busyboxTar, "busybox:latest"], { timeout: 120_000 });
    const limits = podmanUlimits();
    const none = [...podman.argv, "run", "--rm", "--network", "none", ...limits.flags, "busybox", "true"];
    const probe = imp.status === 0 ? sh(none, { timeout: 120_000 }) : imp;
    if (probe.status === 0) {
      const dflt = [...podman.argv, "run", "--rm", ...limits.flags, "busybox", "true"];
      const p2 = sh(dflt, { timeout: 120_000 });
      if (p2.status === 0) add("podman", dflt);
      else { skipped["podman (default network)"] = `cannot run here: ${firstLine(p2.stderr)}`; console.log(`podman: ${skipped["podman (default network)"]}`); }
      add("podman --network none", none);
      notes.push(`podman: ${podmanVersion}, a private store, on runc (its crun fails on this hybrid cgroup host), default network = its CNI bridge; ${limits.note}`);
    } else {
      skipped["podman"] = `cannot run here: ${firstLine(probe.stderr)}`;
      console.log(`podman: ${skipped["podman"]}, skipped`);
    }
  }

  // --- measure ---------------------------------------------------------------
  // spawnSync blocks the event loop, so yield between runs: that is where a
  // SIGINT/SIGTERM handler gets to clean up and exit. The order rotates each round.
  for (const c of contenders) { timeOnce(c); await tick(); } // warm-up
  for (let i = 0; i < opts.runs; i++) {
    for (let j = 0; j < contenders.length; j++) {
      const c = contenders[(i + j) % contenders.length]!;
      c.samples.push(timeOnce(c));
      await tick();
    }
  }

  // --- report ----------------------------------------------------------------
  const st = new Map(contenders.map((c) => [c.name, stats(c.samples)] as const));
  const floorC = contenders.filter((c) => c.floor).reduce((a, b) => (st.get(b.name)!.median < st.get(a.name)!.median ? b : a));
  const floorMedian = st.get(floorC.name)!.median;

  console.log("");
  const w = Math.max(...contenders.map((c) => c.name.length)) + 8;
  console.log(`${"contender".padEnd(w)}${"median".padStart(10)}${"p90".padStart(10)}${"min".padStart(10)}${"× floor".padStart(10)}`);
  for (const c of contenders) {
    const s = st.get(c.name)!;
    const label = c === floorC ? `${c.name} (floor)` : c.name;
    console.log(`${label.padEnd(w)}${ms(s.median).padStart(10)}${ms(s.p90).padStart(10)}${ms(s.min).padStart(10)}${(s.median / floorMedian).toFixed(2).padStart(10)}`);
  }

  const ratioTarget = (berthName: string, peerName: string, limit: number) => {
    const bS = st.get(berthName);
    const pS = st.get(peerName);
    const ratio = bS && pS ? bS.median / pS.median : null;
    return { target: `${berthName} median ≤ ${limit} × ${peerName} median`, limit, ratio: ratio === null ? null : round(ratio), met: ratio === null ? null : ratio <= limit };
  };
  const berthS = st.get("berth");
  const targets = {
    floor_plus_70ms: {
      target: `berth median ≤ floor median + ${FLOOR_SLACK_MS} ms`,
      limit_ms: round(floorMedian + FLOOR_SLACK_MS),
      berth_ms: berthS ? round(berthS.median) : null,
      met: berthS ? berthS.median <= floorMedian + FLOOR_SLACK_MS : null,
    },
    default_network_vs_docker: ratioTarget("berth", "docker", DOCKER_RATIO_DEFAULT),
    network_none_vs_docker: ratioTarget("berth --network none", "docker --network none", DOCKER_RATIO_NONE),
  };
  const verdict = (met: boolean | null): string => (met === null ? "n/a" : met ? "MET" : "NOT MET");
  if (floors.length > 1) {
    console.log("");
    console.log("berth's own cost over the same runtime's floor (--network none):");
    for (const rt of floors) {
      const b = st.get(`berth --network none --runtime ${rt}`);
      const f = st.get(`${rt} run`);
      if (b && f) console.log(`  ${rt}: ${ms(b.median)} - ${ms(f.median)} = +${ms(b.median - f.median)}  (× ${(b.median / f.median).toFixed(2)})`);
    }
  }
  console.log("");
  console.log("targets:");
  console.log(`  berth ≤ floor + ${FLOOR_SLACK_MS} ms : ` + (berthS
    ? `${ms(berthS.median)} vs ${ms(floorMedian)} + ${FLOOR_SLACK_MS} = ${ms(floorMedian + FLOOR_SLACK_MS)}  ${verdict(targets.floor_plus_70ms.met)}`
    : "n/a (berth not measured)"));
  for (const t of [targets.default_network_vs_docker, targets.network_none_vs_docker]) {
    console.log(`  ${t.target}: ${t.ratio === null ? `n/a (${skipped["docker"] ?? skipped["berth"] ?? "not measured"})` : `${t.ratio.toFixed(2)}×  ${verdict(t.met)}`}`);
  }
  for (const [berthName, podmanName] of [["berth", "podman"], ["berth --network none", "podman --network none"]]) {
    const bS = st.get(berthName!);
    const pS = st.get(podmanName!);
    if (bS && pS) console.log(`  ${berthName} / ${podmanName}: ${(bS.median / pS.median).toFixed(2)}×`);
  }

  const shown = (argv: string[]) => argv.map((a) => (a === BERTH ? "bin/berth" : a)).join(" ")
    .replaceAll(work, "<tmp>").replaceAll(podman?.dir ?? "\0", "<podman>").replaceAll(dockerd?.dir ?? "\0", "<dockerd>");
  const result = {
    date: new Date().toISOString(),
    host: { kernel: release(), cpus: cpus().length, cpu_model: cpus()[0]?.model ?? null, node: process.version,
            cgroup_unified_controllers: cgroupControllersNote() ?? null, load_avg: readFileSync("/proc/loadavg", "utf8").trim() },
    runs: opts.runs,
    warmup_runs: 1,
    floor: floorC.name,
    berth_runtime: berthRuntime,
    dockerd: dockerVersion,
    docker_bridge: bridge ? { name: bridge.name, subnet: bridge.subnet } : null,
    podman: podmanVersion,
    contenders: contenders.map((c) => {
      const s = st.get(c.name)!;
      return {
        name: c.name,
        floor: c.floor,
        command: c.floor ? [...argvFor(c).slice(0, -1), "<id>"].join(" ").replaceAll(work, "<tmp>") : shown(c.argv),
        median_ms: round(s.median), p90_ms: round(s.p90), min_ms: round(s.min), max_ms: round(s.max), mean_ms: round(s.mean),
        ratio_to_floor: round(s.median / floorMedian),
        samples_ms: c.samples.map(round),
      };
    }),
    skipped,
    notes,
    targets,
  };
  mkdirSync(resolve(RESULTS, ".."), { recursive: true });
  writeFileSync(RESULTS, JSON.stringify(result, null, 2) + "\n");
  console.log("");
  console.log(`results: ${relative(process.cwd(), RESULTS) || RESULTS}`);
  return 0;
}

let code = 1;
try {
  code = await main();
} catch (e) {
  process.stderr.write(`run-bench: ${e instanceof Error ? e.message : String(e)}\n`);
  code = e instanceof Interrupted ? 130 : 1;
} finally {
  cleanup();
}
process.exit(code);
