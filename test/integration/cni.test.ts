/**
 * The CNI plugins for real, as root: a test bridge network (btest0, 10.231.0.0/24) and bare network
 * namespaces standing in for containers. Addresses, reachability, static IP and MAC, published TCP and UDP
 * ports, concurrency, and that DEL (also without the namespace and without the cached result), a failed
 * ADD and the orphan sweep leave no veth, lease or iptables rule behind.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createSocket } from 'node:dgram';
import http from 'node:http';
import { join } from 'node:path';
import { cniAdd, cniCheck, cniDel, releaseOrphanLeases, sweepOrphanRules, type AttachRequest, type NetworkDef, type PortMapping } from '../../src/network/cni.ts';
import { createNetns, deleteNetns, listNetns } from '../../src/network/netns.ts';
import { bridgeRules, internalRules, removeBridgeRules } from '../../src/network/bridge-rules.ts';
import { contains, parseCidr } from '../../src/network/ipaddr.ts';
import { Conflict, RuntimeFailure } from '../../src/errors.ts';

const SUBNET = '10.231.0.0/24';
const GATEWAY = '10.231.0.1';
const NS_PREFIX = 'btest-';
const net: NetworkDef = { name: 'btest', id: 'e7'.repeat(32), bridge: 'btest0', subnets: [{ subnet: SUBNET, gateway: GATEWAY }], internal: false };
const internalNet: NetworkDef = { name: 'btest-int', id: 'e8'.repeat(32), bridge: 'btest1', subnets: [{ subnet: '10.231.1.0/24', gateway: '10.231.1.1' }], internal: true };
const dualNet: NetworkDef = {
  name: 'btest-v6',
  id: 'e9'.repeat(32),
  bridge: 'btest2',
  subnets: [{ subnet: '10.231.2.0/24', gateway: '10.231.2.1', ipRange: '10.231.2.128/25' }, { subnet: 'fd00:e7:2::/64', gateway: 'fd00:e7:2::1' }],
  internal: false,
};
const freshNet: NetworkDef = { name: 'btest-fresh', id: 'ea'.repeat(32), bridge: 'btest3', subnets: [{ subnet: '10.231.3.0/24', gateway: '10.231.3.1' }], internal: false };
/** No inter-container traffic, an address held back, an interface with link-local addresses (docker's options). */
const iccNet: NetworkDef = {
  name: 'btest-icc',
  id: 'eb'.repeat(32),
  bridge: 'btest4',
  subnets: [{ subnet: '10.231.4.0/24', gateway: '10.231.4.1', ipRange: '10.231.4.0/29', aux: { held: '10.231.4.2' } }],
  internal: false,
  icc: false,
};
const BRIDGES = ['btest0', 'btest1', 'btest2', 'btest3', 'btest4'];

let dataDir = '';
let ipForward = '';
let chainsBefore = new Set<string>();
const servers: ChildProcess[] = [];

function sh(cmd: string, args: string[]): { code: number; out: string } {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  return { code: r.status ?? 128, out: `${r.stdout}${r.stderr}` };
}
const cid = (n: number | string): string => `${String(n).padStart(4, '0')}${'c'.repeat(60)}`;
const req = (id: string, ns: string, extra: Partial<AttachRequest> = {}): AttachRequest => ({
  containerId: id, netnsPath: `/run/netns/${ns}`, ifName: 'eth0', net, dataDir, ...extra,
});
const bare = (cidr: string): string => cidr.split('/')[0]!;
const leaseFiles = (): string[] => {
  try {
    return readdirSync(join(dataDir, 'ipam', 'btest')).filter((f) => f !== 'lock' && !f.startsWith('last_reserved_ip.'));
  } catch {
    return [];
  }
};
const iptablesText = (): string => sh('iptables-save', []).out + sh('ip6tables-save', []).out;
const vethsOnBridge = (): string => sh('ip', ['-br', 'link', 'show', 'master', 'btest0']).out.trim();
function ping(ns: string, ip: string): void {
  const r = sh('ip', ['netns', 'exec', ns, '/bin/busybox', 'ping', '-c1', '-W2', ip]);
  assert.equal(r.code, 0, `ping ${ip} from ${ns}: ${r.out}`);
}
/** Nothing for these containers may remain: no lease, no rule naming the id or its address. */
function assertGone(ids: string[], ips: string[]): void {
  const rules = iptablesText();
  for (const id of ids) assert.ok(!rules.includes(id), `iptables still mentions ${id}:\n${rules}`);
  for (const ip of ips) assert.ok(!new RegExp(`[ "]${ip.replace(/\./g, '\\.')}[/:]`).test(rules), `iptables still mentions ${ip}:\n${rules}`);
  for (const ip of ips) assert.ok(!leaseFiles().includes(ip), `lease ${ip} is still held`);
  for (const id of ids) assert.ok(!existsSync(join(dataDir, 'results', `btest-${id}-eth0.json`)), `cached result of ${id} left`);
}

