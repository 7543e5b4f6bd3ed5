/** `berth port CONTAINER [PRIVATE_PORT[/PROTO]]`: the container's published ports. */
import { fail, parse, withEngine, type Command } from '../common.ts';
import { formatPort } from '../../network/ports.ts';
import type { Globals } from '../globals.ts';
import { isLive } from '../../engine/state.ts';

const cmd: Command<readonly []> = { usage: 'CONTAINER [PRIVATE_PORT[/PROTO]]', description: 'List port mappings or a specific mapping for the container', flags: [], args: [1, 2] };

export async function main(argv: string[], g: Globals): Promise<number> {
  const p = parse(cmd, argv, 'port');
  if (typeof p === 'number') return p;
  return withEngine(g, 'port', async (engine) => {
    const row = engine.inspect(p.args[0]!);
    const live = isLive(row.state);
    let ports = live ? (row.net.ports ?? []) : [];
    const want = p.args[1];
    if (want) {
      const [port, proto = 'tcp'] = want.split('/');
      ports = ports.filter((x) => String(x.containerPort) === port && x.protocol === proto);
      if (ports.length === 0) return fail(`Error: No public port '${port}/${proto}' published for ${p.args[0]}`, 1);
      for (const x of ports) process.stdout.write(`${formatPort(x).split(' -> ')[1]}\n`);
      return 0;
    }
    for (const x of ports) process.stdout.write(`${formatPort(x)}\n`);
    return 0;
  });
}
