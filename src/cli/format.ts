/**
 * docker's output formatting: the Go text/template subset used with --format, Go's text/tabwriter
 * as docker configures it, table/raw row rendering, and go-units' human durations and sizes.
 */
import { InvalidArgument } from '../errors.ts';

type Fn = (...args: unknown[]) => unknown;
type Tok = { k: string; v: string; glued: boolean };
type Pipe = { decl: string[]; assign: boolean; cmds: Operand[][] };
type Operand =
  | { k: 'lit'; v: unknown }
  | { k: 'func'; name: string }
  | { k: 'chain'; base: string | Pipe; path: string[]; text: string };
type Node = string | { k: 'action'; pipe: Pipe; line: number } | { k: 'if' | 'with' | 'range'; pipe: Pipe; body: Node[]; alt: Node[]; line: number };
type Env = { funcs: Record<string, Fn>; frames: Map<string, unknown>[]; line: number };

const fail = (msg: string): never => {
  throw new InvalidArgument(`template parsing error: template: :${msg}`);
};
const execFail = (env: Env, at: string, msg: string): never => fail(`${env.line}: executing "" at <${at}>: ${msg}`);
// Counting code points spreads the string into an array: only a string with a surrogate needs it.
const runes = (s: string) => (/[\ud800-\udfff]/.test(s) ? [...s].length : s.length);
const sortedKeys = (o: object) => Object.keys(o).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));

/** Go's strconv 'g' formatting: prec -1 is shortest (what %v prints for a float64). */
export function formatG(x: number, prec = -1): string {
  if (x === 0 || !Number.isFinite(x)) return x === 0 ? '0' : x > 0 ? '+Inf' : x < 0 ? '-Inf' : 'NaN';
  if (x < 0) return '-' + formatG(-x, prec);
  const [m, e] = x.toExponential(prec < 0 ? undefined : 100).split('e') as [string, string];
  let d = m.replace('.', '');
  let dp = Number(e) + 1;
  if (prec >= 0 && d.length > prec) {
    const tail = d.slice(prec);
    const up = tail[0]! > '5' || (tail[0] === '5' && (/[1-9]/.test(tail.slice(1)) || Number(d[prec - 1] ?? 0) % 2 === 1));
    d = d.slice(0, prec);
    if (up) {
      const n = (BigInt(d) + 1n).toString();
      if (n.length > d.length) dp++;
      d = n.slice(0, prec);
    }
  }
  d = d.replace(/0+$/, '') || '0';
  let eprec = prec < 0 ? 6 : prec;
  if (prec >= 0 && eprec > d.length && d.length >= dp) eprec = d.length;
  const p = prec < 0 ? d.length : prec;
  if (dp - 1 < -4 || dp - 1 >= eprec) {
    const frac = d.slice(1, Math.min(p, d.length));
    const ex = Math.abs(dp - 1).toString().padStart(2, '0');
    return `${d[0]}${frac ? '.' + frac : ''}e${dp - 1 < 0 ? '-' : '+'}${ex}`;
  }
  const decimals = Math.max((p > dp ? d.length : p) - dp, 0);
  const digit = (i: number) => (i >= 0 && i < d.length ? d[i] : '0');
  let int = '';
  for (let i = 0; i < Math.max(dp, 1); i++) int += dp <= 0 ? '0' : digit(i);
  let frac = '';
  for (let i = 0; i < decimals; i++) frac += digit(dp + i);
  return frac ? `${int}.${frac}` : int;
}

/** fmt.Sprint of one value, as text/template prints it. */
export function goPrint(v: unknown, top = true): string {
  if (v === undefined) return top ? '<no value>' : '<nil>';
  if (v === null) return '<nil>';
  if (typeof v === 'string') return v;
  if (typeof v === 'number') return Number.isInteger(v) ? BigInt(v).toString() : formatG(v);
  if (typeof v === 'bigint' || typeof v === 'boolean') return String(v);
  if (Array.isArray(v)) return `[${v.map((e) => goPrint(e, false)).join(' ')}]`;
  if (v instanceof Date) return v.toISOString();
  if (v instanceof Map) return goPrint(Object.fromEntries(v), top);
  if (typeof v === 'object') return `map[${sortedKeys(v).map((k) => `${k}:${goPrint((v as Record<string, unknown>)[k], false)}`).join(' ')}]`;
  return String(v);
}

