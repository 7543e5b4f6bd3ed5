/**
 * .dockerignore: moby/patternmatcher's own tables (patternmatcher_test.go, ignorefile_test.go) as data, then
 * what docker's context walk does with them (BuildKit's fsutil), the quirks Berth keeps on purpose, and the
 * `<Dockerfile>.dockerignore` rule.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { InvalidArgument } from '../../src/errors.ts';
import {
  IgnoreMatcher, compiledForm, ignoreFileFor, parseDockerignore, type IgnoreVerdict,
} from '../../src/dockerfile/dockerignore.ts';

const rejects = (patterns: string[], message?: RegExp) =>
  assert.throws(
    () => new IgnoreMatcher(patterns),
    (e: unknown) => e instanceof InvalidArgument && (message === undefined || message.test(e.message)),
  );

// ------------------------------------------------------------------------- ignorefile_test.go TestReadAll

describe('ignorefile TestReadAll', () => {
  test('no input: no patterns', () => assert.deepEqual(parseDockerignore(''), []));
  test('comments, blanks, leading slashes, spaced and lone exclusions', () => {
    const content = 'test1\n/test2\n/a/file/here\n\nlastfile\n# this is a comment\n! /inverted/abs/path\n!\n! ';
    assert.deepEqual(parseDockerignore(content), [
      'test1',
      'test2',
      'a/file/here',
      'lastfile',
      '!inverted/abs/path',
      '!',
      '!',
    ]);
  });
});

// ----------------------------------------------- patternmatcher_test.go: the package-level Matches tests
// Docker's package-level Matches cleans the path and never excludes "."; IgnoreMatcher.excludes does the same.

const packageLevel: [name: string, patterns: string[], path: string, want: boolean | 'error'][] = [
  ['TestWildcardMatches', ['*'], 'fileutils.go', true],
  ['TestPatternMatches', ['*.go'], 'fileutils.go', true],
  ['TestExclusionPatternMatchesPatternBefore', ['!fileutils.go', '*.go'], 'fileutils.go', true],
  ['TestPatternMatchesFolderExclusions', ['docs', '!docs/README.md'], 'docs/README.md', false],
  ['TestPatternMatchesFolderWithSlashExclusions', ['docs/', '!docs/README.md'], 'docs/README.md', false],
  ['TestPatternMatchesFolderWildcardExclusions', ['docs/*', '!docs/README.md'], 'docs/README.md', false],
  ['TestExclusionPatternMatchesPatternAfter', ['*.go', '!fileutils.go'], 'fileutils.go', false],
  ['TestExclusionPatternMatchesWholeDirectory', ['*.go'], '.', false],
  ['TestSingleExclamationError', ['!'], 'fileutils.go', 'error'],
  ['TestMatchesWithNoPatterns', [], '/any/path/there', false],
  ['TestMatchesWithMalformedPatterns', ['['], '/any/path/there', 'error'],
];

describe('patternmatcher package-level Matches', () => {
  for (const [name, patterns, path, want] of packageLevel) {
    test(name, () => {
      if (want === 'error') return rejects(patterns);
      assert.equal(new IgnoreMatcher(patterns).excludes(path), want);
    });
  }
});

// ---------------------------------------------------------------------- patternmatcher_test.go TestMatches

const matchesTests: [pattern: string, text: string, pass: boolean][] = [
  ["**", "file", true],
  ["**", "file/", true],
  ["**/", "file", true], // weird one
  ["**/", "file/", true],
  ["**", "/", true],
  ["**/", "/", true],
  ["**", "dir/file", true],
  ["**/", "dir/file", true],
  ["**", "dir/file/", true],
  ["**/", "dir/file/", true],
  ["**/**", "dir/file", true],
  ["**/**", "dir/file/", true],
  ["dir/**", "dir/file", true],
  ["dir/**", "dir/file/", true],
  ["dir/**", "dir/dir2/file", true],
  ["dir/**", "dir/dir2/file/", true],
  ["**/dir", "dir", true],
  ["**/dir", "dir/file", true],
  ["**/dir2/*", "dir/dir2/file", true],
  ["**/dir2/*", "dir/dir2/file/", true],
  ["**/dir2/**", "dir/dir2/dir3/file", true],
  ["**/dir2/**", "dir/dir2/dir3/file/", true],
  ["**file", "file", true],
  ["**file", "dir/file", true],
  ["**/file", "dir/file", true],
  ["**file", "dir/dir/file", true],
  ["**/file", "dir/dir/file", true],
  ["**/file*", "dir/dir/file", true],
  ["**/file*", "dir/dir/file.txt", true],
  ["**/file*txt", "dir/dir/file.txt", true],
  ["**/file*.txt", "dir/dir/file.txt", true],
  ["**/file*.txt*", "dir/dir/file.txt", true],
  ["**/**/*.txt", "dir/dir/file.txt", true],
  ["**/**/*.txt2", "dir/dir/file.txt", false],
  ["**/*.txt", "file.txt", true],
  ["**/**/*.txt", "file.txt", true],
  ["a**/*.txt", "a/file.txt", true],
  ["a**/*.txt", "a/dir/file.txt", true],
  ["a**/*.txt", "a/dir/dir/file.txt", true],
  ["a/*.txt", "a/dir/file.txt", false],
  ["a/*.txt", "a/file.txt", true],
  ["a/*.txt**", "a/file.txt", true],
  ["a[b-d]e", "ae", false],
  ["a[b-d]e", "ace", true],
  ["a[b-d]e", "aae", false],
  ["a[^b-d]e", "aze", true],
  [".*", ".foo", true],
  [".*", "foo", false],
  ["abc.def", "abcdef", false],
  ["abc.def", "abc.def", true],
  ["abc.def", "abcZdef", false],
  ["abc?def", "abcZdef", true],
  ["abc?def", "abcdef", false],
  ["a\\\\", "a\\", true],
  ["**/foo/bar", "foo/bar", true],
  ["**/foo/bar", "dir/foo/bar", true],
  ["**/foo/bar", "dir/dir2/foo/bar", true],
  ["abc/**", "abc", false],
  ["abc/**", "abc/def", true],
  ["abc/**", "abc/def/ghi", true],
  ["**/.foo", ".foo", true],
  ["**/.foo", "bar.foo", false],
  ["a(b)c/def", "a(b)c/def", true],
  ["a(b)c/def", "a(b)c/xyz", false],
  ["a.|)$(}+{bc", "a.|)$(}+{bc", true],
  ["dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl", "dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl", true],
  ["dist/*.whl", "dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl", true],
];
const multiPatternTests: [patterns: string[], text: string, pass: boolean][] = [
  [["**", "!util/docker/web"], "util/docker/web/foo", false],
  [["**", "!util/docker/web", "util/docker/web/foo"], "util/docker/web/foo", true],
  [["**", "!dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl"], "dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl", false],
  [["**", "!dist/*.whl"], "dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl", false],
];
/** Only where `\` escapes, which is everywhere but Windows. */
const nonWindowsTests: [pattern: string, text: string, pass: boolean][] = [
  ["a\\*b", "a*b", true],
];

