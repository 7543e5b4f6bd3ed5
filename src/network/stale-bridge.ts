/**
 * Removing a bridge with what was made for it and for the containers on it: their veths and named
 * namespaces, the network's own rules (bridge-rules.ts), and the plugins' iptables rules for addresses in
 * the bridge's subnets (portmap's DNAT chains; the per-container masquerade chains and CNI-FORWARD rules
 * that the bridge and firewall plugins make when they are asked to).
 *
 * What it is for: an engine root deleted by hand leaves its default network's bridge on the host, with the
 * old subnet's gateway address. The bridge plugin refuses a bridge whose address differs from the network's
 * gateway, so a root made again at that path failed every start. The bridge's name is derived from the
 * root's path, so it is that root's to replace (`system reset` removes a root's bridges the same way).
 *
 * A subnet that another link of the host also carries is not swept: the rules of that link's containers
 * look the same. Synchronous, unlike the rest of src/network: the engine runs it inside the store
 * transaction that creates the network which will own the bridge's name, so that no other process of the
 * root starts a container on that network meanwhile.
 */
import { spawnSync } from 'node:child_process';
import { RuntimeFailure } from '../errors.ts';
import { contains, formatCidr, overlaps, parseCidr, type Cidr } from './ipaddr.ts';
import { bridgeRuleDeletions } from './bridge-rules.ts';
import { PER_CONTAINER_CHAIN, unlinkChains } from './leftovers.ts';
import { onNetHost } from './net-host.ts';

interface Sh {
  code: number;
  stdout: string;
  stderr: string;
}

