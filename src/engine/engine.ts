/**
 * The Engine: the one writer of container state, shared by the CLI, the API server and library users. Its
 * verbs stand on EngineCore (src/engine/core.ts): repositories, drivers, paths, the lock and sync.
 * Stored state is a cache of the truth (the monitor's record of the exit, the pid's identity, the runtime); every verb
 * re-checks it under the container's lock before acting.
 */
import { join } from 'node:path';
import { NotFound, NotSupported } from '../errors.ts';
import type { PullOptions, PullResult } from '../image/pull.ts';
import type { PushOptions, PushResult } from '../image/push.ts';
import type { Credentials } from '../registry/authfile.ts';
import type { Descriptor, Platform, SearchResult } from '../registry/client.ts';
import type { AttachStream, LogReadOptions, LogRecord } from '../runtime/driver.ts';
import type { ContainerRow } from '../store/containers.ts';
import type { ImageRow } from '../store/images.ts';
import type { Writable } from 'node:stream';
import type { ExecSessionRow } from '../store/exec-sessions.ts';
import type { CommitOptions } from './commit.ts';
import { listImages } from './image-list.ts';
import type { BuildOptions, BuildResult } from './build/options.ts';
import type { OutputSpec } from './build/output.ts';
import type { CreateOptions } from './config.ts';
import { Container } from './container.ts';
import type { ContainerFilters } from './container-filters.ts';
import { EngineCore, type StartOptions } from './core.ts';
import { createExec, execTarget, inspectExec, resizeExec, runExec, startExec, stopExec, type ExecHandle, type ExecOptions, type ExecStartOptions } from './exec.ts';
import { topOf, type TopResult } from './top.ts';
import { rename, update, type UpdateOptions } from './verbs/change.ts';
import { cleanup } from './verbs/cleanup.ts';
import { supervise, type Supervisor, type SupervisorOptions } from './supervisor.ts';
import { startAll, type StartAllResult } from './verbs/start-all.ts';
import { create } from './verbs/create.ts';
import { attach, pids, readLogs, reopenLog, resize } from './verbs/io.ts';
import { list } from './verbs/list.ts';
import type { SearchFilters } from './verbs/registry.ts';
import { prune, remove } from './verbs/remove.ts';
import { danglingOnly, pruneSelector, type PruneFilters } from './prune-filters.ts';
import { repair, repairStale } from './verbs/repair.ts';
import type { ResetReport } from './verbs/reset.ts';
import { restart } from './verbs/restart.ts';
import { kill, pause, unpause } from './verbs/signal.ts';
import { start } from './verbs/start.ts';
import { stop } from './verbs/stop.ts';
import { wait, waitExit } from './verbs/wait.ts';
import { waitForCondition, type WaitCondition, type WaitResult } from './wait-for.ts';
import type { PodCreateOptions } from './pods/options.ts';
import { inspectPod, listPods, type PodInspect, type PodSummary } from './pods/inspect.ts';
import type { PodActionResult } from './pods/lifecycle.ts';
import { findPod } from './pods/find.ts';
import { podMembers } from './pods/members.ts';
import type { PodRow } from '../store/pods.ts';

export type { EngineOptions, LifecycleHooks, StartOptions } from './core.ts';
export type { PodCreateOptions } from './pods/options.ts';
export type { PodActionResult } from './pods/lifecycle.ts';
export type { PodInspect, PodSummary } from './pods/inspect.ts';

/**
 * The registry verbs, the commit and reset load on first use, as the builder does: a command that does not
 * talk to a registry (exec, run of a present image, ps) does not load the registry client, image transfer and
 * archive code (~150 KB of the CLI's bundle, which every such command compiled and ran).
 */
const registryVerbs = () => import('./verbs/registry.ts');
/** The pod verbs that act (create, the lifecycle, remove, top and logs) load on first use too: `run` needs none. */
const podCreate = () => import('./pods/create.ts');
const podLifecycle = () => import('./pods/lifecycle.ts');
const podObserve = () => import('./pods/observe.ts');
const podRemove = () => import('./pods/remove.ts');
export type { ResetReport } from './verbs/reset.ts';

