/**
 * --sysctl checks: only sysctls the kernel keeps per namespace may be set, and only when the container
 * has that namespace of its own (docker's list; runc refuses the rest at start, later and less clearly).
 */
import { InvalidArgument } from '../../errors.ts';

/** Which namespaces the container shares with the host. */
export interface SharedNamespaces {
  hostNetwork?: boolean;
  hostIpc?: boolean;
  hostUts?: boolean;
}

type Namespace = 'network' | 'IPC' | 'UTS';

const IPC_SYSCTLS: ReadonlySet<string> = new Set([
  'kernel.msgmax',
  'kernel.msgmnb',
  'kernel.msgmni',
  'kernel.sem',
  'kernel.shmall',
  'kernel.shmmax',
  'kernel.shmmni',
  'kernel.shm_rmid_forced',
]);

/** The namespace a sysctl belongs to, or undefined when the kernel keeps it host-wide. */
export function sysctlNamespace(name: string): Namespace | undefined {
  if (IPC_SYSCTLS.has(name) || name.startsWith('fs.mqueue.')) return 'IPC';
  if (name.startsWith('net.')) return 'network';
  if (name === 'kernel.domainname' || name === 'kernel.hostname') return 'UTS';
  return undefined;
}

/**
 * Check `sysctls` (name → value) against the container's namespaces and return a copy. Refuses
 * host-wide sysctls, namespaced ones whose namespace is shared with the host, and kernel.hostname,
 * which runc refuses because the spec's hostname field sets it.
 */
export function validateSysctls(sysctls: Readonly<Record<string, string>>, shared: SharedNamespaces = {}): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(sysctls)) {
    const ns = sysctlNamespace(name);
    if (!ns) throw new InvalidArgument(`sysctl '${name}' is not allowed: it is not namespaced`);
    const onHost = ns === 'network' ? shared.hostNetwork : ns === 'IPC' ? shared.hostIpc : shared.hostUts;
    if (onHost) throw new InvalidArgument(`sysctl '${name}' is not allowed in host ${ns} namespace`);
    if (name === 'kernel.hostname') {
      throw new InvalidArgument(`sysctl 'kernel.hostname' is not allowed: set the hostname with --hostname`);
    }
    out[name] = value;
  }
  return out;
}
