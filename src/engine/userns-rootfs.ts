/**
 * A user-namespaced container sees host uid H as container uid H - hostID: the image's files, owned by
 * host root, would show as nobody and be read-only to the container's root. So such a container gets
 * its own copy of the image's layers with every owner shifted into its range (made once, on its first
 * start, removed with the container), and its upper dir and volumes owned by its root.
 */
import { chmodSync, existsSync, lchownSync, lstatSync, mkdirSync, readdirSync, realpathSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { RuntimeFailure } from '../errors.ts';
import type { IdMapping } from '../runtime/spec/userns.ts';
import { run } from '../sys/run.ts';

/** The host id of container id `id`, or the id itself where no mapping covers it. */
export function toHost(id: number, maps: readonly IdMapping[]): number {
  const m = maps.find((x) => id >= x.containerID && id < x.containerID + x.size);
  return m ? m.hostID + (id - m.containerID) : id;
}

/** Shift the owner of every entry below `dir` (itself included) into the mapping; each inode once. */
export function shiftOwners(dir: string, uids: readonly IdMapping[], gids: readonly IdMapping[]): void {
  const seen = new Set<string>();
  const visit = (p: string) => {
    const st = lstatSync(p);
    const key = `${st.dev}:${st.ino}`;
    if (!seen.has(key)) {
      seen.add(key);
      lchownSync(p, toHost(st.uid, uids), toHost(st.gid, gids));
      // chown clears setuid/setgid bits: put them back (a symlink has no mode of its own).
      if ((st.mode & 0o6000) !== 0 && !st.isSymbolicLink()) chmodSync(p, st.mode & 0o7777);
    }
    if (st.isDirectory()) for (const name of readdirSync(p)) visit(join(p, name));
  };
  visit(dir);
}

/**
 * Lower dirs for the container: the image's own without a user namespace, else the container's shifted
 * copies under `<dir>/lower`, made now if missing (a copy half made by an interrupted start is redone).
 */
export async function mappedLowerDirs(dir: string, lowers: readonly string[], uids: readonly IdMapping[], gids: readonly IdMapping[]): Promise<string[]> {
  const base = join(dir, 'lower');
  mkdirSync(base, { recursive: true, mode: 0o711 });
  const out: string[] = [];
  for (let i = 0; i < lowers.length; i++) {
    const target = join(base, String(i));
    out.push(target);
    if (existsSync(target)) continue;
    const tmp = `${target}.tmp`;
    rmSync(tmp, { recursive: true, force: true });
    // A lower dir may be a short link to the layer (src/image/layers.ts): copy what it points at.
    const r = await run('cp', ['-a', '--', realpathSync(lowers[i]!), tmp]);
    if (r.code !== 0) throw new RuntimeFailure(`user namespace: copying the image's layer failed: ${r.stderr.trim()}`);
    shiftOwners(tmp, uids, gids);
    renameSync(tmp, target);
  }
  return out;
}
