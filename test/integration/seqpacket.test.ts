/**
 * Real AF_UNIX SOCK_SEQPACKET sockets (src/sys/seqpacket.ts) under a directory whose socket path is longer
 * than sun_path's 108 bytes, the attach protocol on top (src/runtime/conmon/attach.ts), and the ctl FIFO.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { closeSync, constants, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, readlinkSync, readSync, rmSync } from 'node:fs';
import type net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connectSeqpacket, listenSeqpacket, shutdownWrite, type SeqpacketServer } from '../../src/sys/seqpacket.ts';
import { AttachSession, MAX_INPUT_PACKET, reopenLog, resizeTerminal } from '../../src/runtime/conmon/attach.ts';

const tmp = mkdtempSync(join(tmpdir(), 'berth-seqpacket-'));
const deep = join(tmp, 'a'.repeat(60), 'b'.repeat(60));
mkdirSync(deep, { recursive: true });
after(() => rmSync(tmp, { recursive: true, force: true }));

let n = 0;
async function pair(): Promise<{ server: SeqpacketServer; client: net.Socket; peer: net.Socket }> {
  const path = join(deep, `attach${n++}`);
  assert.ok(Buffer.byteLength(path) > 108, 'the socket path must not fit in sun_path');
  const server = await listenSeqpacket(path);
  const accepted = server.accept();
  const client = await connectSeqpacket(path);
  const peer = await accepted;
  return { server, client, peer };
}

/** Collect 'data' chunks until `count` arrived. */
function chunks(sock: net.Socket, count: number): Promise<Buffer[]> {
  return new Promise((resolve, reject) => {
    const got: Buffer[] = [];
    const onData = (b: Buffer) => {
      got.push(b);
      if (got.length === count) {
        sock.off('data', onData);
        resolve(got);
      }
    };
    sock.on('data', onData);
    sock.once('error', reject);
    sock.once('end', () => reject(new Error(`EOF after ${got.length} of ${count} chunks`)));
  });
}

const once = <T>(emitter: NodeJS.EventEmitter, event: string) => new Promise<T>((resolve) => emitter.once(event, resolve as () => void));

/** Our fds that are sockets or point into the test's tmp dir (the long-path dir fd), by target. */
function ourFds(): string[] {
  const out: string[] = [];
  for (const fd of readdirSync('/proc/self/fd')) {
    let target = '';
    try {
      target = readlinkSync(`/proc/self/fd/${fd}`);
    } catch {
      continue; // closed meanwhile (the readdir's own fd)
    }
    if (target.startsWith('socket:') || target.startsWith(tmp)) out.push(target);
  }
  return out.sort();
}

test('each data chunk is one packet: 1 byte, 8193 bytes, and many back-to-back', async () => {
  const { server, client, peer } = await pair();
  const sizes: number[] = [1, 8193];
  for (let i = 0; i < 200; i++) sizes.push(i % 5 === 0 ? 8193 : 1 + (i % 37));
  const sent = sizes.map((len, i) => Buffer.alloc(len, i & 0xff));
  const received = chunks(client, sent.length);
  // All written in one tick: they queue in the kernel back to back before the client reads any.
  for (const b of sent) peer.write(b);
  const got = await received;
  assert.deepEqual(got.map((b) => b.length), sizes);
  for (let i = 0; i < sent.length; i++) assert.ok(got[i]!.equals(sent[i]!), `packet ${i}`);

  // The other way: each client write() arrives as one packet.
  const back = chunks(peer, 3);
  client.write(Buffer.from('x'));
  client.write(Buffer.alloc(8193, 2));
  client.write(Buffer.from('yz'));
  assert.deepEqual((await back).map((b) => b.length), [1, 8193, 2]);

  client.destroy();
  peer.destroy();
  server.close();
});

