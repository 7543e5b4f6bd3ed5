/**
 * A CRI CreateContainer request in Berth's terms: the create options of a container in the sandbox's pod. The
 * security context kubelet sends (user and groups, capabilities, privileged, read-only root, seccomp,
 * no_new_privs, masked and read-only paths, the pid namespace mode) maps onto the engine's isolation options;
 * resources onto its limits; mounts onto binds; the log onto a k8s-file log at the path kubelet reads.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { InvalidArgument, NotSupported } from '../errors.ts';
import type { CreateOptions } from '../engine/config.ts';
import type { ResourceOptions } from '../engine/resources.ts';
import type { PodRow } from '../store/pods.ts';
import { int64 } from './convert.ts';

type Int64Value = { value?: string | number } | null | undefined;

export interface CriResources {
  cpu_period?: string | number;
  cpu_quota?: string | number;
  cpu_shares?: string | number;
  memory_limit_in_bytes?: string | number;
  oom_score_adj?: string | number;
  cpuset_cpus?: string;
  cpuset_mems?: string;
  memory_swap_limit_in_bytes?: string | number;
  unified?: Record<string, string>;
  hugepage_limits?: { page_size?: string; limit?: string | number }[];
}

export interface CriContainerConfig {
  metadata?: { name?: string; attempt?: number } | null;
  image?: { image?: string } | null;
  command?: string[];
  args?: string[];
  working_dir?: string;
  envs?: { key?: string; value?: string }[];
  mounts?: { container_path?: string; host_path?: string; readonly?: boolean; propagation?: string }[];
  devices?: { container_path?: string; host_path?: string; permissions?: string }[];
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  log_path?: string;
  stdin?: boolean;
  stdin_once?: boolean;
  tty?: boolean;
  linux?: {
    resources?: CriResources | null;
    security_context?: {
      capabilities?: { add_capabilities?: string[]; drop_capabilities?: string[] } | null;
      privileged?: boolean;
      namespace_options?: { pid?: string; target_id?: string } | null;
      run_as_user?: Int64Value;
      run_as_group?: Int64Value;
      run_as_username?: string;
      readonly_rootfs?: boolean;
      supplemental_groups?: (string | number)[];
      no_new_privs?: boolean;
      masked_paths?: string[];
      readonly_paths?: string[];
      seccomp?: { profile_type?: string; localhost_ref?: string } | null;
      seccomp_profile_path?: string;
    } | null;
  } | null;
}

/**
 * The lowest OOM score this server may give: root here may lack CAP_SYS_RESOURCE, and then no process gets
 * below its parent's (a negative value would fail every start, as containerd's restrict_oom_score_adj knows).
 */
function oomFloor(): number {
  try {
    return Number(readFileSync('/proc/self/oom_score_adj', 'utf8').trim()) || 0;
  } catch {
    return 0;
  }
}

/** The limits a CRI resources message asks for (zero meaning "not set", as the CRI's defaults are). */
export function criResources(r: CriResources | null | undefined): ResourceOptions & { oomScoreAdj?: number } {
  if (!r) return {};
  const pos = (v: unknown) => (int64(v) > 0 ? int64(v) : undefined);
  const out: ResourceOptions & { oomScoreAdj?: number } = {};
  const set = <K extends keyof ResourceOptions>(k: K, v: ResourceOptions[K] | undefined) => {
    if (v !== undefined) out[k] = v;
  };
  set('cpuPeriod', pos(r.cpu_period));
  set('cpuQuota', pos(r.cpu_quota));
  set('cpuShares', pos(r.cpu_shares));
  set('memory', pos(r.memory_limit_in_bytes));
  set('memorySwap', pos(r.memory_swap_limit_in_bytes));
  if (r.cpuset_cpus) out.cpusetCpus = r.cpuset_cpus;
  if (r.cpuset_mems) out.cpusetMems = r.cpuset_mems;
  if ((r.hugepage_limits ?? []).some((h) => int64(h.limit) > 0)) throw new NotSupported('hugepage limits are not supported by Berth');
  if (Object.keys(r.unified ?? {}).length > 0) throw new NotSupported('unified cgroup v2 settings are not supported by Berth');
  const oom = int64(r.oom_score_adj);
  if (oom !== 0) out.oomScoreAdj = Math.max(oom, oomFloor());
  return out;
}

function user(sc: NonNullable<NonNullable<CriContainerConfig['linux']>['security_context']>): string | undefined {
  const uid = sc.run_as_user ? String(int64(sc.run_as_user.value)) : undefined;
  const gid = sc.run_as_group ? String(int64(sc.run_as_group.value)) : undefined;
  const name = sc.run_as_username || undefined;
  if (gid !== undefined && uid === undefined && name === undefined) throw new InvalidArgument('run_as_group is set without run_as_user or run_as_username');
  const who = uid ?? name;
  return who === undefined ? undefined : gid !== undefined ? `${who}:${gid}` : who;
}

