/**
 * A bridge network's own firewall and NAT rules, one set per network rather than per container (as docker's
 * bridge driver has them): what the CNI bridge plugin's masquerade and the firewall plugin would otherwise
 * add and remove with iptables on every container's start and stop, several tool runs each.
 *
 * - filter, chain BERTH-FORWARD (jumped to first from FORWARD): forwarded traffic out of the bridge, and
 *   back into it for connections it made, is accepted. An internal network instead has no way out: what
 *   enters from its bridge to elsewhere and what leaves to it from elsewhere is dropped (inserted ahead of
 *   every accept, so another network's accept cannot let it in). A container able to add a route of its
 *   own (NET_ADMIN) would otherwise reach, through the gateway, every subnet the host routes to. Traffic
 *   between the containers on a bridge and to the host itself is not forwarded and stays allowed.
 * - nat, chain BERTH-POSTROUTING (jumped to from POSTROUTING): each subnet is masqueraded on its way out of
 *   any other interface, unless the network is internal or its masquerade is turned off.
 *
 * Each rule carries the comment `berth bridge <bridge>` (the drops `berth internal <bridge>`), by which the
 * network's removal, a root's reset and a stale bridge's sweep find it. The chains and jumps are shared and
 * stay. Making sure of the rules costs a few iptables runs, so it is done once per network and boot: a
 * stamp file records it (`ensureBridgeRules`). An administrator's flush of the tables is not noticed until
 * the next boot, as with docker's rules until its daemon restarts.
 */
import { nodeCrypto } from '../sys/builtins.ts';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { RuntimeFailure } from '../errors.ts';
import { tryLockFile, unlockFile } from '../sys/flock.ts';
import { lastLine, run } from '../sys/run.ts';
import { formatCidr, parseCidr } from './ipaddr.ts';
import { onNetHost } from './net-host.ts';

const FAMILIES = ['iptables', 'ip6tables'] as const;
type Tool = (typeof FAMILIES)[number];
const FILTER_CHAIN = 'BERTH-FORWARD';
const NAT_CHAIN = 'BERTH-POSTROUTING';
const JUMPS = { filter: `-A FORWARD -j ${FILTER_CHAIN}`, nat: `-A POSTROUTING -j ${NAT_CHAIN}` } as const;

/** What the rules depend on (a NetworkDef has it). */
export interface BridgeNet {
  bridge: string;
  internal?: boolean;
  ipMasq?: boolean;
  subnets: { subnet: string }[];
}

const tagged = (kind: 'bridge' | 'internal', bridge: string) => `-m comment --comment "berth ${kind} ${bridge}"`;

/** The drops of an internal network, as iptables-save prints them. */
export function internalRules(bridge: string): string[] {
  const c = tagged('internal', bridge);
  return [`-A ${FILTER_CHAIN} -i ${bridge} ! -o ${bridge} ${c} -j DROP`, `-A ${FILTER_CHAIN} ! -i ${bridge} -o ${bridge} ${c} -j DROP`];
}

/** The rules of `net` for one family and table, as iptables-save prints them. */
export function bridgeRules(net: BridgeNet, tool: Tool, table: 'filter' | 'nat'): string[] {
  const b = net.bridge;
  const c = tagged('bridge', b);
  if (table === 'filter') {
    if (net.internal) return internalRules(b);
    return [`-A ${FILTER_CHAIN} -o ${b} -m conntrack --ctstate RELATED,ESTABLISHED ${c} -j ACCEPT`, `-A ${FILTER_CHAIN} -i ${b} ${c} -j ACCEPT`];
  }
  if (net.internal || net.ipMasq === false) return [];
  const version = tool === 'iptables' ? 4 : 6;
  // As iptables-save prints a subnet: its network address (a subnet may be kept with host bits set).
  return net.subnets
    .flatMap((s) => parseCidr(s.subnet) ?? [])
    .filter((cidr) => cidr.version === version)
    .map((cidr) => `-A ${NAT_CHAIN} -s ${formatCidr(cidr)} ! -o ${b} ${c} -j MASQUERADE`);
}

async function saved(tool: Tool, table: 'filter' | 'nat'): Promise<string[] | null> {
  const r = await run(...onNetHost(`${tool}-save`, ['-t', table])).catch(() => null);
  return r?.code === 0 ? r.stdout.split('\n') : null;
}

