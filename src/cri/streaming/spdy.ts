/**
 * SPDY/3.1 sessions over a byte stream (the socket of an HTTP Upgrade), as kubelet's CRI streaming server speaks
 * it through moby/spdystream to crictl, critest and the API server for exec, attach and port-forward.
 *
 * A frame is 8 bytes of header then a payload. Control frames: bit 0 set, a 15-bit version (3), a 16-bit type,
 * 8 bits of flags and a 24-bit length. Data frames: bit 0 clear, a 31-bit stream id, flags and length.
 * SYN_STREAM, SYN_REPLY and HEADERS carry a header block compressed with zlib and the SPDY/3 dictionary, in one
 * compression context per direction for the whole session: a block can only be inflated after all earlier
 * ones, in order.
 *
 * Flow control: SPDY/3.1 has a send window per stream and one for the session (64 KiB to start), which the
 * peer widens with WINDOW_UPDATE as it consumes data. spdystream, the peer that matters here, implements none
 * of it: it never sends WINDOW_UPDATE or SETTINGS and ignores ours. So the windows are enforced only once the
 * peer shows it takes part (a WINDOW_UPDATE or a SETTINGS with an initial window size); until then, as with
 * kubelet, the socket's own backpressure is the only brake. Data received is granted back as it is consumed.
 */
import { EventEmitter } from 'node:events';
import { Duplex } from 'node:stream';
import zlib from 'node:zlib';
import { InvalidArgument } from '../../errors.ts';

/** Header names as on the wire (lower-cased); a repeated name's values joined by NUL, as SPDY encodes them. */
export type SpdyHeaders = Record<string, string>;

const VERSION = 3;
const TYPE = { synStream: 1, synReply: 2, rstStream: 3, settings: 4, ping: 6, goAway: 7, headers: 8, windowUpdate: 9 } as const;
const FLAG_FIN = 0x01;
const FLAG_UNIDIRECTIONAL = 0x02;

/** RST_STREAM status codes (SPDY/3 section 2.6.3). */
export const RST = {
  protocolError: 1,
  invalidStream: 2,
  refusedStream: 3,
  unsupportedVersion: 4,
  cancel: 5,
  internalError: 6,
  flowControlError: 7,
  streamInUse: 8,
  streamAlreadyClosed: 9,
  frameTooLarge: 11,
} as const;

const GOAWAY_OK = 0;
const GOAWAY_PROTOCOL_ERROR = 1;
const SETTINGS_INITIAL_WINDOW_SIZE = 7;
const DEFAULT_WINDOW = 65536;
/** Grant received bytes back once this many are outstanding, not frame by frame. */
const GRANT_THRESHOLD = DEFAULT_WINDOW / 2;
/** The largest data frame sent: small enough to interleave streams, large enough to keep the syscalls few. */
const MAX_DATA_FRAME = 32 * 1024;
/** A header block larger than this once inflated is not a client's: it would only be a way to eat memory. */
const MAX_HEADER_BLOCK = 1 << 20;
/** How long a closed session waits for the peer to close the connection before dropping it. */
const CLOSE_GRACE_MS = 5000;
const EMPTY = Buffer.alloc(0);
/** An empty, non-final stored block: what a zlib sync flush ends with. */
const SYNC_MARKER = Buffer.from([0x00, 0x00, 0x00, 0xff, 0xff]);

/**
 * The SPDY/3 header-compression dictionary (draft-mbelshe-httpbis-spdy-00 section 2.6.10.1), a protocol constant;
 * the same bytes as moby/spdystream's spdy/dictionary.go. 1423 bytes, adler32 0xe3c6a7c2.
 */
