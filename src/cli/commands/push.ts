/** `berth push [-a] [-q] NAME[:TAG]` */
import type { FlagDef } from '../flags.ts';
import { noContentTrust, withEngine, parse, type Command } from '../common.ts';
import { progressPrinter } from '../progress.ts';
import { parseImageName } from '../../registry/reference.ts';
import type { Globals } from '../globals.ts';

const flags = [
  { name: 'all-tags', short: 'a', type: 'bool', description: 'Push all tags of an image to the repository' },
  { name: 'quiet', short: 'q', type: 'bool', description: 'Suppress verbose output' },
  { name: 'disable-content-trust', type: 'bool', default: true, description: 'Skip image signing' },
] as const satisfies readonly FlagDef[];

const cmd: Command<typeof flags> = { usage: '[OPTIONS] NAME[:TAG]', description: 'Upload an image to a registry', flags, args: [1, 1] };

export async function main(argv: string[], g: Globals): Promise<number> {
  const p = parse(cmd, argv, 'push');
  if (typeof p === 'number') return p;
  return withEngine(g, 'push', async (engine) => {
    noContentTrust(p.flags['disable-content-trust']);
    const ref = p.args[0]!;
    const onProgress = p.flags.quiet ? undefined : progressPrinter();
    if (p.flags['all-tags']) {
      await engine.pushAll(ref, { onProgress });
    } else {
      const name = parseImageName(ref);
      if (!p.flags.quiet && name.tag === undefined && !name.digest) process.stdout.write('Using default tag: latest\n');
      await engine.push(ref, { onProgress });
    }
    if (p.flags.quiet) process.stdout.write(`${ref}\n`);
    return 0;
  });
}
