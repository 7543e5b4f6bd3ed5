/**
 * Wiring a container into its networks at start and out at stop: a named network namespace, one CNI
 * ADD per network (eth0, eth1, …; published ports on the first), and the container's /etc/hosts,
 * /etc/resolv.conf and /etc/hostname. Containers on a user network find each other by name and alias
 * through their hosts files, rewritten in place whenever a peer starts or stops there.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Conflict, Forbidden, InvalidArgument, NoSuchContainer, NotFound } from '../errors.ts';
import { CNI_PATH, cniAdd, cniDel, releaseOrphanLeases, sweepOrphanRules, type NetworkDef } from '../network/cni.ts';
import { leases, settleNetworkWorkers } from '../network/leftovers.ts';
import { namesOnNetwork, renderHostname, renderHosts, renderResolv, writeInPlace } from '../network/hosts.ts';
import { attachNetns, createNetns, deleteNetns, netnsPath } from '../network/netns.ts';
import { allocatedMessage, findClash, resolvePorts } from '../network/ports.ts';
import { tx } from '../store/db.ts';
import { isAlive } from '../sys/proc.ts';
import { trace } from '../sys/trace.ts';
import type { ContainerRow } from '../store/containers.ts';
import type { NetworkRow } from '../store/networks.ts';
import type { NetworkAttachment, NetworkState, PodState, PortMapping } from '../types.ts';
import type { OciMount } from '../runtime/spec/index.ts';
import type { EngineCore } from './core.ts';
import { linkHosts, linkParents, parseLink, removeLink } from './links.ts';
import { attachmentFor, type EndpointOptions } from './net-config.ts';
import { bridgeOptions } from './network-options.ts';
import { DEFAULT_NETWORK, findNetwork, NETNS_PREFIX } from './networks.ts';
import { podEtcDir } from './pods/paths.ts';
import { isLive } from './state.ts';

export const netnsName = (id: string) => `${NETNS_PREFIX}${id.slice(0, 16)}`;

function def(n: NetworkRow): NetworkDef {
  const o = bridgeOptions(n.options ?? {});
  return {
    name: n.name,
    id: n.id,
    bridge: n.bridge,
    subnets: n.subnets,
    internal: n.internal,
    ...(n.mtu ? { mtu: n.mtu } : {}),
    ...(o.ipMasq ? {} : { ipMasq: false }),
    ...(o.icc ? {} : { icc: false }),
  };
}

/** Where host-local keeps leases (ipam/<net>/<ip>) and cniAdd its cached results. */
const dataDir = (engine: EngineCore) => join(engine.root, 'cni');
const hostname = (row: ContainerRow) => row.config.hostname || row.id.slice(0, 12);

/**
 * A published port as portmap sees it in an ordinary user's network namespace: whatever host address it was
 * published on, slirp4netns's forward (which listens there) brings it to the namespace's one address.
 */
function atUserNetwork(p: PortMapping): PortMapping {
  return { ...p, hostIP: '' };
}

/** Attach a container (or a pinned pod: its id) to one network; returns its part of the NetworkState. */
async function attach(engine: EngineCore, id: string, netns: string, a: NetworkAttachment, index: number, ports: NetworkState['ports']) {
  const net = findNetwork(engine, a.name);
  await engine.userNetwork?.ensure(true);
  const got = await cniAdd({
    containerId: id,
    netnsPath: netns,
    ifName: `eth${index}`,
    net: def(net),
    dataDir: dataDir(engine),
    ...(a.ip ? { ip: a.ip } : {}),
    ...(a.ip6 ? { ip6: a.ip6 } : {}),
    ...(a.linkLocalIps?.length ? { linkLocalIps: a.linkLocalIps } : {}),
    ...(a.mac ? { mac: a.mac } : {}),
    ...(index === 0 && ports && ports.length > 0 ? { portMappings: engine.userNetwork ? ports.map(atUserNetwork) : ports } : {}),
  });
  const v4 = got.ips.find((i) => i.version === 4);
  const v6 = got.ips.find((i) => i.version === 6);
  return {
    ifName: got.ifName,
    ip: v4?.address.split('/')[0] ?? '',
    prefixLen: Number(v4?.address.split('/')[1] ?? 0),
    gateway: v4?.gateway ?? '',
    mac: got.mac,
    ...(v6 ? { ipv6: v6.address.split('/')[0]!, ipv6PrefixLen: Number(v6.address.split('/')[1]), ipv6Gateway: v6.gateway } : {}),
  };
}

