/**
 * HTTP to a registry: picking the scheme, authenticating, retrying, following redirects, and turning a
 * registry's error body into one line.
 *
 * Protocol facts this relies on (Docker Distribution API v2, and the token spec docker uses):
 * - `GET /v2/` is the ping. 200 means anonymous access; 401 carries `WWW-Authenticate`, either
 *   `Basic realm=…` (send the user and password on every request) or `Bearer realm=…,service=…[,scope=…]`
 *   (get a token from the realm with `?service=…&scope=repository:<path>:<actions>`, answering that
 *   request with basic credentials when we have them, then send `Authorization: Bearer <token>`).
 *   The token comes back as `token` or `access_token`; `expires_in` defaults to 60 seconds.
 * - A token is only good for the scopes asked: a later 401 with `error="insufficient_scope"` or
 *   `"invalid_token"` asks for a new one. Registries may also admit /v2/ anonymously and still want auth
 *   for a repository, so a 401 on any request re-learns the challenge once.
 * - Blobs are often served by a redirect to other hosts (object stores, CDNs): credentials must not follow
 *   a redirect to another origin, and the content is trusted only through its digest.
 * - Errors come as `{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}`; docker
 *   prints a code as lowercase words (`MANIFEST_UNKNOWN` is `manifest unknown`).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { BerthError, RuntimeFailure } from '../errors.ts';
import type { Credentials } from './authfile.ts';
import { lookupCredentials } from './credential-store.ts';
import { allowsHttp, apiHost } from './hosts.ts';
import { exchange, readBounded, readPrefix } from './http.ts';

export interface Challenge {
  scheme: 'basic' | 'bearer';
  /** Parameters, keys lowercased: realm, service, scope, error. */
  params: Record<string, string>;
}

/** A registry or mirror as reached: its name (the auth file's key), base URL, and how it wants auth. */
export interface Endpoint {
  name: string;
  base: string;
  challenge?: Challenge;
}

export interface RequestOptions {
  headers?: Record<string, string>;
  /** Makes the body again for each attempt (a stream can be sent once). */
  body?: () => RequestBody;
  /** Overrides the client's retry count: 0 for requests that must not be sent twice (a PATCH of upload data). */
  retries?: number;
  /** Sent as is instead of the stored credentials (login's check of new ones); no 401 re-learning. */
  authorization?: string;
}

export type RequestBody = Uint8Array | ReadableStream<Uint8Array>;

/** A token server (or a basic-auth registry) refused the credentials we sent. */
export class CredentialsRejected extends RuntimeFailure {}

export interface TransportOptions {
  authFile: string;
  /** Credentials by normalised host, used instead of the auth file's (a request's own, in the API). */
  credentials?: ReadonlyMap<string, Credentials>;
  insecure: string[];
  retries: number;
  /** Attempts at one blob's download (each resuming the last) and upload. */
  downloadAttempts: number;
  uploadAttempts: number;
  /** Silence from a server (connecting, before its headers, between body chunks) that fails a request. */
  idleMs: number;
}

const USER_AGENT = 'berth/0.1';
const MAX_REDIRECTS = 10;
/** Bounds on what is read into memory from a registry (containers/image draws the same lines). */
const TOKEN_MAX = 1 << 20;
const ERROR_BODY_MAX = 64 << 10;
/** Network errors worth another attempt: the server or something in between dropped us. */
const TRANSIENT_CODES = new Set([
  'ECONNRESET', 'ECONNREFUSED', 'ECONNABORTED', 'EPIPE', 'ETIMEDOUT', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH',
  'UND_ERR_SOCKET', 'UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'UND_ERR_CLOSED',
]);

/**
 * OpenSSL's reason for a failed TLS exchange: Node reports some (a plain-http server answering our
 * ClientHello) only as `write EPROTO …:SSL routines:<function>:<reason>:<file>:<line>:`.
 */
