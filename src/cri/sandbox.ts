/**
 * The CRI's pod sandboxes: Berth pods whose network, IPC and UTS namespaces are pinned to files, or held by an
 * infra container where the pod needs one (its pid namespace shared, host ports, sysctls), in the cgroup kubelet
 * names. Run, stop, remove, status and list; a sandbox is ready while its namespaces are up. Sandboxes are named
 * as containerd names them (name, namespace, uid, attempt), so a second RunPodSandbox of the same attempt is
 * refused rather than made twice.
 */
import { hostname } from 'node:os';
import { AlreadyExists, InvalidArgument, NotFound } from '../errors.ts';
import type { Engine } from '../engine/engine.ts';
import type { PodRow } from '../store/pods.ts';
import type { ContainerRow } from '../store/containers.ts';
import { nanos, selects } from './convert.ts';
import type { CriNetwork } from './network.ts';
import { isPinnedUp } from '../engine/pods/status.ts';

export interface SandboxConfig {
  metadata?: { name?: string; uid?: string; namespace?: string; attempt?: number };
  hostname?: string;
  log_directory?: string;
  dns_config?: { servers?: string[]; searches?: string[]; options?: string[] } | null;
  port_mappings?: { protocol?: string; container_port?: number; host_port?: number; host_ip?: string }[];
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  linux?: {
    cgroup_parent?: string;
    sysctls?: Record<string, string>;
    security_context?: { namespace_options?: { network?: string; pid?: string; ipc?: string } | null } | null;
  } | null;
}

/** The sandbox's name in Berth, unique per metadata, as containerd's. */
const sandboxName = (m: Required<NonNullable<SandboxConfig['metadata']>>) => `k8s_${m.name}_${m.namespace}_${m.uid}_${m.attempt}`;

export async function runPodSandbox(engine: Engine, network: CriNetwork, config: SandboxConfig | undefined, runtimeHandler: string): Promise<string> {
  const m = config?.metadata;
  if (!config || !m?.name || !m.uid || !m.namespace) throw new InvalidArgument('the sandbox config needs metadata with a name, uid and namespace');
  if (runtimeHandler && !engine.runtimes().candidates.some((c) => c.name === runtimeHandler && c.usable)) {
    throw new NotFound(`no runtime for "${runtimeHandler}" is configured`);
  }
  const ns = config.linux?.security_context?.namespace_options ?? {};
  const netMode = ns.network ?? 'POD';
  const pidMode = ns.pid ?? 'CONTAINER';
  const ipcMode = ns.ipc ?? 'POD';
  const hostNet = netMode === 'NODE';
  const name = sandboxName({ name: m.name, uid: m.uid, namespace: m.namespace, attempt: m.attempt ?? 0 });
  if (engine.allPods().some((p) => p.name === name)) throw new AlreadyExists(`the sandbox name ${name} is reserved by another sandbox`);
  const publish = (config.port_mappings ?? [])
    .filter((p) => (p.host_port ?? 0) > 0 && !hostNet)
    .map((p) => `${p.host_ip ? `${p.host_ip}:` : ''}${p.host_port}:${p.container_port}/${(p.protocol ?? 'TCP').toLowerCase()}`);
  const share = ['net', 'uts', ...(ipcMode === 'NODE' ? [] : ['ipc']), ...(pidMode === 'POD' ? ['pid'] : [])];
  const sysctls = config.linux?.sysctls && Object.keys(config.linux.sysctls).length > 0 ? config.linux.sysctls : undefined;
  // No infra process where nothing needs one (as CRI-O's default): a pod's pid namespace needs its pid 1, and
  // host ports and sysctls are set up through the infra container.
  const pinned = pidMode !== 'POD' && publish.length === 0 && !sysctls;
  const pod = await engine.createPod({
    name,
    labels: { ...(config.labels ?? {}) },
    share: share.join(','),
    network: hostNet ? 'host' : await network.name(engine),
    // No hostname given: the node's, as containerd gives it.
    ...(!hostNet ? { hostname: config.hostname || hostname() } : {}),
    publish,
    dns: config.dns_config?.servers ?? [],
    dnsSearch: config.dns_config?.searches ?? [],
    dnsOptions: config.dns_config?.options ?? [],
    // kubelet's pod cgroup, as containerd uses it: the parent of every container of the sandbox.
    ...(config.linux?.cgroup_parent ? { cgroupPath: config.linux.cgroup_parent } : {}),
    ...(ipcMode === 'NODE' ? { ipc: 'host' as const } : {}),
    ...(pidMode === 'NODE' && !pinned ? { pid: 'host' as const } : {}),
    ...(sysctls ? { sysctls } : {}),
    ...(pinned ? { pinned: true } : {}),
    ...(runtimeHandler ? { runtime: runtimeHandler } : {}),
    cri: {
      name: m.name, uid: m.uid, namespace: m.namespace, attempt: m.attempt ?? 0, annotations: { ...(config.annotations ?? {}) },
      runtimeHandler, logDirectory: config.log_directory ?? '', network: netMode, pid: pidMode, ipc: ipcMode,
    },
  });
  const started = await engine.startPod(pod.id);
  const failed = started.failures[0];
  if (failed) {
    await engine.removePod(pod.id, true).catch(() => {});
    throw failed.error;
  }
  return pod.id;
}

