/**
 * Attaching a container's network namespace to a bridge network by running the CNI plugins
 * (containernetworking-plugins, spec 1.0.0) ourselves, the way libcni does: ADD through the chain with
 * each result passed on as `prevResult`, DEL in reverse with the cached final result.
 *
 * State under `dataDir` (one directory for all networks):
 *   ipam/<net>/<ip>             host-local leases, content "<container id>\r\n<ifname>"; host-local
 *                               flock()s `ipam/<net>/lock`, so concurrent ADDs get distinct addresses;
 *                               the network's aux addresses are held the same way (reserved.ts)
 *   results/<net>-<cid>-<if>.json  the final ADD result and the runtime arguments, for DEL and CHECK
 *   tuning/<cid>_<if>.json      the tuning plugin's backup of the original MAC
 *
 * The caller serialises operations per container (never two at once for one id); different
 * containers may be attached concurrently.
 */
import { nodeCrypto } from '../sys/builtins.ts';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { join } from 'node:path';
import { Conflict, InvalidArgument, RuntimeFailure } from '../errors.ts';
import { lastLine, run } from '../sys/run.ts';
import { trace } from '../sys/trace.ts';
import { ensureBridgeRules } from './bridge-rules.ts';
import { contains, formatIp, lastOf, parseCidr } from './ipaddr.ts';
import { leaseResult, leases } from './leftovers.ts';
import { isNamespaceFile } from './netns.ts';
import { ipIn, linkDir, onNetHost } from './net-host.ts';
import { DEFAULT_GATEWAY_AUX, type NetworkDef } from './network-def.ts';
import { reserveAddresses } from './reserved.ts';

export { chainName, releaseOrphanLeases, sweepOrphanRules } from './leftovers.ts';
export type { NetworkDef } from './network-def.ts';

/** Where Debian installs the plugins. */
export const CNI_PATH = '/usr/lib/cni';
const CNI_VERSION = '1.0.0';

export interface PortMapping {
  hostPort: number;
  containerPort: number;
  protocol: 'tcp' | 'udp';
  /** Host address to listen on; empty or missing means all. */
  hostIP?: string;
}

export interface AttachRequest {
  containerId: string;
  /** Path of the container's network namespace (e.g. /run/netns/NAME). May be gone for DEL. */
  netnsPath: string;
  /** eth0, eth1, … */
  ifName: string;
  net: NetworkDef;
  dataDir: string;
  /** Static IPv4 address (no prefix); must lie in the network's IPv4 subnet, may lie outside `ipRange`. */
  ip?: string;
  /** Static IPv6 address, likewise in the IPv6 subnet. */
  ip6?: string;
  /** docker's link-local addresses: added to the interface beside its leases (IPv4 /16, IPv6 /64). */
  linkLocalIps?: string[];
  /** Static MAC, e.g. 02:42:0a:e7:00:32. */
  mac?: string;
  portMappings?: PortMapping[];
}

export interface Attachment {
  ifName: string;
  /** The veth's host end, a port of the bridge ('' when the plugin did not say). */
  hostIf: string;
  mac: string;
  ips: { address: string /* CIDR */; gateway: string; version: 4 | 6 }[];
}

/** A CNI 1.0.0 success result (the parts we read). */
interface CniResult {
  cniVersion: string;
  interfaces?: { name: string; mac?: string; sandbox?: string }[];
  ips?: { address: string; gateway?: string; interface?: number }[];
  [k: string]: unknown;
}

/** One plugin's entry in a conflist; `capabilities` names the runtime arguments it accepts. */
export type PluginConf = { type: string; capabilities?: Record<string, boolean>; [k: string]: unknown };
/** A CNI network configuration list. */
export interface Conflist {
  cniVersion: string;
  name: string;
  plugins: PluginConf[];
}
interface RuntimeArgs {
  portMappings?: PortMapping[];
  ips?: string[];
  mac?: string;
}
interface Cached {
  result: CniResult;
  runtime: RuntimeArgs;
}

