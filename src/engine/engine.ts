/**
 * The Engine: the one writer of container state, shared by the CLI, the API server and library users.
 * Stored state is a cache of the truth (the monitor's record of the exit, the pid's identity, the runtime); every verb
 * re-checks it under the container's lock before acting.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import {
  Conflict,
  InvalidArgument,
  NoSuchContainer,
  NotSupported,
  RuntimeFailure,
  isBerthError,
  type BerthError,
} from '../errors.ts';
import { ImageStore } from '../image/store.ts';
import type { AttachStream, LogReadOptions, LogRecord, MonitorExit, RuntimeDriver } from '../runtime/driver.ts';
import { OciDriver } from '../runtime/oci.ts';
import { cgroupInfo, chooseRuntime, probeRuntimes, type CgroupInfo, type RuntimeCandidate } from '../runtime/probe.ts';
import { probeCgroupFeatures, type CgroupFeatures } from '../runtime/cgroup-features.ts';
import { ContainerRepo, type ContainerRow } from '../store/containers.ts';
import { openDb, type Db } from '../store/db.ts';
import { ImageRepo } from '../store/images.ts';
import { pullImage, type PullOptions, type PullResult } from '../image/pull.ts';
import { pushImage, type PushOptions, type PushResult } from '../image/push.ts';
import type { Credentials } from '../registry/authfile.ts';
import { RegistryClient, type RegistryOptions } from '../registry/client.ts';
import { parseImageName } from '../registry/reference.ts';
import { commitContainer, type CommitOptions } from './commit.ts';
import { ExecRepo, type ExecSessionRow } from '../store/exec-sessions.ts';
import { EventRepo, type EventType } from '../store/events.ts';
import { containerAttributes } from './events.ts';
import { VolumeRepo } from '../store/volumes.ts';
import { NetworkRepo } from '../store/networks.ts';
import { VolumeStore } from '../volume/store.ts';
import { dropVolumes, ensureVolumes, removeAnonymousVolumes } from './volumes.ts';
import { inheritMounts } from './mounts.ts';
import { findNetwork } from './networks.ts';
import { refreshPeers, settleWorkers, sweepNetworkOrphans } from './network-attach.ts';
import { bringUp, lowerDirsFor, tearDown } from './bundle.ts';
import { makeRootLayout } from './root-layout.ts';
import { topOf, type TopResult } from './top.ts';
import { checkFilters, matchesFilters, wantsStopped, type ContainerFilters } from './container-filters.ts';
import { overlayRootfs, type RootfsMounter } from './rootfs.ts';
import { readDaemonConfig, type DaemonConfig } from './daemon-config.ts';
import { canKill, canPause, canRemove, canStart, canStop, canUnpause, hasEnded, isLive, mayExit, move } from './state.ts';
import type { ImageRow } from '../store/images.ts';
import { trace } from '../sys/trace.ts';
import { initBinary, launcher } from './host.ts';
import { sleep, waitUntil } from './wait.ts';
import { waitForCondition, type WaitCondition, type WaitResult } from './wait-for.ts';
import { isAlive, procStartTime, selfIdentity } from '../sys/proc.ts';
import { buildConfig, type CreateOptions } from './config.ts';
import { execTarget, inspectExec, startExec, stopExec, type ExecHandle, type ExecOptions } from './exec.ts';
import { hostFacts, resolveResources, type ResourceOptions } from './resources.ts';
import { ociResources } from '../runtime/spec/resources.ts';
import { Container } from './container.ts';
import { loadHooks } from './hooks.ts';
import { newId, randomName, validateName } from './names.ts';
import { parseSignal, signalNumber } from './signals.ts';

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
}


/** The container locks the current async operation holds (see Engine.withLock). */
const heldLocks = new AsyncLocalStorage<ReadonlySet<string>>();

export class Engine {
  readonly root: string;
  readonly options: EngineOptions;
  /** The monitor runs this (plus `container cleanup ID`) when a container exits. */
  readonly exitCommand: string[];
  private dbHandle?: Db;
  private containerRepo?: ContainerRepo;
  private imageStore?: ImageStore;
  private execRepo?: ExecRepo;
  private volumeStore?: VolumeStore;
  private networkRepo?: NetworkRepo;
  private eventRepo?: EventRepo;
  private cgroup?: CgroupInfo;
  private features?: CgroupFeatures;
  private daemonConfig?: DaemonConfig;
  private drivers = new Map<string, RuntimeDriver>();
  private closed = false;