async function detach(engine: EngineCore, id: string, netns: string, name: string, ifName: string): Promise<void> {
  const net = engine.networks.find(name);
  if (!net) return; // removed with its leases; nothing of ours is left on it
  await engine.userNetwork?.ensure(false);
  await cniDel({ containerId: id, netnsPath: netns, ifName, net: def(net), dataDir: dataDir(engine) });
}

/** Whether a container holds the host ports it publishes: it runs (until its exit is seen), or its start is in flight. */
function holdsPorts(engine: EngineCore, r: ContainerRow): boolean {
  if (!r.net.netns || !r.net.ports?.length) return false;
  if (r.state === 'created') return r.lockPid !== 0 && isAlive(r.lockPid, r.lockStart);
  if (r.state !== 'running' && r.state !== 'paused') return false;
  // Exited but not cleaned up yet: the monitor recorded the exit, or the monitor and the process are both gone.
  if (engine.watcher(r).observe(engine.dir(r.id), r.id).exit) return false;
  return (r.monitorPid !== 0 && isAlive(r.monitorPid, r.monitorStart)) || (r.pid !== 0 && isAlive(r.pid, r.pidStart));
}

/** The host ports containers other than `self` hold (see holdsPorts). */
function portsInUse(engine: EngineCore, self: string): PortMapping[] {
  return engine.containers.list().flatMap((r) => (r.id !== self && holdsPorts(engine, r) ? r.net.ports! : []));
}

/**
 * Claim the container's published ports and store its network state with them. A host port another
 * container holds is refused with docker's message; open ones (host port 0) get a free port no container
 * maps. The check and the write are one IMMEDIATE transaction, so of two starts that want one port
 * only the first gets it (the other sees the first's row); a pick that lost that race is made again.
 */
async function claimPorts(engine: EngineCore, row: ContainerRow, wanted: readonly PortMapping[], state: NetworkState): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    const ports = await resolvePorts(wanted, portsInUse(engine, row.id));
    const claimed = tx(engine.db, () => {
      const i = findClash(ports, portsInUse(engine, row.id));
      if (i < 0) {
        engine.containers.update(row.id, { net: { ...state, ports } });
        return true;
      }
      if (wanted[i]!.hostPort !== 0 || attempt >= 20) throw new Conflict(allocatedMessage(ports[i]!));
      return false;
    });
    if (claimed) {
      state.ports = ports;
      return;
    }
  }
}

/**
 * Bring up the container's networks (mode `bridge`) in a new netns. On failure everything made so far
 * is undone. The state is stored on the row before returning, so a crash leaves what repair needs.
 * `onNetns` hears the namespace's path as soon as it exists, before the plugins run: a runtime can
 * create the container in it meanwhile.
 */
export async function setupNetworks(engine: EngineCore, row: ContainerRow, pid?: number, onNetns?: (path: string) => void): Promise<NetworkState> {
  const networking = row.config.networking;
  const wanted = networking?.ports ?? [];
  // A port another container has fails the start before anything is made (claimPorts decides for good).
  const early = wanted.length > 0 ? findClash(wanted, portsInUse(engine, row.id)) : -1;
  if (early >= 0) throw new Conflict(allocatedMessage(wanted[early]!));
  // What a start killed midway left on this row (its repair may not have run): undone first.
  const stale = engine.containers.get(row.id);
  if (stale?.net.netns) {
    await settleWorkers([row.id]);
    await teardownNetworks(engine, stale);
  }
  // An ordinary user's network namespace and its way out first: where they cannot be, nothing else is made.
  await engine.userNetwork?.ensure(true);
  // Marked first, so a sweep after a crash at any point finds the namespace as this root's.
  mark(engine, row.id);
  // A pid: the runtime made the namespace (a user-namespaced container must own it); name it.
  // lo comes up beside the plugins' work (attachNetns brought it up already).
  const { path: netns, loopback } = await (pid ? attachNetns(netnsName(row.id), pid).then((path) => ({ path, loopback: Promise.resolve() })) : createNetns(netnsName(row.id))).catch((e: unknown) => {
    rmSync(join(markerDir(engine), netnsName(row.id)), { force: true });
    throw e;
  });
  onNetns?.(netns);
  const state: NetworkState = { netns, networks: {}, ports: [] };
  try {
    if (wanted.length > 0) await claimPorts(engine, row, wanted, state);
    else engine.containers.update(row.id, { net: state });
    for (const [i, a] of (networking?.networks ?? []).entries()) {
      state.networks![a.name] = await attach(engine, row.id, netns, a, i, state.ports);
      engine.containers.update(row.id, { net: state });
    }
    if (state.ports?.length && engine.userNetwork) await engine.userNetwork.forward(state.ports);
    await loopback;
  } catch (e) {
    await loopback.catch(() => {});
    await teardownNetworks(engine, { ...row, net: state });
    throw e;
  }
  return state;
}

