/**
 * The Docker Engine API over node:http: one Engine (the CLI's store and root), docker's routes with and
 * without a `/v1.xx` prefix, docker's headers and error bodies, hijacked streams for attach and exec.
 */
import { BerthError, InvalidArgument, NotFound } from '../errors.ts';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Engine } from '../engine/engine.ts';
import * as builds from './build.ts';
import * as containers from './containers.ts';
import { events } from './events.ts';
import * as ops from './container-ops.ts';
import * as imageOps from './image-ops.ts';
import * as nets from './networks.ts';
import { login } from './auth.ts';
import * as images from './images.ts';
import * as registry from './registry.ts';
import * as streams from './streams.ts';
import * as swarm from './swarm.ts';
import * as system from './system.ts';
import {
  API_VERSION, compareVersions, Ctx, DEFAULT_BODY_LIMITS, MIN_API_VERSION, nodeHttp, statusOf, type BodyLimits,
} from './http.ts';
import { ApiState } from './state.ts';
import { trace } from '../sys/trace.ts';
import { nodeHttps, tlsServerOptions, type TlsConfig } from './listen.ts';

type Handler = (ctx: Ctx) => Promise<void>;

const ID = '([^/]+)';
const routes: [string, RegExp, Handler][] = [
  ['HEAD', /^\/_ping$/, system.ping],
  ['GET', /^\/_ping$/, system.ping],
  ['GET', /^\/version$/, system.version],
  ['GET', /^\/info$/, system.info],
  ['POST', /^\/containers\/create$/, containers.create],
  ['GET', /^\/containers\/json$/, containers.list],
  ['GET', new RegExp(`^/containers/${ID}/json$`), containers.inspect],
  ['POST', new RegExp(`^/containers/${ID}/start$`), containers.start],
  ['POST', new RegExp(`^/containers/${ID}/stop$`), containers.stop],
  ['POST', new RegExp(`^/containers/${ID}/kill$`), containers.kill],
  ['POST', new RegExp(`^/containers/${ID}/restart$`), containers.restart],
  ['POST', new RegExp(`^/containers/${ID}/update$`), containers.update],
  ['POST', new RegExp(`^/containers/${ID}/pause$`), containers.pause],
  ['POST', new RegExp(`^/containers/${ID}/unpause$`), containers.unpause],
  ['POST', new RegExp(`^/containers/${ID}/wait$`), containers.wait],
  ['POST', new RegExp(`^/containers/${ID}/resize$`), containers.resize],
  ['POST', new RegExp(`^/containers/${ID}/attach$`), streams.attach],
  ['GET', new RegExp(`^/containers/${ID}/attach/ws$`), streams.attachWs],
  ['GET', new RegExp(`^/containers/${ID}/logs$`), streams.logs],
  ['POST', new RegExp(`^/containers/${ID}/exec$`), streams.execCreate],
  // A legacy link's name, `/PARENT/ALIAS` (docker rm --link): a path of its own, as docker's client sends it.
  ['DELETE', /^\/containers\/(\/?[^/]+\/[^/]+)$/, nets.linkRemove],
  ['DELETE', new RegExp(`^/containers/${ID}$`), containers.remove],
  ['POST', /^\/containers\/prune$/, ops.prune],
  ['GET', new RegExp(`^/containers/${ID}/top$`), ops.top],
  ['GET', new RegExp(`^/containers/${ID}/stats$`), ops.stats],
  ['POST', new RegExp(`^/containers/${ID}/rename$`), ops.rename],
  ['GET', new RegExp(`^/containers/${ID}/changes$`), ops.changes],
  ['GET', new RegExp(`^/containers/${ID}/export$`), ops.exportTar],
  ['HEAD', new RegExp(`^/containers/${ID}/archive$`), ops.archiveHead],
  ['GET', new RegExp(`^/containers/${ID}/archive$`), ops.archiveGet],
  ['PUT', new RegExp(`^/containers/${ID}/archive$`), ops.archivePut],
  ['GET', /^\/images\/json$/, images.list],
  ['POST', /^\/images\/create$/, images.create],
  ['GET', /^\/images\/get$/, imageOps.save],
  ['GET', /^\/images\/search$/, registry.search],
  ['GET', /^\/distribution\/(.+)\/json$/, registry.distribution],
  ['POST', /^\/session$/, builds.session],
  ['POST', /^\/images\/load$/, imageOps.load],
  ['POST', /^\/images\/prune$/, imageOps.prune],
  ['POST', /^\/commit$/, imageOps.commit],
  ['POST', /^\/build$/, builds.build],
  ['POST', /^\/build\/prune$/, builds.prune],
  ['GET', /^\/images\/(.+)\/get$/, imageOps.save],
  ['GET', /^\/images\/(.+)\/history$/, imageOps.history],
  ['POST', /^\/images\/(.+)\/push$/, imageOps.push],
  ['GET', /^\/images\/(.+)\/json$/, images.inspect],
  ['POST', /^\/images\/(.+)\/tag$/, images.tag],
  ['DELETE', /^\/images\/(.+)$/, images.remove],
  ['GET', /^\/networks$/, nets.networkList],
  ['POST', /^\/networks\/create$/, nets.networkCreate],
  ['POST', /^\/networks\/prune$/, nets.networkPrune],
  ['GET', new RegExp(`^/networks/${ID}$`), nets.networkInspect],
  ['DELETE', new RegExp(`^/networks/${ID}$`), nets.networkRemove],
  ['POST', new RegExp(`^/networks/${ID}/connect$`), nets.networkConnect],
  ['POST', new RegExp(`^/networks/${ID}/disconnect$`), nets.networkDisconnect],
  ['GET', /^\/volumes$/, nets.volumeList],
  ['POST', /^\/volumes\/create$/, nets.volumeCreate],
  ['POST', /^\/volumes\/prune$/, nets.volumePrune],
  ['GET', new RegExp(`^/volumes/${ID}$`), nets.volumeInspect],
  ['DELETE', new RegExp(`^/volumes/${ID}$`), nets.volumeRemove],
  ['PUT', new RegExp(`^/volumes/${ID}$`), swarm.volumeUpdate],
  ['GET', /^\/system\/df$/, imageOps.df],
  ['GET', /^\/events$/, events],
  ['POST', /^\/auth$/, login],
  ['POST', new RegExp(`^/exec/${ID}/start$`), streams.execStart],
  ['POST', new RegExp(`^/exec/${ID}/resize$`), streams.execResize],
  ['GET', new RegExp(`^/exec/${ID}/json$`), streams.execInspect],
  // Swarm mode and plugins: dockerd's answers outside a swarm, with no plugin (src/api/swarm.ts).
  ['POST', /^\/swarm\/leave$/, swarm.leave],
  ['POST', /^\/swarm\/(init|join)$/, swarm.noSwarmMode],
  ...(['GET', 'POST', 'DELETE'] as const).map((m): [string, RegExp, Handler] => [m, /^\/(swarm|nodes|services|tasks|secrets|configs)(\/.*)?$/, swarm.notManager]),
  ['GET', /^\/plugins$/, swarm.plugins],
  ['GET', /^\/plugins\/privileges$/, swarm.noPlugins],
  ['POST', /^\/plugins\/(pull|create)$/, swarm.noPlugins],
  ['GET', /^\/plugins\/([^/]+)\/json$/, swarm.noSuchPlugin],
  ['DELETE', /^\/plugins\/([^/]+)$/, swarm.noSuchPlugin],
  ['POST', /^\/plugins\/([^/]+)\/(enable|disable|upgrade|push|set)$/, swarm.noSuchPlugin],
];