const DICTIONARY = Buffer.from(
  'AAAAB29wdGlvbnMAAAAEaGVhZAAAAARwb3N0AAAAA3B1dAAAAAZkZWxldGUAAAAFdHJhY2UAAAAGYWNjZXB0AAAADmFjY2VwdC1j' +
    'aGFyc2V0AAAAD2FjY2VwdC1lbmNvZGluZwAAAA9hY2NlcHQtbGFuZ3VhZ2UAAAANYWNjZXB0LXJhbmdlcwAAAANhZ2UAAAAFYWxs' +
    'b3cAAAANYXV0aG9yaXphdGlvbgAAAA1jYWNoZS1jb250cm9sAAAACmNvbm5lY3Rpb24AAAAMY29udGVudC1iYXNlAAAAEGNvbnRl' +
    'bnQtZW5jb2RpbmcAAAAQY29udGVudC1sYW5ndWFnZQAAAA5jb250ZW50LWxlbmd0aAAAABBjb250ZW50LWxvY2F0aW9uAAAAC2Nv' +
    'bnRlbnQtbWQ1AAAADWNvbnRlbnQtcmFuZ2UAAAAMY29udGVudC10eXBlAAAABGRhdGUAAAAEZXRhZwAAAAZleHBlY3QAAAAHZXhw' +
    'aXJlcwAAAARmcm9tAAAABGhvc3QAAAAIaWYtbWF0Y2gAAAARaWYtbW9kaWZpZWQtc2luY2UAAAANaWYtbm9uZS1tYXRjaAAAAAhp' +
    'Zi1yYW5nZQAAABNpZi11bm1vZGlmaWVkLXNpbmNlAAAADWxhc3QtbW9kaWZpZWQAAAAIbG9jYXRpb24AAAAMbWF4LWZvcndhcmRz' +
    'AAAABnByYWdtYQAAABJwcm94eS1hdXRoZW50aWNhdGUAAAATcHJveHktYXV0aG9yaXphdGlvbgAAAAVyYW5nZQAAAAdyZWZlcmVy' +
    'AAAAC3JldHJ5LWFmdGVyAAAABnNlcnZlcgAAAAJ0ZQAAAAd0cmFpbGVyAAAAEXRyYW5zZmVyLWVuY29kaW5nAAAAB3VwZ3JhZGUA' +
    'AAAKdXNlci1hZ2VudAAAAAR2YXJ5AAAAA3ZpYQAAAAd3YXJuaW5nAAAAEHd3dy1hdXRoZW50aWNhdGUAAAAGbWV0aG9kAAAAA2dl' +
    'dAAAAAZzdGF0dXMAAAAGMjAwIE9LAAAAB3ZlcnNpb24AAAAISFRUUC8xLjEAAAADdXJsAAAABnB1YmxpYwAAAApzZXQtY29va2ll' +
    'AAAACmtlZXAtYWxpdmUAAAAGb3JpZ2luMTAwMTAxMjAxMjAyMjA1MjA2MzAwMzAyMzAzMzA0MzA1MzA2MzA3NDAyNDA1NDA2NDA3' +
    'NDA4NDA5NDEwNDExNDEyNDEzNDE0NDE1NDE2NDE3NTAyNTA0NTA1MjAzIE5vbi1BdXRob3JpdGF0aXZlIEluZm9ybWF0aW9uMjA0' +
    'IE5vIENvbnRlbnQzMDEgTW92ZWQgUGVybWFuZW50bHk0MDAgQmFkIFJlcXVlc3Q0MDEgVW5hdXRob3JpemVkNDAzIEZvcmJpZGRl' +
    'bjQwNCBOb3QgRm91bmQ1MDAgSW50ZXJuYWwgU2VydmVyIEVycm9yNTAxIE5vdCBJbXBsZW1lbnRlZDUwMyBTZXJ2aWNlIFVuYXZh' +
    'aWxhYmxlSmFuIEZlYiBNYXIgQXByIE1heSBKdW4gSnVsIEF1ZyBTZXB0IE9jdCBOb3YgRGVjIDAwOjAwOjAwIE1vbiwgVHVlLCBX' +
    'ZWQsIFRodSwgRnJpLCBTYXQsIFN1biwgR01UY2h1bmtlZCx0ZXh0L2h0bWwsaW1hZ2UvcG5nLGltYWdlL2pwZyxpbWFnZS9naWYs' +
    'YXBwbGljYXRpb24veG1sLGFwcGxpY2F0aW9uL3hodG1sK3htbCx0ZXh0L3BsYWluLHRleHQvamF2YXNjcmlwdCxwdWJsaWNwcml2' +
    'YXRlbWF4LWFnZT1nemlwLGRlZmxhdGUsc2RjaGNoYXJzZXQ9dXRmLThjaGFyc2V0PWlzby04ODU5LTEsdXRmLSwqLGVucT0wLg==',
  'base64',
);

/** The dictionary, for a peer's own zlib contexts (a client in a test, say). */
export const SPDY_DICTIONARY: Buffer = DICTIONARY;

function adler32(buf: Buffer): number {
  let a = 1;
  let b = 0;
  for (const byte of buf) {
    a = (a + byte) % 65521;
    b = (b + a) % 65521;
  }
  return ((b << 16) | a) >>> 0;
}

/** The uncompressed header block: a count, then length-prefixed names (lower-cased) and values, all 32-bit. */
export function encodeHeaderBlock(headers: SpdyHeaders): Buffer {
  const entries = Object.entries(headers);
  const parts: Buffer[] = [u32(entries.length)];
  for (const [name, value] of entries) {
    const n = Buffer.from(name.toLowerCase(), 'utf8');
    const v = Buffer.from(value, 'utf8');
    parts.push(u32(n.length), n, u32(v.length), v);
  }
  return Buffer.concat(parts);
}