function chains(): Set<string> {
  const out = new Set<string>();
  for (const tool of ['iptables-save', 'ip6tables-save']) {
    for (const l of sh(tool, []).out.split('\n')) if (l.startsWith(':CNI-')) out.add(`${tool}:${l.slice(1).split(' ')[0]}`);
  }
  return out;
}

/** Remove CNI chains this test created (shared ones included) and the rules jumping to them. */
function removeNewChains(): void {
  for (const tool of ['iptables', 'ip6tables']) {
    for (const table of ['nat', 'filter']) {
      const lines = sh(`${tool}-save`, ['-t', table]).out.split('\n');
      const mine = new Set(lines.filter((l) => l.startsWith(':CNI-')).map((l) => l.slice(1).split(' ')[0]!).filter((c) => !chainsBefore.has(`${tool}-save:${c}`)));
      if (mine.size === 0) continue;
      const refs = lines.filter((l) => l.startsWith('-A ') && !mine.has(l.split(' ')[1]!) && mine.has(/ -j (\S+)$/.exec(l)?.[1] ?? ''));
      const script = [`*${table}`, ...refs.map((l) => `-D ${l.slice(3)}`), ...[...mine].map((c) => `-F ${c}`), ...[...mine].map((c) => `-X ${c}`), 'COMMIT', ''].join('\n');
      spawnSync(`${tool}-restore`, ['--noflush'], { input: script });
    }
  }
}

before(() => {
  assert.equal(process.getuid?.(), 0, 'CNI tests run as root');
  // 10.231.0.0/21 holds the five test subnets; no route on the host may overlap it.
  const mine = parseCidr('10.231.0.0/21')!;
  for (const line of sh('ip', ['-4', 'route', 'show', 'table', 'all']).out.split('\n')) {
    const first = line.split(' ')[0]!;
    const dst = parseCidr(first.includes('/') ? first : `${first}/32`);
    if (dst && dst.prefix > 0 && (contains(dst, '10.231.0.0') || contains(mine, first.split('/')[0]!))) {
      throw new Error(`10.231.0.0/21 is in use on this host: ${line}`);
    }
  }
  for (const b of BRIDGES) assert.notEqual(sh('ip', ['link', 'show', b]).code, 0, `${b} already exists`);
  dataDir = mkdtempSync('/tmp/berth-cni-');
  ipForward = readFileSync('/proc/sys/net/ipv4/ip_forward', 'utf8').trim();
  chainsBefore = chains();
});

