/**
 * The shell-word scanner heredoc detection needs: BuildKit's lexer with its settings for that job (backslash
 * escapes whatever the `# escape=` directive says; no variable is known, so `$x` and `${x:-y}` stay as
 * written). The parser carries this rather than the builder's lexer because it is a leaf, and because
 * heredoc detection must match BuildKit's quirks (see `scan`) that expansion does not need.
 */
import { isGoSpace } from './go-text.ts';

export interface ScanOptions {
  /** Keep quote characters in the words (`'EOF'` stays `'EOF'`). */
  keepQuotes: boolean;
  /** Keep escape characters in the words (`eo\'f` stays `eo\'f`). */
  keepEscapes: boolean;
}

/**
 * Cut text into shell words: quotes group, the escape token takes the next character, and `<<` keeps the
 * blanks after it so that `<< EOF` stays one word. Throws a plain Error on an unclosed quote or a malformed `${`.
 */
export function scanWords(text: string, options: ScanOptions): string[] {
  return new WordScanner(text, options).words();
}

const ESCAPE = '\\';

/** Collects text into words, as BuildKit's lexer does: white space splits, except in quotes and after `<<`. */
class WordSink {
  private readonly done: string[] = [];
  private word = '';
  private inWord = false;

  /** Text whose white space separates words. */
  add(text: string): void {
    for (const ch of text) {
      if (!isGoSpace(ch)) this.addRaw(ch);
      else if (this.inWord && this.word !== '') {
        this.done.push(this.word);
        this.word = '';
        this.inWord = false;
      }
    }
  }

  /** Text that belongs to the current word whatever it holds. */
  addRaw(text: string): void {
    this.word += text;
    this.inWord = true;
  }

  /** Drop the word being collected (see WordScanner.scan). */
  discardWord(): void {
    this.word = '';
  }

  finish(): string[] {
    if (this.word !== '') this.done.push(this.word);
    return this.done;
  }
}

class WordScanner {
  private readonly src: string;
  private readonly keepQuotes: boolean;
  private keepEscapes: boolean;
  private pos = 0;
  private sink: WordSink | undefined;

  constructor(src: string, options: ScanOptions) {
    this.src = src;
    this.keepQuotes = options.keepQuotes;
    this.keepEscapes = options.keepEscapes;
  }

  words(): string[] {
    this.sink = new WordSink();
    this.scan(null, this.keepEscapes);
    return this.sink.finish();
  }

  private peek(): string | undefined {
    return this.src[this.pos];
  }

  private next(): string | undefined {
    return this.src[this.pos++];
  }

  /**
   * Scan to `stop` (consumed), or to the end when `stop` is null, collecting words only at the top level; the
   * text is returned with quotes and escapes processed. A nested scan (the word in `${v:-word}`) throws away
   * the word collected so far, as BuildKit's does (its nested scans share one word buffer): `<<${X:-EOF}` is
   * thus no heredoc there, and must not be one here.
   */
  private scan(stop: string | null, keepEscapes: boolean): string {
    const sink = stop === null ? this.sink : undefined;
    if (stop !== null) this.sink?.discardWord();
    const outer = this.keepEscapes;
    this.keepEscapes = keepEscapes;
    try {
      let result = '';
      for (let ch = this.peek(); ch !== undefined; ch = this.peek()) {
        if (ch === stop) {
          this.pos++;
          return result;
        }
        const special = this.special(ch);
        if (special !== null) {
          result += special;
          // A variable's value would split into words; quoted text and `<<` stay whole.
          if (ch === '$') sink?.add(special);
          else sink?.addRaw(special);
          continue;
        }
        this.pos++;
        if (ch !== ESCAPE) {
          sink?.add(ch);
          result += ch;
          continue;
        }
        if (this.keepEscapes) {
          sink?.addRaw(ch);
          result += ch;
        }
        const escaped = this.next();
        if (escaped === undefined) break;
        sink?.addRaw(escaped);
        result += escaped;
      }
      if (stop !== null) throw new Error(`unexpected end of statement while looking for matching ${stop}`);
      return result;
    } finally {
      this.keepEscapes = outer;
    }
  }

