/**
 * `berth container cleanup ID`: the monitor's exit command. Releases the exited container's runtime state and
 * mount, removes it if it was run with --rm. Quiet: nobody reads its output.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { NoSuchContainer } from '../../errors.ts';
import { engineFor, report } from '../common.ts';
import type { Globals } from '../globals.ts';

export async function main(argv: string[], g: Globals): Promise<number> {
  if (argv.length !== 1) return report(new (await import('../../errors.ts')).InvalidArgument('usage: berth container cleanup ID'), 'cleanup');
  const engine = engineFor(g);
  // The root may be gone (a test removed it): never recreate it just to find nothing.
  if (!existsSync(join(engine.root, 'berth.db'))) return 0;
  try {
    await engine.cleanup(argv[0]!);
    return 0;
  } catch (e) {
    if (e instanceof NoSuchContainer) return 0;
    return report(e, 'cleanup');
  } finally {
    engine.close();
  }
}
