/**
 * What CNI plugins leave behind when a container vanished without a clean DEL (engine crash, host
 * reboot with a persistent dataDir, netns removed first): host-local leases and iptables rules. Used by
 * cniDel for one known container and by the engine's repair path for unknown ones.
 *
 * The rules carry the container id where the plugins put it: the bridge plugin's masquerade rules
 * (nat POSTROUTING → chain CNI-<hash>) and portmap's (nat CNI-HOSTPORT-DNAT → CNI-DN-<hash>) have the
 * comment `name: "<net>" id: "<cid>"`; the firewall plugin's filter CNI-FORWARD rules carry only the
 * address. The hash is sha512(network name + container id), so chains can also be named directly.
 */
import { nodeCrypto } from '../sys/builtins.ts';
import { readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { run } from '../sys/run.ts';
import { contains, parseCidr } from './ipaddr.ts';
import { onNetHost } from './net-host.ts';
import type { NetworkDef } from './network-def.ts';
import { RESERVED_OWNER } from './reserved.ts';

/** The iptables chain name the plugins derive from network name and container id (their pkg/utils). */
export function chainName(prefix: string, netName: string, containerId: string): string {
  return (prefix + nodeCrypto().createHash('sha512').update(netName + containerId).digest('hex')).slice(0, 28);
}

interface Lease {
  ip: string;
  containerId: string;
  ifName: string;
}

/**
 * host-local's leases of one network: address, container id, interface (one file per address,
 * "<cid>\r\n<ifname>", older: "<cid>"). Addresses the network reserves (reserved.ts) are not leases.
 */
export function leases(dataDir: string, netName: string): Lease[] {
  const dir = join(dataDir, 'ipam', netName);
  let files: string[];
  try {
    files = readdirSync(dir);
  } catch {
    return [];
  }
  return files.flatMap((f) => {
    if (f === 'lock' || f.startsWith('last_reserved_ip.')) return [];
    try {
      const [id, ifName] = readFileSync(join(dir, f), 'utf8').split(/\r?\n/);
      if (id === RESERVED_OWNER) return [];
      return [{ ip: f, containerId: (id ?? '').trim(), ifName: (ifName ?? '').trim() }];
    } catch {
      return []; // released meanwhile
    }
  });
}

/** A stand-in for the cached ADD result, built from the container's leases (what the firewall plugin needs). */
export function leaseResult(
  dataDir: string,
  net: NetworkDef,
  containerId: string,
  ifName: string,
  cniVersion: string,
): { cniVersion: string; interfaces: []; ips: { address: string; gateway: string }[] } | undefined {
  const ips = leases(dataDir, net.name).flatMap((l) => {
    if (l.containerId !== containerId || (l.ifName !== '' && l.ifName !== ifName)) return [];
    const s = net.subnets.find((s) => {
      const c = parseCidr(s.subnet);
      return c !== null && contains(c, l.ip);
    });
    return s ? [{ address: `${l.ip}/${s.subnet.split('/')[1]}`, gateway: s.gateway }] : [];
  });
  return ips.length > 0 ? { cniVersion, interfaces: [], ips } : undefined;
}

/**
 * Remove the lease files of `netName` whose container is not in `liveContainerIds`, with their cached
 * results and tuning backups; returns the released addresses. Unlinking a lease is atomic, so this is
 * safe beside running plugins — but a container whose ADD is in flight must count as live. A lease file
 * still empty is one host-local is writing (it creates the file, then writes the id): it is left alone
 * unless it has stayed empty for a minute (its writer died).
 */
export function releaseOrphanLeases(dataDir: string, netName: string, liveContainerIds: Set<string>): string[] {
  const released: string[] = [];
  for (const l of leases(dataDir, netName)) {
    if (liveContainerIds.has(l.containerId)) continue;
    if (l.containerId === '' && !abandoned(join(dataDir, 'ipam', netName, l.ip))) continue;
    rmSync(join(dataDir, 'ipam', netName, l.ip), { force: true });
    rmSync(join(dataDir, 'results', `${netName}-${l.containerId}-${l.ifName}.json`), { force: true });
    rmSync(join(dataDir, 'tuning', `${l.containerId}_${l.ifName}.json`), { force: true });
    released.push(l.ip);
  }
  return released.sort();
}

/** An empty lease file older than a minute: host-local died between making it and writing the id. */
function abandoned(file: string): boolean {
  const st = statSync(file, { throwIfNoEntry: false });
  return st !== undefined && st.size === 0 && Date.now() - st.mtimeMs > 60_000;
}

const FAMILIES = ['iptables', 'ip6tables'] as const;
/** The chains the plugins make per container: bridge's masquerade chain and portmap's DNAT chain. */
export const PER_CONTAINER_CHAIN = /^CNI-(DN-)?[0-9a-f]{20,}$/;

async function saved(tool: string, table: string): Promise<string[] | null> {
  // A host without ip6tables (or without the table) has nothing to sweep there.
  const r = await run(...onNetHost(`${tool}-save`, ['-t', table])).catch(() => null);
  return r?.code === 0 ? r.stdout.split('\n') : null;
}

/** Apply `-D`/`-F`/`-X` statements in one transaction; if that fails (a rule vanished meanwhile), one by one. */
async function restore(tool: string, table: string, statements: string[]): Promise<void> {
  if (statements.length === 0) return;
  const script = (s: string[]) => `*${table}\n${s.join('\n')}\nCOMMIT\n`;
  const r = await run(...onNetHost(`${tool}-restore`, ['--noflush']), { input: script(statements) });
  if (r.code === 0) return;
  for (const s of statements) await run(...onNetHost(`${tool}-restore`, ['--noflush']), { input: script([s]) });
}

/** The statements that remove `chains` from a saved table: the rules jumping to them, then the chains. */
export function unlinkChains(lines: string[], chains: Set<string>): string[] {
  const refs = lines.filter((l) => l.startsWith('-A ') && !chains.has(l.split(' ')[1]!) && chains.has(/ -j (\S+)$/.exec(l)?.[1] ?? ''));
  // Flush all before deleting any: a chain can only go once nothing jumps to it.
  return [...refs.map((l) => `-D ${l.slice(3)}`), ...[...chains].map((c) => `-F ${c}`), ...[...chains].map((c) => `-X ${c}`)];
}

function commentOf(rule: string): { name: string; id: string } | null {
  const m = /--comment "((?:[^"\\]|\\.)*)"/.exec(rule);
  const c = m ? m[1]!.replace(/\\(.)/g, '$1') : '';
  const f = /name: "([^"]*)" id: "([^"]*)"/.exec(c);
  return f ? { name: f[1]!, id: f[2]! } : null;
}

/**
 * Remove iptables state the plugins made for containers of `nets` that are not in `liveContainerIds`:
 * their masquerade and port-forwarding chains with the rules jumping to them, and the firewall plugin's
 * CNI-FORWARD rules for addresses in those networks' subnets that no live container leases (run after
 * releaseOrphanLeases, or with leases still held by dead containers those rules stay). Shared chains
 * (CNI-HOSTPORT-*, CNI-FORWARD, CNI-ADMIN) are kept. Returns the statements applied. Containers whose ADD
 * is in flight must count as live.
 */
export async function sweepOrphanRules(
  nets: NetworkDef[],
  dataDir: string,
  liveContainerIds: Set<string>,
  /**
   * Only these containers and addresses: another engine root may use the same network names and the
   * same iptables, and its containers are not in this root's live set.
   */
  only?: { ids: Set<string>; ips: Set<string> },
): Promise<string[]> {
  const names = new Set(nets.map((n) => n.name));
  const subnets = nets.flatMap((n) => n.subnets.flatMap((s) => parseCidr(s.subnet) ?? []));
  const liveIps = new Set(nets.flatMap((n) => leases(dataDir, n.name).filter((l) => liveContainerIds.has(l.containerId)).map((l) => l.ip)));
  const applied: string[] = [];
  for (const tool of FAMILIES) {
    const nat = await saved(tool, 'nat');
    if (nat) {
      const dead = new Set<string>();
      for (const l of nat) {
        const c = l.startsWith('-A ') ? commentOf(l) : null;
        if (!c || !names.has(c.name) || liveContainerIds.has(c.id) || (only && !only.ids.has(c.id))) continue;
        const chain = l.split(' ')[1]!;
        const target = / -j (\S+)$/.exec(l)?.[1] ?? '';
        if (PER_CONTAINER_CHAIN.test(chain)) dead.add(chain);
        if (PER_CONTAINER_CHAIN.test(target)) dead.add(target);
      }
      const st = unlinkChains(nat, dead);
      await restore(tool, 'nat', st);
      applied.push(...st.map((s) => `${tool} nat ${s}`));
    }
    const filter = await saved(tool, 'filter');
    if (filter) {
      const st = filter
        .filter((l) => {
          const ip = /^-A CNI-FORWARD .*-[sd] ([0-9a-fA-F.:]+)\/(32|128) /.exec(l)?.[1];
          return ip !== undefined && !liveIps.has(ip) && subnets.some((s) => contains(s, ip)) && (!only || only.ips.has(ip));
        })
        .map((l) => `-D ${l.slice(3)}`);
      await restore(tool, 'filter', st);
      applied.push(...st.map((s) => `${tool} filter ${s}`));
    }
  }
  return applied;
}

/**
 * Processes still at work on these containers' networks: CNI plugins run for them (found by the
 * CNI_CONTAINERID in their environment; with their own children, such as host-local) and `ip` run on
 * their namespaces. A CLI killed during a start leaves its running plugin going on without it: what that
 * plugin adds after a sweep (a lease, a masquerade rule) would stay for good.
 */
export function networkWorkers(ids: ReadonlySet<string>, pluginDir: string, netnsNames: ReadonlySet<string>): number[] {
  const out: number[] = [];
  for (const p of readdirSync('/proc')) {
    if (!/^\d+$/.test(p) || Number(p) === process.pid) continue;
    try {
      const argv = readFileSync(`/proc/${p}/cmdline`, 'latin1').split('\0');
      if (argv[0]!.startsWith(`${pluginDir}/`)) {
        const env = readFileSync(`/proc/${p}/environ`, 'latin1').split('\0');
        const id = env.find((e) => e.startsWith('CNI_CONTAINERID='))?.slice(16);
        if (id !== undefined && ids.has(id)) out.push(Number(p));
      } else if (basename(argv[0]!) === 'ip' && argv.some((a) => netnsNames.has(a))) {
        out.push(Number(p));
      }
    } catch {
      // exited meanwhile, or a kernel thread
    }
  }
  return out;
}

/** Wait (at most `timeoutMs`) until networkWorkers finds none; returns those still at work then. */
export async function settleNetworkWorkers(ids: ReadonlySet<string>, pluginDir: string, netnsNames: ReadonlySet<string>, timeoutMs = 30_000): Promise<number[]> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const busy = networkWorkers(ids, pluginDir, netnsNames);
    if (busy.length === 0 || Date.now() > end) return busy;
    await new Promise((r) => setTimeout(r, 25));
  }
}
