/**
 * Docker's shapes: the one mapping from engine state to `inspect` JSON (the `ps` summary is ps-summary.ts).
 * Faces render these; they never read rows themselves.
 */
import { join } from 'node:path';
import { namesOnNetwork } from '../network/hosts.ts';
import { linksJson } from './links.ts';
import type { ContainerRow } from '../store/containers.ts';
import type { HealthConfig, HealthState, Isolation, Resources, Rlimit, ThrottleDevice } from '../types.ts';
import { dockerStatusOf, isLive, isUpOrRestarting } from './state.ts';

const ZERO_TIME = '0001-01-01T00:00:00Z';

const orNull = <T>(list: T[] | undefined): T[] | null => (list && list.length > 0 ? list : null);

/** HostConfig's isolation fields, as docker names them (`private` modes print as docker's defaults). */
function hostConfigIsolation(iso: Isolation | undefined): Record<string, unknown> {
  const mode = (m: string | undefined, dflt = '') => (!m || m === 'private' ? dflt : m);
  return {
    Privileged: iso?.privileged ?? false,
    CapAdd: orNull(iso?.capAdd),
    CapDrop: orNull(iso?.capDrop),
    SecurityOpt: orNull(iso?.securityOpt),
    Devices: orNull((iso?.privileged ? [] : (iso?.devices ?? [])).map((d) => ({ PathOnHost: d.hostPath, PathInContainer: d.path, CgroupPermissions: d.access }))),
    DeviceCgroupRules: orNull(iso?.deviceCgroupRules),
    Sysctls: iso && Object.keys(iso.sysctls).length > 0 ? iso.sysctls : undefined,
    PidMode: mode(iso?.pid),
    IpcMode: mode(iso?.ipc, 'private'),
    UTSMode: mode(iso?.uts),
    CgroupnsMode: iso?.cgroupns ?? 'host',
    UsernsMode: iso?.userns?.mode ?? '',
    ShmSize: iso?.shmSize ?? 64 * 1024 * 1024,
    GroupAdd: orNull(iso?.groupAdd),
    MaskedPaths: iso?.maskedPaths ?? [],
    ReadonlyPaths: iso?.readonlyPaths ?? [],
  };
}

/** docker's State.Health. */
export function dockerHealth(h: HealthState) {
  return {
    Status: h.status,
    FailingStreak: h.failingStreak,
    Log: h.log.map((l) => ({ Start: l.start, End: l.end, ExitCode: l.exitCode, Output: l.output })),
  };
}

/** docker's Config.Healthcheck: the test, and the durations and retries that are set (zero ones are left out). */
export function dockerHealthConfig(h: HealthConfig) {
  const out: Record<string, unknown> = { Test: h.test };
  if (h.interval) out.Interval = h.interval;
  if (h.timeout) out.Timeout = h.timeout;
  if (h.startPeriod) out.StartPeriod = h.startPeriod;
  if (h.startInterval) out.StartInterval = h.startInterval;
  if (h.retries) out.Retries = h.retries;
  return out;
}

const devices = (l: ThrottleDevice[] | undefined) => l?.map((d) => ({ Path: d.path, Rate: d.rate })) ?? null;

/** Docker's HostConfig resource fields (zero values where unset, as docker shows them). */
export function hostConfigResources(r: Resources) {
  return {
    Memory: r.memory ?? 0,
    MemorySwap: r.memorySwap ?? (r.memory ? r.memory * 2 : 0),
    MemoryReservation: r.memoryReservation ?? 0,
    KernelMemory: r.kernelMemory ?? 0,
    MemorySwappiness: r.memorySwappiness ?? null,
    OomKillDisable: r.oomKillDisable ?? false,
    CpuShares: r.cpuShares ?? 0,
    NanoCpus: r.nanoCpus ?? 0,
    CpuPeriod: r.cpuPeriod ?? 0,
    CpuQuota: r.cpuQuota ?? 0,
    CpusetCpus: r.cpusetCpus ?? '',
    CpusetMems: r.cpusetMems ?? '',
    BlkioWeight: r.blkioWeight ?? 0,
    BlkioWeightDevice: r.blkioWeightDevice?.map((d) => ({ Path: d.path, Weight: d.weight })) ?? null,
    BlkioDeviceReadBps: devices(r.blkioDeviceReadBps),
    BlkioDeviceWriteBps: devices(r.blkioDeviceWriteBps),
    BlkioDeviceReadIOps: devices(r.blkioDeviceReadIOps),
    BlkioDeviceWriteIOps: devices(r.blkioDeviceWriteIOps),
    PidsLimit: r.pidsLimit ?? null,
  };
}

export interface InspectContext {
  root: string;
  logPath: string;
  lowerDirs: string[];
}

