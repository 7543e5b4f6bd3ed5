import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseFlags, usageText, flagUsages } from '../../src/cli/flags.ts';
import type { FlagDef } from '../../src/cli/flags.ts';
import { InvalidArgument } from '../../src/errors.ts';

const runDefs = [
  { name: 'interactive', short: 'i', type: 'bool', description: 'Keep STDIN open even if not attached' },
  { name: 'tty', short: 't', type: 'bool', description: 'Allocate a pseudo-TTY' },
  { name: 'detach', short: 'd', type: 'bool', description: 'Run container in background and print container ID' },
  { name: 'rm', type: 'bool', description: 'Automatically remove the container when it exits' },
  { name: 'user', short: 'u', type: 'string', description: 'Username or UID (format: <name|uid>[:<group|gid>])' },
  { name: 'name', type: 'string', description: 'Assign a name to the container' },
  { name: 'env', short: 'e', type: 'list', description: 'Set environment variables' },
  { name: 'time', short: 's', type: 'int', default: 10, description: 'Seconds to wait' },
] as const satisfies readonly FlagDef[];

const run = (argv: string[]) => parseFlags(argv, runDefs, { interspersed: false });
const throwsMsg = (fn: () => unknown, message: string) =>
  assert.throws(fn, (e: unknown) => e instanceof InvalidArgument && e.message === message && e.exitCode === 125);

test('defaults are typed and filled in', () => {
  const r = run([]);
  assert.deepEqual(r.flags, { interactive: false, tty: false, detach: false, rm: false, user: '', name: '', env: [], time: 10 });
  assert.deepEqual(r.args, []);
  assert.equal(r.help, false);
  assert.equal(r.changed.size, 0);
  const tty: boolean = r.flags.tty;
  const env: string[] = r.flags.env;
  const time: number = r.flags.time;
  assert.equal(typeof tty + typeof env + typeof time, 'booleanobjectnumber');
});

test('long flags: --name value and --name=value', () => {
  assert.equal(run(['--name', 'web', 'busybox']).flags.name, 'web');
  assert.equal(run(['--name=web', 'busybox']).flags.name, 'web');
  assert.equal(run(['--name=', 'busybox']).flags.name, '');
  assert.equal(run(['--name', '-x', 'busybox']).flags.name, '-x', 'a value is taken even if it looks like a flag');
  assert.equal(run(['--name=a=b']).flags.name, 'a=b');
});

test('short flags: -u value, -uvalue, -u=value', () => {
  assert.equal(run(['-u', 'root', 'img']).flags.user, 'root');
  assert.equal(run(['-uroot', 'img']).flags.user, 'root');
  assert.equal(run(['-u=root', 'img']).flags.user, 'root');
});

test('combined short bools and bool-then-string groups', () => {
  const r = run(['-it', 'busybox', 'sh']);
  assert.equal(r.flags.interactive, true);
  assert.equal(r.flags.tty, true);
  assert.deepEqual(r.args, ['busybox', 'sh']);
  const d = run(['-dit', 'busybox']);
  assert.deepEqual([d.flags.detach, d.flags.interactive, d.flags.tty], [true, true, true]);
  const u = run(['-itu', 'root', 'busybox']);
  assert.deepEqual([u.flags.interactive, u.flags.tty, u.flags.user, u.args], [true, true, 'root', ['busybox']]);
  const v = run(['-ituroot', 'busybox']);
  assert.equal(v.flags.user, 'root');
  assert.deepEqual(v.args, ['busybox']);
  assert.equal(run(['-d=false']).flags.detach, false);
});

test('bool values: --rm, --rm=false, --rm=true, strconv.ParseBool spellings', () => {
  assert.equal(run(['--rm']).flags.rm, true);
  assert.equal(run(['--rm=false']).flags.rm, false);
  assert.equal(run(['--rm=true']).flags.rm, true);
  for (const f of ['0', 'f', 'F', 'FALSE', 'False']) assert.equal(run([`--rm=${f}`]).flags.rm, false);
  for (const t of ['1', 't', 'T', 'TRUE', 'True']) assert.equal(run([`--rm=${t}`]).flags.rm, true);
  assert.deepEqual(run(['--rm', 'false']).args, ['false'], 'a bool never consumes the next argument');
  throwsMsg(() => run(['--rm=yes']), 'invalid argument "yes" for "--rm" flag: strconv.ParseBool: parsing "yes": invalid syntax');
  throwsMsg(() => run(['-t=maybe']), 'invalid argument "maybe" for "-t, --tty" flag: strconv.ParseBool: parsing "maybe": invalid syntax');
});

