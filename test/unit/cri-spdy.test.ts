// CRI streaming over SPDY/3.1 (src/cri/streaming/): the upgrade, remote command (exec/attach) and port-forward,
// against a SPDY client written here, with its own framing and real zlib contexts (deflate with the SPDY/3
// dictionary, as spdystream's framer does), over a real HTTP server on 127.0.0.1. The client can keep SPDY/3.1
// flow control (SETTINGS, WINDOW_UPDATE, its send windows) or, like spdystream, ignore it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { EventEmitter, once } from 'node:events';
import http, { type IncomingMessage } from 'node:http';
import net, { type AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import zlib from 'node:zlib';
import { InvalidArgument } from '../../src/errors.ts';
import { PORTFORWARD_PROTOCOL, servePortForward } from '../../src/cri/streaming/portforward.ts';
import { acceptRemoteCommand, REMOTECOMMAND_PROTOCOLS, type RemoteCommandStreams } from '../../src/cri/streaming/remotecommand.ts';
import { SPDY_DICTIONARY, SpdySession, type SpdyStream } from '../../src/cri/streaming/spdy.ts';
import { upgradeToSpdy } from '../../src/cri/streaming/upgrade.ts';

// ---------------------------------------------------------------------------------------------------------
// The test's own SPDY client.

type Headers = Record<string, string>;

const WINDOW = 65536;

function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n >>> 0);
  return b;
}

function headerBlock(headers: Headers): Buffer {
  const parts = [u32(Object.keys(headers).length)];
  for (const [k, v] of Object.entries(headers)) {
    const name = Buffer.from(k.toLowerCase());
    const value = Buffer.from(v);
    parts.push(u32(name.length), name, u32(value.length), value);
  }
  return Buffer.concat(parts);
}

function parseHeaderBlock(raw: Buffer): Headers {
  const out: Headers = {};
  let off = 4;
  for (let i = 0, n = raw.readUInt32BE(0); i < n; i++) {
    const nl = raw.readUInt32BE(off);
    const name = raw.toString('utf8', off + 4, off + 4 + nl);
    off += 4 + nl;
    const vl = raw.readUInt32BE(off);
    out[name] = raw.toString('utf8', off + 4, off + 4 + vl);
    off += 4 + vl;
  }
  assert.equal(off, raw.length, 'header block length adds up');
  return out;
}

function control(type: number, flags: number, payload: Buffer): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt32BE((0x80000000 | (3 << 16) | type) >>> 0, 0);
  head.writeUInt32BE(((flags << 24) | payload.length) >>> 0, 4);
  return Buffer.concat([head, payload]);
}

/** One zlib context per direction, flushed with Z_SYNC_FLUSH after each block. */
function zlibPipe(z: zlib.Deflate | zlib.Inflate): (input: Buffer) => Promise<Buffer> {
  let out: Buffer[] = [];
  z.on('data', (c: Buffer) => out.push(c));
  return (input) =>
    new Promise((resolve, reject) => {
      z.once('error', reject);
      z.write(input);
      z.flush(zlib.constants.Z_SYNC_FLUSH, () => {
        z.off('error', reject);
        const r = Buffer.concat(out);
        out = [];
        resolve(r);
      });
    });
}

class ClientStream extends EventEmitter {
  reply: Headers | null = null;
  chunks: Buffer[] = [];
  fin = false;
  reset: number | null = null;
  /** What the server may still send (its window, as this client granted it). */
  recvWindow = WINDOW;
  sendWindow = WINDOW;
  granting = false;
  readonly id: number;
  constructor(id: number) {
    super();
    this.id = id;
  }
  get text(): string {
    return Buffer.concat(this.chunks).toString();
  }
  /** Resolves once the server has sent at least n bytes. */
  async received(n: number): Promise<void> {
    while (this.chunks.reduce((a, c) => a + c.length, 0) < n) await once(this, 'data');
  }
  /** Resolves at the server's FIN (or reset), with everything it sent. */
  async done(): Promise<Buffer> {
    if (!this.fin && this.reset === null) await once(this, 'done');
    return Buffer.concat(this.chunks);
  }
  async replied(): Promise<Headers> {
    if (this.reset !== null) throw new Error(`stream ${this.id} reset (${this.reset})`);
    if (!this.reply) {
      const [h] = await Promise.race([once(this, 'reply'), once(this, 'done').then(() => [null])]);
      if (!h) throw new Error(`stream ${this.id} reset (${this.reset})`);
    }
    return this.reply!;
  }
}

interface ClientOptions {
  /** Keep SPDY/3.1 flow control, as a strict peer; otherwise ignore it, as spdystream does. */
  flowControl?: boolean;
}

