/**
 * WebSocket (RFC 6455), server side, as the CRI's streaming server speaks it beside SPDY: the upgrade, frames
 * (a client's are masked; ours are not), fragmented messages, ping, close; and on top, the Kubernetes channel
 * protocols: each message's first byte is its channel (`channel.k8s.io`, `v4.channel.k8s.io`, and with no
 * protocol offered at all), or its first character is and the rest is base64 (`base64.channel.k8s.io`,
 * `v4.base64.channel.k8s.io`).
 */
import { createHash } from 'node:crypto';
import { EventEmitter } from 'node:events';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';

const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';
/** Past this, a message is refused (the connection closes with 1009): a channel message is a read's worth. */
const MAX_MESSAGE = 16 << 20;

const OP = { continuation: 0x0, text: 0x1, binary: 0x2, close: 0x8, ping: 0x9, pong: 0xa } as const;

/** A request to upgrade to WebSocket (not SPDY). */
export function isWebSocketRequest(req: IncomingMessage): boolean {
  return (req.headers.upgrade ?? '').toLowerCase() === 'websocket';
}

/**
 * Messages of one WebSocket connection: 'message' (channel data, with the channel), 'close'. Sending after
 * close is a no-op.
 */
export class ChannelSocket extends EventEmitter {
  readonly protocol: string;
  readonly #socket: Duplex;
  readonly #base64: boolean;
  #buf: Buffer = Buffer.alloc(0);
  #fragments: Buffer[] = [];
  #fragmentOp = 0;
  #closed = false;

  constructor(socket: Duplex, protocol: string, head: Buffer) {
    super();
    this.#socket = socket;
    this.protocol = protocol;
    this.#base64 = protocol.includes('base64');
    socket.on('data', (b: Buffer) => this.#take(b));
    socket.on('close', () => this.#end());
    socket.on('error', () => this.#end());
    if (head.length > 0) queueMicrotask(() => this.#take(head));
  }

  get isClosed(): boolean {
    return this.#closed;
  }

  /** Send `data` on `channel` (an empty message too: kubelet's way of saying a channel is open). */
  send(channel: number, data: Buffer): void {
    if (this.#closed) return;
    if (this.#base64) this.#frame(OP.text, Buffer.from(`${String.fromCharCode(48 + channel)}${data.toString('base64')}`));
    else this.#frame(OP.binary, Buffer.concat([Buffer.from([channel]), data]));
  }

  /** Close the connection (a close frame with `code`, then the socket once it is sent). */
  close(code = 1000): void {
    if (this.#closed) return;
    const payload = Buffer.alloc(2);
    payload.writeUInt16BE(code);
    this.#frame(OP.close, payload);
    this.#closed = true;
    this.#socket.end();
    this.emit('close');
  }

  #end(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#socket.destroy();
    this.emit('close');
  }

  #frame(op: number, payload: Buffer): void {
    const n = payload.length;
    const head = n < 126 ? Buffer.from([0x80 | op, n]) : n < 65536 ? Buffer.alloc(4) : Buffer.alloc(10);
    if (n >= 126) {
      head[0] = 0x80 | op;
      if (n < 65536) {
        head[1] = 126;
        head.writeUInt16BE(n, 2);
      } else {
        head[1] = 127;
        head.writeBigUInt64BE(BigInt(n), 2);
      }
    }
    this.#socket.write(Buffer.concat([head, payload]));
  }

  #take(b: Buffer): void {
    this.#buf = this.#buf.length === 0 ? b : Buffer.concat([this.#buf, b]);
    while (!this.#closed) {
      const f = this.#parse();
      if (!f) return;
      this.#onFrame(f.fin, f.op, f.payload);
    }
  }

  /** One whole frame off the buffer, or null until one has arrived. */
  #parse(): { fin: boolean; op: number; payload: Buffer } | null {
    const b = this.#buf;
    if (b.length < 2) return null;
    const masked = (b[1]! & 0x80) !== 0;
    let len = b[1]! & 0x7f;
    let at = 2;
    if (len === 126) {
      if (b.length < 4) return null;
      len = b.readUInt16BE(2);
      at = 4;
    } else if (len === 127) {
      if (b.length < 10) return null;
      const big = b.readBigUInt64BE(2);
      if (big > BigInt(MAX_MESSAGE)) {
        this.close(1009);
        return null;
      }
      len = Number(big);
      at = 10;
    }
    if (!masked) {
      // A client's frames are masked (RFC 6455 5.1): one that is not is a protocol error.
      this.close(1002);
      return null;
    }
    if (b.length < at + 4 + len) return null;
    const mask = b.subarray(at, at + 4);
    const payload = Buffer.from(b.subarray(at + 4, at + 4 + len));
    for (let i = 0; i < payload.length; i++) payload[i]! ^= mask[i & 3]!;
    this.#buf = b.subarray(at + 4 + len);
    return { fin: (b[0]! & 0x80) !== 0, op: b[0]! & 0x0f, payload };
  }

  #onFrame(fin: boolean, op: number, payload: Buffer): void {
    if (op === OP.ping) return this.#frame(OP.pong, payload);
    if (op === OP.pong) return;
    if (op === OP.close) {
      this.close(payload.length >= 2 ? payload.readUInt16BE(0) : 1000);
      return;
    }
    if (op === OP.continuation) {
      this.#fragments.push(payload);
    } else {
      this.#fragmentOp = op;
      this.#fragments = [payload];
    }
    if (this.#fragments.reduce((n, f) => n + f.length, 0) > MAX_MESSAGE) return this.close(1009);
    if (!fin) return;
    const message = Buffer.concat(this.#fragments);
    this.#fragments = [];
    this.#message(this.#fragmentOp, message);
  }

  #message(op: number, message: Buffer): void {
    if (message.length === 0) return;
    if (this.#base64 || op === OP.text) {
      const text = message.toString('latin1');
      const channel = text.charCodeAt(0) - 48;
      this.emit('message', channel, Buffer.from(text.slice(1), 'base64'));
    } else {
      this.emit('message', message[0]!, message.subarray(1));
    }
  }
}

/**
 * Answer a WebSocket upgrade with the first of the client's offered protocols this side speaks (none offered:
 * the unnamed binary channel protocol), or refuse it (400) and return undefined.
 */
export function upgradeToWebSocket(req: IncomingMessage, socket: Duplex, head: Buffer, protocols: readonly string[]): ChannelSocket | undefined {
  const key = req.headers['sec-websocket-key'];
  const offered = (req.headers['sec-websocket-protocol'] ?? '').split(',').map((p) => p.trim()).filter(Boolean);
  const chosen = offered.length === 0 ? '' : offered.find((p) => protocols.includes(p));
  if (typeof key !== 'string' || req.headers['sec-websocket-version'] !== '13' || chosen === undefined) {
    const why = chosen === undefined ? `none of the protocols ${offered.join(', ')} is supported (${protocols.join(', ')})` : 'not a WebSocket 13 handshake';
    socket.end(`HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\n${why}\n`);
    return undefined;
  }
  const accept = createHash('sha1').update(key + GUID).digest('base64');
  socket.write(
    `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n` +
      (chosen ? `Sec-WebSocket-Protocol: ${chosen}\r\n` : '') +
      '\r\n',
  );
  return new ChannelSocket(socket, chosen, head);
}
