/**
 * `berth system reset [-f]` (podman's): remove every container, image, volume and network of the root, with
 * what the host holds for them, and the root's state. Asks first, on stdin whatever it is (a pipe's "y"
 * answers too), unless -f; no answer at all (stdin at its end at once) is an error and removes nothing.
 */
import type { FlagDef } from '../flags.ts';
import { engineFor, fail, parse, withEngine, type Command } from '../common.ts';
import type { Globals } from '../globals.ts';

const flags = [{ name: 'force', short: 'f', type: 'bool', description: 'Do not prompt for confirmation' }] as const satisfies readonly FlagDef[];

const cmd: Command<typeof flags> = {
  usage: '[OPTIONS]',
  description:
    'Reset the engine root to its first state: every container is stopped and removed, and every image, volume\n' +
    'and network with them, and the root\'s state (its configuration files stay)',
  flags,
  args: [0, 0],
};

/** The first line on stdin (or what came before its end); undefined when it ended with nothing. */
async function readAnswer(): Promise<string | undefined> {
  let text = '';
  for await (const chunk of process.stdin) {
    text += String(chunk);
    const nl = text.indexOf('\n');
    if (nl >= 0) return text.slice(0, nl);
  }
  return text === '' ? undefined : text;
}

export async function main(argv: string[], g: Globals): Promise<number> {
  const p = parse(cmd, argv, 'system reset');
  if (typeof p === 'number') return p;
  if (!p.flags.force) {
    const root = engineFor(g).root;
    process.stdout.write(
      `WARNING! This will remove everything of the engine root ${root}:\n` +
        '        - all containers (running ones are killed), with their exec sessions\n' +
        '        - all images and their layers\n' +
        '        - all volumes\n' +
        '        - all networks, with their bridges, address leases and firewall rules\n' +
        '        - the mounts and cgroups of its containers\n' +
        '        - the state database and the rest of the root\'s state (daemon.json, registries.json and hooks.d stay)\n' +
        'Are you sure you want to continue? [y/N] ',
    );
    const answer = await readAnswer();
    if (answer === undefined) return fail('\nError: no answer on standard input: nothing was removed', 1);
    if (!/^y(es)?$/i.test(answer.trim())) return 0;
  }
  return withEngine(g, 'system reset', async (engine) => {
    const { errors } = await engine.reset();
    for (const e of errors) process.stderr.write(`Error: ${e}\n`);
    return errors.length > 0 ? 1 : 0;
  });
}