after(async () => {
  for (const s of servers) s.kill('SIGKILL');
  for (const ns of listNetns(NS_PREFIX)) await deleteNetns(ns).catch(() => undefined);
  for (const b of BRIDGES) sh('ip', ['link', 'del', b]);
  for (const b of BRIDGES) await removeBridgeRules(b, dataDir);
  removeNewChains();
  if (ipForward) writeFileSync('/proc/sys/net/ipv4/ip_forward', ipForward);
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

test('two containers get distinct addresses in the subnet and reach each other', async () => {
  const a = await createNetns(`${NS_PREFIX}a`);
  assert.equal(a.path, '/run/netns/btest-a');
  assert.equal((await createNetns(`${NS_PREFIX}b`)).path, '/run/netns/btest-b');
  await assert.rejects(createNetns(`${NS_PREFIX}b`), /already exists/);
  await a.loopback;
  assert.ok(sh('ip', ['-n', `${NS_PREFIX}a`, 'link', 'show', 'lo']).out.includes(',UP'), 'lo is up once `loopback` settles');
  const [x, y] = await Promise.all([cniAdd(req(cid('a'), `${NS_PREFIX}a`)), cniAdd(req(cid('b'), `${NS_PREFIX}b`))]);
  for (const att of [x, y]) {
    assert.equal(att.ifName, 'eth0');
    assert.match(att.mac, /^([0-9a-f]{2}:){5}[0-9a-f]{2}$/);
    assert.equal(att.ips.length, 1);
    assert.equal(att.ips[0]!.version, 4);
    assert.equal(att.ips[0]!.gateway, GATEWAY);
    assert.match(att.ips[0]!.address, /\/24$/);
    assert.ok(contains(parseCidr(SUBNET)!, bare(att.ips[0]!.address)));
  }
  assert.notEqual(x.ips[0]!.address, y.ips[0]!.address);
  ping(`${NS_PREFIX}a`, bare(y.ips[0]!.address));
  ping(`${NS_PREFIX}b`, bare(x.ips[0]!.address));
  ping(`${NS_PREFIX}a`, GATEWAY);
  assert.match(sh('ip', ['-n', `${NS_PREFIX}a`, 'route']).out, /default via 10\.231\.0\.1 dev eth0/);
  await cniCheck(req(cid('a'), `${NS_PREFIX}a`));
  assert.equal(readFileSync(join(dataDir, 'ipam', 'btest', bare(x.ips[0]!.address)), 'utf8'), `${cid('a')}\r\neth0`);

  await cniDel(req(cid('a'), `${NS_PREFIX}a`));
  await cniDel(req(cid('b'), `${NS_PREFIX}b`));
  await cniDel(req(cid('b'), `${NS_PREFIX}b`)); // idempotent
  assert.equal(sh('ip', ['-n', `${NS_PREFIX}a`, 'link', 'show', 'eth0']).code, 1, 'eth0 removed from the namespace');
  assert.equal(vethsOnBridge(), '');
  assertGone([cid('a'), cid('b')], [bare(x.ips[0]!.address), bare(y.ips[0]!.address)]);
  await deleteNetns(`${NS_PREFIX}a`);
  await deleteNetns(`${NS_PREFIX}a`); // idempotent
  await deleteNetns(`${NS_PREFIX}b`);
  assert.deepEqual(listNetns(NS_PREFIX), []);
});

test('a static IP and MAC are honoured', async () => {
  await createNetns(`${NS_PREFIX}s`);
  const att = await cniAdd(req(cid('s'), `${NS_PREFIX}s`, { ip: '10.231.0.50', mac: '02:42:0a:e7:00:32' }));
  assert.deepEqual(att, { ifName: 'eth0', hostIf: att.hostIf, mac: '02:42:0a:e7:00:32', ips: [{ address: '10.231.0.50/24', gateway: GATEWAY, version: 4 }] });
  assert.match(sh('ip', ['-br', 'link', 'show', 'master', 'btest0']).out, new RegExp(`^${att.hostIf}@`), 'the host end is the bridge’s port');
  const link = sh('ip', ['-n', `${NS_PREFIX}s`, 'addr', 'show', 'eth0']).out;
  assert.match(link, /link\/ether 02:42:0a:e7:00:32 /);
  assert.match(link, /inet 10\.231\.0\.50\/24 /);
  ping(`${NS_PREFIX}s`, GATEWAY);
  // A second ADD of the same attachment is refused before any plugin runs, and the first one survives.
  await assert.rejects(cniAdd(req(cid('s'), `${NS_PREFIX}s`)), (e: Error) => e instanceof Conflict);
  ping(`${NS_PREFIX}s`, GATEWAY);
  // The address is taken: a second container asking for it fails cleanly.
  await createNetns(`${NS_PREFIX}s2`);
  await assert.rejects(cniAdd(req(cid('s2'), `${NS_PREFIX}s2`, { ip: '10.231.0.50' })), /CNI plugin bridge ADD failed for network btest: .*10\.231\.0\.50/);
  await cniDel(req(cid('s'), `${NS_PREFIX}s`));
  assertGone([cid('s'), cid('s2')], ['10.231.0.50']);
  await deleteNetns(`${NS_PREFIX}s`);
  await deleteNetns(`${NS_PREFIX}s2`);
});

const SERVER = `
const http = require('http'), dgram = require('dgram');
http.createServer((q, r) => r.end('hello from the netns')).listen(80, '0.0.0.0', () => {
  const u = dgram.createSocket('udp4');
  u.on('message', (m, ri) => u.send(Buffer.concat([Buffer.from('echo:'), m]), ri.port, ri.address));
  u.bind(5353, () => console.log('ready'));
});`;

function httpGet(host: string, port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const r = http.get({ host, port, path: '/', agent: false, timeout: 3000 }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (c: string) => (body += c)).on('end', () => resolve(body));
    });
    r.on('timeout', () => r.destroy(new Error(`timeout ${host}:${port}`)));
    r.on('error', reject);
  });
}

