/**
 * Image archives: the tar files `berth save` writes and `berth load` reads, independent of the image
 * store. Two formats, each as other engines write and read it:
 *
 * - docker-archive (`docker save`, `docker load`, `podman load`, `skopeo … docker-archive:`): a
 *   `manifest.json` naming each image's config and uncompressed layer tars. Berth writes the layout of
 *   docker 25+, which keeps those files under `blobs/sha256/` and adds an OCI layout over the same blobs;
 *   it reads that one, the classic `<id>/layer.tar` one, and any other manifest.json paths.
 * - OCI image layout (`skopeo … oci-archive:`, `podman load`, docker 25+): `oci-layout`, `index.json`
 *   and content-addressed blobs, layers as they are stored (gzip, zstd or plain).
 *
 * The writer lives in archive-write.ts, the reader in archive-spool.ts (taking the tar apart safely) and
 * archive-read.ts (making sense of it); this file is their public face.
 */
import type { Compression } from './archive-format.ts';

export type { Compression } from './archive-format.ts';
export { writeImageArchive } from './archive-write.ts';
export { readImageArchive } from './archive-read.ts';

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
   * blob, not two (see archive-write.ts).
   */
  uncompressedSize?: number;
}

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
