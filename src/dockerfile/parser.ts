/**
 * The Dockerfile parser: text in, one node per instruction out, read as BuildKit's parser reads it (parser
 * directives, comments, line continuations, heredocs, each instruction's argument splitting). It checks
 * syntax only: whether an instruction or flag exists and how many arguments it takes is the builder's call,
 * so `FROBNICATE x` and `COPY --bogus a b` parse.
 */
import { InvalidArgument } from '../errors.ts';
import type { DockerfileNode, EscapeToken, Heredoc, ParsedDockerfile, ParseWarning } from './ast.ts';
import { DirectiveReader } from './directives.ts';
import { trimStartGoSpace } from './go-text.ts';
import { heredocsInLine, type HeredocStart } from './heredoc.ts';
import { parseInstructionLine, type InstructionLine } from './line-args.ts';

export type { DockerfileNode, EscapeToken, Heredoc, ParsedDockerfile, ParseWarning } from './ast.ts';
export { dumpNode, isKnownInstruction } from './ast.ts';
export { chompHeredocContent, parseHeredocWord } from './heredoc.ts';

/** A Dockerfile the parser refuses. The lines (1-based) say where; 0 when the whole file is at fault. */
export class DockerfileSyntaxError extends InvalidArgument {
  /** What is wrong, without the location: `ENV must have two arguments`. */
  readonly reason: string;
  readonly startLine: number;
  readonly endLine: number;
  constructor(reason: string, startLine: number, endLine = startLine) {
    super(startLine > 0 ? `dockerfile parse error on line ${startLine}: ${reason}` : `dockerfile parse error: ${reason}`);
    this.reason = reason;
    this.startLine = startLine;
    this.endLine = endLine;
  }
}

/** Only these take heredocs (ONBUILD too, when its trigger is one of them). */
const HEREDOC_INSTRUCTIONS: ReadonlySet<string> = new Set(['run', 'copy', 'add']);

