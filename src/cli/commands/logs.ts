/** `berth logs [-f] [-t] [--tail N] CONTAINER`: stdout to stdout, stderr to stderr. */
import type { FlagDef } from '../flags.ts';
import { withEngine, parse, type Command } from '../common.ts';
import { InvalidArgument } from '../../errors.ts';
import type { Globals } from '../main.ts';

const flags = [
  { name: 'follow', short: 'f', type: 'bool', description: 'Follow log output' },
  { name: 'timestamps', short: 't', type: 'bool', description: 'Show timestamps' },
  { name: 'tail', short: 'n', type: 'string', default: 'all', description: 'Number of lines to show from the end of the logs' },
  { name: 'since', type: 'string', description: 'Show logs since timestamp (e.g. 2013-01-02T13:23:37Z) or relative (e.g. 42m for 42 minutes)' },
  { name: 'until', type: 'string', description: 'Show logs before a timestamp (e.g. 2013-01-02T13:23:37Z) or relative (e.g. 42m for 42 minutes)' },
  { name: 'details', type: 'bool', description: 'Show extra details provided to logs' },
] as const satisfies readonly FlagDef[];

const cmd: Command<typeof flags> = { usage: '[OPTIONS] CONTAINER', description: 'Fetch the logs of a container', flags, args: [1, 1] };

const UNIT_MS: Record<string, number> = { ns: 1e-6, us: 1e-3, µs: 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** docker's time arguments: RFC 3339 (date or date-time), unix seconds with a fraction, or a Go duration back from now. */
export function parseTimeArg(v: string, flag: string, now = Date.now()): number {
  const s = v.trim();
  if (/^\d+(\.\d+)?$/.test(s)) return Math.round(Number(s) * 1000);
  if (/^(\d+(\.\d+)?(ns|us|µs|ms|s|m|h))+$/.test(s)) {
    let ms = 0;
    for (const m of s.matchAll(/(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/g)) ms += Number(m[1]) * UNIT_MS[m[2]!]!;
    return now - ms;
  }
  if (/^\d{4}-\d{2}-\d{2}/.test(s)) {
    const t = Date.parse(/T/.test(s) && !/(Z|[+-]\d{2}:?\d{2})$/.test(s) ? `${s}Z` : s);
    if (Number.isFinite(t)) return t;
  }
  throw new InvalidArgument(`invalid value for "${flag}": failed to parse value as time or duration: "${v}"`);
}

/** conmon's `2026-11-23T12:44:56.122985047+01:00` as docker shows it: UTC, nanoseconds kept, `Z`. */
export function utcNano(time: string): string {
  const m = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:?\d\d)$/.exec(time);
  if (!m) return time;
  const whole = new Date(`${m[1]}${m[3]}`);
  if (Number.isNaN(whole.getTime())) return time;
  return `${whole.toISOString().slice(0, 19)}.${(m[2] ?? '').padEnd(9, '0').slice(0, 9)}Z`;
}

export async function main(argv: string[], g: Globals): Promise<number> {
  const p = parse(cmd, argv, 'logs');
  if (typeof p === 'number') return p;
  return withEngine(g, 'logs', async (engine) => {
    const tail = p.flags.tail === 'all' ? undefined : Number(p.flags.tail);
    if (tail !== undefined && !Number.isInteger(tail)) throw new InvalidArgument(`invalid value for "tail": ${p.flags.tail}`);
    const ts = p.flags.timestamps;
    // A timestamp starts each line, not each fragment of a line conmon wrote in pieces.
    const atLineStart = { stdout: true, stderr: true };
    await engine.readLogs(
      p.args[0]!,
      (rec) => {
        const out = rec.stream === 'stderr' ? process.stderr : process.stdout;
        if (ts && atLineStart[rec.stream]) out.write(`${utcNano(rec.time)} `);
        atLineStart[rec.stream] = rec.data.length > 0 && rec.data[rec.data.length - 1] === 0x0a;
        out.write(rec.data);
      },
      {
        follow: p.flags.follow,
        tail,
        since: p.changed.has('since') ? parseTimeArg(p.flags.since, '--since') : undefined,
        until: p.changed.has('until') ? parseTimeArg(p.flags.until, '--until') : undefined,
      },
    );
    return 0;
  });
}