/** One host-local range for a subnet; see conflist for `staticIps`. */
function ipamRange(s: NetworkDef['subnets'][number], staticIps: readonly string[]): Record<string, string> {
  const subnet = parseCidr(s.subnet);
  if (!subnet) throw new InvalidArgument(`invalid subnet ${JSON.stringify(s.subnet)}`);
  if (!contains(subnet, s.gateway)) throw new InvalidArgument(`gateway ${s.gateway} is not in subnet ${s.subnet}`);
  const r: Record<string, string> = { subnet: `${formatIp(subnet.version, subnet.base)}/${subnet.prefix}`, gateway: s.gateway };
  if (!s.ipRange) return r;
  const pool = parseCidr(s.ipRange);
  if (!pool || pool.version !== subnet.version || pool.base < subnet.base || lastOf(pool) > lastOf(subnet)) {
    throw new InvalidArgument(`ip-range ${s.ipRange} is not inside subnet ${s.subnet}`);
  }
  if (staticIps.some((ip) => contains(subnet, ip) && !contains(pool, ip))) return r;
  // host-local never hands out the subnet's first and last addresses; keep the bounds inside them.
  const lo = pool.base > subnet.base ? pool.base : subnet.base + 1n;
  const hi = lastOf(pool) < lastOf(subnet) ? lastOf(pool) : lastOf(subnet) - 1n;
  r.rangeStart = formatIp(subnet.version, lo);
  r.rangeEnd = formatIp(subnet.version, hi);
  return r;
}

/** A static route for host-local's `routes` (installed by the bridge plugin), checked once more here. */
function staticRoute(s: NetworkDef['subnets'][number], r: { dst: string; gw: string }): { dst: string; gw: string } {
  const dst = parseCidr(r.dst);
  const subnet = parseCidr(s.subnet);
  if (!dst || !subnet || dst.version !== subnet.version || !contains(subnet, r.gw)) {
    throw new InvalidArgument(`invalid route ${JSON.stringify(r)} on subnet ${s.subnet}`);
  }
  return { dst: `${formatIp(dst.version, dst.base)}/${dst.prefix}`, gw: r.gw };
}

/**
 * The CNI 1.0.0 network configuration list for `net`: bridge (gateway on the bridge, default routes
 * unless internal, the network's static routes, hairpin, host-local IPAM with one range set per subnet
 * and the `ips` capability for static addresses), portmap (`portMappings`, snat) unless internal, and
 * tuning (`mac`). Masquerade and forwarding are the network's own rules (bridge-rules.ts), not the
 * plugins' per container.
 * `staticIps`: a static address outside its subnet's ip-range widens that range set to the subnet,
 * since host-local only grants requested addresses inside the range (docker allows them anywhere in the
 * subnet); the lease files stay the same, so no address is handed out twice.
 */
/**
 * `want` leaves out the plugins an attachment does not use (each run of a plugin costs ~10 ms): portmap
 * without published ports, tuning without a MAC. DEL uses the same choice as its ADD (from the cache).
 */
export function conflist(net: NetworkDef, dataDir: string, staticIps: readonly string[] = [], want: { ports: boolean; mac: boolean } = { ports: true, mac: true }): Conflist {
  if (!/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(net.name)) throw new InvalidArgument(`invalid network name ${JSON.stringify(net.name)}`);
  if (!/^[A-Za-z0-9_.-]{1,15}$/.test(net.bridge)) throw new InvalidArgument(`invalid bridge name ${JSON.stringify(net.bridge)}`);
  if (net.subnets.length === 0) throw new InvalidArgument(`network ${net.name} has no subnet`);
  const ranges = net.subnets.map((s) => [ipamRange(s, staticIps)]);
  // The default route goes via the subnet's gateway (the bridge), or via docker's DefaultGatewayIPv4/6.
  const defaults = net.internal ? [] : net.subnets.map((s) => defaultRoute(s));
  const routes = [...defaults, ...net.subnets.flatMap((s) => (s.routes ?? []).map((r) => staticRoute(s, r)))];
  const bridge: PluginConf = {
    type: 'bridge',
    bridge: net.bridge,
    isGateway: true,
    ipMasq: false,
    hairpinMode: true,
    ...(net.mtu ? { mtu: net.mtu } : {}),
    capabilities: { ips: true },
    ipam: { type: 'host-local', ranges, routes, dataDir: join(dataDir, 'ipam') },
  };
  const plugins: PluginConf[] = [bridge];
  if (!net.internal && want.ports) plugins.push({ type: 'portmap', capabilities: { portMappings: true }, snat: true });
  if (want.mac) plugins.push({ type: 'tuning', capabilities: { mac: true }, dataDir: join(dataDir, 'tuning') });
  return { cniVersion: CNI_VERSION, name: net.name, plugins };
}

function defaultRoute(s: NetworkDef['subnets'][number]): { dst: string; gw?: string } {
  const v = parseCidr(s.subnet)?.version === 6 ? 6 : 4;
  const gw = s.aux?.[DEFAULT_GATEWAY_AUX[v]];
  return { dst: v === 6 ? '::/0' : '0.0.0.0/0', ...(gw ? { gw } : {}) };
}

