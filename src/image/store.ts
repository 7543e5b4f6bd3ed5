/**
 * The image store. Three parts, each whole or absent:
 * - blobs (`<root>/blobs/sha256/…`): layer archives as they came, and image configs (an image's id is
 *   its config's digest);
 * - layer dirs (`<root>/layers/<diffid>/diff`, src/image/layers.ts), one per distinct content;
 * - rows in the state store: images (config, layer ids bottom first), tags, repo digests, layers.
 * An image row is written last, in one transaction, after every layer it names is on disk: a pull or
 * load killed midway leaves only unreferenced blobs and layers, which gc() reclaims. Work in progress is
 * protected from a concurrent gc by a lease file naming what it holds (`<root>/leases/`).
 */
import { nodeCrypto } from '../sys/builtins.ts';
import { createReadStream, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Conflict, InvalidArgument, NoSuchImage, NotFound } from '../errors.ts';
import { tx } from '../store/db.ts';
import { EventRepo } from '../store/events.ts';
import type { ImageConfigDoc, ImageRepo, ImageRow, LayerRow } from '../store/images.ts';
import { isAlive, selfIdentity } from '../sys/proc.ts';
import { BlobStore, sha256 } from './blobs.ts';
import { fileHead, sniffCompression } from './archive-format.ts';
import { applyChanges } from './changes.ts';
import type { GrowingFileShare } from './growing-file.ts';
import { LayerDirs, type UnpackVia } from './layers.ts';
import { chargeImage, DEFAULT_CAPS, imageBudget, type ImageBudget, type SizeCaps } from './unpack-limits.ts';
import { familiarName, parseReference } from '../registry/reference.ts';

import { DEFAULT_PATH } from '../runtime/spec/process-env.ts';

export const MEDIA = {
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerConfig: 'application/vnd.docker.container.image.v1+json',
  dockerLayerGzip: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociConfig: 'application/vnd.oci.image.config.v1+json',
  ociLayer: 'application/vnd.oci.image.layer.v1.tar',
  ociLayerGzip: 'application/vnd.oci.image.layer.v1.tar+gzip',
  ociLayerZstd: 'application/vnd.oci.image.layer.v1.tar+zstd',
} as const;

export type Compression = 'gzip' | 'zstd' | 'none';

/** A layer media type's compression. */
export function compressionOf(mediaType: string): Compression {
  if (/gzip$/.test(mediaType)) return 'gzip';
  if (/zstd$/.test(mediaType)) return 'zstd';
  return 'none';
}

/** Reclaimed by a garbage collection. */
export interface GcReport {
  layers: number;
  blobs: number;
  bytes: number;
}

/** What a pull, load or commit holds while it works: blobs and layers gc must not take. */
export interface Lease {
  hold(...digests: string[]): void;
  release(): void;
}

export class ImageStore {
  readonly root: string;
  readonly repo: ImageRepo;
  readonly blobs: BlobStore;
  readonly dirs: LayerDirs;
  /** The configured caps on what a pulled, loaded or imported image expands to; read when first needed. */
  readonly caps: () => SizeCaps;
  private eventLog?: EventRepo;

  constructor(root: string, repo: ImageRepo, caps: () => SizeCaps = () => DEFAULT_CAPS) {
    this.root = root;
    this.repo = repo;
    this.blobs = new BlobStore(root);
    this.dirs = new LayerDirs(root);
    this.caps = caps;
  }

  /** A new budget for one image's layers, shared by all its unpacks (src/image/unpack-limits.ts). */
  budget(): ImageBudget {
    return imageBudget(this.caps());
  }

  layerDir(id: string): string {
    return this.dirs.dir(id);
  }

  /**
   * Resolve a reference to an image: a tag (`busybox`, `busybox:1`), `name@sha256:…` (a repo digest), a full
   * id (`sha256:` optional) or a unique id prefix.
   */
  resolve(ref: string): ImageRow {
    const found = this.lookup(ref);
    if (!found) throw new NoSuchImage(ref);
    return found;
  }

