// Berth, docker and podman side by side for the small benches (start-rate-bench.ts, memory-bench.ts), each
// private and each with the same busybox image (scripts/mkimage-busybox, imported with CMD ["sh"]):
// a Berth root under /tmp (removed with `system reset -f`), the private dockerd of bench/dockerd.ts (no bridge:
// containers run with --network none everywhere) and podman on a private store (bench/podman.ts) on runc
// (podman's crun cannot run on a hybrid cgroup host without Berth's launcher). `cleanup` is synchronous, so a
// signal handler can call it, and returns what it could not remove.

import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { dockerdUnavailable, mountsUnder, startDockerd, stopDockerd, type Dockerd } from './dockerd.ts';
import { podmanUlimits, startPodman, type PrivatePodman } from './podman.ts';

const REPO = resolve(import.meta.dirname, '..');
export const BERTH = join(REPO, 'bin', 'berth');
/** The least a Node CLI can do on a timed path (bench/node-floor.mjs): run with `process.execPath`. */
export const NODE_FLOOR = join(REPO, 'bench', 'node-floor.mjs');

export type EngineName = 'berth' | 'docker' | 'podman';

export interface Engine {
  name: EngineName;
  /** The CLI with its private-store flags: append a subcommand. */
  cli: string[];
  /** Flags every `run` gets: --network none, and podman's ulimits. */
  runFlags: string[];
  /** `rm -f` at once: podman's waits out the stop timeout for a `sleep` that ignores SIGTERM, so -t 0. */
  rmForce: string[];
  version: string;
}

export interface Engines {
  work: string;
  engines: Engine[];
  skipped: Partial<Record<EngineName, string>>;
  notes: string[];
  /** The private dockerd (its pid and its containerd's, for daemon-side figures). */
  dockerd?: Dockerd;
  cleanup(): string[];
}

export interface EngineOptions {
  dockerd: boolean;
  podman: boolean;
}

function sh(argv: string[], timeout = 120_000): { ok: boolean; out: string; err: string } {
  const r = spawnSync(argv[0]!, argv.slice(1), { encoding: 'utf8', timeout, maxBuffer: 64 << 20 });
  return { ok: !r.error && r.status === 0, out: String(r.stdout ?? '').trim(), err: r.error?.message ?? String(r.stderr ?? '').trim() };
}

export function must(argv: string[], timeout?: number): string {
  const r = sh(argv, timeout);
  if (!r.ok) throw new Error(`\`${argv.join(' ')}\` failed: ${r.err.split('\n').filter(Boolean).pop() || 'no output'}`);
  return r.out;
}

const has = (cmd: string): boolean => sh(['sh', '-c', `command -v ${cmd}`]).ok;

