/** `berth builder prune [-a] [-f] [--filter until=…] [--keep-storage SIZE]`: forget the build cache and the step images only it kept. */
import { InvalidArgument } from '../../errors.ts';
import { bytesIn } from '../../units.ts';
import { filterFlags, parse, withEngine, type Command } from '../common.ts';
import { humanSize } from '../format.ts';
import type { FlagDef } from '../flags.ts';
import type { Globals } from '../globals.ts';

const flags = [
  { name: 'all', short: 'a', type: 'bool', description: 'Remove all unused build cache, not just dangling ones' },
  { name: 'force', short: 'f', type: 'bool', description: 'Do not prompt for confirmation' },
  { name: 'filter', type: 'list', description: 'Provide filter values (e.g. "until=24h")' },
  { name: 'keep-storage', type: 'string', description: 'Amount of disk space to keep for cache' },
] as const satisfies readonly FlagDef[];

const cmd: Command<typeof flags> = { usage: '[OPTIONS]', description: 'Remove build cache', flags, args: [0, 0] };

export async function main(argv: string[], g: Globals): Promise<number> {
  const p = parse(cmd, argv, 'builder prune');
  if (typeof p === 'number') return p;
  return withEngine(g, 'builder prune', async (engine) => {
    const keep = p.flags['keep-storage'];
    const keepStorage = keep ? bytesIn(keep) : undefined;
    if (keep && keepStorage === undefined) throw new InvalidArgument(`invalid --keep-storage ${keep}: a size (e.g. 512m)`);
    const { deleted, reclaimed } = await engine.pruneBuildCache({ filters: filterFlags(p.flags.filter), ...(keepStorage !== undefined && keepStorage > 0 ? { keepStorage } : {}) });
    for (const id of deleted) process.stdout.write(`Deleted: sha256:${id}\n`);
    process.stdout.write(`Total reclaimed space: ${humanSize(reclaimed)}\n`);
    return 0;
  });
}
