/**
 * docker's legacy links (`--link NAME[:ALIAS]`, HostConfig.Links) on the default bridge. The linking
 * container (the parent) names the linked one (the child) by ALIAS: its /etc/hosts has a line for the
 * child under the alias, the child's hostname and name, rewritten when the child starts again, and its
 * process gets docker's variables `ALIAS_PORT…`, `ALIAS_NAME`, `ALIAS_ENV_…` for the child's exposed
 * ports and environment. The link's name is `/PARENT/ALIAS` (inspect's HostConfig.Links shows
 * `/CHILD:/PARENT/ALIAS`; `rm --link /PARENT/ALIAS` removes it). On a user network a link is an alias
 * for this container only (network-attach.ts).
 */
import { Conflict, InvalidArgument, NoSuchContainer, NotFound } from '../errors.ts';
import type { ContainerRow } from '../store/containers.ts';
import type { LegacyLink } from '../types.ts';
import type { EngineCore } from './core.ts';
import { DEFAULT_NETWORK } from './networks.ts';
import { isLive } from './state.ts';

const ALIAS = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;

/** `NAME[:ALIAS]`, or `/NAME:/PARENT/ALIAS` as inspect shows a link (docker's ParseLink). */
export function parseLink(spec: string): { name: string; alias: string } {
  if (spec === '') throw new InvalidArgument('empty string specified for links');
  const parts = spec.split(':');
  if (parts.length > 2) throw new InvalidArgument(`bad format for links: ${spec}`);
  if (parts.length === 1) return { name: spec, alias: spec };
  if (parts[0]!.startsWith('/')) return { name: parts[0]!.slice(1), alias: parts[1]!.slice(parts[1]!.lastIndexOf('/') + 1) };
  return { name: parts[0]!, alias: parts[1]! };
}

/** `--link` specs as links to existing containers, checked as docker checks them at create. */
export function resolveLegacyLinks(specs: readonly string[], container?: (ref: string) => ContainerRow): LegacyLink[] {
  if (!container) throw new InvalidArgument('--link is not available here');
  const out: LegacyLink[] = [];
  for (const spec of specs) {
    const { name, alias } = parseLink(spec);
    if (!ALIAS.test(alias)) throw new InvalidArgument(`invalid link alias "${alias}": only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed`);
    const find = (ref: string) => {
      try {
        return container(ref);
      } catch (e) {
        // A link to no container is bad input (docker says so with a 400, not a 404 the CLI would read as a missing image).
        if (e instanceof NotFound) throw new InvalidArgument(`could not get container for ${ref}: ${e.message}`);
        throw e;
      }
    };
    let child = find(name);
    // A child sharing another container's network is reached at that container's address.
    for (let hops = 0; child.config.isolation?.network.startsWith('container:') && hops < 10; hops++) child = find(child.config.isolation.network.slice(10));
    if (child.config.isolation?.network === 'host') {
      throw new InvalidArgument("conflicting options: host type networking can't be used with links. This would result in undefined behavior");
    }
    if (out.some((l) => l.alias === alias)) throw new InvalidArgument(`conflicting options: the link alias ${alias} is given twice`);
    out.push({ id: child.id, name: child.name, alias });
  }
  return out;
}

/** The link's name as docker registers it. */
const linkName = (parent: ContainerRow, l: LegacyLink) => `/${parent.name}/${l.alias}`;

/** inspect's HostConfig.Links: `/CHILD:/PARENT/ALIAS`, null without any. */
export function linksJson(r: ContainerRow): string[] | null {
  const links = r.config.networking?.legacyLinks ?? [];
  return links.length > 0 ? links.map((l) => `/${l.name}:${linkName(r, l)}`) : null;
}

/**
 * The parent's children as they are now, each running and on the default bridge, or docker's refusal:
 * a parent does not start (nor exec) while a child it links to is down.
 */
function children(engine: EngineCore, parent: ContainerRow): { link: LegacyLink; child: ContainerRow; ip: string; ip6: string }[] {
  return (parent.config.networking?.legacyLinks ?? []).map((link) => {
    const child = engine.lookupSynced(link.id);
    if (!child || !isLive(child.state)) throw new Conflict(`Cannot link to a non running container: /${child?.name ?? link.name} AS ${linkName(parent, link)}`);
    const on = child.net.networks?.[DEFAULT_NETWORK];
    if (!on) throw new Conflict(`Cannot link to /${child.name}, as it does not belong to the default network`);
    return { link, child, ip: on.ip, ip6: on.ipv6 ?? '' };
  });
}

/** `80/tcp` as port and protocol. */
function port(p: string): { n: number; proto: string } {
  const [n, proto = 'tcp'] = p.split('/');
  return { n: Number(n), proto: proto.toLowerCase() };
}