/** docker's `json` template function: encoding/json without HTML escaping, no trailing newline. */
export function goJson(v: unknown): string {
  const s = JSON.stringify(v instanceof Map ? Object.fromEntries(v) : v) ?? 'null';
  return s.replaceAll('\u2028', '\\u2028').replaceAll('\u2029', '\\u2029');
}

function truth(v: unknown): boolean {
  if (v === undefined || v === null || v === false || v === 0 || v === '') return false;
  if (Array.isArray(v)) return v.length > 0;
  if (v instanceof Map) return v.size > 0;
  if (typeof v === 'object' && Object.getPrototypeOf(v) === Object.prototype) return Object.keys(v).length > 0;
  return true;
}

function printf(format: string, ...args: unknown[]): string {
  let i = 0;
  return format.replace(/%([-+ #0]*)(\d*)(?:\.(\d+))?([vsdqtxXfg%])/g, (_all, flags: string, width: string, precision: string | undefined, verb: string) => {
    if (verb === '%') return '%';
    if (i >= args.length) return `%!${verb}(MISSING)`;
    const a = args[i++];
    let s: string;
    if (verb === 'q') s = JSON.stringify(goPrint(a));
    else if (verb === 'd' && typeof a === 'number') s = Math.trunc(a).toString();
    else if ((verb === 'x' || verb === 'X') && typeof a === 'number') s = a.toString(16);
    else if (verb === 'f' && typeof a === 'number') s = a.toFixed(precision === undefined ? 6 : Number(precision));
    else if (verb === 'g' && typeof a === 'number') s = formatG(a, precision === undefined ? -1 : Number(precision));
    else s = goPrint(a);
    if (verb === 'X') s = s.toUpperCase();
    if (precision !== undefined && (verb === 's' || verb === 'v')) s = [...s].slice(0, Number(precision)).join('');
    const w = Number(width || 0);
    if (runes(s) < w) s = flags.includes('-') ? s + ' '.repeat(w - runes(s)) : (flags.includes('0') ? '0' : ' ').repeat(w - runes(s)) + s;
    return s;
  });
}

const str = (v: unknown) => (typeof v === 'string' ? v : goPrint(v));
const cmp = (f: (a: number | string, b: number | string) => boolean) => (a: unknown, b: unknown) => f(a as number, b as number);
const FUNCS: Record<string, Fn> = {
  json: (v) => goJson(v),
  join: (a, sep) => (Array.isArray(a) ? a.map(str).join(str(sep)) : str(a)),
  split: (s, sep) => (sep === '' ? [...str(s)] : str(s).split(str(sep))),
  upper: (s) => str(s).toUpperCase(),
  lower: (s) => str(s).toLowerCase(),
  title: (s) => str(s).replace(/(^|[^\p{L}\p{N}_'])(\p{L})/gu, (_m, p: string, c: string) => p + c.toUpperCase()),
  truncate: (s, n) => [...str(s)].slice(0, Number(n)).join(''),
  pad: (s, l, r) => (str(s) === '' ? '' : ' '.repeat(Number(l)) + str(s) + ' '.repeat(Number(r))),
  len: (v) => (typeof v === 'string' ? Buffer.byteLength(v) : Array.isArray(v) ? v.length : v instanceof Map ? v.size : v && typeof v === 'object' ? Object.keys(v).length : NaN),
  index: (v, ...keys) => keys.reduce((o: unknown, k) => (o instanceof Map ? o.get(k) : o == null ? undefined : (o as Record<string, unknown>)[String(k)]), v),
  print: (...a) => a.map((v, i) => (i > 0 && typeof v !== 'string' && typeof a[i - 1] !== 'string' ? ' ' : '') + goPrint(v)).join(''),
  println: (...a) => a.map((v) => goPrint(v)).join(' ') + '\n',
  printf: (f, ...a) => printf(str(f), ...a),
  not: (v) => !truth(v),
  and: (...a) => a.find((v) => !truth(v)) ?? a[a.length - 1],
  or: (...a) => a.find((v) => truth(v)) ?? a[a.length - 1],
  eq: (a, ...b) => b.some((x) => x === a),
  ne: (a, b) => a !== b,
  lt: cmp((a, b) => a < b), le: cmp((a, b) => a <= b), gt: cmp((a, b) => a > b), ge: cmp((a, b) => a >= b),
};
const ARITY: Record<string, number> = { json: 1, join: 2, split: 2, upper: 1, lower: 1, title: 1, truncate: 2, pad: 3, len: 1, not: 1, ne: 2, lt: 2, le: 2, gt: 2, ge: 2 };
/** docker's HeaderFunctions: in a table header, formatting functions pass the header text through. */
const HEADER_FUNCS: Record<string, Fn> = { ...FUNCS };
for (const f of ['json', 'join', 'split', 'upper', 'lower', 'title', 'truncate', 'pad']) HEADER_FUNCS[f] = (v) => v;

const TOKEN = /([ \t\r\n]*)(?:(-}})|(}})|("(?:[^"\\]|\\.)*")|(`[^`]*`)|(\$[A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)|((?:\.[A-Za-z_][A-Za-z0-9_]*)+|\.)|([+-]?(?:0[xX][0-9a-fA-F]+|[0-9]+(?:\.[0-9]*)?(?:[eE][+-]?[0-9]+)?))|([A-Za-z_][A-Za-z0-9_]*)|(:=|[()|=,]))/y;
const KINDS = ['', 'ws', 'end', 'end', 'str', 'raw', 'var', 'field', 'num', 'ident', 'punct'];
const ESC: Record<string, string> = { n: '\n', t: '\t', r: '\r', a: '\x07', b: '\b', f: '\f', v: '\v' };
const unquote = (s: string) =>
  s.slice(1, -1).replace(/\\(x[0-9a-fA-F]{2}|u[0-9a-fA-F]{4}|U[0-9a-fA-F]{8}|[0-7]{3}|.)/gs, (_m, e: string) =>
    /^[xuU]/.test(e) ? String.fromCodePoint(parseInt(e.slice(1), 16)) : /^[0-7]{3}$/.test(e) ? String.fromCharCode(parseInt(e, 8)) : (ESC[e] ?? e));

