/**
 * `pod create`: the pod's row and its infra container, made together or not at all. The infra container holds
 * the namespaces the pod shares (its network with the published ports, its /dev/shm for IPC, its hostname) and
 * sits in the pod's cgroup; the pod's other containers join it (src/engine/pods/member.ts).
 */
import { AlreadyExists, InvalidArgument } from '../../errors.ts';
import type { PodRow } from '../../store/pods.ts';
import type { PodConfig } from '../../types.ts';
import { findNetwork } from '../networks.ts';
import type { CreateOptions } from '../config.ts';
import type { EngineCore } from '../core.ts';
import { newId } from '../names.ts';
import { create } from '../verbs/create.ts';
import { remove } from '../verbs/remove.ts';
import { infraImage } from './infra-image.ts';
import { parseShare, type PodCreateOptions } from './options.ts';

const DEFAULT_PARENT = '/berth';

/** podman's rule for pod names: a letter or digit, then letters, digits, `_`, `.` and `-` (one character will do). */
const POD_NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;

/** The pod's name as given (checked), or `pod_` and part of its id. */
function podName(engine: EngineCore, given: string | undefined, id: string): string {
  if (given !== undefined) {
    if (!POD_NAME.test(given)) throw new InvalidArgument(`invalid pod name ${JSON.stringify(given)}: only [a-zA-Z0-9][a-zA-Z0-9_.-]* is allowed`);
    return given;
  }
  for (let i = 0; i < 20; i++) {
    const name = `pod_${id.slice(i, i + 8)}`;
    if (!engine.pods.lookup(name).row) return name;
  }
  return `pod_${id.slice(0, 16)}`;
}

export async function createPod(engine: EngineCore, opts: PodCreateOptions): Promise<PodRow> {
  const share = parseShare(opts.share);
  const net = share.includes('net');
  if (!net && ((opts.publish ?? []).length > 0 || (opts.network !== undefined && opts.network !== 'none'))) {
    throw new InvalidArgument('a pod that does not share its network namespace has no network of its own: --publish and --network need --share net');
  }
  if (!share.includes('uts') && opts.hostname !== undefined) throw new InvalidArgument('a pod that does not share its UTS namespace has no hostname: --hostname needs --share uts');
  const id = newId();
  const name = podName(engine, opts.name, id);
  if (engine.pods.lookup(name).row) throw new AlreadyExists(`the pod name "${name}" is already in use`);
  if (opts.cgroupParent !== undefined && opts.cgroupPath !== undefined) throw new InvalidArgument('a pod takes a cgroup parent or a cgroup path, not both');
  const cgroupParent = opts.cgroupPath ?? `${(opts.cgroupParent ?? DEFAULT_PARENT).replace(/\/+$/, '')}/pod-${id}`;
  // A pod on the host's network has the host's hostname too (its UTS namespace), as kubelet's host-network pods do.
  const hostNet = net && opts.network === 'host';
  // A hostname is at most 64 bytes (sethostname): a longer pod name is cut, as the default only.
  const hostname = share.includes('uts') && !hostNet ? (opts.hostname ?? name.slice(0, 63)) : '';
  if (Buffer.byteLength(hostname) > 64) throw new InvalidArgument(`invalid hostname ${JSON.stringify(hostname)}: longer than 64 bytes`);
  if (opts.pinned) return createPinned(engine, opts, { id, name, share, cgroupParent, hostname, hostNet });
  const infra: CreateOptions = {
    image: opts.infraImage ?? (await infraImage(engine)),
    name: opts.infraName ?? `${id.slice(0, 12)}-infra`,
    ...(opts.infraCommand ? { entrypoint: opts.infraCommand } : {}),
    ...(hostname ? { hostname } : {}),
    ...(hostNet ? { uts: 'host' } : {}),
    network: net ? (opts.network ?? 'bridge') : 'none',
    ipc: opts.ipc === 'host' ? 'host' : share.includes('ipc') ? 'shareable' : 'private',
    ...(opts.pid === 'host' ? { pid: 'host' } : {}),
    ...(opts.sysctls ? { sysctls: opts.sysctls } : {}),
    cgroupParent,
    // catatonit -P prints nothing: no log, and no log writer beside its monitor.
    logDriver: 'none',
    ...(opts.runtime ? { runtime: opts.runtime } : {}),
    publish: opts.publish, ip: opts.ip, ip6: opts.ip6, macAddress: opts.macAddress, networkAliases: opts.networkAliases,
    dns: opts.dns, dnsSearch: opts.dnsSearch, dnsOptions: opts.dnsOptions, addHosts: opts.addHosts,
    podInfra: id,
  };
  const infraRow = await create(engine, infra);
  const config: PodConfig = {
    infraId: infraRow.id, share, cgroupParent, ownsCgroup: opts.cgroupPath === undefined, hostname, labels: { ...(opts.labels ?? {}) },
    ...(opts.cri ? { cri: opts.cri } : {}),
  };
  const row: PodRow = { id, name, config, createdAt: infraRow.createdAt, state: {} };
  try {
    engine.pods.insert(row);
  } catch (e) {
    await remove(engine, infraRow.id, true, true).catch(() => {});
    throw e;
  }
  engine.emit('pod', 'create', id, { name });
  return row;
}

