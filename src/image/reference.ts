/**
 * Image references as docker reads them: `busybox` is `docker.io/library/busybox:latest`. The store keys
 * tags by their familiar form (`busybox:latest`, `registry:5000/app:1`).
 */
import { InvalidArgument } from '../errors.ts';

const NAME = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$/;
const TAG = /^[\w][\w.-]{0,127}$/;

export interface Reference {
  /** Familiar repository: `busybox`, `quay.io/x/y`. */
  repository: string;
  tag: string;
}

export function parseReference(ref: string): Reference {
  let rest = ref;
  let domain = '';
  const slash = rest.indexOf('/');
  if (slash > 0) {
    const first = rest.slice(0, slash);
    if (first.includes('.') || first.includes(':') || first === 'localhost') {
      domain = first;
      rest = rest.slice(slash + 1);
    }
  }
  let tag = 'latest';
  const colon = rest.lastIndexOf(':');
  if (colon > 0) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
  }
  if (!NAME.test(rest) || !TAG.test(tag)) {
    throw new InvalidArgument(`invalid reference format: ${ref}`);
  }
  if (domain === 'docker.io' || domain === 'index.docker.io') {
    domain = '';
    if (rest.startsWith('library/')) rest = rest.slice('library/'.length);
  }
  return { repository: domain ? `${domain}/${rest}` : rest, tag };
}

export function familiarName(ref: string): string {
  const r = parseReference(ref);
  return `${r.repository}:${r.tag}`;
}