/** Split a template into text and the token lists of its actions. */
function lex(src: string): (string | { toks: Tok[]; line: number })[] {
  const items: (string | { toks: Tok[]; line: number })[] = [];
  let i = 0;
  const lineAt = (pos: number) => src.slice(0, pos).split('\n').length;
  for (;;) {
    const open = src.indexOf('{{', i);
    if (open < 0) return [...items, src.slice(i)];
    let text = src.slice(i, open);
    let j = open + 2;
    if (/^-[ \t\r\n]/.test(src.slice(j, j + 2))) (text = text.replace(/[ \t\r\n]+$/, '')), (j += 2);
    items.push(text);
    const line = lineAt(open);
    const toks: Tok[] = [];
    const comment = /^[ \t\r\n]*\/\*/.exec(src.slice(j));
    if (comment && (j === open + 2 || /^\s/.test(src[j - 1]!))) {
      const end = src.indexOf('*/', j);
      if (end < 0) fail(`${line}: unclosed comment`);
      j = end + 2;
    }
    for (;;) {
      TOKEN.lastIndex = j;
      const m = TOKEN.exec(src);
      if (!m) {
        const c = String.fromCodePoint(src.codePointAt(src.slice(j).search(/\S/) + j) ?? 0);
        fail(j >= src.trimEnd().length ? `${line}: unclosed action` : `${line}: bad character U+${c.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')} '${c}'`);
      }
      j = TOKEN.lastIndex;
      const g = m!.findIndex((x, n) => n > 1 && x !== undefined);
      if (KINDS[g] === 'end') {
        if (g === 2) {
          if (!m![1]) fail(`${line}: bad character U+002D '-'`);
          const after = /^[ \t\r\n]*/.exec(src.slice(j))![0].length;
          j += after;
        }
        break;
      }
      if (comment) fail(`${line}: comment ends before closing delimiter`);
      const v = m![g]!;
      toks.push({ k: g === 5 ? 'str' : g === 10 ? v : KINDS[g]!, v: g === 4 ? unquote(v) : g === 5 ? v.slice(1, -1) : v, glued: m![1] === '' });
    }
    if (!comment) items.push({ toks, line });
    i = j;
  }
}

