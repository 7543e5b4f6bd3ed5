/**
 * A network's IPAM pools (docker's IPAM.Config) checked as dockerd 20.10 checks them with its default
 * IPAM driver and the bridge driver: a subnet as given (host bits allowed, kept as written), an optional
 * gateway, ip-range and auxiliary addresses inside it, at most one IPv4 and one IPv6 pool, IPv6 only with
 * IPv6 enabled. Also the docker CLI's grouping of `--subnet --gateway --ip-range --aux-address` into pools.
 */
import { isIP } from 'node:net';
import { Forbidden, InvalidArgument } from '../errors.ts';
import { contains, formatCidr, formatIp, lastOf, nth, overlaps, parseCidr, parseIp, parsePool, type Cidr } from '../network/ipaddr.ts';
import type { Subnet } from '../store/networks.ts';

/** One pool as asked for (an IPAM.Config entry). */
export interface PoolRequest {
  subnet: string;
  gateway?: string;
  ipRange?: string;
  aux?: Record<string, string>;
}

const family = (c: Cidr) => (c.version === 4 ? 'IPv4' : 'IPv6');

/** An address the pool's bitmap holds for itself: the network address, and IPv4's broadcast. */
function reservedByPool(c: Cidr, ip: string): boolean {
  const n = parseIp(ip)!.n;
  return n === c.base || (c.version === 4 && n === lastOf(c));
}

/** One pool checked and turned into its stored form; `name` is the network's, for messages. */
function checkPool(p: PoolRequest, name: string): Subnet {
  const c = parsePool(p.subnet);
  if (c.version === 4 && c.prefix > 30) throw new InvalidArgument(`invalid subnet ${p.subnet}: too small for a network`);
  const out: Subnet = { subnet: p.subnet, gateway: nth(c, 1), impliedGateway: true };
  if (p.ipRange !== undefined && p.ipRange !== '') {
    const r = parsePool(p.ipRange, 'ip-range');
    if (r.version !== c.version) throw new InvalidArgument(`invalid ip-range ${p.ipRange}: parent subnet is an ${family(c)} block`);
    if (r.prefix < c.prefix || !overlaps(r, c)) throw new InvalidArgument(`invalid ip-range ${p.ipRange}: parent subnet ${p.subnet} doesn't contain ip-range`);
    out.ipRange = p.ipRange;
  }
  if (p.gateway !== undefined && p.gateway !== '') {
    if (isIP(p.gateway) === 0) throw new InvalidArgument(`invalid gateway address ${p.gateway} in Ipam configuration`);
    if (!contains(c, p.gateway)) throw new InvalidArgument(`failed to allocate gateway (${p.gateway}): Requested address is out of range`);
    if (reservedByPool(c, p.gateway)) throw new InvalidArgument(`failed to allocate gateway (${p.gateway}): Address already in use`);
    out.gateway = formatIp(c.version, parseIp(p.gateway)!.n);
    delete out.impliedGateway;
  }
  const taken = new Set([out.gateway]);
  for (const [k, v] of Object.entries(p.aux ?? {})) {
    if (typeof v !== 'string' || isIP(v) === 0) throw new InvalidArgument(`non parsable secondary ip address (${k}:${String(v)}) passed for network ${name}`);
    if (!contains(c, v)) throw new Forbidden(`auxiliary address: (${k}:${v}) must belong to the master pool: ${formatCidr(c)}`);
    const text = formatIp(c.version, parseIp(v)!.n);
    if (taken.has(text) || reservedByPool(c, v)) throw new InvalidArgument(`failed to allocate secondary ip address (${k}:${v}): Address already in use`);
    taken.add(text);
    (out.aux ??= {})[k] = text;
  }
  return out;
}

/**
 * The stored pools of a new network from those asked for: `auto4` (a free /24 the caller picked) when no
 * IPv4 pool is given, and with `ipv6` a unique-local /64 from `ula` when no IPv6 pool is. IPv4 first.
 */
export function resolvePools(pools: readonly PoolRequest[], o: { name: string; ipv6: boolean; auto4?: string; ula: string }): Subnet[] {
  const out = pools.map((p) => checkPool(p, o.name));
  const v = (s: Subnet) => parseCidr(s.subnet)!.version;
  if (out.filter((s) => v(s) === 4).length > 1 || out.filter((s) => v(s) === 6).length > 1) throw new Forbidden("bridge driver doesn't support multiple subnets");
  const v6 = out.find((s) => v(s) === 6);
  if (v6 && !o.ipv6) throw new InvalidArgument(`IPv6 subnet ${v6.subnet} given but IPv6 is not enabled (--ipv6, EnableIPv6)`);
  if (!out.some((s) => v(s) === 4)) {
    if (!o.auto4) throw new InvalidArgument(`network ${o.name} needs an IPv4 subnet`);
    out.push({ subnet: o.auto4, gateway: nth(parsePool(o.auto4), 1) });
  }
  if (o.ipv6 && !v6) out.push({ subnet: o.ula, gateway: nth(parsePool(o.ula), 1) });
  return out.sort((a, b) => v(a) - v(b));
}

/**
 * The docker CLI's grouping of `--subnet`, `--ip-range`, `--gateway` and `--aux-address name=ip` into pools:
 * each of the others goes to the subnet that contains it; subnets may not overlap; one range and one
 * gateway per subnet.
 */
export function poolsFromFlags(f: { subnet: string[]; ipRange: string[]; gateway: string[]; aux: string[] }): PoolRequest[] {
  if (f.subnet.length < f.ipRange.length || f.subnet.length < f.gateway.length) throw new InvalidArgument('every ip-range or gateway must have a corresponding subnet');
  const pools = f.subnet.map((s) => {
    const c = parseCidr(s);
    if (!c) throw new InvalidArgument(`invalid subnet: invalid CIDR address: ${s}`);
    return { req: { subnet: s } as PoolRequest, c };
  });
  for (const [i, a] of pools.entries()) {
    for (const b of pools.slice(0, i)) if (overlaps(a.c, b.c)) throw new InvalidArgument('multiple overlapping subnet configuration is not supported');
  }
  const home = (text: string, what: string) => {
    const addr = text.includes('/') ? parseCidr(text) : null;
    const ip = addr ? formatIp(addr.version, parseIp(text.slice(0, text.indexOf('/')))!.n) : text;
    if (text.includes('/') && !addr) throw new InvalidArgument(`invalid CIDR address: ${text}`);
    const found = pools.filter((p) => contains(p.c, ip));
    if (found.length === 0) throw new InvalidArgument(`no matching subnet for ${what} ${text}`);
    return found[0]!.req;
  };
  for (const r of f.ipRange) {
    const p = home(r, 'range');
    if (p.ipRange) throw new InvalidArgument(`cannot configure multiple ranges (${r}, ${p.ipRange}) on the same subnet (${p.subnet})`);
    p.ipRange = r;
  }
  for (const g of f.gateway) {
    const p = home(g, 'gateway');
    if (p.gateway) throw new InvalidArgument(`cannot configure multiple gateways (${g}, ${p.gateway}) for the same subnet (${p.subnet})`);
    p.gateway = g;
  }
  for (const a of f.aux) {
    const i = a.indexOf('=');
    if (i <= 0) throw new InvalidArgument(`invalid argument "${a}" for "--aux-address" flag: bad format for aux-address: expected NAME=IP`);
    const p = home(a.slice(i + 1), 'aux-address');
    (p.aux ??= {})[a.slice(0, i)] = a.slice(i + 1);
  }
  return pools.map((p) => p.req);
}
