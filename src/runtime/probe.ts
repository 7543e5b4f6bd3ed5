/**
 * Which OCI runtime can run containers on this host, and why. Probing reads a few files (no spawn) so it
 * can run on every CLI invocation.
 */
import { existsSync, readFileSync, statfsSync } from 'node:fs';

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
  name: 'crun' | 'runc';
  path: string;
  usable: boolean;
  /** Why it can or cannot be used, in one line. */
  reason: string;
}

const PATHS: Record<'crun' | 'runc', string[]> = {
  crun: ['/usr/bin/crun', '/usr/local/bin/crun'],
  runc: ['/usr/sbin/runc', '/usr/bin/runc', '/usr/local/sbin/runc', '/usr/local/bin/runc'],
};

export function probeRuntimes(cg: CgroupInfo = cgroupInfo()): RuntimeCandidate[] {
  return (['crun', 'runc'] as const).map((name) => {
    const path = PATHS[name].find((p) => existsSync(p));
    if (!path) return { name, path: '', usable: false, reason: `${name} is not installed` };
    if (name === 'crun' && cg.mode === 'hybrid' && cg.v2Controllers.length > 0) {
      return {
        name,
        path,
        usable: false,
        reason:
          `crun refuses hybrid cgroups while the v2 hierarchy at /sys/fs/cgroup/unified holds controllers ` +
          `(${cg.v2Controllers.join(', ')})`,
      };
    }
    return { name, path, usable: true, reason: `${name} supports cgroup ${cg.mode} on this host` };
  });
}

/** The default runtime: crun where it works (it starts containers faster), else runc. */
export function chooseRuntime(cands: RuntimeCandidate[]): { chosen?: RuntimeCandidate; why: string } {
  const crun = cands.find((c) => c.name === 'crun')!;
  const runc = cands.find((c) => c.name === 'runc')!;
  if (crun.usable) return { chosen: crun, why: `crun: ${crun.reason}; preferred for its faster start` };
  if (runc.usable) return { chosen: runc, why: `runc: ${crun.reason}` };
  return { why: `no usable OCI runtime: ${crun.reason}; ${runc.reason}` };
}
