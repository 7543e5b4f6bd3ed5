/**
 * The Dockerfile parser (src/dockerfile/parser.ts) against BuildKit's: its parser corpus (test/data/buildkit/
 * parser, each Dockerfile with the tree it dumps to) and the cases of its parser_test.go and
 * parser_heredoc_test.go, transcribed as data.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import {
  chompHeredocContent,
  DockerfileSyntaxError,
  dumpNode,
  parseDockerfile,
  parseHeredocWord,
  type Heredoc,
} from '../../src/dockerfile/parser.ts';
import { heredocsInLine } from '../../src/dockerfile/heredoc.ts';
import { InvalidArgument } from '../../src/errors.ts';

const corpus = join(import.meta.dirname, '../data/buildkit/parser');

for (const name of readdirSync(join(corpus, 'testfiles')).sort()) {
  test(`BuildKit corpus: ${name} dumps to its result`, () => {
    const dockerfile = readFileSync(join(corpus, 'testfiles', name, 'Dockerfile'), 'utf8');
    const want = readFileSync(join(corpus, 'testfiles', name, 'result'), 'utf8').replace(/\n$/, '').split('\n');
    assert.deepEqual(parseDockerfile(dockerfile).nodes.map(dumpNode), want);
  });
}

/** The refusal each negative corpus file must meet: BuildKit's reason, with the line it concerns. */
const negative: Record<string, string> = {
  empty_dockerfile: 'dockerfile parse error: file with no instructions',
  only_comments: 'dockerfile parse error: file with no instructions',
  env_no_value: 'dockerfile parse error on line 3: ENV must have two arguments',
  'shykes-nested-json': 'dockerfile parse error on line 1: when using JSON array syntax, arrays must be comprised of strings only',
};

test('BuildKit negative corpus: every file is refused, as InvalidArgument with the line', () => {
  const names = readdirSync(join(corpus, 'testfiles-negative')).sort();
  assert.deepEqual(names, Object.keys(negative).sort(), 'a negative case without an expected message');
  for (const name of names) {
    const dockerfile = readFileSync(join(corpus, 'testfiles-negative', name, 'Dockerfile'), 'utf8');
    assert.throws(() => parseDockerfile(dockerfile), (e) => e instanceof InvalidArgument && e.message === negative[name], name);
  }
});

/** Assert the parse fails with this message, and return the error for a closer look. */
function refused(dockerfile: string, message: string): DockerfileSyntaxError {
  let caught: unknown;
  assert.throws(() => parseDockerfile(dockerfile), (e) => ((caught = e), e instanceof DockerfileSyntaxError && e.message === message));
  return caught as DockerfileSyntaxError;
}

test('each parse error names its line and is an InvalidArgument', () => {
  const e = refused('FROM a\nRUN <<EOF\nhello\n', 'dockerfile parse error on line 2: unterminated heredoc');
  assert.ok(e instanceof InvalidArgument);
  assert.deepEqual([e.reason, e.startLine, e.endLine], ['unterminated heredoc', 2, 3]);
  refused('FROM a\nLABEL a=b c', `dockerfile parse error on line 2: Syntax error - can't find = in "c". Must be of the form: name=value`);
  refused('FROM a\nENV \\\n  PATH', 'dockerfile parse error on line 2: ENV must have two arguments');
  refused('FROM a\nONBUILD CMD ["a", 1]', 'dockerfile parse error on line 2: when using JSON array syntax, arrays must be comprised of strings only');
  refused('# escape=x\nFROM a', "dockerfile parse error on line 1: invalid escape token 'x' does not match ` or \\");
  refused('# syntax=a\n# SYNTAX=b\nFROM a', 'dockerfile parse error on line 2: only one syntax parser directive can be used');
  refused('\n\n# just a comment\n', 'dockerfile parse error: file with no instructions');
});

test('directives: only in the unbroken run of lines at the top, names case-insensitive, values as written', () => {
  const parsed = parseDockerfile('# syntax = docker/dockerfile:1  \n#CHECK=skip=all\n  # Escape=`\nFROM a');
  assert.deepEqual(parsed.directives, { syntax: 'docker/dockerfile:1', check: 'skip=all', escape: '`' });
  assert.equal(parsed.escape, '`');
  // An empty line, an ordinary comment or an instruction ends the run: what follows is a comment.
  for (const text of ['\n# escape=`\nFROM a', '# hello\n# escape=`\nFROM a', 'FROM a\n# escape=`\nRUN b', '# unknown=1\n# escape=`\nFROM a']) {
    const after = parseDockerfile(text);
    assert.equal(after.escape, '\\', text);
    assert.equal(after.directives.escape, undefined, text);
  }
  // A repeated directive after the run is a comment, not a duplicate.
  assert.equal(parseDockerfile('# syntax=a\nFROM a\n# syntax=b\n').directives.syntax, 'a');
});

