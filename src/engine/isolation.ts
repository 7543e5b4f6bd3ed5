/**
 * The isolation options of `create` (--privileged, --cap-add/--cap-drop, --security-opt, --device,
 * --device-cgroup-rule, --sysctl, --pid/--ipc/--uts/--network/--cgroupns, --shm-size, --group-add)
 * checked and resolved into a container's Isolation, before anything is written. At start, namespaces
 * shared with another container become /proc/<pid>/ns paths.
 */
import { existsSync } from 'node:fs';
import { isNamespaceFile } from '../network/netns.ts';
import { Conflict, InvalidArgument } from '../errors.ts';
import { DEFAULT_CAPABILITIES, heldCapabilities, tweakCapabilities } from '../runtime/spec/capabilities.ts';
import { deviceMappingRule, parseDevice, parseDeviceCgroupRule, privilegedDevices } from '../runtime/spec/devices.ts';
import type { NamespaceType, SpecContext } from '../runtime/spec/index.ts';
import { MASKED_PATHS, READONLY_PATHS } from '../runtime/spec/paths.ts';
import { loadSeccompProfile, readSeccompProfile } from '../runtime/spec/seccomp.ts';
import { parseSecurityOpts, selinuxLabels } from '../runtime/spec/security-opt.ts';
import { sysctlNamespace, validateSysctls } from '../runtime/spec/sysctl.ts';
import type { ContainerRow } from '../store/containers.ts';
import type { IdMap, Isolation, NamespaceMode } from '../types.ts';
import { autoMappings, keepIdMapping, parseUserns, readSubIdFiles, remapMappings } from '../runtime/spec/userns.ts';
import { isAlive } from '../sys/proc.ts';
import type { RootlessIds } from '../sys/user-namespace.ts';
import { hostUser } from './keep-id.ts';

export interface IsolationOptions {
  privileged?: boolean;
  capAdd?: string[];
  capDrop?: string[];
  /** `--security-opt`: seccomp=…, no-new-privileges, label=…, apparmor=…, systempaths=unconfined, mask=…, unmask=… */
  securityOpt?: string[];
  /** The API's HostConfig.MaskedPaths and ReadonlyPaths: the exact lists, instead of the defaults. */
  maskedPaths?: string[];
  readonlyPaths?: string[];
  /** `--device HOST[:CONTAINER][:PERMS]` */
  devices?: string[];
  /** `--device-cgroup-rule 'c 1:3 rwm'` */
  deviceCgroupRules?: string[];
  sysctls?: Record<string, string>;
  /** `host`, `container:<name|id>` or private (default) */
  pid?: string;
  /** `host`, `container:<name|id>`, `shareable` (its /dev/shm may be joined) or `private` (default) */
  ipc?: string;
  /** `host`, `container:<name|id>` (podman's; how a pod's containers share its hostname) or private (default) */
  uts?: string;
  /** `none` (default), `host` or `container:<name|id>` */
  network?: string;
  /** `host` or `private`; default host on cgroup v1, private on v2 */
  cgroupns?: string;
  /** /dev/shm size in bytes (default 64 MiB). */
  shmSize?: number;
  groupAdd?: string[];
  /**
   * `host` (default), `auto[:size=N]` or `remap[:USER]`: ids from /etc/subuid and /etc/subgid; for an ordinary
   * user, `keep-id`: the user's own ids the same inside.
   */
  userns?: string;
}

export interface IsolationContext {
  /** The full id of a container reference (throws NoSuchContainer). */
  containerId(ref: string): string;
  init: boolean;
  hostname: boolean;
  cgroupVersion: 1 | 2;
  /** Host ids other containers' user namespaces use (for `--userns auto`). */
  usedIds(): { uid: IdMap[]; gid: IdMap[] };
  /** The ids of an ordinary user's namespace the engine runs in; undefined for the host's root. */
  rootless?: RootlessIds;
}

