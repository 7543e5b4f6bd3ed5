/** What `pod create` is asked for, and the namespaces a pod shares (podman's `--share`). */
import { InvalidArgument } from '../../errors.ts';
import type { PodNamespace } from '../../types.ts';
import type { NetworkOptions } from '../net-config.ts';

/** podman's default: the network, IPC and UTS namespaces (not pid: each container keeps its own pid 1). */
export const DEFAULT_SHARE: readonly PodNamespace[] = ['net', 'ipc', 'uts'];

/**
 * A pod: its name and labels, what its containers share, and its infra container, which holds the shared
 * namespaces and the pod's network (ports are published on the pod). The network settings are the infra
 * container's, from docker's flags.
 */
export interface PodCreateOptions extends Pick<NetworkOptions, 'publish' | 'ip' | 'ip6' | 'macAddress' | 'networkAliases' | 'dns' | 'dnsSearch' | 'dnsOptions' | 'addHosts'> {
  name?: string;
  labels?: Record<string, string>;
  /** `--share net,ipc,uts[,pid]`, a `+` in front adding to the default; '' shares nothing. Default net,ipc,uts. */
  share?: string;
  /** `--network`: bridge (default), none, host, or a network's name; only with the network namespace shared. */
  network?: string;
  /** The hostname of a pod sharing its UTS namespace (default: the pod's name). */
  hostname?: string;
  /** The cgroup its own cgroup is made under (default /berth). */
  cgroupParent?: string;
  /** The pod's cgroup itself, exactly (a CRI sandbox's, which kubelet names). */
  cgroupPath?: string;
  /** An image for the infra container instead of catatonit's (it runs its own entrypoint unless infraCommand). */
  infraImage?: string;
  infraCommand?: string[];
  /** Default `<pod id, 12>-infra`. */
  infraName?: string;
  /** The OCI runtime of the pod's containers (default: the engine's). */
  runtime?: string;
  /** The host's IPC or pid namespace for the whole pod (a CRI sandbox's NODE mode). */
  ipc?: 'host';
  pid?: 'host';
  /** Sysctls of the pod's shared namespaces, set in its infra container. */
  sysctls?: Record<string, string>;
  /** A CRI sandbox's metadata (src/cri/). */
  cri?: import('../../types.ts').CriSandboxMeta;
  /**
   * No infra container: the shared namespaces are pinned to files (src/engine/pods/pinned.ts). For a pod that
   * shares no pid namespace and publishes no ports, on one network or the host's.
   */
  pinned?: boolean;
  /** A pinned pod's /dev/shm size in bytes (default 64 MiB). */
  shmSize?: number;
}

/** `--share`: the namespaces listed, each once, in a fixed order; `+ns,…` adds to the default. */
export function parseShare(value: string | undefined): PodNamespace[] {
  if (value === undefined) return [...DEFAULT_SHARE];
  const adding = value.startsWith('+');
  const named = (adding ? value.slice(1) : value).split(',').map((s) => s.trim()).filter(Boolean);
  const known: readonly PodNamespace[] = ['net', 'ipc', 'uts', 'pid'];
  for (const n of named) {
    if (n === 'cgroup') continue; // a pod's containers are always under its cgroup
    if (!known.includes(n as PodNamespace)) throw new InvalidArgument(`invalid --share: "${n}": the namespaces a pod can share are net, ipc, uts and pid`);
  }
  const set = new Set<string>([...(adding ? DEFAULT_SHARE : []), ...named]);
  return known.filter((n) => set.has(n));
}
