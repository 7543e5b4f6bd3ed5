/**
 * The CRI's streaming server: the URLs Exec, Attach and PortForward answer with, and what happens when a client
 * (crictl, kubelet's proxy) upgrades a request to one of them to SPDY or to WebSocket. A URL holds a one-time token for the
 * request it was made for, valid for a minute, as kubelet's streaming server issues them. Exec runs the command
 * through the engine with the client's stdin, output and terminal size; Attach joins the container's stdio;
 * PortForward connects to each port on the pod's localhost (berth-netns-connect, inside its network namespace).
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { NotFound, RuntimeFailure } from '../../errors.ts';
import type { Engine } from '../../engine/engine.ts';
import { helperBinary } from '../../sys/helper-binary.ts';
import { PORTFORWARD_PROTOCOL, servePortForward } from './portforward.ts';
import { acceptRemoteCommand, REMOTECOMMAND_PROTOCOLS, type RemoteCommandStreams } from './remotecommand.ts';
import { upgradeToSpdy } from './upgrade.ts';
import { PORTFORWARD_WS_PROTOCOLS, servePortForwardOverWebSocket } from './portforward-ws.ts';
import { REMOTECOMMAND_WS_PROTOCOLS, remoteCommandOverWebSocket } from './remotecommand-ws.ts';
import { isWebSocketRequest, upgradeToWebSocket } from './websocket.ts';

export interface ExecRequest {
  containerId: string;
  cmd: string[];
  tty: boolean;
  stdin: boolean;
  stdout: boolean;
  stderr: boolean;
}

export type AttachRequest = Omit<ExecRequest, 'cmd'>;

export interface PortForwardRequest {
  sandboxId: string;
  /** The ports the request named; a client may forward others too, as kubelet and containerd allow. */
  ports: number[];
}

type Pending = { kind: 'exec'; req: ExecRequest } | { kind: 'attach'; req: AttachRequest } | { kind: 'portforward'; req: PortForwardRequest };

/** How long a URL may wait for its client (kubelet's streaming server gives a minute too). */
const TOKEN_TTL_MS = 60_000;

export class StreamingServer {
  readonly #engine: Engine;
  readonly #server: Server;
  readonly #pending = new Map<string, { p: Pending; timer: NodeJS.Timeout }>();
  readonly #sockets = new Set<Duplex>();
  #base = '';

  private constructor(engine: Engine) {
    this.#engine = engine;
    this.#server = createServer((req, res) => {
      res.writeHead(400, { 'content-type': 'text/plain' }).end('this URL is reached by upgrading to SPDY/3.1 or WebSocket (a CRI streaming client)\n');
      req.resume();
    });
    this.#server.on('upgrade', (req, socket, head) => void this.#upgrade(req, socket, head));
  }

  /** Listen on `host:port` (port 0: any free port) of this host. */
  static async start(engine: Engine, host = '127.0.0.1', port = 0): Promise<StreamingServer> {
    const s = new StreamingServer(engine);
    await new Promise<void>((resolve, reject) => {
      s.#server.once('error', reject);
      s.#server.listen(port, host, () => resolve());
    });
    const a = s.#server.address() as AddressInfo;
    s.#base = `http://${a.family === 'IPv6' ? `[${a.address}]` : a.address}:${a.port}`;
    return s;
  }

  /** http://HOST:PORT of the server. */
  get baseUrl(): string {
    return this.#base;
  }

  exec(req: ExecRequest): string {
    return this.#issue({ kind: 'exec', req });
  }

  attach(req: AttachRequest): string {
    return this.#issue({ kind: 'attach', req });
  }

  portForward(req: PortForwardRequest): string {
    return this.#issue({ kind: 'portforward', req });
  }

  async close(): Promise<void> {
    for (const { timer } of this.#pending.values()) clearTimeout(timer);
    this.#pending.clear();
    for (const s of this.#sockets) s.destroy();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  #issue(p: Pending): string {
    const token = randomBytes(12).toString('base64url');
    const timer = setTimeout(() => this.#pending.delete(token), TOKEN_TTL_MS);
    timer.unref();
    this.#pending.set(token, { p, timer });
    return `${this.#base}/${p.kind}/${token}`;
  }

  async #upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    this.#sockets.add(socket);
    socket.on('close', () => this.#sockets.delete(socket));
    socket.on('error', () => {});
    const m = /^\/(exec|attach|portforward)\/([A-Za-z0-9_-]+)$/.exec(new URL(req.url ?? '/', 'http://x').pathname);
    const entry = m ? this.#pending.get(m[2]!) : undefined;
    if (!m || !entry || entry.p.kind !== m[1]) {
      socket.end('HTTP/1.1 404 Not Found\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\nno such streaming session (unknown or expired token)\n');
      return;
    }
    this.#pending.delete(m[2]!);
    clearTimeout(entry.timer);
    const p = entry.p;
    if (isWebSocketRequest(req)) return this.#overWebSocket(req, socket, head, p);
    const protocols = p.kind === 'portforward' ? [PORTFORWARD_PROTOCOL] : REMOTECOMMAND_PROTOCOLS;
    const up = upgradeToSpdy(req, socket, head, protocols);
    if (!up) return;
    try {
      if (p.kind === 'portforward') await this.#portForward(up.session, p.req);
      else {
        const streams = await acceptRemoteCommand(up.session, up.protocol, p.req);
        if (p.kind === 'exec') await this.#exec(p.req, streams);
        else await this.#attach(p.req, streams);
      }
    } catch (e) {
      process.stderr.write(`berth serve --cri: streaming ${p.kind}: ${(e as Error).message}\n`);
    } finally {
      up.session.close();
    }
  }

  /** The same sessions over WebSocket (websocket.ts): the streams are channels of the one connection. */
  async #overWebSocket(req: IncomingMessage, socket: Duplex, head: Buffer, p: Pending): Promise<void> {
    const ws = upgradeToWebSocket(req, socket, head, p.kind === 'portforward' ? PORTFORWARD_WS_PROTOCOLS : REMOTECOMMAND_WS_PROTOCOLS);
    if (!ws) return;
    try {
      if (p.kind === 'portforward') await servePortForwardOverWebSocket(ws, p.req.ports, (port) => this.#connectInPod(p.req.sandboxId, port));
      else {
        const streams = remoteCommandOverWebSocket(ws, p.req);
        if (p.kind === 'exec') await this.#exec(p.req, streams);
        else await this.#attach(p.req, streams);
      }
    } catch (e) {
      process.stderr.write(`berth serve --cri: streaming ${p.kind} (WebSocket): ${(e as Error).message}\n`);
    } finally {
      ws.close();
    }
  }

  async #exec(req: ExecRequest, s: RemoteCommandStreams): Promise<void> {
    let handle;
    try {
      handle = await this.#engine.exec(req.containerId, { cmd: req.cmd, tty: req.tty, stdin: req.stdin, stdout: true, stderr: !req.tty });
    } catch (e) {
      await s.finish({ error: e as Error });
      return;
    }
    const stream = handle.stream!;
    const ended = pipeStdio(stream, s);
    s.resize?.on('resize', (size: { width: number; height: number }) => void handle.resize(size.height, size.width).catch(() => {}));
    const code = await handle.exit;
    await ended;
    await s.finish({ exitCode: code });
  }

  async #attach(req: AttachRequest, s: RemoteCommandStreams): Promise<void> {
    let stream;
    try {
      stream = await this.#engine.attach(req.containerId);
    } catch (e) {
      await s.finish({ error: e as Error });
      return;
    }
    s.resize?.on('resize', (size: { width: number; height: number }) => void this.#engine.resize(req.containerId, size.height, size.width).catch(() => {}));
    await pipeStdio(stream, s);
    await s.finish({ exitCode: 0 });
  }

  async #portForward(session: Parameters<typeof servePortForward>[0], req: PortForwardRequest): Promise<void> {
    await servePortForward(session, (port) => this.#connectInPod(req.sandboxId, port));
  }

  /** A connection to `port` on the pod's localhost, made inside its network namespace (berth-netns-connect). */
  async #connectInPod(sandboxId: string, port: number): Promise<Duplex> {
    let netns: string;
    try {
      netns = this.#engine.podNetworkNamespace(sandboxId);
    } catch (e) {
      throw e instanceof NotFound ? new NotFound(`pod sandbox ${sandboxId} is not running`) : e;
    }
    const binary = helperBinary('berth-netns-connect');
    if (!binary) throw new RuntimeFailure('berth-netns-connect is not built: run scripts/build');
    const child = spawn(binary, [netns, String(port)], { stdio: ['pipe', 'pipe', 'pipe'] });
    return childDuplex(child);
  }
}

