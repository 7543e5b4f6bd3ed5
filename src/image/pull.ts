/**
 * `pull`: resolve a reference at its registry (a mirror first, for docker.io), fetch the config, fetch the
 * layers not already unpacked — several at once, each unpacked while it downloads (pull-layer.ts) — and record the
 * image. Progress is reported as docker's JSON messages (`{id, status, progressDetail}`), which the CLI
 * renders as bars or lines and the API server forwards as they are.
 *
 * Nothing is recorded until every layer is on disk. A pull that fails (a registry that cuts or lies, a
 * hostile layer, one past the size caps of src/image/unpack-limits.ts, a full disk) leaves nothing: the
 * blobs this pull fetched and the layers it unpacked are removed. Only a pull killed midway leaves blobs,
 * partial fetches and unpacked layers, which the next pull reuses (a partial fetch resumes) and gc reclaims.
 */
import { availableParallelism } from 'node:os';
import { InvalidArgument, NoSpace } from '../errors.ts';
import { RegistryClient, type Descriptor, type RegistryOptions } from '../registry/client.ts';
import type { ImageConfigDoc } from '../store/images.ts';
import { canonicalString, familiarRepo, parseImageName, type ImageName } from '../registry/reference.ts';
import type { ImageStore } from './store.ts';
import { pullLayer, type LayerPull } from './pull-layer.ts';
import { archiveBound, checkArchiveSize } from './unpack-limits.ts';
import { unpackWorkers } from './unpack-pool.ts';
import { exactSize, roughSize } from '../units.ts';
import { trace } from '../sys/trace.ts';

export interface ProgressMessage {
  id?: string;
  status: string;
  progressDetail?: { current?: number; total?: number };
}

export interface PullOptions {
  /** `os/arch[/variant]`; default linux/amd64. */
  platform?: string;
  registry?: RegistryOptions;
  onProgress?: (m: ProgressMessage) => void;
  /** Layers fetched at once (default 3, as docker). */
  parallel?: number;
}

export interface PullResult {
  id: string;
  /** `docker.io/library/busybox:latest` — what docker prints last. */
  canonical: string;
  /** The manifest (or index) digest the image was pulled by. */
  digest: string;
  upToDate: boolean;
}

const CONFIG_MAX = 4 << 20;

export function parsePlatform(p: string | undefined): { os: string; architecture: string; variant?: string } {
  if (!p) return { os: 'linux', architecture: 'amd64' };
  const [os, architecture, variant] = p.split('/');
  if (!os || !architecture || p.split('/').length > 3) {
    throw new InvalidArgument(`invalid platform "${p}": expected os/arch[/variant], e.g. linux/amd64`);
  }
  return variant ? { os, architecture, variant } : { os, architecture };
}

