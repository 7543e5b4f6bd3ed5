/**
 * The few file-system calls Node lacks (mknod, extended attributes), through koffi.
 *
 * koffi is loaded on first use (synchronously, through `require`, so these stay plain functions like
 * `fs.*Sync`): only the archive paths pay its ~20 ms. Failures throw Node-style errors
 * (`code` = 'EPERM', `errno` < 0, `syscall`, `path`) so callers handle them like any `fs` error.
 */
import { createRequire } from 'node:module';
import { nodeUtil } from './builtins.ts';

const ENODATA = 61;
const ERANGE = 34;
const ENOTSUP = 95;

interface Libc {
  errno(): number;
  mknod(path: string, mode: number, dev: bigint): number;
  lsetxattr(path: string, name: string, value: Buffer, size: number, flags: number): number;
  lgetxattr(path: string, name: string, value: Buffer | null, size: number): number;
  llistxattr(path: string, list: Buffer | null, size: number): number;
}

let libc: Libc | undefined;

function load(): Libc {
  if (libc) return libc;
  const koffi = createRequire(import.meta.url)('koffi') as typeof import('koffi');
  const lib = koffi.load('libc.so.6');
  let mknod: Libc['mknod'];
  try {
    mknod = lib.func('int mknod(const char *, uint32_t, uint64_t)');
  } catch {
    // glibc < 2.33 exports only the versioned wrapper (RHEL 8, Debian 10).
    const xmknod = lib.func('int __xmknod(int, const char *, uint32_t, void *)');
    mknod = (path, mode, dev) => {
      const d = Buffer.alloc(8);
      d.writeBigUInt64LE(dev);
      return xmknod(0, path, mode, d) as number;
    };
  }
  libc = {
    errno: () => koffi.errno(),
    mknod,
    lsetxattr: lib.func('int lsetxattr(const char *, const char *, const void *, size_t, int)'),
    lgetxattr: lib.func('intptr_t lgetxattr(const char *, const char *, void *, size_t)'),
    llistxattr: lib.func('intptr_t llistxattr(const char *, void *, size_t)'),
  };
  return libc;
}

/** A Node-style system error (`EPERM: operation not permitted, mknod '/x'`). */
function sysError(syscall: string, path: string, errno: number): NodeJS.ErrnoException {
  const code = nodeUtil().getSystemErrorName(-errno);
  const message = `${code}: ${nodeUtil().getSystemErrorMessage(-errno).toLowerCase()}, ${syscall} '${path}'`;
  return Object.assign(new Error(message), { errno: -errno, code, syscall, path });
}

/** Linux `makedev`: the dev_t for a major/minor pair. */
export function makedev(major: number, minor: number): bigint {
  const ma = BigInt(major);
  const mi = BigInt(minor);
  return ((ma & 0xfffff000n) << 32n) | ((ma & 0xfffn) << 8n) | ((mi & 0xffffff00n) << 12n) | (mi & 0xffn);
}

/** Linux `major`/`minor` of a dev_t (`stat.rdev`). */
export function splitDev(dev: number | bigint): { major: number; minor: number } {
  const d = BigInt(dev);
  return {
    major: Number(((d >> 8n) & 0xfffn) | ((d >> 32n) & ~0xfffn)),
    minor: Number((d & 0xffn) | ((d >> 12n) & ~0xffn)),
  };
}

/** mknod(2): `mode` carries the file type (S_IFCHR, S_IFBLK, S_IFIFO) and permission bits. */
export function mknod(path: string, mode: number, major = 0, minor = 0): void {
  const c = load();
  if (c.mknod(path, mode, makedev(major, minor)) !== 0) throw sysError('mknod', path, c.errno());
}

/** lsetxattr(2): set an extended attribute without following a final symlink. */
export function lsetxattr(path: string, name: string, value: Buffer): void {
  const c = load();
  if (c.lsetxattr(path, name, value, value.length, 0) !== 0) throw sysError('lsetxattr', path, c.errno());
}

/** lgetxattr(2): the attribute's value, or undefined when the file has no such attribute. */
export function lgetxattr(path: string, name: string): Buffer | undefined {
  const c = load();
  for (;;) {
    const size = c.lgetxattr(path, name, null, 0);
    if (size < 0) {
      const errno = c.errno();
      if (errno === ENODATA) return undefined;
      throw sysError('lgetxattr', path, errno);
    }
    const buf = Buffer.alloc(size);
    const n = size === 0 ? 0 : c.lgetxattr(path, name, buf, size);
    if (n >= 0) return buf.subarray(0, n);
    const errno = c.errno();
    // The value grew between the two calls: ask again.
    if (errno !== ERANGE) throw sysError('lgetxattr', path, errno);
  }
}

/** llistxattr(2): the names of a file's extended attributes ([] where the file system has none). */
export function llistxattr(path: string): string[] {
  const c = load();
  for (;;) {
    const size = c.llistxattr(path, null, 0);
    if (size < 0) {
      const errno = c.errno();
      if (errno === ENOTSUP) return [];
      throw sysError('llistxattr', path, errno);
    }
    if (size === 0) return [];
    const buf = Buffer.alloc(size);
    const n = c.llistxattr(path, buf, size);
    if (n >= 0) return buf.toString('utf8', 0, n).split('\0').filter((s) => s !== '');
    const errno = c.errno();
    if (errno !== ERANGE) throw sysError('llistxattr', path, errno);
  }
}
