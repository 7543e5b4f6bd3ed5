/**
 * ContainerConfig → OCI runtime-spec 1.0.2 config.json, with docker's defaults. Pure: everything
 * about the host comes in through SpecContext.
 */
import { processEnv } from './process-env.ts';
import { NotSupported } from '../../errors.ts';
import type { ContainerConfig, Isolation, OciHooks, Resources, Rlimit } from '../../types.ts';
import { DEFAULT_CAPABILITIES } from './capabilities.ts';
import { defaultDeviceRules } from './devices.ts';
import { buildMounts, type OciMount } from './mounts.ts';
import { MASKED_PATHS, READONLY_PATHS } from './paths.ts';
import { clampRlimits, defaultRlimits, type HostRlimits } from './rlimits.ts';
import { ociResources, type OciResources, type ResourceHost } from './resources.ts';
import { defaultSeccomp, type OciSeccomp } from './seccomp.ts';

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
    selinuxLabel?: string;
    apparmorProfile?: string;
  };
  root: { path: string; readonly: boolean };
  hostname: string;
  domainname?: string;
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
    seccomp?: OciSeccomp;
    mountLabel?: string;
    /** The propagation of the container's `/`: rslave or rshared when a bind asks for it, as docker does. */
    rootfsPropagation?: string;
  };
}

export interface SpecContext {
  /** Absolute path of the mounted rootfs. */
  rootfs: string;
  cgroupsPath: string;
  cgroupVersion: 1 | 2;
  /** The host has swap accounting (default true): without it the spec carries no swap limit at all. */
  swapLimit?: boolean;
  /** From readHostRlimits(): requests above these hard limits are refused. */
  hostRlimits: HostRlimits;
  /** Host path of a static init (e.g. /usr/bin/catatonit); required when cfg.init. */
  initPath?: string;
  hooks?: OciHooks;
  /** Join this network namespace instead of creating an empty one (e.g. one prepared for CNI). */
  netnsPath?: string;
  /** Namespaces shared with a running container (`--pid container:x`): /proc/<pid>/ns/<type> paths. */
  namespacePaths?: Partial<Record<NamespaceType, string>>;
  /** Host path bound at /dev/shm when the IPC namespace is shared (the host's /dev/shm, or the other container's). */
  shmSource?: string;
  /** Engine-made binds: /etc/hosts, /etc/resolv.conf, /etc/hostname. */
  extraMounts?: OciMount[];
}

/** docker's defaults, for a container made before isolation options existed. */
export function defaultIsolation(cgroupVersion: 1 | 2): Isolation {
  return {
    privileged: false, capAdd: [], capDrop: [], capabilities: [...DEFAULT_CAPABILITIES], noNewPrivileges: false,
    seccomp: 'default', maskedPaths: [...MASKED_PATHS], readonlyPaths: [...READONLY_PATHS], sysfsWritable: false,
    devices: [], deviceRules: [], sysctls: {}, pid: 'private', ipc: 'private', uts: 'private', network: 'none',
    cgroupns: cgroupVersion === 2 ? 'private' : 'host', shmSize: 64 * 1024 * 1024, groupAdd: [],
  };
}

/** Private namespaces are new, host ones absent, shared ones joined by path. */
function namespaces(iso: Isolation, ctx: SpecContext): OciNamespace[] {
  const ns: OciNamespace[] = [];
  const add = (type: NamespaceType, mode: string) => {
    if (mode === 'host') return;
    const given = mode.startsWith('ns:') ? mode.slice(3) : undefined;
    const path = given ?? (type === 'network' && ctx.netnsPath ? ctx.netnsPath : ctx.namespacePaths?.[type]);
    ns.push(path ? { type, path } : { type });
  };
  add('pid', iso.pid);
  add('network', iso.network);
  add('ipc', iso.ipc);
  add('uts', iso.uts);
  ns.push({ type: 'mount' });
  if (iso.userns) ns.push({ type: 'user' });
  // docker's default cgroupns: private on cgroup v2, host on v1 (where --cgroupns private asks for one).
  if (iso.cgroupns === 'private') ns.push({ type: 'cgroup' });
  return ns;
}

/** /sys writable for privileged containers; /dev/shm sized, or the shared IPC namespace's. */
function isolationMounts(iso: Isolation, ctx: SpecContext, mounts: OciMount[]): OciMount[] {
  return mounts.map((m) => {
    // sysfs may only be mounted by the user namespace that owns the network namespace: a mapped container
    // joining a netns the engine made gets the host's /sys bound read-only instead (as podman does).
    if (m.type === 'sysfs' && iso.userns && (ctx.netnsPath || ctx.namespacePaths?.network || iso.network.startsWith('ns:'))) {
      return { destination: '/sys', type: 'bind', source: '/sys', options: ['rbind', 'nosuid', 'noexec', 'nodev', 'ro', 'rprivate'] };
    }
    // A privileged container may write /sys and its cgroups, as docker's.
    if ((m.type === 'sysfs' || m.type === 'cgroup') && iso.sysfsWritable) {
      return { ...m, options: m.options.map((o) => (o === 'ro' ? 'rw' : o)) };
    }
    if (m.destination === '/dev/shm' && m.source === 'shm') {
      if (ctx.shmSource) return { destination: '/dev/shm', type: 'bind', source: ctx.shmSource, options: ['rbind', 'rprivate'] };
      return { ...m, options: m.options.map((o) => (o.startsWith('size=') ? `size=${Math.floor(iso.shmSize / 1024)}k` : o)) };
    }
    return m;
  });
}

