/**
 * Finding one of Berth's small C programs or data files (put by scripts/build into dist/): beside the bundle's chunks,
 * beside tsc's output, or from the source tree. Found once per process.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const found = new Map<string, string | null>();

/** The program's path, or null when it is not built. */
export function helperBinary(name: string): string | null {
  let path = found.get(name);
  if (path !== undefined) return path;
  path = null;
  for (const dir of ['../../', '../', '../../dist/']) {
    const p = fileURLToPath(new URL(dir + name, import.meta.url));
    if (existsSync(p)) {
      path = p;
      break;
    }
  }
  found.set(name, path);
  return path;
}
