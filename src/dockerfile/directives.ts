/**
 * Parser directives: `# syntax=…`, `# escape=…` and `# check=…` comments at the very top of a Dockerfile.
 * They count only in an unbroken run of directive lines from the first line: the first line that is not one
 * (an instruction, an ordinary comment, even an empty line) ends the run, and later look-alikes are comments.
 */
import { InvalidArgument } from '../errors.ts';
import type { EscapeToken } from './ast.ts';
import { trimStartGoSpace } from './go-text.ts';

const DIRECTIVE_NAMES: ReadonlySet<string> = new Set(['syntax', 'escape', 'check']);

/** `name = value`, the name a word, the value trimmed; Go's `\s` (no vertical tab) around the `=`. */
const DIRECTIVE_LINE = /^([a-zA-Z][a-zA-Z0-9]*)[\t\n\f\r ]*=[\t\n\f\r ]*([^\n]+?)[\t\n\f\r ]*$/;

/** Reads directives off the first lines of a file, one line at a time, until the first line that is not one. */
export class DirectiveReader {
  /** The directives seen, by lower-case name (names are case-insensitive, values are not touched). */
  readonly values: Record<string, string> = {};
  escape: EscapeToken = '\\';
  private done = false;

  /**
   * Offer the next line (line ending and leading whitespace removed). True when it was a directive, which
   * the parser then treats as the comment it also is. Throws InvalidArgument for a repeated directive or an
   * escape token other than `\` or `` ` ``.
   */
  offer(line: string): boolean {
    if (this.done) return false;
    const match = line.startsWith('#') ? DIRECTIVE_LINE.exec(trimStartGoSpace(line.slice(1))) : null;
    const name = match ? match[1]!.toLowerCase() : '';
    if (!match || !DIRECTIVE_NAMES.has(name)) {
      this.done = true;
      return false;
    }
    if (name in this.values) throw new InvalidArgument(`only one ${name} parser directive can be used`);
    const value = match[2]!;
    this.values[name] = value;
    if (name === 'escape') {
      if (value !== '\\' && value !== '`') throw new InvalidArgument(`invalid escape token '${value}' does not match \` or \\`);
      this.escape = value;
    }
    return true;
  }
}
