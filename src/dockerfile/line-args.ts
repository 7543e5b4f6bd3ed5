/**
 * One logical line into an instruction: the keyword, its leading `--flags`, and the arguments split the way
 * that instruction wants them (BuildKit's dispatch table). Heredoc bodies and line numbers are the caller's.
 */
import { InvalidArgument } from '../errors.ts';
import { isKnownInstruction, type DockerfileNode, type EscapeToken, type KnownInstruction } from './ast.ts';
import { goQuote, isGoSpace, trimGoSpace, trimStartGoSpace } from './go-text.ts';

/** The white space BuildKit splits keywords and word lists at: no newline (there is none in a logical line). */
const SPACE_RUN = /[\t\v\f\r ]+/;

/** The parts of a node this module fills; the parser adds lines and heredocs. */
export type InstructionLine = Omit<DockerfileNode, 'heredocs' | 'startLine' | 'endLine' | 'trigger'> & { trigger?: InstructionLine };

interface SplitArgs {
  args: string[];
  json: boolean;
  trigger?: InstructionLine;
}

/** Parse one logical line. Throws InvalidArgument (without a line number: the caller knows it). */
export function parseInstructionLine(line: string, escape: EscapeToken): InstructionLine {
  const trimmed = trimGoSpace(line);
  const gap = SPACE_RUN.exec(trimmed);
  const keyword = gap ? trimmed.slice(0, gap.index) : trimmed;
  const { flags, rest } = gap ? splitFlags(trimmed.slice(gap.index + gap[0].length), escape) : { flags: [], rest: '' };
  const instruction = keyword.toLowerCase();
  const split: SplitArgs = isKnownInstruction(instruction) ? SPLITTERS[instruction](trimGoSpace(rest), escape) : noArgs();
  return { instruction, keyword, original: line, flags, ...split };
}

/**
 * Split off the leading words that start with `--`. Quotes group and are removed, the escape token takes the
 * next character literally; a bare `--` ends the flags (so `COPY -- --odd-name /` copies `--odd-name`).
 */
function splitFlags(text: string, escape: EscapeToken): { flags: string[]; rest: string } {
  const flags: string[] = [];
  let pos = 0;
  for (;;) {
    while (pos < text.length && isGoSpace(text[pos]!)) pos++;
    if (!text.startsWith('--', pos)) return { flags, rest: text.slice(pos) };
    let word = '';
    let quote: string | null = null;
    while (pos < text.length && (quote !== null || !isGoSpace(text[pos]!))) {
      const ch = text[pos++]!;
      if (quote === null && (ch === '"' || ch === "'")) quote = ch;
      else if (ch === quote) quote = null;
      else if (ch !== escape) word += ch;
      else if (pos < text.length) word += text[pos++];
      // an escape token that ends the line is dropped
    }
    if (word === '--') return { flags, rest: text.slice(pos) };
    flags.push(word);
  }
}

type Splitter = (rest: string, escape: EscapeToken) => SplitArgs;

/** A fresh value each time: nodes must not share an args array the builder might change. */
const noArgs = (): SplitArgs => ({ args: [], json: false });

const SPLITTERS: Record<KnownInstruction, Splitter> = {
  add: jsonOrWords,
  arg: (rest, escape) => ({ args: quotedWords(rest, escape), json: false }),
  cmd: jsonOrWhole,
  copy: jsonOrWords,
  entrypoint: jsonOrWhole,
  env: (rest, escape) => nameValues(rest, escape, 'ENV'),
  expose: words,
  from: words,
  healthcheck: healthcheck,
  label: (rest, escape) => nameValues(rest, escape, 'LABEL'),
  maintainer: whole,
  onbuild: (rest, escape) => (rest === '' ? noArgs() : { ...noArgs(), trigger: parseInstructionLine(rest, escape) }),
  run: jsonOrWhole,
  shell: jsonOrWhole,
  stopsignal: whole,
  user: whole,
  volume: jsonOrWords,
  workdir: whole,
};