function devices(iso: Isolation): OciLinuxDevice[] {
  return iso.devices.map((d) => ({ path: d.path, type: d.type, major: d.major, minor: d.minor, fileMode: d.fileMode, uid: d.uid, gid: d.gid }));
}

/** Merge defaults with the user's limits (the user's win per type), refusing any above the host's. */
function rlimits(requested: readonly Rlimit[], host: HostRlimits): Rlimit[] {
  const checked = clampRlimits(requested, host);
  const byType = new Map<string, Rlimit>();
  for (const r of [...defaultRlimits(host), ...checked]) byType.set(r.type, r);
  return [...byType.values()];
}

function resources(r: Resources, disabled: boolean, iso: Isolation, host: ResourceHost): OciResources {
  const rules = iso.privileged ? [{ allow: true, access: 'rwm' }] : [...defaultDeviceRules(), ...iso.deviceRules];
  // Without a cgroup (--cgroups disabled) limits cannot apply; the device list still names the nodes.
  if (disabled) return { devices: rules };
  const out: OciResources = { devices: rules, ...ociResources(r, host) };
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
  const iso = cfg.isolation ?? defaultIsolation(ctx.cgroupVersion);
  const caps = iso.capabilities;
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
      env: processEnv(cfg.env, cfg.home ?? '/'),
      cwd: cfg.cwd,
      capabilities: { bounding: [...caps], effective: [...caps], permitted: [...caps] },
      rlimits: rlimits(cfg.rlimits, ctx.hostRlimits),
      noNewPrivileges: iso.noNewPrivileges,
      ...(cfg.oomScoreAdj !== undefined ? { oomScoreAdj: cfg.oomScoreAdj } : {}),
    },
    root: { path: ctx.rootfs, readonly: cfg.readonlyRootfs },
    hostname: cfg.hostname,
    mounts: isolationMounts(iso, ctx, buildMounts(cfg.mounts, [...initMounts, ...(ctx.extraMounts ?? [])])),
    annotations: { ...cfg.annotations },
    linux: {
      namespaces: namespaces(iso, ctx),
      resources: resources(cfg.resources, cfg.cgroups === 'disabled', iso, { swapLimit: ctx.swapLimit ?? true }),
      cgroupsPath: ctx.cgroupsPath,
      maskedPaths: [...iso.maskedPaths],
      readonlyPaths: [...iso.readonlyPaths],
    },
  };
  if (iso.userns) {
    spec.linux.uidMappings = iso.userns.uidMappings.map((m) => ({ ...m }));
    spec.linux.gidMappings = iso.userns.gidMappings.map((m) => ({ ...m }));
  }
  if (iso.devices.length > 0) spec.linux.devices = devices(iso);
  if (Object.keys(iso.sysctls).length > 0) spec.linux.sysctl = { ...iso.sysctls };
  if (iso.seccomp === 'default' && !iso.privileged) spec.linux.seccomp = defaultSeccomp(caps);
  else if (typeof iso.seccomp === 'object') spec.linux.seccomp = structuredClone(iso.seccomp.profile) as OciSeccomp;
  if (iso.processLabel) spec.process.selinuxLabel = iso.processLabel;
  if (iso.mountLabel) spec.linux.mountLabel = iso.mountLabel;
  if (iso.apparmorProfile) spec.process.apparmorProfile = iso.apparmorProfile;
  // Only a container with its own UTS namespace may set a hostname (the runtime refuses otherwise).
  if (iso.uts !== 'private') spec.hostname = '';
  // The NIS domain name: spec.domainname where the runtime knows it, and the UTS namespace's
  // kernel.domainname sysctl, which runc 1.1 (no domainname field) applies too.
  if (cfg.domainname && iso.uts === 'private') {
    spec.domainname = cfg.domainname;
    spec.linux.sysctl = { 'kernel.domainname': cfg.domainname, ...spec.linux.sysctl };
  }
  if (ctx.hooks && Object.keys(ctx.hooks).length > 0) spec.hooks = structuredClone(ctx.hooks);
  const propagation = rootfsPropagation(cfg);
  if (propagation) spec.linux.rootfsPropagation = propagation;
  return spec;
}