/**
 * The public facade: every verb, each in its own file under src/engine/verbs (or beside it), called with
 * this engine as its context. What a verb needs of the engine is EngineCore's.
 */
export class Engine extends EngineCore {
  /** The lock's next taker finishes what a dead holder left (src/engine/verbs/repair.ts). */
  protected repairStale(row: ContainerRow, deadPid: number): Promise<void> {
    return repairStale(this, row, deadPid);
  }

  /**
   * Pull an image from its registry (src/image/pull.ts). Registry settings come from the configuration;
   * `credentials` (a caller's own, such as an API request's X-Registry-Auth) serve the reference's registry
   * for this pull only, instead of the auth file's.
   */
  async pull(ref: string, opts: Omit<PullOptions, 'registry'> & { credentials?: Credentials } = {}): Promise<PullResult> {
    return (await registryVerbs()).pull(this, ref, opts);
  }

  /** Push a tagged image to its registry (src/image/push.ts); `credentials` as for pull. */
  async push(ref: string, opts: Omit<PushOptions, 'registry'> & { credentials?: Credentials } = {}): Promise<PushResult> {
    return (await registryVerbs()).push(this, ref, opts);
  }

  /** Push every local tag of a repository named without a tag (`docker push -a`); `credentials` as for pull. */
  async pushAll(repo: string, opts: Omit<PushOptions, 'registry'> & { credentials?: Credentials } = {}): Promise<PushResult[]> {
    return (await registryVerbs()).pushAll(this, repo, opts);
  }

  /**
   * Check credentials against a registry (`docker login`); `store` keeps them in the docker-compatible auth
   * file, or with the credential helper it names for the registry (the API checks only: its clients keep
   * their own). Refused credentials throw Unauthorized.
   */
  async login(server: string, username: string, password: string, store = true): Promise<void> {
    return (await registryVerbs()).login(this, server, username, password, store);
  }

  /** Forget a registry's stored credentials (erasing them from its credential helper too); false when there were none. */
  async logout(server: string): Promise<boolean> {
    return (await registryVerbs()).logout(this, server);
  }

  /** The tags `ref`'s repository has in its registry (`pull -a` pulls each). */
  async remoteTags(ref: string): Promise<string[]> {
    return (await registryVerbs()).remoteTags(this, ref);
  }

  /** `docker search`: a registry's search results (Docker Hub's index for a term without a registry). */
  async search(term: string, limit?: number, filters?: SearchFilters): Promise<SearchResult[]> {
    return (await registryVerbs()).search(this, term, limit, filters);
  }

  /** What a registry holds under `ref`: the manifest's descriptor and its platforms (nothing is pulled). */
  async describeRemote(ref: string, credentials?: Credentials): Promise<{ descriptor: Descriptor; platforms: Platform[] }> {
    return (await registryVerbs()).describeRemote(this, ref, credentials);
  }

  /** Make an image of a container's changes (src/engine/commit.ts); returns the image id. */
  async commit(ref: string, opts: CommitOptions = {}): Promise<string> {
    const { commitContainer } = await import('./commit.ts');
    return commitContainer(this, ref, opts);
  }

  /** The images; without `all`, not the intermediate ones (src/engine/image-list.ts). */
  listImages(all = false): ImageRow[] {
    return listImages(this, all);
  }

  /** Build an image from a Dockerfile and its context (src/engine/build/builder.ts, loaded when first used). */
  async build(opts: BuildOptions): Promise<BuildResult> {
    const { build } = await import('./build/builder.ts');
    return build(this, opts);
  }

  /** Write a built image out as `build --output` asks (src/engine/build/output.ts); `stdout` for `dest=-`. */
  async writeBuildOutput(ref: string, spec: OutputSpec, stdout: Writable): Promise<void> {
    const { writeOutput } = await import('./build/output.ts');
    return writeOutput(this, ref, spec, stdout);
  }