class TestClient {
  readonly socket: net.Socket;
  readonly streams = new Map<number, ClientStream>();
  goaway: { lastGood: number; status: number } | null = null;
  violations: string[] = [];
  firstHeaderBlock: Buffer | null = null;
  /** The most the server had in flight unacknowledged on one stream. */
  maxOutstanding = 0;
  readonly closed: Promise<void>;
  private readonly flowControl: boolean;
  private nextId = 1;
  private readonly compress = zlibPipe(zlib.createDeflate({ dictionary: SPDY_DICTIONARY, level: 9 }));
  private readonly decompress = zlibPipe(zlib.createInflate({ dictionary: SPDY_DICTIONARY }));
  private sending: Promise<void> = Promise.resolve();
  private receiving: Promise<void> = Promise.resolve();
  private buf = Buffer.alloc(0);
  private sessionRecvWindow = WINDOW;
  private sessionSendWindow = WINDOW;
  private readonly windowEvents = new EventEmitter();
  private readonly pings = new Map<number, () => void>();

  constructor(socket: net.Socket, rest: Buffer, opts: ClientOptions) {
    this.socket = socket;
    this.flowControl = opts.flowControl ?? false;
    // Closed once the frames that came before the close are handled too.
    this.closed = new Promise((r) => socket.once('close', () => void this.receiving.then(() => r())));
    socket.on('error', () => {});
    socket.on('data', (c: Buffer) => this.feed(c));
    socket.on('end', () => socket.end());
    void this.closed.then(() => {
      for (const s of this.streams.values()) s.emit('done');
      this.windowEvents.emit('update');
    });
    if (this.flowControl) {
      // SETTINGS: one entry, INITIAL_WINDOW_SIZE (7) = 64 KiB.
      this.raw(control(4, 0, Buffer.concat([u32(1), u32(7), u32(WINDOW)])));
    }
    if (rest.length > 0) this.feed(rest);
  }

  /** SYN_STREAM (queued behind the frames asked for before it). */
  open(headers: Headers, fin = false): ClientStream {
    const id = this.nextId;
    this.nextId += 2;
    const s = new ClientStream(id);
    this.streams.set(id, s);
    this.enqueue(async () => {
      const block = await this.compress(headerBlock(headers));
      return control(1, fin ? 1 : 0, Buffer.concat([u32(id), u32(0), Buffer.from([0, 0]), block]));
    });
    return s;
  }

  /** Data on a stream, in frames of at most 16 KiB, within the server's windows when keeping flow control. */
  send(s: ClientStream, data: Buffer | string, fin = false): Promise<void> {
    const buf = Buffer.from(data);
    let off = 0;
    const frames: Promise<void>[] = [];
    do {
      const n = Math.min(16384, buf.length - off);
      const chunk = buf.subarray(off, off + n);
      off += n;
      const last = off >= buf.length;
      frames.push(
        this.enqueue(async () => {
          if (this.flowControl) await this.windowFor(s, chunk.length);
          const head = Buffer.alloc(8);
          head.writeUInt32BE(s.id, 0);
          head.writeUInt32BE((((fin && last ? 1 : 0) << 24) | chunk.length) >>> 0, 4);
          return Buffer.concat([head, chunk]);
        }),
      );
    } while (off < buf.length);
    return Promise.all(frames).then(() => {});
  }

  rst(s: ClientStream, status = 5): void {
    this.enqueue(async () => control(3, 0, Buffer.concat([u32(s.id), u32(status)])));
  }

  ping(id: number): Promise<void> {
    const answered = new Promise<void>((r) => this.pings.set(id, r));
    this.enqueue(async () => control(6, 0, u32(id)));
    return answered;
  }

  sendGoAway(): void {
    this.enqueue(async () => control(7, 0, Buffer.concat([u32(0), u32(0)])));
  }

  close(): void {
    this.socket.destroy();
  }

  private raw(frame: Buffer): void {
    if (!this.socket.destroyed) this.socket.write(frame);
  }

  /** Frames go out in the order asked for, each once its header block is compressed. */
  private enqueue(make: () => Promise<Buffer>): Promise<void> {
    const p = this.sending.then(async () => this.raw(await make()));
    this.sending = p.catch(() => {});
    return p;
  }

  private async windowFor(s: ClientStream, n: number): Promise<void> {
    while (s.sendWindow < n || this.sessionSendWindow < n) {
      if (this.socket.destroyed) return;
      await once(this.windowEvents, 'update');
    }
    s.sendWindow -= n;
    this.sessionSendWindow -= n;
  }

  private feed(chunk: Buffer): void {
    this.buf = Buffer.concat([this.buf, chunk]);
    while (this.buf.length >= 8) {
      const len = this.buf.readUInt32BE(4) & 0xffffff;
      if (this.buf.length < 8 + len) break;
      const frame = this.buf.subarray(0, 8 + len);
      this.buf = this.buf.subarray(8 + len);
      this.receiving = this.receiving.then(() => this.handle(frame));
    }
  }

