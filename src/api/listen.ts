/**
 * Where `berth serve` listens, as dockerd's `-H`: unix sockets, and TCP ports with optional TLS (`--tls`:
 * the server proves itself; `--tlsverify`: clients must also present a certificate signed by the CA).
 * Plain TCP is served on loopback only: anything that reaches the API is root on this host.
 *
 * node:https and node:tls are loaded when a server is set up (see nodeHttp in http.ts): the CLI is one
 * bundle, and every builtin named at the top of any module is imported on every verb's start-up.
 */
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, unlinkSync } from 'node:fs';
import type { ServerOptions as HttpsServerOptions } from 'node:https';
import { BlockList, connect, isIP, type AddressInfo, type Server } from 'node:net';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { Conflict, InvalidArgument, RuntimeFailure } from '../errors.ts';

export const nodeHttps = () => process.getBuiltinModule('node:https') as typeof import('node:https');
const nodeTls = () => process.getBuiltinModule('node:tls') as typeof import('node:tls');

/** dockerd's default ports: 2375 plain, 2376 with TLS. */
export const DEFAULT_TCP_PORT = 2375;
export const DEFAULT_TLS_PORT = 2376;

export type ListenAddress = { proto: 'unix'; path: string } | { proto: 'tcp'; host: string; port: number };

/**
 * `unix:///path`, `/path`, `tcp://host:port`, `tcp://[v6]:port` or `host:port` (dockerd reads a bare
 * address as TCP). An empty host is every interface; a missing port is 2375 (2376 with TLS).
 */
