/**
 * A docker-compatible (spf13/pflag) command-line flag parser driven by a declarative table.
 * Error messages are pflag's, word for word; the CLI adds docker's "See 'berth X --help'." line.
 */
import { InvalidArgument } from '../errors.ts';

export type FlagType = 'bool' | 'string' | 'list' | 'int';

export interface FlagDef {
  readonly name: string;
  readonly short?: string;
  readonly type: FlagType;
  readonly default?: boolean | string | number | readonly string[];
  readonly description: string;
  /** Accepted but left out of usageText (docker's hidden/deprecated flags). */
  readonly hidden?: boolean;
}

export type FlagValue<T extends FlagType> = T extends 'bool'
  ? boolean
  : T extends 'string'
    ? string
    : T extends 'list'
      ? string[]
      : number;

export type FlagValues<D extends readonly FlagDef[]> = {
  [K in D[number] as K['name']]: FlagValue<K['type']>;
};

export interface ParseResult<D extends readonly FlagDef[]> {
  flags: FlagValues<D>;
  /** Positional arguments (and everything after `--`, or after the first positional when not interspersed). */
  args: string[];
  /** Names of the flags given on the command line (pflag's Changed). */
  changed: Set<string>;
  /** `-h` or `--help` was given (unless a def claims that name); parsing stopped there. */
  help: boolean;
}

export interface ParseOptions {
  /** Allow flags after positionals (default true). docker run/exec/create use false. */
  interspersed?: boolean;
}

function defaultOf(def: FlagDef): boolean | string | number | string[] {
  if (def.default !== undefined) return Array.isArray(def.default) ? [...def.default] : (def.default as boolean | string | number);
  switch (def.type) {
    case 'bool': return false;
    case 'string': return '';
    case 'list': return [];
    case 'int': return 0;
  }
}

function flagTitle(def: FlagDef): string {
  return def.short ? `-${def.short}, --${def.name}` : `--${def.name}`;
}

/** Go's strconv.ParseBool. */
function parseBool(s: string): boolean | undefined {
  if (['1', 't', 'T', 'TRUE', 'true', 'True'].includes(s)) return true;
  if (['0', 'f', 'F', 'FALSE', 'false', 'False'].includes(s)) return false;
  return undefined;
}

/** Go's strconv.ParseInt(s, 0, 64): sign, 0x/0o/0b/leading-0 prefixes, `_` separators. Returns the error text on failure. */
function parseInt64(s: string): number | string {
  const fail = (why: string) => `strconv.ParseInt: parsing ${JSON.stringify(s)}: ${why}`;
  const m = /^([+-]?)(0[xX]|0[oO]|0[bB]|0(?=.))?(.*)$/s.exec(s)!;
  const prefix = (m[2] ?? '').toLowerCase();
  const base = { '0x': /^[0-9a-f]+$/i, '0o': /^[0-7]+$/, '0b': /^[01]+$/, '0': /^[0-7]+$/, '': /^[0-9]+$/ }[prefix]!;
  let digits = m[3]!;
  // `_` may only separate digits (a base prefix counts as a digit).
  if (/__|_$/.test(digits) || (!prefix && digits.startsWith('_'))) return fail('invalid syntax');
  digits = digits.replaceAll('_', '');
  if (!base.test(digits)) return fail('invalid syntax');
  const magnitude = BigInt((prefix === '0' ? '0o' : prefix) + digits);
  const v = m[1] === '-' ? -magnitude : magnitude;
  if (v > 9223372036854775807n || v < -9223372036854775808n) return fail('value out of range');
  return Number(v);
}

/**
 * Parse argv (without the command words) against a flag table, exactly as pflag does.
 * Throws InvalidArgument with pflag's message on unknown flags, missing values and bad values.
 */