/** Undo setupNetworks (idempotent; works from the stored state after a crash). */
export async function teardownNetworks(engine: EngineCore, row: ContainerRow): Promise<void> {
  const st = row.net;
  if (!st.netns) return;
  // The namespace goes first: that removes the veths at once, and the plugins' DEL then only releases
  // leases and rules (one iptables-restore for the masquerade chain instead of the bridge plugin's calls).
  await deleteNetns(netnsName(row.id));
  rmSync(join(markerDir(engine), netnsName(row.id)), { force: true });
  await engine.userNetwork?.unforward(st.ports ?? []).catch((e: unknown) => {
    process.stderr.write(`berth: container ${row.id.slice(0, 12)}: removing its published ports' forwards: ${(e as Error).message}\n`);
  });
  // A start killed while a network's ADD ran never recorded that network: DEL it too (DEL is idempotent and
  // finds what an ADD made from the container's id and leases).
  const recorded = Object.entries(st.networks ?? {}).map(([name, n]) => [name, n.ifName] as const);
  const unrecorded = (row.config.networking?.networks ?? []).flatMap((a, i) => (st.networks?.[a.name] ? [] : [[a.name, `eth${i}`] as const]));
  for (const [name, ifName] of [...recorded, ...unrecorded].reverse()) {
    await detach(engine, row.id, st.netns, name, ifName).catch((e: unknown) => {
      process.stderr.write(`berth: network ${name}: releasing container ${row.id.slice(0, 12)}: ${(e as Error).message}\n`);
    });
  }
  engine.containers.update(row.id, { net: {} });
  await refreshPeers(engine, row, Object.keys(st.networks ?? {}));
}

/**
 * A pinned pod's network (src/engine/pods/pinned.ts): a namespace made and marked as a container's (the pod's
 * id in the mark), on one network as eth0, with lo up. `made` hears each part as it exists, for the undo of
 * an interrupted wiring (unwirePod); on failure this undoes what it made.
 */
export async function wirePod(engine: EngineCore, podId: string, network: string, made: (part: PodState) => void): Promise<PodState> {
  // Recorded before it exists: a sweep meanwhile counts the namespace being made as the pod's.
  made({ net: netnsPath(netnsName(podId)) });
  mark(engine, podId);
  const { path: netns, loopback } = await createNetns(netnsName(podId)).catch(async (e: unknown) => {
    rmSync(join(markerDir(engine), netnsName(podId)), { force: true });
    throw e;
  });
  trace('pod: netns');
  try {
    const networks = { [network]: await attach(engine, podId, netns, { name: network, aliases: [] }, 0, undefined) };
    made({ net: netns, networks });
    await loopback;
    return { net: netns, networks };
  } catch (e) {
    await loopback.catch(() => {});
    await unwirePod(engine, podId, { net: netns }, network);
    throw e;
  }
}

/** Undo wirePod (idempotent; from the recorded state after a crash): the namespace first, then the network's lease. */
export async function unwirePod(engine: EngineCore, podId: string, state: PodState, network: string | undefined): Promise<void> {
  if (!state.net) return;
  await deleteNetns(netnsName(podId));
  rmSync(join(markerDir(engine), netnsName(podId)), { force: true });
  if (network) await detach(engine, podId, state.net, network, 'eth0');
}

/** The ids of the pinned pods that hold a network now: a sweep counts their namespaces and leases as live. */
function wiredPods(engine: EngineCore): string[] {
  return engine.pods.list().flatMap((p) => (p.state.net ? [p.id] : []));
}

