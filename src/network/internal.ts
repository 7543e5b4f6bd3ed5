/**
 * An internal network has no way out: besides leaving out the default route and the masquerade (cni.ts),
 * the host forwards nothing into or out of its bridge. A container able to add a route of its own
 * (NET_ADMIN) would otherwise reach, through the gateway, every subnet the host routes to: other bridges'
 * containers, the host's LAN. Traffic between the containers on the bridge and to the host itself (the
 * gateway address) is not forwarded and stays allowed, as on docker's internal networks.
 *
 * The rules live in CNI-ADMIN, the chain the firewall plugin jumps to from CNI-FORWARD before its own
 * per-container ACCEPT rules and leaves to the administrator: for each family, DROP what enters from the
 * bridge to elsewhere and what leaves to the bridge from elsewhere. Each rule carries the comment
 * `berth internal <bridge>`, by which the network's removal (and a root's reset) finds it.
 */
import { RuntimeFailure } from '../errors.ts';
import { lastLine, run } from '../sys/run.ts';

const FAMILIES = ['iptables', 'ip6tables'] as const;
const CHAIN = 'CNI-ADMIN';

const comment = (bridge: string) => `berth internal ${bridge}`;

/** The rules for `bridge`, as iptables-save prints them (so they can be found in its output). */
export function internalRules(bridge: string): string[] {
  const c = `-m comment --comment "${comment(bridge)}"`;
  return [`-A ${CHAIN} -i ${bridge} ! -o ${bridge} ${c} -j DROP`, `-A ${CHAIN} ! -i ${bridge} -o ${bridge} ${c} -j DROP`];
}

async function saved(tool: string): Promise<string[] | null> {
  const r = await run(`${tool}-save`, ['-t', 'filter']).catch(() => null);
  return r?.code === 0 ? r.stdout.split('\n') : null;
}

/**
 * Make sure the rules for `bridge` are in place (after the firewall plugin's first ADD, which makes the
 * chain; made here too when it is missing). Idempotent; one iptables-save per family when they are.
 */
export async function ensureInternalRules(bridge: string): Promise<void> {
  for (const tool of FAMILIES) {
    const lines = await saved(tool);
    if (lines === null) {
      if (tool === 'ip6tables') continue; // a host without IPv6 firewalling forwards no IPv6 either way
      throw new RuntimeFailure(`${tool}-save failed: cannot isolate internal bridge ${bridge}`);
    }
    const missing = internalRules(bridge).filter((r) => !lines.includes(r));
    if (missing.length === 0) continue;
    const head = lines.some((l) => l.startsWith(`:${CHAIN} `)) ? [] : [`:${CHAIN} - [0:0]`];
    const r = await run(`${tool}-restore`, ['--noflush'], { input: `*filter\n${[...head, ...missing].join('\n')}\nCOMMIT\n` });
    if (r.code !== 0) throw new RuntimeFailure(`${tool}-restore: isolating internal bridge ${bridge}: ${lastLine(r.stderr) || `exit status ${r.code}`}`);
  }
}

/** The statements that delete the rules of `bridge` from a saved filter table. */
export function internalRuleDeletions(lines: string[], bridge: string): string[] {
  return lines.filter((l) => l.startsWith(`-A ${CHAIN} `) && l.includes(`--comment "${comment(bridge)}"`)).map((l) => `-D ${l.slice(3)}`);
}

/** Remove the rules of `bridge` (its network is gone). Idempotent. */
export async function removeInternalRules(bridge: string): Promise<void> {
  for (const tool of FAMILIES) {
    const lines = await saved(tool);
    const st = lines ? internalRuleDeletions(lines, bridge) : [];
    if (st.length === 0) continue;
    await run(`${tool}-restore`, ['--noflush'], { input: `*filter\n${st.join('\n')}\nCOMMIT\n` });
  }
}
