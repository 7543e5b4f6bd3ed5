/**
 * What `pod inspect` and `pod ps` show of a pod, in podman's shapes: its state from its containers', its
 * infra container, what it shares, its cgroup and its containers.
 */
import type { PodRow } from '../../store/pods.ts';
import type { EngineCore } from '../core.ts';
import { findPod } from './find.ts';
import { podMembers } from './members.ts';
import { isPinnedUp, podStatus, type PodStatus } from './status.ts';

/** podman's `pod inspect` document (the fields Berth has). */
export interface PodInspect {
  Id: string;
  Name: string;
  Created: string;
  State: PodStatus;
  Hostname: string;
  Labels: Record<string, string>;
  CreateCgroup: boolean;
  CgroupParent: string;
  CgroupPath: string;
  CreateInfra: boolean;
  InfraContainerId: string;
  InfraConfig: { PortBindings: Record<string, { HostIp: string; HostPort: string }[]>; HostNetwork: boolean; Networks: string[] };
  SharedNamespaces: string[];
  NumContainers: number;
  Containers: { Id: string; Name: string; State: string }[];
}

/** A pod as `pod ps` lists it. */
export interface PodSummary {
  id: string;
  name: string;
  status: PodStatus;
  created: string;
  infraId: string;
  labels: Record<string, string>;
  networks: string[];
  containers: { id: string; name: string; state: string }[];
}

export function summarizePod(engine: EngineCore, pod: PodRow): PodSummary {
  const { infra, others } = podMembers(engine, pod);
  const all = infra ? [infra, ...others] : others;
  const pinned = pod.config.pinned;
  const mode = pinned ? (pinned.network === 'host' ? 'host' : 'bridge') : (infra?.config.isolation?.network ?? 'none');
  const networks = pinned && typeof pinned.network === 'object' ? [pinned.network.name] : mode === 'bridge' ? (infra?.config.networking?.networks ?? []).map((n) => n.name) : [mode];
  // A pinned pod's namespaces count as one more member, running while they are up.
  const held = pinned && isPinnedUp(engine.pods.get(pod.id) ?? pod) ? (['running'] as const) : [];
  return {
    id: pod.id,
    name: pod.name,
    status: podStatus([...all.map((r) => r.state), ...held]),
    created: pod.createdAt,
    infraId: pod.config.infraId,
    labels: pod.config.labels,
    networks,
    containers: all.map((r) => ({ id: r.id, name: r.name, state: r.state })),
  };
}

export function listPods(engine: EngineCore): PodSummary[] {
  return engine.pods.list().map((p) => summarizePod(engine, p));
}

export function inspectPod(engine: EngineCore, ref: string): PodInspect {
  const pod = findPod(engine, ref);
  const s = summarizePod(engine, pod);
  const infra = pod.config.infraId ? engine.lookupSynced(pod.config.infraId) : undefined;
  const bindings: PodInspect['InfraConfig']['PortBindings'] = {};
  // As bound while it runs (a random host port resolved), else as asked.
  for (const p of infra?.net.ports ?? infra?.config.networking?.ports ?? []) {
    (bindings[`${p.containerPort}/${p.protocol}`] ??= []).push({ HostIp: p.hostIP, HostPort: p.hostPort ? String(p.hostPort) : '' });
  }
  return {
    Id: pod.id,
    Name: pod.name,
    Created: pod.createdAt,
    State: s.status,
    Hostname: pod.config.hostname,
    Labels: pod.config.labels,
    CreateCgroup: pod.config.ownsCgroup,
    CgroupParent: pod.config.cgroupParent.replace(/\/[^/]*$/, '') || '/',
    CgroupPath: pod.config.cgroupParent,
    CreateInfra: !pod.config.pinned,
    InfraContainerId: pod.config.infraId,
    InfraConfig: { PortBindings: bindings, HostNetwork: pod.config.pinned ? pod.config.pinned.network === 'host' : infra?.config.isolation?.network === 'host', Networks: s.networks },
    SharedNamespaces: pod.config.share,
    NumContainers: s.containers.length,
    Containers: s.containers.map((c) => ({ Id: c.id, Name: c.name, State: c.state })),
  };
}