  private async handle(frame: Buffer): Promise<void> {
    const word = frame.readUInt32BE(0);
    const flags = frame[4]!;
    const p = frame.subarray(8);
    if ((word & 0x80000000) === 0) return this.onData(word & 0x7fffffff, flags, p);
    const type = word & 0xffff;
    const id = p.readUInt32BE(0) & 0x7fffffff;
    const s = this.streams.get(id);
    switch (type) {
      case 2: {
        // SYN_REPLY. Its block must end as a sync flush ends one (an empty stored block): Go's inflater, in
        // spdystream, hands out a block's bytes only when the next block starts. Node's does not care.
        const block = p.subarray(4);
        this.firstHeaderBlock ??= block;
        if (!block.subarray(-5).equals(Buffer.from([0, 0, 0, 0xff, 0xff]))) this.violations.push(`stream ${id}: header block not ended by a sync flush`);
        const headers = parseHeaderBlock(await this.decompress(block));
        if (s) {
          s.reply = headers;
          s.emit('reply', headers);
        }
        if (s && flags & 1) this.finish(s);
        return;
      }
      case 3:
        if (s) {
          s.reset = p.readUInt32BE(4);
          s.emit('done');
        }
        return;
      case 6:
        this.pings.get(p.readUInt32BE(0))?.();
        return;
      case 7:
        this.goaway = { lastGood: id, status: p.readUInt32BE(4) };
        return;
      case 9: {
        const delta = p.readUInt32BE(4);
        if (id === 0) this.sessionSendWindow += delta;
        else if (s) s.sendWindow += delta;
        this.windowEvents.emit('update');
        return;
      }
      default:
        return;
    }
  }

  private onData(id: number, flags: number, data: Buffer): void {
    const s = this.streams.get(id);
    if (!s) return;
    if (!s.reply) this.violations.push(`data on stream ${id} before its SYN_REPLY`);
    if (data.length > 0) {
      s.chunks.push(data);
      s.emit('data', data);
      s.recvWindow -= data.length;
      this.sessionRecvWindow -= data.length;
      this.maxOutstanding = Math.max(this.maxOutstanding, WINDOW - s.recvWindow);
      if (this.flowControl) {
        if (s.recvWindow < 0) this.violations.push(`stream ${id} window overrun by ${-s.recvWindow}`);
        if (this.sessionRecvWindow < 0) this.violations.push(`session window overrun by ${-this.sessionRecvWindow}`);
        // Consume a little later, so the server does run into shut windows.
        if (!s.granting && WINDOW - s.recvWindow >= WINDOW / 2) {
          s.granting = true;
          setImmediate(() => {
            s.granting = false;
            const n = WINDOW - s.recvWindow;
            s.recvWindow += n;
            this.sessionRecvWindow += n;
            this.raw(control(9, 0, Buffer.concat([u32(id), u32(n)])));
            this.raw(control(9, 0, Buffer.concat([u32(0), u32(n)])));
          });
        }
      }
    }
    if (flags & 1) this.finish(s);
  }

  private finish(s: ClientStream): void {
    s.fin = true;
    s.emit('done');
  }
}

// ---------------------------------------------------------------------------------------------------------
// HTTP plumbing.

interface Upgraded {
  status: number;
  headers: Record<string, string[]>;
  body: string;
  client: TestClient | null;
}

/** POST `path` asking to upgrade to SPDY/3.1 with these protocols; the client once upgraded, or the refusal. */
async function dial(port: number, protocols: string[], opts: ClientOptions & { upgrade?: string } = {}): Promise<Upgraded> {
  const socket = net.connect(port, '127.0.0.1');
  await once(socket, 'connect');
  // Window updates are small frames: Nagle would hold each for the server's delayed ACK.
  socket.setNoDelay(true);
  const lines = ['POST /exec/token HTTP/1.1', 'Host: 127.0.0.1', 'Connection: Upgrade', `Upgrade: ${opts.upgrade ?? 'SPDY/3.1'}`, 'Content-Length: 0'];
  for (const p of protocols) lines.push(`X-Stream-Protocol-Version: ${p}`);
  socket.write(lines.join('\r\n') + '\r\n\r\n');
  let buf = Buffer.alloc(0);
  while (buf.indexOf('\r\n\r\n') < 0) {
    const [chunk] = (await once(socket, 'data')) as [Buffer];
    buf = Buffer.concat([buf, chunk]);
  }
  const end = buf.indexOf('\r\n\r\n');
  const [statusLine, ...headerLines] = buf.subarray(0, end).toString().split('\r\n');
  const status = Number(statusLine!.split(' ')[1]);
  const headers: Record<string, string[]> = {};
  for (const l of headerLines) {
    const i = l.indexOf(':');
    (headers[l.slice(0, i).toLowerCase()] ??= []).push(l.slice(i + 1).trim());
  }
  const rest = buf.subarray(end + 4);
  if (status === 101) return { status, headers, body: '', client: new TestClient(socket, rest, opts) };
  let body = rest;
  socket.on('data', (c: Buffer) => (body = Buffer.concat([body, c])));
  await once(socket, 'close');
  return { status, headers, body: body.toString(), client: null };
}

