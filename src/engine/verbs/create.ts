/** `create`: a container made from its image and options, atomically (on failure nothing is left). */
import type { ContainerConfig } from '../../types.ts';
import { mkdirSync } from 'node:fs';
import { isIP } from 'node:net';
import { join } from 'node:path';
import { NameConflict, NoSuchContainer, NotFound, NotSupported } from '../../errors.ts';
import type { ContainerRow } from '../../store/containers.ts';
import { selfIdentity } from '../../sys/proc.ts';
import { rootlessIds } from '../../sys/user-namespace.ts';
import { trace } from '../../sys/trace.ts';
import { buildConfig, type CreateOptions } from '../config.ts';
import type { EngineCore } from '../core.ts';
import { loadHooks } from '../hooks.ts';
import { initBinary } from '../host.ts';
import { inheritMounts } from '../mounts.ts';
import { newId, randomName, validateName } from '../names.ts';
import { findNetwork } from '../networks.ts';
import { assertTunOpens } from '../../network/user-net.ts';
import { hostFacts } from '../resources.ts';
import { move } from '../state.ts';
import { dropVolumes, ensureVolumes } from '../volumes.ts';
import { removeFiles } from './teardown.ts';
import { filesystemOf } from '../../sys/mount.ts';
import { findPod } from '../pods/find.ts';
import { memberOptions, pinnedModes } from '../pods/member.ts';
import { withPodLock } from '../pods/lock.ts';

/** Create a container (state `created`); nothing runs yet. Atomic: on failure nothing is left. */
export async function create(engine: EngineCore, opts: CreateOptions): Promise<ContainerRow> {
  if (opts.pod === undefined || opts.pod === '') return createContainer(engine, opts, opts.podInfra);
  const pod = findPod(engine, opts.pod);
  // Under the pod's lock, which `pod rm` holds while it removes the pod's containers: this one is either made
  // before the removal looks, and removed with the pod, or refused once the pod is gone.
  const gone = () => new NotFound(`no pod with name or ID ${opts.pod} found: no such pod`);
  try {
    return await withPodLock(engine, pod, async () => {
      if (!engine.pods.get(pod.id)) throw gone();
      const joined = pod.config.pinned ? pinnedModes(engine, pod) : undefined;
      return createContainer(engine, memberOptions(pod, opts, engine.containers.get(pod.config.infraId)?.config.isolation, joined), pod.id);
    });
  } catch (e) {
    throw e instanceof NoSuchContainer ? gone() : e;
  }
}

