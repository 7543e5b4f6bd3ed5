/**
 * A client of the Docker Distribution API v2 (what Docker Hub, docker-registry, Harbor, GHCR, Quay and
 * the rest serve): resolve a reference to a platform's manifest, download and upload blobs, upload
 * manifests, and log in. No state beyond the auth file (and the credential helpers it names) and, for
 * the client's life, each host's scheme, auth challenge, tokens and credentials.
 *
 *   const c = new RegistryClient();
 *   const img = await c.resolve(parseImageName('busybox'));          // linux/<this machine's arch>
 *   await c.fetchBlob(img.name, img.manifest.config, '/tmp/config', undefined, img.endpoint);
 *
 * Pulls try the configured mirrors of a registry first (docker's registry-mirrors), any mirror failure
 * falling through to the registry itself; pushes and logins go to the registry only.
 */
import { BerthError, InvalidArgument, NotFound, NotSupported, RuntimeFailure, Unauthorized } from '../errors.ts';
import { familiarRepo, type ImageName } from './reference.ts';
import { defaultAuthFile, type Credentials } from './authfile.ts';
import { eraseCredentials, saveCredentials } from './credential-store.ts';
import { blobHead, downloadBlob, failure, pullScope, pushBlob, pushScope, type Progress } from './blobs.ts';
import { normaliseHost } from './hosts.ts';
import {
  checkDigest, digestOf, hostPlatform, MANIFEST_ACCEPT, parseManifest, platformString, selectPlatform,
  type Descriptor, type ImageManifest, type ParsedManifest, type Platform,
} from './manifest.ts';
import { readBounded } from './http.ts';
import { basic, CredentialsRejected, errorLine, reasonOf, Transport, type Endpoint } from './transport.ts';

export type { Descriptor, ImageManifest, Platform } from './manifest.ts';
export type { Progress } from './blobs.ts';

export interface RegistryOptions {
  /** Docker-compatible auth file; default $REGISTRY_AUTH_FILE, else $DOCKER_CONFIG/config.json, else ~/.docker/config.json. */
  authFile?: string;
  /** Registries (`host[:port]`) that may be reached over plain http; loopback hosts always may, like docker. */
  insecure?: string[];
  /** Registry → mirror hosts tried first for pulls (docker's registry-mirrors are `{'docker.io': [...]}`). */
  mirrors?: Record<string, string[]>;
  /** Credentials by registry (`host[:port]`), used instead of the auth file's: a caller's own, kept nowhere. */
  credentials?: Record<string, Credentials>;
  /** More attempts after a transient failure (connection reset or refused, 5xx, 429), with backoff. Default 3. */
  retries?: number;
  /** Attempts at one blob's download, each resuming the last, and at its upload (docker's
   * max-download-attempts and max-upload-attempts). Default 5 each. */
  downloadAttempts?: number;
  uploadAttempts?: number;
  /** Silence from a registry (connecting, before an answer, within a body) after which a request fails. Default 60 s. */
  idleTimeoutMs?: number;
}

/** One result of a registry search, in docker's shape. */
export interface SearchResult {
  name: string;
  description: string;
  star_count: number;
  is_official: boolean;
  is_automated: boolean;
}

export interface ResolvedImage {
  name: ImageName;
  /** Digest of the platform's manifest (the bytes in `raw`). */
  digest: string;
  mediaType: string;
  manifest: ImageManifest;
  raw: Buffer;
  /** Digest of the manifest list or OCI index, when the reference named one. */
  indexDigest?: string;
  /** The host that answered: a mirror or the registry (pass it to fetchBlob to read from the same place). */
  endpoint: string;
}

/** Manifests are small; a bigger body is not a manifest (containerd draws the line at 4 MiB too). */
const MANIFEST_MAX = 4 << 20;

interface FetchedManifest {
  raw: Buffer;
  digest: string;
  parsed: ParsedManifest;
}

export class RegistryClient {
  readonly authFile: string;
  readonly #t: Transport;
  readonly #mirrors = new Map<string, string[]>();

