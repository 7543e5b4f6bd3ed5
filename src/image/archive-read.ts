/**
 * Reading an image archive (`berth load`): a docker-archive through its manifest.json (whatever paths it
 * names: classic `<id>/layer.tar`, skopeo's `<hex>.tar`, docker 25+'s `blobs/sha256/<hex>`), else an OCI
 * image layout through its index.json. An archive that is both (docker 25+'s) is read as a
 * docker-archive, as docker does: manifest.json carries the tags in docker's own form.
 *
 * In an OCI layout, nested indexes are followed and narrowed to this host's platform (linux/amd64 here);
 * a tag comes from containerd's full-name annotation, else from an OCI ref-name that is a whole reference.
 * Several index entries for one manifest (one per tag, as docker writes) make one image with several
 * tags. Every blob is checked against its name while spooled (archive-spool.ts) and against the size its
 * descriptor gives here; an uncompressed layer's digest is its diff id and is checked against the config.
 */
import { InvalidArgument } from '../errors.ts';
import {
  MEDIA_DOCKER_LIST, MEDIA_DOCKER_MANIFEST, MEDIA_OCI_INDEX, MEDIA_OCI_MANIFEST, annotatedName, blobPath,
  hostPlatform, isDigest, isLayerMedia, sha256, tagNames, type Compression, type Platform,
} from './archive-format.ts';
import { invalid, spoolArchive, type Member, type Spool, type SpoolLimits } from './archive-spool.ts';

/** One image read from an archive. */
export interface LoadedImage {
  /** The config JSON as the archive holds it. */
  config: Buffer;
  /** `sha256:` of `config`: the image id. */
  configDigest: string;
  /** Bottom layer first. */
  layers: LoadedLayer[];
  /** Familiar tagged references (`busybox:latest`); empty for an untagged image. */
  repoTags: string[];
}

export interface LoadedLayer {
  /** The layer's file, extracted into the caller's workDir; possibly gzip or zstd compressed. */
  file: string;
  /**
   * `sha256:` of the uncompressed tar, when the archive holds it uncompressed (it was hashed while being
   * extracted and checked against the config's rootfs.diff_ids). Undefined for a compressed layer: the
   * caller computes it while decompressing and checks it against the config.
   */
  diffId?: string;
  /** `sha256:` and byte size of `file`, and its compression as sniffed from its first bytes. */
  digest: string;
  size: number;
  compressed: Compression;
}

/** Indexes within indexes: real ones nest two deep (index.json → multi-platform index → manifest). */
const MAX_DEPTH = 8;

interface Descriptor {
  mediaType?: string;
  digest: string;
  size: number;
  platform?: Partial<Platform>;
  annotations?: unknown;
  urls?: unknown;
}

interface ManifestItem {
  Config: string;
  RepoTags?: string[] | null;
  Layers: string[];
}

/**
 * The images in `input`, a possibly gzip- or zstd-compressed tar, in the order the archive lists them.
 * Every regular file of the archive is extracted into `workDir` (an empty directory the caller owns and
 * removes); each layer's `file` is one of them. Throws InvalidArgument `invalid archive: …` for anything
 * that is not a readable docker-archive or OCI layout, or whose content does not match its digests (or
 * with `limits`, a member too large for a layer: archive-spool.ts).
 */
export async function readImageArchive(input: AsyncIterable<Buffer>, workDir: string, limits?: SpoolLimits): Promise<LoadedImage[]> {
  const spool = await spoolArchive(input, workDir, limits);
  if (spool.find('manifest.json')) return readDockerArchive(spool);
  if (spool.find('index.json')) return readOciLayout(spool);
  const paths = spool.paths();
  if (paths.includes('repositories') || paths.some((p) => /^[a-f0-9]{64}\/json$/.test(p))) {
    throw invalid('this is a docker archive from before docker 1.10 (no manifest.json), which is not supported');
  }
  if (paths.length === 0) throw invalid('the tar archive holds no files');
  throw invalid('neither a docker archive (no manifest.json) nor an OCI image layout (no index.json)');
}