export interface ApiServer {
  server: Server;
  state: ApiState;
  /** Stop accepting, drop every connection (streams included). */
  close(): Promise<void>;
}

/**
 * What a client may hold of the server. A request must finish its headers within `headersTimeoutMs`
 * (node turns that check off when requestTimeout is 0, which uploads of any length need, so it is set
 * here); one client (an address over TCP; every caller of a unix socket alike) may hold
 * `connectionsPerClient` connections at once, the next one answered 503 and closed.
 */
export interface ServerLimits extends BodyLimits {
  headersTimeoutMs: number;
  connectionsPerClient: number;
}

export const DEFAULT_SERVER_LIMITS: ServerLimits = { ...DEFAULT_BODY_LIMITS, headersTimeoutMs: 30_000, connectionsPerClient: 512 };

const TOO_MANY = 'HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n' +
  '{"message":"too many connections from this client"}';

/**
 * The API as a node:http server, or node:https with `tls` (listen.ts: TCP listeners). Both emit the same
 * 'request' and 'upgrade' events, so hijacked streams work the same over either.
 */
export function createApiServer(
  engine: Engine,
  state = new ApiState(),
  log: (msg: string) => void = (m) => process.stderr.write(`${m}\n`),
  tls?: TlsConfig,
  limits: ServerLimits = DEFAULT_SERVER_LIMITS,
): ApiServer {
  const sockets = new Set<Duplex>();
  const options = { maxHeaderSize: 1 << 20, requestTimeout: 0, headersTimeout: limits.headersTimeoutMs };
  // allowHalfOpen, as node:http has and node:https lacks: the docker CLI half-closes a hijacked TLS
  // connection (TCP FIN) when stdin ends, and the container's output must still reach it.
  const server: Server = tls ? nodeHttps().createServer({ ...options, allowHalfOpen: true, ...tlsServerOptions(tls) }) : nodeHttp().createServer(options);
  const track = (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => {});
  };
  const perClient = new Map<string, number>();
  const admit = (s: Socket) => {
    const client = s.remoteAddress ?? 'unix';
    const held = perClient.get(client) ?? 0;
    if (held >= limits.connectionsPerClient) {
      s.on('error', () => {});
      s.end(TOO_MANY);
      s.destroySoon();
      return;
    }
    perClient.set(client, held + 1);
    s.once('close', () => {
      const n = (perClient.get(client) ?? 1) - 1;
      if (n > 0) perClient.set(client, n);
      else perClient.delete(client);
    });
    track(s);
  };
  // Every accepted socket; over TLS also the TLS socket on top of it, once its handshake is done (https
  // serves HTTP on 'secureConnection'), so close() drops handshakes in progress and live streams alike.
  server.on('connection', admit);
  if (tls) {
    server.on('secureConnection', track);
    // A refused handshake (no client certificate, one the CA did not sign, plain HTTP): that client only.
    server.on('tlsClientError', (err: Error, s: Duplex) => {
      const why = (err as Error & { reason?: string }).reason ?? err.message.trim().split('\n')[0];
      log(`berth serve: TLS handshake from ${(s as Socket).remoteAddress ?? '?'} refused: ${why}`);
      s.destroy();
    });
  }
  server.on('clientError', (_err, s: Duplex) => {
    if (s.writable) s.end('HTTP/1.1 400 Bad Request\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n{"message":"bad request"}');
    else s.destroy();
  });
  const run = (ctx: Ctx) => {
    dispatch(ctx).catch((e: unknown) => {
      // A failure of the server (500 and up) is logged; 501 and 503 are answers (not implemented, no swarm).
      // The engine's own failures (a registry out of reach, a runtime's refusal) in their one line; anything
      // else is a bug, logged with its stack.
      const status = statusOf(e);
      const said = e instanceof BerthError ? `${e.name}: ${e.message}` : e instanceof Error ? (e.stack ?? e.message) : String(e);
      if (status >= 500 && status !== 501 && status !== 503) log(`berth serve: ${ctx.req.method} ${ctx.req.url}: ${said}`);
      try {
        ctx.fail(e);
      } catch {
        /* the connection is gone */
      }
    });
  };
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    res.on('error', () => {});
    run(new Ctx(engine, state, req, res, undefined, undefined, limits));
  });
  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on('error', () => {});
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    run(new Ctx(engine, state, req, undefined, socket, head, limits));
  });
  return {
    server,
    state,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const s of sockets) s.destroy();
        server.closeAllConnections();
      }),
  };
}