/** Copy a process's stdio to the client's streams and the client's stdin to the process, until its output ends. */
function pipeStdio(stream: import('../../runtime/driver.ts').AttachStream, s: RemoteCommandStreams): Promise<void> {
  stream.on('stdout', (b) => s.stdout?.write(b));
  stream.on('stderr', (b) => (s.stderr ?? s.stdout)?.write(b));
  if (s.stdin) {
    s.stdin.on('data', (b: Buffer) => {
      if (!stream.write(b)) {
        s.stdin!.pause();
        stream.onDrain(() => s.stdin!.resume());
      }
    });
    // Its end, or a reset (a client that closes stdin abruptly): the process sees its stdin end either way.
    let closed = false;
    const close = () => {
      if (!closed) void stream.closeStdin().catch(() => {});
      closed = true;
    };
    s.stdin.on('end', close);
    s.stdin.on('close', close);
  }
  return new Promise<void>((resolve) => {
    stream.on('end', resolve);
    stream.on('error', () => resolve());
  });
}

/**
 * A child's stdin and stdout as one Duplex, once it has connected (its "ok" on stderr); its failure (the reason
 * on stderr) rejects instead.
 */
async function childDuplex(child: import('node:child_process').ChildProcessWithoutNullStreams): Promise<Duplex> {
  const { Duplex } = await import('node:stream');
  let said = '';
  await new Promise<void>((resolve, reject) => {
    const onData = (b: Buffer) => {
      said += b.toString();
      if (said.startsWith('ok\n')) {
        child.stderr.off('data', onData);
        resolve();
      }
    };
    child.stderr.on('data', onData);
    child.once('exit', (code) => reject(new RuntimeFailure(said.trim() || `berth-netns-connect exited with ${code}`)));
  });
  child.stderr.resume();
  // Not Duplex.from: the connection's end closes the program's stdin before the client ends its side, which is
  // a normal end here (the server hung up), not the premature close Duplex.from would report.
  child.stdin.on('error', () => {});
  const d = new Duplex({
    read: () => void child.stdout.resume(),
    write: (chunk: Buffer, _enc, cb) => (child.stdin.writable ? child.stdin.write(chunk, () => cb()) : cb()),
    final: (cb) => {
      child.stdin.end();
      cb();
    },
    destroy: (err, cb) => {
      child.kill('SIGKILL');
      cb(err);
    },
  });
  child.stdout.on('data', (b: Buffer) => {
    if (!d.push(b)) child.stdout.pause();
  });
  child.stdout.on('end', () => d.push(null));
  // The connection is over once everything it sent has been read: close, so the forwarder finishes the pair.
  d.on('end', () => d.destroy());
  return d;
}
