/**
 * Resolving a container path on the host, as if the container's root were `/`.
 *
 * Each component is looked at with lstat; a symlink's target is spliced into the rest of the path, an
 * absolute target restarting at the root, so no symlink or `..` can lead out of the root. This guards
 * against the container's own files (a symlink planted by the image or by a process), not against the
 * tree changing while we walk it: callers that need that must pause the container.
 */
import { lstatSync, readlinkSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { InvalidArgument } from '../errors.ts';

/** Linux's limit on symlinks followed in one lookup (MAXSYMLINKS). */
const MAX_LINKS = 40;

export interface ResolveOptions {
  /** Follow a symlink in the last component too (default true); false returns the link itself. */
  followFinal?: boolean;
}

const parts = (p: string) => p.split('/').filter((s) => s !== '' && s !== '.');

/**
 * The host path of `path` inside `root` (both may be relative to the working directory; the result is
 * absolute and always `root` or below it). Components that do not exist are kept as written, so the
 * result can name a file to create. Throws InvalidArgument after more than 40 symlinks (a loop).
 */
export function resolveInRoot(root: string, path: string, opts: ResolveOptions = {}): string {
  const base = resolve(root);
  const followFinal = opts.followFinal ?? true;
  const done: string[] = [];
  const todo = parts(path);
  let links = 0;
  while (todo.length > 0) {
    const part = todo.shift()!;
    if (part === '..') {
      done.pop();
      continue;
    }
    const host = join(base, ...done, part);
    let isLink = false;
    try {
      isLink = (todo.length > 0 || followFinal) && lstatSync(host).isSymbolicLink();
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code !== 'ENOENT' && code !== 'ENOTDIR') throw e;
    }
    if (!isLink) {
      done.push(part);
      continue;
    }
    if (++links > MAX_LINKS) {
      throw new InvalidArgument(`too many levels of symbolic links resolving ${path} in ${root}`);
    }
    const target = readlinkSync(host);
    if (target.startsWith('/')) done.length = 0;
    todo.unshift(...parts(target));
  }
  return join(base, ...done);
}
