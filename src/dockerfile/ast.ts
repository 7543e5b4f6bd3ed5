/**
 * The Dockerfile syntax tree as the parser hands it to the builder, and its printed form (BuildKit's
 * `Node.Dump()`, which the conformance corpus under test/data/buildkit/parser records). Plain data only.
 */
import { goQuote } from './go-text.ts';

/** The instructions whose arguments the parser splits; any other keyword still parses, with no arguments. */
export const KNOWN_INSTRUCTIONS = [
  'add', 'arg', 'cmd', 'copy', 'entrypoint', 'env', 'expose', 'from', 'healthcheck',
  'label', 'maintainer', 'onbuild', 'run', 'shell', 'stopsignal', 'user', 'volume', 'workdir',
] as const;
export type KnownInstruction = (typeof KNOWN_INSTRUCTIONS)[number];

const known: ReadonlySet<string> = new Set(KNOWN_INSTRUCTIONS);

export function isKnownInstruction(instruction: string): instruction is KnownInstruction {
  return known.has(instruction);
}

/** A here-document (`<<EOF` … `EOF`) that followed a RUN, COPY or ADD line. */
export interface Heredoc {
  /** The delimiter word with its quotes removed: `EOF` for `<<"EOF"`. */
  name: string;
  /**
   * The body lines exactly as written, each with its line ending, without the delimiter line. Leading tabs
   * are NOT stripped here even when `chomp` is set: the builder applies `chompHeredocContent` (BuildKit keeps
   * the raw text in the tree too).
   */
  content: string;
  /** False when any part of the delimiter was quoted (`<<'EOF'`, `<<E"O"F`): the body is then taken literally. */
  expand: boolean;
  /** `<<-`: leading tabs are stripped from the body lines and the delimiter line may be indented with tabs. */
  chomp: boolean;
  /** The file descriptor written before `<<` (`3<<EOF`), 0 when none was. */
  fileDescriptor: number;
}

/** One instruction: a logical line (continuations joined) and the heredoc bodies that followed it. */
export interface DockerfileNode {
  /** The keyword in lower case: `from`, `run`, … or an unknown word (the builder, not the parser, refuses it). */
  instruction: string;
  /** The keyword as written (`Run`), for messages. */
  keyword: string;
  /**
   * The logical line as the parser saw it: continuation lines joined (escape tokens removed), comment and
   * empty lines inside it dropped, heredoc bodies not included. BuildKit's `Original`.
   */
  original: string;
  /** Leading `--flags` exactly as written, quotes and escapes resolved: `['--from=build', '--chown=1:1']`. */
  flags: string[];
  /**
   * The arguments, split as the instruction wants them:
   * - RUN, CMD, ENTRYPOINT, SHELL: the JSON array's strings, or the whole rest of the line as one string;
   * - COPY, ADD, VOLUME: the JSON array's strings, or the words split at whitespace (quotes not removed);
   * - ENV, LABEL: triples `[name, value, sep]`: sep `'='` for `name=value` items, `''` for the legacy
   *   `ENV name value` form; values keep their quotes and escapes for the builder's word expansion;
   * - ARG: the words (`['foo', 'bar=baz', 'abc="1 2"']`), quotes kept;
   * - FROM, EXPOSE: the words split at whitespace;
   * - USER, WORKDIR, STOPSIGNAL, MAINTAINER: the rest of the line as one string;
   * - HEALTHCHECK: `[type, ...command]`: `['NONE']`, `['CMD', 'curl -f x']` or `['CMD', 'curl', '-f', 'x']`;
   * - ONBUILD: empty; the nested instruction is `trigger`;
   * - an unknown instruction: empty.
   * Empty when nothing followed the keyword (the builder decides whether that is allowed).
   */
  args: string[];
  /** The arguments came from a JSON array (exec form); for HEALTHCHECK, its command did. */
  json: boolean;
  /**
   * The heredoc bodies, in the order their `<<` words appear on the line. For `ONBUILD RUN <<EOF` they are
   * here, on the ONBUILD node, not on its trigger (as BuildKit does).
   */
  heredocs: Heredoc[];
  /** ONBUILD only: the instruction it registers, parsed as a node of its own (with this node's lines). */
  trigger?: DockerfileNode;
  /** 1-based line of the keyword. */
  startLine: number;
  /** 1-based last line: the last continuation line, or the last heredoc's delimiter line. */
  endLine: number;
}

/** Something the parser accepted but that will become an error in a future Dockerfile syntax. */
export interface ParseWarning {
  message: string;
  /** The instruction's lines (before any heredoc bodies). */
  startLine: number;
  endLine: number;
  /** Where the rule is described. */
  url: string;
}

export type EscapeToken = '\\' | '`';

export interface ParsedDockerfile {
  nodes: DockerfileNode[];
  /** The escape and line-continuation character (`# escape=` directive; backslash by default). */
  escape: EscapeToken;
  /** The parser directives found at the top of the file, by lower-case name: `syntax`, `escape`, `check`. */
  directives: Record<string, string>;
  warnings: ParseWarning[];
}

/**
 * One instruction as a line of BuildKit's parser test `result` files:
 * `(copy ["--from=a"] "src" "/dst")`, `(onbuild (run "echo" "hi"))`, `(cmd)`. Strings are quoted as Go's
 * `strconv.Quote` does. An unknown instruction prints one empty argument (`(frob "")`), as BuildKit's does.
 * Heredoc bodies and the JSON marker are not printed.
 */
export function dumpNode(node: DockerfileNode): string {
  return `(${dumpBody(node)})`;
}

function dumpBody(node: DockerfileNode): string {
  let out = node.instruction;
  if (node.flags.length > 0) out += ` [${node.flags.map(goQuote).join(' ')}]`;
  if (node.trigger) out += ` (${dumpBody(node.trigger)})`;
  else if (!isKnownInstruction(node.instruction)) out += ' ""';
  for (const arg of node.args) out += ` ${goQuote(arg)}`;
  return out;
}
