/**
 * `push`: upload an image's layer archives (the blobs it was pulled, loaded or committed as), its config
 * and a manifest. A layer the registry has is skipped; one another repository of the same registry is
 * known to hold is mounted across instead of uploaded. The manifest is Docker schema 2 unless a layer is
 * zstd-compressed, which only the OCI manifest can describe.
 *
 * `pushAllTags` is docker's push of a bare repository name: every local tag of it, one after another in
 * the order of their names, under one "The push refers to repository" line, each ending in its digest line.
 */
import { InvalidArgument, NoSuchImage, NotFound } from '../errors.ts';
import { RegistryClient, type Descriptor, type RegistryOptions } from '../registry/client.ts';
import type { ImageRow, LayerRow } from '../store/images.ts';
import type { ProgressMessage } from './pull.ts';
import { eachLimited } from './pull.ts';
import { canonicalString, familiarRepo, parseImageName, type ImageName } from '../registry/reference.ts';
import { compressionOf, MEDIA, type ImageStore } from './store.ts';

export interface PushOptions {
  registry?: RegistryOptions;
  onProgress?: (m: ProgressMessage) => void;
  /** Called as each tag is pushed, right after its digest line (the API sends docker's `aux` object then). */
  onPushed?: (r: PushResult) => void;
  parallel?: number;
}

export interface PushResult {
  tag: string;
  digest: string;
  size: number;
}

const DOCKER_LAYER: Record<string, string> = {
  gzip: MEDIA.dockerLayerGzip,
  none: 'application/vnd.docker.image.rootfs.diff.tar',
};
const OCI_LAYER: Record<string, string> = { gzip: MEDIA.ociLayerGzip, zstd: MEDIA.ociLayerZstd, none: MEDIA.ociLayer };

/** Push one tag (`latest` when the reference names none). */
export async function pushImage(store: ImageStore, ref: string, opts: PushOptions = {}): Promise<PushResult> {
  const name = parseImageName(ref);
  if (name.digest) throw new InvalidArgument(`cannot push a digest reference: ${ref}`);
  name.tag ??= 'latest';
  const repo = familiarRepo(name);
  const img = store.repo.byTag(`${repo}:${name.tag}`);
  if (!img) throw new NoSuchImage(`${repo}:${name.tag}`);
  const say = opts.onProgress ?? (() => {});
  say({ status: referringLine(name) });
  const r = await pushTag(store, new RegistryClient(opts.registry), { ...name, tag: name.tag }, img, say, opts.parallel);
  opts.onPushed?.(r);
  return r;
}

/**
 * The local tags of a repository named without a tag, by tag name, each with its image; NotFound (docker's
 * words) when it has none.
 */
export function localTags(store: ImageStore, ref: string): { tag: string; img: ImageRow }[] {
  const name = parseImageName(ref);
  if (name.digest) throw new InvalidArgument(`cannot push a digest reference: ${ref}`);
  if (name.tag !== undefined) throw new InvalidArgument("tag can't be used with --all-tags/-a");
  const repo = familiarRepo(name);
  const tagged = store.repo
    .list()
    .flatMap((img) => img.tags.filter((t) => t.startsWith(`${repo}:`)).map((t) => ({ tag: t.slice(repo.length + 1), img })))
    .filter((t) => !t.tag.includes('/'))
    .sort((a, b) => (a.tag < b.tag ? -1 : a.tag > b.tag ? 1 : 0));
  if (tagged.length === 0) throw new NotFound(`An image does not exist locally with the tag: ${repo}`);
  return tagged;
}

/** Push every local tag of a repository named without a tag; the results in the order pushed. */
export async function pushAllTags(store: ImageStore, ref: string, opts: PushOptions = {}): Promise<PushResult[]> {
  const tagged = localTags(store, ref);
  const name = parseImageName(ref);
  const say = opts.onProgress ?? (() => {});
  say({ status: referringLine(name) });
  // One client for all of them: the registry is pinged, and credentials fetched, once.
  const client = new RegistryClient(opts.registry);
  const results: PushResult[] = [];
  for (const { tag, img } of tagged) {
    const r = await pushTag(store, client, { ...name, tag }, img, say, opts.parallel);
    opts.onPushed?.(r);
    results.push(r);
  }
  return results;
}

const referringLine = (name: ImageName) =>
  `The push refers to repository [${canonicalString({ ...name, tag: undefined, digest: undefined })}]`;

async function pushTag(
  store: ImageStore, client: RegistryClient, name: ImageName & { tag: string }, img: ImageRow,
  say: (m: ProgressMessage) => void, parallel = 5,
): Promise<PushResult> {
  const repo = familiarRepo(name);
  const ref = `${repo}:${name.tag}`;
  const rows = store.layerRows(img);
  for (const l of rows) {
    if (!l.blobDigest || !store.blobs.has(l.blobDigest)) {
      throw new NotFound(`layer ${l.id.slice(0, 12)} of ${ref} has no archive in the store (imported by an older Berth); pull, load or import the image again`);
    }
  }
  const oci = rows.some((l) => compressionOf(l.blobType) === 'zstd');
  const types = oci ? OCI_LAYER : DOCKER_LAYER;
  const descs: Descriptor[] = rows.map((l) => ({ mediaType: types[compressionOf(l.blobType)]!, digest: l.blobDigest, size: l.blobSize }));
  const here = `${name.registry}/${name.path}`;
  const short = (l: LayerRow) => l.id.slice(0, 12);
  const topFirst = rows.map((l, i) => [l, descs[i]!] as const).reverse();
  for (const [l] of topFirst) say({ id: short(l), status: 'Preparing' });
  await eachLimited(topFirst, parallel, async ([l, d]) => {
    const from = store.repo
      .blobSources(d.digest)
      .filter((s) => s.startsWith(`${name.registry}/`) && s !== here)
      .map((s) => s.slice(name.registry.length + 1));
    let last = 0;
    const how = await client.pushBlob(name, d, store.blobs.path(d.digest), from, (current, total) => {
      const now = Date.now();
      if (now - last < 100 && current < total) return;
      last = now;
      say({ id: short(l), status: 'Pushing', progressDetail: { current, total } });
    });
    store.repo.addBlobSource(d.digest, here);
    say({ id: short(l), status: how === 'exists' ? 'Layer already exists' : how === 'mounted' ? `Mounted from ${from[0]}` : 'Pushed' });
  });
  const configBytes = store.configBytes(img);
  const configDesc: Descriptor = { mediaType: oci ? MEDIA.ociConfig : MEDIA.dockerConfig, digest: `sha256:${img.id}`, size: configBytes.length };
  if (!store.blobs.has(configDesc.digest)) store.blobs.put(configBytes);
  await client.pushBlob(name, configDesc, store.blobs.path(configDesc.digest));
  const mediaType = oci ? MEDIA.ociManifest : MEDIA.dockerManifest;
  const manifest = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType, config: configDesc, layers: descs }, null, 3));
  const digest = await client.putManifest(name, name.tag, mediaType, manifest);
  store.repo.addRepoDigest(`${repo}@${digest}`, img.id);
  say({ status: `${name.tag}: digest: ${digest} size: ${manifest.length}` });
  store.emit('push', `${repo}:${name.tag}`);
  return { tag: name.tag, digest, size: manifest.length };
}
