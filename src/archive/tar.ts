/**
 * A streaming tar codec: ustar, POSIX pax ('x' and global 'g'), GNU long names ('L'/'K'), old v7 and the
 * GNU base-256 numbers on input; ustar plus pax records (only where a field does not fit) on output.
 * Bodies are passed through as the input's own chunks: nothing is buffered beyond one header.
 */
import { Readable, pipeline } from 'node:stream';
import { nodeZlib } from '../sys/builtins.ts';
import { InvalidArgument } from '../errors.ts';

export type TarEntryType = 'file' | 'dir' | 'symlink' | 'hardlink' | 'char' | 'block' | 'fifo';

export interface TarEntry {
  /** Path in the archive as written (a directory may end in '/'). */
  name: string;
  type: TarEntryType;
  /** Permission bits with setuid/setgid/sticky (0o7777), no file-type bits. */
  mode: number;
  uid: number;
  gid: number;
  uname?: string;
  gname?: string;
  /** Body length; 0 for every type but 'file'. */
  size: number;
  /** Seconds since the epoch; may be fractional (pax) or negative. */
  mtime: number;
  /** Symlink target, or for a hard link the archive path of the entry it links to. */
  linkname: string;
  devmajor: number;
  devminor: number;
  /** Extended attributes (pax SCHILY.xattr.*). */
  xattrs: Record<string, Buffer>;
}

/** One entry read from an archive. */
export interface TarItem {
  entry: TarEntry;
  /** The entry's data; whatever is left unread is skipped when the next entry is asked for. */
  body: AsyncIterable<Buffer>;
}

/** One entry to write; `body` must hold exactly `entry.size` bytes. */
export interface TarInput {
  entry: TarEntry;
  body?: AsyncIterable<Buffer> | Buffer;
}

const BLOCK = 512;
const ZERO_BLOCK = Buffer.alloc(BLOCK);
/** Bound on pax and GNU long-name data held in memory (Go's archive/tar uses the same). */
const MAX_META = 1 << 20;
const TYPE_BY_FLAG: Record<string, TarEntryType> = {
  '0': 'file', '\0': 'file', '7': 'file', '1': 'hardlink', '2': 'symlink',
  '3': 'char', '4': 'block', '5': 'dir', '6': 'fifo', D: 'dir',
};
const FLAG_BY_TYPE: Record<TarEntryType, string> = {
  file: '0', hardlink: '1', symlink: '2', char: '3', block: '4', dir: '5', fifo: '6',
};

/** A TarEntry with defaults (mode 0644, or 0755 for a directory; root owner; mtime 0). */
export function tarEntry(init: Partial<TarEntry> & Pick<TarEntry, 'name' | 'type'>): TarEntry {
  return {
    mode: init.type === 'dir' ? 0o755 : 0o644, uid: 0, gid: 0, size: 0, mtime: 0, linkname: '',
    devmajor: 0, devminor: 0, xattrs: {}, ...init,
  };
}

// ---------------------------------------------------------------------------------------------- reading

