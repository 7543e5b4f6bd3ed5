/** `berth update [OPTIONS] CONTAINER...`: change resource limits, live. */
import type { FlagDef } from '../flags.ts';
import { eachRef, parse, withEngine, type Command } from '../common.ts';
import { toResourceOptions, updatableFlags } from '../resource-flags.ts';
import { InvalidArgument } from '../../errors.ts';
import { parseRestartFlag, validateRestartPolicy } from '../../engine/restart-policy.ts';
import type { UpdateOptions } from '../../engine/verbs/change.ts';
import type { Globals } from '../globals.ts';

const flags = [
  ...updatableFlags,
  { name: 'restart', type: 'string', description: 'Restart policy to apply when a container exits (no, always, on-failure[:N], unless-stopped)' },
] as const satisfies readonly FlagDef[];

const cmd: Command<typeof flags> = {
  usage: '[OPTIONS] CONTAINER [CONTAINER...]',
  description: 'Update configuration of one or more containers',
  flags,
  args: [1, Infinity],
};

export async function main(argv: string[], g: Globals): Promise<number> {
  const p = parse(cmd, argv, 'update');
  if (typeof p === 'number') return p;
  return withEngine(g, 'update', async (engine) => {
    const opts: UpdateOptions = toResourceOptions(p.flags, p.changed);
    if (p.changed.has('restart')) opts.restartPolicy = validateRestartPolicy(parseRestartFlag(p.flags.restart));
    if (Object.values(opts).every((v) => v === undefined)) {
      throw new InvalidArgument('you must provide one or more flags when using this command');
    }
    return eachRef(p.args, 'update', async (ref) => {
      for (const w of await engine.update(ref, opts)) process.stderr.write(`WARNING: ${w}\n`);
      return ref;
    });
  });
}
