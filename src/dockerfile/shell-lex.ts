/**
 * The Dockerfile shell-word lexer: variable substitution and word splitting as BuildKit's dockerfile frontend
 * does them (its `shell.Lex`), so a Dockerfile expands here exactly as under `docker build`.
 *
 * This is not a shell. It knows quotes, one escape character, `$name`, `${name}` and the `${name<op>word}`
 * forms listed on {@link expandWord}; no command substitution, arithmetic, globbing or tilde. A leaf: imports
 * only the error classes.
 */
import { InvalidArgument } from '../errors.ts';

/** The Dockerfile's escape character (`# escape=` directive): backslash by default, backtick for Windows. */
export type EscapeToken = '\\' | '`';

/**
 * Variables to expand from. Names are case-sensitive (BuildKit on unix). A name that is present is set,
 * even to the empty string; `${v-x}` and `${v:-x}` tell those apart.
 */
export type Env = ReadonlyMap<string, string> | Readonly<Record<string, string>>;

/** How to lex; every flag mirrors a field of BuildKit's `Lex`, and all default to false. */
export interface LexOptions {
  /** Defaults to backslash. */
  escape?: EscapeToken;
  /** Quote characters stay in the output; they still group words and stop expansion (`RawQuotes`). */
  rawQuotes?: boolean;
  /** Escape characters stay in the output, next to what they escape (`RawEscapes`). */
  rawEscapes?: boolean;
  /**
   * Quotes are ordinary characters: `'$x'` expands (`SkipProcessQuotes`). For text that is not a shell word,
   * such as the body of an expanded heredoc.
   */
  quotesAreLiteral?: boolean;
  /** A reference to an unset variable is left as written instead of expanding to nothing (`SkipUnsetEnv`). */
  keepUnsetReferences?: boolean;
}

/** One word after substitution. */
export interface Expanded {
  /** The text, quotes and escapes removed (unless the options keep them); inner spaces kept. */
  value: string;
  /** Every variable name the word referenced, set or not, including ones inside unused defaults. */
  used: Set<string>;
  /** The subset of {@link used} that was not set. */
  unmatched: Set<string>;
}

/**
 * Substitute variables in one Dockerfile word (BuildKit's `ProcessWord`): ENV, LABEL, WORKDIR, USER, COPY's
 * paths and so on. Unset variables expand to nothing. Forms:
 * `$v` `${v}`; `${v:-w}` `${v-w}` (default), `${v:+w}` `${v+w}` (alternative), `${v:?msg}` `${v?msg}` (fail);
 * with the colon an empty value counts as unset. `${v#p}` `${v##p}` `${v%p}` `${v%%p}` remove the shortest or
 * longest prefix or suffix matching a pattern; `${v/p/r}` `${v//p/r}` replace the first or every match. In
 * patterns `*` is any run and `?` any one character (no `[...]`), `\` escapes (always backslash). Words
 * nest: `${a:-${b:-x}}`. `$1`, `$@` and the other positional and special parameters are never set.
 *
 * @throws InvalidArgument on an unterminated quote, a bad substitution, or a `?` form whose variable is unset.
 */
export function expandWord(word: string, env: Env, opts: LexOptions = {}): Expanded {
  const lexer = new Lexer(word, env, opts);
  const { text } = lexer.run();
  return { value: text, used: lexer.used, unmatched: lexer.unmatched };
}

/**
 * Substitute, then split into words at unquoted white space (BuildKit's `ProcessWords`; EXPOSE uses it).
 * Splitting happens after substitution, so a variable's value can become several words unless quoted.
 * Empty words vanish: `a "" b` is two words.
 *
 * @throws InvalidArgument as {@link expandWord} does.
 */
export function expandWords(word: string, env: Env, opts: LexOptions = {}): string[] {
  return new Lexer(word, env, opts).run().words;
}

/**
 * An environment from `NAME=value` entries (an image config's `Env`, say): the last entry for a name wins,
 * and an entry without `=` sets the name to the empty string. BuildKit's `EnvsFromSlice`.
 */
