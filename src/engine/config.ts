/**
 * CreateOptions (what a user asks for, from any face) merged with the image into a ContainerConfig.
 * Every check that can fail runs here, before anything is written.
 */
import { existsSync } from 'node:fs';
import { posix } from 'node:path';
import { InvalidArgument, NotSupported } from '../errors.ts';
import { validateLogConfig } from '../logs/drivers.ts';
import type { ImageRow } from '../store/images.ts';
import type { ContainerConfig, IdMap, MountSpec, Rlimit } from '../types.ts';
import { mergeEnv } from '../runtime/spec/process-env.ts';
import { clampRlimits, defaultRlimits, parseUlimit, readHostRlimits } from '../runtime/spec/rlimits.ts';
import { parseSignal } from './signals.ts';
import { validateRestartPolicy } from './restart-policy.ts';
import { resolveHealth, type HealthInput } from './healthcheck.ts';
import { parseGroup, resolveUser } from './user.ts';
import { appended, keepIdLines } from './keep-id.ts';
import type { RootlessIds } from '../sys/user-namespace.ts';
import { resolveIsolation, type IsolationOptions } from './isolation.ts';
import { resolveNetworking, type NetworkOptions } from './net-config.ts';
import type { NetworkRow } from '../store/networks.ts';
import type { ContainerRow } from '../store/containers.ts';
import { mergeMounts, parseMount, parseTmpfs, parseVolume } from './mounts.ts';
import type { VolumeCreateOptions } from '../volume/store.ts';
import { resolveResources, validateOomScoreAdj, type HostFacts, type ResourceOptions } from './resources.ts';

/** What a container is asked to be. Field names follow docker's flags; resource limits come from ResourceOptions. */
export interface CreateOptions extends ResourceOptions, IsolationOptions, NetworkOptions {
  image: string;
  name?: string;
  /** Replaces the image's Cmd. */
  cmd?: string[];
  /** `--expose PORT[/PROTO]` (a range `8000-8010` too): exposed beside the image's, for `-P` and inspect. */
  expose?: string[];
  /** Replaces the image's Entrypoint; `[]` or `['']` clears it. */
  entrypoint?: string[];
  env?: string[];
  workdir?: string;
  user?: string;
  hostname?: string;
  tty?: boolean;
  openStdin?: boolean;
  /** Close stdin when the first attached client detaches (docker's StdinOnce). */
  stdinOnce?: boolean;
  readonlyRootfs?: boolean;
  /** `-v`: `/host:/ctr[:opts]`, `NAME:/ctr[:opts]` or `/ctr` (an anonymous volume). */
  volumes?: string[];
  /** `--mount type=bind|volume|tmpfs,…` */
  mounts?: string[];
  /** `--volumes-from CONTAINER[:ro|rw]`: resolved by the engine into `inheritedMounts`. */
  volumesFrom?: string[];
  /** `/ctr[:opts]` */
  tmpfs?: string[];
  /** `name=soft[:hard]` */
  ulimits?: string[];
  init?: boolean;
  stopSignal?: string;
  stopTimeout?: number;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  runtime?: string;
  autoRemove?: boolean;
  /** docker's Config.Healthcheck (`--health-*`, `--no-healthcheck`), over the image's HEALTHCHECK. */
  healthcheck?: HealthInput;
  /** docker's RestartPolicy (checked by validateRestartPolicy); absent is `no`. */
  restartPolicy?: { name?: string; maximumRetryCount?: number };
  /** -1000–1000. */
  oomScoreAdj?: number;
  /** Parent cgroup (default /berth). */
  cgroupParent?: string;
  /** `disabled` runs without a cgroup (crun only). */
  cgroups?: 'enabled' | 'disabled';
  /** `--domainname`: the container's NIS domain name (its own UTS namespace). */
  domainname?: string;
  /** HostConfig.ConsoleSize: [rows, columns] of the terminal at start. */
  consoleSize?: [number, number];
  /** docker's Config.AttachStdin/Stdout/Stderr: what the creating client attaches. */
  attach?: { stdin: boolean; stdout: boolean; stderr: boolean };
  /** `--storage-opt k=v` (HostConfig.StorageOpt): only `size`, refused where the backing filesystem cannot. */
  storageOpt?: Record<string, string>;
  /** `--gpus` (HostConfig.DeviceRequests): a device driver's devices; none is available. */
  deviceRequests?: unknown[];
  /** json-file, local, k8s-file, journald or none; absent: the engine's default (`log-driver`). */
  logDriver?: string;
  /** `--log-opt k=v`: the driver's options (src/logs/drivers.ts). */
  logOpts?: Record<string, string>;
  /** `--pod NAME|ID`: join the pod's shared namespaces and cgroup (src/engine/pods/member.ts). */
  pod?: string;
  /** The pod this container is the infra container of (set by `pod create` only). */
  podInfra?: string;
  /** A CRI client's metadata (src/cri/), kept with the container. */
  cri?: import('../types.ts').CriContainerMeta;
}

