/**
 * `.dockerignore`: reading the file and deciding which context paths it excludes, as docker decides
 * (moby/patternmatcher and its `ignorefile` reader, walked the way BuildKit's fsutil walks a build context).
 *
 * Docker turns each pattern into a Go regular expression by a rewrite that is not quite `filepath.Match`:
 * `[...]` and `\x` are handed to Go's regexp as written, so `[!a]` is a class of `!` and `a` (only `^`
 * negates) and a negated class also matches `/`; `**` spans any number of directories, none included; some
 * patterns skip the expression and compare text (`dir/**` is a plain prefix test, `**foo` a plain suffix
 * test, so it matches `barfoo`). Berth builds the same expression and reads it the way Go's regexp would.
 *
 * A leaf: imports only node and the error classes.
 */
import { join } from 'node:path';
import { InvalidArgument } from '../errors.ts';

// ---------------------------------------------------------------------------------------------- reading

/** Go's `strings.TrimSpace` set: JavaScript's `trim()` would also take U+FEFF and leave U+0085. */
const GO_SPACE = '[\\t\\n\\v\\f\\r \\u0085\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000]';
const EDGE_SPACE = new RegExp(`^${GO_SPACE}+|${GO_SPACE}+$`, 'g');
const trimGoSpace = (s: string) => s.replace(EDGE_SPACE, '');

/**
 * The patterns of a `.dockerignore`, as docker's `ignorefile.ReadAll` reads them: a BOM dropped, lines
 * starting with `#` skipped (only in the first column: ` # x` is a pattern), whitespace trimmed, blank lines
 * skipped, each path cleaned like Go's `filepath.Clean` and a leading `/` dropped; a `!` prefix is kept
 * (with the space after it removed). A lone `!` is kept too: the matcher rejects it.
 */
export function parseDockerignore(text: string): string[] {
  const patterns: string[] = [];
  for (const [n, raw] of text.split('\n').entries()) {
    let line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    if (n === 0 && line.startsWith('\uFEFF')) line = line.slice(1);
    if (line.startsWith('#')) continue;
    line = trimGoSpace(line);
    if (line === '') continue;
    const exception = line.startsWith('!');
    let path = exception ? trimGoSpace(line.slice(1)) : line;
    if (path !== '') {
      path = cleanPath(path);
      if (path.length > 1 && path.startsWith('/')) path = path.slice(1);
    }
    patterns.push(exception ? `!${path}` : path);
  }
  return patterns;
}

/** Where a build's ignore patterns came from (for messages) and what they are. */
export interface IgnoreFile {
  readonly path: string;
  readonly patterns: string[];
}

/**
 * The ignore file for a build, by BuildKit's rule: `<dockerfile>.dockerignore` beside the Dockerfile (its
 * path plus `.dockerignore`, so `ci/app.Dockerfile.dockerignore`; `Dockerfile.dockerignore` for the
 * default) wins over the context's `.dockerignore`; without either, undefined (nothing is ignored).
 * Pass the Dockerfile path as the user named it, or the default `<context>/Dockerfile`, even when only a
 * lower-case `dockerfile` exists (BuildKit keeps the requested name); undefined when it comes from stdin.
 * `read` returns a file's text, or undefined when there is no such file.
 */
export function ignoreFileFor(
  contextDir: string,
  dockerfile: string | undefined,
  read: (path: string) => string | undefined,
): IgnoreFile | undefined {
  const candidates = dockerfile === undefined ? [] : [`${dockerfile}.dockerignore`];
  candidates.push(join(contextDir, '.dockerignore'));
  for (const path of candidates) {
    const text = read(path);
    if (text !== undefined) return { path, patterns: parseDockerignore(text) };
  }
  return undefined;
}

// --------------------------------------------------------------------------------------------- matching

/** What the matcher found for one path; hand it back as the parent of that directory's entries. */
export interface IgnoreVerdict {
  readonly excluded: boolean;
  /** Per pattern: did it match this path or an ancestor. The walk's memory; opaque to callers. */
  readonly hits: readonly boolean[];
}

interface Rule {
  /** A `!` pattern: a match re-includes. */
  readonly exception: boolean;
  readonly test: (path: string) => boolean;
}

