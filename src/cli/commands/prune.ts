/** `berth container prune [-f] [--filter until=…|label=…|label!=…]` */
import type { FlagDef } from '../flags.ts';
import { confirm, filterFlags, withEngine, parse, type Command } from '../common.ts';
import type { Globals } from '../globals.ts';
import { humanSize } from '../format.ts';

const flags = [
  { name: 'force', short: 'f', type: 'bool', description: 'Do not prompt for confirmation' },
  { name: 'filter', type: 'list', description: 'Provide filter values (e.g. "until=<timestamp>")' },
] as const satisfies readonly FlagDef[];

const cmd: Command<typeof flags> = { usage: '[OPTIONS]', description: 'Remove all stopped containers', flags, args: [0, 0] };

export async function main(argv: string[], g: Globals): Promise<number> {
  const p = parse(cmd, argv, 'container prune');
  if (typeof p === 'number') return p;
  if (!p.flags.force && !(await confirm('WARNING! This will remove all stopped containers.'))) return 0;
  return withEngine(g, 'container prune', async (engine) => {
    const { ids, reclaimed } = await engine.prune(filterFlags(p.flags.filter));
    process.stdout.write(ids.length ? `Deleted Containers:\n${ids.join('\n')}\n\n` : '');
    process.stdout.write(`Total reclaimed space: ${humanSize(reclaimed)}\n`);
    return 0;
  });
}
