/**
 * `--cidfile FILE` of run and create: the container's id written to FILE, as docker's CLI does. The file
 * is claimed (made empty, exclusively) before the container is made, so a second run with the same file
 * fails before it starts anything; a create that fails removes it again.
 */
import { closeSync, openSync, rmSync, writeSync } from 'node:fs';
import { InvalidArgument } from '../errors.ts';

export interface CidFile {
  write(id: string): void;
  release(): void;
}

export function claimCidFile(path: string): CidFile {
  let fd: number;
  try {
    fd = openSync(path, 'wx', 0o644);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') throw new InvalidArgument(`container ID file found, make sure the other container isn't running or delete ${path}`);
    throw new InvalidArgument(`failed to create the container ID file: ${(e as Error).message}`);
  }
  return {
    write(id) {
      writeSync(fd, id);
      closeSync(fd);
    },
    release() {
      closeSync(fd);
      rmSync(path, { force: true });
    },
  };
}

/** Make a container (`make`: pull if need be, then create) with its id written to `path` when one is given. */
export async function withCidFile<T extends { id: string }>(path: string, make: () => Promise<T>): Promise<T> {
  const cidfile = path ? claimCidFile(path) : undefined;
  let made: T;
  try {
    made = await make();
  } catch (e) {
    cidfile?.release();
    throw e;
  }
  cidfile?.write(made.id);
  return made;
}
