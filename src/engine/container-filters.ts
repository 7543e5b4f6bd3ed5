/**
 * docker's container list filters, as `ps --filter KEY=VALUE` and the API's `filters` JSON both mean them
 * (the daemon's rule): different keys must all match; several values of one key are alternatives, but for
 * `label`, where every one must match. A `status` or `exited` filter lists stopped containers without
 * `--all`, as docker's does. `restart-policy` (podman's key) matches the policy's name.
 */
import { InvalidArgument } from '../errors.ts';
import type { ContainerRow } from '../store/containers.ts';
import { POLICY_NAMES } from './restart-policy.ts';
import { DOCKER_STATUS_WORDS, dockerStatusOf } from './state.ts';

/** Values by filter key. */
export type ContainerFilters = Record<string, string[]>;

const KEYS = ['id', 'name', 'status', 'exited', 'label', 'ancestor', 'restart-policy', 'health'] as const;
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

/** Refuse an unknown key, a status docker has no word for, an exit code that is no number, a bad name pattern. */
export function checkFilters(f: ContainerFilters): void {
  for (const [key, values] of Object.entries(f)) {
    if (!(KEYS as readonly string[]).includes(key)) throw new InvalidArgument(`invalid filter '${key}'`);
    for (const v of values) {
      if (key === 'status' && !(DOCKER_STATUS_WORDS as readonly string[]).includes(v)) throw new InvalidArgument(`invalid filter 'status=${v}'`);
      if (key === 'exited' && !/^-?\d+$/.test(v)) throw new InvalidArgument(`invalid filter 'exited=${v}'`);
      if (key === 'health' && !HEALTH_WORDS.includes(v)) throw new InvalidArgument(`Unrecognised filter value for health: ${v}`);
      if (key === 'restart-policy' && !(POLICY_NAMES as readonly string[]).includes(v)) throw new InvalidArgument(`invalid filter 'restart-policy=${v}'`);
      if (key === 'name') {
        try {
          new RegExp(v.replace(/^\//, ''));
        } catch {
          throw new InvalidArgument(`invalid filter 'name=${v}': not a valid regular expression`);
        }
      }
    }
  }
}

/** Whether the filters ask for stopped containers too (a status or exit code filter). */
export function wantsStopped(f: ContainerFilters): boolean {
  return 'status' in f || 'exited' in f;
}

function matchOne(key: string, val: string, r: ContainerRow): boolean {
  switch (key) {
    case 'id':
      return r.id.startsWith(val);
    case 'name':
      return new RegExp(val.replace(/^\//, '')).test(r.name);
    case 'status':
      return dockerStatusOf(r) === val;
    case 'health': {
      const probing = !!r.config.healthcheck && r.config.healthcheck.test[0] !== 'NONE';
      return val === 'none' ? !probing : probing && r.health?.status === val;
    }
    case 'restart-policy':
      return (r.config.restartPolicy?.name ?? 'no') === val;
    case 'exited':
      return r.state === 'exited' && r.exitCode === Number(val);
    case 'label': {
      const j = val.indexOf('=');
      return j < 0 ? val in r.config.labels : r.config.labels[val.slice(0, j)] === val.slice(j + 1);
    }
    case 'ancestor':
      return r.config.image === val || r.imageId.startsWith(val.replace(/^sha256:/, ''));
    default:
      return false;
  }
}

export function matchesFilters(f: ContainerFilters, r: ContainerRow): boolean {
  return Object.entries(f).every(([key, values]) => {
    if (values.length === 0) return true;
    return key === 'label' ? values.every((v) => matchOne(key, v, r)) : values.some((v) => matchOne(key, v, r));
  });
}