describe('patternmatcher TestMatches', () => {
  const single = [...matchesTests, ...nonWindowsTests].map(([p, text, pass]) => [[p], text, pass] as const);
  const all = [...single, ...multiPatternTests];
  // MatchesUsingParentResults with each parent's results: the context walk, which excludes() replays.
  for (const [patterns, text, pass] of all) {
    test(`walk: ${JSON.stringify(patterns)} ${JSON.stringify(text)} → ${pass}`, () => {
      assert.equal(new IgnoreMatcher(patterns).excludes(text), pass);
    });
  }
  // MatchesOrParentMatches, and MatchesUsingParentResults with no parent results: the same computation.
  for (const [patterns, text, pass] of all) {
    test(`alone: ${JSON.stringify(patterns)} ${JSON.stringify(text)} → ${pass}`, () => {
      assert.equal(new IgnoreMatcher(patterns).verdict(text).excluded, pass);
    });
  }
  test.skip('MatchesUsingParentResult (one bool per parent): deprecated in docker (buildx#850), not offered');
});

// ------------------------------------------------------------------------ patternmatcher_test.go TestClean*

describe('patternmatcher TestCleanPatterns*', () => {
  test('TestCleanPatterns: both patterns kept', () => {
    const m = new IgnoreMatcher(['docs', 'config']);
    assert.deepEqual(['docs', 'config', 'other'].map((p) => m.excludes(p)), [true, true, false]);
  });
  test('TestCleanPatternsStripEmptyPatterns: an empty pattern is dropped, not an error', () => {
    const m = new IgnoreMatcher(['docs', 'config', '']);
    assert.deepEqual(['docs', 'config', 'other'].map((p) => m.excludes(p)), [true, true, false]);
  });
  for (const [name, exception] of [
    ['TestCleanPatternsExceptionFlag', '!docs/README.md'],
    ['TestCleanPatternsLeadingSpaceTrimmed', '  !docs/README.md'],
    ['TestCleanPatternsTrailingSpaceTrimmed', '!docs/README.md  '],
  ] as const) {
    test(`${name}: the exception counts`, () => {
      const m = new IgnoreMatcher(['docs', exception]);
      assert.equal(m.mayReinclude('docs'), true);
      assert.equal(m.excludes('docs/README.md'), false);
    });
  }
  test('TestCleanPatternsErrorSingleException', () => rejects(['!'], /illegal exclusion pattern: "!"/));
});

