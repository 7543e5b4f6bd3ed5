/**
 * Pinned pods: a pod whose shared namespaces are files the engine binds them to, not an infra process's (as
 * CRI-O's pods without an infra container are). Bringing one up (pinPod) makes its network namespace, wired to
 * its one network; its IPC namespace with the pod's /dev/shm, a tmpfs; its UTS namespace with its hostname; and
 * the /etc files its containers bind in. Its containers join them by path (member.ts). Without an infra
 * container's create and start (a monitor, two runtime processes, an overlay mount), a pod comes up in the time
 * its network takes to wire. Releasing it (releasePod) undoes all of it. What exists is recorded in the pod's
 * state as it is made, so an interrupted pinPod is undone from the record.
 */
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { RuntimeFailure } from '../../errors.ts';
import { renderHostname, renderHosts, renderResolv } from '../../network/hosts.ts';
import { netnsPath } from '../../network/netns.ts';
import type { PodRow } from '../../store/pods.ts';
import { mountFs, unmount } from '../../sys/mount.ts';
import { canPinNamespaces, pinNamespaces } from '../../sys/ns-pin.ts';
import { run } from '../../sys/run.ts';
import { trace } from '../../sys/trace.ts';
import type { PodState } from '../../types.ts';
import type { EngineCore } from '../core.ts';
import { netnsName, unwirePod, wirePod } from '../network-attach.ts';
import { podDir, podEtcDir } from './paths.ts';

/** Where a pinned pod's namespaces are bound, for those it has of its own (not the host's). */
export function pinnedPaths(engine: EngineCore, pod: PodRow): { net?: string; ipc?: string; uts?: string; shm?: string; etc?: string } {
  const pinned = pod.config.pinned!;
  const d = podDir(engine, pod.id);
  const share = pod.config.share;
  const hostNet = pinned.network === 'host';
  return {
    ...(share.includes('net') && !hostNet ? { net: netnsPath(netnsName(pod.id)), etc: podEtcDir(engine, pod.id) } : {}),
    ...(share.includes('ipc') && !pinned.hostIpc ? { ipc: join(d, 'ns', 'ipc'), shm: join(d, 'shm') } : {}),
    ...(share.includes('uts') && !hostNet ? { uts: join(d, 'ns', 'uts') } : {}),
  };
}

/** Bring a pinned pod's namespaces up; one already up is left as it is. */
export async function pinPod(engine: EngineCore, pod: PodRow): Promise<PodState> {
  const now = engine.pods.get(pod.id)?.state ?? pod.state;
  if (now.up) return now;
  // What an interrupted bring-up left goes first.
  if (Object.keys(now).length > 0) await releasePod(engine, { ...pod, state: now });
  const p = pinnedPaths(engine, pod);
  const pinned = pod.config.pinned!;
  let state: PodState = {};
  const record = (part: PodState) => {
    state = { ...state, ...part };
    engine.pods.setState(pod.id, state);
  };
  try {
    mkdirSync(join(podDir(engine, pod.id), 'ns'), { recursive: true, mode: 0o700 });
    // IPC and UTS here, the network's namespace beside them (wirePod, whose plugins take the longest).
    record({ ...(p.ipc ? { ipc: p.ipc } : {}), ...(p.uts ? { uts: p.uts } : {}) });
    const wired = p.net && typeof pinned.network === 'object' ? wirePod(engine, pod.id, pinned.network.name, record) : undefined;
    wired?.catch(() => {});
    try {
      await pinLocal({ ...(p.ipc ? { ipc: p.ipc } : {}), ...(p.uts ? { uts: p.uts } : {}) }, pod.config.hostname);
    } finally {
      await wired?.catch(() => {});
    }
    await wired;
    if (p.shm) {
      mkdirSync(p.shm, { recursive: true, mode: 0o711 });
      record({ shm: p.shm });
      await mountFs('tmpfs', 'shm', p.shm, `nosuid,nodev,noexec,mode=1777,size=${pinned.shmSize}`);
    }
    if (p.etc) writeEtc(pod, p.etc, state);
    record({ up: true });
    trace('pod: up');
    return state;
  } catch (e) {
    await releasePod(engine, { ...pod, state }).catch(() => {});
    throw e;
  }
}

/** New IPC and UTS namespaces on their files: by system calls where the server loaded them, else unshare(1). */
async function pinLocal(files: { ipc?: string; uts?: string }, hostname: string): Promise<void> {
  if (!files.ipc && !files.uts) return;
  if (canPinNamespaces()) {
    try {
      pinNamespaces(files, hostname);
    } catch (e) {
      throw new RuntimeFailure(`pin the pod's namespaces: ${(e as Error).message}`);
    }
    return;
  }
  for (const f of [files.ipc, files.uts]) if (f) writeFileSync(f, '', { mode: 0o444, flag: 'wx' });
  const args = [...(files.ipc ? [`--ipc=${files.ipc}`] : []), ...(files.uts ? [`--uts=${files.uts}`, 'hostname', hostname] : ['true'])];
  const r = await run('unshare', args);
  if (r.code !== 0) {
    for (const f of [files.ipc, files.uts]) if (f) rmSync(f, { force: true });
    throw new RuntimeFailure(`unshare ${args.join(' ')}: ${r.stderr.trim() || `exit status ${r.code}`}`);
  }
}

/** The pod's /etc/hosts, /etc/resolv.conf and /etc/hostname, which its containers bind in. */
function writeEtc(pod: PodRow, dir: string, state: PodState): void {
  const net = pod.config.pinned!.network;
  if (typeof net !== 'object') return;
  mkdirSync(dir, { recursive: true, mode: 0o755 });
  const mine = Object.values(state.networks ?? {});
  let hostResolv = '';
  try {
    hostResolv = readFileSync('/etc/resolv.conf', 'utf8');
  } catch {
    // a host without resolv.conf: docker's defaults apply
  }
  writeFileSync(join(dir, 'hosts'), renderHosts({ hostname: pod.config.hostname, ips: mine.flatMap((m) => [m.ip, m.ipv6 ?? '']).filter(Boolean), extraHosts: [], peers: [] }));
  writeFileSync(join(dir, 'resolv.conf'), renderResolv(hostResolv, { dns: net.dns, search: net.dnsSearch, options: net.dnsOptions }));
  writeFileSync(join(dir, 'hostname'), renderHostname(pod.config.hostname));
}

/**
 * Take a pinned pod's namespaces down: its network unwired, the namespace files and its /dev/shm unmounted.
 * Each part is tried; what failed is reported together, and the record keeps what is still there.
 */
export async function releasePod(engine: EngineCore, pod: PodRow): Promise<void> {
  const state = engine.pods.get(pod.id)?.state ?? pod.state;
  const net = pod.config.pinned?.network;
  const failed: string[] = [];
  const left: PodState = {};
  await unwirePod(engine, pod.id, state, typeof net === 'object' ? net.name : undefined).catch((e: unknown) => {
    failed.push(`network: ${(e as Error).message}`);
    Object.assign(left, { net: state.net, networks: state.networks });
  });
  for (const k of ['shm', 'ipc', 'uts'] as const) {
    const f = state[k];
    if (!f) continue;
    try {
      await unmount(f);
      if (k !== 'shm' && existsSync(f)) rmSync(f, { force: true });
    } catch (e) {
      failed.push(`${k}: ${(e as Error).message}`);
      left[k] = f;
    }
  }
  if (engine.pods.get(pod.id)) engine.pods.setState(pod.id, left);
  if (failed.length > 0) throw new RuntimeFailure(`pod ${pod.name}: releasing its namespaces: ${failed.join('; ')}`);
}