test('list flags repeat and keep order', () => {
  const r = run(['-e', 'A=1', '--env', 'B=2', '-eC=3', '--env=D', 'img']);
  assert.deepEqual(r.flags.env, ['A=1', 'B=2', 'C=3', 'D']);
  assert.deepEqual(r.args, ['img']);
  const withDefault = parseFlags(['-l', 'x'], [{ name: 'label', short: 'l', type: 'list', default: ['a'], description: '' }]);
  assert.deepEqual(withDefault.flags.label, ['x'], 'first occurrence replaces the default');
});

test('int flags: decimal, Go base prefixes, errors', () => {
  assert.equal(run(['-s', '5']).flags.time, 5);
  assert.equal(run(['--time=-1']).flags.time, -1);
  assert.equal(run(['--time', '+7']).flags.time, 7);
  assert.equal(run(['--time', '0x1f']).flags.time, 31);
  assert.equal(run(['--time', '010']).flags.time, 8);
  assert.equal(run(['--time', '0b101']).flags.time, 5);
  assert.equal(run(['--time', '0o17']).flags.time, 15);
  assert.equal(run(['--time', '1_000']).flags.time, 1000);
  assert.equal(run(['--time', '0']).flags.time, 0);
  throwsMsg(() => run(['--time', 'abc']), 'invalid argument "abc" for "-s, --time" flag: strconv.ParseInt: parsing "abc": invalid syntax');
  throwsMsg(() => run(['-s', '1.5']), 'invalid argument "1.5" for "-s, --time" flag: strconv.ParseInt: parsing "1.5": invalid syntax');
  throwsMsg(() => run(['--time=']), 'invalid argument "" for "-s, --time" flag: strconv.ParseInt: parsing "": invalid syntax');
  throwsMsg(() => run(['--time', '1__0']), 'invalid argument "1__0" for "-s, --time" flag: strconv.ParseInt: parsing "1__0": invalid syntax');
  throwsMsg(
    () => run(['--time', '9223372036854775808']),
    'invalid argument "9223372036854775808" for "-s, --time" flag: strconv.ParseInt: parsing "9223372036854775808": value out of range',
  );
});

test('int error names a flag without shorthand as --name', () => {
  throwsMsg(
    () => parseFlags(['--count', 'x'], [{ name: 'count', type: 'int', description: '' }]),
    'invalid argument "x" for "--count" flag: strconv.ParseInt: parsing "x": invalid syntax',
  );
});

test('-- ends flags', () => {
  const r = parseFlags(['-i', '--', '-t', '--rm'], runDefs);
  assert.equal(r.flags.interactive, true);
  assert.equal(r.flags.tty, false);
  assert.deepEqual(r.args, ['-t', '--rm']);
});

test('interspersed=false stops at the first positional', () => {
  const r = run(['--rm', 'busybox', 'ls', '-l', '--rm']);
  assert.equal(r.flags.rm, true);
  assert.deepEqual(r.args, ['busybox', 'ls', '-l', '--rm']);
  const x = run(['-it', 'busybox', '--', 'x']);
  assert.deepEqual(x.args, ['busybox', '--', 'x']);
});

test('interspersed (default) parses flags after positionals', () => {
  const r = parseFlags(['web', '-t', 'db', '--rm'], runDefs);
  assert.deepEqual(r.args, ['web', 'db']);
  assert.equal(r.flags.tty, true);
  assert.equal(r.flags.rm, true);
});

test('"-" alone and empty strings are positionals', () => {
  assert.deepEqual(parseFlags(['-', '', 'x'], runDefs).args, ['-', '', 'x']);
});