// -------------------------------------------------- patternmatcher_test.go TestMatch (Go's filepath tests)

const matchTests: [pattern: string, s: string, match: boolean, badPattern: boolean][] = [
  ["abc", "abc", true, false],
  ["*", "abc", true, false],
  ["*c", "abc", true, false],
  ["a*", "a", true, false],
  ["a*", "abc", true, false],
  ["a*", "ab/c", true, false],
  ["a*/b", "abc/b", true, false],
  ["a*/b", "a/c/b", false, false],
  ["a*b*c*d*e*/f", "axbxcxdxe/f", true, false],
  ["a*b*c*d*e*/f", "axbxcxdxexxx/f", true, false],
  ["a*b*c*d*e*/f", "axbxcxdxe/xxx/f", false, false],
  ["a*b*c*d*e*/f", "axbxcxdxexxx/fff", false, false],
  ["a*b?c*x", "abxbbxdbxebxczzx", true, false],
  ["a*b?c*x", "abxbbxdbxebxczzy", false, false],
  ["ab[c]", "abc", true, false],
  ["ab[b-d]", "abc", true, false],
  ["ab[e-g]", "abc", false, false],
  ["ab[^c]", "abc", false, false],
  ["ab[^b-d]", "abc", false, false],
  ["ab[^e-g]", "abc", true, false],
  ["a\\*b", "a*b", true, false],
  ["a\\*b", "ab", false, false],
  ["a?b", "a☺b", true, false],
  ["a[^a]b", "a☺b", true, false],
  ["a???b", "a☺b", false, false],
  ["a[^a][^a][^a]b", "a☺b", false, false],
  ["[a-ζ]*", "α", true, false],
  ["*[a-ζ]", "A", false, false],
  ["a?b", "a/b", false, false],
  ["a*b", "a/b", false, false],
  ["[\\]a]", "]", true, false],
  ["[\\-]", "-", true, false],
  ["[x\\-]", "x", true, false],
  ["[x\\-]", "-", true, false],
  ["[x\\-]", "z", false, false],
  ["[\\-x]", "x", true, false],
  ["[\\-x]", "-", true, false],
  ["[\\-x]", "a", false, false],
  ["[]a]", "]", false, true],
  ["[-]", "-", false, true],
  ["[x-]", "x", false, true],
  ["[x-]", "-", false, true],
  ["[x-]", "z", false, true],
  ["[-x]", "x", false, true],
  ["[-x]", "-", false, true],
  ["[-x]", "a", false, true],
  ["\\", "a", false, true],
  ["[a-b-c]", "a", false, true],
  ["[", "a", false, true],
  ["[^", "a", false, true],
  ["[^bc", "a", false, true],
  ["a[", "a", false, true], // was nil but IMO its wrong
  ["a[", "ab", false, true],
  ["*x", "xxx", true, false],
];

describe('patternmatcher TestMatch', () => {
  for (const [pattern, s, match, badPattern] of matchTests) {
    test(`${JSON.stringify(pattern)} ${JSON.stringify(s)} → ${badPattern ? 'ErrBadPattern' : match}`, () => {
      if (badPattern) return rejects([pattern], /syntax error in pattern/);
      assert.equal(new IgnoreMatcher([pattern]).excludes(s), match);
    });
  }
});

