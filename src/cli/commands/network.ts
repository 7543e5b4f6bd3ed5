/** `berth network create|ls|inspect|rm|prune|connect|disconnect`, as docker's. */
import type { FlagDef } from '../flags.ts';
import { eachRef, engineFor, parse, report, withEngine, type Command } from '../common.ts';
import { formatRows } from '../format.ts';
import { printObjects } from './inspect.ts';
import { createUserNetwork, pruneNetworks, removeNetwork } from '../../engine/networks.ts';
import { poolsFromFlags } from '../../engine/network-ipam.ts';
import { allNetworks, inspectNetwork } from '../../engine/network-inspect.ts';
import { connectNetwork, disconnectNetwork } from '../../engine/network-attach.ts';
import { InvalidArgument, NotFound } from '../../errors.ts';
import type { Globals } from '../globals.ts';

function labels(list: string[]): Record<string, string> {
  return Object.fromEntries(list.map((l) => (l.includes('=') ? [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)] : [l, ''])));
}

const createFlags = [
  { name: 'driver', short: 'd', type: 'string', default: 'bridge', description: 'Driver to manage the Network' },
  { name: 'subnet', type: 'list', description: 'Subnet in CIDR format that represents a network segment' },
  { name: 'gateway', type: 'list', description: 'IPv4 or IPv6 Gateway for the master subnet' },
  { name: 'ip-range', type: 'list', description: 'Allocate container ip from a sub-range' },
  { name: 'aux-address', type: 'list', description: 'Auxiliary IPv4 or IPv6 addresses used by Network driver (NAME=IP)' },
  { name: 'ipam-driver', type: 'string', default: 'default', description: 'IP Address Management Driver' },
  { name: 'ipam-opt', type: 'list', description: 'Set IPAM driver specific options' },
  { name: 'ipv4', type: 'bool', default: true, description: 'Enable or disable IPv4 address assignment' },
  { name: 'ipv6', type: 'bool', description: 'Enable IPv6 networking' },
  { name: 'internal', type: 'bool', description: 'Restrict external access to the network' },
  { name: 'attachable', type: 'bool', description: 'Enable manual container attachment' },
  { name: 'ingress', type: 'bool', description: 'Create swarm routing-mesh network' },
  { name: 'scope', type: 'string', description: "Control the network's scope" },
  { name: 'config-only', type: 'bool', description: 'Create a configuration only network' },
  { name: 'config-from', type: 'string', description: 'The network from which to copy the configuration' },
  { name: 'label', type: 'list', description: 'Set metadata on a network' },
  { name: 'opt', short: 'o', type: 'list', description: 'Set driver specific options (com.docker.network.bridge.name, com.docker.network.driver.mtu, com.docker.network.bridge.enable_icc, com.docker.network.bridge.enable_ip_masquerade)' },
  { name: 'route', type: 'list', description: 'A static route for the containers: DESTINATION-CIDR,GATEWAY (podman)' },
] as const satisfies readonly FlagDef[];

const slice = (l: string[]) => l.flatMap((v) => v.split(',')).filter(Boolean);

/** `-o k=v` and `--ipam-opt k=v` as a map (a bare key has an empty value, as docker's MapOpts). */
function keyValues(list: string[]): Record<string, string> {
  return Object.fromEntries(list.map((o) => (o.includes('=') ? [o.slice(0, o.indexOf('=')), o.slice(o.indexOf('=') + 1)] : [o, ''])));
}

async function create(argv: string[], g: Globals): Promise<number> {
  const cmd: Command<typeof createFlags> = { usage: '[OPTIONS] NETWORK', description: 'Create a network', flags: createFlags, args: [1, 1] };
  const p = parse(cmd, argv, 'network create');
  if (typeof p === 'number') return p;
  return withEngine(g, 'network create', async (engine) => {
    const f = p.flags;
    const net = await createUserNetwork(engine, {
      name: p.args[0]!,
      driver: f.driver,
      // docker's string-slice flags: a value may hold several, comma-separated.
      pools: poolsFromFlags({ subnet: slice(f.subnet), gateway: slice(f.gateway), ipRange: slice(f['ip-range']), aux: f['aux-address'] }),
      ipamDriver: f['ipam-driver'],
      ipamOptions: keyValues(f['ipam-opt']),
      ipv4: p.changed.has('ipv4') ? f.ipv4 : undefined,
      ...(p.changed.has('ipv6') ? { ipv6: f.ipv6 } : {}),
      internal: f.internal,
      attachable: f.attachable,
      ingress: f.ingress,
      scope: f.scope || undefined,
      configOnly: f['config-only'],
      configFrom: f['config-from'] || undefined,
      labels: labels(f.label),
      options: keyValues(f.opt),
      routes: f.route,
    });
    process.stdout.write(`${net.id}\n`);
    return 0;
  });
}