function sh(cmd: string, args: readonly string[], input?: string): Sh {
  const [c, a] = onNetHost(cmd, args);
  const r = spawnSync(c, a, { encoding: 'utf8', input, timeout: 30_000 });
  return { code: r.status ?? 127, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
}

/** What `ip -j addr show` says of a link (the fields used here). */
interface Link {
  ifname: string;
  master?: string;
  link_netnsid?: number;
  addr_info?: { family: string; local: string; prefixlen: number; scope: string }[];
}

function links(): Link[] {
  const r = sh('ip', ['-j', 'addr', 'show']);
  return r.code === 0 ? (JSON.parse(r.stdout || '[]') as Link[]) : [];
}

/** The subnets of a link's global addresses. */
function subnetsOf(l: Link): Cidr[] {
  return (l.addr_info ?? []).filter((a) => a.scope === 'global').flatMap((a) => parseCidr(`${a.local}/${a.prefixlen}`) ?? []);
}

/** What removeBridge removed. */
export interface RemovedBridge {
  /** The subnets the bridge had addresses in. */
  subnets: string[];
  /** The named namespaces whose interfaces were on the bridge. */
  namespaces: string[];
  /** iptables statements applied. */
  rules: number;
}

/**
 * Remove the bridge `name`, the veths on it, the named namespaces (those starting with `netnsPrefix`) at
 * their other end, the plugins' rules for addresses in its subnets and the network's own rules for the
 * bridge (bridge-rules.ts). Undefined when there is no such link.
 */
export function removeBridge(name: string, netnsPrefix: string): RemovedBridge | undefined {
  const all = links();
  const bridge = all.find((l) => l.ifname === name);
  if (!bridge) return undefined;
  const subnets = subnetsOf(bridge);
  const ports = all.filter((l) => l.master === name);
  const peers = new Set(ports.flatMap((l) => (l.link_netnsid === undefined ? [] : [l.link_netnsid])));
  const listed = sh('ip', ['-j', 'netns', 'list']);
  const named = listed.code === 0 ? (JSON.parse(listed.stdout || '[]') as { name: string; id?: number }[]) : [];
  const namespaces = named.filter((n) => n.id !== undefined && peers.has(n.id) && n.name.startsWith(netnsPrefix)).map((n) => n.name);
  // A process still in a namespace keeps it and its veth alive: the veths go explicitly.
  for (const p of ports) sh('ip', ['link', 'del', p.ifname]);
  for (const ns of namespaces) sh('ip', ['netns', 'del', ns]);
  const del = sh('ip', ['link', 'del', name]);
  if (del.code !== 0 && links().some((l) => l.ifname === name)) throw new RuntimeFailure(`ip link del ${name}: ${del.stderr.trim()}`);
  const elsewhere = all.filter((l) => l.ifname !== name).flatMap(subnetsOf);
  const swept = subnets.filter((s) => !elsewhere.some((o) => overlaps(o, s)));
  const rules = (swept.length > 0 ? sweepSubnetRules(swept) : 0) + sweepBridgeRules(name);
  return { subnets: subnets.map(formatCidr), namespaces, rules };
}

/** Apply the statements to a table: in one transaction, or one by one if that fails (a rule went meanwhile). */
function restore(tool: string, table: string, statements: string[]): void {
  if (statements.length === 0) return;
  const script = (s: string[]) => `*${table}\n${s.join('\n')}\nCOMMIT\n`;
  if (sh(`${tool}-restore`, ['--noflush'], script(statements)).code === 0) return;
  for (const s of statements) sh(`${tool}-restore`, ['--noflush'], script([s]));
}

function sweepBridgeRules(bridge: string): number {
  let applied = 0;
  for (const tool of ['iptables', 'ip6tables']) {
    for (const table of ['filter', 'nat']) {
      const saved = sh(`${tool}-save`, ['-t', table]);
      if (saved.code !== 0) continue;
      const st = bridgeRuleDeletions(saved.stdout.split('\n'), bridge);
      restore(tool, table, st);
      applied += st.length;
    }
  }
  return applied;
}

function sweepSubnetRules(subnets: Cidr[]): number {
  let applied = 0;
  for (const [tool, version] of [['iptables', 4], ['ip6tables', 6]] as const) {
    const mine = subnets.filter((s) => s.version === version);
    if (mine.length === 0) continue;
    for (const table of ['nat', 'filter'] as const) {
      const saved = sh(`${tool}-save`, ['-t', table]);
      if (saved.code !== 0) continue; // a host without the tool or the table has nothing there
      const st = subnetRuleStatements(saved.stdout.split('\n'), table, mine);
      restore(tool, table, st);
      applied += st.length;
    }
  }
  return applied;
}

const SOURCE = / -s ([0-9a-fA-F.:]+)\/(?:32|128) /;
const DNAT_TO = /--to-destination (?:\[([0-9a-fA-F:]+)\]|([0-9.]+))/;
const FORWARD = /^-A CNI-FORWARD .*-[sd] ([0-9a-fA-F.:]+)\/(?:32|128) /;

/**
 * The statements removing, from a saved table (`iptables-save -t TABLE` lines), what the plugins made for
 * addresses in `subnets`. nat: per-container chains a rule for such a source jumps to (the bridge plugin's
 * masquerade chain) or that forward to such an address (portmap's DNAT chain), with the rules jumping to
 * them. filter: the firewall plugin's CNI-FORWARD rules for such an address. Shared chains stay.
 */
export function subnetRuleStatements(lines: string[], table: 'nat' | 'filter', subnets: Cidr[]): string[] {
  const inside = (ip: string | undefined) => ip !== undefined && subnets.some((s) => contains(s, ip));
  if (table === 'filter') return lines.filter((l) => inside(FORWARD.exec(l)?.[1])).map((l) => `-D ${l.slice(3)}`);
  const dead = new Set<string>();
  for (const l of lines) {
    if (!l.startsWith('-A ')) continue;
    const chain = l.split(' ')[1]!;
    const target = / -j (\S+)/.exec(l)?.[1] ?? '';
    if (PER_CONTAINER_CHAIN.test(target) && inside(SOURCE.exec(l)?.[1])) dead.add(target);
    const to = DNAT_TO.exec(l);
    if (PER_CONTAINER_CHAIN.test(chain) && to && inside(to[1] ?? to[2])) dead.add(chain);
  }
  return unlinkChains(lines, dead);
}
