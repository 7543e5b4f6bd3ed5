/**
 * Docker's multiplexed stream framing (Engine API attach/exec/logs without a tty): an 8-byte header —
 * byte 0 the stream (0 stdin, 1 stdout, 2 stderr, 3 systemerr), bytes 1–3 zero, bytes 4–7 the payload
 * length as a big-endian uint32 — then the payload.
 */

export type StreamId = 0 | 1 | 2 | 3;

export const HEADER_SIZE = 8;

export interface Frame {
  stream: number;
  data: Buffer;
}

export function encodeFrame(stream: StreamId, data: Buffer): Buffer {
  const out = Buffer.allocUnsafe(HEADER_SIZE + data.length);
  out.writeUInt32BE(0, 0);
  out[0] = stream;
  out.writeUInt32BE(data.length, 4);
  data.copy(out, HEADER_SIZE);
  return out;
}

/** Incremental decoder: frames may be split across chunks and several may share one chunk. */
export class FrameDecoder {
  private pending: Buffer[] = [];
  private pendingLength = 0;
  /** Bytes the frame at the head of `pending` needs in all, once its header is known (avoids re-concatenating). */
  private need = HEADER_SIZE;

  /** Bytes received but not yet part of a whole frame. */
  get buffered(): number {
    return this.pendingLength;
  }

  /** Feed bytes; returns the frames completed by them. Throws on a malformed header. */
  push(chunk: Buffer): Frame[] {
    if (chunk.length > 0) {
      this.pending.push(chunk);
      this.pendingLength += chunk.length;
    }
    const frames: Frame[] = [];
    if (this.pendingLength < this.need) return frames;
    let buf = this.pending.length === 1 ? this.pending[0]! : Buffer.concat(this.pending, this.pendingLength);
    let off = 0;
    while (buf.length - off >= HEADER_SIZE) {
      const stream = buf[off]!;
      if (buf[off + 1] !== 0 || buf[off + 2] !== 0 || buf[off + 3] !== 0) {
        this.reset();
        throw new Error(`invalid stream frame header: bytes 1-3 must be zero (got ${buf.subarray(off, off + 4).toString('hex')})`);
      }
      if (stream > 3) {
        this.reset();
        throw new Error(`invalid stream frame header: unknown stream id ${stream}`);
      }
      const len = buf.readUInt32BE(off + 4);
      if (buf.length - off - HEADER_SIZE < len) {
        this.need = HEADER_SIZE + len;
        break;
      }
      // Copy out so a frame does not pin a large shared chunk.
      frames.push({ stream, data: Buffer.from(buf.subarray(off + HEADER_SIZE, off + HEADER_SIZE + len)) });
      off += HEADER_SIZE + len;
      this.need = HEADER_SIZE;
    }
    buf = buf.subarray(off);
    this.pending = buf.length > 0 ? [buf] : [];
    this.pendingLength = buf.length;
    return frames;
  }

  private reset(): void {
    this.pending = [];
    this.pendingLength = 0;
    this.need = HEADER_SIZE;
  }
}
