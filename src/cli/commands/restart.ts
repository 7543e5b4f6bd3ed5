/** `berth restart [-t N] CONTAINER...` */
import type { FlagDef } from '../flags.ts';
import { eachRef, engineFor, parse, type Command } from '../common.ts';
import type { Globals } from '../globals.ts';

const flags = [
  { name: 'time', short: 't', type: 'int', description: 'Seconds to wait before killing the container' },
] as const satisfies readonly FlagDef[];

const cmd: Command<typeof flags> = {
  usage: '[OPTIONS] CONTAINER [CONTAINER...]',
  description: 'Restart one or more containers',
  flags,
  args: [1, Infinity],
};

export async function main(argv: string[], g: Globals): Promise<number> {
  const p = parse(cmd, argv, 'restart');
  if (typeof p === 'number') return p;
  const engine = engineFor(g);
  try {
    const timeout = p.changed.has('time') ? p.flags.time : undefined;
    return await eachRef(p.args, 'restart', async (ref) => {
      await engine.restart(ref, timeout);
      return ref;
    });
  } finally {
    engine.close();
  }
}
