/**
 * Docker's `ps` row: the one mapping from a listed container to docker's status strings and the fields its
 * --format templates name. A module of its own, so that listing loads no more than it needs (see ps-list.ts).
 */
import type { ListedContainer } from '../store/containers.ts';
import { dockerStatusOf, isLive } from './state.ts';

/** ps's health suffix: ` (healthy)`, ` (unhealthy)`, ` (health: starting)`; none without a check. */
function healthSuffix(r: ListedContainer): string {
  if (!r.health || r.config.healthcheck?.test[0] === 'NONE') return '';
  return r.health.status === 'starting' ? ' (health: starting)' : ` (${r.health.status})`;
}

/** `docker ps` STATUS column: "Up 3 seconds", "Exited (0) 2 minutes ago", "Created". */
export function statusText(r: ListedContainer, now = Date.now(), human: (ms: number) => string): string {
  switch (r.state) {
    case 'running':
      return `Up ${human(now - Date.parse(r.startedAt))}${healthSuffix(r)}`;
    case 'paused':
      return `Up ${human(now - Date.parse(r.startedAt))} (Paused)`;
    case 'exited':
      if (dockerStatusOf(r) === 'restarting') return `Restarting (${r.exitCode}) ${human(now - Date.parse(r.finishedAt || r.restartAt))} ago`;
      return r.finishedAt ? `Exited (${r.exitCode}) ${human(now - Date.parse(r.finishedAt))} ago` : `Exited (${r.exitCode})`;
    case 'removing':
      return 'Removal In Progress';
    case 'dead':
      return 'Dead';
    default:
      return 'Created';
  }
}

/** docker ps's PORTS: `0.0.0.0:8080->80/tcp, 53/udp`. */
function portsText(r: ListedContainer): string {
  const live = isLive(r.state);
  const bound = live ? (r.net.ports ?? []) : [];
  const parts = bound.map((p) => `${p.hostIP || '0.0.0.0'}:${p.hostPort}->${p.containerPort}/${p.protocol}`);
  return parts.join(', ');
}

/** The `docker ps` row object (its --format fields). */
export function psSummary(r: ListedContainer, human: (ms: number) => string, now = Date.now()) {
  const command = r.config.args.join(' ');
  return {
    ID: r.id,
    Image: r.config.image,
    Command: command,
    CreatedAt: new Date(r.createdAt).toISOString().replace('T', ' ').replace(/\.\d+Z$/, ' +0000 UTC'),
    RunningFor: `${human(now - Date.parse(r.createdAt))} ago`,
    Ports: portsText(r),
    State: dockerStatusOf(r),
    Status: statusText(r, now, human),
    Size: '0B',
    Names: r.name,
    Labels: Object.entries(r.config.labels)
      .map(([k, v]) => `${k}=${v}`)
      .join(','),
    Mounts: r.config.mounts.map((m) => m.destination).join(','),
    Networks: (r.config.networking?.networks ?? []).map((n) => n.name).join(',') || (r.config.isolation?.network === 'bridge' ? '' : (r.config.isolation?.network ?? '')),
    LocalVolumes: String(r.config.mounts.filter((m) => m.type === 'volume').length),
  };
}
