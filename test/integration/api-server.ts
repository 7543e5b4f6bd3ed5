/**
 * Fixture for the API tests: a private engine root (setupEnv) and `berth serve` on a socket inside it,
 * started and stopped once per test file.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { BERTH, eventually, setupEnv, type Env } from './helpers.ts';

export interface ApiServer {
  env: Env;
  sock: string;
  /** What the server wrote to stderr so far (for failure messages). */
  log(): string;
  /** The server process is still running. */
  alive(): boolean;
  /** SIGTERM (SIGKILL after 10 s), then the root's teardown and leak check. */
  stop(): Promise<void>;
}

export async function startApiServer(name: string): Promise<ApiServer> {
  const env = setupEnv(name);
  const sock = join(env.root, 'api.sock');
  let log = '';
  const server = spawn(BERTH, ['--root', env.root, 'serve', '-H', `unix://${sock}`], { stdio: ['ignore', 'ignore', 'pipe'] });
  server.stderr!.on('data', (b: Buffer) => (log += b.toString()));
  assert.ok(await eventually(() => /API listening/.test(log), 20_000), `server did not start:\n${log}`);
  return {
    env,
    sock,
    log: () => log,
    alive: () => server.exitCode === null && server.signalCode === null,
    async stop() {
      if (server.exitCode === null && server.signalCode === null) {
        const exited = new Promise((r) => server.once('exit', r));
        server.kill('SIGTERM');
        const t = setTimeout(() => server.kill('SIGKILL'), 10_000);
        await exited;
        clearTimeout(t);
      }
      env.teardown();
    },
  };
}
