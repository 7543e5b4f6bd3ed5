import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  renderTemplate, tableWriter, tabwrite, formatRows, humanSize, truncateId, goPrint, goJson, formatG,
} from '../../src/cli/format.ts';
import { humanDuration } from '../../src/engine/time.ts';
import { InvalidArgument } from '../../src/errors.ts';

const throwsMsg = (fn: () => unknown, message: string) =>
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof InvalidArgument, String(e));
    assert.equal(e.message, message);
    return true;
  });

const ctr = {
  ID: 'f1e2d3c4b5a6',
  Name: 'web',
  Args: ['-c', 'echo hi'],
  State: { Status: 'running', Running: true, Pid: 42, Health: null },
  Config: { Image: 'busybox', Env: ['A=1'], Labels: { 'com.example': 'x', app: 'demo' } },
  Empty: [],
};

test('fields, nested fields, map keys', () => {
  assert.equal(renderTemplate('{{.ID}}', ctr), 'f1e2d3c4b5a6');
  assert.equal(renderTemplate('{{.State.Status}} pid={{.State.Pid}}', ctr), 'running pid=42');
  assert.equal(renderTemplate('{{.Config.Labels.app}}', ctr), 'demo');
  assert.equal(renderTemplate('{{ .Name }}', ctr), 'web');
  assert.equal(renderTemplate('{{.}}', 'plain'), 'plain');
  assert.equal(renderTemplate('{{.a}}', new Map([['a', 1]])), '1');
});

test('Go default printing of values', () => {
  assert.equal(renderTemplate('{{.State.Running}}', ctr), 'true');
  assert.equal(renderTemplate('{{.State.Health}}', ctr), '<nil>');
  assert.equal(renderTemplate('{{.Missing}}', ctr), '<no value>');
  assert.equal(renderTemplate('{{.Missing.Deeper}}', ctr), '<no value>');
  assert.equal(renderTemplate('{{.Args}}', ctr), '[-c echo hi]');
  assert.equal(renderTemplate('{{.Config.Labels}}', ctr), 'map[app:demo com.example:x]');
  assert.equal(renderTemplate('{{.}}', { b: [1, 'x'], a: null, c: { d: true } }), 'map[a:<nil> b:[1 x] c:map[d:true]]');
  assert.equal(renderTemplate('{{.Empty}}', ctr), '[]');
  assert.equal(goPrint(1000000), '1000000');
  assert.equal(goPrint(-0), '0');
  assert.equal(goPrint(1.5), '1.5');
  assert.equal(goPrint(0.00001), '1e-05');
  assert.equal(goPrint(0.0001), '0.0001');
  assert.equal(goPrint(1234567.5), '1.2345675e+06');
  assert.equal(goPrint(123456.5), '123456.5');
});

test('json renders like encoding/json (compact, no HTML escaping, no newline)', () => {
  assert.equal(renderTemplate('{{json .Config}}', ctr), '{"Image":"busybox","Env":["A=1"],"Labels":{"com.example":"x","app":"demo"}}');
  assert.equal(renderTemplate('{{json .Args}}', ctr), '["-c","echo hi"]');
  assert.equal(renderTemplate('{{json .Missing}}', ctr), 'null');
  assert.equal(renderTemplate('{{json .State.Health}}', ctr), 'null');
  assert.equal(goJson({ s: '<a&b>\u2028' }), '{"s":"<a&b>\\u2028"}');
  assert.equal(renderTemplate('{{json .}}', 'x'), '"x"');
});

test('index, join, split, upper, lower, title, truncate, pad, len, println, print, printf', () => {
  assert.equal(renderTemplate('{{index .Config.Labels "com.example"}}', ctr), 'x');
  assert.equal(renderTemplate('{{index .Config.Labels "nope"}}', ctr), '<no value>');
  assert.equal(renderTemplate('{{index .Args 1}}', ctr), 'echo hi');
  assert.equal(renderTemplate('{{index . "a" "b"}}', { a: { b: 'deep' } }), 'deep');
  assert.equal(renderTemplate('{{join .Args " "}}', ctr), '-c echo hi');
  assert.equal(renderTemplate('{{join (split "a:b:c" ":") ","}}', ctr), 'a,b,c');
  assert.equal(renderTemplate('{{upper .Name}} {{lower "ABC"}} {{.Name | upper}}', ctr), 'WEB abc WEB');
  assert.equal(renderTemplate('{{title "hello world"}}', ctr), 'Hello World');
  assert.equal(renderTemplate('{{truncate .ID 4}}|{{pad "x" 1 2}}|{{len .Args}}', ctr), 'f1e2| x  |2');
  assert.equal(renderTemplate('{{println .Name .State.Pid}}', ctr), 'web 42\n');
  assert.equal(renderTemplate('{{print "a" "b" 1 2}}', ctr), 'ab1 2');
  assert.equal(renderTemplate('{{printf "%s:%d %5s|%-4s|%q" .Name .State.Pid "r" "l" "q"}}', ctr), 'web:42     r|l   |"q"');
  assert.equal(renderTemplate('{{.Name | printf "<%s>"}}', ctr), '<web>');
});

