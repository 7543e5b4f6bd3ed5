/** `berth image prune [-a] [-f] [--filter until=…|label=…|label!=…]` */
import type { FlagDef } from '../flags.ts';
import { confirm, filterFlags, withEngine, parse, type Command } from '../common.ts';
import { humanSize } from '../format.ts';
import type { Globals } from '../globals.ts';

const flags = [
  { name: 'all', short: 'a', type: 'bool', description: 'Remove all unused images, not just dangling ones' },
  { name: 'force', short: 'f', type: 'bool', description: 'Do not prompt for confirmation' },
  { name: 'filter', type: 'list', description: 'Provide filter values (e.g. "until=<timestamp>", "label=<key>=<value>")' },
] as const satisfies readonly FlagDef[];

const cmd: Command<typeof flags> = { usage: '[OPTIONS]', description: 'Remove unused images', flags, args: [0, 0] };

export async function main(argv: string[], g: Globals): Promise<number> {
  const p = parse(cmd, argv, 'image prune');
  if (typeof p === 'number') return p;
  const what = p.flags.all ? 'all images without at least one container associated to them' : 'all dangling images';
  if (!p.flags.force && !(await confirm(`WARNING! This will remove ${what}.`))) return 0;
  return withEngine(g, 'image prune', async (engine) => {
    const filters = filterFlags(p.flags.filter);
    if (p.flags.all) filters.dangling = ['false'];
    const r = engine.pruneImages(filters);
    process.stdout.write(deletedImages(r));
    process.stdout.write(`Total reclaimed space: ${humanSize(r.reclaimed)}\n`);
    return 0;
  });
}

/** docker's "Deleted Images:" block (empty when nothing went). */
export function deletedImages(r: { untagged: string[]; deleted: string[] }): string {
  if (r.untagged.length + r.deleted.length === 0) return '';
  const lines = [...r.untagged.map((t) => `untagged: ${t}`), ...r.deleted.map((d) => `deleted: ${d}`)];
  return `Deleted Images:\n${lines.join('\n')}\n\n`;
}
