/**
 * The Dockerfile shell-word lexer (src/dockerfile/shell-lex.ts) against BuildKit's own cases: its two data
 * files (test/data/buildkit/shell/) and the tables of its lex_test.go, transcribed as data; then the options
 * and the Go quirks BuildKit's data does not reach.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { InvalidArgument } from '../../src/errors.ts';
import { envFromList, expandWord, expandWords, patternInternals, type Env } from '../../src/dockerfile/shell-lex.ts';

const data = (name: string) => readFileSync(new URL(`../data/buildkit/shell/${name}`, import.meta.url), 'utf8');
/** The lines of a file as Go's bufio.Scanner yields them: no final empty line, `\r` before `\n` dropped. */
const scanLines = (text: string) => text.replace(/\n$/, '').split('\n').map((l) => l.replace(/\r$/, ''));
const refused = (f: () => unknown, message?: string) =>
  assert.throws(f, (e: unknown) => e instanceof InvalidArgument && (message === undefined || e.message === message));
const matched = (r: { used: Set<string>; unmatched: Set<string> }) => [...r.used].filter((n) => !r.unmatched.has(n)).sort();

test('envVarTest: every all-platform and unix case (Windows-only ones do not apply)', (t) => {
  // TestShellParser4EnvVars: `#` lines (untrimmed) and blank lines skipped; `platform|input|expected`, each
  // part trimmed; `error` means the expansion must fail. W cases treat names case-insensitively: skipped.
  const env = envFromList(['PWD=/home', 'SHELL=bash', 'KOREAN=한국어', 'NULL=']);
  let passed = 0;
  let windowsOnly = 0;
  scanLines(data('envVarTest')).forEach((raw, i) => {
    if (raw.startsWith('#') || raw.trim() === '') return;
    const parts = raw.trim().split('|');
    assert.equal(parts.length, 3, `line ${i + 1}: ${raw}`);
    const [platform, input, expected] = parts.map((p) => p.trim()) as [string, string, string];
    assert.ok(['A', 'U', 'W'].includes(platform), `line ${i + 1}: platform ${platform}`);
    if (platform === 'W') return void windowsOnly++;
    if (expected === 'error') assert.throws(() => expandWord(input, env), InvalidArgument, `line ${i + 1}: ${input}`);
    else assert.equal(expandWord(input, env).value, expected, `line ${i + 1}: ${input}`);
    passed++;
  });
  t.diagnostic(`${passed} passed, ${windowsOnly} Windows-only skipped`);
  assert.equal(passed, 228);
  assert.equal(windowsOnly, 2);
});

test('wordsTest: splitting after substitution, quotes respected', (t) => {
  // TestShellParser4Words: `#` lines skipped; `ENV name=value` adds to the environment (trailing spaces kept);
  // `input | w1,w2` where the input is trimmed and the expectation only left-trimmed of spaces; a failure is
  // the single word `error`. (Go's test means to rerun the file with RawQuotes and SkipUnsetEnv, but its
  // scanner is already at the end of the file by then, so that pass checks nothing and has no expectations.)
  const entries: string[] = [];
  let passed = 0;
  scanLines(data('wordsTest')).forEach((line, i) => {
    if (line.startsWith('#')) return;
    if (line.startsWith('ENV ')) return void entries.push(line.slice(3).replace(/^ +/, ''));
    const parts = line.split('|');
    assert.equal(parts.length, 2, `line ${i + 1}: ${line}`);
    const input = parts[0]!.trim();
    const expected = parts[1]!.replace(/^ +/, '').split(',');
    let words: string[];
    try {
      words = expandWords(input, envFromList(entries));
    } catch (e) {
      assert.ok(e instanceof InvalidArgument);
      words = ['error'];
    }
    assert.deepEqual(words, expected, `line ${i + 1}: ${input}`);
    passed++;
  });
  t.diagnostic(`${passed} passed`);
  assert.equal(passed, 24);
});

