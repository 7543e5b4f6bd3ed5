/** `berth exec [-d] [-i] [-t] [-u] [-e] [--env-file] [-w] [--privileged] CONTAINER COMMAND [ARG...]` */
import type { FlagDef } from '../flags.ts';
import { parse, withEngine, type Command } from '../common.ts';
import { DEFAULT_DETACH_KEYS, parseDetachKeys } from '../../engine/detach-keys.ts';
import { pump } from '../stream.ts';
import { clientEnv, readEnvFile } from '../create-flags.ts';
import type { Globals } from '../globals.ts';

const flags = [
  { name: 'detach', short: 'd', type: 'bool', description: 'Detached mode: run command in the background' },
  { name: 'interactive', short: 'i', type: 'bool', description: 'Keep STDIN open even if not attached' },
  { name: 'tty', short: 't', type: 'bool', description: 'Allocate a pseudo-TTY' },
  { name: 'user', short: 'u', type: 'string', description: 'Username or UID (format: "<name|uid>[:<group|gid>]")' },
  { name: 'env', short: 'e', type: 'list', description: 'Set environment variables' },
  { name: 'env-file', type: 'list', description: 'Read in a file of environment variables' },
  { name: 'workdir', short: 'w', type: 'string', description: 'Working directory inside the container' },
  { name: 'privileged', type: 'bool', description: 'Give extended privileges to the command' },
  { name: 'detach-keys', type: 'string', default: DEFAULT_DETACH_KEYS, description: 'Override the key sequence for detaching a container' },
  { name: 'preserve-fds', type: 'int', description: 'Pass N additional file descriptors (3 and up) to the process' },
] as const satisfies readonly FlagDef[];

const cmd: Command<typeof flags> = {
  usage: '[OPTIONS] CONTAINER COMMAND [ARG...]',
  description: 'Execute a command in a running container',
  flags,
  interspersed: false,
  args: [2, Infinity],
};

export async function main(argv: string[], g: Globals): Promise<number> {
  const p = parse(cmd, argv, 'exec');
  if (typeof p === 'number') return p;
  const [ref, ...command] = p.args as [string, ...string[]];
  return withEngine(g, 'exec', async (engine) => {
    const detachKeys = parseDetachKeys(p.flags['detach-keys']);
    const handle = await engine.exec(ref, {
      cmd: command,
      env: [...p.flags['env-file'].flatMap(readEnvFile), ...p.flags.env].map(clientEnv),
      user: p.flags.user || undefined,
      workdir: p.flags.workdir || undefined,
      tty: p.flags.tty,
      stdin: p.flags.interactive,
      detach: p.flags.detach,
      privileged: p.flags.privileged,
      preserveFds: p.flags['preserve-fds'] || undefined,
    });
    if (p.flags.detach) return 0;
    const how = await pump(handle.stream!, { tty: p.flags.tty, stdin: p.flags.interactive, detachKeys, resize: handle.resize });
    if (how === 'detached') return 0;
    return await handle.exit;
  });
}