// -------------------------------------------------------------------- patternmatcher_test.go TestCompile

const compileTests: [pattern: string, kind: string, regexp: string, windowsRegexp: string][] = [
  ["*", "regexp", String.raw`^[^/]*$`, String.raw`^[^\\]*$`],
  ["file*", "regexp", String.raw`^file[^/]*$`, String.raw`^file[^\\]*$`],
  ["*file", "regexp", String.raw`^[^/]*file$`, String.raw`^[^\\]*file$`],
  ["a*/b", "regexp", String.raw`^a[^/]*/b$`, String.raw`^a[^\\]*\\b$`],
  ["**", "suffix", "", ""],
  ["**/**", "regexp", String.raw`^(.*/)?.*$`, String.raw`^(.*\\)?.*$`],
  ["dir/**", "prefix", "", ""],
  ["**/dir", "suffix", "", ""],
  ["**/dir2/*", "regexp", String.raw`^(.*/)?dir2/[^/]*$`, String.raw`^(.*\\)?dir2\\[^\\]*$`],
  ["**/dir2/**", "regexp", String.raw`^(.*/)?dir2/.*$`, String.raw`^(.*\\)?dir2\\.*$`],
  ["**file", "suffix", "", ""],
  ["**/file*txt", "regexp", String.raw`^(.*/)?file[^/]*txt$`, String.raw`^(.*\\)?file[^\\]*txt$`],
  ["**/**/*.txt", "regexp", String.raw`^(.*/)?(.*/)?[^/]*\.txt$`, String.raw`^(.*\\)?(.*\\)?[^\\]*\.txt$`],
  ["a[b-d]e", "regexp", String.raw`^a[b-d]e$`, String.raw`^a[b-d]e$`],
  [".*", "regexp", String.raw`^\.[^/]*$`, String.raw`^\.[^\\]*$`],
  ["abc.def", "exact", "", ""],
  ["abc?def", "regexp", String.raw`^abc[^/]def$`, String.raw`^abc[^\\]def$`],
  ["**/foo/bar", "suffix", "", ""],
  ["a(b)c/def", "exact", "", ""],
  ["a.|)$(}+{bc", "exact", "", ""],
  ["dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl", "exact", "", ""],
];

describe('patternmatcher TestCompile', () => {
  for (const [pattern, kind, regexp] of compileTests) {
    test(`slash: ${JSON.stringify(pattern)} is ${kind}`, () => {
      assert.deepEqual(compiledForm(pattern), kind === 'regexp' ? { kind, regexp } : { kind });
    });
  }
  test.skip('backslash: the same table with Windows separators (Berth matches slash-separated paths only)');
});

test('regression moby#52203: a class range Go cannot compile ("[Local-Only]") is refused, up front', () => {
  // Docker accepts it in New and fails at the first match; Berth refuses it when the matcher is built.
  rejects(['[Local-Only]/'], /^\.dockerignore: bad pattern "\[Local-Only\]\/": .*invalid character class range/);
});

// -------------------------------------------------------------------------------------- Berth's cases

describe('reading a .dockerignore', () => {
  test('comments only in the first column, blank lines and CRLF dropped, a BOM ignored', () => {
    const text = '\uFEFF# top comment\r\n\r\n   \r\n*.md\r\n  # indented: a pattern\r\n\t!README.md \r\n';
    assert.deepEqual(parseDockerignore(text), ['*.md', '# indented: a pattern', '!README.md']);
  });
  test('paths are cleaned like filepath.Clean and a leading / is dropped', () => {
    const text = ['/abs/path', './rel', 'a/./b//c/', 'a/../b', '../up', '/..', '!/x/../y', '!  ./z/'].join('\n');
    assert.deepEqual(parseDockerignore(text), ['abs/path', 'rel', 'a/b/c', 'b', '../up', '/', '!y', '!z']);
  });
  test('Go trims its own whitespace set: U+0085 goes, U+FEFF inside the file stays', () => {
    assert.deepEqual(parseDockerignore('\u0085a\u00a0\nb\n\uFEFFc'), ['a', 'b', '\uFEFFc']);
  });
});