const lsFlags = [
  { name: 'quiet', short: 'q', type: 'bool', description: 'Only display network IDs' },
  { name: 'no-trunc', type: 'bool', description: 'Do not truncate the output' },
  { name: 'format', type: 'string', description: 'Format output using a custom template' },
  { name: 'filter', short: 'f', type: 'list', description: 'Provide filter values (e.g. "driver=bridge")' },
] as const satisfies readonly FlagDef[];

async function ls(argv: string[], g: Globals): Promise<number> {
  const cmd: Command<typeof lsFlags> = { usage: '[OPTIONS]', description: 'List networks', flags: lsFlags, args: [0, 0] };
  const p = parse(cmd, argv, 'network ls');
  if (typeof p === 'number') return p;
  return withEngine(g, 'network ls', async (engine) => {
    const filters = p.flags.filter.map((f) => [f.slice(0, f.indexOf('=')), f.slice(f.indexOf('=') + 1)] as const);
    const items = allNetworks(engine)
      .filter((n) =>
        filters.every(([k, v]) =>
          k === 'name' ? n.name.includes(v) : k === 'driver' ? n.driver === v : k === 'id' ? n.id.startsWith(v) : k === 'label' ? v.split('=')[0]! in (n.row?.labels ?? {}) : (() => { throw new InvalidArgument(`invalid filter '${k}'`); })(),
        ),
      )
      .map((n) => ({ ID: p.flags['no-trunc'] ? n.id : n.id.slice(0, 12), Name: n.name, Driver: n.driver, Scope: 'local' }));
    if (p.flags.quiet) {
      for (const i of items) process.stdout.write(`${i.ID}\n`);
      return 0;
    }
    process.stdout.write(formatRows(p.flags.format || undefined, 'table {{.ID}}\t{{.Name}}\t{{.Driver}}\t{{.Scope}}', { ID: 'NETWORK ID', Name: 'NAME', Driver: 'DRIVER', Scope: 'SCOPE' }, items));
    return 0;
  });
}

/** podman's `routes` of a network made with `--route`, in docker's key style; absent without any. */
const inspectFlags = [{ name: 'format', short: 'f', type: 'string', description: 'Format output using a custom template' }] as const satisfies readonly FlagDef[];

async function inspect(argv: string[], g: Globals): Promise<number> {
  const cmd: Command<typeof inspectFlags> = { usage: '[OPTIONS] NETWORK [NETWORK...]', description: 'Display detailed information on one or more networks', flags: inspectFlags, args: [1, Infinity] };
  const p = parse(cmd, argv, 'network inspect');
  if (typeof p === 'number') return p;
  const engine = engineFor(g);
  const out: unknown[] = [];
  let code = 0;
  try {
    for (const ref of p.args) {
      const n = inspectNetwork(engine, ref);
      if (n) out.push(n);
      else code = report(new NotFound(`network ${ref} not found`), 'network inspect');
    }
    if (out.length > 0 || code === 0) printObjects(out, p.flags.format);
    return code;
  } finally {
    engine.close();
  }
}

const rmFlags = [{ name: 'force', short: 'f', type: 'bool', description: 'Do not error if the network does not exist' }] as const satisfies readonly FlagDef[];

async function rm(argv: string[], g: Globals): Promise<number> {
  const cmd: Command<typeof rmFlags> = { usage: '[OPTIONS] NETWORK [NETWORK...]', description: 'Remove one or more networks', flags: rmFlags, args: [1, Infinity] };
  const p = parse(cmd, argv, 'network rm');
  if (typeof p === 'number') return p;
  return withEngine(g, 'network rm', async (engine) => {
    await engine.repair();
    return eachRef(p.args, 'network rm', async (ref) => {
      try {
        await removeNetwork(engine, ref);
        return ref;
      } catch (e) {
        if (p.flags.force && e instanceof NotFound) return undefined; // -f: a network that is not there is fine
        throw e;
      }
    });
  });
}

