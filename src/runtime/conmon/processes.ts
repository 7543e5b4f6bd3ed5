/** Finding conmon processes by what they monitor: the bundle dir each was started with (`-b`). */
import { readdirSync, readFileSync, readlinkSync, realpathSync } from 'node:fs';

/**
 * Pids of the conmon processes (the binary at `conmon`) whose bundle lies under `dir`: containers' and exec
 * sessions' monitors alike. A process that exits during the scan is skipped.
 */
export function monitorsUnder(conmon: string, dir: string): number[] {
  let exe: string;
  try {
    exe = realpathSync(conmon);
  } catch {
    return []; // not installed: it monitors nothing
  }
  const prefix = `${dir.replace(/\/+$/, '')}/`;
  const out: number[] = [];
  for (const p of readdirSync('/proc')) {
    if (!/^\d+$/.test(p)) continue;
    try {
      if (readlinkSync(`/proc/${p}/exe`) !== exe) continue;
      const argv = readFileSync(`/proc/${p}/cmdline`, 'utf8').split('\0');
      const bundle = argv[argv.indexOf('-b') + 1];
      if (argv.includes('-b') && bundle?.startsWith(prefix)) out.push(Number(p));
    } catch {
      // exited meanwhile, or a kernel thread
    }
  }
  return out;
}
