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
 * archive-read.ts (making sense of it); this file is their public face. The types live beside the code
 * that takes or returns them, so neither half imports this file.
 */
export type { Compression } from './archive-format.ts';
export { writeImageArchive, type ArchiveFormat, type ArchiveImage, type ArchiveLayer } from './archive-write.ts';
export { readImageArchive, type LoadedImage, type LoadedLayer } from './archive-read.ts';
