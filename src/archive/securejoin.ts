/**
 * Resolving a container path on the host, as if the container's root were `/` (resolveInRoot), or as the
 * container sees its whole tree, with its volumes and binds mounted (resolveInMounts).
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

/** A filesystem mounted in the container: its destination there and the host directory (or file) it shows. */
export interface MountPoint {
  destination: string;
  source: string;
}

interface Mounted {
  parts: string[];
  source: string;
}

/** The mount a container path (as components) lies on: the one with the longest destination prefix; -1 for the root. */
function mountOf(mounts: readonly Mounted[], comps: readonly string[]): number {
  let best = -1;
  for (const [i, m] of mounts.entries()) {
    if (m.parts.length > comps.length || (best >= 0 && m.parts.length <= mounts[best]!.parts.length)) continue;
    if (m.parts.every((p, j) => comps[j] === p)) best = i;
  }
  return best;
}

function hostOf(root: string, mounts: readonly Mounted[], comps: readonly string[]): { host: string; mount: number } {
  const i = mountOf(mounts, comps);
  if (i < 0) return { host: join(root, ...comps), mount: -1 };
  return { host: join(mounts[i]!.source, ...comps.slice(mounts[i]!.parts.length)), mount: i };
}

/**
 * Walk `path` component by component in the container's namespace; returns the resolved container path
 * as components. Each component is looked up on the host where it lives (the root, or the mount it lies
 * on); a symlink's target is spliced into the rest, an absolute one restarting at the container's `/`,
 * and `..` climbs in the container's tree (out of a mount into the directory it is mounted on, never
 * above `/`). A mount point is what the container sees there, never a symlink.
 */
function walk(root: string, mounts: readonly Mounted[], path: string, followFinal: boolean): string[] {
  const done: string[] = [];
  const todo = parts(path);
  let links = 0;
  while (todo.length > 0) {
    const part = todo.shift()!;
    if (part === '..') {
      done.pop();
      continue;
    }
    done.push(part);
    if (todo.length === 0 && !followFinal) break;
    const { host, mount } = hostOf(root, mounts, done);
    if (mount >= 0 && mounts[mount]!.parts.length === done.length) continue;
    let target: string | undefined;
    try {
      if (lstatSync(host).isSymbolicLink()) target = readlinkSync(host);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code !== 'ENOENT' && code !== 'ENOTDIR') throw e;
    }
    if (target === undefined) continue;
    if (++links > MAX_LINKS) throw new InvalidArgument(`too many levels of symbolic links resolving ${path} in ${root}`);
    done.pop();
    if (target.startsWith('/')) done.length = 0;
    todo.unshift(...parts(target));
  }
  return done;
}

/**
 * The host path of `path` inside `root` (both may be relative to the working directory; the result is
 * absolute and always `root` or below it). Components that do not exist are kept as written, so the
 * result can name a file to create. Throws InvalidArgument after more than 40 symlinks (a loop).
 */
export function resolveInRoot(root: string, path: string, opts: ResolveOptions = {}): string {
  const base = resolve(root);
  return join(base, ...walk(base, [], path, opts.followFinal ?? true));
}

/** Where a container path led: the host path, and the mount it is on (its index in the list; -1: the root). */
export interface Resolved {
  host: string;
  mount: number;
  /** The resolved path in the container. */
  path: string;
}

/**
 * The host path of a container path in a container whose `/` is `root` with `mounts` (volumes, binds)
 * on top, as the kernel would resolve it inside the container: symlinks, absolute or with `..`, are
 * followed through the whole tree in the container's namespace, and wherever the path reaches a mount's
 * destination it goes on in that mount's source. The result is always below `root` or a mount's source.
 * A destination that goes through a symlink (an image's `/var/run -> /run`) is where the runtime mounted
 * it: resolved the same way, with the mounts listed before it (list parents first, as the runtime mounts).
 */
export function resolveInMounts(root: string, mounts: readonly MountPoint[], path: string, opts: ResolveOptions = {}): Resolved {
  const base = resolve(root);
  const placed: Mounted[] = [];
  for (const m of mounts) placed.push({ parts: walk(base, placed, m.destination, true), source: resolve(m.source) });
  const comps = walk(base, placed, path, opts.followFinal ?? true);
  return { ...hostOf(base, placed, comps), path: `/${comps.join('/')}` };
}