/** What a pinned pod cannot have, by the option's name: it has no infra container to hold it. */
const NOT_PINNED: [keyof PodCreateOptions, string][] = [
  ['publish', 'published ports'], ['sysctls', 'sysctls'], ['infraImage', 'an infra image'], ['infraCommand', 'an infra command'],
  ['infraName', 'an infra name'], ['ip', 'a fixed address'], ['ip6', 'a fixed address'], ['macAddress', 'a MAC address'],
  ['networkAliases', 'network aliases'], ['addHosts', 'extra hosts'], ['pid', "the host's pid namespace"],
];

/** A pod whose namespaces are pinned (src/engine/pods/pinned.ts): its row only; `pod start` brings them up. */
function createPinned(engine: EngineCore, opts: PodCreateOptions, p: { id: string; name: string; share: PodConfig['share']; cgroupParent: string; hostname: string; hostNet: boolean }): PodRow {
  for (const [key, what] of NOT_PINNED) {
    const v = opts[key];
    if (v !== undefined && !(Array.isArray(v) && v.length === 0) && !(typeof v === 'object' && !Array.isArray(v) && Object.keys(v).length === 0)) {
      throw new InvalidArgument(`a pod without an infra container cannot have ${what}`);
    }
  }
  if (p.share.includes('pid')) throw new InvalidArgument('a pod without an infra container cannot share a pid namespace: nothing would be its pid 1');
  if (p.share.includes('net') && opts.network === 'none') throw new InvalidArgument('a pod without an infra container needs a network (or the host\'s)');
  const network = !p.share.includes('net') || p.hostNet
    ? ('host' as const)
    : { name: findNetwork(engine, opts.network ?? 'bridge').name, dns: opts.dns ?? [], dnsSearch: opts.dnsSearch ?? [], dnsOptions: opts.dnsOptions ?? [] };
  const shmSize = opts.shmSize ?? 64 * 1024 * 1024;
  if (!Number.isInteger(shmSize) || shmSize <= 0) throw new InvalidArgument(`invalid shm size ${opts.shmSize}: must be greater than 0`);
  const config: PodConfig = {
    infraId: '', share: p.share, cgroupParent: p.cgroupParent, ownsCgroup: opts.cgroupPath === undefined, hostname: p.hostname, labels: { ...(opts.labels ?? {}) },
    pinned: { network, shmSize, hostIpc: opts.ipc === 'host' },
    ...(opts.cri ? { cri: opts.cri } : {}),
  };
  const row: PodRow = { id: p.id, name: p.name, config, createdAt: new Date().toISOString(), state: {} };
  engine.pods.insert(row);
  engine.emit('pod', 'create', p.id, { name: p.name });
  return row;
}
