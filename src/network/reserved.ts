/**
 * Addresses a network never hands to a container (docker's auxiliary addresses), held the way host-local
 * holds a lease: a file named by the address under `ipam/<net>/`. host-local creates a lease with
 * O_EXCL, so an address whose file exists is skipped by every allocation and refused to a static request,
 * and its DEL only releases files naming the container. The files name no container: the orphan sweeps
 * (leftovers.ts) leave them alone; they go with the network's lease directory.
 */
import { closeSync, mkdirSync, openSync, writeSync } from 'node:fs';
import { join } from 'node:path';

/** The owner written into a reserved address's file, where a lease has its container's id. */
export const RESERVED_OWNER = 'berth-reserved';

/** Hold `addresses` (name → address) on network `netName`; those already held stay as they are. */
export function reserveAddresses(dataDir: string, netName: string, addresses: Record<string, string>): void {
  const entries = Object.entries(addresses);
  if (entries.length === 0) return;
  const dir = join(dataDir, 'ipam', netName);
  mkdirSync(dir, { recursive: true, mode: 0o755 });
  for (const [name, ip] of entries) {
    let fd: number;
    try {
      fd = openSync(join(dir, ip), 'wx', 0o644);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EEXIST') continue;
      throw e;
    }
    try {
      writeSync(fd, `${RESERVED_OWNER}\r\n${name}`);
    } finally {
      closeSync(fd);
    }
  }
}
