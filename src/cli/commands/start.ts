/** `berth start [-a] CONTAINER...` */
import type { FlagDef } from '../flags.ts';
import { eachRef, engineFor, parse, report, type Command } from '../common.ts';
import type { Globals } from '../globals.ts';
import { Conflict, InvalidArgument } from '../../errors.ts';
import { DEFAULT_DETACH_KEYS, parseDetachKeys } from '../../engine/detach-keys.ts';

const flags = [
  { name: 'attach', short: 'a', type: 'bool', description: "Attach STDOUT/STDERR and forward signals" },
  { name: 'interactive', short: 'i', type: 'bool', description: "Attach container's STDIN" },
  { name: 'detach-keys', type: 'string', default: DEFAULT_DETACH_KEYS, description: 'Override the key sequence for detaching a container' },
] as const satisfies readonly FlagDef[];

const cmd: Command<typeof flags> = {
  usage: '[OPTIONS] CONTAINER [CONTAINER...]',
  description: 'Start one or more stopped containers',
  flags,
  args: [1, Infinity],
};

export async function main(argv: string[], g: Globals): Promise<number> {
  const p = parse(cmd, argv, 'start');
  if (typeof p === 'number') return p;
  const engine = engineFor(g);
  try {
    if (p.flags.attach || p.flags.interactive) {
      if (p.args.length > 1) return report(new InvalidArgument('you cannot start and attach multiple containers at once'), 'start');
      try {
        const row = engine.inspect(p.args[0]!);
        if (row.state === 'running') throw new Conflict(`container ${row.name} is already running: use berth attach`);
        const { attachAndWait } = await import('../attach-flow.ts');
        return await attachAndWait(engine, row.id, {
          start: true,
          tty: row.config.tty,
          stdin: p.flags.interactive && row.config.openStdin,
          detachKeys: parseDetachKeys(p.flags['detach-keys']),
          sigProxy: true,
        });
      } catch (e) {
        return report(e, 'start');
      }
    }
    return await eachRef(p.args, 'start', async (ref) => {
      await engine.start(ref);
      return ref;
    });
  } finally {
    engine.close();
  }
}
