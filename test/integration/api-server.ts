/**
 * Fixture for the API tests: a private engine root (setupEnv) and `berth serve` on a socket inside it,
 * started and stopped once per test file.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { request as httpRequest, type IncomingHttpHeaders, type IncomingMessage } from 'node:http';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { startRegistry, type RegistryFixture } from '../fixtures/registry.ts';
import { BERTH, eventually, runAsync, setupEnv, type Env, type Result } from './helpers.ts';

export const DOCKER = '/usr/local/bin/docker';
/** The skip option for tests that need the real docker CLI. */
export const needsDockerCli = { skip: existsSync(DOCKER) ? false : `no docker CLI at ${DOCKER}` };

export interface ApiServer {
  env: Env;
  sock: string;
  /** The server process's pid. */
  pid: number;
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
    pid: server.pid!,
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

/** The environment that points the docker CLI at a test server (its own config dir, no hints). */
export function dockerEnv(api: ApiServer): NodeJS.ProcessEnv {
  return { ...process.env, DOCKER_HOST: `unix://${api.sock}`, DOCKER_CONFIG: join(api.env.root, 'docker-config'), DOCKER_CLI_HINTS: 'false' };
}

/** Run the docker CLI against a test server and wait for it. */
export function docker(api: ApiServer, args: string[], opts: { input?: string | Buffer; timeoutMs?: number; cwd?: string } = {}): Result {
  const r = spawnSync(DOCKER, args, { encoding: 'utf8', input: opts.input, timeout: opts.timeoutMs ?? 60_000, env: dockerEnv(api), cwd: opts.cwd, maxBuffer: 64 << 20 });
  if (r.error) throw r.error;
  return { code: r.status ?? 128, stdout: r.stdout, stderr: r.stderr };
}

/** The docker CLI in the background: for what must not block this process (a registry's token server). */
export function dockerAsync(api: ApiServer, args: string[], input?: string): Promise<Result> {
  return runAsync(DOCKER, args, { env: dockerEnv(api), input: input ?? '' });
}

/** Assert a docker CLI run succeeded; the failure message carries its stderr and the server's log. */
export function assertDockerOk(api: ApiServer, args: string[], r: Result): Result {
  assert.equal(r.code, 0, `docker ${args.join(' ')} failed (${r.code}):\n${r.stderr}\nserver:\n${api.log().slice(-3000)}`);
  return r;
}

export interface Reply {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
  text: string;
}

/** One HTTP request over a unix socket, the whole reply read. An object body is sent as JSON. */
export function call(socketPath: string, method: string, path: string, body?: string | object | Buffer, headers: Record<string, string> = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : Buffer.isBuffer(body) || typeof body === 'string' ? body : JSON.stringify(body);
    const type = payload !== undefined && !Buffer.isBuffer(payload) ? { 'Content-Type': 'application/json' } : {};
    const req = httpRequest({ socketPath, method, path, headers: { ...type, ...headers } }, (res) => {
      readAll(res).then((b) => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: b, text: b.toString() }), reject);
    });
    req.on('error', reject);
    req.end(payload);
  });
}

/** Start a request and hand back its response as soon as the headers are in. */
export function open(socketPath: string, method: string, path: string): Promise<{ res: IncomingMessage; destroy(): void }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ socketPath, method, path }, (res) => resolve({ res, destroy: () => req.destroy() }));
    req.on('error', reject);
    req.end();
  });
}

export function readAll(res: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    res.on('data', (c: Buffer) => chunks.push(c));
    res.on('end', () => resolve(Buffer.concat(chunks)));
    res.on('error', reject);
  });
}

/**
 * A local registry holding this root's busybox as `<registry>/<path>` (pushed, then untagged here, so a
 * pull has to download it). Undefined, with the test skipped, where no registry can be started. The
 * caller stops it.
 */
export async function registryWithBusybox(t: TestContext, env: Env, path: string): Promise<{ reg: RegistryFixture; ref: string } | undefined> {
  let reg: RegistryFixture;
  try {
    reg = await startRegistry();
  } catch (e) {
    if ((e as Error).message.startsWith('SKIP:')) {
      t.skip((e as Error).message);
      return undefined;
    }
    throw e;
  }
  const ref = `${reg.host}/${path}`;
  try {
    assert.equal(env.berth(['tag', 'busybox', ref]).code, 0);
    const push = env.berth(['push', '-q', ref]);
    assert.equal(push.code, 0, push.stderr);
    assert.equal(env.berth(['rmi', ref]).code, 0);
  } catch (e) {
    await reg.stop();
    throw e;
  }
  return { reg, ref };
}
