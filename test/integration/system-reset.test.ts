/**
 * `system reset`: asked first, nothing goes without a yes; with -f everything of the root goes (running,
 * stopped and exited containers with their exec sessions, a user network with its bridge, volumes, images)
 * and the host keeps nothing of it (mounts, monitors, cgroups, netns, bridges, veths, iptables rules), then
 * the root works again. And a root deleted by hand and made again at the same path runs containers on
 * its default network: the bridge the old root left (with another subnet's address) is replaced.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { REPO, cli, conmonsOf, leaksUnder, rootBridge, setupEnv, show, type Env } from './helpers.ts';

let env: Env;
const { ok, out, runD, inspect, allIds } = cli(() => env);

before(() => {
  env = setupEnv('reset');
});
after(() => env.teardown());

/** Import busybox:latest into the root again (a reset removed it). */
function importBusybox(): void {
  const dir = mkdtempSync(join(tmpdir(), 'berth-reset-image-'));
  const tar = join(dir, 'busybox.tar');
  try {
    const mk = spawnSync('bash', [join(REPO, 'scripts', 'mkimage-busybox'), tar], { encoding: 'utf8' });
    assert.equal(mk.status, 0, mk.stderr);
    ok(['import', '--change', 'CMD ["sh"]', tar, 'busybox:latest']);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const lines = (s: string) => s.split('\n').filter(Boolean);
const ruleset = () => spawnSync('iptables-save', [], { encoding: 'utf8' }).stdout;

/** Host-side interfaces whose master is `bridge`. */
function portsOf(bridge: string): string[] {
  const dir = `/sys/class/net/${bridge}/brif`;
  return existsSync(dir) ? readdirSync(dir) : [];
}

/** What the root holds, as its verbs list it. */
function contents() {
  return {
    containers: allIds(),
    images: lines(out(['images', '-q'])),
    volumes: lines(out(['volume', 'ls', '-q'])).sort(),
    networks: lines(out(['network', 'ls', '--format', '{{.Name}}'])).sort(),
  };
}

test('without -f it asks; "n", an empty line or no answer at all remove nothing, "y" removes', () => {
  const id = runD(['busybox', 'sleep', '1000']);
  ok(['volume', 'create', 'keepme']);
  const before = contents();
  assert.deepEqual(before.containers, [id]);
  for (const [input, code] of [['n\n', 0], ['\n', 0], ['no\n', 0], ['', 1]] as const) {
    const r = env.berth(['system', 'reset'], { input });
    assert.equal(r.code, code, `answer ${JSON.stringify(input)}: ${show(r)}`);
    assert.match(r.stdout, /WARNING! This will remove everything of the engine root .*\n[^]*Are you sure you want to continue\? \[y\/N\] $/);
    if (code !== 0) assert.match(r.stderr, /^\nError: no answer on standard input: nothing was removed\n$/);
    assert.deepEqual(contents(), before, `answer ${JSON.stringify(input)} removed something`);
    assert.equal(inspect(id, '{{.State.Status}}'), 'running');
  }
  const yes = env.berth(['system', 'reset'], { input: 'y\n' });
  assert.equal(yes.code, 0, show(yes));
  assert.deepEqual(readdirSync(env.root), [], 'the root is empty after a reset');
  assert.deepEqual(leaksUnder(env.root, [id]), []);
  importBusybox();
});

test('reset -f removes every container, exec, image, volume and network of the root, and the host keeps nothing of them', () => {
  const running = runD(['--name', 'running', 'busybox', 'sleep', '1000']);
  ok(['exec', '-d', 'running', 'sleep', '500']);
  ok(['exec', 'running', 'sh', '-c', 'echo changed > /changed']);
  ok(['commit', 'running', 'extra:1']);
  const created = out(['create', '--name', 'created', 'busybox', 'true']).trim();
  ok(['run', '--name', 'exited', 'busybox', 'true']);
  const exited = inspect('exited').Id;
  ok(['network', 'create', 'resetnet']);
  const onNet = runD(['--name', 'onnet', '--network', 'resetnet', '-v', 'named:/data', '-p', '127.0.0.1::80', 'busybox', 'sleep', '1000']);
  ok(['volume', 'create', 'spare']);
  const ids = [running, created, exited, onNet];
  const userBridge = (JSON.parse(out(['network', 'inspect', 'resetnet'])) as { BerthBridge: string }[])[0]!.BerthBridge;
  const bridges = [userBridge, rootBridge(env.root)];
  const veths = bridges.flatMap(portsOf);
  assert.equal(veths.length, 2, `a veth per running container: ${veths.join(', ')}`);
  const ips = [inspect(running, '{{.NetworkSettings.Networks.bridge.IPAddress}}'), inspect(onNet, '{{.NetworkSettings.Networks.resetnet.IPAddress}}')];
  assert.ok(ips.every((ip) => /^\d+\.\d+\.\d+\.\d+$/.test(ip)), ips.join(', '));
  assert.ok(ruleset().includes(onNet), 'portmap made rules for the published container');
  assert.ok(bridges.every((b) => ruleset().includes(`berth bridge ${b}`)), 'each network has its own rules');
  assert.equal(lines(out(['images', '-q'])).length, 2);
  assert.ok(conmonsOf(env.root).length >= 3, 'monitors of two containers and an exec');

  const r = env.berth(['system', 'reset', '-f']);
  assert.equal(r.code, 0, show(r));
  assert.equal(r.stdout, '');
  assert.deepEqual(readdirSync(env.root), [], 'the root is empty after a reset');
  assert.deepEqual(leaksUnder(env.root, ids), [], 'mounts, monitors, cgroups and netns of the root');
  for (const b of bridges) assert.ok(!existsSync(`/sys/class/net/${b}`), `bridge ${b} removed`);
  for (const v of veths) assert.ok(!existsSync(`/sys/class/net/${v}`), `veth ${v} removed`);
  const rules = ruleset();
  for (const id of ids) assert.ok(!rules.includes(id), `no rule names container ${id.slice(0, 12)}`);
  for (const b of bridges) assert.ok(!rules.includes(`berth bridge ${b}`), `no rule of bridge ${b}`);
  for (const ip of ips) assert.ok(!rules.includes(` ${ip}/32 `) && !rules.includes(`${ip}:80`), `no rule for ${ip}`);

  assert.deepEqual(contents(), { containers: [], images: [], volumes: [], networks: ['bridge', 'host', 'none'] });
  importBusybox();
  const again = env.berth(['run', '--rm', 'busybox', 'sh', '-c', 'ip -4 -o addr show eth0 | grep -q inet && echo up']);
  assert.equal(again.code, 0, show(again));
  assert.equal(again.stdout, 'up\n');
});

test('a root deleted by hand and made again at its path runs on the default network; reset then clears what the old one left', () => {
  const old = runD(['-p', '127.0.0.1::80', 'busybox', 'sleep', '1000']);
  const oldIp = inspect(old, '{{.NetworkSettings.Networks.bridge.IPAddress}}');
  const oldGateway = inspect(old, '{{.NetworkSettings.Networks.bridge.Gateway}}');
  const oldPid = Number(inspect(old, '{{.State.Pid}}'));
  const bridge = rootBridge(env.root);
  assert.ok(existsSync(`/sys/class/net/${bridge}`));
  // By hand: kill the monitor and the container, unmount, delete the root. The rest stays on the host.
  for (const pid of conmonsOf(old)) process.kill(pid, 'SIGKILL');
  process.kill(oldPid, 'SIGKILL');
  const mounts = readFileSync('/proc/self/mountinfo', 'utf8').split('\n').map((l) => l.split(' ')[4] ?? '').filter((m) => m.startsWith(`${env.root}/`));
  for (const m of mounts.reverse()) assert.equal(spawnSync('umount', ['-l', m]).status, 0, `umount ${m}`);
  rmSync(env.root, { recursive: true, force: true });
  assert.ok(ruleset().includes(old), 'the old container’s rules are still there');

  mkdirSync(env.root, { mode: 0o700 });
  importBusybox();
  const r = env.berth(['run', '--rm', 'busybox', 'sh', '-c', 'ip -4 -o addr show eth0']);
  assert.equal(r.code, 0, show(r));
  assert.match(r.stdout, /inet \d+\.\d+\.\d+\.\d+\//);
  assert.match(r.stderr, new RegExp(`replaced bridge ${bridge} left by an earlier engine root at ${env.root}`));
  const rules = ruleset();
  assert.ok(!rules.includes(old), 'the old container’s masquerade and port chains are gone');
  assert.ok(!rules.includes(` ${oldIp}/32 `), `no forward rule for the old address ${oldIp}`);
  assert.ok(!existsSync(`/run/netns/berth-${old.slice(0, 16)}`), 'the old container’s namespace is gone');
  const gw = inspect(runD(['--name', 'fresh', 'busybox', 'sleep', '1000']), '{{.NetworkSettings.Networks.bridge.Gateway}}');
  const ping = env.berth(['exec', 'fresh', 'ping', '-c', '1', '-W', '2', gw]);
  assert.equal(ping.code, 0, `the new bridge answers at ${gw} (the old one's gateway was ${oldGateway}): ${show(ping)}`);

  // The runtime still records the old container (and its cgroup): its bundle was under this root.
  const reset = env.berth(['system', 'reset', '-f']);
  assert.equal(reset.code, 0, show(reset));
  assert.match(reset.stderr, new RegExp(`removed what no record of the root named: .*container ${old.slice(0, 12)}`));
  assert.deepEqual(leaksUnder(env.root, [old]), []);
  importBusybox();
});

test("reset -f takes pods with their cgroups, and the exit hand-off files a server left, saying nothing is kept", async () => {
  const { spawn } = await import('node:child_process');
  const sock = join(env.root, 'api.sock');
  const server = spawn(join(REPO, 'bin', 'berth'), ['--root', env.root, 'serve', '-H', `unix://${sock}`], { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  server.stderr!.on('data', (b: Buffer) => (log += b.toString()));
  for (const until = Date.now() + 20_000; !/API listening/.test(log) && Date.now() < until; ) await new Promise((r) => setTimeout(r, 50));
  const exited = new Promise((r) => server.once('exit', r));
  server.kill('SIGTERM');
  await exited;
  assert.ok(existsSync(join(env.root, 'exit-watch.lock')), `the server watched exits:\n${log}`);
  const podId = out(['pod', 'create', '--name', 'resetpod']).trim();
  runD(['--pod', 'resetpod', 'busybox', 'sleep', '1000']);
  const podCgroups = () => readdirSync('/sys/fs/cgroup').map((c) => join('/sys/fs/cgroup', c, 'berth', `pod-${podId}`)).filter((d) => existsSync(d));
  assert.ok(podCgroups().length > 0, 'the pod has its cgroup');

  const r = env.berth(['system', 'reset', '-f']);
  assert.equal(r.code, 0, show(r));
  assert.doesNotMatch(r.stderr, /kept in/, 'nothing of the root is taken for someone else’s');
  assert.deepEqual(readdirSync(env.root), []);
  assert.deepEqual(podCgroups(), [], 'the pod’s cgroup went with it');
  importBusybox();
});
