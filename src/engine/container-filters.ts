/**
 * docker's container list filters, as `ps --filter KEY=VALUE` and the API's `filters` JSON both mean them
 * (dockerd's rules): different keys must all match; several values of one key are alternatives, except
 * `label`, where every one must match. `publish` and `expose` count as one filter, as in dockerd: a
 * container passes if any of its ports matches any value of either. Only `status` lists stopped containers
 * without `--all`: `exited=N` alone finds nothing, because running containers have no exit code.
 * `restart-policy` (podman's key) matches the policy's name.
 *
 * Where Berth differs from dockerd, on purpose: `before` and `since` also take a unique id prefix (docker's
 * docs use short ids; dockerd refuses them, docker/for-linux#258) and count in creation order whatever other
 * filters narrow the list to; a malformed `publish` or `expose` value is a 400 (dockerd's error carries no
 * class and is a 500).
 */
import { InvalidArgument, NoSuchContainer } from '../errors.ts';
import type { ContainerRow, ListedContainer } from '../store/containers.ts';
import { inPortRanges, parsePortFilter, type PortRange } from './port-filter.ts';
import { POLICY_NAMES } from './restart-policy.ts';
import { DOCKER_STATUS_WORDS, dockerStatusOf, isLive, isUpOrRestarting } from './state.ts';

/** Values by filter key. */
export type ContainerFilters = Record<string, string[]>;

const KEYS = [
  'id', 'name', 'status', 'exited', 'label', 'ancestor', 'restart-policy', 'health',
  'before', 'since', 'network', 'volume', 'publish', 'expose', 'is-task', 'isolation',
] as const;
const HEALTH_WORDS = ['starting', 'healthy', 'unhealthy', 'none'];

/** `KEY=VALUE` strings (the CLI's --filter) as filters; a string without `=` is refused with docker's words. */
export function parseFilterArgs(list: readonly string[]): ContainerFilters {
  const out: ContainerFilters = {};
  for (const f of list) {
    const i = f.indexOf('=');
    if (i <= 0) throw new InvalidArgument(`bad format of filter (expected name=value): ${f}`);
    (out[f.slice(0, i)] ??= []).push(f.slice(i + 1));
  }
  return out;
}

/**
 * Refuse what no container list could mean: an unknown key, a status or health docker has no word for, an
 * exit code that is no number, a bad name pattern, a malformed port, an `is-task` that is not one boolean.
 * (An unknown container for `before`/`since` is found out by selectContainers.)
 */
export function checkFilters(f: ContainerFilters): void {
  for (const [key, values] of Object.entries(f)) {
    if (!(KEYS as readonly string[]).includes(key)) throw new InvalidArgument(`invalid filter '${key}'`);
    if (key === 'is-task') isTask(values);
    for (const v of values) {
      if (key === 'status' && !(DOCKER_STATUS_WORDS as readonly string[]).includes(v)) throw new InvalidArgument(`invalid filter 'status=${v}'`);
      if (key === 'exited' && !/^[+-]?\d+$/.test(v)) throw new InvalidArgument(`invalid filter 'exited=${v}': strconv.Atoi: parsing "${v}": invalid syntax`);
      if (key === 'health' && !HEALTH_WORDS.includes(v)) throw new InvalidArgument(`Unrecognised filter value for health: ${v}`);
      if (key === 'restart-policy' && !(POLICY_NAMES as readonly string[]).includes(v)) throw new InvalidArgument(`invalid filter 'restart-policy=${v}'`);
      if (key === 'publish' || key === 'expose') parsePortFilter(key, v);
      if (key === 'name') nameRegExp(v);
    }
  }
}

/** Whether the filters list stopped containers without `all`: a `status` filter does (dockerd's rule). */
export function wantsStopped(f: ContainerFilters): boolean {
  return 'status' in f;
}

/** What some filters need beyond the rows; asked only when such a filter is given. */
export interface FilterWorld {
  /** The container a `before`/`since` value names: full id, name or unique id prefix; NotFound otherwise. */
  find(ref: string): ContainerRow;
  /** Every network's id and name (host and none too), for `network=ID-PREFIX`. */
  networks(): readonly { id: string; name: string }[];
}

/**
 * The rows `ps` lists: the running (or restarting) ones unless `all` or a `status` filter, narrowed by the
 * filters. `rows` are every container, newest first (the order `before` and `since` count in); the order is
 * kept. With no filters this costs what listing did without them.
 */
export function selectContainers<R extends ListedContainer>(rows: readonly R[], all: boolean, f: ContainerFilters, world: FilterWorld): R[] {
  checkFilters(f);
  const tests = compile(f, rows, world);
  const shown = all || wantsStopped(f) ? rows : rows.filter(isUpOrRestarting);
  return tests.length === 0 ? [...shown] : shown.filter((r) => tests.every((t) => t(r)));
}

type Test = (r: ListedContainer) => boolean;