/** The CRI's pods only: the user's own pods are not kubelet's to see. */
export function criPod(engine: Engine, id: string): PodRow {
  const pod = engine.getPod(id);
  if (!pod.config.cri) throw new NotFound(`no pod sandbox ${id}`);
  return pod;
}

function findSandbox(engine: Engine, id: string): PodRow | undefined {
  try {
    return criPod(engine, id);
  } catch (e) {
    if (e instanceof NotFound) return undefined;
    throw e;
  }
}

/** Stop every container, the infra container last (its network with it). A sandbox already gone is stopped. */
export async function stopPodSandbox(engine: Engine, id: string): Promise<void> {
  const pod = findSandbox(engine, id);
  if (!pod) return;
  const r = await engine.stopPod(pod.id, 0);
  if (r.failures[0]) throw r.failures[0].error;
}

/** Remove the sandbox with its containers, running ones too (kubelet may skip the stop). Gone already is fine. */
export async function removePodSandbox(engine: Engine, id: string): Promise<void> {
  const pod = findSandbox(engine, id);
  if (pod) await engine.removePod(pod.id, true);
}

/** Ready while its namespaces are up: a pinned pod's, or its infra container's while that runs. */
function ready(pod: PodRow, infra: ContainerRow | undefined): 'SANDBOX_READY' | 'SANDBOX_NOTREADY' {
  const up = pod.config.pinned ? isPinnedUp(pod) : infra?.state === 'running' || infra?.state === 'paused';
  return up ? 'SANDBOX_READY' : 'SANDBOX_NOTREADY';
}

function metadata(pod: PodRow) {
  const c = pod.config.cri!;
  return { name: c.name, uid: c.uid, namespace: c.namespace, attempt: c.attempt };
}

export function podSandboxStatus(engine: Engine, id: string, verbose: boolean) {
  const pod = criPod(engine, id);
  const { infra } = engine.podContainers(pod.id);
  const c = pod.config.cri!;
  const ips = Object.values((pod.config.pinned ? pod.state.networks : infra?.net.networks) ?? {});
  const hostNet = c.network === 'NODE';
  return {
    status: {
      id: pod.id,
      metadata: metadata(pod),
      state: ready(pod, infra),
      created_at: nanos(pod.createdAt),
      network: { ip: hostNet ? '' : (ips[0]?.ip ?? ''), additional_ips: ips.slice(1).map((n) => ({ ip: n.ip })) },
      linux: { namespaces: { options: { network: c.network, pid: c.pid, ipc: c.ipc, target_id: '' } } },
      labels: pod.config.labels,
      annotations: c.annotations,
      runtime_handler: c.runtimeHandler,
    },
    info: verbose ? { info: JSON.stringify({ pid: infra?.pid ?? 0, cgroupPath: pod.config.cgroupParent, ...(pod.config.pinned ? { namespaces: pod.state } : { infraContainer: pod.config.infraId }) }) } : {},
    containers_statuses: [],
    timestamp: '0',
  };
}

export interface SandboxFilter {
  id?: string;
  state?: { state?: string } | null;
  label_selector?: Record<string, string>;
}

export function listPodSandbox(engine: Engine, filter: SandboxFilter | null | undefined) {
  const out = [];
  for (const pod of engine.allPods()) {
    if (!pod.config.cri) continue;
    if (filter?.id && !pod.id.startsWith(filter.id)) continue;
    if (!selects(pod.config.labels, filter?.label_selector)) continue;
    const { infra } = engine.podContainers(pod.id);
    const state = ready(pod, infra);
    if (filter?.state && filter.state.state !== state) continue;
    out.push({
      id: pod.id, metadata: metadata(pod), state, created_at: nanos(pod.createdAt), labels: pod.config.labels,
      annotations: pod.config.cri.annotations, runtime_handler: pod.config.cri.runtimeHandler,
    });
  }
  return out;
}