export function envFromList(entries: readonly string[]): Map<string, string> {
  const env = new Map<string, string>();
  for (const entry of entries) {
    const eq = entry.indexOf('=');
    if (eq < 0) env.set(entry, '');
    else env.set(entry.slice(0, eq), entry.slice(eq + 1));
  }
  return env;
}

/** Special parameters (POSIX 2.5.2); `0` is read as a digit run first, as positional ones are. */
const SPECIAL_PARAMS = new Set(['@', '*', '#', '?', '-', '$', '!', '0']);
// Go's unicode.IsSpace, IsLetter and IsDigit, which decide BuildKit's word breaks and name characters.
const isSpace = (ch: string) => /^\p{White_Space}$/u.test(ch);
const isDigit = (ch: string | undefined) => ch !== undefined && /^\p{Nd}$/u.test(ch);
const isNameChar = (ch: string | undefined) => ch !== undefined && (ch === '_' || /^[\p{L}\p{Nd}]$/u.test(ch));

const isMap = (env: Env): env is ReadonlyMap<string, string> => typeof (env as ReadonlyMap<string, string>).get === 'function';

/** A problem in the word; {@link Lexer.run} reports it as an InvalidArgument naming the whole word. */
class SyntaxProblem extends Error {}

/**
 * Words gathered while the text is produced, split as BuildKit splits: white space from bare text or a
 * variable's value ends a word; quoted and escaped text never does. An empty word is never emitted.
 */
class WordCollector {
  readonly words: string[] = [];
  private current = '';

  /** A character that ends the current word when it is white space. */
  add(ch: string): void {
    if (!isSpace(ch)) this.current += ch;
    else if (this.current !== '') this.flush();
  }
  /** Text from a variable's value: it splits too. */
  addSplitting(text: string): void {
    for (const ch of text) this.add(ch);
  }
  /** Quoted or escaped text: part of the current word whatever it holds. */
  addRaw(text: string): void {
    this.current += text;
  }
  finish(): string[] {
    if (this.current !== '') this.flush();
    return this.words;
  }
  private flush(): void {
    this.words.push(this.current);
    this.current = '';
  }
}

class Lexer {
  readonly used = new Set<string>();
  readonly unmatched = new Set<string>();
  private readonly chars: string[];
  private pos = 0;
  private readonly escape: EscapeToken;
  /** Whether escapes stay in the text; pattern words switch it on while they are read. */
  private rawEscapes: boolean;
  private readonly env: Env;
  private readonly opts: LexOptions;
  private readonly source: string;

  constructor(word: string, env: Env, opts: LexOptions) {
    this.source = word;
    // Go's text/scanner drops a byte-order mark at the start, so BuildKit never sees one.
    this.chars = Array.from(word.startsWith('\uFEFF') ? word.slice(1) : word);
    this.env = env;
    this.opts = opts;
    this.escape = opts.escape ?? '\\';
    if (this.escape !== '\\' && this.escape !== '`') throw new InvalidArgument(`invalid escape token '${this.escape}': must be \\ or \``);
    this.rawEscapes = opts.rawEscapes ?? false;
  }

  run(): { text: string; words: string[] } {
    try {
      return this.readUntil(undefined, this.rawEscapes);
    } catch (e) {
      if (e instanceof SyntaxProblem) throw new InvalidArgument(`failed to process ${JSON.stringify(this.source)}: ${e.message}`);
      throw e;
    }
  }

  private peek(): string | undefined {
    return this.chars[this.pos];
  }
  private next(): string | undefined {
    return this.chars[this.pos++];
  }
  private atEnd(): boolean {
    return this.pos >= this.chars.length;
  }