/**
 * After crashes: network namespaces, leases and iptables chains of ours that no container records any
 * more. A running container whose row holds a netns owns its leftovers (its teardown releases them), so it
 * counts as live; so does one whose start is in flight (its lock is held). A created container whose row
 * still holds a netns was left so by a killed start: its networks are torn down here, under its lock.
 * Cheap when there is nothing to do: directory listings only, iptables is read only when an orphan was found.
 */
export async function sweepNetworkOrphans(engine: EngineCore, inFlight: (row: ContainerRow) => boolean): Promise<string[]> {
  const markers = markerDir(engine);
  const named = existsSync(markers) ? readdirSync(markers) : [];
  const nets = engine.networks.list();
  if (named.length === 0 && nets.every((n) => leases(dataDir(engine), n.name).length === 0)) return [];
  const found: string[] = [];
  // A created container holds no network: one that does was left so by a start killed before its repair
  // could see anything to undo (killed while the netns and the rootfs were still being made).
  for (const r of engine.containers.list()) {
    if (r.state !== 'created' || !r.net.netns || inFlight(r)) continue;
    const undone = await engine
      .withLock(r.id, async (cur) => {
        if (cur.state !== 'created' || !cur.net.netns) return false;
        await settleWorkers([cur.id]);
        await teardownNetworks(engine, cur);
        return true;
      }, 1000)
      .catch((e: unknown) => {
        if (e instanceof NoSuchContainer || e instanceof Conflict) return false; // gone, or busy: its holder decides
        throw e;
      });
    if (undone) found.push(`the networks of ${r.id.slice(0, 12)} (its start was interrupted)`);
  }
  const rows = engine.containers.list();
  const live = new Set([...rows.filter((r) => r.net.netns || isLive(r.state) || inFlight(r)).map((r) => r.id), ...wiredPods(engine)]);
  // Only namespaces this root made (it marks each one): other roots' containers share /run/netns.
  const marked: { ns: string; id: string }[] = [];
  for (const ns of named) {
    if (ns.startsWith('.')) {
      // A mark being written (see mark), or left so by a process that died before renaming it.
      if (!existsSync(`/proc/${ns.slice(ns.lastIndexOf('.') + 1)}`)) rmSync(join(markers, ns), { force: true });
      continue;
    }
    try {
      marked.push({ ns, id: readFileSync(join(markers, ns), 'utf8').trim() });
    } catch (e) {
      // Gone since the listing: another process (a container's cleanup run by its monitor) tore it down.
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    }
  }
  const orphans = new Set([
    ...marked.map((m) => m.id),
    ...nets.flatMap((n) => leases(dataDir(engine), n.name).map((l) => l.containerId)),
  ].filter((id) => id !== '' && !live.has(id)));
  if (orphans.size === 0) return found;
  // A plugin a killed CLI was running goes on alone: what it adds after this sweep would stay for good.
  await settleWorkers([...orphans]);
  const dead = { ids: new Set<string>(), ips: new Set<string>() };
  for (const { ns, id } of marked) {
    if (id === '' || live.has(id)) continue; // '': written in place by an older Berth, maybe still being written
    await deleteNetns(ns);
    rmSync(join(markers, ns), { force: true });
    dead.ids.add(id);
    found.push(`netns ${ns}`);
  }
  for (const n of nets) {
    for (const l of leases(dataDir(engine), n.name)) {
      if (l.containerId === '' || live.has(l.containerId)) continue;
      dead.ids.add(l.containerId);
      dead.ips.add(l.ip);
    }
  }
  for (const n of nets) for (const ip of releaseOrphanLeases(dataDir(engine), n.name, live)) found.push(`lease ${ip} on ${n.name}`);
  if (dead.ids.size > 0) await sweepOrphanRules(nets.map(def), dataDir(engine), live, dead);
  return found;
}

/**
 * Wait for CNI plugins and `ip` a killed CLI left running for these containers (see networkWorkers). A
 * teardown must not run beside them: a DEL that meets an ADD in flight releases the lease before the
 * plugin adds its masquerade rules, which then name an address nobody holds and stay for good.
 */
export async function settleWorkers(ids: string[]): Promise<void> {
  const busy = await settleNetworkWorkers(new Set(ids), CNI_PATH, new Set(ids.map(netnsName)));
  if (busy.length > 0) process.stderr.write(`berth: network processes ${busy.join(', ')} still at work on ${ids.map((i) => i.slice(0, 12)).join(', ')}: swept anyway\n`);
}