/** Parse an inflated header block; throws on one that does not add up. */
export function decodeHeaderBlock(raw: Buffer): SpdyHeaders {
  const headers: SpdyHeaders = {};
  if (raw.length < 4) throw new InvalidArgument('spdy: truncated header block');
  const count = raw.readUInt32BE(0);
  let off = 4;
  const field = (): string => {
    if (raw.length - off < 4) throw new InvalidArgument('spdy: truncated header block');
    const len = raw.readUInt32BE(off);
    off += 4;
    if (raw.length - off < len) throw new InvalidArgument('spdy: truncated header block');
    const s = raw.toString('utf8', off, off + len);
    off += len;
    return s;
  };
  for (let i = 0; i < count; i++) {
    // spdystream lower-cases a name it finds in capitals rather than refusing the frame: do the same.
    const name = field().toLowerCase();
    const value = field();
    headers[name] = name in headers ? `${headers[name]}\0${value}` : value;
  }
  return headers;
}

function u32(n: number): Buffer {
  const b = Buffer.allocUnsafe(4);
  b.writeUInt32BE(n >>> 0, 0);
  return b;
}

function controlFrame(type: number, flags: number, payload: Buffer): Buffer {
  const head = Buffer.allocUnsafe(8 + payload.length);
  head.writeUInt32BE((0x80000000 | (VERSION << 16) | type) >>> 0, 0);
  head.writeUInt32BE(((flags << 24) | payload.length) >>> 0, 4);
  payload.copy(head, 8);
  return head;
}

function dataFrameHeader(id: number, flags: number, length: number): Buffer {
  const head = Buffer.allocUnsafe(8);
  head.writeUInt32BE(id & 0x7fffffff, 0);
  head.writeUInt32BE(((flags << 24) | length) >>> 0, 4);
  return head;
}

/**
 * The sending side's zlib stream, written as stored (uncompressed) deflate blocks: a valid zlib stream with the
 * dictionary's id that any SPDY peer inflates, built synchronously so a SYN_REPLY can never fall behind the data
 * frames queued after it. The headers this end sends are a few bytes (kubelet's replies are empty), so real
 * compression would save nothing. Each header block ends as Z_SYNC_FLUSH ends one, with an empty stored block:
 * Go's inflater (spdystream's) only hands out a block's bytes when the next block starts, and without that
 * marker it would read past the frame for it and fail every later frame of the session.
 */
class HeaderDeflater {
  private started = false;

  encode(raw: Buffer): Buffer {
    const parts: Buffer[] = [];
    if (!this.started) {
      this.started = true;
      // CMF 0x78: deflate, 32 KiB window. FLG: FDICT set, FCHECK making (CMF << 8 | FLG) a multiple of 31.
      const cmf = 0x78;
      let flg = 0x20;
      flg += 31 - ((cmf * 256 + flg) % 31);
      parts.push(Buffer.from([cmf, flg]), u32(adler32(DICTIONARY)));
    }
    for (let off = 0; off < raw.length; off += 0xffff) {
      const chunk = raw.subarray(off, Math.min(raw.length, off + 0xffff));
      const head = Buffer.allocUnsafe(5);
      head[0] = 0x00; // BFINAL 0, BTYPE 00 (stored), padded to the byte
      head.writeUInt16LE(chunk.length, 1);
      head.writeUInt16LE(~chunk.length & 0xffff, 3);
      parts.push(head, chunk);
    }
    parts.push(SYNC_MARKER);
    return Buffer.concat(parts);
  }
}

/**
 * The receiving side's zlib stream: one Inflate for the session, fed each frame's compressed block and flushed
 * with Z_SYNC_FLUSH, so the output up to the end of that block comes out before the flush's callback.
 */
class HeaderInflater {
  private readonly z = zlib.createInflate({ dictionary: DICTIONARY });
  private out: Buffer[] = [];
  private outLength = 0;
  private failed: Error | null = null;
  private waiting: ((err: Error) => void) | null = null;

  constructor() {
    this.z.on('data', (chunk: Buffer) => {
      this.out.push(chunk);
      this.outLength += chunk.length;
    });
    this.z.on('error', (err: Error) => {
      this.failed = err;
      this.waiting?.(err);
    });
  }

  /** Inflate one frame's block; frames must be fed one at a time, in their order on the wire. */
  decode(block: Buffer): Promise<Buffer> {
    return new Promise((resolve, reject) => {
      if (this.failed) return reject(this.failed);
      this.waiting = reject;
      this.z.write(block);
      this.z.flush(zlib.constants.Z_SYNC_FLUSH, () => {
        this.waiting = null;
        if (this.failed) return reject(this.failed);
        const raw = Buffer.concat(this.out, this.outLength);
        this.out = [];
        this.outLength = 0;
        if (raw.length > MAX_HEADER_BLOCK) return reject(new InvalidArgument('spdy: header block too large'));
        resolve(raw);
      });
    });
  }