test('lex_test.go TestShellParserMandatoryEnvVars: ${VAR:?msg} and ${VAR?msg}, the message expanded', () => {
  const set = envFromList(['VAR=plain', 'ARG=x']);
  const empty = envFromList(['VAR=', 'ARG=x']);
  const unset = envFromList(['ARG=x']);
  const noEmpty = '${VAR:?message here$ARG}';
  const noUnset = '${VAR?message here$ARG}';
  const failsWith = (f: () => unknown, part: string) =>
    assert.throws(f, (e: unknown) => e instanceof InvalidArgument && e.message.includes(part));
  assert.equal(expandWord(noEmpty, set).value, 'plain');
  failsWith(() => expandWord(noEmpty, empty), 'message herex');
  failsWith(() => expandWord(noEmpty, unset), 'message herex');
  assert.equal(expandWord(noUnset, set).value, 'plain');
  assert.equal(expandWord(noUnset, empty).value, '');
  failsWith(() => expandWord(noUnset, unset), 'message herex');
});

test('lex_test.go TestGetEnv: entries without `=` are set and empty; the last entry for a name wins', () => {
  const get = (entries: string[], name: string) => expandWord(`$${name}`, envFromList(entries));
  assert.equal(get([], 'foo').value, '');
  assert.deepEqual([...get([], 'foo').unmatched], ['foo']);
  assert.equal(get(['foo'], 'foo').value, '');
  assert.deepEqual([...get(['foo'], 'foo').unmatched], []);
  assert.equal(get(['foo='], 'foo').value, '');
  assert.equal(get(['foo=bar'], 'foo').value, 'bar');
  assert.equal(get(['foo=bar', 'car=hat'], 'foo').value, 'bar');
  assert.equal(get(['foo=bar', 'car=hat'], 'car').value, 'hat');
  assert.equal(get(['foo=bar', 'car=hat', 'car=bike'], 'car').value, 'bike');
});

