/** Host lookups the engine needs: its own launcher and an init binary. */
import { existsSync, realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** The project's launcher, for the monitor's exit command: bin/berth of the checkout this code runs from. */
export function launcher(): string {
  // dist/berth.mjs, dist/engine/*.js (the library), src/engine/*.ts and the CLI bundle's chunks
  // (dist/cli-bundle/chunks/*.mjs) sit one to three levels down. Not found, it is `berth` on the PATH, which
  // may be another checkout's.
  for (const rel of ['../bin/berth', '../../bin/berth', '../../../bin/berth']) {
    const p = fileURLToPath(new URL(rel, import.meta.url));
    if (existsSync(p)) return realpathSync(p);
  }
  return 'berth';
}

export function initBinary(): string | undefined {
  return ['/usr/bin/catatonit', '/usr/libexec/podman/catatonit', '/usr/bin/tini-static'].find((p) => existsSync(p));
}
