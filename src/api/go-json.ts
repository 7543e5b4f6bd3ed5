/**
 * A request body's fields typed as dockerd's Go decoder types them: a value of another JSON type is a 400
 * with the decoder's own message (`json: cannot unmarshal number into Go struct field
 * NetworkCreateRequest.Labels of type string`), so a client that sends a label's value as a number learns
 * what dockerd would tell it. Absent and null are unset, as Go leaves them.
 */
import { InvalidArgument } from '../errors.ts';

type Want = 'string' | 'bool' | 'number' | 'object' | 'array';

/** Go's name for a JSON value's type, as its decoder's errors say it. */
function goType(v: unknown): string {
  if (Array.isArray(v)) return 'array';
  if (v === null) return 'null';
  return typeof v === 'object' ? 'object' : typeof v === 'boolean' ? 'bool' : typeof v;
}

/** The Go type a wanted kind decodes into, for the message. */
const goName: Record<Want, string> = { string: 'string', bool: 'bool', number: 'int', object: 'map', array: 'slice' };

/** `v` when it is of the wanted kind (`path` names it in the error), undefined when absent or null. */
export function typed<T>(v: unknown, want: Want, path: string): T | undefined {
  if (v === undefined || v === null) return undefined;
  const t = goType(v);
  if (t !== want) throw new InvalidArgument(`json: cannot unmarshal ${t} into Go struct field ${path} of type ${goName[want]}`);
  return v as T;
}

/** `o[key]` typed (see typed). */
export function field<T>(o: Record<string, unknown>, key: string, want: Want, path: string): T | undefined {
  return typed<T>(o[key], want, path);
}

/** A `map[string]string` field. */
export function stringMap(o: Record<string, unknown>, key: string, path: string): Record<string, string> | undefined {
  const m = field<Record<string, unknown>>(o, key, 'object', path);
  for (const v of Object.values(m ?? {})) typed(v, 'string', path);
  return m as Record<string, string> | undefined;
}

/** A `[]string` field (a null element is nothing, as Go decodes it to an empty string). */
export function stringList(o: Record<string, unknown>, key: string, path: string): string[] | undefined {
  const l = field<unknown[]>(o, key, 'array', path);
  return l?.flatMap((v) => typed<string>(v, 'string', path) ?? []);
}