const pruneFlags = [
  { name: 'force', short: 'f', type: 'bool', description: 'Do not prompt for confirmation' },
  { name: 'filter', type: 'list', description: 'Provide filter values (e.g. "label=<key>")' },
] as const satisfies readonly FlagDef[];

async function prune(argv: string[], g: Globals): Promise<number> {
  const cmd: Command<typeof pruneFlags> = { usage: '[OPTIONS]', description: 'Remove all unused networks', flags: pruneFlags, args: [0, 0] };
  const p = parse(cmd, argv, 'network prune');
  if (typeof p === 'number') return p;
  return withEngine(g, 'network prune', async (engine) => {
    await engine.repair();
    const labelFilters = p.flags.filter.map((f) => {
      if (!f.startsWith('label=')) throw new InvalidArgument(`invalid filter '${f.split('=')[0]}'`);
      return f.slice(6);
    });
    const names = await pruneNetworks(engine, labelFilters);
    if (names.length > 0) process.stdout.write(`Deleted Networks:\n${names.join('\n')}\n`);
    return 0;
  });
}

const connectFlags = [
  { name: 'ip', type: 'string', description: 'IPv4 address (e.g., 172.30.100.104)' },
  { name: 'ip6', type: 'string', description: 'IPv6 address (e.g., 2001:db8::33)' },
  { name: 'alias', type: 'list', description: 'Add network-scoped alias for the container' },
  { name: 'link', type: 'list', description: 'Add link to another container' },
  { name: 'link-local-ip', type: 'list', description: 'Add a link-local address for the container' },
  { name: 'driver-opt', type: 'list', description: 'driver options for the network' },
  { name: 'gw-priority', type: 'int', description: 'Highest gw-priority provides the default gateway' },
] as const satisfies readonly FlagDef[];

async function connect(argv: string[], g: Globals): Promise<number> {
  const cmd: Command<typeof connectFlags> = { usage: '[OPTIONS] NETWORK CONTAINER', description: 'Connect a container to a network', flags: connectFlags, args: [2, 2] };
  const p = parse(cmd, argv, 'network connect');
  if (typeof p === 'number') return p;
  return withEngine(g, 'network connect', async (engine) => {
    const f = p.flags;
    await connectNetwork(engine, p.args[1]!, p.args[0]!, {
      ip: f.ip || undefined,
      ip6: f.ip6 || undefined,
      aliases: f.alias,
      links: f.link,
      linkLocalIps: f['link-local-ip'],
      driverOpts: keyValues(f['driver-opt']),
      gwPriority: f['gw-priority'] || undefined,
    });
    return 0;
  });
}

async function disconnect(argv: string[], g: Globals): Promise<number> {
  const flags = [{ name: 'force', short: 'f', type: 'bool', description: 'Force the container to disconnect from a network' }] as const satisfies readonly FlagDef[];
  const cmd: Command<typeof flags> = { usage: '[OPTIONS] NETWORK CONTAINER', description: 'Disconnect a container from a network', flags, args: [2, 2] };
  const p = parse(cmd, argv, 'network disconnect');
  if (typeof p === 'number') return p;
  return withEngine(g, 'network disconnect', async (engine) => {
    if (p.flags.force) await engine.repair();
    await disconnectNetwork(engine, p.args[1]!, p.args[0]!, p.flags.force);
    return 0;
  });
}

const verbs: Record<string, (argv: string[], g: Globals) => Promise<number>> = { create, ls, list: ls, inspect, rm, remove: rm, prune, connect, disconnect };

export async function main(argv: string[], g: Globals): Promise<number> {
  const sub = g.verb.split(' ')[1] ?? '';
  const fn = verbs[sub];
  if (!fn) {
    process.stderr.write(`berth: 'network ${sub}' is not a berth command.\nSee 'berth network --help'\n`);
    return 1;
  }
  return fn(argv, g);
}