/** An HTTP server on 127.0.0.1 whose upgrades go to `onUpgrade`; closed, with every socket it took, after `fn`. */
async function withServer(onUpgrade: (req: IncomingMessage, socket: Duplex, head: Buffer) => void, fn: (port: number) => Promise<void>): Promise<void> {
  const server = http.createServer((_req, res) => res.writeHead(400).end());
  const sockets = new Set<Duplex>();
  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    onUpgrade(req, socket, head);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  try {
    await fn((server.address() as AddressInfo).port);
  } finally {
    for (const s of sockets) s.destroy();
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  }
}

/** A remote-command server: each upgraded session's streams are handed to `run`, a failure to `failed`. */
function remoteCommandServer(
  expect: { stdin: boolean; stdout: boolean; stderr: boolean; tty: boolean },
  run: (s: RemoteCommandStreams, session: SpdySession) => void | Promise<void>,
  failed: (err: Error) => void = () => {},
) {
  return (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    const up = upgradeToSpdy(req, socket, head, REMOTECOMMAND_PROTOCOLS);
    if (!up) return;
    acceptRemoteCommand(up.session, up.protocol, expect).then((s) => run(s, up.session), failed);
  };
}

function sha(b: Buffer): string {
  return createHash('sha256').update(b).digest('hex');
}

function timeouts(): number {
  return process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
}

// ---------------------------------------------------------------------------------------------------------

test('upgrade: the client gets the first protocol of its list the server speaks; an unknown one gets 403 and no session', { timeout: 10_000 }, async () => {
  const chosen: string[] = [];
  await withServer(
    (req, socket, head) => {
      const up = upgradeToSpdy(req, socket, head, REMOTECOMMAND_PROTOCOLS);
      chosen.push(up ? up.protocol : 'none');
      up?.session.close();
    },
    async (port) => {
      const v4 = await dial(port, ['v4.channel.k8s.io', 'v3.channel.k8s.io']);
      assert.equal(v4.status, 101);
      assert.deepEqual(v4.headers['upgrade'], ['SPDY/3.1']);
      assert.deepEqual(v4.headers['connection'], ['Upgrade']);
      assert.deepEqual(v4.headers['x-stream-protocol-version'], ['v4.channel.k8s.io']);
      await v4.client!.closed;
      assert.deepEqual(v4.client!.goaway, { lastGood: 0, status: 0 });

      // One comma-separated header; the client's order decides.
      const v3 = await dial(port, ['v3.channel.k8s.io, v4.channel.k8s.io']);
      assert.deepEqual(v3.headers['x-stream-protocol-version'], ['v3.channel.k8s.io']);
      await v3.client!.closed;

      const unknown = await dial(port, ['v9.channel.k8s.io', 'SPDY/3.1+portforward.k8s.io']);
      assert.equal(unknown.status, 403);
      assert.equal(unknown.client, null);
      assert.deepEqual(unknown.headers['x-accepted-stream-protocol-versions'], [...REMOTECOMMAND_PROTOCOLS]);
      assert.equal(
        unknown.body,
        'unable to upgrade: unable to negotiate protocol: client supports [v9.channel.k8s.io SPDY/3.1+portforward.k8s.io], ' +
          'server accepts [v4.channel.k8s.io v3.channel.k8s.io v2.channel.k8s.io channel.k8s.io]\n',
      );

      const none = await dial(port, []);
      assert.equal(none.status, 400);
      assert.equal(none.body, 'unable to upgrade: X-Stream-Protocol-Version is required\n');

      const websocket = await dial(port, ['v4.channel.k8s.io'], { upgrade: 'websocket' });
      assert.equal(websocket.status, 400);
      assert.match(websocket.body, /^unable to upgrade: missing upgrade headers in request/);
    },
  );
  assert.deepEqual(chosen, ['v4.channel.k8s.io', 'v3.channel.k8s.io', 'none', 'none', 'none']);
  assert.throws(() => upgradeToSpdy({} as IncomingMessage, new net.Socket(), Buffer.alloc(0), []), InvalidArgument);
});

