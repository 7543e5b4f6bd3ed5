/**
 * Writing images as one tar stream (`berth save`), in the layout docker 25+ writes (format 'docker') or
 * as an OCI image layout (format 'oci'); see archive.ts.
 *
 * The docker layout is chosen over the classic `<id>/layer.tar` one because it is a docker-archive and an
 * OCI layout at once, over one copy of each blob: docker (whose loader takes manifest.json's paths as
 * given), podman and skopeo read it as a docker-archive, OCI readers through index.json. Its layers must
 * be uncompressed tars, each named by its diff id.
 *
 * A tar header carries the entry's size before its body, and a compressed blob does not tell its
 * uncompressed size. Rather than spool each layer to a temporary file (disk as large as the image, and
 * files to clean up if the consumer walks away), a compressed layer is decompressed twice: once to count
 * its bytes, once while it is written. Both passes check it against its diff id. gzip inflates at several
 * hundred MB/s, so this costs seconds on large images; a caller that knows the size passes
 * `uncompressedSize` and the first pass is skipped.
 *
 * Names. manifest.json's RepoTags are written in full (`docker.io/library/busybox:latest`), as skopeo
 * writes them, not familiar as docker does: docker, skopeo and podman all read the full form, and podman
 * 4.3 files a familiar `busybox:latest` under `localhost/busybox`. In index.json a name is containerd's
 * full-name annotation plus the tag as OCI ref-name. The docker layout's index.json has a descriptor per
 * tag, as docker 25+ writes; the OCI format has one per image, named by its first tag, because podman and
 * skopeo load an oci-archive only when it has one descriptor (further tags are not carried).
 *
 * Output is deterministic: entries sorted by name (as docker's own are), mtime 0, root owner, JSON with
 * a fixed key order, images and layers in the order given.
 */
import { createHash } from 'node:crypto';
import { InvalidArgument, RuntimeFailure } from '../errors.ts';
import { decompressStream, tarEntry, writeTar, type TarInput } from '../archive/tar.ts';
import {
  ANNOTATION_IMAGE_NAME, ANNOTATION_REF_NAME, LAYER_MEDIA, MEDIA_OCI_CONFIG, MEDIA_OCI_INDEX, MEDIA_OCI_MANIFEST,
  OCI_LAYOUT_JSON, blobPath, configPlatform, isDigest, sha256, tagNames, type Compression, type Platform,
  type TagNames,
} from './archive-format.ts';

export type ArchiveFormat = 'docker' | 'oci';

/** One image to save: its config and layer blobs as the store holds them. */
export interface ArchiveImage {
  /** `sha256:<hex>` of `config`: the image id. */
  configDigest: string;
  /** The image config JSON, byte for byte as stored. */
  config: Buffer;
  /** Bottom layer first, as the config's rootfs.diff_ids. */
  layers: ArchiveLayer[];
  /** Familiar tagged references: `busybox:latest`, `localhost:5000/app:1`. May be empty. */
  repoTags: string[];
}

export interface ArchiveLayer {
  /** `sha256:` of the uncompressed layer tar. */
  diffId: string;
  /** The layer's blob as stored, from its first byte; may be called more than once. */
  open(): AsyncIterable<Buffer>;
  compressed: Compression;
  /** Digest and byte size of the blob `open()` yields. */
  digest: string;
  size: number;
  /**
   * Byte size of the uncompressed tar, if known: a docker-archive then needs one pass over a compressed
   * blob, not two (see the top of this file).
   */
  uncompressedSize?: number;
}

/** One file of the archive: its size up front, its body when it is written. */
interface OutFile {
  size: number;
  body: () => AsyncIterable<Buffer> | Buffer;
}
type OutFiles = Map<string, OutFile>;

interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  annotations?: Record<string, string>;
  platform?: Platform;
}

/** An input image, checked, with its tags parsed and merged with other entries of the same id. */
interface SaveImage {
  source: ArchiveImage;
  tags: TagNames[];
}

/**
 * A tar stream holding `images` in `format`. Images listed twice (same configDigest) are written once,
 * with their tags merged; a layer several images share is written once. The 'oci' format names each
 * image by its first tag only (see above). Throws InvalidArgument (on the
 * first read) for a malformed digest or tag, RuntimeFailure when a blob's content does not match its
 * digest.
 */