/** TestProcessWithMatches: `matches` are the names found set, `unmatched` those referenced but unset. */
const withMatches: { input: string; env: Record<string, string>; expected?: string; error?: true; matches?: string[]; unmatched?: string[] }[] = [
  { input: 'x', env: { DUMMY: 'dummy' }, expected: 'x' },
  { input: 'x ${UNUSED}', env: { DUMMY: 'dummy' }, expected: 'x ', unmatched: ['UNUSED'] },
  { input: 'x ${FOO}', env: { FOO: 'y' }, expected: 'x y', matches: ['FOO'] },
  { input: '${FOO-aaa} ${BAR-bbb} ${BAZ-ccc}', env: { FOO: 'xxx', BAR: '' }, expected: 'xxx  ccc', matches: ['BAR', 'FOO'], unmatched: ['BAZ'] },
  { input: '${FOO:-aaa} ${BAR:-bbb} ${BAZ:-ccc}', env: { FOO: 'xxx', BAR: '' }, expected: 'xxx bbb ccc', matches: ['BAR', 'FOO'], unmatched: ['BAZ'] },
  { input: '${FOO:-}', env: { FOO: 'xxx', BAR: '' }, expected: 'xxx', matches: ['FOO'] },
  { input: '${FOO:-}', env: {}, expected: '', unmatched: ['FOO'] },
  { input: '${FOO+aaa} ${BAR+bbb} ${BAZ+ccc}', env: { FOO: 'xxx', BAR: '' }, expected: 'aaa bbb ', matches: ['BAR', 'FOO'], unmatched: ['BAZ'] },
  { input: '${FOO:+aaa} ${BAR:+bbb} ${BAZ:+ccc}', env: { FOO: 'xxx', BAR: '' }, expected: 'aaa  ', matches: ['BAR', 'FOO'], unmatched: ['BAZ'] },
  { input: '${FOO?aaa}', env: { FOO: 'xxx', BAR: '' }, expected: 'xxx', matches: ['FOO'] },
  { input: '${BAR?bbb}', env: { FOO: 'xxx', BAR: '' }, expected: '', matches: ['BAR'] },
  { input: '${BAZ?ccc}', env: { FOO: 'xxx', BAR: '' }, error: true },
  { input: '${FOO:?aaa}', env: { FOO: 'xxx', BAR: '' }, expected: 'xxx', matches: ['FOO'] },
  { input: '${BAR:?bbb}', env: { FOO: 'xxx', BAR: '' }, error: true },
  { input: '${BAZ:?ccc}', env: { FOO: 'xxx', BAR: '' }, error: true },
  { input: '${BAZ:?}', env: { FOO: 'xxx', BAR: '' }, error: true },
  { input: '${FOO=aaa}', env: { FOO: 'xxx', BAR: '' }, error: true },
  { input: '${FOO=:aaa}', env: { FOO: 'xxx', BAR: '' }, error: true },
  { input: '${FOO=}', env: {}, error: true },
  // regular-expression characters are literal; `\}` keeps the brace from closing the substitution
  { input: '${FOO#()[]{\\}^$.\\*\\?|\\\\}', env: { FOO: '()[]{}^$.*?|\\x' }, expected: 'x', matches: ['FOO'] },
  { input: '${FOO%%\\**}', env: { FOO: 'xx**' }, expected: 'xx', matches: ['FOO'] },
  { input: '${FOO#*x*y}', env: { FOO: 'xxyy' }, expected: 'y', matches: ['FOO'] },
  { input: '${FOO#*}', env: { FOO: 'xxyy' }, expected: 'xxyy', matches: ['FOO'] },
  { input: '${FOO#$BAR}', env: { FOO: 'xxyy', BAR: 'x' }, expected: 'xyy', matches: ['BAR', 'FOO'] },
  { input: '${FOO#$BAR}', env: { FOO: 'xxyy', BAR: '' }, expected: 'xxyy', matches: ['BAR', 'FOO'] },
  { input: '${FOO#}', env: { FOO: 'xxyy' }, expected: 'xxyy', matches: ['FOO'] },
  { input: '${FOO##*x}', env: { FOO: 'xxyy' }, expected: 'yy', matches: ['FOO'] },
  { input: '${FOO##}', env: { FOO: 'xxyy' }, expected: 'xxyy', matches: ['FOO'] },
  { input: '${FOO#?\\?}', env: { FOO: '???y' }, expected: '?y', matches: ['FOO'] },
  { input: '${ABC:-.}${FOO%x}${ABC:-.}', env: { FOO: 'xxyy' }, expected: '.xxyy.', matches: ['FOO'], unmatched: ['ABC'] },
  { input: '${FOO%%\\**\\*}', env: { FOO: 'a***yy*' }, expected: 'a', matches: ['FOO'] },
  { input: '${FOO%}', env: { FOO: 'xxyy' }, expected: 'xxyy', matches: ['FOO'] },
  { input: '${FOO%%$BAR}', env: { FOO: 'xxyy', BAR: '' }, expected: 'xxyy', matches: ['BAR', 'FOO'] },
  { input: '${FOO:#}', env: {}, error: true },
  { input: '${FOO:##}', env: {}, error: true },
  { input: '${FOO:%}', env: {}, error: true },
  { input: '${FOO:%%}', env: {}, error: true },
  // wildcards
  { input: '${FOO/$NEEDLE/.} - ${FOO//$NEEDLE/.}', env: { FOO: '/foo*/*/*.txt', NEEDLE: '\\*/' }, expected: '/foo.*/*.txt - /foo..*.txt', matches: ['FOO', 'NEEDLE'] },
  // `/` in patterns
  { input: '${FOO/$NEEDLE/} - ${FOO//$NEEDLE/}', env: { FOO: '/tmp/tmp/bar.txt', NEEDLE: '/tmp' }, expected: '/tmp/bar.txt - /bar.txt', matches: ['FOO', 'NEEDLE'] },
  {
    input: '${FOO/$NEEDLE/$REPLACEMENT} - ${FOO//$NEEDLE/$REPLACEMENT}',
    env: { FOO: '/a/foo/b/c.txt', NEEDLE: '/?/', REPLACEMENT: '/' },
    expected: '/foo/b/c.txt - /foo/c.txt',
    matches: ['FOO', 'NEEDLE', 'REPLACEMENT'],
  },
  {
    input: '${FOO/$NEEDLE/$REPLACEMENT}',
    env: { FOO: 'http://google.de', NEEDLE: 'http://', REPLACEMENT: 'https://' },
    expected: 'https://google.de',
    matches: ['FOO', 'NEEDLE', 'REPLACEMENT'],
  },
  // escaped separators: the escape stays in the replacement
  { input: '${FOO//\\//\\/}', env: { FOO: '/tmp/foo.txt' }, expected: '\\/tmp\\/foo.txt', matches: ['FOO'] },
  // partial input (BuildKit: "not guaranteed behavior", kept so it cannot crash)
  { input: '${FOO/$BAR/ww}', env: { FOO: 'xxyy', BAR: '' }, expected: 'wwxxyy', matches: ['BAR', 'FOO'] },
  { input: '${FOO//ww}', env: { FOO: 'xxyy' }, error: true },
  { input: '${FOO//}', env: { FOO: 'xxyy' }, error: true },
  { input: '${FOO///}', env: { FOO: 'xxyy' }, expected: 'xxyy', matches: ['FOO'] },
  { input: '${FOO///}', env: {}, expected: '', unmatched: ['FOO'] },
];