  /** Forget the build cache and remove the images only it kept (`builder prune`): the ids and bytes removed. */
  async pruneBuildCache(opts: import('./build/prune.ts').BuildPruneOptions = {}): Promise<{ deleted: string[]; reclaimed: number }> {
    const { pruneBuildCache } = await import('./build/prune.ts');
    return pruneBuildCache(this, opts);
  }




  /**
   * Repair every container whose lock holder died, and clean up exited containers still holding their
   * mount or runtime state (their exit command did not run). Verbs that list or create call this.
   */
  async repair(): Promise<void> {
    return repair(this);
  }


  /**
   * Remove everything of this engine's root (podman's `system reset`): containers (running ones killed),
   * volumes, networks with their bridges and firewall rules, images, mounts, cgroups, then the root's files
   * and state database; its configuration files stay. What no record names (a root deleted by hand, an
   * unreadable database) is found on the host by this root's path (src/engine/verbs/reset.ts). Refused
   * while another process holds the root's store. The engine is closed afterwards.
   */
  async reset(): Promise<ResetReport> {
    const { reset } = await import('./verbs/reset.ts');
    return reset(this);
  }

  /** Create a container (state `created`); nothing runs yet. Atomic: on failure nothing is left. */
  async create(opts: CreateOptions): Promise<ContainerRow> {
    return create(this, opts);
  }


  /** A handle on an existing container. */
  container(ref: string): Container {
    return new Container(this, this.find(ref).id);
  }

  /** Create and start; the container runs on under its monitor (use wait() / logs() on the handle). */
  async run(opts: CreateOptions): Promise<Container> {
    const row = await create(this, opts);
    await start(this, row.id); // an auto-remove container whose start fails is removed by start
    return new Container(this, row.id);
  }


  /** Start a created or exited container; a failed start of an auto-remove container removes it, as docker's does. */
  async start(ref: string, opts: StartOptions = {}): Promise<ContainerRow> {
    return start(this, ref, opts);
  }


  /** Send the stop signal; SIGKILL after `timeout` seconds (the container's own when unset). */
  async stop(ref: string, timeout?: number, signal?: string): Promise<ContainerRow> {
    return stop(this, ref, timeout, signal);
  }

  async kill(ref: string, signal = 'SIGKILL'): Promise<ContainerRow> {
    return kill(this, ref, signal);
  }

  async pause(ref: string): Promise<ContainerRow> {
    return pause(this, ref);
  }

  async unpause(ref: string): Promise<ContainerRow> {
    return unpause(this, ref);
  }

  /**
   * Stop, then start, holding the lock once across both (stop and start take it again reentrantly): no other
   * verb sees the container between the two. The old run's exit command waits for the lock, then finds the
   * container running again and leaves it be.
   */
  async restart(ref: string, timeout?: number, signal?: string): Promise<ContainerRow> {
    return restart(this, ref, timeout, signal);
  }


  /** Wait until the container's monitor records its exit, up to ms (Infinity for ever). True when it exited. */
  async waitExit(id: string, ms: number): Promise<boolean> {
    return waitExit(this, id, ms);
  }

