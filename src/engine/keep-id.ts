/**
 * `--userns keep-id` (podman's): an ordinary user's container in which the user keeps its own uid and gid, runs
 * as them by default, and finds itself in /etc/passwd and /etc/group with its name and home, as podman adds
 * them. The mappings are src/runtime/spec/userns.ts's keepIdMapping; this file is the user's identity.
 */
import { closeSync, constants, fchownSync, lstatSync, openSync, readFileSync, writeSync, type Stats } from 'node:fs';
import { resolveInRoot } from '../archive/securejoin.ts';
import type { IdMap } from '../types.ts';
import { parseGroup, parsePasswd } from './user.ts';
import { toHost } from './userns-rootfs.ts';

/** The user a keep-id container keeps: its ids, and the name and home the host's files give it. */
export interface KeepIdUser {
  uid: number;
  gid: number;
  name: string;
  group: string;
  home: string;
}

function readText(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}

/** The user of `uid`/`gid` as the host's /etc/passwd and /etc/group know it (its number, and HOME, if they do not). */
export function hostUser(uid: number, gid: number, etc = '/etc', env: NodeJS.ProcessEnv = process.env): KeepIdUser {
  const p = parsePasswd(readText(`${etc}/passwd`)).find((e) => e.uid === uid);
  const g = parseGroup(readText(`${etc}/group`)).find((e) => e.gid === gid);
  const name = p?.name ?? String(uid);
  return { uid, gid, name, group: g?.name ?? name, home: p?.home || env.HOME || '/' };
}

/** The lines keep-id adds to an image's /etc/passwd and /etc/group: only for ids they lack. */
export function keepIdLines(passwd: string | null, group: string | null, u: KeepIdUser): { passwd?: string; group?: string } {
  return {
    ...(parsePasswd(passwd).some((e) => e.uid === u.uid) ? {} : { passwd: `${u.name}:*:${u.uid}:${u.gid}:${u.name}:${u.home}:/bin/sh\n` }),
    ...(parseGroup(group).some((e) => e.gid === u.gid) ? {} : { group: `${u.group}:x:${u.gid}:${u.name}\n` }),
  };
}

/** `text` with `line` after it, on a line of its own. */
export function appended(text: string | null, line: string | undefined): string | null {
  if (line === undefined) return text;
  const t = text ?? '';
  return `${t}${t === '' || t.endsWith('\n') ? '' : '\n'}${line}`;
}

/**
 * Write keep-id's lines into the mounted rootfs (its upper layer takes them), before the container's first
 * process runs. Each file is resolved inside the rootfs; one that is there but not a regular file is left be,
 * and one the image lacks is made (where its directory is), owned by the container's root and mode 0644.
 */
export function addKeepIdEntries(rootfs: string, u: KeepIdUser, uids: readonly IdMap[], gids: readonly IdMap[]): void {
  for (const which of ['passwd', 'group'] as const) {
    const path = resolveInRoot(rootfs, `/etc/${which}`);
    let st: Stats | undefined;
    try {
      st = lstatSync(path);
    } catch {
      st = undefined;
    }
    if (st && !st.isFile()) continue;
    const text = st ? readFileSync(path, 'utf8') : null;
    const line = which === 'passwd' ? keepIdLines(text, '', u).passwd : keepIdLines('', text, u).group;
    if (line === undefined) continue;
    let fd: number;
    try {
      fd = openSync(path, constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT | constants.O_NOFOLLOW, 0o644);
    } catch (e) {
      // No directory to make it in (no /etc, or a dangling link's): the container has no such file to read.
      if ((e as NodeJS.ErrnoException).code === 'ENOENT' || (e as NodeJS.ErrnoException).code === 'ENOTDIR') continue;
      throw e;
    }
    try {
      if (!st) fchownSync(fd, toHost(0, uids), toHost(0, gids));
      writeSync(fd, (appended(text, line) ?? '').slice((text ?? '').length));
    } finally {
      closeSync(fd);
    }
  }
}
