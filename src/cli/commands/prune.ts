/** `berth container prune [-f]` */
import type { FlagDef } from '../flags.ts';
import { withEngine, parse, type Command } from '../common.ts';
import type { Globals } from '../globals.ts';
import { InvalidArgument } from '../../errors.ts';
import { humanSize } from '../format.ts';

const flags = [
  { name: 'force', short: 'f', type: 'bool', description: 'Do not prompt for confirmation' },
  { name: 'filter', type: 'list', description: 'Provide filter values' },
] as const satisfies readonly FlagDef[];

const cmd: Command<typeof flags> = { usage: '[OPTIONS]', description: 'Remove all stopped containers', flags, args: [0, 0] };

export async function main(argv: string[], g: Globals): Promise<number> {
  const p = parse(cmd, argv, 'container prune');
  if (typeof p === 'number') return p;
  if (!p.flags.force && process.stdin.isTTY) {
    process.stdout.write('WARNING! This will remove all stopped containers.\nAre you sure you want to continue? [y/N] ');
    const answer = await new Promise<string>((r) => process.stdin.once('data', (b) => r(String(b).trim())));
    process.stdin.pause();
    if (!/^y(es)?$/i.test(answer)) return 0;
  }
  return withEngine(g, 'container prune', async (engine) => {
    const filters: Record<string, string[]> = {};
    for (const f of p.flags.filter) {
      const eq = f.indexOf('=');
      if (eq <= 0) throw new InvalidArgument(`bad format of filter (expected name=value)`);
      (filters[f.slice(0, eq)] ??= []).push(f.slice(eq + 1));
    }
    const { ids, reclaimed } = await engine.prune(filters);
    process.stdout.write(ids.length ? `Deleted Containers:\n${ids.join('\n')}\n\n` : '');
    process.stdout.write(`Total reclaimed space: ${humanSize(reclaimed)}\n`);
    return 0;
  });
}
