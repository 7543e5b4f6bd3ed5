/** `berth logout [SERVER]` */
import { withEngine, parse, type Command } from '../common.ts';
import type { Globals } from '../globals.ts';

const cmd: Command<readonly []> = { usage: '[SERVER]', description: 'Log out from a registry', flags: [], args: [0, 1] };

export async function main(argv: string[], g: Globals): Promise<number> {
  const p = parse(cmd, argv, 'logout');
  if (typeof p === 'number') return p;
  return withEngine(g, 'logout', async (engine) => {
    const server = p.args[0] ?? 'docker.io';
    const removed = await engine.logout(server);
    process.stdout.write(removed ? `Removing login credentials for ${server}\n` : `Not logged in to ${server}\n`);
    return 0;
  });
}
