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
export function memberOptions(pod: PodRow, opts: CreateOptions, infra?: Isolation): CreateOptions {
  const { share, infraId, cgroupParent } = pod.config;
  for (const ns of share) {
    const flag = OWNED_BY_POD[ns]!.find(([key]) => given(opts[key]));
    if (flag) throw new InvalidArgument(`${flag[1]} cannot be set for a container in pod ${pod.name}: it shares the pod's ${ns} namespace`);
  }
  if (opts.cgroupParent !== undefined) throw new InvalidArgument(`--cgroup-parent cannot be set for a container in pod ${pod.name}: its containers are in the pod's cgroup`);
  if (opts.userns !== undefined && opts.userns !== '' && opts.userns !== 'host') throw new InvalidArgument(`--userns cannot be set for a container in pod ${pod.name}: the pod's namespaces are in the host's user namespace`);
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

/**
 * Before a member starts: the infra container must run, since the member joins its namespaces. Started here
 * (podman's `run --pod` starts a stopped pod's infra too), before the member's own lock is taken: locks are
 * taken infra first, as `pod rm` takes them.
 */
export async function ensureInfraRunning(engine: EngineCore, podId: string, memberId: string): Promise<void> {
  const pod = engine.pods.get(podId);
  if (!pod || pod.config.infraId === memberId) return;
  const infra = engine.lookupSynced(pod.config.infraId);
  if (!infra) throw new Conflict(`pod ${pod.name} has lost its infra container: remove the pod`);
  if (infra.state === 'paused') throw new Conflict(`pod ${pod.name} is paused: unpause it first`);
  if (!isLive(infra.state)) await start(engine, infra.id);
}
