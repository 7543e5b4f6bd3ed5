/**
 * `system reset` (podman's verb): everything of one engine root goes, so that its next command starts from
 * an empty root: its containers (running ones killed, their exec sessions with them), volumes, networks with
 * their bridges, leases and firewall rules, images and layers, the mounts and cgroups of its containers, and
 * then its files, state database included. The configuration an administrator wrote (daemon.json,
 * registries.json, hooks.d) stays, as podman's reset keeps its configuration files.
 *
 * The records are trusted as far as they can be read: what they name is removed through the verbs that made
 * it (rm -f, volume rm), so each part is undone as it was made. What they cannot name (a root deleted by hand
 * and made again, a state database that is lost or unreadable) is then found on the host by what ties it to
 * this root: the runtime's containers and the monitors whose bundle lies under the root, the namespaces the
 * root marked, the bridges its default network is named after or its CNI results name, the mounts under it,
 * the cgroups of the containers it has directories for. Nothing of another root matches any of these.
 */
import { existsSync, readdirSync, readFileSync, realpathSync, rmdirSync, rmSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { Conflict, NoSuchContainer } from '../../errors.ts';
import { removeBridge } from '../../network/stale-bridge.ts';
import { deleteNetns, netnsPath } from '../../network/netns.ts';
import type { RuntimeDriver } from '../../runtime/driver.ts';
import { existingCgroupDirs } from '../../runtime/cgroups.ts';
import { mountPoints, unmount } from '../../sys/mount.ts';
import { openersOf, procStartTime } from '../../sys/proc.ts';
import type { EngineCore } from '../core.ts';
import { netnsName } from '../network-attach.ts';
import { defaultBridge, NETNS_PREFIX } from '../networks.ts';
import { ROOT_DIRS } from '../root-layout.ts';
import { sleep, waitUntil } from '../wait.ts';
import { remove } from './remove.ts';
import { removePod } from '../pods/remove.ts';

/** The cgroup the engine makes for a pod: `<parent>/pod-<id>`. */
const POD_CGROUP = /\/pod-[0-9a-f]{64}$/;

/** What a reset leaves in the root: configuration, not state. (Files the engine does not make stay too.) */
export const KEPT = ['daemon.json', 'registries.json', 'hooks.d'];

export interface ResetReport {
  /** What could not be removed, one line each; the reset goes on past each. */
  errors: string[];
  /** What was found on the host that no record of the root named (a deleted root's leftovers). */
  found: string[];
}

/** What the records and the host name as this root's, gathered as the reset goes. */
interface Owned {
  ids: Set<string>;
  cgroups: Map<string, string>;
  bridges: Set<string>;
}

const ID = /^[0-9a-f]{64}$/;
const message = (e: unknown) => (e instanceof Error ? e.message : String(e));

/** Remove everything of the engine's root (see the module's comment). The engine is closed afterwards. */
export async function reset(engine: EngineCore): Promise<ResetReport> {
  const report: ResetReport = { errors: [], found: [] };
  const root = resolve(engine.root);
  const real = existsSync(root) ? realpathSync(root) : root;
  const db = join(real, 'berth.db');
  await stopSupervisor(db);
  await refuseIfInUse(db);
  const owned: Owned = { ids: new Set(), cgroups: new Map(), bridges: new Set([defaultBridge(engine.root)]) };
  if (existsSync(db)) await fromRecords(engine, owned);
  engine.close();
  const fail = (what: string) => (e: unknown) => void report.errors.push(`${what}: ${message(e)}`);
  await runtimeLeftovers(engine, join(real, 'containers'), owned, report, fail);
  for (const id of containerDirs(real)) owned.ids.add(id);
  // The namespaces the root marked, and those named after its containers (a deleted root's marks are gone).
  for (const ns of new Set([...marks(real), ...[...owned.ids].map(netnsName)])) {
    if (existsSync(netnsPath(ns))) await deleteNetns(ns).then(() => report.found.push(`netns ${ns}`), fail(`netns ${ns}`));
  }
  const recorded = new Set(owned.bridges);
  for (const b of new Set([...recorded, ...bridgesInResults(real)])) {
    try {
      const gone = removeBridge(b, NETNS_PREFIX);
      if (gone && !recorded.has(b)) report.found.push(`bridge ${b}`);
    } catch (e) {
      fail(`bridge ${b}`)(e);
    }
  }
  // An ordinary user's networks live in its own network namespace: that goes whole, with its slirp4netns.
  await engine.userNetwork?.remove().catch(fail("the user's network namespace"));
  const under = (p: string) => p.startsWith(`${real}/`) || p.startsWith(`${root}/`);
  for (const mp of mountPoints().filter(under).sort((a, b) => b.length - a.length)) await unmount(mp, true).catch(fail(`mount ${mp}`));
  const podCgroups = new Set<string>();
  for (const id of owned.ids) {
    const path = owned.cgroups.get(id) ?? cgroupOfBundle(join(real, 'containers', id)) ?? `/berth/${id}`;
    await removeCgroups(path).catch(fail(`cgroup of ${id.slice(0, 12)}`));
    // A pod's containers sit in the pod's own cgroup, which the engine made (src/engine/pods/create.ts).
    if (POD_CGROUP.test(dirname(path))) podCgroups.add(dirname(path));
  }
  for (const path of podCgroups) await removeCgroups(path).catch(fail(`cgroup ${path}`));
  await removeFiles(engine, real, under, report);
  if (report.found.length > 0) engine.notice(`removed what no record of the root named: ${report.found.join(', ')}`);
  return report;
}

/**
 * The root's standalone supervisor (src/engine/supervisor.ts) is the engine's own: it is stopped (SIGTERM, it
 * ends cleanly) rather than counted as a user of the root. One running inside `berth serve` is the server's.
 */
async function stopSupervisor(db: string): Promise<void> {
  if (!existsSync(db)) return;
  const supervisors = openersOf(db).filter((u) => / system supervise$/.test(u.command)).map((u) => u.pid);
  for (const pid of supervisors) {
    try {
      process.kill(pid, 'SIGTERM');
    } catch {
      /* gone meanwhile */
    }
  }
  if (!(await waitUntil(() => supervisors.every((p) => procStartTime(p) === null), 5000))) {
    for (const pid of supervisors) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        /* gone meanwhile */
      }
    }
  }
}