describe('matching', () => {
  test('a directory pattern excludes everything under it; a later ! re-includes one child', () => {
    const m = new IgnoreMatcher(['dir', '!dir/keep']);
    assert.equal(m.excludes('dir'), true);
    assert.equal(m.excludes('dir/other'), true);
    assert.equal(m.excludes('dir/keep'), false);
    assert.equal(m.excludes('dir/keep/deeper'), false);
    assert.equal(m.excludes('dirt'), false);
  });
  test('**/*.log: at any depth, the top level included', () => {
    const m = new IgnoreMatcher(['**/*.log']);
    for (const p of ['a.log', 'x/a.log', 'x/y/z/a.log']) assert.equal(m.excludes(p), true, p);
    for (const p of ['a.log.txt', 'logs/a.txt', 'a.logx']) assert.equal(m.excludes(p), false, p);
  });
  test('later patterns override earlier ones', () => {
    const m = new IgnoreMatcher(['*.md', '!README.md', 'README.md']);
    assert.equal(m.excludes('README.md'), true);
    assert.equal(new IgnoreMatcher(['*.md', '!README.md']).excludes('README.md'), false);
    assert.equal(new IgnoreMatcher(['!README.md', '*.md']).excludes('README.md'), true);
  });
  test('the context root is never excluded', () => {
    const m = new IgnoreMatcher(['*', '**', '.']);
    assert.equal(m.excludes('.'), false);
    assert.equal(m.excludes(''), false);
  });
  test('leading / and ./ in the file mean the same as none', () => {
    const m = new IgnoreMatcher(parseDockerignore('/a\n./b/c\n'));
    assert.deepEqual(['a', 'b/c', 'b', 'x/a'].map((p) => m.excludes(p)), [true, true, false, false]);
  });
  test('BuildKit\'s own dockerignore test: ba*, Dockerfile, !bay, .dockerignore', () => {
    const m = new IgnoreMatcher(parseDockerignore('\nba*\nDockerfile\n!bay\n.dockerignore\n'));
    const kept = ['Dockerfile', 'foo', 'bar', 'baz', 'bay', '.dockerignore'].filter((p) => !m.excludes(p));
    assert.deepEqual(kept, ['foo', 'bay']);
  });
  test('the walk carries each parent\'s matches, so it can differ from testing a path alone', () => {
    const m = new IgnoreMatcher(['a', '!a/b', 'a']);
    assert.equal(m.excludes('a/b'), false);
    assert.equal(m.verdict('a/b').excluded, true);
    const parent = m.verdict('a');
    assert.equal(m.verdict('a/b', parent).excluded, false);
  });
});

