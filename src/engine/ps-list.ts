/**
 * `ps` without the Engine. A list (verbs/list.ts) first repairs what killed processes left, records the exits
 * no berth command saw and sweeps network leftovers; over a settled root it finds nothing to do, and reading
 * the store is all it does. Here the store is read, the rows themselves show whether a list would find
 * anything to do, and only if it would is the listing left to the Engine (undefined). So `ps` over 1,000
 * containers loads none of the engine's code (~25 ms), parses no whole config (~10 ms), and does per
 * container only a /proc read for each live one.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ContainerRepo, type ListedContainer } from '../store/containers.ts';
import { openDb } from '../store/db.ts';
import { NetworkRepo, type NetworkRow } from '../store/networks.ts';
import { tryLockFile, unlockFile } from '../sys/flock.ts';
import { isAlive } from '../sys/proc.ts';
import { checkFilters, selectContainers, type ContainerFilters } from './container-filters.ts';
import { handoffPaths } from './exit-handoff.ts';
import { isLive, mayExit } from './state.ts';
import { entriesOf } from '../sys/dir.ts';

/**
 * The containers `ps` lists (as Engine.list selects them), when the root is settled; undefined when a list
 * must first do work only the Engine does, or needs it to resolve a filter (before, since, network).
 */
export async function listSettled(root: string, all: boolean, filters: ContainerFilters): Promise<ListedContainer[] | undefined> {
  checkFilters(filters);
  if ('before' in filters || 'since' in filters || 'network' in filters) return undefined;
  const path = join(root, 'berth.db');
  // A root's first command makes the root; a store that cannot be opened is the Engine's to explain.
  if (!existsSync(path)) return undefined;
  let db;
  try {
    db = openDb(path);
  } catch {
    return undefined;
  }
  try {
    const containers = new ContainerRepo(db);
    const rows = containers.listed();
    if (!rows.every(rowSettled)) return undefined;
    if (containers.supervisedCount() > 0 && !(await supervisorRuns(root))) return undefined;
    if (await networkLeftovers(root, rows, new NetworkRepo(db).list())) return undefined;
    return selectContainers(rows, all, filters, { find: notNeeded, networks: notNeeded });
  } finally {
    db.close();
  }
}

const notNeeded = (): never => {
  throw new Error('listSettled takes no filter that needs the world');
};

const inFlight = (r: ListedContainer) => r.lockPid !== 0 && isAlive(r.lockPid, r.lockStart);

/**
 * Whether repair and sync (verbs/repair.ts, EngineCore.sync) would leave this row as it is: no lock of a dead
 * process, no exited container still holding its mount, no created one holding a network (a killed start),
 * and no exit to record. A live container whose own process is alive has none: its monitor writes the exit
 * file only after reaping that process (a zombie counts as gone), and a start removes the last run's.
 */
function rowSettled(r: ListedContainer): boolean {
  const locked = inFlight(r);
  if (r.lockPid !== 0 && !locked) return false;
  if (r.mounted && r.state === 'exited') return false;
  if (r.state === 'created' && r.net.netns && !locked) return false;
  // sync leaves alone a created row whose start is in progress: that start records an early exit itself.
  if (!mayExit(r.state) || r.monitorPid === 0 || (r.state === 'created' && locked)) return true;
  return isAlive(r.pid, r.pidStart);
}

/** A supervisor holds the root's lock (else repair would start one: src/engine/supervisor-launch.ts). */
async function supervisorRuns(root: string): Promise<boolean> {
  const fd = await tryLockFile(handoffPaths({ root }).lock).catch(() => null);
  if (fd === null) return true;
  unlockFile(fd);
  return false;
}

/**
 * Whether sweepNetworkOrphans (src/engine/network-attach.ts) would find anything: a netns mark or a lease
 * whose container no live row accounts for. Directory listings only while the root holds neither.
 */
async function networkLeftovers(root: string, rows: readonly ListedContainer[], nets: readonly NetworkRow[]): Promise<boolean> {
  const markers = join(root, 'netns');
  const dataDir = join(root, 'cni');
  const marks = entriesOf(markers);
  const leaseFiles = nets.some((n) => entriesOf(join(dataDir, 'ipam', n.name)).some((f) => f !== 'lock' && !f.startsWith('last_reserved_ip.')));
  if (marks.length === 0 && !leaseFiles) return false;
  const live = new Set(rows.filter((r) => r.net.netns || isLive(r.state) || inFlight(r)).map((r) => r.id));
  for (const ns of marks) {
    // A mark being written (or left so by a dead writer): the sweep decides.
    if (ns.startsWith('.')) return true;
    const id = readOr(join(markers, ns)).trim();
    if (id !== '' && !live.has(id)) return true;
  }
  if (!leaseFiles) return false;
  const { leases } = await import('../network/leftovers.ts');
  return nets.some((n) => leases(dataDir, n.name).some((l) => l.containerId !== '' && !live.has(l.containerId)));
}

function readOr(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return ''; // gone since the listing: its container's cleanup tore it down
  }
}