/** One plugin invocation per the spec: the plugin's own config plus name, cniVersion, runtimeConfig, prevResult. */
async function exec(
  cmd: 'ADD' | 'DEL' | 'CHECK',
  list: Conflist,
  p: PluginConf,
  req: AttachRequest,
  netns: string,
  rt: RuntimeArgs,
  prev?: CniResult,
): Promise<CniResult | undefined> {
  const { capabilities, ...rest } = p;
  const conf: Record<string, unknown> = { ...rest, name: list.name, cniVersion: list.cniVersion };
  const runtimeConfig = Object.fromEntries(
    Object.keys(capabilities ?? {}).flatMap((k) => (rt[k as keyof RuntimeArgs] === undefined ? [] : [[k, rt[k as keyof RuntimeArgs]]])),
  );
  if (Object.keys(runtimeConfig).length > 0) conf.runtimeConfig = runtimeConfig;
  if (prev) conf.prevResult = prev;
  const env = {
    // The plugins exec iptables, which lives in sbin: keep it on PATH even for a trimmed environment.
    PATH: `${process.env.PATH ? `${process.env.PATH}:` : ''}/usr/local/sbin:/usr/sbin:/sbin:/usr/bin:/bin`,
    CNI_COMMAND: cmd,
    CNI_CONTAINERID: req.containerId,
    CNI_NETNS: netns,
    CNI_IFNAME: req.ifName,
    CNI_PATH,
  };
  const fail = (why: string) => new RuntimeFailure(`CNI plugin ${p.type} ${cmd} failed for network ${list.name}: ${why.replace(/\s*\n\s*/g, ' ')}`);
  const r = await run(...onNetHost(join(CNI_PATH, p.type), []), { input: JSON.stringify(conf), env, timeoutMs: 120_000 }).catch((e: Error) => {
    throw fail(e.message); // not installed or not executable
  });
  if (r.code !== 0) {
    let why = lastLine(r.stderr) || `exit status ${r.code}`;
    try {
      const e = JSON.parse(r.stdout) as { msg?: string; details?: string };
      if (e.msg) why = e.details ? `${e.msg}: ${e.details}` : e.msg;
    } catch {
      /* not the plugin's error JSON: keep stderr */
    }
    throw fail(why);
  }
  trace(`cni: ${p.type} ${cmd}`);
  return cmd === 'ADD' ? (JSON.parse(r.stdout) as CniResult) : undefined;
}

function cachePath(req: AttachRequest): string {
  return join(req.dataDir, 'results', `${req.net.name}-${req.containerId}-${req.ifName}.json`);
}

function readCache(req: AttachRequest): Cached | undefined {
  try {
    return JSON.parse(readFileSync(cachePath(req), 'utf8')) as Cached;
  } catch {
    return undefined;
  }
}

function runtimeArgs(req: AttachRequest): RuntimeArgs {
  if (req.ip !== undefined && isIP(req.ip) !== 4) throw new InvalidArgument(`invalid IPv4 address ${JSON.stringify(req.ip)}`);
  if (req.ip6 !== undefined && isIP(req.ip6) !== 6) throw new InvalidArgument(`invalid IPv6 address ${JSON.stringify(req.ip6)}`);
  for (const ll of req.linkLocalIps ?? []) if (isIP(ll) === 0) throw new InvalidArgument(`invalid link-local IP address ${JSON.stringify(ll)}`);
  if (req.mac !== undefined && !/^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$/.test(req.mac)) throw new InvalidArgument(`invalid MAC address ${JSON.stringify(req.mac)}`);
  if (!/^[0-9a-zA-Z][0-9a-zA-Z_.-]*$/.test(req.containerId)) throw new InvalidArgument(`invalid container id ${JSON.stringify(req.containerId)}`);
  if (!/^[0-9a-zA-Z][0-9a-zA-Z_.-]{0,14}$/.test(req.ifName)) throw new InvalidArgument(`invalid interface name ${JSON.stringify(req.ifName)}`);
  const ips = [req.ip, req.ip6].filter((ip): ip is string => !!ip);
  return {
    ...(req.portMappings?.length ? { portMappings: req.portMappings } : {}),
    ...(ips.length > 0 ? { ips } : {}),
    ...(req.mac ? { mac: req.mac } : {}),
  };
}

