/** Networks: name, bridge, subnets and flags. Which containers are on one lives in their configs. */
import { AlreadyExists } from '../errors.ts';
import { isUniqueViolation, type Db } from './db.ts';

/** One IPAM pool of a network (docker's IPAM.Config entry). */
export interface Subnet {
  /** As given (docker keeps host bits: `2001:db8::1/64`); the network is its masked form. */
  subnet: string;
  /** The bridge's address and the containers' gateway (the subnet's first host unless given). */
  gateway: string;
  /** True when the engine chose the gateway of a subnet the user gave: docker's inspect leaves it out. */
  impliedGateway?: boolean;
  ipRange?: string;
  /** docker's AuxiliaryAddresses: name → address, never handed to a container. */
  aux?: Record<string, string>;
}

export interface NetworkRow {
  id: string;
  name: string;
  driver: string;
  /** The host bridge (≤ 15 characters). */
  bridge: string;
  /** IPv4 first; an IPv6 one when the network has IPv6. */
  subnets: Subnet[];
  internal: boolean;
  ipv6: boolean;
  /** 0 = the bridge's default. */
  mtu: number;
  labels: Record<string, string>;
  /** The driver options as given (docker's Options: `com.docker.network.bridge.enable_icc`, …). */
  options: Record<string, string>;
  attachable: boolean;
  createdAt: string;
}

type Raw = Record<string, string | number>;

const fromRaw = (r: Raw): NetworkRow => ({
  id: r.id as string,
  name: r.name as string,
  driver: r.driver as string,
  bridge: r.bridge as string,
  subnets: JSON.parse(r.subnets as string) as Subnet[],
  internal: r.internal === 1,
  ipv6: r.ipv6 === 1,
  mtu: r.mtu as number,
  labels: JSON.parse(r.labels as string) as Record<string, string>,
  options: JSON.parse(r.options as string) as Record<string, string>,
  attachable: r.attachable === 1,
  createdAt: r.created_at as string,
});

export class NetworkRepo {
  readonly db: Db;
  constructor(db: Db) {
    this.db = db;
  }

  insert(n: NetworkRow): void {
    try {
      this.db
        .prepare('INSERT INTO networks (id, name, driver, bridge, subnets, internal, ipv6, mtu, labels, options, attachable, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)')
        .run(n.id, n.name, n.driver, n.bridge, JSON.stringify(n.subnets), n.internal ? 1 : 0, n.ipv6 ? 1 : 0, n.mtu, JSON.stringify(n.labels), JSON.stringify(n.options), n.attachable ? 1 : 0, n.createdAt);
    } catch (e) {
      if (isUniqueViolation(e)) throw new AlreadyExists(`network with name ${n.name} already exists`);
      throw e;
    }
  }

  /** By exact name, full id, or unique id prefix. */
  find(ref: string): NetworkRow | undefined {
    const exact = this.db.prepare('SELECT * FROM networks WHERE name = ? OR id = ?').get(ref, ref) as Raw | undefined;
    if (exact) return fromRaw(exact);
    if (!/^[0-9a-f]{1,63}$/.test(ref)) return undefined;
    const rows = this.db.prepare("SELECT * FROM networks WHERE id LIKE ? || '%'").all(ref) as Raw[];
    return rows.length === 1 ? fromRaw(rows[0]!) : undefined;
  }

  list(): NetworkRow[] {
    return (this.db.prepare('SELECT * FROM networks ORDER BY created_at, name').all() as Raw[]).map(fromRaw);
  }

  delete(id: string): void {
    this.db.prepare('DELETE FROM networks WHERE id = ?').run(id);
  }
}