test('comparison and logic functions', () => {
  assert.equal(renderTemplate('{{eq .Name "web"}} {{ne .Name "web"}} {{not .Empty}}', ctr), 'true false true');
  assert.equal(renderTemplate('{{eq .State.Pid 1 2 42}} {{lt 1 2}} {{ge 1 2}}', ctr), 'true true false');
  assert.equal(renderTemplate('{{and .Name .Empty}}|{{or .Empty .Name}}', ctr), '[]|web');
});

test('escapes \\t and \\n in the template text are unescaped (docker preFormat)', () => {
  assert.equal(renderTemplate('{{.ID}}\\t{{.Name}}\\n', ctr), 'f1e2d3c4b5a6\tweb\n');
  assert.equal(renderTemplate('a\tb', ctr), 'a\tb');
  assert.equal(renderTemplate('{{join .Args "\\t"}}', ctr), '-c\techo hi');
});

test('range with {{.}}, else, maps (sorted), variables and $', () => {
  assert.equal(renderTemplate('{{range .Args}}[{{.}}]{{end}}', ctr), '[-c][echo hi]');
  assert.equal(renderTemplate('{{range .Empty}}x{{else}}none{{end}}', ctr), 'none');
  assert.equal(renderTemplate('{{range .Missing}}x{{else}}none{{end}}', ctr), 'none');
  assert.equal(renderTemplate('{{range .Config.Labels}}{{.}},{{end}}', ctr), 'demo,x,');
  assert.equal(renderTemplate('{{range $k, $v := .Config.Labels}}{{$k}}={{$v}};{{end}}', ctr), 'app=demo;com.example=x;');
  assert.equal(renderTemplate('{{range $i, $a := .Args}}{{$i}}:{{$a}} {{end}}', ctr), '0:-c 1:echo hi ');
  assert.equal(renderTemplate('{{range .Args}}{{$.Name}}{{end}}', ctr), 'webweb');
  assert.equal(renderTemplate('{{$n := .Name}}{{range .Args}}{{$n}}{{end}}', ctr), 'webweb');
  assert.equal(renderTemplate('{{range 3}}{{.}}{{end}}', ctr), '012');
});

test('if / else / else if / with', () => {
  assert.equal(renderTemplate('{{if .State.Running}}up{{else}}down{{end}}', ctr), 'up');
  assert.equal(renderTemplate('{{if .Empty}}some{{else}}empty{{end}}', ctr), 'empty');
  assert.equal(renderTemplate('{{if .Missing}}y{{end}}', ctr), '');
  assert.equal(renderTemplate('{{if .State.Health}}h{{else if eq .Name "web"}}web{{else}}other{{end}}', ctr), 'web');
  assert.equal(renderTemplate('{{if not .State.Health}}no health{{end}}', ctr), 'no health');
  assert.equal(renderTemplate('{{with .State}}{{.Status}}{{end}}', ctr), 'running');
  assert.equal(renderTemplate('{{with .Missing}}x{{else}}none{{end}}', ctr), 'none');
  assert.equal(renderTemplate('{{if 0}}a{{else}}b{{end}}{{if ""}}a{{else}}b{{end}}{{if .Config}}c{{end}}', ctr), 'bbc');
});

