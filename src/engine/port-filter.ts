/**
 * The values of docker's `publish` and `expose` container list filters: `PORT[/PROTO]` or
 * `START-END[/PROTO]`. The protocol is tcp when none is given and is compared lower-cased; any word is
 * taken, as dockerd takes it (one no container uses matches nothing). Malformed values are refused with
 * dockerd's words.
 */
import { InvalidArgument } from '../errors.ts';

/** Ports start–end (inclusive) of one protocol. */
export interface PortRange {
  start: number;
  end: number;
  proto: string;
}

/** One filter value as a range; `key` (publish or expose) is named in the error. */
export function parsePortFilter(key: string, value: string): PortRange {
  // `HOST:CONTAINER` is `-p`'s syntax, not a filter's: said apart from other malformed values.
  if (value.includes(':')) throw new InvalidArgument(`filter for '${key}' should not contain ':': ${value}`);
  const bad = (why: string) => new InvalidArgument(`error while looking up for ${key} ${value}: ${why}`);
  if (value === '') throw bad('invalid port range: value is empty');
  const slash = value.indexOf('/');
  const range = slash < 0 ? value : value.slice(0, slash);
  const proto = slash < 0 || slash === value.length - 1 ? 'tcp' : value.slice(slash + 1).toLowerCase();
  const dash = range.indexOf('-');
  const startText = dash < 0 ? range : range.slice(0, dash);
  const start = portNumber(startText, (why) => bad(`invalid start port '${startText}': ${why}`));
  if (dash < 0) return { start, end: start, proto };
  const endText = range.slice(dash + 1);
  const end = portNumber(endText, (why) => bad(`invalid end port '${endText}': ${why}`));
  if (end < start) throw bad(`invalid port range: ${value}`);
  return { start, end, proto };
}

/** A port number as Go's ParseUint(text, 10, 16) reads it, failing with its reasons. */
function portNumber(text: string, fail: (why: string) => Error): number {
  if (text === '') throw fail('value is empty');
  if (!/^\d+$/.test(text)) throw fail('invalid syntax');
  const n = Number(text);
  if (n > 65535) throw fail('value out of range');
  return n;
}

export function inPortRanges(ranges: readonly PortRange[], port: number, proto: string): boolean {
  return ranges.some((r) => r.proto === proto && port >= r.start && port <= r.end);
}