  close(): void {
    this.z.close();
  }
}

interface Frame {
  head: Buffer;
  payload: Buffer;
}

/**
 * One SPDY stream: a Duplex whose readable side is the peer's data and whose writable side sends data frames
 * (its end sends FIN). A peer's RST_STREAM destroys it without an error (see `resetStatus`); destroying it
 * before both sides have finished sends RST_STREAM (CANCEL). It never emits 'error' of its own.
 */
export class SpdyStream extends Duplex {
  readonly id: number;
  /** The headers of the SYN_STREAM that opened the stream. */
  readonly headers: SpdyHeaders;
  /** The headers of the peer's SYN_REPLY, once it came (streams this end opened). */
  replyHeaders: SpdyHeaders | null = null;
  /** The status of the RST_STREAM that ended the stream (the peer's, or this end's), if one did. */
  resetStatus: number | null = null;
  /** Whether the peer opened the stream (and so expects a SYN_REPLY from this end). */
  readonly remote: boolean;

  private readonly session: SpdySession;
  private replied = false;
  private sendQueue: Array<{ data: Buffer; cb: (err?: Error | null) => void }> = [];
  private finPending: ((err?: Error | null) => void) | null = null;
  private finSent = false;
  private remoteEnded = false;
  private sendWindow: number;
  private readonly recvWindow = DEFAULT_WINDOW;
  private recvUnacked = 0;

  /** Made by SpdySession (for a SYN_STREAM received, or by openStream). */
  constructor(session: SpdySession, id: number, headers: SpdyHeaders, remote: boolean, sendWindow: number) {
    super({ allowHalfOpen: true });
    this.session = session;
    this.id = id;
    this.headers = headers;
    this.remote = remote;
    this.sendWindow = sendWindow;
  }

  /** Accept a stream the peer opened: send SYN_REPLY (once). Writing or ending the stream replies if this was not called. */
  reply(headers: SpdyHeaders = {}): void {
    if (!this.remote || this.replied || this.destroyed) return;
    this.replied = true;
    this.session.sendControl(TYPE.synReply, 0, Buffer.concat([u32(this.id), this.session.compressHeaders(headers)]));
    this.session.schedule(this);
  }

  /** Abort the stream in both directions with RST_STREAM (CANCEL unless told otherwise); unsent data is dropped. */
  reset(status: number = RST.cancel): void {
    if (this.destroyed) return;
    if (this.resetStatus === null && !(this.finSent && this.remoteEnded)) this.session.sendRst(this.id, status);
    this.resetStatus ??= status;
    this.destroy();
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, cb: (err?: Error | null) => void): void {
    // Written after the peer reset the stream or the session ended: dropped, as spdystream drops it.
    if (chunk.length === 0 || this.finSent || this.resetStatus !== null || !this.session.canSend()) return cb();
    this.sendQueue.push({ data: chunk, cb });
    this.session.schedule(this);
  }

  override _final(cb: (err?: Error | null) => void): void {
    if (this.finSent || this.resetStatus !== null || !this.session.canSend()) return cb();
    this.finPending = cb;
    this.session.schedule(this);
  }

  override _read(): void {
    // The consumer wants more: what it took can be granted back, and a paused socket may go on.
    this.grant();
    this.session.unthrottle(this);
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    if (this.resetStatus === null && !(this.finSent && this.remoteEnded) && this.session.canSend()) {
      this.resetStatus = RST.cancel;
      this.session.sendRst(this.id, RST.cancel);
    }
    // Whoever waits on a queued write is let go; the data is dropped with the stream.
    const queued = this.sendQueue;
    this.sendQueue = [];
    for (const q of queued) q.cb();
    const fin = this.finPending;
    this.finPending = null;
    fin?.();
    this.session.forget(this);
    cb(err);
  }

  /** @internal The peer's data for this stream (fin: its last). */
  receive(data: Buffer, fin: boolean): void {
    if (this.remoteEnded || this.destroyed) return;
    if (data.length > 0) {
      this.recvUnacked += data.length;
      const room = this.push(data);
      if (room) this.grant();
      // A peer that ignores our window (spdystream does) while the consumer is slow: stop reading the socket,
      // as spdystream's own reader blocks, rather than buffer without bound.
      else if (this.recvUnacked > this.recvWindow) this.session.throttle(this);
    }
    if (fin) this.endRemote();
  }