  lookup(ref: string): ImageRow | undefined {
    const bare = ref.startsWith('sha256:') ? ref.slice(7) : ref;
    if (/^[0-9a-f]{64}$/.test(bare)) {
      const img = this.repo.get(bare);
      if (img) return img;
    }
    const at = ref.indexOf('@');
    if (at > 0) {
      try {
        return this.repo.byRepoDigest(`${parseReference(ref.slice(0, at)).repository}@${ref.slice(at + 1)}`);
      } catch {
        return undefined;
      }
    }
    let tagged: ImageRow | undefined;
    try {
      tagged = this.repo.byTag(familiarName(ref));
    } catch {
      /* not a valid reference; may still be an id prefix */
    }
    if (tagged) return tagged;
    if (/^[0-9a-f]{4,63}$/.test(bare)) {
      const found = this.repo.byIdPrefix(bare);
      if (found.length === 1) return found[0]!;
    }
    return undefined;
  }

  /** Lower dirs for overlay, top-most first (short links: see src/image/layers.ts). */
  lowerDirs(img: ImageRow): string[] {
    return img.layers.map((id) => this.dirs.lower(id, this.repo.layer(id)?.link ?? '')).reverse();
  }

  /** Read a regular file from the image's layers, top-most first; null when absent. */
  readFile(img: ImageRow, path: string): string | null {
    for (const id of [...img.layers].reverse()) {
      const p = join(this.dirs.dir(id), path);
      if (existsSync(p)) {
        try {
          return readFileSync(p, 'utf8');
        } catch {
          return null;
        }
      }
    }
    return null;
  }

  /** The config bytes of an image (its id is their digest). */
  configBytes(img: ImageRow): Buffer {
    const digest = `sha256:${img.id}`;
    if (this.blobs.has(digest)) return this.blobs.read(digest);
    // Images imported before configs were kept as blobs were identified by this serialisation.
    const bytes = Buffer.from(JSON.stringify(img.config));
    if (sha256(bytes) !== digest) throw new NotFound(`image ${img.id.slice(0, 12)}: its config is not in the store; pull or import it again`);
    return bytes;
  }

  /**
   * docker's history: the config's entries newest first, each non-empty one paired with its layer's
   * size; the newest entry carries the image id, older ones an id only when a local image ends there.
   */
  history(img: ImageRow): { id: string; created: string; createdBy: string; size: number; comment: string }[] {
    const entries = img.config.history?.length
      ? img.config.history
      : img.layers.map(() => ({ created: img.config.created, created_by: '', comment: '' }) as NonNullable<ImageConfigDoc['history']>[number]);
    let layer = 0;
    const out = entries.map((h) => {
      const size = h.empty_layer ? 0 : (this.repo.layer(img.layers[layer++] ?? '')?.size ?? 0);
      return { id: '', created: h.created, createdBy: h.created_by ?? '', size, comment: h.comment ?? '' };
    });
    out.reverse();
    if (out[0]) out[0].id = `sha256:${img.id}`;
    return out;
  }

  /** The layer rows of an image, bottom first. */
  layerRows(img: ImageRow): LayerRow[] {
    return img.layers.map((id) => {
      const l = this.repo.layer(id);
      if (!l) throw new NotFound(`image ${img.id.slice(0, 12)}: layer ${id.slice(0, 12)} is missing from the store`);
      return l;
    });
  }

  /** A layer present on disk with its row, by diff id. */
  hasLayer(diffId: string): boolean {
    const id = diffId.replace(/^sha256:/, '');
    return this.repo.layer(id) !== undefined && this.dirs.exists(id);
  }

  /**
   * Count a layer already in the store against an image's budget, with its recorded size (its file data:
   * a little less than its tar). InvalidArgument, said of `what`, past the image's cap.
   */
  chargeExisting(budget: ImageBudget, diffId: string, what: string): void {
    try {
      chargeImage(budget, this.repo.layer(diffId.replace(/^sha256:/, ''))?.size ?? 0);
    } catch (e) {
      throw new InvalidArgument(`${what}: ${(e as Error).message}`, { cause: e });
    }
  }

