/**
 * What `logs -t` and `--details` put before each line (not before each fragment of a line the monitor
 * wrote in pieces): the record's time, then its attributes (`--log-opt labels=…`, `env=…`, `tag=…`) as
 * docker's daemon writes them, sorted by key, query-escaped, `k=v` joined by commas.
 */
import type { LogRecord } from '../runtime/driver.ts';
import { utcNano } from './time.ts';

/** Go's url.QueryEscape: space as '+', everything but letters, digits and -_.~ escaped. */
const queryEscape = (s: string) => encodeURIComponent(s).replace(/%20/g, '+').replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);

export function detailsOf(attrs: Record<string, string> | undefined): string {
  return Object.entries(attrs ?? {})
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([k, v]) => `${queryEscape(k)}=${queryEscape(v)}`)
    .join(',');
}

/** A function giving each record, in order, the prefix it takes (empty inside a line). */
export function linePrefixes(opts: { timestamps: boolean; details: boolean }): (rec: LogRecord) => string {
  const atLineStart = { stdout: true, stderr: true };
  return (rec) => {
    let prefix = '';
    if (atLineStart[rec.stream]) {
      if (opts.timestamps) prefix += `${utcNano(rec.time)} `;
      if (opts.details) prefix += `${detailsOf(rec.attrs)} `;
    }
    atLineStart[rec.stream] = rec.data.length > 0 && rec.data[rec.data.length - 1] === 0x0a;
    return prefix;
  };
}