function parsePipe(toks: Tok[], line: number): Pipe {
  let pos = 0;
  const pipe: Pipe = { decl: [], assign: false, cmds: [] };
  const k = (n: number) => toks[n]?.k;
  if (k(0) === 'var' && (k(1) === ':=' || k(1) === '=')) (pipe.decl = [toks[0]!.v]), (pipe.assign = k(1) === '='), (pos = 2);
  else if (k(0) === 'var' && k(1) === ',' && k(2) === 'var' && k(3) === ':=') (pipe.decl = [toks[0]!.v, toks[2]!.v]), (pos = 4);
  const pipeline = (): Operand[][] => {
    const cmds: Operand[][] = [[]];
    while (pos < toks.length && k(pos) !== ')') {
      if (k(pos) === '|') {
        if (cmds[cmds.length - 1]!.length === 0) fail(`${line}: missing value for command`);
        cmds.push([]), pos++;
      } else cmds[cmds.length - 1]!.push(operand());
    }
    if (cmds[cmds.length - 1]!.length === 0) fail(`${line}: missing value for command`);
    return cmds;
  };
  const operand = (): Operand => {
    const t = toks[pos++]!;
    switch (t.k) {
      case 'str': return { k: 'lit', v: t.v };
      case 'num': return { k: 'lit', v: Number(t.v) };
      case 'field': return { k: 'chain', base: '.', path: t.v.split('.').filter(Boolean), text: t.v };
      case 'var': { const [name, ...path] = t.v.split('.'); return { k: 'chain', base: name!, path, text: t.v }; }
      case 'ident':
        if (t.v === 'true' || t.v === 'false') return { k: 'lit', v: t.v === 'true' };
        if (t.v === 'nil') return { k: 'lit', v: null };
        if (!(t.v in FUNCS)) fail(`${line}: function "${t.v}" not defined`);
        return { k: 'func', name: t.v };
      case '(': {
        const inner: Pipe = { decl: [], assign: false, cmds: pipeline() };
        if (toks[pos++]?.k !== ')') fail(`${line}: unclosed left paren`);
        const f = toks[pos];
        if (f?.k === 'field' && f.glued) return pos++, { k: 'chain', base: inner, path: f.v.split('.').filter(Boolean), text: `(...)${f.v}` };
        return { k: 'chain', base: inner, path: [], text: '(...)' };
      }
      default: return fail(`${line}: unexpected "${t.v}" in command`);
    }
  };
  pipe.cmds = pipeline();
  if (pos < toks.length) fail(`${line}: unexpected right paren`);
  return pipe;
}

function parse(src: string): Node[] {
  const items = lex(src);
  let i = 0;
  let last = 1;
  const list = (inBlock: boolean): [Node[], 'end' | 'else' | null, Tok[]] => {
    const nodes: Node[] = [];
    while (i < items.length) {
      const it = items[i++]!;
      if (typeof it === 'string') { if (it) nodes.push(it); continue; }
      last = it.line;
      const [first, ...rest] = it.toks;
      if (!first) fail(`${it.line}: missing value for command`);
      if (first!.k === 'ident' && ['end', 'else'].includes(first!.v)) {
        if (!inBlock) fail(`${it.line}: unexpected {{${first!.v}}}`);
        return [nodes, first!.v as 'end' | 'else', rest];
      }
      if (first!.k === 'ident' && ['if', 'with', 'range'].includes(first!.v)) nodes.push(control(first!.v as 'if', rest, it.line));
      else if (first!.k === 'ident' && ['define', 'template', 'block', 'break', 'continue'].includes(first!.v)) fail(`${it.line}: {{${first!.v}}} is not supported`);
      else nodes.push({ k: 'action', pipe: parsePipe(it.toks, it.line), line: it.line });
    }
    if (inBlock) fail(`${last}: unexpected EOF`);
    return [nodes, null, []];
  };
  const control = (k: 'if' | 'with' | 'range', toks: Tok[], line: number): Node => {
    if (toks.length === 0) fail(`${line}: missing value for ${k}`);
    const pipe = parsePipe(toks, line);
    const [body, stop, elseToks] = list(true);
    let alt: Node[] = [];
    if (stop === 'else' && elseToks[0]?.k === 'ident' && (elseToks[0].v === 'if' || elseToks[0].v === 'with')) {
      alt = [control(elseToks[0].v, elseToks.slice(1), line)];
    } else if (stop === 'else') {
      const [nodes, stop2] = list(true);
      if (stop2 === 'else') fail(`${line}: expected end; found {{else}}`);
      alt = nodes;
    }
    return { k, pipe, body, alt, line };
  };
  return list(false)[0];
}

const NONE = Symbol('none');

function field(env: Env, recv: unknown, name: string, args: unknown[] | undefined, text: string): unknown {
  if (recv === undefined) return undefined;
  if (recv === null) return execFail(env, text, `nil pointer evaluating interface {}.${name}`);
  if (recv instanceof Map) return recv.get(name);
  if (typeof recv !== 'object' || Array.isArray(recv)) return execFail(env, text, `can't evaluate field ${name} in type ${Array.isArray(recv) ? '[]interface {}' : typeof recv === 'number' ? 'float64' : typeof recv === 'boolean' ? 'bool' : typeof recv}`);
  const proto = Object.getPrototypeOf(recv);
  const visible = Object.hasOwn(recv, name) || (proto !== Object.prototype && proto !== null && !(name in Object.prototype) && name in recv);
  const v = visible ? (recv as Record<string, unknown>)[name] : undefined;
  if (typeof v === 'function') return (v as Fn).apply(recv, args ?? []);
  if (args?.length) return execFail(env, text, `${name} is not a method but has arguments`);
  return v;
}