  constructor(opts: RegistryOptions = {}) {
    this.authFile = opts.authFile ?? defaultAuthFile();
    const retries = opts.retries ?? 3;
    if (!Number.isInteger(retries) || retries < 0) throw new InvalidArgument(`invalid retries: ${retries}`);
    const credentials = new Map(Object.entries(opts.credentials ?? {}).map(([host, c]) => [normaliseHost(host), c]));
    const idleMs = opts.idleTimeoutMs ?? 60_000;
    if (!(idleMs > 0)) throw new InvalidArgument(`invalid idle timeout: ${idleMs}`);
    const attempts = (n: number | undefined, what: string) => {
      const v = n ?? 5;
      if (!Number.isInteger(v) || v < 1) throw new InvalidArgument(`invalid ${what}: ${v}`);
      return v;
    };
    this.#t = new Transport({
      authFile: this.authFile, credentials, insecure: opts.insecure ?? [], retries, idleMs,
      downloadAttempts: attempts(opts.downloadAttempts, 'download attempts'),
      uploadAttempts: attempts(opts.uploadAttempts, 'upload attempts'),
    });
    for (const [reg, hosts] of Object.entries(opts.mirrors ?? {})) {
      this.#mirrors.set(normaliseHost(reg), hosts.map(normaliseHost));
    }
  }

  /**
   * The manifest of `name` for `platform` (default: this machine's, linux/amd64 here). A manifest list or
   * OCI index is resolved to the platform's entry. Every manifest fetched by digest is checked against it.
   */
  async resolve(name: ImageName, platform: Platform = hostPlatform()): Promise<ResolvedImage> {
    if (name.digest) checkDigest(name.digest);
    const ref = name.digest ?? name.tag ?? 'latest';
    for (const mirror of this.#mirrors.get(normaliseHost(name.registry)) ?? []) {
      try {
        return await this.#resolveAt(mirror, true, name, ref, platform);
      } catch {
        // A mirror that is down or lacks the image: the registry decides.
      }
    }
    return this.#resolveAt(name.registry, false, name, ref, platform);
  }

  async #resolveAt(host: string, mirror: boolean, name: ImageName, ref: string, platform: Platform): Promise<ResolvedImage> {
    const ep = await this.#t.endpoint(host, mirror ? 0 : undefined);
    const top = await this.#manifest(ep, name, ref);
    const base = { name, endpoint: host };
    if (top.parsed.kind === 'manifest') {
      return { ...base, digest: top.digest, mediaType: top.parsed.mediaType, manifest: top.parsed.manifest, raw: top.raw };
    }
    const entry = selectPlatform(top.parsed.index, platform);
    const child = await this.#manifest(ep, name, entry.digest);
    if (child.parsed.kind !== 'manifest') {
      throw new NotSupported(`${familiarRepo(name)}@${entry.digest}: an index inside an index (${platformString(platform)})`);
    }
    return {
      ...base, digest: child.digest, mediaType: child.parsed.mediaType, manifest: child.parsed.manifest,
      raw: child.raw, indexDigest: top.digest,
    };
  }

  /**
   * What the registry holds under `name` (docker's distribution inspect): the descriptor of the manifest
   * or index the reference names, and the platforms it serves (an index's entries; a single manifest's
   * from its config, which is read for it).
   */
  async describe(name: ImageName): Promise<{ descriptor: Descriptor; platforms: Platform[] }> {
    if (name.digest) checkDigest(name.digest);
    const ep = await this.#t.endpoint(name.registry);
    const top = await this.#manifest(ep, name, name.digest ?? name.tag ?? 'latest');
    const descriptor: Descriptor = { mediaType: top.parsed.mediaType, digest: top.digest, size: top.raw.length };
    if (top.parsed.kind === 'index') {
      return { descriptor, platforms: top.parsed.index.manifests.flatMap((m) => (m.platform ? [m.platform] : [])) };
    }
    const config = top.parsed.manifest.config;
    if (config.size > MANIFEST_MAX) throw new InvalidArgument(`${familiarRepo(name)}: image config of ${config.size} bytes is too big`);
    const res = await this.#t.request(ep, [pullScope(name.path)], 'GET', `/v2/${name.path}/blobs/${config.digest}`, {});
    if (!res.ok) throw new RuntimeFailure(`${ep.name}: config ${config.digest}: ${await errorLine(res)}`);
    const raw = await readBounded(res, MANIFEST_MAX, `${familiarRepo(name)}: config`);
    if (digestOf(raw, config.digest) !== config.digest) throw new RuntimeFailure(`${familiarRepo(name)}: config digest mismatch`);
    const doc = JSON.parse(raw.toString()) as { architecture?: string; os?: string; variant?: string; 'os.version'?: string };
    const platform: Platform = { architecture: doc.architecture ?? '', os: doc.os ?? '' };
    if (doc.variant) platform.variant = doc.variant;
    if (doc['os.version']) platform['os.version'] = doc['os.version'];
    return { descriptor, platforms: [platform] };
  }

  /** Every tag of `name`'s repository (`GET /v2/NAME/tags/list`, following the registry's pages), sorted. */
  async tags(name: ImageName): Promise<string[]> {
    const ep = await this.#t.endpoint(name.registry);
    const tags: string[] = [];
    let next: string | undefined = `/v2/${name.path}/tags/list`;
    for (let page = 0; next && page < 1000; page++) {
      const res = await this.#t.request(ep, [pullScope(name.path)], 'GET', next);
      if (!res.ok) {
        const line = await errorLine(res);
        if (res.status === 404 || res.status === 401 || res.status === 403) throw this.#denied(name, line);
        throw new RuntimeFailure(`${ep.name}: tags of ${familiarRepo(name)}: ${line}`);
      }
      const doc = JSON.parse((await readBounded(res, MANIFEST_MAX, `${familiarRepo(name)}: tags`)).toString()) as { tags?: unknown };
      if (Array.isArray(doc.tags)) tags.push(...doc.tags.filter((t): t is string => typeof t === 'string'));
      // RFC 5988: Link: </v2/NAME/tags/list?last=x&n=y>; rel="next"
      next = /<([^>]+)>\s*;\s*rel="?next"?/.exec(res.headers.get('link') ?? '')?.[1];
    }
    return [...new Set(tags)].sort();
  }

  /**
   * `docker search`: the registry's v1 search (Docker Hub's index for names without a registry), at most
   * `limit` results. A term `host[:port]/words` searches that registry for `words`.
   */
  async search(term: string, limit: number): Promise<SearchResult[]> {
    const slash = term.indexOf('/');
    const first = slash < 0 ? '' : term.slice(0, slash);
    const own = first.includes('.') || first.includes(':') || first === 'localhost';
    const registry = own ? first : 'index.docker.io';
    const query = own ? term.slice(slash + 1) : term;
    const ep = await this.#t.endpoint(registry);
    const res = await this.#t.request(ep, [], 'GET', `/v1/search?q=${encodeURIComponent(query)}&n=${limit}`);
    if (!res.ok) throw new RuntimeFailure(`${registry}: search: ${await errorLine(res)}`);
    const raw = await readBounded(res, MANIFEST_MAX, `${registry}: search results`);
    let doc: { results?: unknown };
    try {
      doc = JSON.parse(raw.toString());
    } catch {
      throw new RuntimeFailure(`${registry}: search: the answer is not JSON`);
    }
    if (!Array.isArray(doc.results)) throw new RuntimeFailure(`${registry}: search: the answer has no results`);
    return (doc.results as Record<string, unknown>[]).slice(0, limit).map((r) => ({
      name: String(r.name ?? ''),
      description: String(r.description ?? ''),
      star_count: Number(r.star_count ?? 0),
      is_official: r.is_official === true,
      is_automated: r.is_automated === true,
    }));
  }

  /** GET a manifest by tag or digest, checking its bytes against the digest asked for (or the one the registry announced). */
  async #manifest(ep: Endpoint, name: ImageName, ref: string): Promise<FetchedManifest> {
    const shown = `${familiarRepo(name)}${ref.includes(':') ? '@' : ':'}${ref}`;
    let res: Response;
    try {
      res = await this.#t.request(ep, [pullScope(name.path)], 'GET', `/v2/${name.path}/manifests/${ref}`, {
        headers: { accept: MANIFEST_ACCEPT.join(', ') },
      });
    } catch (e) {
      if (e instanceof CredentialsRejected && !(await this.#t.credentials(ep.name))) throw this.#denied(name, e.message);
      throw e;
    }
    if (!res.ok) {
      const line = await errorLine(res);
      const anonymous = !(await this.#t.authenticated(ep));
      if (/^name unknown/.test(line) || ((res.status === 401 || res.status === 403) && anonymous)) {
        throw this.#denied(name, line);
      }
      if (res.status === 404) throw new NotFound(`manifest for ${shown} not found: ${line}`);
      throw new RuntimeFailure(`${ep.name}: ${line}`);
    }
    let raw: Buffer;
    try {
      raw = await readBounded(res, MANIFEST_MAX, `${shown}: manifest`);
    } catch (e) {
      if (e instanceof BerthError) throw e;
      throw new RuntimeFailure(`${ep.name}: reading manifest ${shown}: ${reasonOf(e)}`, { cause: e });
    }
    const byDigest = ref.includes(':');
    const digest = digestOf(raw, byDigest ? ref : 'sha256:');
    const announced = res.headers.get('docker-content-digest');
    if (byDigest ? digest !== ref : !!announced?.startsWith('sha256:') && announced !== digest) {
      throw new RuntimeFailure(`${shown}: manifest digest mismatch: the content hashes to ${digest}`);
    }
    return { raw, digest, parsed: parseManifest(raw, res.headers.get('content-type'), shown) };
  }

  #denied(name: ImageName, line: string): NotFound {
    return new NotFound(
      `pull access denied for ${familiarRepo(name)}, repository does not exist or may require 'docker login': ${line}`,
    );
  }

  /**
   * Downloads a blob to `dest`, verified (see blobs.ts: `.partial`, Range resume, size and digest check,
   * fsync and rename). `endpoint` is ResolvedImage.endpoint; a mirror lacking the blob falls back to the registry.
   */
  async fetchBlob(name: ImageName, desc: Descriptor, dest: string, onProgress?: Progress, endpoint?: string): Promise<void> {
    if (endpoint && normaliseHost(endpoint) !== normaliseHost(name.registry)) {
      try {
        return await downloadBlob(this.#t, await this.#t.endpoint(endpoint, 0), name.path, desc, dest, onProgress);
      } catch (e) {
        if (!(e instanceof NotFound) && !(e instanceof RuntimeFailure)) throw e;
      }
    }
    await downloadBlob(this.#t, await this.#t.endpoint(name.registry), name.path, desc, dest, onProgress);
  }

  async blobExists(name: ImageName, digest: string): Promise<boolean> {
    checkDigest(digest);
    return blobHead(this.#t, await this.#t.endpoint(name.registry), [pullScope(name.path)], name.path, digest);
  }

  /**
   * Makes the blob in `file` present in `name`'s repository: 'exists' when it already was, 'mounted' when
   * the registry linked it from one of `mountFrom` (repository paths on the same registry), else 'pushed'.
   */
  async pushBlob(
    name: ImageName, desc: Descriptor, file: string, mountFrom?: string[], onProgress?: Progress,
  ): Promise<'exists' | 'mounted' | 'pushed'> {
    return pushBlob(this.#t, await this.#t.endpoint(name.registry), name.path, desc, file, mountFrom, onProgress);
  }

  /** Uploads a manifest under a tag or its digest; returns its digest. Its blobs must be pushed first. */
  async putManifest(name: ImageName, reference: string, mediaType: string, body: Buffer): Promise<string> {
    const byDigest = reference.includes(':');
    const digest = digestOf(body, byDigest ? reference : 'sha256:');
    if (byDigest && digest !== reference) {
      throw new InvalidArgument(`put manifest: the body hashes to ${digest}, not ${reference}`);
    }
    const ep = await this.#t.endpoint(name.registry);
    const res = await this.#t.request(ep, [pushScope(name.path)], 'PUT', `/v2/${name.path}/manifests/${reference}`, {
      headers: { 'content-type': mediaType }, body: () => Uint8Array.from(body),
    });
    if (res.status !== 201) throw await failure(res, `pushing manifest ${familiarRepo(name)}:${reference}`);
    await res.body?.cancel();
    return res.headers.get('docker-content-digest') ?? digest;
  }

  /**
   * Checks the credentials against the registry's /v2/ (a basic challenge answered, or a token obtained for
   * a bearer one), then stores them unless `store` is false: through the credential helper the auth file
   * names for the registry, else in the file. A registry asking for no auth accepts any, as docker's.
   */
  async login(registry: string, username: string, password: string, store = true): Promise<void> {
    const host = normaliseHost(registry);
    if (username === '' || username.includes(':')) throw new InvalidArgument(`invalid username: ${JSON.stringify(username)}`);
    this.#t.forget(host);
    const ep = await this.#t.endpoint(host);
    const creds = { username, password };
    if (ep.challenge) {
      let authorization = basic(creds);
      if (ep.challenge.scheme === 'bearer') {
        try {
          authorization = `Bearer ${await this.#t.token(ep, [], creds, false)}`;
        } catch (e) {
          if (e instanceof CredentialsRejected) throw new Unauthorized(`login to ${host} failed: ${e.message}`);
          throw e;
        }
      }
      const res = await this.#t.request(ep, [], 'GET', '/v2/', { authorization });
      if (!res.ok) throw new (res.status === 401 || res.status === 403 ? Unauthorized : RuntimeFailure)(`login to ${host} failed: ${await errorLine(res)}`);
      await res.body?.cancel();
    }
    if (store) await saveCredentials(this.authFile, host, creds);
    this.#t.forget(host);
  }

  /** Removes the registry's stored credentials (from its credential helper too); false when there were none. */
  logout(registry: string): Promise<boolean> {
    const host = normaliseHost(registry);
    this.#t.forget(host);
    return eraseCredentials(this.authFile, host);
  }
}
