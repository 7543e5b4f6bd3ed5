/** `berth wait CONTAINER...`: block until each stops, print its exit code. */
import { eachContainer, engineFor, parse, type Command } from '../common.ts';
import type { Globals } from '../main.ts';

const cmd: Command<readonly []> = {
  usage: 'CONTAINER [CONTAINER...]',
  description: 'Block until one or more containers stop, then print their exit codes',
  flags: [],
  args: [1, Infinity],
};

export async function main(argv: string[], g: Globals): Promise<number> {
  const p = parse(cmd, argv, 'wait');
  if (typeof p === 'number') return p;
  const engine = engineFor(g);
  try {
    return await eachContainer(p.args, 'wait', async (ref) => String(await engine.wait(ref)));
  } finally {
    engine.close();
  }
}
