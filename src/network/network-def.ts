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
   * IPv4 first, then an optional IPv6 subnet. `ipRange` (a CIDR inside `subnet`) bounds dynamic addresses.
   * `routes`: static routes every container gets, each via a gateway inside this subnet.
   */
  subnets: { subnet: string; gateway: string; ipRange?: string; routes?: { dst: string; gw: string }[] }[];
  /** No masquerade, no default route, no port publishing. */
  internal: boolean;
  mtu?: number;
}
