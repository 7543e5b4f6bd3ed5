// The host network state a bench with bridged peers touches, and putting it back: a bridge of the bench's own
// for a private dockerd's default network (dockerd with --bridge=<it>, --iptables=false: no firewall rule), and
// what podman's default CNI network leaves behind it (the cni-podman0 bridge, /var/lib/cni). Other engineers'
// tests make and remove bridges and rules on this host at the same time, so nothing is restored wholesale:
// only what is named here as the bench's own (its bridge, the links on it, dockerd's br-* bridges it lists,
// podman's bridge and lease directory when they were not there before, rules naming those) is removed, and the
// few sysctls a bridge setup may flip are written back when they changed.

import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const PODMAN_BRIDGE = 'cni-podman0';
const PODMAN_SUBNET = '10.88.0.0/16';
const CNI_DIR = '/var/lib/cni';
const SYSCTLS = ['net/ipv4/ip_forward', 'net/ipv4/conf/all/forwarding', 'net/bridge/bridge-nf-call-iptables', 'net/bridge/bridge-nf-call-ip6tables'];

export interface HostNetSnapshot {
  links: Set<string>;
  cniDir: boolean;
  cniPodman: boolean;
  sysctls: Map<string, string>;
  rules: Set<string>;
}

export interface PrivateBridge {
  name: string;
  /** The bridge's address with its prefix, e.g. 172.30.201.1/24 */
  address: string;
  subnet: string;
}

function ip(...args: string[]): { ok: boolean; out: string; err: string } {
  const r = spawnSync('ip', args, { encoding: 'utf8', timeout: 30_000 });
  return { ok: r.status === 0, out: r.stdout ?? '', err: (r.stderr ?? '').trim() };
}

export function links(): Set<string> {
  return new Set(readdirSync('/sys/class/net'));
}

/** `iptables-save` rule lines as `table|-A …`, or none where iptables is missing. */
function rules(): Set<string> {
  const r = spawnSync('iptables-save', [], { encoding: 'utf8', timeout: 30_000 });
  if (r.status !== 0) return new Set();
  const out = new Set<string>();
  let table = '';
  for (const line of r.stdout.split('\n')) {
    if (line.startsWith('*')) table = line.slice(1);
    else if (line.startsWith('-A ')) out.add(`${table}|${line}`);
  }
  return out;
}

function readSysctl(key: string): string | undefined {
  try { return readFileSync(join('/proc/sys', key), 'utf8').trim(); } catch { return undefined; }
}

export function snapshotHostNet(): HostNetSnapshot {
  const sysctls = new Map<string, string>();
  for (const k of SYSCTLS) {
    const v = readSysctl(k);
    if (v !== undefined) sysctls.set(k, v);
  }
  return {
    links: links(),
    cniDir: existsSync(CNI_DIR),
    cniPodman: existsSync(join(CNI_DIR, 'networks', 'podman')),
    sysctls,
    rules: rules(),
  };
}

/** IPv4 routes of the host as [network, prefix] (from /proc/net/route). */
function routes(): [number, number][] {
  const hex = (h: string) => (parseInt(h.slice(6, 8) + h.slice(4, 6) + h.slice(2, 4) + h.slice(0, 2), 16) >>> 0);
  return readFileSync('/proc/net/route', 'utf8').split('\n').slice(1).map((l) => l.trim().split(/\s+/))
    .filter((f) => f.length > 7).map((f) => {
      const mask = hex(f[7]!);
      return [hex(f[1]!) & mask, mask.toString(2).replace(/0/g, '').length] as [number, number];
    });
}

/** A bridge named after this process, with the first 172.30.X.0/24 (X from 200) no route or address covers. */
export function makeBridge(): PrivateBridge {
  const name = `bkd-${process.pid}`.slice(0, 15);
  if (existsSync(`/sys/class/net/${name}`)) throw new Error(`bridge ${name} already exists`);
  const used = routes();
  const addrs = ip('-4', '-o', 'addr').out;
  for (let x = 200; x < 255; x++) {
    const net = ((172 << 24) | (30 << 16) | (x << 8)) >>> 0;
    const clash = used.some(([n, p]) => {
      const p2 = Math.min(p, 24);
      const m = p2 === 0 ? 0 : (~0 << (32 - p2)) >>> 0;
      return ((n & m) >>> 0) === ((net & m) >>> 0) && p > 0;
    }) || addrs.includes(` 172.30.${x}.`);
    if (clash) continue;
    const b: PrivateBridge = { name, address: `172.30.${x}.1/24`, subnet: `172.30.${x}.0/24` };
    const steps = [['link', 'add', name, 'type', 'bridge'], ['addr', 'add', b.address, 'dev', name], ['link', 'set', name, 'up']];
    for (const s of steps) {
      const r = ip(...s);
      if (!r.ok) {
        ip('link', 'del', name);
        throw new Error(`\`ip ${s.join(' ')}\` failed: ${r.err}`);
      }
    }
    return b;
  }
  throw new Error('no free 172.30.X.0/24 for a private bridge');
}