  /** Block until the container is not running, like `docker wait`; returns the exit code. */
  async wait(ref: string): Promise<number> {
    return wait(this, ref);
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

  /**
   * Run the root's supervisor in this process (src/engine/supervisor.ts): take the exits of the root's
   * containers and clean each up here instead of in a CLI process started per exit, and run the restarts
   * their policies schedule. For an engine that stays up, as `berth serve` does; close it before the engine.
   */
  supervise(opts: SupervisorOptions = { exitWhenIdle: false }): Promise<Supervisor> {
    return supervise(this, opts);
  }

  /**
   * Start every stopped container the filters name (`start --all`); with a `restart-policy` filter, only those
   * their policy brings back after a reboot (src/engine/verbs/start-all.ts). One result per container.
   */
  startAll(filters: ContainerFilters = {}): Promise<StartAllResult[]> {
    return startAll(this, filters);
  }

  /** Remove a container; a running one only with force (SIGKILL first); `volumes` also drops its anonymous volumes. */
  async remove(ref: string, force = false, volumes = false): Promise<string> {
    return remove(this, ref, force, volumes);
  }

  async rename(ref: string, newName: string): Promise<void> {
    return rename(this, ref, newName);
  }

  /** Remove every stopped container the filters select (`until`, `label`, `label!`); the ids and bytes removed. */
  async prune(filters: PruneFilters = {}): Promise<{ ids: string[]; reclaimed: number }> {
    return prune(this, filters);
  }

  /**
   * Remove unused images the filters select: dangling ones, or with `dangling=false` every image no
   * container uses (`until`, `label`, `label!` narrow either); what was untagged and deleted, and the bytes.
   */
  pruneImages(filters: PruneFilters = {}): { untagged: string[]; deleted: string[]; reclaimed: number } {
    const select = pruneSelector<ImageRow>(filters, ['dangling', 'until', 'label', 'label!'], (i) => ({ created: i.config.created || i.createdAt, labels: i.config.config.Labels ?? {} }));
    return this.images.prune(!danglingOnly(filters), (id) => this.containers.countUsingImage(id), select);
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
   * live container through the runtime, and kept for its next start; and its restart policy, from its next
   * exit. Returns docker's warnings.
   */
  async update(ref: string, opts: UpdateOptions): Promise<string[]> {
    return update(this, ref, opts);
  }

  /** Run a process in a running container (`exec`: create and start at once); see src/engine/exec.ts. */
  exec(ref: string, opts: ExecOptions): Promise<ExecHandle> {
    return runExec(this, ref, opts);
  }

  /** Record an exec to start later (docker's exec create); it is kept with its container. */
  execCreate(ref: string, opts: ExecOptions): ExecSessionRow {
    return createExec(this, ref, opts);
  }

  /** Start a created exec, once (docker's exec start). */
  execStart(sessionRef: string, opts: ExecStartOptions = {}): Promise<ExecHandle> {
    return startExec(this, sessionRef, opts);
  }

  /** Set an exec's terminal size: now if it runs, when it starts if it has not. */
  execResize(sessionRef: string, rows: number, cols: number): Promise<void> {
    return resizeExec(this, sessionRef, rows, cols);
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
    return attach(this, ref);
  }

  /** Set a running container's terminal size; a container without a tty has none, and is left alone. */
  async resize(ref: string, rows: number, cols: number): Promise<void> {
    return resize(this, ref, rows, cols);
  }

  /** Have a running container's monitor reopen its log file (after the file was renamed away). */
  reopenLog(ref: string): Promise<void> {
    return reopenLog(this, ref);
  }

  /** The container's processes as the host's ps shows them (`top`); see src/engine/top.ts. */
  top(ref: string, psArgs?: string[]): Promise<TopResult> {
    return topOf(this, ref, psArgs);
  }

  async pids(ref: string): Promise<number[]> {
    return pids(this, ref);
  }

  /**
   * Read the container's log; with `follow`, keep reading until the container exits (nothing is lost: the
   * monitor records the exit after the last output) or `signal` aborts (the reader went away).
   */
  async readLogs(ref: string, out: (rec: LogRecord) => void, opts: LogReadOptions & { signal?: AbortSignal } = {}): Promise<void> {
    return readLogs(this, ref, out, opts);
  }

  // ---- pods (src/engine/pods/): containers sharing an infra container's namespaces and a cgroup ----

  /** Make a pod and its infra container (not started: the pod starts with `startPod` or its first container). */
  async createPod(opts: PodCreateOptions = {}): Promise<PodRow> {
    return (await podCreate()).createPod(this, opts);
  }

  /** Every pod, with its state and containers, newest first. */
  listPods(): PodSummary[] {
    return listPods(this);
  }

  inspectPod(ref: string): PodInspect {
    return inspectPod(this, ref);
  }

  /** A pod's record (its config as made); throws NotFound. */
  getPod(ref: string): PodRow {
    return findPod(this, ref);
  }

  /** Every pod's record, newest first. */
  allPods(): PodRow[] {
    return this.pods.list();
  }

  /** The pod's containers, brought up to date: its infra container, and the others oldest first. */
  podContainers(ref: string): { infra?: ContainerRow; others: ContainerRow[] } {
    return podMembers(this, findPod(this, ref));
  }

  /**
   * The file of the pod's network namespace while the pod is up (a pinned pod's, or its running infra
   * container's), for reaching the pod's own addresses (a port-forward). NotFound when it is down.
   */
  podNetworkNamespace(ref: string): string {
    const pod = findPod(this, ref);
    if (pod.config.pinned) {
      if (pod.state.net) return pod.state.net;
    } else {
      const infra = podMembers(this, pod).infra;
      if (infra?.state === 'running' && infra.pid > 0) return `/proc/${infra.pid}/ns/net`;
    }
    throw new NotFound(`pod ${pod.name} has no network namespace of its own running`);
  }

  /** Start the infra container, then the pod's others; each container that fails is reported, not thrown. */
  async startPod(ref: string): Promise<PodActionResult> {
    return (await podLifecycle()).startPod(this, ref);
  }

  /** Stop the pod's containers (each with its own timeout, or `timeout` seconds), the infra container last. */
  async stopPod(ref: string, timeout?: number): Promise<PodActionResult> {
    return (await podLifecycle()).stopPod(this, ref, timeout);
  }

  async restartPod(ref: string, timeout?: number): Promise<PodActionResult> {
    return (await podLifecycle()).restartPod(this, ref, timeout);
  }

  async killPod(ref: string, signal = 'SIGKILL'): Promise<PodActionResult> {
    return (await podLifecycle()).killPod(this, ref, signal);
  }

  async pausePod(ref: string): Promise<PodActionResult> {
    return (await podLifecycle()).pausePod(this, ref);
  }

  async unpausePod(ref: string): Promise<PodActionResult> {
    return (await podLifecycle()).unpausePod(this, ref);
  }

  /** Remove a pod with its containers and cgroup; running ones only with `force`. Returns its id. */
  async removePod(ref: string, force = false): Promise<string> {
    return (await podRemove()).removePod(this, ref, force);
  }

  /** The processes of the pod's running containers, as `top` shows a container's. */
  async topPod(ref: string, psArgs?: string[]): Promise<TopResult> {
    return (await podObserve()).topPod(this, ref, psArgs);
  }

  /** The pod's containers' logs (or `only` one's); see src/engine/pods/observe.ts. */
  async podLogs(ref: string, out: (container: ContainerRow, rec: LogRecord) => void, opts: LogReadOptions & { signal?: AbortSignal; only?: string } = {}): Promise<void> {
    return (await podObserve()).podLogs(this, ref, out, opts);
  }

  /** `kube play`: make (and start) the Pods and Deployments of a Kubernetes YAML text (src/engine/kube/play.ts). */
  async kubePlay(yaml: string, opts: import('./kube/play.ts').KubePlayOptions = {}): Promise<import('./kube/play.ts').KubePlayReport> {
    const { kubePlay } = await import('./kube/play.ts');
    return kubePlay(this, yaml, opts);
  }

  /** `kube down`: remove the pods a YAML text made, with their containers and volumes. */
  async kubeDown(yaml: string): Promise<import('./kube/play.ts').KubeDownReport> {
    const { kubeDown } = await import('./kube/play.ts');
    return kubeDown(this, yaml);
  }

  async checkpoint(ref: string): Promise<never> {
    const row = this.inspect(ref);
    await this.driver(row.config.runtime).checkpoint(row.id, join(this.dir(row.id), 'checkpoint'));
    throw new NotSupported('checkpoint is not supported');
  }
}

