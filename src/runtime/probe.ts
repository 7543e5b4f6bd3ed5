/**
 * Which OCI runtime can run containers on this host, and why. Probing reads a few files (no spawn) so it
 * can run on every CLI invocation.
 */
import { existsSync, readFileSync, statfsSync } from 'node:fs';
import { helperBinary } from '../sys/helper-binary.ts';

export type CgroupMode = 'v2' | 'hybrid' | 'v1';

export interface CgroupInfo {
  mode: CgroupMode;
  /** The cgroup version the runtime manages: 2 only on a pure v2 host. */
  version: 1 | 2;
  /** Controllers the v2 hierarchy holds (hybrid or v2). */
  v2Controllers: string[];
}

const CGROUP2_SUPER_MAGIC = 0x63677270;

export function cgroupInfo(): CgroupInfo {
  if (statfsSync('/sys/fs/cgroup').type === CGROUP2_SUPER_MAGIC) {
    return { mode: 'v2', version: 2, v2Controllers: readControllers('/sys/fs/cgroup') };
  }
  if (existsSync('/sys/fs/cgroup/unified/cgroup.controllers')) {
    return { mode: 'hybrid', version: 1, v2Controllers: readControllers('/sys/fs/cgroup/unified') };
  }
  return { mode: 'v1', version: 1, v2Controllers: [] };
}

function readControllers(dir: string): string[] {
  try {
    return readFileSync(`${dir}/cgroup.controllers`, 'utf8').trim().split(/\s+/).filter(Boolean);
  } catch {
    return [];
  }
}

export interface RuntimeCandidate {
  /** crun and runc are built in; other names come from the engine's configuration. */
  name: string;
  path: string;
  /** Global options the runtime is run with (from the configuration). */
  runtimeArgs: string[];
  /** A program the runtime is run through, with the runtime's path as its first argument. */
  launcher?: string;
  /** Which runtime it is at heart (a configured one is recognised by its binary's name), for its probes. */
  kind: 'crun' | 'runc' | 'other';
  usable: boolean;
  /** Why it can or cannot be used, in one line. */
  reason: string;
}

const PATHS: Record<'crun' | 'runc', string[]> = {
  crun: ['/usr/bin/crun', '/usr/local/bin/crun'],
  runc: ['/usr/sbin/runc', '/usr/bin/runc', '/usr/local/sbin/runc', '/usr/local/bin/runc'],
};

/** A runtime named in the engine's configuration. */
export interface RuntimeConfig {
  path: string;
  runtimeArgs: string[];
}

function kindOf(path: string): RuntimeCandidate['kind'] {
  const base = path.slice(path.lastIndexOf('/') + 1);
  return base === 'crun' || base === 'runc' ? base : 'other';
}

/**
 * How crun runs here: directly, through berth-v1-view (src/runtime/v1-view.c) on a hybrid host whose v2
 * hierarchy holds controllers (crun refuses that layout and takes the host for v1 where the hierarchy is
 * not mounted), or not at all when that program is not built.
 */
function crunOnHybrid(cg: CgroupInfo, v1View: string | null, rootless: boolean): { launcher?: string; refusal?: string; note?: string } {
  if (cg.mode !== 'hybrid' || cg.v2Controllers.length === 0) return {};
  const held = cg.v2Controllers.join(', ');
  if (!v1View) return { refusal: `crun refuses hybrid cgroups while the v2 hierarchy at /sys/fs/cgroup/unified holds controllers (${held}), and berth-v1-view, which hides it, is not built (run scripts/build)` };
  // An ordinary user's namespace cannot unmount the host's hierarchy (it is locked there): the launcher covers it.
  const how = rootless ? 'with the v2 hierarchy at /sys/fs/cgroup/unified covered by an empty tmpfs' : 'without the v2 hierarchy at /sys/fs/cgroup/unified';
  return { launcher: v1View, note: `crun runs here in a mount namespace ${how}, which it refuses while it holds controllers (${held}: left unmanaged, no limit is set there)` };
}

/**
 * crun and runc where installed, then the configured runtimes (`configured`, from `file`): each usable or
 * not, with the reason. A configured name may replace a built-in one, as docker's daemon.json may.
 * `v1View` is berth-v1-view's path (null: not built), for crun on a hybrid host. `rootless`: for an ordinary
 * user's Berth (root of its user namespace), whose runtimes keep their state in its runtime dir.
 */
export function probeRuntimes(
  cg: CgroupInfo = cgroupInfo(),
  configured: Record<string, RuntimeConfig> = {},
  file = 'the configuration',
  v1View: string | null = helperBinary('berth-v1-view'),
  rootless?: { runDir: string },
): RuntimeCandidate[] {
  const judge = (name: string, path: string, runtimeArgs: string[], usableBecause: string): RuntimeCandidate => {
    const kind = kindOf(path);
    const base = { name, path, runtimeArgs, kind };
    if (!existsSync(path)) return { ...base, usable: false, reason: `${path} does not exist` };
    if (kind !== 'crun') return { ...base, usable: true, reason: usableBecause };
    const hybrid = crunOnHybrid(cg, v1View, rootless !== undefined);
    if (hybrid.refusal) return { ...base, usable: false, reason: hybrid.refusal };
    if (hybrid.launcher) return { ...base, launcher: hybrid.launcher, usable: true, reason: hybrid.note! };
    return { ...base, usable: true, reason: usableBecause };
  };
  const out: RuntimeCandidate[] = [];
  for (const name of ['crun', 'runc'] as const) {
    if (configured[name]) continue;
    const path = PATHS[name].find((p) => existsSync(p));
    if (!path) out.push({ name, path: '', runtimeArgs: [], kind: name, usable: false, reason: `${name} is not installed` });
    // An ordinary user's runtime keeps its state in the user's runtime dir (the host's /run is not its to write).
    else if (rootless) out.push(judge(name, path, ['--root', `${rootless.runDir}/${name}`], `${name} runs rootless with cgroup ${cg.mode} on this host`));
    else out.push(judge(name, path, [], `${name} supports cgroup ${cg.mode} on this host`));
  }
  for (const [name, rt] of Object.entries(configured)) out.push(judge(name, rt.path, rt.runtimeArgs, `configured in ${file}`));
  return out;
}

/** The default runtime: crun where it works (it starts containers faster), else runc. */
export function chooseRuntime(cands: RuntimeCandidate[]): { chosen?: RuntimeCandidate; why: string } {
  const crun = cands.find((c) => c.name === 'crun')!;
  const runc = cands.find((c) => c.name === 'runc')!;
  if (crun.usable) return { chosen: crun, why: `crun: ${crun.reason}; preferred for its faster start` };
  if (runc.usable) return { chosen: runc, why: `runc: ${crun.reason}` };
  return { why: `no usable OCI runtime: ${crun.reason}; ${runc.reason}` };
}