/** A compiled `.dockerignore`: later patterns override earlier ones, `!` re-includes. */
export class IgnoreMatcher {
  readonly #rules: Rule[] = [];
  /**
   * The `!` patterns with a trailing `/*` or `/**` cut off, or null when one of them still holds a glob
   * character: then, as in BuildKit, no excluded directory can be ruled out as holding a re-included path.
   */
  readonly #exceptionPrefixes: string[] | null;

  /**
   * Patterns as parseDockerignore returns them (each is trimmed and cleaned again, as docker does).
   * Throws InvalidArgument, naming `source`, for a lone `!` or a pattern Go would not accept. (Docker
   * accepts a few of those until it first matches a path against them; Berth says so up front.)
   */
  constructor(patterns: readonly string[], source = '.dockerignore') {
    const prefixes: string[] = [];
    let globInException = false;
    for (const given of patterns) {
      let pattern = trimGoSpace(given);
      if (pattern === '') continue;
      pattern = cleanPath(pattern);
      const exception = pattern.startsWith('!');
      if (exception) pattern = pattern.slice(1);
      try {
        if (exception && pattern === '') throw new PatternError('illegal exclusion pattern: "!"');
        checkGlobSyntax(pattern);
        this.#rules.push({ exception, test: compile(pattern) });
      } catch (e) {
        if (!(e instanceof PatternError)) throw e;
        throw new InvalidArgument(`${source}: bad pattern "${given}": ${e.message}`);
      }
      if (exception) {
        const prefix = pattern.replace(/\/\*\*$/, '').replace(/\/\*$/, '');
        if (/[*[\]?^\\]/.test(prefix)) globInException = true;
        prefixes.push(prefix);
      }
    }
    this.#exceptionPrefixes = globInException ? null : prefixes;
  }

  /**
   * Is this context path excluded, as the context walk decides it? `path` is relative and slash-separated
   * (`dir/file`, no leading `./`); the context root (`.` or ``) is never excluded.
   */
  excludes(path: string): boolean {
    if (path === '.' || path === '') return false;
    let parent: IgnoreVerdict | undefined;
    for (const dir of ancestorsOf(path)) parent = this.verdict(dir, parent);
    return this.verdict(path, parent).excluded;
  }

  /**
   * One step of a walk: the verdict on `path` given its parent directory's verdict (undefined at the top;
   * then each ancestor is matched afresh, which is docker's `MatchesOrParentMatches` for a lone path).
   * Carrying the parent's per-pattern hits is what docker does and can differ from testing the path
   * alone: with `a`, `!a/b`, `a` the walk keeps `a/b`.
   */
  verdict(path: string, parent?: IgnoreVerdict): IgnoreVerdict {
    const hits = this.#rules.map(() => false);
    let excluded = false;
    const ancestors = parent === undefined ? ancestorsOf(path) : [];
    this.#rules.forEach((rule, i) => {
      let hit = parent?.hits[i] ?? false;
      if (!hit) {
        // A pattern that could not change the answer is not tried (nor remembered as a hit).
        if (rule.exception !== excluded) return;
        hit = rule.test(path) || ancestors.some(rule.test);
      }
      hits[i] = hit;
      if (hit) excluded = !rule.exception;
    });
    return { excluded, hits };
  }

  /**
   * Must the walk enter this excluded directory because a `!` pattern may re-include something below it?
   * BuildKit's rule: yes when any `!` pattern has a glob character before a trailing `/*` or `/**`;
   * otherwise only when a `!` pattern names a path at or under this directory (`!dir/keep` for `dir`).
   */
  mayReinclude(dir: string): boolean {
    if (this.#exceptionPrefixes === null) return true;
    return this.#exceptionPrefixes.some((prefix) => `${prefix}/`.startsWith(`${dir}/`));
  }
}

/** The directories above a path, outermost first (`a`, `a/b` for `a/b/c`), split as docker splits them. */
function ancestorsOf(path: string): string[] {
  const dir = cleanPath(path.slice(0, path.lastIndexOf('/') + 1));
  if (dir === '.') return [];
  const parts = dir.split('/');
  return parts.map((_, n) => parts.slice(0, n + 1).join('/'));
}

