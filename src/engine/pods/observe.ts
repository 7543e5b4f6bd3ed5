/** `pod top` and `pod logs`: a pod's processes in one ps, its containers' logs in one stream. */
import { Conflict } from '../../errors.ts';
import type { LogReadOptions, LogRecord } from '../../runtime/driver.ts';
import type { ContainerRow } from '../../store/containers.ts';
import type { EngineCore } from '../core.ts';
import { isLive } from '../state.ts';
import { psOf, type TopResult } from '../top.ts';
import { readLogs } from '../verbs/io.ts';
import { findPod } from './find.ts';
import { allMembers, podMembers } from './members.ts';

/** The processes of every running container of the pod (its infra container's too), as one ps shows them. */
export async function topPod(engine: EngineCore, ref: string, psArgs: string[] = ['-ef']): Promise<TopResult> {
  const pod = findPod(engine, ref);
  const live = allMembers(engine, pod).filter((r) => isLive(r.state));
  if (live.length === 0) throw new Conflict(`pod ${pod.name} has no running containers`);
  const pids = new Set<string>();
  for (const r of live) for (const p of await engine.driver(r.config.runtime).pids(r.id)) pids.add(String(p));
  return psOf(pids, psArgs.length > 0 ? psArgs : ['-ef']);
}

/**
 * The logs of the pod's containers (not the infra container's, which prints nothing), or of those `only`
 * names: each container's in turn, or with `follow` all at once until each has exited or `signal` aborts.
 */
export async function podLogs(
  engine: EngineCore,
  ref: string,
  out: (container: ContainerRow, rec: LogRecord) => void,
  opts: LogReadOptions & { signal?: AbortSignal; only?: string } = {},
): Promise<void> {
  const pod = findPod(engine, ref);
  let rows = podMembers(engine, pod).others;
  if (opts.only !== undefined) {
    const wanted = engine.find(opts.only);
    if (wanted.config.pod !== pod.id) throw new Conflict(`container ${wanted.name} is not in pod ${pod.name}`);
    rows = [wanted];
  }
  const read = (r: ContainerRow) => readLogs(engine, r.id, (rec) => out(r, rec), opts);
  if (opts.follow) await Promise.all(rows.map(read));
  else for (const r of rows) await read(r);
}
