/** Whether this process may use a device node, as the kernel decides it from the node's mode and owner. */
import { accessSync, constants, statSync } from 'node:fs';

/**
 * Whether this process may open `path` for reading and writing; if not, the node's mode (four octal digits), or
 * no mode when there is no such node. (Root of an ordinary user's namespace has no power over a host's device
 * file: its mode decides, as for the user.)
 */
export function deviceAccess(path: string): { opens: true } | { opens: false; mode?: string } {
  try {
    accessSync(path, constants.R_OK | constants.W_OK);
    return { opens: true };
  } catch {
    try {
      return { opens: false, mode: (statSync(path).mode & 0o777).toString(8).padStart(4, '0') };
    } catch {
      return { opens: false };
    }
  }
}
