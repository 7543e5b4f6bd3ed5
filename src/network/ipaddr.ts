/**
 * IPv4/IPv6 address arithmetic on bigints: just what the CNI config needs (range bounds from an ip-range,
 * subnet membership, prefix lengths).
 */
import { isIP } from 'node:net';
import { InvalidArgument } from '../errors.ts';

export interface Cidr {
  version: 4 | 6;
  /** The network address (host bits cleared). */
  base: bigint;
  prefix: number;
}

function bits(v: 4 | 6): number {
  return v === 4 ? 32 : 128;
}

/** The address as a number, or null when `s` is not an IPv4/IPv6 address. */
export function parseIp(s: string): { version: 4 | 6; n: bigint } | null {
  const v = isIP(s);
  if (v === 4) return { version: 4, n: s.split('.').reduce((a, o) => (a << 8n) | BigInt(Number(o)), 0n) };
  if (v !== 6) return null;
  const groups = (part: string): bigint[] =>
    part === ''
      ? []
      : part.split(':').flatMap((g) => {
          if (!g.includes('.')) return [BigInt(parseInt(g, 16))];
          const n = parseIp(g)!.n; // an embedded IPv4 tail (::ffff:1.2.3.4) is two groups
          return [n >> 16n, n & 0xffffn];
        });
  const [head, tail] = s.includes('::') ? s.split('::') : [s, undefined];
  const h = groups(head!);
  const t = tail === undefined ? [] : groups(tail);
  const all = tail === undefined ? h : [...h, ...new Array<bigint>(8 - h.length - t.length).fill(0n), ...t];
  return { version: 6, n: all.reduce((a, g) => (a << 16n) | g, 0n) };
}

/** Text form: dotted quad, or IPv6 with the longest run of zero groups compressed. */
export function formatIp(version: 4 | 6, n: bigint): string {
  if (version === 4) return [24n, 16n, 8n, 0n].map((s) => String((n >> s) & 0xffn)).join('.');
  const g = Array.from({ length: 8 }, (_, i) => Number((n >> BigInt(112 - 16 * i)) & 0xffffn));
  let best = -1;
  let len = 0;
  for (let i = 0; i < 8; ) {
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > len && j - i >= 2) [best, len] = [i, j - i];
    i = j === i ? i + 1 : j;
  }
  const hex = (a: number[]): string => a.map((x) => x.toString(16)).join(':');
  return best < 0 ? hex(g) : `${hex(g.slice(0, best))}::${hex(g.slice(best + len))}`;
}

/** Parse `a.b.c.d/n` or `x::/n`; null when malformed. Host bits are cleared. */
export function parseCidr(s: string): Cidr | null {
  const slash = s.indexOf('/');
  if (slash < 0) return null;
  const ip = parseIp(s.slice(0, slash));
  const p = s.slice(slash + 1);
  if (!ip || !/^\d{1,3}$/.test(p) || Number(p) > bits(ip.version)) return null;
  const prefix = Number(p);
  const hostBits = BigInt(bits(ip.version) - prefix);
  return { version: ip.version, base: (ip.n >> hostBits) << hostBits, prefix };
}

/** The last address of the block (IPv4 broadcast). */
export function lastOf(c: Cidr): bigint {
  return c.base + (1n << BigInt(bits(c.version) - c.prefix)) - 1n;
}

/** True when `ip` (text) lies in the block. */
export function contains(c: Cidr, ip: string): boolean {
  const a = parseIp(ip);
  return a !== null && a.version === c.version && a.n >= c.base && a.n <= lastOf(c);
}

/** A user's `--subnet`: a CIDR whose host bits are zero (docker refuses `10.0.0.1/24`). */
export function parseSubnet(text: string, flag = 'subnet'): Cidr {
  const c = parseCidr(text);
  if (!c) throw new InvalidArgument(`invalid ${flag}: ${text}: not a CIDR address`);
  if (parseIp(text.slice(0, text.indexOf('/')))!.n !== c.base) {
    throw new InvalidArgument(`invalid ${flag}: ${text}: host bits are set (did you mean ${formatCidr(c)}?)`);
  }
  return c;
}

/**
 * An IPAM pool as docker's daemon reads one (`--subnet`, IPAM.Config's Subnet): any CIDR, host bits
 * allowed (`2001:db8::1/64` is the network 2001:db8::/64; docker keeps the text as given).
 */
export function parsePool(text: string, what = 'subnet'): Cidr {
  const c = parseCidr(text);
  if (!c) throw new InvalidArgument(`invalid ${what} ${text}: invalid CIDR address: ${text}`);
  return c;
}

export function formatCidr(c: Cidr): string {
  return `${formatIp(c.version, c.base)}/${c.prefix}`;
}

/** Whether two blocks share an address (CIDR blocks either nest or are disjoint). */
export function overlaps(a: Cidr, b: Cidr): boolean {
  return a.version === b.version && a.base <= lastOf(b) && b.base <= lastOf(a);
}

/** The n-th address of the block (1 = the first host, docker's default gateway). */
export function nth(c: Cidr, n: number): string {
  return formatIp(c.version, c.base + BigInt(n));
}

/** First and last usable host addresses of a block (IPv4 leaves out network and broadcast). */
export function hostRange(c: Cidr): [string, string] {
  return [formatIp(c.version, c.base + 1n), formatIp(c.version, lastOf(c) - (c.version === 4 ? 1n : 0n))];
}