describe('docker\'s quirks, kept on purpose', () => {
  test('[!a] is a class of "!" and "a", not a negation; [^a] negates', () => {
    const bang = new IgnoreMatcher(['x[!a]']);
    assert.deepEqual(['x!', 'xa', 'xb'].map((p) => bang.excludes(p)), [true, true, false]);
    const caret = new IgnoreMatcher(['x[^a]']);
    assert.deepEqual(['x!', 'xa', 'xb'].map((p) => caret.excludes(p)), [true, false, true]);
  });
  test('a negated class also matches "/" (Go regexp, not filepath.Match)', () => {
    assert.equal(new IgnoreMatcher(['a[^b]c']).excludes('a/c'), true);
    assert.equal(new IgnoreMatcher(['a?c']).excludes('a/c'), false);
  });
  test('\\ escapes a glob character; an escaped letter is a Go regexp escape', () => {
    assert.equal(new IgnoreMatcher(['a\\*b']).excludes('a*b'), true);
    assert.equal(new IgnoreMatcher(['a\\*b']).excludes('axb'), false);
    assert.equal(new IgnoreMatcher(['file\\[1\\]']).excludes('file[1]'), true);
    assert.equal(new IgnoreMatcher(['v\\d']).excludes('v1'), true);
    assert.equal(new IgnoreMatcher(['v\\d']).excludes('vd'), false);
    rejects(['v\\q'], /invalid escape sequence/);
  });
  test('POSIX classes work inside a class, as in Go regexp', () => {
    const m = new IgnoreMatcher(['log[[:digit:]]']);
    assert.deepEqual(['log1', 'logx'].map((p) => m.excludes(p)), [true, false]);
  });
  test('the rest of Go\'s regexp syntax that reaches it: octal, hex, \\Q…\\E, Perl and Unicode classes', () => {
    const cases: [pattern: string, yes: string, no: string][] = [
      ['\\101', 'A', '101'],
      ['\\x41b', 'Ab', 'x41b'],
      ['\\Qa.b\\E*', 'a\\.bcd', 'a.bcd'],
      ['x[[:^digit:]]', 'xa', 'x1'],
      ['x[\\d_]', 'x_', 'xa'],
      ['x\\D', 'xa', 'x1'],
      ['x\\s', 'x ', 'x\u00a0'],
      ['x\\pL', 'xé', 'x1'],
      ['\\Aab\\z', 'ab', 'abc'],
    ];
    for (const [pattern, yes, no] of cases) {
      const m = new IgnoreMatcher([pattern]);
      assert.equal(m.excludes(yes), true, `${pattern} ${yes}`);
      assert.equal(m.excludes(no), false, `${pattern} ${no}`);
    }
    for (const bad of ['x[[:nope:]]', 'x[[:constructor:]]', 'x\\pQ', 'x\\1', 'x\\C', '[\\b]']) rejects([bad], /error parsing regexp/);
  });
  test('** crosses directories but, like Go\'s ".", not a newline', () => {
    const m = new IgnoreMatcher(['a/**/b']);
    assert.equal(m.excludes('a/x/y/b'), true);
    assert.equal(m.excludes('a/x\ny/b'), false);
  });
  test('**foo is a suffix test and dir/** a prefix test', () => {
    assert.equal(new IgnoreMatcher(['**foo']).excludes('barfoo'), true);
    assert.equal(new IgnoreMatcher(['**/foo']).excludes('barfoo'), false);
    assert.equal(new IgnoreMatcher(['dir/**']).excludes('dir'), false);
    assert.equal(new IgnoreMatcher(['dir/**']).excludes('dir/x/y'), true);
    assert.equal(new IgnoreMatcher(['foo**']).excludes('foobar/baz'), true);
  });
  test('regexp characters are literal', () => {
    assert.equal(new IgnoreMatcher(['a+b(c)|{d}$.e']).excludes('a+b(c)|{d}$.e'), true);
    assert.equal(new IgnoreMatcher(['*.e+']).excludes('x.ee'), false);
  });
  test('? and * take one whole character beyond the BMP', () => {
    assert.equal(new IgnoreMatcher(['a?b']).excludes('a😀b'), true);
    assert.equal(new IgnoreMatcher(['a[^x]b']).excludes('a😀b'), true);
  });
});

describe('bad patterns', () => {
  test('one clear line naming the file and the pattern', () => {
    assert.throws(() => new IgnoreMatcher(['ok', '[']), { message: '.dockerignore: bad pattern "[": syntax error in pattern' });
    assert.throws(() => new IgnoreMatcher(['a\\'], 'Dockerfile.dockerignore'), {
      message: 'Dockerfile.dockerignore: bad pattern "a\\": syntax error in pattern',
    });
  });
  test('a range Go calls backwards', () => rejects(['[z-a]'], /invalid character class range: `z-a`/));
});

describe('mayReinclude: must the walk enter an excluded directory', () => {
  test('only where a ! pattern names a path at or under it', () => {
    const m = new IgnoreMatcher(['dir', 'other', '!dir/keep']);
    assert.equal(m.mayReinclude('dir'), true);
    assert.equal(m.mayReinclude('other'), false);
    assert.equal(m.mayReinclude('dirt'), false);
    assert.equal(m.mayReinclude('dir/keep'), true);
    assert.equal(m.mayReinclude('dir/else'), false);
  });
  test('no ! patterns: never', () => assert.equal(new IgnoreMatcher(['dir']).mayReinclude('dir'), false));
  test('a trailing /* or /** on the ! pattern does not count as a glob', () => {
    const m = new IgnoreMatcher(['dir', '!dir/sub/**', '!dir/two/*']);
    assert.equal(m.mayReinclude('dir'), true);
    assert.equal(m.mayReinclude('dir/sub'), true);
    assert.equal(m.mayReinclude('dir/zzz'), false);
  });
  test('any other glob character in a ! pattern: always (BuildKit cannot rule a directory out)', () => {
    const m = new IgnoreMatcher(['dir', 'other', '!**/keep']);
    assert.equal(m.mayReinclude('other'), true);
    assert.equal(new IgnoreMatcher(['x', '!y[12]']).mayReinclude('x'), true);
  });
});