/** `--userns`: the mappings of a user namespace, or undefined for the host's. */
function userNamespace(value: string | undefined, ctx: IsolationContext, privileged: boolean): Isolation['userns'] {
  const mode = parseUserns(value ?? '');
  if (mode.kind === 'host') return undefined;
  if (privileged) throw new InvalidArgument('--privileged and --userns cannot be combined: a privileged container uses the host user namespace');
  const r = ctx.rootless;
  if (mode.kind === 'keep-id') {
    // podman's words: keep-id needs the user's own namespace, whose ids it keeps; root has no such one.
    if (!r) throw new InvalidArgument('--userns keep-id is only supported in rootless mode (for an ordinary user): as root, use --userns auto or remap');
    const keepId = hostUser(r.uid, r.gid);
    return { mode: value!, uidMappings: keepIdMapping(r.uid, r.uidCount, 'uid'), gidMappings: keepIdMapping(r.gid, r.gidCount, 'gid'), keepId };
  }
  // An ordinary user's namespace holds its own ranges only, not root's or another user's, which auto and remap map.
  if (r) throw new InvalidArgument(`--userns ${value}: an ordinary user's containers take --userns keep-id or host (its own user namespace, the default)`);
  const { subuid, subgid } = readSubIdFiles();
  const m = mode.kind === 'remap' ? remapMappings(subuid, subgid, mode.user) : autoMappings(subuid, subgid, 'root', mode.size, ctx.usedIds(), 0);
  return { mode: value!, uidMappings: m.uidMappings, gidMappings: m.gidMappings };
}

function namespaceMode(flag: string, value: string | undefined, ctx: IsolationContext, extra: string[] = []): NamespaceMode {
  if (value === undefined || value === '' || value === 'private' || extra.includes(value)) return 'private';
  if (value === 'host') return 'host';
  if (value.startsWith('container:') && value.length > 10) return `container:${ctx.containerId(value.slice(10))}`;
  if (value.startsWith('ns:')) return `ns:${namespaceFile(flag, value)}`;
  throw new InvalidArgument(`invalid ${flag} mode: "${value}": use host, container:<name|id>, ns:<path>${['', ...extra].join(', ')} or private`);
}

/** The file of `ns:<path>` (podman's form): an absolute path to a namespace file, such as /proc/PID/ns/ipc. */
function namespaceFile(flag: string, value: string): string {
  const path = value.slice(3);
  const kind = { '--network': 'a network', '--ipc': 'an IPC', '--uts': 'a UTS', '--pid': 'a pid' }[flag] ?? 'a';
  if (!path.startsWith('/') || !isNamespaceFile(path)) throw new InvalidArgument(`invalid ${flag} ${value}: ${path} is not ${kind} namespace`);
  return path;
}

/** none, host, container:<id>; anything else (bridge, default, a network's name) is `bridge`. */
function networkMode(value: string | undefined, ctx: IsolationContext): Isolation['network'] {
  if (value === 'none') return 'none';
  if (value?.startsWith('ns:')) return `ns:${namespaceFile('--network', value)}`;
  if (value === 'host' || value?.startsWith('container:')) return namespaceMode('--network', value, ctx);
  return 'bridge';
}

/** Masked and read-only paths after systempaths=unconfined, unmask=… and mask=…. */
function systemPaths(o: ReturnType<typeof parseSecurityOpts>, privileged: boolean): { masked: string[]; readonly: string[] } {
  if (privileged || o.systempathsUnconfined) return { masked: [...(o.mask ?? [])], readonly: [] };
  const unmask = o.unmask ?? [];
  const masked = unmask.includes('ALL') ? [] : MASKED_PATHS.filter((p) => !unmask.includes(p));
  const readonly = unmask.includes('ALL') ? [] : READONLY_PATHS.filter((p) => !unmask.includes(p));
  return { masked: [...new Set([...masked, ...(o.mask ?? [])])], readonly };
}

/**
 * A sysctl is written into the namespace the container runs in. When that namespace is another
 * container's (`container:<id>`) or one named by path (`--network ns:<path>`), the write would change
 * that other owner's settings behind its back, so it is refused before anything is made. (podman leaves
 * its containers.conf default sysctls out of a shared namespace for the same reason, so as never to change
 * another container's namespace unasked; runc would write them.) Host namespaces are refused by
 * validateSysctls.
 */
