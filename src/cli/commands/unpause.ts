/** `berth unpause CONTAINER...` */
import { eachContainer, engineFor, parse, type Command } from '../common.ts';
import type { Globals } from '../main.ts';

const cmd: Command<readonly []> = {
  usage: 'CONTAINER [CONTAINER...]',
  description: 'Unpause all processes within one or more containers',
  flags: [],
  args: [1, Infinity],
};

export async function main(argv: string[], g: Globals): Promise<number> {
  const p = parse(cmd, argv, 'unpause');
  if (typeof p === 'number') return p;
  const engine = engineFor(g);
  try {
    return await eachContainer(p.args, 'unpause', async (ref) => {
      await engine.unpause(ref);
      return ref;
    });
  } finally {
    engine.close();
  }
}