function evalPipe(env: Env, pipe: Pipe, dot: unknown): unknown {
  let v: unknown = NONE;
  for (const [head, ...rest] of pipe.cmds) {
    const args = rest.map((o) => operand(env, o, dot, undefined));
    if (v !== NONE) args.push(v);
    if (head!.k === 'func') {
      const want = ARITY[head!.name];
      if (want !== undefined && args.length !== want) execFail(env, head!.name, `wrong number of args for ${head!.name}: want ${want} got ${args.length}`);
      v = env.funcs[head!.name]!(...args);
    } else if (head!.k === 'lit' && args.length) {
      return execFail(env, goPrint(head!.v), `can't give argument to non-function ${goPrint(head!.v)}`);
    } else v = operand(env, head!, dot, args.length ? args : undefined);
  }
  if (pipe.decl.length === 1) {
    const frame = (pipe.assign && env.frames.findLast((f) => f.has(pipe.decl[0]!))) || env.frames[env.frames.length - 1]!;
    frame.set(pipe.decl[0]!, v);
  }
  return v;
}

function operand(env: Env, o: Operand, dot: unknown, args: unknown[] | undefined): unknown {
  if (o.k === 'lit') return o.v;
  if (o.k === 'func') return execFail(env, o.name, `can't use function ${o.name} as an argument without calling it`);
  let v: unknown;
  if (typeof o.base !== 'string') v = evalPipe(env, o.base, dot);
  else if (o.base === '.') v = dot;
  else {
    const frame = env.frames.findLast((f) => f.has(o.base as string));
    if (!frame) return fail(`${env.line}: undefined variable "${o.base}"`);
    v = frame.get(o.base);
  }
  o.path.forEach((name, n) => (v = field(env, v, name, n === o.path.length - 1 ? args : undefined, o.text)));
  if (args?.length && o.path.length === 0) return execFail(env, o.text, `can't give argument to non-function ${o.text}`);
  return v;
}

function run(env: Env, nodes: Node[], dot: unknown, out: string[]): void {
  for (const n of nodes) {
    if (typeof n === 'string') { out.push(n); continue; }
    env.line = n.line;
    if (n.k === 'action') {
      const v = evalPipe(env, n.pipe, dot);
      if (n.pipe.decl.length === 0) out.push(goPrint(v));
      continue;
    }
    env.frames.push(new Map());
    try {
      if (n.k !== 'range') {
        const v = evalPipe(env, { ...n.pipe, decl: n.pipe.decl.slice(0, 1) }, dot);
        run(env, truth(v) ? n.body : n.alt, truth(v) && n.k === 'with' ? v : dot, out);
        continue;
      }
      const v = evalPipe(env, { ...n.pipe, decl: [] }, dot);
      let entries: [unknown, unknown][];
      if (v === undefined || v === null) entries = [];
      else if (Array.isArray(v)) entries = v.map((e, i) => [i, e]);
      else if (v instanceof Map) entries = [...v.keys()].sort().map((k) => [k, v.get(k)]);
      else if (typeof v === 'object') entries = sortedKeys(v).map((k) => [k, (v as Record<string, unknown>)[k]]);
      else if (typeof v === 'number' && Number.isInteger(v)) entries = Array.from({ length: Math.max(v, 0) }, (_, i) => [i, i]);
      else entries = execFail(env, 'range', `range can't iterate over ${goPrint(v)}`);
      if (entries.length === 0) run(env, n.alt, dot, out);
      for (const [key, value] of entries) {
        const frame = env.frames[env.frames.length - 1]!;
        if (n.pipe.decl.length === 1) frame.set(n.pipe.decl[0]!, value);
        if (n.pipe.decl.length === 2) frame.set(n.pipe.decl[0]!, key).set(n.pipe.decl[1]!, value);
        run(env, n.body, value, out);
      }
    } finally {
      env.frames.pop();
    }
  }
}

function execute(nodes: Node[], data: unknown, funcs = FUNCS): string {
  const out: string[] = [];
  run({ funcs, frames: [new Map([['$', data]])], line: 1 }, nodes, data, out);
  return out.join('');
}

