/**
 * The Engine: the one writer of container state, shared by the CLI, the API server and library users. Its
 * verbs stand on EngineCore (src/engine/core.ts): repositories, drivers, paths, the lock and sync.
 * Stored state is a cache of the truth (the monitor's record of the exit, the pid's identity, the runtime); every verb
 * re-checks it under the container's lock before acting.
 */
import { EngineCore, type StartOptions } from './core.ts';
export type { EngineOptions, LifecycleHooks, StartOptions } from './core.ts';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import {
  Conflict,
  InvalidArgument,
  NoSuchContainer,
  NotSupported,
  NameConflict,
  asBerthError,
} from '../errors.ts';
import type { AttachStream, LogReadOptions, LogRecord, RuntimeDriver } from '../runtime/driver.ts';
import { type ContainerRow } from '../store/containers.ts';
import { pullImage, type PullOptions, type PullResult } from '../image/pull.ts';
import { pushImage, type PushOptions, type PushResult } from '../image/push.ts';
import type { Credentials } from '../registry/authfile.ts';
import { RegistryClient, type RegistryOptions } from '../registry/client.ts';
import { parseImageName } from '../registry/reference.ts';
import { commitContainer, type CommitOptions } from './commit.ts';
import { type ExecSessionRow } from '../store/exec-sessions.ts';
import { dropVolumes, ensureVolumes } from './volumes.ts';
import { inheritMounts } from './mounts.ts';
import { findNetwork } from './networks.ts';
import { refreshPeers } from './network-attach.ts';
import { bringUp, lowerDirsFor } from './bundle.ts';
import { topOf, type TopResult } from './top.ts';
import { type ContainerFilters } from './container-filters.ts';
import { canKill, canPause, canStart, canStop, canUnpause, hasEnded, isLive, mayExit, move } from './state.ts';
import type { ImageRow } from '../store/images.ts';
import { trace } from '../sys/trace.ts';
import { initBinary } from './host.ts';
import { waitUntil } from './wait.ts';
import { waitForCondition, type WaitCondition, type WaitResult } from './wait-for.ts';
import { selfIdentity } from '../sys/proc.ts';
import { buildConfig, type CreateOptions } from './config.ts';
import { execTarget, inspectExec, startExec, stopExec, type ExecHandle, type ExecOptions } from './exec.ts';
import { hostFacts, resolveResources, type ResourceOptions } from './resources.ts';
import { ociResources } from '../runtime/spec/resources.ts';
import { Container } from './container.ts';
import { loadHooks } from './hooks.ts';
import { newId, randomName, validateName } from './names.ts';
import { parseSignal, signalNumber } from './signals.ts';
import { teardownRuntime } from './verbs/teardown.ts';
import { removeFiles } from './verbs/teardown.ts';
import { cleanup } from './verbs/cleanup.ts';
import { remove } from './verbs/remove.ts';
import { repairStale } from './verbs/repair.ts';
import { prune } from './verbs/remove.ts';
import { repair } from './verbs/repair.ts';
import { list } from './verbs/list.ts';




export class Engine extends EngineCore {
  /** The lock's next taker finishes what a dead holder left (src/engine/verbs/repair.ts). */
  protected repairStale(row: ContainerRow, deadPid: number): Promise<void> {
    return repairStale(this, row, deadPid);
  }


  // ---- wiring (lazy: a CLI verb pays only for what it touches) ----



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









  // ---- paths ----




  // ---- lookup and locking ----



  // ---- reconciliation ----





  /**
   * Repair every container whose lock holder died, and clean up exited containers still holding their
   * mount or runtime state (their exit command did not run). Verbs that list or create call this.
   */
  async repair(): Promise<void> {
    return repair(this);
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
        if (opts.name === undefined && attempt < 20 && e instanceof NameConflict) {
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
      removeFiles(this, id);
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


  /** The overlay's lower dirs for a container (src/engine/bundle.ts). */
  lowerDirsFor(row: ContainerRow, img: ImageRow): Promise<string[]> {
    return lowerDirsFor(this, row, img);
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
      if (opts.autoRemove) await remove(this, row.id, true, true).catch(() => {});
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
      if (autoRemove) await remove(this, ref, true, true).catch(() => {});
      throw e;
    }
  }

  private async startLocked(ref: string, opts: StartOptions, seen: (row: ContainerRow) => void): Promise<ContainerRow> {
    return this.withLock(ref, async (row) => {
      seen(row);
      if (row.state === 'running') return row;
      if (row.state === 'paused') throw new Conflict(`cannot start a paused container, try unpause instead`);
      if (!canStart(row.state)) throw new Conflict(`container ${row.name} is ${row.state}`);
      if (row.state === 'exited' || row.mounted) await teardownRuntime(this, row);
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
        await teardownRuntime(this, this.containers.get(row.id)!).catch(() => {});
        const err = asBerthError(e);
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
    const out = await cleanup(this, row.id);
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
      await cleanup(this, row.id).catch((e: unknown) => {
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
    return cleanup(this, ref);
  }

  /** Remove a container; a running one only with force (SIGKILL first); `volumes` also drops its anonymous volumes. */
  async remove(ref: string, force = false, volumes = false): Promise<string> {
    return remove(this, ref, force, volumes);
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
    return prune(this);
  }

  /**
   * The containers, freshly reconciled: running ones unless `all` (or a filter that asks for stopped ones),
   * narrowed by docker's filters (src/engine/container-filters.ts; refused when malformed).
   */
  async list(all = false, filters: ContainerFilters = {}): Promise<ContainerRow[]> {
    return list(this, all, filters);
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

/** A caller's credentials keyed by the registry of `ref`, as RegistryOptions takes them. */
function credentialsFor(ref: string, credentials: Credentials | undefined): RegistryOptions['credentials'] {
  return credentials ? { [parseImageName(ref).registry]: credentials } : undefined;
}