  /**
   * Unpack a stored blob as a layer (unless that content is already unpacked) and record it. Returns
   * the layer's row. With `budget`, the layer counts against it (see src/image/unpack-limits.ts). With
   * `via.growing`, the blob is still downloading: it is read as it is written (src/image/growing-file.ts),
   * and the layer is kept and recorded only once the download's check passed (`via.verified`).
   */
  async layerFromBlob(
    blobDigest: string, mediaType: string, expectedDiffId?: string, what?: string, budget?: ImageBudget,
    via: UnpackVia & { growing?: GrowingFileShare } = {},
  ): Promise<LayerRow> {
    what ??= `layer ${blobDigest.slice(7, 19)}`;
    if (expectedDiffId && this.hasLayer(expectedDiffId)) {
      await via.verified;
      if (budget) this.chargeExisting(budget, expectedDiffId, what);
      const row = this.repo.layer(expectedDiffId.slice(7))!;
      if (!row.blobDigest) this.repo.putLayer({ ...row, blobDigest, blobType: mediaType, blobSize: this.blobs.size(blobDigest) ?? 0 });
      return this.repo.layer(row.id)!;
    }
    if (!via.growing && !this.blobs.has(blobDigest)) throw new NotFound(`blob ${blobDigest} is not in the store`);
    const u = await this.dirs.unpack({ file: this.blobs.path(blobDigest), growing: via.growing }, expectedDiffId, what, budget, via);
    const row: LayerRow = {
      id: u.diffId.slice(7),
      size: u.size,
      blobDigest,
      blobType: mediaType,
      blobSize: this.blobs.size(blobDigest) ?? 0,
      link: u.link,
      createdAt: new Date().toISOString(),
    };
    this.repo.putLayer(row);
    return this.repo.layer(row.id)!;
  }

  /** Store a layer archive stream as a blob, then unpack it. The media type follows its compression. */
  async layerFromStream(input: AsyncIterable<Buffer>, lease: Lease, expectedDiffId?: string, what?: string, budget?: ImageBudget): Promise<LayerRow> {
    const { digest } = await this.blobs.write(input);
    lease.hold(digest);
    try {
      return await this.layerFromBlob(digest, mediaTypeForBlob(this.blobs.path(digest)), expectedDiffId, what, budget);
    } catch (e) {
      // An archive that does not unpack is not kept.
      if (!this.repo.layerByBlob(digest)) this.blobs.remove(digest);
      throw e;
    }
  }

  /**
   * Record an image whose layers are all present: its config bytes become a blob, its row is written with
   * the tag (moved onto it) and repo digest. Returns the image id.
   */
  addImage(configBytes: Buffer, opts: { tag?: string; repoDigest?: string; parent?: string } = {}): string {
    let doc: ImageConfigDoc;
    try {
      doc = JSON.parse(configBytes.toString('utf8')) as ImageConfigDoc;
    } catch (e) {
      throw new InvalidArgument(`image config is not JSON: ${(e as Error).message}`, { cause: e });
    }
    const diffIds = doc.rootfs?.diff_ids;
    if (!Array.isArray(diffIds)) throw new InvalidArgument('image config has no rootfs.diff_ids');
    doc.config ??= {};
    const digest = this.blobs.put(configBytes);
    const id = digest.slice(7);
    return tx(this.repo.db, () => {
      const layers = diffIds.map((d) => {
        const l = this.repo.layer(String(d).replace(/^sha256:/, ''));
        if (!l || !this.dirs.exists(l.id)) throw new NotFound(`layer ${d} is not in the store`);
        return l;
      });
      this.repo.put(
        {
          id,
          config: doc,
          layers: layers.map((l) => l.id),
          size: layers.reduce((n, l) => n + l.size, 0),
          createdAt: new Date().toISOString(),
          parent: opts.parent ?? '',
        },
        opts.tag ? familiarName(opts.tag) : undefined,
      );
      if (opts.repoDigest) this.repo.addRepoDigest(opts.repoDigest, id);
      return id;
    });
  }

