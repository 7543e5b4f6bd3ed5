/** Registry verbs: pull and push (with a caller's own credentials, kept nowhere), login, logout. */
import { pullImage, type PullOptions, type PullResult } from '../../image/pull.ts';
import { pushAllTags, pushImage, type PushOptions, type PushResult } from '../../image/push.ts';
import type { Credentials } from '../../registry/authfile.ts';
import { InvalidArgument } from '../../errors.ts';
import { RegistryClient, type Descriptor, type Platform, type RegistryOptions, type SearchResult } from '../../registry/client.ts';
import { parseImageName } from '../../registry/reference.ts';
import type { EngineCore } from '../core.ts';

/**
 * Pull an image from its registry (src/image/pull.ts). Registry settings come from the configuration;
 * `credentials` (a caller's own, such as an API request's X-Registry-Auth) serve the reference's registry
 * for this pull only, instead of the auth file's.
 */
export function pull(engine: EngineCore, ref: string, opts: Omit<PullOptions, 'registry'> & { credentials?: Credentials } = {}): Promise<PullResult> {
  const { credentials, ...rest } = opts;
  return pullImage(engine.images, ref, { ...rest, registry: engine.registryOptions(credentialsFor(ref, credentials)) });
}

/** Push a tagged image to its registry (src/image/push.ts); `credentials` as for pull. */
export function push(engine: EngineCore, ref: string, opts: Omit<PushOptions, 'registry'> & { credentials?: Credentials } = {}): Promise<PushResult> {
  const { credentials, ...rest } = opts;
  return pushImage(engine.images, ref, { ...rest, registry: engine.registryOptions(credentialsFor(ref, credentials)) });
}

/** Push every local tag of a repository named without a tag (`docker push -a`), one after another; `credentials` as for pull. */
export function pushAll(engine: EngineCore, repo: string, opts: Omit<PushOptions, 'registry'> & { credentials?: Credentials } = {}): Promise<PushResult[]> {
  const { credentials, ...rest } = opts;
  return pushAllTags(engine.images, repo, { ...rest, registry: engine.registryOptions(credentialsFor(repo, credentials)) });
}

/**
 * Check credentials against a registry (`docker login`); `store` keeps them in the docker-compatible auth
 * file, or with the credential helper it names for the registry (the API checks only: its clients keep
 * their own). Refused credentials throw Unauthorized.
 */
export function login(engine: EngineCore, server: string, username: string, password: string, store = true): Promise<void> {
  return new RegistryClient(engine.registryOptions()).login(server, username, password, store);
}

/** Forget a registry's stored credentials (erasing them from its credential helper too); false when there were none. */
export function logout(engine: EngineCore, server: string): Promise<boolean> {
  return new RegistryClient(engine.registryOptions()).logout(server);
}

/** The manifest's descriptor and platforms in `ref`'s registry (docker's distribution inspect); `credentials` as for pull. */
export function describeRemote(engine: EngineCore, ref: string, credentials?: Credentials): Promise<{ descriptor: Descriptor; platforms: Platform[] }> {
  return new RegistryClient(engine.registryOptions(credentialsFor(ref, credentials))).describe(parseImageName(ref));
}

/** The tags `ref`'s repository has in its registry (for `pull -a`). */
export function remoteTags(engine: EngineCore, ref: string): Promise<string[]> {
  return new RegistryClient(engine.registryOptions()).tags(parseImageName(ref));
}

/** docker's search filters: `stars=N` (at least N), `is-official`, `is-automated`. */
export interface SearchFilters {
  stars?: string[];
  'is-official'?: string[];
  'is-automated'?: string[];
}

/** `docker search`: a registry's search results (1–100 of them), narrowed by the filters. */
export async function search(engine: EngineCore, term: string, limit = 25, filters: SearchFilters = {}): Promise<SearchResult[]> {
  if (!Number.isInteger(limit) || limit < 1 || limit > 100) throw new InvalidArgument(`limit ${limit} is outside the range of [1, 100]`);
  for (const k of Object.keys(filters)) if (!['stars', 'is-official', 'is-automated'].includes(k)) throw new InvalidArgument(`invalid filter '${k}'`);
  const flag = (k: 'is-official' | 'is-automated') => {
    const v = filters[k]?.[0];
    if (v === undefined) return undefined;
    if (!['true', 'false', '1', '0'].includes(v)) throw new InvalidArgument(`invalid filter '${k}=${v}'`);
    return v === 'true' || v === '1';
  };
  const official = flag('is-official');
  const automated = flag('is-automated');
  const stars = filters.stars?.[0];
  if (stars !== undefined && !/^\d+$/.test(stars)) throw new InvalidArgument(`invalid filter 'stars=${stars}'`);
  const results = await new RegistryClient(engine.registryOptions()).search(term, limit);
  return results.filter(
    (r) => (official === undefined || r.is_official === official) && (automated === undefined || r.is_automated === automated) && (stars === undefined || r.star_count >= Number(stars)),
  );
}

/** A caller's credentials keyed by the registry of `ref`, as RegistryOptions takes them. */
function credentialsFor(ref: string, credentials: Credentials | undefined): RegistryOptions['credentials'] {
  return credentials ? { [parseImageName(ref).registry]: credentials } : undefined;
}