  /** The text a character that starts a construct stands for; null for an ordinary character. */
  private special(ch: string): string | null {
    switch (ch) {
      case '$':
        return this.dollar();
      case '<':
        return this.angle();
      case "'":
        return this.singleQuoted();
      case '"':
        return this.doubleQuoted();
      default:
        return null;
    }
  }

  private singleQuoted(): string {
    this.pos++;
    let result = this.keepQuotes ? "'" : '';
    for (;;) {
      const ch = this.next();
      if (ch === undefined) throw new Error('unexpected end of statement while looking for matching single-quote');
      if (ch === "'") return this.keepQuotes ? `${result}'` : result;
      result += ch;
    }
  }

  /** Double quotes: `$` still works, and the escape token escapes only `"`, `$` and itself. */
  private doubleQuoted(): string {
    this.pos++;
    let result = this.keepQuotes ? '"' : '';
    for (let ch = this.peek(); ch !== '"'; ch = this.peek()) {
      if (ch === undefined) throw new Error('unexpected end of statement while looking for matching double-quote');
      if (ch === '$') {
        result += this.dollar();
        continue;
      }
      this.pos++;
      if (ch === ESCAPE) {
        if (this.keepEscapes) result += ch;
        const after = this.peek();
        if (after === undefined) continue;
        if (after === '"' || after === '$' || after === ESCAPE) ch = this.next()!;
      }
      result += ch;
    }
    this.pos++;
    return this.keepQuotes ? `${result}"` : result;
  }

  /** `<<` and any blanks after it, so that the delimiter joins it in one word; a lone `<` is itself. */
  private angle(): string {
    this.pos++;
    if (this.peek() !== '<') return '<';
    this.pos++;
    const start = this.pos;
    while (this.peek() === ' ' || this.peek() === '\t' || this.peek() === '\r') this.pos++;
    return `<<${this.src.slice(start, this.pos)}`;
  }

  /** A variable reference, reproduced as written since no variable is set. */
  private dollar(): string {
    this.pos++;
    if (this.peek() !== '{') {
      const name = this.name();
      return name === '' ? '$' : `$${name}`;
    }
    this.pos++;
    const first = this.peek();
    if (first === undefined) throw new Error("syntax error: missing '}'");
    if (first === '{' || first === '}' || first === ':') throw new Error('syntax error: bad substitution');
    const name = this.name();
    let op = this.next();
    if (op === '}') return `\${${name}}`;
    if (op === '/') {
      // BuildKit reproduces `${v//a/b}` with one slash; so does this.
      if (this.peek() === '/') this.pos++;
      const pattern = this.closeOrThrow('/', true, "syntax error: missing '/' in ${}");
      const replacement = this.closeOrThrow('}', true, "syntax error: missing '}'");
      return `\${${name}/${pattern}/${replacement}}`;
    }
    let modifier = op ?? '\ufffd';
    const nullIsUnset = op === ':';
    if (nullIsUnset) {
      op = this.next();
      modifier += op ?? '\ufffd';
    } else if (op === undefined || !'+-?#%'.includes(op)) {
      throw new Error(`unsupported modifier (${modifier}) in substitution`);
    }
    const patternLike = op === '#' || op === '%';
    if (nullIsUnset && patternLike) throw new Error(`unsupported modifier (${modifier}) in substitution`);
    const word = this.closeOrThrow('}', patternLike, "syntax error: missing '}'");
    return `\${${name}${modifier}${word}}`;
  }

  private closeOrThrow(stop: string, keepEscapes: boolean, atEnd: string): string {
    try {
      return this.scan(stop, keepEscapes);
    } catch (e) {
      throw this.peek() === undefined ? new Error(atEnd) : e;
    }
  }

  /** A variable name: digits, one special parameter (`$@`, `$?`, …), or letters, digits and `_`. */
  private name(): string {
    const start = this.pos;
    const first = this.peek();
    if (first === undefined) return '';
    if (/^\p{Nd}$/u.test(first)) {
      while (this.peek() !== undefined && /^\p{Nd}$/u.test(this.peek()!)) this.pos++;
    } else if ('@*#?-$!0'.includes(first)) {
      this.pos++;
    } else {
      while (this.peek() !== undefined && /^[\p{L}\p{Nd}_]$/u.test(this.peek()!)) this.pos++;
    }
    return this.src.slice(start, this.pos);
  }
}
