/**
 * ContainerConfig → OCI runtime-spec 1.0.2 config.json, with docker's defaults. Pure: everything
 * about the host comes in through SpecContext.
 */
import { NotSupported } from '../../errors.ts';
import type { ContainerConfig, OciHooks, Resources, Rlimit } from '../../types.ts';
import { DEFAULT_CAPABILITIES } from './capabilities.ts';
import { defaultDeviceRules } from './devices.ts';
import { buildMounts, type OciMount } from './mounts.ts';
import { MASKED_PATHS, READONLY_PATHS } from './paths.ts';
import { clampRlimits, defaultRlimits, type HostRlimits } from './rlimits.ts';
import { ociResources, type OciResources } from './resources.ts';

export type { OciResources } from './resources.ts';

export type { DeviceCgroupRule } from './devices.ts';
export type { OciMount } from './mounts.ts';
export type { HostRlimits, RlimitPair } from './rlimits.ts';

export const OCI_VERSION = '1.0.2';
/** Where the init binary (ctx.initPath) is bound inside the container. */
export const INIT_DESTINATION = '/run/berth-init';

export type NamespaceType = 'pid' | 'network' | 'mount' | 'ipc' | 'uts' | 'user' | 'cgroup';

export interface OciNamespace {
  type: NamespaceType;
  path?: string;
}

export interface OciIdMapping {
  containerID: number;
  hostID: number;
  size: number;
}

export interface OciLinuxDevice {
  path: string;
  type: 'c' | 'b' | 'u' | 'p';
  major: number;
  minor: number;
  fileMode?: number;
  uid?: number;
  gid?: number;
}

export interface OciSpec {
  ociVersion: string;
  process: {
    terminal: boolean;
    user: { uid: number; gid: number; additionalGids: number[] };
    args: string[];
    env: string[];
    cwd: string;
    capabilities: {
      bounding: string[];
      effective: string[];
      permitted: string[];
      inheritable?: string[];
      ambient?: string[];
    };
    rlimits: Rlimit[];
    noNewPrivileges?: boolean;
    oomScoreAdj?: number;
  };
  root: { path: string; readonly: boolean };
  hostname: string;
  mounts: OciMount[];
  hooks?: OciHooks;
  annotations: Record<string, string>;
  linux: {
    namespaces: OciNamespace[];
    uidMappings?: OciIdMapping[];
    gidMappings?: OciIdMapping[];
    resources: OciResources;
    cgroupsPath: string;
    maskedPaths: string[];
    readonlyPaths: string[];
    devices?: OciLinuxDevice[];
    sysctl?: Record<string, string>;
    /** The propagation of the container's `/`: rslave or rshared when a bind asks for it, as docker does. */
    rootfsPropagation?: string;
  };
}

export interface SpecContext {
  /** Absolute path of the mounted rootfs. */
  rootfs: string;
  cgroupsPath: string;
  cgroupVersion: 1 | 2;
  /** From readHostRlimits(): requests above these hard limits are refused. */
  hostRlimits: HostRlimits;
  /** Host path of a static init (e.g. /usr/bin/catatonit); required when cfg.init. */
  initPath?: string;
  hooks?: OciHooks;
  /** Join this network namespace instead of creating an empty one (e.g. one prepared for CNI). */
  netnsPath?: string;
}

function namespaces(ctx: SpecContext): OciNamespace[] {
  const net: OciNamespace = ctx.netnsPath ? { type: 'network', path: ctx.netnsPath } : { type: 'network' };
  const ns: OciNamespace[] = [{ type: 'pid' }, net, { type: 'ipc' }, { type: 'uts' }, { type: 'mount' }];
  // docker's default cgroupns: private on cgroup v2, host on v1.
  if (ctx.cgroupVersion === 2) ns.push({ type: 'cgroup' });
  return ns;
}

/** Merge defaults with the user's limits (the user's win per type), refusing any above the host's. */
function rlimits(requested: readonly Rlimit[], host: HostRlimits): Rlimit[] {
  const checked = clampRlimits(requested, host);
  const byType = new Map<string, Rlimit>();
  for (const r of [...defaultRlimits(host), ...checked]) byType.set(r.type, r);
  return [...byType.values()];
}

function resources(r: Resources, disabled: boolean): OciResources {
  // Without a cgroup (--cgroups disabled) limits cannot apply; the device list still names the nodes.
  if (disabled) return { devices: defaultDeviceRules() };
  const out: OciResources = { devices: defaultDeviceRules(), ...ociResources(r) };
  if (out.pids?.limit === -1) delete out.pids; // a new cgroup is unlimited already
  return out;
}

/**
 * A slave or shared bind only receives host mounts if the container's `/` propagates them too: the
 * strongest propagation any bind asks for becomes the root's.
 */
function rootfsPropagation(cfg: ContainerConfig): string | undefined {
  const asked = cfg.mounts.flatMap((m) => (m.type === 'tmpfs' ? [] : m.options));
  if (asked.some((o) => o === 'shared' || o === 'rshared')) return 'rshared';
  if (asked.some((o) => o === 'slave' || o === 'rslave')) return 'rslave';
  return undefined;
}

export function buildSpec(cfg: ContainerConfig, ctx: SpecContext): OciSpec {
  let args = [...cfg.args];
  const initMounts: OciMount[] = [];
  if (cfg.init) {
    if (!ctx.initPath) throw new NotSupported('--init: no init binary (catatonit or tini) found on this host');
    initMounts.push({ destination: INIT_DESTINATION, type: 'bind', source: ctx.initPath, options: ['bind', 'ro', 'rprivate'] });
    args = [INIT_DESTINATION, '--', ...args];
  }
  const spec: OciSpec = {
    ociVersion: OCI_VERSION,
    process: {
      terminal: cfg.tty,
      user: { uid: cfg.uid, gid: cfg.gid, additionalGids: [...cfg.additionalGids] },
      args,
      env: [...cfg.env],
      cwd: cfg.cwd,
      capabilities: {
        bounding: [...DEFAULT_CAPABILITIES],
        effective: [...DEFAULT_CAPABILITIES],
        permitted: [...DEFAULT_CAPABILITIES],
      },
      rlimits: rlimits(cfg.rlimits, ctx.hostRlimits),
      noNewPrivileges: false,
      ...(cfg.oomScoreAdj !== undefined ? { oomScoreAdj: cfg.oomScoreAdj } : {}),
    },
    root: { path: ctx.rootfs, readonly: cfg.readonlyRootfs },
    hostname: cfg.hostname,
    mounts: buildMounts(cfg.mounts, initMounts),
    annotations: { ...cfg.annotations },
    linux: {
      namespaces: namespaces(ctx),
      resources: resources(cfg.resources, cfg.cgroups === 'disabled'),
      cgroupsPath: ctx.cgroupsPath,
      maskedPaths: [...MASKED_PATHS],
      readonlyPaths: [...READONLY_PATHS],
    },
  };
  if (ctx.hooks && Object.keys(ctx.hooks).length > 0) spec.hooks = structuredClone(ctx.hooks);
  const propagation = rootfsPropagation(cfg);
  if (propagation) spec.linux.rootfsPropagation = propagation;
  return spec;
}
