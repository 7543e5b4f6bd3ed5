/**
 * `berth serve [-H unix:///path.sock]` (also `berth system service [URI]`): the Docker Engine API on a unix
 * socket, over the same engine root as every other verb. Runs until SIGINT or SIGTERM.
 */
import { unlinkSync } from 'node:fs';
import type { FlagDef } from '../flags.ts';
import { fail, parse, report, type Command } from '../common.ts';
import { Engine } from '../../engine/engine.ts';
import type { Globals } from '../main.ts';

export const DEFAULT_SOCKET = 'unix:///run/berth/berth.sock';

const flags = [
  { name: 'host', short: 'H', type: 'list', description: `Socket to listen on (default "${DEFAULT_SOCKET}")` },
] as const satisfies readonly FlagDef[];

const cmd: Command<typeof flags> = {
  usage: '[OPTIONS] [URI]',
  description: 'Serve the Docker Engine API on a unix socket',
  flags,
  args: [0, 1],
};

export async function main(argv: string[], g: Globals): Promise<number> {
  const p = parse(cmd, argv, g.verb || 'serve');
  if (typeof p === 'number') return p;
  const uris = [...p.flags.host, ...p.args];
  if (uris.length === 0) uris.push(DEFAULT_SOCKET);
  const paths: string[] = [];
  for (const u of uris) {
    const m = /^unix:\/\/(\/.+)$/.exec(u) ?? (/^\//.test(u) ? [u, u] : null);
    if (!m) return fail(`Error: unsupported address ${u}: only unix:///path sockets are served`, 125);
    paths.push(m[1]!);
  }
  const { apiWarn } = await import('../../api/state.ts');
  // The same root as every verb (--root, else $BERTH_ROOT); the engine's warnings go to the request that caused them.
  const engine = new Engine({ root: g.root ?? process.env.BERTH_ROOT ?? '/var/lib/berth', warn: apiWarn });
  try {
    return await serve(engine, paths);
  } catch (e) {
    return report(e, 'serve');
  } finally {
    engine.close();
  }
}

/** Listen on every socket (one server each, sharing the engine and the API's state) until SIGINT/SIGTERM. */
async function serve(engine: Engine, paths: string[]): Promise<number> {
  const { createApiServer, listenUnix } = await import('../../api/server.ts');
  // A daemon outlives any one request: a stray rejection is reported, not fatal to every client.
  const onStray = (e: unknown) => process.stderr.write(`berth serve: unhandled: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  process.on('unhandledRejection', onStray);
  const first = createApiServer(engine);
  const servers = [first, ...paths.slice(1).map(() => createApiServer(engine, first.state))];
  const listening: string[] = [];
  try {
    for (let i = 0; i < paths.length; i++) {
      await listenUnix(servers[i]!.server, paths[i]!);
      listening.push(paths[i]!);
      process.stderr.write(`API listening on ${paths[i]}\n`);
    }
    await new Promise<void>((resolve) => {
      const stop = () => {
        process.off('SIGINT', stop);
        process.off('SIGTERM', stop);
        resolve();
      };
      process.on('SIGINT', stop);
      process.on('SIGTERM', stop);
    });
    return 0;
  } finally {
    await Promise.all(servers.map((s) => s.close()));
    for (const path of listening) unlinkQuiet(path);
    process.off('unhandledRejection', onStray);
  }
}

function unlinkQuiet(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    /* gone already */
  }
}