export async function startEngines(prefix: string, o: EngineOptions): Promise<Engines> {
  const work = mkdtempSync(prefix);
  const root = join(work, 'berth-root');
  let dockerd: Dockerd | undefined;
  let podman: PrivatePodman | undefined;
  let cleaned = false;
  const e: Engines = {
    work,
    engines: [],
    skipped: {},
    notes: [],
    cleanup() {
      if (cleaned) return [];
      cleaned = true;
      const left: string[] = [];
      if (dockerd) for (const l of stopDockerd(dockerd)) left.push(`dockerd: ${l}`);
      if (podman) left.push(...podman.stop());
      left.push(...resetBerthRoot(root));
      const mounts = mountsUnder(work);
      if (mounts.length) left.push(`STILL MOUNTED (${work} left in place): ${mounts.join(' ')}`);
      else rmSync(work, { recursive: true, force: true });
      return left;
    },
  };
  try {
    if (!existsSync(join(REPO, 'dist', 'berth.mjs'))) throw new Error('berth: not built (run scripts/build)');
    const tar = join(work, 'busybox.tar');
    must(['bash', join(REPO, 'scripts', 'mkimage-busybox'), tar]);
    const b = [BERTH, '--root', root];
    must([...b, 'import', '--change', 'CMD ["sh"]', tar, 'busybox:latest']);
    const runtime = must([...b, 'info', '--format', '{{.DefaultRuntime}}']);
    e.engines.push({ name: 'berth', cli: b, runFlags: ['--network', 'none'], rmForce: ['rm', '-f'], version: `berth (runtime ${runtime})` });

    const noDockerd = o.dockerd ? dockerdUnavailable() : '--no-dockerd';
    if (noDockerd) e.skipped.docker = noDockerd;
    else {
      dockerd = await startDockerd(join(work, 'dockerd-'));
      e.dockerd = dockerd;
      must([...dockerd.docker, 'import', '--change', 'CMD ["sh"]', tar, 'busybox:latest']);
      e.engines.push({ name: 'docker', cli: dockerd.docker, runFlags: ['--network', 'none'], rmForce: ['rm', '-f'], version: `dockerd ${dockerd.version}` });
    }

    if (!o.podman) e.skipped.podman = '--no-podman';
    else if (!has('podman')) e.skipped.podman = 'not installed';
    else {
      podman = startPodman(`${prefix}podman-`, 'runc'); // its runroot path must stay under 50 characters
      must([...podman.argv, 'import', '--change', 'CMD ["sh"]', tar, 'busybox:latest']);
      const limits = podmanUlimits();
      const version = must(['podman', '--version']);
      e.engines.push({ name: 'podman', cli: podman.argv, runFlags: ['--network', 'none', ...limits.flags], rmForce: ['rm', '-f', '-t', '0'], version: `${version} (runc)` });
      e.notes.push(`podman: ${version}, private store, runc, cgroupfs, ${limits.note}`);
    }
    rmSync(tar, { force: true });
    return e;
  } catch (err) {
    for (const l of e.cleanup()) process.stderr.write(`cleanup: ${l}\n`);
    throw err;
  }
}

/**
 * Empty a bench's private Berth root with `system reset -f`: its containers, networks and volumes, and its
 * default network's bridge and rules, which removing its files would leave on the host. What failed, if anything.
 */
export function resetBerthRoot(root: string): string[] {
  if (!existsSync(join(root, 'berth.db'))) return [];
  // Retried: a build running beside the bench can leave dist/ half-written for a moment.
  let r = sh([BERTH, '--root', root, 'system', 'reset', '-f']);
  for (let i = 0; i < 3 && !r.ok; i++) {
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 2000);
    r = sh([BERTH, '--root', root, 'system', 'reset', '-f']);
  }
  return r.ok ? [] : [`berth system reset -f failed: ${r.err.split('\n').filter(Boolean).slice(0, 3).join(' | ')}`];
}

/** resetBerthRoot, then the root's directory, unless something is still mounted under it (said, and left). */
export function removeBerthRoot(root: string): string[] {
  if (!existsSync(root)) return [];
  const left = resetBerthRoot(root);
  const mounts = mountsUnder(root);
  if (mounts.length) left.push(`STILL MOUNTED (${root} left in place): ${mounts.join(' ')}`);
  else rmSync(root, { recursive: true, force: true });
  return left;
}

/**
 * Calls `cleanup` on SIGINT/SIGTERM/SIGHUP (waiting for it when it returns a promise: a bench may first let
 * an engine operation of its own finish) and exits 130/143/129; returns a function that removes the handlers.
 */
export function cleanupOnSignal(what: string, cleanup: () => void | Promise<void>): () => void {
  const handler = async (sig: NodeJS.Signals) => {
    process.stderr.write(`${what}: ${sig}, cleaning up\n`);
    await cleanup();
    process.exit(sig === 'SIGINT' ? 130 : sig === 'SIGTERM' ? 143 : 129);
  };
  for (const s of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(s, handler);
  return () => { for (const s of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.off(s, handler); };
}
