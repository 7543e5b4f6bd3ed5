/**
 * Which host answers for a registry name, and over which schemes it may be reached.
 *
 * Docker's rules: docker.io's API lives at registry-1.docker.io; plain http is allowed only for
 * registries the user marked insecure and for loopback hosts (127.0.0.0/8, ::1, localhost), and even
 * those are tried over https first. Everything else is https only, so credentials never cross the
 * network in clear text by accident. (Docker also accepts any certificate from an insecure registry; the
 * global fetch cannot turn verification off per request, so here an insecure registry with a certificate
 * the system does not trust is reached over http or not at all.)
 */
import { InvalidArgument } from '../errors.ts';
import { DOCKER_HUB } from './reference.ts';

/** Where docker.io's registry API is served. */
const HUB_API = 'registry-1.docker.io';
/** The key docker (and every tool reading its auth file) stores docker.io's credentials under. */
export const HUB_AUTH_KEY = 'https://index.docker.io/v1/';

/** `host[:port]` to connect to for a registry (or mirror) name. */
export function apiHost(registry: string): string {
  return registry === DOCKER_HUB || registry === 'index.docker.io' ? HUB_API : registry;
}

/** The host part of `host[:port]` or `[v6]:port`, without brackets. */
export function hostOnly(hostPort: string): string {
  if (hostPort.startsWith('[')) return hostPort.slice(1, hostPort.indexOf(']'));
  const colon = hostPort.lastIndexOf(':');
  return colon >= 0 && hostPort.indexOf(':') === colon ? hostPort.slice(0, colon) : hostPort;
}

export function isLoopback(hostPort: string): boolean {
  const h = hostOnly(hostPort).toLowerCase();
  return h === 'localhost' || h === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h);
}

/**
 * `host[:port]` from what a user may write for a registry or mirror: a bare host, or a URL such as
 * `https://mirror.example.com/` or docker's `https://index.docker.io/v1/`. The scheme is dropped on
 * purpose: which schemes are tried is decided by allowsHttp, never by how the name was spelled.
 */
export function normaliseHost(s: string): string {
  const bare = s.replace(/^[a-z][a-z0-9+.-]*:\/\//i, '').replace(/\/.*$/, '');
  if (bare === '') throw new InvalidArgument(`invalid registry host: ${JSON.stringify(s)}`);
  return bare === 'index.docker.io' || bare === HUB_API ? DOCKER_HUB : bare;
}

/** Whether plain http may be tried for this host (after https failed). */
export function allowsHttp(hostPort: string, insecure: readonly string[]): boolean {
  return isLoopback(hostPort) || insecure.some((i) => normaliseHost(i) === normaliseHost(hostPort));
}