/** Images by a key (config or manifest digest); a second entry for a key adds its tags to the first. */
class Images {
  readonly #byKey = new Map<string, LoadedImage>();
  has(key: string): boolean {
    return this.#byKey.has(key);
  }
  add(key: string, image: LoadedImage): void {
    if (!this.#byKey.has(key)) this.#byKey.set(key, { ...image, repoTags: [] });
    this.tag(key, image.repoTags);
  }
  tag(key: string, tags: string[]): void {
    const image = this.#byKey.get(key)!;
    for (const t of tags) if (!image.repoTags.includes(t)) image.repoTags.push(t);
  }
  list(): LoadedImage[] {
    return [...this.#byKey.values()];
  }
}

// ---------------------------------------------------------------------------------------------- docker-archive

async function readDockerArchive(spool: Spool): Promise<LoadedImage[]> {
  const items = await spool.json(spool.need('manifest.json', 'the archive'));
  if (!Array.isArray(items) || items.length === 0) throw invalid('manifest.json lists no images');
  const images = new Images();
  for (const [i, item] of items.entries()) {
    const where = `manifest.json entry ${i + 1}`;
    if (!isManifestItem(item)) throw invalid(`${where} is malformed (it needs Config and Layers)`);
    const member = spool.need(item.Config, where);
    const hex = /(?:^|\/)([a-f0-9]{64})\.json$/.exec(member.path)?.[1];
    if (hex && member.digest !== `sha256:${hex}`) throw invalid(`config ${member.path} does not match its digest`);
    const config = await spool.bytes(member);
    const diffIds = diffIdsOf(config, where, item.Layers.length);
    const layers = item.Layers.map((p, k) => loadedLayer(spool.need(p, where), diffIds[k]!, where));
    const repoTags = (item.RepoTags ?? []).map((t) => familiarTag(t, where));
    images.add(member.digest, { config, configDigest: member.digest, layers, repoTags });
  }
  return images.list();
}

function isManifestItem(v: unknown): v is ManifestItem {
  const item = v as Partial<ManifestItem> | null;
  const strings = (a: unknown) => Array.isArray(a) && a.every((s) => typeof s === 'string');
  return typeof item === 'object' && item !== null && typeof item.Config === 'string' && strings(item.Layers) &&
    (item.RepoTags == null || strings(item.RepoTags));
}

function familiarTag(ref: string, where: string): string {
  try {
    return tagNames(ref).familiar;
  } catch (e) {
    if (e instanceof InvalidArgument) throw invalid(`${where} has an invalid tag ${JSON.stringify(ref)}`, e);
    throw e;
  }
}

// ---------------------------------------------------------------------------------------------- OCI layout

async function readOciLayout(spool: Spool): Promise<LoadedImage[]> {
  const layout = spool.find('oci-layout');
  const version = layout && ((await spool.json(layout)) as { imageLayoutVersion?: unknown } | null)?.imageLayoutVersion;
  if (layout && (typeof version !== 'string' || !version.startsWith('1.'))) {
    throw invalid(`oci-layout has image layout version ${JSON.stringify(version)}; berth reads 1.x`);
  }
  const platform = hostPlatform();
  const images = new Images();
  const index = await spool.json(spool.need('index.json', 'the archive'));
  for (const d of descriptorsOf(index, 'index.json')) {
    if (!matches(d.platform, platform)) continue;
    const manifest = await manifestUnder(spool, d, platform, 0);
    if (!manifest) continue;
    if (!images.has(manifest.digest)) images.add(manifest.digest, await imageOf(spool, manifest));
    const name = annotatedName(d.annotations);
    if (name) images.tag(manifest.digest, [name]);
  }
  const found = images.list();
  if (found.length === 0) throw invalid(`index.json lists no image for ${platform.os}/${platform.architecture}`);
  return found;
}

/** `d` if it is an image manifest; for an index, the first manifest below it for `platform`. */
async function manifestUnder(
  spool: Spool, d: Descriptor, platform: Platform, depth: number,
): Promise<Descriptor | undefined> {
  const kind = await kindOf(spool, d);
  if (kind === 'manifest') return d;
  if (kind !== 'index') return undefined;
  if (depth >= MAX_DEPTH) throw invalid(`image indexes nest more than ${MAX_DEPTH} deep`);
  const index = await spool.json(blob(spool, d, 'an index'));
  for (const e of descriptorsOf(index, `index ${d.digest}`)) {
    if (!matches(e.platform, platform)) continue;
    const manifest = await manifestUnder(spool, e, platform, depth + 1);
    if (manifest) return manifest;
  }
  return undefined;
}

/** What a descriptor points at, by its media type, or by the blob's shape when it gives none. */
async function kindOf(spool: Spool, d: Descriptor): Promise<'index' | 'manifest' | undefined> {
  if (d.mediaType === MEDIA_OCI_INDEX || d.mediaType === MEDIA_DOCKER_LIST) return 'index';
  if (d.mediaType === MEDIA_OCI_MANIFEST || d.mediaType === MEDIA_DOCKER_MANIFEST) return 'manifest';
  if (d.mediaType !== undefined) return undefined;
  const doc = (await spool.json(blob(spool, d, 'index.json'))) as Record<string, unknown> | null;
  if (Array.isArray(doc?.manifests)) return 'index';
  return Array.isArray(doc?.layers) ? 'manifest' : undefined;
}

async function imageOf(spool: Spool, d: Descriptor): Promise<LoadedImage> {
  const where = `manifest ${d.digest}`;
  const manifest = (await spool.json(blob(spool, d, 'index.json'))) as { config?: unknown; layers?: unknown } | null;
  if (!Array.isArray(manifest?.layers)) throw invalid(`${where} is not an image manifest (it has no layers list)`);
  const layerDescriptors: unknown[] = manifest.layers;
  const config = await spool.bytes(blob(spool, descriptor(manifest.config, `${where}: config`), where));
  const diffIds = diffIdsOf(config, where, layerDescriptors.length);
  const layers = layerDescriptors.map((v, k) => {
    const l = descriptor(v, `${where}: layer ${k + 1}`);
    if (l.mediaType !== undefined && !isLayerMedia(l.mediaType)) {
      throw invalid(`${where}: layer ${k + 1} has media type ${l.mediaType}, not an image layer's`);
    }
    const foreign = Array.isArray(l.urls) ? ', a foreign layer the archive leaves out' : '';
    return loadedLayer(blob(spool, l, `layer ${k + 1} of ${where}${foreign}`), diffIds[k]!, where);
  });
  return { config, configDigest: sha256(config), layers, repoTags: [] };
}

function descriptorsOf(index: unknown, where: string): Descriptor[] {
  const list = (index as { manifests?: unknown } | null)?.manifests;
  if (!Array.isArray(list)) throw invalid(`${where} has no manifests list`);
  return list.map((v, i) => descriptor(v, `${where}: entry ${i + 1}`));
}

function descriptor(v: unknown, where: string): Descriptor {
  const d = v as Partial<Descriptor> | null;
  if (typeof d !== 'object' || d === null || !isDigest(d.digest) || !Number.isSafeInteger(d.size) || d.size! < 0 ||
    (d.mediaType !== undefined && typeof d.mediaType !== 'string')) {
    throw invalid(`${where} is not a valid descriptor`);
  }
  return d as Descriptor;
}

/** The spooled blob `d` points at, checked against its size. */
function blob(spool: Spool, d: Descriptor, wantedBy: string): Member {
  const m = spool.find(blobPath(d.digest));
  if (!m) throw invalid(`missing blob ${d.digest} (${wantedBy})`);
  if (m.size !== d.size) throw invalid(`blob ${d.digest} is ${m.size} bytes, but its descriptor says ${d.size}`);
  return m;
}

/** No platform, or this host's OS and architecture. */
const matches = (p: Partial<Platform> | undefined, host: Platform) =>
  !p || ((!p.os || p.os === host.os) && (!p.architecture || p.architecture === host.architecture));

// ---------------------------------------------------------------------------------------------- shared

/** The config's rootfs.diff_ids, which must list one per layer. */
function diffIdsOf(config: Buffer, where: string, layers: number): string[] {
  let ids: unknown;
  try {
    ids = (JSON.parse(config.toString('utf8')) as { rootfs?: { diff_ids?: unknown } } | null)?.rootfs?.diff_ids;
  } catch (e) {
    throw invalid(`${where}: the image config is not valid JSON`, e);
  }
  if (!Array.isArray(ids) || !ids.every(isDigest)) {
    throw invalid(`${where}: the image config has no valid rootfs.diff_ids`);
  }
  if (ids.length !== layers) {
    throw invalid(`${where}: ${layers} layers, but the image config lists ${ids.length} diff ids`);
  }
  return ids;
}

/** A layer file; an uncompressed one is its own diff id, which must be the config's. */
function loadedLayer(m: Member, diffId: string, where: string): LoadedLayer {
  const layer: LoadedLayer = { file: m.file, digest: m.digest, size: m.size, compressed: m.compressed };
  if (m.compressed !== 'none') return layer;
  if (m.digest !== diffId) {
    throw invalid(`${where}: layer ${m.path} is ${m.digest}, but the image config says ${diffId}`);
  }
  return { ...layer, diffId };
}
