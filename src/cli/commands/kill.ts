/** `berth kill [-s SIG] CONTAINER...` */
import type { FlagDef } from '../flags.ts';
import { eachRef, withEngine, parse, report, type Command } from '../common.ts';
import { parseSignal } from '../../engine/signals.ts';
import type { Globals } from '../globals.ts';

const flags = [
  { name: 'signal', short: 's', type: 'string', default: 'KILL', description: 'Signal to send to the container' },
] as const satisfies readonly FlagDef[];

const cmd: Command<typeof flags> = {
  usage: '[OPTIONS] CONTAINER [CONTAINER...]',
  description: 'Kill one or more running containers',
  flags,
  args: [1, Infinity],
};

export async function main(argv: string[], g: Globals): Promise<number> {
  const p = parse(cmd, argv, 'kill');
  if (typeof p === 'number') return p;
  try {
    parseSignal(p.flags.signal);
  } catch (e) {
    return report(e, 'kill');
  }
  return withEngine(g, 'kill', async (engine) => {
    return await eachRef(p.args, 'kill', async (ref) => {
      await engine.kill(ref, p.flags.signal);
      return ref;
    });
  });
}
