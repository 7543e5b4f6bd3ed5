/**
 * The CRI's containers: Berth containers in a sandbox's pod, made from kubelet's config (container-config.ts)
 * and answered in the CRI's terms. Only containers the CRI made are its to see: the user's own are not listed,
 * and are refused by id. Removing a container that is gone already is not an error (the CRI's rule).
 */
import { Conflict, NotFound, NoSuchContainer, TimedOut } from '../errors.ts';
import type { Engine } from '../engine/engine.ts';
import type { ContainerRow } from '../store/containers.ts';
import { containerState, nanos, selects } from './convert.ts';
import { createOptions, criResources, type CriContainerConfig, type CriResources } from './container-config.ts';
import { criPod } from './sandbox.ts';

export async function createContainer(engine: Engine, sandboxId: string, config: CriContainerConfig | undefined): Promise<string> {
  const pod = criPod(engine, sandboxId);
  const row = await engine.create(createOptions(pod, config ?? {}));
  return row.id;
}

/** A container the CRI made, brought up to date; NotFound for any other id. */
export function criContainer(engine: Engine, id: string): ContainerRow {
  if (!id) throw new NotFound('a container id is required');
  let row: ContainerRow;
  try {
    row = engine.inspect(id);
  } catch (e) {
    if (e instanceof NoSuchContainer) throw new NotFound(`container "${id}" not found`);
    throw e;
  }
  if (!row.config.cri) throw new NotFound(`container "${id}" not found`);
  return row;
}

export async function startContainer(engine: Engine, id: string): Promise<void> {
  const row = criContainer(engine, id);
  if (row.state !== 'created') throw new Conflict(`container ${row.id} is in ${containerState(row)} state, not CONTAINER_CREATED`);
  await engine.start(row.id);
}

/** Stop with the grace period kubelet gives (the stop signal, then SIGKILL); a stopped container is left as it is. */
export async function stopContainer(engine: Engine, id: string, timeout: number): Promise<void> {
  const row = criContainer(engine, id);
  if (row.state === 'running' || row.state === 'paused') await engine.stop(row.id, Math.max(0, timeout));
}

export async function removeContainer(engine: Engine, id: string): Promise<void> {
  let row: ContainerRow;
  try {
    row = criContainer(engine, id);
  } catch (e) {
    if (e instanceof NotFound) return;
    throw e;
  }
  await engine.remove(row.id, true);
}

/** A bind's propagation in the CRI's words (rprivate, Berth's default, is PRIVATE). */
function propagationOf(options: readonly string[]): string {
  if (options.some((o) => o === 'rshared' || o === 'shared')) return 'PROPAGATION_BIDIRECTIONAL';
  if (options.some((o) => o === 'rslave' || o === 'slave')) return 'PROPAGATION_HOST_TO_CONTAINER';
  return 'PROPAGATION_PRIVATE';
}

function reason(row: ContainerRow): string {
  if (row.state !== 'exited') return '';
  if (row.oomKilled) return 'OOMKilled';
  return row.exitCode === 0 ? 'Completed' : 'Error';
}

function summary(row: ContainerRow) {
  const cri = row.config.cri!;
  return {
    id: row.id,
    pod_sandbox_id: row.config.pod ?? '',
    metadata: { name: cri.name, attempt: cri.attempt },
    image: { image: cri.image },
    image_ref: `sha256:${row.imageId}`,
    state: containerState(row),
    created_at: nanos(row.createdAt),
    labels: cri.labels,
    annotations: cri.annotations,
  };
}