export function parseFlags<const D extends readonly FlagDef[]>(
  argv: readonly string[],
  defs: D,
  opts: ParseOptions = {},
): ParseResult<D> {
  const interspersed = opts.interspersed ?? true;
  const byName = new Map<string, FlagDef>();
  const byShort = new Map<string, FlagDef>();
  const values: Record<string, boolean | string | number | string[]> = {};
  for (const def of defs) {
    byName.set(def.name, def);
    if (def.short) byShort.set(def.short, def);
    values[def.name] = defaultOf(def);
  }
  const changed = new Set<string>();
  const args: string[] = [];
  const result = (help: boolean): ParseResult<D> => ({ flags: values as FlagValues<D>, args, changed, help });

  const set = (def: FlagDef, value: string): void => {
    const bad = (why: string) =>
      new InvalidArgument(`invalid argument ${JSON.stringify(value)} for "${flagTitle(def)}" flag: ${why}`);
    switch (def.type) {
      case 'bool': {
        const b = parseBool(value);
        if (b === undefined) throw bad(`strconv.ParseBool: parsing ${JSON.stringify(value)}: invalid syntax`);
        values[def.name] = b;
        break;
      }
      case 'int': {
        const n = parseInt64(value);
        if (typeof n === 'string') throw bad(n);
        values[def.name] = n;
        break;
      }
      case 'string':
        values[def.name] = value;
        break;
      case 'list': {
        // The default is replaced by the first occurrence, then values accumulate.
        const cur = changed.has(def.name) ? (values[def.name] as string[]) : [];
        values[def.name] = [...cur, value];
        break;
      }
    }
    changed.add(def.name);
  };

  let rest = [...argv];
  while (rest.length > 0) {
    const s = rest.shift()!;
    if (s.length < 2 || s[0] !== '-') {
      args.push(s);
      if (!interspersed) {
        args.push(...rest);
        return result(false);
      }
      continue;
    }
    if (s[1] === '-') {
      if (s.length === 2) {
        args.push(...rest);
        break;
      }
      let name = s.slice(2);
      if (name[0] === '-' || name[0] === '=') throw new InvalidArgument(`bad flag syntax: ${s}`);
      const eq = name.indexOf('=');
      const inline = eq >= 0 ? name.slice(eq + 1) : undefined;
      if (eq >= 0) name = name.slice(0, eq);
      const def = byName.get(name);
      if (!def) {
        if (name === 'help') return result(true);
        throw new InvalidArgument(`unknown flag: --${name}`);
      }
      if (inline !== undefined) set(def, inline);
      else if (def.type === 'bool') set(def, 'true');
      else if (rest.length > 0) set(def, rest.shift()!);
      else throw new InvalidArgument(`flag needs an argument: ${s}`);
      continue;
    }
    // A group of shorthands: -it, -itu root, -uroot, -u=root, -d=false.
    let shorts = s.slice(1);
    while (shorts.length > 0) {
      const c = shorts[0]!;
      const def = byShort.get(c);
      if (!def) {
        if (c === 'h') return result(true);
        throw new InvalidArgument(`unknown shorthand flag: '${c}' in -${shorts}`);
      }
      if (shorts.length > 2 && shorts[1] === '=') {
        set(def, shorts.slice(2));
        shorts = '';
      } else if (def.type === 'bool') {
        set(def, 'true');
        shorts = shorts.slice(1);
      } else if (shorts.length > 1) {
        set(def, shorts.slice(1));
        shorts = '';
      } else if (rest.length > 0) {
        set(def, rest.shift()!);
        shorts = '';
      } else {
        throw new InvalidArgument(`flag needs an argument: '${c}' in -${shorts}`);
      }
    }
  }
  return result(false);
}

/** pflag's wrapN: split s at whitespace into a first line of at most i (+slop) characters and the rest. */
function wrapN(i: number, slop: number, s: string): [string, string] {
  if (i + slop > s.length) return [s, ''];
  const head = s.slice(0, i);
  const w = Math.max(head.lastIndexOf(' '), head.lastIndexOf('\t'), head.lastIndexOf('\n'));
  if (w <= 0) return [s, ''];
  const nl = head.lastIndexOf('\n');
  if (nl > 0 && nl < w) return [s.slice(0, nl), s.slice(nl + 1)];
  return [s.slice(0, w), s.slice(w + 1)];
}

/** pflag's wrap: wrap s to width w with a hanging indent of i (first line indented by the caller). */
function wrap(i: number, w: number, s: string): string {
  if (w === 0) return s.replaceAll('\n', '\n' + ' '.repeat(i));
  let width = w - i;
  let r = '';
  if (width < 24) {
    i = 16;
    width = w - i;
    r += '\n' + ' '.repeat(i);
  }
  if (width < 24) return s.replaceAll('\n', r);
  const slop = 5;
  width -= slop;
  const indent = (t: string) => t.replaceAll('\n', '\n' + ' '.repeat(i));
  let [line, rest] = wrapN(width, slop, s);
  r += indent(line);
  while (rest !== '') {
    [line, rest] = wrapN(width, slop, rest);
    r += '\n' + ' '.repeat(i) + indent(line);
  }
  return r;
}

/** pflag's FlagUsagesWrapped: one aligned line per visible flag, sorted by name. */
export function flagUsages(defs: readonly FlagDef[], cols = 0): string {
  const lines: string[] = [];
  let maxlen = 0;
  for (const def of [...defs].filter((d) => !d.hidden).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
    let line = def.short ? `  -${def.short}, --${def.name}` : `      --${def.name}`;
    let usage = def.description;
    let varname = def.type === 'bool' ? '' : def.type;
    const quoted = /`([^`]*)`/.exec(usage);
    if (quoted) {
      varname = quoted[1]!;
      usage = usage.replace(quoted[0], quoted[1]!);
    }
    if (varname) line += ' ' + varname;
    line += '\x00';
    maxlen = Math.max(maxlen, line.length);
    const d = def.default;
    if (d !== undefined && d !== false && d !== '' && d !== 0 && !(Array.isArray(d) && d.length === 0)) {
      if (def.type === 'string') usage += ` (default ${JSON.stringify(d)})`;
      else if (def.type === 'list') usage += ` (default [${(d as string[]).join(',')}])`;
      else usage += ` (default ${String(d)})`;
    }
    lines.push(line + usage);
  }
  return lines
    .map((line) => {
      const sidx = line.indexOf('\x00');
      return `${line.slice(0, sidx)} ${' '.repeat(maxlen - sidx)} ${wrap(maxlen + 2, cols, line.slice(sidx + 1))}`;
    })
    .map((l) => l + '\n')
    .join('');
}

/**
 * docker's help text: "\nUsage:  berth run [OPTIONS] IMAGE…\n\n<description>\n\nOptions:\n…".
 * `command` is the command path ("run", "container ls"); `usage` what follows it.
 * Flag descriptions wrap at 79 columns like docker's at an 80-column (or absent) terminal.
 */
export function usageText(command: string, usage: string, defs: readonly FlagDef[], description?: string, cols = 80): string {
  let out = `\nUsage:  berth ${command}${usage ? ' ' + usage : ''}\n`;
  if (description) out += `\n${description.trim()}\n`;
  const flags = flagUsages(defs, cols > 0 ? cols - 1 : 0).trimEnd();
  if (flags) out += `\nOptions:\n${flags}\n`;
  return out;
}
