import { constants, lstatSync, readdirSync, realpathSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { nodeUtil } from '../../sys/builtins.ts';
import { InvalidArgument } from '../../errors.ts';
/** One rule of the device cgroup (OCI linux.resources.devices). Absent major/minor mean "*". */
export interface DeviceCgroupRule {
  allow: boolean;
  type?: 'a' | 'c' | 'b';
  major?: number;
  minor?: number;
  access: string;
}

function rule(allow: boolean, type: 'c' | 'b', major?: number, minor?: number, access = 'rwm'): DeviceCgroupRule {
  const r: DeviceCgroupRule = { allow, type, access };
  if (major !== undefined) r.major = major;
  if (minor !== undefined) r.minor = minor;
  return r;
}

/**
 * The device allow-list: deny everything, docker's own rules, then the rules runc appends to every
 * container (mknod of any node, pts, ptmx, tun). The fuse deny must come before the wildcard "m"
 * rules: runc's cgroup v1 emulator refuses a deny that would punch a hole in an earlier wildcard.
 */
export function defaultDeviceRules(): DeviceCgroupRule[] {
  return [
    { allow: false, access: 'rwm' },
    rule(true, 'c', 1, 5), // zero
    rule(true, 'c', 1, 3), // null
    rule(true, 'c', 1, 9), // urandom
    rule(true, 'c', 1, 8), // random
    rule(true, 'c', 5, 0), // tty
    rule(true, 'c', 5, 1), // console
    rule(false, 'c', 10, 229), // fuse
    rule(true, 'c', undefined, undefined, 'm'),
    rule(true, 'b', undefined, undefined, 'm'),
    rule(true, 'c', 136), // pts/*
    rule(true, 'c', 5, 2), // ptmx
    rule(true, 'c', 10, 200), // net/tun
  ];
}

/** A device node as the OCI spec's linux.devices lists it; fileMode holds the permission bits only. */
export interface DeviceNode {
  path: string;
  type: 'c' | 'b';
  major: number;
  minor: number;
  fileMode: number;
  uid: number;
  gid: number;
}

/** One node of a --device mapping: `path` is inside the container, `access` its cgroup permissions. */
export interface DeviceMapping extends DeviceNode {
  hostPath: string;
  access: string;
}

/** Directories under /dev whose nodes a privileged container gets another way or must not get. */
const PRIVILEGED_SKIP_DIRS = new Set(['pts', 'shm', 'fd', 'mqueue', '.lxc', '.lxd-mounts', '.udev']);

/** Character or block device at `path` (not following a final symlink), else undefined. */
function deviceAt(path: string): DeviceNode | undefined {
  const st = lstatSync(path, { bigint: true });
  const kind = st.mode & BigInt(constants.S_IFMT);
  const type = kind === BigInt(constants.S_IFCHR) ? 'c' : kind === BigInt(constants.S_IFBLK) ? 'b' : undefined;
  if (!type) return undefined;
  // Linux's dev_t: 12 bits of major and 20 of minor, split around the low byte.
  const major = Number(((st.rdev >> 8n) & 0xfffn) | ((st.rdev >> 32n) & ~0xfffn));
  const minor = Number((st.rdev & 0xffn) | ((st.rdev >> 12n) & ~0xffn));
  return { path, type, major, minor, fileMode: Number(st.mode & 0o7777n), uid: Number(st.uid), gid: Number(st.gid) };
}

/** Every device node below `dir`, depth first in name order, without following symlinks. */
function devicesBelow(dir: string, skip: (name: string, isDir: boolean) => boolean = () => false): DeviceNode[] {
  const out: DeviceNode[] = [];
  const entries = readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1));
  for (const e of entries) {
    const full = join(dir, e.name);
    if (skip(e.name, e.isDirectory())) continue;
    if (e.isDirectory()) {
      out.push(...devicesBelow(full, skip));
    } else if (e.isCharacterDevice() || e.isBlockDevice()) {
      const d = deviceAt(full);
      if (d) out.push(d);
    }
  }
  return out;
}