/** One test per filter given, with whatever it looks up done once here, not per container. */
function compile(f: ContainerFilters, rows: readonly ListedContainer[], world: FilterWorld): Test[] {
  const tests: Test[] = [];
  const publish: PortRange[] = [];
  const expose: PortRange[] = [];
  let order: Map<string, number> | undefined;
  for (const [key, values] of Object.entries(f)) {
    if (values.length === 0) continue;
    switch (key) {
      case 'id':
        tests.push((r) => values.some((v) => r.id.startsWith(v)));
        break;
      case 'name': {
        const patterns = values.map(nameRegExp);
        tests.push((r) => patterns.some((p) => p.test(r.name)));
        break;
      }
      case 'status':
        tests.push((r) => values.includes(dockerStatusOf(r)));
        break;
      case 'exited': {
        // An exit code is a stopped container's that once ran (a created one's 0 is none).
        const codes = values.map(Number);
        tests.push((r) => !isUpOrRestarting(r) && r.startedAt !== '' && codes.includes(r.exitCode));
        break;
      }
      case 'label':
        tests.push((r) => values.every((v) => hasLabel(r.config.labels, v)));
        break;
      case 'ancestor':
        tests.push((r) => values.some((v) => r.config.image === v || r.imageId.startsWith(v.replace(/^sha256:/, ''))));
        break;
      case 'restart-policy':
        tests.push((r) => values.includes(r.config.restartPolicy?.name ?? 'no'));
        break;
      case 'health':
        tests.push((r) => values.some((v) => healthIs(r, v)));
        break;
      case 'before':
      case 'since': {
        order ??= new Map(rows.map((r, i) => [r.id, i]));
        const at = order;
        // A marker made after `rows` were read is newer than all of them.
        const marks = values.map((v) => at.get(marker(world, v).id) ?? -1);
        tests.push(key === 'before' ? (r) => marks.some((m) => at.get(r.id)! > m) : (r) => marks.some((m) => at.get(r.id)! < m));
        break;
      }
      case 'network': {
        const names = new Set(values);
        for (const n of world.networks()) if (values.some((v) => n.id.startsWith(v))) names.add(n.name);
        tests.push((r) => networkNames(r).some((n) => names.has(n)));
        break;
      }
      case 'volume':
        // A volume by name, a bind by its host path, any mount by its destination.
        tests.push((r) => r.config.mounts.some((m) => values.includes(m.destination) || (m.type !== 'tmpfs' && values.includes(m.source))));
        break;
      case 'publish':
      case 'expose':
        (key === 'publish' ? publish : expose).push(...values.map((v) => parsePortFilter(key, v)));
        break;
      case 'is-task':
        // Berth runs no swarm tasks: `true` selects nothing, `false` everything.
        if (isTask(values)) tests.push(() => false);
        break;
      // isolation: a Windows daemon's; on Linux dockerd lets every container through whatever the value.
    }
  }
  if (publish.length > 0 || expose.length > 0) tests.push((r) => portsMatch(r, publish, expose));
  return tests;
}

function nameRegExp(v: string): RegExp {
  try {
    return new RegExp(v.replace(/^\//, ''));
  } catch {
    throw new InvalidArgument(`invalid filter 'name=${v}': not a valid regular expression`);
  }
}

/** dockerd's boolean filter: `true`/`1` or `false`/`0`, not both, not neither. */
function isTask(values: readonly string[]): boolean {
  const yes = values.includes('true') || values.includes('1');
  const no = values.includes('false') || values.includes('0');
  if (yes === no) throw new InvalidArgument(values.length === 0 ? `invalid filter 'is-task'` : `invalid filter 'is-task=[${values.join(' ')}]'`);
  return yes;
}

function marker(world: FilterWorld, ref: string): ContainerRow {
  if (ref === '') throw new NoSuchContainer(ref);
  return world.find(ref);
}

function hasLabel(labels: Record<string, string>, spec: string): boolean {
  const j = spec.indexOf('=');
  return j < 0 ? spec in labels : labels[spec.slice(0, j)] === spec.slice(j + 1);
}

function healthIs(r: ListedContainer, word: string): boolean {
  const probing = !!r.config.healthcheck && r.config.healthcheck.test[0] !== 'NONE';
  return word === 'none' ? !probing : probing && r.health?.status === word;
}

/** The networks docker names a container's endpoints by: host or none for those modes, else its attachments. */
function networkNames(r: ListedContainer): string[] {
  const mode = r.config.isolation?.network;
  if (mode === 'host' || mode === 'none') return [mode];
  return (r.config.networking?.networks ?? []).map((a) => a.name);
}

/**
 * dockerd matches the ports its list shows: only a live container's, host ports as bound for `publish`,
 * and for `expose` the container ports a network of its own exposes (EXPOSE, --expose, the published ones).
 */
function portsMatch(r: ListedContainer, publish: readonly PortRange[], expose: readonly PortRange[]): boolean {
  if (!isLive(r.state)) return false;
  const bound = r.net.ports ?? [];
  if (bound.some((p) => inPortRanges(publish, p.hostPort, p.protocol) || inPortRanges(expose, p.containerPort, p.protocol))) return true;
  if (expose.length === 0 || (r.config.networking?.networks.length ?? 0) === 0) return false;
  return (r.config.exposedPorts ?? []).some((e) => {
    const [port, proto = 'tcp'] = e.split('/');
    return inPortRanges(expose, Number(port), proto.toLowerCase());
  });
}