  /** @internal The peer's SYN_REPLY (streams this end opened). */
  peerReplied(headers: SpdyHeaders, fin: boolean): void {
    if (this.remote || this.replyHeaders !== null) return;
    this.replyHeaders = headers;
    this.emit('reply', headers);
    if (fin) this.endRemote();
  }

  /** @internal A HEADERS frame: more headers for the stream. */
  peerHeaders(headers: SpdyHeaders, fin: boolean): void {
    this.emit('headers', headers);
    if (fin) this.endRemote();
  }

  /** @internal The peer's RST_STREAM. */
  peerReset(status: number): void {
    this.resetStatus = status;
    this.remoteEnded = true;
    this.destroy();
  }

  /** @internal The peer sent FIN, or opened the stream with it; or opened it unidirectional (nothing to send). */
  endRemote(): void {
    if (this.remoteEnded) return;
    this.remoteEnded = true;
    this.push(null);
  }

  /** @internal This end may not send on the stream (unidirectional, or opened with FIN by this end). */
  markFinSent(): void {
    this.finSent = true;
    this.end();
  }

  /** @internal Widen (or narrow, after a SETTINGS) the send window. */
  adjustWindow(delta: number): void {
    this.sendWindow += delta;
  }

  /**
   * @internal Send the next frame this stream has, within the session's allowance: 'sent', 'blocked' (its
   * window is shut) or 'idle' (nothing queued).
   */
  sendNext(sessionWindow: number, enforce: boolean): 'sent' | 'blocked' | 'idle' {
    const head = this.sendQueue[0];
    if (!head && !this.finPending) return 'idle';
    // spdystream drops data that comes before its SYN_REPLY: the reply always goes first.
    if (this.remote && !this.replied) this.reply();
    if (head) {
      const allowance = enforce ? Math.min(this.sendWindow, sessionWindow) : Infinity;
      if (allowance <= 0) return 'blocked';
      const n = Math.min(allowance, MAX_DATA_FRAME, head.data.length);
      this.session.sendData(this.id, head.data.subarray(0, n), false);
      this.sendWindow -= n;
      if (n === head.data.length) {
        this.sendQueue.shift();
        head.cb();
      } else head.data = head.data.subarray(n);
      return 'sent';
    }
    this.finSent = true;
    this.session.sendData(this.id, EMPTY, true);
    const cb = this.finPending!;
    this.finPending = null;
    cb();
    return 'sent';
  }

  /**
   * Give the peer back the window its data took, once half of it is out: a peer that keeps the window stops only
   * when all of it is out, so a grant always comes once the consumer reads on.
   */
  private grant(): void {
    if (this.recvUnacked < GRANT_THRESHOLD) return;
    const delta = this.recvUnacked;
    this.recvUnacked = 0;
    if (!this.remoteEnded) this.session.sendWindowUpdate(this.id, delta);
  }
}

/**
 * A SPDY/3.1 session on a connection. Server side (`server: true`): the peer's streams arrive as 'stream'
 * events (with no listener they are refused); client side opens streams with openStream. Events: 'stream'
 * (SpdyStream), 'goaway' (lastGoodStreamId, status), 'close' (once, when the connection is gone and every stream
 * with it), 'error' (a protocol or socket error; only emitted when listened to, since a peer's broken
 * connection is the peer's problem, and the session closes after it anyway).
 */
export class SpdySession extends EventEmitter {
  readonly server: boolean;
  private readonly socket: Duplex;
  private readonly streams = new Map<number, SpdyStream>();
  private readonly deflater = new HeaderDeflater();
  private readonly inflater = new HeaderInflater();
  private nextStreamId: number;
  private lastPeerStreamId = 0;
  /** This end sent GOAWAY (or the peer did): no new streams. */
  private goneAway = false;
  private ended = false;
  private closed = false;

  private readonly sendable = new Set<SpdyStream>();
  private pumping = false;
  private writeBlocked = false;
  /** Enforce the peer's windows: set once the peer shows it keeps them (see the file comment). */
  private enforceWindows = false;
  private sessionSendWindow = DEFAULT_WINDOW;
  private initialStreamWindow = DEFAULT_WINDOW;
  private sessionRecvUnacked = 0;
  private readonly throttled = new Set<SpdyStream>();

  private pending: Buffer[] = [];
  private pendingLength = 0;
  private need = 8;
  private readonly frames: Frame[] = [];
  private decoding = false;
  private graceTimer: NodeJS.Timeout | null = null;

  private readonly onData = (chunk: Buffer): void => this.feed(chunk);
  private readonly onEnd = (): void => this.dropConnection();
  private readonly onError = (err: Error): void => this.report(err);
  private readonly onClose = (): void => this.teardown();
  private readonly onDrain = (): void => {
    this.writeBlocked = false;
    this.pump();
  };

