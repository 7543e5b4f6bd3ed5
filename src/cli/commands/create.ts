/** `berth create`: make a container without starting it; prints its id. */
import { withEngine, parse, type Command } from '../common.ts';
import { createFlags, toCreateOptions } from '../create-flags.ts';
import type { Globals } from '../globals.ts';
import { ensureImage } from '../pull-flow.ts';
import { withCidFile } from '../cidfile.ts';

const cmd: Command<typeof createFlags> = {
  usage: '[OPTIONS] IMAGE [COMMAND] [ARG...]',
  description: 'Create a new container',
  flags: createFlags,
  interspersed: false,
  args: [1, Infinity],
};

export async function main(argv: string[], g: Globals): Promise<number> {
  const p = parse(cmd, argv, 'create');
  if (typeof p === 'number') return p;
  return withEngine(g, 'create', async (engine) => {
    await engine.repair();
    const opts = toCreateOptions(p.flags, p.changed, p.args);
    const ctr = await withCidFile(p.flags.cidfile, async () => {
      await ensureImage(engine, opts.image, p.flags.pull, p.flags.quiet, p.flags.platform || undefined);
      return engine.create(opts);
    });
    process.stdout.write(`${ctr.id}\n`);
    return 0;
  });
}
