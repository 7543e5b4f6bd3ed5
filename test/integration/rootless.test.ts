/**
 * Berth for an ordinary user (issue "Rootless"): bin/berth enters the user's own user namespace (berth-userns,
 * the user's id as 0 and its subordinate ranges above), where the engine keeps the user's own store and runs
 * containers with crun and no cgroup of their own. As the test user scripts/setup makes (berthtest, with
 * subordinate ids): import, run, exec, logs, ps, rm; a bind mount's files are the user's on the host and a
 * root-owned 0600 file stays closed; root's and the user's stores never see each other; a bridge network in the
 * user's own network namespace (refused while /dev/net/tun is closed; -p, names, the way out). As a user
 * with no subordinate ids (nobody): one line naming what is missing, nothing made. `berth info` outside the
 * namespace shows what the host offers, with /dev/net/tun closed and open.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { networkInterfaces } from 'node:os';
import { join } from 'node:path';
import { BERTH } from './helpers.ts';
import { as, okAs, prepareUser, removeUserState, TEST_USER, withTun, type R, type TestUser } from './rootless-user.ts';

const USER = TEST_USER;
let user: TestUser | undefined;
let skip: string | undefined;
let uid = 0;
let dir = '';

const asUser = (args: string[]) => as(USER, args);
const ok = (args: string[]) => okAs(user!, args);

before(() => {
  user = prepareUser('berth-test-rootless-');
  ({ skip, uid, dir } = user);
});

after(() => user && removeUserState(user));

test("an ordinary user's container: root inside its own user namespace, the user's store, crun, no limits", (t) => {
  if (skip) return t.skip(skip);
  // Root in the container is the user on the host; ids above 0 are its subordinate ones.
  const map = ok(['run', '--rm', '--network', 'none', 'busybox', 'sh', '-c', 'id -u; cat /proc/self/uid_map']).trim().split('\n');
  assert.equal(map[0], '0');
  assert.match(map[1]!, new RegExp(`^\\s*0\\s+${uid}\\s+1$`));
  const info = ok(['info']);
  assert.match(info, new RegExp(`Berth Root Dir: /home/${USER}/\\.local/share/berth`));
  assert.match(info, new RegExp(`Rootless: yes, for uid ${uid}`));
  // crun, the faster: on a hybrid host through berth-v1-view, which covers the v2 hierarchy it refuses.
  assert.match(info, /Default Runtime: crun/);
  assert.equal(ok(['run', '--rm', '--network', 'host', 'busybox', 'sh', '-c', 'ip -4 addr | grep -c " lo$"']).trim(), '1', "the host's network");
  const limited = asUser(['run', '--rm', '--network', 'none', '-m', '64m', 'busybox', 'true']);
  assert.equal(limited.code, 0, limited.stderr);
  assert.match(limited.stderr, /resource limits are not supported and ignored for an ordinary user here/);
});

test("exec, logs, ps and rm of an ordinary user's detached container; root's store and the user's are apart", (t) => {
  if (skip) return t.skip(skip);
  const id = ok(['run', '-d', '--name', 'userbox', '--network', 'none', 'busybox', 'sh', '-c', 'echo hello-from-user; exec sleep 600']).trim();
  assert.equal(ok(['exec', id, 'echo', 'exec-works']).trim(), 'exec-works');
  assert.match(ok(['logs', id]), /hello-from-user/);
  // top without a cgroup: the container's processes by its pid namespace, the exec's among them.
  ok(['exec', '-d', id, 'sleep', '599']);
  const top = ok(['top', id]);
  assert.match(top, /sleep 600/);
  assert.match(top, /sleep 599/);
  assert.equal(top.trim().split('\n').length, 3, top);
  // Without a cgroup there is nothing to freeze or limit: each says so in one line, and the container runs on.
  for (const [args, why] of [[['pause', id], /cannot be paused: pausing freezes its cgroup/], [['update', '--memory', '64m', id], /resources cannot be updated: it has no cgroup/]] as const) {
    const r = asUser([...args]);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, why);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
  }
  assert.match(ok(['ps', '--format', '{{.Names}} {{.Status}}']), /^userbox Up/m);
  assert.match(ok(['ps', '--format', '{{.Names}} {{.Status}}']), /^userbox Up/m);
  const rootPs = spawnSync(BERTH, ['ps', '-a', '--no-trunc', '--format', '{{.ID}}'], { encoding: 'utf8' }).stdout;
  assert.ok(!rootPs.includes(id), "root's ps does not list the user's container");
  // Stop: SIGTERM, which sleep as pid 1 ignores, then SIGKILL to its init (no cgroup to find the rest through).
  ok(['stop', '-t', '1', id]);
  assert.match(ok(['ps', '-a', '--format', '{{.Status}}']), /^Exited \(137\)/);
  ok(['start', id]);
  ok(['rm', '-f', id]);
  assert.equal(ok(['ps', '-aq']).trim(), '');
});

test('a bind mount: what the container writes is the user\'s on the host; a root-owned 0600 file stays closed', (t) => {
  if (skip) return t.skip(skip);
  const mine = join(dir, 'mine');
  spawnSync('mkdir', [mine]);
  chownSync(mine, uid, uid);
  const secret = join(dir, 'secret');
  writeFileSync(secret, 'root only\n', { mode: 0o600 });
  ok(['run', '--rm', '--network', 'none', '-v', `${mine}:/data`, 'busybox', 'sh', '-c', 'echo written > /data/f']);
  assert.equal(statSync(join(mine, 'f')).uid, uid, 'owned by the user on the host');
  const r = asUser(['run', '--rm', '--network', 'none', '-v', `${secret}:/secret`, 'busybox', 'sh', '-c', 'cat /secret; echo more >> /secret']);
  assert.notEqual(r.code, 0);
  assert.match(r.stdout + r.stderr, /Permission denied/);
  assert.equal(readFileSync(secret, 'utf8'), 'root only\n');
});

test("berth serve as the user, on its runtime dir's socket: the docker CLI runs the user's containers through it", async (t) => {
  if (skip) return t.skip(skip);
  if (!existsSync('/usr/local/bin/docker')) return t.skip('no docker CLI at /usr/local/bin/docker');
  const sock = `/tmp/berth-run-${uid}/berth.sock`;
  const server = spawn('runuser', ['-u', USER, '--', BERTH, 'serve'], { cwd: '/tmp', env: { PATH: process.env.PATH, HOME: `/home/${USER}`, USER, LOGNAME: USER }, stdio: ['ignore', 'pipe', 'pipe'] });
  let said = '';
  server.stdout!.on('data', (b: Buffer) => (said += b.toString()));
  server.stderr!.on('data', (b: Buffer) => (said += b.toString()));
  try {
    for (let i = 0; i < 100 && !said.includes(`API listening on ${sock}`); i++) await new Promise((r) => setTimeout(r, 100));
    assert.match(said, new RegExp(`API listening on ${sock}`));
    const docker = (args: string[]) => spawnSync('runuser', ['-u', USER, '--', 'env', `DOCKER_HOST=unix://${sock}`, `HOME=/home/${USER}`, 'docker', ...args], { encoding: 'utf8', cwd: '/tmp', timeout: 60_000 });
    const ran = docker(['run', '--rm', '--network', 'none', 'busybox', 'sh', '-c', 'echo through-the-api; id -u']);
    assert.equal(ran.status, 0, ran.stderr);
    assert.equal(ran.stdout, 'through-the-api\n0\n');
    // A bridge network needs the tun device the first time: closed, the API says why as the CLI does.
    const refused = withTun(0o600, () => docker(['run', '--rm', 'busybox', 'true']));
    assert.notEqual(refused.status, 0);
    assert.match(refused.stderr, /needs \/dev\/net\/tun, which this user cannot open \(mode 0600\)/);
  } finally {
    spawnSync('pkill', ['-TERM', '-u', USER, '-f', 'berth.mjs serve']);
    await new Promise<void>((r) => (server.exitCode !== null ? r() : server.once('exit', () => r())));
  }
});

test('a user without subordinate ids: one line naming what is missing, and nothing made', (t) => {
  if (skip) return t.skip(skip);
  const r = as('nobody', ['run', '--rm', 'busybox', 'true'], '/nonexistent');
  assert.equal(r.code, 125, r.stderr);
  assert.match(r.stderr, /^berth: run: an ordinary user's Berth runs in a user namespace of its own, and this host lacks what that needs: subordinate uids: none for nobody in \/etc\/subuid/);
  assert.equal(r.stderr.trim().split('\n').length, 1, 'one line, no stack');
  assert.equal(as('nobody', ['version'], '/nonexistent').code, 0);
  const info = as('nobody', ['info', '--format', 'json'], '/nonexistent');
  const facts = JSON.parse(info.stdout) as { Uids: { Value: unknown[] }; Storage: { Value: string } };
  assert.deepEqual(facts.Uids.Value, []);
  const [major, minor] = readFileSync('/proc/sys/kernel/osrelease', 'utf8').split('.').map(Number) as [number, number];
  if (major > 5 || (major === 5 && minor >= 11)) assert.equal(facts.Storage.Value, 'overlay');
});

test('the tun device: unusable to a user at 0600 with the fix named, usable at 0666 (restored after)', (t) => {
  if (skip) return t.skip(skip);
  if (!existsSync('/dev/net/tun')) return t.skip('no /dev/net/tun on this host');
  const mode = statSync('/dev/net/tun').mode & 0o777;
  const tun = () => JSON.parse(as('nobody', ['info', '--format', '{{json .Tun}}'], '/nonexistent').stdout) as { Value: boolean; Why: string };
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

/** A TCP port nothing listens on now (the kernel's pick). */
function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const srv = createServer().listen(0, '0.0.0.0', () => {
      const port = (srv.address() as AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
}

async function httpGet(url: string): Promise<string> {
  const r = await fetch(url, { signal: AbortSignal.timeout(5000) });
  return r.text();
}

test("an ordinary user's bridge network: refused in one line while tun is closed; then -p from the host, names between containers, the way out, the forward gone with the container", async (t) => {
  if (skip) return t.skip(skip);
  if (!existsSync('/dev/net/tun')) return t.skip('no /dev/net/tun on this host');
  if (!existsSync('/usr/bin/slirp4netns')) return t.skip('slirp4netns is not installed (scripts/setup installs it)');
  // Closed, and no slirp4netns of the user's yet: the first bridged container is refused before anything is made.
  const refused = withTun(0o600, () => asUser(['run', '--rm', 'busybox', 'true']));
  assert.equal(refused.code, 125);
  assert.match(refused.stderr, /needs \/dev\/net\/tun, which this user cannot open \(mode 0600\): a root user opens it with chmod 0666 \/dev\/net\/tun .*--network none and host need nothing/);
  assert.equal(refused.stderr.trim().split('\n').length, 1, 'one line, no stack');
  assert.equal(ok(['ps', '-aq']).trim(), '', 'nothing made');

  const port = await freePort();
  // Open while slirp4netns starts (it takes its tap device then); it then runs with the device closed again.
  withTun(0o666, () => {
    ok(['network', 'create', 'usernet']);
    ok(['run', '-d', '--name', 'web', '--network', 'usernet', '-p', `${port}:80`, 'busybox', 'httpd', '-f', '-p', '80', '-h', '/etc']);
  });
  const id = ok(['inspect', '-f', '{{.Id}}', 'web']).trim();
  assert.match(ok(['info']), /Network: slirp4netns — \/usr\/bin\/slirp4netns runs \(pid \d+\)/);
  // From the host, through slirp4netns's forward and portmap's DNAT in the user's network namespace.
  let served = '';
  for (let i = 0; i < 50 && served === ''; i++) {
    served = await httpGet(`http://127.0.0.1:${port}/hostname`).catch(() => '');
    if (served === '') await new Promise((r) => setTimeout(r, 100));
  }
  assert.equal(served.trim(), id.slice(0, 12));
  // Another container of the network finds it by name (tun is closed now: the helper runs already).
  assert.equal(ok(['run', '--rm', '--network', 'usernet', 'busybox', 'wget', '-qO-', 'http://web/hostname']).trim(), id.slice(0, 12));
  // The way out: a container reaches a listener on the host's own address as the user's connection.
  const hostIp = Object.values(networkInterfaces()).flat().find((a) => a && a.family === 'IPv4' && !a.internal)?.address;
  if (hostIp) {
    const srv = createServer((c) => c.end('hello-from-host\n'));
    await new Promise<void>((r) => srv.listen(0, hostIp, () => r()));
    try {
      const got = await new Promise<R>((resolve) => {
        const c = spawn('runuser', ['-u', USER, '--', BERTH, 'run', '--rm', 'busybox', 'nc', hostIp, String((srv.address() as AddressInfo).port)], { cwd: '/tmp', env: { PATH: process.env.PATH, HOME: `/home/${USER}`, USER, LOGNAME: USER }, stdio: ['ignore', 'pipe', 'pipe'] });
        let out = '';
        let err = '';
        c.stdout!.on('data', (b: Buffer) => (out += b.toString()));
        c.stderr!.on('data', (b: Buffer) => (err += b.toString()));
        c.on('exit', (code) => resolve({ code, stdout: out, stderr: err }));
      });
      assert.equal(got.code, 0, got.stderr);
      assert.equal(got.stdout, 'hello-from-host\n');
    } finally {
      srv.close();
    }
  }
  // An IPv6 host address cannot be forwarded: refused before anything is made.
  const v6 = asUser(['run', '-d', '-p', `[::1]:${port + 1}:80`, 'busybox', 'true']);
  assert.equal(v6.code, 125);
  assert.match(v6.stderr, /published ports listen on IPv4 addresses only/);
  assert.equal(ok(['ps', '-aq']).trim().split('\n').length, 1, 'only web');
  ok(['rm', '-f', 'web']);
  await assert.rejects(httpGet(`http://127.0.0.1:${port}/hostname`), 'the forward went with the container');
  ok(['network', 'rm', 'usernet']);
});