/** Marks of the named netns this root made (`<root>/netns/<name>`, holding the container's id). */
const markerDir = (engine: EngineCore) => join(engine.root, 'netns');

/**
 * Mark the container's netns as this root's. Written whole and renamed into place: a sweep reading a
 * mark half-written would see no container's id in it and take a namespace being made for an orphan.
 */
function mark(engine: EngineCore, id: string): void {
  const dir = markerDir(engine);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const tmp = join(dir, `.${netnsName(id)}.${process.pid}`);
  writeFileSync(tmp, id);
  renameSync(tmp, join(dir, netnsName(id)));
}

/**
 * The names peer `c` has for `row` on `network`: its own (name, aliases, short id) and the aliases `row`'s
 * links there give it (docker's links on a user network name a container for the linking one only).
 */
function namesOn(c: ContainerRow, network: string, row: ContainerRow): string[] {
  const a = c.config.networking?.networks.find((x) => x.name === network);
  const mine = row.config.networking?.networks.find((x) => x.name === network);
  const linked = (mine?.links ?? []).map(parseLink).filter((l) => l.name === c.name || l.name === c.id || (l.name.length >= 12 && c.id.startsWith(l.name)));
  return namesOnNetwork(c.name, [...(a?.aliases ?? []), ...linked.map((l) => l.alias)], c.id);
}

function hostsText(engine: EngineCore, row: ContainerRow): string {
  const st = row.net;
  const mine = Object.values(st.networks ?? {});
  // Legacy links first (docker writes them as extra hosts), then the peers on user networks.
  const peers: { ip: string; names: string[] }[] = st.networks?.[DEFAULT_NETWORK] ? linkHosts(engine, row) : [];
  for (const name of Object.keys(st.networks ?? {})) {
    if (name === DEFAULT_NETWORK) continue; // docker resolves names on user networks only
    for (const c of engine.containers.list()) {
      if (c.id === row.id || (c.state !== 'running' && c.state !== 'paused')) continue;
      const ip = c.net.networks?.[name]?.ip;
      if (ip) peers.push({ ip, names: namesOn(c, name, row) });
      const ip6 = c.net.networks?.[name]?.ipv6;
      if (ip6) peers.push({ ip: ip6, names: namesOn(c, name, row) });
    }
  }
  const extra = (row.config.networking?.extraHosts ?? []).map((h) => ({ host: h.host, ip: h.ip === 'host-gateway' ? (mine[0]?.gateway ?? '127.0.0.1') : h.ip }));
  return renderHosts({ hostname: hostname(row), ips: mine.flatMap((m) => [m.ip, m.ipv6 ?? '']).filter(Boolean), extraHosts: extra, peers });
}

/** Rewrite a container's own hosts file (its addresses arrived after the file was bound in). */
export function rewriteHosts(engine: EngineCore, row: ContainerRow): void {
  const file = join(engine.dir(row.id), 'etc', 'hosts');
  if (existsSync(file)) writeInPlace(file, hostsText(engine, row));
}

/**
 * Rewrite the hosts files of running containers on these networks (a peer came or went), and on the
 * default bridge those of the containers that link to it.
 */
export async function refreshPeers(engine: EngineCore, changed: ContainerRow, networks: string[]): Promise<void> {
  const user = networks.filter((n) => n !== DEFAULT_NETWORK);
  if (networks.includes(DEFAULT_NETWORK)) for (const p of linkParents(engine, changed)) rewriteHosts(engine, p);
  if (user.length === 0) return;
  for (const c of engine.containers.list()) {
    if (c.id === changed.id || (c.state !== 'running' && c.state !== 'paused')) continue;
    if (!user.some((n) => c.net.networks?.[n])) continue;
    const file = join(engine.dir(c.id), 'etc', 'hosts');
    if (existsSync(file)) writeInPlace(file, hostsText(engine, c));
  }
}

/** The /etc files' directory of the pinned pod whose network a container joins by path, if it does. */
function pinnedPodEtc(engine: EngineCore, row: ContainerRow): string | undefined {
  const pod = row.config.pod;
  if (pod === undefined || !row.config.isolation?.network.startsWith('ns:') || !engine.pods.get(pod)?.config.pinned) return undefined;
  return podEtcDir(engine, pod);
}

