/** Whether this process runs as root of a user namespace other than the host's, and for which user. */
import { readFileSync } from 'node:fs';

/**
 * The user this process stands for when it runs as root of a user namespace (an ordinary user's Berth, made so by
 * berth-userns: src/runtime/userns.c), from the namespace's uid map; undefined for the host's root.
 */
export function rootlessUser(uidMap = readMap('uid')): number | undefined {
  const first = uidMap.trim().split('\n')[0]?.trim().split(/\s+/).map(Number);
  if (!first || first.length !== 3 || first[0] !== 0) return undefined;
  if (first[1] === 0 && first[2] === 4294967295) return undefined;
  return first[1];
}

/** The ids of an ordinary user's namespace: the user's own (its 0) and how many ids it holds from 0 up. */
export interface RootlessIds {
  uid: number;
  gid: number;
  /** Ids 0 … uidCount-1 are mapped (0 the user, the rest its subordinate ones). */
  uidCount: number;
  gidCount: number;
}

/** The ids of this process's user namespace when it is an ordinary user's, else undefined. */
export function rootlessIds(uidMap = readMap('uid'), gidMap = readMap('gid')): RootlessIds | undefined {
  const uid = rootlessUser(uidMap);
  const gid = rootlessUser(gidMap);
  if (uid === undefined || gid === undefined) return undefined;
  return { uid, gid, uidCount: contiguous(uidMap), gidCount: contiguous(gidMap) };
}

/** How many ids from 0 up a map covers without a gap. */
function contiguous(map: string): number {
  const lines = map.trim().split('\n').map((l) => l.trim().split(/\s+/).map(Number)).sort((a, b) => a[0]! - b[0]!);
  let next = 0;
  for (const [inside, , count] of lines) {
    if (inside !== next) break;
    next += count!;
  }
  return next;
}

function readMap(which: 'uid' | 'gid'): string {
  try {
    return readFileSync(`/proc/self/${which}_map`, 'utf8');
  } catch {
    return '0 0 4294967295';
  }
}
