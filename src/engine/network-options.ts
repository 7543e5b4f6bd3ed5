/**
 * The bridge driver's options (`-o`, docker's Options), read as dockerd's bridge driver reads them, each
 * either applied or refused by name: none is silently ignored. The options are kept as given (inspect shows
 * them so, and docker-compose compares them with its file's); `bridgeOptions` reads them back.
 */
import { Forbidden, InvalidArgument, NOT_A_SWARM_MANAGER, NotSupported, Unavailable } from '../errors.ts';

export const BRIDGE_NAME = 'com.docker.network.bridge.name';
export const MTU = 'com.docker.network.driver.mtu';
export const MASQUERADE = 'com.docker.network.bridge.enable_ip_masquerade';
export const ICC = 'com.docker.network.bridge.enable_icc';
export const ENABLE_IPV6 = 'com.docker.network.enable_ipv6';
export const ENABLE_IPV4 = 'com.docker.network.enable_ipv4';

/** Options of docker's bridge driver Berth does not do, with why. */
const REFUSED: Record<string, string> = {
  'com.docker.network.bridge.default_bridge': 'only the engine makes the default network',
  'com.docker.network.bridge.host_binding_ipv4': 'publish on an address with -p ADDRESS:PORT:PORT instead',
  'com.docker.network.bridge.inhibit_ipv4': 'the bridge always carries its IPv4 gateway',
  'com.docker.network.container_iface_prefix': 'interfaces are always named eth0, eth1, …',
  'com.docker.network.bridge.gateway_mode_ipv4': 'routed and isolated gateway modes are not supported',
  'com.docker.network.bridge.gateway_mode_ipv6': 'routed and isolated gateway modes are not supported',
};

/** What the options mean for the bridge; absent ones take docker's defaults. */
export interface BridgeOptions {
  bridge?: string;
  mtu?: number;
  ipMasq: boolean;
  icc: boolean;
  ipv6?: boolean;
}

/** Go's strconv.ParseBool, with the bridge driver's message for anything else. */
function bool(key: string, v: string): boolean {
  if (['1', 't', 'T', 'TRUE', 'true', 'True'].includes(v)) return true;
  if (['0', 'f', 'F', 'FALSE', 'false', 'False'].includes(v)) return false;
  throw new InvalidArgument(`failed to parse ${key} value: ${v} (strconv.ParseBool: parsing "${v}": invalid syntax)`);
}

function mtu(key: string, v: string): number {
  if (!/^[+-]?\d+$/.test(v)) throw new InvalidArgument(`failed to parse ${key} value: ${v} (strconv.Atoi: parsing "${v}": invalid syntax)`);
  const n = Number(v);
  if (n < 68 || n > 65535) throw new InvalidArgument(`invalid MTU number: ${n} (68 to 65535)`);
  return n;
}

/** Read (and check) a network's options; `mtu` is podman's short name for docker's MTU option. */
export function bridgeOptions(options: Readonly<Record<string, string>>): BridgeOptions {
  const out: BridgeOptions = { ipMasq: true, icc: true };
  for (const [k, v] of Object.entries(options)) {
    if (k === BRIDGE_NAME) {
      if (!/^[A-Za-z0-9_.-]{1,15}$/.test(v)) throw new InvalidArgument(`invalid ${BRIDGE_NAME} value: ${JSON.stringify(v)} (1 to 15 of A-Z a-z 0-9 _ . -)`);
      out.bridge = v;
    } else if (k === MTU || k === 'mtu') out.mtu = mtu(k, v);
    else if (k === MASQUERADE) out.ipMasq = bool(k, v);
    else if (k === ICC) out.icc = bool(k, v);
    else if (k === ENABLE_IPV6) out.ipv6 = bool(k, v);
    else if (k === ENABLE_IPV4) {
      if (!bool(k, v)) throw new NotSupported('IPv6-only networks are not supported: every network has an IPv4 subnet');
    }
    else if (k in REFUSED) throw new NotSupported(`network option ${k} is not supported: ${REFUSED[k]}`);
    else throw new InvalidArgument(`unsupported network option: ${k}`);
  }
  return out;
}

/**
 * The fields of a create request only a swarm gives meaning to, refused as dockerd refuses them outside
 * one, or accepted where it has none (Attachable is stored and shown).
 */
export function checkScope(o: { scope?: string; ingress?: boolean; configOnly?: boolean; configFrom?: string }): void {
  if (o.ingress) throw new Forbidden('Ingress network can only be global scope network');
  if (o.scope === 'swarm') throw new Forbidden('cannot create a swarm scoped network when swarm is not active');
  // dockerd keeps a network of any other scope in the cluster's store, which a node outside a swarm lacks.
  if (o.scope && o.scope !== 'local') throw new Unavailable(NOT_A_SWARM_MANAGER);
  if (o.configOnly) throw new NotSupported('configuration-only networks (--config-only) are not supported');
  if (o.configFrom) throw new NotSupported('networks made from a configuration network (--config-from) are not supported');
}
