/** `berth image prune [-a] [-f]` */
import type { FlagDef } from '../flags.ts';
import { withEngine, parse, type Command } from '../common.ts';
import { humanSize } from '../format.ts';
import type { Globals } from '../globals.ts';

const flags = [
  { name: 'all', short: 'a', type: 'bool', description: 'Remove all unused images, not just dangling ones' },
  { name: 'force', short: 'f', type: 'bool', description: 'Do not prompt for confirmation' },
  { name: 'filter', type: 'list', description: 'Provide filter values (not supported)' },
] as const satisfies readonly FlagDef[];

const cmd: Command<typeof flags> = { usage: '[OPTIONS]', description: 'Remove unused images', flags, args: [0, 0] };

export async function main(argv: string[], g: Globals): Promise<number> {
  const p = parse(cmd, argv, 'image prune');
  if (typeof p === 'number') return p;
  if (p.flags.filter.length > 0) {
    process.stderr.write('Error: image prune --filter is not supported\n');
    return 1;
  }
  if (!p.flags.force && process.stdin.isTTY) {
    const what = p.flags.all ? 'all images without at least one container associated to them' : 'all dangling images';
    process.stdout.write(`WARNING! This will remove ${what}.\nAre you sure you want to continue? [y/N] `);
    const answer = await new Promise<string>((r) => process.stdin.once('data', (b) => r(String(b).trim())));
    process.stdin.pause();
    if (!/^y(es)?$/i.test(answer)) return 0;
  }
  return withEngine(g, 'image prune', async (engine) => {
    const r = engine.images.prune(p.flags.all, (id) => engine.containers.countUsingImage(id));
    if (r.untagged.length + r.deleted.length > 0) {
      const lines = [...r.untagged.map((t) => `untagged: ${t}`), ...r.deleted.map((d) => `deleted: ${d}`)];
      process.stdout.write(`Deleted Images:\n${lines.join('\n')}\n\n`);
    }
    process.stdout.write(`Total reclaimed space: ${humanSize(r.reclaimed)}\n`);
    return 0;
  });
}
