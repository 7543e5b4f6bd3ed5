/**
 * A container's mounts from the user's `-v`, `--mount`, `--tmpfs` and `--volumes-from` and the image's
 * VOLUME entries, in docker's syntax and with docker's precedence: the user's mounts win, then those
 * inherited from other containers, then one anonymous volume per image VOLUME left uncovered.
 */
import { statSync } from 'node:fs';
import { isAbsolute, posix } from 'node:path';
import { InvalidArgument } from '../errors.ts';
import type { MountSpec } from '../types.ts';
import { validateVolumeName, type VolumeCreateOptions } from '../volume/store.ts';

const PROPAGATION = ['private', 'rprivate', 'shared', 'rshared', 'slave', 'rslave'];
const VOLUME_MODES = ['ro', 'rw', 'z', 'Z', 'nocopy', ...PROPAGATION];

function destination(spec: string, dest: string): string {
  if (!posix.isAbsolute(dest) || posix.normalize(dest) === '/') {
    throw new InvalidArgument(`invalid volume specification: '${spec}': destination must be an absolute path other than /`);
  }
  return posix.normalize(dest).replace(/(.)\/$/, '$1');
}

function requireBindSource(source: string): void {
  if (!statSync(source, { throwIfNoEntry: false })) {
    throw new InvalidArgument(`invalid mount config for type "bind": bind source path does not exist: ${source}`);
  }
}

/** `-v /ctr`, `-v NAME:/ctr[:opts]`, `-v /host:/ctr[:opts]`; `newName` names an anonymous volume. */
export function parseVolume(spec: string, newName: () => string = () => ''): MountSpec {
  const parts = spec.split(':');
  if (parts.length === 1) {
    return { type: 'volume', source: newName(), destination: destination(spec, spec), readonly: false, options: [], anonymous: true };
  }
  if (parts.length > 3 || parts.some((p) => p === '')) throw new InvalidArgument(`invalid volume specification: '${spec}'`);
  const [source, dest, mode = ''] = parts as [string, string, string?];
  const modes = mode.split(',').filter(Boolean);
  for (const m of modes) if (!VOLUME_MODES.includes(m)) throw new InvalidArgument(`invalid mode: ${m}`);
  const common = {
    destination: destination(spec, dest),
    readonly: modes.includes('ro'),
    options: modes.filter((m) => PROPAGATION.includes(m)),
  };
  if (isAbsolute(source)) {
    requireBindSource(source);
    return { type: 'bind', source, ...common };
  }
  if (source.startsWith('.')) throw new InvalidArgument(`invalid volume specification: '${spec}': a bind source must be an absolute path`);
  validateVolumeName(source);
  return { type: 'volume', source, ...common, ...(modes.includes('nocopy') ? { noCopy: true } : {}) };
}

/** `--tmpfs /ctr[:opts]` */
export function parseTmpfs(spec: string): MountSpec {
  const i = spec.indexOf(':');
  const dest = i < 0 ? spec : spec.slice(0, i);
  const opts = i < 0 ? [] : spec.slice(i + 1).split(',').filter(Boolean);
  if (!posix.isAbsolute(dest)) throw new InvalidArgument(`invalid tmpfs destination: '${dest}' is not an absolute path`);
  return {
    type: 'tmpfs',
    source: 'tmpfs',
    destination: posix.normalize(dest),
    readonly: opts.includes('ro'),
    options: opts.filter((o) => o !== 'ro' && o !== 'rw'),
  };
}

/** Split docker's CSV: fields separated by commas, a field may be double-quoted to hold one. */
function csvFields(spec: string): string[] {
  const out: string[] = [];
  let cur = '';
  let quoted = false;
  for (const ch of spec) {
    if (ch === '"') quoted = !quoted;
    else if (ch === ',' && !quoted) {
      out.push(cur);
      cur = '';
    } else cur += ch;
  }
  if (quoted) throw new Error('unterminated quote');
  out.push(cur);
  return out;
}

function bool(key: string, value: string | undefined): boolean {
  if (value === undefined || value === 'true' || value === '1') return true;
  if (value === 'false' || value === '0') return false;
  throw new Error(`invalid value for ${key}: ${value}`);
}

