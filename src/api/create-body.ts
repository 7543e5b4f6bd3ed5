/**
 * `POST /containers/create`: docker's container config (Config + HostConfig + NetworkingConfig) turned
 * into the engine's CreateOptions. Zero values mean "unset", as the daemon reads them.
 */
import { InvalidArgument, NotFound, NotSupported } from '../errors.ts';
import type { CreateOptions } from '../engine/config.ts';
import type { ResourceOptions } from '../engine/resources.ts';
import type { HealthInput } from '../engine/healthcheck.ts';
import { endpointOptions } from './networks.ts';

type Obj = Record<string, unknown>;

const obj = (v: unknown): Obj => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Obj) : {});
const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);
const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) && v !== 0 ? v : undefined);
const bool = (v: unknown): boolean | undefined => (typeof v === 'boolean' ? v : undefined);

/** docker's strslice: a JSON string or an array of strings; null stays unset. */
function strs(v: unknown, field: string): string[] | undefined {
  if (v === null || v === undefined) return undefined;
  if (typeof v === 'string') return [v];
  if (Array.isArray(v) && v.every((x) => typeof x === 'string')) return v as string[];
  throw new InvalidArgument(`invalid ${field}: expected a string or an array of strings`);
}

function list(v: unknown, field: string): string[] | undefined {
  if (v === null || v === undefined) return undefined;
  if (Array.isArray(v) && v.every((x) => typeof x === 'string')) return v as string[];
  throw new InvalidArgument(`invalid ${field}: expected an array of strings`);
}

function record(v: unknown, field: string): Record<string, string> | undefined {
  if (v === null || v === undefined) return undefined;
  const o = obj(v);
  if (Object.values(o).some((x) => typeof x !== 'string')) throw new InvalidArgument(`invalid ${field}: expected an object of strings`);
  return o as Record<string, string>;
}

function throttle(v: unknown): { path: string; rate: number }[] | undefined {
  if (!Array.isArray(v) || v.length === 0) return undefined;
  return v.map((d) => ({ path: String(obj(d).Path ?? ''), rate: Number(obj(d).Rate ?? 0) }));
}

function weights(v: unknown): { path: string; weight: number }[] | undefined {
  if (!Array.isArray(v) || v.length === 0) return undefined;
  return v.map((d) => ({ path: String(obj(d).Path ?? ''), weight: Number(obj(d).Weight ?? 0) }));
}

/** A HostConfig.Mounts entry as a `--mount` spec. */
function mountSpec(m: Obj): string {
  const parts = [`type=${String(m.Type ?? 'volume')}`];
  if (str(m.Source)) parts.push(`source=${m.Source as string}`);
  parts.push(`target=${String(m.Target ?? '')}`);
  if (m.ReadOnly === true) parts.push('readonly');
  const bind = obj(m.BindOptions);
  if (str(bind.Propagation)) parts.push(`bind-propagation=${bind.Propagation as string}`);
  const tmpfs = obj(m.TmpfsOptions);
  if (num(tmpfs.SizeBytes)) parts.push(`tmpfs-size=${tmpfs.SizeBytes as number}`);
  if (num(tmpfs.Mode)) parts.push(`tmpfs-mode=${(tmpfs.Mode as number).toString(8)}`);
  return parts.join(',');
}