function refuseJoinedSysctls(sysctls: Record<string, string>, modes: { network: string; ipc: string; uts: string }): void {
  const flag = { network: '--network', IPC: '--ipc', UTS: '--uts' } as const;
  for (const name of Object.keys(sysctls)) {
    const ns = sysctlNamespace(name);
    if (!ns) continue;
    const mode = ns === 'network' ? modes.network : ns === 'IPC' ? modes.ipc : modes.uts;
    const why = mode.startsWith('container:')
      ? `${flag[ns]} container:${mode.slice(10, 22)} shares that container's ${ns} namespace`
      : mode.startsWith('ns:') ? `${flag[ns]} ${mode} joins a ${ns} namespace Berth did not make` : undefined;
    if (why) throw new InvalidArgument(`sysctl '${name}' is not allowed: ${why}, and the sysctl would change it there`);
  }
}

export function resolveIsolation(opts: IsolationOptions, ctx: IsolationContext): Isolation {
  const privileged = opts.privileged ?? false;
  const sec = parseSecurityOpts(opts.securityOpt ?? []);
  const held = heldCapabilities();
  // docker ignores --cap-add/--cap-drop for a privileged container, but still refuses unknown names.
  const tweaked = tweakCapabilities(DEFAULT_CAPABILITIES, opts.capAdd ?? [], opts.capDrop ?? [], held);
  const capabilities = privileged ? held : tweaked;

  let seccomp: Isolation['seccomp'] = privileged || sec.seccomp === 'unconfined' ? 'unconfined' : 'default';
  if (!privileged && typeof sec.seccomp === 'object') {
    const profile = loadSeccompProfile(readSeccompProfile(sec.seccomp.file), capabilities);
    seccomp = profile ? { profile, path: sec.seccomp.file } : 'unconfined';
  }

  const pid = namespaceMode('--pid', opts.pid, ctx);
  const ipc: Isolation['ipc'] = opts.ipc === 'shareable' ? 'shareable' : namespaceMode('--ipc', opts.ipc, ctx, ['shareable']);
  const uts = namespaceMode('--uts', opts.uts, ctx);
  if (uts !== 'private' && ctx.hostname) throw new InvalidArgument('conflicting options: hostname and the UTS mode');
  const network = networkMode(opts.network, ctx);
  if (opts.cgroupns !== undefined && !['host', 'private', ''].includes(opts.cgroupns)) {
    throw new InvalidArgument(`invalid --cgroupns mode: "${opts.cgroupns}": use host or private`);
  }
  const sysctls = validateSysctls(opts.sysctls ?? {}, { hostNetwork: network === 'host', hostIpc: ipc === 'host', hostUts: uts === 'host' });
  refuseJoinedSysctls(sysctls, { network, ipc, uts });

  const mapped = (opts.devices ?? []).flatMap(parseDevice);
  const devices = privileged
    ? privilegedDevices().map((d) => ({ ...d, hostPath: d.path, access: 'rwm' }))
    : mapped.map((d) => ({ ...d }));
  const deviceRules = privileged ? [] : [...mapped.map(deviceMappingRule), ...(opts.deviceCgroupRules ?? []).map(parseDeviceCgroupRule)];

  const shmSize = opts.shmSize ?? 64 * 1024 * 1024;
  if (!Number.isInteger(shmSize) || shmSize <= 0) throw new InvalidArgument(`invalid --shm-size: ${opts.shmSize}: must be greater than 0`);

  const userns = userNamespace(opts.userns, ctx, privileged);
  // keep-id nests in the user's own namespace, which already owns none of the host's: the host's network adds no
  // power (podman allows it; the host's /sys is bound, as for any ordinary user's container with it), but the
  // host's pid and IPC namespaces need proc and mqueue mounts that no ordinary user's namespace may make.
  if (userns?.keepId && (pid === 'host' || ipc === 'host')) {
    throw new InvalidArgument("--userns keep-id cannot be combined with a host pid or ipc namespace: an ordinary user's namespace may not mount the host's proc or mqueue (--network host works)");
  }
  if (userns && !userns.keepId && (pid === 'host' || network === 'host' || ipc === 'host')) {
    throw new InvalidArgument('--userns cannot be combined with a host pid, ipc or network namespace');
  }
  const paths = systemPaths(sec, privileged);
  for (const [key, given] of [['masked', opts.maskedPaths], ['readonly', opts.readonlyPaths]] as const) {
    if (given === undefined || privileged) continue;
    const bad = given.find((p) => !p.startsWith('/'));
    if (bad !== undefined) throw new InvalidArgument(`invalid ${key} path ${JSON.stringify(bad)}: must be absolute`);
    paths[key] = [...given];
  }
  // Labels only where asked or where SELinux runs: a host without it has no policy to name.
  const wantLabels = sec.label !== undefined || existsSync('/sys/fs/selinux/enforce');
  // No `kvm`: podman labels a container container_kvm_t when its OCI runtime is VM-based (containers.conf's
  // runtime_supports_kvm: kata, krun), but Berth drives only crun and runc (Engine.driver refuses any other
  // name), whose containers are host processes, so container_t/container_init_t are always the right types.
  const labels = wantLabels ? selinuxLabels(sec.label, { privileged, init: ctx.init }) : {};
  return {
    privileged,
    capAdd: [...(opts.capAdd ?? [])],
    capDrop: [...(opts.capDrop ?? [])],
    capabilities,
    noNewPrivileges: sec.noNewPrivileges,
    seccomp,
    ...labels,
    ...(sec.apparmor ? { apparmorProfile: sec.apparmor } : {}),
    maskedPaths: paths.masked,
    readonlyPaths: paths.readonly,
    sysfsWritable: privileged,
    devices,
    deviceRules,
    ...((opts.deviceCgroupRules ?? []).length > 0 ? { deviceCgroupRules: [...opts.deviceCgroupRules!] } : {}),
    sysctls,
    pid,
    ipc,
    uts,
    network,
    // docker's default: private on cgroup v2, host on v1.
    cgroupns: opts.cgroupns === 'private' || opts.cgroupns === 'host' ? opts.cgroupns : ctx.cgroupVersion === 2 ? 'private' : 'host',
    shmSize,
    groupAdd: [...(opts.groupAdd ?? [])],
    securityOpt: [...(opts.securityOpt ?? [])],
    ...(userns ? { userns } : {}),
  };
}

