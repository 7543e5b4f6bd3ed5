/**
 * One HTTP exchange with a registry, over Node's `http`/`https` modules, answered as a web `Response`.
 *
 * Why not the global `fetch`: the copy of its HTTP client bundled with Node 24 throws an uncatchable
 * assertion when a server closes the connection while a response body is paused by backpressure (a
 * registry cutting a blob we write to disk slower than it arrives), and that ends the whole process:
 * `berth serve` with every client on it. Node's own HTTP client surfaces the same cut as an error on the
 * body stream. It also lets us bound how long a peer may keep us waiting: `idleMs` of silence, while
 * waiting for the headers or between body chunks, fails the exchange with ETIMEDOUT (10 s at most to
 * connect and finish the TLS handshake).
 *
 * Bodies are never buffered here: the caller streams them, or reads them with a bound (readBounded).
 */
import type { Agent as HttpAgent, IncomingMessage } from 'node:http';
import { Readable } from 'node:stream';
import { RuntimeFailure } from '../errors.ts';

export interface Exchange {
  method: string;
  headers: Record<string, string>;
  body?: Uint8Array | ReadableStream<Uint8Array>;
  idleMs: number;
}

// node:http and node:https are loaded on the first request, not when the CLI starts: named in an import,
// they cost every verb ~13 ms. Kept-alive connections let a pull's layers and the manifest reuse sockets;
// a free socket does not keep the process alive (the agent unrefs it).
const nodeHttp = () => process.getBuiltinModule('node:http') as typeof import('node:http');
const nodeHttps = () => process.getBuiltinModule('node:https') as typeof import('node:https');
let agents: { http: HttpAgent; https: HttpAgent } | undefined;

/** Time to connect and finish the TLS handshake. */
const CONNECT_MS = 10_000;

/** An error with an errno-like code, as the transport's retry logic reads them. */
function coded(message: string, code: string): Error {
  return Object.assign(new Error(message), { code });
}

/** Statuses whose responses have no body (and which `new Response` refuses one for). */
const NO_BODY = new Set([101, 204, 205, 304]);

export function exchange(url: URL, x: Exchange): Promise<Response> {
  return new Promise<Response>((resolve, reject) => {
    const tls = url.protocol === 'https:';
    agents ??= { http: new (nodeHttp().Agent)({ keepAlive: true }), https: new (nodeHttps().Agent)({ keepAlive: true }) };
    const req = (tls ? nodeHttps().request : nodeHttp().request)(url, {
      method: x.method, headers: x.headers, agent: tls ? agents.https : agents.http,
    });
    // Connecting (and the TLS handshake) get less time than a server that is busy answering.
    let limit = Math.min(x.idleMs, CONNECT_MS);
    let answer: IncomingMessage | undefined;
    req.on('timeout', () => {
      const e = coded(`no answer from ${url.host} for ${limit / 1000} s`, 'ETIMEDOUT');
      // Mid-body, the reader learns of it through the response stream.
      answer?.destroy(e);
      req.destroy(e);
    });
    req.setTimeout(limit);
    req.once('socket', (sock) => {
      const connected = () => req.setTimeout((limit = x.idleMs));
      if (sock.connecting) sock.once(tls ? 'secureConnect' : 'connect', connected);
      else connected();
    });
    req.once('error', reject);
    req.once('response', (res) => {
      answer = res;
      try {
        resolve(toResponse(res, x.method === 'HEAD'));
      } catch (e) {
        res.destroy();
        reject(e);
      }
    });
    if (x.body instanceof ReadableStream) {
      const src = Readable.fromWeb(x.body as import('node:stream/web').ReadableStream);
      src.once('error', (e) => req.destroy(e));
      src.pipe(req);
    } else {
      req.end(x.body);
    }
  });
}

function toResponse(res: IncomingMessage, head: boolean): Response {
  const status = res.statusCode ?? 0;
  if (status < 200 || status > 599) {
    throw new RuntimeFailure(`the server answered with an invalid HTTP status ${status}`);
  }
  const headers = new Headers();
  const raw = res.rawHeaders;
  for (let i = 0; i + 1 < raw.length; i += 2) headers.append(raw[i]!, raw[i + 1]!);
  // A reason phrase is informational; one with odd bytes is dropped rather than refused.
  const statusText = /^[\t\x20-\x7e]*$/.test(res.statusMessage ?? '') ? res.statusMessage ?? '' : '';
  const bodyless = head || NO_BODY.has(status);
  if (bodyless) res.resume();
  // A connection that closes before the declared length arrives errors the stream (ECONNRESET, "aborted").
  const body = bodyless ? null : (Readable.toWeb(res) as unknown as ReadableStream<Uint8Array>);
  return new Response(body, { status, statusText, headers });
}

/**
 * The whole body, refused once it passes `max` bytes (whatever Content-Length said, or without one):
 * `what` names the document in the error. Reading stops there, so a huge body costs `max` bytes at most.
 */
export async function readBounded(res: Response, max: number, what: string): Promise<Buffer> {
  const declared = Number(res.headers.get('content-length'));
  if (declared > max) {
    await res.body?.cancel();
    throw new RuntimeFailure(`${what} of ${declared} bytes is too big (the limit is ${max})`);
  }
  if (!res.body) return Buffer.alloc(0);
  const parts: Buffer[] = [];
  let size = 0;
  const reader = res.body.getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      size += value.byteLength;
      if (size > max) throw new RuntimeFailure(`${what} is too big: more than ${max} bytes`);
      parts.push(Buffer.from(value.buffer, value.byteOffset, value.byteLength));
    }
  } catch (e) {
    await reader.cancel().catch(() => {});
    throw e;
  } finally {
    reader.releaseLock();
  }
  return Buffer.concat(parts, size);
}

/** Up to `max` bytes of the body as text, the rest discarded: for error messages, which are only shown. */
export async function readPrefix(res: Response, max: number): Promise<string> {
  if (!res.body) return '';
  const parts: Buffer[] = [];
  let size = 0;
  const reader = res.body.getReader();
  try {
    while (size < max) {
      const { done, value } = await reader.read();
      if (done) break;
      parts.push(Buffer.from(value.buffer, value.byteOffset, value.byteLength));
      size += value.byteLength;
    }
  } catch {
    // A cut error body still tells what arrived.
  } finally {
    await reader.cancel().catch(() => {});
    reader.releaseLock();
  }
  return Buffer.concat(parts).subarray(0, max).toString('utf8');
}