function sslReason(e: unknown): string | undefined {
  return /SSL routines:[^:]*:([^:]+):/.exec((e as Error)?.message ?? '')?.[1];
}

/** The errno-like code of a failed request or body read (a wrapped socket error sits in `cause`). */
export function errorCode(e: unknown): string | undefined {
  for (let x: unknown = e, i = 0; x && i < 4; x = (x as { cause?: unknown }).cause, i++) {
    const code = (x as { code?: unknown }).code;
    const ssl = code === 'EPROTO' ? sslReason(x) : undefined;
    if (ssl) return `ERR_SSL_${ssl.toUpperCase().replace(/\W+/g, '_')}`;
    if (typeof code === 'string') return code;
  }
  return undefined;
}

export function isTransient(e: unknown): boolean {
  const code = errorCode(e);
  return !!code && TRANSIENT_CODES.has(code);
}

/** A network error in words, with its code: what a one-line failure says after naming the peer. */
export function reasonOf(e: unknown): string {
  const code = errorCode(e);
  const text = (e as Error)?.message ?? String(e);
  return code && !text.includes(code) ? `${text} (${code})` : text;
}

const isTls = (code: string | undefined) =>
  !!code && (/^ERR_(SSL|TLS)_/.test(code) || /CERT|SELF_SIGNED|UNABLE_TO_(GET|VERIFY)/.test(code));

/** Why a connection failed, in words; a TLS failure against a plain-http server says how to allow http. */
function networkReason(name: string, e: unknown): string {
  const code = errorCode(e);
  const why = sslReason(e) ?? (e as { cause?: Error }).cause?.message ?? (e as Error).message;
  if (code === 'ERR_SSL_WRONG_VERSION_NUMBER' || code === 'ERR_SSL_PACKET_LENGTH_TOO_LONG') {
    return 'http: server gave HTTP response to HTTPS client; plain http is only used for loopback registries ' +
      `and those marked insecure (add "${name}" to insecure registries)`;
  }
  if (isTls(code)) return `TLS handshake failed: ${why} (${code})`;
  return `cannot connect: ${why}${code ? ` (${code})` : ''}`;
}

export function backoff(attempt: number): number {
  return Math.min(250 * 2 ** attempt, 4000) * (0.75 + Math.random() / 2);
}

/** Parses `WWW-Authenticate` (one or several challenges, quoted or token parameter values). */
export function parseChallenges(header: string): Challenge[] {
  const out: Challenge[] = [];
  const re = /\s*,?\s*([A-Za-z][\w.-]*)(?:\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]*)))?/y;
  let current: Challenge | undefined;
  for (let m = re.exec(header); m && m[0] !== ''; m = re.exec(header)) {
    const [, token, quoted, bare] = m;
    if (quoted === undefined && bare === undefined) {
      const scheme = token.toLowerCase();
      current = scheme === 'basic' || scheme === 'bearer' ? { scheme, params: {} } : undefined;
      if (current) out.push(current);
    } else if (current) {
      current.params[token.toLowerCase()] = quoted !== undefined ? quoted.replace(/\\(.)/g, '$1') : bare!;
    }
  }
  return out;
}

function pickChallenge(res: Response): Challenge | undefined {
  const all = parseChallenges(res.headers.get('www-authenticate') ?? '');
  return all.find((c) => c.scheme === 'bearer') ?? all[0];
}

const codeWords = (code: unknown) => (typeof code === 'string' ? code.toLowerCase().replace(/_/g, ' ') : '');

