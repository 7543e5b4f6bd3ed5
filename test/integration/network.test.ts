/**
 * Networking with real traffic: the default bridge with NAT, user networks where containers find each
 * other by name and alias (also after restarts), published TCP and UDP ports reached from the host,
 * --network container:, connect/disconnect, static addresses, DNS settings, concurrency, and teardown
 * that leaves no veth, netns, lease or iptables rule behind.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { existsSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync } from 'node:fs';
import { get } from 'node:http';
import { join } from 'node:path';
import { BERTH, REPO, cli, eventually, rootBridge, setupEnv, type Env } from './helpers.ts';

let env: Env;
const SUBNET = '10.240.7.0/24';

const { ok, runD, inspect } = cli(() => env);

/** GET http://host:port/path from this process. */
function httpGet(host: string, port: number, path = '/'): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = get({ host, port, path, timeout: 5000 }, (res) => {
      let body = '';
      res.on('data', (b: Buffer) => (body += b.toString()));
      res.on('end', () => resolve(body));
    });
    req.on('timeout', () => req.destroy(new Error(`timeout reaching ${host}:${port}`)));
    req.on('error', reject);
  });
}

/** Poll an HTTP server until it answers (busybox httpd takes a moment to bind). */
async function httpEventually(host: string, port: number, path = '/'): Promise<string> {
  let last: unknown;
  for (let i = 0; i < 50; i++) {
    try {
      return await httpGet(host, port, path);
    } catch (e) {
      last = e;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  throw last;
}

/** A container serving /www/index.html with busybox httpd on port 80. */
function httpd(args: string[], body: string): string {
  return runD([...args, 'busybox', 'sh', '-c', `mkdir -p /www && echo ${body} > /www/index.html && exec httpd -f -p 80 -h /www`]);
}

function hostLeaks(ids: string[]): string[] {
  const out: string[] = [];
  const ns = existsSync('/run/netns') ? readdirSync('/run/netns') : [];
  const rules = spawnSync('iptables-save', [], { encoding: 'utf8' }).stdout;
  for (const id of ids) {
    if (ns.some((n) => n.includes(id.slice(0, 16)))) out.push(`netns of ${id.slice(0, 12)}`);
    if (rules.includes(id)) out.push(`iptables rule naming ${id.slice(0, 12)}`);
  }
  const leases = join(env.root, 'cni', 'ipam');
  for (const net of existsSync(leases) ? readdirSync(leases) : []) {
    for (const f of readdirSync(join(leases, net))) {
      if (/^\d+\.\d+\.\d+\.\d+$/.test(f) && ids.some((id) => spawnSync('cat', [join(leases, net, f)], { encoding: 'utf8' }).stdout.includes(id))) out.push(`lease ${f} on ${net}`);
    }
  }
  return out;
}

before(() => {
  env = setupEnv('network');
  ok(['network', 'create', '--subnet', SUBNET, '--label', 'test=net', 'tnet']);
});

after(() => {
  if (!env) return;
  const ids = env.berth(['ps', '-aq', '--no-trunc']).stdout.split('\n').filter(Boolean);
  if (ids.length) env.berth(['rm', '-f', ...ids]);
  for (const n of ['tnet', 'tnet2', 'tint', 't6', 'troute', 'tbad']) env.berth(['network', 'rm', n]);
  env.berth(['network', 'rm', 'bridge']);
  env.teardown();
});

test('the default bridge: an address in its subnet, a default route, NAT to the host side', () => {
  // A test root's default network has a bridge and a /24 of its own (the default root's is berth0, 10.77.0.0/16).
  const net = (JSON.parse(ok(['network', 'inspect', 'bridge']).stdout) as { IPAM: { Config: { Subnet: string; Gateway: string }[] }; Options: Record<string, string> }[])[0]!;
  const { Subnet: subnet, Gateway: gwIp } = net.IPAM.Config[0]!;
  assert.equal(net.Options['com.docker.network.bridge.name'], rootBridge(env.root));
  const [base, prefix] = subnet.split('/');
  const r = ok(['run', '--rm', 'busybox', 'sh', '-c', 'ip -4 -o addr show eth0; ip route; ip -o link show lo; cat /etc/hosts']);
  const addr = new RegExp(`eth0\\s+inet (${base!.split('.').slice(0, 3).join('\\.')}\\.\\d+)/${prefix}`).exec(r.stdout);
  assert.ok(addr, r.stdout);
  assert.match(r.stdout, new RegExp(`^default via ${gwIp.replace(/\./g, '\\.')} dev eth0`, 'm'));
  // The runtime makes the container while the plugins run; lo and the hosts file are ready before it starts.
  assert.match(r.stdout, /^\d+: lo: <[^>]*,UP/m);
  assert.match(r.stdout, new RegExp(`^${addr[1]!.replace(/\./g, '\\.')}\\s`, 'm'), 'the hosts file names the container\'s address');
  const gw = ok(['run', '--rm', 'busybox', 'ping', '-c', '1', '-W', '2', gwIp]);
  assert.match(gw.stdout, /1 packets received/);
  // The network's subnet is masqueraded on its way out, and forwarding from the bridge accepted: one set of
  // rules for the network (bridge-rules.ts), none per container.
  const bridge = rootBridge(env.root);
  const id = runD(['busybox', 'sleep', '300']);
  try {
    const ip = inspect(id, '{{.NetworkSettings.IPAddress}}');
    const nat = spawnSync('iptables-save', ['-t', 'nat'], { encoding: 'utf8' }).stdout;
    assert.ok(nat.includes(`-A BERTH-POSTROUTING -s ${subnet} ! -o ${bridge} -m comment --comment "berth bridge ${bridge}" -j MASQUERADE`), nat);
    assert.match(nat, /^-A POSTROUTING -j BERTH-POSTROUTING$/m);
    assert.ok(!nat.includes(`${ip}/32`), 'no rule names the container\'s address');
    const filter = spawnSync('iptables-save', ['-t', 'filter'], { encoding: 'utf8' }).stdout;
    assert.ok(filter.includes(`-A BERTH-FORWARD -i ${bridge} -m comment --comment "berth bridge ${bridge}" -j ACCEPT`), filter);
    assert.match(filter, /^-A FORWARD -j BERTH-FORWARD$/m);
  } finally {
    ok(['rm', '-f', id]);
  }
});

test('on a user network, containers reach each other by name and alias; docker shapes in inspect', async () => {
  const web = httpd(['--name', 'web', '--network', 'tnet', '--network-alias', 'www'], 'hello-by-name');
  try {
    const byName = ok(['run', '--rm', '--network', 'tnet', 'busybox', 'sh', '-c', 'for i in $(seq 50); do wget -qO- http://web/ 2>/dev/null && break; sleep 0.1; done']);
    assert.equal(byName.stdout, 'hello-by-name\n');
    const byAlias = ok(['run', '--rm', '--network', 'tnet', 'busybox', 'wget', '-qO-', 'http://www/']);
    assert.equal(byAlias.stdout, 'hello-by-name\n');
    const ns = JSON.parse(inspect(web, '{{json .NetworkSettings}}')) as { Networks: Record<string, { IPAddress: string; IPPrefixLen: number; Gateway: string; MacAddress: string; Aliases: string[] }> };
    const n = ns.Networks.tnet!;
    assert.match(n.IPAddress, /^10\.240\.7\.\d+$/);
    assert.equal(n.IPPrefixLen, 24);
    assert.equal(n.Gateway, '10.240.7.1');
    assert.match(n.MacAddress, /^([0-9a-f]{2}:){5}[0-9a-f]{2}$/);
    assert.deepEqual(n.Aliases, ['www']);
    const netInfo = JSON.parse(ok(['network', 'inspect', 'tnet']).stdout) as { Containers: Record<string, { Name: string; IPv4Address: string }>; IPAM: { Config: { Subnet: string }[] } }[];
    assert.equal(netInfo[0]!.IPAM.Config[0]!.Subnet, SUBNET);
    assert.equal(netInfo[0]!.Containers[web]!.IPv4Address, `${n.IPAddress}/24`);
  } finally {
    ok(['rm', '-f', web]);
  }
});

test('names keep resolving across a restart, and peers see the new address', () => {
  const a = runD(['--name', 'peer-a', '--network', 'tnet', 'busybox', 'sleep', '300']);
  const b = runD(['--name', 'peer-b', '--network', 'tnet', 'busybox', 'sleep', '300']);
  try {
    const resolve = () => ok(['exec', a, 'sh', '-c', "awk '$2==\"peer-b\"{print $1}' /etc/hosts"]).stdout.trim();
    const before = resolve();
    assert.equal(before, inspect(b, '{{.NetworkSettings.Networks.tnet.IPAddress}}'));
    // Take b's address with another container while b is down: b comes back with a new one.
    ok(['stop', '-t', '0', b]);
    const squatter = runD(['--network', 'tnet', '--ip', before, 'busybox', 'sleep', '300']);
    ok(['start', b]);
    const after = inspect(b, '{{.NetworkSettings.Networks.tnet.IPAddress}}');
    assert.notEqual(after, before);
    assert.equal(resolve(), after);
    assert.match(ok(['exec', a, 'ping', '-c', '1', '-W', '2', 'peer-b']).stdout, /1 packets received/);
    ok(['rm', '-f', squatter]);
  } finally {
    ok(['rm', '-f', a, b]);
  }
});

test('-p publishes TCP on 127.0.0.1 and the bridge address; port and ps show it', async () => {
  const id = httpd(['-p', '127.0.0.1:18081:80', '-p', '18082:80'], 'published');
  try {
    assert.equal(await httpEventually('127.0.0.1', 18081), 'published\n');
    const gw = inspect(id, '{{.NetworkSettings.Gateway}}');
    assert.equal(await httpEventually(gw, 18082), 'published\n');
    assert.equal(ok(['port', id]).stdout, '80/tcp -> 127.0.0.1:18081\n80/tcp -> 0.0.0.0:18082\n');
    assert.equal(ok(['port', id, '80/tcp']).stdout, '127.0.0.1:18081\n0.0.0.0:18082\n');
    assert.match(ok(['ps', '--format', '{{.Ports}}']).stdout, /127\.0\.0\.1:18081->80\/tcp, 0\.0\.0\.0:18082->80\/tcp/);
    // From another network namespace: a second container reaches the host's published port.
    const other = ok(['run', '--rm', 'busybox', 'wget', '-qO-', `http://${gw}:18082/`]);
    assert.equal(other.stdout, 'published\n');
  } finally {
    ok(['rm', '-f', id]);
  }
});

test('-p …/udp carries datagrams; -P publishes the image EXPOSE list on free ports', async () => {
  // busybox's nc has no UDP: a tiny static echo server, compiled here, answers instead.
  const bin = mkdtempSync('/tmp/berth-udp-');
  const cc = spawnSync('gcc', ['-static', '-O2', '-o', join(bin, 'udp-echo'), join(REPO, 'test', 'fixtures', 'udp-echo.c')], { encoding: 'utf8' });
  assert.equal(cc.status, 0, cc.stderr);
  const id = runD(['-p', '127.0.0.1:18083:9999/udp', '-v', `${bin}:/t:ro`, 'busybox', '/t/udp-echo', '9999']);
  try {
    const sock = createSocket('udp4');
    let t: NodeJS.Timeout | undefined;
    const reply = await new Promise<string>((resolve, reject) => {
      t = setInterval(() => sock.send('ping-udp', 18083, '127.0.0.1'), 200);
      sock.on('message', (m) => resolve(m.toString()));
      setTimeout(() => reject(new Error('no UDP reply')), 8000).unref();
    }).finally(() => {
      clearInterval(t);
      sock.close();
    });
    assert.equal(reply, 'ping-udp');
  } finally {
    ok(['rm', '-f', id]);
    rmSync(bin, { recursive: true, force: true });
  }
  const tar = join(env.root, 'exp.tar');
  assert.equal(spawnSync('bash', [join(REPO, 'scripts', 'mkimage-busybox'), tar]).status, 0);
  ok(['import', '--change', 'EXPOSE 80', '--change', 'EXPOSE 53/udp', '--change', 'CMD ["sh"]', tar, 'exposer']);
  const p = runD(['-P', 'exposer', 'sleep', '300']);
  try {
    const lines = ok(['port', p]).stdout.split('\n').filter(Boolean).sort();
    assert.equal(lines.length, 2);
    assert.match(lines[0]!, /^53\/udp -> 0\.0\.0\.0:\d+$/);
    assert.match(lines[1]!, /^80\/tcp -> 0\.0\.0\.0:\d+$/);
  } finally {
    ok(['rm', '-f', p]);
    ok(['rmi', 'exposer']);
  }
});

test('a host port is one container’s: a second -p on it fails as docker’s does and leaves nothing', async () => {
  const first = httpd(['-p', '18992:80'], 'first');
  const made: string[] = [first];
  try {
    assert.equal(await httpEventually('127.0.0.1', 18992), 'first\n');
    const r = env.berth(['run', '-d', '--name', 'second-port', '-p', '18992:80', 'busybox', 'httpd', '-f']);
    assert.equal(r.code, 125, r.stderr);
    assert.equal(r.stderr, 'Error: Bind for 0.0.0.0:18992 failed: port is already allocated\n');
    // As docker leaves it: created, with the error, holding no network at all.
    const second = inspect('second-port', '{{.Id}}');
    made.push(second);
    assert.equal(inspect(second, '{{.State.Status}} {{.State.ExitCode}}'), 'created 128', 'the CLI says 125, the container 128');
    assert.equal(inspect(second, '{{.State.Error}}'), 'Bind for 0.0.0.0:18992 failed: port is already allocated');
    assert.deepEqual(hostLeaks([second]), []);
    assert.equal(rootVeths().length, 1, `the first one's veth only: ${rootVeths().join(', ')}`);
    // A specific address on that port is inside 0.0.0.0; with --rm the failed container goes.
    const lo = env.berth(['run', '-d', '--rm', '-p', '127.0.0.1:18992:80/tcp', 'busybox', 'true']);
    assert.equal(lo.code, 125);
    assert.equal(lo.stderr, 'Error: Bind for 127.0.0.1:18992 failed: port is already allocated\n');
    // One container cannot take a host port twice either.
    const twice = env.berth(['run', '-d', '--rm', '-p', '18993:80', '-p', '18993:81', 'busybox', 'true']);
    assert.equal(twice.code, 125);
    assert.equal(twice.stderr, 'Error: Bind for 0.0.0.0:18993 failed: port is already allocated\n');
    assert.equal(ok(['ps', '-aq']).stdout.trim().split('\n').length, 2, 'the --rm ones are gone');
    // The same port number over UDP is another socket.
    made.push(runD(['-p', '18992:80/udp', 'busybox', 'sleep', '300']));
    // The first still serves; once it is gone, the second starts with the port.
    assert.equal(await httpEventually('127.0.0.1', 18992), 'first\n');
    ok(['rm', '-f', first]);
    ok(['start', second]);
    assert.equal(ok(['port', second]).stdout, '80/tcp -> 0.0.0.0:18992\n');
  } finally {
    ok(['rm', '-f', ...made.filter((id) => env.berth(['inspect', id]).code === 0)]);
  }
  assert.deepEqual(hostLeaks(made), []);
});

test('two specific addresses share a port; starts racing for one port: exactly one gets it', async () => {
  // 127.0.0.2 answers on lo like 127.0.0.1, so both published addresses can be reached from here.
  const a = httpd(['-p', '127.0.0.1:18994:80'], 'on-one');
  const b = httpd(['-p', '127.0.0.2:18994:80'], 'on-two');
  try {
    assert.equal(await httpEventually('127.0.0.1', 18994), 'on-one\n');
    assert.equal(await httpEventually('127.0.0.2', 18994), 'on-two\n');
  } finally {
    ok(['rm', '-f', a, b]);
  }
  const runs = await Promise.all(Array.from({ length: 4 }, () => env.berthAsync(['run', '-d', '-p', '18995:80', 'busybox', 'sleep', '300'])));
  const won = runs.filter((r) => r.code === 0);
  const lost = runs.filter((r) => r.code !== 0);
  const ids = ok(['ps', '-aq', '--no-trunc']).stdout.split('\n').filter(Boolean);
  try {
    assert.equal(won.length, 1, runs.map((r) => r.stderr).join(''));
    for (const r of lost) {
      assert.equal(r.code, 125);
      assert.equal(r.stderr, 'Error: Bind for 0.0.0.0:18995 failed: port is already allocated\n');
    }
    assert.equal(ids.length, 4);
    const winner = won[0]!.stdout.trim();
    assert.deepEqual(hostLeaks(ids.filter((id) => id !== winner)), [], 'the losers hold nothing');
    // -P and port 0 never pick a host port another container maps (here: the winner's, and each other's).
    const picked = await Promise.all(Array.from({ length: 3 }, () => env.berthAsync(['run', '-d', '-p', '80', '-p', '127.0.0.1::81/udp', 'busybox', 'sleep', '300'])));
    for (const r of picked) assert.equal(r.code, 0, r.stderr);
    const ports = picked.flatMap((r) => ok(['port', r.stdout.trim()]).stdout.split('\n').filter(Boolean));
    assert.equal(ports.length, 6);
    const tcp = ports.filter((l) => l.startsWith('80/tcp')).map((l) => l.split(':')[1]);
    assert.equal(new Set([...tcp, '18995']).size, 4, ports.join('\n'));
    ids.push(...picked.map((r) => r.stdout.trim()));
  } finally {
    ok(['rm', '-f', ...ids]);
  }
  assert.deepEqual(hostLeaks(ids), []);
});

test('--network container:, ns:, none and host', () => {
  // A serves on its loopback only: a container sharing its namespace reaches it there.
  const a = runD(['busybox', 'sh', '-c', 'mkdir -p /www && echo on-lo > /www/index.html && exec httpd -f -p 127.0.0.1:80 -h /www']);
  try {
    const ipA = inspect(a, '{{.NetworkSettings.IPAddress}}');
    const joined = ok(['run', '--rm', '--network', `container:${a}`, 'busybox', 'sh', '-c',
      'ip -4 -o addr show eth0; for i in $(seq 50); do wget -qO- http://127.0.0.1/ 2>/dev/null && break; sleep 0.1; done']);
    assert.match(joined.stdout, new RegExp(`inet ${ipA.replace(/\./g, '\\.')}/`));
    assert.match(joined.stdout, /^on-lo$/m);
    // ns:<path> joins a namespace by its file, here the one the engine named for A.
    const byPath = ok(['run', '--rm', '--network', `ns:/run/netns/berth-${a.slice(0, 16)}`, 'busybox', 'wget', '-qO-', 'http://127.0.0.1/']);
    assert.equal(byPath.stdout, 'on-lo\n');
    const bad = env.berth(['run', '--rm', '--network', 'ns:/etc/passwd', 'busybox', 'true']);
    assert.equal(bad.code, 125);
    assert.match(bad.stderr, /is not a network namespace/);
  } finally {
    ok(['rm', '-f', a]);
  }
  assert.equal(ok(['run', '--rm', '--network', 'none', 'busybox', 'sh', '-c', 'ls /sys/class/net']).stdout, 'lo\n');
  // The host's own namespace (its interface list would do too, but other roots' veths come and go meanwhile).
  const host = ok(['run', '--rm', '--network', 'host', 'busybox', 'readlink', '/proc/self/ns/net']).stdout;
  assert.equal(host, `${readlinkSync('/proc/self/ns/net')}\n`);
});

test('--ip, --mac-address, --hostname, --dns, --dns-search, --add-host', () => {
  const r = ok([
    'run', '--rm', '--network', 'tnet', '--ip', '10.240.7.77', '--mac-address', '02:42:0a:f0:07:4d', '--hostname', 'h1',
    '--dns', '10.0.0.53', '--dns-search', 'example.test', '--add-host', 'db.local:10.1.2.3',
    'busybox', 'sh', '-c', 'ip -4 -o addr show eth0; cat /sys/class/net/eth0/address; hostname; cat /etc/resolv.conf /etc/hosts',
  ]);
  assert.match(r.stdout, /inet 10\.240\.7\.77\/24/);
  assert.match(r.stdout, /^02:42:0a:f0:07:4d$/m);
  assert.match(r.stdout, /^h1$/m);
  assert.match(r.stdout, /^nameserver 10\.0\.0\.53$/m);
  assert.match(r.stdout, /^search example\.test$/m);
  assert.match(r.stdout, /^10\.1\.2\.3\s+db\.local$/m);
  assert.match(r.stdout, /^10\.240\.7\.77\s+h1/m);
  const bad = env.berth(['run', '--rm', '--ip', '10.77.9.9', 'busybox', 'true']);
  assert.equal(bad.code, 125);
  assert.match(bad.stderr, /user specified IP address is supported on user defined networks only/);
  const out = env.berth(['run', '--rm', '--network', 'tnet', '--ip', '10.9.9.9', 'busybox', 'true']);
  assert.match(out.stderr, /not in the subnet of network tnet/);
});

test('connect and disconnect a running container', () => {
  ok(['network', 'create', '--subnet', '10.240.8.0/24', 'tnet2']);
  const id = runD(['--network', 'tnet', 'busybox', 'sleep', '300']);
  try {
    ok(['network', 'connect', '--alias', 'second', 'tnet2', id]);
    assert.match(ok(['exec', id, 'ip', '-4', '-o', 'addr', 'show', 'eth1']).stdout, /inet 10\.240\.8\.\d+\/24/);
    const other = ok(['run', '--rm', '--network', 'tnet2', 'busybox', 'ping', '-c', '1', '-W', '2', 'second']);
    assert.match(other.stdout, /1 packets received/);
    ok(['network', 'disconnect', 'tnet2', id]);
    assert.notEqual(env.berth(['exec', id, 'ip', 'link', 'show', 'eth1']).code, 0);
    const rm = env.berth(['network', 'rm', 'tnet']);
    assert.equal(rm.code, 1);
    assert.match(rm.stderr, /has active endpoints/);
  } finally {
    ok(['rm', '-f', id]);
  }
  ok(['network', 'rm', 'tnet2']);
});

test('30 parallel starts get 30 distinct addresses; rm leaves no netns, lease or rule', async () => {
  const runs = await Promise.all(Array.from({ length: 30 }, () => env.berthAsync(['run', '-d', '--network', 'tnet', 'busybox', 'sleep', '300'])));
  for (const r of runs) assert.equal(r.code, 0, r.stderr);
  const ids = runs.map((r) => r.stdout.trim());
  const ips = ids.map((id) => inspect(id, '{{.NetworkSettings.Networks.tnet.IPAddress}}'));
  assert.equal(new Set(ips).size, 30, `distinct: ${ips.join(' ')}`);
  ok(['rm', '-f', ...ids]);
  assert.deepEqual(hostLeaks(ids), []);
});

/** This root's netns markers and the lease files on tnet, by container id (what the engine itself could leave). */
function rootHolders(): string[] {
  const out: string[] = [];
  const markers = join(env.root, 'netns');
  for (const m of existsSync(markers) ? readdirSync(markers) : []) {
    if (existsSync(join('/run/netns', m))) out.push(`netns ${m} of ${readFileSync(join(markers, m), 'utf8').trim().slice(0, 12)}`);
  }
  const dir = join(env.root, 'cni', 'ipam', 'tnet');
  for (const f of existsSync(dir) ? readdirSync(dir) : []) {
    if (/^\d+\.\d+\.\d+\.\d+$/.test(f)) out.push(`lease ${f} of ${readFileSync(join(dir, f), 'utf8').split(/\r?\n/)[0]!.slice(0, 12)}`);
  }
  return out;
}

/** Host-side veths on this root's bridges (its default network's and tnet's). */
function rootVeths(): string[] {
  const tnet = (JSON.parse(ok(['network', 'inspect', 'tnet']).stdout) as { BerthBridge: string }[])[0]!.BerthBridge;
  return [rootBridge(env.root), tnet].flatMap((br) => {
    const brif = `/sys/class/net/${br}/brif`;
    return existsSync(brif) ? readdirSync(brif).map((v) => `${v} on ${br}`) : [];
  });
}

/**
 * Kill the CLI with SIGKILL (a user's kill -9, an OOM kill) `ms` after it began or, with `netnsOf`, `ms`
 * after that container's network namespace appeared: in the middle of wiring its network.
 */
async function killedAfter(args: string[], ms: number, netnsOf?: string): Promise<void> {
  const child = spawn(BERTH, ['--root', env.root, ...args], { stdio: 'ignore' });
  const closed = new Promise((r) => child.on('close', r));
  if (netnsOf) {
    // Polled without yielding: a timer's granularity would miss the few milliseconds that matter.
    const ns = `/run/netns/berth-${netnsOf.slice(0, 16)}`;
    const end = Date.now() + 10_000;
    while (!existsSync(ns) && Date.now() < end);
    const t = Date.now();
    while (Date.now() - t < ms);
  } else {
    await new Promise((r) => setTimeout(r, ms));
  }
  child.kill('SIGKILL');
  await closed;
}

/**
 * Processes a killed CLI left working on these containers: the conmon it spawned goes on alone (its start
 * pipe's EOF lets it run the runtime) until the runtime has created the container (conmon then writes its
 * pidfile and watches) or has failed, when conmon runs its exit command, `container cleanup`, which takes
 * the container's lock.
 */
function orphansOf(ids: string[]): string[] {
  const out: string[] = [];
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p) && Number(p) !== process.pid)) {
    let cmd: string;
    try {
      cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    } catch {
      continue; // gone
    }
    const id = ids.find((i) => cmd.includes(i));
    if (!id) continue;
    const conmon = cmd.startsWith('/usr/bin/conmon\0');
    if ((conmon && !existsSync(join(env.root, 'containers', id, 'pidfile'))) || cmd.includes(`\0cleanup\0${id}`)) {
      out.push(`${pid} ${cmd.split('\0').slice(0, 8).join(' ')}`);
    }
  }
  return out;
}

