import { readFileSync } from 'node:fs';
import { InvalidArgument } from '../../errors.ts';
/** Docker's default capability set for unprivileged containers (moby oci/defaults.go). */
export const DEFAULT_CAPABILITIES: readonly string[] = Object.freeze([
  'CAP_CHOWN',
  'CAP_DAC_OVERRIDE',
  'CAP_FSETID',
  'CAP_FOWNER',
  'CAP_MKNOD',
  'CAP_NET_RAW',
  'CAP_SETGID',
  'CAP_SETUID',
  'CAP_SETFCAP',
  'CAP_SETPCAP',
  'CAP_NET_BIND_SERVICE',
  'CAP_SYS_CHROOT',
  'CAP_KILL',
  'CAP_AUDIT_WRITE',
]);

/** Every capability by its bit number (linux/capability.h). */
export const ALL_CAPABILITIES: readonly string[] = Object.freeze([
  'CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_DAC_READ_SEARCH', 'CAP_FOWNER', 'CAP_FSETID', 'CAP_KILL', 'CAP_SETGID',
  'CAP_SETUID', 'CAP_SETPCAP', 'CAP_LINUX_IMMUTABLE', 'CAP_NET_BIND_SERVICE', 'CAP_NET_BROADCAST', 'CAP_NET_ADMIN',
  'CAP_NET_RAW', 'CAP_IPC_LOCK', 'CAP_IPC_OWNER', 'CAP_SYS_MODULE', 'CAP_SYS_RAWIO', 'CAP_SYS_CHROOT', 'CAP_SYS_PTRACE',
  'CAP_SYS_PACCT', 'CAP_SYS_ADMIN', 'CAP_SYS_BOOT', 'CAP_SYS_NICE', 'CAP_SYS_RESOURCE', 'CAP_SYS_TIME',
  'CAP_SYS_TTY_CONFIG', 'CAP_MKNOD', 'CAP_LEASE', 'CAP_AUDIT_WRITE', 'CAP_AUDIT_CONTROL', 'CAP_SETFCAP',
  'CAP_MAC_OVERRIDE', 'CAP_MAC_ADMIN', 'CAP_SYSLOG', 'CAP_WAKE_ALARM', 'CAP_BLOCK_SUSPEND', 'CAP_AUDIT_READ',
  'CAP_PERFMON', 'CAP_BPF', 'CAP_CHECKPOINT_RESTORE',
]);

/**
 * The capabilities this process holds (its bounding set): all a privileged container may get. Root here
 * lacks CAP_SYS_RESOURCE, and asking a runtime for more than the engine holds fails.
 */
export function heldCapabilities(status?: string): string[] {
  const text = status ?? readFileSync('/proc/self/status', 'utf8');
  const hex = /^CapBnd:\s*([0-9a-f]+)/m.exec(text)?.[1];
  if (!hex) return [...DEFAULT_CAPABILITIES];
  const mask = BigInt(`0x${hex}`);
  return ALL_CAPABILITIES.filter((_, bit) => (mask >> BigInt(bit)) & 1n);
}

/** "sys_admin", "CAP_SYS_ADMIN", "Sys_Admin" → "CAP_SYS_ADMIN"; "all" → "ALL". */
function normalizeCapability(name: string): string {
  const upper = name.trim().toUpperCase();
  if (upper === 'ALL') return upper;
  const full = upper.startsWith('CAP_') ? upper : `CAP_${upper}`;
  if (!ALL_CAPABILITIES.includes(full)) throw new InvalidArgument(`unknown capability: ${JSON.stringify(full)}`);
  return full;
}

/**
 * Docker's --cap-add/--cap-drop: names case-insensitive, with or without CAP_; ALL in `add` means
 * every capability in `held` (the engine's bounding set) minus `drop`; ALL in `drop` means only `add`.
 * Adding a capability the engine does not hold is refused, since the runtime could not grant it;
 * dropping one is a no-op.
 */
export function tweakCapabilities(
  base: readonly string[],
  add: readonly string[],
  drop: readonly string[],
  held: readonly string[],
): string[] {
  const adds = add.map(normalizeCapability);
  const drops = drop.map(normalizeCapability);
  for (const c of adds) {
    if (c !== 'ALL' && !held.includes(c)) {
      throw new InvalidArgument(
        `capability not available in the current environment: ${JSON.stringify(c)} (the engine's bounding set lacks it)`,
      );
    }
  }
  let caps: string[];
  if (adds.includes('ALL')) caps = held.filter((c) => !drops.includes(c));
  else if (drops.includes('ALL')) caps = adds;
  else caps = [...base.filter((c) => !drops.includes(c)), ...adds];
  return [...new Set(caps)];
}