function toAttachment(res: CniResult, ifName: string, bridge: string): Attachment {
  const idx = (res.interfaces ?? []).findIndex((i) => i.name === ifName && !!i.sandbox);
  const ips = (res.ips ?? [])
    .filter((ip) => idx < 0 || ip.interface === undefined || ip.interface === idx)
    .map((ip) => ({ address: ip.address, gateway: ip.gateway ?? '', version: (ip.address.includes(':') ? 6 : 4) as 4 | 6 }));
  const host = (res.interfaces ?? []).find((i) => !i.sandbox && i.name !== bridge);
  return { ifName, hostIf: host?.name ?? '', mac: idx < 0 ? '' : (res.interfaces![idx]!.mac ?? ''), ips };
}

/**
 * Create the network's bridge with a fixed MAC before the bridge plugin sees it. A bridge whose MAC the
 * kernel chose drops to 00:00:00:00:00:00 when its last port leaves; if that happens before the plugin
 * ever pinned the MAC (the first ADD on a new network failed), every later ADD fails with "could not set
 * bridge's mac: invalid argument". A MAC given at creation is never recalculated.
 */
async function ensureBridge(net: NetworkDef): Promise<void> {
  const sys = linkDir(net.bridge);
  const mac = `02:${nodeCrypto().createHash('sha256').update(net.id).digest('hex').slice(0, 10).match(/../g)!.join(':')}`;
  let args: string[] | undefined;
  if (!existsSync(sys)) args = ['link', 'add', net.bridge, ...(net.mtu ? ['mtu', String(net.mtu)] : []), 'address', mac, 'type', 'bridge'];
  else if (readFileSync(`${sys}/address`, 'utf8').trim() === '00:00:00:00:00:00') args = ['link', 'set', net.bridge, 'address', mac];
  if (!args) return;
  const r = await run(...onNetHost('ip', args));
  // Another ADD may have created it meanwhile: that one set the MAC.
  if (r.code !== 0 && !(args[1] === 'add' && existsSync(sys))) {
    throw new RuntimeFailure(`ip ${args.slice(0, 3).join(' ')}: ${lastLine(r.stderr) || `exit status ${r.code}`}`);
  }
}

/** The addresses a network holds back from its containers: its aux addresses (see reserved.ts). */
function reservedOf(net: NetworkDef): Record<string, string> {
  return Object.fromEntries(net.subnets.flatMap((s) => Object.entries(s.aux ?? {})));
}

/** `ip` where the bridges live (or `ip -n`'s equivalent from ipIn), failing with its own message. */
async function ip(cmd: [string, string[]]): Promise<void> {
  const r = await run(...cmd);
  if (r.code !== 0) throw new RuntimeFailure(`${cmd[0]} ${cmd[1].join(' ')}: ${lastLine(r.stderr) || `exit status ${r.code}`}`);
}

/**
 * What docker's bridge driver does beside the plugins' chain, once it ran: the interface's link-local
 * addresses, the port's isolation on a bridge without inter-container traffic (a port marked isolated
 * reaches only the bridge's own and other unisolated ports, so the host and the gateway stay reachable).
 */
async function finishAttachment(req: AttachRequest, got: Attachment, netnsPath: string): Promise<void> {
  for (const ll of req.linkLocalIps ?? []) {
    const v6 = ll.includes(':');
    await ip(ipIn(netnsPath, ['addr', 'add', `${ll}/${v6 ? 64 : 16}`, 'dev', req.ifName, ...(v6 ? ['nodad'] : [])]));
  }
  if (req.net.icc === false) {
    if (!got.hostIf) throw new RuntimeFailure(`network ${req.net.name}: the bridge plugin named no host interface to isolate`);
    await ip(onNetHost('ip', ['link', 'set', 'dev', got.hostIf, 'type', 'bridge_slave', 'isolated', 'on']));
  }
}

/**
 * Attach: run ADD through the chain and cache the result for DEL. On failure every plugin already run,
 * and the failing one (the bridge plugin leaves its veth behind when IPAM fails), gets a DEL, and a
 * RuntimeFailure names the plugin with its own message. Throws Conflict when this attachment already
 * exists (a cached result): a second ADD would fail in host-local and its undo would tear the first
 * one down, so the caller must cniDel a stale attachment (e.g. after a reboot) first.
 */