test(`lex_test.go TestProcessWithMatches: ${withMatches.length} cases, with the names used and unset`, () => {
  for (const c of withMatches) {
    if (c.error) {
      assert.throws(() => expandWord(c.input, c.env), InvalidArgument, c.input);
      continue;
    }
    const r = expandWord(c.input, c.env);
    assert.equal(r.value, c.expected, c.input);
    assert.deepEqual(matched(r), c.matches ?? [], `${c.input}: matches`);
    assert.deepEqual([...r.unmatched].sort(), c.unmatched ?? [], `${c.input}: unmatched`);
  }
});

test('lex_test.go TestProcessWithMatchesPlatform: a release file name with an optional variant', () => {
  const release = 'something-${VERSION}.${TARGETOS}-${TARGETARCH}${TARGETVARIANT:+-${TARGETVARIANT}}.tar.gz';
  const base = { VERSION: 'v1.2.3', TARGETOS: 'linux' };
  assert.equal(expandWord(release, { ...base, TARGETARCH: 'arm', TARGETVARIANT: 'v7' }).value, 'something-v1.2.3.linux-arm-v7.tar.gz');
  assert.equal(expandWord(release, { ...base, TARGETARCH: 'arm64', TARGETVARIANT: '' }).value, 'something-v1.2.3.linux-arm64.tar.gz');
  assert.equal(expandWord(release, { ...base, TARGETARCH: 'arm64' }).value, 'something-v1.2.3.linux-arm64.tar.gz');
});

test('lex_test.go TestConvertShellPatternToRegex, TestReverseString, TestReversePattern', () => {
  const { patternRegExp, reverseCodePoints, reversePattern } = patternInternals;
  // Go's expected source with its `.` spelled `[^\n]`: Go's dot stops only at a newline, JavaScript's at four.
  const sources: [string, string][] = [
    ['*', '^[^\\n]*'],
    ['?', '^[^\\n]'],
    ['\\*', '^\\*'],
    ['(()[]{\\}^$.\\*\\?|\\\\', '^\\(\\(\\)\\[\\]\\{\\}\\^\\$\\.\\*\\?\\|\\\\'],
  ];
  for (const [pattern, source] of sources) assert.equal(patternRegExp(pattern, true, true).source, source, pattern);
  for (const pattern of ['\\', '\\x', '\\\\\\']) assert.throws(() => patternRegExp(pattern, true, true), Error, pattern);

  assert.equal(reverseCodePoints('54321'), '12345');
  assert.equal(reverseCodePoints('🖖🚀👽'), '👽🚀🖖');

  const reversed: [string, string][] = [
    ['a\\*c', 'c\\*a'],
    ['\\\\\\ab', 'b\\a\\\\'],
    ['ab\\', '\\ba'],
    ['👽\\🚀🖖', '🖖\\🚀👽'],
    ['\\\\b', 'b\\\\'],
  ];
  for (const [pattern, expected] of reversed) assert.equal(reversePattern(pattern), expected, pattern);
});

