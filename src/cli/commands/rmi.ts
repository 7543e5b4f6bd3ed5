/** `berth rmi [-f] IMAGE...` */
import type { FlagDef } from '../flags.ts';
import { engineFor, parse, report, type Command } from '../common.ts';
import type { Globals } from '../globals.ts';

const flags = [
  { name: 'force', short: 'f', type: 'bool', description: 'Force removal of the image' },
  { name: 'no-prune', type: 'bool', description: 'Do not delete untagged parents' },
] as const satisfies readonly FlagDef[];

const cmd: Command<typeof flags> = { usage: '[OPTIONS] IMAGE [IMAGE...]', description: 'Remove one or more images', flags, args: [1, Infinity] };

export async function main(argv: string[], g: Globals): Promise<number> {
  const p = parse(cmd, argv, 'rmi');
  if (typeof p === 'number') return p;
  const engine = engineFor(g);
  let code = 0;
  try {
    for (const ref of p.args) {
      try {
        for (const line of engine.images.remove(ref, p.flags.force, (id) => engine.containers.countUsingImage(id), p.flags['no-prune'])) {
          process.stdout.write(`${line}\n`);
        }
      } catch (e) {
        code = report(e, 'rmi');
      }
    }
    return code;
  } finally {
    engine.close();
  }
}
