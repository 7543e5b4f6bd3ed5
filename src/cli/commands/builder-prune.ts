/** `berth builder prune [-a] [-f]`: forget the build cache and the step images only it kept. */
import { parse, withEngine, type Command } from '../common.ts';
import { humanSize } from '../format.ts';
import type { FlagDef } from '../flags.ts';
import type { Globals } from '../globals.ts';

const flags = [
  { name: 'all', short: 'a', type: 'bool', description: 'Remove all unused build cache, not just dangling ones' },
  { name: 'force', short: 'f', type: 'bool', description: 'Do not prompt for confirmation' },
] as const satisfies readonly FlagDef[];

const cmd: Command<typeof flags> = { usage: '[OPTIONS]', description: 'Remove build cache', flags, args: [0, 0] };

export async function main(argv: string[], g: Globals): Promise<number> {
  const p = parse(cmd, argv, 'builder prune');
  if (typeof p === 'number') return p;
  return withEngine(g, 'builder prune', async (engine) => {
    const { deleted, reclaimed } = await engine.pruneBuildCache();
    for (const id of deleted) process.stdout.write(`Deleted: sha256:${id}\n`);
    process.stdout.write(`Total reclaimed space: ${humanSize(reclaimed)}\n`);
    return 0;
  });
}