/**
 * Wait until the killed CLIs' orphans are done: what they hold is theirs until then, not the next
 * command's. Done means none seen for half a second (a process the CLI forked may exec conmon late).
 */
async function settled(ids: string[]): Promise<void> {
  let quiet = 0;
  await eventually(() => (orphansOf(ids).length === 0 ? ++quiet >= 5 : (quiet = 0) > 0), 60_000, 100);
  assert.deepEqual(orphansOf(ids), [], 'processes of the killed CLIs still at work');
}

test('a CLI killed during start leaves no address taken for good', async () => {
  const ids: string[] = [];
  for (let i = 0; i < 5; i++) {
    const id = ok(['create', '--network', 'tnet', 'busybox', 'sleep', '300']).stdout.trim();
    ids.push(id);
    await killedAfter(['start', id], 60 + i * 40);
  }
  for (let i = 0; i < 4; i++) {
    const id = ok(['create', '--network', 'tnet', 'busybox', 'sleep', '300']).stdout.trim();
    ids.push(id);
    await killedAfter(['start', id], i * 4, id);
  }
  // The next command repairs what the killed ones left: a start killed before it ran anything of the
  // container's leaves it created, and a created container holds no address, netns, rule or veth.
  await settled(ids);
  ok(['ps', '-a']);
  const state = (id: string) => inspect(id, '{{.State.Status}}');
  const created = ids.filter((id) => state(id) === 'created');
  const running = ids.filter((id) => state(id) === 'running');
  assert.equal(created.length + running.length, ids.length, ids.map(state).join(' '));
  assert.ok(created.length > 0, 'a kill 60 ms into a start comes before the start is done');
  assert.deepEqual(hostLeaks(created), []);
  assert.equal(rootVeths().length, running.length, `one veth per running container: ${rootVeths().join(', ')}`);
  assert.equal(rootHolders().length, 2 * running.length, rootHolders().join(', '));
  ok(['rm', '-f', ...ids]);
  assert.deepEqual(hostLeaks(ids), []);
  assert.deepEqual(rootVeths(), []);
});