function udpEcho(host: string, port: number, msg: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = createSocket('udp4');
    const timer = setTimeout(() => (s.close(), reject(new Error(`no UDP reply from ${host}:${port}`))), 3000);
    s.on('message', (m) => (clearTimeout(timer), s.close(), resolve(m.toString())));
    s.send(msg, port, host);
  });
}

test('published ports reach a server in the namespace: TCP on 127.0.0.1 and the gateway, UDP', async () => {
  const ns = `${NS_PREFIX}p`;
  await createNetns(ns);
  const ports: PortMapping[] = [
    { hostPort: 18080, containerPort: 80, protocol: 'tcp', hostIP: '127.0.0.1' },
    { hostPort: 18081, containerPort: 80, protocol: 'tcp' },
    { hostPort: 18082, containerPort: 5353, protocol: 'udp' },
  ];
  const att = await cniAdd(req(cid('p'), ns, { portMappings: ports }));
  const server = spawn('ip', ['netns', 'exec', ns, process.execPath, '-e', SERVER], { stdio: ['ignore', 'pipe', 'inherit'] });
  servers.push(server);
  await new Promise<void>((resolve, reject) => {
    server.stdout!.on('data', (d: Buffer) => d.toString().includes('ready') && resolve());
    server.on('exit', (c) => reject(new Error(`server exited ${c}`)));
  });
  assert.equal(await httpGet(bare(att.ips[0]!.address), 80), 'hello from the netns', 'direct');
  assert.equal(await httpGet('127.0.0.1', 18080), 'hello from the netns', '127.0.0.1:18080 (hostIP 127.0.0.1)');
  assert.equal(await httpGet('127.0.0.1', 18081), 'hello from the netns', '127.0.0.1:18081 (all addresses)');
  assert.equal(await httpGet(GATEWAY, 18081), 'hello from the netns', 'gateway:18081 (all addresses)');
  // Bound to 127.0.0.1 only, like docker's -p 127.0.0.1:18080:80: the gateway address is not forwarded.
  await assert.rejects(httpGet(GATEWAY, 18080), /ECONNREFUSED/);
  assert.equal(await udpEcho('127.0.0.1', 18082, 'ping'), 'echo:ping');
  assert.equal(await udpEcho(GATEWAY, 18082, 'pong'), 'echo:pong');
  assert.equal(readFileSync('/proc/sys/net/ipv4/conf/btest0/route_localnet', 'utf8').trim(), '1', 'portmap enabled route_localnet');

  server.kill('SIGKILL');
  // DEL from the NetworkDef and id alone: no port list, the cached result supplies it.
  await cniDel(req(cid('p'), ns));
  assertGone([cid('p')], [bare(att.ips[0]!.address)]);
  await assert.rejects(httpGet('127.0.0.1', 18081), /ECONNREFUSED/);
  await deleteNetns(ns);
});

test('30 concurrent attachments get 30 distinct addresses, and 30 concurrent detachments free them', async () => {
  const names = Array.from({ length: 30 }, (_, i) => `${NS_PREFIX}m${i}`);
  await Promise.all(names.map((n) => createNetns(n)));
  const t0 = Date.now();
  const atts = await Promise.all(names.map((n, i) => cniAdd(req(cid(i), n))));
  const addMs = Date.now() - t0;
  const ips = atts.map((a) => bare(a.ips[0]!.address));
  assert.equal(new Set(ips).size, 30, ips.join(' '));
  assert.deepEqual(leaseFiles().sort(), [...ips].sort());
  ping(names[0]!, ips[29]!);
  await Promise.all(names.map((n, i) => cniDel(req(cid(i), n))));
  console.log(`# 30 concurrent ADDs: ${addMs} ms; DELs: ${Date.now() - t0 - addMs} ms`);
  assert.equal(vethsOnBridge(), '');
  assertGone(names.map((_, i) => cid(i)), ips);
  await Promise.all(names.map((n) => deleteNetns(n)));
});

