/** `berth tag SOURCE_IMAGE[:TAG] TARGET_IMAGE[:TAG]` */
import { withEngine, parse, type Command } from '../common.ts';
import { familiarName } from '../../registry/reference.ts';
import type { Globals } from '../globals.ts';

const cmd: Command<readonly []> = {
  usage: 'SOURCE_IMAGE[:TAG] TARGET_IMAGE[:TAG]',
  description: 'Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE',
  flags: [],
  args: [2, 2],
};

export async function main(argv: string[], g: Globals): Promise<number> {
  const p = parse(cmd, argv, 'tag');
  if (typeof p === 'number') return p;
  return withEngine(g, 'tag', async (engine) => {
    const img = engine.images.resolve(p.args[0]!);
    engine.images.tag(familiarName(p.args[1]!), img.id);
    return 0;
  });
}
