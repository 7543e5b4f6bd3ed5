/** `berth push [-q] NAME[:TAG]` */
import type { FlagDef } from '../flags.ts';
import { withEngine, parse, type Command } from '../common.ts';
import { progressPrinter } from '../progress.ts';
import type { Globals } from '../globals.ts';

const flags = [
  { name: 'quiet', short: 'q', type: 'bool', description: 'Suppress verbose output' },
  { name: 'all-tags', short: 'a', type: 'bool', description: 'Push all tags of an image to the repository (not supported)' },
] as const satisfies readonly FlagDef[];

const cmd: Command<typeof flags> = { usage: '[OPTIONS] NAME[:TAG]', description: 'Upload an image to a registry', flags, args: [1, 1] };

export async function main(argv: string[], g: Globals): Promise<number> {
  const p = parse(cmd, argv, 'push');
  if (typeof p === 'number') return p;
  return withEngine(g, 'push', async (engine) => {
    if (p.flags['all-tags']) {
      process.stderr.write('Error: --all-tags is not supported; push tags one by one\n');
      return 1;
    }
    const r = await engine.push(p.args[0]!, { onProgress: p.flags.quiet ? undefined : progressPrinter() });
    if (p.flags.quiet) process.stdout.write(`${p.args[0]}\n`);
    void r;
    return 0;
  });
}