  /** Import a rootfs tarball (plain, gzip or zstd) as a one-layer image, as `docker import` does. */
  async importTar(input: string | AsyncIterable<Buffer>, tag: string | undefined, changes: string[], message = ''): Promise<string> {
    const name = tag ? familiarName(tag) : undefined;
    const config = applyChanges({ Env: [DEFAULT_PATH], Cmd: null, Entrypoint: null, WorkingDir: '', User: '' }, changes);
    if (typeof input === 'string' && !statSync(input, { throwIfNoEntry: false })?.isFile()) {
      throw new InvalidArgument(`open ${input}: no such file`);
    }
    const lease = this.lease();
    try {
      const stream = typeof input === 'string' ? createReadStream(input, { highWaterMark: 1 << 20 }) : input;
      const layer = await this.layerFromStream(stream, lease, undefined, 'import', this.budget());
      lease.hold(`sha256:${layer.id}`);
      const now = new Date().toISOString();
      const doc: ImageConfigDoc = {
        architecture: 'amd64',
        os: 'linux',
        created: now,
        config,
        rootfs: { type: 'layers', diff_ids: [`sha256:${layer.id}`] },
        history: [{ created: now, created_by: 'berth import', comment: message || 'Imported from tarball' }],
      };
      const id = this.addImage(Buffer.from(JSON.stringify(doc)), { tag: name });
      this.emit('import', `sha256:${id}`, name ?? `sha256:${id}`);
      return id;
    } finally {
      lease.release();
    }
  }

  /** Record an image event (docker's actor: the image id, or the reference for pull and push). */
  emit(action: string, actor: string, name = actor): void {
    (this.eventLog ??= new EventRepo(this.repo.db)).record('image', action, actor, { name });
  }

  /** Point tag `name` at an image (moving it from any other). */
  tag(name: string, imageId: string): void {
    this.repo.tag(name, imageId);
    this.emit('tag', `sha256:${imageId}`, name);
  }

  /** Drop a tag; true when there was one. */
  untag(name: string, imageId: string): boolean {
    const had = this.repo.untag(name);
    if (had) this.emit('untag', `sha256:${imageId}`, name);
    return had;
  }

  /** Delete an image's row (its layers go at the next gc). */
  private deleteImage(imageId: string): void {
    this.repo.delete(imageId);
    this.emit('delete', `sha256:${imageId}`);
  }

  /**
   * Untag or delete an image, as `docker rmi`. Returns docker's report lines. A deleted image takes its
   * untagged parents (a build's step images, a commit's base) that nothing else uses, unless `noPrune`.
   */
  remove(ref: string, force: boolean, usedBy: (imageId: string) => number, noPrune = false): string[] {
    const img = this.resolve(ref);
    const out: string[] = [];
    let byTag = false;
    try {
      byTag = img.tags.includes(familiarName(ref)) && !/^(sha256:)?[0-9a-f]{12,64}$/.test(ref);
    } catch {
      byTag = false;
    }
    if (byTag && img.tags.length > 1) {
      this.untag(familiarName(ref), img.id);
      return [`Untagged: ${familiarName(ref)}`];
    }
    const users = usedBy(img.id);
    if (users > 0 && !force) {
      throw new Conflict(
        `conflict: unable to remove repository reference "${ref}" (must force) - image is being used by ${users} container(s)`,
      );
    }
    if (!byTag && img.tags.length > 1 && !force) {
      throw new Conflict(
        `conflict: unable to delete ${img.id.slice(0, 12)} (must be forced) - image is referenced in multiple repositories`,
      );
    }
    for (const t of img.tags) {
      this.untag(t, img.id);
      out.push(`Untagged: ${t}`);
    }
    for (const d of img.repoDigests) out.push(`Untagged: ${d}`);
    if (users > 0) return out; // forced: tags go, the image stays for its containers
    this.deleteImage(img.id);
    out.push(`Deleted: sha256:${img.id}`);
    if (!noPrune) {
      const children = (id: string) => this.repo.list().filter((i) => i.parent === id).length;
      for (let at = this.repo.get(img.parent); at; ) {
        if (at.tags.length > 0 || at.repoDigests.length > 0 || usedBy(at.id) > 0 || children(at.id) > 0) break;
        this.deleteImage(at.id);
        out.push(`Deleted: sha256:${at.id}`);
        at = this.repo.get(at.parent);
      }
    }
    this.gc();
    return out;
  }