async function dispatch(ctx: Ctx): Promise<void> {
  let path = ctx.url.pathname;
  const m = /^\/v([0-9]+\.[0-9]+)(\/.*)$/.exec(path);
  if (m) {
    const v = m[1]!;
    if (compareVersions(v, API_VERSION) > 0) throw new InvalidArgument(`client version ${v} is too new. Maximum supported API version is ${API_VERSION}`);
    if (compareVersions(v, MIN_API_VERSION) < 0) {
      throw new InvalidArgument(`client version ${v} is too old. Minimum supported API version is ${MIN_API_VERSION}, please upgrade your client to a newer version`);
    }
    ctx.version = v;
    path = m[2]!;
  }
  ctx.path = path.length > 1 ? path.replace(/\/+$/, '') : path;
  const method = ctx.req.method ?? 'GET';
  for (const [verb, re, handler] of routes) {
    if (verb !== method) continue;
    const hit = re.exec(ctx.path);
    if (!hit) continue;
    ctx.params = hit.slice(1).map((p) => {
      try {
        return decodeURIComponent(p);
      } catch {
        return p;
      }
    });
    trace(`api: ${method} ${ctx.req.url}`);
    await handler(ctx);
    trace(`api: ${method} ${ctx.path} handled`);
    return;
  }
  throw new NotFound('page not found');
}
