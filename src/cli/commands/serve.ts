/**
 * `berth serve [-H unix:///path.sock] [-H tcp://127.0.0.1:2375] [--tlsverify …]` (also `berth system
 * service [URI]`): the Docker Engine API on unix sockets and TCP ports, over the same engine root as every
 * other verb. TCP takes TLS as dockerd's does (src/api/listen.ts). Runs until SIGINT or SIGTERM.
 */
import { unlinkSync } from 'node:fs';
import type { FlagDef } from '../flags.ts';
import { fail, parse, report, type Command } from '../common.ts';
import { Engine } from '../../engine/engine.ts';
import { loadMountCalls } from '../../sys/mount-calls.ts';
import { rootlessUser } from '../../sys/user-namespace.ts';
import { userPaths } from '../../engine/user-paths.ts';
import { loadNsPin } from '../../sys/ns-pin.ts';
import { loadPosixSpawn } from '../../sys/posix-spawn.ts';
import { keepUnpackWorkers } from '../../image/unpack-pool.ts';
import { isBerthError } from '../../errors.ts';
import { engineRoot, type Globals } from '../globals.ts';
import type { ListenAddress, TlsConfig } from '../../api/listen.ts';
import { spawnOffThread } from '../../sys/spawn-thread.ts';
import { raiseThisThread } from '../../sys/thread-priority.ts';

export const DEFAULT_SOCKET = 'unix:///run/berth/berth.sock';

const flags = [
  { name: 'host', short: 'H', type: 'list', description: `Address to listen on: unix:///path or tcp://host:port, repeatable (default "${DEFAULT_SOCKET}"; an ordinary user's: its runtime dir's berth.sock)` },
  { name: 'tls', type: 'bool', description: 'Serve TCP over TLS (implied by --tlsverify)' },
  { name: 'tlsverify', type: 'bool', description: 'Serve TCP over TLS and require client certificates signed by --tlscacert' },
  { name: 'tlscacert', type: 'string', description: 'Trust client certs signed only by this CA (default "$DOCKER_CERT_PATH/ca.pem", else ~/.docker/ca.pem)' },
  { name: 'tlscert', type: 'string', description: 'Path to the TLS certificate file (default "$DOCKER_CERT_PATH/cert.pem", else ~/.docker/cert.pem)' },
  { name: 'tlskey', type: 'string', description: 'Path to the TLS key file (default "$DOCKER_CERT_PATH/key.pem", else ~/.docker/key.pem)' },
  { name: 'cri', type: 'string', description: 'Serve the Kubernetes CRI v1 on this unix socket (unix:///run/berth/cri.sock); alone unless -H is given too' },
  { name: 'cri-network', type: 'string', default: 'cri', description: "The network of the CRI's pods (made on first use)" },
  { name: 'cri-subnet', type: 'string', default: '10.99.0.0/16', description: "The subnet of the CRI's pod network when Berth makes it" },
  { name: 'streaming-address', type: 'string', default: '127.0.0.1:0', description: "Where the CRI's exec, attach and port-forward URLs are served (HOST:PORT, port 0: any)" },
] as const satisfies readonly FlagDef[];

const cmd: Command<typeof flags> = {
  usage: '[OPTIONS] [URI]',
  description:
    'Serve the Docker Engine API on unix sockets and TCP ports.\n\n' +
    'Plain TCP is served on loopback only (every local user can reach it); any other address needs\n' +
    '--tlsverify, so that only holders of a client certificate signed by the CA get in.',
  flags,
  args: [0, 1],
};

export async function main(argv: string[], g: Globals): Promise<number> {
  const p = parse(cmd, argv, g.verb || 'serve');
  if (typeof p === 'number') return p;
  const uris = [...p.flags.host, ...p.args];
  const cri = p.changed.has('cri') ? parseCriAddress(p.flags.cri) : undefined;
  if (cri instanceof Error) return fail(`Error: ${cri.message}`, 125);
  // The Docker API's default socket only when nothing else is asked for: `--cri` alone serves the CRI alone.
  // An ordinary user's server listens in its runtime dir ($XDG_RUNTIME_DIR/berth), as podman's does.
  const user = rootlessUser();
  if (uris.length === 0 && !cri) uris.push(user === undefined ? DEFAULT_SOCKET : `unix://${userPaths(process.env, user).run}/berth.sock`);
  const { isLoopback, loadTls, parseListenAddress, showAddress } = await import('../../api/listen.ts');
  // Everything that can be checked is checked before anything listens: a bad address or certificate
  // file fails start-up whole, with nothing left half-open.
  const addrs: ListenAddress[] = [];
  let tls: TlsConfig | undefined;
  try {
    tls = loadTls(p.flags);
    for (const u of uris) {
      const a = parseListenAddress(u, tls !== undefined);
      if (a.proto === 'tcp' && !tls?.verify && !isLoopback(a.host)) {
        return fail(
          `Error: refusing to serve the API without client authentication on ${showAddress(a)}: whoever reaches it is root on this host; use --tlsverify (with --tlscacert, --tlscert, --tlskey) or bind 127.0.0.1`,
          125,
        );
      }
      addrs.push(a);
    }
  } catch (e) {
    if (isBerthError(e)) return fail(`Error: ${e.message}`, 125);
    throw e;
  }
  const { apiWarn } = await import('../../api/state.ts');
  // The same root as every verb (--root, else $BERTH_ROOT); the engine's warnings go to the request that caused them.
  const engine = new Engine({ root: engineRoot(g), warn: apiWarn, ...(g.storageDriver ? { storageDriver: g.storageDriver } : {}) });
  try {
    // A daemon reads its configuration before it serves: a bad key fails start-up, not each request.
    engine.config();
  } catch (e) {
    engine.close();
    if (isBerthError(e)) return fail(`Error: ${e.message}`, 125);
    throw e;
  }
  try {
    return await serve(engine, addrs, tls, cri ? { path: cri, network: p.flags['cri-network'], subnet: p.flags['cri-subnet'], streaming: p.flags['streaming-address'] } : undefined);
  } catch (e) {
    return report(e, 'serve');
  } finally {
    engine.close();
  }
}