  /** Delete these images (those still there that nothing uses), then collect garbage; the bytes reclaimed. */
  removeUnused(ids: Iterable<string>, usedBy: (imageId: string) => number): { deleted: string[]; reclaimed: number } {
    const deleted: string[] = [];
    for (const id of ids) {
      const img = this.repo.get(id);
      if (!img || img.tags.length > 0 || img.repoDigests.length > 0 || usedBy(id) > 0) continue;
      this.deleteImage(id);
      deleted.push(id);
    }
    return { deleted, reclaimed: this.gc().bytes };
  }

  /**
   * `image prune`: remove dangling images (with `all`, every image no container uses), then collect
   * garbage, which also reclaims what interrupted pulls left. Returns docker's report.
   */
  prune(all: boolean, usedBy: (imageId: string) => number, selected: (img: ImageRow) => boolean = () => true): { untagged: string[]; deleted: string[]; reclaimed: number } {
    const untagged: string[] = [];
    const deleted: string[] = [];
    let reclaimed = 0;
    const images = this.repo.list();
    // Without `all`, an untagged image that a kept image was made on (a build step, a commit's parent) is
    // not dangling: docker deletes a dangling image's untagged parents with it, and no others.
    const kept = new Set<string>();
    if (!all) {
      const byId = new Map(images.map((i) => [i.id, i]));
      for (const img of images) {
        if (img.tags.length === 0 && img.repoDigests.length === 0 && usedBy(img.id) === 0) continue;
        for (let at: ImageRow | undefined = img; at && !kept.has(at.id); at = byId.get(at.parent)) kept.add(at.id);
      }
    }
    for (const img of images) {
      if ((!all && kept.has(img.id)) || usedBy(img.id) > 0 || !selected(img)) continue;
      for (const t of img.tags) {
        this.untag(t, img.id);
        untagged.push(t);
      }
      untagged.push(...img.repoDigests);
      this.deleteImage(img.id);
      deleted.push(`sha256:${img.id}`);
    }
    reclaimed += this.gc().bytes;
    return { untagged, deleted, reclaimed };
  }

  // ---- leases and garbage collection ----

  /** Start a lease: a file in `<root>/leases` naming the digests held, removed on release. */
  lease(): Lease {
    const me = selfIdentity();
    const dir = join(this.root, 'leases');
    mkdirSync(dir, { recursive: true });
    const file = join(dir, `${me.pid}-${me.start}-${nodeCrypto().randomBytes(4).toString('hex')}`);
    const held = new Set<string>();
    writeFileSync(file, '');
    return {
      hold(...digests: string[]) {
        for (const d of digests) held.add(d);
        writeFileSync(file, [...held].join('\n'));
      },
      release() {
        rmSync(file, { force: true });
      },
    };
  }

  /** Digests held by live leases; leases of dead processes are removed. */
  private leased(): Set<string> {
    const dir = join(this.root, 'leases');
    const out = new Set<string>();
    let names: string[] = [];
    try {
      names = readdirSync(dir);
    } catch {
      return out;
    }
    for (const n of names) {
      const m = /^(\d+)-(\d+)-/.exec(n);
      if (!m || !isAlive(Number(m[1]), Number(m[2]))) {
        rmSync(join(dir, n), { force: true });
        continue;
      }
      try {
        for (const d of readFileSync(join(dir, n), 'utf8').split('\n')) if (d) out.add(d);
      } catch {
        /* released meanwhile */
      }
    }
    return out;
  }