test('a failing ADD reports the plugin and undoes what already succeeded', async () => {
  const ns = `${NS_PREFIX}f`;
  await createNetns(ns);
  // host-local refuses the address: the bridge plugin has already made the veth, which must go.
  await assert.rejects(cniAdd(req(cid('f1'), ns, { ip: '10.99.0.5' })), (e: Error) => {
    assert.ok(e instanceof RuntimeFailure);
    assert.match(e.message, /^CNI plugin bridge ADD failed for network btest: .*10\.99\.0\.5/);
    assert.ok(!e.message.includes('\n'));
    return true;
  });
  // portmap (the second plugin) refuses port 0 after the bridge plugin succeeded.
  await assert.rejects(
    cniAdd(req(cid('f2'), ns, { portMappings: [{ hostPort: 0, containerPort: 80, protocol: 'tcp' }] })),
    /^RuntimeFailure: CNI plugin portmap ADD failed for network btest: .*Invalid host port number: 0/,
  );
  assert.equal(sh('ip', ['-n', ns, 'link', 'show', 'eth0']).code, 1, 'no eth0 left in the namespace');
  assert.equal(vethsOnBridge(), '');
  assert.deepEqual(leaseFiles(), []);
  assertGone([cid('f1'), cid('f2')], []);
  await deleteNetns(ns);
});

test('a first ADD that fails on a new bridge does not break the network for the next one', async () => {
  const ns = `${NS_PREFIX}n`;
  await createNetns(ns);
  const r = { ...req(cid('n'), ns), net: freshNet };
  await assert.rejects(cniAdd({ ...r, ip: '10.99.0.7' }), /failed to allocate all requested IPs: 10\.99\.0\.7/);
  assert.notEqual(readFileSync('/sys/class/net/btest3/address', 'utf8').trim(), '00:00:00:00:00:00', 'the bridge keeps its MAC without ports');
  const att = await cniAdd(r);
  ping(ns, '10.231.3.1');
  await cniDel(r);
  assertGone([cid('n')], [bare(att.ips[0]!.address)]);
  await deleteNetns(ns);
});

test('DEL without the namespace and without the cached result still removes everything', async () => {
  const ns = `${NS_PREFIX}g`;
  await createNetns(ns);
  const ports: PortMapping[] = [{ hostPort: 18090, containerPort: 80, protocol: 'tcp' }];
  const att = await cniAdd(req(cid('g'), ns, { portMappings: ports }));
  const ip = bare(att.ips[0]!.address);
  assert.ok(iptablesText().includes(cid('g')));
  // The container's namespace died with it and the engine lost its cache: only NetworkDef + id remain.
  await deleteNetns(ns);
  rmSync(join(dataDir, 'results', `btest-${cid('g')}-eth0.json`));
  await cniDel(req(cid('g'), ns));
  assertGone([cid('g')], [ip]);
  assert.equal(vethsOnBridge(), '');
});

test('orphan repair: releaseOrphanLeases and sweepOrphanRules spare live containers', async () => {
  const [dead, live] = [`${NS_PREFIX}od`, `${NS_PREFIX}ol`];
  await createNetns(dead);
  await createNetns(live);
  const ports: PortMapping[] = [{ hostPort: 18095, containerPort: 80, protocol: 'tcp' }];
  const d = await cniAdd(req(cid('od'), dead, { portMappings: ports }));
  const l = await cniAdd(req(cid('ol'), live, { portMappings: [{ hostPort: 18096, containerPort: 80, protocol: 'tcp' }] }));
  await deleteNetns(dead); // a crash: no DEL ran
  const liveSet = new Set([cid('ol')]);
  assert.deepEqual(releaseOrphanLeases(dataDir, 'btest', liveSet), [bare(d.ips[0]!.address)]);
  const applied = await sweepOrphanRules([net], dataDir, liveSet);
  assert.ok(applied.some((s) => s.includes('-X CNI-DN-')), applied.join('\n'));
  assertGone([cid('od')], [bare(d.ips[0]!.address)]);
  const rules = iptablesText();
  assert.ok(rules.includes(cid('ol')), 'the live container keeps its rules');
  for (const rule of bridgeRules(net, 'iptables', 'filter')) assert.ok(rules.includes(rule), `the network keeps its rule ${rule}`);
  assert.deepEqual(leaseFiles(), [bare(l.ips[0]!.address)]);
  assert.deepEqual(await sweepOrphanRules([net], dataDir, liveSet), [], 'a second sweep finds nothing');
  await cniCheck(req(cid('ol'), live, { portMappings: [{ hostPort: 18096, containerPort: 80, protocol: 'tcp' }] }));
  await cniDel(req(cid('ol'), live));
  assertGone([cid('ol')], [bare(l.ips[0]!.address)]);
  await deleteNetns(live);
});

