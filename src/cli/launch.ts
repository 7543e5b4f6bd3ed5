/**
 * The CLI's entry (dist/berth.mjs): turn on V8's compile cache, then load the bundle (dist/cli-bundle/, split
 * by verb). Compiling the bundle is the largest part of every command's start-up; with the cache each verb
 * reuses the code the last one compiled. The cache sits beside the bundle, keyed by its content, so a
 * rebuild invalidates it; where it cannot be written, commands run uncached.
 */
import { enableCompileCache } from 'node:module';

try {
  enableCompileCache(new URL('.compile-cache', import.meta.url).pathname);
} catch {
  /* uncached */
}
// Not a literal: the bundle is a separate file, loaded after the cache is on.
const cli = './cli-bundle/berth-cli.mjs';
await import(cli);
