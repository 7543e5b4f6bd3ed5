/** `berth start [-a] CONTAINER...` */
import type { FlagDef } from '../flags.ts';
import { eachRef, engineFor, fail, parse, report, type Command } from '../common.ts';
import type { Globals } from '../globals.ts';
import { Conflict, InvalidArgument } from '../../errors.ts';
import { DEFAULT_DETACH_KEYS, parseDetachKeys } from '../../engine/detach-keys.ts';
import { parseFilterArgs } from '../../engine/container-filters.ts';

const flags = [
  { name: 'attach', short: 'a', type: 'bool', description: "Attach STDOUT/STDERR and forward signals" },
  { name: 'interactive', short: 'i', type: 'bool', description: "Attach container's STDIN" },
  { name: 'detach-keys', type: 'string', default: DEFAULT_DETACH_KEYS, description: 'Override the key sequence for detaching a container' },
  { name: 'all', type: 'bool', description: 'Start every stopped container (the filters narrow it); with restart-policy filters, those their policy brings back after a reboot' },
  { name: 'filter', short: 'f', type: 'list', description: 'With --all: filter the containers (status, label, name, restart-policy, …)' },
] as const satisfies readonly FlagDef[];

const cmd: Command<typeof flags> = {
  usage: '[OPTIONS] CONTAINER [CONTAINER...]\n       berth start --all [--filter KEY=VALUE]...',
  description: 'Start one or more stopped containers',
  flags,
  args: [0, Infinity],
};

export async function main(argv: string[], g: Globals): Promise<number> {
  const p = parse(cmd, argv, 'start');
  if (typeof p === 'number') return p;
  if (!p.flags.all && p.args.length === 0) {
    return fail(`"berth start" requires at least 1 argument.\nSee 'berth start --help'.\n\nUsage:  berth start ${cmd.usage}\n\n${cmd.description}`, 1);
  }
  if (p.flags.all && p.args.length > 0) return report(new InvalidArgument('--all takes no container names'), 'start');
  if (!p.flags.all && p.flags.filter.length > 0) return report(new InvalidArgument('--filter is only for --all'), 'start');
  const engine = engineFor(g);
  try {
    if (p.flags.all) {
      if (p.flags.attach || p.flags.interactive) throw new InvalidArgument('you cannot start and attach multiple containers at once');
      // One line per container, as for names: its name, or the error that stopped it.
      let failed = false;
      for (const r of await engine.startAll(parseFilterArgs(p.flags.filter))) {
        if (r.error) {
          failed = true;
          process.stderr.write(`Error: ${r.name}: ${r.error}\n`);
        } else process.stdout.write(`${r.name}\n`);
      }
      return failed ? 1 : 0;
    }
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
