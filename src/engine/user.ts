/**
 * `-u user[:group]` resolved against the image's /etc/passwd and /etc/group, as docker does at create:
 * names must exist; numbers may be anything; supplementary groups come from group membership.
 */
import { InvalidArgument } from '../errors.ts';

export interface ResolvedUser {
  uid: number;
  gid: number;
  additionalGids: number[];
  home: string;
  name: string;
}

interface PasswdEntry {
  name: string;
  uid: number;
  gid: number;
  home: string;
}
interface GroupEntry {
  name: string;
  gid: number;
  members: string[];
}

export function parsePasswd(text: string | null): PasswdEntry[] {
  return (text ?? '')
    .split('\n')
    .map((l) => l.split(':'))
    .filter((f) => f.length >= 6 && /^\d+$/.test(f[2]!) && /^\d+$/.test(f[3]!))
    .map((f) => ({ name: f[0]!, uid: Number(f[2]), gid: Number(f[3]), home: f[5]! }));
}

export function parseGroup(text: string | null): GroupEntry[] {
  return (text ?? '')
    .split('\n')
    .map((l) => l.split(':'))
    .filter((f) => f.length >= 3 && /^\d+$/.test(f[2]!))
    .map((f) => ({ name: f[0]!, gid: Number(f[2]), members: (f[3] ?? '').split(',').filter(Boolean) }));
}

const MAX_ID = 2 ** 32 - 2;

function numeric(s: string): number | null {
  if (!/^\d+$/.test(s)) return null;
  const n = Number(s);
  if (n > MAX_ID) throw new InvalidArgument(`user id ${s} is out of range`);
  return n;
}

export function resolveUser(spec: string, passwdText: string | null, groupText: string | null): ResolvedUser {
  const passwd = parsePasswd(passwdText);
  const groups = parseGroup(groupText);
  // No user asked: root's entry when the image has one, else uid 0 as is (docker runs an image without
  // /etc/passwd as root too; only a user named in --user or USER must be found).
  const [userPart = '', groupPart] = (spec || (passwd.some((p) => p.name === 'root') ? 'root' : '0')).split(':', 2);
  if (userPart === '' && spec !== '') throw new InvalidArgument(`invalid user: ${spec}`);
  let uid: number;
  let gid: number;
  let name: string;
  let home = '/';
  const n = numeric(userPart);
  const entry = n === null ? passwd.find((p) => p.name === userPart) : passwd.find((p) => p.uid === n);
  if (n === null && !entry) {
    throw new InvalidArgument(`unable to find user ${userPart}: no matching entries in passwd file`);
  }
  if (entry) {
    uid = entry.uid;
    gid = entry.gid;
    name = entry.name;
    home = entry.home;
  } else {
    uid = n!;
    gid = n!;
    name = userPart;
    gid = 0;
  }
  if (groupPart !== undefined) {
    if (groupPart === '') throw new InvalidArgument(`invalid user: ${spec}`);
    const g = numeric(groupPart);
    if (g !== null) gid = g;
    else {
      const ge = groups.find((x) => x.name === groupPart);
      if (!ge) throw new InvalidArgument(`unable to find group ${groupPart}: no matching entries in group file`);
      gid = ge.gid;
    }
  }
  const additionalGids =
    groupPart === undefined && entry
      ? groups.filter((g) => g.members.includes(entry.name) && g.gid !== gid).map((g) => g.gid)
      : [];
  return { uid, gid, additionalGids, home, name };
}