/** Go's `path.Clean`: `.` and empty elements dropped, `..` resolved lexically, `.` for nothing left. */
function cleanPath(path: string): string {
  if (path === '') return '.';
  const rooted = path.startsWith('/');
  const kept: string[] = [];
  for (const element of path.split('/')) {
    if (element === '' || element === '.') continue;
    if (element !== '..') kept.push(element);
    else if (kept.length > 0 && kept.at(-1) !== '..') kept.pop();
    else if (!rooted) kept.push('..');
  }
  const cleaned = (rooted ? '/' : '') + kept.join('/');
  return cleaned === '' ? '.' : cleaned;
}

// ------------------------------------------------------------------------------- compiling one pattern

/** Why a pattern is refused; becomes the InvalidArgument that names the file and the pattern. */
class PatternError extends Error {}

/**
 * Go's `filepath.Match` syntax, which docker checks first: `\` must escape something, and a class must
 * close, hold at least one item, and not start an item with `-` or `]` unless escaped.
 */
function checkGlobSyntax(pattern: string): void {
  const bad = new PatternError('syntax error in pattern');
  const cs = Array.from(pattern);
  let i = 0;
  const classItem = () => {
    if (i >= cs.length || cs[i] === '-' || cs[i] === ']') throw bad;
    if (cs[i] === '\\') i++;
    if (++i >= cs.length) throw bad; // an item cannot end the pattern: the `]` is still to come
  };
  while (i < cs.length) {
    const c = cs[i++];
    if (c === '\\') {
      if (i++ >= cs.length) throw bad;
    } else if (c === '[') {
      if (cs[i] === '^') i++;
      for (let items = 0; !(cs[i] === ']' && items > 0); items++) {
        classItem();
        if (cs[i] === '-') {
          i++;
          classItem();
        }
      }
      i++;
    }
  }
}

/**
 * A pattern's test, chosen as docker chooses it: exact text, a prefix (`dir/**`), a suffix (`**` first and
 * nothing special after) or, for anything else, the regular expression docker builds.
 */
function compile(pattern: string): (path: string) => boolean {
  const { kind, regexp } = compiledForm(pattern);
  switch (kind) {
    case 'exact':
      return (path) => path === pattern;
    case 'prefix': {
      const prefix = pattern.slice(0, -2);
      return (path) => path.startsWith(prefix);
    }
    case 'suffix': {
      const suffix = pattern.slice(2);
      // `**/foo` also matches a top-level `foo`, which has no slash before it.
      return (path) => path.endsWith(suffix) || (suffix.startsWith('/') && path === suffix.slice(1));
    }
    case 'regexp': {
      const re = goRegexp(regexp!);
      return (path) => re.test(path);
    }
  }
}

/**
 * How docker compiles a cleaned pattern: its kind and, for `regexp`, the Go expression source. Exported
 * only so tests can hold it against patternmatcher's own table.
 * @internal
 */
export function compiledForm(pattern: string): { kind: 'exact' | 'prefix' | 'suffix' | 'regexp'; regexp?: string } {
  const cs = Array.from(pattern);
  let kind: 'exact' | 'prefix' | 'suffix' | 'regexp' = 'exact';
  let re = '^';
  for (let i = 0; i < cs.length; i++) {
    const c = cs[i]!;
    if (c === '*' && cs[i + 1] === '*') {
      const first = i === 0;
      i++;
      if (cs[i + 1] === '/') i++; // `**/` is `**`
      if (i + 1 === cs.length) {
        // A trailing `**` takes everything; with nothing special before it, that is a prefix test.
        if (kind === 'exact') kind = 'prefix';
        else [re, kind] = [`${re}.*`, 'regexp'];
      } else [re, kind] = [`${re}(.*/)?`, 'regexp'];
      if (first) kind = 'suffix'; // later special characters turn it back into `regexp`
    } else if (c === '*') [re, kind] = [`${re}[^/]*`, 'regexp'];
    else if (c === '?') [re, kind] = [`${re}[^/]`, 'regexp'];
    else if ('.+()|{}$'.includes(c)) re += `\\${c}`;
    else if (c === '\\') {
      // Docker passes the escape on to Go's regexp as written: `\*` is a star, but `\d` is a digit.
      if (i + 1 < cs.length) [re, kind] = [`${re}\\${cs[++i]}`, 'regexp'];
      else re += '\\';
    } else if (c === '[' || c === ']') [re, kind] = [re + c, 'regexp'];
    else re += c;
  }
  return kind === 'regexp' ? { kind, regexp: `${re}$` } : { kind };
}

