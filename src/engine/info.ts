/** System facts for `info` and `version`, in docker's field names plus Berth's own. */
import { readFileSync } from 'node:fs';
import { cpus, hostname, totalmem } from 'node:os';
import { run } from '../sys/run.ts';
import type { EngineCore } from './core.ts';
import { featureWarnings } from '../runtime/cgroup-features.ts';
import { list } from './verbs/list.ts';
import { userNetworkHelper } from '../network/user-net.ts';

export const BERTH_VERSION = '0.1.0';
/** The Docker Engine API versions `berth serve` speaks (src/api). */
export const API_VERSION = '1.51';
export const MIN_API_VERSION = '1.24';

function osName(): string {
  try {
    return /PRETTY_NAME="?([^"\n]+)"?/.exec(readFileSync('/etc/os-release', 'utf8'))?.[1] ?? 'Linux';
  } catch {
    return 'Linux';
  }
}

function readText(path: string): string {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch {
    return '';
  }
}

export async function systemInfo(engine: EngineCore) {
  const rows = await list(engine, true);
  const rt = engine.runtimes();
  const cg = engine.cgroups();
  const f = engine.cgroupFeatures();
  const ipv4Forwarding = readText('/proc/sys/net/ipv4/ip_forward') === '1';
  const cfg = engine.config();
  const storage = engine.storageDriver();
  return {
    ID: '',
    Containers: rows.length,
    ContainersRunning: rows.filter((r) => r.state === 'running').length,
    ContainersPaused: rows.filter((r) => r.state === 'paused').length,
    ContainersStopped: rows.filter((r) => r.state !== 'running' && r.state !== 'paused').length,
    Images: engine.images.repo.list().length,
    Driver: storage.name,
    BerthStorageReason: storage.why,
    ...(storage.problem ? { BerthStorageProblem: storage.problem } : {}),
    LoggingDriver: engine.config().logDriver,
    CgroupDriver: 'cgroupfs',
    CgroupVersion: String(cg.version),
    BerthCgroupMode: cg.mode,
    Runtimes: Object.fromEntries(rt.candidates.filter((c) => c.path).map((c) => [c.name, { path: c.path }])),
    DefaultRuntime: rt.chosen?.name ?? '',
    BerthRuntimeReason: rt.why,
    BerthRuntimeProbe: rt.candidates,
    BerthCheckpoint: 'not supported on this host (CRIU cannot checkpoint on this kernel)',
    OperatingSystem: osName(),
    OSType: 'linux',
    Architecture: process.arch === 'x64' ? 'x86_64' : process.arch,
    NCPU: cpus().length,
    MemTotal: totalmem(),
    Name: hostname(),
    ServerVersion: BERTH_VERSION,
    DockerRootDir: engine.root,
    BerthRootDir: engine.root,
    ...(engine.rootlessUser !== undefined ? { BerthRootless: rootlessSummary(engine) } : {}),
    // What a pulled, loaded or imported layer and image may expand to (daemon.json: max-layer-size, max-image-size).
    BerthMaxLayerSize: cfg.maxLayerSize,
    BerthMaxImageSize: cfg.maxImageSize,
    // What the host's cgroups can take (docker's fields), and docker's warnings for what they cannot.
    MemoryLimit: f.memoryLimit,
    SwapLimit: f.swapLimit,
    KernelMemory: f.kernelMemory,
    OomKillDisable: f.oomKillDisable,
    CpuCfsPeriod: f.cpuCfs,
    CpuCfsQuota: f.cpuCfs,
    CPUShares: f.cpuShares,
    CPUSet: f.cpuset,
    PidsLimit: f.pidsLimit,
    IPv4Forwarding: ipv4Forwarding,
    Warnings: [...featureWarnings(f, cg.version), ...(ipv4Forwarding ? [] : ['WARNING: IPv4 forwarding is disabled'])],
  };
}

export async function versionInfo(engine: EngineCore) {
  const rt = engine.runtimes();
  const components: { Name: string; Version: string }[] = [];
  for (const c of rt.candidates.filter((x) => x.path)) {
    const r = await run(c.path, ['--version']);
    components.push({ Name: c.name, Version: (r.stdout.split('\n')[0] ?? '').replace(/^\S+ version /, '') });
  }
  const monitor = rt.chosen ? await engine.driver(rt.chosen.name).monitorInfo().catch(() => null) : null;
  if (monitor) components.push({ Name: monitor.name, Version: monitor.version });
  return {
    Version: BERTH_VERSION,
    ApiVersion: API_VERSION,
    NodeVersion: process.version,
    Os: 'linux',
    Arch: process.arch === 'x64' ? 'amd64' : process.arch,
    Components: components,
  };
}

/** An ordinary user's engine: whose, which host ids its namespace maps, and which network helper and why. */
function rootlessSummary(engine: EngineCore) {
  const ranges = (which: 'uid' | 'gid') =>
    readText(`/proc/self/${which}_map`)
      .split('\n')
      .map((l) => l.trim().split(/\s+/).map(Number))
      .filter((f) => f.length === 3)
      .map(([inside, host, n]) => (n === 1 ? `${host} as ${inside}` : `${host}-${host! + n! - 1} as ${inside}-${inside! + n! - 1}`))
      .join(', ');
  const net = userNetworkHelper(engine.userNetwork?.helperPid());
  return { Uid: engine.rootlessUser, UidMap: ranges('uid'), GidMap: ranges('gid'), Network: net.value, NetworkReason: net.why };
}
