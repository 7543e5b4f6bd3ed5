/** `berth commit [-a A] [-c CHANGE] [-m MSG] [-p] CONTAINER [REPOSITORY[:TAG]]` */
import type { FlagDef } from '../flags.ts';
import { withEngine, parse, type Command } from '../common.ts';
import type { Globals } from '../globals.ts';

const flags = [
  { name: 'author', short: 'a', type: 'string', description: 'Author (e.g., "John Hannibal Smith <hannibal@a-team.com>")' },
  { name: 'change', short: 'c', type: 'list', description: 'Apply Dockerfile instruction to the created image' },
  { name: 'message', short: 'm', type: 'string', description: 'Commit message' },
  { name: 'pause', short: 'p', type: 'bool', default: true, description: 'Pause container during commit' },
] as const satisfies readonly FlagDef[];

const cmd: Command<typeof flags> = {
  usage: "[OPTIONS] CONTAINER [REPOSITORY[:TAG]]",
  description: "Create a new image from a container's changes",
  flags,
  args: [1, 2],
};

export async function main(argv: string[], g: Globals): Promise<number> {
  const p = parse(cmd, argv, 'commit');
  if (typeof p === 'number') return p;
  return withEngine(g, 'commit', async (engine) => {
    const id = await engine.commit(p.args[0]!, {
      tag: p.args[1],
      author: p.flags.author || undefined,
      message: p.flags.message || undefined,
      changes: p.flags.change,
      pause: p.flags.pause,
    });
    process.stdout.write(`sha256:${id}\n`);
    return 0;
  });
}
