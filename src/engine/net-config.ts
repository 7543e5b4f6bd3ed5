/**
 * A new container's networking from docker's flags and EndpointsConfig: which networks (default `bridge`;
 * several with `--network` given again or EndpointsConfig naming more), its addresses, MAC, aliases and
 * links on each, legacy links on the default bridge, published ports (`-p`, `-P` from the image's EXPOSE),
 * DNS settings and extra hosts — all checked at create, as docker checks them.
 */
import { isIP } from 'node:net';
import { InvalidArgument, NotSupported } from '../errors.ts';
import { contains, formatIp, lastOf, parseCidr, parseIp } from '../network/ipaddr.ts';
import { parsePublish, publishAll } from '../network/ports.ts';
import type { ContainerRow } from '../store/containers.ts';
import type { NetworkRow } from '../store/networks.ts';
import type { Isolation, NetworkAttachment, Networking } from '../types.ts';
import { parseLink, resolveLegacyLinks } from './links.ts';
import { DEFAULT_NETWORK } from './networks.ts';

/** docker's EndpointSettings as asked for (`network connect`'s flags, an EndpointsConfig entry). */
export interface EndpointOptions {
  aliases?: string[];
  /** `NAME[:ALIAS]`: on a user network ALIAS resolves to container NAME for this container. */
  links?: string[];
  ip?: string;
  ip6?: string;
  linkLocalIps?: string[];
  mac?: string;
  /** docker's DriverOpts: refused, the bridge driver takes none from an endpoint here. */
  driverOpts?: Record<string, string>;
  /** docker's GwPriority: refused unless 0. */
  gwPriority?: number;
}

export interface NetworkOptions {
  /** `-p` values. */
  publish?: string[];
  /** `-P`: every port the image exposes. */
  publishAll?: boolean;
  ip?: string;
  ip6?: string;
  macAddress?: string;
  networkAliases?: string[];
  /** `--link-local-ip` */
  linkLocalIps?: string[];
  /** `--link NAME[:ALIAS]`, HostConfig.Links: legacy links on the default bridge, aliases on a user network. */
  links?: string[];
  /**
   * Per-network settings (docker's EndpointsConfig, `--network` given more than once): the entry for the
   * network mode's network adds to the flags above, the others are joined after it, in order.
   */
  endpoints?: { network: string; settings: EndpointOptions }[];
  dns?: string[];
  dnsSearch?: string[];
  dnsOptions?: string[];
  /** `--add-host host:ip` */
  addHosts?: string[];
}

const MAC = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/i;

function extraHost(spec: string): { host: string; ip: string } {
  const i = spec.indexOf(':');
  const host = spec.slice(0, i);
  const ip = spec.slice(i + 1).replace(/^\[(.*)\]$/, '$1');
  if (i <= 0 || (isIP(ip) === 0 && ip !== 'host-gateway')) throw new InvalidArgument(`invalid argument "${spec}" for "--add-host" flag: invalid IP address in add-host: "${ip}"`);
  return { host, ip };
}

/** Why `ip` cannot be a container's on `net` (outside its subnets, or held by the network), or null. */
function addressProblem(net: NetworkRow, ip: string, v: 4 | 6): string | null {
  const home = net.subnets.find((s) => parseCidr(s.subnet)!.version === v);
  if (!home) return `network ${net.name} has no IPv${v} subnet`;
  const c = parseCidr(home.subnet)!;
  if (!contains(c, ip)) return `not in the subnet of network ${net.name}`;
  const text = formatIp(v, parseIp(ip)!.n);
  const n = parseIp(ip)!.n;
  if (n === c.base || (v === 4 && n === lastOf(c))) return `Address already in use: it is not a host address of ${home.subnet}`;
  if (text === home.gateway) return `Address already in use: it is the gateway of network ${net.name}`;
  const aux = Object.entries(home.aux ?? {}).find(([, a]) => a === text);
  if (aux) return `Address already in use: it is the auxiliary address ${aux[0]} of network ${net.name}`;
  return null;
}