/**
 * A process that holds the state database open (a `berth serve`, a `run` in the foreground) would go on
 * with a store the reset removed: refused, naming it. The monitors' exit commands hold it for an instant.
 */
async function refuseIfInUse(db: string): Promise<void> {
  if (!existsSync(db)) return;
  let users = openersOf(db);
  await waitUntil(() => (users = openersOf(db)).length === 0, 3000);
  if (users.length > 0) {
    const [u] = users;
    throw new Conflict(`the engine root is in use by process ${u!.pid} (${u!.command.slice(0, 200)}): stop it before a reset`);
  }
}

/** Remove what the records name: containers (killed first), volumes; note the networks' bridges. */
async function fromRecords(engine: EngineCore, owned: Owned): Promise<void> {
  try {
    // Pods first: a pod's infra container goes only with its pod.
    for (const pod of engine.pods.list()) {
      for (const id of engine.pods.memberIds(pod.id)) {
        const row = engine.containers.get(id);
        if (row) owned.cgroups.set(id, engine.cgroupPath(row));
      }
      await removePod(engine, pod.id, true).catch((e: unknown) => engine.warn(`pod ${pod.name}: ${message(e)}: removing what the host shows of it`));
    }
    for (const row of engine.containers.list()) {
      owned.ids.add(row.id);
      owned.cgroups.set(row.id, engine.cgroupPath(row));
      await remove(engine, row.id, true, true).catch((e: unknown) => {
        if (!(e instanceof NoSuchContainer)) engine.warn(`container ${row.id.slice(0, 12)}: ${message(e)}: removing what the host shows of it`);
      });
    }
    for (const v of engine.volumes.repo.list()) {
      await engine.volumes.remove(v.name).catch((e: unknown) => engine.warn(`volume ${v.name}: ${message(e)}`));
    }
    for (const n of engine.networks.list()) owned.bridges.add(n.bridge);
  } catch (e) {
    const why = e instanceof Error && e.cause !== undefined ? e.cause : e;
    engine.warn(`the root's records cannot be read (${message(why)}): removing what the host shows of it`);
  }
}

/** The runtimes' containers and the monitors under the root's containers dir: monitors first (killed, they run no exit command). */
async function runtimeLeftovers(engine: EngineCore, dir: string, owned: Owned, report: ResetReport, fail: (what: string) => (e: unknown) => void) {
  const drivers: RuntimeDriver[] = [];
  try {
    for (const c of engine.runtimes().candidates) if (c.usable) drivers.push(engine.driver(c.name));
  } catch (e) {
    fail('runtimes')(e);
  }
  const held = await Promise.all(drivers.map((d) => d.leftovers(dir).catch((e: unknown) => (fail(`${d.name} list`)(e), { containers: [], monitors: [] }))));
  const monitors = [...new Set(held.flatMap((h) => h.monitors))];
  for (const pid of monitors) {
    try {
      process.kill(pid, 'SIGKILL');
      report.found.push(`monitor pid ${pid}`);
    } catch {
      // gone meanwhile
    }
  }
  await waitUntil(() => monitors.every((p) => procStartTime(p) === null), 10_000);
  for (const [i, d] of drivers.entries()) {
    for (const c of held[i]!.containers) {
      owned.ids.add(c.id);
      await d.delete(c.id, true).then(() => report.found.push(`${d.name} container ${c.id.slice(0, 12)}`), fail(`${d.name} container ${c.id.slice(0, 12)}`));
    }
  }
}