  /**
   * Read to the end of the word or past `stop` (the `}` or `/` closing a nested word), substituting.
   * Each nested word splits on its own: BuildKit since 1.9 shares one buffer between the levels, so an
   * `expandWords` of `a${x:-b}` there loses the `a`; we keep it, as BuildKit did before.
   */
  private readUntil(stop: string | undefined, rawEscapes: boolean): { text: string; words: string[] } {
    const outer = this.rawEscapes;
    this.rawEscapes = rawEscapes;
    try {
      let text = '';
      const words = new WordCollector();
      while (!this.atEnd()) {
        const ch = this.peek()!;
        if (ch === stop) {
          this.next();
          return { text, words: words.finish() };
        }
        if (ch === '$') {
          const value = this.dollar();
          text += value;
          words.addSplitting(value);
        } else if (ch === '<') {
          const part = this.possibleHeredoc();
          text += part;
          words.addRaw(part);
        } else if ((ch === "'" || ch === '"') && !this.opts.quotesAreLiteral) {
          const part = ch === "'" ? this.singleQuoted() : this.doubleQuoted();
          text += part;
          words.addRaw(part);
        } else {
          this.next();
          if (ch !== this.escape) {
            text += ch;
            words.add(ch);
            continue;
          }
          if (this.rawEscapes) {
            text += ch;
            words.addRaw(ch);
          }
          // An escape at the very end escapes nothing and vanishes.
          if (this.atEnd()) break;
          const escaped = this.next()!;
          text += escaped;
          words.addRaw(escaped);
        }
      }
      if (stop !== undefined) throw new SyntaxProblem(`unexpected end of statement while looking for matching ${stop}`);
      return { text, words: words.finish() };
    } finally {
      this.rawEscapes = outer;
    }
  }

  /** Everything literal up to the next single quote: there is no escaping one inside. */
  private singleQuoted(): string {
    const quote = this.next()!;
    let text = this.opts.rawQuotes ? quote : '';
    for (;;) {
      const ch = this.next();
      if (ch === undefined) throw new SyntaxProblem('unexpected end of statement while looking for matching single-quote');
      if (ch === "'") return this.opts.rawQuotes ? text + ch : text;
      text += ch;
    }
  }

  /** Literal but for `$` and the escape, which escapes only `"`, `$` and itself; elsewhere it stays. */
  private doubleQuoted(): string {
    const quote = this.next()!;
    let text = this.opts.rawQuotes ? quote : '';
    for (;;) {
      const peeked = this.peek();
      if (peeked === undefined) throw new SyntaxProblem('unexpected end of statement while looking for matching double-quote');
      if (peeked === '"') {
        this.next();
        return this.opts.rawQuotes ? text + peeked : text;
      }
      if (peeked === '$') {
        text += this.dollar();
        continue;
      }
      let ch = this.next()!;
      if (ch === this.escape) {
        if (this.rawEscapes) text += ch;
        const after = this.peek();
        if (after === undefined) continue; // the loop then reports the missing quote
        // BuildKit writes a kept escape twice before a character it does not escape (`"\a"` gives `\\a`).
        if (after === '"' || after === '$' || after === this.escape) ch = this.next()!;
      }
      text += ch;
    }
  }

  /** `<<` and the blanks after it travel as one unit, so a heredoc marker stays in the word it introduces. */
  private possibleHeredoc(): string {
    this.next();
    if (this.peek() !== '<') return '<';
    this.next();
    let text = '<<';
    while (this.peek() === ' ' || this.peek() === '\t' || this.peek() === '\r') text += this.next();
    return text;
  }

  /** A variable name: a run of digits (positional), one special parameter, or letters, digits and `_`. */
  private name(): string {
    if (isDigit(this.peek())) {
      let digits = '';
      while (isDigit(this.peek())) digits += this.next();
      return digits;
    }
    if (SPECIAL_PARAMS.has(this.peek()!)) return this.next()!;
    let name = '';
    while (isNameChar(this.peek())) name += this.next();
    return name;
  }

  private lookup(name: string): string | undefined {
    this.used.add(name);
    const value = isMap(this.env) ? this.env.get(name) : Object.hasOwn(this.env, name) ? this.env[name] : undefined;
    if (value === undefined) this.unmatched.add(name);
    return value;
  }

  /** A nested word closed by `close`; running out of input is reported as the missing closer. */
  private nested(close: '}' | '/', rawEscapes: boolean): string {
    try {
      return this.readUntil(close, rawEscapes).text;
    } catch (e) {
      if (e instanceof SyntaxProblem && this.atEnd()) {
        throw new SyntaxProblem(close === '}' ? "syntax error: missing '}'" : "syntax error: missing '/' in ${}");
      }
      throw e;
    }
  }