/** Bytes from docker's `tmpfs-size` (plain number or 10k/64m/1g). */
function size(value: string): number {
  const m = /^(\d+)([kmg]?)b?$/i.exec(value);
  if (!m) throw new Error(`invalid value for tmpfs-size: ${value}`);
  return Number(m[1]) * ({ '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 } as Record<string, number>)[m[2]!.toLowerCase()]!;
}

/**
 * `--mount type=bind|volume|tmpfs,src=…,dst=…,readonly,bind-propagation=…,volume-nocopy,volume-opt=k=v,
 * volume-label=k=v,tmpfs-size=…,tmpfs-mode=…`. Returns the mount and, for a volume, how to create it.
 */
export function parseMount(spec: string, newName: () => string = () => ''): { mount: MountSpec; volume?: VolumeCreateOptions } {
  const fail = (why: string) => new InvalidArgument(`invalid argument "${spec}" for "--mount" flag: ${why}`);
  let fields: string[];
  try {
    fields = csvFields(spec);
  } catch (e) {
    throw fail((e as Error).message);
  }
  let type = 'volume';
  let source = '';
  let target = '';
  let readonly = false;
  let noCopy = false;
  const propagation: string[] = [];
  const tmpfsOpts: string[] = [];
  const volume: VolumeCreateOptions = {};
  try {
    for (const f of fields) {
      const eq = f.indexOf('=');
      const key = (eq < 0 ? f : f.slice(0, eq)).toLowerCase();
      const value = eq < 0 ? undefined : f.slice(eq + 1);
      const need = () => {
        if (value === undefined) throw new Error(`invalid field '${f}' must be a key=value pair`);
        return value;
      };
      switch (key) {
        case 'type': type = need(); break;
        case 'source': case 'src': source = need(); break;
        case 'target': case 'destination': case 'dst': target = need(); break;
        case 'readonly': case 'ro': readonly = bool(key, value); break;
        case 'consistency': need(); break; // a macOS setting; no meaning on Linux
        case 'bind-propagation': {
          const v = need();
          if (!PROPAGATION.includes(v)) throw new Error(`invalid propagation mode: ${v}`);
          propagation.push(v);
          break;
        }
        case 'volume-nocopy': noCopy = bool(key, value); break;
        case 'volume-driver': volume.driver = need(); break;
        case 'volume-label': case 'volume-opt': {
          const kv = need();
          const i = kv.indexOf('=');
          if (i <= 0) throw new Error(`invalid ${key} '${kv}': want key=value`);
          const bag = key === 'volume-label' ? (volume.labels ??= {}) : (volume.options ??= {});
          bag[kv.slice(0, i)] = kv.slice(i + 1);
          break;
        }
        case 'tmpfs-size': tmpfsOpts.push(`size=${size(need())}`); break;
        case 'tmpfs-mode': {
          const v = need();
          if (!/^[0-7]{1,4}$/.test(v)) throw new Error(`invalid value for tmpfs-mode: ${v}`);
          tmpfsOpts.push(`mode=${v.padStart(4, '0')}`);
          break;
        }
        default: throw new Error(`unexpected key '${key}' in '${f}'`);
      }
    }
    if (!['bind', 'volume', 'tmpfs'].includes(type)) throw new Error(`invalid mount type "${type}": use bind, volume or tmpfs`);
    if (!target) throw new Error('target is required');
    if (!posix.isAbsolute(target) || posix.normalize(target) === '/') throw new Error(`invalid mount target "${target}": an absolute path other than /`);
    if (type !== 'volume' && (noCopy || volume.driver || volume.labels || volume.options)) throw new Error(`volume options are not allowed with type=${type}`);
    if (type !== 'tmpfs' && tmpfsOpts.length > 0) throw new Error(`tmpfs options are not allowed with type=${type}`);
    if (type !== 'bind' && propagation.length > 0) throw new Error(`bind-propagation is not allowed with type=${type}`);
    if (type === 'tmpfs' && source) throw new Error('a tmpfs mount has no source');
  } catch (e) {
    throw e instanceof InvalidArgument ? e : fail((e as Error).message);
  }
  const dest = posix.normalize(target).replace(/(.)\/$/, '$1');
  if (type === 'tmpfs') return { mount: { type: 'tmpfs', source: 'tmpfs', destination: dest, readonly, options: tmpfsOpts } };
  if (type === 'bind') {
    if (!source) throw fail('source is required when type is bind');
    if (!isAbsolute(source)) throw fail(`invalid bind source "${source}": an absolute path`);
    requireBindSource(source);
    return { mount: { type: 'bind', source, destination: dest, readonly, options: propagation } };
  }
  const anonymous = source === '';
  const name = anonymous ? newName() : validateVolumeName(source);
  const mount: MountSpec = { type: 'volume', source: name, destination: dest, readonly, options: [], ...(noCopy ? { noCopy } : {}), ...(anonymous ? { anonymous } : {}) };
  return { mount, volume: { ...volume, name, anonymous } };
}

/** `--volumes-from CONTAINER[:ro|rw]`: that container's binds and volumes, in the mode asked for. */
export function inheritMounts(spec: string, mounts: readonly MountSpec[]): MountSpec[] {
  const [, mode] = spec.split(':');
  if (mode !== undefined && mode !== 'ro' && mode !== 'rw') throw new InvalidArgument(`invalid mode for --volumes-from: ${mode}`);
  return mounts
    .filter((m) => m.type !== 'tmpfs')
    .map((m) => ({ ...m, readonly: mode === undefined ? m.readonly : mode === 'ro', anonymous: false }));
}

/** The kernel's own filesystems: a mount over them could hide what masks and read-only paths protect. */
const PROTECTED = ['/proc', '/sys'];

/** The final list: user mounts (no two on one destination), then inherited, then image volumes. */
export function mergeMounts(user: MountSpec[], inherited: MountSpec[], imageVolumes: string[], newName: () => string): MountSpec[] {
  const seen = new Set<string>();
  for (const m of user) {
    if (PROTECTED.some((p) => m.destination === p || m.destination.startsWith(`${p}/`))) {
      throw new InvalidArgument(`invalid mount destination ${m.destination}: mounts over /proc and /sys are not allowed`);
    }
    if (seen.has(m.destination)) throw new InvalidArgument(`Duplicate mount point: ${m.destination}`);
    seen.add(m.destination);
  }
  const out = [...user];
  for (const m of inherited) {
    if (seen.has(m.destination)) continue;
    seen.add(m.destination);
    out.push(m);
  }
  for (const v of imageVolumes) {
    const dest = posix.normalize(v).replace(/(.)\/$/, '$1');
    if (!posix.isAbsolute(dest) || seen.has(dest)) continue;
    seen.add(dest);
    out.push({ type: 'volume', source: newName(), destination: dest, readonly: false, options: [], anonymous: true });
  }
  return out;
}