/** The escape token at the end of a line (blanks after it allowed) continues it, unless it is itself escaped. */
const CONTINUATION: Record<EscapeToken, RegExp> = {
  '\\': /([^\\])\\[ \t]*$|^\\[ \t]*$/,
  '`': /([^`])`[ \t]*$|^`[ \t]*$/,
};

const EMPTY_CONTINUATION_URL = 'https://docs.docker.com/go/dockerfile/rule/no-empty-continuation/';

/**
 * Parse a Dockerfile. Throws DockerfileSyntaxError (an InvalidArgument) for a repeated or invalid parser
 * directive, a JSON array of non-strings, `ENV name` without a value, a `name=value` list with an item
 * lacking `=`, an unterminated heredoc, or a file with no instruction at all.
 */
export function parseDockerfile(text: string): ParsedDockerfile {
  const lines = new LineCursor(text.startsWith('\ufeff') ? text.slice(1) : text);
  const directives = new DirectiveReader();
  const nodes: DockerfileNode[] = [];
  const warnings: ParseWarning[] = [];

  for (let raw = lines.next(); raw !== undefined; raw = lines.next()) {
    const startLine = lines.lineNo;
    const first = trimStartGoSpace(trimNewline(raw));
    atLines(startLine, startLine, () => directives.offer(first));
    const joined = joinContinuationLines(isComment(first) ? '' : first, lines, directives.escape);
    if (joined === null) continue;
    const { logical, sawEmptyLine } = joined;
    const lastLine = lines.lineNo;
    if (sawEmptyLine) {
      const message = `Empty continuation line found in: ${logical}`;
      warnings.push({ message, startLine, endLine: lastLine, url: EMPTY_CONTINUATION_URL });
    }

    const instruction = atLines(startLine, lastLine, () => parseInstructionLine(logical, directives.escape));
    const heredocs: Heredoc[] = [];
    if (mayHaveHeredocs(instruction) && logical.includes('<<')) {
      for (const start of atLines(startLine, lastLine, () => heredocsInLine(logical))) {
        heredocs.push(readHeredoc(lines, start, startLine));
      }
    }
    nodes.push(toNode(instruction, heredocs, startLine, lines.lineNo));
  }

  if (nodes.length === 0) throw new DockerfileSyntaxError('file with no instructions', 0);
  return { nodes, escape: directives.escape, directives: directives.values, warnings };
}

/** The file's lines, each with its line ending, and how many have been taken. */
class LineCursor {
  private readonly lines: string[];
  /** The 1-based number of the line last returned by `next`. */
  lineNo = 0;

  constructor(text: string) {
    this.lines = text.split(/(?<=\n)/);
    if (this.lines.at(-1) === '') this.lines.pop();
  }

  next(): string | undefined {
    if (this.lineNo >= this.lines.length) return undefined;
    return this.lines[this.lineNo++];
  }
}

/**
 * The logical line that starts with `first` (already trimmed; empty for a comment): the continuation lines
 * after it joined on, without their escape tokens. Comment lines inside vanish, and so do empty ones, which
 * BuildKit warns about (a future error). Null when there is no instruction here (an empty or comment line).
 */
function joinContinuationLines(first: string, lines: LineCursor, escape: EscapeToken): { logical: string; sawEmptyLine: boolean } | null {
  let { text: logical, continues } = trimContinuation(first, escape);
  if (!continues && logical === '') return null;
  let sawEmptyLine = false;
  for (let raw = continues ? lines.next() : undefined; raw !== undefined; raw = continues ? lines.next() : undefined) {
    const line = trimNewline(raw);
    if (isComment(line)) continue;
    if (trimStartGoSpace(line) === '') {
      sawEmptyLine = true;
      continue;
    }
    const part = trimContinuation(line, escape);
    logical += part.text;
    continues = part.continues;
  }
  return { logical, sawEmptyLine };
}

/**
 * Read a heredoc body up to its delimiter line (which a `<<-` heredoc may indent with tabs). The body keeps
 * its lines exactly: no comment or continuation handling applies inside it.
 */
function readHeredoc(lines: LineCursor, start: HeredocStart, startLine: number): Heredoc {
  let content = '';
  for (let raw = lines.next(); raw !== undefined; raw = lines.next()) {
    const line = trimNewline(raw);
    if ((start.chomp ? line.replace(/^\t+/, '') : line) === start.name) return { ...start, content };
    content += raw;
  }
  throw new DockerfileSyntaxError('unterminated heredoc', startLine, lines.lineNo);
}

function mayHaveHeredocs(line: InstructionLine): boolean {
  const target = line.instruction === 'onbuild' && line.trigger ? line.trigger : line;
  return HEREDOC_INSTRUCTIONS.has(target.instruction) && !target.json;
}

function toNode({ trigger, ...line }: InstructionLine, heredocs: Heredoc[], startLine: number, endLine: number): DockerfileNode {
  const node: DockerfileNode = { ...line, heredocs, startLine, endLine };
  if (trigger) node.trigger = toNode(trigger, [], startLine, endLine);
  return node;
}

function trimContinuation(line: string, escape: EscapeToken): { text: string; continues: boolean } {
  const match = CONTINUATION[escape].exec(line);
  if (!match) return { text: line, continues: false };
  return { text: line.slice(0, match.index) + (match[1] ?? ''), continues: true };
}

const trimNewline = (line: string) => line.replace(/[\r\n]+$/, '');

const isComment = (line: string) => trimStartGoSpace(line).startsWith('#');

/** Run one step of the parse, giving an InvalidArgument it throws the lines it concerns. */
function atLines<T>(startLine: number, endLine: number, step: () => T): T {
  try {
    return step();
  } catch (e) {
    const located = e instanceof InvalidArgument && !(e instanceof DockerfileSyntaxError);
    throw located ? new DockerfileSyntaxError(e.message, startLine, endLine) : e;
  }
}
