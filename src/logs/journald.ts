/**
 * Reading a container's journald log back (the monitor sends each record to the journal with
 * CONTAINER_ID_FULL, PRIORITY 6 for stdout and 3 for stderr, and CONTAINER_PARTIAL_MESSAGE on a fragment),
 * through `journalctl -o json`. Following polls with the last entry's cursor rather than keeping a
 * `journalctl -f` running: nothing is left behind when the reader goes, and the end is the container's.
 */
import type { LogReadOptions, LogRecord } from '../runtime/driver.ts';
import { run } from '../sys/run.ts';
import { NotSupported, RuntimeFailure } from '../errors.ts';
import { nanoTime } from './formats.ts';
import { LastLines } from './tail.ts';

interface JournalEntry {
  __CURSOR?: string;
  __REALTIME_TIMESTAMP?: string;
  MESSAGE?: string | number[] | null;
  PRIORITY?: string;
}

function toRecord(e: JournalEntry): LogRecord | null {
  if (e.MESSAGE === undefined || e.MESSAGE === null || !e.__REALTIME_TIMESTAMP) return null;
  // journalctl gives a message that is not valid UTF-8 as an array of its bytes.
  const data = Array.isArray(e.MESSAGE) ? Buffer.from(e.MESSAGE) : Buffer.from(e.MESSAGE, 'utf8');
  return { time: nanoTime(BigInt(e.__REALTIME_TIMESTAMP) * 1000n), stream: e.PRIORITY === '3' ? 'stderr' : 'stdout', data };
}

/** The container's entries after `cursor` (all of them without one), with the cursor of the last. */
async function entries(id: string, cursor: string | undefined, extra: string[] = []): Promise<{ records: LogRecord[]; cursor: string | undefined }> {
  const args = ['--no-pager', '--all', '-o', 'json', ...(cursor ? [`--after-cursor=${cursor}`] : []), ...extra, `CONTAINER_ID_FULL=${id}`];
  let r;
  try {
    r = await run('journalctl', args);
  } catch (e) {
    throw new NotSupported(`reading a journald log needs journalctl (apt-get install systemd): ${(e as Error).message}`);
  }
  // "-- No entries --" goes to stdout with exit 0 in some versions, 1 in others: no entries either way.
  if (r.code !== 0 && !/No entries/.test(r.stdout + r.stderr)) throw new RuntimeFailure(`journalctl: ${r.stderr.trim() || `exit ${r.code}`}`);
  const records: LogRecord[] = [];
  let last = cursor;
  for (const line of r.stdout.split('\n')) {
    if (!line.startsWith('{')) continue;
    const e = JSON.parse(line) as JournalEntry;
    if (e.__CURSOR) last = e.__CURSOR;
    const rec = toRecord(e);
    if (rec) records.push(rec);
  }
  return { records, cursor: last };
}

/** Read a container's journald log; with `follow`, keep reading while `live()` holds. */
export async function readJournal(id: string, live: () => boolean, out: (rec: LogRecord) => void, opts: LogReadOptions = {}): Promise<void> {
  const since = opts.since ?? -Infinity;
  const until = opts.until ?? Infinity;
  const inRange = (rec: LogRecord) => {
    const t = Date.parse(rec.time);
    return t >= since && t <= until;
  };
  const window = [
    ...(Number.isFinite(since) ? [`--since=@${Math.floor(since / 1000)}`] : []),
    ...(Number.isFinite(until) ? [`--until=@${Math.ceil(until / 1000)}`] : []),
  ];
  let still = live();
  let { records, cursor } = await entries(id, undefined, window);
  records = records.filter(inRange);
  if (opts.tail !== undefined && opts.tail >= 0) {
    const pick = new LastLines(opts.tail);
    for (let i = records.length - 1; i >= 0 && !pick.visit(records[i]!); i--);
    records = pick.records();
  }
  records.forEach(out);
  if (!opts.follow || until <= Date.now()) return;
  while (still) {
    await new Promise((r) => setTimeout(r, 100));
    // The monitor sends a record before it records the exit: one more read after the end finds the last.
    still = live();
    const next = await entries(id, cursor);
    cursor = next.cursor;
    next.records.filter(inRange).forEach(out);
  }
}
