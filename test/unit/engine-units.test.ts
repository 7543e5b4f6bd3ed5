/**
 * Pure unit tests of the engine's leaf modules: no containers, no engine root. The store tests open a
 * SQLite file in a temporary directory.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { AlreadyExists, InvalidArgument, NameConflict } from '../../src/errors.ts';
import type { ContainerConfig } from '../../src/types.ts';
import { resolveUser } from '../../src/engine/user.ts';
import { parseSignal, signalNumber } from '../../src/engine/signals.ts';
import { familiarName, parseReference } from '../../src/registry/reference.ts';
import { applyChanges } from '../../src/image/changes.ts';
import { parseLogChunk } from '../../src/runtime/conmon/log.ts';
import { parseBytes } from '../../src/cli/create-flags.ts';
import { parseTmpfs, parseVolume } from '../../src/engine/config.ts';
import { inheritMounts, mergeMounts, parseMount } from '../../src/engine/mounts.ts';
import { openDb } from '../../src/store/db.ts';
import { migrations } from '../../src/store/migrations.ts';
import { ContainerRepo } from '../../src/store/containers.ts';
import { chooseRuntime, probeRuntimes, type CgroupInfo } from '../../src/runtime/probe.ts';

const isInvalid = (re?: RegExp) => (e: unknown) => {
  assert.ok(e instanceof InvalidArgument, `expected InvalidArgument, got ${String(e)}`);
  if (re) assert.match(e.message, re);
  return true;
};

// ---------------------------------------------------------------- resolveUser

const PASSWD = [
  'root:x:0:0:root:/root:/bin/sh',
  'daemon:x:1:1:daemon:/usr/sbin:/bin/false',
  'alice:x:1000:1000:Alice:/home/alice:/bin/sh',
  'bob:x:1001:100:Bob:/home/bob:/bin/sh',
  'nobody:x:65534:65534:nobody:/nonexistent:/bin/false',
  'broken line without fields',
  '',
].join('\n');

const GROUP = [
  'root:x:0:',
  'wheel:x:10:root,alice',
  'users:x:100:',
  'audio:x:29:alice,bob',
  'alice:x:1000:',
  'staff:x:50:bob',
  'nogroup:x:65534:',
  '',
].join('\n');

test('resolveUser: empty spec is root with /root home', () => {
  const u = resolveUser('', PASSWD, GROUP);
  assert.equal(u.uid, 0);
  assert.equal(u.gid, 0);
  assert.equal(u.home, '/root');
  assert.equal(u.name, 'root');
  assert.deepEqual(u.additionalGids, [10]);
});

test('resolveUser: empty spec in an image without /etc/passwd is uid 0; a named user must be found', () => {
  const u = resolveUser('', null, null);
  assert.deepEqual([u.uid, u.gid, u.home, u.additionalGids], [0, 0, '/', []]);
  assert.throws(() => resolveUser('root', null, null), /unable to find user root: no matching entries in passwd file/);
});

test('resolveUser: names resolve through passwd', () => {
  const u = resolveUser('bob', PASSWD, GROUP);
  assert.deepEqual([u.uid, u.gid, u.home, u.name], [1001, 100, '/home/bob', 'bob']);
  const n = resolveUser('nobody', PASSWD, GROUP);
  assert.deepEqual([n.uid, n.gid], [65534, 65534]);
});

test('resolveUser: a number that is in passwd takes that entry', () => {
  const u = resolveUser('1000', PASSWD, GROUP);
  assert.deepEqual([u.uid, u.gid, u.home, u.name], [1000, 1000, '/home/alice', 'alice']);
});

test('resolveUser: a number not in passwd is accepted with gid 0', () => {
  const u = resolveUser('4242', PASSWD, GROUP);
  assert.equal(u.uid, 4242);
  assert.equal(u.gid, 0);
  assert.deepEqual(u.additionalGids, []);
  assert.equal(u.home, '/');
});

test('resolveUser: works without any passwd or group file for numeric ids', () => {
  const u = resolveUser('123:456', null, null);
  assert.deepEqual([u.uid, u.gid], [123, 456]);
  assert.throws(() => resolveUser('alice', null, null), isInvalid(/unable to find user alice/));
});

test('resolveUser: user:group with names and numbers', () => {
  assert.deepEqual(
    (({ uid, gid }) => [uid, gid])(resolveUser('alice:staff', PASSWD, GROUP)),
    [1000, 50],
  );
  assert.deepEqual((({ uid, gid }) => [uid, gid])(resolveUser('alice:77', PASSWD, GROUP)), [1000, 77]);
  assert.deepEqual((({ uid, gid }) => [uid, gid])(resolveUser('1000:users', PASSWD, GROUP)), [1000, 100]);
  assert.deepEqual((({ uid, gid }) => [uid, gid])(resolveUser('5000:5001', PASSWD, GROUP)), [5000, 5001]);
});

test('resolveUser: an explicit group drops supplementary groups (libcontainer GetExecUser)', () => {
  assert.deepEqual(resolveUser('alice:staff', PASSWD, GROUP).additionalGids, []);
});

test('resolveUser: supplementary groups come from group membership', () => {
  assert.deepEqual(resolveUser('alice', PASSWD, GROUP).additionalGids.sort((a, b) => a - b), [10, 29]);
  assert.deepEqual(resolveUser('bob', PASSWD, GROUP).additionalGids.sort((a, b) => a - b), [29, 50]);
  assert.deepEqual(resolveUser('daemon', PASSWD, GROUP).additionalGids, []);
});

test('resolveUser: unknown user and unknown group are InvalidArgument', () => {
  assert.throws(() => resolveUser('nosuchuser', PASSWD, GROUP), isInvalid(/unable to find user nosuchuser/));
  assert.throws(() => resolveUser('alice:nosuchgroup', PASSWD, GROUP), isInvalid(/unable to find group nosuchgroup/));
  assert.throws(() => resolveUser('nosuchuser:staff', PASSWD, GROUP), isInvalid(/nosuchuser/));
});

test('resolveUser: malformed specs are InvalidArgument', () => {
  assert.throws(() => resolveUser(':staff', PASSWD, GROUP), isInvalid(/invalid user/));
  assert.throws(() => resolveUser('alice:', PASSWD, GROUP), isInvalid(/invalid user/));
  assert.throws(() => resolveUser('99999999999', PASSWD, GROUP), isInvalid(/out of range/));
  assert.throws(() => resolveUser('0:99999999999', PASSWD, GROUP), isInvalid(/out of range/));
});

// ---------------------------------------------------------------- parseSignal

test('parseSignal: names, SIG-names, numbers, lower case', () => {
  assert.equal(parseSignal('KILL'), 'SIGKILL');
  assert.equal(parseSignal('SIGKILL'), 'SIGKILL');
  assert.equal(parseSignal('9'), 'SIGKILL');
  assert.equal(parseSignal('kill'), 'SIGKILL');
  assert.equal(parseSignal('sigterm'), 'SIGTERM');
  assert.equal(parseSignal('15'), 'SIGTERM');
  assert.equal(parseSignal('HUP'), 'SIGHUP');
  assert.equal(parseSignal(' usr1 '), 'SIGUSR1');
});

test('parseSignal: real-time signals pass by number', () => {
  assert.equal(parseSignal('40'), '40');
  assert.equal(signalNumber('40'), 40);
  assert.equal(signalNumber('SIGKILL'), 9);
});

test('parseSignal: unknown names and numbers are InvalidArgument', () => {
  for (const bad of ['NOPE', 'SIGNOPE', '100', '65', '', '-9', 'KILL9', '9x']) {
    assert.throws(() => parseSignal(bad), isInvalid(/Invalid signal/), `parseSignal(${JSON.stringify(bad)})`);
  }
});

// ---------------------------------------------------------------- image references

test('parseReference: docker defaults', () => {
  assert.deepEqual(parseReference('busybox'), { repository: 'busybox', tag: 'latest' });
  assert.deepEqual(parseReference('busybox:1.36'), { repository: 'busybox', tag: '1.36' });
  assert.deepEqual(parseReference('library/busybox'), { repository: 'library/busybox', tag: 'latest' });
  assert.deepEqual(parseReference('localhost:5000/a/b:t'), { repository: 'localhost:5000/a/b', tag: 't' });
  assert.deepEqual(parseReference('localhost/a'), { repository: 'localhost/a', tag: 'latest' });
  assert.deepEqual(parseReference('quay.io/x/y:v1'), { repository: 'quay.io/x/y', tag: 'v1' });
});

test('familiarName: strips docker.io and library/', () => {
  assert.equal(familiarName('busybox'), 'busybox:latest');
  assert.equal(familiarName('docker.io/library/busybox:1'), 'busybox:1');
  assert.equal(familiarName('docker.io/busybox'), 'busybox:latest');
  assert.equal(familiarName('index.docker.io/library/alpine:3'), 'alpine:3');
  assert.equal(familiarName('docker.io/someone/app:2'), 'someone/app:2');
  assert.equal(familiarName('localhost:5000/a/b:t'), 'localhost:5000/a/b:t');
  assert.equal(familiarName('registry.example.com/team/app'), 'registry.example.com/team/app:latest');
});

test('parseReference: invalid references are InvalidArgument', () => {
  const bad = ['', 'UPPER', 'Busybox:1', 'a//b', 'busybox:', ':tag', '-lead', 'a:b:c', 'bad tag', `x:${'t'.repeat(129)}`, 'x:.dot', 'x/', '/x'];
  for (const ref of bad) {
    assert.throws(() => parseReference(ref), isInvalid(/invalid reference format/), `parseReference(${JSON.stringify(ref)})`);
  }
});

// ---------------------------------------------------------------- --change

test('applyChanges: CMD json and shell form, ENTRYPOINT', () => {
  assert.deepEqual(applyChanges({}, ['CMD ["sh", "-c", "echo hi"]']).Cmd, ['sh', '-c', 'echo hi']);
  assert.deepEqual(applyChanges({}, ['CMD echo hi there']).Cmd, ['/bin/sh', '-c', 'echo hi there']);
  // Not a JSON string array: shell form, as the Dockerfile parser does.
  assert.deepEqual(applyChanges({}, ['CMD [1, 2]']).Cmd, ['/bin/sh', '-c', '[1, 2]']);
  assert.deepEqual(applyChanges({}, ['ENTRYPOINT ["/init"]']).Entrypoint, ['/init']);
  assert.deepEqual(applyChanges({}, ['cmd ["lower"]']).Cmd, ['lower']);
});

test('applyChanges: ENV forms, overriding and not mutating the input', () => {
  const base = { Env: ['PATH=/bin', 'A=old'] };
  const out = applyChanges(base, ['ENV A=1 B="x y"', 'ENV C some value']);
  assert.deepEqual(out.Env, ['PATH=/bin', 'A=1', 'B=x y', 'C=some value']);
  assert.deepEqual(base.Env, ['PATH=/bin', 'A=old']);
  assert.throws(() => applyChanges({}, ['ENV NOVALUE']), isInvalid());
});

test('applyChanges: LABEL, WORKDIR, USER, STOPSIGNAL, EXPOSE, VOLUME', () => {
  const out = applyChanges({ Labels: { keep: '1' } }, [
    'LABEL a=b "c"="d e"',
    'WORKDIR /srv',
    'USER nobody',
    'STOPSIGNAL SIGINT',
    'EXPOSE 80 53/udp',
    'VOLUME /data /logs',
  ]);
  assert.equal(out.Labels?.a, 'b');
  assert.equal(out.Labels?.keep, '1');
  assert.equal(out.WorkingDir, '/srv');
  assert.equal(out.User, 'nobody');
  assert.equal(out.StopSignal, 'SIGINT');
  assert.deepEqual(out.ExposedPorts, { '80/tcp': {}, '53/udp': {} });
  assert.deepEqual(out.Volumes, { '/data': {}, '/logs': {} });
  assert.deepEqual(applyChanges({}, ['VOLUME ["/a", "/b"]']).Volumes, { '/a': {}, '/b': {} });
});

test('applyChanges: bad verbs and malformed changes are InvalidArgument', () => {
  assert.throws(() => applyChanges({}, ['FROM busybox']), isInvalid(/FROM is not a valid change command/));
  assert.throws(() => applyChanges({}, ['RUN echo']), isInvalid(/RUN is not a valid change command/));
  assert.throws(() => applyChanges({}, ['CMD']), isInvalid());
  assert.throws(() => applyChanges({}, ['']), isInvalid());
});

// ---------------------------------------------------------------- k8s-file log lines

const TS = '2024-05-01T10:00:00.123456789Z';

test('parseLogChunk: F and P lines, stdout and stderr', () => {
  const text = `${TS} stdout F hello\n${TS} stderr P part-\n${TS} stderr F rest\n${TS} stdout F with spaces  inside\n`;
  const { records, consumed } = parseLogChunk(Buffer.from(text));
  assert.equal(consumed, Buffer.byteLength(text));
  assert.deepEqual(
    records.map((r) => [r.time, r.stream, r.data.toString()]),
    [
      [TS, 'stdout', 'hello\n'],
      [TS, 'stderr', 'part-'],
      [TS, 'stderr', 'rest\n'],
      [TS, 'stdout', 'with spaces  inside\n'],
    ],
  );
});

test('parseLogChunk: an empty full line is a bare newline', () => {
  const { records } = parseLogChunk(Buffer.from(`${TS} stdout F \n`));
  assert.equal(records.length, 1);
  assert.equal(records[0]!.data.toString(), '\n');
});

test('parseLogChunk: a partial trailing line is left unconsumed', () => {
  const first = `${TS} stdout F one\n`;
  const buf = Buffer.from(`${first}${TS} stdout F tw`);
  const { records, consumed } = parseLogChunk(buf);
  assert.equal(records.length, 1);
  assert.equal(consumed, Buffer.byteLength(first));
  assert.equal(buf.subarray(consumed).toString(), `${TS} stdout F tw`);
  const none = parseLogChunk(Buffer.from(`${TS} stdout F no newline`));
  assert.deepEqual([none.records.length, none.consumed], [0, 0]);
});

test('parseLogChunk: binary bytes pass through unchanged', () => {
  const body = Buffer.from([0xff, 0x00, 0xfe, 0x20, 0x41]);
  const buf = Buffer.concat([Buffer.from(`${TS} stdout P `), body, Buffer.from('\n')]);
  const { records } = parseLogChunk(buf);
  assert.deepEqual(records[0]!.data, body);
});

test('parseLogChunk: malformed lines are skipped', () => {
  const { records, consumed } = parseLogChunk(Buffer.from(`garbage\n${TS} stdout\n${TS} stdout F ok\n`));
  assert.deepEqual(records.map((r) => r.data.toString()), ['ok\n']);
  assert.equal(consumed, Buffer.byteLength(`garbage\n${TS} stdout\n${TS} stdout F ok\n`));
});

// ---------------------------------------------------------------- sizes

test('parseBytes: docker RAMInBytes units', () => {
  assert.equal(parseBytes('512m', '-m'), 512 * 1024 * 1024);
  assert.equal(parseBytes('1g', '-m'), 1024 ** 3);
  assert.equal(parseBytes('1G', '-m'), 1024 ** 3);
  assert.equal(parseBytes('100k', '-m'), 102400);
  assert.equal(parseBytes('1024', '-m'), 1024);
  assert.equal(parseBytes('64MB', '-m'), 64 * 1024 * 1024);
  assert.equal(parseBytes('1.5g', '-m'), 1.5 * 1024 ** 3);
  assert.equal(parseBytes('2b', '-m'), 2);
});

test('parseBytes: bad sizes are InvalidArgument naming the flag', () => {
  for (const bad of ['abc', '-5', '', 'm', '10x', '1e6', '5 m b', '0x10']) {
    assert.throws(() => parseBytes(bad, '-m, --memory'), isInvalid(/for "-m, --memory" flag/), `parseBytes(${JSON.stringify(bad)})`);
  }
});

// ---------------------------------------------------------------- volumes and tmpfs

test('parseVolume: a good bind, modes and normalisation', () => {
  const m = parseVolume('/tmp:/data/../x:ro');
  assert.equal(m.type, 'bind');
  assert.equal(m.source, '/tmp');
  assert.equal(m.destination, '/x');
  assert.equal(m.readonly, true);
  const rw = parseVolume('/tmp:/y:rw,rshared');
  assert.equal(rw.readonly, false);
  assert.deepEqual(rw.options, ['rshared']);
});

test('parseVolume: errors', () => {
  assert.throws(() => parseVolume('named'), isInvalid(/invalid volume specification/));
  assert.throws(() => parseVolume('./rel:/x'), isInvalid(/a bind source must be an absolute path/));
  assert.throws(() => parseVolume('a/b:/x'), isInvalid(/invalid characters for a local volume name/));
  assert.throws(() => parseVolume('/tmp:relative'), isInvalid(/destination must be an absolute path/));
  assert.throws(() => parseVolume('/tmp:/'), isInvalid(/destination must be an absolute path other than \//));
  assert.throws(() => parseVolume('/tmp:/x:bogus'), isInvalid(/invalid mode: bogus/));
  assert.throws(() => parseVolume('/tmp:/x:ro:extra'), isInvalid(/invalid volume specification/));
  assert.throws(() => parseVolume('/nonexistent/x:/x'), isInvalid(/bind source path does not exist: \/nonexistent\/x/));
});

test('parseVolume: named and anonymous volumes', () => {
  assert.deepEqual(parseVolume('data:/var/lib/db:ro,nocopy'), {
    type: 'volume', source: 'data', destination: '/var/lib/db', readonly: true, options: [], noCopy: true,
  });
  const anon = parseVolume('/scratch/', () => 'f'.repeat(64));
  assert.deepEqual(anon, { type: 'volume', source: 'f'.repeat(64), destination: '/scratch', readonly: false, options: [], anonymous: true });
});

test('parseMount: each type, options, and docker-style errors', () => {
  const b = parseMount('type=bind,source=/tmp,target=/t,readonly,bind-propagation=rslave');
  assert.deepEqual(b.mount, { type: 'bind', source: '/tmp', destination: '/t', readonly: true, options: ['rslave'] });
  const v = parseMount('src=db,dst=/d,volume-opt=type=tmpfs,volume-opt=device=tmpfs,volume-label=a=b');
  assert.equal(v.mount.type, 'volume');
  assert.deepEqual(v.volume, { name: 'db', anonymous: false, options: { type: 'tmpfs', device: 'tmpfs' }, labels: { a: 'b' } });
  const t = parseMount('type=tmpfs,dst=/t,tmpfs-size=64m,tmpfs-mode=700');
  assert.deepEqual(t.mount.options, [`size=${64 * 1024 * 1024}`, 'mode=0700']);
  const anon = parseMount('type=volume,dst=/a', () => 'e'.repeat(64));
  assert.equal(anon.mount.anonymous, true);
  const bad = (spec: string, why: RegExp) => assert.throws(() => parseMount(spec), isInvalid(why));
  bad('type=bind,src=/tmp', /for "--mount" flag: target is required/);
  bad('type=nfs,dst=/x', /invalid mount type "nfs"/);
  bad('type=bind,src=/tmp,dst=/x,color=red', /unexpected key 'color'/);
  bad('type=bind,dst=/x', /source is required when type is bind/);
  bad('type=tmpfs,dst=/x,bind-propagation=rslave', /bind-propagation is not allowed with type=tmpfs/);
  bad('type=bind,src=/tmp,dst=/x,readonly=maybe', /invalid value for readonly: maybe/);
  bad('type=volume,src=x,dst=relative', /invalid mount target "relative"/);
});

test('mergeMounts: user mounts win over inherited ones, and both over image volumes', () => {
  const user = [parseVolume('/tmp:/a')];
  const inherited = [{ type: 'volume' as const, source: 'v', destination: '/a', readonly: false, options: [] }, { type: 'volume' as const, source: 'w', destination: '/b', readonly: true, options: [] }];
  const out = mergeMounts(user, inherited, ['/a', '/b', '/c/'], () => 'c'.repeat(64));
  assert.deepEqual(out.map((m) => `${m.type}:${m.source.slice(0, 3)}:${m.destination}`), ['bind:/tm:/a', 'volume:w:/b', 'volume:ccc:/c']);
  assert.throws(() => mergeMounts([parseVolume('/tmp:/a'), parseVolume('/tmp:/a')], [], [], () => ''), isInvalid(/Duplicate mount point: \/a/));
  assert.deepEqual(inheritMounts('x:ro', [parseVolume('/tmp:/a'), parseTmpfs('/t')]).map((m) => m.readonly), [true]);
  for (const dest of ['/proc', '/proc/sys', '/sys', '/sys/fs/cgroup']) {
    assert.throws(() => mergeMounts([parseTmpfs(dest)], [], [], () => ''), isInvalid(/mounts over \/proc and \/sys are not allowed/));
  }
  assert.equal(mergeMounts([parseTmpfs('/system')], [], [], () => '').length, 1, 'a sibling name is not /sys');
});

test('parseTmpfs: options and errors', () => {
  const t = parseTmpfs('/run/x:size=1m,ro,noexec');
  assert.deepEqual(
    { type: t.type, destination: t.destination, readonly: t.readonly, options: t.options },
    { type: 'tmpfs', destination: '/run/x', readonly: true, options: ['size=1m', 'noexec'] },
  );
  assert.equal(parseTmpfs('/t').readonly, false);
  assert.throws(() => parseTmpfs('relative'), isInvalid(/not an absolute path/));
  assert.throws(() => parseTmpfs(':size=1m'), isInvalid());
});

// ---------------------------------------------------------------- the state store

const tmp = mkdtempSync('/tmp/berth-unit-store-');
after(() => rmSync(tmp, { recursive: true, force: true }));

function cfg(): ContainerConfig {
  return {
    image: 'busybox', imageId: 'f'.repeat(64), args: ['sh'], entrypoint: null, cmd: ['sh'], env: ['PATH=/bin'],
    cwd: '/', user: '', uid: 0, gid: 0, additionalGids: [], hostname: '', tty: false, openStdin: false,
    readonlyRootfs: false, mounts: [], rlimits: [], resources: {}, labels: { a: 'b' }, annotations: {},
    stopSignal: 'SIGTERM', stopTimeout: 10, init: false, autoRemove: false, runtime: 'runc',
  };
}

function insert(repo: ContainerRepo, id: string, name: string, state: 'creating' | 'created' = 'created'): void {
  repo.insert({ id, name, imageId: 'f'.repeat(64), config: cfg(), state, createdAt: new Date().toISOString(), lockPid: 0, lockStart: 0 });
}

const ID_A = 'abc1' + '0'.repeat(60);
const ID_B = 'abc2' + '0'.repeat(60);
const ID_C = 'def0' + '1'.repeat(60);

test('store: openDb migrates and sets user_version; reopening is idempotent', () => {
  const path = join(tmp, 'migrate.db');
  const db = openDb(path);
  const v = (db.prepare('PRAGMA user_version').get() as { user_version: number }).user_version;
  assert.equal(v, migrations.length);
  assert.ok(v >= 1);
  const tables = (db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").all() as { name: string }[]).map((r) => r.name);
  for (const t of ['containers', 'images', 'layers', 'tags']) assert.ok(tables.includes(t), `table ${t}`);
  const mode = (db.prepare('PRAGMA journal_mode').get() as { journal_mode: string }).journal_mode;
  assert.equal(mode, 'wal');
  db.close();
  const again = openDb(path);
  assert.equal((again.prepare('PRAGMA user_version').get() as { user_version: number }).user_version, migrations.length);
  again.close();
  assert.ok(existsSync(path));
});

test('store: ContainerRepo insert and lookup by name, full id, unique prefix, ambiguous prefix', () => {
  const db = openDb(join(tmp, 'lookup.db'));
  try {
    const repo = new ContainerRepo(db);
    insert(repo, ID_A, 'alpha');
    insert(repo, ID_B, 'beta');
    insert(repo, ID_C, 'gamma');

    const got = repo.get(ID_A)!;
    assert.equal(got.name, 'alpha');
    assert.equal(got.state, 'created');
    assert.deepEqual(got.config, cfg());
    assert.equal(got.mounted, false);

    assert.equal(repo.lookup('alpha').row?.id, ID_A);
    assert.equal(repo.lookup('/beta').row?.id, ID_B);
    assert.equal(repo.lookup(ID_C).row?.id, ID_C);
    assert.equal(repo.lookup('def').row?.id, ID_C);
    assert.equal(repo.lookup('abc1').row?.id, ID_A);
    const amb = repo.lookup('abc');
    assert.equal(amb.row, undefined);
    assert.deepEqual(amb.ambiguous?.sort(), [ID_A, ID_B]);
    assert.deepEqual(repo.lookup('nosuch'), {});
    assert.deepEqual(repo.lookup('0123'), {});
    assert.equal(repo.list().length, 3);
  } finally {
    db.close();
  }
});

test('store: an exact name wins over an id prefix', () => {
  const db = openDb(join(tmp, 'nameprefix.db'));
  try {
    const repo = new ContainerRepo(db);
    insert(repo, ID_A, 'first');
    insert(repo, ID_C, 'abc1');
    assert.equal(repo.lookup('abc1').row?.id, ID_C);
  } finally {
    db.close();
  }
});

test('store: duplicate name is NameConflict naming the holder; duplicate id is AlreadyExists', () => {
  const db = openDb(join(tmp, 'conflict.db'));
  try {
    const repo = new ContainerRepo(db);
    insert(repo, ID_A, 'taken');
    assert.throws(
      () => insert(repo, ID_B, 'taken'),
      (e: unknown) => e instanceof NameConflict && e.message.includes('"/taken"') && e.message.includes(ID_A) && e.exitCode === 125,
    );
    assert.throws(() => insert(repo, ID_A, 'other'), (e: unknown) => e instanceof AlreadyExists && !(e instanceof NameConflict));
    assert.equal(repo.list().length, 1);
    // Renaming onto a taken name is a NameConflict too.
    insert(repo, ID_B, 'free');
    assert.throws(() => repo.update(ID_B, { name: 'taken' }), (e: unknown) => e instanceof NameConflict && e.message.includes(ID_A));
    assert.equal(repo.get(ID_B)?.name, 'free');
  } finally {
    db.close();
  }
});

test('store: update with whenState only changes rows in those states', () => {
  const db = openDb(join(tmp, 'update.db'));
  try {
    const repo = new ContainerRepo(db);
    insert(repo, ID_A, 'u1', 'creating');
    assert.equal(repo.update(ID_A, { state: 'running' }, ['created']), 0);
    assert.equal(repo.get(ID_A)?.state, 'creating');
    assert.equal(repo.update(ID_A, { state: 'created', mounted: true, exitCode: 3 }, ['creating', 'created']), 1);
    const r = repo.get(ID_A)!;
    assert.deepEqual([r.state, r.mounted, r.exitCode], ['created', true, 3]);
    assert.equal(repo.update(ID_A, {}), 0);
    assert.equal(repo.update(ID_C, { state: 'exited' }), 0);
    assert.equal(repo.update(ID_A, { lockPid: 42, lockStart: 7 }), 1);
    assert.deepEqual(repo.locked().map((x) => x.id), [ID_A]);
    repo.delete(ID_A);
    assert.equal(repo.get(ID_A), undefined);
    assert.deepEqual(repo.locked(), []);
  } finally {
    db.close();
  }
});

test('store: the schema refuses an unknown state and a short id', () => {
  const db = openDb(join(tmp, 'schema.db'));
  try {
    const repo = new ContainerRepo(db);
    insert(repo, ID_A, 's1');
    assert.throws(() => repo.update(ID_A, { state: 'bogus' as 'exited' }), /CHECK constraint/);
    assert.throws(() => insert(repo, 'abc', 's2'), /CHECK constraint/);
  } finally {
    db.close();
  }
});

// ---------------------------------------------------------------- runtime probe

const hasCrun = existsSync('/usr/bin/crun') || existsSync('/usr/local/bin/crun');
const hasRunc = ['/usr/sbin/runc', '/usr/bin/runc', '/usr/local/sbin/runc', '/usr/local/bin/runc'].some((p) => existsSync(p));
const both = hasCrun && hasRunc ? false : 'needs both crun and runc installed';

test('probeRuntimes: hybrid with v2 controllers runs crun through berth-v1-view, and refuses it with the reason when that is not built', { skip: both }, () => {
  const cg: CgroupInfo = { mode: 'hybrid', version: 1, v2Controllers: ['hugetlb'] };
  const c = probeRuntimes(cg, {}, 'the configuration', '/opt/berth/berth-v1-view');
  const crun = c.find((x) => x.name === 'crun')!;
  assert.equal(crun.usable, true);
  assert.equal(crun.launcher, '/opt/berth/berth-v1-view');
  assert.match(crun.reason, /mount namespace without the v2 hierarchy .*hugetlb/);
  assert.ok(crun.path.endsWith('/crun'), 'the runtime is still crun; the launcher only runs it');
  assert.equal(c.find((x) => x.name === 'runc')!.launcher, undefined, 'runc takes the hybrid layout as it is');
  assert.equal(chooseRuntime(c).chosen?.name, 'crun');
  // A configured runtime whose binary is crun is run the same way.
  const conf = probeRuntimes(cg, { fast: { path: crun.path, runtimeArgs: ['--debug'] } }, 'daemon.json', '/opt/berth/berth-v1-view');
  assert.equal(conf.find((x) => x.name === 'fast')!.launcher, '/opt/berth/berth-v1-view');

  const unbuilt = probeRuntimes(cg, {}, 'the configuration', null);
  const refused = unbuilt.find((x) => x.name === 'crun')!;
  assert.equal(refused.usable, false);
  assert.match(refused.reason, /crun refuses hybrid cgroups .*\(hugetlb\), and berth-v1-view, which hides it, is not built/);
  const { chosen, why } = chooseRuntime(unbuilt);
  assert.equal(chosen?.name, 'runc');
  assert.match(why, /crun refuses hybrid/);
});

test("probeRuntimes: an ordinary user's runtimes keep state in its runtime dir; on hybrid crun runs through berth-v1-view, which covers the v2 hierarchy", { skip: both }, () => {
  const cg: CgroupInfo = { mode: 'hybrid', version: 1, v2Controllers: ['hugetlb'] };
  const c = probeRuntimes(cg, {}, 'the configuration', '/opt/berth/berth-v1-view', { runDir: '/tmp/berth-run-1001' });
  const crun = c.find((x) => x.name === 'crun')!;
  assert.equal(crun.launcher, '/opt/berth/berth-v1-view');
  assert.deepEqual(crun.runtimeArgs, ['--root', '/tmp/berth-run-1001/crun']);
  assert.match(crun.reason, /covered by an empty tmpfs.*hugetlb/);
  assert.deepEqual(c.find((x) => x.name === 'runc')!.runtimeArgs, ['--root', '/tmp/berth-run-1001/runc']);
  assert.equal(chooseRuntime(c).chosen?.name, 'crun');
  const unbuilt = probeRuntimes(cg, {}, 'the configuration', null, { runDir: '/tmp/berth-run-1001' });
  assert.equal(chooseRuntime(unbuilt).chosen?.name, 'runc');
});

test('probeRuntimes: hybrid with an empty v2 hierarchy lets crun run', { skip: both }, () => {
  const c = probeRuntimes({ mode: 'hybrid', version: 1, v2Controllers: [] });
  assert.equal(c.find((x) => x.name === 'crun')?.usable, true);
  assert.equal(c.find((x) => x.name === 'crun')?.launcher, undefined, 'nothing to hide');
  assert.equal(chooseRuntime(c).chosen?.name, 'crun');
});

test('probeRuntimes: pure v2 and pure v1 choose crun', { skip: both }, () => {
  const v2 = probeRuntimes({ mode: 'v2', version: 2, v2Controllers: ['cpu', 'memory', 'pids'] });
  assert.ok(v2.every((x) => x.usable));
  const ch = chooseRuntime(v2);
  assert.equal(ch.chosen?.name, 'crun');
  assert.match(ch.why, /crun/);
  assert.equal(chooseRuntime(probeRuntimes({ mode: 'v1', version: 1, v2Controllers: [] })).chosen?.name, 'crun');
});

test('chooseRuntime: synthetic candidates (fake paths)', () => {
  const crun = { name: 'crun', path: '/fake/crun', runtimeArgs: [], kind: 'crun' as const, usable: false, reason: 'crun is not installed' };
  const runc = { name: 'runc', path: '/fake/runc', runtimeArgs: [], kind: 'runc' as const, usable: true, reason: 'runc ok' };
  assert.equal(chooseRuntime([crun, runc]).chosen?.path, '/fake/runc');
  assert.equal(chooseRuntime([{ ...crun, usable: true }, runc]).chosen?.path, '/fake/crun');
  const none = chooseRuntime([crun, { ...runc, usable: false, reason: 'runc is not installed' }]);
  assert.equal(none.chosen, undefined);
  assert.match(none.why, /no usable OCI runtime: crun is not installed; runc is not installed/);
});

test('a stored pid is trusted only with its start time: a reused pid is not the container', async () => {
  const { Engine } = await import('../../src/engine/engine.ts');
  const { isAlive, procStartTime } = await import('../../src/sys/proc.ts');
  const me = procStartTime(process.pid)!;
  assert.ok(me > 0);
  assert.equal(isAlive(process.pid, me), true);
  assert.equal(isAlive(process.pid, me + 1), false, 'same pid, other start time: another process');
  const root = join(tmp, 'pid-reuse');
  const engine = new Engine({ root, notice: () => {}, warn: () => {} });
  try {
    insert(engine.containers, ID_A, 'reused');
    // The row says running under a conmon and a process whose pid now belongs to this test process.
    engine.containers.update(ID_A, { state: 'running', pid: process.pid, pidStart: me + 1, monitorPid: process.pid, monitorStart: me + 1 });
    const synced = engine.inspect('reused');
    assert.equal(synced.state, 'exited', 'the live process with that pid is not the container');
    assert.equal(synced.exitCode, -1);
    assert.match(synced.error, /the monitor exited without reporting an exit status/);
    // With the right start time the same pid is the container's: nothing changes.
    insert(engine.containers, ID_B, 'genuine');
    engine.containers.update(ID_B, { state: 'running', pid: process.pid, pidStart: me, monitorPid: process.pid, monitorStart: me });
    assert.equal(engine.inspect('genuine').state, 'running');
  } finally {
    engine.close();
  }
});