export async function* writeImageArchive(images: ArchiveImage[], format: ArchiveFormat): AsyncGenerator<Buffer> {
  if (format !== 'docker' && format !== 'oci') {
    throw new InvalidArgument(`unknown image archive format ${JSON.stringify(format)}: use docker or oci`);
  }
  const merged = mergeImages(images);
  const files = format === 'docker' ? await dockerFiles(merged) : ociFiles(merged);
  yield* writeTar(tarInputs(files));
}

function mergeImages(images: ArchiveImage[]): SaveImage[] {
  const byId = new Map<string, SaveImage>();
  for (const image of images) {
    checkImage(image);
    const saved = byId.get(image.configDigest) ?? { source: image, tags: [] };
    byId.set(image.configDigest, saved);
    for (const ref of image.repoTags) {
      const names = tagNames(ref);
      if (!saved.tags.some((t) => t.familiar === names.familiar)) saved.tags.push(names);
    }
  }
  return [...byId.values()];
}

function checkImage(image: ArchiveImage): void {
  if (!isDigest(image.configDigest) || !image.configDigest.startsWith('sha256:')) {
    throw new InvalidArgument(`invalid image id ${JSON.stringify(image.configDigest)}`);
  }
  if (sha256(image.config) !== image.configDigest) {
    throw new InvalidArgument(`image ${image.configDigest}: its config does not hash to its id`);
  }
  for (const l of image.layers) {
    if (!isDigest(l.diffId) || !isDigest(l.digest) || !Number.isSafeInteger(l.size) || l.size < 0) {
      throw new InvalidArgument(`image ${image.configDigest}: invalid layer ${JSON.stringify(l.diffId)}`);
    }
  }
}

// ---------------------------------------------------------------------------------------------- layouts

/** docker 25+'s docker-archive: uncompressed layers under their diff ids, manifest.json, an OCI layout. */
async function dockerFiles(images: SaveImage[]): Promise<OutFiles> {
  const files: OutFiles = new Map();
  const layersOf: Descriptor[][] = [];
  for (const { source } of images) {
    const descriptors: Descriptor[] = [];
    for (const layer of source.layers) {
      const path = blobPath(layer.diffId);
      let file = files.get(path);
      if (!file) files.set(path, (file = await uncompressedLayer(layer)));
      descriptors.push({ mediaType: LAYER_MEDIA.none, digest: layer.diffId, size: file.size });
    }
    layersOf.push(descriptors);
  }
  addOciLayout(files, images, layersOf, 'tag');
  const manifest = images.map(({ source, tags }) => ({
    Config: blobPath(source.configDigest),
    RepoTags: tags.length > 0 ? tags.map((t) => t.full) : null, // docker writes null for an image saved by id
    Layers: source.layers.map((l) => blobPath(l.diffId)),
  }));
  setText(files, 'manifest.json', `${JSON.stringify(manifest)}\n`);
  const repositories = legacyRepositories(images);
  if (repositories) setText(files, 'repositories', `${JSON.stringify(repositories)}\n`);
  return files;
}

/** An OCI image layout: layer blobs as stored, under their own digests. */
function ociFiles(images: SaveImage[]): OutFiles {
  const files: OutFiles = new Map();
  const layersOf = images.map(({ source }) =>
    source.layers.map((layer): Descriptor => {
      const path = blobPath(layer.digest);
      if (!files.has(path)) {
        const body = () => verified(layer.open(), layer.digest, `layer blob ${layer.digest}`);
        files.set(path, { size: layer.size, body });
      }
      return { mediaType: LAYER_MEDIA[layer.compressed], digest: layer.digest, size: layer.size };
    }));
  addOciLayout(files, images, layersOf, 'image');
  return files;
}

/**
 * Configs, an OCI manifest per image, `index.json` and `oci-layout`. index.json has a descriptor `per`
 * tag or per image (then named by the first tag); each is named both ways podman and containerd look,
 * and an untagged image's has no name.
 */
