/** Signal names and numbers as docker accepts them: `KILL`, `SIGKILL`, `9`. */
import { constants } from 'node:os';
import { InvalidArgument } from '../errors.ts';

const byName = constants.signals as Record<string, number>;

/** Normalise to `SIGNAME`; throws InvalidArgument for unknown signals. */
export function parseSignal(input: string): string {
  const s = input.trim().toUpperCase();
  if (/^\d+$/.test(s)) {
    const n = Number(s);
    const name = Object.keys(byName).find((k) => byName[k] === n);
    if (name) return name;
    if (n >= 34 && n <= 64) return String(n); // real-time signals are passed by number
    throw new InvalidArgument(`Invalid signal: ${input}`);
  }
  const name = s.startsWith('SIG') ? s : `SIG${s}`;
  if (name in byName) return name;
  throw new InvalidArgument(`Invalid signal: ${input}`);
}

export function signalNumber(name: string): number {
  return byName[name] ?? Number(name);
}
