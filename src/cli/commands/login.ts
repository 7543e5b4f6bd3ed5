/**
 * `berth login [-u USER] [-p PASS | --password-stdin] [SERVER]`: credentials into the docker-compatible auth file,
 * or into the credential helper it names for the server (credHelpers, credsStore).
 */
import type { FlagDef } from '../flags.ts';
import { withEngine, parse, type Command } from '../common.ts';
import { InvalidArgument } from '../../errors.ts';
import type { Globals } from '../globals.ts';

const flags = [
  { name: 'username', short: 'u', type: 'string', description: 'Username' },
  { name: 'password', short: 'p', type: 'string', description: 'Password' },
  { name: 'password-stdin', type: 'bool', description: 'Take the password from stdin' },
] as const satisfies readonly FlagDef[];

const cmd: Command<typeof flags> = { usage: '[OPTIONS] [SERVER]', description: 'Log in to a registry', flags, args: [0, 1] };

export async function main(argv: string[], g: Globals): Promise<number> {
  const p = parse(cmd, argv, 'login');
  if (typeof p === 'number') return p;
  return withEngine(g, 'login', async (engine) => {
    const server = p.args[0] ?? 'docker.io';
    const user = p.flags.username;
    let password = p.flags.password;
    if (p.flags['password-stdin']) {
      if (password) throw new InvalidArgument('--password and --password-stdin are mutually exclusive');
      if (!user) throw new InvalidArgument('Must provide --username with --password-stdin');
      const chunks: Buffer[] = [];
      for await (const c of process.stdin) chunks.push(c as Buffer);
      password = Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
    }
    if (!user || !password) throw new InvalidArgument('Username and password are required (-u and -p or --password-stdin): there is no interactive prompt');
    if (p.flags.password) process.stderr.write('WARNING! Using --password via the CLI is insecure. Use --password-stdin.\n');
    await engine.login(server, user, password);
    process.stdout.write('Login Succeeded\n');
    return 0;
  });
}