/** The network namespaces the root marked as its own (src/engine/network-attach.ts). */
function marks(real: string): string[] {
  const dir = join(real, 'netns');
  return existsSync(dir) ? readdirSync(dir).filter((n) => new RegExp(`^${NETNS_PREFIX}[0-9a-f]{16}$`).test(n)) : [];
}

/** Bridges the CNI results of the root's running containers name (the host side's interfaces, veths aside). */
function bridgesInResults(real: string): string[] {
  const dir = join(real, 'cni', 'results');
  if (!existsSync(dir)) return [];
  const out = new Set<string>();
  for (const f of readdirSync(dir)) {
    try {
      const cached = JSON.parse(readFileSync(join(dir, f), 'utf8')) as { result?: { interfaces?: { name?: string; sandbox?: string }[] } };
      for (const i of cached.result?.interfaces ?? []) if (i.name && !i.sandbox && !i.name.startsWith('veth')) out.add(i.name);
    } catch {
      // half-written or not a result
    }
  }
  return [...out];
}

function containerDirs(real: string): string[] {
  const dir = join(real, 'containers');
  return existsSync(dir) ? readdirSync(dir).filter((n) => ID.test(n)) : [];
}

/** The cgroup a container's bundle asked the runtime for. */
function cgroupOfBundle(bundle: string): string | undefined {
  try {
    return (JSON.parse(readFileSync(join(bundle, 'config.json'), 'utf8')) as { linux?: { cgroupsPath?: string } }).linux?.cgroupsPath;
  } catch {
    return undefined;
  }
}

function cgroupProcs(dir: string): number[] {
  try {
    return readFileSync(join(dir, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean).map(Number);
  } catch {
    return []; // removed meanwhile
  }
}

/** Remove a container's cgroup in every hierarchy, killing what still runs in it (the runtime's delete normally did). */
async function removeCgroups(path: string): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    const left = existingCgroupDirs(path);
    if (left.length === 0) return;
    for (const dir of left) {
      try {
        rmdirSync(dir);
      } catch {
        for (const pid of cgroupProcs(dir)) {
          try {
            process.kill(pid, 'SIGKILL');
          } catch {
            // gone meanwhile
          }
        }
      }
    }
    if (attempt >= 20) throw new Conflict(`cannot remove ${existingCgroupDirs(path).join(', ')}`);
    await sleep(50);
  }
}

/** The root's own entries: its directories (root-layout.ts) and the state database with SQLite's side files. */
const ENGINE_FILES = new Set([
  ...ROOT_DIRS.map(([p]) => p.split('/')[0]!), 'berth.db', 'berth.db-wal', 'berth.db-shm', 'berth.db-journal',
  // A server's exit hand-off (src/engine/exit-handoff.ts): its watcher's lock and the directory exits wait in.
  'exit-watch.lock', 'exits',
]);

/**
 * Delete the root's own files. Only those: the configuration stays, and so does whatever else someone put
 * there (a root given by mistake as /home must not lose it). Only once nothing is mounted under the root (a
 * volume bound from elsewhere would lose its source's files) and no process holds its store (a monitor's
 * exit command may still be leaving).
 */
async function removeFiles(engine: EngineCore, real: string, under: (p: string) => boolean, report: ResetReport): Promise<void> {
  if (!existsSync(real)) return;
  const mounted = mountPoints().filter(under);
  if (mounted.length > 0) {
    report.errors.push(`the root's files are kept: still mounted under it: ${mounted.join(', ')}`);
    return;
  }
  const db = join(real, 'berth.db');
  let users = openersOf(db);
  await waitUntil(() => (users = openersOf(db)).length === 0, 10_000);
  if (users.length > 0) {
    report.errors.push(`the root's files are kept: process ${users[0]!.pid} (${users[0]!.command.slice(0, 200)}) opened its store meanwhile`);
    return;
  }
  const others: string[] = [];
  for (const name of readdirSync(real)) {
    if (ENGINE_FILES.has(name)) rmSync(join(real, name), { recursive: true, force: true });
    else if (!KEPT.includes(name)) others.push(name);
  }
  if (others.length > 0) engine.notice(`kept in ${real}, not the engine's: ${others.sort().join(', ')}`);
}
