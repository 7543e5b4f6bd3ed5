/**
 * EngineCore: what every engine verb stands on, and nothing that is a verb. The store's repositories (opened
 * lazily: a CLI verb pays only for what it touches), the runtime drivers and the host's cgroup facts, the
 * engine's configuration, the paths of a container's files, lookup, the per-container lock, and
 * reconciliation of a row with what its monitor recorded (sync). The verbs (src/engine/verbs/, and the
 * Engine facade in engine.ts) take it as their context; modules that need only part of it say so with Pick.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { join } from 'node:path';
import { Conflict, InvalidArgument, NoSuchContainer, NotSupported, RuntimeFailure } from '../errors.ts';
import { ImageStore } from '../image/store.ts';
import { logFile, logTarget } from '../logs/drivers.ts';
import type { RegistryOptions } from '../registry/client.ts';
import { probeCgroupFeatures, type CgroupFeatures } from '../runtime/cgroup-features.ts';
import type { AttachStream, LogTarget, MonitorExit, RuntimeDriver } from '../runtime/driver.ts';
import { OciDriver } from '../runtime/oci.ts';
import { cgroupInfo, chooseRuntime, probeRuntimes, type CgroupInfo, type RuntimeCandidate } from '../runtime/probe.ts';
import { BuildCacheRepo } from '../store/build-cache.ts';
import { ContainerRepo, type ContainerRow } from '../store/containers.ts';
import { openDb, type Db } from '../store/db.ts';
import { EventRepo, type EventType } from '../store/events.ts';
import { ExecRepo } from '../store/exec-sessions.ts';
import { ImageRepo } from '../store/images.ts';
import { NetworkRepo } from '../store/networks.ts';
import { PodRepo } from '../store/pods.ts';
import { VolumeRepo } from '../store/volumes.ts';
import { isAlive, selfIdentity } from '../sys/proc.ts';
import { VolumeStore } from '../volume/store.ts';
import { readDaemonConfig, type DaemonConfig } from './daemon-config.ts';
import { containerAttributes } from './events.ts';
import { launcher } from './host.ts';
import { defaultRoot, userPaths } from './user-paths.ts';
import { UserNetwork } from '../network/user-net.ts';
import { rootlessUser } from '../sys/user-namespace.ts';
import { makeRootLayout } from './root-layout.ts';
import { mounterFor, type RootfsMounter } from './rootfs.ts';
import { chooseStorageDriver, parseStorageDriver, storageHost, type StorageChoice } from './storage-driver.ts';
import { mayExit, move } from './state.ts';
import { sleep } from './wait.ts';

/** Library lifecycle callbacks (the execution driver's PreStart/Start/PostStop hooks). */
export interface LifecycleHooks {
  /** Before the runtime creates the container; a throw aborts the start. */
  preStart?(c: ContainerRow): void | Promise<void>;
  /** After the container's process is running. */
  start?(c: ContainerRow): void | Promise<void>;
  /** After the container exited and its runtime state was cleaned up. */
  postStop?(c: ContainerRow): void | Promise<void>;
}

export interface EngineOptions {
  /** Engine root: state database, layers, containers (default /var/lib/berth or $BERTH_ROOT). */
  root?: string;
  /** Default runtime (crun | runc); probed from the host when unset. */
  runtime?: string;
  /** Directory of OCI hook JSON files (default <root>/hooks.d). */
  hooksDir?: string;
  hooks?: LifecycleHooks;
  /** argv prefix the monitor runs as the exit command (`… container cleanup ID` is appended); default bin/berth --root ROOT. */
  exitCommand?: string[];
  /** Where notices go (repairs the engine made): default stderr. */
  notice?: (msg: string) => void;
  /** Where warnings go (settings this host discards, as docker warns): default stderr. */
  warn?: (msg: string) => void;
  /**
   * One runtime driver for every container instead of the host's OCI runtimes, its name the containers'
   * runtime: how the engine's own logic is tested without root (src/runtime/fake.ts).
   */
  driver?: RuntimeDriver;
  /** How a container's root filesystem is made (default: an overlay mount; see src/engine/rootfs.ts). */
  rootfs?: RootfsMounter;
  /** The storage driver new containers get (`--storage-driver`): overlay or fuse-overlayfs; else daemon.json's, else the host's best. */
  storageDriver?: string;
}

