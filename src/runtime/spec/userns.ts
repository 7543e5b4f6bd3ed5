/**
 * User namespaces: --userns modes and the uid/gid mappings they produce from the subordinate id
 * ranges in /etc/subuid and /etc/subgid. Pure over the files' text; readSubIdFiles() reads them.
 */
import { readFileSync } from 'node:fs';
import { InvalidArgument } from '../../errors.ts';

/** One OCI uidMappings/gidMappings entry: container ids [containerID, +size) are host ids [hostID, +size). */
export interface IdMapping {
  containerID: number;
  hostID: number;
  size: number;
}

export interface IdMappings {
  uidMappings: IdMapping[];
  gidMappings: IdMapping[];
}

/** A subordinate id range, `name:start:count` in /etc/subuid or /etc/subgid. */
export interface SubIdRange {
  start: number;
  count: number;
}

export type UsernsMode =
  | { kind: 'host' }
  /** A fresh block of `size` ids from the engine user's ranges, unused by other containers. */
  | { kind: 'auto'; size: number }
  /** All of `user`'s ranges, as docker's --userns-remap. */
  | { kind: 'remap'; user: string }
  /** An ordinary user's own id (and gid) the same inside as outside (podman's keep-id). */
  | { kind: 'keep-id' };

/** The user whose ranges `remap` takes when none is named (docker's is dockremap). */
export const DEFAULT_REMAP_USER = 'berthremap';
/** Ids per container with `auto`: a full 16-bit uid space, as images expect. */
export const DEFAULT_AUTO_SIZE = 65536;

/**
 * The ranges `user` (or the numeric `uid`, which the files may list instead of the name) owns, in
 * file order. Comments, blank and malformed lines are ignored, as shadow-utils does.
 */
export function parseSubIds(text: string, user: string, uid?: number): SubIdRange[] {
  const out: SubIdRange[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const [name, start, count, ...rest] = line.split(':');
    if (rest.length > 0 || !/^\d+$/.test(start ?? '') || !/^\d+$/.test(count ?? '') || Number(count) === 0) continue;
    if (name === user || (uid !== undefined && name === String(uid))) out.push({ start: Number(start), count: Number(count) });
  }
  return out;
}

/** --userns: `host` (or empty), `auto`, `auto:size=N`, `remap`, `remap:USER`, `keep-id`. */
export function parseUserns(value: string, remapUser: string = DEFAULT_REMAP_USER): UsernsMode {
  if (value === '' || value === 'host') return { kind: 'host' };
  if (value === 'keep-id') return { kind: 'keep-id' };
  const colon = value.indexOf(':');
  const mode = colon < 0 ? value : value.slice(0, colon);
  const arg = colon < 0 ? undefined : value.slice(colon + 1);
  if (mode === 'remap' && arg !== '') return { kind: 'remap', user: arg ?? remapUser };
  if (mode === 'auto' && arg === undefined) return { kind: 'auto', size: DEFAULT_AUTO_SIZE };
  const size = mode === 'auto' ? Number(/^size=(\d+)$/.exec(arg ?? '')?.[1] ?? NaN) : NaN;
  if (size >= 1 && size <= 2 ** 32 - 1) return { kind: 'auto', size };
  throw new InvalidArgument(`invalid --userns mode: ${JSON.stringify(value)} (host, auto[:size=N], remap[:USER] or keep-id)`);
}

function rangesOf(text: string, which: 'uid' | 'gid', user: string, uid?: number): SubIdRange[] {
  const ranges = parseSubIds(text, user, uid);
  if (ranges.length === 0) throw new InvalidArgument(`no subordinate ${which} range for user ${user} in /etc/sub${which}`);
  return ranges;
}

/** Each range after the previous one, container id 0 first, as docker's userns-remap maps them. */
function concatenated(ranges: readonly SubIdRange[]): IdMapping[] {
  let containerID = 0;
  return ranges.map((r) => {
    const m = { containerID, hostID: r.start, size: r.count };
    containerID += r.count;
    return m;
  });
}

/** `remap`: all of `user`'s subordinate uids and gids, concatenated from container id 0. */
export function remapMappings(subuid: string, subgid: string, user: string, uid?: number): IdMappings {
  return {
    uidMappings: concatenated(rangesOf(subuid, 'uid', user, uid)),
    gidMappings: concatenated(rangesOf(subgid, 'gid', user, uid)),
  };
}

/** The lowest start of `size` free ids inside one of `ranges`, avoiding every `used` block. */
function freeBlock(ranges: readonly SubIdRange[], size: number, used: readonly IdMapping[]): number | undefined {
  for (const r of ranges) {
    let start = r.start;
    for (;;) {
      if (start + size > r.start + r.count) break;
      const clash = used.filter((u) => u.hostID < start + size && start < u.hostID + u.size);
      if (clash.length === 0) return start;
      start = Math.max(...clash.map((u) => u.hostID + u.size));
    }
  }
  return undefined;
}

function autoMapping(text: string, which: 'uid' | 'gid', user: string, size: number, used: readonly IdMapping[], uid?: number): IdMapping[] {
  const start = freeBlock(rangesOf(text, which, user, uid), size, used);
  if (start === undefined) {
    throw new InvalidArgument(`not enough free subordinate ${which}s for user ${user} in /etc/sub${which}: need ${size}`);
  }
  return [{ containerID: 0, hostID: start, size }];
}

/**
 * `auto`: one block of `size` ids from `user`'s ranges (the engine's own user) that overlaps none of
 * the host ids other containers use (`used`, their mappings), chosen separately for uids and gids.
 */
export function autoMappings(
  subuid: string,
  subgid: string,
  user: string,
  size: number,
  used: { uid: readonly IdMapping[]; gid: readonly IdMapping[] },
  uid?: number,
): IdMappings {
  return {
    uidMappings: autoMapping(subuid, 'uid', user, size, used.uid, uid),
    gidMappings: autoMapping(subgid, 'gid', user, size, used.gid, uid),
  };
}

/**
 * keep-id's mapping of one kind of id, over the `count` ids (0 …) of the user's own namespace, where 0 is the
 * user: container id `id` is that 0, the container's 0 … id-1 are the namespace's 1 … id, and the rest above
 * stay where they are. So the user's files are theirs inside, and the container's root is a subordinate id.
 */
export function keepIdMapping(id: number, count: number, which: 'uid' | 'gid'): IdMapping[] {
  if (count <= id) {
    throw new InvalidArgument(`--userns keep-id: ${which} ${id} cannot keep its id: the user's namespace holds ids 0-${count - 1} (${count - 1} subordinate ${which}s in /etc/sub${which}), and ${id} more are needed below it`);
  }
  const out: IdMapping[] = [];
  if (id > 0) out.push({ containerID: 0, hostID: 1, size: id });
  out.push({ containerID: id, hostID: 0, size: 1 });
  if (count - id - 1 > 0) out.push({ containerID: id + 1, hostID: id + 1, size: count - id - 1 });
  return out;
}

/** The text of /etc/subuid and /etc/subgid; a missing file reads as empty. */
export function readSubIdFiles(dir = '/etc'): { subuid: string; subgid: string } {
  const read = (name: string): string => {
    try {
      return readFileSync(`${dir}/${name}`, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return '';
      throw e;
    }
  };
  return { subuid: read('subuid'), subgid: read('subgid') };
}
