/** Registry verbs: pull and push (with a caller's own credentials, kept nowhere), login, logout. */
import { pullImage, type PullOptions, type PullResult } from '../../image/pull.ts';
import { pushImage, type PushOptions, type PushResult } from '../../image/push.ts';
import type { Credentials } from '../../registry/authfile.ts';
import { RegistryClient, type RegistryOptions } from '../../registry/client.ts';
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

/**
 * Check credentials against a registry (`docker login`); `store` keeps them in the docker-compatible auth
 * file (the API checks only: its clients keep their own). Refused credentials throw Unauthorized.
 */
export function login(engine: EngineCore, server: string, username: string, password: string, store = true): Promise<void> {
  return new RegistryClient(engine.registryOptions()).login(server, username, password, store);
}

/** Forget a registry's stored credentials; false when there were none. */
export function logout(engine: EngineCore, server: string): boolean {
  return new RegistryClient(engine.registryOptions()).logout(server);
}

/** A caller's credentials keyed by the registry of `ref`, as RegistryOptions takes them. */
function credentialsFor(ref: string, credentials: Credentials | undefined): RegistryOptions['credentials'] {
  return credentials ? { [parseImageName(ref).registry]: credentials } : undefined;
}