test('an internal network: no default route, no masquerade, no port publishing', async () => {
  const ns = `${NS_PREFIX}i`;
  await createNetns(ns);
  const r = { ...req(cid('i'), ns), net: internalNet, portMappings: [{ hostPort: 18099, containerPort: 80, protocol: 'tcp' as const }] };
  const att = await cniAdd(r);
  assert.equal(att.ips[0]!.gateway, '10.231.1.1');
  ping(ns, '10.231.1.1');
  assert.doesNotMatch(sh('ip', ['-n', ns, 'route']).out, /default/);
  assert.ok(!iptablesText().includes(cid('i')), 'no masquerade or port-forwarding rule names the container');
  // The host forwards nothing into or out of the bridge (bridge-rules.ts), for either family.
  for (const tool of ['iptables-save', 'ip6tables-save']) {
    const saved = sh(tool, ['-t', 'filter']).out.split('\n');
    for (const rule of internalRules('btest1')) assert.ok(saved.includes(rule), `${tool}: ${rule}`);
  }
  await cniDel(r);
  assertGone([cid('i')], [bare(att.ips[0]!.address)]);
  await deleteNetns(ns);
});

test('a dual-stack network: an IPv4 address from the ip-range and an IPv6 address, both cleaned up', async () => {
  const ns = `${NS_PREFIX}6`;
  await createNetns(ns);
  const r = { ...req(cid('6'), ns), net: dualNet, portMappings: [{ hostPort: 18097, containerPort: 80, protocol: 'tcp' as const }] };
  const att = await cniAdd(r);
  assert.deepEqual(att.ips.map((i) => i.version), [4, 6]);
  assert.ok(contains(parseCidr('10.231.2.128/25')!, bare(att.ips[0]!.address)), att.ips[0]!.address);
  assert.match(att.ips[1]!.address, /^fd00:e7:2::[0-9a-f]+\/64$/);
  assert.equal(att.ips[1]!.gateway, 'fd00:e7:2::1');
  assert.match(sh('ip', ['-n', ns, '-6', 'route']).out, /default via fd00:e7:2::1 dev eth0/);
  const v6 = sh('ip6tables-save', []).out;
  assert.ok(v6.includes(cid('6')), 'IPv6 masquerade and port forwarding');
  await cniCheck(r);
  await cniDel(r);
  assertGone([cid('6')], []);
  assert.ok(!sh('ip6tables-save', []).out.includes(bare(att.ips[1]!.address)));
  await deleteNetns(ns);
});

test('no inter-container traffic isolates each port (the gateway stays reachable); aux addresses are never leased; link-local addresses', async () => {
  const [a, b] = [`${NS_PREFIX}ia`, `${NS_PREFIX}ib`];
  await createNetns(a);
  await createNetns(b);
  const ra = { ...req(cid('ia'), a), net: iccNet, linkLocalIps: ['169.254.4.4', 'fe80::4:4'] };
  const rb = { ...req(cid('ib'), b), net: iccNet };
  const atta = await cniAdd(ra);
  const attb = await cniAdd(rb);
  // The range is .1 to .7: .1 would be the first lease, but it is the gateway; .2 is held back.
  assert.deepEqual([bare(atta.ips[0]!.address), bare(attb.ips[0]!.address)], ['10.231.4.3', '10.231.4.4']);
  assert.match(sh('ip', ['-d', 'link', 'show', atta.hostIf]).out, /isolated on/);
  ping(a, '10.231.4.1');
  const r = sh('ip', ['netns', 'exec', a, '/bin/busybox', 'ping', '-c1', '-W1', '10.231.4.4']);
  assert.notEqual(r.code, 0, 'no traffic between two containers of the network');
  const addrs = sh('ip', ['-n', a, 'addr', 'show', 'eth0']).out;
  assert.match(addrs, /inet 169\.254\.4\.4\/16/);
  assert.match(addrs, /inet6 fe80::4:4\/64/);
  assert.ok(readFileSync(join(dataDir, 'ipam', 'btest-icc', '10.231.4.2'), 'utf8').startsWith('berth-reserved'));
  await cniDel(ra);
  await cniDel(rb);
  assert.ok(existsSync(join(dataDir, 'ipam', 'btest-icc', '10.231.4.2')), 'a DEL does not release a held address');
  assert.equal(sh('ip', ['-br', 'link', 'show', 'master', 'btest4']).out.trim(), '');
  await deleteNetns(a);
  await deleteNetns(b);
});

test('the bridge can be removed once every container is detached', () => {
  assert.equal(vethsOnBridge(), '');
  const r = sh('ip', ['link', 'del', 'btest0']);
  assert.equal(r.code, 0, r.out);
});
