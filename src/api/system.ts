/** `/_ping`, `/version` and `/info`, in the shapes docker's clients read. */
import { release } from 'node:os';
import { BERTH_VERSION, systemInfo, versionInfo } from '../engine/info.ts';
import { API_VERSION, MIN_API_VERSION, commonHeaders, type Ctx } from './http.ts';
import { LOG_DRIVERS } from '../engine/types.ts';

export async function ping(ctx: Ctx): Promise<void> {
  const headers = {
    ...commonHeaders(),
    'Content-Type': 'text/plain; charset=utf-8',
    'Content-Length': 2,
    'Cache-Control': 'no-cache, no-store, must-revalidate',
    Pragma: 'no-cache',
    Swarm: 'inactive',
    'Builder-Version': '1',
  };
  ctx.answered = true;
  if (ctx.res) {
    ctx.res.writeHead(200, headers);
    ctx.res.end(ctx.req.method === 'HEAD' ? undefined : 'OK');
    return;
  }
  ctx.send(200, 'OK', 'text/plain; charset=utf-8');
}

const arch = () => (process.arch === 'x64' ? 'amd64' : process.arch);

export async function version(ctx: Ctx): Promise<void> {
  const v = await versionInfo(ctx.engine);
  const details = {
    ApiVersion: API_VERSION,
    MinAPIVersion: MIN_API_VERSION,
    GitCommit: '',
    GoVersion: process.version,
    Os: 'linux',
    Arch: arch(),
    KernelVersion: release(),
    BuildTime: '',
    Experimental: 'false',
  };
  const { Experimental: _, ...top } = details;
  ctx.send(200, {
    Platform: { Name: `Berth ${BERTH_VERSION}` },
    Components: [
      { Name: 'Engine', Version: BERTH_VERSION, Details: details },
      ...v.Components.map((c) => ({ Name: c.Name, Version: c.Version, Details: {} })),
    ],
    Version: BERTH_VERSION,
    ...top,
    Experimental: false,
  });
}

export async function info(ctx: Ctx): Promise<void> {
  const i = await systemInfo(ctx.engine);
  ctx.send(200, {
    ...i,
    KernelVersion: release(),
    OSVersion: '',
    IndexServerAddress: 'https://index.docker.io/v1/',
    Labels: [],
    ExperimentalBuild: false,
    Debug: false,
    NGoroutines: 0,
    NFd: 0,
    SystemTime: new Date().toISOString(),
    Swarm: { NodeID: '', NodeAddr: '', LocalNodeState: 'inactive', ControlAvailable: false, Error: '', RemoteManagers: null },
    SecurityOptions: ['name=seccomp,profile=builtin', 'name=cgroupns'],
    Plugins: { Volume: ['local'], Network: ['bridge', 'host', 'none'], Authorization: null, Log: [...LOG_DRIVERS] },
    RegistryConfig: { IndexConfigs: {}, InsecureRegistryCIDRs: [], Mirrors: [] },
    Isolation: '',
    InitBinary: 'catatonit',
    ContainerdCommit: { ID: '' },
    RuncCommit: { ID: '' },
    InitCommit: { ID: '' },
    HttpProxy: '',
    HttpsProxy: '',
    NoProxy: '',
    LiveRestoreEnabled: true,
  });
}
