/**
 * Docker's shapes: the one mapping from engine state to docker's status strings, `inspect` JSON and the
 * `ps` summary. Faces render these; they never read rows themselves.
 */
import { join } from 'node:path';
import type { ContainerRow } from '../store/containers.ts';
import type { ContainerState, Resources, ThrottleDevice } from '../types.ts';

const ZERO_TIME = '0001-01-01T00:00:00Z';

/** Docker's State.Status for an engine state. */
export function dockerStatus(s: ContainerState): string {
  switch (s) {
    case 'creating':
      return 'created';
    case 'removing':
      return 'removing';
    default:
      return s;
  }
}

/** `docker ps` STATUS column: "Up 3 seconds", "Exited (0) 2 minutes ago", "Created". */
export function statusText(r: ContainerRow, now = Date.now(), human: (ms: number) => string): string {
  switch (r.state) {
    case 'running':
      return `Up ${human(now - Date.parse(r.startedAt))}`;
    case 'paused':
      return `Up ${human(now - Date.parse(r.startedAt))} (Paused)`;
    case 'exited':
      return r.finishedAt ? `Exited (${r.exitCode}) ${human(now - Date.parse(r.finishedAt))} ago` : `Exited (${r.exitCode})`;
    case 'removing':
      return 'Removal In Progress';
    case 'dead':
      return 'Dead';
    default:
      return 'Created';
  }
}

const devices = (l: ThrottleDevice[] | undefined) => l?.map((d) => ({ Path: d.path, Rate: d.rate })) ?? [];

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
  const dir = join(ctx.root, 'containers', r.id);
  const running = r.state === 'running' || r.state === 'paused';
  return {
    Id: r.id,
    Created: r.createdAt,
    Path: c.args[0],
    Args: c.args.slice(1),
    State: {
      Status: dockerStatus(r.state),
      Running: running,
      Paused: r.state === 'paused',
      Restarting: false,
      OOMKilled: r.oomKilled,
      Dead: r.state === 'dead',
      Pid: running ? r.pid : 0,
      ExitCode: r.exitCode,
      Error: r.error,
      StartedAt: r.startedAt || ZERO_TIME,
      FinishedAt: r.finishedAt || ZERO_TIME,
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
    MountLabel: '',
    ProcessLabel: '',
    AppArmorProfile: '',
    ExecIDs: null,
    HostConfig: {
      Binds: c.mounts
        .filter((m) => m.type === 'bind' || (m.type === 'volume' && !m.anonymous))
        .map((m) => `${m.source}:${m.destination}${m.readonly ? ':ro' : ''}`),
      LogConfig: { Type: 'k8s-file', Config: {} },
      NetworkMode: 'none',
      PortBindings: {},
      RestartPolicy: { Name: 'no', MaximumRetryCount: 0 },
      AutoRemove: c.autoRemove,
      ReadonlyRootfs: c.readonlyRootfs,
      Tmpfs: Object.fromEntries(c.mounts.filter((m) => m.type === 'tmpfs').map((m) => [m.destination, m.options.join(',')])),
      Init: c.init,
      Runtime: c.runtime,
      ...hostConfigResources(c.resources),
      OomScoreAdj: c.oomScoreAdj ?? 0,
      CgroupParent: c.cgroupParent ?? '',
      Cgroups: c.cgroups ?? 'enabled',
      Ulimits: c.rlimits.map((l) => ({ Name: l.type.replace(/^RLIMIT_/, '').toLowerCase(), Soft: l.soft, Hard: l.hard })),
      Privileged: false,
      CapAdd: null,
      CapDrop: null,
    },
    GraphDriver: {
      Name: 'overlay',
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
      Domainname: '',
      User: c.user,
      AttachStdin: false,
      AttachStdout: !c.autoRemove,
      AttachStderr: !c.autoRemove,
      Tty: c.tty,
      OpenStdin: c.openStdin,
      StdinOnce: false,
      Env: c.env,
      Cmd: c.cmd,
      Image: c.image,
      Volumes: c.mounts.some((m) => m.anonymous) ? Object.fromEntries(c.mounts.filter((m) => m.anonymous).map((m) => [m.destination, {}])) : null,
      WorkingDir: c.cwd === '/' ? '' : c.cwd,
      Entrypoint: c.entrypoint,
      Labels: c.labels,
      StopSignal: c.stopSignal,
      StopTimeout: c.stopTimeout,
    },
    NetworkSettings: { Networks: {}, Ports: {}, IPAddress: '', Gateway: '', MacAddress: '' },
  };
}

/** The `docker ps` row object (its --format fields). */
export function psSummary(r: ContainerRow, human: (ms: number) => string, now = Date.now()) {
  const command = r.config.args.join(' ');
  return {
    ID: r.id,
    Image: r.config.image,
    Command: command,
    CreatedAt: new Date(r.createdAt).toISOString().replace('T', ' ').replace(/\.\d+Z$/, ' +0000 UTC'),
    RunningFor: `${human(now - Date.parse(r.createdAt))} ago`,
    Ports: '',
    State: dockerStatus(r.state),
    Status: statusText(r, now, human),
    Size: '0B',
    Names: r.name,
    Labels: Object.entries(r.config.labels)
      .map(([k, v]) => `${k}=${v}`)
      .join(','),
    Mounts: r.config.mounts.map((m) => m.destination).join(','),
    Networks: '',
    LocalVolumes: '0',
  };
}
