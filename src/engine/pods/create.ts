/**
 * `pod create`: the pod's row and its infra container, made together or not at all. The infra container holds
 * the namespaces the pod shares (its network with the published ports, its /dev/shm for IPC, its hostname) and
 * sits in the pod's cgroup; the pod's other containers join it (src/engine/pods/member.ts).
 */
import { AlreadyExists, InvalidArgument } from '../../errors.ts';
import type { PodRow } from '../../store/pods.ts';
import type { PodConfig } from '../../types.ts';
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
  const row: PodRow = { id, name, config, createdAt: infraRow.createdAt };
  try {
    engine.pods.insert(row);
  } catch (e) {
    await remove(engine, infraRow.id, true, true).catch(() => {});
    throw e;
  }
  engine.emit('pod', 'create', id, { name });
  return row;
}