/** docker's preFormat unescaping: a literal backslash-t / backslash-n in --format becomes a tab / newline. */
const unescape = (s: string) => s.replaceAll('\\t', '\t').replaceAll('\\n', '\n');

/** Render a Go text/template (docker --format subset). Errors throw InvalidArgument("template parsing error: …"). */
export function renderTemplate(tpl: string, data: unknown): string {
  return execute(parse(unescape(tpl)), data);
}

/** Go's text/tabwriter with docker's settings (minwidth 10, tabwidth 1, padding 3, ' ', no flags) over tab-separated text. */
export function tabwrite(text: string, minwidth = 10, padding = 3): string {
  const lines = text.split('\n').map((l) => l.split('\t'));
  const out: string[] = [];
  const widths: number[] = [];
  const write = (l0: number, l1: number) => {
    for (let i = l0; i < l1; i++) out.push(lines[i]!.map((c, j) => (j < widths.length ? c + ' '.repeat(widths[j]! - runes(c)) : c)).join(''));
  };
  const format = (line0: number, line1: number): void => {
    const column = widths.length;
    for (let t = line0; t < line1; t++) {
      if (column >= lines[t]!.length - 1) continue;
      write(line0, t);
      line0 = t;
      let width = minwidth;
      for (; t < line1 && column < lines[t]!.length - 1; t++) width = Math.max(width, runes(lines[t]![column]!) + padding);
      widths.push(width);
      format(line0, t);
      widths.pop();
      line0 = t;
    }
    write(line0, line1);
  };
  format(0, lines.length);
  return out.join('\n');
}

/** Rows of cells through docker's tabwriter: every line ends with "\n", the last column is not padded. */
export function tableWriter(rows: string[][]): string {
  return tabwrite(rows.map((r) => r.join('\t') + '\n').join(''));
}

/**
 * docker's --format handling for list commands: "table …" prints a header (the template run over
 * `headers`, keyed by field name) and aligned rows; any other template prints one line per item;
 * undefined, "" or "table" use defaultTable; "json" is `{{json .}}`.
 */
export function formatRows(format: string | undefined, defaultTable: string, headers: Record<string, string>, items: readonly object[]): string {
  let f = format === undefined || format === '' || format === 'table' ? defaultTable : format === 'json' ? '{{json .}}' : format;
  const table = f.startsWith('table');
  f = unescape((table ? f.slice(5) : f).replace(/^ +| +$/g, ''));
  const render = plainFields(f) ?? parsed(parse(f));
  const body = items.map((item) => render(item) + '\n').join('');
  return table ? tabwrite(render(headers, HEADER_FUNCS) + '\n' + body) : body;
}

type Render = (data: unknown, funcs?: Record<string, Fn>) => string;

const parsed = (nodes: Node[]): Render => (data, funcs) => execute(nodes, data, funcs);

/**
 * A template of text and `{{.Field}}` actions only (every list's default table, most --format strings) as a
 * function: the interpreter's own lookup and printing, without its set-up per item, which cost `ps` over
 * 1,000 containers ~10 ms. Undefined for any other template.
 */
function plainFields(src: string): Render | undefined {
  const parts = src.split(/\{\{\.([A-Za-z_][A-Za-z0-9_]*)\}\}/);
  if (parts.some((text, i) => i % 2 === 0 && text.includes('{{'))) return undefined;
  const env: Env = { funcs: FUNCS, frames: [], line: 1 };
  return (data) => {
    let out = parts[0]!;
    for (let i = 1; i < parts.length; i += 2) out += goPrint(field(env, data, parts[i]!, undefined, `.${parts[i]}`)) + parts[i + 1]!;
    return out;
  };
}


const DECIMAL_UNITS = ['B', 'kB', 'MB', 'GB', 'TB', 'PB', 'EB', 'ZB', 'YB'];
/** go-units HumanSizeWithPrecision(size, 3): decimal units, "%.3g". */
export function humanSize(bytes: number): string {
  let size = bytes;
  let i = 0;
  while (size >= 1000 && i < DECIMAL_UNITS.length - 1) (size /= 1000), i++;
  return formatG(size, 3) + DECIMAL_UNITS[i];
}

/** docker's stringid.TruncateID: drop an "algo:" prefix, keep 12 characters. */
export function truncateId(id: string): string {
  const i = id.indexOf(':');
  return (i >= 0 ? id.slice(i + 1) : id).slice(0, 12);
}
