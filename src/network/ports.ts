/**
 * Published ports in docker's syntax: `-p [hostIP:][hostPort:]containerPort[/proto]` with ranges on
 * either side, `-P` for the image's EXPOSE list, and free host ports picked at start for the ones left
 * open (host port 0). A host port is one container's at a time: the engine checks a start's ports
 * against those of every running container (src/engine/network-attach.ts) with the rule here.
 */
import { createServer } from 'node:net';
import { createSocket } from 'node:dgram';
import { isIP } from 'node:net';
import { Conflict, InvalidArgument } from '../errors.ts';
import { parseIp } from './ipaddr.ts';
import type { PortMapping } from '../types.ts';

function portRange(text: string, spec: string): [number, number] {
  const m = /^(\d+)(?:-(\d+))?$/.exec(text);
  const lo = Number(m?.[1]);
  const hi = m?.[2] !== undefined ? Number(m[2]) : lo;
  if (!m || lo < 1 || hi > 65535 || hi < lo) throw new InvalidArgument(`invalid port specification: "${spec}"`);
  return [lo, hi];
}

/** One `-p` value, expanded to one mapping per container port. */
export function parsePublish(spec: string): PortMapping[] {
  let rest = spec;
  let protocol: 'tcp' | 'udp' = 'tcp';
  const slash = rest.lastIndexOf('/');
  if (slash >= 0) {
    const p = rest.slice(slash + 1).toLowerCase();
    if (p !== 'tcp' && p !== 'udp') throw new InvalidArgument(`invalid proto: ${p}`);
    protocol = p;
    rest = rest.slice(0, slash);
  }
  let hostIP = '';
  // An IPv6 host address is bracketed: [::1]:8080:80.
  const v6 = /^\[([^\]]+)\]:(.*)$/.exec(rest);
  let parts: string[];
  if (v6) {
    hostIP = v6[1]!;
    parts = v6[2]!.split(':');
  } else {
    parts = rest.split(':');
    if (parts.length === 3) hostIP = parts.shift()!;
  }
  if (parts.length > 2 || parts.some((p, i) => p === '' && !(i === 0 && parts.length === 2))) {
    throw new InvalidArgument(`invalid port specification: "${spec}"`);
  }
  if (hostIP && isIP(hostIP) === 0) throw new InvalidArgument(`invalid IP address in port specification "${spec}": ${hostIP}`);
  const [ctrLo, ctrHi] = portRange(parts[parts.length - 1]!, spec);
  // Host port 0 is "any free port", as an empty one (docker takes `-p 0:80` and `127.0.0.1:0:80`).
  const hostPart = parts.length === 2 && parts[0] !== '0' ? parts[0]! : '';
  const [hostLo, hostHi] = hostPart ? portRange(hostPart, spec) : [0, 0];
  const count = ctrHi - ctrLo + 1;
  if (hostPart && hostHi - hostLo + 1 !== count && !(hostLo !== hostHi && count === 1)) {
    throw new InvalidArgument(`invalid ranges specified for container and host ports: "${spec}"`);
  }
  const out: PortMapping[] = [];
  for (let i = 0; i < count; i++) {
    // docker: a host range for one container port means "any free port in the range" (we take the first).
    const hostPort = hostPart ? (count === 1 ? hostLo : hostLo + i) : 0;
    out.push({ hostIP, hostPort, containerPort: ctrLo + i, protocol });
  }
  return out;
}

/** `-P`: every exposed port ("80/tcp") to a free host port, unless `-p` already maps it. */
export function publishAll(exposed: readonly string[], taken: readonly PortMapping[]): PortMapping[] {
  const out: PortMapping[] = [];
  for (const e of exposed) {
    const [port, proto = 'tcp'] = e.split('/');
    const m = { hostIP: '', hostPort: 0, containerPort: Number(port), protocol: proto === 'udp' ? 'udp' : 'tcp' } as PortMapping;
    if (!Number.isInteger(m.containerPort) || m.containerPort < 1 || m.containerPort > 65535) continue;
    if (taken.some((t) => t.containerPort === m.containerPort && t.protocol === m.protocol)) continue;
    out.push(m);
  }
  return out;
}

/**
 * What a host address binds: every address of both families (`''`), every address of one family
 * (`0.0.0.0`, `::`), or one address (in canonical form, so `::1` and `0::1` are the same).
 */