  constructor(options: EngineOptions = {}) {
    this.options = options;
    this.root = options.root ?? process.env.BERTH_ROOT ?? '/var/lib/berth';
    // A postStop callback can only run in this process: without an explicit exit command, such an
    // engine cleans up itself when it sees the exit (wait, list, any verb) instead of the monitor's command.
    this.exitCommand = options.exitCommand ?? (options.hooks?.postStop ? [] : [launcher(), '--root', this.root]);
  }

  // ---- wiring (lazy: a CLI verb pays only for what it touches) ----

  get db(): Db {
    // A closed engine stays closed: a late callback (a detached exec's exit) must not reopen the store,
    // and so recreate a root its owner has since removed.
    if (this.closed) throw new RuntimeFailure('the engine is closed');
    if (!this.dbHandle) {
      makeRootLayout(this.root);
      this.dbHandle = openDb(join(this.root, 'berth.db'));
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
  }
  get volumes(): VolumeStore {
    return (this.volumeStore ??= new VolumeStore(this.root, new VolumeRepo(this.db)));
  }
  get images(): ImageStore {
    return (this.imageStore ??= new ImageStore(this.root, new ImageRepo(this.db)));
  }
  /**
   * Pull an image from its registry (src/image/pull.ts). Registry settings come from the configuration;
   * `credentials` (a caller's own, such as an API request's X-Registry-Auth) serve the reference's registry
   * for this pull only, instead of the auth file's.
   */
  pull(ref: string, opts: Omit<PullOptions, 'registry'> & { credentials?: Credentials } = {}): Promise<PullResult> {
    const { credentials, ...rest } = opts;
    return pullImage(this.images, ref, { ...rest, registry: this.registryOptions(credentialsFor(ref, credentials)) });
  }

  /** Push a tagged image to its registry (src/image/push.ts); `credentials` as for pull. */
  push(ref: string, opts: Omit<PushOptions, 'registry'> & { credentials?: Credentials } = {}): Promise<PushResult> {
    const { credentials, ...rest } = opts;
    return pushImage(this.images, ref, { ...rest, registry: this.registryOptions(credentialsFor(ref, credentials)) });
  }

  /**
   * Check credentials against a registry (`docker login`); `store` keeps them in the docker-compatible auth
   * file (the API checks only: its clients keep their own). Refused credentials throw Unauthorized.
   */
  login(server: string, username: string, password: string, store = true): Promise<void> {
    return new RegistryClient(this.registryOptions()).login(server, username, password, store);
  }

  /** Forget a registry's stored credentials; false when there were none. */
  logout(server: string): boolean {
    return new RegistryClient(this.registryOptions()).logout(server);
  }

  /** Make an image of a container's changes (src/engine/commit.ts); returns the image id. */
  commit(ref: string, opts: CommitOptions = {}): Promise<string> {
    return commitContainer(this, ref, opts);
  }

  /** How container root filesystems are made (EngineOptions.rootfs, else an overlay mount). */
  get rootfs(): RootfsMounter {
    return this.options.rootfs ?? overlayRootfs;
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
    this.eventRepo = undefined;
  }

  /** The engine's configuration file (docker's daemon.json keys: runtimes, registries), read once. */
  config(): DaemonConfig {
    return (this.daemonConfig ??= readDaemonConfig(this.root));
  }

  /** Registry settings from the configuration; `credentials` (a caller's own, by registry) are kept nowhere. */
  registryOptions(credentials?: RegistryOptions['credentials']): RegistryOptions {
    const cfg = this.config();
    const hostOf = (u: string) => u.replace(/^[a-z]+:\/\//, '').replace(/\/+$/, '');
    const mirrors = cfg.registryMirrors.map(hostOf);
    // A mirror given as http:// is meant to be reached over http.
    const insecure = [...cfg.insecureRegistries.map(hostOf), ...cfg.registryMirrors.filter((m) => m.startsWith('http://')).map(hostOf)];
    return { insecure, mirrors: mirrors.length ? { 'docker.io': mirrors } : {}, ...(credentials ? { credentials } : {}) };
  }

  /** The runtimes (built in and configured) and the default one, with reasons. */
  runtimes(): { candidates: RuntimeCandidate[]; chosen?: RuntimeCandidate; why: string } {
    const given = this.options.driver;
    if (given) {
      const only: RuntimeCandidate = { name: given.name, path: given.path, runtimeArgs: [], kind: 'other', usable: true, reason: 'given to the engine' };
      return { candidates: [only], chosen: only, why: `${given.name}: given to the engine` };
    }
    const cfg = this.config();
    const candidates = probeRuntimes(this.cgroups(), cfg.runtimes, cfg.file);
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
      d = this.options.driver ?? new OciDriver(cand.name, cand.path, { runtimeArgs: cand.runtimeArgs, kind: cand.kind });
      this.drivers.set(cand.name, d);
    }
    return d;
  }

  // ---- paths ----

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
  /** Where the container's log is written (the monitor's format; see RuntimeDriver.readLog). */
  logPath(id: string): string {
    return join(this.dir(id), 'ctr.log');
  }

  // ---- lookup and locking ----

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

  // ---- reconciliation ----

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
        finishedAt: exit.time,
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
  private recordedExit(row: ContainerRow): MonitorExit | null {
    return this.watcher(row).observe(this.dir(row.id), row.id).exit;
  }

  /**
   * The driver that watches a container: its runtime's, or, for a runtime no longer configured, the default
   * one, which still reads the same monitor's files. Cached drivers first: sync runs for every listed row.
   */
  watcher(row: ContainerRow): RuntimeDriver {
    return this.drivers.get(row.config.runtime) ?? this.driverFor(row) ?? this.driver();
  }

  /** Finish what a process killed while holding a container's lock left undone. */
  private async repairStale(row: ContainerRow, deadPid: number): Promise<void> {
    // The dead holder's network plugins may still be at work (the monitor's exit command, run when the start
    // pipe closed, can be here within milliseconds of the kill): let them finish before undoing anything.
    const settled = row.net.netns ? settleWorkers([row.id]) : Promise.resolve();
    if (row.state === 'creating' || row.state === 'removing') {
      await settled;
      await this.teardownRuntime(row);
      this.removeFiles(row.id);
      this.containers.delete(row.id);
      this.notice(`cleaned up container ${row.id.slice(0, 12)} left half-made by an interrupted process (pid ${deadPid})`);
      return;
    }
    // The start it made (if any) is no longer in progress: an exit it left is this container's to record.
    const cur = this.sync({ ...row, lockPid: 0, lockStart: 0 });
    if (cur.state !== 'created') return;
    // Killed during a start: the monitor may have gone on (for conmon, the start pipe's EOF lets it run the runtime) before
    // its pid was recorded. Ask the runtime: a process that runs is adopted, anything less is undone.
    const st = await this.driverFor(cur)?.state(cur.id).catch(() => null);
    if (st && (st.status === 'running' || st.status === 'paused') && st.pid > 0) {
      const monitorPid = this.watcher(cur).monitorPid(this.dir(cur.id));
      const adopted = {
        startedAt: new Date().toISOString(),
        pid: st.pid,
        pidStart: procStartTime(st.pid) ?? 0,
        monitorPid,
        monitorStart: procStartTime(monitorPid) ?? 0,
      };
      this.containers.update(cur.id, ...move(st.status === 'running' ? 'adoptRunning' : 'adoptPaused', adopted));
      this.notice(`adopted container ${row.id.slice(0, 12)}: it was started by an interrupted process (pid ${deadPid})`);
      return;
    }
    if (!st && !cur.mounted && cur.monitorPid === 0 && !cur.net.netns) return;
    await settled;
    await this.teardownRuntime(cur, true);
    // The reset container never ran: the monitor of the interrupted start writes an exit file when the
    // runtime's delete kills its init, and a later sync must not take that for this container's exit.
    this.containers.update(cur.id, { monitorPid: 0, monitorStart: 0 });
    this.notice(`reset container ${row.id.slice(0, 12)}: its start was interrupted (pid ${deadPid})`);
  }

  /**
   * Repair every container whose lock holder died, and clean up exited containers still holding their
   * mount or runtime state (their exit command did not run). Verbs that list or create call this.
   */
  async repair(): Promise<void> {
    const me = selfIdentity();
    for (const row of this.containers.locked()) {
      if (row.lockPid === me.pid || isAlive(row.lockPid, row.lockStart)) continue;
      try {
        await this.withLock(row.id, async () => {}, 1000);
      } catch (e) {
        if (!(e instanceof NoSuchContainer)) throw e;
      }
    }
    // Only a mounted container can need this (listing just those keeps `ps` cheap with many containers).
    for (const row of this.containers.mounted()) {
      const cur = this.sync(row);
      if (cur.state === 'exited' && cur.mounted && cur.lockPid === 0 && this.monitorGone(cur)) {
        await this.cleanup(cur.id).catch((e: unknown) => {
          if (!(e instanceof NoSuchContainer)) throw e;
        });
      }
    }
    const swept = await sweepNetworkOrphans(this, (r) => r.lockPid !== 0 && isAlive(r.lockPid, r.lockStart));
    if (swept.length > 0) this.notice(`released network leftovers no container owns: ${swept.join(', ')}`);
  }

  private monitorGone(row: ContainerRow): boolean {
    return row.monitorPid === 0 || !isAlive(row.monitorPid, row.monitorStart);
  }

  private warn(msg: string): void {
    (this.options.warn ?? ((m: string) => process.stderr.write(`WARNING: ${m}\n`)))(msg);
  }

  private notice(msg: string): void {
    (this.options.notice ?? ((m: string) => process.stderr.write(`berth: ${m}\n`)))(msg);
  }

  // ---- create ----

  /** Create a container (state `created`); nothing runs yet. Atomic: on failure nothing is left. */
  async create(opts: CreateOptions): Promise<ContainerRow> {
    trace('create: begin');
    const img = this.images.resolve(opts.image);
    const runtime = opts.runtime ?? this.runtimes().chosen?.name;
    this.driver(runtime); // refuse an unusable runtime before anything is written
    const inherited = (opts.volumesFrom ?? []).flatMap((spec) => inheritMounts(spec, this.find(spec.split(':')[0]!).config.mounts));
    const { config, warnings, volumes } = buildConfig(opts, img, {
      images: this.images,
      runtime: runtime!,
      host: hostFacts(this.cgroups().version, () => this.cgroupFeatures()),
      inherited,
      newVolumeName: newId,
      containerId: (ref) => this.find(ref).id,
      network: (name) => findNetwork(this, name),
      cgroupVersion: this.cgroups().version,
      usedIds: () => {
        const maps = this.containers.list().flatMap((c) => (c.config.isolation?.userns ? [c.config.isolation.userns] : []));
        return { uid: maps.flatMap((m) => m.uidMappings), gid: maps.flatMap((m) => m.gidMappings) };
      },
    });
    if (config.cgroups === 'disabled' && !this.driver(runtime).features().supportsNoCgroups) {
      throw new NotSupported(`${runtime} cannot run a container without cgroups: --cgroups disabled needs crun`);
    }
    for (const w of warnings) this.warn(w);
    if (config.init && !initBinary()) throw new NotSupported('--init needs catatonit or tini-static (apt-get install catatonit)');
    loadHooks(this.hooksDir(), config); // a malformed hooks file fails the create, not a later start
    const id = newId();
    const me = selfIdentity();
    let name = opts.name !== undefined ? validateName(opts.name) : randomName();
    const madeVolumes = ensureVolumes(this, volumes);
    for (let attempt = 0; ; attempt++) {
      try {
        this.containers.insert({ id, name, imageId: img.id, config, state: 'creating', createdAt: new Date().toISOString(), lockPid: me.pid, lockStart: me.start });
        break;
      } catch (e) {
        if (opts.name === undefined && attempt < 20 && isBerthError(e) && e.httpStatus === 409) {
          name = randomName();
          continue;
        }
        await dropVolumes(this, madeVolumes);
        throw e;
      }
    }
    try {
      const d = this.dir(id);
      mkdirSync(d, { mode: 0o700 });
      // overlayfs shows the upper dir's mode as the container's `/`: it must be 0755 like an image root.
      for (const sub of ['diff', 'rootfs']) mkdirSync(join(d, sub), { mode: 0o755 });
      mkdirSync(join(d, 'work'), { mode: 0o700 });
      this.containers.update(id, ...move('create', { lockPid: 0, lockStart: 0 }));
    } catch (e) {
      this.removeFiles(id);
      this.containers.delete(id);
      await dropVolumes(this, madeVolumes);
      throw e;
    }
    const made = this.containers.get(id)!;
    this.emitContainer(made, 'create');
    return made;
  }

  /** Mount, wire and create the runtime's container (src/engine/bundle.ts). */
  private async init(row: ContainerRow, drv: RuntimeDriver, opts: StartOptions): Promise<void> {
    await bringUp(this, row, drv, opts);
  }

  /** Undo the runtime side of a container (src/engine/bundle.ts). */
  private async teardownRuntime(row: ContainerRow, runtimeToo = false): Promise<void> {
    await tearDown(this, row, runtimeToo);
  }

  /** The overlay's lower dirs for a container (src/engine/bundle.ts). */
  lowerDirsFor(row: ContainerRow, img: ImageRow): Promise<string[]> {
    return lowerDirsFor(this, row, img);
  }

  /** A container by full id, brought up to date; undefined when there is none. (Internal to src/engine.) */
  lookupSynced(id: string): ContainerRow | undefined {
    const r = this.containers.get(id);
    return r ? this.sync(r) : undefined;
  }

  /** A handle on an existing container. */
  container(ref: string): Container {
    return new Container(this, this.find(ref).id);
  }

  /** Create and start; the container runs on under its monitor (use wait() / logs() on the handle). */
  async run(opts: CreateOptions): Promise<Container> {
    const row = await this.create(opts);
    try {
      await this.start(row.id);
    } catch (e) {
      if (opts.autoRemove) await this.remove(row.id, true, true).catch(() => {});
      throw e;
    }
    return new Container(this, row.id);
  }

  // ---- start ----

  /** Start a created or exited container; a failed start of an auto-remove container removes it, as docker's does. */
  async start(ref: string, opts: StartOptions = {}): Promise<ContainerRow> {
    let autoRemove = false;
    try {
      return await this.startLocked(ref, opts, (r) => (autoRemove = r.config.autoRemove ?? false));
    } catch (e) {
      if (autoRemove) await this.remove(ref, true, true).catch(() => {});
      throw e;
    }
  }

  private async startLocked(ref: string, opts: StartOptions, seen: (row: ContainerRow) => void): Promise<ContainerRow> {
    return this.withLock(ref, async (row) => {
      seen(row);
      if (row.state === 'running') return row;
      if (row.state === 'paused') throw new Conflict(`cannot start a paused container, try unpause instead`);
      if (!canStart(row.state)) throw new Conflict(`container ${row.name} is ${row.state}`);
      if (row.state === 'exited' || row.mounted) await this.teardownRuntime(row);
      const drv = this.driver(row.config.runtime);
      let startedAt = '';
      try {
        await this.init(row, drv, opts);
        await opts.beforeStart?.(this.containers.get(row.id)!, () => drv.attach(this.dir(row.id)));
        trace('start: runtime start');
        // Taken before the process can run, so it is never after the exit file's FinishedAt.
        startedAt = new Date().toISOString();
        await drv.start(row.id);
        trace('start: started');
      } catch (e) {
        await this.teardownRuntime(this.containers.get(row.id)!).catch(() => {});
        const err = toBerth(e);
        this.containers.update(row.id, { exitCode: err.exitCode, error: err.message, monitorPid: 0, monitorStart: 0, pid: 0, pidStart: 0 });
        throw err;
      }
      this.containers.update(row.id, ...move('start', { startedAt, finishedAt: '', exitCode: 0, error: '', oomKilled: false }));
      this.emitContainer(row, 'start');
      const now = this.sync(this.containers.get(row.id)!);
      // Peers on its user networks learn its name now that it runs.
      if (now.net.networks) await refreshPeers(this, now, Object.keys(now.net.networks));
      await this.options.hooks?.start?.(now);
      return now;
    });
  }

  /** The container's runtime driver, or undefined when it cannot be had now. (Internal to src/engine.) */
  driverFor(row: ContainerRow): RuntimeDriver | undefined {
    try {
      return this.driver(row.config.runtime);
    } catch {
      return undefined;
    }
  }

  // ---- stop, kill, pause ----

  /** Send the stop signal; SIGKILL after `timeout` seconds (the container's own when unset). */
  async stop(ref: string, timeout?: number, signal?: string): Promise<ContainerRow> {
    let row = this.find(ref);
    const sig = signal ? parseSignal(signal) : undefined;
    const sent = await this.withLock(ref, async (r) => {
      row = r;
      if (!canStop(r.state)) return false;
      const s = r.state === 'paused' ? 'SIGKILL' : (sig ?? r.config.stopSignal);
      const drv = this.driver(r.config.runtime);
      await drv.kill(r.id, s, r.state === 'paused');
      this.emitContainer(r, 'kill', { signal: String(signalNumber(parseSignal(s))) });
      // A frozen process cannot act on a signal: thaw it (runc's kill --all may have done so already).
      if (r.state === 'paused') await drv.unpause(r.id).catch(() => {});
      return true;
    });
    if (!sent) return row;
    const secs = timeout ?? row.config.stopTimeout;
    if (!(secs >= 0 && (await this.waitExit(row.id, secs * 1000)))) {
      await this.withLock(ref, async (r) => {
        if (canKill(r.state)) {
          await this.driver(r.config.runtime).kill(r.id, 'SIGKILL', true);
          this.emitContainer(r, 'kill', { signal: '9' });
        }
      });
      await this.waitExit(row.id, 30_000);
    }
    const out = await this.cleanup(row.id);
    this.emitContainer(row, 'stop');
    return out;
  }

  async kill(ref: string, signal = 'SIGKILL'): Promise<ContainerRow> {
    const sig = parseSignal(signal);
    return this.withLock(ref, async (row) => {
      if (!canKill(row.state)) {
        throw new Conflict(`cannot kill container: ${ref}: container ${row.id} is not running`);
      }
      await this.driver(row.config.runtime).kill(row.id, sig);
      this.emitContainer(row, 'kill', { signal: String(signalNumber(sig)) });
      return row;
    });
  }

  async pause(ref: string): Promise<ContainerRow> {
    return this.withLock(ref, async (row) => {
      if (canUnpause(row.state)) throw new Conflict(`container ${row.id} is already paused`);
      if (!canPause(row.state)) throw new Conflict(`container ${row.id} is not running`);
      await this.driver(row.config.runtime).pause(row.id);
      this.containers.update(row.id, ...move('pause'));
      this.emitContainer(row, 'pause');
      return this.containers.get(row.id)!;
    });
  }

  async unpause(ref: string): Promise<ContainerRow> {
    return this.withLock(ref, async (row) => {
      if (!canUnpause(row.state)) throw new Conflict(`container ${row.id} is not paused`);
      await this.driver(row.config.runtime).unpause(row.id);
      this.containers.update(row.id, ...move('unpause'));
      this.emitContainer(row, 'unpause');
      return this.containers.get(row.id)!;
    });
  }

  /**
   * Stop, then start, holding the lock once across both (stop and start take it again reentrantly): no other
   * verb sees the container between the two. The old run's exit command waits for the lock, then finds the
   * container running again and leaves it be.
   */
  async restart(ref: string, timeout?: number): Promise<ContainerRow> {
    return this.withLock(ref, async (row) => {
      await this.stop(row.id, timeout);
      const started = await this.start(row.id);
      this.containers.update(row.id, { restartCount: started.restartCount + 1 });
      this.emitContainer(started, 'restart');
      return this.containers.get(row.id)!;
    });
  }

  // ---- wait, cleanup, remove ----

  /** Wait until the container's monitor records its exit, up to ms (Infinity for ever). True when it exited. */
  async waitExit(id: string, ms: number): Promise<boolean> {
    const first = this.containers.get(id);
    if (!first) return true;
    return waitUntil(() => {
      const row = this.containers.get(id);
      if (!row) return true;
      return !isLive(this.sync(row).state);
    }, ms, this.watcher(first).watchPaths(this.dir(id)));
  }

  /** What a container exited with last, from its `die` event: still known after it was removed. */
  exitCodeOf(id: string): number | undefined {
    return this.events.lastExitCode(id);
  }

  /** Block until the container is not running, like `docker wait`; returns the exit code. */
  async wait(ref: string): Promise<number> {
    const row = this.find(ref);
    await waitUntil(() => {
      const r = this.containers.get(row.id);
      if (!r) return true;
      return hasEnded(this.sync(r).state);
    }, Infinity, this.watcher(row).watchPaths(this.dir(row.id)));
    const r = this.containers.get(row.id);
    const code = r ? r.exitCode : (this.recordedExit(row)?.code ?? this.exitCodeOf(row.id) ?? -1);
    // Release the mount and runtime state now rather than leave it to the monitor's exit command (which an
    // engine with a postStop callback does not use); idempotent, and it honours --rm.
    if (r?.mounted) {
      await this.cleanup(row.id).catch((e: unknown) => {
        if (!(e instanceof NoSuchContainer)) throw e;
      });
    }
    return code;
  }

  /** Wait for a condition of the container (the API's `wait`); undefined once `signal` aborts. See src/engine/wait-for.ts. */
  waitFor(ref: string, condition: WaitCondition, signal?: AbortSignal): Promise<WaitResult | undefined> {
    return waitForCondition(this, ref, condition, signal);
  }

  /**
   * After an exit: release the runtime's record and the mount, run postStop, and remove an auto-remove
   * container. The monitor's exit command runs this; so does a foreground run and `stop`.
   */
  async cleanup(ref: string): Promise<ContainerRow> {
    // A remove in progress tears everything down itself and waits for this container's monitor, which
    // may be running this very cleanup as its exit command: taking the lock here would stall both.
    const seen = this.find(ref);
    if (seen.state === 'removing') return seen;
    let removed = false;
    const out = await this.withLock(ref, async (row) => {
      if (row.state !== 'exited') return row;
      if (row.mounted) {
        await this.teardownRuntime(row);
        await this.options.hooks?.postStop?.(row);
      }
      if (row.config.autoRemove) {
        this.containers.update(row.id, ...move('remove'));
        this.removeFiles(row.id);
        this.containers.delete(row.id);
        this.emitContainer(row, 'destroy');
        await removeAnonymousVolumes(this, row);
        removed = true;
      }
      return this.containers.get(row.id) ?? row;
    });
    return removed ? { ...out, state: 'removing' } : out;
  }

  /** Remove a container; a running one only with force (SIGKILL first); `volumes` also drops its anonymous volumes. */
  async remove(ref: string, force = false, volumes = false): Promise<string> {
    return this.withLock(ref, async (row) => {
      if (isLive(row.state) && !force) {
        throw new Conflict(
          `cannot remove container "${ref}": container is ${row.state}: stop the container before removing or force remove`,
        );
      }
      if (!canRemove(row.state)) throw new Conflict(`container ${row.name} is ${row.state}`);
      this.containers.update(row.id, ...move('remove'));
      try {
        if (isLive(row.state)) {
          const drv = this.driver(row.config.runtime);
          await drv.kill(row.id, 'SIGKILL', true).catch(() => {});
          if (row.state === 'paused') await drv.unpause(row.id).catch(() => {});
          this.emitContainer(row, 'kill', { signal: '9' });
          await waitUntil(() => this.recordedExit(row) !== null || !isAlive(row.monitorPid, row.monitorStart), 10_000);
          // The row is `removing` now, so no other process's sync reports this exit: report it here.
          this.emitContainer(row, 'die', { exitCode: String(this.recordedExit(row)?.code ?? 137) });
        }
        await this.teardownRuntime(row);
        if (row.mounted) await this.options.hooks?.postStop?.(row);
        this.removeFiles(row.id);
      } catch (e) {
        // What could not be undone stays visible, as docker's dead containers do; `rm` tries again.
        const err = toBerth(e);
        this.containers.update(row.id, ...move('removeFailed', { error: err.message }));
        throw err;
      }
      this.containers.delete(row.id);
      this.emitContainer(row, 'destroy');
      if (volumes) await removeAnonymousVolumes(this, row);
      // The monitor outlives the container by its exit command (which sees the row gone and returns): wait,
      // so that a remove leaves no monitor behind.
      if (row.monitorPid !== 0) await waitUntil(() => !isAlive(row.monitorPid, row.monitorStart), 10_000);
      return row.id;
    });
  }

  private removeFiles(id: string): void {
    rmSync(this.dir(id), { recursive: true, force: true });
  }

  async rename(ref: string, newName: string): Promise<void> {
    const name = validateName(newName);
    await this.withLock(ref, async (row) => {
      if (row.name === name) throw new InvalidArgument(`Renaming a container with the same name as its current name`);
      this.containers.update(row.id, { name });
      this.emitContainer({ ...row, name }, 'rename', { oldName: `/${row.name}` });
    });
  }

  /** Remove every stopped container; returns the removed ids. */
  async prune(): Promise<string[]> {
    await this.repair();
    const out: string[] = [];
    for (const row of this.containers.list()) {
      const r = this.sync(row);
      if (!isLive(r.state) && canRemove(r.state)) {
        try {
          await this.remove(r.id);
          out.push(r.id);
        } catch (e) {
          if (!(e instanceof NoSuchContainer) && !(e instanceof Conflict)) throw e;
        }
      }
    }
    return out;
  }

  /**
   * The containers, freshly reconciled: running ones unless `all` (or a filter that asks for stopped ones),
   * narrowed by docker's filters (src/engine/container-filters.ts; refused when malformed).
   */
  async list(all = false, filters: ContainerFilters = {}): Promise<ContainerRow[]> {
    checkFilters(filters);
    await this.repair();
    const rows = this.containers.list().map((r) => this.sync(r));
    const wanted = all || wantsStopped(filters) ? rows : rows.filter((r) => isLive(r.state));
    return wanted.filter((r) => matchesFilters(filters, r));
  }

  inspect(ref: string): ContainerRow {
    return this.sync(this.find(ref));
  }

  /**
   * Change the resource limits of a container, as `docker update`: checked like create's, applied to a
   * live container through the runtime, and kept for its next start. Returns docker's warnings.
   */
  async update(ref: string, opts: ResourceOptions): Promise<string[]> {
    return this.withLock(ref, async (row) => {
      if (row.config.cgroups === 'disabled') throw new Conflict(`container ${row.name} runs without cgroups: its resources cannot be updated`);
      const { resources, warnings } = resolveResources(opts, row.config.resources, hostFacts(this.cgroups().version, () => this.cgroupFeatures()), 'update');
      if (isLive(row.state)) {
        await this.driver(row.config.runtime).update(row.id, ociResources(resources, { swapLimit: this.cgroupFeatures().swapLimit }));
      }
      this.containers.updateResources(row.id, resources);
      return warnings;
    });
  }

  /** Run a process in a running container (`exec`); see src/engine/exec.ts. */
  exec(ref: string, opts: ExecOptions): Promise<ExecHandle> {
    return startExec(this, ref, opts);
  }

  /** The container an exec would run in, refused as docker refuses it (not running, paused). */
  execTarget(ref: string): ContainerRow {
    return execTarget(this, ref);
  }

  /** An exec session, reconciled with its exit file. */
  execInspect(sessionRef: string): ExecSessionRow {
    return inspectExec(this, sessionRef);
  }

  /** Stop a running exec session: SIGTERM, then SIGKILL after `timeout` seconds. */
  execStop(sessionRef: string, timeout = 10): Promise<ExecSessionRow> {
    return stopExec(this, sessionRef, timeout);
  }

  /** Pids of the container's processes (for top). */
  /**
   * Connect to a running container's stdio (`docker attach`). The monitor replays nothing: what the
   * container printed before is in its log only.
   */
  async attach(ref: string): Promise<AttachStream> {
    const row = this.inspect(ref);
    if (!isLive(row.state)) throw new Conflict('You cannot attach to a stopped container, start it first');
    return this.watcher(row).attach(this.dir(row.id));
  }

  /** Set a running container's terminal size; a container without a tty has none, and is left alone. */
  async resize(ref: string, rows: number, cols: number): Promise<void> {
    const row = this.inspect(ref);
    if (!row.config.tty) return;
    if (!isLive(row.state)) throw new Conflict(`container ${row.id} is not running`);
    await this.watcher(row).resize(this.dir(row.id), rows, cols);
  }

  /** The container's processes as the host's ps shows them (`top`); see src/engine/top.ts. */
  top(ref: string, psArgs?: string[]): Promise<TopResult> {
    return topOf(this, ref, psArgs);
  }

  async pids(ref: string): Promise<number[]> {
    const row = this.inspect(ref);
    if (!isLive(row.state)) throw new Conflict(`container ${row.id} is not running`);
    return this.driver(row.config.runtime).pids(row.id);
  }

  /**
   * Read the container's log; with `follow`, keep reading until the container exits (nothing is lost: the
   * monitor records the exit after the last output) or `signal` aborts (the reader went away).
   */
  async readLogs(ref: string, out: (rec: LogRecord) => void, opts: LogReadOptions & { signal?: AbortSignal } = {}): Promise<void> {
    const row = this.find(ref);
    if ((row.config.logDriver ?? 'k8s-file') !== 'k8s-file') {
      throw new NotSupported(`configured logging driver does not support reading (${row.config.logDriver})`);
    }
    const running = () => {
      if (opts.signal?.aborted) return false;
      const r = this.containers.get(row.id);
      return r !== undefined && mayExit(this.sync(r).state) && !(r.state === 'created' && r.monitorPid === 0);
    };
    await this.watcher(row).readLog(this.dir(row.id), this.logPath(row.id), running, out, opts);
  }

  async checkpoint(ref: string): Promise<never> {
    const row = this.inspect(ref);
    await this.driver(row.config.runtime).checkpoint(row.id, join(this.dir(row.id), 'checkpoint'));
    throw new NotSupported('checkpoint is not supported');
  }
}

function toBerth(e: unknown): BerthError {
  return isBerthError(e) ? e : new RuntimeFailure(e instanceof Error ? e.message : String(e), { cause: e });
}

/** A caller's credentials keyed by the registry of `ref`, as RegistryOptions takes them. */
function credentialsFor(ref: string, credentials: Credentials | undefined): RegistryOptions['credentials'] {
  return credentials ? { [parseImageName(ref).registry]: credentials } : undefined;
}
