import { posix } from 'node:path';
import { InvalidArgument } from '../../errors.ts';
import type { MountSpec } from '../../types.ts';

export interface OciMount {
  destination: string;
  type: string;
  source: string;
  options: string[];
}

/** The filesystems every container gets, as docker sets them up (with a 64m /dev/shm). */
export function defaultMounts(): OciMount[] {
  return [
    { destination: '/proc', type: 'proc', source: 'proc', options: ['nosuid', 'noexec', 'nodev'] },
    {
      destination: '/dev',
      type: 'tmpfs',
      source: 'tmpfs',
      options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'],
    },
    {
      destination: '/dev/pts',
      type: 'devpts',
      source: 'devpts',
      options: ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620', 'gid=5'],
    },
    { destination: '/sys', type: 'sysfs', source: 'sysfs', options: ['nosuid', 'noexec', 'nodev', 'ro'] },
    {
      destination: '/sys/fs/cgroup',
      type: 'cgroup',
      source: 'cgroup',
      options: ['nosuid', 'noexec', 'nodev', 'ro'],
    },
    { destination: '/dev/mqueue', type: 'mqueue', source: 'mqueue', options: ['nosuid', 'noexec', 'nodev'] },
    {
      destination: '/dev/shm',
      type: 'tmpfs',
      source: 'shm',
      options: ['nosuid', 'noexec', 'nodev', 'mode=1777', 'size=65536k'],
    },
  ];
}

/** "/a/b/" and "/a//b" → "/a/b"; relative destinations are rejected. */
export function normalizeDestination(dest: string): string {
  if (!dest.startsWith('/')) throw new InvalidArgument(`invalid mount destination "${dest}": must be absolute`);
  const n = posix.normalize(dest);
  return n.length > 1 && n.endsWith('/') ? n.slice(0, -1) : n;
}

/** Flags that cancel each other; a later one replaces an earlier one of its pair. */
const OPPOSITES: Record<string, string> = {
  exec: 'noexec', noexec: 'exec', suid: 'nosuid', nosuid: 'suid', dev: 'nodev', nodev: 'dev',
  ro: 'rw', rw: 'ro', atime: 'noatime', noatime: 'atime',
};
const PROPAGATION = new Set(['private', 'rprivate', 'shared', 'rshared', 'slave', 'rslave', 'unbindable', 'runbindable']);

/** Merge mount options left to right: conflicting flags and repeated key=value keep the last. */
export function mergeOptions(options: readonly string[]): string[] {
  const out: string[] = [];
  for (const opt of options) {
    const key = opt.includes('=') ? opt.slice(0, opt.indexOf('=') + 1) : undefined;
    const opposite = OPPOSITES[opt];
    for (let i = out.length - 1; i >= 0; i--) {
      const o = out[i]!;
      const clash = o === opt || o === opposite || (PROPAGATION.has(opt) && PROPAGATION.has(o));
      if (clash || (key !== undefined && o.startsWith(key))) out.splice(i, 1);
    }
    out.push(opt);
  }
  return out;
}

/** One user mount in OCI form. Binds are recursive and rprivate, like docker's default propagation. */
export function toOciMount(m: MountSpec): OciMount {
  const destination = normalizeDestination(m.destination);
  if (m.type === 'bind') {
    const base = ['rbind', m.readonly ? 'ro' : 'rw', 'rprivate'];
    return { destination, type: 'bind', source: m.source, options: mergeOptions([...base, ...m.options]) };
  }
  // docker's --tmpfs defaults; tmpfs is world-writable+sticky unless the user picks a mode.
  const base = ['noexec', 'nosuid', 'nodev', 'rprivate'];
  if (!m.options.some((o) => o.startsWith('mode='))) base.push('mode=1777');
  if (m.readonly) base.push('ro');
  return { destination, type: 'tmpfs', source: 'tmpfs', options: mergeOptions([...base, ...m.options]) };
}

function depth(dest: string): number {
  return dest === '/' ? 0 : dest.split('/').length - 1;
}

/**
 * Defaults plus user mounts: a user mount replaces the default at the same destination, two user
 * mounts on one destination are an error, and the result is ordered so parents come first.
 */
export function buildMounts(user: readonly MountSpec[], extra: readonly OciMount[] = []): OciMount[] {
  const converted = [...user.map(toOciMount), ...extra];
  const seen = new Set<string>();
  for (const m of converted) {
    if (seen.has(m.destination)) throw new InvalidArgument(`duplicate mount point: ${m.destination}`);
    seen.add(m.destination);
  }
  const all = [...defaultMounts().filter((d) => !seen.has(d.destination)), ...converted];
  // Array.prototype.sort is stable: equal depths keep defaults-then-user order.
  return all.sort((a, b) => depth(a.destination) - depth(b.destination));
}