  /** At a `$`: a substitution, or a lone `$` when no name follows. */
  private dollar(): string {
    this.next();
    if (this.peek() !== '{') {
      const name = this.name();
      if (name === '') return '$';
      const value = this.lookup(name);
      if (value === undefined && this.opts.keepUnsetReferences) return `$${name}`;
      return value ?? '';
    }
    this.next();
    const first = this.peek();
    if (first === undefined) throw new SyntaxProblem("syntax error: missing '}'");
    if (first === '{' || first === '}' || first === ':') throw new SyntaxProblem('syntax error: bad substitution');
    const name = this.name();
    const op = this.next();
    if (op === undefined) throw new SyntaxProblem("syntax error: missing '}'");
    if (op === '}') {
      const value = this.lookup(name);
      if (value === undefined && this.opts.keepUnsetReferences) return `\${${name}}`;
      return value ?? '';
    }
    if (op === '/') return this.replace(name);
    if (op !== ':' && !'+-?#%'.includes(op)) throw new SyntaxProblem(`unsupported modifier (${op}) in substitution`);
    return this.modify(name, op);
  }

  /** `${name<op>word}` for the default, alternative, required and trimming forms, `op` already read. */
  private modify(name: string, op: string): string {
    const emptyIsUnset = op === ':';
    const kind = emptyIsUnset ? (this.next() ?? '') : op;
    const modifier = emptyIsUnset ? `:${kind}` : kind;
    const trims = kind === '#' || kind === '%';
    if (emptyIsUnset && trims) throw new SyntaxProblem(`unsupported modifier (${modifier}) in substitution`);
    // The word is expanded whether or not it is used, so its variables count as used either way.
    let word = this.nested('}', trims);
    const value = this.lookup(name);
    if (value === undefined && this.opts.keepUnsetReferences) return `\${${name}${modifier}${word}}`;
    const missing = value === undefined || (emptyIsUnset && value === '');
    switch (kind) {
      case '-':
        return missing ? word : value!;
      case '+':
        return missing ? '' : word;
      case '?':
        if (value === undefined) throw new SyntaxProblem(`${name}: ${word || 'is not allowed to be unset'}`);
        if (missing) throw new SyntaxProblem(`${name}: ${word || 'is not allowed to be empty'}`);
        return value;
      case '#':
      case '%': {
        const longest = word.startsWith(kind);
        if (longest) word = word.slice(1);
        const trim = kind === '#' ? trimPrefix : trimSuffix;
        return withPattern(word, () => trim(value ?? '', word, longest));
      }
      default:
        throw new SyntaxProblem(`unsupported modifier (${modifier}) in substitution`);
    }
  }

  /** `${name/pattern/replacement}` and `${name//pattern/replacement}`, the first `/` already read. */
  private replace(name: string): string {
    const all = this.peek() === '/';
    if (all) this.next();
    const pattern = this.nested('/', true);
    const replacement = this.nested('}', true);
    const value = this.lookup(name);
    if (value === undefined && this.opts.keepUnsetReferences) return `\${${name}/${pattern}/${replacement}}`;
    const re = withPattern(pattern, () => patternRegExp(pattern, true, false));
    const subject = value ?? '';
    if (all) return replaceAllLikeGo(subject, re, replacement);
    const m = re.exec(subject);
    return m ? subject.slice(0, m.index) + replacement + subject.slice(m.index + m[0].length) : subject;
  }
}

/**
 * A shell pattern (`*`, `?`, backslash escapes; no brackets) as a regular expression. Lazy `*` finds the
 * shortest match, greedy the longest. `.` is `[^\n]` because Go's `.` stops only at a newline.
 */
