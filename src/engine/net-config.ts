/**
 * A new container's networking from docker's flags: which network (default `bridge`), its address,
 * MAC and aliases there, published ports (`-p`, `-P` from the image's EXPOSE), DNS settings and extra
 * hosts — all checked at create, as docker checks them.
 */
import { isIP } from 'node:net';
import { InvalidArgument } from '../errors.ts';
import { contains, parseSubnet } from '../network/ipaddr.ts';
import { parsePublish, publishAll } from '../network/ports.ts';
import type { NetworkRow } from '../store/networks.ts';
import type { Isolation, Networking } from '../types.ts';
import { DEFAULT_NETWORK } from './networks.ts';

export interface NetworkOptions {
  /** `-p` values. */
  publish?: string[];
  /** `-P`: every port the image exposes. */
  publishAll?: boolean;
  ip?: string;
  ip6?: string;
  macAddress?: string;
  networkAliases?: string[];
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

export function resolveNetworking(
  o: NetworkOptions & { network?: string },
  iso: Isolation,
  exposed: string[],
  network: (name: string) => NetworkRow,
  warn: (m: string) => void,
): Networking {
  for (const d of o.dns ?? []) if (isIP(d) === 0) throw new InvalidArgument(`${d} is not an ip address`);
  const extraHosts = (o.addHosts ?? []).map(extraHost);
  let ports = (o.publish ?? []).flatMap(parsePublish);
  if (o.publishAll) ports = [...ports, ...publishAll(exposed, ports)];
  const base = { dns: [...(o.dns ?? [])], dnsSearch: [...(o.dnsSearch ?? [])], dnsOptions: [...(o.dnsOptions ?? [])], extraHosts, ...(o.publishAll ? { publishAll: true } : {}) };
  if (iso.network !== 'bridge') {
    if (ports.length > 0) warn(`Published ports are discarded when using ${iso.network === 'host' ? 'host' : iso.network === 'none' ? 'the none' : 'a container\'s'} network mode`);
    if (o.ip || o.macAddress || (o.networkAliases ?? []).length > 0) throw new InvalidArgument('--ip, --mac-address and --network-alias need a bridge or user network');
    return { networks: [], ports: [], ...base };
  }
  const name = !o.network || o.network === 'default' ? DEFAULT_NETWORK : o.network;
  const net = network(name);
  const user = net.name !== DEFAULT_NETWORK;
  if ((o.networkAliases ?? []).length > 0 && !user) throw new InvalidArgument('network-scoped alias is supported only for containers in user defined networks');
  if (o.ip) {
    if (!user) throw new InvalidArgument('user specified IP address is supported on user defined networks only');
    const v4 = net.subnets.find((s) => !s.subnet.includes(':'));
    if (!v4 || !contains(parseSubnet(v4.subnet), o.ip)) throw new InvalidArgument(`invalid IP address ${o.ip}: not in the subnet of network ${net.name}`);
  }
  if (o.macAddress && !MAC.test(o.macAddress)) throw new InvalidArgument(`${o.macAddress} is not a valid mac address`);
  return {
    networks: [{ name: net.name, aliases: [...(o.networkAliases ?? [])], ...(o.ip ? { ip: o.ip } : {}), ...(o.macAddress ? { mac: o.macAddress.toLowerCase() } : {}) }],
    ports,
    ...base,
  };
}
