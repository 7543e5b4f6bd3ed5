/**
 * Networks as docker users manage them: the default `bridge` (host bridge berth0, made on first use),
 * user networks with their own bridge and subnet, and the `host` and `none` pseudo-networks that `ls`
 * shows. Subnets never overlap each other; addresses are leased by the CNI host-local plugin under
 * <root>/cni (persistent, locked, safe under concurrent starts).
 */
import { nodeCrypto } from '../sys/builtins.ts';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { Conflict, Forbidden, InvalidArgument, NOT_A_SWARM_MANAGER, NotFound, NotSupported, Unavailable } from '../errors.ts';
import { contains, formatCidr, formatIp, overlaps, parseCidr, parseIp, parseSubnet } from '../network/ipaddr.ts';
import type { NetworkRow, Subnet } from '../store/networks.ts';
import { removeBridgeRules } from '../network/bridge-rules.ts';
import { removeBridge } from '../network/stale-bridge.ts';
import { linkDir, onNetHost } from '../network/net-host.ts';
import { USER_NET_SUBNET } from '../network/user-net.ts';
import { tx } from '../store/db.ts';
import { run } from '../sys/run.ts';
import type { EngineCore } from './core.ts';
import { newId } from './names.ts';
import { resolvePools, type PoolRequest } from './network-ipam.ts';
import { bridgeOptions, checkScope } from './network-options.ts';
import { isLive } from './state.ts';

export const DEFAULT_NETWORK = 'bridge';
export const DEFAULT_BRIDGE = 'berth0';
/** Containers' named network namespaces are `berth-<id16>` (see network-attach.ts). */
export const NETNS_PREFIX = 'berth-';
/** The engine root whose default network is berth0. */
const DEFAULT_ROOT = '/var/lib/berth';
/** The default network's subnet (BERTH_BRIDGE_SUBNET overrides it when the network is first made). */
export const DEFAULT_SUBNET = '10.77.0.0/16';
/** User networks get the next free /24 of this pool, as docker's default address pools do. */
const POOL = parseSubnet('10.78.0.0/15');
const PSEUDO = new Set(['host', 'none']);
const NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;

export interface NetworkCreateOptions {
  name: string;
  driver?: string;
  /** docker's IPAM.Config (the CLI groups its flags into it: network-ipam.ts poolsFromFlags). */
  pools?: PoolRequest[];
  /** docker's IPAM.Driver: only `default`. */
  ipamDriver?: string;
  /** docker's IPAM.Options: the default driver takes none. */
  ipamOptions?: Record<string, string>;
  ipv6?: boolean;
  /** false asks for an IPv6-only network, which is refused. */
  ipv4?: boolean;
  internal?: boolean;
  attachable?: boolean;
  ingress?: boolean;
  /** `local`; `swarm` and others are refused as outside a swarm. */
  scope?: string;
  configOnly?: boolean;
  configFrom?: string;
  labels?: Record<string, string>;
  /** The driver's options (network-options.ts), kept as given. */
  options?: Record<string, string>;
  /** `--route DEST,GATEWAY` (podman's): a static route every container on the network gets. */
  routes?: string[];
}

/** A static route of a network's containers: a destination CIDR via a gateway on the network. */
export interface Route {
  dst: string;
  gw: string;
}

/**
 * A subnet with the static routes whose gateway lies in it. The routes ride in the network row's subnet
 * list (one JSON column): a route's gateway must be on one of the network's subnets, so each has a home.
 */
export type RoutedSubnet = Subnet & { routes?: Route[] };

/** Every static route of a network, in the order given at creation. */
export function routesOf(n: NetworkRow): Route[] {
  return (n.subnets as RoutedSubnet[]).flatMap((s) => s.routes ?? []);
}

/**
 * `--route DEST,GATEWAY`: DEST a CIDR (host bits clear), GATEWAY an address inside one of the network's
 * subnets of the same family. The default route is the network's own unless it is internal, and a route
 * to a subnet of the network would shadow the link's own.
 */
