/**
 * The runtime side of a container's life: bringing it up (the overlay mounted, volumes and networks
 * wired, the OCI bundle written, the runtime's container created under its monitor) and tearing it down.
 * The Engine calls these under the container's lock.
 */
import { chmodSync, existsSync, lchownSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { NotSupported, RuntimeFailure } from '../errors.ts';
import type { RuntimeDriver } from '../runtime/driver.ts';
import { buildSpec } from '../runtime/spec/index.ts';
import { mergeEnv } from '../runtime/spec/process-env.ts';
import { readHostRlimits } from '../runtime/spec/rlimits.ts';
import type { ContainerRow } from '../store/containers.ts';
import type { ImageRow } from '../store/images.ts';
import { isMounted, mountFs, unmount } from '../sys/mount.ts';
import { procStartTime } from '../sys/proc.ts';
import { trace } from '../sys/trace.ts';
import type { EngineCore, StartOptions } from './core.ts';
import { exitCommandFor } from './exit-handoff.ts';
import { loadHooks } from './hooks.ts';
import { initBinary } from './host.ts';
import { addKeepIdEntries } from './keep-id.ts';
import { sharedNamespaces } from './isolation.ts';
import { linkEnv } from './links.ts';
import { etcMounts, rewriteHosts, setupNetworks, teardownNetworks } from './network-attach.ts';
import { mappedLowerDirs, toHost } from './userns-rootfs.ts';
import { releaseVolumes, resolveMounts } from './volumes.ts';

/**
 * Mount the rootfs, write the bundle and create the runtime's container under its monitor. The monitor is
 * spawned first and waits on its start pipe, so its start-up overlaps the mount and the spec.
 */
export async function bringUp(engine: EngineCore, row: ContainerRow, drv: RuntimeDriver, opts: StartOptions): Promise<void> {
  const d = engine.dir(row.id);
  const img = engine.images.repo.get(row.imageId);
  if (!img) throw new RuntimeFailure(`image ${row.imageId.slice(0, 12)} of container ${row.name} is gone`);
  // Legacy links' variables go under the container's own (links.ts); a link to a child that is down fails here.
  const linked = linkEnv(engine, row);
  let ready!: { resolve: () => void; reject: (e: unknown) => void };
  const bundleReady = new Promise<void>((resolve, reject) => (ready = { resolve, reject }));
  const exitCommand = opts.attached ? undefined : exitCommandFor(engine, row.id);
  trace('init: monitor');
  const created = drv.create({
    id: row.id,
    bundle: d,
    log: engine.logTarget(row),
    tty: row.config.tty,
    stdin: row.config.openStdin,
    // docker closes stdin when the client goes only for StdinOnce without a terminal (`run -i`, piped).
    leaveStdinOpen: !(row.config.stdinOnce && !row.config.tty),
    exitCommand,
    bundleReady,
    noCgroups: row.config.cgroups === 'disabled',
    preserveFds: opts.preserveFds,
  });
  created.catch(() => {}); // awaited below; a failure before that is not unhandled
  // The network (netns, CNI plugins) does not need the rootfs: wire it while the overlay mounts, and the
  // runtime creates the container in the namespace while the plugins still run (the process only runs at
  // start, and the hosts file, bound in by inode, gets the addresses before that).
  const bridged = row.config.isolation?.network === 'bridge';
  const ownNetns = bridged && !!row.config.isolation?.userns; // wired after the runtime made the netns
  let namespaceMade!: (path: string) => void;
  const namespace = new Promise<string>((resolve) => (namespaceMade = resolve));
  const networked = bridged && !ownNetns ? setupNetworks(engine, row, undefined, namespaceMade) : Promise.resolve(undefined);
  networked.catch(() => {});
  try {
    await engine.rootfsOf(row).mount(await lowerDirsFor(engine, row, img), join(d, 'diff'), join(d, 'work'), join(d, 'rootfs'), engine.root);
    engine.containers.update(row.id, { mounted: true });
    trace('init: mounted');
    const kept = row.config.isolation?.userns;
    if (kept?.keepId) addKeepIdEntries(join(d, 'rootfs'), kept.keepId, kept.uidMappings, kept.gidMappings);
    const cg = engine.cgroups();
    const mounts = await resolveMounts(engine, row, join(d, 'rootfs'));
    const netnsPath = bridged && !ownNetns ? await Promise.race([namespace, networked.then((s) => s!.netns)]) : undefined;
    trace('init: netns');
    const extraMounts = etcMounts(engine, engine.containers.get(row.id)!);
    const iso = row.config.isolation;
    const shmDir = (id: string) => join(engine.dir(id), 'shm');
    const shared = iso ? sharedNamespaces(iso, (id) => engine.lookupSynced(id), shmDir) : {};
    // A pinned pod's container: its /dev/shm is the pod's, beside the IPC namespace it joins (pods/pinned.ts).
    const podShm = row.config.pod !== undefined && iso?.ipc.startsWith('ns:') ? engine.pods.get(row.config.pod)?.state.shm : undefined;
    if (podShm) shared.shmSource = podShm;
    if (iso?.ipc === 'shareable') {
      mkdirSync(shmDir(row.id), { recursive: true, mode: 0o711 });
      if (!isMounted(shmDir(row.id))) await mountFs('tmpfs', 'shm', shmDir(row.id), `nosuid,nodev,noexec,mode=1777,size=${iso.shmSize}`);
      shared.shmSource = shmDir(row.id);
    }
    const spec = buildSpec({ ...row.config, mounts, ...(linked.length > 0 ? { env: mergeEnv(linked, row.config.env) } : {}) }, {
      ...shared,
      netnsPath,
      extraMounts,
      rootfs: join(d, 'rootfs'),
      cgroupsPath: engine.cgroupPath(row),
      cgroupVersion: cg.version,
      // Probed only where it matters: the swap file is all a spec leaves out for want of it.
      swapLimit: row.config.resources.memory === undefined || engine.cgroupFeatures().swapLimit,
      hostRlimits: readHostRlimits(),
      initPath: row.config.init ? initBinary() : undefined,
      hooks: loadHooks(engine.hooksDir(), row.config),
    });
    if (!spec.hostname && spec.linux.namespaces.some((n) => n.type === 'uts' && !n.path)) spec.hostname = row.id.slice(0, 12);
    // An ordinary user's container: no cgroup of its own (none is delegated to the user), which the runtime
    // accepts as long as it is asked for no path and no limit (create warned of the limits dropped).
    if (engine.rootlessUser !== undefined) {
      spec.linux.cgroupsPath = '';
      spec.linux.resources = { devices: spec.linux.resources.devices };
      // sysfs mounts only in a network namespace of the user's own; in the host's, the host's /sys is bound.
      if (row.config.isolation?.network === 'host') {
        spec.mounts = spec.mounts.map((m) => (m.type === 'sysfs' ? { destination: m.destination, type: 'bind', source: '/sys', options: ['rbind', 'nosuid', 'noexec', 'nodev', 'ro', 'rprivate'] } : m));
      }
    }
    drv.prepareSpec(row.id, spec);
    writeFileSync(join(d, 'config.json'), JSON.stringify(spec));
    // Refused here (the spec written, as a runtime would have it), in one message whatever the runtime: runc
    // names SELinux, crun only a failed write to /proc.
    if (spec.process.selinuxLabel && !existsSync('/sys/fs/selinux/enforce')) {
      throw new NotSupported(`--security-opt label: SELinux is not enabled on this host, so the label ${spec.process.selinuxLabel} cannot be applied`);
    }
    // OCI hooks run during the runtime's create, and a library's preStart before it: either may look at
    // the network, so for them it is complete first (docker wires it in a prestart hook of its own).
    if (spec.hooks || engine.options.hooks?.preStart) {
      await networked;
      if (bridged && !ownNetns) rewriteHosts(engine, engine.containers.get(row.id)!);
    }
    await engine.options.hooks?.preStart?.(row);
    ready.resolve();
  } catch (e) {
    // Let a network setup still in flight finish, so the caller's teardown sees all it made.
    await networked.catch(() => {});
    ready.reject(e);
    throw e;
  }
  // Both settle before either's failure is reported: the caller's teardown must see all the networks made.
  // A network that failed is the cause (a runtime that failed meanwhile met its namespace going away).
  const [made, wired] = await Promise.allSettled([created, networked]);
  if (wired.status === 'rejected') {
    if (made.status === 'fulfilled') await engine.driverFor(row)?.delete(row.id, true).catch(() => {});
    throw wired.reason;
  }
  if (made.status === 'rejected') throw made.reason;
  const c = made.value;
  trace('init: created');
  if (bridged && !ownNetns) {
    rewriteHosts(engine, engine.containers.get(row.id)!);
    trace('init: networks');
  }
  if (ownNetns) {
    try {
      await setupNetworks(engine, row, c.pid);
      rewriteHosts(engine, engine.containers.get(row.id)!);
    } catch (e) {
      await engine.driverFor(row)?.delete(row.id, true).catch(() => {});
      throw e;
    }
  }
  engine.containers.update(row.id, {
    pid: c.pid,
    pidStart: procStartTime(c.pid) ?? 0,
    monitorPid: c.monitorPid,
    monitorStart: procStartTime(c.monitorPid) ?? 0,
  });
}

/** Undo the runtime side of a container: the runtime's record, the monitor, the rootfs mount. */
export async function tearDown(engine: EngineCore, row: ContainerRow, runtimeToo = false): Promise<void> {
  // Independent of each other: the runtime's record and cgroup, our rootfs mount, the networks.
  const fresh = engine.containers.get(row.id);
  const parts: Promise<unknown>[] = [engine.rootfsOf(row).unmount(join(engine.dir(row.id), 'rootfs'), row.mounted)];
  if (fresh?.net.netns) parts.push(teardownNetworks(engine, fresh));
  // An exited container whose mount is released was torn down already (the flag is cleared only after the
  // runtime's delete succeeded): a second delete would only spend a runtime process (`rm` after `stop`).
  // (`row` is as the caller found it: a remove has marked the record `removing` since.)
  const tornDown = row.state === 'exited' && fresh !== undefined && !fresh.mounted && fresh.pid === 0;
  if (runtimeToo || (!tornDown && (row.monitorPid !== 0 || row.pid !== 0 || row.state !== 'created'))) {
    trace('teardown: runtime delete, unmount');
    parts.push(engine.driverFor(row)?.delete(row.id, true) ?? Promise.resolve());
  }
  await Promise.all(parts);
  if (row.config.isolation?.ipc === 'shareable') await unmount(join(engine.dir(row.id), 'shm'));
  if (row.config.mounts.some((m) => m.type === 'volume')) await releaseVolumes(engine, row);
  trace('teardown: done');
  // The monitor is not waited for: it may be running our exit command, which waits for this very lock.
  // monitorPid stays: it names the last run's monitor, which remove waits for.
  engine.containers.update(row.id, { mounted: false, pid: 0, pidStart: 0 });
}

/**
 * The overlay's lower dirs for a container: the image's layers, or for a user-namespaced container its
 * own copies shifted into its id range (with its upper dir owned by its root).
 */
export async function lowerDirsFor(engine: EngineCore, row: ContainerRow, img: ImageRow): Promise<string[]> {
  const userns = row.config.isolation?.userns;
  if (!userns) return engine.images.lowerDirs(img);
  const d = engine.dir(row.id);
  // The runtime mounts the rootfs as the namespace's root, a host id without rights on 0700 dirs:
  // let it pass through (not list) the engine's directories on the way.
  for (const p of [engine.root, join(engine.root, 'containers'), d, join(engine.root, 'volumes')]) {
    if (existsSync(p)) chmodSync(p, 0o711);
  }
  lchownSync(join(d, 'diff'), toHost(0, userns.uidMappings), toHost(0, userns.gidMappings));
  return mappedLowerDirs(d, engine.images.lowerDirs(img), userns.uidMappings, userns.gidMappings);
}