/**
 * The container's /etc/hosts, /etc/resolv.conf and /etc/hostname, written into its directory and bound
 * in (unless the user mounts something there). Host network: the host's own files.
 */
export function etcMounts(engine: EngineCore, row: ContainerRow): OciMount[] {
  const iso = row.config.isolation;
  const user = new Set(row.config.mounts.map((m) => m.destination));
  const bind = (destination: string, source: string): OciMount[] =>
    user.has(destination) ? [] : [{ destination, type: 'bind', source, options: ['rbind', 'rprivate'] }];
  if (iso?.network === 'host') return [...bind('/etc/hosts', '/etc/hosts'), ...bind('/etc/resolv.conf', '/etc/resolv.conf')];
  if (iso?.network.startsWith('container:')) {
    const other = join(engine.dir(iso.network.slice(10)), 'etc');
    // Its hostname too when it shares that container's UTS namespace (a pod's members): the name it answers to.
    const sameUts = iso.uts === iso.network;
    return [...bind('/etc/hosts', join(other, 'hosts')), ...bind('/etc/resolv.conf', join(other, 'resolv.conf')), ...(sameUts ? bind('/etc/hostname', join(other, 'hostname')) : [])];
  }
  // A pinned pod's container: the pod's files, as it has the pod's network and hostname (pods/pinned.ts).
  const pod = pinnedPodEtc(engine, row);
  if (pod) {
    return [...bind('/etc/hosts', join(pod, 'hosts')), ...bind('/etc/resolv.conf', join(pod, 'resolv.conf')), ...(iso?.uts.startsWith('ns:') ? bind('/etc/hostname', join(pod, 'hostname')) : [])];
  }
  const dir = join(engine.dir(row.id), 'etc');
  mkdirSync(dir, { recursive: true, mode: 0o755 });
  const n = row.config.networking;
  let hostResolv = '';
  try {
    hostResolv = readFileSync('/etc/resolv.conf', 'utf8');
  } catch {
    // a host without resolv.conf: docker's defaults apply
  }
  writeFileSync(join(dir, 'hosts'), hostsText(engine, row));
  writeFileSync(join(dir, 'resolv.conf'), renderResolv(hostResolv, { dns: n?.dns ?? [], search: n?.dnsSearch ?? [], options: n?.dnsOptions ?? [] }));
  // A container in another's UTS namespace has that one's hostname.
  const utsOwner = iso?.uts.startsWith('container:') ? engine.containers.get(iso.uts.slice(10)) : undefined;
  writeFileSync(join(dir, 'hostname'), renderHostname(hostname(utsOwner ?? row)));
  return [...bind('/etc/hosts', join(dir, 'hosts')), ...bind('/etc/resolv.conf', join(dir, 'resolv.conf')), ...bind('/etc/hostname', join(dir, 'hostname'))];
}

/**
 * The files etcMounts binds in that are the engine's (the container's own, or for `container:` mode
 * the other container's) and exist now, for reaching them as the container does (`cp`). Not the host's
 * own files of host mode: a copy into the container must not write the host's /etc/hosts.
 */
export function etcBinds(engine: EngineCore, row: ContainerRow): { destination: string; source: string }[] {
  const iso = row.config.isolation;
  if (iso?.network === 'host') return [];
  const dir = pinnedPodEtc(engine, row) ?? (iso?.network.startsWith('container:') ? join(engine.dir(iso.network.slice(10)), 'etc') : join(engine.dir(row.id), 'etc'));
  const user = new Set(row.config.mounts.map((m) => m.destination));
  const files = iso?.network.startsWith('container:') && iso.uts !== iso.network ? ['hosts', 'resolv.conf'] : ['hosts', 'resolv.conf', 'hostname'];
  return files.flatMap((f) => (user.has(`/etc/${f}`) || !existsSync(join(dir, f)) ? [] : [{ destination: `/etc/${f}`, source: join(dir, f) }]));
}

/** Why a container cannot join another network because of its network mode (docker's messages), or null. */
function modeRefusal(row: ContainerRow): string | null {
  const mode = row.config.isolation?.network ?? 'bridge';
  if (mode === 'bridge') return null;
  if (mode === 'host') return 'container cannot be disconnected from host network or connected to host network';
  if (mode === 'none') return 'container cannot be connected to multiple networks with one of the networks in private (none) mode';
  return 'container sharing network namespace with another container or host cannot be connected to any other network';
}

