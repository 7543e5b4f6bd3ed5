/** `berth logs [-f] [-t] [--tail N] CONTAINER`: stdout to stdout, stderr to stderr. */
import type { FlagDef } from '../flags.ts';
import { withEngine, parse, type Command } from '../common.ts';
import { InvalidArgument } from '../../errors.ts';
import type { Globals } from '../main.ts';

const flags = [
  { name: 'follow', short: 'f', type: 'bool', description: 'Follow log output' },
  { name: 'timestamps', short: 't', type: 'bool', description: 'Show timestamps' },
  { name: 'tail', short: 'n', type: 'string', default: 'all', description: 'Number of lines to show from the end of the logs' },
] as const satisfies readonly FlagDef[];

const cmd: Command<typeof flags> = { usage: '[OPTIONS] CONTAINER', description: 'Fetch the logs of a container', flags, args: [1, 1] };

export async function main(argv: string[], g: Globals): Promise<number> {
  const p = parse(cmd, argv, 'logs');
  if (typeof p === 'number') return p;
  return withEngine(g, 'logs', async (engine) => {
    const tail = p.flags.tail === 'all' ? undefined : Number(p.flags.tail);
    if (tail !== undefined && !Number.isInteger(tail)) throw new InvalidArgument(`invalid value for "tail": ${p.flags.tail}`);
    const ts = p.flags.timestamps;
    await engine.readLogs(
      p.args[0]!,
      (rec) => {
        const out = rec.stream === 'stderr' ? process.stderr : process.stdout;
        if (ts) out.write(`${new Date(rec.time).toISOString().replace(/\.(\d+)Z$/, (_, f: string) => `.${f.padEnd(9, '0')}Z`)} `);
        out.write(rec.data);
      },
      { follow: p.flags.follow, tail },
    );
    return 0;
  });
}
