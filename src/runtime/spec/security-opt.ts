/**
 * --security-opt parsing (docker's options plus podman's mask/unmask and label=nested) and the SELinux
 * labels a container's process and files get, in podman's form.
 */
import { nodeCrypto } from '../../sys/builtins.ts';
import { InvalidArgument } from '../../errors.ts';

/** --security-opt label=…: SELinux label parts; `disable` turns labelling off for the container. */
export interface LabelOpts {
  disable?: true;
  user?: string;
  role?: string;
  type?: string;
  level?: string;
  filetype?: string;
  /** Let the container change labels itself (podman); no effect on the labels chosen here. */
  nested?: true;
}

export interface SecurityOpts {
  /** Absent: the default profile. `unconfined`: no filter. `file`: a docker-format profile to load. */
  seccomp?: 'unconfined' | { file: string };
  noNewPrivileges: boolean;
  label?: LabelOpts;
  /** An AppArmor profile name, or `unconfined`. */
  apparmor?: string;
  /** systempaths=unconfined: no masked or read-only /proc and /sys paths. */
  systempathsUnconfined?: boolean;
  /** Extra paths to mask. */
  mask?: string[];
  /** Default masked paths to expose; `ALL` for every one. */
  unmask?: string[];
}

const LABEL_KEYS = ['user', 'role', 'type', 'level', 'filetype'] as const;

// Go's strconv.ParseBool, which docker uses for no-new-privileges=….
const TRUE = new Set(['1', 't', 'T', 'true', 'TRUE', 'True']);
const FALSE = new Set(['0', 'f', 'F', 'false', 'FALSE', 'False']);

function invalid(opt: string): never {
  throw new InvalidArgument(`invalid --security-opt: ${JSON.stringify(opt)}`);
}

/** `label=…` values: disable, nested, or KEY:VALUE for user, role, type, level and filetype. */
function parseLabel(value: string, into: LabelOpts, opt: string): void {
  if (value === 'disable') into.disable = true;
  else if (value === 'nested') into.nested = true;
  else {
    const at = value.indexOf(':');
    const key = value.slice(0, at);
    const v = value.slice(at + 1);
    if (at < 1 || v === '' || !(LABEL_KEYS as readonly string[]).includes(key)) invalid(opt);
    into[key as (typeof LABEL_KEYS)[number]] = v;
  }
}

function paths(value: string, opt: string): string[] {
  const list = value.split(':');
  if (list.some((p) => !p.startsWith('/'))) invalid(opt);
  return list;
}

/**
 * Parse --security-opt values. Accepts `key=value` and docker's legacy `key:value`, plus the bare
 * `no-new-privileges` and `disable` (label=disable). Later options win over earlier ones.
 */
export function parseSecurityOpts(list: readonly string[]): SecurityOpts {
  const out: SecurityOpts = { noNewPrivileges: false };
  for (const opt of list) {
    if (opt === 'no-new-privileges') {
      out.noNewPrivileges = true;
      continue;
    }
    if (opt === 'disable') {
      out.label = { ...out.label, disable: true };
      continue;
    }
    const sep = opt.includes('=') ? '=' : ':';
    const at = opt.indexOf(sep);
    if (at < 1 || at === opt.length - 1) invalid(opt);
    const key = opt.slice(0, at);
    const value = opt.slice(at + 1);
    switch (key) {
      case 'label':
        out.label ??= {};
        parseLabel(value, out.label, opt);
        break;
      case 'apparmor':
        out.apparmor = value;
        break;
      case 'seccomp':
        // docker's "builtin" names the default profile explicitly.
        if (value === 'builtin') delete out.seccomp;
        else out.seccomp = value === 'unconfined' ? 'unconfined' : { file: value };
        break;
      case 'no-new-privileges':
        if (!TRUE.has(value) && !FALSE.has(value)) invalid(opt);
        out.noNewPrivileges = TRUE.has(value);
        break;
      case 'systempaths':
        if (value !== 'unconfined') invalid(opt);
        out.systempathsUnconfined = true;
        break;
      case 'mask':
        out.mask = [...(out.mask ?? []), ...paths(value, opt)];
        break;
      case 'unmask':
        out.unmask = [...(out.unmask ?? []), ...(value === 'ALL' ? ['ALL'] : paths(value, opt))];
        break;
      default:
        invalid(opt);
    }
  }
  return out;
}

/** Process and file labels for the spec's process.selinuxLabel and linux.mountLabel. */
export interface SelinuxLabels {
  processLabel?: string;
  mountLabel?: string;
}

/** MCS categories a container may draw from, c0 to c1023 as in container-selinux. */
const MCS_CATEGORIES = 1024;

/** A random level `s0:cX,cY` with two distinct categories, lower first. */
export function randomMcsLevel(): string {
  const a = nodeCrypto().randomInt(MCS_CATEGORIES);
  let b = nodeCrypto().randomInt(MCS_CATEGORIES - 1);
  if (b >= a) b += 1;
  return `s0:c${Math.min(a, b)},c${Math.max(a, b)}`;
}

/**
 * The SELinux labels for a container, as podman chooses them: process
 * `system_u:system_r:container_t:LEVEL` (container_init_t for an init/systemd container,
 * container_kvm_t for a VM-based runtime), files `system_u:object_r:container_file_t:LEVEL`, with a
 * random MCS pair unless `label.level` names one. No labels when disabled or privileged. `kvm` is for a
 * VM-based OCI runtime (kata, krun); the engine has none (only crun and runc), so it never sets it and
 * Berth's containers are never labelled container_kvm_t (a label=type:container_kvm_t option aside).
 */
export function selinuxLabels(
  label: LabelOpts | undefined,
  opts: { privileged?: boolean; init?: boolean; kvm?: boolean } = {},
): SelinuxLabels {
  if (label?.disable || opts.privileged) return {};
  const level = label?.level ?? randomMcsLevel();
  const user = label?.user ?? 'system_u';
  const type = label?.type ?? (opts.kvm ? 'container_kvm_t' : opts.init ? 'container_init_t' : 'container_t');
  return {
    processLabel: `${user}:${label?.role ?? 'system_r'}:${type}:${level}`,
    mountLabel: `${user}:object_r:${label?.filetype ?? 'container_file_t'}:${level}`,
  };
}
