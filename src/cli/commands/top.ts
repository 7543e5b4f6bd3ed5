/** `berth top CONTAINER [ps OPTIONS]`: the host's ps, narrowed to the container's processes. */
import { withEngine } from '../common.ts';
import { run } from '../../sys/run.ts';
import { InvalidArgument, RuntimeFailure } from '../../errors.ts';
import type { Globals } from '../globals.ts';

export async function main(argv: string[], g: Globals): Promise<number> {
  if (argv.length < 1 || argv[0] === '--help') {
    process.stdout.write('Usage:  berth top CONTAINER [ps OPTIONS]\n\nDisplay the running processes of a container\n');
    return argv.length < 1 ? 1 : 0;
  }
  return withEngine(g, 'top', async (engine) => {
    const pids = new Set((await engine.pids(argv[0]!)).map(String));
    const psArgs = argv.length > 1 ? argv.slice(1) : ['-ef'];
    const r = await run('ps', psArgs);
    if (r.code !== 0) throw new RuntimeFailure(`ps ${psArgs.join(' ')}: ${r.stderr.trim()}`);
    const lines = r.stdout.split('\n').filter(Boolean);
    const header = lines[0] ?? '';
    const col = header.trim().split(/\s+/).indexOf('PID');
    if (col < 0) throw new InvalidArgument(`Couldn't find PID field in ps output`);
    process.stdout.write(`${header}\n`);
    for (const l of lines.slice(1)) {
      if (pids.has(l.trim().split(/\s+/)[col]!)) process.stdout.write(`${l}\n`);
    }
    return 0;
  });
}