const DEVICE_MODE = /^(?!.*(.).*\1)[rwm]{1,3}$/;

/**
 * --device HOST[:CONTAINER][:PERMS], PERMS a combination of r, w, m (default rwm). A symlink is
 * resolved; a directory maps every device node beneath it, as docker does.
 */
export function parseDevice(spec: string): DeviceMapping[] {
  const parts = spec.split(':');
  if (parts.length > 3) throw new InvalidArgument(`invalid device specification: ${spec}`);
  const [hostPath = '', second, third] = parts;
  let path = hostPath;
  let access = 'rwm';
  if (third !== undefined) {
    if (!DEVICE_MODE.test(third)) throw new InvalidArgument(`invalid device mode: ${third}`);
    access = third;
  }
  if (second !== undefined) {
    if (third === undefined && DEVICE_MODE.test(second)) access = second;
    else if (second.startsWith('/')) path = second;
    else throw new InvalidArgument(`invalid device mode: ${second}`);
  }
  if (!hostPath.startsWith('/')) throw new InvalidArgument(`invalid device specification: ${spec}: ${hostPath || '""'} is not an absolute path`);

  const fail = (why: string, cause?: unknown): never => {
    throw new InvalidArgument(`error gathering device information while adding custom device ${JSON.stringify(hostPath)}: ${why}`, { cause });
  };
  let resolved = hostPath;
  try {
    if (lstatSync(hostPath).isSymbolicLink()) resolved = realpathSync(hostPath);
    const node = deviceAt(resolved);
    if (node) return [{ ...node, path, hostPath: resolved, access }];
    if (!statSync(resolved).isDirectory()) return fail('not a device node');
  } catch (e) {
    if (e instanceof InvalidArgument) throw e;
    const errno = (e as NodeJS.ErrnoException).errno;
    return fail(errno !== undefined ? nodeUtil().getSystemErrorMessage(errno) : (e as Error).message, e);
  }
  const found = devicesBelow(resolved).map((d) => ({ ...d, path: path + d.path.slice(resolved.length), hostPath: d.path, access }));
  return found.length > 0 ? found : fail('not a device node');
}

/** The device cgroup rule that lets the container use one mapped device. */
export function deviceMappingRule(d: DeviceMapping): DeviceCgroupRule {
  return { allow: true, type: d.type, major: d.major, minor: d.minor, access: d.access };
}

/**
 * --device-cgroup-rule 'TYPE MAJOR:MINOR ACCESS' (TYPE a, c or b; MAJOR/MINOR a number or *), or the
 * bare 'a' the kernel reads as "a *:* rwm". A `*` leaves major/minor out, the OCI wildcard.
 */
export function parseDeviceCgroupRule(text: string): DeviceCgroupRule {
  if (text === 'a') return { allow: true, type: 'a', access: 'rwm' };
  const m = /^([acb]) ([0-9]+|\*):([0-9]+|\*) ([rwm]{1,3})$/.exec(text);
  if (!m) throw new InvalidArgument(`invalid device cgroup rule format: '${text}'`);
  const r: DeviceCgroupRule = { allow: true, type: m[1] as 'a' | 'c' | 'b', access: m[4]! };
  if (m[2] !== '*') r.major = Number(m[2]);
  if (m[3] !== '*') r.minor = Number(m[3]);
  return r;
}

/**
 * Every character and block device under `root` (default /dev) for --privileged, as runc and
 * containerd list them: pts, shm, fd, mqueue and container-manager directories are skipped (the
 * container mounts its own), and so is /dev/console (the runtime sets up the container's console).
 */
export function privilegedDevices(root = '/dev'): DeviceNode[] {
  return devicesBelow(root, (name, isDir) => (isDir ? PRIVILEGED_SKIP_DIRS.has(name) : name === 'console'));
}

/** A privileged container's device cgroup: everything allowed. */
export function privilegedDeviceRules(): DeviceCgroupRule[] {
  return [{ allow: true, access: 'rwm' }];
}