export async function cniAdd(req: AttachRequest): Promise<Attachment> {
  const rt = runtimeArgs(req);
  const list = conflist(req.net, req.dataDir, rt.ips ?? [], { ports: !!rt.portMappings?.length, mac: !!rt.mac });
  const file = cachePath(req);
  if (existsSync(file)) {
    throw new Conflict(`container ${req.containerId} is already attached to network ${req.net.name} as ${req.ifName}`);
  }
  await ensureBridge(req.net);
  await ensureBridgeRules(req.net, req.dataDir);
  reserveAddresses(req.dataDir, req.net.name, reservedOf(req.net));
  let prev: CniResult | undefined;
  let ran = 0;
  try {
    for (const p of list.plugins) {
      ran++;
      prev = await exec('ADD', list, p, req, req.netnsPath, rt, prev);
    }
    await finishAttachment(req, toAttachment(prev!, req.ifName, req.net.bridge), req.netnsPath);
    mkdirSync(join(req.dataDir, 'results'), { recursive: true, mode: 0o700 });
    writeFileSync(`${file}.tmp`, JSON.stringify({ result: prev!, runtime: rt } satisfies Cached));
    renameSync(`${file}.tmp`, file);
  } catch (e) {
    for (const p of list.plugins.slice(0, ran).reverse()) {
      await exec('DEL', list, p, req, req.netnsPath, rt, prev).catch(() => undefined);
    }
    throw e;
  }
  return toAttachment(prev!, req.ifName, req.net.bridge);
}

function usableNetns(path: string): string {
  return isNamespaceFile(path) ? path : '';
}

/**
 * Detach: DEL through the chain in reverse, then remove what the plugins cannot when the namespace is
 * gone. Works from the NetworkDef and container id alone: without the cached result the container's
 * leases stand in for it, and portmap gets a placeholder mapping because it only tears its per-container
 * chain down when given some. Idempotent;
 * every plugin runs even if one fails, and the failures are reported together.
 */
export async function cniDel(req: AttachRequest): Promise<void> {
  const cached = readCache(req);
  const rt = { ...(cached?.runtime ?? {}), ...runtimeArgs(req) };
  // portmap only tears its per-container chain down when given mappings; which ones does not matter.
  if (!cached && !req.net.internal && !rt.portMappings?.length) rt.portMappings = [{ hostPort: 1, containerPort: 1, protocol: 'tcp' }];
  // Without a cache we cannot know what ADD ran: DEL every plugin that may hold state.
  const list = conflist(req.net, req.dataDir, rt.ips ?? [], cached ? { ports: !!rt.portMappings?.length, mac: !!rt.mac } : undefined);
  const prev = cached?.result ?? leaseResult(req.dataDir, req.net, req.containerId, req.ifName, CNI_VERSION);
  // A missing namespace (or a stale /run/netns file) is passed as "": the bridge plugin then only releases the lease.
  const netns = usableNetns(req.netnsPath);
  // The namespace gone (its veth with it) and the bridge plugin alone, whose masquerade is off: its DEL
  // would only run host-local to release the lease, two plugin processes (~15 ms) for unlinking a file.
  // Unlinked here, as host-local's release does (a lease is its owner's until the file is gone).
  if (netns === '' && list.plugins.length === 1 && list.plugins[0]!.type === 'bridge' && list.plugins[0]!.ipMasq === false) {
    for (const l of leases(req.dataDir, req.net.name)) {
      if (l.containerId === req.containerId && l.ifName === req.ifName) rmSync(join(req.dataDir, 'ipam', req.net.name, l.ip), { force: true });
    }
    rmSync(cachePath(req), { force: true });
    return;
  }
  const errors: string[] = [];
  for (const p of [...list.plugins].reverse()) {
    await exec('DEL', list, p, req, netns, rt, prev).catch((e: Error) => errors.push(e.message));
  }
  rmSync(join(req.dataDir, 'tuning', `${req.containerId}_${req.ifName}.json`), { force: true });
  if (errors.length > 0) throw new RuntimeFailure(errors.join('; '));
  rmSync(cachePath(req), { force: true });
}

/** CHECK the attachment against the cached ADD result; throws RuntimeFailure naming the plugin. */
export async function cniCheck(req: AttachRequest): Promise<void> {
  const cached = readCache(req);
  if (!cached) throw new RuntimeFailure(`no cached CNI result for ${req.containerId} on network ${req.net.name}`);
  const list = conflist(req.net, req.dataDir, cached.runtime.ips ?? [], { ports: !!cached.runtime.portMappings?.length, mac: !!cached.runtime.mac });
  if (!existsSync(req.netnsPath)) throw new RuntimeFailure(`network namespace ${req.netnsPath} is gone`);
  for (const p of list.plugins) {
    // portmap 1.1.1's CHECK looks for the IPv4 rules in ip6tables as well, so it fails whenever
    // ip6tables works; its rules are left unchecked.
    if (p.type === 'portmap') continue;
    await exec('CHECK', list, p, req, req.netnsPath, cached.runtime, cached.result);
  }
}
