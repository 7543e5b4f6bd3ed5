/**
 * One layer of a pull: downloaded and unpacked in one pass. The download writes the blob's file (kept for
 * push and save) and hashes it; the unpack reads the same file as it grows (src/image/growing-file.ts),
 * gunzips, hashes the tar and extracts it, on a worker thread, while the bytes are still arriving. Two
 * checks decide: the blob's digest (the download's) and the diff id (the unpack's); the unpacked dir is
 * renamed into place only after both, so a layer that fails either leaves nothing.
 *
 * The download never waits for the unpack (it is bounded by the network, the unpack by the disk and the
 * CPUs): each has its own limit of how many run at once, and a slow unpack reads what is already on disk.
 */
import type { Descriptor, RegistryClient } from '../registry/client.ts';
import type { ImageName } from '../registry/reference.ts';
import { trace } from '../sys/trace.ts';
import { GrowingFile } from './growing-file.ts';
import type { ProgressMessage } from './pull.ts';
import type { ImageStore } from './store.ts';
import type { UnpackWorkers } from './unpack-pool.ts';
import { checkRoom, type ImageBudget } from './unpack-limits.ts';

/** What every layer of one pull shares. */
export interface LayerPull {
  store: ImageStore;
  client: RegistryClient;
  name: ImageName;
  /** The host that answered the manifest (ResolvedImage.endpoint). */
  endpoint: string;
  budget: ImageBudget;
  workers: UnpackWorkers;
  downloads: <T>(fn: () => Promise<T>) => Promise<T>;
  unpacks: <T>(fn: () => Promise<T>) => Promise<T>;
  say: (m: ProgressMessage) => void;
  /** Blob digests this pull downloaded and layer ids it unpacked: what a failed pull removes. */
  fetched: string[];
  unpacked: string[];
  /** Checks a condition, saying of `what` what it refused (pull.ts). */
  refuseWith: (what: string, check: () => void) => void;
}

/** Download and unpack a layer not in the store, checked against its descriptor and `diffId`. */
export async function pullLayer(p: LayerPull, l: Descriptor, diffId: string, what: string): Promise<void> {
  const { store } = p;
  const id = l.digest.slice(7, 19);
  const path = store.blobs.path(l.digest);
  const growing = new GrowingFile(path, l.size);
  // Another pull of the same layer may be fetching it: wait for it rather than write the same partial file.
  const download = p.downloads(() => store.blobs.withFetchLock(l.digest, async () => {
    if (store.blobs.has(l.digest)) return false;
    p.refuseWith(what, () => checkRoom(store.blobs.dir, l.size));
    trace(`pull: ${id} download`);
    let last = 0;
    await p.client.fetchBlob(p.name, l, path, (current, total) => {
      growing.wrote(current);
      const now = Date.now();
      if (now - last < 100 && current < total) return;
      last = now;
      p.say({ id, status: 'Downloading', progressDetail: { current, total } });
    }, p.endpoint);
    trace(`pull: ${id} downloaded`);
    p.fetched.push(l.digest);
    return true;
  }));
  const verified = download.then((fetchedHere) => {
    // Fetched here or by another pull meanwhile, the blob is now whole at its path.
    growing.wrote(l.size);
    if (fetchedHere) {
      p.say({ id, status: 'Verifying Checksum' });
      p.say({ id, status: 'Download complete' });
    }
    p.say({ id, status: 'Extracting', progressDetail: { current: 0, total: l.size } });
  }, (e: unknown) => {
    growing.abort();
    throw e;
  });
  const unpack = (streamed: boolean) => p.unpacks(async () => {
    trace(`pull: ${id} unpack`);
    const via = streamed ? { growing: growing.share, verified, workers: p.workers } : { workers: p.workers };
    await store.layerFromBlob(l.digest, l.mediaType, diffId, what, p.budget, via);
    trace(`pull: ${id} unpacked`);
  });
  const [got, made] = await Promise.allSettled([verified, unpack(true)]);
  // A download's own failure says more than the unpack it starved.
  if (got.status === 'rejected') throw got.reason;
  if (made.status === 'rejected') {
    if (!growing.restarted) throw made.reason;
    // The download started its file over under the unpack (a registry that would not resume): the file is
    // whole now; unpack it as it is.
    await unpack(false);
  }
  p.unpacked.push(diffId.slice(7));
  store.repo.addBlobSource(l.digest, `${p.name.registry}/${p.name.path}`);
  p.say({ id, status: 'Pull complete' });
}
