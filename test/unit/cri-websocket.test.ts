/**
 * The streaming server's WebSocket (src/cri/streaming/websocket.ts): the handshake's answer, client frames as
 * RFC 6455 has them (masked, fragmented, the three payload length forms, control frames between fragments),
 * the channel protocols both ways, and what it refuses.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Duplex } from 'node:stream';
import type { IncomingMessage } from 'node:http';
import { upgradeToWebSocket, type ChannelSocket } from '../../src/cri/streaming/websocket.ts';

/** A socket whose writes are collected and whose reads the test feeds. */
function fakeSocket(): { socket: Duplex; written: Buffer[]; feed(b: Buffer): void } {
  const written: Buffer[] = [];
  const socket = new Duplex({
    read() {},
    write(chunk: Buffer, _enc, done) {
      written.push(chunk);
      done();
    },
  });
  return { socket, written, feed: (b) => socket.push(b) };
}

const request = (headers: Record<string, string>) => ({ headers: { upgrade: 'websocket', 'sec-websocket-version': '13', 'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==', ...headers } }) as unknown as IncomingMessage;

/** A client frame: masked, with the length in whichever form its size needs. */
function frame(op: number, payload: Buffer, fin = true): Buffer {
  const mask = Buffer.from([1, 2, 3, 4]);
  const n = payload.length;
  const head = n < 126 ? Buffer.from([0, 0x80 | n]) : n < 65536 ? Buffer.from([0, 0x80 | 126, n >> 8, n & 255]) : Buffer.concat([Buffer.from([0, 0x80 | 127]), (() => { const b = Buffer.alloc(8); b.writeBigUInt64BE(BigInt(n)); return b; })()]);
  head[0] = (fin ? 0x80 : 0) | op;
  return Buffer.concat([head, mask, Buffer.from(payload.map((x, i) => x ^ mask[i & 3]!))]);
}

function open(protocol: string): { ws: ChannelSocket; written: Buffer[]; feed(b: Buffer): void; messages: [number, string][] } {
  const s = fakeSocket();
  const ws = upgradeToWebSocket(request({ 'sec-websocket-protocol': protocol }), s.socket, Buffer.alloc(0), ['v4.channel.k8s.io', 'base64.channel.k8s.io'])!;
  const messages: [number, string][] = [];
  ws.on('message', (ch: number, data: Buffer) => messages.push([ch, data.toString()]));
  return { ws, written: s.written, feed: s.feed, messages };
}

const tick = () => new Promise((r) => setImmediate(r));

test("the handshake answers with RFC 6455's accept key and the protocol chosen", () => {
  const s = fakeSocket();
  const ws = upgradeToWebSocket(request({ 'sec-websocket-protocol': 'v5.channel.k8s.io, v4.channel.k8s.io' }), s.socket, Buffer.alloc(0), ['v4.channel.k8s.io']);
  assert.equal(ws?.protocol, 'v4.channel.k8s.io');
  const answer = s.written.join('');
  assert.match(answer, /^HTTP\/1\.1 101 Switching Protocols\r\n/);
  assert.match(answer, /\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK\+xOo=\r\n/, 'the RFC example key');
  assert.match(answer, /\r\nSec-WebSocket-Protocol: v4\.channel\.k8s\.io\r\n/);
  // None offered: the unnamed binary protocol, no protocol header.
  const bare = fakeSocket();
  assert.equal(upgradeToWebSocket(request({}), bare.socket, Buffer.alloc(0), ['v4.channel.k8s.io'])?.protocol, '');
  assert.doesNotMatch(bare.written.join(''), /Sec-WebSocket-Protocol/);
  // Only protocols it does not speak: 400, no session.
  const bad = fakeSocket();
  assert.equal(upgradeToWebSocket(request({ 'sec-websocket-protocol': 'v9.channel.k8s.io' }), bad.socket, Buffer.alloc(0), ['v4.channel.k8s.io']), undefined);
  assert.match(bad.written.join(''), /^HTTP\/1\.1 400 Bad Request/);
});

test('messages: binary with a channel byte, fragmented across frames with a ping between, in every length form', async () => {
  const c = open('v4.channel.k8s.io');
  c.feed(frame(2, Buffer.from('\x00hello')));
  const big = 'x'.repeat(70_000);
  c.feed(frame(2, Buffer.concat([Buffer.from([0]), Buffer.from(big.slice(0, 300))]), false));
  c.feed(frame(9, Buffer.from('are you there')));
  c.feed(frame(0, Buffer.from(big.slice(300))));
  // A frame split across reads.
  const split = frame(2, Buffer.from('\x04{"Width":80,"Height":24}'));
  c.feed(split.subarray(0, 5));
  c.feed(split.subarray(5));
  await tick();
  assert.deepEqual(c.messages.map(([ch, d]) => [ch, d.length]), [[0, 5], [0, 70_000], [4, 24]]);
  // The ping was answered with a pong carrying its payload.
  assert.ok(c.written.some((b) => b[0] === 0x8a && b.subarray(2).toString() === 'are you there'));
  // Sent: unmasked binary frames, channel first.
  c.ws.send(1, Buffer.from('out'));
  assert.deepEqual([...c.written.at(-1)!], [0x82, 4, 1, ...Buffer.from('out')]);
});

test('base64 protocol: text frames with the channel as a digit, both ways', async () => {
  const c = open('base64.channel.k8s.io');
  c.feed(frame(1, Buffer.from(`0${Buffer.from('typed').toString('base64')}`)));
  await tick();
  assert.deepEqual(c.messages, [[0, 'typed']]);
  c.ws.send(2, Buffer.from('err'));
  assert.equal(c.written.at(-1)!.subarray(2).toString(), `2${Buffer.from('err').toString('base64')}`);
  assert.equal(c.written.at(-1)![0], 0x81);
});

test("a client's close is answered and ends the session; an unmasked frame is a protocol error (1002)", async () => {
  const c = open('v4.channel.k8s.io');
  let closed = false;
  c.ws.on('close', () => (closed = true));
  c.feed(frame(8, Buffer.from([0x03, 0xe8])));
  await tick();
  assert.ok(closed && c.ws.isClosed);
  assert.deepEqual([...c.written.at(-1)!], [0x88, 2, 0x03, 0xe8]);
  const d = open('v4.channel.k8s.io');
  d.feed(Buffer.from([0x82, 0x02, 0x00, 0x41]));
  await tick();
  assert.ok(d.ws.isClosed);
  assert.deepEqual([...d.written.at(-1)!], [0x88, 2, 0x03, 0xea]);
});