test('the backtick escape directive continues lines with ` and leaves \\ to the shell', () => {
  const parsed = parseDockerfile('# escape=`\nFROM windows `\n  AS build\nRUN dir c:\\ `\n  && echo done\nCOPY --chown=a`"b a b\\');
  assert.deepEqual(
    parsed.nodes.map((n) => [n.instruction, n.flags, n.args, n.startLine, n.endLine]),
    [
      ['from', [], ['windows', 'AS', 'build'], 2, 3],
      ['run', [], ['dir c:\\   && echo done'], 4, 5],
      ['copy', ['--chown=a"b'], ['a', 'b\\'], 6, 6],
    ],
  );
  // With ` as the escape token, a trailing backslash is just a character.
  assert.deepEqual(parseDockerfile('# escape=`\nFROM a\nRUN x \\\nRUN y').nodes.map(dumpNode), ['(from "a")', '(run "x \\\\")', '(run "y")']);
});

test('line numbers: start at the keyword, end at the last continuation line (BuildKit\'s testfile-line)', () => {
  const dockerfile = [
    '# ESCAPE=\\', '', '', '', 'FROM brimstone/ubuntu:14.04', '', '', '# TORUN -v /var/run/docker.sock:/var/run/docker.sock', '', '',
    'ENV GOPATH \\', '/go', '', '', '', '# Install the packages we need, clean up after them and us', 'RUN apt-get update \\',
    "\t&& dpkg -l | awk '/^ii/ {print $2}' > /tmp/dpkg.clean \\", '', '',
    '    && apt-get --no-install-recommends install -y git golang ca-certificates \\', '    && apt-get clean \\',
    '    && rm -rf /var/lib/apt/lists \\', '', '\t&& go get -v github.com/brimstone/consuldock \\',
    '    && mv $GOPATH/bin/consuldock /usr/local/bin/consuldock \\', '', "\t&& dpkg -l | awk '/^ii/ {print $2}' > /tmp/dpkg.dirty \\",
    "\t&& apt-get remove --purge -y $(diff /tmp/dpkg.clean /tmp/dpkg.dirty | awk '/^>/ {print $2}') \\", '\t&& rm /tmp/dpkg.* \\',
    '\t&& rm -rf $GOPATH', '', '', '', '', '',
  ].join('\n');
  assert.deepEqual(parseDockerfile(dockerfile).nodes.map((n) => [n.startLine, n.endLine]), [[5, 5], [11, 12], [17, 31]]);
  // Heredoc bodies belong to their instruction's lines; CRLF endings count as one line each.
  const heredoc = parseDockerfile('FROM a\r\nRUN <<EOF\r\necho hi\r\nEOF\r\nCMD x\r\n').nodes;
  assert.deepEqual(heredoc.map((n) => [n.startLine, n.endLine]), [[1, 1], [2, 4], [5, 5]]);
  assert.equal(heredoc[1]!.heredocs[0]!.content, 'echo hi\r\n');
});

test('empty lines inside a continued instruction are dropped with a warning; comment lines silently (parser_test.go)', () => {
  const parsed = parseDockerfile(
    '\nFROM alpine:3.6\n\nRUN valid \\\n    continuation\n\nRUN something \\\n\n    following \\\n\n    more\n\n' +
      'RUN another \\\n\n    thing\n\nRUN non-indented \\\n# this is a comment\n   after-comment\n\n' +
      'RUN indented \\\n    # this is an indented comment\n    comment\n\t',
  );
  assert.deepEqual(parsed.warnings, [
    {
      message: 'Empty continuation line found in: RUN something     following     more',
      startLine: 7,
      endLine: 11,
      url: 'https://docs.docker.com/go/dockerfile/rule/no-empty-continuation/',
    },
    {
      message: 'Empty continuation line found in: RUN another     thing',
      startLine: 13,
      endLine: 15,
      url: 'https://docs.docker.com/go/dockerfile/rule/no-empty-continuation/',
    },
  ]);
  assert.deepEqual(parsed.nodes.slice(-2).map(dumpNode), ['(run "non-indented    after-comment")', '(run "indented     comment")']);
});