function attachRoutes(specs: readonly string[], subnets: Subnet[], o: NetworkCreateOptions): RoutedSubnet[] {
  const out: RoutedSubnet[] = subnets.map((s) => ({ ...s }));
  for (const spec of specs) {
    const [dst = '', gw = '', ...extra] = spec.split(',').map((x) => x.trim());
    if (extra.length > 0 || dst === '' || gw === '') throw new InvalidArgument(`invalid route "${spec}": expected DESTINATION,GATEWAY`);
    const c = parseSubnet(dst, 'route destination');
    const text = formatCidr(c);
    if (c.prefix === 0 && !o.internal) {
      throw new InvalidArgument(`invalid route "${spec}": the network routes ${text} through its own gateway (use --internal to give it another)`);
    }
    if (!parseIp(gw)) throw new InvalidArgument(`invalid route "${spec}": gateway ${gw} is not an IP address`);
    const home = out.find((s) => {
      const sc = parseCidr(s.subnet)!;
      return sc.version === c.version && contains(sc, gw);
    });
    if (!home) throw new InvalidArgument(`invalid route "${spec}": gateway ${gw} is not in an ${c.version === 4 ? 'IPv4' : 'IPv6'} subnet of network ${o.name}`);
    if (out.some((s) => formatCidr(parseCidr(s.subnet)!) === text)) throw new InvalidArgument(`invalid route "${spec}": ${text} is a subnet of the network itself`);
    if (out.some((s) => s.routes?.some((r) => r.dst === text))) throw new InvalidArgument(`invalid route "${spec}": a route to ${text} is already given`);
    (home.routes ??= []).push({ dst: text, gw: formatIp(c.version, parseIp(gw)!.n) });
  }
  return out;
}

/** The network a name, id or id prefix names; `bridge` is made on first use. */
export function findNetwork(engine: EngineCore, ref: string): NetworkRow {
  const found = engine.networks.find(ref);
  if (found) return found;
  if (ref === DEFAULT_NETWORK) return defaultNetwork(engine);
  throw new NotFound(`network ${ref} not found`);
}

/** The bridge of a root's default network: berth0 for the default root, else one named after the root's path. */
export function defaultBridge(root: string): string {
  return root === DEFAULT_ROOT ? DEFAULT_BRIDGE : `bd-${nodeCrypto().createHash('sha256').update(root).digest('hex').slice(0, 12)}`;
}

/**
 * The default network: berth0 with 10.77.0.0/16 for the default engine root (BERTH_BRIDGE_SUBNET to
 * change it). Another root (a test's, a second engine's) gets a bridge and a free /24 of its own, so
 * two roots never hand out the same addresses on one bridge.
 */
export function defaultNetwork(engine: EngineCore): NetworkRow {
  const existing = engine.networks.find(DEFAULT_NETWORK);
  if (existing) return existing;
  const main = engine.root === DEFAULT_ROOT;
  const bridge = defaultBridge(engine.root);
  // One transaction: the process that makes the row is the only one that may find the bridge a leftover.
  return tx(engine.db, () => {
    const made = engine.networks.find(DEFAULT_NETWORK);
    if (made) return made;
    replaceLeftBridge(engine, bridge);
    const subnet = process.env.BERTH_BRIDGE_SUBNET || (main ? DEFAULT_SUBNET : freeSubnet(engine));
    parseSubnet(subnet, 'BERTH_BRIDGE_SUBNET');
    return createNetwork(engine, { name: DEFAULT_NETWORK }, bridge, subnet);
  });
}

/**
 * The default network's bridge on the host while no row of this root names it: a root deleted at this
 * path left it (the name is the path's), with an address the new network's gateway may not have, which
 * the bridge plugin refuses. It goes, with what its dead containers left (src/network/stale-bridge.ts);
 * the bridge plugin makes it again at the first start.
 */