function patternRegExp(pattern: string, greedy: boolean, anchored: boolean): RegExp {
  const chars = Array.from(pattern);
  let source = anchored ? '^' : '';
  for (let i = 0; i < chars.length; i++) {
    const ch = chars[i]!;
    if (ch === '*') source += greedy ? '[^\\n]*' : '[^\\n]*?';
    else if (ch === '?') source += '[^\\n]';
    else if (ch === '\\') {
      const next = chars[i + 1];
      // `\}` and `\/` only kept `}` and `/` from closing the substitution: the character is literal.
      if (next === '}' || next === '/') continue;
      if (next !== '*' && next !== '?' && next !== '\\') {
        throw new SyntaxProblem(next === undefined ? 'invalid escape at end of pattern' : `invalid escape '\\${next}'`);
      }
      source += `\\${next}`;
      i++;
    } else if ('[]{}.+()|^$'.includes(ch)) source += `\\${ch}`;
    else source += ch;
  }
  return new RegExp(source, 'u');
}

/** Run `f`, naming `pattern` in any problem it reports. */
function withPattern<T>(pattern: string, f: () => T): T {
  try {
    return f();
  } catch (e) {
    if (e instanceof SyntaxProblem) throw new SyntaxProblem(`invalid pattern (${pattern}) in substitution: ${e.message}`);
    throw e;
  }
}

function trimPrefix(value: string, pattern: string, longest: boolean): string {
  const m = patternRegExp(pattern, longest, true).exec(value);
  return m ? value.slice(m[0].length) : value;
}

/** A suffix is a prefix of the reversed value, matched by the reversed pattern (escapes kept before their character). */
function trimSuffix(value: string, pattern: string, longest: boolean): string {
  return reverseCodePoints(trimPrefix(reverseCodePoints(value), reversePattern(pattern), longest));
}

function reverseCodePoints(s: string): string {
  return Array.from(s).reverse().join('');
}

function reversePattern(pattern: string): string {
  const chars = Array.from(pattern);
  const units: string[] = [];
  for (let i = 0; i < chars.length; i++) {
    // A trailing backslash has nothing to escape and reverses as itself.
    if (chars[i] === '\\' && i < chars.length - 1) units.push(`\\${chars[++i]}`);
    else units.push(chars[i]!);
  }
  return units.reverse().join('');
}

/**
 * Replace every match as Go's `Regexp.ReplaceAllString` does, which BuildKit's `${v//p/r}` uses: an empty match
 * right after a match is skipped, and the replacement is a template where `$0`/`${0}` is the match, `$$` a
 * dollar, any other `$name` or `${name}` nothing (the pattern has no groups), and a malformed `$` itself.
 */
function replaceAllLikeGo(subject: string, re: RegExp, template: string): string {
  const global = new RegExp(re.source, 'gu');
  let out = '';
  let lastEnd = 0;
  let searchFrom = 0;
  while (searchFrom <= subject.length) {
    global.lastIndex = searchFrom;
    const m = global.exec(subject);
    if (!m) break;
    const start = m.index;
    const end = start + m[0].length;
    out += subject.slice(lastEnd, start);
    if (end > lastEnd || start === 0) out += expandGoTemplate(template, m[0]);
    lastEnd = end;
    const width = searchFrom < subject.length ? String.fromCodePoint(subject.codePointAt(searchFrom)!).length : 0;
    if (searchFrom + width > end) searchFrom += width;
    else if (searchFrom + 1 > end) searchFrom++;
    else searchFrom = end;
  }
  return out + subject.slice(lastEnd);
}

function expandGoTemplate(template: string, match: string): string {
  let out = '';
  let rest = template;
  for (let dollar = rest.indexOf('$'); dollar >= 0; dollar = rest.indexOf('$')) {
    out += rest.slice(0, dollar);
    rest = rest.slice(dollar + 1);
    if (rest.startsWith('$')) {
      out += '$';
      rest = rest.slice(1);
      continue;
    }
    const ref = /^(?:\{([\p{L}\p{Nd}_]+)\}|([\p{L}\p{Nd}_]+))/u.exec(rest);
    if (!ref) {
      out += '$';
      continue;
    }
    rest = rest.slice(ref[0].length);
    if ((ref[1] ?? ref[2]) === '0') out += match;
  }
  return out + rest;
}

/** The pattern helpers, for unit tests only. */
export const patternInternals = { patternRegExp, reversePattern, reverseCodePoints, replaceAllLikeGo };
