/**
 * The filters docker's prune verbs take: `until` (made before a time), `label` and `label!` (`key` or
 * `key=value`), and for images `dangling`. One selector for containers and images; an unknown filter or
 * a bad time refuses the whole prune before anything goes.
 */
import { InvalidArgument } from '../errors.ts';
import { parseTimeArg } from './time.ts';

export interface PruneFilters {
  until?: string[];
  label?: string[];
  'label!'?: string[];
  dangling?: string[];
}

/** What a filter looks at in an object: when it was made, and its labels. */
export interface PruneFacts {
  created: string;
  labels: Record<string, string>;
}

const hasLabel = (labels: Record<string, string>, spec: string): boolean => {
  const eq = spec.indexOf('=');
  return eq < 0 ? spec in labels : labels[spec.slice(0, eq)] === spec.slice(eq + 1);
};

/** A predicate for the objects the filters select; `accepted` names the filters this prune takes. */
export function pruneSelector<T>(f: PruneFilters, accepted: readonly (keyof PruneFilters)[], facts: (x: T) => PruneFacts): (x: T) => boolean {
  for (const [k, v] of Object.entries(f)) {
    if (!accepted.includes(k as keyof PruneFilters) && (v ?? []).length > 0) throw new InvalidArgument(`invalid filter '${k}'`);
  }
  const until = (f.until ?? []).map((u) => parseTimeArg(u, 'until'));
  return (x) => {
    const { created, labels } = facts(x);
    return (
      until.every((t) => Date.parse(created) < t) &&
      (f.label ?? []).every((l) => hasLabel(labels, l)) &&
      !(f['label!'] ?? []).some((l) => hasLabel(labels, l))
    );
  };
}

/** `dangling=false` (or 0) asks for every unused image, `true` (the default) only for dangling ones. */
export function danglingOnly(f: PruneFilters): boolean {
  const v = f.dangling?.[0];
  if (v === undefined) return true;
  if (!['true', 'false', '1', '0'].includes(v)) throw new InvalidArgument(`invalid filter 'dangling=${v}'`);
  return v === 'true' || v === '1';
}