export interface ImageAccess {
  readFile(img: ImageRow, path: string): string | null;
}

export interface BuildContext {
  images: ImageAccess;
  runtime: string;
  host: HostFacts;
  /** Mounts of the `--volumes-from` containers, already in the mode asked for. */
  inherited?: MountSpec[];
  /** A fresh name for an anonymous volume. */
  newVolumeName: () => string;
  /** The full id of a container reference (for `--pid container:x` and the like). */
  containerId: (ref: string) => string;
  cgroupVersion: 1 | 2;
  /** Host ids other containers' user namespaces use. */
  usedIds: () => { uid: IdMap[]; gid: IdMap[] };
  /** The ids of an ordinary user's namespace the engine runs in (for keep-id); undefined for the host's root. */
  rootless?: RootlessIds;
  /** The network a name refers to (throws NotFound). */
  network: (name: string) => NetworkRow;
  /** The container a reference names (throws NotFound): `--link`'s targets. */
  container?: (ref: string) => ContainerRow;
  /** The engine's default log driver and options (`log-driver`, `log-opts`). */
  logDefaults: LogDefaults;
  /** The filesystem containers' layers live on (for `--storage-opt size`). */
  storageFs: () => { type: string; projectQuota: boolean };
}

export interface LogDefaults {
  driver: string;
  options: Record<string, string>;
}

