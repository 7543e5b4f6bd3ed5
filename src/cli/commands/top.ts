/** `berth top CONTAINER [ps OPTIONS]`: the host's ps, narrowed to the container's processes. */
import { withEngine } from '../common.ts';
import type { Globals } from '../globals.ts';

export async function main(argv: string[], g: Globals): Promise<number> {
  if (argv.length < 1 || argv[0] === '--help') {
    process.stdout.write('Usage:  berth top CONTAINER [ps OPTIONS]\n\nDisplay the running processes of a container\n');
    return argv.length < 1 ? 1 : 0;
  }
  return withEngine(g, 'top', async (engine) => {
    const t = await engine.top(argv[0]!, argv.slice(1));
    process.stdout.write([t.header, ...t.lines].map((l) => `${l}\n`).join(''));
    return 0;
  });
}
