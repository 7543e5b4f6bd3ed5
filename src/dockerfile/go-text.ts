/**
 * Go's text rules that BuildKit's parser inherits and that show in its output: what counts as white space
 * (`unicode.IsSpace`) and how strings are quoted (`strconv.Quote`, `%q`). JavaScript's `\s` and
 * `JSON.stringify` differ from both at the edges.
 */

/** Go's `unicode.IsSpace` (JavaScript's `\s` lacks U+0085 and adds U+FEFF). */
const GO_SPACE = /^[\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]$/;

export function isGoSpace(ch: string): boolean {
  return GO_SPACE.test(ch);
}

export function trimStartGoSpace(text: string): string {
  let start = 0;
  while (start < text.length && isGoSpace(text[start]!)) start++;
  return text.slice(start);
}

/** Go's `strings.TrimSpace`. */
export function trimGoSpace(text: string): string {
  let end = text.length;
  while (end > 0 && isGoSpace(text[end - 1]!)) end--;
  return trimStartGoSpace(text.slice(0, end));
}

const SHORT_ESCAPES: Record<string, string> = {
  '\x07': '\\a', '\b': '\\b', '\f': '\\f', '\n': '\\n', '\r': '\\r', '\t': '\\t', '\v': '\\v',
};

/** Go's `strconv.IsPrint`: letters, marks, numbers, punctuation, symbols and the ASCII space. */
const GO_PRINTABLE = /^[\p{L}\p{M}\p{N}\p{P}\p{S} ]$/u;

/** A string quoted as Go's `strconv.Quote` (and `%q`) quotes it, so printed trees and messages match BuildKit's. */
export function goQuote(text: string): string {
  let out = '"';
  for (const ch of text) {
    const code = ch.codePointAt(0)!;
    if (ch === '"' || ch === '\\') out += `\\${ch}`;
    else if (GO_PRINTABLE.test(ch)) out += ch;
    else if (SHORT_ESCAPES[ch]) out += SHORT_ESCAPES[ch];
    else if (code < 0x20 || code === 0x7f) out += `\\x${hex(code, 2)}`;
    else if (code < 0x10000) out += `\\u${hex(code, 4)}`;
    else out += `\\U${hex(code, 8)}`;
  }
  return `${out}"`;
}

const hex = (n: number, width: number) => n.toString(16).padStart(width, '0');