// ----------------------------------------------------------------- Go's regexp syntax, read for JavaScript

type Ranges = [number, number][];
const MAX_RUNE = 0x10ffff;
const cp = (s: string) => s.codePointAt(0)!;
const span = (from: string, to = from): [number, number] => [cp(from), cp(to)];

const PERL_CLASSES: Record<string, Ranges> = {
  d: [span('0', '9')],
  s: [span('\t', '\n'), span('\f', '\r'), span(' ')],
  w: [span('0', '9'), span('A', 'Z'), span('_'), span('a', 'z')],
};
const POSIX_CLASSES: Record<string, Ranges> = {
  alnum: [span('0', '9'), span('A', 'Z'), span('a', 'z')],
  alpha: [span('A', 'Z'), span('a', 'z')],
  ascii: [[0, 0x7f]],
  blank: [span('\t'), span(' ')],
  cntrl: [[0, 0x1f], [0x7f, 0x7f]],
  digit: [span('0', '9')],
  graph: [span('!', '~')],
  lower: [span('a', 'z')],
  print: [span(' ', '~')],
  punct: [span('!', '/'), span(':', '@'), span('[', '`'), span('{', '~')],
  space: [span('\t', '\r'), span(' ')],
  upper: [span('A', 'Z')],
  word: [span('0', '9'), span('A', 'Z'), span('_'), span('a', 'z')],
  xdigit: [span('0', '9'), span('A', 'F'), span('a', 'f')],
};
/** Go's one-letter Unicode categories (`\pL`); the braced form cannot occur, docker escapes `{`. */
const UNICODE_CATEGORIES = new Set(['C', 'L', 'M', 'N', 'P', 'S', 'Z']);

const complement = (ranges: Ranges): Ranges => {
  const out: Ranges = [];
  let next = 0;
  for (const [lo, hi] of [...ranges].sort((a, b) => a[0] - b[0])) {
    if (lo > next) out.push([next, lo - 1]);
    next = Math.max(next, hi + 1);
  }
  if (next <= MAX_RUNE) out.push([next, MAX_RUNE]);
  return out;
};
const hex = (n: number) => `\\u{${n.toString(16)}}`;
const classBody = (ranges: Ranges) =>
  ranges.map(([lo, hi]) => (lo === hi ? hex(lo) : `${hex(lo)}-${hex(hi)}`)).join('');
/** One character, matched as itself outside a class. */
const literal = (n: number) => {
  const c = String.fromCodePoint(n);
  return /^[\\^$.*+?()[\]{}|/]$/.test(c) ? `\\${c}` : c;
};

/**
 * A Go (RE2) expression as docker produces it, as a JavaScript `u`-mode RegExp with the same meaning: `.`
 * stops at newline, `\s` and `\w` are ASCII, `[[:alpha:]]` and `\pL` classes, octal and `\xHH` escapes.
 */
