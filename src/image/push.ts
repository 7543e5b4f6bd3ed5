/**
 * `push`: upload an image's layer archives (the blobs it was pulled, loaded or committed as), its config
 * and a manifest. A layer the registry has is skipped; one another repository of the same registry is
 * known to hold is mounted across instead of uploaded. The manifest is Docker schema 2 unless a layer is
 * zstd-compressed, which only the OCI manifest can describe.
 */
import { InvalidArgument, NoSuchImage, NotFound } from '../errors.ts';
import { RegistryClient, type Descriptor, type RegistryOptions } from '../registry/client.ts';
import type { LayerRow } from '../store/images.ts';
import type { ProgressMessage } from './pull.ts';
import { eachLimited } from './pull.ts';
import { canonicalString, familiarRepo, parseImageName } from '../registry/reference.ts';
import { compressionOf, MEDIA, type ImageStore } from './store.ts';

export interface PushOptions {
  registry?: RegistryOptions;
  onProgress?: (m: ProgressMessage) => void;
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

export async function pushImage(store: ImageStore, ref: string, opts: PushOptions = {}): Promise<PushResult> {
  const name = parseImageName(ref);
  if (name.digest) throw new InvalidArgument(`cannot push a digest reference: ${ref}`);
  name.tag ??= 'latest';
  const repo = familiarRepo(name);
  const img = store.repo.byTag(`${repo}:${name.tag}`);
  if (!img) throw new NoSuchImage(`${repo}:${name.tag}`);
  const say = opts.onProgress ?? (() => {});
  const client = new RegistryClient(opts.registry);
  say({ status: `The push refers to repository [${canonicalString({ ...name, tag: undefined, digest: undefined })}]` });

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
  await eachLimited(topFirst, opts.parallel ?? 5, async ([l, d]) => {
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
