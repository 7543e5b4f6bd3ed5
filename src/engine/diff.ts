/**
 * `diff`: what a container changed, read from its overlay upper dir against the image's layers. An
 * overlay whiteout (a 0:0 character device) is a deletion; a path the image has is a change; anything
 * else was added. Paths come sorted, as docker lists them.
 */
import { lstatSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { EngineCore } from './core.ts';
import { treeSize } from '../sys/du.ts';

export interface Change {
  kind: 'A' | 'C' | 'D';
  path: string;
}

/** docker's SizeRw (the container's own files) and SizeRootFs (those plus the image's). */
export function containerSizes(engine: EngineCore, ref: string): { rw: number; rootFs: number } {
  const row = engine.find(ref);
  const rw = treeSize(join(engine.dir(row.id), 'diff'));
  return { rw, rootFs: rw + (engine.images.repo.get(row.imageId)?.size ?? 0) };
}

/** Kind 0/1/2 in docker's API (`Kind`): changed, added, deleted. */
export const CHANGE_KIND = { C: 0, A: 1, D: 2 } as const;

function isWhiteout(p: string): boolean {
  const st = lstatSync(p, { bigint: false });
  return st.isCharacterDevice() && st.rdev === 0;
}

export function containerChanges(engine: EngineCore, ref: string): Change[] {
  const row = engine.inspect(ref);
  const img = engine.images.repo.get(row.imageId);
  const lowers = img ? engine.images.lowerDirs(img) : [];
  const inImage = (rel: string) => lowers.some((l) => lstatSync(join(l, rel), { throwIfNoEntry: false }) !== undefined);
  const out: Change[] = [];
  const walk = (upper: string, rel: string) => {
    for (const name of readdirSync(upper)) {
      const p = join(upper, name);
      const r = `${rel}/${name}`;
      if (isWhiteout(p)) {
        out.push({ kind: 'D', path: r });
        continue;
      }
      out.push({ kind: inImage(r) ? 'C' : 'A', path: r });
      if (lstatSync(p).isDirectory()) walk(p, r);
    }
  };
  walk(join(engine.dir(row.id), 'diff'), '');
  // The runtime creates empty mount points for the engine's own binds in the upper dir; docker keeps those
  // in a layer of its own, so they are not the container's changes (nor the directories holding only them).
  const upper = join(engine.dir(row.id), 'diff');
  const stub = (c: Change) => c.kind === 'A' && ENGINE_MOUNTS.has(c.path) && lstatSync(join(upper, c.path)).size === 0;
  const kept = out.filter((c) => !stub(c));
  const pruned = kept.filter((c) => c.kind !== 'C' || !out.some((s) => stub(s) && s.path.startsWith(`${c.path}/`)) || kept.some((k) => k.path.startsWith(`${c.path}/`)));
  return pruned.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

const ENGINE_MOUNTS = new Set(['/etc/hosts', '/etc/hostname', '/etc/resolv.conf']);