/** The bridges a dockerd's bridge networks use (the default one names ours; user networks get br-<id12>). */
export function dockerBridges(docker: string[]): string[] {
  const r = spawnSync(docker[0]!, [...docker.slice(1), 'network', 'ls', '-q', '--no-trunc', '--filter', 'driver=bridge'], { encoding: 'utf8', timeout: 30_000 });
  if (r.status !== 0) return [];
  const out: string[] = [];
  for (const id of r.stdout.split('\n').filter(Boolean)) {
    const i = spawnSync(docker[0]!, [...docker.slice(1), 'network', 'inspect', '-f', '{{index .Options "com.docker.network.bridge.name"}}', id], { encoding: 'utf8', timeout: 30_000 });
    const name = i.status === 0 ? i.stdout.trim() : '';
    out.push(name || `br-${id.slice(0, 12)}`);
  }
  return out;
}

function deleteLink(name: string, left: string[]): void {
  if (!existsSync(`/sys/class/net/${name}`)) return;
  // Ports still on it first (a veth whose peer's namespace is gone goes with its end here).
  for (const port of readdirSync(`/sys/class/net`).filter((l) => {
    try { return readFileSync(`/sys/class/net/${l}/master/ifindex`, 'utf8') === readFileSync(`/sys/class/net/${name}/ifindex`, 'utf8'); } catch { return false; }
  })) {
    left.push(`link ${port} was still on ${name}: deleted`);
    ip('link', 'del', port);
  }
  const r = ip('link', 'del', name);
  if (!r.ok) left.push(`could not delete link ${name}: ${r.err}`);
}

export interface RestoreOptions {
  bridge?: PrivateBridge;
  /** br-* (or other) bridges a private dockerd listed as its own */
  dockerBridges?: string[];
  /** podman ran on its default CNI network */
  podman?: boolean;
}

/** Undo what RestoreOptions names, against the snapshot taken first; returns what it did or could not do. */
export function restoreHostNet(before: HostNetSnapshot, o: RestoreOptions): string[] {
  const left: string[] = [];
  const ours = new Set<string>();
  if (o.bridge) ours.add(o.bridge.name);
  for (const b of o.dockerBridges ?? []) if (!before.links.has(b)) ours.add(b);
  if (o.podman && !before.links.has(PODMAN_BRIDGE)) ours.add(PODMAN_BRIDGE);
  const marks = [...ours];
  if (o.bridge) marks.push(o.bridge.subnet);
  if (o.podman && !before.links.has(PODMAN_BRIDGE)) marks.push(PODMAN_SUBNET);
  // Rules added since, naming one of ours (none is expected: dockerd runs without iptables, CNI removes its own).
  for (const r of rules()) {
    if (before.rules.has(r) || !marks.some((m) => r.includes(m))) continue;
    const [table, line] = r.split('|') as [string, string];
    const args = line.slice(3).match(/"[^"]*"|\S+/g)!.map((a) => a.replace(/^"(.*)"$/, '$1'));
    const d = spawnSync('iptables', ['-t', table, '-D', ...args], { encoding: 'utf8' });
    left.push(d.status === 0 ? `removed rule (${table}) ${line}` : `could not remove rule (${table}) ${line}: ${d.stderr.trim()}`);
  }
  for (const l of ours) deleteLink(l, left);
  if (o.podman) {
    if (!before.cniDir) rmSync(CNI_DIR, { recursive: true, force: true });
    else if (!before.cniPodman) rmSync(join(CNI_DIR, 'networks', 'podman'), { recursive: true, force: true });
  }
  for (const [k, v] of before.sysctls) {
    const now = readSysctl(k);
    if (now !== undefined && now !== v) {
      try { writeFileSync(join('/proc/sys', k), v); left.push(`sysctl ${k} was ${now}, set back to ${v}`); } catch (e) {
        left.push(`sysctl ${k}: ${now}, could not set back to ${v}: ${(e as Error).message}`);
      }
    }
  }
  return left;
}
