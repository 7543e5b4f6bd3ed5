/**
 * Finding heredocs (`<<EOF`, `<<-"EOF"`, `3<<EOF`) on an instruction line, as BuildKit finds them: the line is
 * cut into shell words, and each word that is `[fd]<<[-]delimiter` opens a heredoc. The delimiter word's
 * quotes decide whether the body is expanded. The bodies themselves are read by the parser.
 */
import { InvalidArgument } from '../errors.ts';
import type { Heredoc } from './ast.ts';
import { goQuote } from './go-text.ts';
import { scanWords } from './heredoc-words.ts';

/** A heredoc as its `<<` word declares it; the parser reads the body. */
export type HeredocStart = Omit<Heredoc, 'content'>;

/** `[fd]<<[-][space]delimiter`; the delimiter may not hold another `<`. */
const HEREDOC_WORD = /^(\d*)<<(-?)[\t\n\f\r ]*([^<]*)$/;

/**
 * The heredocs a line opens, in order. A line the scanner cannot cut into words (an unclosed quote, a bad
 * `${`, as in `RUN <<'EOF`) opens none: it is then an ordinary command for the shell to refuse.
 */
export function heredocsInLine(line: string): HeredocStart[] {
  let words: string[];
  try {
    words = scanWords(line, { keepQuotes: true, keepEscapes: true });
  } catch {
    return [];
  }
  return words.map(parseHeredocWord).filter((h) => h !== null);
}

/**
 * The heredoc a single word opens (`<<EOF`, `<<-'EOF'`, `<< EOF`), or null when it opens none (`EOF`, `<<`,
 * `<<<EOF`, `<<EOF sh`). The builder needs this too: BuildKit checks COPY and ADD sources and destination
 * against it. Throws InvalidArgument when the delimiter's quotes do not close.
 */
export function parseHeredocWord(word: string): HeredocStart | null {
  const match = HEREDOC_WORD.exec(word);
  const delimiter = match?.[3];
  if (!match || !delimiter) return null;
  const scan = (keepQuotes: boolean) => {
    try {
      return scanWords(delimiter, { keepQuotes, keepEscapes: false });
    } catch (e) {
      throw new InvalidArgument(`failed to process ${goQuote(delimiter)}: ${(e as Error).message}`);
    }
  };
  const unquoted = scan(false);
  if (unquoted.length !== 1) return null;
  const asWritten = scan(true);
  if (asWritten.length !== 1) throw new InvalidArgument(`internal lexing of heredoc produced inconsistent results: ${delimiter}`);
  const name = unquoted[0]!;
  return {
    name,
    // A quote removed anywhere in the delimiter means the author quoted it: take the body literally.
    expand: countQuotes(name) === countQuotes(asWritten[0]!),
    chomp: match[2] === '-',
    fileDescriptor: match[1] ? Number(match[1]) : 0,
  };
}

/** Remove the leading tabs of every line of a `<<-` heredoc body. */
export function chompHeredocContent(content: string): string {
  return content
    .split('\n')
    .map((line) => line.replace(/^\t+/, ''))
    .join('\n');
}

const countQuotes = (s: string) => s.split(/['"]/).length - 1;
