/** `berth attach [--no-stdin] [--sig-proxy] [--detach-keys] CONTAINER`: the running container's streams. */
import type { FlagDef } from '../flags.ts';
import { parse, withEngine, type Command } from '../common.ts';
import { DEFAULT_DETACH_KEYS, parseDetachKeys } from '../../engine/detach-keys.ts';
import { attachAndWait } from '../attach-flow.ts';
import { Conflict } from '../../errors.ts';
import type { Globals } from '../globals.ts';

const flags = [
  { name: 'no-stdin', type: 'bool', description: 'Do not attach STDIN' },
  { name: 'sig-proxy', type: 'bool', default: true, description: 'Proxy all received signals to the process' },
  { name: 'detach-keys', type: 'string', default: DEFAULT_DETACH_KEYS, description: 'Override the key sequence for detaching a container' },
] as const satisfies readonly FlagDef[];

const cmd: Command<typeof flags> = {
  usage: '[OPTIONS] CONTAINER',
  description: "Attach local standard input, output, and error streams to a running container",
  flags,
  args: [1, 1],
};

export async function main(argv: string[], g: Globals): Promise<number> {
  const p = parse(cmd, argv, 'attach');
  if (typeof p === 'number') return p;
  return withEngine(g, 'attach', async (engine) => {
    const row = engine.inspect(p.args[0]!);
    if (row.state === 'paused') throw new Conflict('You cannot attach to a paused container, unpause it first');
    if (row.state !== 'running') throw new Conflict('You cannot attach to a stopped container, start it first');
    return attachAndWait(engine, row.id, {
      start: false,
      tty: row.config.tty,
      stdin: row.config.openStdin && !p.flags['no-stdin'],
      detachKeys: parseDetachKeys(p.flags['detach-keys']),
      sigProxy: p.flags['sig-proxy'],
    });
  });
}