function addOciLayout(files: OutFiles, images: SaveImage[], layersOf: Descriptor[][], per: 'tag' | 'image'): void {
  const index: Descriptor[] = [];
  images.forEach(({ source, tags }, i) => {
    files.set(blobPath(source.configDigest), { size: source.config.length, body: () => source.config });
    const manifest = Buffer.from(JSON.stringify({
      schemaVersion: 2,
      mediaType: MEDIA_OCI_MANIFEST,
      config: { mediaType: MEDIA_OCI_CONFIG, digest: source.configDigest, size: source.config.length },
      layers: layersOf[i],
    }));
    const digest = sha256(manifest);
    files.set(blobPath(digest), { size: manifest.length, body: () => manifest });
    const platform = configPlatform(source.config);
    const descriptor = (annotations?: Record<string, string>): Descriptor => ({
      mediaType: MEDIA_OCI_MANIFEST, digest, size: manifest.length,
      ...(annotations && { annotations }), ...(platform && { platform }),
    });
    if (tags.length === 0) index.push(descriptor());
    for (const t of per === 'tag' ? tags : tags.slice(0, 1)) {
      index.push(descriptor({ [ANNOTATION_IMAGE_NAME]: t.full, [ANNOTATION_REF_NAME]: t.tag }));
    }
  });
  setText(files, 'index.json', JSON.stringify({ schemaVersion: 2, mediaType: MEDIA_OCI_INDEX, manifests: index }));
  setText(files, 'oci-layout', OCI_LAYOUT_JSON);
}

/** The pre-1.10 `repositories` file: repository → tag → top layer id (docker 25+ uses its diff id hex). */
function legacyRepositories(images: SaveImage[]): Record<string, Record<string, string>> | undefined {
  const repos: Record<string, Record<string, string>> = {};
  for (const { source, tags } of images) {
    const top = source.layers.at(-1);
    if (!top) continue;
    for (const t of tags) {
      const repo = t.familiar.slice(0, -t.tag.length - 1);
      (repos[repo] ??= {})[t.tag] = top.diffId.slice(top.diffId.indexOf(':') + 1);
    }
  }
  const sorted = Object.keys(repos).sort();
  return sorted.length ? Object.fromEntries(sorted.map((r) => [r, repos[r]!])) : undefined;
}

function setText(files: OutFiles, name: string, text: string): void {
  const data = Buffer.from(text);
  files.set(name, { size: data.length, body: () => data });
}

// ---------------------------------------------------------------------------------------------- bodies

/** The layer as an uncompressed tar, with its size (a first pass when neither the caller nor the blob tells it). */
async function uncompressedLayer(layer: ArchiveLayer): Promise<OutFile> {
  const body = () => verified(decompressStream(layer.open()), layer.diffId, `layer ${layer.diffId}`);
  let size = layer.uncompressedSize ?? (layer.compressed === 'none' ? layer.size : -1);
  if (size < 0) {
    size = 0;
    for await (const chunk of body()) size += chunk.length;
  }
  return { size, body };
}

/** Passes `chunks` through; after the last, throws RuntimeFailure if they do not hash to `digest`. */
async function* verified(chunks: AsyncIterable<Buffer>, digest: string, what: string): AsyncGenerator<Buffer> {
  const [algorithm, hex] = digest.split(':') as [string, string];
  const hash = createHash(algorithm);
  for await (const chunk of chunks) {
    hash.update(chunk);
    yield chunk;
  }
  const got = hash.digest('hex');
  if (got !== hex) {
    throw new RuntimeFailure(`cannot save image: ${what} is corrupt (its content is ${algorithm}:${got})`);
  }
}

/** Tar entries for `files` and the directories above them, sorted by name. */
function tarInputs(files: OutFiles): TarInput[] {
  const dirs = new Set<string>();
  for (const name of files.keys()) {
    for (let i = name.indexOf('/'); i > 0; i = name.indexOf('/', i + 1)) dirs.add(name.slice(0, i + 1));
  }
  const names = [...dirs, ...files.keys()].sort();
  return names.map((name) => {
    const file = files.get(name);
    if (!file) return { entry: tarEntry({ name, type: 'dir' }) };
    return { entry: tarEntry({ name, type: 'file', size: file.size }), body: lazy(file.body) };
  });
}

/** Defers opening a body until the writer reaches it. */
async function* lazy(open: () => AsyncIterable<Buffer> | Buffer): AsyncGenerator<Buffer> {
  const body = open();
  if (Buffer.isBuffer(body)) yield body;
  else yield* body;
}
