/** `berth export [-o FILE] CONTAINER`: the container's filesystem as a tar archive. */
import { createWriteStream, renameSync, rmSync } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import type { FlagDef } from '../flags.ts';
import { fail, parse, withEngine, type Command } from '../common.ts';
import { exportContainer } from '../../engine/copy.ts';
import { toStdout } from '../stream.ts';
import type { Globals } from '../globals.ts';

const flags = [{ name: 'output', short: 'o', type: 'string', description: 'Write to a file, instead of STDOUT' }] as const satisfies readonly FlagDef[];

const cmd: Command<typeof flags> = { usage: '[OPTIONS] CONTAINER', description: "Export a container's filesystem as a tar archive", flags, args: [1, 1] };

export async function main(argv: string[], g: Globals): Promise<number> {
  const p = parse(cmd, argv, 'export');
  if (typeof p === 'number') return p;
  const out = p.flags.output;
  if (!out && process.stdout.isTTY) return fail('cowardly refusing to save to a terminal. Use the -o flag or redirect', 1);
  return withEngine(g, 'export', async (engine) => {
    await exportContainer(engine, p.args[0]!, async (tar) => {
      // Written next to the target and renamed only when complete: a failed export leaves no partial file.
      if (!out) return toStdout(tar);
      const tmp = `${out}.berth-${process.pid}`;
      try {
        await pipeline(tar, createWriteStream(tmp, { mode: 0o600 }));
        renameSync(tmp, out);
      } catch (e) {
        rmSync(tmp, { force: true });
        throw e;
      }
    });
    return 0;
  });
}