test('errors are InvalidArgument, one line naming the word', () => {
  refused(() => expandWord('${X:?must be set}', {}), 'failed to process "${X:?must be set}": X: must be set');
  refused(() => expandWord('${X?}', {}), 'failed to process "${X?}": X: is not allowed to be unset');
  refused(() => expandWord('${X:?}', { X: '' }), 'failed to process "${X:?}": X: is not allowed to be empty');
  refused(() => expandWord("it's", {}), `failed to process "it's": unexpected end of statement while looking for matching single-quote`);
  refused(() => expandWord('"a', {}), 'failed to process "\\"a": unexpected end of statement while looking for matching double-quote');
  refused(() => expandWord('${}', {}), 'failed to process "${}": syntax error: bad substitution');
  refused(() => expandWord('${A', {}), `failed to process "\${A": syntax error: missing '}'`);
  refused(() => expandWord('${A:-b', {}), `failed to process "\${A:-b": syntax error: missing '}'`);
  refused(() => expandWord('${A/b}', {}), `failed to process "\${A/b}": syntax error: missing '/' in \${}`);
  refused(() => expandWord('${A:=b}', {}), 'failed to process "${A:=b}": unsupported modifier (:=) in substitution');
  refused(() => expandWord('${A#\\x}', { A: 'a' }), 'failed to process "${A#\\\\x}": invalid pattern (\\x) in substitution: invalid escape \'\\x\'');
  refused(() => expandWord('${A%a\\x}', { A: 'a' }), 'failed to process "${A%a\\\\x}": invalid pattern (a\\x) in substitution: invalid escape \'\\x\'');
});

test('names are case-sensitive; a Map or a plain record; inherited keys are not variables', () => {
  assert.equal(expandWord('$pwd|$PWD', { PWD: '/home' }).value, '|/home');
  assert.equal(expandWord('$A${B}', new Map([['A', '1'], ['B', '2']])).value, '12');
  const r = expandWord('[$toString][$constructor]', {});
  assert.equal(r.value, '[][]');
  assert.deepEqual([...r.unmatched].sort(), ['constructor', 'toString']);
});

test('a default word is expanded, and its variables counted, even when the default is not taken', () => {
  const r = expandWord('${A:-$B}', { A: 'a' });
  assert.equal(r.value, 'a');
  assert.deepEqual([...r.used].sort(), ['A', 'B']);
  assert.deepEqual([...r.unmatched], ['B']);
});

test('the backtick escape: backslash is then an ordinary character', () => {
  const env: Env = { X: 'x' };
  const tick = { escape: '`' } as const;
  assert.equal(expandWord('C:\\dir\\$X', env, tick).value, 'C:\\dir\\x');
  assert.equal(expandWord('a`$X `"', env, tick).value, 'a$X "');
  assert.equal(expandWord('"a`"b`$X``c`d"', env, tick).value, 'a"b$X`c`d');
  assert.deepEqual(expandWords('a` b c', env, tick), ['a b', 'c']);
  // patterns always escape with a backslash
  assert.equal(expandWord('${P#\\*}', { P: '*a' }, tick).value, 'a');
});

test('rawQuotes and rawEscapes keep what they name; substitution still happens', () => {
  const env: Env = { X: '1' };
  assert.equal(expandWord(`'a $X' "b $X" \\$X`, env, { rawQuotes: true }).value, `'a $X' "b 1" $X`);
  assert.deepEqual(expandWords(`'a b' "c d"e f`, env, { rawQuotes: true }), [`'a b'`, `"c d"e`, 'f']);
  assert.equal(expandWord('a\\ b\\$X', env, { rawEscapes: true }).value, 'a\\ b\\$X');
  assert.deepEqual(expandWords('a\\ b c', env, { rawEscapes: true }), ['a\\ b', 'c']);
  // BuildKit writes a kept escape twice in double quotes before a character it does not escape
  assert.equal(expandWord('"\\a\\$"', env, { rawEscapes: true }).value, '\\\\a\\$');
});

