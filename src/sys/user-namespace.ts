/** Whether this process runs as root of a user namespace other than the host's, and for which user. */
import { readFileSync } from 'node:fs';

/**
 * The user this process stands for when it runs as root of a user namespace (an ordinary user's Berth, made so by
 * berth-userns: src/runtime/userns.c), from the namespace's uid map; undefined for the host's root.
 */
export function rootlessUser(uidMap = readUidMap()): number | undefined {
  const first = uidMap.trim().split('\n')[0]?.trim().split(/\s+/).map(Number);
  if (!first || first.length !== 3 || first[0] !== 0) return undefined;
  if (first[1] === 0 && first[2] === 4294967295) return undefined;
  return first[1];
}

function readUidMap(): string {
  try {
    return readFileSync('/proc/self/uid_map', 'utf8');
  } catch {
    return '0 0 4294967295';
  }
}