test('the fd is CLOEXEC and non-blocking, and no directory fd is left open', async () => {
  // Counting every fd of the process is at the mercy of whatever else opens or closes one meanwhile:
  // watch the sockets and the directory fds this module makes, by what they point to.
  const before = ourFds();
  const { server, client, peer } = await pair();
  const fd = (client as unknown as { _handle: { fd: number } })._handle.fd;
  const flags = parseInt(/flags:\s*(\d+)/.exec(readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8'))![1]!, 8);
  assert.ok(flags & 0o2000000, 'O_CLOEXEC');
  assert.ok(flags & constants.O_NONBLOCK, 'O_NONBLOCK');
  client.destroy();
  peer.destroy();
  server.close();
  await new Promise((r) => setTimeout(r, 20));
  assert.deepEqual(ourFds(), before);
});

test('shutdownWrite: the server reads EOF after the queued data, and the client still receives', async () => {
  const { server, client, peer } = await pair();
  const got: Buffer[] = [];
  peer.on('data', (b: Buffer) => got.push(b));
  const peerEnd = once<void>(peer, 'end');
  client.write(Buffer.from('last words'));
  await shutdownWrite(client);
  await peerEnd;
  assert.deepEqual(got.map(String), ['last words']);

  const after = chunks(client, 1);
  peer.write(Buffer.from([2, 0x6f, 0x6b]));
  assert.deepEqual([...(await after)[0]!], [2, 0x6f, 0x6b]);

  const clientEnd = once<void>(client, 'end');
  peer.end();
  await clientEnd;
  client.destroy();
  server.close();
});

test('AttachSession: demuxes stdout/stderr, splits large input, half-closes stdin', async () => {
  const { server, client, peer } = await pair();
  const session = new AttachSession(client);
  const out: string[] = [];
  session.on('stdout', (b) => out.push(`out:${b}`));
  session.on('stderr', (b) => out.push(`err:${b}`));
  const ended = once<void>(session, 'end');

  const input = chunks(peer, 3);
  session.write(Buffer.alloc(2 * MAX_INPUT_PACKET + 100, 0x61));
  assert.deepEqual((await input).map((b) => b.length), [MAX_INPUT_PACKET, MAX_INPUT_PACKET, 100]);

  const peerEnd = once<void>(peer, 'end');
  await session.closeStdin();
  await peerEnd;

  peer.write(Buffer.from('\x02hello\n'));
  peer.write(Buffer.from('\x03oops\n'));
  peer.write(Buffer.from('\x02')); // empty payload: nothing emitted
  peer.write(Buffer.alloc(8193, 0x02));
  peer.end();
  await ended;
  assert.deepEqual(out.slice(0, 2), ['out:hello\n', 'err:oops\n']);
  assert.equal(out.length, 3);
  assert.equal(out[2]!.length, 4 + 8192);
  server.close();
});

test('connect errors are one line and name the path', async () => {
  const missing = join(deep, 'nothing-here');
  await assert.rejects(connectSeqpacket(missing), (e: Error & { code?: string }) => {
    assert.equal(e.code, 'ENOENT');
    assert.match(e.message, /^connect .*nothing-here: the socket does not exist$/);
    return true;
  });
  await assert.rejects(connectSeqpacket(join(tmp, 'no-dir', 'x'.repeat(120), 'attach')), { code: 'ENOENT' });

  // A socket file nobody listens on any more.
  const path = join(deep, 'closed');
  const server = await listenSeqpacket(path);
  server.close();
  await assert.rejects(connectSeqpacket(path), (e: Error & { code?: string }) => {
    assert.equal(e.code, 'ECONNREFUSED');
    assert.match(e.message, /closed: connection refused/);
    assert.ok(!e.message.includes('\n'));
    return true;
  });
});

test('resizeTerminal and reopenLog write their lines to a real FIFO', async () => {
  const fifo = join(deep, 'ctl');
  const mk = spawnSync('mkfifo', [fifo]);
  assert.equal(mk.status, 0, String(mk.stderr));
  // Nobody reading: a clear error rather than a hang.
  await assert.rejects(resizeTerminal(fifo, 24, 80), /not reading its control FIFO/);
  await assert.rejects(resizeTerminal(join(deep, 'no-ctl'), 24, 80), /no control FIFO/);
  await assert.rejects(resizeTerminal(fifo, -1, 80), /invalid terminal size/);

  const reader = openSync(fifo, constants.O_RDONLY | constants.O_NONBLOCK);
  try {
    await resizeTerminal(fifo, 40, 132);
    await reopenLog(fifo);
    const buf = Buffer.alloc(256);
    const len = readSync(reader, buf, 0, buf.length, null);
    assert.equal(buf.subarray(0, len).toString(), '1 40 132\n2 0 0\n');
  } finally {
    closeSync(reader);
  }
});