  constructor(socket: Duplex, opts: { server: boolean }) {
    super();
    this.socket = socket;
    this.server = opts.server;
    this.nextStreamId = opts.server ? 2 : 1;
    // Interactive sessions send keystrokes one by one: do not let Nagle hold them.
    const s = socket as Duplex & { setNoDelay?: (noDelay: boolean) => unknown };
    if (typeof s.setNoDelay === 'function') s.setNoDelay(true);
    socket.on('data', this.onData);
    socket.on('end', this.onEnd);
    socket.on('error', this.onError);
    socket.on('close', this.onClose);
    if (socket.destroyed) queueMicrotask(() => this.teardown());
  }

  /** Whether the connection is gone (the 'close' event has been emitted). */
  get isClosed(): boolean {
    return this.closed;
  }

  /** Open a stream (client side, or a server push): sends SYN_STREAM; `fin` opens it with nothing to send. */
  openStream(headers: SpdyHeaders, opts: { fin?: boolean } = {}): SpdyStream {
    if (!this.canSend() || this.goneAway) throw new InvalidArgument('spdy: the session is closing');
    const id = this.nextStreamId;
    if (id > 0x7fffffff) throw new InvalidArgument('spdy: stream ids exhausted');
    this.nextStreamId += 2;
    const stream = new SpdyStream(this, id, headers, false, this.initialStreamWindow);
    this.streams.set(id, stream);
    const payload = Buffer.concat([u32(id), u32(0), Buffer.from([0, 0]), this.compressHeaders(headers)]);
    this.sendControl(TYPE.synStream, opts.fin ? FLAG_FIN : 0, payload);
    if (opts.fin) stream.markFinSent();
    return stream;
  }

  /**
   * GOAWAY, then end the connection. Data still queued on streams (behind a shut window) is dropped: finish
   * the streams first. The connection is dropped if the peer has not closed it a few seconds later.
   */
  close(): void {
    if (this.ended || this.closed) return;
    this.sendGoAway(GOAWAY_OK);
    this.ended = true;
    this.socket.end();
    // Read on, even for a stream whose consumer stalled, so that the peer's close is seen.
    this.throttled.clear();
    this.socket.resume();
    this.startGraceTimer();
  }

  /** Drop the connection at once, without GOAWAY. */
  destroy(): void {
    this.socket.destroy();
  }

  /** @internal Whether frames can still be written. */
  canSend(): boolean {
    return !this.ended && !this.closed && !this.socket.destroyed && !this.socket.writableEnded;
  }

  /** @internal A header block for the next frame this end sends, in the session's one zlib stream. */
  compressHeaders(headers: SpdyHeaders): Buffer {
    return this.deflater.encode(encodeHeaderBlock(headers));
  }

  /** @internal Control frames go out at once, ahead of data still waiting for a window. */
  sendControl(type: number, flags: number, payload: Buffer): void {
    if (this.canSend()) this.write(controlFrame(type, flags, payload));
  }

  /** @internal */
  sendRst(id: number, status: number): void {
    this.sendControl(TYPE.rstStream, 0, Buffer.concat([u32(id & 0x7fffffff), u32(status)]));
  }

  /** @internal */
  sendWindowUpdate(id: number, delta: number): void {
    this.sendControl(TYPE.windowUpdate, 0, Buffer.concat([u32(id & 0x7fffffff), u32(delta & 0x7fffffff)]));
  }

  /** @internal A data frame, counted against the session's send window. */
  sendData(id: number, data: Buffer, fin: boolean): void {
    this.sessionSendWindow -= data.length;
    this.write(dataFrameHeader(id, fin ? FLAG_FIN : 0, data.length));
    if (data.length > 0) this.write(data);
  }

  /** @internal A stream has data or a FIN to send. */
  schedule(stream: SpdyStream): void {
    this.sendable.add(stream);
    this.pump();
  }

  /** @internal A stream is gone: stop sending for it and stop waiting on it. */
  forget(stream: SpdyStream): void {
    if (this.streams.get(stream.id) === stream) this.streams.delete(stream.id);
    this.sendable.delete(stream);
    this.unthrottle(stream);
  }

  /** @internal A stream's buffer is past its window: stop reading the socket until it drains. */
  throttle(stream: SpdyStream): void {
    this.throttled.add(stream);
    this.socket.pause();
  }

  /** @internal */
  unthrottle(stream: SpdyStream): void {
    if (!this.throttled.delete(stream)) return;
    if (this.throttled.size === 0 && !this.closed) this.socket.resume();
  }

  private write(buf: Buffer): void {
    if (this.socket.destroyed || this.socket.writableEnded) return;
    if (!this.socket.write(buf) && !this.writeBlocked) {
      this.writeBlocked = true;
      this.socket.once('drain', this.onDrain);
    }
  }