test('trim markers, comments, literals, parentheses and methods', () => {
  assert.equal(renderTemplate('a  {{- .Name -}}  b', ctr), 'awebb');
  assert.equal(renderTemplate('a{{/* note */}}b', ctr), 'ab');
  assert.equal(renderTemplate('{{"q\\"x"}} {{`raw\\n`}} {{42}} {{true}}', ctr), 'q"x raw\n 42 true');
  assert.equal(renderTemplate('{{(index .Args 1)}}', ctr), 'echo hi');
  const withMethod = { labels: { a: '1' }, Label(this: { labels: Record<string, string> }, k: string) { return this.labels[k] ?? ''; } };
  assert.equal(renderTemplate('{{.Label "a"}}|{{.Label "b"}}', withMethod), '1|');
  class Ctx { id: string; constructor(id: string) { this.id = id; } get ID() { return this.id.slice(0, 3); } }
  assert.equal(renderTemplate('{{.ID}}', new Ctx('abcdef')), 'abc');
  assert.equal(renderTemplate('{{.constructor}}{{.toString}}', {}), '<no value><no value>');
});

test('template errors are InvalidArgument("template parsing error: …")', () => {
  throwsMsg(() => renderTemplate('{{foo .ID}}', ctr), 'template parsing error: template: :1: function "foo" not defined');
  throwsMsg(() => renderTemplate('{{.ID', ctr), 'template parsing error: template: :1: unclosed action');
  throwsMsg(() => renderTemplate('a\n{{.ID}}\n{{if .ID}}', ctr), 'template parsing error: template: :3: unexpected EOF');
  throwsMsg(() => renderTemplate('{{end}}', ctr), 'template parsing error: template: :1: unexpected {{end}}');
  throwsMsg(() => renderTemplate('{{else}}', ctr), 'template parsing error: template: :1: unexpected {{else}}');
  throwsMsg(() => renderTemplate('{{}}', ctr), 'template parsing error: template: :1: missing value for command');
  throwsMsg(() => renderTemplate('{{.ID | }}', ctr), 'template parsing error: template: :1: missing value for command');
  throwsMsg(() => renderTemplate('{{(.ID}}', ctr), 'template parsing error: template: :1: unclosed left paren');
  throwsMsg(() => renderTemplate('{{.A #}}', ctr), "template parsing error: template: :1: bad character U+0023 '#'");
  throwsMsg(() => renderTemplate('{{$x}}', ctr), 'template parsing error: template: :1: undefined variable "$x"');
  throwsMsg(
    () => renderTemplate('{{.State.Health.Status}}', ctr),
    'template parsing error: template: :1: executing "" at <.State.Health.Status>: nil pointer evaluating interface {}.Status',
  );
  throwsMsg(
    () => renderTemplate('{{.Name.First}}', ctr),
    'template parsing error: template: :1: executing "" at <.Name.First>: can\'t evaluate field First in type string',
  );
  throwsMsg(
    () => renderTemplate('{{join .Args}}', ctr),
    'template parsing error: template: :1: executing "" at <join>: wrong number of args for join: want 2 got 1',
  );
});

test('tableWriter matches Go tabwriter(minwidth 10, tabwidth 1, padding 3, " ")', () => {
  assert.equal(
    tableWriter([['CONTAINER ID', 'IMAGE', 'NAMES'], ['abc', 'busybox', 'web']]),
    'CONTAINER ID   IMAGE     NAMES\nabc            busybox   web\n',
  );
  assert.equal(tableWriter([['a', 'b'], ['c', 'd']]), 'a         b\nc         d\n');
  assert.equal(tableWriter([['a', 'bbbbbbbbbbbb', 'x'], ['c', 'd', 'y']]), 'a         bbbbbbbbbbbb   x\nc         d              y\n');
  // A column exists only where the cell is tab-terminated; blocks are consecutive lines.
  assert.equal(tableWriter([['a', 'b', 'c'], ['dd', 'e']]), 'a         b         c\ndd        e\n');
  assert.equal(tableWriter([['aaaaaaaaaaaaaaa', 'b'], ['x'], ['c', 'd']]), 'aaaaaaaaaaaaaaa   b\nx\nc         d\n');
  assert.equal(tableWriter([['é', 'z']]), 'é         z\n');
  assert.equal(tableWriter([['a', ''], ['b', 'c']]), 'a         \nb         c\n');
  assert.equal(tableWriter([]), '');
  assert.equal(tabwrite('x\ty'), 'x         y');
});

const headers = { ID: 'CONTAINER ID', Image: 'IMAGE', Names: 'NAMES', Status: 'STATUS' };
const rows = [
  { ID: '0123456789ab', Image: 'busybox', Names: 'web', Status: 'Up 2 minutes' },
  { ID: 'ba9876543210', Image: 'nginx:latest', Names: 'proxy', Status: 'Exited (0) 1 second ago' },
];
const defaultTable = 'table {{.ID}}\\t{{.Image}}\\t{{.Names}}';

