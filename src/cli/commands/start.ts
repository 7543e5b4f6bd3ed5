/** `berth start [-a] CONTAINER...` */
import type { FlagDef } from '../flags.ts';
import { eachContainer, engineFor, parse, report, type Command } from '../common.ts';
import type { Globals } from '../main.ts';

const flags = [
  { name: 'attach', short: 'a', type: 'bool', description: "Attach STDOUT/STDERR and forward signals" },
  { name: 'interactive', short: 'i', type: 'bool', description: "Attach container's STDIN" },
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
      if (p.args.length > 1) return report(new (await import('../../errors.ts')).InvalidArgument('you cannot start and attach multiple containers at once'), 'start');
      if (p.flags.interactive) return report(new (await import('../../errors.ts')).NotSupported('start -i (stdin attach) is not available yet'), 'start');
      const ref = p.args[0]!;
      try {
        const row = await engine.start(ref, { attached: true });
        await engine.readLogs(row.id, (rec) => (rec.stream === 'stderr' ? process.stderr : process.stdout).write(rec.data), { follow: true });
        const code = await engine.wait(row.id);
        await engine.cleanup(row.id).catch(() => undefined);
        return code;
      } catch (e) {
        return report(e, 'start');
      }
    }
    return await eachContainer(p.args, 'start', async (ref) => {
      await engine.start(ref);
      return ref;
    });
  } finally {
    engine.close();
  }
}
