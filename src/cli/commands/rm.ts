/** `berth rm [-f] CONTAINER...` */
import type { FlagDef } from '../flags.ts';
import { eachRef, withEngine, parse, type Command } from '../common.ts';
import type { Globals } from '../globals.ts';
import { unlink } from '../../engine/network-attach.ts';

const flags = [
  { name: 'force', short: 'f', type: 'bool', description: 'Force the removal of a running container (uses SIGKILL)' },
  { name: 'volumes', short: 'v', type: 'bool', description: 'Remove anonymous volumes associated with the container' },
  { name: 'link', short: 'l', type: 'bool', description: 'Remove the specified link (/PARENT/ALIAS)' },
] as const satisfies readonly FlagDef[];

const cmd: Command<typeof flags> = {
  usage: '[OPTIONS] CONTAINER [CONTAINER...]',
  description: 'Remove one or more containers',
  flags,
  args: [1, Infinity],
};

export async function main(argv: string[], g: Globals): Promise<number> {
  const p = parse(cmd, argv, 'rm');
  if (typeof p === 'number') return p;
  return withEngine(g, 'rm', async (engine) => {
    await engine.repair();
    return await eachRef(p.args, 'rm', async (ref) => {
      if (p.flags.link) await unlink(engine, ref);
      else await engine.remove(ref, p.flags.force, p.flags.volumes);
      return ref;
    });
  });
}