export function inspectJson(r: ContainerRow, ctx: InspectContext): Record<string, unknown> {
  const c = r.config;
  const iso = c.isolation;
  const dir = join(ctx.root, 'containers', r.id);
  const running = isLive(r.state);
  const tmpfs = c.mounts.filter((m) => m.type === 'tmpfs');
  return {
    Id: r.id,
    Created: r.createdAt,
    Path: c.args[0],
    Args: c.args.slice(1),
    State: {
      Status: dockerStatusOf(r),
      Running: isUpOrRestarting(r),
      Paused: r.state === 'paused',
      Restarting: dockerStatusOf(r) === 'restarting',
      OOMKilled: r.oomKilled,
      Dead: r.state === 'dead',
      Pid: running ? r.pid : 0,
      ExitCode: r.exitCode,
      Error: r.error,
      StartedAt: r.startedAt || ZERO_TIME,
      FinishedAt: r.finishedAt || ZERO_TIME,
      ...(r.health && c.healthcheck?.test[0] !== 'NONE' ? { Health: dockerHealth(r.health) } : {}),
    },
    Image: `sha256:${r.imageId}`,
    ResolvConfPath: '',
    HostnamePath: '',
    HostsPath: '',
    LogPath: ctx.logPath,
    Name: `/${r.name}`,
    RestartCount: r.restartCount,
    Driver: 'overlay',
    Platform: 'linux',
    MountLabel: iso?.mountLabel ?? '',
    ProcessLabel: iso?.processLabel ?? '',
    AppArmorProfile: iso?.apparmorProfile ?? '',
    ExecIDs: null,
    HostConfig: {
      Binds: orNull(
        c.mounts
          .filter((m) => m.type === 'bind' || (m.type === 'volume' && !m.anonymous))
          .map((m) => `${m.source}:${m.destination}${m.readonly ? ':ro' : ''}`),
      ),
      ContainerIDFile: '',
      LogConfig: { Type: c.logDriver ?? 'k8s-file', Config: c.logOptions ?? (c.logSizeMax ? { 'max-size': String(c.logSizeMax) } : {}) },
      // A user network's name, as docker shows it; `bridge` for the default one; host, none, container:… as asked.
      NetworkMode: iso?.network === 'bridge' ? (c.networking?.networks[0]?.name ?? 'bridge') : (iso?.network ?? 'none'),
      PortBindings: {},
      RestartPolicy: { Name: c.restartPolicy?.name ?? 'no', MaximumRetryCount: c.restartPolicy?.maximumRetryCount ?? 0 },
      AutoRemove: c.autoRemove,
      VolumeDriver: '',
      VolumesFrom: orNull(c.volumesFrom),
      ConsoleSize: c.consoleSize ?? [0, 0],
      ReadonlyRootfs: c.readonlyRootfs,
      // As docker's (omitempty): only when there are some, only when asked for.
      ...(tmpfs.length > 0 ? { Tmpfs: Object.fromEntries(tmpfs.map((m) => [m.destination, m.options.join(',')])) } : {}),
      ...(c.init ? { Init: true } : {}),
      ...(Object.keys(c.annotations).length > 0 ? { Annotations: { ...c.annotations } } : {}),
      Runtime: c.runtime,
      Isolation: '',
      Cgroup: '',
      Links: linksJson(r),
      PublishAllPorts: c.networking?.publishAll ?? false,
      Dns: orNull(c.networking?.dns),
      DnsOptions: orNull(c.networking?.dnsOptions),
      DnsSearch: orNull(c.networking?.dnsSearch),
      ExtraHosts: orNull(c.networking?.extraHosts.map((h) => `${h.host}:${h.ip}`)),
      DeviceRequests: null,
      KernelMemoryTCP: 0,
      CpuCount: 0,
      CpuPercent: 0,
      CpuRealtimePeriod: 0,
      CpuRealtimeRuntime: 0,
      IOMaximumIOps: 0,
      IOMaximumBandwidth: 0,
      ...hostConfigResources(c.resources),
      OomScoreAdj: c.oomScoreAdj ?? 0,
      CgroupParent: c.cgroupParent ?? '',
      // Not docker's: shown only when a container runs without a cgroup (`--cgroups disabled`, podman's flag).
      ...(c.cgroups === 'disabled' ? { Cgroups: 'disabled' } : {}),
      // The ones asked for (docker shows none for its defaults); configs made before that was kept show all.
      Ulimits: orNull((c.ulimits ?? c.rlimits).map((l: Rlimit) => ({ Name: l.type.replace(/^RLIMIT_/, '').toLowerCase(), Soft: l.soft, Hard: l.hard }))),
      ...hostConfigIsolation(c.isolation),
    },
    GraphDriver: {
      Name: c.storageDriver ?? 'overlay',
      Data: {
        LowerDir: ctx.lowerDirs.join(':'),
        UpperDir: join(dir, 'diff'),
        WorkDir: join(dir, 'work'),
        MergedDir: join(dir, 'rootfs'),
      },
    },
    Mounts: c.mounts
      .filter((m) => m.type !== 'tmpfs')
      .map((m) =>
        m.type === 'volume'
          ? {
              Type: 'volume',
              Name: m.source,
              Source: join(ctx.root, 'volumes', m.source, '_data'),
              Destination: m.destination,
              Driver: 'local',
              Mode: m.readonly ? 'ro' : 'z',
              RW: !m.readonly,
              Propagation: '',
            }
          : {
              Type: 'bind',
              Source: m.source,
              Destination: m.destination,
              Mode: m.readonly ? 'ro' : '',
              RW: !m.readonly,
              Propagation: m.options.find((o) => /private|shared|slave/.test(o)) ?? 'rprivate',
            },
      ),
    Config: {
      Hostname: c.hostname || r.id.slice(0, 12),
      Domainname: c.domainname ?? '',
      User: c.user,
      // As the creating client asked; containers made before that was kept: a guess from --rm.
      AttachStdin: c.attach?.stdin ?? false,
      AttachStdout: c.attach?.stdout ?? !c.autoRemove,
      AttachStderr: c.attach?.stderr ?? !c.autoRemove,
      Tty: c.tty,
      OpenStdin: c.openStdin,
      StdinOnce: false,
      Env: orNull(c.env),
      Cmd: c.cmd,
      Image: c.image,
      Volumes: c.mounts.some((m) => m.anonymous) ? Object.fromEntries(c.mounts.filter((m) => m.anonymous).map((m) => [m.destination, {}])) : null,
      WorkingDir: c.cwd === '/' ? '' : c.cwd,
      Entrypoint: c.entrypoint,
      OnBuild: null,
      ...(c.exposedPorts && c.exposedPorts.length > 0 ? { ExposedPorts: Object.fromEntries(c.exposedPorts.map((p) => [p, {}])) } : {}),
      Labels: c.labels,
      StopSignal: c.stopSignal,
      StopTimeout: c.stopTimeout,
      ...(c.healthcheck ? { Healthcheck: dockerHealthConfig(c.healthcheck) } : {}),
    },
    NetworkSettings: networkSettings(r),
  };
}