test('the node carries the keyword as written, the logical line, flags, and the JSON marker', () => {
  const [from, copy, cmd, health] = parseDockerfile(
    'From --platform=$BUILDPLATFORM golang AS build\ncopy --from=build \\\n  --chown=1:1 -- /a /b\nCMD ["run", "x"]\nHEALTHCHECK --interval=5s CMD ["true"]',
  ).nodes;
  assert.deepEqual(from, {
    instruction: 'from',
    keyword: 'From',
    original: 'From --platform=$BUILDPLATFORM golang AS build',
    flags: ['--platform=$BUILDPLATFORM'],
    args: ['golang', 'AS', 'build'],
    json: false,
    heredocs: [],
    startLine: 1,
    endLine: 1,
  });
  assert.equal(copy!.original, 'copy --from=build   --chown=1:1 -- /a /b');
  assert.deepEqual([copy!.flags, copy!.args], [['--from=build', '--chown=1:1'], ['/a', '/b']]);
  assert.deepEqual([cmd!.args, cmd!.json], [['run', 'x'], true]);
  assert.deepEqual([health!.flags, health!.args, health!.json], [['--interval=5s'], ['CMD', 'true'], true]);
  assert.deepEqual(parseDockerfile('FROM a\nHEALTHCHECK NONE').nodes[1]!.args, ['NONE']);
});

test('flags: quotes group and go, the escape token takes the next character, `--` ends them, JSON may follow', () => {
  const [run, copy, cmd] = parseDockerfile(
    'RUN --mount="type=cache,target=/a b" --x=\\\\y\\ z echo --not-a-flag\nCOPY -- --odd /\nCMD --doit=true -- [ "a", "b" ]',
  ).nodes;
  assert.deepEqual([run!.flags, run!.args], [['--mount=type=cache,target=/a b', '--x=\\y z'], ['echo --not-a-flag']]);
  assert.deepEqual([copy!.flags, copy!.args], [[], ['--odd', '/']]);
  assert.deepEqual([cmd!.flags, cmd!.args, cmd!.json], [['--doit=true'], ['a', 'b'], true]);
});

test('ONBUILD: the trigger is a node of its own; its heredocs sit on the ONBUILD node, as in BuildKit', () => {
  const [, onbuild, bare] = parseDockerfile('FROM a\nonbuild copy --chown=1 <<EOF /x\nhi\nEOF\nONBUILD').nodes;
  assert.equal(dumpNode(onbuild!), '(onbuild (copy ["--chown=1"] "<<EOF" "/x"))');
  assert.deepEqual(onbuild!.args, []);
  assert.deepEqual(onbuild!.heredocs, [{ name: 'EOF', content: 'hi\n', expand: true, chomp: false, fileDescriptor: 0 }]);
  assert.deepEqual(onbuild!.trigger, {
    instruction: 'copy',
    keyword: 'copy',
    original: 'copy --chown=1 <<EOF /x',
    flags: ['--chown=1'],
    args: ['<<EOF', '/x'],
    json: false,
    heredocs: [],
    startLine: 2,
    endLine: 4,
  });
  assert.equal(dumpNode(bare!), '(onbuild)');
  assert.equal(bare!.trigger, undefined);
});

test('unknown instructions and MAINTAINER parse; the builder decides (an unknown one dumps one empty argument, as BuildKit\'s)', () => {
  const nodes = parseDockerfile('FROM a\nMAINTAINER Jane <j@x>\nFROBNICATE --hard the thing\nONBUILD FROB x').nodes;
  assert.deepEqual(nodes.map(dumpNode), ['(from "a")', '(maintainer "Jane <j@x>")', '(frobnicate ["--hard"] "")', '(onbuild (frob ""))']);
  assert.deepEqual([nodes[2]!.keyword, nodes[2]!.args, nodes[2]!.original], ['FROBNICATE', [], 'FROBNICATE --hard the thing']);
});

test('a byte-order mark is dropped; strings dump with Go quoting', () => {
  assert.equal(dumpNode(parseDockerfile('\ufeffFROM a').nodes[0]!), '(from "a")');
  assert.equal(dumpNode(parseDockerfile('CMD ["\\u00a0\\u0007\\ud83d\\ude00\\ud800", "\\u007f"]').nodes[0]!), '(cmd "\\u00a0\\a😀�" "\\x7f")');
});