test('formatRows: default table, table alone, custom table, raw lines, json', () => {
  const expected =
    'CONTAINER ID   IMAGE          NAMES\n' +
    '0123456789ab   busybox        web\n' +
    'ba9876543210   nginx:latest   proxy\n';
  assert.equal(formatRows(undefined, defaultTable, headers, rows), expected);
  assert.equal(formatRows('', defaultTable, headers, rows), expected);
  assert.equal(formatRows('table', defaultTable, headers, rows), expected);
  assert.equal(
    formatRows('table {{.Names}}\\t{{.Status}}', defaultTable, headers, rows),
    'NAMES     STATUS\nweb       Up 2 minutes\nproxy     Exited (0) 1 second ago\n',
  );
  assert.equal(formatRows('{{.Names}}: {{.Status}}', defaultTable, headers, rows), 'web: Up 2 minutes\nproxy: Exited (0) 1 second ago\n');
  assert.equal(formatRows('{{.ID}}\\t{{.Names}}', defaultTable, headers, rows), '0123456789ab\tweb\nba9876543210\tproxy\n');
  assert.equal(formatRows('json', defaultTable, headers, rows.slice(0, 1)), '{"ID":"0123456789ab","Image":"busybox","Names":"web","Status":"Up 2 minutes"}\n');
  assert.equal(formatRows(undefined, defaultTable, headers, []), 'CONTAINER ID   IMAGE     NAMES\n');
  assert.equal(formatRows('{{.Names}}', defaultTable, headers, []), '');
});

test('formatRows: header functions pass header text through; errors surface', () => {
  assert.equal(formatRows('table {{upper .Names}}\\t{{json .ID}}', defaultTable, headers, rows.slice(0, 1)), 'NAMES     CONTAINER ID\nWEB       "0123456789ab"\n');
  assert.equal(formatRows('table {{.Nope}}', defaultTable, headers, []), '<no value>\n');
  throwsMsg(() => formatRows('table {{bad .ID}}', defaultTable, headers, rows), 'template parsing error: template: :1: function "bad" not defined');
});

test('humanDuration follows go-units thresholds', () => {
  const s = 1000, m = 60 * s, h = 60 * m, d = 24 * h;
  const cases: [number, string][] = [
    [-5 * s, 'Less than a second'], [0, 'Less than a second'], [999, 'Less than a second'],
    [s, '1 second'], [1999, '1 second'], [2 * s, '2 seconds'], [59 * s + 999, '59 seconds'],
    [m, 'About a minute'], [2 * m - 1, 'About a minute'], [2 * m, '2 minutes'], [59 * m + 59 * s, '59 minutes'],
    [h, 'About an hour'], [89 * m, 'About an hour'], [90 * m, '2 hours'], [47 * h, '47 hours'],
    [47 * h + 30 * m, '2 days'], [13 * d, '13 days'], [14 * d, '2 weeks'], [59 * d, '8 weeks'],
    [60 * d, '2 months'], [729 * d, '24 months'], [730 * d, '2 years'], [3650 * d, '10 years'],
  ];
  for (const [ms, want] of cases) assert.equal(humanDuration(ms), want, `${ms}ms`);
});

test('humanSize is go-units HumanSizeWithPrecision(size, 3) with decimal units', () => {
  const cases: [number, string][] = [
    [0, '0B'], [1, '1B'], [999, '999B'], [1000, '1kB'], [1234, '1.23kB'], [5600, '5.6kB'], [12345, '12.3kB'],
    [123456, '123kB'], [1234567, '1.23MB'], [4_400_000, '4.4MB'], [1e9, '1GB'], [999_500, '1e+03kB'],
    [1125, '1.12kB'], [1375, '1.38kB'], [1135, '1.14kB'], [1e24, '1YB'], [1e27, '1e+03YB'], [0.5, '0.5B'],
  ];
  for (const [n, want] of cases) assert.equal(humanSize(n), want, String(n));
  assert.equal(formatG(100, 3), '100');
  assert.equal(formatG(0.000012345, 3), '1.23e-05');
});

test('truncateId keeps 12 characters and drops an algorithm prefix', () => {
  assert.equal(truncateId('f1e2d3c4b5a6978877665544332211'), 'f1e2d3c4b5a6');
  assert.equal(truncateId('sha256:0123456789abcdef0123'), '0123456789ab');
  assert.equal(truncateId('abc'), 'abc');
});