test('quotesAreLiteral (heredoc bodies): quotes are text, escapes still drop', () => {
  const env: Env = { X: '1' };
  assert.equal(expandWord(`echo '$X' "$X"\n`, env, { quotesAreLiteral: true }).value, `echo '1' "1"\n`);
  assert.equal(expandWord('\\$X a\\tb', env, { quotesAreLiteral: true }).value, '$X atb');
  assert.equal(expandWord("it's", env, { quotesAreLiteral: true }).value, "it's");
});

test('keepUnsetReferences leaves references to unset variables as written', () => {
  const keep = { keepUnsetReferences: true };
  assert.equal(expandWord('$A ${B} ${C:-x$S} ${D/a/b} $S', { S: 's' }, keep).value, '$A ${B} ${C:-xs} ${D/a/b} s');
  // as BuildKit rebuilds it, `//` comes back as `/`
  assert.equal(expandWord('${D//a/b}', {}, keep).value, '${D/a/b}');
  assert.deepEqual([...expandWord('$A', {}, keep).unmatched], ['A']);
});

test('special and positional parameters are never set; `$` before a non-name is literal', () => {
  assert.equal(expandWord('$1x $10x ${10}x $$ $@ $- $ $.', {}).value, 'x x x    $ $.');
  assert.equal(expandWord('cost: 5$', {}).value, 'cost: 5$');
  assert.equal(expandWord('${é}', { é: 'accent' }).value, 'accent');
});

test('words: splitting is after substitution; empty quotes vanish; a heredoc marker keeps its blanks', () => {
  const env: Env = { L: ' a  b ', E: '' };
  assert.deepEqual(expandWords('x${L}y "${L}"', env), ['x', 'a', 'b', 'y', ' a  b ']);
  assert.deepEqual(expandWords('a "" $E b', env), ['a', 'b']);
  assert.deepEqual(expandWords('cat << EOF > f', env), ['cat', '<< EOF', '>', 'f']);
  assert.deepEqual(expandWords('\u3000a\u00a0b\u0085c\ufeffd', env), ['a', 'b', 'c\ufeffd']);
  assert.equal(expandWord('a << b', env).value, 'a << b');
});

test('words around a nested default keep their prefix (BuildKit since 1.9 drops it: a shared buffer)', () => {
  assert.deepEqual(expandWords('80${P:-/tcp} "a${Q:-b}"', {}), ['80/tcp', 'ab']);
});

test('patterns: Go regexp semantics, where they differ from a shell', () => {
  // `*` does not cross a newline (Go's `.`), so the longest prefix stops at it.
  assert.equal(expandWord('${V##*}', { V: 'a\nb' }).value, '\nb');
  assert.equal(expandWord('${V%%*b}', { V: 'a\nb' }).value, 'a\n');
  // code points, not UTF-16 units
  assert.equal(expandWord('${V#?}|${V%?}', { V: '🖖x👽' }).value, 'x👽|🖖x');
  // replace-all skips an empty match right after a match, as Go does (JavaScript's replace would not)
  assert.equal(expandWord('${V//*/-}', { V: 'ab' }).value, '-');
  assert.equal(expandWord('${V///-}', { V: 'ab' }).value, '-a-b-');
  // replace-all reads the replacement as a Go template: `$0` is the match; replace-first does not
  assert.equal(expandWord('${V//b/$R}|${V/b/$R}', { V: 'abc', R: '<$0$$$x>' }).value, 'a<b$>c|a<$0$$$x>c');
  assert.equal(patternInternals.replaceAllLikeGo('ab', /b/u, '${0}${x$}'), 'ab${x$}');
});

test('a byte-order mark at the start is dropped, as Go reads text', () => {
  assert.equal(expandWord('\ufeff$A', { A: 'a' }).value, 'a');
  assert.equal(expandWord('x\ufeff', {}).value, 'x\ufeff');
});
