/** `berth load [-i FILE] [-q]` */
import { createReadStream, statSync } from 'node:fs';
import type { FlagDef } from '../flags.ts';
import { withEngine, parse, type Command } from '../common.ts';
import { InvalidArgument } from '../../errors.ts';
import { loadImages } from '../../image/save-load.ts';
import type { Globals } from '../globals.ts';

const flags = [
  { name: 'input', short: 'i', type: 'string', description: 'Read from tar archive file, instead of STDIN' },
  { name: 'quiet', short: 'q', type: 'bool', description: 'Suppress the load output' },
] as const satisfies readonly FlagDef[];

const cmd: Command<typeof flags> = { usage: '[OPTIONS]', description: 'Load an image from a tar archive or STDIN', flags, args: [0, 0] };

export async function main(argv: string[], g: Globals): Promise<number> {
  const p = parse(cmd, argv, 'load');
  if (typeof p === 'number') return p;
  return withEngine(g, 'load', async (engine) => {
    const file = p.flags.input;
    if (file && !statSync(file, { throwIfNoEntry: false })?.isFile()) throw new InvalidArgument(`open ${file}: no such file`);
    if (!file && process.stdin.isTTY) throw new InvalidArgument('requested load from stdin, but stdin is empty');
    const lines = await loadImages(engine.images, file ? createReadStream(file, { highWaterMark: 1 << 20 }) : process.stdin);
    if (!p.flags.quiet) for (const l of lines) process.stdout.write(`${l}\n`);
    return 0;
  });
}
