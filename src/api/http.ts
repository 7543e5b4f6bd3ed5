/**
 * The Engine API's HTTP plumbing: a request context that answers the same way over a plain response and
 * over a hijacked (upgraded) socket, docker's headers and error bodies, query booleans, JSON bodies.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Engine } from '../engine/engine.ts';
import { BERTH_VERSION } from '../engine/info.ts';
import { InvalidArgument, isBerthError, TooLarge } from '../errors.ts';
import type { ApiState } from './state.ts';

import { API_VERSION, MIN_API_VERSION } from '../engine/info.ts';

export { API_VERSION, MIN_API_VERSION };
export const RAW_STREAM = 'application/vnd.docker.raw-stream';
export const MULTIPLEXED_STREAM = 'application/vnd.docker.multiplexed-stream';

/**
 * What one request may cost the server: a JSON body is read whole, so it is bounded (docker's largest, a
 * container create with its env and labels, is kilobytes); any body, JSON or an archive streamed to
 * disk, fails when its client goes quiet for `bodyIdleMs`.
 */
export interface BodyLimits {
  jsonMax: number;
  bodyIdleMs: number;
}

export const DEFAULT_BODY_LIMITS: BodyLimits = { jsonMax: 4 << 20, bodyIdleMs: 60_000 };

/** Headers docker puts on every response. */
export function commonHeaders(): Record<string, string> {
  return {
    'Api-Version': API_VERSION,
    Ostype: 'linux',
    Server: `Berth/${BERTH_VERSION} (linux)`,
    'Docker-Experimental': 'false',
  };
}

/** The HTTP status of any error: Berth's typed errors carry theirs (src/errors.ts); anything else is 500. */
export function statusOf(e: unknown): number {
  if (isBerthError(e)) return e.httpStatus;
  return 500;
}

/** docker's query booleans: absent, "", 0, no, false and none are false. */
export function qbool(v: string | null | undefined): boolean {
  if (v === null || v === undefined) return false;
  return !['', '0', 'no', 'false', 'none'].includes(v.toLowerCase());
}

