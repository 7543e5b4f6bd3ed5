/** Bytes of the regular files below a directory (what docker reports as a layer's or volume's size). */
import { lstatSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

export function treeSize(dir: string): number {
  let total = 0;
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.isFile()) total += lstatSync(p).size;
    }
  };
  try {
    walk(dir);
  } catch {
    // a tree that went away under us counts as what was read so far
  }
  return total;
}