/**
 * A context walk as BuildKit's fsutil does it, the pattern for the builder: each entry's verdict from its
 * parent's; an excluded directory entered only if mayReinclude says so, and listed only when something
 * under it is kept.
 */
function walk(tree: Record<string, string[]>, m: IgnoreMatcher, dir = '.', parent?: IgnoreVerdict): string[] {
  const kept: string[] = [];
  for (const name of tree[dir] ?? []) {
    const path = dir === '.' ? name : `${dir}/${name}`;
    const verdict = m.verdict(path, parent);
    if (!verdict.excluded) kept.push(path);
    if (!(path in tree) || (verdict.excluded && !m.mayReinclude(path))) continue;
    const below = walk(tree, m, path, verdict);
    if (verdict.excluded && below.length > 0) kept.push(path); // the directory goes along with what it holds
    kept.push(...below);
  }
  return kept;
}

test('a walk keeps a re-included file inside an excluded directory, and that directory for it', () => {
  const tree = {
    '.': ['Dockerfile', 'dir', 'node_modules', 'src'],
    dir: ['drop', 'keep'],
    node_modules: ['x'],
    src: ['a.ts', 'a.log'],
  };
  const m = new IgnoreMatcher(parseDockerignore('dir\nnode_modules\n**/*.log\n!dir/keep\n'));
  assert.deepEqual(walk(tree, m), ['Dockerfile', 'dir', 'dir/keep', 'src', 'src/a.ts']);
  // A ! pattern with a glob sends the walk into every excluded directory; one with nothing kept stays out.
  const globbed = new IgnoreMatcher(parseDockerignore('dir\nnode_modules\n!**/keep\n'));
  assert.deepEqual(walk(tree, globbed), ['Dockerfile', 'dir', 'dir/keep', 'src', 'src/a.ts', 'src/a.log']);
});

describe('ignoreFileFor: which ignore file a build uses', () => {
  const files = (entries: Record<string, string>) => (path: string) => entries[path];
  const ctx = '/ctx';
  test('<Dockerfile>.dockerignore beside the Dockerfile wins over the context\'s', () => {
    const read = files({ '/ctx/Dockerfile.dockerignore': 'a\n', '/ctx/.dockerignore': 'b\n' });
    assert.deepEqual(ignoreFileFor(ctx, join(ctx, 'Dockerfile'), read), { path: '/ctx/Dockerfile.dockerignore', patterns: ['a'] });
  });
  test('a named Dockerfile elsewhere: its own name plus .dockerignore, in its own directory', () => {
    const read = files({ '/src/ci/app.Dockerfile.dockerignore': '!x\n', '/ctx/.dockerignore': 'b\n' });
    assert.equal(ignoreFileFor(ctx, '/src/ci/app.Dockerfile', read)?.path, '/src/ci/app.Dockerfile.dockerignore');
    assert.equal(ignoreFileFor(ctx, '/src/ci/Dockerfile', read)?.path, '/ctx/.dockerignore');
  });
  test('otherwise the context\'s .dockerignore; neither: undefined', () => {
    assert.deepEqual(ignoreFileFor(ctx, '/ctx/Dockerfile', files({ '/ctx/.dockerignore': '*.md' })), { path: '/ctx/.dockerignore', patterns: ['*.md'] });
    assert.equal(ignoreFileFor(ctx, '/ctx/Dockerfile', files({})), undefined);
  });
  test('a Dockerfile from stdin has no ignore file of its own', () => {
    const read = files({ '/ctx/Dockerfile.dockerignore': 'a', '/ctx/.dockerignore': 'b' });
    assert.equal(ignoreFileFor(ctx, undefined, read)?.path, '/ctx/.dockerignore');
  });
  test('an empty <Dockerfile>.dockerignore still wins: it ignores nothing', () => {
    const read = files({ '/ctx/Dockerfile.dockerignore': '', '/ctx/.dockerignore': '*' });
    assert.deepEqual(ignoreFileFor(ctx, '/ctx/Dockerfile', read), { path: '/ctx/Dockerfile.dockerignore', patterns: [] });
  });
});