export function parseListenAddress(uri: string, tls: boolean): ListenAddress {
  if (uri.startsWith('/')) return { proto: 'unix', path: uri };
  const scheme = /^([a-z0-9+.-]*):\/\//i.exec(uri);
  if (scheme && scheme[1]!.toLowerCase() === 'unix') {
    const path = uri.slice(scheme[0].length);
    if (!path.startsWith('/') || path.length < 2) throw new InvalidArgument(`invalid address ${uri}: a unix socket needs an absolute path (unix:///path.sock)`);
    return { proto: 'unix', path };
  }
  if (scheme && scheme[1]!.toLowerCase() !== 'tcp') throw new InvalidArgument(`unsupported address ${uri}: only unix:///path and tcp://host:port are served`);
  const rest = scheme ? uri.slice(scheme[0].length) : uri;
  const m = /^(\[[^\]]*\]|[^:/[\]@?#]*)(?::([^/]*))?\/?$/.exec(rest);
  if (!m || (!scheme && m[2] === undefined)) throw new InvalidArgument(`invalid address ${uri}: expected tcp://host:port or unix:///path`);
  let host = m[1]!;
  if (host.startsWith('[')) {
    host = host.slice(1, -1);
    if (isIP(host) !== 6) throw new InvalidArgument(`invalid address ${uri}: ${host} is not an IPv6 address`);
  }
  if (host === '') host = '0.0.0.0';
  let port = tls ? DEFAULT_TLS_PORT : DEFAULT_TCP_PORT;
  if (m[2] !== undefined && m[2] !== '') {
    if (!/^[0-9]{1,5}$/.test(m[2]) || Number(m[2]) > 65535) throw new InvalidArgument(`invalid address ${uri}: invalid port ${m[2]}`);
    port = Number(m[2]);
  }
  return { proto: 'tcp', host, port };
}

/** An address as `API listening on …` prints it. */
export function showAddress(a: ListenAddress): string {
  if (a.proto === 'unix') return a.path;
  return `tcp://${a.host.includes(':') ? `[${a.host}]` : a.host}:${a.port}`;
}

/** Whether a TCP host is reachable from this machine only: 127.0.0.0/8, ::1 (and ::ffff:127.x), localhost. */
export function isLoopback(host: string): boolean {
  if (host.toLowerCase() === 'localhost') return true;
  const family = isIP(host);
  if (family === 0) return false;
  const lo = new BlockList();
  lo.addSubnet('127.0.0.0', 8, 'ipv4');
  lo.addAddress('::1', 'ipv6');
  lo.addSubnet('::ffff:127.0.0.0', 104, 'ipv6');
  return lo.check(host, family === 6 ? 'ipv6' : 'ipv4');
}

/** The TLS flags as the command line gave them (empty strings: not given). */
export interface TlsFlags {
  tls: boolean;
  tlsverify: boolean;
  tlscacert: string;
  tlscert: string;
  tlskey: string;
}

/** TLS material for the TCP listeners: the server's certificate and key; with `verify`, the CA clients must be signed by. */
export interface TlsConfig {
  cert: Buffer;
  key: Buffer;
  ca?: Buffer;
  verify: boolean;
}

/**
 * Read and check the TLS files now, so a bad file fails start-up rather than every handshake. Unset paths
 * default as dockerd's do: $DOCKER_CERT_PATH, else ~/.docker, with ca.pem, cert.pem and key.pem.
 * No --tls and no --tlsverify: no TLS (and certificate flags alone are refused, not silently ignored).
 */
export function loadTls(f: TlsFlags): TlsConfig | undefined {
  if (!f.tls && !f.tlsverify) {
    const given = (['tlscacert', 'tlscert', 'tlskey'] as const).filter((k) => f[k] !== '');
    if (given.length > 0) throw new InvalidArgument(`${given.map((k) => `--${k}`).join(', ')} given without --tls or --tlsverify`);
    return undefined;
  }
  const dir = process.env.DOCKER_CERT_PATH || join(homedir(), '.docker');
  const read = (what: string, file: string): Buffer => {
    try {
      return readFileSync(file);
    } catch (e) {
      const err = e as NodeJS.ErrnoException;
      throw new InvalidArgument(`could not read TLS ${what} ${file}: ${err.code === 'ENOENT' ? 'no such file' : err.code === 'EACCES' ? 'permission denied' : err.message}`);
    }
  };
  const certFile = f.tlscert || join(dir, 'cert.pem');
  const keyFile = f.tlskey || join(dir, 'key.pem');
  const caFile = f.tlscacert || join(dir, 'ca.pem');
  const cert = read('certificate', certFile);
  const key = read('key', keyFile);
  const ca = f.tlsverify ? read('CA certificate', caFile) : undefined;
  const check = (what: string, fn: () => unknown) => {
    try {
      fn();
    } catch (e) {
      throw new InvalidArgument(`${what}: ${(e as Error).message}`);
    }
  };
  check(`TLS certificate ${certFile} is not a PEM certificate`, () => new X509Certificate(cert));
  check(`TLS key ${keyFile} is not a PEM private key`, () => createPrivateKey(key));
  // A CA file without a certificate in it would be taken silently, and then refuse every client.
  if (ca) check(`TLS CA certificate ${caFile} is not a PEM certificate`, () => new X509Certificate(ca));
  check(`TLS certificate ${certFile} and key ${keyFile}`, () => nodeTls().createSecureContext({ cert, key, ca }));
  return { cert, key, ca, verify: f.tlsverify };
}

/** node:https server options for a TLS config: with `verify`, a client without a certificate signed by the CA is refused in the handshake. */
export function tlsServerOptions(t: TlsConfig): HttpsServerOptions {
  return t.verify ? { cert: t.cert, key: t.key, ca: t.ca, requestCert: true, rejectUnauthorized: true } : { cert: t.cert, key: t.key };
}

/** Whether something answers on a unix socket (a live server, not a stale file). */
function answers(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const c = connect(path);
    c.once('connect', () => {
      c.destroy();
      resolve(true);
    });
    c.once('error', () => resolve(false));
  });
}

/** server.listen as a promise: the server's 'error' becomes the rejection, with why in words. */
function listenOn(server: Server, what: string, args: { path: string } | { host: string; port: number }): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const onError = (e: NodeJS.ErrnoException) => {
      const why: Record<string, string> = {
        EADDRINUSE: 'address already in use',
        EADDRNOTAVAIL: 'cannot assign requested address',
        EACCES: 'permission denied',
        ENOTFOUND: 'no such host',
        EAI_AGAIN: 'no such host',
      };
      reject(new RuntimeFailure(`listen on ${what}: ${(e.code && why[e.code]) ?? e.message}`));
    };
    server.once('error', onError);
    server.listen(args, () => {
      server.off('error', onError);
      resolve();
    });
  });
}

/** Listen on a unix socket (mode 0660), replacing a stale socket file but never a live server's. */
export async function listenUnix(server: Server, path: string, mode = 0o660): Promise<void> {
  mkdirSync(dirname(path), { recursive: true, mode: 0o755 });
  if (existsSync(path)) {
    if (await answers(path)) throw new Conflict(`${path}: another server is listening there`);
    unlinkSync(path);
  }
  await listenOn(server, path, { path });
  chmodSync(path, mode);
}

/** Listen on a TCP address; returns the port bound (the kernel's pick for port 0). */
export async function listenTcp(server: Server, host: string, port: number): Promise<number> {
  await listenOn(server, showAddress({ proto: 'tcp', host, port }), { host, port });
  return (server.address() as AddressInfo).port;
}
