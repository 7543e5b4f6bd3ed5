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