/** A heredoc as BuildKit's tests write them: only the fields that differ from the zero value. */
const doc = (name: string, content: string, more: Partial<Heredoc> = {}): Heredoc => ({ name, content, expand: true, chomp: false, fileDescriptor: 0, ...more });

test('heredocs: BuildKit\'s TestParseExtractsHeredoc cases', () => {
  const dockerfile = [
    '', 'FROM alpine:3.6', '', 'ENV NAME=me', '', 'RUN ls', '', 'USER <<INVALID', 'INVALID', '', 'RUN <<EMPTY', 'EMPTY', '',
    'RUN 3<<EMPTY2', 'EMPTY2', '', 'RUN "<<NOHEREDOC"', '', 'RUN <<INDENT', '\tfoo', '\tbar', 'INDENT', '',
    'RUN <<-UNINDENT', '\tbaz', '\tquux', 'UNINDENT', '', 'RUN <<-UNINDENT2', '\tbaz', '\tquux', '\tUNINDENT2', '',
    'RUN <<-EXPAND', '\texpand $NAME', 'EXPAND', '', "RUN <<-'NOEXPAND'", "\tdon't expand $NAME", 'NOEXPAND', '',
    'RUN <<COPY', 'echo hello world', 'echo foo bar', 'COPY', '',
    'RUN <<COMMENT', '# internal comment', 'echo hello world', 'echo foo bar # trailing comment', 'COMMENT', '',
    'RUN --mount=type=cache,target=/foo <<MOUNT', 'echo hello', 'MOUNT', '',
    'COPY <<FILE1 <<FILE2 /dest', 'content 1', 'FILE1', 'content 2', 'FILE2', '',
    'COPY <<EOF /quotes', '"foo"', "'bar'", 'EOF', '', 'COPY <<X <<Y /dest', 'Y', 'X', 'X', 'Y', '',
    'RUN <<COMPLEX python3', "print('hello world')", 'COMPLEX', '', 'COPY <<file.txt /dest', 'hello world', 'file.txt', '',
    "RUN <<eo'f'", 'echo foo', 'eof', '', "RUN <<eo\\'f", 'echo foo', "eo'f", '', "RUN <<'e'o\\'f", 'echo foo', "eo'f", '',
    "RUN <<'one two'", 'echo bar', 'one two', '', 'RUN <<$EOF', '$EOF', '', 'RUN <<  EOF', 'EOF', '', 'RUN <<  EOF  > foo', 'EOF', '\t',
  ].join('\n');
  const want: Heredoc[][] = [
    [], // ENV NAME=me
    [], // RUN ls
    [], // USER <<INVALID: USER takes no heredoc…
    [], // …so INVALID is an (unknown) instruction of its own
    [doc('EMPTY', '')],
    [doc('EMPTY2', '', { fileDescriptor: 3 })],
    [], // RUN "<<NOHEREDOC"
    [doc('INDENT', '\tfoo\n\tbar\n')],
    [doc('UNINDENT', '\tbaz\n\tquux\n', { chomp: true })],
    [doc('UNINDENT2', '\tbaz\n\tquux\n', { chomp: true })],
    [doc('EXPAND', '\texpand $NAME\n', { chomp: true })],
    [doc('NOEXPAND', "\tdon't expand $NAME\n", { chomp: true, expand: false })],
    [doc('COPY', 'echo hello world\necho foo bar\n')],
    [doc('COMMENT', '# internal comment\necho hello world\necho foo bar # trailing comment\n')],
    [doc('MOUNT', 'echo hello\n')],
    [doc('FILE1', 'content 1\n'), doc('FILE2', 'content 2\n')],
    [doc('EOF', '"foo"\n\'bar\'\n')],
    [doc('X', 'Y\n'), doc('Y', 'X\n')],
    [doc('COMPLEX', "print('hello world')\n")],
    [doc('file.txt', 'hello world\n')],
    [doc('eof', 'echo foo\n', { expand: false })],
    [doc("eo'f", 'echo foo\n')],
    [doc("eo'f", 'echo foo\n', { expand: false })],
    [doc('one two', 'echo bar\n', { expand: false })],
    [doc('$EOF', '')],
    [doc('EOF', '')],
    [doc('EOF', '')],
  ];
  const nodes = parseDockerfile(dockerfile).nodes;
  assert.equal(nodes.length, want.length + 1);
  want.forEach((heredocs, i) => assert.deepEqual(nodes[i + 1]!.heredocs, heredocs, nodes[i + 1]!.original));
  // The RUN keeps its `<<` words: the builder maps them to the bodies.
  assert.equal(dumpNode(nodes[16]!), '(copy "<<FILE1" "<<FILE2" "/dest")');
});

