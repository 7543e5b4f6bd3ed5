/**
 * The engine root's directories. They are made together when the store opens, so no verb depends on an
 * earlier one having made the directory it writes into: a root's first command may be any verb (a `load`
 * into a root that never pulled once failed renaming its first blob into a missing `blobs/sha256`).
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';

/** Each directory under the root and its mode (private where other users must not list containers' state). */
export const ROOT_DIRS: readonly (readonly [path: string, mode: number])[] = [
  ['containers', 0o700], // one dir per container: bundle, rootfs mount, exit files, logs
  ['layers', 0o700], // unpacked image layers
  ['l', 0o755], // short links to layers, keeping overlay's lowerdir option within a page
  ['blobs/sha256', 0o755], // layer archives and image configs, by digest
  ['leases', 0o755], // what a pull, load or commit in progress holds from garbage collection
  ['tmp', 0o700], // work dirs of loads and imports (same file system as the blobs they become)
  ['volumes', 0o700], // named volumes
  ['cni', 0o755], // CNI network configs and IPAM leases
  ['netns', 0o700], // marks of the network namespaces this root made
  ['pods', 0o700], // pinned pods' namespace files, /dev/shm and /etc files; pods' lock files
  ['build', 0o700], // work dirs of builds in progress: a step's file system mount, an unpacked context
  ['build-cache', 0o700], // RUN --mount=type=cache directories, kept between builds
  ['seccomp', 0o700], // seccomp programs the runtime compiled, handed back to it (src/runtime/seccomp-cache.ts)
];

/** Make every directory the root needs (an existing one is left as it is). */
export function makeRootLayout(root: string): void {
  mkdirSync(root, { recursive: true, mode: 0o700 });
  for (const [path, mode] of ROOT_DIRS) mkdirSync(join(root, path), { recursive: true, mode });
}
