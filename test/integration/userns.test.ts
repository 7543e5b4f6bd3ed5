/**
 * User namespaces: `--userns auto` gives each container its own block of root's subordinate ids,
 * `--userns remap` the ranges of berthremap (both set up by scripts/setup); the image's files show as
 * owned by the container's root, which can write them, and what it writes is owned on the host by the
 * mapped ids. Bad modes are refused at create.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { lstatSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { cli, setupEnv, type Env } from './helpers.ts';

let env: Env;

const { ok } = cli(() => env);

/** The first range of `user` in /etc/subuid: [start, count]. */
function subRange(user: string): [number, number] {
  const line = readFileSync('/etc/subuid', 'utf8').split('\n').find((l) => l.startsWith(`${user}:`));
  assert.ok(line, `scripts/setup gives ${user} a subordinate range in /etc/subuid`);
  const [, start, count] = line.split(':');
  return [Number(start), Number(count)];
}

before(() => {
  env = setupEnv('userns');
});
after(() => env?.teardown());

test('--userns auto: mapped ids from root\'s range, an image owned by the container\'s root, writes land mapped on the host', () => {
  const [start, count] = subRange('root');
  const id = ok(['run', '-d', '--userns', 'auto', 'busybox', 'sleep', '100']).stdout.trim();
  try {
    const map = ok(['exec', id, 'cat', '/proc/self/uid_map']).stdout.trim().split(/\s+/).map(Number);
    assert.equal(map[0], 0);
    assert.ok(map[1]! >= start && map[1]! + map[2]! <= start + count, `host ids ${map[1]}+${map[2]} inside root's range ${start}+${count}`);
    assert.equal(map[2], 65536);
    assert.equal(ok(['exec', id, 'stat', '-c', '%u:%g', '/bin/busybox', '/etc']).stdout, '0:0\n0:0\n');
    ok(['exec', id, 'sh', '-c', 'echo hi > /etc/written']);
    const upper = join(env.root, 'containers', id, 'diff', 'etc', 'written');
    assert.equal(lstatSync(upper).uid, map[1], 'the file is owned by the mapped root on the host');
    // A second auto container gets a block of its own.
    const other = ok(['run', '--rm', '--userns', 'auto', 'busybox', 'cat', '/proc/self/uid_map']).stdout.trim().split(/\s+/).map(Number);
    assert.notEqual(other[1], map[1], 'distinct host ids for concurrent auto containers');
  } finally {
    ok(['rm', '-f', id]);
  }
});

test('--userns remap uses berthremap\'s range; a volume is owned by the mapped root', () => {
  const [start] = subRange('berthremap');
  const r = ok(['run', '--rm', '--userns', 'remap', '-v', 'uvol:/data', 'busybox', 'sh', '-c', 'cat /proc/self/gid_map; touch /data/f; stat -c %u /data/f']);
  const [gidMap, owner] = r.stdout.trim().split('\n');
  assert.deepEqual(gidMap!.trim().split(/\s+/).map(Number), [0, start, 65536]);
  assert.equal(owner, '0');
  assert.equal(lstatSync(join(env.root, 'volumes', 'uvol', '_data', 'f')).uid, start);
  ok(['volume', 'rm', 'uvol']);
});

test('bad --userns values and combinations are refused before anything is created', () => {
  const before = ok(['ps', '-aq']).stdout;
  for (const [args, why] of [
    [['--userns', 'sideways'], /invalid --userns mode: "sideways"/],
    [['--userns', 'remap:nosuchuser'], /no subordinate uid range for user nosuchuser/],
    [['--userns', 'auto', '--privileged'], /--privileged and --userns cannot be combined/],
    [['--userns', 'auto', '--pid', 'host'], /--userns cannot be combined with a host pid, ipc or network namespace/],
  ] as const) {
    const r = env.berth(['run', '--rm', ...args, 'busybox', 'true']);
    assert.equal(r.code, 125, r.stderr);
    assert.match(r.stderr, why);
  }
  assert.equal(ok(['ps', '-aq']).stdout, before);
});
