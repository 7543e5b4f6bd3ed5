/**
 * The benches' summary statistics, defined once. Samples are never reordered in place (each function sorts
 * a copy), and none of them is meant for an empty list (the result is then NaN or undefined).
 */

function sorted(xs: readonly number[]): number[] {
  return [...xs].sort((a, b) => a - b);
}

/** The median: the middle sample, or for an even count the mean of the two middle ones. */
export function median(xs: readonly number[]): number {
  const s = sorted(xs);
  const n = s.length;
  return n % 2 ? s[(n - 1) / 2]! : (s[n / 2 - 1]! + s[n / 2]!) / 2;
}

/**
 * The upper median: the middle sample, or for an even count the higher of the two middle ones (always a
 * measured value, never an average). Equal to median for an odd count.
 */
export function upperMedian(xs: readonly number[]): number {
  return sorted(xs)[Math.floor(xs.length / 2)]!;
}

/** The nearest-rank percentile, p in (0, 1]: the smallest sample with at least p of all samples at or below it. */
export function percentile(xs: readonly number[], p: number): number {
  const s = sorted(xs);
  return s[Math.max(0, Math.ceil(p * s.length) - 1)]!;
}

export function mean(xs: readonly number[]): number {
  return xs.reduce((a, b) => a + b, 0) / xs.length;
}

export interface Stats {
  median: number;
  /** Nearest-rank 90th percentile. */
  p90: number;
  min: number;
  max: number;
  mean: number;
}

export function stats(xs: readonly number[]): Stats {
  const s = sorted(xs);
  return { median: median(s), p90: percentile(s, 0.9), min: s[0]!, max: s[s.length - 1]!, mean: mean(s) };
}
