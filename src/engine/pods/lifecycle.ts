/**
 * `pod start|stop|restart|kill|pause|unpause`: the container verbs over a pod's containers, in the order the
 * namespaces need (the infra container, or a pinned pod's namespaces, first up and last down), each container
 * its own result.
 */
import { Conflict, asBerthError, type BerthError } from '../../errors.ts';
import type { ContainerRow } from '../../store/containers.ts';
import type { PodRow } from '../../store/pods.ts';
import type { EngineCore } from '../core.ts';
import { canKill, canPause, canStart, canUnpause, isLive } from '../state.ts';
import { kill, pause, unpause } from '../verbs/signal.ts';
import { start } from '../verbs/start.ts';
import { stop } from '../verbs/stop.ts';
import { findPod } from './find.ts';
import { withPodLock } from './lock.ts';
import { podMembers } from './members.ts';
import { pinPod, releasePod } from './pinned.ts';

/** What a pod verb did: the pod, and each container it failed on. */
export interface PodActionResult {
  id: string;
  name: string;
  failures: { id: string; name: string; error: BerthError }[];
}

type Step = (row: ContainerRow) => Promise<unknown>;

/** Run `step` on each row (at once, or one after another), collecting failures rather than stopping at the first. */
async function each(rows: ContainerRow[], step: Step, failures: PodActionResult['failures'], parallel: boolean): Promise<void> {
  const one = async (r: ContainerRow) => {
    try {
      await step(r);
    } catch (e) {
      failures.push({ id: r.id, name: r.name, error: asBerthError(e) });
    }
  };
  if (parallel) await Promise.all(rows.map(one));
  else for (const r of rows) await one(r);
}

/** A step on the pod itself (a pinned pod's namespaces), its failure reported under the pod's name. */
async function podStep(pod: PodRow, step: () => Promise<unknown>, failures: PodActionResult['failures']): Promise<void> {
  try {
    await step();
  } catch (e) {
    failures.push({ id: pod.id, name: pod.name, error: asBerthError(e) });
  }
}

function result(pod: PodRow, failures: PodActionResult['failures']): PodActionResult {
  return { id: pod.id, name: pod.name, failures };
}

/** The infra container, then the others (one after another: a container's start may depend on an earlier one). */
export async function startPod(engine: EngineCore, ref: string): Promise<PodActionResult> {
  const pod = findPod(engine, ref);
  const { infra, others } = podMembers(engine, pod);
  const failures: PodActionResult['failures'] = [];
  if (pod.config.pinned) await podStep(pod, () => withPodLock(engine, pod, () => pinPod(engine, pod)), failures);
  if (infra && !isLive(infra.state)) await each([infra], (r) => start(engine, r.id), failures, false);
  if (failures.length === 0) await each(others.filter((r) => canStart(r.state)), (r) => start(engine, r.id), failures, false);
  engine.emit('pod', 'start', pod.id, { name: pod.name });
  return result(pod, failures);
}

/** The others at once (each with its stop signal and timeout, or `timeout`), then the infra container. */
export async function stopPod(engine: EngineCore, ref: string, timeout?: number): Promise<PodActionResult> {
  const pod = findPod(engine, ref);
  const { infra, others } = podMembers(engine, pod);
  const failures: PodActionResult['failures'] = [];
  await each(others.filter((r) => isLive(r.state)), (r) => stop(engine, r.id, timeout), failures, true);
  if (infra && isLive(infra.state)) await each([infra], (r) => stop(engine, r.id, timeout), failures, false);
  // A pinned pod's namespaces go once its containers are down (one that would not stop keeps them).
  if (pod.config.pinned && failures.length === 0) await podStep(pod, () => withPodLock(engine, pod, () => releasePod(engine, pod)), failures);
  engine.emit('pod', 'stop', pod.id, { name: pod.name });
  return result(pod, failures);
}

export async function restartPod(engine: EngineCore, ref: string, timeout?: number): Promise<PodActionResult> {
  const stopped = await stopPod(engine, ref, timeout);
  if (stopped.failures.length > 0) return stopped;
  return startPod(engine, ref);
}

/** A signal to every running container of the pod; refused when none runs. */
export async function killPod(engine: EngineCore, ref: string, signal = 'SIGKILL'): Promise<PodActionResult> {
  return overLive(engine, ref, (r) => canKill(r.state), (r) => kill(engine, r.id, signal), 'kill', 'has no running containers');
}

export async function pausePod(engine: EngineCore, ref: string): Promise<PodActionResult> {
  return overLive(engine, ref, (r) => canPause(r.state), (r) => pause(engine, r.id), 'pause', 'has no running containers');
}

export async function unpausePod(engine: EngineCore, ref: string): Promise<PodActionResult> {
  return overLive(engine, ref, (r) => canUnpause(r.state), (r) => unpause(engine, r.id), 'unpause', 'has no paused containers');
}

async function overLive(engine: EngineCore, ref: string, applies: (r: ContainerRow) => boolean, step: Step, action: string, none: string): Promise<PodActionResult> {
  const pod = findPod(engine, ref);
  const { infra, others } = podMembers(engine, pod);
  const rows = [...others, ...(infra ? [infra] : [])].filter(applies);
  if (rows.length === 0) throw new Conflict(`pod ${pod.name} ${none}`);
  const failures: PodActionResult['failures'] = [];
  await each(rows, step, failures, true);
  engine.emit('pod', action, pod.id, { name: pod.name });
  return result(pod, failures);
}
