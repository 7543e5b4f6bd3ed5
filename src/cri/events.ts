/**
 * The CRI's GetContainerEvents stream: the engine's container events (from any process using the root) for the
 * CRI's containers, as created, started, stopped and deleted events with the container's and sandbox's status.
 */
import type { Engine } from '../engine/engine.ts';
import { watchEvents } from '../engine/events.ts';
import { nanos } from './convert.ts';
import { containerStatus, listContainers } from './containers.ts';
import { podSandboxStatus } from './sandbox.ts';

const TYPES: Record<string, string> = {
  create: 'CONTAINER_CREATED_EVENT',
  start: 'CONTAINER_STARTED_EVENT',
  die: 'CONTAINER_STOPPED_EVENT',
  destroy: 'CONTAINER_DELETED_EVENT',
};

export async function streamContainerEvents(engine: Engine, send: (ev: object) => void, signal: AbortSignal): Promise<void> {
  // A container removed before its events are read has no record left to say it was the CRI's: those seen
  // before are remembered.
  const known = new Set<string>((await listContainers(engine, null)).map((r) => r.id));
  for await (const ev of watchEvents(engine.events, { signal, filter: new Map([['type', ['container']]]) })) {
    const type = TYPES[ev.action];
    if (!type) continue;
    let status: ReturnType<typeof containerStatus>['status'] | undefined;
    try {
      status = containerStatus(engine, ev.actor, false).status;
    } catch {
      // a deleted container (or not the CRI's): its status is gone
    }
    // Gone by the time its event is read (removed right after it stopped): still the CRI's if it was seen before.
    if (status) known.add(ev.actor);
    else if (!known.has(ev.actor)) continue;
    if (type === 'CONTAINER_DELETED_EVENT') known.delete(ev.actor);
    let sandbox: ReturnType<typeof podSandboxStatus>['status'] | null = null;
    try {
      sandbox = status?.pod_sandbox_id ? podSandboxStatus(engine, status.pod_sandbox_id, false).status : null;
    } catch {
      // the sandbox went with it
    }
    send({
      container_id: ev.actor,
      container_event_type: type,
      created_at: nanos(new Date(ev.timeUs / 1000).toISOString()),
      pod_sandbox_status: sandbox,
      containers_statuses: status ? [status] : [],
    });
  }
}
