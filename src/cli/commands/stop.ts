/** `berth stop [-t N] [-s SIG] CONTAINER...`: the stop signal, then SIGKILL after the timeout. */
import type { FlagDef } from '../flags.ts';
import { eachRef, withEngine, parse, type Command } from '../common.ts';
import type { Globals } from '../globals.ts';
import { stopTimeout } from '../stop-timeout.ts';

const flags = [
  { name: 'timeout', short: 't', type: 'int', description: 'Seconds to wait before killing the container' },
  { name: 'time', type: 'int', hidden: true, description: 'Seconds to wait before killing the container (deprecated: --timeout)' },
  { name: 'signal', short: 's', type: 'string', description: 'Signal to send to the container' },
] as const satisfies readonly FlagDef[];

const cmd: Command<typeof flags> = {
  usage: '[OPTIONS] CONTAINER [CONTAINER...]',
  description: 'Stop one or more running containers',
  flags,
  args: [1, Infinity],
};

export async function main(argv: string[], g: Globals): Promise<number> {
  const p = parse(cmd, argv, 'stop');
  if (typeof p === 'number') return p;
  return withEngine(g, 'stop', async (engine) => {
    const timeout = stopTimeout(p);
    const signal = p.changed.has('signal') ? p.flags.signal : undefined;
    return await eachRef(p.args, 'stop', async (ref) => {
      await engine.stop(ref, timeout, signal);
      return ref;
    });
  });
}