export function containerStatus(engine: Engine, id: string, verbose: boolean) {
  const row = criContainer(engine, id);
  const cri = row.config.cri!;
  const started = row.state !== 'created' && row.startedAt !== '';
  const finished = row.state === 'exited';
  const r = row.config.resources;
  return {
    status: {
      ...summary(row),
      started_at: started ? nanos(row.startedAt) : '0',
      finished_at: finished ? nanos(row.finishedAt) : '0',
      exit_code: finished ? row.exitCode : 0,
      reason: reason(row),
      message: finished && row.error ? row.error : '',
      mounts: row.config.mounts
        .filter((m) => m.type === 'bind')
        .map((m) => ({ container_path: m.destination, host_path: m.source, readonly: m.readonly ?? false, propagation: propagationOf(m.options ?? []) })),
      log_path: cri.logPath,
      resources: {
        linux: {
          cpu_period: String(r.cpuPeriod ?? 0), cpu_quota: String(r.cpuQuota ?? 0), cpu_shares: String(r.cpuShares ?? 0),
          memory_limit_in_bytes: String(r.memory ?? 0), oom_score_adj: String(row.config.oomScoreAdj ?? 0),
          cpuset_cpus: r.cpusetCpus ?? '', cpuset_mems: r.cpusetMems ?? '', memory_swap_limit_in_bytes: String(r.memorySwap ?? 0),
        },
      },
    },
    info: verbose ? { info: JSON.stringify({ pid: row.pid, sandboxID: row.config.pod, runtime: row.config.runtime }) } : {},
  };
}

export interface ContainerFilter {
  id?: string;
  state?: { state?: string } | null;
  pod_sandbox_id?: string;
  label_selector?: Record<string, string>;
}

/** The CRI's containers the filter selects (ids and sandbox ids by prefix, as containerd matches them). */
export async function listContainers(engine: Engine, filter: ContainerFilter | null | undefined): Promise<ContainerRow[]> {
  const rows = await engine.list(true);
  const out: ContainerRow[] = [];
  for (const listed of rows) {
    if (filter?.id && !listed.id.startsWith(filter.id)) continue;
    let row: ContainerRow;
    try {
      row = engine.inspect(listed.id);
    } catch {
      continue; // removed meanwhile
    }
    if (!row.config.cri) continue;
    if (filter?.pod_sandbox_id && !(row.config.pod ?? '').startsWith(filter.pod_sandbox_id)) continue;
    if (filter?.state && containerState(row) !== filter.state.state) continue;
    if (!selects(row.config.cri.labels, filter?.label_selector)) continue;
    out.push(row);
  }
  return out;
}

export const containerSummary = summary;

export async function updateContainerResources(engine: Engine, id: string, linux: CriResources | null | undefined): Promise<void> {
  const row = criContainer(engine, id);
  const { oomScoreAdj: _ignored, ...resources } = criResources(linux);
  if (Object.keys(resources).length > 0) await engine.update(row.id, resources);
}

export async function reopenContainerLog(engine: Engine, id: string): Promise<void> {
  const row = criContainer(engine, id);
  await engine.reopenLog(row.id);
}

/** The CRI's ExecSync: run, collect stdout and stderr, and the exit code; past `timeout` seconds, kill it. */
export async function execSync(engine: Engine, id: string, cmd: string[], timeout: number): Promise<{ stdout: Buffer; stderr: Buffer; exit_code: number }> {
  const row = criContainer(engine, id);
  const handle = await engine.exec(row.id, { cmd, stdout: true, stderr: true });
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  const ended = new Promise<void>((resolve) => {
    if (!handle.stream) return resolve();
    handle.stream.on('stdout', (b) => out.push(b));
    handle.stream.on('stderr', (b) => err.push(b));
    handle.stream.on('end', resolve);
    handle.stream.on('error', () => resolve());
  });
  let timer: NodeJS.Timeout | undefined;
  const deadline = timeout > 0 ? new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), timeout * 1000))) : new Promise<never>(() => {});
  try {
    const code = await Promise.race([handle.exit, deadline]);
    if (code === 'timeout') {
      await engine.execStop(handle.id, 0).catch(() => {});
      handle.stream?.close();
      throw new TimedOut(`command ${JSON.stringify(cmd.join(' '))} timed out after ${timeout}s`);
    }
    await Promise.race([ended, new Promise((r) => setTimeout(r, 2000))]);
    return { stdout: Buffer.concat(out), stderr: Buffer.concat(err), exit_code: code };
  } finally {
    clearTimeout(timer);
  }
}