export function buildConfig(
  opts: CreateOptions,
  img: ImageRow,
  ctx: BuildContext,
): { config: ContainerConfig; warnings: string[]; volumes: VolumeCreateOptions[] } {
  const { images, runtime, host } = ctx;
  const ic = img.config.config;
  let entrypoint = opts.entrypoint ?? ic.Entrypoint ?? null;
  if (entrypoint && (entrypoint.length === 0 || (entrypoint.length === 1 && entrypoint[0] === ''))) entrypoint = null;
  // A new entrypoint drops the image's Cmd, as docker does.
  const cmd = opts.cmd && opts.cmd.length > 0 ? opts.cmd : opts.entrypoint !== undefined ? null : (ic.Cmd ?? null);
  const args = [...(entrypoint ?? []), ...(cmd ?? [])];
  if (args.length === 0) throw new InvalidArgument('no command specified');

  for (const e of opts.env ?? []) if (e.startsWith('=') || e === '') throw new InvalidArgument(`invalid environment variable: ${e}`);
  if ((opts.deviceRequests ?? []).length > 0) throw noDeviceDriver(opts.deviceRequests!);
  if (opts.storageOpt && Object.keys(opts.storageOpt).length > 0) checkStorageOpt(opts.storageOpt, ctx.storageFs);
  // Config.Env as docker keeps it: the image's, under the user's, names without a value included.
  const env = mergeEnv(ic.Env ?? [], opts.env ?? []);
  const cwd = opts.workdir || ic.WorkingDir || '/';
  if (!posix.isAbsolute(cwd)) throw new InvalidArgument(`the working directory '${cwd}' is invalid, it needs to be an absolute path`);

  const isolation = resolveIsolation(opts, { containerId: ctx.containerId, init: opts.init ?? false, hostname: opts.hostname !== undefined, cgroupVersion: ctx.cgroupVersion, usedIds: ctx.usedIds, rootless: ctx.rootless });
  // keep-id: the user's own ids unless --user says otherwise, found in the lines it adds to the image's files.
  const kept = isolation.userns?.keepId;
  const userSpec = opts.user ?? (kept ? `${kept.uid}:${kept.gid}` : (ic.User ?? ''));
  let groupText = images.readFile(img, '/etc/group');
  let passwdText = images.readFile(img, '/etc/passwd');
  if (kept) {
    const lines = keepIdLines(passwdText, groupText, kept);
    passwdText = appended(passwdText, lines.passwd);
    groupText = appended(groupText, lines.group);
  }
  const u = resolveUser(userSpec, passwdText, groupText);
  const additionalGids = [...new Set([...u.additionalGids, ...isolation.groupAdd.map((g) => groupId(g, groupText))])];

  const volumes: VolumeCreateOptions[] = [];
  const fromMountFlag = (opts.mounts ?? []).map((spec) => {
    const r = parseMount(spec, ctx.newVolumeName);
    if (r.volume) volumes.push(r.volume);
    return r.mount;
  });
  const user = [...(opts.volumes ?? []).map((v) => parseVolume(v, ctx.newVolumeName)), ...fromMountFlag, ...(opts.tmpfs ?? []).map(parseTmpfs)];
  const mounts = mergeMounts(user, ctx.inherited ?? [], Object.keys(ic.Volumes ?? {}), ctx.newVolumeName);
  for (const m of mounts) {
    if (m.type === 'volume' && !volumes.some((v) => v.name === m.source)) volumes.push({ name: m.source, anonymous: m.anonymous ?? false });
  }

  const hostLimits = readHostRlimits();
  const requested: Rlimit[] = (opts.ulimits ?? []).map(parseUlimit);
  const rlimits = mergeRlimits(defaultRlimits(hostLimits), clampRlimits(requested, hostLimits));

  const { resources, warnings } = resolveResources(opts, {}, host);
  const exposedPorts = exposedOf(Object.keys(ic.ExposedPorts ?? {}), opts.expose ?? [], opts.publish ?? []);
  const networking = resolveNetworking(opts, isolation, exposedPorts, ctx.network, (m) => warnings.push(m), ctx.container);
  const cgroupParent = opts.cgroupParent === undefined ? undefined : normalizeCgroupParent(opts.cgroupParent);
  const restartPolicy = validateRestartPolicy(opts.restartPolicy ?? {});
  const healthcheck = resolveHealth(opts.healthcheck, ic.Healthcheck as HealthInput | undefined);
  if (opts.autoRemove && restartPolicy.name !== 'no') throw new InvalidArgument("can't create 'AutoRemove' container with restart policy");
  const stopTimeout = opts.stopTimeout ?? 10;
  if (!Number.isInteger(stopTimeout) || stopTimeout < -1) throw new InvalidArgument(`invalid stop timeout: ${opts.stopTimeout}`);

  const config: ContainerConfig = {
    image: opts.image,
    imageId: img.id,
    args,
    entrypoint,
    cmd,
    env,
    home: u.home || '/',
    cwd,
    user: userSpec,
    uid: u.uid,
    gid: u.gid,
    additionalGids,
    hostname: opts.hostname ?? '',
    tty: opts.tty ?? false,
    openStdin: opts.openStdin ?? false,
    stdinOnce: opts.stdinOnce ?? false,
    readonlyRootfs: opts.readonlyRootfs ?? false,
    mounts,
    rlimits,
    ulimits: requested,
    ...(exposedPorts.length > 0 ? { exposedPorts } : {}),
    ...((opts.volumesFrom ?? []).length > 0 ? { volumesFrom: [...opts.volumesFrom!] } : {}),
    resources,
    oomScoreAdj: validateOomScoreAdj(opts.oomScoreAdj),
    cgroupParent,
    cgroups: opts.cgroups ?? 'enabled',
    ...logConfig(opts.logDriver, opts.logOpts ?? {}, ctx.logDefaults),
    labels: { ...(ic.Labels ?? {}), ...(opts.labels ?? {}) },
    annotations: { ...(opts.annotations ?? {}) },
    ...(opts.domainname ? { domainname: validateDomainname(opts.domainname) } : {}),
    ...(opts.attach ? { attach: { ...opts.attach } } : {}),
    ...(opts.consoleSize && opts.tty ? { consoleSize: [opts.consoleSize[0], opts.consoleSize[1]] as [number, number] } : {}),
    stopSignal: parseSignal(opts.stopSignal ?? ic.StopSignal ?? 'SIGTERM'),
    stopTimeout,
    init: opts.init ?? false,
    autoRemove: opts.autoRemove ?? false,
    restartPolicy,
    ...(healthcheck ? { healthcheck } : {}),
    ...(opts.cri ? { cri: opts.cri } : {}),
    runtime,
    isolation,
    networking,
  };
  return { config, warnings, volumes };
}

/**
 * The driver and options a container gets, merged with the engine's defaults as docker merges them: no
 * driver means the default one, and the default options fill in what a container of that driver left out.
 */