export function createOptions(body: Obj, name: string | null): CreateOptions {
  const image = str(body.Image);
  if (!image) throw new InvalidArgument('No image specified: Config.Image is required');
  const hc = obj(body.HostConfig);
  const opts: CreateOptions = { image };
  if (name) opts.name = name.replace(/^\//, '');
  const cmd = strs(body.Cmd, 'Cmd');
  if (cmd && cmd.length > 0) opts.cmd = cmd;
  const ep = strs(body.Entrypoint, 'Entrypoint');
  if (ep !== undefined) opts.entrypoint = ep;
  opts.env = list(body.Env, 'Env');
  opts.workdir = str(body.WorkingDir);
  opts.user = str(body.User);
  opts.hostname = str(body.Hostname);
  if (str(body.Domainname)) opts.domainname = str(body.Domainname);
  if (typeof body.AttachStdin === 'boolean' || typeof body.AttachStdout === 'boolean' || typeof body.AttachStderr === 'boolean') {
    opts.attach = { stdin: body.AttachStdin === true, stdout: body.AttachStdout === true, stderr: body.AttachStderr === true };
  }
  opts.tty = bool(body.Tty);
  opts.openStdin = bool(body.OpenStdin);
  opts.stdinOnce = bool(body.StdinOnce);
  opts.labels = record(body.Labels, 'Labels');
  opts.stopSignal = str(body.StopSignal);
  if (typeof body.StopTimeout === 'number') opts.stopTimeout = body.StopTimeout;
  if (body.Healthcheck !== undefined && body.Healthcheck !== null) opts.healthcheck = healthcheckOf(obj(body.Healthcheck));

  opts.autoRemove = bool(hc.AutoRemove);
  const mode = str(hc.NetworkMode);
  if (mode && mode !== 'default') opts.network = mode;
  opts.volumes = list(hc.Binds, 'HostConfig.Binds');
  // `-v /path` reaches the API as Config.Volumes {"/path":{}}: an anonymous volume (unless a bind names it too).
  const anon = body.Volumes === null || body.Volumes === undefined ? undefined : obj(body.Volumes);
  if (anon) {
    // A bind's destination: `src:dst[:mode]`, or `dst` alone for an anonymous volume (docker-py sends both forms).
    const bound = new Set((opts.volumes ?? []).map((b) => (b.includes(':') ? b.split(':')[1] : b)).filter(Boolean));
    const extra = Object.keys(anon).filter((d) => !bound.has(d));
    if (extra.length > 0) opts.volumes = [...(opts.volumes ?? []), ...extra];
  }
  if (Array.isArray(hc.Mounts)) opts.mounts = hc.Mounts.map((m) => mountSpec(obj(m)));
  const tmpfs = record(hc.Tmpfs, 'HostConfig.Tmpfs');
  if (tmpfs) opts.tmpfs = Object.entries(tmpfs).map(([d, o]) => (o ? `${d}:${o}` : d));
  opts.volumesFrom = list(hc.VolumesFrom, 'HostConfig.VolumesFrom');
  opts.readonlyRootfs = bool(hc.ReadonlyRootfs);
  if (typeof hc.Init === 'boolean') opts.init = hc.Init;
  opts.runtime = str(hc.Runtime);
  opts.privileged = bool(hc.Privileged);
  opts.capAdd = list(hc.CapAdd, 'HostConfig.CapAdd');
  opts.capDrop = list(hc.CapDrop, 'HostConfig.CapDrop');
  opts.securityOpt = list(hc.SecurityOpt, 'HostConfig.SecurityOpt');
  if (Array.isArray(hc.Devices)) {
    opts.devices = hc.Devices.map((d) => {
      const o = obj(d);
      const host = String(o.PathOnHost ?? '');
      return `${host}:${str(o.PathInContainer) ?? host}:${str(o.CgroupPermissions) ?? 'rwm'}`;
    });
  }
  opts.deviceCgroupRules = list(hc.DeviceCgroupRules, 'HostConfig.DeviceCgroupRules');
  opts.sysctls = record(hc.Sysctls, 'HostConfig.Sysctls');
  opts.pid = str(hc.PidMode);
  opts.ipc = str(hc.IpcMode);
  opts.uts = str(hc.UTSMode);
  opts.cgroupns = str(hc.CgroupnsMode);
  opts.userns = str(hc.UsernsMode);
  opts.shmSize = num(hc.ShmSize);
  opts.groupAdd = list(hc.GroupAdd, 'HostConfig.GroupAdd');
  opts.cgroupParent = str(hc.CgroupParent);
  if (typeof hc.OomScoreAdj === 'number' && hc.OomScoreAdj !== 0) opts.oomScoreAdj = hc.OomScoreAdj;
  if (Array.isArray(hc.Ulimits)) {
    opts.ulimits = hc.Ulimits.map((u) => {
      const o = obj(u);
      return `${String(o.Name)}=${Number(o.Soft)}:${Number(o.Hard)}`;
    });
  }
  const annotations = record(hc.Annotations, 'HostConfig.Annotations');
  if (annotations) opts.annotations = annotations;
  const storageOpt = record(hc.StorageOpt, 'HostConfig.StorageOpt');
  if (storageOpt) opts.storageOpt = storageOpt;
  if (Array.isArray(hc.DeviceRequests) && hc.DeviceRequests.length > 0) opts.deviceRequests = hc.DeviceRequests;
  const log = obj(hc.LogConfig);
  const driver = str(log.Type);
  if (driver) opts.logDriver = driver;
  const logOpts = record(log.Config, 'HostConfig.LogConfig.Config');
  if (logOpts) opts.logOpts = logOpts;

  Object.assign(opts, resourceOptions(hc));
  const policy = restartPolicyOf(hc.RestartPolicy);
  if (policy) opts.restartPolicy = policy;

  // Networking.
  const ports = obj(hc.PortBindings);
  const publish: string[] = [];
  for (const [port, bindings] of Object.entries(ports)) {
    const bs = Array.isArray(bindings) && bindings.length > 0 ? bindings : [{}];
    for (const b of bs) {
      const ip = str(obj(b).HostIp) ?? '';
      const hostPort = str(obj(b).HostPort) ?? ''; // "0" (testcontainers sends it) is any free port, as "" is
      publish.push(!ip && !hostPort ? port : ip ? `${ip.includes(':') ? `[${ip}]` : ip}:${hostPort}:${port}` : `${hostPort}:${port}`);
    }
  }
  if (publish.length > 0) opts.publish = publish;
  if (hc.PublishAllPorts === true) opts.publishAll = true;
  const exposed = Object.keys(obj(body.ExposedPorts));
  if (exposed.length > 0) opts.expose = exposed;
  opts.dns = list(hc.Dns, 'HostConfig.Dns');
  opts.dnsSearch = list(hc.DnsSearch, 'HostConfig.DnsSearch');
  opts.dnsOptions = list(hc.DnsOptions, 'HostConfig.DnsOptions');
  opts.addHosts = list(hc.ExtraHosts, 'HostConfig.ExtraHosts');
  // Every network EndpointsConfig names is joined (API 1.44+; docker 28's CLI sends them all), the
  // NetworkMode's first; HostConfig.Links are legacy links on the default bridge, aliases on a user network.
  const endpoints = Object.entries(obj(obj(body.NetworkingConfig).EndpointsConfig));
  if (endpoints.length > 0) opts.endpoints = endpoints.map(([network, v]) => ({ network, settings: endpointOptions(v, `EndpointsConfig.${network}`) }));
  const links = list(hc.Links, 'HostConfig.Links');
  if (links && links.length > 0) opts.links = links;
  const mac = str(body.MacAddress);
  if (mac) opts.macAddress = mac;

  Object.assign(opts, lesserFields(body, hc));

  for (const k of Object.keys(opts) as (keyof CreateOptions)[]) if (opts[k] === undefined) delete opts[k];
  return opts;
}

/**
 * The rarer create fields: each one works, is refused as dockerd on Linux refuses it, or is kept only to
 * be shown back (ContainerIDFile, which the client itself writes); none is dropped unseen.
 */
function lesserFields(body: Obj, hc: Obj): Partial<CreateOptions> {
  const out: Partial<CreateOptions> = {};
  const isolation = str(hc.Isolation);
  if (isolation && isolation !== 'default') throw new InvalidArgument(`invalid isolation: ${JSON.stringify(isolation)} - Linux only supports 'default'`);
  // Windows-only resources: dockerd on Linux refuses them.
  for (const k of ['CpuCount', 'CpuPercent', 'IOMaximumIOps', 'IOMaximumBandwidth']) {
    if ((num(hc[k]) ?? 0) !== 0) throw new InvalidArgument(`invalid option: Windows-only option ${k} is not supported on Linux`);
  }
  for (const k of ['CpuRealtimePeriod', 'CpuRealtimeRuntime']) {
    if ((num(hc[k]) ?? 0) !== 0) throw new NotSupported(`${k}: Berth sets no real-time CPU budgets (CONFIG_RT_GROUP_SCHED cgroups)`);
  }
  if ((num(hc.KernelMemoryTCP) ?? 0) !== 0) throw new NotSupported('KernelMemoryTCP: kernel TCP memory limits are not supported (deprecated by the kernel and by docker)');
  const cgroup = str(hc.Cgroup);
  if (cgroup) throw new NotSupported(`HostConfig.Cgroup ${JSON.stringify(cgroup)}: joining another container's cgroup is not supported`);
  const volumeDriver = str(hc.VolumeDriver);
  if (volumeDriver && volumeDriver !== 'local') throw new NotFound(`error looking up volume plugin ${volumeDriver}: plugin "${volumeDriver}" not found`);
  const masked = list(hc.MaskedPaths, 'HostConfig.MaskedPaths');
  if (masked) out.maskedPaths = masked;
  const readonly = list(hc.ReadonlyPaths, 'HostConfig.ReadonlyPaths');
  if (readonly) out.readonlyPaths = readonly;
  const size = hc.ConsoleSize;
  if (Array.isArray(size) && size.length === 2 && size.every((n) => Number.isInteger(n) && n >= 0) && (size[0] > 0 || size[1] > 0)) {
    out.consoleSize = [size[0] as number, size[1] as number];
  }
  if (body.NetworkDisabled === true) out.network = 'none';
  return out;
}

/** docker's resource fields (a create's HostConfig, an update's body) as ResourceOptions. */
export function resourceOptions(hc: Obj): ResourceOptions {
  const r: ResourceOptions = {};
  r.memory = num(hc.Memory);
  r.memorySwap = num(hc.MemorySwap);
  r.memoryReservation = num(hc.MemoryReservation);
  r.kernelMemory = num(hc.KernelMemory);
  if (typeof hc.MemorySwappiness === 'number' && hc.MemorySwappiness >= 0) r.memorySwappiness = hc.MemorySwappiness;
  if (hc.OomKillDisable === true) r.oomKillDisable = true;
  r.cpuShares = num(hc.CpuShares);
  if (num(hc.NanoCpus)) r.cpus = (hc.NanoCpus as number) / 1e9;
  r.cpuPeriod = num(hc.CpuPeriod);
  r.cpuQuota = num(hc.CpuQuota);
  r.cpusetCpus = str(hc.CpusetCpus);
  r.cpusetMems = str(hc.CpusetMems);
  r.blkioWeight = num(hc.BlkioWeight);
  r.blkioWeightDevice = weights(hc.BlkioWeightDevice);
  r.deviceReadBps = throttle(hc.BlkioDeviceReadBps);
  r.deviceWriteBps = throttle(hc.BlkioDeviceWriteBps);
  r.deviceReadIops = throttle(hc.BlkioDeviceReadIOps);
  r.deviceWriteIops = throttle(hc.BlkioDeviceWriteIOps);
  if (typeof hc.PidsLimit === 'number' && hc.PidsLimit > 0) r.pidsLimit = hc.PidsLimit;
  for (const k of Object.keys(r) as (keyof ResourceOptions)[]) if (r[k] === undefined) delete r[k];
  return r;
}

/** docker's RestartPolicy object; an empty name is no policy given (whatever the count, as docker's daemon allows). */
export function restartPolicyOf(v: unknown): { name: string; maximumRetryCount: number } | undefined {
  if (v === undefined || v === null) return undefined;
  const p = obj(v);
  const name = str(p.Name) ?? '';
  const count = p.MaximumRetryCount === undefined || p.MaximumRetryCount === null ? 0 : p.MaximumRetryCount;
  if (typeof count !== 'number') throw new InvalidArgument('invalid restart policy: MaximumRetryCount must be a number');
  if (name === '') return undefined;
  return { name, maximumRetryCount: count };
}

/** docker's Config.Healthcheck: a test (argv with its kind first) and durations in nanoseconds. */
function healthcheckOf(h: Obj): HealthInput {
  const out: HealthInput = {};
  const test = strs(h.Test, 'Healthcheck.Test');
  if (test) out.Test = test;
  for (const k of ['Interval', 'Timeout', 'StartPeriod', 'StartInterval', 'Retries'] as const) {
    const v = h[k];
    if (v === undefined || v === null) continue;
    if (typeof v !== 'number') throw new InvalidArgument(`Healthcheck.${k} must be a number`);
    out[k] = v;
  }
  return out;
}

