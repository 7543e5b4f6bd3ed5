/**
 * The network definition the CNI attachment (cni.ts) and the leftover sweeps (leftovers.ts) both read. A
 * leaf of its own so that neither of those imports the other for it.
 */

/** A bridge network as the engine stores it. Immutable after creation. */
export interface NetworkDef {
  name: string;
  /** 64 hex digits. */
  id: string;
  /** Host bridge device, at most 15 characters. */
  bridge: string;
  /**
   * IPv4 first, then an optional IPv6 subnet (a CIDR, host bits allowed). `ipRange` (a CIDR inside
   * `subnet`) bounds dynamic addresses. `routes`: static routes every container gets, each via a gateway
   * inside this subnet. `aux`: docker's auxiliary addresses, never handed out; `DefaultGatewayIPv4` and
   * `DefaultGatewayIPv6` among them are the containers' default gateway instead of `gateway`.
   */
  subnets: { subnet: string; gateway: string; ipRange?: string; routes?: { dst: string; gw: string }[]; aux?: Record<string, string> }[];
  /** No masquerade, no default route, no port publishing, no forwarding in or out of the bridge. */
  internal: boolean;
  mtu?: number;
  /** Masquerade traffic leaving the host (docker's enable_ip_masquerade); default true. */
  ipMasq?: boolean;
  /** Containers on the bridge reach each other (docker's enable_icc); default true. */
  icc?: boolean;
}

/** The aux address names docker's bridge driver reads as the containers' default gateway. */
export const DEFAULT_GATEWAY_AUX = { 4: 'DefaultGatewayIPv4', 6: 'DefaultGatewayIPv6' } as const;