function logConfig(driver: string | undefined, opts: Record<string, string>, defaults: LogDefaults): Pick<ContainerConfig, 'logDriver' | 'logOptions'> {
  const chosen = driver || defaults.driver;
  const options = chosen === defaults.driver ? { ...defaults.options, ...opts } : { ...opts };
  validateLogConfig(chosen, options);
  if (chosen === 'journald' && !existsSync('/run/systemd/journal/socket')) {
    throw new InvalidArgument('log driver journald: no journald on this host (/run/systemd/journal/socket is missing)');
  }
  return { logDriver: chosen as ContainerConfig['logDriver'], logOptions: options };
}

/** A NIS domain name as the kernel takes it: up to 64 bytes, no NUL. */
function validateDomainname(d: string): string {
  if (Buffer.byteLength(d) > 64 || d.includes('\0')) throw new InvalidArgument(`invalid domainname ${JSON.stringify(d)}: at most 64 bytes`);
  return d;
}

/** `--gpus` and other device requests: Berth has no device driver (docker's words where it finds none). */
function noDeviceDriver(requests: unknown[]): NotSupported {
  const first = (requests[0] ?? {}) as { Driver?: string; Capabilities?: string[][] };
  const caps = (first.Capabilities ?? [['gpu']]).map((c) => `[${c.join(' ')}]`).join(' ');
  return new NotSupported(`could not select device driver "${first.Driver ?? ''}" with capabilities: [${caps}]: Berth has no GPU or other device driver (use --device for a host device)`);
}

/**
 * `--storage-opt size=`: overlay can bound a container's layer only with project quotas on XFS (docker's
 * rule); Berth refuses every other option, and the size where the filesystem has no project quota.
 */
function checkStorageOpt(o: Record<string, string>, fs: () => { type: string; projectQuota: boolean }): void {
  for (const k of Object.keys(o)) if (k !== 'size') throw new InvalidArgument(`unknown option ${k} for the overlay storage driver`);
  const { type, projectQuota } = fs();
  if (type !== 'xfs' || !projectQuota) {
    throw new InvalidArgument(`--storage-opt is supported only for overlay over xfs with 'pquota' mount option (the containers' filesystem is ${type}${type === 'xfs' ? ' without pquota' : ''})`);
  }
  throw new NotSupported('--storage-opt size: Berth does not set overlay project quotas yet');
}

/** `--group-add`: a number, or a group the image's /etc/group names. */
function groupId(g: string, groupText: string | null): number {
  if (/^\d+$/.test(g)) return Number(g);
  const found = parseGroup(groupText).find((e) => e.name === g);
  if (!found) throw new InvalidArgument(`unable to find group ${g}: no matching entries in group file`);
  return found.gid;
}

/** `--cgroup-parent`: an absolute cgroup path without `..` (relative ones are taken from the root, as runc does). */
function normalizeCgroupParent(p: string): string {
  const norm = posix.normalize(`/${p}`);
  if (p === '' || norm.split('/').includes('..') || /[\s:]/.test(p)) throw new InvalidArgument(`invalid --cgroup-parent: ${p}`);
  return norm.replace(/\/+$/, '') || '/';
}

function mergeRlimits(defaults: Rlimit[], requested: Rlimit[]): Rlimit[] {
  const m = new Map(defaults.map((r) => [r.type, r]));
  for (const r of requested) m.set(r.type, r);
  return [...m.values()];
}

export { parseTmpfs, parseVolume } from './mounts.ts';

/**
 * docker's Config.ExposedPorts: the image's, the `--expose` ones and every published container port, as
 * `PORT/PROTO` (tcp when none is named), each once, in that order.
 */
function exposedOf(image: string[], expose: string[], publish: string[]): string[] {
  const out = new Set<string>(image);
  for (const e of expose) {
    const m = /^(\d+)(?:-(\d+))?(?:\/(tcp|udp|sctp))?$/i.exec(e);
    if (!m) throw new InvalidArgument(`invalid range format for --expose: ${e}`);
    const [from, to] = [Number(m[1]), Number(m[2] ?? m[1])];
    if (from < 1 || to > 65535 || to < from) throw new InvalidArgument(`invalid range format for --expose: ${e}`);
    for (let p = from; p <= to; p++) out.add(`${p}/${(m[3] ?? 'tcp').toLowerCase()}`);
  }
  for (const p of publish) {
    const ctr = /(\d+(?:-\d+)?)(?:\/(tcp|udp|sctp))?$/i.exec(p);
    if (ctr && !ctr[1]!.includes('-')) out.add(`${ctr[1]}/${(ctr[2] ?? 'tcp').toLowerCase()}`);
  }
  return [...out];
}
