/**
 * The vocabulary the image archive writer and reader share: media types, digests and blob paths of the
 * OCI image layout, compression sniffing, and the names an archive gives an image — the familiar
 * `busybox:latest` of docker's manifest.json, containerd's full `docker.io/library/busybox:latest` and the
 * OCI ref-name `latest` of an index.json descriptor.
 */
import { nodeCrypto } from '../sys/builtins.ts';
import { closeSync, openSync, readSync } from 'node:fs';
import { InvalidArgument } from '../errors.ts';
import { parseReference } from '../registry/reference.ts';

export type Compression = 'gzip' | 'zstd' | 'none';

export const MEDIA_OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
export const MEDIA_OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
export const MEDIA_OCI_CONFIG = 'application/vnd.oci.image.config.v1+json';
export const MEDIA_DOCKER_LIST = 'application/vnd.docker.distribution.manifest.list.v2+json';
export const MEDIA_DOCKER_MANIFEST = 'application/vnd.docker.distribution.manifest.v2+json';
export const LAYER_MEDIA: Record<Compression, string> = {
  none: 'application/vnd.oci.image.layer.v1.tar',
  gzip: 'application/vnd.oci.image.layer.v1.tar+gzip',
  zstd: 'application/vnd.oci.image.layer.v1.tar+zstd',
};
/** Layer media types a reader accepts: OCI's (also the non-distributable ones) and docker's. */
export const isLayerMedia = (type: string) =>
  /^application\/vnd\.oci\.image\.layer\.(nondistributable\.)?v1\.tar(\+gzip|\+zstd)?$/.test(type) ||
  /^application\/vnd\.docker\.image\.rootfs\.(foreign\.)?diff\.tar(\.gzip)?$/.test(type);

/** The OCI tag of a descriptor in index.json. */
export const ANNOTATION_REF_NAME = 'org.opencontainers.image.ref.name';
/** containerd's (and docker 25+'s) full image name; podman prefers it to the ref name. */
export const ANNOTATION_IMAGE_NAME = 'io.containerd.image.name';
export const OCI_LAYOUT_JSON = '{"imageLayoutVersion":"1.0.0"}';

const DIGEST_RE = /^(sha256:[a-f0-9]{64}|sha512:[a-f0-9]{128})$/;

export const isDigest = (s: unknown): s is string => typeof s === 'string' && DIGEST_RE.test(s);

/** `blobs/sha256/<hex>`: where the OCI layout (and docker 25+'s archive) keeps the blob `digest`. */
export const blobPath = (digest: string) => `blobs/${digest.replace(':', '/')}`;

export const sha256 = (data: Buffer | string) => `sha256:${nodeCrypto().createHash('sha256').update(data).digest('hex')}`;

/** gzip (1f 8b) or zstd (28 b5 2f fd) by their magic numbers; anything else is taken as plain. */
export function sniffCompression(head: Buffer): Compression {
  if (head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b) return 'gzip';
  if (head.length >= 4 && head.readUInt32LE(0) === 0xfd2fb528) return 'zstd';
  return 'none';
}

/** A tar archive by its first 512 bytes: compressed (gzip, zstd), or a tar header's `ustar` magic. */
export function looksLikeArchive(head: Buffer): boolean {
  return sniffCompression(head) !== 'none' || (head.length >= 262 && head.toString('latin1', 257, 262) === 'ustar');
}

/** The first `n` bytes of a file (fewer when it is shorter). */
export function fileHead(path: string, n: number): Buffer {
  const head = Buffer.alloc(n);
  const fd = openSync(path, 'r');
  try {
    return head.subarray(0, readSync(fd, head, 0, n, 0));
  } finally {
    closeSync(fd);
  }
}

export interface Platform {
  os: string;
  architecture: string;
  variant?: string;
}

/** Node's process.arch in Go's (and so OCI's) names. */
const GOARCH: Record<string, string> = {
  x64: 'amd64', arm64: 'arm64', arm: 'arm', ia32: '386', ppc64: 'ppc64le', s390x: 's390x', riscv64: 'riscv64',
};

/** The platform whose manifests a multi-platform index is narrowed to: this host's, in Go's names. */
export const hostPlatform = (): Platform => ({ os: 'linux', architecture: GOARCH[process.arch] ?? process.arch });

/** The platform an image config declares, if it names both os and architecture. */
export function configPlatform(config: Buffer): Platform | undefined {
  let c: { os?: unknown; architecture?: unknown; variant?: unknown };
  try {
    c = JSON.parse(config.toString('utf8'));
  } catch {
    return undefined;
  }
  if (typeof c?.os !== 'string' || typeof c.architecture !== 'string' || !c.os || !c.architecture) return undefined;
  const p: Platform = { architecture: c.architecture, os: c.os };
  if (typeof c.variant === 'string' && c.variant) p.variant = c.variant;
  return p;
}

export interface TagNames {
  /** `busybox:latest`, `localhost:5000/app:1`: docker's RepoTags form. */
  familiar: string;
  /** `docker.io/library/busybox:latest`: containerd's io.containerd.image.name form. */
  full: string;
  /** The tag alone: the OCI ref-name. */
  tag: string;
}

/** The names of `ref`, a tagged reference in any form; throws InvalidArgument if it is not one. */
export function tagNames(ref: string): TagNames {
  const { repository, tag } = parseReference(ref);
  const first = repository.split('/')[0]!;
  const hasDomain = repository.includes('/') &&
    (/[.:]/.test(first) || first === 'localhost' || first !== first.toLowerCase());
  const fullRepo = hasDomain ? repository : `docker.io/${repository.includes('/') ? '' : 'library/'}${repository}`;
  return { familiar: `${repository}:${tag}`, full: `${fullRepo}:${tag}`, tag };
}

/**
 * The familiar tag an index.json descriptor's annotations give its image: containerd's full name, else
 * an OCI ref-name that is a whole reference (`busybox:1`). A bare ref-name (`latest`) is a tag without a
 * repository and names nothing, as docker reads it; so does a digest reference.
 */
export function annotatedName(annotations: unknown): string | undefined {
  if (typeof annotations !== 'object' || annotations === null) return undefined;
  const a = annotations as Record<string, unknown>;
  for (const v of [a[ANNOTATION_IMAGE_NAME], a[ANNOTATION_REF_NAME]]) {
    if (typeof v !== 'string' || !/[:/]/.test(v) || v.includes('@')) continue;
    try {
      return tagNames(v).familiar;
    } catch (e) {
      if (!(e instanceof InvalidArgument)) throw e;
    }
  }
  return undefined;
}