const NS_FILE: Partial<Record<NamespaceType, string>> = { pid: 'pid', network: 'net', ipc: 'ipc', uts: 'uts' };

/**
 * Paths of the namespaces a container joins (`container:<id>` modes), and the /dev/shm it shares. The
 * other container must be running.
 */
export function sharedNamespaces(
  iso: Isolation,
  lookup: (id: string) => ContainerRow | undefined,
  shmDir: (id: string) => string,
): Pick<SpecContext, 'namespacePaths' | 'shmSource'> {
  const namespacePaths: Partial<Record<NamespaceType, string>> = {};
  let shmSource: string | undefined;
  const modes: [NamespaceType, string][] = [['pid', iso.pid], ['ipc', iso.ipc], ['uts', iso.uts], ['network', iso.network]];
  for (const [type, mode] of modes) {
    if (!mode.startsWith('container:')) continue;
    const other = lookup(mode.slice(10));
    if (!other || (other.state !== 'running' && other.state !== 'paused') || !isAlive(other.pid, other.pidStart)) {
      throw new Conflict(`cannot join the ${type} namespace of container ${mode.slice(10, 22)}: it is not running`);
    }
    if (type === 'ipc' && other.config.isolation?.ipc !== 'shareable') {
      throw new Conflict(`cannot join the IPC namespace of container ${other.name}: it is not shareable (create it with --ipc shareable)`);
    }
    namespacePaths[type] = `/proc/${other.pid}/ns/${NS_FILE[type]}`;
    // A mount cannot be bound from another mount namespace: a shareable container's /dev/shm is a
    // tmpfs the engine mounted on the host, which the joiner binds too.
    if (type === 'ipc') shmSource = shmDir(other.id);
  }
  if (iso.ipc === 'host') shmSource = '/dev/shm';
  return { namespacePaths, shmSource };
}