/** One line from a registry's (or token server's) error response; consumes the body. */
export async function errorLine(res: Response): Promise<string> {
  const text = await readPrefix(res, ERROR_BODY_MAX);
  try {
    const j = JSON.parse(text) as { errors?: { code?: unknown; message?: unknown }[]; details?: unknown; error?: unknown };
    if (Array.isArray(j.errors) && j.errors.length > 0) {
      return j.errors
        .map((e) => [codeWords(e.code), typeof e.message === 'string' ? e.message : ''].filter(Boolean).join(': '))
        .join('; ');
    }
    const detail = typeof j.details === 'string' ? j.details : typeof j.error === 'string' ? j.error : '';
    if (detail) return res.status === 401 ? `unauthorized: ${detail}` : detail;
  } catch {
    // not JSON: fall through to the status line
  }
  const short = text.trim().length > 0 && text.length <= 200 && !text.includes('<') ? `: ${text.trim()}` : '';
  return `${res.status} ${res.statusText}${short}`.trim();
}

export const basic = (c: Credentials) => `Basic ${Buffer.from(`${c.username}:${c.password}`).toString('base64')}`;

interface CachedToken {
  token: string;
  expires: number;
}

export class Transport {
  readonly opts: TransportOptions;
  readonly #endpoints = new Map<string, Promise<Endpoint>>();
  readonly #tokens = new Map<string, Promise<CachedToken>>();
  /** Stored credentials by host, looked up once per client: a credential helper is a process to run. */
  readonly #stored = new Map<string, Promise<Credentials | undefined>>();

  constructor(opts: TransportOptions) {
    this.opts = opts;
  }

