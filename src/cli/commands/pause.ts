/** `berth pause CONTAINER...` */
import { eachContainer, engineFor, parse, type Command } from '../common.ts';
import type { Globals } from '../main.ts';

const cmd: Command<readonly []> = {
  usage: 'CONTAINER [CONTAINER...]',
  description: 'Pause all processes within one or more containers',
  flags: [],
  args: [1, Infinity],
};

export async function main(argv: string[], g: Globals): Promise<number> {
  const p = parse(cmd, argv, 'pause');
  if (typeof p === 'number') return p;
  const engine = engineFor(g);
  try {
    return await eachContainer(p.args, 'pause', async (ref) => {
      await engine.pause(ref);
      return ref;
    });
  } finally {
    engine.close();
  }
}