/**
 * Listen on every address (one server each, sharing the engine and the API's state; TCP ones over TLS
 * when configured) until SIGINT/SIGTERM. If any address fails, every one opened so far is closed again.
 */
/**
 * How far the request thread's nice value goes below the process's (as far as Linux goes: -20 from a process at
 * 0). Soaks with 16 clients on 2 cores: at ~100 ops/s ping p99 was 115 ms at 5 steps and 82 ms at 10; once
 * starts got faster (~135 ops/s) 10 steps gave 100-110 ms and 20 steps 87 ms.
 */
const SERVE_PRIORITY_STEPS = 20;

/** `--cri unix:///path.sock` (a bare absolute path too): the socket's path, or why it is not one. */
function parseCriAddress(v: string): string | Error {
  const path = v.startsWith('unix://') ? v.slice(7) : v;
  if (!path.startsWith('/')) return new Error(`--cri ${v}: the CRI is served on a unix socket: unix:///absolute/path.sock`);
  return path;
}

interface CriOptions {
  path: string;
  network: string;
  subnet: string;
  streaming: string;
}

async function serve(engine: Engine, addrs: ListenAddress[], tls: TlsConfig | undefined, cri?: CriOptions): Promise<number> {
  const { createApiServer } = await import('../../api/server.ts');
  const { listenTcp, listenUnix, showAddress } = await import('../../api/listen.ts');
  // A fork in the main thread would stop every client for its length (src/sys/spawn-thread.ts).
  spawnOffThread();
  // The request thread runs above what it starts: a busy host still answers (src/sys/thread-priority.ts).
  raiseThisThread(SERVE_PRIORITY_STEPS);
  // Its containers' mounts and network namespaces are system calls, not a mount(8) or ip(8) each, and the tools
  // it runs are posix_spawn'ed, not forked from this large a process; without koffi, forks and tools it stays.
  // Its pulls share unpack threads kept between them (src/image/unpack-pool.ts).
  keepUnpackWorkers();
  await Promise.all([loadMountCalls(), loadNsPin(), loadPosixSpawn()]).catch((e: Error) => process.stderr.write(`berth serve: system calls unavailable, spawning tools instead: ${e.message}\n`));
  // A daemon outlives any one request: a stray rejection is reported, not fatal to every client.
  const onStray = (e: unknown) => process.stderr.write(`berth serve: unhandled: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  process.on('unhandledRejection', onStray);
  const servers: ReturnType<typeof createApiServer>[] = [];
  const socketFiles: string[] = [];
  const closers: (() => Promise<void>)[] = [];
  // The root's supervisor runs here while serving (exits, restarts): a CLI process per exit costs every client.
  const supervisor = await engine.supervise({ exitWhenIdle: false });
  // Printed once every address listens: a failure part-way is one line, and `API listening` means all of them.
  const lines: string[] = [];
  try {
    for (const a of addrs) {
      const s = createApiServer(engine, servers[0]?.state, undefined, a.proto === 'tcp' ? tls : undefined);
      servers.push(s);
      if (a.proto === 'unix') {
        await listenUnix(s.server, a.path);
        socketFiles.push(a.path);
        lines.push(`API listening on ${a.path}`);
        continue;
      }
      let port: number;
      try {
        port = await listenTcp(s.server, a.host, a.port);
      } catch (e) {
        if (isBerthError(e)) return fail(`Error: ${e.message}`, 125);
        throw e;
      }
      const shown = showAddress({ ...a, port });
      if (!tls?.verify) {
        lines.push(`WARNING: ${shown} has no client authentication: every user of this host can use it as root (--tlsverify restricts it to client certificates)`);
      }
      lines.push(`API listening on ${shown}`);
    }
    if (cri) {
      const { startCri } = await import('../../cri/start.ts');
      const started = await startCri(engine, cri);
      closers.push(started.close);
      lines.push(`CRI listening on ${cri.path} (streaming on ${started.streamingUrl})`);
    }
    process.stderr.write(lines.map((l) => `${l}\n`).join(''));
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
    for (const close of closers.reverse()) await close().catch(() => {});
    await Promise.all(servers.map((s) => s.close()));
    await supervisor.close();
    for (const path of socketFiles) unlinkQuiet(path);
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
