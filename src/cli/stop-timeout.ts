/** `stop` and `restart`'s wait before SIGKILL: docker 28's `--timeout`/`-t`, or the older `--time` it still takes. */
import { InvalidArgument } from '../errors.ts';

export function stopTimeout(p: { changed: ReadonlySet<string>; flags: { timeout: number; time: number } }): number | undefined {
  if (p.changed.has('timeout') && p.changed.has('time')) throw new InvalidArgument('conflicting options: cannot specify both --timeout and --time');
  if (p.changed.has('timeout')) return p.flags.timeout;
  return p.changed.has('time') ? p.flags.time : undefined;
}
