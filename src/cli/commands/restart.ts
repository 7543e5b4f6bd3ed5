/** `berth restart [-t N] [-s SIG] CONTAINER...` */
import type { FlagDef } from '../flags.ts';
import { eachRef, engineFor, parse, report, type Command } from '../common.ts';
import type { Globals } from '../globals.ts';
import { stopTimeout } from '../stop-timeout.ts';

const flags = [
  { name: 'signal', short: 's', type: 'string', description: 'Signal to send to the container' },
  { name: 'timeout', short: 't', type: 'int', description: 'Seconds to wait before killing the container' },
  { name: 'time', type: 'int', hidden: true, description: 'Seconds to wait before killing the container (deprecated: --timeout)' },
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
  let timeout: number | undefined;
  try {
    timeout = stopTimeout(p);
  } catch (e) {
    return report(e, 'restart');
  }
  const engine = engineFor(g);
  try {
    return await eachRef(p.args, 'restart', async (ref) => {
      await engine.restart(ref, timeout, p.changed.has('signal') ? p.flags.signal : undefined);
      return ref;
    });
  } finally {
    engine.close();
  }
}
