/**
 * The ARGs a Dockerfile has without declaring them (BuildKit's):
 * - the platform ones, set for every build (Berth builds for its own platform, linux/amd64): FROM lines see
 *   them, and a stage sees one once it declares it with no default;
 * - the proxy ones, taken only from --build-arg: RUN gets them as variables with no ARG, and they are kept
 *   out of the cache key and the history (a proxy does not change what a step makes).
 */

export const PLATFORM_ARGS: ReadonlyMap<string, string> = new Map([
  ['TARGETPLATFORM', 'linux/amd64'],
  ['TARGETOS', 'linux'],
  ['TARGETARCH', 'amd64'],
  ['TARGETVARIANT', ''],
  ['BUILDPLATFORM', 'linux/amd64'],
  ['BUILDOS', 'linux'],
  ['BUILDARCH', 'amd64'],
  ['BUILDVARIANT', ''],
]);

export const PROXY_ARGS: ReadonlySet<string> = new Set([
  'HTTP_PROXY', 'http_proxy', 'HTTPS_PROXY', 'https_proxy', 'FTP_PROXY', 'ftp_proxy', 'NO_PROXY', 'no_proxy', 'ALL_PROXY', 'all_proxy',
]);