export interface StartOptions {
  /** The caller waits for the exit and cleans up itself (a foreground run): no exit command. */
  attached?: boolean;
  /**
   * Called once the runtime has created the container and before its process runs: the moment to connect
   * to its stdio (`connect`, once per client), since the monitor replays no output.
   */
  beforeStart?: (c: ContainerRow, connect: () => Promise<AttachStream>) => Promise<void>;
  /** Pass this process's fds 3…3+N-1 on to the container's process (`--preserve-fds`). */
  preserveFds?: number;
  /**
   * A restart policy's start: the wait before the next restart goes on doubling. A user's start (without
   * this) starts the wait over and forgets that the user stopped the container.
   */
  byPolicy?: boolean;
}

/** Told of each restart a cleanup in this process schedules (set by a supervisor running in it). */
export interface RestartListener {
  restartDue(id: string, at: string): void;
}

/** The container locks the current async operation holds (see Engine.withLock). */
const heldLocks = new AsyncLocalStorage<ReadonlySet<string>>();

export abstract class EngineCore {
  readonly root: string;
  /**
   * The user this engine works for as root of that user's namespace (an ordinary user's Berth, started through
   * berth-userns), or undefined for the host's root. Its containers get no cgroup of their own: none is delegated.
   */
  readonly rootlessUser: number | undefined = rootlessUser();
  /** An ordinary user's bridge networks, in a network namespace of the user's own (src/network/user-net.ts). */
  readonly userNetwork: UserNetwork | undefined = this.rootlessUser === undefined ? undefined : new UserNetwork(userPaths(process.env, this.rootlessUser).run);
  readonly options: EngineOptions;
  /** The monitor runs this (plus `container cleanup ID`) when a container exits. */
  readonly exitCommand: string[];
  private dbHandle?: Db;
  private containerRepo?: ContainerRepo;
  private imageStore?: ImageStore;
  private execRepo?: ExecRepo;
  private volumeStore?: VolumeStore;
  private networkRepo?: NetworkRepo;
  private podRepo?: PodRepo;
  private buildCacheRepo?: BuildCacheRepo;
  private eventRepo?: EventRepo;
  private cgroup?: CgroupInfo;
  private features?: CgroupFeatures;
  private daemonConfig?: DaemonConfig;
  private storage?: StorageChoice;
  private drivers = new Map<string, RuntimeDriver>();
  private closed = false;
  private readonly containerWatchers = new Set<(id: string) => void>();
  /** The supervisor running in this process, if any (src/engine/supervisor.ts). */
  restartListener?: RestartListener;

  constructor(options: EngineOptions = {}) {
    this.options = options;
    this.root = options.root ?? process.env.BERTH_ROOT ?? defaultRoot();
    // A postStop callback can only run in this process: without an explicit exit command, such an
    // engine cleans up itself when it sees the exit (wait, list, any verb) instead of the monitor's command.
    this.exitCommand = options.exitCommand ?? (options.hooks?.postStop ? [] : [launcher(), '--root', this.root]);
  }

  /** Finish what a process killed while holding a container's lock left undone (see verbs/repair.ts). */
  protected abstract repairStale(row: ContainerRow, deadPid: number): Promise<void>;

