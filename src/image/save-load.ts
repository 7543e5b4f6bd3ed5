/**
 * `save` and `load` between the store and image archives (src/image/archive.ts). Saving streams the
 * stored blobs; loading spools the archive into a work dir under the root, moves each layer file into
 * the blob store (a rename: same file system) and unpacks it like a pulled layer, checked against the
 * config's diff ids. Images are recorded only when all their layers are in, as with pull, and held to the
 * same caps (src/image/unpack-limits.ts); a refused image leaves nothing of it behind.
 */
import { mkdirSync, mkdtempSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { InvalidArgument, NoSpace, NotFound } from '../errors.ts';
import { readImageArchive, writeImageArchive, type ArchiveFormat, type ArchiveImage } from './archive.ts';
import { familiarName } from '../registry/reference.ts';
import { compressionOf, mediaTypeForBlob, type ImageStore } from './store.ts';
import { DiskWatch } from './unpack-limits.ts';

/** The archive stream of the given images (each a tag, id or digest reference). */
export function saveImages(store: ImageStore, refs: string[], format: ArchiveFormat): AsyncIterable<Buffer> {
  const images: ArchiveImage[] = [];
  for (const ref of refs) {
    const img = store.resolve(ref);
    let tag: string | undefined;
    try {
      tag = img.tags.includes(familiarName(ref)) ? familiarName(ref) : undefined;
    } catch {
      tag = undefined;
    }
    const seen = images.find((i) => i.configDigest === `sha256:${img.id}`);
    if (seen) {
      if (tag && !seen.repoTags.includes(tag)) seen.repoTags.push(tag);
      continue;
    }
    store.emit('save', `sha256:${img.id}`, tag ?? `sha256:${img.id}`);
    images.push({
      configDigest: `sha256:${img.id}`,
      config: store.configBytes(img),
      repoTags: tag ? [tag] : [],
      layers: store.layerRows(img).map((l) => {
        if (!l.blobDigest || !store.blobs.has(l.blobDigest)) {
          throw new NotFound(`layer ${l.id.slice(0, 12)} of ${ref} has no archive in the store (imported by an older Berth); import or pull the image again`);
        }
        return {
          diffId: `sha256:${l.id}`,
          open: () => store.blobs.open(l.blobDigest),
          compressed: compressionOf(l.blobType),
          digest: l.blobDigest,
          size: l.blobSize,
        };
      }),
    });
  }
  return writeImageArchive(images, format);
}

/** Load every image of an archive stream; returns docker's report lines. */
export async function loadImages(store: ImageStore, input: AsyncIterable<Buffer>): Promise<string[]> {
  mkdirSync(join(store.root, 'tmp'), { recursive: true });
  const work = mkdtempSync(join(store.root, 'tmp', 'load-'));
  const lease = store.lease();
  // What this load put in the store, removed again if an image is refused.
  const moved: string[] = [];
  const unpacked: string[] = [];
  try {
    const { maxLayerSize } = store.caps();
    const loaded = await readImageArchive(input, work, { maxLayerSize, disk: new DiskWatch(work) });
    const out: string[] = [];
    for (const img of loaded) {
      const diffIds = (JSON.parse(img.config.toString('utf8')) as { rootfs?: { diff_ids?: string[] } }).rootfs?.diff_ids ?? [];
      const name = img.repoTags[0] ?? `image ${img.configDigest.slice(7, 19)}`;
      const budget = store.budget();
      for (const [i, l] of img.layers.entries()) {
        lease.hold(l.digest);
        if (!store.blobs.has(l.digest)) {
          renameSync(l.file, store.blobs.path(l.digest));
          moved.push(l.digest);
        }
        const had = diffIds[i] !== undefined && store.hasLayer(diffIds[i]);
        const row = await store.layerFromBlob(l.digest, mediaTypeForBlob(store.blobs.path(l.digest)), diffIds[i], `${name}: layer ${l.digest.slice(7, 19)}`, budget);
        if (!had) unpacked.push(row.id);
      }
      const [first, ...rest] = img.repoTags;
      const id = store.addImage(img.config, { tag: first });
      for (const t of rest) store.tag(familiarName(t), id);
      store.emit('load', `sha256:${id}`, first ? familiarName(first) : `sha256:${id}`);
      if (img.repoTags.length === 0) out.push(`Loaded image ID: sha256:${id}`);
      for (const t of img.repoTags) out.push(`Loaded image: ${familiarName(t)}`);
    }
    return out;
  } catch (e) {
    // As for a pull: a refused image (or one the disk had no room for) leaves no blob or layer behind.
    if (e instanceof InvalidArgument || e instanceof NoSpace) {
      lease.release();
      store.discard(moved, unpacked);
    }
    throw e;
  } finally {
    lease.release();
    rmSync(work, { recursive: true, force: true });
  }
}