export async function pullImage(store: ImageStore, ref: string, opts: PullOptions = {}): Promise<PullResult> {
  const name = parseImageName(ref);
  if (!name.tag && !name.digest) name.tag = 'latest';
  const platform = parsePlatform(opts.platform);
  const say = opts.onProgress ?? (() => {});
  const client = new RegistryClient(opts.registry);
  const resolved = await client.resolve(name, platform);
  trace('pull: manifest');
  const repo = familiarRepo(name);
  const pulledBy = resolved.indexDigest ?? resolved.digest;
  const tag = name.tag ? `${repo}:${name.tag}` : undefined;
  const repoDigest = `${repo}@${pulledBy}`;
  say({ id: name.tag ?? name.digest, status: `Pulling from ${name.path}` });

  const { config: configDesc, layers } = resolved.manifest;
  const done = (upToDate: boolean, id: string): PullResult => {
    say({ status: `Digest: ${pulledBy}` });
    const pulled = name.digest && !name.tag ? `${repo}@${name.digest}` : tag!;
    say({ status: `Status: ${upToDate ? 'Image is up to date' : 'Downloaded newer image'} for ${pulled}` });
    store.emit('pull', pulled);
    return { id, canonical: canonicalString(name), digest: pulledBy, upToDate };
  };
  const existing = store.repo.get(configDesc.digest.slice(7));
  if (existing && existing.layers.every((l) => store.hasLayer(`sha256:${l}`))) {
    const wasTagged = !tag || existing.tags.includes(tag);
    store.addImage(store.configBytes(existing), { tag, repoDigest });
    return done(wasTagged, existing.id);
  }

  // The config is read into memory to be parsed: bounded as a manifest is (containers/image: 4 MiB too).
  if (configDesc.size > CONFIG_MAX) {
    throw new InvalidArgument(`${ref}: image config of ${configDesc.size} bytes is too big (the limit is ${CONFIG_MAX})`);
  }
  const short = (d: Descriptor) => d.digest.slice(7, 19);
  // The descriptors' sizes already refuse some images too large, before anything is fetched: a download
  // is held to its descriptor's size, and a compressed archive is never much larger than the tar it holds.
  const budget = store.budget();
  for (const l of layers) refuseWith(`${ref}: layer ${short(l)}`, () => checkArchiveSize(l.size, budget));
  const archives = layers.reduce((n, l) => n + l.size, 0);
  if (archives > archiveBound(budget.maxImageSize)) {
    throw new InvalidArgument(`${ref}: its layers' archives alone are ${roughSize(archives)}, more than the ${exactSize(budget.maxImageSize)} an image may expand to (max-image-size)`);
  }

  const lease = store.lease();
  store.blobs.ensureDir();
  const fetched: string[] = [];
  const unpacked: string[] = [];
  // Threads for the unpacks start now, while the config downloads, rather than when each layer's first
  // bytes arrive (src/image/unpack-pool.ts).
  const workers = unpackWorkers();
  workers.warmFor(layers.map((l) => l.size), Math.max(opts.parallel ?? 3, availableParallelism()));
  try {
    lease.hold(configDesc.digest, ...layers.map((l) => l.digest));
    await store.blobs.withFetchLock(configDesc.digest, async () => {
      if (store.blobs.has(configDesc.digest)) return;
      await client.fetchBlob(name, configDesc, store.blobs.path(configDesc.digest), undefined, resolved.endpoint);
      fetched.push(configDesc.digest);
    });
    trace('pull: config');
    const configBytes = store.blobs.read(configDesc.digest);
    const config = parseConfig(configBytes);
    const diffIds = config.rootfs.diff_ids;
    if (diffIds.length !== layers.length) {
      throw new InvalidArgument(`${ref}: the manifest has ${layers.length} layers but the config lists ${diffIds.length}`);
    }
    lease.hold(...diffIds);
    for (const [i, l] of layers.entries()) {
      say({ id: short(l), status: store.hasLayer(diffIds[i]!) ? 'Already exists' : 'Pulling fs layer' });
    }
    // Two limits: downloads (network) and unpacks (CPU and disk, on worker threads); a layer's download
    // slot frees as soon as its bytes are in, so a long unpack never holds up a fetch (pull-layer.ts).
    const shared: LayerPull = {
      store, client, name, endpoint: resolved.endpoint, budget, workers, say, fetched, unpacked, refuseWith,
      downloads: limiter(opts.parallel ?? 3),
      unpacks: limiter(Math.max(opts.parallel ?? 3, availableParallelism())),
    };
    await eachLimited(layers.map((l, i) => [l, i] as const), layers.length, async ([l, i]) => {
      const diffId = diffIds[i]!;
      const what = `${ref}: layer ${short(l)}`;
      if (store.hasLayer(diffId)) return store.chargeExisting(budget, diffId, what);
      if (!/tar/.test(l.mediaType)) throw new InvalidArgument(`${ref}: layer ${short(l)} has unsupported media type ${l.mediaType}`);
      await pullLayer(shared, l, diffId, what);
    });
    const id = store.addImage(configBytes, { tag, repoDigest });
    trace('pull: recorded');
    return done(false, id);
  } catch (e) {
    // A failed pull leaves the store as it found it: refused content, an image the disk had no room for
    // and a registry that failed midway alike (what other images or pulls use stays).
    lease.release();
    store.discard(fetched, unpacked);
    throw e;
  } finally {
    lease.release();
    workers.close();
  }
}

/** Run check, saying what it refused (or had no room for) is `what`. */
function refuseWith(what: string, check: () => void): void {
  try {
    check();
  } catch (e) {
    if (e instanceof InvalidArgument) throw new InvalidArgument(`${what}: ${e.message}`, { cause: e });
    if (e instanceof NoSpace) throw new NoSpace(`${what}: ${e.message}`, { cause: e });
    throw e;
  }
}

function parseConfig(bytes: Buffer): ImageConfigDoc {
  let doc: ImageConfigDoc;
  try {
    doc = JSON.parse(bytes.toString('utf8')) as ImageConfigDoc;
  } catch (e) {
    throw new InvalidArgument(`image config is not JSON: ${(e as Error).message}`, { cause: e });
  }
  if (!Array.isArray(doc.rootfs?.diff_ids)) throw new InvalidArgument('image config has no rootfs.diff_ids');
  return doc;
}

/** A counting semaphore: `run(fn)` starts fn when fewer than `n` are running. */
export function limiter(n: number): <T>(fn: () => Promise<T>) => Promise<T> {
  let active = 0;
  const waiting: (() => void)[] = [];
  return async (fn) => {
    if (active >= n) await new Promise<void>((r) => waiting.push(r));
    active++;
    try {
      return await fn();
    } finally {
      active--;
      waiting.shift()?.();
    }
  };
}

/** Run fn over items with at most `limit` at once; the first failure is thrown after the rest settle. */
export async function eachLimited<T>(items: readonly T[], limit: number, fn: (t: T) => Promise<void>): Promise<void> {
  let next = 0;
  let failure: unknown;
  const worker = async () => {
    while (next < items.length && failure === undefined) {
      const t = items[next++]!;
      try {
        await fn(t);
      } catch (e) {
        failure ??= e;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  if (failure !== undefined) throw failure;
}

export type { ImageName };