function whole(rest: string): SplitArgs {
  return { args: rest === '' ? [] : [rest], json: false };
}

function words(rest: string): SplitArgs {
  return { args: rest === '' ? [] : rest.split(SPACE_RUN), json: false };
}

function jsonOrWhole(rest: string): SplitArgs {
  const array = jsonArray(rest);
  return array ? { args: array, json: true } : whole(rest);
}

function jsonOrWords(rest: string): SplitArgs {
  const array = jsonArray(rest);
  return array ? { args: array, json: true } : words(rest);
}

/**
 * The strings of a JSON array, or null when the text is not one (it is then the shell form: `CMD ['a']` and
 * `CMD ["a"` are commands). A well-formed array holding anything but strings is an error, not a command.
 */
function jsonArray(rest: string): string[] | null {
  const text = trimStartGoSpace(rest);
  if (!text.startsWith('[')) return null;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return null;
  }
  if (!Array.isArray(value)) return null;
  if (!value.every((v): v is string => typeof v === 'string')) {
    throw new InvalidArgument('when using JSON array syntax, arrays must be comprised of strings only');
  }
  // Go's decoder turns an escaped lone surrogate (`"\ud800"`) into U+FFFD; JSON.parse keeps it.
  return value.map((s) => s.replace(/\p{Cs}/gu, '\ufffd'));
}

/** `HEALTHCHECK NONE`, `HEALTHCHECK CMD …`: the first word, then the rest as RUN would take it. */
function healthcheck(rest: string): SplitArgs {
  let end = 0;
  while (end < rest.length && !isGoSpace(rest[end]!)) end++;
  if (end === 0) return noArgs();
  const command = jsonOrWhole(trimStartGoSpace(rest.slice(end)));
  return { args: [rest.slice(0, end), ...command.args], json: command.json };
}

/**
 * ENV and LABEL: `name value` (legacy: one pair, the value the whole rest of the line) when the first word
 * has no `=`, else `name=value …` items. Triples `[name, value, sep]`, values still quoted.
 */
function nameValues(rest: string, escape: EscapeToken, keyword: string): SplitArgs {
  const items = quotedWords(rest, escape);
  if (items.length === 0) return noArgs();
  if (!items[0]!.includes('=')) {
    const gap = SPACE_RUN.exec(rest);
    if (!gap) throw new InvalidArgument(`${keyword} must have two arguments`);
    return { args: [rest.slice(0, gap.index), rest.slice(gap.index + gap[0].length), ''], json: false };
  }
  const args: string[] = [];
  for (const item of items) {
    const eq = item.indexOf('=');
    if (eq < 0) throw new InvalidArgument(`Syntax error - can't find = in ${goQuote(item)}. Must be of the form: name=value`);
    args.push(item.slice(0, eq), item.slice(eq + 1), '=');
  }
  return { args, json: false };
}

/**
 * Words split at unquoted white space, with their quotes and escape tokens kept: `a "b c" d\ e` gives
 * `a`, `"b c"`, `d\ e`. The builder removes them when it expands the word. Inside single quotes the escape
 * token is literal; an escape token that ends the text is dropped.
 */
function quotedWords(text: string, escape: EscapeToken): string[] {
  const out: string[] = [];
  let word = '';
  let quote: string | null = null;
  for (let pos = 0; pos < text.length; pos++) {
    const ch = text[pos]!;
    if (quote === null && isGoSpace(ch)) {
      if (word !== '') out.push(word);
      word = '';
      continue;
    }
    if (ch === escape && quote !== "'") {
      if (pos + 1 === text.length) break;
      word += ch + text[++pos];
      continue;
    }
    if (quote === null && (ch === '"' || ch === "'")) quote = ch;
    else if (ch === quote) quote = null;
    word += ch;
  }
  if (word !== '') out.push(word);
  return out;
}
