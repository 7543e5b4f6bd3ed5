/**
 * Image references as docker reads them: `busybox` is `docker.io/library/busybox:latest`. The store keys
 * tags by their familiar form (`busybox:latest`, `registry:5000/app:1`); the registry client needs the
 * full form (which registry, which repository path, tag and/or digest), which parseImageName gives.
 *
 * The grammar is docker's: `[registry/]path[:tag][@digest]`. The first path component is a registry when
 * it holds a `.` or a `:`, is `localhost`, or has an uppercase letter (repository paths are lowercase, so
 * such a component can only be a host name); otherwise the registry is docker.io, where one-component
 * names live under `library/`.
 */
import { InvalidArgument } from '../errors.ts';

/** One path component: lowercase alphanumerics joined by `.`, `_`, `__` or runs of `-`. */
const COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
/** A host name or IPv4 address (labels of letters, digits and inner dashes), or a bracketed IPv6 address; optional port. */
const DOMAIN = /^(?:(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])(?:\.(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]))*|\[[0-9a-fA-F:.]+\])(?::[0-9]+)?$/;
const TAG = /^[\w][\w.-]{0,127}$/;
/** The digests we can verify: sha256 (what every registry uses) and sha512. */
const DIGEST = /^(?:sha256:[a-f0-9]{64}|sha512:[a-f0-9]{128})$/;
/** A bare 64-hex name is an image ID, never a repository (docker refuses it the same way). */
const HEX64 = /^[a-f0-9]{64}$/;
const NAME_MAX = 255;

export const DOCKER_HUB = 'docker.io';

/** A fully qualified image name, as the registry client needs it. */
export interface ImageName {
  /** `docker.io` or `host[:port]`. */
  registry: string;
  /** Repository path inside the registry: `library/busybox`, `team/app`. */
  path: string;
  tag?: string;
  /** `sha256:<64 hex>`. */
  digest?: string;
}

/** Familiar repository and tag (the store's key). */
export interface Reference {
  /** Familiar repository: `busybox`, `quay.io/x/y`. */
  repository: string;
  tag: string;
}

function invalid(ref: string, why?: string): InvalidArgument {
  return new InvalidArgument(why ? `invalid reference format: ${why}: ${ref}` : `invalid reference format: ${ref}`);
}

/** Splits `[registry/]path` the way docker does (see the file comment) and normalises docker.io. */
function splitRegistry(name: string): { registry: string; path: string } {
  const slash = name.indexOf('/');
  const first = slash < 0 ? '' : name.slice(0, slash);
  if (slash < 0 || (!/[.:]/.test(first) && first !== 'localhost' && first === first.toLowerCase())) {
    return { registry: DOCKER_HUB, path: name.includes('/') ? name : `library/${name}` };
  }
  const rest = name.slice(slash + 1);
  if (first === DOCKER_HUB || first === 'index.docker.io') {
    return { registry: DOCKER_HUB, path: rest.includes('/') ? rest : `library/${rest}` };
  }
  return { registry: first, path: rest };
}

/**
 * Parses `name`, `name:tag`, `name@sha256:…` or `name:tag@sha256:…` into its full form. Tag and digest are
 * left out when not given (pulls default to `latest`). Throws InvalidArgument `invalid reference format…`.
 */
export function parseImageName(ref: string): ImageName {
  let rest = ref;
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!DIGEST.test(digest)) throw invalid(ref);
  }
  let tag: string | undefined;
  // A tag's colon comes after the last slash; a colon before it belongs to a registry's port.
  const colon = rest.lastIndexOf(':');
  if (colon > rest.lastIndexOf('/')) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!TAG.test(tag)) throw invalid(ref);
  }
  if (rest === '' || rest.length > NAME_MAX) throw invalid(ref);
  const { registry, path } = splitRegistry(rest);
  if (!DOMAIN.test(registry)) throw invalid(ref);
  const parts = path.split('/');
  if (!parts.every((c) => COMPONENT.test(c))) {
    const lower = path.toLowerCase();
    if (lower !== path && lower.split('/').every((c) => COMPONENT.test(c))) {
      throw invalid(ref, 'repository name must be lowercase');
    }
    throw invalid(ref);
  }
  if (registry === DOCKER_HUB && HEX64.test(path.replace(/^library\//, ''))) {
    throw invalid(ref, 'cannot specify 64-byte hexadecimal strings');
  }
  const n: ImageName = { registry, path };
  if (tag !== undefined) n.tag = tag;
  if (digest !== undefined) n.digest = digest;
  return n;
}

/** The repository as docker prints it: `busybox`, `someone/app`, `localhost:5000/app`. */
export function familiarRepo(n: ImageName): string {
  if (n.registry !== DOCKER_HUB) return `${n.registry}/${n.path}`;
  return n.path.startsWith('library/') && n.path.indexOf('/', 'library/'.length) < 0
    ? n.path.slice('library/'.length)
    : n.path;
}

/** The fully qualified form: `docker.io/library/busybox:1@sha256:…` (tag and digest only when present). */
export function canonicalString(n: ImageName): string {
  return `${n.registry}/${n.path}${n.tag !== undefined ? `:${n.tag}` : ''}${n.digest ? `@${n.digest}` : ''}`;
}

/**
 * Familiar repository and tag (`latest` when none), the store's key. Kept as the store has always read
 * names: `library/x` stays as written unless `docker.io/` was spelled out; digest references are refused.
 */
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
  if (!rest.split('/').every((c) => COMPONENT.test(c)) || !TAG.test(tag)) throw invalid(ref);
  if (domain === DOCKER_HUB || domain === 'index.docker.io') {
    domain = '';
    if (rest.startsWith('library/')) rest = rest.slice('library/'.length);
  }
  return { repository: domain ? `${domain}/${rest}` : rest, tag };
}

export function familiarName(ref: string): string {
  const r = parseReference(ref);
  return `${r.repository}:${r.tag}`;
}