/** Compare dotted API versions numerically. */
export function compareVersions(a: string, b: string): number {
  const pa = a.split('.').map(Number);
  const pb = b.split('.').map(Number);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

/**
 * One request. `res` is set for an ordinary request; `socket` (with `head`, the bytes read past the
 * headers) for one that asked to upgrade, which the stream endpoints hijack.
 */
export class Ctx {
  readonly engine: Engine;
  readonly state: ApiState;
  readonly req: IncomingMessage;
  readonly res?: ServerResponse;
  readonly socket?: Duplex;
  head: Buffer;
  readonly url: URL;
  /** The path without its `/v1.xx` prefix. */
  path = '';
  /** The API version the client asked for (its prefix), else ours. */
  version = API_VERSION;
  params: string[] = [];
  /** Set once a status line went out: later errors can only end the stream. */
  answered = false;

  readonly limits: BodyLimits;

  constructor(
    engine: Engine, state: ApiState, req: IncomingMessage, res?: ServerResponse, socket?: Duplex, head?: Buffer,
    limits = DEFAULT_BODY_LIMITS,
  ) {
    this.limits = limits;
    this.engine = engine;
    this.state = state;
    this.req = req;
    this.res = res;
    this.socket = socket;
    this.head = head ?? Buffer.alloc(0);
    this.url = requestUrl(req.url ?? '/');
  }

  get upgraded(): boolean {
    return this.socket !== undefined;
  }

  q(name: string): string | null {
    return this.url.searchParams.get(name);
  }

  qbool(name: string): boolean {
    return qbool(this.q(name));
  }

  /** An integer query value, or `dflt` when absent or empty. */
  qint(name: string, dflt?: number): number | undefined {
    const v = this.q(name);
    if (v === null || v === '') return dflt;
    const n = Number(v);
    if (!Number.isFinite(n)) throw new InvalidArgument(`invalid value for ${name}: ${v}`);
    return Math.trunc(n);
  }

  /** Refuses a body past `max` before reading it; the connection closes after the answer (its body is unread). */
  #refuseLarger(declared: number, max: number): void {
    if (declared > max) {
      this.res?.setHeader('Connection', 'close');
      throw new TooLarge(`request body of ${declared} bytes is too large (the limit is ${max})`);
    }
  }

  /** Fails the body's reading when the client sends nothing for the idle time; returns the undo. */
  #watchIdle(): () => void {
    const ms = this.limits.bodyIdleMs;
    const sock = this.req.socket;
    // A hijacked socket is read directly: closing it ends the read.
    const onTimeout = () => (this.socket ?? this.req).destroy(new Error(`no data for ${ms / 1000} s`));
    sock.setTimeout(ms);
    sock.on('timeout', onTimeout);
    return () => {
      sock.off('timeout', onTimeout);
      sock.setTimeout(0);
    };
  }

  /**
   * The request body, whole, up to the JSON bound. On an upgraded socket it is read by Content-Length;
   * what follows stays in `head`.
   */
  async body(): Promise<Buffer> {
    const max = this.limits.jsonMax;
    this.#refuseLarger(Number(this.req.headers['content-length'] ?? 0), max);
    if (this.socket) {
      const len = Number(this.req.headers['content-length'] ?? 0);
      if (!(len > 0)) return Buffer.alloc(0);
      const sock = this.socket;
      const unwatch = this.#watchIdle();
      while (this.head.length < len) {
        const chunk = await new Promise<Buffer | null>((resolve) => {
          const onData = (b: Buffer) => done(b);
          const onEnd = () => done(null);
          const done = (b: Buffer | null) => {
            sock.off('data', onData);
            sock.off('end', onEnd);
            sock.off('close', onEnd);
            sock.pause();
            resolve(b);
          };
          sock.on('data', onData);
          sock.once('end', onEnd);
          sock.once('close', onEnd);
          sock.resume();
        });
        if (chunk === null) break;
        this.head = Buffer.concat([this.head, chunk]);
      }
      unwatch();
      const body = this.head.subarray(0, len);
      this.head = this.head.subarray(len);
      return body;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    const unwatch = this.#watchIdle();
    try {
      for await (const c of this.req) {
        size += (c as Buffer).length;
        // Chunked, with no length to refuse up front: stop at the bound.
        if (size > max) {
          this.res?.setHeader('Connection', 'close');
          throw new TooLarge(`request body is too large: more than ${max} bytes`);
        }
        chunks.push(c as Buffer);
      }
    } catch (e) {
      if (e instanceof TooLarge) throw e;
      // The client went away mid-body, sent broken chunking or went quiet: its request, not the server, failed.
      throw new InvalidArgument(`reading the request body: ${(e as Error).message}`);
    } finally {
      unwatch();
    }
    return Buffer.concat(chunks);
  }

  /** The body as a stream (an archive): a client gone or quiet mid-body is a 400, not a server failure. */
  async *bodyStream(): AsyncGenerator<Buffer> {
    const unwatch = this.#watchIdle();
    try {
      for await (const c of this.req) yield c as Buffer;
    } catch (e) {
      throw new InvalidArgument(`reading the request body: ${(e as Error).message}`);
    } finally {
      unwatch();
    }
  }

  /** The body as JSON (an empty body is `{}`); malformed JSON is a 400. */
  async json<T = Record<string, unknown>>(): Promise<T> {
    const b = await this.body();
    if (b.length === 0 || b.toString().trim() === '') return {} as T;
    try {
      const v = JSON.parse(b.toString('utf8')) as unknown;
      if (v === null || typeof v !== 'object') throw new Error('not an object');
      return v as T;
    } catch (e) {
      throw new InvalidArgument(`invalid JSON: ${(e as Error).message}`);
    }
  }

  /** A complete response: status, JSON (or no) body. */
  send(status: number, body?: unknown, contentType = 'application/json'): void {
    if (this.answered) return;
    this.answered = true;
    const payload = body === undefined || status === 204 || status === 304 ? undefined : Buffer.from(typeof body === 'string' ? body : JSON.stringify(body));
    const headers: Record<string, string | number> = { ...commonHeaders() };
    if (payload) {
      headers['Content-Type'] = contentType;
      headers['Content-Length'] = payload.length;
    } else if (status !== 204 && status !== 304) {
      headers['Content-Length'] = 0;
    }
    if (this.res) {
      if (this.res.destroyed) return;
      this.res.writeHead(status, headers);
      this.res.end(this.req.method === 'HEAD' ? undefined : payload);
      return;
    }
    const sock = this.socket!;
    if (sock.destroyed) return;
    const lines = [`HTTP/1.1 ${status} ${statusText(status)}`, ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`), 'Connection: close', '', ''];
    sock.write(lines.join('\r\n'));
    if (payload && this.req.method !== 'HEAD') sock.write(payload);
    sock.end();
  }

  /** docker's error body: `{"message": …}`. */
  fail(e: unknown): void {
    const status = statusOf(e);
    const message = e instanceof Error ? e.message : String(e);
    if (this.answered) {
      // Headers are gone: a stream can only stop.
      if (this.res && !this.res.writableEnded) this.res.end();
      else if (this.socket && !this.socket.destroyed) this.socket.end();
      return;
    }
    this.send(status, { message });
  }

  /** Start a streamed 200 response (logs, wait, pull): headers go out at once. */
  startStream(contentType: string, status = 200): StreamOut {
    this.answered = true;
    if (this.res) {
      const res = this.res;
      res.writeHead(status, { ...commonHeaders(), 'Content-Type': contentType });
      res.flushHeaders();
      return socketOut(res);
    }
    const sock = this.socket!;
    const head = [`HTTP/1.1 ${status} ${statusText(status)}`, ...Object.entries({ ...commonHeaders(), 'Content-Type': contentType }).map(([k, v]) => `${k}: ${v}`), 'Connection: close', '', ''];
    sock.write(head.join('\r\n'));
    return socketOut(sock);
  }

  /**
   * Hijack for attach and exec start: `101 UPGRADED` on an upgraded socket, else a 200 streamed response
   * whose request body is the input. Returns the output side and the input stream.
   */
  hijack(contentType: string): { out: StreamOut; input: Duplex | IncomingMessage; pending: Buffer } {
    this.answered = true;
    if (this.socket) {
      const sock = this.socket;
      const lines = ['HTTP/1.1 101 UPGRADED', `Content-Type: ${contentType}`, 'Connection: Upgrade', 'Upgrade: tcp', ...Object.entries(commonHeaders()).map(([k, v]) => `${k}: ${v}`), '', ''];
      sock.write(lines.join('\r\n'));
      const pending = this.head;
      this.head = Buffer.alloc(0);
      return { out: socketOut(sock), input: sock, pending };
    }
    const res = this.res!;
    res.writeHead(200, { ...commonHeaders(), 'Content-Type': contentType });
    res.flushHeaders();
    return {
      out: socketOut(res),
      input: this.req,
      pending: Buffer.alloc(0),
    };
  }
}

/** The request target as a URL; whatever the client sent (`//`, `*`) it is a path, never a host. */
/**
 * node:http, loaded when the server runs: the CLI is one bundle, every builtin it names is imported at
 * start-up, and node:http's undici cost every verb ~35 ms.
 */
export const nodeHttp = () => process.getBuiltinModule('node:http') as typeof import('node:http');

const statusText = (status: number) => nodeHttp().STATUS_CODES[status] ?? '';

function requestUrl(target: string): URL {
  try {
    return new URL(`http://berth${target.startsWith('/') ? '' : '/'}${target}`);
  } catch {
    return new URL('http://berth/');
  }
}

/** The output side of a stream, whichever transport carries it. */
export interface StreamOut {
  write(b: Buffer | string): void;
  /** End our side (a socket is half-closed: the client may still be sending). */
  end(): void;
  readonly closed: boolean;
  onClose(fn: () => void): void;
  raw: NodeJS.WritableStream;
}

/** The output side over a socket or a streamed response: writes after either end closed are dropped. */
function socketOut(sock: Duplex | ServerResponse): StreamOut {
  return {
    write: (b) => {
      if (!sock.destroyed && !sock.writableEnded) sock.write(b);
    },
    end: () => {
      if (!sock.destroyed && !sock.writableEnded) sock.end();
    },
    get closed() {
      return sock.destroyed || sock.writableEnded;
    },
    onClose: (fn) => sock.on('close', fn),
    raw: sock,
  };
}
