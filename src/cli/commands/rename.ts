/** `berth rename CONTAINER NEW_NAME` */
import { withEngine, parse, type Command } from '../common.ts';
import type { Globals } from '../globals.ts';

const cmd: Command<readonly []> = {
  usage: 'CONTAINER NEW_NAME',
  description: 'Rename a container',
  flags: [],
  args: [2, 2],
};

export async function main(argv: string[], g: Globals): Promise<number> {
  const p = parse(cmd, argv, 'rename');
  if (typeof p === 'number') return p;
  return withEngine(g, 'rename', async (engine) => {
    await engine.rename(p.args[0]!, p.args[1]!);
    return 0;
  });
}