test('a `run -d` killed while it creates or starts leaves nothing half-made', async () => {
  for (let i = 0; i < 5; i++) await killedAfter(['run', '-d', '--label', 'killed=run', '--network', 'tnet', 'busybox', 'sleep', '300'], 50 + i * 50);
  const made = readdirSync(join(env.root, 'containers'));
  await settled(made);
  ok(['ps', '-a']);
  // Killed in create: the container is gone; in start: created and holding nothing; after: it runs.
  const ids = ok(['ps', '-aq', '--no-trunc', '--filter', 'label=killed=run']).stdout.split('\n').filter(Boolean);
  const running = ids.filter((id) => inspect(id, '{{.State.Status}}') === 'running');
  const others = ids.filter((id) => !running.includes(id));
  for (const id of others) assert.equal(inspect(id, '{{.State.Status}}'), 'created');
  assert.deepEqual(hostLeaks(others), []);
  assert.equal(rootVeths().length, running.length, rootVeths().join(', '));
  // No lease or netns of a container that is gone, either: only the running ones hold any.
  assert.equal(rootHolders().length, 2 * running.length, rootHolders().join(', '));
  if (ids.length > 0) ok(['rm', '-f', ...ids]);
  assert.deepEqual(hostLeaks(ids), []);
  assert.deepEqual(rootHolders(), []);
});