  /** Move queued data to the socket, a frame per stream in turn, until the socket or every window is full. */
  private pump(): void {
    if (this.pumping || this.writeBlocked || !this.canSend()) return;
    this.pumping = true;
    this.socket.cork();
    try {
      let progress = true;
      while (progress && !this.writeBlocked && this.canSend()) {
        progress = false;
        for (const stream of this.sendable) {
          const r = stream.sendNext(this.sessionSendWindow, this.enforceWindows);
          if (r === 'sent') progress = true;
          else if (r === 'idle') this.sendable.delete(stream);
          if (this.writeBlocked || !this.canSend()) break;
        }
      }
    } finally {
      this.pumping = false;
      this.socket.uncork();
    }
  }

  private feed(chunk: Buffer): void {
    if (this.closed) return;
    this.pending.push(chunk);
    this.pendingLength += chunk.length;
    if (this.pendingLength < this.need) return;
    let buf = this.pending.length === 1 ? this.pending[0]! : Buffer.concat(this.pending, this.pendingLength);
    let off = 0;
    this.need = 8;
    while (buf.length - off >= 8) {
      const length = buf.readUInt32BE(off + 4) & 0xffffff;
      if (buf.length - off - 8 < length) {
        this.need = 8 + length;
        break;
      }
      // Copy out of the socket's chunk: a frame may sit queued (behind a header block being inflated) or be
      // pushed to a consumer that keeps it.
      const head = Buffer.from(buf.subarray(off, off + 8));
      const payload = Buffer.from(buf.subarray(off + 8, off + 8 + length));
      off += 8 + length;
      this.frames.push({ head, payload });
    }
    buf = buf.subarray(off);
    this.pending = buf.length > 0 ? [buf] : [];
    this.pendingLength = buf.length;
    this.drainFrames();
  }

  /** Handle frames in their order; one carrying a header block waits for its inflation, and so do those after it. */
  private drainFrames(): void {
    while (!this.decoding && this.frames.length > 0 && !this.closed) {
      const frame = this.frames[0]!;
      const block = headerBlockOf(frame);
      if (block === null) {
        this.frames.shift();
        this.handle(frame, null);
        continue;
      }
      this.decoding = true;
      this.inflater.decode(block).then(
        (raw) => {
          this.decoding = false;
          this.frames.shift();
          if (this.closed) return;
          let headers: SpdyHeaders;
          try {
            headers = decodeHeaderBlock(raw);
          } catch (err) {
            return this.protocolError((err as Error).message);
          }
          this.handle(frame, headers);
          this.drainFrames();
        },
        (err: Error) => {
          this.decoding = false;
          this.protocolError(`spdy: header block does not inflate: ${err.message}`);
        },
      );
    }
  }

  private handle(frame: Frame, headers: SpdyHeaders | null): void {
    const word = frame.head.readUInt32BE(0);
    const flags = frame.head[4]!;
    const p = frame.payload;
    if ((word & 0x80000000) === 0) return this.onDataFrame(word & 0x7fffffff, flags, p);
    // The version is not checked: spdystream does not check it either, and only ever sends 3.
    const type = word & 0xffff;
    const id = p.length >= 4 ? p.readUInt32BE(0) & 0x7fffffff : 0;
    switch (type) {
      case TYPE.synStream:
        return this.onSynStream(id, flags, headers!);
      case TYPE.synReply:
        return this.streams.get(id)?.peerReplied(headers!, (flags & FLAG_FIN) !== 0);
      case TYPE.headers:
        return this.streams.get(id)?.peerHeaders(headers!, (flags & FLAG_FIN) !== 0);
      case TYPE.rstStream:
        if (p.length < 8) return this.protocolError('spdy: short RST_STREAM');
        return this.streams.get(id)?.peerReset(p.readUInt32BE(4));
      case TYPE.settings:
        return this.onSettings(p);
      case TYPE.ping:
        if (p.length < 4) return this.protocolError('spdy: short PING');
        // Answer the peer's pings (odd ids from a client, even from a server); this end sends none.
        if ((p.readUInt32BE(0) & 1) === (this.server ? 1 : 0)) this.sendControl(TYPE.ping, 0, p.subarray(0, 4));
        return;
      case TYPE.goAway:
        if (p.length < 4) return this.protocolError('spdy: short GOAWAY');
        this.goneAway = true;
        this.emit('goaway', id, p.length >= 8 ? p.readUInt32BE(4) : GOAWAY_OK);
        return;
      case TYPE.windowUpdate:
        if (p.length < 8) return this.protocolError('spdy: short WINDOW_UPDATE');
        return this.onWindowUpdate(id, p.readUInt32BE(4) & 0x7fffffff);
      default:
        return; // unknown control frames are ignored (SPDY/3 section 2.2.1)
    }
  }