/** client-go's v4 executor: the error stream first, then stdin, stdout and stderr; stdin sent and closed. */
async function execV4(client: TestClient, stdin: string) {
  const error = client.open({ streamType: 'error' });
  const input = client.open({ streamType: 'stdin' });
  const stdout = client.open({ streamType: 'stdout' });
  const stderr = client.open({ streamType: 'stderr' });
  await Promise.all([error, input, stdout, stderr].map((s) => s.replied()));
  await client.send(input, stdin, true);
  const [out, err, status] = await Promise.all([stdout.done(), stderr.done(), error.done()]);
  return { out: out.toString(), err: err.toString(), status: status.toString(), streams: [error, input, stdout, stderr] };
}

test('remote command v4: stdin echoed to stdout, stderr, and the exit code as a Status on the error stream', { timeout: 10_000 }, async () => {
  const echo = (code: number) => (s: RemoteCommandStreams) => {
    s.stdin!.on('data', (d: Buffer) => s.stdout!.write(d));
    s.stdin!.on('end', () => {
      s.stderr!.write('bye\n');
      void s.finish({ exitCode: code });
    });
  };
  let code = 3;
  await withServer(remoteCommandServer({ stdin: true, stdout: true, stderr: true, tty: false }, (s) => echo(code)(s)), async (port) => {
    const { client } = await dial(port, ['v4.channel.k8s.io', 'v3.channel.k8s.io', 'v2.channel.k8s.io', 'channel.k8s.io']);
    const r = await execV4(client!, 'hello\nworld\n');
    assert.equal(r.out, 'hello\nworld\n');
    assert.equal(r.err, 'bye\n');
    assert.equal(
      r.status,
      '{"metadata":{},"status":"Failure","message":"command terminated with non-zero exit code: exit status 3",' +
        '"reason":"NonZeroExitCode","details":{"causes":[{"reason":"ExitCode","message":"3"}]}}',
    );
    const status = JSON.parse(r.status);
    assert.equal(status.details.causes[0].message, '3');
    // Every stream ends with FIN, the session with GOAWAY and the connection's end.
    assert.ok(r.streams.every((s) => s.fin && s.reset === null));
    await client!.closed;
    assert.equal(client!.goaway?.status, 0);
    assert.deepEqual(client!.violations, []);

    // Exit 0: kubelet's v4 sends a Success status (client-go takes an empty stream as success too).
    code = 0;
    const ok = await dial(port, ['v4.channel.k8s.io']);
    const r0 = await execV4(ok.client!, 'x');
    assert.equal(r0.out, 'x');
    assert.equal(r0.status, '{"metadata":{},"status":"Success"}');
    await ok.client!.closed;
  });
});

test('remote command v1-v3 report a failure as its message and success as nothing; an error is an InternalError', { timeout: 10_000 }, async () => {
  let result: { exitCode: number } | { error: Error } = { exitCode: 3 };
  const run = (s: RemoteCommandStreams) => {
    s.stdout!.write(`${s.protocol}\n`);
    void s.finish(result);
  };
  await withServer(remoteCommandServer({ stdin: false, stdout: true, stderr: false, tty: false }, run), async (port) => {
    const session = async (protocol: string) => {
      const { client } = await dial(port, [protocol]);
      const error = client!.open({ streamType: 'error' });
      const stdout = client!.open({ streamType: 'stdout' });
      const [out, status] = await Promise.all([stdout.done(), error.done()]);
      await client!.closed;
      return { out: out.toString(), status: status.toString() };
    };
    assert.deepEqual(await session('v3.channel.k8s.io'), { out: 'v3.channel.k8s.io\n', status: 'command terminated with non-zero exit code: exit status 3' });
    assert.deepEqual(await session('channel.k8s.io'), { out: 'channel.k8s.io\n', status: 'command terminated with non-zero exit code: exit status 3' });
    result = { exitCode: 0 };
    assert.deepEqual(await session('v2.channel.k8s.io'), { out: 'v2.channel.k8s.io\n', status: '' });
    result = { error: new Error('container abc is not running') };
    assert.deepEqual(await session('v2.channel.k8s.io'), { out: 'v2.channel.k8s.io\n', status: 'Internal error occurred: container abc is not running' });
    const v4 = await session('v4.channel.k8s.io');
    assert.deepEqual(JSON.parse(v4.status), {
      metadata: {},
      status: 'Failure',
      message: 'Internal error occurred: container abc is not running',
      reason: 'InternalError',
      details: { causes: [{ message: 'container abc is not running' }] },
      code: 500,
    });
  });
});