/**
 * One network's attachment from its endpoint settings, checked against the network (also by `network
 * connect`). The default bridge takes no static address, alias or link, as docker's does.
 */
export function attachmentFor(net: NetworkRow, e: EndpointOptions): NetworkAttachment {
  const user = net.name !== DEFAULT_NETWORK;
  if ((e.aliases ?? []).length > 0 && !user) throw new InvalidArgument('network-scoped alias is supported only for containers in user defined networks');
  if ((e.links ?? []).length > 0 && !user) throw new InvalidArgument('links are only supported for user-defined networks');
  if ((e.ip || e.ip6) && !user) throw new InvalidArgument('user specified IP address is supported on user defined networks only');
  if (e.ip) {
    if (isIP(e.ip) !== 4) throw new InvalidArgument(`invalid IPv4 address: ${e.ip}`);
    const why = addressProblem(net, e.ip, 4);
    if (why) throw new InvalidArgument(`invalid IP address ${e.ip}: ${why}`);
  }
  if (e.ip6) {
    if (isIP(e.ip6) !== 6) throw new InvalidArgument(`invalid IPv6 address: ${e.ip6}`);
    const why = addressProblem(net, e.ip6, 6);
    if (why) throw new InvalidArgument(`invalid IPv6 address ${e.ip6}: ${why}`);
  }
  for (const ll of e.linkLocalIps ?? []) if (isIP(ll) === 0 || /^(0\.0\.0\.0|::)$/.test(ll)) throw new InvalidArgument(`invalid link-local IP address: ${ll}`);
  for (const l of e.links ?? []) parseLink(l);
  if (e.mac && !MAC.test(e.mac)) throw new InvalidArgument(`${e.mac} is not a valid mac address`);
  if (Object.keys(e.driverOpts ?? {}).length > 0) throw new NotSupported(`endpoint driver options are not supported: ${Object.keys(e.driverOpts!).join(', ')}`);
  if (e.gwPriority) throw new NotSupported('GwPriority is not supported: the first network is the default gateway');
  return {
    name: net.name,
    aliases: [...(e.aliases ?? [])],
    ...(e.ip ? { ip: formatIp(4, parseIp(e.ip)!.n) } : {}),
    ...(e.ip6 ? { ip6: formatIp(6, parseIp(e.ip6)!.n) } : {}),
    ...(e.mac ? { mac: e.mac.toLowerCase() } : {}),
    ...((e.links ?? []).length > 0 ? { links: [...e.links!] } : {}),
    ...((e.linkLocalIps ?? []).length > 0 ? { linkLocalIps: [...e.linkLocalIps!] } : {}),
  };
}

/** The flags' endpoint settings for the mode's network, merged with its EndpointsConfig entry as docker's CLI merges them. */
function mergeFlat(o: NetworkOptions, e: EndpointOptions | undefined): EndpointOptions {
  // Both given and different (an API client may send the deprecated Config.MacAddress beside the endpoint's, equal).
  const both = (flag: string, what: string, a: unknown, b: unknown) => {
    if (a !== undefined && b !== undefined && String(a) !== String(b)) throw new InvalidArgument(`conflicting options: cannot specify both ${flag} and per-network ${what}`);
  };
  const some = <T>(l: T[] | undefined) => (l && l.length > 0 ? l : undefined);
  both('--network-alias', 'alias', some(o.networkAliases), some(e?.aliases));
  both('--ip', 'IPv4 address', o.ip || undefined, e?.ip);
  both('--ip6', 'IPv6 address', o.ip6 || undefined, e?.ip6);
  both('--mac-address', 'MAC address', o.macAddress || undefined, e?.mac);
  both('--link-local-ip', 'link-local IP addresses', some(o.linkLocalIps), some(e?.linkLocalIps));
  return {
    ...e,
    aliases: some(o.networkAliases) ?? e?.aliases,
    ip: o.ip || e?.ip,
    ip6: o.ip6 || e?.ip6,
    mac: o.macAddress || e?.mac,
    linkLocalIps: some(o.linkLocalIps) ?? e?.linkLocalIps,
  };
}

