/** `network inspect` and `network ls` in docker's shapes, with the pseudo-networks host and none. */
import { nodeCrypto } from '../sys/builtins.ts';
import type { NetworkRow } from '../store/networks.ts';
import type { EngineCore } from './core.ts';
import { DEFAULT_NETWORK, defaultNetwork, networkUsers, routesOf } from './networks.ts';

export interface NetworkSummary {
  id: string;
  name: string;
  driver: string;
  row?: NetworkRow;
}

/** A stable id for the pseudo-networks (they have no row). */
export const pseudoId = (name: string) => nodeCrypto().createHash('sha256').update(`berth-network-${name}`).digest('hex');

/** Every network `ls` shows: the default bridge (made if missing), host, none, then user networks. */
export function allNetworks(engine: EngineCore): NetworkSummary[] {
  defaultNetwork(engine);
  const rows = engine.networks.list();
  const out: NetworkSummary[] = rows.filter((r) => r.name === DEFAULT_NETWORK).map((r) => ({ id: r.id, name: r.name, driver: r.driver, row: r }));
  out.push({ id: pseudoId('host'), name: 'host', driver: 'host' }, { id: pseudoId('none'), name: 'none', driver: 'null' });
  for (const r of rows) if (r.name !== DEFAULT_NETWORK) out.push({ id: r.id, name: r.name, driver: r.driver, row: r });
  return out;
}

/** The options as given; rows made before they were kept show their MTU under docker's key. */
function optionsOf(name: string, r: NetworkRow): Record<string, string> {
  const given = r.options ?? {};
  return {
    ...(name === 'bridge' ? { 'com.docker.network.bridge.name': r.bridge } : {}),
    ...(r.mtu && !('mtu' in given) && !('com.docker.network.driver.mtu' in given) ? { 'com.docker.network.driver.mtu': String(r.mtu) } : {}),
    ...given,
  };
}

export function networkJson(engine: EngineCore, n: NetworkSummary): Record<string, unknown> {
  const r = n.row;
  const containers: Record<string, unknown> = {};
  if (r) {
    for (const c of networkUsers(engine, r, true)) {
      const st = c.net.networks?.[r.name];
      if (!st) continue;
      containers[c.id] = {
        Name: c.name,
        EndpointID: nodeCrypto().createHash('sha256').update(`${c.id}/${r.id}`).digest('hex'),
        MacAddress: st.mac,
        IPv4Address: st.ip ? `${st.ip}/${st.prefixLen}` : '',
        IPv6Address: st.ipv6 ? `${st.ipv6}/${st.ipv6PrefixLen}` : '',
      };
    }
  }
  return {
    Name: n.name,
    Id: n.id,
    Created: r?.createdAt ?? '0001-01-01T00:00:00Z',
    Scope: 'local',
    Driver: n.driver,
    EnableIPv6: r?.ipv6 ?? false,
    IPAM: {
      Driver: 'default',
      Options: null,
      // As docker shows a pool: what was given (a gateway the engine chose for a given subnet is left out).
      Config: (r?.subnets ?? []).map((s) => ({
        Subnet: s.subnet,
        ...(s.ipRange ? { IPRange: s.ipRange } : {}),
        ...(s.impliedGateway ? {} : { Gateway: s.gateway }),
        ...(s.aux && Object.keys(s.aux).length > 0 ? { AuxiliaryAddresses: s.aux } : {}),
      })),
    },
    Internal: r?.internal ?? false,
    Attachable: r?.attachable ?? false,
    Ingress: false,
    ConfigFrom: { Network: '' },
    ConfigOnly: false,
    Containers: containers,
    // Only what the user set, as docker shows a user network's: docker-compose compares every key with its
    // file's and recreates the network on any other (the default network shows its bridge, as docker0's does).
    Options: r ? optionsOf(n.name, r) : {},
    Labels: r?.labels ?? {},
    // Berth's own: the host bridge a network of the bridge driver is made of.
    ...(r ? { BerthBridge: r.bridge } : {}),
  };
}

/**
 * `network inspect REF` (and `inspect` of a network): the network named, with that full id, or the first
 * whose id starts so; its docker JSON with Berth's static routes when it has any. Undefined when none.
 */
export function inspectNetwork(engine: EngineCore, ref: string): Record<string, unknown> | undefined {
  const all = allNetworks(engine);
  const n = all.find((x) => x.name === ref || x.id === ref) ?? all.filter((x) => x.id.startsWith(ref)).at(0);
  if (!n) return undefined;
  const json = networkJson(engine, n);
  const routes = n.row ? routesOf(n.row) : [];
  return routes.length === 0 ? json : { ...json, Routes: routes.map((r) => ({ Destination: r.dst, Gateway: r.gw })) };
}