function replaceLeftBridge(engine: EngineCore, bridge: string): void {
  if (!existsSync(linkDir(bridge))) return;
  const gone = removeBridge(bridge, NETNS_PREFIX);
  if (!gone) return;
  const what = [gone.subnets.join(', '), gone.namespaces.length > 0 ? `${gone.namespaces.length} namespaces` : '', `${gone.rules} firewall rules`];
  engine.notice(`replaced bridge ${bridge} left by an earlier engine root at ${engine.root} (${what.filter(Boolean).join('; ')})`);
}

/** Subnets taken: this root's networks', and for an ordinary user the one slirp4netns gives its network namespace. */
function usedSubnets(engine: EngineCore) {
  const own = engine.networks.list().flatMap((n) => n.subnets.map((s) => parseCidr(s.subnet)!));
  return engine.userNetwork ? [...own, parseCidr(USER_NET_SUBNET)!] : own;
}

/** IPv4 routes of the host (from /proc/net/route: little-endian hex destination and mask), default route aside. */
function hostRoutes() {
  const hex = (h: string) => [3, 2, 1, 0].map((i) => parseInt(h.slice(i * 2, i * 2 + 2), 16)).join('.');
  return readFileSync('/proc/net/route', 'utf8')
    .split('\n')
    .slice(1)
    .map((l) => l.trim().split(/\s+/))
    .filter((f) => f.length > 7 && f[7] !== '00000000')
    .map((f) => {
      const prefix = hex(f[7]!).split('.').reduce((n, o) => n + Number(o).toString(2).replace(/0/g, '').length, 0);
      return parseCidr(`${hex(f[1]!)}/${prefix}`)!;
    });
}

/** The next /24 of the pool that no network of this root uses and no host route covers. */
function freeSubnet(engine: EngineCore): string {
  const taken = [...usedSubnets(engine), ...hostRoutes()];
  for (let i = 0; i < 512; i++) {
    const c = parseSubnet(formatCidr({ version: 4, base: POOL.base + BigInt(i * 256), prefix: 24 }));
    if (!taken.some((t) => overlaps(t, c))) return formatCidr(c);
  }
  throw new Conflict('could not find an available, non-overlapping IPv4 address pool among the defaults to assign to the network');
}


/** A random unique-local /64 for an IPv6 network without --subnet. */
function ula64(id: string): string {
  return `fd${id.slice(0, 2)}:${id.slice(2, 6)}:${id.slice(6, 10)}:${id.slice(10, 14)}::/64`;
}

/**
 * Make a network's row, every check first: nothing is written when one fails. `bridge` names the default
 * network's bridge; `auto4` is the IPv4 pool used when none is asked for.
 */
export function createNetwork(engine: EngineCore, o: NetworkCreateOptions, bridge?: string, auto4?: string): NetworkRow {
  if (PSEUDO.has(o.name)) throw new Forbidden(`operation is not permitted on predefined ${o.name} network `);
  if (!NAME.test(o.name)) throw new InvalidArgument(`invalid network name "${o.name}": only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed`);
  // dockerd's answers: swarm drivers need a swarm (it says so with a 500; Berth with 503, as for any swarm
  // object), any other driver is a plugin it cannot find.
  const driver = o.driver || 'bridge';
  if (driver === 'overlay' || driver === 'ingress') throw new Unavailable(NOT_A_SWARM_MANAGER);
  if (driver !== 'bridge') throw new NotFound(`plugin "${driver}" not found`);
  checkScope(o);
  if (o.ipamDriver && o.ipamDriver !== 'default') throw new NotFound(`plugin "${o.ipamDriver}" not found`);
  if (Object.keys(o.ipamOptions ?? {}).length > 0) throw new NotSupported(`IPAM options are not supported by the default IPAM driver: ${Object.keys(o.ipamOptions!).join(', ')}`);
  const options = { ...(o.options ?? {}) };
  const bo = bridgeOptions(options);
  if (o.ipv4 === false) throw new NotSupported('IPv6-only networks are not supported: every network has an IPv4 subnet');
  if (engine.networks.find(o.name)) throw new Conflict(`network with name ${o.name} already exists`);
  const id = newId();
  const ipv6 = o.ipv6 ?? bo.ipv6 ?? false;
  const subnets = attachRoutes(o.routes ?? [], resolvePools(o.pools ?? [], { name: o.name, ipv6, auto4, ula: ula64(id) }), o);
  const used = usedSubnets(engine);
  for (const s of subnets) {
    if (used.some((u) => overlaps(u, parseCidr(s.subnet)!))) throw new Forbidden(`invalid pool request: Pool overlaps with other one on this address space (${s.subnet})`);
  }
  const bridgeName = bridge ?? bo.bridge ?? `bn-${id.slice(0, 12)}`;
  const other = engine.networks.list().find((n) => n.bridge === bridgeName);
  if (other) throw new Forbidden(`cannot create network ${id} (${bridgeName}): conflicts with network ${other.id} (${other.bridge}): networks have same bridge name`);
  // A link of that name the engine did not make is the host's: the network must not take it over (its
  // removal would delete it).
  if (bo.bridge && existsSync(linkDir(bo.bridge))) throw new Conflict(`cannot create network ${o.name}: the host already has a link named ${bo.bridge}`);
  const row: NetworkRow = {
    id,
    name: o.name,
    driver: 'bridge',
    bridge: bridgeName,
    subnets,
    internal: o.internal ?? false,
    ipv6: subnets.some((s) => parseCidr(s.subnet)!.version === 6),
    mtu: bo.mtu ?? 0,
    labels: { ...(o.labels ?? {}) },
    options,
    attachable: o.attachable ?? false,
    createdAt: new Date().toISOString(),
  };
  engine.networks.insert(row);
  return row;
}

