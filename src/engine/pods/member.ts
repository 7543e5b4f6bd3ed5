/**
 * A container in a pod (`run --pod`): it joins the namespaces the pod shares, through its infra container,
 * and lives in the pod's cgroup. What it would set of those namespaces itself is refused, as podman refuses
 * it: the pod's network, hostname and IPC are the pod's to set.
 */
import { Conflict, InvalidArgument } from '../../errors.ts';
import type { PodRow } from '../../store/pods.ts';
import type { Isolation } from '../../types.ts';
import type { CreateOptions } from '../config.ts';
import type { EngineCore } from '../core.ts';
import { isLive } from '../state.ts';
import { start } from '../verbs/start.ts';
import { pinnedPaths, pinPod } from './pinned.ts';
import { isPinnedUp } from './status.ts';
import { withPodLock } from './lock.ts';

/** The flags a member may not give for each shared namespace, with their names for the message. */
const OWNED_BY_POD: Record<string, [keyof CreateOptions, string][]> = {
  net: [
    ['network', '--network'], ['publish', '--publish'], ['publishAll', '--publish-all'], ['ip', '--ip'], ['ip6', '--ip6'],
    ['macAddress', '--mac-address'], ['dns', '--dns'], ['dnsSearch', '--dns-search'], ['dnsOptions', '--dns-option'],
    ['addHosts', '--add-host'], ['links', '--link'], ['endpoints', '--network'], ['networkAliases', '--network-alias'],
  ],
  ipc: [['ipc', '--ipc']],
  uts: [['uts', '--uts'], ['hostname', '--hostname'], ['domainname', '--domainname']],
  pid: [['pid', '--pid']],
};

const given = (v: unknown) => v !== undefined && v !== false && v !== '' && !(Array.isArray(v) && v.length === 0);

/**
 * The options of a container made in `pod`: the shared namespaces joined, the cgroup the pod's. A namespace the
 * infra container has of the host's (a pod on the host's network, IPC or pid) is the host's for the member too.
 */
export function memberOptions(pod: PodRow, opts: CreateOptions, infra?: Isolation, pinned?: PinnedJoin): CreateOptions {
  const { share, infraId, cgroupParent } = pod.config;
  for (const ns of share) {
    const flag = OWNED_BY_POD[ns]!.find(([key]) => given(opts[key]));
    if (flag) throw new InvalidArgument(`${flag[1]} cannot be set for a container in pod ${pod.name}: it shares the pod's ${ns} namespace`);
  }
  if (opts.cgroupParent !== undefined) throw new InvalidArgument(`--cgroup-parent cannot be set for a container in pod ${pod.name}: its containers are in the pod's cgroup`);
  if (opts.userns !== undefined && opts.userns !== '' && opts.userns !== 'host') throw new InvalidArgument(`--userns cannot be set for a container in pod ${pod.name}: the pod's namespaces are in the host's user namespace`);
  if (pod.config.pinned) {
    if (!pinned) throw new Error('memberOptions: a pinned pod needs its namespaces (pinnedModes)');
    return { ...opts, ...pinned, cgroupParent };
  }
  const joined = (mode: string | undefined) => (mode === 'host' ? 'host' : `container:${infraId}`);
  return {
    ...opts,
    ...(share.includes('net') ? { network: joined(infra?.network) } : {}),
    ...(share.includes('ipc') ? { ipc: joined(infra?.ipc) } : {}),
    ...(share.includes('uts') ? { uts: joined(infra?.uts) } : {}),
    ...(share.includes('pid') || infra?.pid === 'host' ? { pid: joined(infra?.pid) } : {}),
    ...(infra?.ipc === 'host' ? { ipc: 'host' } : {}),
    cgroupParent,
  };
}

export type PinnedJoin = Pick<CreateOptions, 'network' | 'ipc' | 'uts'>;

/** How a pinned pod's containers join its namespaces: by path (refused while they are down), or the host's. */
export function pinnedModes(engine: EngineCore, pod: PodRow): PinnedJoin {
  const p = pinnedPaths(engine, pod);
  const { network, hostIpc } = pod.config.pinned!;
  const share = pod.config.share;
  if (!isPinnedUp(engine.pods.get(pod.id) ?? pod)) throw new Conflict(`pod ${pod.name} is not running: start it first`);
  return {
    ...(share.includes('net') ? { network: network === 'host' ? 'host' : `ns:${p.net}` } : {}),
    ...(hostIpc ? { ipc: 'host' } : share.includes('ipc') ? { ipc: `ns:${p.ipc}` } : {}),
    ...(share.includes('uts') ? { uts: network === 'host' ? 'host' : `ns:${p.uts}` } : {}),
  };
}

/**
 * Before a member starts: the infra container must run (a pinned pod's namespaces be up), since the member
 * joins its namespaces. Started here (podman's `run --pod` starts a stopped pod's infra too), before the
 * member's own lock is taken: locks are taken pod first, as `pod rm` takes them.
 */
export async function ensureInfraRunning(engine: EngineCore, podId: string, memberId: string): Promise<void> {
  const pod = engine.pods.get(podId);
  if (!pod || pod.config.infraId === memberId) return;
  if (pod.config.pinned) {
    if (!isPinnedUp(pod)) await withPodLock(engine, pod, () => pinPod(engine, pod));
    return;
  }
  const infra = engine.lookupSynced(pod.config.infraId);
  if (!infra) throw new Conflict(`pod ${pod.name} has lost its infra container: remove the pod`);
  if (infra.state === 'paused') throw new Conflict(`pod ${pod.name} is paused: unpause it first`);
  if (!isLive(infra.state)) await start(engine, infra.id);
}