async function createContainer(engine: EngineCore, opts: CreateOptions, podId: string | undefined): Promise<ContainerRow> {
  trace('create: begin');
  const img = engine.images.resolve(opts.image);
  const runtime = opts.runtime ?? engine.runtimes().chosen?.name;
  engine.driver(runtime); // refuse an unusable runtime before anything is written
  const inherited = (opts.volumesFrom ?? []).flatMap((spec) => inheritMounts(spec, engine.find(spec.split(':')[0]!).config.mounts));
  const { config, warnings, volumes } = buildConfig(opts, img, {
    images: engine.images,
    runtime: runtime!,
    host: hostFacts(engine.cgroups().version, () => engine.cgroupFeatures()),
    inherited,
    newVolumeName: newId,
    containerId: (ref) => engine.find(ref).id,
    network: (name) => findNetwork(engine, name),
    container: (ref) => engine.find(ref),
    logDefaults: { driver: engine.config().logDriver, options: engine.config().logOpts },
    storageFs: () => filesystemOf(engine.root),
    cgroupVersion: engine.cgroups().version,
    rootless: engine.rootlessUser !== undefined ? rootlessIds() : undefined,
    usedIds: () => {
      const maps = engine.containers.list().flatMap((c) => (c.config.isolation?.userns ? [c.config.isolation.userns] : []));
      return { uid: maps.flatMap((m) => m.uidMappings), gid: maps.flatMap((m) => m.gidMappings) };
    },
  });
  if (podId !== undefined) config.pod = podId;
  // The storage driver is the container's for good; one that cannot mount here is refused before anything is made.
  const storage = engine.storageDriver();
  if (storage.problem && !engine.options.rootfs) throw new NotSupported(storage.problem);
  if (storage.name !== 'overlay') config.storageDriver = storage.name;
  if (engine.rootlessUser !== undefined) rootlessChecks(engine, config, warnings);
  if (config.cgroups === 'disabled' && !engine.driver(runtime).features().supportsNoCgroups) {
    throw new NotSupported(`${runtime} cannot run a container without cgroups: --cgroups disabled needs crun`);
  }
  for (const w of warnings) engine.warn(w);
  if (config.init && !initBinary()) throw new NotSupported('--init needs catatonit or tini-static (apt-get install catatonit)');
  loadHooks(engine.hooksDir(), config); // a malformed hooks file fails the create, not a later start
  const id = newId();
  const me = selfIdentity();
  let name = opts.name !== undefined ? validateName(opts.name) : randomName();
  const madeVolumes = ensureVolumes(engine, volumes);
  for (let attempt = 0; ; attempt++) {
    try {
      engine.containers.insert({ id, name, imageId: img.id, config, state: 'creating', createdAt: new Date().toISOString(), lockPid: me.pid, lockStart: me.start });
      break;
    } catch (e) {
      if (opts.name === undefined && attempt < 20 && e instanceof NameConflict) {
        name = randomName();
        continue;
      }
      await dropVolumes(engine, madeVolumes);
      throw e;
    }
  }
  try {
    const d = engine.dir(id);
    mkdirSync(d, { mode: 0o700 });
    // overlayfs shows the upper dir's mode as the container's `/`: it must be 0755 like an image root.
    for (const sub of ['diff', 'rootfs']) mkdirSync(join(d, sub), { mode: 0o755 });
    mkdirSync(join(d, 'work'), { mode: 0o700 });
    engine.containers.update(id, ...move('create', { lockPid: 0, lockStart: 0 }));
  } catch (e) {
    await removeFiles(engine, id);
    engine.containers.delete(id);
    await dropVolumes(engine, madeVolumes);
    throw e;
  }
  const made = engine.containers.get(id)!;
  engine.emitContainer(made, 'create');
  return made;
}

/**
 * An ordinary user's container (src/engine/rootless.ts): a bridge network lives in the user's own network
 * namespace, whose way out (slirp4netns) needs /dev/net/tun the first time, so where the user cannot open it
 * the container is refused before anything is made; the host's pid and IPC namespaces are refused (the user's
 * namespace may not mount their proc or mqueue); cgroup limits (none is delegated to the user) are dropped
 * with a warning as podman drops them.
 */
function rootlessChecks(engine: EngineCore, config: ContainerConfig, warnings: string[]): void {
  if (config.isolation?.network === 'bridge' && engine.userNetwork?.helperPid() === undefined) assertTunOpens();
  const v6 = config.networking?.ports?.find((p) => isIP(p.hostIP ?? '') === 6);
  if (v6) throw new NotSupported(`cannot publish [${v6.hostIP}]:${v6.hostPort}: an ordinary user's published ports listen on IPv4 addresses only (slirp4netns forwards them)`);
  for (const [flag, ns] of [['--pid', config.isolation?.pid], ['--ipc', config.isolation?.ipc]] as const) {
    if (ns === 'host') throw new NotSupported(`${flag} host: an ordinary user's container cannot share the host's ${flag.slice(2)} namespace (the user's namespace may not mount its ${flag === '--pid' ? 'proc' : 'mqueue'})`);
  }
  const r = config.resources;
  const limited = Object.entries(r).some(([k, v]) => v !== undefined && !(Array.isArray(v) && v.length === 0) && k !== 'oomKillDisable');
  if (limited) warnings.push('resource limits are not supported and ignored for an ordinary user here: no cgroup is delegated to the user');
}