function bindOf(hostIP: string): { v4: boolean; v6: boolean; any: boolean; addr: string } {
  if (hostIP === '') return { v4: true, v6: true, any: true, addr: '' };
  const ip = parseIp(hostIP);
  if (!ip) return { v4: false, v6: false, any: false, addr: hostIP };
  return { v4: ip.version === 4, v6: ip.version === 6, any: ip.n === 0n, addr: `${ip.version}/${ip.n}` };
}

/**
 * Whether two published ports claim the same host socket, as docker's port allocator sees it: same
 * protocol and host port, and host addresses that overlap (a wildcard of a family covers every address
 * of that family; an empty host IP is both families' wildcard). Host port 0 (not chosen yet) claims nothing.
 */
export function portsClash(a: PortMapping, b: PortMapping): boolean {
  if (a.protocol !== b.protocol || a.hostPort !== b.hostPort || a.hostPort === 0) return false;
  const x = bindOf(a.hostIP);
  const y = bindOf(b.hostIP);
  if (!((x.v4 && y.v4) || (x.v6 && y.v6))) return false;
  return x.any || y.any || x.addr === y.addr;
}

const samePort = (a: PortMapping, b: PortMapping) =>
  a.hostIP === b.hostIP && a.hostPort === b.hostPort && a.containerPort === b.containerPort && a.protocol === b.protocol;

/**
 * The index of the first of `wanted` that clashes with one of `taken` or with an earlier different entry
 * of `wanted` (one container may not publish a host port twice; the same `-p` given twice is one port);
 * -1 when none does.
 */
export function findClash(wanted: readonly PortMapping[], taken: readonly PortMapping[]): number {
  return wanted.findIndex((p, i) => taken.some((t) => portsClash(p, t)) || wanted.slice(0, i).some((q) => !samePort(p, q) && portsClash(p, q)));
}

/** docker's message for a host port another container has: `Bind for 0.0.0.0:8080 failed: port is already allocated`. */
export function allocatedMessage(p: PortMapping): string {
  const ip = p.hostIP || '0.0.0.0';
  return `Bind for ${ip.includes(':') ? `[${ip}]` : ip}:${p.hostPort} failed: port is already allocated`;
}

/** A free host port for the protocol, asked of the kernel (bind to port 0, read it, close). */
function freePort(protocol: 'tcp' | 'udp', hostIP: string): Promise<number> {
  return new Promise((resolve, reject) => {
    if (protocol === 'tcp') {
      const s = createServer();
      s.once('error', reject);
      s.listen({ port: 0, host: hostIP || '0.0.0.0', exclusive: true }, () => {
        const port = (s.address() as { port: number }).port;
        s.close(() => resolve(port));
      });
    } else {
      const s = createSocket(hostIP.includes(':') ? 'udp6' : 'udp4');
      s.once('error', reject);
      s.bind(0, hostIP || undefined, () => {
        const port = s.address().port;
        s.close(() => resolve(port));
      });
    }
  });
}

/** How many ports the kernel offers for one open host port before giving up on finding one no container maps. */
const PICKS = 64;

/**
 * The mappings with every host port 0 replaced by a free one: free on the host (the kernel's pick) and
 * not mapped by any of `taken` (other containers' published ports: portmap's rules hold no socket, so
 * the kernel cannot know them) nor by the other mappings of this list. `pick` stands in for the kernel
 * in tests.
 */
export async function resolvePorts(
  ports: readonly PortMapping[],
  taken: readonly PortMapping[] = [],
  pick: (protocol: 'tcp' | 'udp', hostIP: string) => Promise<number> = freePort,
): Promise<PortMapping[]> {
  const out: PortMapping[] = [];
  const fixed = ports.filter((p) => p.hostPort !== 0);
  for (const p of ports) {
    if (p.hostPort !== 0) {
      out.push({ ...p });
      continue;
    }
    for (let i = 0; ; i++) {
      const c = { ...p, hostPort: await pick(p.protocol, p.hostIP) };
      if (![...taken, ...fixed, ...out].some((t) => portsClash(c, t))) {
        out.push(c);
        break;
      }
      if (i >= PICKS) throw new Conflict(`no free host port for ${p.containerPort}/${p.protocol}: every port offered is mapped by another container`);
    }
  }
  return out;
}

/** docker's `port` line: `80/tcp -> 0.0.0.0:32768`. */
export function formatPort(p: PortMapping): string {
  const ip = p.hostIP || '0.0.0.0';
  return `${p.containerPort}/${p.protocol} -> ${ip.includes(':') ? `[${ip}]` : ip}:${p.hostPort}`;
}