function goRegexp(source: string): RegExp {
  const cs = Array.from(source);
  let i = 0;
  const fail = (why: string) => new PatternError(`error parsing regexp: ${why}`);
  /** Where a two-character sequence next starts, at or after `from`; -1 when it does not. */
  const find = (pair: string, from: number) => {
    for (let k = from; k + 1 < cs.length; k++) if (cs[k] === pair[0] && cs[k + 1] === pair[1]) return k;
    return -1;
  };

  /** After a `\`: the character an ordinary escape stands for. */
  const escapedRune = (): number => {
    const c = cs[i++];
    if (c === undefined) throw fail('trailing backslash at end of expression');
    if (cp(c) < 0x80 && !/[0-9A-Za-z]/.test(c)) return cp(c);
    const isOctal = (d: string | undefined) => d !== undefined && d >= '0' && d <= '7';
    if (c === '0' || (c >= '1' && c <= '7' && isOctal(cs[i]))) {
      let n = Number(c);
      for (let k = 0; k < 2 && isOctal(cs[i]); k++) n = n * 8 + Number(cs[i++]);
      return n;
    }
    if (c === 'x' && /^[0-9A-Fa-f]{2}$/.test(`${cs[i]}${cs[i + 1]}`)) {
      i += 2;
      return parseInt(`${cs[i - 2]}${cs[i - 1]}`, 16);
    }
    const control = 'afnrtv'.indexOf(c);
    if (control >= 0) return [7, 12, 10, 13, 9, 11][control]!;
    throw fail(`invalid escape sequence: \`\\${c}\``);
  };

  /** After a `\`, when it opens a Perl (`\d`) or Unicode (`\pL`) class: that class's JS text, for inside `[...]`. */
  const namedClass = (): string | undefined => {
    const c = cs[i];
    if (c !== undefined && /^[dDsSwW]$/.test(c)) {
      i++;
      const ranges = PERL_CLASSES[c.toLowerCase()]!;
      return classBody(c === c.toLowerCase() ? ranges : complement(ranges));
    }
    if (c === 'p' || c === 'P') {
      const name = cs[i + 1] ?? '';
      if (!UNICODE_CATEGORIES.has(name)) throw fail(`invalid character class range: \`\\${c}${name}\``);
      i += 2;
      return `\\${c}{${name}}`;
    }
    return undefined;
  };

  /** After a `[`: the class through its `]`. */
  const charClass = (): string => {
    const negated = cs[i] === '^';
    if (negated) i++;
    let body = '';
    for (let first = true; first || cs[i] !== ']'; first = false) {
      if (i >= cs.length) throw fail('missing closing ]');
      const end = cs[i] === '[' && cs[i + 1] === ':' ? find(':]', i + 2) : -1;
      if (end >= 0) {
        const name = cs.slice(i + 2, end).join('');
        const bare = name.replace(/^\^/, '');
        const ranges = Object.hasOwn(POSIX_CLASSES, bare) ? POSIX_CLASSES[bare] : undefined;
        if (ranges === undefined) throw fail(`invalid character class range: \`[:${name}:]\``);
        body += classBody(name.startsWith('^') ? complement(ranges) : ranges);
        i = end + 2;
        continue;
      }
      if (cs[i] === '\\') {
        i++;
        const named = namedClass();
        if (named !== undefined) {
          body += named;
          continue;
        }
        i--;
      }
      const lo = classRune();
      let hi = lo;
      if (cs[i] === '-' && cs[i + 1] !== undefined && cs[i + 1] !== ']') {
        i++;
        hi = classRune();
        const range = `${String.fromCodePoint(lo)}-${String.fromCodePoint(hi)}`;
        if (hi < lo) throw fail(`invalid character class range: \`${range}\``);
      }
      body += classBody([[lo, hi]]);
    }
    i++;
    return `[${negated ? '^' : ''}${body}]`;
  };
  const classRune = (): number => {
    if (cs[i] === '\\') {
      i++;
      return escapedRune();
    }
    return cp(cs[i++]!);
  };

  let js = '';
  let open = 0;
  while (i < cs.length) {
    const c = cs[i++]!;
    if (c === '\\') {
      const next = cs[i];
      const anchor = next === undefined ? -1 : 'AzbB'.indexOf(next);
      if (anchor >= 0) {
        js += ['^', '$', '\\b', '\\B'][anchor];
        i++;
      } else if (next === 'Q') {
        // \Q…\E quotes everything up to \E, or to the end.
        const end = find('\\E', i + 1);
        js += cs.slice(i + 1, end < 0 ? cs.length : end).map((ch) => literal(cp(ch))).join('');
        i = end < 0 ? cs.length : end + 2;
      } else {
        const named = namedClass();
        js += named !== undefined ? `[${named}]` : literal(escapedRune());
      }
    } else if (c === '[') js += charClass();
    else if (c === '.') js += '[^\\n]';
    else if (c === '(') {
      open++;
      js += '(?:';
    } else if (c === ')') {
      if (open-- === 0) throw fail('unexpected )');
      js += ')';
    } else if ('^$*?'.includes(c)) js += c;
    else js += literal(cp(c));
  }
  if (open > 0) throw fail('missing closing )');
  try {
    return new RegExp(js, 'u');
  } catch (e) {
    throw fail((e as Error).message);
  }
}