/** Pulls exact byte counts out of an async iterable of chunks, counting the offset for error messages. */
class Source {
  readonly #it: AsyncIterator<Buffer>;
  #buf: Buffer = Buffer.alloc(0);
  #eof = false;
  offset = 0;
  constructor(input: AsyncIterable<Buffer>) {
    this.#it = input[Symbol.asyncIterator]();
  }
  async #more(): Promise<boolean> {
    while (this.#buf.length === 0) {
      if (this.#eof) return false;
      const r = await this.#it.next();
      if (r.done) this.#eof = true;
      else this.#buf = Buffer.isBuffer(r.value) ? r.value : Buffer.from(r.value as Uint8Array);
    }
    return true;
  }
  /** The next chunk of at most `max` bytes, or null at the end of the input. */
  async chunk(max: number): Promise<Buffer | null> {
    if (!(await this.#more())) return null;
    const c = this.#buf.subarray(0, max);
    this.#buf = this.#buf.subarray(c.length);
    this.offset += c.length;
    return c;
  }
  /** `n` bytes as one buffer; fewer only at the end of the input. */
  async read(n: number): Promise<Buffer> {
    const parts: Buffer[] = [];
    let got = 0;
    while (got < n) {
      const c = await this.chunk(n - got);
      if (!c) break;
      parts.push(c);
      got += c.length;
    }
    return parts.length === 1 ? parts[0]! : Buffer.concat(parts, got);
  }
  async close(): Promise<void> {
    if (!this.#eof) await this.#it.return?.();
  }
}

const truncated = (offset: number) =>
  new InvalidArgument(`truncated tar archive: unexpected end of data at byte offset ${offset}`);
const corrupt = (offset: number, why: string) =>
  new InvalidArgument(`corrupt tar archive: ${why} (header at byte offset ${offset})`);

function cstring(b: Buffer, start: number, len: number): string {
  const end = b.indexOf(0, start);
  return b.toString('utf8', start, end < 0 || end > start + len ? start + len : end);
}

/** An octal or base-256 numeric field. */
function parseNumber(b: Buffer, start: number, len: number, at: number, field: string): number {
  const f = b.subarray(start, start + len);
  if (f[0]! & 0x80) {
    let v = 0n;
    for (const byte of f) v = (v << 8n) | BigInt(byte);
    v = f[0] === 0xff ? v - (1n << BigInt(8 * len)) : v & ((1n << BigInt(8 * len - 1)) - 1n);
    if (v > BigInt(Number.MAX_SAFE_INTEGER) || v < -BigInt(Number.MAX_SAFE_INTEGER)) {
      throw corrupt(at, `${field} out of range`);
    }
    return Number(v);
  }
  const s = f.toString('latin1').replace(/[\0 ]+$/, '').replace(/^ +/, '').replace(/\0.*$/, '');
  if (s === '') return 0;
  if (!/^[0-7]+$/.test(s)) throw corrupt(at, `invalid ${field} field ${JSON.stringify(s)}`);
  return parseInt(s, 8);
}

function checksums(block: Buffer): [unsigned: number, signed: number] {
  let u = 0;
  let s = 0;
  for (let i = 0; i < BLOCK; i++) {
    const b = i >= 148 && i < 156 ? 0x20 : block[i]!;
    u += b;
    s += b > 127 ? b - 256 : b;
  }
  return [u, s];
}

/** Pax records `"%d %s=%s\n"` into `into`; values stay bytes (xattrs may be binary). */
function parsePax(data: Buffer, into: Map<string, Buffer>, at: number): void {
  for (let i = 0; i < data.length; ) {
    const sp = data.indexOf(0x20, i);
    const lenText = sp < 0 ? '' : data.toString('latin1', i, sp);
    const len = Number(lenText);
    if (!/^[1-9][0-9]*$/.test(lenText) || i + len > data.length || data[i + len - 1] !== 0x0a) {
      throw corrupt(at, `malformed pax record at data offset ${i}`);
    }
    const record = data.subarray(sp + 1, i + len - 1);
    const eq = record.indexOf(0x3d);
    if (eq <= 0) throw corrupt(at, `malformed pax record at data offset ${i}`);
    into.set(record.toString('utf8', 0, eq), Buffer.from(record.subarray(eq + 1)));
    i += len;
  }
}

/** Builds the entry from a header block plus the pax and GNU records that preceded it. */
function decodeEntry(
  block: Buffer, at: number, pax: Map<string, Buffer>, longName?: string, longLink?: string,
): TarEntry & { dataSize: number } {
  const magic = block.toString('latin1', 257, 263);
  const ustar = magic === 'ustar\0';
  const modern = ustar || magic === 'ustar ';
  const flag = String.fromCharCode(block[156]!);
  let name = cstring(block, 0, 100);
  // GNU headers keep atime/ctime where ustar keeps the prefix.
  if (ustar && block[345] !== 0) name = `${cstring(block, 345, 155)}/${name}`;
  const num = (start: number, len: number, field: string) => parseNumber(block, start, len, at, field);
  const get = (k: string) => {
    const v = pax.get(k);
    return v && v.length > 0 ? v.toString('utf8') : undefined;
  };
  const paxInt = (k: string, fallback: number, re = /^[0-9]+$/) => {
    const v = get(k);
    if (v === undefined) return fallback;
    if (!re.test(v) || !Number.isSafeInteger(Math.trunc(Number(v)))) {
      throw corrupt(at, `invalid pax ${k} ${JSON.stringify(v)}`);
    }
    return Number(v);
  };
  if ([...pax.keys()].some((k) => k.startsWith('GNU.sparse.'))) {
    throw corrupt(at, 'GNU sparse entries are not supported');
  }
  if (flag === 'S' || flag === 'M') throw corrupt(at, `unsupported GNU entry type '${flag}'`);
  name = get('path') ?? longName ?? name;
  // POSIX: an unknown type is extracted as a regular file; v7 marks directories with a trailing slash.
  let type = TYPE_BY_FLAG[flag] ?? 'file';
  if ((flag === '0' || flag === '\0') && name.endsWith('/')) type = 'dir';
  const size = paxInt('size', num(124, 12, 'size'));
  if (size < 0) throw corrupt(at, 'negative size');
  const xattrs: Record<string, Buffer> = {};
  for (const [k, v] of pax) if (k.startsWith('SCHILY.xattr.')) xattrs[k.slice(13)] = v;
  return {
    dataSize: type === 'file' || flag === 'D' ? size : 0,
    name,
    type,
    mode: num(100, 8, 'mode') & 0o7777,
    uid: paxInt('uid', num(108, 8, 'uid')),
    gid: paxInt('gid', num(116, 8, 'gid')),
    uname: get('uname') ?? (modern ? cstring(block, 265, 32) : undefined),
    gname: get('gname') ?? (modern ? cstring(block, 297, 32) : undefined),
    size: type === 'file' ? size : 0,
    mtime: paxInt('mtime', num(136, 12, 'mtime'), /^-?[0-9]+(\.[0-9]*)?$/),
    linkname: get('linkpath') ?? longLink ?? cstring(block, 157, 100),
    devmajor: modern ? num(329, 8, 'devmajor') : 0,
    devminor: modern ? num(337, 8, 'devminor') : 0,
    xattrs,
  };
}

/**
 * Reads a tar stream entry by entry. Each item's body must be read (or left) before asking for the next
 * item; a body read later throws. Throws InvalidArgument, naming the byte offset, on a bad checksum, a
 * malformed field or a truncated archive (an entry's data cut short; the padding and end blocks after the
 * last entry may be missing, as Go's reader allows). Input after the end-of-archive blocks is read and ignored.
 */
export async function* readTar(input: AsyncIterable<Buffer>): AsyncGenerator<TarItem> {
  const src = new Source(input);
  const globals = new Map<string, Buffer>();
  let local = new Map<string, Buffer>();
  let longName: string | undefined;
  let longLink: string | undefined;
  const skip = async (n: number) => {
    while (n > 0) {
      const c = await src.chunk(n);
      if (!c) throw truncated(src.offset);
      n -= c.length;
    }
  };
  try {
    for (;;) {
      const at = src.offset;
      const block = await src.read(BLOCK);
      if (block.length === 0) return;
      if (block.length < BLOCK) throw truncated(src.offset);
      if (block.equals(ZERO_BLOCK)) {
        while (await src.chunk(1 << 20));
        return;
      }
      const stored = parseNumber(block, 148, 8, at, 'checksum');
      if (!checksums(block).includes(stored)) throw corrupt(at, 'header checksum mismatch');
      const flag = String.fromCharCode(block[156]!);
      if ('xgLKV'.includes(flag)) {
        const size = parseNumber(block, 124, 12, at, 'size');
        if (size < 0 || size > MAX_META) throw corrupt(at, `invalid size ${size} for a '${flag}' header`);
        const data = await src.read(size);
        if (data.length < size) throw truncated(src.offset);
        await skip(-size & (BLOCK - 1));
        if (flag === 'x') parsePax(data, local, at);
        else if (flag === 'g') parsePax(data, globals, at);
        else if (flag === 'L') longName = cstring(data, 0, data.length);
        else if (flag === 'K') longLink = cstring(data, 0, data.length);
        continue;
      }
      const pax = new Map([...globals, ...local]);
      const { dataSize, ...entry } = decodeEntry(block, at, pax, longName, longLink);
      local = new Map();
      longName = longLink = undefined;
      const state = { remaining: dataSize, current: true };
      yield { entry, body: readBody(src, state) };
      state.current = false;
      await skip(state.remaining);
      // The padding after the last entry's data may be missing, with the end blocks (the docker CLI sends
      // such an archive when it adds a Dockerfile to a context): an input that stops right after the data
      // ends there, as in Go's reader. One that stops inside the padding was cut short.
      const pad = -dataSize & (BLOCK - 1);
      if (pad > 0) {
        const first = await src.chunk(pad);
        if (!first) return;
        await skip(pad - first.length);
      }
    }
  } finally {
    await src.close();
  }
}

async function* readBody(src: Source, state: { remaining: number; current: boolean }): AsyncGenerator<Buffer> {
  while (state.remaining > 0) {
    if (!state.current) throw new InvalidArgument('tar entry body read after the reader moved to the next entry');
    const c = await src.chunk(state.remaining);
    if (!c) throw truncated(src.offset);
    state.remaining -= c.length;
    yield c;
  }
}

// ---------------------------------------------------------------------------------------------- writing

const isAscii = (s: string) => /^[\x01-\x7f]*$/.test(s);

/** Writes `value` as NUL-terminated octal, or base-256 when it does not fit; false if octal did not fit. */
function putNumber(b: Buffer, start: number, len: number, value: number): boolean {
  const octal = value >= 0 ? value.toString(8) : '';
  if (value >= 0 && octal.length < len) {
    b.write(octal.padStart(len - 1, '0'), start, 'latin1');
    return true;
  }
  let v = BigInt(value);
  if (v < 0n) v += 1n << BigInt(8 * len);
  for (let i = len - 1; i >= 0; i--, v >>= 8n) b[start + i] = Number(v & 0xffn);
  b[start] = value < 0 ? 0xff : 0x80;
  return false;
}

function paxRecord(key: string, value: Buffer): Buffer {
  const rest = Buffer.concat([Buffer.from(` ${key}=`), value, Buffer.from('\n')]);
  let len = rest.length + 1;
  while (String(len).length + rest.length !== len) len = String(len).length + rest.length;
  return Buffer.concat([Buffer.from(String(len)), rest]);
}

/** The [prefix, name] split of a path that fits ustar's fields, or null. */
function splitName(name: string): [string, string] | null {
  if (!isAscii(name)) return null;
  if (name.length <= 100) return ['', name];
  for (let i = name.indexOf('/'); i >= 0 && i <= 155; i = name.indexOf('/', i + 1)) {
    if (name.length - i - 1 <= 100 && i > 0 && i < name.length - 1) return [name.slice(0, i), name.slice(i + 1)];
  }
  return null;
}

/** A ustar header block; fields that do not fit are added to `pax`. */
function headerBlock(
  name: string, prefix: string, flag: string, e: TarEntry, size: number, pax: [string, Buffer][],
): Buffer {
  const b = Buffer.alloc(BLOCK);
  Buffer.from(name).copy(b, 0, 0, 100);
  b.write(prefix, 345, 155, 'latin1');
  putNumber(b, 100, 8, e.mode & 0o7777);
  if (!putNumber(b, 108, 8, e.uid)) pax.push(['uid', Buffer.from(String(e.uid))]);
  if (!putNumber(b, 116, 8, e.gid)) pax.push(['gid', Buffer.from(String(e.gid))]);
  if (!putNumber(b, 124, 12, size)) pax.push(['size', Buffer.from(String(size))]);
  const whole = Math.floor(e.mtime);
  if (!putNumber(b, 136, 12, whole) || whole !== e.mtime) pax.push(['mtime', Buffer.from(String(e.mtime))]);
  b.write(flag, 156, 'latin1');
  b.write('ustar\x0000', 257, 'latin1');
  putNumber(b, 329, 8, e.devmajor);
  putNumber(b, 337, 8, e.devminor);
  const fit = (key: string, value: string, start: number, len: number) => {
    if (isAscii(value) && value.length <= len) b.write(value, start, len, 'latin1');
    else pax.push([key, Buffer.from(value)]);
  };
  fit('linkpath', e.linkname, 157, 100);
  fit('uname', e.uname ?? '', 265, 32);
  fit('gname', e.gname ?? '', 297, 32);
  return b;
}

function seal(b: Buffer): Buffer {
  b.write(`${checksums(b)[0].toString(8).padStart(6, '0')}\0 `, 148, 'latin1');
  return b;
}

/** The header blocks of one entry: a pax 'x' header first when some field does not fit ustar. */
export function encodeHeader(e: TarEntry): Buffer {
  const bad = (why: string) => new InvalidArgument(`cannot write tar entry ${JSON.stringify(e.name)}: ${why}`);
  if (e.name === '' || e.name.includes('\0') || e.linkname.includes('\0')) throw bad('empty name or NUL in a name');
  const size = e.type === 'file' ? e.size : 0;
  if (!Number.isSafeInteger(size) || size < 0) throw bad(`invalid size ${e.size}`);
  const ids = [e.uid, e.gid, e.devmajor, e.devminor];
  if (!ids.every((n) => Number.isSafeInteger(n) && n >= 0)) throw bad('invalid id or device number');
  if (!Number.isFinite(e.mtime)) throw bad(`invalid mtime ${e.mtime}`);
  const name = e.type === 'dir' && !e.name.endsWith('/') ? `${e.name}/` : e.name;
  const pax: [string, Buffer][] = [];
  const split = splitName(name);
  if (!split) pax.push(['path', Buffer.from(name)]);
  const header = headerBlock(split?.[1] ?? name, split?.[0] ?? '', FLAG_BY_TYPE[e.type], e, size, pax);
  for (const [k, v] of Object.entries(e.xattrs)) {
    if (k.includes('=') || k.includes('\0')) throw bad(`invalid xattr name ${JSON.stringify(k)}`);
    pax.push([`SCHILY.xattr.${k}`, v]);
  }
  if (pax.length === 0) return seal(header);
  const data = Buffer.concat(pax.map(([k, v]) => paxRecord(k, v)));
  const base = name.replace(/\/+$/, '').split('/').pop() || 'entry';
  const paxEntry = tarEntry({ name: '', type: 'file', mtime: Math.max(0, Math.floor(e.mtime)) });
  const paxHeader = headerBlock(`PaxHeaders/${base}`, '', 'x', paxEntry, data.length, []);
  return Buffer.concat([seal(paxHeader), data, Buffer.alloc(-data.length & (BLOCK - 1)), seal(header)]);
}

/**
 * Writes a tar stream: each entry's header, its body (checked against `entry.size`) padded to 512
 * bytes, and two zero blocks at the end. Body chunks are passed through, so memory stays bounded.
 */
export async function* writeTar(items: AsyncIterable<TarInput> | Iterable<TarInput>): AsyncGenerator<Buffer> {
  for await (const { entry, body } of items) {
    yield encodeHeader(entry);
    const size = entry.type === 'file' ? entry.size : 0;
    let n = 0;
    for await (const chunk of body === undefined ? [] : Buffer.isBuffer(body) ? [body] : body) {
      n += chunk.length;
      if (n > size) break;
      yield chunk;
    }
    if (n !== size) {
      const what = `tar entry ${JSON.stringify(entry.name)}`;
      throw new InvalidArgument(`${what}: body is not the ${size} bytes its header says`);
    }
    if (size & (BLOCK - 1)) yield Buffer.alloc(-size & (BLOCK - 1));
  }
  yield Buffer.alloc(2 * BLOCK);
}

// ---------------------------------------------------------------------------------------------- compression

/** Sniffs gzip (1f 8b) or zstd (28 b5 2f fd) and decompresses; anything else passes through unchanged. */
export async function* decompressStream(input: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
  const it = input[Symbol.asyncIterator]();
  let head: Buffer = Buffer.alloc(0);
  let done = false;
  while (head.length < 4 && !done) {
    const r = await it.next();
    if (r.done) done = true;
    else head = head.length === 0 ? r.value : Buffer.concat([head, r.value]);
  }
  async function* all(): AsyncGenerator<Buffer> {
    try {
      if (head.length > 0) yield head;
      while (!done) {
        const r = await it.next();
        if (r.done) done = true;
        else yield r.value;
      }
    } finally {
      if (!done) await it.return?.();
    }
  }
  const kind = head[0] === 0x1f && head[1] === 0x8b ? 'gzip'
    : head.length >= 4 && head.readUInt32LE(0) === 0xfd2fb528 ? 'zstd' : undefined;
  if (!kind) return yield* all();
  // 256 KiB output chunks, not zlib's 16 KiB: each chunk crosses several async generators downstream, and
  // at 16 KiB that per-chunk cost outweighed inflating itself (measured: a 99 MB pull's gunzip 0.70 s → 0.36 s).
  const z = kind === 'gzip' ? nodeZlib().createGunzip({ chunkSize: 256 * 1024 }) : nodeZlib().createZstdDecompress({ chunkSize: 256 * 1024 });
  pipeline(Readable.from(all()), z, () => {});
  try {
    for await (const chunk of z) yield chunk as Buffer;
  } catch (e) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && /^(Z_|ZSTD_)/.test(code)) {
      throw new InvalidArgument(`corrupt ${kind} stream: ${(e as Error).message}`, { cause: e });
    }
    throw e;
  }
}
