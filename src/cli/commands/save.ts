/** `berth save [-o FILE] [--format docker-archive|oci-archive] IMAGE...` */
import { createWriteStream, renameSync, rmSync } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { Readable } from 'node:stream';
import type { FlagDef } from '../flags.ts';
import { withEngine, parse, type Command } from '../common.ts';
import { InvalidArgument } from '../../errors.ts';
import { saveImages } from '../../image/save-load.ts';
import type { Globals } from '../globals.ts';

const flags = [
  { name: 'output', short: 'o', type: 'string', description: 'Write to a file, instead of STDOUT' },
  { name: 'format', type: 'string', default: 'docker-archive', description: 'Archive format: docker-archive or oci-archive' },
] as const satisfies readonly FlagDef[];

const cmd: Command<typeof flags> = {
  usage: '[OPTIONS] IMAGE [IMAGE...]',
  description: 'Save one or more images to a tar archive (streamed to STDOUT by default)',
  flags,
  args: [1, Infinity],
};

export async function main(argv: string[], g: Globals): Promise<number> {
  const p = parse(cmd, argv, 'save');
  if (typeof p === 'number') return p;
  return withEngine(g, 'save', async (engine) => {
    const format = ({ 'docker-archive': 'docker', 'oci-archive': 'oci' } as const)[p.flags.format as 'docker-archive' | 'oci-archive'];
    if (!format) throw new InvalidArgument(`invalid --format "${p.flags.format}": use docker-archive or oci-archive`);
    const out = p.flags.output;
    if (!out && process.stdout.isTTY) throw new InvalidArgument('cowardly refusing to save to a terminal. Use the -o flag or redirect');
    const stream = Readable.from(saveImages(engine.images, p.args, format));
    if (!out) {
      await pipeline(stream, process.stdout);
      return 0;
    }
    // Written beside the target and renamed: a failed save leaves no half archive behind.
    const tmp = `${out}.berth-tmp-${process.pid}`;
    try {
      await pipeline(stream, createWriteStream(tmp));
      renameSync(tmp, out);
    } catch (e) {
      rmSync(tmp, { force: true });
      throw e;
    }
    return 0;
  });
}