  private onSynStream(id: number, flags: number, headers: SpdyHeaders): void {
    const peerParity = this.server ? 1 : 0;
    if (id === 0 || (id & 1) !== peerParity || id <= this.lastPeerStreamId) return this.sendRst(id, RST.protocolError);
    this.lastPeerStreamId = id;
    if (this.goneAway || !this.canSend() || this.listenerCount('stream') === 0) return this.sendRst(id, RST.refusedStream);
    const stream = new SpdyStream(this, id, headers, true, this.initialStreamWindow);
    this.streams.set(id, stream);
    if (flags & FLAG_FIN) stream.endRemote();
    if (flags & FLAG_UNIDIRECTIONAL) stream.markFinSent();
    this.emit('stream', stream);
  }

  private onDataFrame(id: number, flags: number, data: Buffer): void {
    // Data counts against the session window whether or not its stream is still here: grant it back.
    this.sessionRecvUnacked += data.length;
    if (this.sessionRecvUnacked >= GRANT_THRESHOLD) {
      this.sendWindowUpdate(0, this.sessionRecvUnacked);
      this.sessionRecvUnacked = 0;
    }
    this.streams.get(id)?.receive(data, (flags & FLAG_FIN) !== 0);
  }

  private onSettings(p: Buffer): void {
    if (p.length < 4) return this.protocolError('spdy: short SETTINGS');
    const count = p.readUInt32BE(0);
    if (p.length < 4 + count * 8) return this.protocolError('spdy: short SETTINGS');
    for (let i = 0; i < count; i++) {
      const id = p.readUInt32BE(4 + i * 8) & 0xffffff;
      const value = p.readUInt32BE(8 + i * 8);
      if (id !== SETTINGS_INITIAL_WINDOW_SIZE) continue;
      const delta = value - this.initialStreamWindow;
      this.initialStreamWindow = value;
      for (const stream of this.streams.values()) stream.adjustWindow(delta);
      this.enforceWindows = true;
    }
    this.pump();
  }

  private onWindowUpdate(id: number, delta: number): void {
    this.enforceWindows = true;
    if (id === 0) this.sessionSendWindow += delta;
    else this.streams.get(id)?.adjustWindow(delta);
    this.pump();
  }

  private sendGoAway(status: number): void {
    if (!this.canSend()) return;
    this.goneAway = true;
    this.sendControl(TYPE.goAway, 0, Buffer.concat([u32(this.lastPeerStreamId), u32(status)]));
  }

  private protocolError(message: string): void {
    if (this.closed) return;
    this.sendGoAway(GOAWAY_PROTOCOL_ERROR);
    this.report(new InvalidArgument(message));
    this.socket.destroy();
  }

  private report(err: Error): void {
    if (this.listenerCount('error') > 0) this.emit('error', err);
  }

  /**
   * The peer ended its side: SPDY has no half-closed session, so the connection is over. What is already in
   * the socket's buffer still goes out; the streams end when the connection closes.
   */
  private dropConnection(): void {
    if (this.ended) return void this.socket.destroy();
    this.ended = true;
    this.socket.end();
    this.startGraceTimer();
  }

  private startGraceTimer(): void {
    if (this.graceTimer || this.closed) return;
    this.graceTimer = setTimeout(() => this.socket.destroy(), CLOSE_GRACE_MS);
    this.graceTimer.unref();
  }

  private teardown(): void {
    if (this.closed) return;
    this.closed = true;
    this.ended = true;
    if (this.graceTimer) clearTimeout(this.graceTimer);
    this.graceTimer = null;
    this.socket.off('data', this.onData);
    this.socket.off('end', this.onEnd);
    this.socket.off('close', this.onClose);
    this.socket.off('drain', this.onDrain);
    // onError stays: a late error from the dead socket must still find a listener, or it would be thrown.
    this.frames.length = 0;
    this.inflater.close();
    for (const stream of [...this.streams.values()]) stream.destroy();
    this.streams.clear();
    this.sendable.clear();
    this.throttled.clear();
    this.emit('close');
  }
}

/** The compressed header block a frame carries (SYN_STREAM, SYN_REPLY, HEADERS), or null for other frames. */
function headerBlockOf(frame: Frame): Buffer | null {
  const word = frame.head.readUInt32BE(0);
  if ((word & 0x80000000) === 0) return null;
  const type = word & 0xffff;
  if (type === TYPE.synStream) return frame.payload.length >= 10 ? frame.payload.subarray(10) : EMPTY;
  if (type === TYPE.synReply || type === TYPE.headers) return frame.payload.length >= 4 ? frame.payload.subarray(4) : EMPTY;
  return null;
}
