/**
 * Writing a lot to stdout or stderr when the reader is slower than the writer (`berth logs C | less`, a
 * 100 MB log into a pipe). Node queues what a pipe cannot take yet and later hands the whole queue to one
 * writev(2), which the kernel refuses past 1024 pieces (EINVAL). Here chunks are joined up to 64 KiB and
 * written one after another, each once the last has gone out.
 *
 * A reader that went away (EPIPE: `| head -1`) ends the CLI with 141, the status a program killed by
 * SIGPIPE has, as docker's CLI ends there; nothing is printed about it.
 */
import type { Writable } from 'node:stream';

const CHUNK = 64 << 10;

/** Exit as a program killed by SIGPIPE would: the reader is gone, so there is nobody to tell. */
export function exitOnBrokenPipe(stream: Writable): void {
  stream.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') process.exit(141);
    throw e;
  });
}

export class SerialWriter {
  /** Chunks ready to go, each up to CHUNK bytes, and the pieces of the one being gathered. */
  private readonly ready: Buffer[] = [];
  private gathering: Buffer[] = [];
  private gathered = 0;
  private writing = false;
  private idle: (() => void)[] = [];
  private readonly stream: Writable;

  constructor(stream: Writable) {
    this.stream = stream;
  }

  write(data: Buffer | string): void {
    const b = typeof data === 'string' ? Buffer.from(data) : data;
    if (b.length === 0) return;
    this.gathering.push(b);
    this.gathered += b.length;
    if (this.gathered >= CHUNK) this.seal();
    if (!this.writing) this.next();
  }

  /** The pieces gathered so far become one chunk (joined once, not piece by piece). */
  private seal(): void {
    if (this.gathered === 0) return;
    this.ready.push(this.gathering.length === 1 ? this.gathering[0]! : Buffer.concat(this.gathering, this.gathered));
    this.gathering = [];
    this.gathered = 0;
  }

  private next(): void {
    if (this.ready.length === 0) this.seal();
    const b = this.ready.shift();
    if (!b) {
      this.writing = false;
      for (const f of this.idle.splice(0)) f();
      return;
    }
    this.writing = true;
    this.stream.write(b, () => this.next());
  }

  /** Resolves once everything written so far has gone out. */
  flushed(): Promise<void> {
    if (!this.writing && this.ready.length === 0 && this.gathered === 0) return Promise.resolve();
    if (!this.writing) this.next();
    return new Promise((r) => this.idle.push(r));
  }
}
