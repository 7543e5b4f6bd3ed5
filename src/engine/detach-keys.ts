/** docker's detach keys: parsing `--detach-keys` and spotting the sequence in a terminal's input. */
import { InvalidArgument } from '../errors.ts';

export const DEFAULT_DETACH_KEYS = 'ctrl-p,ctrl-q';

/** docker's --detach-keys: `ctrl-p,ctrl-q`, `a,b`, `ctrl-@`, `ctrl-[` … → the byte sequence. */
export function parseDetachKeys(spec: string): Buffer {
  if (spec === '') return Buffer.alloc(0);
  return Buffer.from(
    spec.split(',').map((k) => {
      const key = k.trim().toLowerCase();
      if (/^[a-z]$/.test(key) || (key.length === 1 && key.charCodeAt(0) >= 0x20 && key.charCodeAt(0) < 0x7f)) return key.charCodeAt(0);
      const m = /^ctrl-([a-z@[\\\]^_])$/.exec(key);
      if (!m) throw new InvalidArgument(`Invalid detach keys (${spec}) provided`);
      const c = m[1]!;
      return /[a-z]/.test(c) ? c.charCodeAt(0) - 0x60 : c.charCodeAt(0) - 0x40;
    }),
  );
}

/** Matches a key sequence across chunks; returns how much of a chunk to pass on and whether it completed. */
export class DetachMatcher {
  private readonly keys: Buffer;
  private matched = 0;
  constructor(keys: Buffer) {
    this.keys = keys;
  }
  /** The bytes to forward (held-back partial matches are released when the match breaks) and whether to detach. */
  feed(chunk: Buffer): { forward: Buffer; detach: boolean } {
    if (this.keys.length === 0) return { forward: chunk, detach: false };
    const out: number[] = [];
    for (const b of chunk) {
      if (b === this.keys[this.matched]) {
        this.matched++;
        if (this.matched === this.keys.length) return { forward: Buffer.from(out), detach: true };
        continue;
      }
      for (let i = 0; i < this.matched; i++) out.push(this.keys[i]!);
      this.matched = b === this.keys[0] ? 1 : 0;
      if (this.matched === 0) out.push(b);
    }
    return { forward: Buffer.from(out), detach: false };
  }
}