test('heredocs: none in the JSON form (TestParseJSONHeredoc), and none for instructions other than RUN, COPY, ADD', () => {
  const nodes = parseDockerfile('\nFROM alpine:3.6\n\nRUN ["whoami"]\nRUN ["<<EOF"]\nRUN ["<<\'EOF\'"]\n\t').nodes;
  assert.deepEqual(nodes.map((n) => n.heredocs), [[], [], [], []]);
  assert.deepEqual(parseDockerfile('FROM a\nCMD <<EOF\nEOF').nodes.map((n) => n.instruction), ['from', 'cmd', 'eof']);
  const add = parseDockerfile('FROM a\nADD <<-EOT /x\n\tbody\n\t\tEOT').nodes[1]!;
  assert.deepEqual(add.heredocs, [doc('EOT', '\tbody\n', { chomp: true })]);
});

test('heredocs: a body needs no final newline before its delimiter at the end of the file', () => {
  assert.deepEqual(parseDockerfile('RUN <<EOF\nx\nEOF').nodes[0]!.heredocs, [doc('EOF', 'x\n')]);
});

test('heredoc helpers: chompHeredocContent and parseHeredocWord (TestHeredocChomp, TestParseHeredocHelpers)', () => {
  assert.equal(chompHeredocContent('\thello\n\tworld\n'), 'hello\nworld\n');
  for (const word of ['<<EOF', "<<'EOF'", '<<"EOF"', '<<-EOF', "<<-'EOF'", '<<-"EOF"', '<<EO"F"', '<< EOF', '<<- EOF']) {
    assert.equal(parseHeredocWord(word)?.name, 'EOF', word);
  }
  for (const word of ["<<'EOF", '<<"EOF', "<<EOF'", '<<EOF"']) {
    assert.throws(() => parseHeredocWord(word), InvalidArgument, word);
  }
  for (const word of ['', 'EOF', '<<', '<<-', '<EOF', '<<<EOF', '<<EOF sh']) {
    assert.equal(parseHeredocWord(word), null, word);
  }
});

test('heredocs on a line (TestHeredocsFromLine), including what BuildKit really does with `<<- EOF`', () => {
  const cases: [line: string, names: string[]][] = [
    ['RUN <<EOF', ['EOF']],
    ['RUN <<-EOF', ['EOF']],
    // The blanks after `<<` join the delimiter's word, but `<<-` ends its word: `<<-` and `EOF` alone open
    // nothing. BuildKit's own test passes only because it loops over the (empty) result.
    ['RUN <<- EOF', []],
    ['RUN << -EOF', ['-EOF']],
    ["RUN <<'EOF'", ['EOF']],
    ['RUN 4<<EOF', ['EOF']],
    ['RUN <<EOF <<EOF2', ['EOF', 'EOF2']],
    ["RUN '<<EOF'", []],
    ['RUN "<<EOF"', []],
    // A line the word scanner cannot cut opens no heredoc: it is left to the shell.
    ['RUN "<<EOF', []],
    ['RUN echo ${ <<EOF', []],
  ];
  for (const [line, names] of cases) assert.deepEqual(heredocsInLine(line).map((h) => h.name), names, line);
  assert.equal(heredocsInLine('RUN 4<<EOF')[0]!.fileDescriptor, 4);
  assert.deepEqual(heredocsInLine('RUN <<${X:-a b} <<$Y').map((h) => h.name), ['$Y']);
});

test('ENV, LABEL and ARG keep quotes and escapes in their values for the builder to expand', () => {
  const nodes = parseDockerfile('FROM a\nENV A="x y" B=z\\ w\nLABEL "k"=\'v\'\nARG N V=1 Q="a b"\nENV\nENV OLD  two words').nodes;
  assert.deepEqual(
    nodes.slice(1).map((n) => n.args),
    [['A', '"x y"', '=', 'B', 'z\\ w', '='], ['"k"', "'v'", '='], ['N', 'V=1', 'Q="a b"'], [], ['OLD', 'two words', '']],
  );
});