/**
 * `network connect`: add a network to a container's config with its endpoint settings (aliases, static
 * addresses, links, link-local addresses, MAC); a running container is attached now.
 */
export async function connectNetwork(engine: EngineCore, ref: string, network: string, o: EndpointOptions = {}): Promise<void> {
  if (network === 'host') throw new InvalidArgument('container cannot be disconnected from host network or connected to host network');
  if (network === 'none') throw new InvalidArgument('container cannot be connected to multiple networks with one of the networks in private (none) mode');
  const net = findNetwork(engine, network);
  await engine.withLock(ref, async (row) => {
    const n = row.config.networking;
    const refusal = modeRefusal(row);
    if (refusal) throw new InvalidArgument(refusal);
    if (n?.networks.some((a) => a.name === net.name)) throw new Forbidden(`endpoint with name ${row.name} already exists in network ${net.name}`);
    const a = attachmentFor(net, o);
    const networking = { ports: [], dns: [], dnsSearch: [], dnsOptions: [], extraHosts: [], ...n, networks: [...(n?.networks ?? []), a] };
    if (isLive(row.state) && row.net.netns) {
      const state = { ...row.net, networks: { ...row.net.networks } };
      const used = new Set(Object.values(state.networks).map((n) => n.ifName));
      let index = 0;
      while (used.has(`eth${index}`)) index++;
      state.networks[net.name] = await attach(engine, row.id, row.net.netns, a, index, undefined);
      engine.containers.update(row.id, { net: state });
      // Stored before the peers' files are written: they read its names (aliases there) from its row.
      engine.containers.updateNetworking(row.id, networking);
      const updated = { ...row, net: state, config: { ...row.config, networking } };
      writeInPlace(join(engine.dir(row.id), 'etc', 'hosts'), hostsText(engine, updated));
      await refreshPeers(engine, updated, [net.name]);
    } else engine.containers.updateNetworking(row.id, networking);
    engine.emit('network', 'connect', net.id, { container: row.id, name: net.name, type: net.driver });
  });
}

/**
 * `network disconnect`: the reverse; a running container loses the interface now. With `force` (docker's
 * Force) a network that is gone is dropped from the container's config, a detach that fails does not keep
 * the endpoint, and a container that is gone is no error.
 */
export async function disconnectNetwork(engine: EngineCore, ref: string, network: string, force = false): Promise<void> {
  if (network === 'host' || network === 'none') throw new InvalidArgument('container cannot be disconnected from host network or connected to host network');
  let net: NetworkRow | undefined;
  try {
    net = findNetwork(engine, network);
  } catch (e) {
    if (!(force && e instanceof NotFound)) throw e;
  }
  const name = net?.name ?? network;
  try {
    await engine.withLock(ref, async (row) => {
      const n = row.config.networking;
      if (!n?.networks.some((a) => a.name === name)) {
        if (force && !net) return;
        throw new NotFound(`container ${row.name} is not connected to network ${name}`);
      }
      const live = row.net.networks?.[name];
      if (live && row.net.netns) {
        await detach(engine, row.id, row.net.netns, name, live.ifName).catch((e: unknown) => {
          if (!force) throw e;
          engine.notice(`network ${name}: forced disconnect of ${row.id.slice(0, 12)}: ${(e as Error).message}`);
        });
        const networks = { ...row.net.networks };
        delete networks[name];
        engine.containers.update(row.id, { net: { ...row.net, networks } });
        await refreshPeers(engine, row, [name]);
      }
      engine.containers.updateNetworking(row.id, { ...n, networks: n.networks.filter((a) => a.name !== name) });
      if (net) engine.emit('network', 'disconnect', net.id, { container: row.id, name, type: net.driver });
    });
  } catch (e) {
    // A container already gone holds nothing here: what it may have left is an orphan the sweep takes.
    if (!(force && e instanceof NoSuchContainer)) throw e;
  }
}

/** `rm --link /PARENT/ALIAS`: a legacy link goes (links.ts); a running parent's hosts file is rewritten. */
export async function unlink(engine: EngineCore, name: string): Promise<void> {
  await removeLink(engine, name, (parent) => rewriteHosts(engine, parent));
}