test('network create --route: every container on the network gets the static routes; bad routes create nothing', () => {
  ok(['network', 'create', '--subnet', '10.240.11.0/24', '--route', '192.168.77.0/24,10.240.11.254', '--route', '10.241.0.0/16,10.240.11.253', 'troute']);
  try {
    const net = (JSON.parse(ok(['network', 'inspect', 'troute']).stdout) as { Routes: unknown }[])[0]!;
    assert.deepEqual(net.Routes, [
      { Destination: '192.168.77.0/24', Gateway: '10.240.11.254' },
      { Destination: '10.241.0.0/16', Gateway: '10.240.11.253' },
    ]);
    assert.ok(!('Routes' in (JSON.parse(ok(['network', 'inspect', 'tnet']).stdout) as object[])[0]!), 'no Routes key without routes');
    const r = ok(['run', '--rm', '--network', 'troute', 'busybox', 'ip', '-4', 'route']).stdout;
    assert.match(r, /^default via 10\.240\.11\.1 dev eth0/m);
    assert.match(r, /^192\.168\.77\.0\/24 via 10\.240\.11\.254 dev eth0/m);
    assert.match(r, /^10\.241\.0\.0\/16 via 10\.240\.11\.253 dev eth0/m);
    // A container on another network does not get them.
    const two = ok(['run', '--rm', '--network', 'tnet', 'busybox', 'ip', '-4', 'route']).stdout;
    assert.doesNotMatch(two, /192\.168\.77\.0/);
  } finally {
    ok(['network', 'rm', 'troute']);
  }
  const before = ok(['network', 'ls', '-q', '--no-trunc']).stdout;
  for (const [route, why] of [
    ['192.168.77.0/24', /^Error: invalid route "192\.168\.77\.0\/24": expected DESTINATION,GATEWAY\n$/],
    ['192.168.77.0,10.240.12.254', /^Error: invalid route destination: 192\.168\.77\.0: not a CIDR address\n$/],
    ['192.168.77.1/24,10.240.12.254', /^Error: invalid route destination: 192\.168\.77\.1\/24: host bits are set \(did you mean 192\.168\.77\.0\/24\?\)\n$/],
    ['192.168.77.0/24,10.240.13.254', /^Error: invalid route "192\.168\.77\.0\/24,10\.240\.13\.254": gateway 10\.240\.13\.254 is not in an IPv4 subnet of network tbad\n$/],
    ['192.168.77.0/24,gw', /^Error: invalid route "192\.168\.77\.0\/24,gw": gateway gw is not an IP address\n$/],
    ['0.0.0.0/0,10.240.12.254', /^Error: invalid route "0\.0\.0\.0\/0,10\.240\.12\.254": the network routes 0\.0\.0\.0\/0 through its own gateway \(use --internal to give it another\)\n$/],
    ['10.240.12.0/24,10.240.12.254', /^Error: invalid route "10\.240\.12\.0\/24,10\.240\.12\.254": 10\.240\.12\.0\/24 is a subnet of the network itself\n$/],
  ] as const) {
    const e = env.berth(['network', 'create', '--subnet', '10.240.12.0/24', '--route', route, 'tbad']);
    assert.equal(e.code, 1, route);
    assert.match(e.stderr, why);
    assert.equal(e.stdout, '');
  }
  assert.equal(ok(['network', 'ls', '-q', '--no-trunc']).stdout, before, 'nothing was created');
});

