/** `berth diff CONTAINER`: files added (A), changed (C) and deleted (D) in the container's filesystem. */
import { withEngine, parse, type Command } from '../common.ts';
import { containerChanges } from '../../engine/diff.ts';
import type { Globals } from '../globals.ts';

const cmd: Command<readonly []> = {
  usage: 'CONTAINER',
  description: "Inspect changes to files or directories on a container's filesystem",
  flags: [],
  args: [1, 1],
};

export async function main(argv: string[], g: Globals): Promise<number> {
  const p = parse(cmd, argv, 'diff');
  if (typeof p === 'number') return p;
  return withEngine(g, 'diff', async (engine) => {
    for (const c of containerChanges(engine, p.args[0]!)) process.stdout.write(`${c.kind} ${c.path}\n`);
    return 0;
  });
}