/** The statements that add what `want` lacks in a saved table, the chain and its jump first. */
export function missingStatements(lines: string[], table: 'filter' | 'nat', want: string[]): string[] {
  const chain = table === 'filter' ? FILTER_CHAIN : NAT_CHAIN;
  const out: string[] = [];
  if (!lines.some((l) => l.startsWith(`:${chain} `))) out.push(`:${chain} - [0:0]`);
  if (!lines.includes(JUMPS[table])) out.push(table === 'filter' ? `-I FORWARD 1 -j ${FILTER_CHAIN}` : JUMPS[table]);
  for (const r of want) {
    if (lines.includes(r)) continue;
    // Drops go ahead of every accept; the rest after what is there.
    out.push(r.endsWith('-j DROP') ? `-I ${r.slice(3).replace(/^(\S+)/, '$1 1')}` : r);
  }
  return out;
}

/** Put the rules of `net` in place where any is missing. Idempotent. */
async function applyBridgeRules(net: BridgeNet): Promise<void> {
  for (const tool of FAMILIES) {
    for (const table of ['filter', 'nat'] as const) {
      const want = bridgeRules(net, tool, table);
      if (want.length === 0) continue;
      const lines = await saved(tool, table);
      if (lines === null) {
        if (tool === 'ip6tables') continue; // a host without IPv6 firewalling forwards no IPv6 either way
        throw new RuntimeFailure(`${tool}-save failed: cannot set the rules of bridge ${net.bridge}`);
      }
      const st = missingStatements(lines, table, want);
      if (st.length === 0) continue;
      const r = await run(...onNetHost(`${tool}-restore`, ['--noflush']), { input: `*${table}\n${st.join('\n')}\nCOMMIT\n` });
      if (r.code !== 0) throw new RuntimeFailure(`${tool}-restore: rules of bridge ${net.bridge}: ${lastLine(r.stderr) || `exit status ${r.code}`}`);
    }
  }
}

/** What the stamp holds: this boot and the rules it recorded. */
function stampOf(net: BridgeNet): string {
  const boot = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
  const rules = FAMILIES.flatMap((t) => [...bridgeRules(net, t, 'filter'), ...bridgeRules(net, t, 'nat')]).join('\n');
  return `${boot} ${nodeCrypto().createHash('sha256').update(rules).digest('hex').slice(0, 16)}\n`;
}

const stampPath = (dataDir: string, bridge: string) => join(dataDir, 'rules', bridge);

function stamped(path: string, stamp: string): boolean {
  try {
    return readFileSync(path, 'utf8') === stamp;
  } catch {
    return false;
  }
}

/**
 * Make sure the rules of `net` are in place: at once when this boot's stamp says so, else under the
 * stamp's lock (one process at a time, so no rule is added twice), then stamped.
 */
export async function ensureBridgeRules(net: BridgeNet, dataDir: string): Promise<void> {
  const path = stampPath(dataDir, net.bridge);
  const stamp = stampOf(net);
  if (stamped(path, stamp)) return;
  mkdirSync(join(dataDir, 'rules'), { recursive: true, mode: 0o700 });
  const lock = `${path}.lock`;
  let fd: number | null;
  while ((fd = await tryLockFile(lock)) === null) await new Promise((r) => setTimeout(r, 5));
  try {
    if (stamped(path, stamp)) return;
    await applyBridgeRules(net);
    writeFileSync(path, stamp);
  } finally {
    unlockFile(fd);
  }
}

/** The statements that delete the rules of `bridge` from a saved table (any chain: they are found by comment). */
export function bridgeRuleDeletions(lines: string[], bridge: string): string[] {
  const mine = [tagged('bridge', bridge), tagged('internal', bridge)].map((c) => c.slice('-m comment --comment '.length));
  return lines.filter((l) => l.startsWith('-A ') && mine.some((c) => l.includes(`--comment ${c}`))).map((l) => `-D ${l.slice(3)}`);
}

/** Remove the rules of `bridge` (its network is gone) and its stamp. Idempotent. */
export async function removeBridgeRules(bridge: string, dataDir?: string): Promise<void> {
  for (const tool of FAMILIES) {
    for (const table of ['filter', 'nat'] as const) {
      const lines = await saved(tool, table);
      const st = lines ? bridgeRuleDeletions(lines, bridge) : [];
      if (st.length === 0) continue;
      await run(...onNetHost(`${tool}-restore`, ['--noflush']), { input: `*${table}\n${st.join('\n')}\nCOMMIT\n` });
    }
  }
  if (dataDir) rmSync(stampPath(dataDir, bridge), { force: true });
}