test('internal, IPv6 and MTU networks; a subnet with host bits is kept as given, as dockerd keeps it; bad network input', () => {
  ok(['network', 'create', '--internal', '--subnet', '10.240.9.0/24', '-o', 'com.docker.network.driver.mtu=1400', 'tint']);
  const r = ok(['run', '--rm', '--network', 'tint', 'busybox', 'sh', '-c', 'ip route; cat /sys/class/net/eth0/mtu']);
  assert.doesNotMatch(r.stdout, /^default/m, 'an internal network has no way out');
  assert.match(r.stdout, /^1400$/m);
  ok(['network', 'create', '--ipv6', '--subnet', 'fd00:b7::/64', 't6']);
  const v6 = ok(['run', '--rm', '--network', 't6', 'busybox', 'ip', '-6', '-o', 'addr', 'show', 'eth0']);
  assert.match(v6.stdout, /inet6 fd00:b7::[0-9a-f:]+\/64 scope global/);
  for (const [args, why] of [
    [['network', 'create', '--subnet', '10.240.7.128/25', 'overlap'], /Pool overlaps/],
    [['network', 'create', 'tnet'], /already exists/],
    [['network', 'rm', 'host'], /pre-defined network/],
    [['run', '--rm', '--network', 'nosuchnet', 'busybox', 'true'], /network nosuchnet not found/],
  ] as const) {
    const e = env.berth([...args]);
    assert.notEqual(e.code, 0);
    assert.match(e.stderr, why);
  }
  ok(['network', 'create', '--subnet', '10.240.10.1/24', 'hostbits']);
  try {
    assert.equal(ok(['network', 'inspect', '-f', '{{json .IPAM.Config}}', 'hostbits']).stdout, '[{"Subnet":"10.240.10.1/24"}]\n');
    assert.match(ok(['run', '--rm', '--network', 'hostbits', 'busybox', 'ip', '-4', '-o', 'addr', 'show', 'eth0']).stdout, /inet 10\.240\.10\.\d+\/24/);
  } finally {
    ok(['network', 'rm', 'hostbits']);
  }
  const ls = ok(['network', 'ls', '--format', '{{.Name}} {{.Driver}}']).stdout;
  assert.match(ls, /^bridge bridge\nhost host\nnone null\n/);
});

test('a user network shows only the options it was given, as docker does (docker-compose compares them); its bridge is BerthBridge', () => {
  ok(['network', 'create', 'optnet']);
  ok(['network', 'create', '-o', 'com.docker.network.driver.mtu=1400', 'optmtu']);
  try {
    const nets = JSON.parse(ok(['network', 'inspect', 'optnet', 'optmtu']).stdout) as { Options: Record<string, string>; BerthBridge: string }[];
    assert.deepEqual(nets.map((n) => n.Options), [{}, { 'com.docker.network.driver.mtu': '1400' }]);
    for (const n of nets) assert.ok(existsSync(`/sys/class/net/${n.BerthBridge}`) || /^bn-[0-9a-f]{12}$/.test(n.BerthBridge), n.BerthBridge);
  } finally {
    ok(['network', 'rm', 'optnet', 'optmtu']);
  }
});