/** seccomp as `--security-opt`: RuntimeDefault is the engine's default; unset, as kubelet means it, is unconfined. */
function seccomp(sc: NonNullable<NonNullable<CriContainerConfig['linux']>['security_context']>): string[] {
  const p = sc.seccomp;
  if (p?.profile_type === 'RuntimeDefault') return [];
  if (p?.profile_type === 'Localhost') {
    if (!p.localhost_ref) throw new InvalidArgument('a Localhost seccomp profile needs localhost_ref');
    return [`seccomp=${p.localhost_ref}`];
  }
  if (p?.profile_type === 'Unconfined') return ['seccomp=unconfined'];
  const path = sc.seccomp_profile_path ?? '';
  if (path === 'runtime/default' || path === 'docker/default') return [];
  if (path.startsWith('localhost/')) return [`seccomp=${path.slice(10)}`];
  return ['seccomp=unconfined'];
}

const PROPAGATION: Record<string, string> = { PROPAGATION_PRIVATE: 'rprivate', PROPAGATION_HOST_TO_CONTAINER: 'rslave', PROPAGATION_BIDIRECTIONAL: 'rshared' };

/** The container's name in Berth, unique per sandbox, name and attempt (as dockershim named them). */
export function criContainerName(pod: PodRow, m: { name: string; attempt: number }): string {
  const s = pod.config.cri!;
  return `k8s_${m.name}_${s.name}_${s.namespace}_${s.uid}_${m.attempt}`;
}

export function createOptions(pod: PodRow, c: CriContainerConfig): CreateOptions {
  const meta = c.metadata;
  if (!meta?.name) throw new InvalidArgument('the container config needs metadata with a name');
  const image = c.image?.image;
  if (!image) throw new InvalidArgument('the container config needs an image');
  const sc = c.linux?.security_context ?? {};
  const ns = sc.namespace_options ?? {};
  const s = pod.config.cri!;
  const privileged = sc.privileged ?? false;
  const logPath = s.logDirectory && c.log_path ? join(s.logDirectory, c.log_path) : '';
  const u = user(sc);
  const { oomScoreAdj, ...resources } = criResources(c.linux?.resources);
  const volumes = (c.mounts ?? []).map((m) => {
    if (!m.host_path || !m.container_path) throw new InvalidArgument('a mount needs host_path and container_path');
    const opts = [...(m.readonly ? ['ro'] : []), ...(m.propagation && PROPAGATION[m.propagation] ? [PROPAGATION[m.propagation]!] : [])];
    return `${m.host_path}:${m.container_path}${opts.length ? `:${opts.join(',')}` : ''}`;
  });
  return {
    image,
    name: criContainerName(pod, { name: meta.name, attempt: meta.attempt ?? 0 }),
    pod: pod.id,
    ...(c.command && c.command.length > 0 ? { entrypoint: c.command } : {}),
    ...(c.args && c.args.length > 0 ? { cmd: c.args } : {}),
    ...(c.working_dir ? { workdir: c.working_dir } : {}),
    env: (c.envs ?? []).map((e) => `${e.key ?? ''}=${e.value ?? ''}`),
    volumes,
    devices: (c.devices ?? []).map((d) => `${d.host_path}:${d.container_path}${d.permissions ? `:${d.permissions}` : ''}`),
    labels: { ...(c.labels ?? {}) },
    annotations: { ...(c.annotations ?? {}) },
    tty: c.tty ?? false,
    openStdin: c.stdin ?? false,
    stdinOnce: c.stdin_once ?? false,
    ...resources,
    ...(oomScoreAdj !== undefined ? { oomScoreAdj } : {}),
    ...(u !== undefined ? { user: u } : {}),
    privileged,
    capAdd: sc.capabilities?.add_capabilities ?? [],
    capDrop: sc.capabilities?.drop_capabilities ?? [],
    readonlyRootfs: sc.readonly_rootfs ?? false,
    groupAdd: (sc.supplemental_groups ?? []).map(String),
    securityOpt: [...(privileged ? [] : seccomp(sc)), ...(sc.no_new_privs ? ['no-new-privileges'] : [])],
    ...((sc.masked_paths ?? []).length > 0 ? { maskedPaths: sc.masked_paths } : {}),
    ...((sc.readonly_paths ?? []).length > 0 ? { readonlyPaths: sc.readonly_paths } : {}),
    ...(ns.pid === 'TARGET' ? { pid: `container:${ns.target_id}` } : ns.pid === 'NODE' ? { pid: 'host' } : {}),
    logDriver: 'k8s-file',
    logOpts: logPath ? { path: logPath } : {},
    // The runtime's own restarts are kubelet's to decide.
    restartPolicy: { name: 'no' },
    cri: { name: meta.name, attempt: meta.attempt ?? 0, labels: { ...(c.labels ?? {}) }, annotations: { ...(c.annotations ?? {}) }, image, logPath },
  };
}