test('a tty session: the resize stream reaches the resize emitter, the first size included', { timeout: 10_000 }, async () => {
  const sizes: unknown[] = [];
  let expected: { stdin: boolean; stdout: boolean; stderr: boolean } | null = null;
  const run = async (s: RemoteCommandStreams) => {
    expected = { stdin: !!s.stdin, stdout: !!s.stdout, stderr: !!s.stderr };
    // Listen late: the client's first size is already waiting.
    await new Promise((r) => setTimeout(r, 50));
    s.resize!.on('resize', (size) => {
      sizes.push(size);
      if (sizes.length === 3) void s.finish({ exitCode: 0 });
    });
  };
  // A tty has one output: stderr, though asked for, is not expected.
  await withServer(remoteCommandServer({ stdin: true, stdout: true, stderr: true, tty: true }, run), async (port) => {
    const { client } = await dial(port, ['v4.channel.k8s.io']);
    const error = client!.open({ streamType: 'error' });
    client!.open({ streamType: 'stdin' });
    client!.open({ streamType: 'stdout' });
    const resize = client!.open({ streamType: 'resize' });
    await resize.replied();
    await client!.send(resize, '{"Width":80,"Height":24}');
    await new Promise((r) => setTimeout(r, 100));
    await client!.send(resize, '{"Width":100,');
    await client!.send(resize, '"Height":50}\n{"width":1,"height":2}\n');
    assert.equal((await error.done()).toString(), '{"metadata":{},"status":"Success"}');
    await client!.closed;
  });
  assert.deepEqual(expected, { stdin: true, stdout: true, stderr: false });
  assert.deepEqual(sizes, [
    { width: 80, height: 24 },
    { width: 100, height: 50 },
    { width: 1, height: 2 },
  ]);
});

test('1.5 MiB of stdout arrives intact, within the windows of a client keeping flow control and without them for one that does not', { timeout: 30_000 }, async () => {
  const payload = randomBytes(1536 * 1024);
  const run = (s: RemoteCommandStreams) => {
    // Also read 256 KiB of stdin: the client keeping flow control only sends it as this end grants window.
    let got = 0;
    s.stdin!.on('data', (d: Buffer) => (got += d.length));
    s.stdin!.on('end', () => {
      s.stderr!.write(`stdin ${got}\n`);
      s.stdout!.write(payload.subarray(0, 100_000));
      s.stdout!.write(payload.subarray(100_000));
      void s.finish({ exitCode: 0 });
    });
  };
  await withServer(remoteCommandServer({ stdin: true, stdout: true, stderr: true, tty: false }, run), async (port) => {
    for (const flowControl of [true, false]) {
      const { client } = await dial(port, ['v4.channel.k8s.io'], { flowControl });
      const r = await execV4(client!, 'i'.repeat(256 * 1024));
      assert.equal(r.err, 'stdin 262144\n');
      const out = Buffer.concat(r.streams[2]!.chunks);
      assert.equal(out.length, payload.length);
      assert.equal(sha(out), sha(payload));
      assert.equal(r.status, '{"metadata":{},"status":"Success"}');
      assert.deepEqual(client!.violations, [], `flowControl=${flowControl}`);
      if (flowControl) assert.ok(client!.maxOutstanding <= WINDOW, `at most a window in flight (${client!.maxOutstanding})`);
      else assert.ok(client!.maxOutstanding > WINDOW, 'without flow control the server does not wait for grants');
      await client!.closed;
    }
  });
});