/** docker's NetworkSettings: the first network's address at the top, every network under Networks. */
export function networkSettings(r: ContainerRow): Record<string, unknown> {
  const live = isLive(r.state);
  const nets = live ? (r.net.networks ?? {}) : {};
  const attached = r.config.networking?.networks ?? [];
  const Networks: Record<string, unknown> = {};
  for (const a of attached) {
    const n = nets[a.name];
    Networks[a.name] = {
      IPAMConfig: a.ip || a.ip6 || a.linkLocalIps?.length ? { ...(a.ip ? { IPv4Address: a.ip } : {}), ...(a.ip6 ? { IPv6Address: a.ip6 } : {}), ...(a.linkLocalIps?.length ? { LinkLocalIPs: a.linkLocalIps } : {}) } : null,
      Links: orNull(a.links),
      Aliases: a.aliases.length > 0 ? a.aliases : null,
      MacAddress: n?.mac ?? '',
      NetworkID: '',
      EndpointID: '',
      Gateway: n?.gateway ?? '',
      IPAddress: n?.ip ?? '',
      IPPrefixLen: n?.prefixLen ?? 0,
      IPv6Gateway: n?.ipv6Gateway ?? '',
      GlobalIPv6Address: n?.ipv6 ?? '',
      GlobalIPv6PrefixLen: n?.ipv6PrefixLen ?? 0,
      DNSNames: n ? namesOnNetwork(r.name, a.aliases, r.id) : null,
    };
  }
  const mode = r.config.isolation?.network;
  if (mode === 'host' || mode === 'none') Networks[mode] = { IPAddress: '', Gateway: '', MacAddress: '', IPPrefixLen: 0 };
  const first = attached[0] ? nets[attached[0].name] : undefined;
  const Ports: Record<string, { HostIp: string; HostPort: string }[] | null> = {};
  for (const p of r.config.networking?.ports ?? []) Ports[`${p.containerPort}/${p.protocol}`] = null;
  for (const p of live ? (r.net.ports ?? []) : []) {
    (Ports[`${p.containerPort}/${p.protocol}`] ??= []).push({ HostIp: p.hostIP || '0.0.0.0', HostPort: String(p.hostPort) });
  }
  return {
    Bridge: '',
    SandboxID: '',
    HairpinMode: false,
    LinkLocalIPv6Address: '',
    LinkLocalIPv6PrefixLen: 0,
    Ports,
    SandboxKey: live ? (r.net.netns ?? '') : '',
    SecondaryIPAddresses: null,
    SecondaryIPv6Addresses: null,
    EndpointID: '',
    IPAddress: first?.ip ?? '',
    IPPrefixLen: first?.prefixLen ?? 0,
    Gateway: first?.gateway ?? '',
    MacAddress: first?.mac ?? '',
    GlobalIPv6Address: first?.ipv6 ?? '',
    GlobalIPv6PrefixLen: first?.ipv6PrefixLen ?? 0,
    IPv6Gateway: first?.ipv6Gateway ?? '',
    Networks,
  };
}
