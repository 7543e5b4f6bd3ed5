/** `berth pull [-q] [--platform P] NAME[:TAG|@DIGEST]` */
import type { FlagDef } from '../flags.ts';
import { withEngine, parse, type Command } from '../common.ts';
import { progressPrinter } from '../progress.ts';
import type { Globals } from '../globals.ts';

const flags = [
  { name: 'quiet', short: 'q', type: 'bool', description: 'Suppress verbose output' },
  { name: 'platform', type: 'string', description: 'Set platform if server is multi-platform capable' },
  { name: 'all-tags', short: 'a', type: 'bool', description: 'Download all tagged images in the repository (not supported)' },
] as const satisfies readonly FlagDef[];

const cmd: Command<typeof flags> = { usage: '[OPTIONS] NAME[:TAG|@DIGEST]', description: 'Download an image from a registry', flags, args: [1, 1] };

export async function main(argv: string[], g: Globals): Promise<number> {
  const p = parse(cmd, argv, 'pull');
  if (typeof p === 'number') return p;
  return withEngine(g, 'pull', async (engine) => {
    if (p.flags['all-tags']) {
      process.stderr.write('Error: --all-tags is not supported; pull tags one by one\n');
      return 1;
    }
    const r = await engine.pull(p.args[0]!, { platform: p.flags.platform || undefined, onProgress: p.flags.quiet ? undefined : progressPrinter() });
    process.stdout.write(`${r.canonical}\n`);
    return 0;
  });
}