test('port-forward: two request ids at once to an echo server, and a refused connection on the error stream', { timeout: 10_000 }, async () => {
  const echo = net.createServer((c) => c.pipe(c));
  echo.listen(0, '127.0.0.1');
  await once(echo, 'listening');
  const echoPort = (echo.address() as AddressInfo).port;
  const closedPort = await new Promise<number>((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const p = (s.address() as AddressInfo).port;
      s.close(() => resolve(p));
    });
  });
  const connect = async (port: number): Promise<Duplex> => {
    const c = net.connect(port, '127.0.0.1');
    await once(c, 'connect');
    return c;
  };
  const served: Promise<void>[] = [];
  try {
    await withServer(
      (req, socket, head) => {
        const up = upgradeToSpdy(req, socket, head, [PORTFORWARD_PROTOCOL]);
        if (up) served.push(servePortForward(up.session, connect, { pod: 'sandbox1', streamCreationTimeoutMs: 400 }));
      },
      async (port) => {
        const { client, headers } = await dial(port, [PORTFORWARD_PROTOCOL]);
        assert.deepEqual(headers['x-stream-protocol-version'], [PORTFORWARD_PROTOCOL]);
        const c = client!;
        // client-go's order: the error stream (closed at once: it never writes there), then the data stream.
        const pair = (requestId: string, p: number) => {
          const error = c.open({ streamType: 'error', port: String(p), requestID: requestId }, true);
          const data = c.open({ streamType: 'data', port: String(p), requestID: requestId });
          return { error, data };
        };
        const a = pair('0', echoPort);
        const b = pair('1', echoPort);
        await Promise.all([a.data.replied(), b.data.replied(), a.error.replied(), b.error.replied()]);
        await Promise.all([c.send(a.data, 'ping from 0'), c.send(b.data, 'ping from 1, which is longer')]);
        await Promise.all([a.data.received(11), b.data.received(28)]);
        assert.equal(a.data.text, 'ping from 0');
        assert.equal(b.data.text, 'ping from 1, which is longer');
        // The client's FIN reaches the echo server, whose end comes back as the data stream's FIN; the error
        // stream ends empty.
        await c.send(a.data, '', true);
        await a.data.done();
        assert.equal(a.data.fin, true);
        assert.equal((await a.error.done()).toString(), '');
        assert.equal(a.error.fin, true);
        // A client reset ends the other forward (the server resets nothing back and ends the error stream).
        c.rst(b.data);
        assert.equal((await b.error.done()).toString(), '');

        const refused = pair('2', closedPort);
        const message = JSON.parse((await refused.error.done()).toString());
        assert.equal(message.closeConnection, true);
        assert.match(message.message, new RegExp(`^error forwarding port ${closedPort} to pod sandbox1, uid : connect ECONNREFUSED`));
        assert.ok((await refused.error.done()).toString().endsWith('}\n'));
        await refused.data.done();
        assert.equal(refused.data.fin, true);

        // Bad headers are refused with RST_STREAM, as kubelet resets them.
        const bad = c.open({ streamType: 'data', port: '0', requestID: '3' });
        const noType = c.open({ port: String(echoPort), requestID: '4' });
        await Promise.all([bad.done(), noType.done()]);
        assert.equal(bad.reset, 5);
        assert.equal(noType.reset, 5);

        // A pair whose data stream never comes times out on its error stream.
        const lonely = c.open({ streamType: 'error', port: String(echoPort), requestID: '5' }, true);
        assert.equal((await lonely.done()).toString(), '(request=5) timed out waiting for streams');

        // Streams still keep their headers apart after many blocks in the same zlib context.
        for (let i = 6; i < 26; i++) {
          const p = pair(String(i), echoPort);
          await c.send(p.data, `n${i}`, true);
          assert.equal((await p.data.done()).toString(), `n${i}`);
        }
        assert.deepEqual(c.violations, []);
        c.close();
        await c.closed;
      },
    );
    await Promise.all(served);
  } finally {
    echo.close();
  }
});

test('many streams in one session keep their headers, PING is answered, GOAWAY refuses new streams', { timeout: 10_000 }, async () => {
  const seen: Headers[] = [];
  let serverSession: SpdySession | null = null;
  await withServer(
    (req, socket, head) => {
      const up = upgradeToSpdy(req, socket, head, ['test.k8s.io']);
      if (!up) return;
      serverSession = up.session;
      up.session.on('stream', (s: SpdyStream) => {
        seen.push(s.headers);
        s.reply({ 'x-id': String(s.id), 'x-name': s.headers['x-name'] ?? '', 'X-Upper': 'Value' });
        s.end(`stream ${s.headers['x-name']}`);
      });
    },
    async (port) => {
      const { client } = await dial(port, ['test.k8s.io']);
      const c = client!;
      const names = Array.from({ length: 40 }, (_, i) => `name-${i}-${'x'.repeat(i * 13)}`);
      const streams = names.map((name, i) => c.open({ 'X-Name': name, streamType: i % 2 ? 'stdout' : 'stderr', repeated: 'same value every time' }, true));
      for (const [i, s] of streams.entries()) {
        assert.deepEqual(await s.replied(), { 'x-id': String(s.id), 'x-name': names[i], 'x-upper': 'Value' });
        assert.equal((await s.done()).toString(), `stream ${names[i]}`);
      }
      assert.equal(seen.length, 40);
      // The zlib stream names its dictionary by adler32: the SPDY/3 one's, which Go's inflater checks.
      assert.equal(c.firstHeaderBlock!.readUInt32BE(2).toString(16), 'e3c6a7c2');
      assert.equal((c.firstHeaderBlock!.readUInt16BE(0) % 31), 0);
      assert.deepEqual(seen[7], { 'x-name': names[7], streamtype: 'stdout', repeated: 'same value every time' });
      await c.ping(1);
      await c.ping(0x7ffffffd);
      // After the client's GOAWAY the server takes no new stream.
      c.sendGoAway();
      const late = c.open({ 'x-name': 'late' });
      await late.done();
      assert.equal(late.reset, 3);
      assert.deepEqual(c.violations, []);
      c.close();
      await c.closed;
      if (!serverSession!.isClosed) await once(serverSession!, 'close');
    },
  );
});