  get db(): Db {
    // A closed engine stays closed: a late callback (a detached exec's exit) must not reopen the store,
    // and so recreate a root its owner has since removed.
    if (this.closed) throw new RuntimeFailure('the engine is closed');
    if (!this.dbHandle) {
      makeRootLayout(this.root);
      const path = join(this.root, 'berth.db');
      try {
        this.dbHandle = openDb(path);
      } catch (e) {
        // Damaged beyond SQLite's reading (SQLITE_CORRUPT, SQLITE_NOTADB): no verb can work on this root.
        const code = (e as { errcode?: unknown }).errcode;
        if (code !== 11 && code !== 26) throw e;
        throw new RuntimeFailure(`the state database ${path} cannot be read (${(e as Error).message}): \`berth system reset\` starts the root afresh`, { cause: e });
      }
    }
    return this.dbHandle;
  }

  get containers(): ContainerRepo {
    return (this.containerRepo ??= new ContainerRepo(this.db));
  }

  get execs(): ExecRepo {
    return (this.execRepo ??= new ExecRepo(this.db));
  }

  get networks(): NetworkRepo {
    return (this.networkRepo ??= new NetworkRepo(this.db));
  }

  /** Pods (src/engine/pods/). */
  get pods(): PodRepo {
    return (this.podRepo ??= new PodRepo(this.db));
  }

  /** The build cache (src/engine/build/). */
  get buildCache(): BuildCacheRepo {
    return (this.buildCacheRepo ??= new BuildCacheRepo(this.db));
  }

  /** The event log (`events`, the API's /events). */
  get events(): EventRepo {
    return (this.eventRepo ??= new EventRepo(this.db));
  }

  /** Record an event. What happened stands even if it cannot be recorded (the engine was closed meanwhile). */
  emit(type: EventType, action: string, actor: string, attributes: Record<string, string> = {}): void {
    if (!this.closed) this.events.record(type, action, actor, attributes);
  }

  /** Record a container event with docker's attributes (labels, image, name, then `extra`). */
  emitContainer(row: ContainerRow, action: string, extra: Record<string, string> = {}): void {
    this.emit('container', action, row.id, containerAttributes(row, extra));
    for (const w of this.containerWatchers) w(row.id);
  }

  /**
   * Be told, in this process, of each container event this engine records (its container's id): a waiter
   * then looks again at once rather than at its next poll. Returns the unsubscribe.
   */
  watchContainers(listener: (id: string) => void): () => void {
    this.containerWatchers.add(listener);
    return () => this.containerWatchers.delete(listener);
  }

  get volumes(): VolumeStore {
    return (this.volumeStore ??= new VolumeStore(this.root, new VolumeRepo(this.db)));
  }

  get images(): ImageStore {
    // The size caps come from the configuration, read when a pull, load or import first needs them.
    return (this.imageStore ??= new ImageStore(this.root, new ImageRepo(this.db), () => this.config()));
  }

  /** How new root filesystems are made (EngineOptions.rootfs, else the storage driver's mount). */
  get rootfs(): RootfsMounter {
    return this.options.rootfs ?? mounterFor(this.storageDriver().name);
  }

  /** How a container's root filesystem is made: with the storage driver it was created with. */
  rootfsOf(row: ContainerRow): RootfsMounter {
    return this.options.rootfs ?? mounterFor(row.config.storageDriver ?? 'overlay');
  }

  /** The storage driver new containers get, and why (src/engine/storage-driver.ts); chosen once per engine. */
  storageDriver(): StorageChoice {
    if (this.storage) return this.storage;
    const flag = this.options.storageDriver;
    const file = this.config().storageDriver;
    const asked = flag !== undefined
      ? { name: parseStorageDriver(flag, '--storage-driver'), by: '--storage-driver' }
      : file !== undefined ? { name: file, by: `${this.config().file} ("storage-driver")` } : undefined;
    return (this.storage = chooseStorageDriver(asked, storageHost(this.rootlessUser !== undefined)));
  }

  cgroups(): CgroupInfo {
    return (this.cgroup ??= cgroupInfo());
  }

