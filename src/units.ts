/**
 * Byte sizes as docker writes them: the leaf every layer may import (flags, daemon.json keys, messages).
 * Imports nothing.
 */

const BINARY: Record<string, number> = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4, p: 1024 ** 5 };

/**
 * docker's RAMInBytes: `512m`, `1g`, `16GiB`, `100k`, `2048` (bytes); case-insensitive, an optional `i` and
 * `b`, every unit binary (`500MB` is 500 MiB, as in docker). Undefined for anything else.
 */
export function bytesIn(text: string): number | undefined {
  const m = /^(\d+(?:\.\d+)?)\s*([kmgtp]?)i?b?$/i.exec(text.trim());
  if (!m) return undefined;
  return Math.floor(Number(m[1]) * BINARY[m[2]!.toLowerCase()]!);
}

/** A size for a message, in the largest binary unit it is a whole number of (`16GiB`, `8MiB`), else in bytes. */
export function exactSize(bytes: number): string {
  for (const [unit, n] of [['PiB', 1024 ** 5], ['TiB', 1024 ** 4], ['GiB', 1024 ** 3], ['MiB', 1024 ** 2], ['KiB', 1024]] as const) {
    if (bytes >= n && bytes % n === 0) return `${bytes / n}${unit}`;
  }
  return `${bytes} bytes`;
}

/** A size for a message, rounded to one decimal in a binary unit (`1.9GiB`, `312.5MiB`). */
export function roughSize(bytes: number): string {
  let size = bytes;
  let i = 0;
  const units = ['bytes', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
  while (size >= 1024 && i < units.length - 1) (size /= 1024), i++;
  return i === 0 ? `${size} bytes` : `${size.toFixed(1)}${units[i]}`;
}