test('the client going away mid-stream: streams close, finish resolves, no error is thrown and no timer is left', { timeout: 10_000 }, async () => {
  const before = timeouts();
  const closedStreams: string[] = [];
  let sessionClosed: Promise<void> | null = null;
  let finished: Promise<void> | null = null;
  const failures: Error[] = [];
  const run = (s: RemoteCommandStreams, session: SpdySession) => {
    for (const [name, st] of [['stdin', s.stdin], ['stdout', s.stdout]] as const) st!.on('close', () => closedStreams.push(name));
    sessionClosed = once(session, 'close').then(() => {
      finished = s.finish({ exitCode: 0 });
    });
    // Write until the client goes.
    const chunk = Buffer.alloc(32 * 1024, 'y');
    const pumpOut = () => {
      while (!s.stdout!.writableEnded && !s.stdout!.destroyed && s.stdout!.write(chunk));
    };
    s.stdout!.on('drain', pumpOut);
    pumpOut();
  };
  await withServer(remoteCommandServer({ stdin: true, stdout: true, stderr: false, tty: false }, run, (e) => failures.push(e)), async (port) => {
    const { client } = await dial(port, ['v4.channel.k8s.io'], { flowControl: true });
    const c = client!;
    const error = c.open({ streamType: 'error' });
    c.open({ streamType: 'stdin' });
    const stdout = c.open({ streamType: 'stdout' });
    await error.replied();
    await stdout.received(100_000);
    c.close();
    while (!sessionClosed) await new Promise((r) => setImmediate(r));
    await sessionClosed;
    await finished;
    assert.deepEqual(closedStreams.sort(), ['stdin', 'stdout']);

    // A client that goes before opening all its streams: acceptRemoteCommand rejects.
    const gone = await dial(port, ['v4.channel.k8s.io']);
    await gone.client!.open({ streamType: 'error' }).replied();
    gone.client!.close();
    while (failures.length === 0) await new Promise((r) => setTimeout(r, 10));
    assert.ok(failures[0] instanceof InvalidArgument);
    assert.match(failures[0].message, /closed the connection before opening its streams/);
  });
  await new Promise((r) => setImmediate(r));
  assert.equal(timeouts(), before, 'no timer left behind');
});

test('a client that does not open its streams in time: acceptRemoteCommand rejects and closes the session', { timeout: 10_000 }, async () => {
  let rejected: unknown = null;
  await withServer(
    (req, socket, head) => {
      const up = upgradeToSpdy(req, socket, head, REMOTECOMMAND_PROTOCOLS)!;
      acceptRemoteCommand(up.session, up.protocol, { stdin: false, stdout: true, stderr: false, tty: false }, { timeoutMs: 100 }).catch((e) => (rejected = e));
    },
    async (port) => {
      const { client } = await dial(port, ['v4.channel.k8s.io']);
      client!.open({ streamType: 'error' });
      await client!.closed;
      assert.equal(client!.goaway?.status, 0);
    },
  );
  assert.ok(rejected instanceof InvalidArgument);
  assert.equal((rejected as Error).message, 'timed out waiting for client to create streams');
});

test('SpdySession as a client against SpdySession as a server: data both ways, FIN, reset, close', { timeout: 10_000 }, async () => {
  const [a, b] = await new Promise<[net.Socket, net.Socket]>((resolve) => {
    const srv = net.createServer((s) => {
      srv.close();
      resolve([s, c]);
    });
    let c: net.Socket;
    srv.listen(0, '127.0.0.1', () => (c = net.connect((srv.address() as AddressInfo).port, '127.0.0.1')));
  });
  const server = new SpdySession(a, { server: true });
  const client = new SpdySession(b, { server: false });
  server.on('stream', (s: SpdyStream) => {
    if (s.headers['kind'] === 'refuse') return s.reset(3);
    s.reply({ echo: s.headers['kind'] ?? '' });
    s.pipe(s);
  });
  const s1 = client.openStream({ kind: 'echo' });
  const [reply] = await once(s1, 'reply');
  assert.deepEqual(reply, { echo: 'echo' });
  const big = randomBytes(300_000);
  s1.end(big);
  const got: Buffer[] = [];
  s1.on('data', (d: Buffer) => got.push(d));
  await once(s1, 'end');
  assert.equal(sha(Buffer.concat(got)), sha(big));

  const s2 = client.openStream({ kind: 'refuse' });
  await once(s2, 'close');
  assert.equal(s2.resetStatus, 3);

  const goaway = once(server, 'goaway');
  client.close();
  await goaway;
  await Promise.all([once(server, 'close'), once(client, 'close')]);
  assert.equal(client.isClosed && server.isClosed, true);
  assert.throws(() => client.openStream({}), InvalidArgument);
});