  /**
   * The limits this host's cgroups can take, file by file; probed once per engine (a `berth serve` sees a
   * scheduler loaded after it started only when restarted, as dockerd does).
   */
  cgroupFeatures(): CgroupFeatures {
    return (this.features ??= probeCgroupFeatures(this.cgroups().version));
  }

  close(): void {
    this.closed = true;
    this.dbHandle?.close();
    this.dbHandle = undefined;
    this.containerRepo = undefined;
    this.imageStore = undefined;
    this.execRepo = undefined;
    this.volumeStore = undefined;
    this.networkRepo = undefined;
    this.podRepo = undefined;
    this.buildCacheRepo = undefined;
    this.eventRepo = undefined;
  }

  /** The engine's configuration file (docker's daemon.json keys: runtimes, registries; size caps), read once. */
  config(): DaemonConfig {
    return (this.daemonConfig ??= readDaemonConfig(this.root));
  }

  /** Registry settings from the configuration; `credentials` (a caller's own, by registry) are kept nowhere. */
  registryOptions(credentials?: RegistryOptions['credentials']): RegistryOptions {
    const cfg = this.config();
    const hostOf = (u: string) => u.replace(/^[a-z]+:\/\//, '').replace(/\/+$/, '');
    const mirrors = cfg.registryMirrors.map(hostOf);
    const all = [...cfg.registryMirrors, ...Object.values(cfg.registryMirrorsOf).flat()];
    // A mirror given as http:// is meant to be reached over http.
    const insecure = [...cfg.insecureRegistries.map(hostOf), ...all.filter((m) => m.startsWith('http://')).map(hostOf)];
    const byHost = Object.fromEntries(Object.entries(cfg.registryMirrorsOf).map(([host, list]) => [host, list.map(hostOf)]));
    return {
      insecure,
      mirrors: { ...(mirrors.length ? { 'docker.io': mirrors } : {}), ...byHost },
      downloadAttempts: cfg.maxDownloadAttempts,
      uploadAttempts: cfg.maxUploadAttempts,
      ...(credentials ? { credentials } : {}),
    };
  }

  /** The runtimes (built in and configured) and the default one, with reasons. */
  runtimes(): { candidates: RuntimeCandidate[]; chosen?: RuntimeCandidate; why: string } {
    const given = this.options.driver;
    if (given) {
      const only: RuntimeCandidate = { name: given.name, path: given.path, runtimeArgs: [], kind: 'other', usable: true, reason: 'given to the engine' };
      return { candidates: [only], chosen: only, why: `${given.name}: given to the engine` };
    }
    const cfg = this.config();
    const user = this.rootlessUser;
    const rootless = user === undefined ? undefined : { runDir: userPaths(process.env, user).run };
    const candidates = probeRuntimes(this.cgroups(), cfg.runtimes, cfg.file, undefined, rootless);
    const named = this.options.runtime ?? cfg.defaultRuntime;
    if (named) {
      const c = candidates.find((x) => x.name === named);
      const where = this.options.runtime ? "the engine's options" : `"default-runtime" in ${cfg.file}`;
      return { candidates, chosen: c, why: c ? `${named}: set by ${where}` : `the default runtime ${named} (set by ${where}) is not a known runtime` };
    }
    return { candidates, ...chooseRuntime(candidates) };
  }

  /** A driver for `name` (or the default), refusing a runtime that cannot work here with its reason. */
  driver(name?: string): RuntimeDriver {
    const { candidates, chosen, why } = this.runtimes();
    const cand = name ? candidates.find((c) => c.name === name) : chosen;
    if (!cand) {
      if (name) throw new InvalidArgument(`unknown or invalid runtime name: ${name} (known: ${candidates.map((c) => c.name).join(', ')})`);
      throw new NotSupported(why);
    }
    if (!cand.usable) throw new NotSupported(`runtime ${cand.name} cannot run containers here: ${cand.reason}`);
    let d = this.drivers.get(cand.name);
    if (!d) {
      d = this.options.driver ?? OciDriver.of(cand, { seccompCacheDir: join(this.root, 'seccomp'), cgroupless: this.rootlessUser !== undefined });
      this.drivers.set(cand.name, d);
    }
    return d;
  }

  /** The container's cgroup, relative to each hierarchy's root. */
  cgroupPath(row: ContainerRow): string {
    return `${row.config.cgroupParent ?? '/berth'}/${row.id}`.replace(/^\/\//, '/');
  }

  hooksDir(): string {
    return this.options.hooksDir ?? join(this.root, 'hooks.d');
  }

  dir(id: string): string {
    return join(this.root, 'containers', id);
  }

  /** The container's log: its driver, file, rotation and attributes (src/logs/drivers.ts). */
  logTarget(row: ContainerRow): LogTarget {
    const c = row.config;
    const target = logTarget({
      dir: this.dir(row.id), driver: c.logDriver ?? 'k8s-file', options: c.logOptions ?? {}, labels: c.labels, env: c.env,
      id: row.id, name: row.name, imageName: c.image, imageId: row.imageId,
    });
    if (!c.logOptions && c.logSizeMax) target.maxSize = c.logSizeMax; // made before logOptions were stored
    return target;
  }

  /** inspect's LogPath: json-file's file (as docker gives it) or k8s-file's; '' for the other drivers. */
  logPath(row: ContainerRow): string {
    const driver = row.config.logDriver ?? 'k8s-file';
    return driver === 'json-file' || driver === 'k8s-file' ? (logFile(driver, this.dir(row.id), row.id, row.config.logOptions) ?? '') : '';
  }

  /** Find a container by full id, name or unique id prefix. */
  find(ref: string): ContainerRow {
    if (!ref) throw new InvalidArgument('container name or ID cannot be empty');
    const { row, ambiguous } = this.containers.lookup(ref);
    if (ambiguous) throw new InvalidArgument(`multiple IDs found with provided prefix: ${ref}`);
    if (!row) throw new NoSuchContainer(ref);
    return row;
  }

  /**
   * Run fn holding the container's lock: a (pid, start time) pair in its row, so a holder killed midway
   * releases it by dying. A stale holder's unfinished work is repaired before fn runs.
   */
  async withLock<T>(ref: string, fn: (row: ContainerRow) => Promise<T>, timeoutMs = 60_000): Promise<T> {
    const me = selfIdentity();
    const id = this.find(ref).id;
    const deadline = Date.now() + timeoutMs;
    // Reentrant only within the operation that holds it: another request of this same process (an API
    // server, a library user's concurrent calls) waits like any other holder.
    const held = heldLocks.getStore();
    let reentrant = false;
    for (;;) {
      const row = this.containers.get(id);
      if (!row) throw new NoSuchContainer(ref);
      const mine = row.lockPid === me.pid && row.lockStart === me.start;
      if (mine && held?.has(id)) {
        reentrant = true;
        break;
      }
      const free = !mine && (row.lockPid === 0 || !isAlive(row.lockPid, row.lockStart));
      if (free) {
        if (this.containers.casLock(id, row.lockPid, row.lockStart, me.pid, me.start)) {
          if (row.lockPid !== 0) await this.repairStale({ ...row, lockPid: me.pid, lockStart: me.start }, row.lockPid);
          break;
        }
        continue;
      }
      if (Date.now() > deadline) throw new Conflict(`container ${ref} is busy (locked by process ${row.lockPid})`);
      await sleep(15);
    }
    try {
      const row = this.containers.get(id);
      if (!row) throw new NoSuchContainer(ref);
      if (reentrant) return await fn(this.sync(row));
      return await heldLocks.run(new Set([...(held ?? []), id]), () => fn(this.sync(row)));
    } finally {
      if (!reentrant) this.containers.update(id, { lockPid: 0, lockStart: 0 });
    }
  }

  /** Bring a row up to date with the monitor's record and process liveness. Idempotent; no lock needed. */
  sync(row: ContainerRow): ContainerRow {
    if (!mayExit(row.state) || row.monitorPid === 0) return row;
    // A start in progress records an early exit itself, once it has marked the container running: a
    // reader that did it first would be overwritten, and the exit reported twice.
    if (row.state === 'created' && row.lockPid !== 0 && isAlive(row.lockPid, row.lockStart)) return row;
    // The monitor records the exit and then exits. Observe liveness once, before the read: a monitor seen
    // gone whose record is still missing then truly left none (a record written after the read belongs to a
    // monitor that was alive at the check).
    const monitorGone = !isAlive(row.monitorPid, row.monitorStart);
    const seen = this.watcher(row).observe(this.dir(row.id), row.id);
    const exit = seen.exit;
    if (exit) {
      const patch = {
        exitCode: exit.code,
        oomKilled: seen.oomKilled,
        // The exit file's mtime comes from the kernel's coarse clock, which may read a few ms behind the
        // StartedAt taken before the start: a container that exits at once would seem to finish before it began.
        finishedAt: exit.time < row.startedAt ? row.startedAt : exit.time,
        pid: 0,
        pidStart: 0,
      };
      const [exited, guard] = move('exit', patch);
      if (this.containers.update(row.id, exited, guard) > 0) {
        if (patch.oomKilled) this.emitContainer(row, 'oom');
        this.emitContainer(row, 'die', { exitCode: String(exit.code) });
      }
      return { ...row, ...exited };
    }
    if (monitorGone) {
      // The monitor is gone without recording an exit (killed, or the host rebooted): the container cannot be trusted alive.
      const alive = row.pid > 0 && isAlive(row.pid, row.pidStart);
      if (!alive) {
        const patch = {
          exitCode: -1,
          error: 'the monitor exited without reporting an exit status',
          finishedAt: new Date().toISOString(),
          pid: 0,
          pidStart: 0,
        };
        const [exited, guard] = move('exit', patch);
        if (this.containers.update(row.id, exited, guard) > 0) this.emitContainer(row, 'die', { exitCode: '-1' });
        return { ...row, ...exited };
      }
    }
    return row;
  }

  /** The exit the container's monitor recorded, if any. */
  recordedExit(row: ContainerRow): MonitorExit | null {
    return this.watcher(row).observe(this.dir(row.id), row.id).exit;
  }

  /**
   * The driver that watches a container: its runtime's, or, for a runtime no longer configured, the default
   * one, which still reads the same monitor's files. Cached drivers first: sync runs for every listed row.
   */
  watcher(row: ContainerRow): RuntimeDriver {
    return this.drivers.get(row.config.runtime) ?? this.driverFor(row) ?? this.driver();
  }

  monitorGone(row: ContainerRow): boolean {
    return row.monitorPid === 0 || !isAlive(row.monitorPid, row.monitorStart);
  }

  warn(msg: string): void {
    (this.options.warn ?? ((m: string) => process.stderr.write(`WARNING: ${m}\n`)))(msg);
  }

  notice(msg: string): void {
    (this.options.notice ?? ((m: string) => process.stderr.write(`berth: ${m}\n`)))(msg);
  }

  /** A container by full id, brought up to date; undefined when there is none. (Internal to src/engine.) */
  lookupSynced(id: string): ContainerRow | undefined {
    const r = this.containers.get(id);
    return r ? this.sync(r) : undefined;
  }

  /** The container's runtime driver, or undefined when it cannot be had now. (Internal to src/engine.) */
  driverFor(row: ContainerRow): RuntimeDriver | undefined {
    try {
      return this.driver(row.config.runtime);
    } catch {
      return undefined;
    }
  }

  /** What a container exited with last, from its `die` event: still known after it was removed. */
  exitCodeOf(id: string): number | undefined {
    return this.events.lastExitCode(id);
  }

  inspect(ref: string): ContainerRow {
    return this.sync(this.find(ref));
  }
}
