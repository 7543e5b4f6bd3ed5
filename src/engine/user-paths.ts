/** Where an ordinary user's Berth keeps its store and runtime files, and the engine root by default. */
import { homedir } from 'node:os';
import { join } from 'node:path';
import { rootlessUser } from '../sys/user-namespace.ts';

/** The engine root when none is given: an ordinary user's store, or /var/lib/berth. */
export function defaultRoot(): string {
  const user = rootlessUser();
  return user === undefined ? '/var/lib/berth' : userPaths(process.env, user).root;
}

/** An ordinary user's default store and runtime dirs, as podman's rootless ones (XDG base directories). */
export function userPaths(env: NodeJS.ProcessEnv = process.env, uid = process.getuid?.() ?? 0, home = homedir()): { root: string; run: string } {
  const data = env.XDG_DATA_HOME || join(home, '.local', 'share');
  const run = env.XDG_RUNTIME_DIR ? join(env.XDG_RUNTIME_DIR, 'berth') : `/tmp/berth-run-${uid}`;
  return { root: join(data, 'berth'), run };
}
