/** Go's durations, as docker's flags, API fields and Dockerfile options take them (a leaf: imports nothing). */

const UNIT_MS: Record<string, number> = { ns: 1e-6, us: 1e-3, µs: 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** A Go duration (`1m30s`, `500ms`, `-2s`, `0`) in nanoseconds; null when it is not one. */
export function parseGoDuration(text: string): number | null {
  const s = text.trim();
  if (s === '0' || s === '+0' || s === '-0') return 0;
  const m = /^([+-]?)((?:\d+(?:\.\d*)?|\.\d+)(?:ns|us|µs|ms|s|m|h))+$/.exec(s);
  if (!m) return null;
  let ns = 0;
  for (const part of s.matchAll(/(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)/g)) ns += Number(part[1]) * UNIT_MS[part[2]!]! * 1e6;
  return Math.round(m[1] === '-' ? -ns : ns);
}

/** Nanoseconds as Go prints a duration: `30s`, `1m30s`, `500ms`, `0s`. */
export function goDuration(ns: number): string {
  if (ns === 0) return '0s';
  const neg = ns < 0;
  let n = Math.abs(ns);
  let out: string;
  if (n < 1e3) out = `${n}ns`;
  else if (n < 1e6) out = `${trimZeros(n / 1e3)}µs`;
  else if (n < 1e9) out = `${trimZeros(n / 1e6)}ms`;
  else {
    const h = Math.floor(n / 3.6e12);
    n -= h * 3.6e12;
    const m = Math.floor(n / 6e10);
    n -= m * 6e10;
    out = `${h > 0 ? `${h}h` : ''}${h > 0 || m > 0 ? `${m}m` : ''}${trimZeros(n / 1e9)}s`;
  }
  return neg ? `-${out}` : out;
}

const trimZeros = (x: number) => String(Number(x.toFixed(9)));
