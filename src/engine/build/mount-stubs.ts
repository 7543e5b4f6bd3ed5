/**
 * The mount points a RUN's mounts needed (`--mount` targets, a secret's file, a tmpfs) are made by the
 * runtime in the container's upper dir, empty. They are not the step's work: before the upper dir becomes
 * the layer, each one the image did not have goes, with the parent directories made only to hold it.
 */
import { lstatSync, readdirSync, rmdirSync, unlinkSync } from 'node:fs';
import { join, posix } from 'node:path';
import { lgetxattr } from '../../sys/fsx.ts';

export function removeMountStubs(upper: string, targets: readonly string[], lowers: readonly string[]): void {
  const inImage = (path: string) => lowers.some((l) => lstatSync(join(l, path), { throwIfNoEntry: false }) !== undefined);
  for (const target of [...targets].sort((a, b) => b.length - a.length)) {
    for (let path = posix.normalize(`/${target}`); path !== '/'; path = posix.dirname(path)) {
      const host = join(upper, path);
      const st = lstatSync(host, { throwIfNoEntry: false });
      if (!st || inImage(path)) break;
      if (st.isFile() && st.size === 0 && path === posix.normalize(`/${target}`)) unlinkSync(host);
      else if (st.isDirectory() && readdirSync(host).length === 0 && !opaque(host)) rmdirSync(host);
      else break;
    }
  }
}

function opaque(path: string): boolean {
  try {
    return lgetxattr(path, 'trusted.overlay.opaque')?.toString() === 'y';
  } catch {
    return false;
  }
}