export function resolveNetworking(
  o: NetworkOptions & { network?: string },
  iso: Isolation,
  exposed: string[],
  network: (name: string) => NetworkRow,
  warn: (m: string) => void,
  container?: (ref: string) => ContainerRow,
): Networking {
  for (const d of o.dns ?? []) if (isIP(d) === 0) throw new InvalidArgument(`${d} is not an ip address`);
  const extraHosts = (o.addHosts ?? []).map(extraHost);
  let ports = (o.publish ?? []).flatMap(parsePublish);
  if (o.publishAll) ports = [...ports, ...publishAll(exposed, ports)];
  const base = { dns: [...(o.dns ?? [])], dnsSearch: [...(o.dnsSearch ?? [])], dnsOptions: [...(o.dnsOptions ?? [])], extraHosts, ...(o.publishAll ? { publishAll: true } : {}) };
  const endpoints = o.endpoints ?? [];
  if (iso.network !== 'bridge') {
    if (ports.length > 0) warn(`Published ports are discarded when using ${iso.network === 'host' ? 'host' : iso.network === 'none' ? 'the none' : 'a container\'s'} network mode`);
    if (o.ip || o.ip6 || o.macAddress || (o.networkAliases ?? []).length > 0 || (o.linkLocalIps ?? []).length > 0) {
      throw new InvalidArgument('--ip, --ip6, --mac-address, --link-local-ip and --network-alias need a bridge or user network');
    }
    if ((o.links ?? []).length > 0) {
      const kind = iso.network === 'host' ? 'host type networking' : iso.network === 'none' ? 'the none network' : 'container type network';
      throw new InvalidArgument(`conflicting options: ${kind} can't be used with links. This would result in undefined behavior`);
    }
    // The mode's own name with nothing asked of it is what docker's CLI sends for `--network host`.
    const mode = iso.network.startsWith('container:') ? 'container' : iso.network;
    if (endpoints.some((e) => (e.network !== mode && !e.network.startsWith(`${mode}:`)) || Object.values(e.settings).some((v) => v !== undefined))) {
      throw new InvalidArgument('conflicting options: cannot attach both user-defined and non-user-defined network-modes');
    }
    return { networks: [], ports: [], ...base };
  }
  const asName = (n: string) => (n === 'default' ? DEFAULT_NETWORK : n);
  const first = network(asName(!o.network ? 'default' : o.network));
  const rows = endpoints.map((e) => ({ net: network(asName(e.network)), settings: e.settings }));
  const seen = new Set<string>();
  for (const r of rows) {
    if (seen.has(r.net.id)) throw new InvalidArgument(`network "${r.net.name}" is specified multiple times`);
    seen.add(r.net.id);
  }
  const own = rows.find((r) => r.net.id === first.id);
  const firstSettings = mergeFlat(o, own?.settings);
  const isDefault = first.name === DEFAULT_NETWORK;
  // On a user network `--link` is an alias there (docker's CLI sends it so); an EndpointsConfig of its own wins.
  if (!isDefault && (o.links ?? []).length > 0 && (firstSettings.links ?? []).length === 0) firstSettings.links = [...o.links!];
  const networks = [attachmentFor(first, firstSettings), ...rows.filter((r) => r !== own).map((r) => attachmentFor(r.net, r.settings))];
  const legacyLinks = isDefault && (o.links ?? []).length > 0 ? resolveLegacyLinks(o.links!, container) : [];
  return {
    networks,
    ports,
    ...base,
    ...(legacyLinks.length > 0 ? { legacyLinks } : {}),
  };
}