  credentials(name: string): Promise<Credentials | undefined> {
    const given = this.opts.credentials?.get(name);
    if (given) return Promise.resolve(given);
    let p = this.#stored.get(name);
    if (!p) {
      p = lookupCredentials(this.opts.authFile, name);
      p.catch(() => this.#stored.delete(name));
      this.#stored.set(name, p);
    }
    return p;
  }

  /** Forgets what was learnt of a host (its scheme, challenge, tokens and credentials): after login or logout. */
  forget(name: string): void {
    this.#endpoints.delete(name);
    this.#stored.delete(name);
    for (const k of [...this.#tokens.keys()]) if (k.startsWith(`${name} `)) this.#tokens.delete(k);
  }

  /**
   * Pings a registry or mirror once per client: https first; plain http only where allowed (loopback and
   * insecure hosts), as docker does. `retries` bounds attempts over the chosen scheme (mirrors get few).
   */
  endpoint(name: string, retries = this.opts.retries): Promise<Endpoint> {
    let p = this.#endpoints.get(name);
    if (!p) {
      p = this.#ping(name, retries);
      p.catch(() => this.#endpoints.delete(name));
      this.#endpoints.set(name, p);
    }
    return p;
  }

  async #ping(name: string, retries: number): Promise<Endpoint> {
    const host = apiHost(name);
    const httpOk = allowsHttp(name, this.opts.insecure);
    let res: Response;
    let base = `https://${host}`;
    try {
      res = await this.#fetch(new URL('/v2/', base), 'GET', {}, httpOk ? 0 : retries, false);
    } catch (e) {
      if (!httpOk) throw this.#networkError(name, e);
      base = `http://${host}`;
      try {
        res = await this.#fetch(new URL('/v2/', base), 'GET', {}, retries, false);
      } catch (e2) {
        throw new RuntimeFailure(
          `${name}: over https: ${networkReason(name, e)}; over http: ${networkReason(name, e2)}`, { cause: e2 });
      }
    }
    const ep: Endpoint = { name, base };
    if (res.status === 401) {
      ep.challenge = pickChallenge(res);
      await res.body?.cancel();
      if (!ep.challenge) throw new RuntimeFailure(`${name}: /v2/ wants authentication of an unknown kind`);
    } else if (res.ok) {
      await res.body?.cancel();
    } else {
      throw new RuntimeFailure(`${name} does not serve the registry API v2: GET /v2/: ${await errorLine(res)}`);
    }
    return ep;
  }

  #networkError(name: string, e: unknown): BerthError {
    return e instanceof BerthError ? e : new RuntimeFailure(`${name}: ${networkReason(name, e)}`, { cause: e });
  }

  /** Whether requests to this endpoint carry stored credentials. */
  async authenticated(ep: Endpoint): Promise<boolean> {
    return !!ep.challenge && !!(await this.credentials(ep.name));
  }

  /**
   * A request to the endpoint (a path, or an absolute URL such as an upload location), authenticated for
   * `scopes`. Transient failures are retried; a 401 re-learns the challenge once. The caller reads the
   * status and consumes the body.
   */
  async request(ep: Endpoint, scopes: string[], method: string, target: string, o: RequestOptions = {}): Promise<Response> {
    const url = new URL(target, ep.base);
    let wanted = scopes;
    for (let again = true; ; again = false) {
      const headers: Record<string, string> = { ...o.headers };
      // Credentials go to the registry's own origin only (an upload location could point elsewhere).
      if (url.origin === new URL(ep.base).origin) {
        const a = o.authorization ?? (await this.#authorization(ep, wanted));
        if (a) headers.authorization = a;
      }
      let res: Response;
      try {
        res = await this.#fetch(url, method, { headers, body: o.body }, o.retries ?? this.opts.retries, true);
      } catch (e) {
        throw this.#networkError(ep.name, e);
      }
      if (res.status !== 401 || !again || o.authorization) return res;
      const c = pickChallenge(res);
      if (!c || (c.scheme === 'basic' && (ep.challenge?.scheme === 'basic' || !(await this.credentials(ep.name))))) return res;
      // The registry wants another scheme, more scope, or a fresh token: learn and try once more.
      ep.challenge = c;
      if (c.params.scope) wanted = [...new Set([...wanted, ...c.params.scope.split(' ')])];
      this.#tokens.delete(this.#tokenKey(ep, wanted));
      await res.body?.cancel();
    }
  }

  async #authorization(ep: Endpoint, scopes: string[]): Promise<string | undefined> {
    const c = ep.challenge;
    if (!c) return undefined;
    const creds = await this.credentials(ep.name);
    if (c.scheme === 'basic') return creds ? basic(creds) : undefined;
    return `Bearer ${await this.token(ep, scopes, creds)}`;
  }

  #tokenKey(ep: Endpoint, scopes: string[]): string {
    return `${ep.name} ${[...scopes].sort().join(' ')}`;
  }

  /** A bearer token for the scopes, cached for its lifetime; `creds` answers the token server's own auth. */
  async token(ep: Endpoint, scopes: string[], creds: Credentials | undefined, cache = true): Promise<string> {
    const key = this.#tokenKey(ep, scopes);
    const hit = cache ? this.#tokens.get(key) : undefined;
    if (hit) {
      const t = await hit.catch(() => undefined);
      if (t && t.expires > Date.now()) return t.token;
    }
    const p = this.#fetchToken(ep, scopes, creds);
    if (cache) {
      this.#tokens.set(key, p);
      p.catch(() => this.#tokens.delete(key));
    }
    return (await p).token;
  }

  async #fetchToken(ep: Endpoint, scopes: string[], creds: Credentials | undefined): Promise<CachedToken> {
    const realm = ep.challenge?.params.realm;
    if (!realm) throw new RuntimeFailure(`${ep.name}: bearer challenge without a realm`);
    let url: URL;
    try {
      url = new URL(realm);
    } catch {
      throw new RuntimeFailure(`${ep.name}: bearer challenge with an invalid realm: ${realm}`);
    }
    // The token server gets our password: never over plain http unless the registry itself may be.
    if (url.protocol !== 'https:' && !(url.protocol === 'http:' && (allowsHttp(url.host, this.opts.insecure) ||
      new URL(ep.base).protocol === 'http:'))) {
      throw new RuntimeFailure(`${ep.name}: refusing token realm ${realm}: not https`);
    }
    if (ep.challenge?.params.service) url.searchParams.set('service', ep.challenge.params.service);
    for (const s of scopes) url.searchParams.append('scope', s);
    if (creds) url.searchParams.set('account', creds.username);
    const headers: Record<string, string> = creds ? { authorization: basic(creds) } : {};
    let res: Response;
    try {
      res = await this.#fetch(url, 'GET', { headers }, this.opts.retries, true);
    } catch (e) {
      throw this.#networkError(url.host, e);
    }
    if (!res.ok) {
      const line = await errorLine(res);
      if (res.status !== 401 && res.status !== 403) throw new RuntimeFailure(`${ep.name}: token server: ${line}`);
      throw new CredentialsRejected(line.startsWith('unauthorized') ? line : `unauthorized: ${line}`);
    }
    const raw = await readBounded(res, TOKEN_MAX, `${ep.name}: token server ${url.host}: the answer`);
    let body: { token?: unknown; access_token?: unknown; expires_in?: unknown } = {};
    try {
      body = JSON.parse(raw.toString('utf8')) ?? {};
    } catch {
      // not JSON: no token, said below
    }
    const token = typeof body.token === 'string' && body.token ? body.token
      : typeof body.access_token === 'string' ? body.access_token : '';
    if (!token) throw new RuntimeFailure(`${ep.name}: token server ${url.host} answered without a token`);
    const life = typeof body.expires_in === 'number' && body.expires_in > 0 ? body.expires_in : 60;
    // Renew a little early so a token never expires between our check and the registry's.
    return { token, expires: Date.now() + Math.max(life - 10, 5) * 1000 };
  }

  /**
   * fetch with retries (network errors, 5xx, 429) and our own redirect handling: each hop must obey the
   * scheme rule, and the Authorization header is dropped when the origin changes.
   */
  async #fetch(
    url: URL, method: string, o: { headers?: Record<string, string>; body?: () => RequestBody },
    retries: number, redirects: boolean,
  ): Promise<Response> {
    for (let attempt = 0; ; attempt++) {
      let res: Response;
      try {
        res = await this.#follow(url, method, o, redirects);
      } catch (e) {
        if (attempt >= retries || !isTransient(e)) throw e;
        await sleep(backoff(attempt));
        continue;
      }
      if ((res.status >= 500 || res.status === 429) && attempt < retries) {
        const after = Number(res.headers.get('retry-after'));
        await res.body?.cancel();
        await sleep(Number.isFinite(after) && after > 0 ? Math.min(after * 1000, 10_000) : backoff(attempt));
        continue;
      }
      return res;
    }
  }