  /**
   * Remove what a refused pull or load made: these blobs and layers (by id), unless an image uses them or
   * a live lease (another pull's or load's) holds them, as gc() decides. Release the caller's lease first.
   */
  discard(blobs: string[], layerIds: string[]): void {
    const leased = this.leased();
    const used = new Set(this.repo.list().flatMap((img) => img.layers));
    for (const id of layerIds) {
      const row = this.repo.layer(id);
      if (used.has(id) || leased.has(`sha256:${id}`) || (row?.blobDigest && leased.has(row.blobDigest))) continue;
      this.dirs.remove(id, row?.link ?? '');
      if (row) this.repo.deleteLayer(id);
    }
    for (const d of blobs) {
      if (leased.has(d) || this.repo.get(d.slice(7)) || this.repo.layerByBlob(d)) continue;
      this.blobs.remove(d);
    }
  }

  /**
   * Remove what no image refers to and no live lease holds: layer rows and dirs, blobs, partial fetches,
   * temp dirs of dead unpacks, dangling links. Leases are read before images: a pull that commits its
   * image and drops its lease in between is seen by the image read.
   */
  gc(): GcReport {
    const leased = this.leased();
    const images = this.repo.list();
    const report: GcReport = { layers: 0, blobs: 0, bytes: 0 };
    const usedLayers = new Set<string>();
    const usedBlobs = new Set<string>(leased);
    for (const img of images) {
      usedBlobs.add(`sha256:${img.id}`);
      for (const l of img.layers) usedLayers.add(l);
    }
    for (const l of this.repo.layers()) {
      if (usedLayers.has(l.id) || leased.has(`sha256:${l.id}`) || (l.blobDigest && leased.has(l.blobDigest))) {
        if (l.blobDigest) usedBlobs.add(l.blobDigest);
        continue;
      }
      report.bytes += l.size;
      this.dirs.remove(l.id, l.link);
      this.repo.deleteLayer(l.id);
      report.layers++;
    }
    const rows = new Set(this.repo.layers().map((l) => l.id));
    for (const id of this.dirs.listDirs()) {
      if (!rows.has(id) && !leased.has(`sha256:${id}`)) {
        this.dirs.remove(id, '');
        report.layers++;
      }
    }
    for (const d of this.blobs.list()) {
      if (usedBlobs.has(d)) continue;
      report.bytes += this.blobs.size(d) ?? 0;
      this.blobs.remove(d);
      report.blobs++;
    }
    for (const name of this.blobs.leftovers()) {
      const partial = /^([0-9a-f]{64})\.partial$/.exec(name);
      const tmp = /^\.tmp-(\d+)-(\d+)-/.exec(name);
      if (partial && leased.has(`sha256:${partial[1]}`)) continue;
      if (tmp && isAlive(Number(tmp[1]), Number(tmp[2]))) continue;
      if (/^[0-9a-f]{64}\.lock$/.test(name) && lockHeld(join(this.blobs.dir, name))) continue;
      const p = join(this.blobs.dir, name);
      report.bytes += statSync(p, { throwIfNoEntry: false })?.size ?? 0;
      rmSync(p, { recursive: true, force: true });
    }
    this.dirs.sweepLeftovers();
    return report;
  }
}

/** The OCI media type for a stored layer blob, by its first bytes. */
export function mediaTypeForBlob(path: string): string {
  const c = sniffCompression(fileHead(path, 4));
  return c === 'gzip' ? MEDIA.ociLayerGzip : c === 'zstd' ? MEDIA.ociLayerZstd : MEDIA.ociLayer;
}

/** A fetch lock whose holder is alive (or has not yet written its name). */
function lockHeld(path: string): boolean {
  try {
    const text = readFileSync(path, 'utf8');
    if (!text) return true;
    const [pid, start] = text.split(' ').map(Number);
    return isAlive(pid!, start!);
  } catch {
    return false;
  }
}