/** `network create` with an automatic subnet when none is given. */
export async function createUserNetwork(engine: EngineCore, o: NetworkCreateOptions): Promise<NetworkRow> {
  if (o.name === DEFAULT_NETWORK) throw new Forbidden(`operation is not permitted on predefined ${o.name} network `);
  const auto4 = (o.pools ?? []).some((p) => parseCidr(p.subnet)?.version === 4) ? undefined : freeSubnet(engine);
  const net = createNetwork(engine, o, undefined, auto4);
  engine.emit('network', 'create', net.id, { name: net.name, type: net.driver });
  return net;
}

/** Containers whose config attaches them to the network; `liveOnly` keeps running ones. */
export function networkUsers(engine: EngineCore, net: NetworkRow, liveOnly = false) {
  return engine.containers
    .list()
    .filter((c) => c.config.networking?.networks.some((a) => a.name === net.name || a.name === net.id))
    .filter((c) => !liveOnly || isLive(c.state));
}

/** `network rm`: refused while a running container is on it; removes the bridge and the leases. */
export async function removeNetwork(engine: EngineCore, ref: string): Promise<NetworkRow> {
  if (PSEUDO.has(ref) || ref === DEFAULT_NETWORK) throw new Forbidden(`${ref} is a pre-defined network and cannot be removed`);
  const net = findNetwork(engine, ref);
  const active = networkUsers(engine, net, true);
  if (active.length > 0) throw new Forbidden(`error while removing network: network ${net.name} id ${net.id} has active endpoints`);
  engine.networks.delete(net.id);
  if (existsSync(linkDir(net.bridge))) await run(...onNetHost('ip', ['link', 'del', net.bridge]));
  await removeBridgeRules(net.bridge, join(engine.root, 'cni'));
  rmSync(join(engine.root, 'cni', 'ipam', net.name), { recursive: true, force: true });
  engine.emit('network', 'destroy', net.id, { name: net.name, type: net.driver });
  return net;
}

/** `network prune`: user networks no container uses. */
export async function pruneNetworks(engine: EngineCore, labels: string[] = []): Promise<string[]> {
  const out: string[] = [];
  for (const n of engine.networks.list()) {
    if (n.name === DEFAULT_NETWORK || networkUsers(engine, n).length > 0) continue;
    if (!labels.every((l) => (l.includes('=') ? n.labels[l.slice(0, l.indexOf('='))] === l.slice(l.indexOf('=') + 1) : l in n.labels))) continue;
    await removeNetwork(engine, n.id);
    out.push(n.name);
  }
  return out;
}