  async #follow(
    start: URL, startMethod: string, o: { headers?: Record<string, string>; body?: () => RequestBody }, redirects: boolean,
  ): Promise<Response> {
    let url = start;
    let method = startMethod;
    const headers = { 'user-agent': USER_AGENT, ...o.headers };
    let body = o.body;
    for (let hop = 0; ; hop++) {
      const res = await exchange(url, { method, headers, body: body?.(), idleMs: this.opts.idleMs });
      const location = res.headers.get('location');
      if (!redirects || ![301, 302, 303, 307, 308].includes(res.status) || !location) return res;
      await res.body?.cancel();
      if (hop >= MAX_REDIRECTS) throw new RuntimeFailure(`${start.host}: too many redirects`);
      const next = new URL(location, url);
      if (next.protocol !== 'https:' && !(next.protocol === 'http:' && allowsHttp(next.host, this.opts.insecure))) {
        throw new RuntimeFailure(`${start.host}: refusing redirect to ${next.protocol}//${next.host}: not https`);
      }
      if (next.origin !== url.origin) delete (headers as Record<string, string>).authorization;
      // 303 (and 301/302 after a POST, as browsers do) become a GET without a body.
      if (res.status === 303 || ((res.status === 301 || res.status === 302) && method === 'POST')) {
        method = 'GET';
        body = undefined;
      }
      url = next;
    }
  }
}