/** docker's variables for one link: the default port, each port (ranges of consecutive ports too), the name, the child's environment. */
function envOf(link: LegacyLink, parent: ContainerRow, child: ContainerRow, ip: string): string[] {
  const A = link.alias.toUpperCase().replace(/-/g, '_');
  // Lowest port first; tcp before another protocol on the same number.
  const ports = (child.config.exposedPorts ?? []).map(port).sort((a, b) => a.n - b.n || (a.proto === 'tcp' ? -1 : b.proto === 'tcp' ? 1 : 0));
  const env: string[] = [];
  if (ports[0]) env.push(`${A}_PORT=${ports[0].proto}://${ip}:${ports[0].n}`);
  // docker's run detection: from i on, numbers that go up by at most one each step (a repeated number counts).
  const runEnd = (i: number): number => {
    let v = ports[i]!.n;
    for (let k = i + 1; k < ports.length; k++, v++) if (ports[k]!.n > v + 1) return k - 1;
    return ports.length - 1;
  };
  for (let i = 0; i < ports.length; ) {
    const j = runEnd(i);
    if (j > i + 1) {
      const [p, q] = [ports[i]!, ports[j]!];
      const P = `${A}_PORT_${p.n}_${p.proto.toUpperCase()}`;
      env.push(`${P}_START=${p.proto}://${ip}:${p.n}`, `${P}_ADDR=${ip}`, `${P}_PROTO=${p.proto}`, `${P}_PORT_START=${p.n}`);
      env.push(`${A}_PORT_${p.n}_${q.proto.toUpperCase()}_END=${q.proto}://${ip}:${q.n}`, `${A}_PORT_${p.n}_${q.proto.toUpperCase()}_PORT_END=${q.n}`);
      i = j + 1;
    } else i++;
  }
  for (const p of ports) {
    const P = `${A}_PORT_${p.n}_${p.proto.toUpperCase()}`;
    env.push(`${P}=${p.proto}://${ip}:${p.n}`, `${P}_ADDR=${ip}`, `${P}_PORT=${p.n}`, `${P}_PROTO=${p.proto}`);
  }
  env.push(`${A}_NAME=${linkName(parent, link)}`);
  for (const e of child.config.env) {
    const i = e.indexOf('=');
    if (i < 0) continue;
    const k = e.slice(0, i);
    if (k === 'HOME' || k === 'PATH') continue; // the image's, of no use to the parent
    env.push(`${A}_ENV_${k}=${e.slice(i + 1)}`);
  }
  return env;
}

/**
 * The variables a parent's processes get for its links (under its own Config.Env, which wins). Throws
 * Conflict when a child is not running. Empty, without a look at any other row, when it has no links.
 */
export function linkEnv(engine: EngineCore, parent: ContainerRow): string[] {
  if (!parent.config.networking?.legacyLinks?.length) return [];
  return children(engine, parent).flatMap(({ link, child, ip }) => envOf(link, parent, child, ip));
}

/** The parent's /etc/hosts lines for its running children: address, then alias, hostname and (if other) name. */
export function linkHosts(engine: EngineCore, parent: ContainerRow): { ip: string; names: string[] }[] {
  const out: { ip: string; names: string[] }[] = [];
  for (const link of parent.config.networking?.legacyLinks ?? []) {
    const child = engine.lookupSynced(link.id);
    const on = child && isLive(child.state) ? child.net.networks?.[DEFAULT_NETWORK] : undefined;
    if (!child || !on) continue;
    const names = [...new Set([link.alias, child.config.hostname || child.id.slice(0, 12), child.name])];
    if (on.ip) out.push({ ip: on.ip, names });
    if (on.ipv6) out.push({ ip: on.ipv6, names });
  }
  return out;
}

/** Running containers that link to `child` (their hosts files name it). */
export function linkParents(engine: EngineCore, child: ContainerRow): ContainerRow[] {
  return engine.containers.list().filter((c) => c.id !== child.id && isLive(c.state) && c.config.networking?.legacyLinks?.some((l) => l.id === child.id));
}

/**
 * `rm --link /PARENT/ALIAS` (`DELETE /containers/{name}?link=true`): the link goes, both containers stay;
 * a running parent's hosts file loses the line (its environment keeps the variables, as docker's does).
 */
export async function removeLink(engine: EngineCore, name: string, rewrite: (parent: ContainerRow) => void): Promise<void> {
  const full = name.startsWith('/') ? name : `/${name}`;
  const cut = full.lastIndexOf('/');
  if (cut === 0) {
    engine.find(full.slice(1)); // no such container: that is the answer
    throw new Conflict('Conflict, cannot remove the default link name of the container');
  }
  const [parentName, alias] = [full.slice(1, cut), full.slice(cut + 1)];
  let parent: ContainerRow;
  try {
    parent = engine.find(parentName);
  } catch {
    throw new NoSuchContainer(full);
  }
  await engine.withLock(parent.id, async (row) => {
    const n = row.config.networking;
    if (!n?.legacyLinks?.some((l) => l.alias === alias)) throw new NoSuchContainer(full);
    const legacyLinks = n.legacyLinks.filter((l) => l.alias !== alias);
    const { legacyLinks: _, ...rest } = n;
    engine.containers.updateNetworking(row.id, legacyLinks.length > 0 ? { ...rest, legacyLinks } : rest);
    if (isLive(row.state)) rewrite(engine.containers.get(row.id)!);
  });
}
