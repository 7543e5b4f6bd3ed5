/** `berth logs [-f] [-t] [--tail N] CONTAINER`: stdout to stdout, stderr to stderr. */
import type { FlagDef } from '../flags.ts';
import { withEngine, parse, type Command } from '../common.ts';
import { InvalidArgument } from '../../errors.ts';
import type { Globals } from '../globals.ts';

const flags = [
  { name: 'follow', short: 'f', type: 'bool', description: 'Follow log output' },
  { name: 'timestamps', short: 't', type: 'bool', description: 'Show timestamps' },
  { name: 'tail', short: 'n', type: 'string', default: 'all', description: 'Number of lines to show from the end of the logs' },
  { name: 'since', type: 'string', description: 'Show logs since timestamp (e.g. 2013-01-02T13:23:37Z) or relative (e.g. 42m for 42 minutes)' },
  { name: 'until', type: 'string', description: 'Show logs before a timestamp (e.g. 2013-01-02T13:23:37Z) or relative (e.g. 42m for 42 minutes)' },
  { name: 'details', type: 'bool', description: 'Show extra details provided to logs' },
] as const satisfies readonly FlagDef[];

const cmd: Command<typeof flags> = { usage: '[OPTIONS] CONTAINER', description: 'Fetch the logs of a container', flags, args: [1, 1] };

import { parseTimeArg } from '../../engine/time.ts';
import { linePrefixes } from '../../engine/log-lines.ts';
import { SerialWriter } from '../output.ts';

export async function main(argv: string[], g: Globals): Promise<number> {
  const p = parse(cmd, argv, 'logs');
  if (typeof p === 'number') return p;
  return withEngine(g, 'logs', async (engine) => {
    const tail = p.flags.tail === 'all' ? undefined : Number(p.flags.tail);
    if (tail !== undefined && !Number.isInteger(tail)) throw new InvalidArgument(`invalid value for "tail": ${p.flags.tail}`);
    const prefix = linePrefixes({ timestamps: p.flags.timestamps, details: p.flags.details });
    const stdout = new SerialWriter(process.stdout);
    const stderr = new SerialWriter(process.stderr);
    await engine.readLogs(
      p.args[0]!,
      (rec) => {
        const out = rec.stream === 'stderr' ? stderr : stdout;
        const before = prefix(rec);
        if (before) out.write(before);
        out.write(rec.data);
      },
      {
        follow: p.flags.follow,
        tail,
        since: p.changed.has('since') ? parseTimeArg(p.flags.since, '--since') : undefined,
        until: p.changed.has('until') ? parseTimeArg(p.flags.until, '--until') : undefined,
      },
    );
    await Promise.all([stdout.flushed(), stderr.flushed()]);
    return 0;
  });
}