test('unknown flags use pflag messages', () => {
  throwsMsg(() => run(['--foo']), 'unknown flag: --foo');
  throwsMsg(() => run(['--foo=bar']), 'unknown flag: --foo');
  throwsMsg(() => run(['-x']), "unknown shorthand flag: 'x' in -x");
  throwsMsg(() => run(['-xit']), "unknown shorthand flag: 'x' in -xit");
  throwsMsg(() => run(['-itx']), "unknown shorthand flag: 'x' in -x");
  throwsMsg(() => run(['---rm']), 'bad flag syntax: ---rm');
  throwsMsg(() => run(['--=x']), 'bad flag syntax: --=x');
});

test('missing values use pflag messages', () => {
  throwsMsg(() => run(['--name']), 'flag needs an argument: --name');
  throwsMsg(() => run(['-u']), "flag needs an argument: 'u' in -u");
  throwsMsg(() => run(['-itu']), "flag needs an argument: 'u' in -u");
  throwsMsg(() => run(['-e']), "flag needs an argument: 'e' in -e");
});

test('-h and --help are recognised unless defined', () => {
  assert.equal(run(['--help']).help, true);
  assert.equal(run(['-h']).help, true);
  assert.equal(run(['-ih']).help, true);
  assert.equal(run(['--rm', '-h', '--bogus']).help, true, 'parsing stops at help');
  assert.equal(run(['busybox', '--help']).help, false, 'after the image, --help belongs to the command');
  const own = parseFlags(['-h', 'x'], [{ name: 'hostname', short: 'h', type: 'string', description: '' }]);
  assert.equal(own.help, false);
  assert.equal(own.flags.hostname, 'x');
});

test('changed records the flags given', () => {
  const r = run(['--rm=false', '-e', 'A']);
  assert.deepEqual([...r.changed].sort(), ['env', 'rm']);
});

test('flagUsages aligns like pflag and sorts by name', () => {
  const defs: FlagDef[] = [
    { name: 'time', short: 't', type: 'int', default: 10, description: 'Seconds to wait before killing the container' },
    { name: 'signal', short: 's', type: 'string', description: 'Signal to send to the container' },
    { name: 'rm', type: 'bool', description: 'Remove' },
    { name: 'env', short: 'e', type: 'list', description: 'Set environment variables' },
    { name: 'format', type: 'string', default: 'table', description: 'Format output using a custom `template`' },
    { name: 'secret', type: 'bool', hidden: true, description: 'hidden' },
  ];
  assert.equal(
    flagUsages(defs),
    [
      '  -e, --env list          Set environment variables',
      '      --format template   Format output using a custom template (default "table")',
      '      --rm                Remove',
      '  -s, --signal string     Signal to send to the container',
      '  -t, --time int          Seconds to wait before killing the container (default 10)',
      '',
    ].join('\n'),
  );
});

test('usageText renders docker-style help', () => {
  const text = usageText('stop', '[OPTIONS] CONTAINER [CONTAINER...]', [
    { name: 'signal', short: 's', type: 'string', description: 'Signal to send to the container' },
    { name: 'timeout', short: 't', type: 'int', description: 'Seconds to wait before killing the container' },
  ], 'Stop one or more running containers');
  assert.equal(
    text,
    '\nUsage:  berth stop [OPTIONS] CONTAINER [CONTAINER...]\n\nStop one or more running containers\n\nOptions:\n' +
      '  -s, --signal string   Signal to send to the container\n' +
      '  -t, --timeout int     Seconds to wait before killing the container\n',
  );
  assert.equal(usageText('ps', '', []), '\nUsage:  berth ps\n');
});

test('usageText wraps long descriptions at 79 columns like docker', () => {
  const text = usageText('run', '[OPTIONS] IMAGE', [
    { name: 'rm', type: 'bool', description: 'Automatically remove the container and its associated anonymous volumes when it exits' },
    { name: 'add-host', type: 'list', description: 'Add a custom host-to-IP mapping (host:ip)' },
  ]);
  const lines = text.split('\n').filter((l) => l.startsWith(' '));
  assert.deepEqual(lines, [
    '      --add-host list   Add a custom host-to-IP mapping (host:ip)',
    '      --rm              Automatically remove the container and its',
    '                        associated anonymous volumes when it exits',
  ]);
  for (const l of lines) assert.ok(l.length <= 79);
});
