/** koffi, the FFI the engine reaches libc through where Node has no call of its own (loaded on first use). */
import { createRequire } from 'node:module';

export type Koffi = typeof import('koffi');

/**
 * koffi's native module. Its package entry first runs a prebuild installer's helpers (they load node:https,
 * tls, zlib and crypto: ~20 ms on every attach) only to pick this same file by platform and arch; require it
 * directly when it is there and of the package's version, else go through the entry.
 */
export async function loadKoffi(): Promise<Koffi> {
  try {
    const req = createRequire(import.meta.url);
    const native = req(`koffi/build/koffi/${process.platform}_${process.arch}/koffi.node`) as Koffi & { version?: string };
    if (native.version !== undefined && native.version === (req('koffi/package.json') as { version?: string }).version) return native;
  } catch {
    /* another layout (musl, a bundled koffi): its own loader finds it */
  }
  const mod = await import('koffi');
  return (mod as unknown as { default?: Koffi }).default ?? mod;
}
