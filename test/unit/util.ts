/** Helpers the unit tests share: scratch dirs and byte streams. */
import { mkdtempSync, rmSync } from 'node:fs';
import type { TestContext } from 'node:test';

/** A fresh directory under /var/tmp (a disk file system: user xattrs and holes), removed after the test. */
export function scratchDir(t: TestContext, prefix: string): string {
  const dir = mkdtempSync(`/var/tmp/${prefix}`);
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

export async function collect(it: AsyncIterable<Buffer>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of it) parts.push(c);
  return Buffer.concat(parts);
}

/** A buffer as a stream of `size`-byte chunks (odd sizes catch code that assumes block alignment). */
export async function* chunks(b: Buffer, size: number): AsyncGenerator<Buffer> {
  for (let i = 0; i < b.length; i += size) yield b.subarray(i, i + size);
}
