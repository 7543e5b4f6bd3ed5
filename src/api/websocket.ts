/**
 * The server side of a WebSocket (RFC 6455) over an upgraded connection, for `GET /containers/{id}/attach/ws`:
 * the handshake, the container's output sent as frames (binary since API 1.28, text before, as dockerd), and
 * the client's frames (masked, maybe fragmented) turned back into a byte stream for the container's stdin.
 * Pings are answered; a close frame is answered and ends the input.
 */
import { createHash } from 'node:crypto';
import type { Duplex } from 'node:stream';
import { PassThrough } from 'node:stream';
import { InvalidArgument } from '../errors.ts';
import { commonHeaders, type StreamOut } from './http.ts';

const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';
const OP = { continuation: 0x0, text: 0x1, binary: 0x2, close: 0x8, ping: 0x9, pong: 0xa } as const;
/** What one client frame may carry (stdin arrives in small pieces; a larger one is not a client's). */
const MAX_FRAME = 16 << 20;

function frame(opcode: number, payload: Buffer): Buffer {
  const len = payload.length;
  const head = len < 126 ? Buffer.alloc(2) : len < 65536 ? Buffer.alloc(4) : Buffer.alloc(10);
  head[0] = 0x80 | opcode;
  if (len < 126) head[1] = len;
  else if (len < 65536) {
    head[1] = 126;
    head.writeUInt16BE(len, 2);
  } else {
    head[1] = 127;
    head.writeBigUInt64BE(BigInt(len), 2);
  }
  return Buffer.concat([head, payload]);
}

/** The request's WebSocket key, checked as a handshake needs it; refused as a bad request otherwise. */
export function webSocketKey(headers: Record<string, string | string[] | undefined>): string {
  const upgrade = String(headers.upgrade ?? '').toLowerCase();
  const key = headers['sec-websocket-key'];
  if (upgrade !== 'websocket' || typeof key !== 'string' || Buffer.from(key, 'base64').length !== 16) {
    throw new InvalidArgument('not a websocket handshake: Upgrade: websocket and a Sec-WebSocket-Key are needed');
  }
  const version = headers['sec-websocket-version'];
  if (version !== undefined && version !== '13') throw new InvalidArgument(`websocket version ${String(version)} is not supported (13 is)`);
  return key;
}

/**
 * Answer the handshake on `socket` and carry the connection as WebSocket frames: `out` sends data frames,
 * `input` is the client's data (its end is the client's close, or the connection's).
 */
export function acceptWebSocket(socket: Duplex, head: Buffer, key: string, binary: boolean): { out: StreamOut; input: Duplex } {
  const accept = createHash('sha1').update(key + GUID).digest('base64');
  const lines = ['HTTP/1.1 101 Switching Protocols', 'Upgrade: websocket', 'Connection: Upgrade', `Sec-WebSocket-Accept: ${accept}`,
    ...Object.entries(commonHeaders()).map(([k, v]) => `${k}: ${v}`), '', ''];
  socket.write(lines.join('\r\n'));
  const input = new PassThrough();
  let closing = false;
  const send = (opcode: number, payload: Buffer) => {
    if (!socket.destroyed && !socket.writableEnded) socket.write(frame(opcode, payload));
  };
  const out: StreamOut = {
    write: (b) => {
      const data = typeof b === 'string' ? Buffer.from(b) : b;
      if (data.length > 0 && !closing) send(binary ? OP.binary : OP.text, data);
    },
    end: () => {
      if (closing) return;
      closing = true;
      send(OP.close, Buffer.from([0x03, 0xe8])); // 1000: normal closure
      if (!socket.destroyed && !socket.writableEnded) socket.end();
    },
    get closed() {
      return closing || socket.destroyed || socket.writableEnded;
    },
    onClose: (fn) => socket.on('close', fn),
    raw: socket,
  };

  let buf = head;
  const message: Buffer[] = [];
  const onData = (chunk: Buffer) => {
    buf = buf.length > 0 ? Buffer.concat([buf, chunk]) : chunk;
    for (;;) {
      if (buf.length < 2) return;
      const fin = (buf[0]! & 0x80) !== 0;
      const opcode = buf[0]! & 0x0f;
      const masked = (buf[1]! & 0x80) !== 0;
      let len = buf[1]! & 0x7f;
      let at = 2;
      if (len === 126) {
        if (buf.length < 4) return;
        len = buf.readUInt16BE(2);
        at = 4;
      } else if (len === 127) {
        if (buf.length < 10) return;
        const big = buf.readBigUInt64BE(2);
        if (big > BigInt(MAX_FRAME)) return void socket.destroy();
        len = Number(big);
        at = 10;
      }
      // A client's frames are masked (RFC 6455 5.1); an unmasked one, or one too big, ends the connection.
      if (!masked || len > MAX_FRAME) return void socket.destroy();
      if (buf.length < at + 4 + len) return;
      const mask = buf.subarray(at, at + 4);
      const payload = Buffer.allocUnsafe(len);
      for (let i = 0; i < len; i++) payload[i] = buf[at + 4 + i]! ^ mask[i & 3]!;
      buf = buf.subarray(at + 4 + len);
      if (opcode === OP.ping) send(OP.pong, payload);
      else if (opcode === OP.close) {
        input.end();
        out.end();
      } else if (opcode === OP.text || opcode === OP.binary || opcode === OP.continuation) {
        message.push(payload);
        if (fin) input.write(Buffer.concat(message.splice(0)));
      }
    }
  };
  socket.on('data', onData);
  socket.on('end', () => input.end());
  socket.on('close', () => input.end());
  if (head.length > 0) {
    buf = Buffer.alloc(0);
    onData(head);
  }
  return { out, input };
}
