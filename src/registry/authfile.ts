/**
 * The docker-compatible credentials file: `{"auths": {"<registry>": {"auth": base64("user:pass")}}}`.
 *
 * The same file is read by docker, podman, skopeo and buildah, so we read every spelling of a key they
 * write (`host`, `https://host`, `http://host/v2/`, docker.io as `https://index.docker.io/v1/`) and keep
 * every other key of the file (credsStore, credHelpers, proxies, …) untouched when writing. Writes are
 * atomic (temporary file, fsync, rename) and the file is private (0600): it holds passwords.
 *
 * The file may instead name a credential helper for a registry: `credHelpers` (`{"host": "name"}`) for
 * that one, else `credsStore` for all. Then the secret lives with the helper (credential-store.ts decides)
 * and the file keeps only an empty entry under the registry's key, as docker leaves it.
 */
import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, writeSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { InvalidArgument, RuntimeFailure } from '../errors.ts';
import { DOCKER_HUB } from './reference.ts';
import { HUB_AUTH_KEY, normaliseHost } from './hosts.ts';

export interface Credentials {
  username: string;
  password: string;
}

interface AuthEntry {
  auth?: string;
  username?: string;
  password?: string;
  [k: string]: unknown;
}

interface AuthFile {
  auths?: Record<string, AuthEntry>;
  credsStore?: unknown;
  credHelpers?: unknown;
  [k: string]: unknown;
}

/** $REGISTRY_AUTH_FILE, else $DOCKER_CONFIG/config.json, else ~/.docker/config.json. */
export function defaultAuthFile(env: NodeJS.ProcessEnv = process.env): string {
  if (env.REGISTRY_AUTH_FILE) return env.REGISTRY_AUTH_FILE;
  if (env.DOCKER_CONFIG) return join(env.DOCKER_CONFIG, 'config.json');
  return join(homedir(), '.docker', 'config.json');
}

function readAuthFile(path: string): AuthFile {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw new RuntimeFailure(`reading auth file ${path}: ${(e as Error).message}`, { cause: e });
  }
  if (text.trim() === '') return {};
  try {
    const parsed: unknown = JSON.parse(text);
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw new Error('not a JSON object');
    return parsed as AuthFile;
  } catch (e) {
    throw new InvalidArgument(`auth file ${path} is not valid: ${(e as Error).message}`, { cause: e });
  }
}

/** The key a registry's entry is written under, and the server URL a credential helper is asked about. */
export function storeKey(registry: string): string {
  return normaliseHost(registry) === DOCKER_HUB ? HUB_AUTH_KEY : normaliseHost(registry);
}

/** Keys of the file's entries that stand for this registry, however they were spelled. */
function matchingKeys(auths: Record<string, unknown>, registry: string): string[] {
  const want = normaliseHost(registry);
  return Object.keys(auths).filter((k) => {
    try {
      return normaliseHost(k) === want;
    } catch {
      return false;
    }
  });
}

function decodeEntry(e: AuthEntry): Credentials | undefined {
  if (typeof e.auth === 'string' && e.auth !== '') {
    const plain = Buffer.from(e.auth, 'base64').toString('utf8');
    const colon = plain.indexOf(':');
    if (colon > 0) return { username: plain.slice(0, colon), password: plain.slice(colon + 1) };
  }
  if (typeof e.username === 'string' && typeof e.password === 'string') {
    return { username: e.username, password: e.password };
  }
  return undefined;
}

/**
 * The credential helper the file names for a registry (`docker-credential-<name>`), if any: its
 * `credHelpers` entry (the exact key first, then another spelling of the host), else `credsStore`.
 */
export function credentialHelper(path: string, registry: string): string | undefined {
  const file = readAuthFile(path);
  const helpers = file.credHelpers !== null && typeof file.credHelpers === 'object' ? (file.credHelpers as Record<string, unknown>) : {};
  const exact = storeKey(registry);
  const keys = [exact, ...matchingKeys(helpers, registry).filter((k) => k !== exact)];
  for (const k of keys) {
    const name = helpers[k];
    if (typeof name === 'string' && name !== '') return name;
  }
  return typeof file.credsStore === 'string' && file.credsStore !== '' ? file.credsStore : undefined;
}

/** Stored credentials for a registry (or mirror) host, if any; the exact key wins over other spellings. */
export function readCredentials(path: string, registry: string): Credentials | undefined {
  const auths = readAuthFile(path).auths ?? {};
  const keys = matchingKeys(auths, registry);
  const exact = storeKey(registry);
  keys.sort((a, b) => Number(b === exact) - Number(a === exact));
  for (const k of keys) {
    const c = decodeEntry(auths[k]);
    if (c) return c;
  }
  return undefined;
}

function writeAuthFile(path: string, file: AuthFile): void {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const tmp = `${path}.tmp-${process.pid}-${Date.now()}`;
  const fd = openSync(tmp, 'wx', 0o600);
  try {
    writeSync(fd, JSON.stringify(file, null, '\t') + '\n');
    fsyncSync(fd);
  } catch (e) {
    closeSync(fd);
    rmSync(tmp, { force: true });
    throw e;
  }
  closeSync(fd);
  renameSync(tmp, path);
}

/**
 * Stores credentials for a registry, replacing any other spelling of its key. Without credentials the
 * entry is left empty: a helper holds the secret, and an older secret of the file's must not outlive it.
 */
export function storeCredentials(path: string, registry: string, c?: Credentials): void {
  const file = readAuthFile(path);
  const auths = { ...(file.auths ?? {}) };
  for (const k of matchingKeys(auths, registry)) delete auths[k];
  auths[storeKey(registry)] = c ? { auth: Buffer.from(`${c.username}:${c.password}`).toString('base64') } : {};
  writeAuthFile(path, { ...file, auths });
}

/** Removes a registry's entries; false when none was stored (the file is then left as it was). */
export function removeCredentials(path: string, registry: string): boolean {
  const file = readAuthFile(path);
  const auths = { ...(file.auths ?? {}) };
  const keys = matchingKeys(auths, registry);
  if (keys.length === 0) return false;
  for (const k of keys) delete auths[k];
  writeAuthFile(path, { ...file, auths });
  return true;
}
