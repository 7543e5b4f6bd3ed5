/**
 * Exits handed to an engine that stays up. A container's monitor runs an exit command when the container
 * exits, and by default that is the CLI's `container cleanup ID`: a Node start costing ~50 ms of CPU per exit,
 * a quarter of a 2-core host at 10 exits a second, all of it taken from a busy `berth serve`. While such an
 * engine watches a root (watchExits), the command hands the exit over instead: a shell tests the watcher's
 * lock with flock(1) and, finding it held, leaves the id in the root's `exits/` directory, which the watcher
 * reads (inotify, src/engine/exit-watch.ts) and cleans up in its own process.
 *
 * With nobody watching, or anything failing on the way (no flock(1), no directory), the command runs the CLI's
 * cleanup as before. An exit handed over to a watcher that is then killed is cleaned up by the next repair
 * (list, run, create: exited containers still holding their mount), or by the next watcher, which reads what
 * is left in the directory when it starts.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { EngineCore } from './core.ts';

const SH = '/bin/sh';
const FLOCK = '/usr/bin/flock';

// $1 the watcher's lock, $2 the exits directory, $3 the container id; the rest is the CLI's cleanup.
// flock(1) exits 75 only when another process holds the lock exclusively: a watcher is there. It would make
// a missing lock file, so it is asked only when one exists: a root being reset is not made again.
const HAND_OVER = [
  `[ -e "$1" ] && ${FLOCK} -n -s -E 75 "$1" true 2>/dev/null`,
  '[ $? -eq 75 ] && { : > "$2/$3"; } 2>/dev/null && exit 0',
  'shift 3',
  'exec "$@"',
].join('\n');

/** The watcher's lock and the directory exits are handed over in (src/engine/exit-watch.ts reads it). */
export const handoffPaths = (engine: Pick<EngineCore, 'root'>) => ({ lock: join(engine.root, 'exit-watch.lock'), exits: join(engine.root, 'exits') });

let canHandOver: boolean | undefined;

/** The argv a container's monitor runs when it exits; undefined when the engine cleans up itself. */
export function exitCommandFor(engine: EngineCore, id: string): string[] | undefined {
  if (engine.exitCommand.length === 0) return undefined;
  const cli = [...engine.exitCommand, 'container', 'cleanup', id];
  canHandOver ??= existsSync(SH) && existsSync(FLOCK);
  if (!canHandOver) return cli;
  const { lock, exits } = handoffPaths(engine);
  return [SH, '-c', HAND_OVER, 'berth-exit', lock, exits, id, ...cli];
}
