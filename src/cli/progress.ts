/**
 * Pull/push progress as the docker CLI shows it: on a terminal one line per layer, rewritten in place
 * with a bar; otherwise one plain line per status change (no byte counts), so logs stay readable.
 */
import type { ProgressMessage } from '../image/pull.ts';
import { humanSize } from './format.ts';

const WIDTH = 50;
const PROGRESS = new Set(['Downloading', 'Extracting', 'Pushing']);

export function progressPrinter(out: NodeJS.WriteStream = process.stdout): (m: ProgressMessage) => void {
  const rows: string[] = [];
  const tty = out.isTTY === true;
  const seen = new Map<string, string>();
  return (m) => {
    if (!m.id) {
      out.write(`${m.status}\n`);
      // Lines above this one belong to an earlier step (a tag that `push -a` finished): a later message
      // with the same layer id starts a new line instead of rewriting one of those, as docker's CLI does.
      rows.length = 0;
      return;
    }
    if (!tty) {
      if (PROGRESS.has(m.status) && seen.get(m.id) === m.status) return;
      seen.set(m.id, m.status);
      if (!PROGRESS.has(m.status)) out.write(`${m.id}: ${m.status}\n`);
      return;
    }
    const line = `${m.id}: ${m.status}${bar(m)}`;
    const at = rows.lastIndexOf(m.id);
    if (at < 0) {
      rows.push(m.id);
      out.write(`${line}\n`);
      return;
    }
    const up = rows.length - at;
    out.write(`\x1b[${up}A\x1b[2K\r${line}\x1b[${up}B\r`);
  };
}

function bar(m: ProgressMessage): string {
  const d = m.progressDetail;
  if (!d?.total || d.current === undefined) return '';
  const filled = Math.min(WIDTH, Math.floor((d.current / d.total) * WIDTH));
  const arrow = filled < WIDTH ? '>' : '';
  const body = `${'='.repeat(Math.max(0, filled - (arrow ? 1 : 0)))}${arrow}`.padEnd(WIDTH, ' ');
  return `  [${body}]  ${humanSize(d.current)}/${humanSize(d.total)}`;
}
