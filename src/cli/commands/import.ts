/** `berth import [-c CHANGE] [-m MSG] FILE|- [REPOSITORY[:TAG]]`: a rootfs tarball as a one-layer image. */
import type { FlagDef } from '../flags.ts';
import { parse, withEngine, type Command } from '../common.ts';
import type { Globals } from '../globals.ts';

const flags = [
  { name: 'change', short: 'c', type: 'list', description: 'Apply Dockerfile instruction to the created image' },
  { name: 'message', short: 'm', type: 'string', description: 'Set commit message for imported image' },
  { name: 'platform', type: 'string', description: 'Set platform if server is multi-platform capable' },
] as const satisfies readonly FlagDef[];

const cmd: Command<typeof flags> = {
  usage: '[OPTIONS] file|-  [REPOSITORY[:TAG]]',
  description: 'Import the contents from a tarball to create a filesystem image',
  flags,
  args: [1, 2],
};

export async function main(argv: string[], g: Globals): Promise<number> {
  const p = parse(cmd, argv, 'import');
  if (typeof p === 'number') return p;
  return withEngine(g, 'import', async (engine) => {
    const file = p.args[0]!;
    // `-` streams stdin straight into the blob store: no spool file.
    const id = await engine.images.importTar(file === '-' ? process.stdin : file, p.args[1], p.flags.change, p.flags.message);
    process.stdout.write(`sha256:${id}\n`);
    return 0;
  });
}
