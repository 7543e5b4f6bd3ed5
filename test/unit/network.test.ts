import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync, chmodSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { chainName, conflist, type NetworkDef } from '../../src/network/cni.ts';
import { leaseResult, releaseOrphanLeases } from '../../src/network/leftovers.ts';
import { subnetRuleStatements } from '../../src/network/stale-bridge.ts';
import { formatIp, parseCidr, parseIp } from '../../src/network/ipaddr.ts';
import { renderHostname, renderHosts, renderResolv, writeInPlace } from '../../src/network/hosts.ts';
import { InvalidArgument } from '../../src/errors.ts';

const ID = 'ab'.repeat(32);
const net4: NetworkDef = { name: 'web', id: ID, bridge: 'br-web', subnets: [{ subnet: '172.20.0.0/16', gateway: '172.20.0.1' }], internal: false };

type Plugin = { type: string; [k: string]: unknown };
const plugins = (n: NetworkDef, ip?: string): Plugin[] => conflist(n, '/var/lib/berth/net', ip ? [ip] : []).plugins;

test('conflist: a normal network chains bridge, portmap and tuning; masquerade and forwarding are the network\'s own rules', () => {
  const c = conflist({ ...net4, mtu: 1400 }, '/var/lib/berth/net');
  assert.equal(c.cniVersion, '1.0.0');
  assert.equal(c.name, 'web');
  assert.deepEqual(c.plugins.map((p) => p.type), ['bridge', 'portmap', 'tuning']);
  const [bridge, portmap, tuning] = c.plugins;
  assert.deepEqual(bridge, {
    type: 'bridge',
    bridge: 'br-web',
    isGateway: true,
    ipMasq: false,
    hairpinMode: true,
    mtu: 1400,
    capabilities: { ips: true },
    ipam: {
      type: 'host-local',
      ranges: [[{ subnet: '172.20.0.0/16', gateway: '172.20.0.1' }]],
      routes: [{ dst: '0.0.0.0/0' }],
      dataDir: '/var/lib/berth/net/ipam',
    },
  });
  assert.deepEqual(portmap, { type: 'portmap', capabilities: { portMappings: true }, snat: true });
  assert.deepEqual(tuning, { type: 'tuning', capabilities: { mac: true }, dataDir: '/var/lib/berth/net/tuning' });
  assert.ok(!('mtu' in plugins(net4)[0]!), 'no mtu key unless set');
});

test('conflist: an internal network has no masquerade, no default route and no port publishing', () => {
  const ps = plugins({ ...net4, internal: true });
  assert.deepEqual(ps.map((p) => p.type), ['bridge', 'tuning']);
  assert.equal(ps[0]!.ipMasq, false);
  assert.equal(ps[0]!.isGateway, true);
  assert.deepEqual((ps[0]!.ipam as { routes: unknown[] }).routes, []);
});

test('conflist: dual stack gets one range set per subnet, ip-range bounds and both default routes', () => {
  const n: NetworkDef = {
    ...net4,
    subnets: [
      { subnet: '10.5.0.0/24', gateway: '10.5.0.1', ipRange: '10.5.0.128/25' },
      { subnet: 'fd00:dead:beef::/64', gateway: 'fd00:dead:beef::1', ipRange: 'fd00:dead:beef::/120' },
    ],
  };
  const ipam = plugins(n)[0]!.ipam as { ranges: unknown; routes: unknown };
  assert.deepEqual(ipam.ranges, [
    // The subnet's broadcast (.255) and network address (fd00:dead:beef::) are never handed out.
    [{ subnet: '10.5.0.0/24', gateway: '10.5.0.1', rangeStart: '10.5.0.128', rangeEnd: '10.5.0.254' }],
    [{ subnet: 'fd00:dead:beef::/64', gateway: 'fd00:dead:beef::1', rangeStart: 'fd00:dead:beef::1', rangeEnd: 'fd00:dead:beef::ff' }],
  ]);
  assert.deepEqual(ipam.routes, [{ dst: '0.0.0.0/0' }, { dst: '::/0' }]);
  // A static address outside the ip-range (docker allows it) widens only that family's range set.
  const widened = plugins(n, '10.5.0.9')[0]!.ipam as { ranges: unknown[] };
  assert.deepEqual(widened.ranges[0], [{ subnet: '10.5.0.0/24', gateway: '10.5.0.1' }]);
  assert.deepEqual(widened.ranges[1], (ipam.ranges as unknown[])[1]);
  const inside = plugins(n, '10.5.0.200')[0]!.ipam as { ranges: unknown[] };
  assert.deepEqual(inside.ranges, ipam.ranges);
});

test('conflist rejects malformed networks with InvalidArgument', () => {
  const bad: Partial<NetworkDef>[] = [
    { bridge: 'a-bridge-name-too-long' },
    { subnets: [] },
    { subnets: [{ subnet: '10.0.0.0/33', gateway: '10.0.0.1' }] },
    { subnets: [{ subnet: '10.0.0.0/24', gateway: '10.0.1.1' }] },
    { subnets: [{ subnet: '10.0.0.0/24', gateway: '10.0.0.1', ipRange: '10.0.1.0/25' }] },
    { name: '../x' },
  ];
  for (const b of bad) assert.throws(() => conflist({ ...net4, ...b }, '/d'), InvalidArgument, JSON.stringify(b));
});

test('chainName matches the plugins’ sha512 naming (values read from iptables-save)', () => {
  const cid = 'c1'.repeat(32);
  assert.equal(chainName('CNI-', 'btest', cid), 'CNI-793d1bce27eacd2412dd8d51');
  assert.equal(chainName('CNI-DN-', 'btest', cid), 'CNI-DN-793d1bce27eacd2412dd8');
});

test('ipaddr: parse, format and compress', () => {
  assert.equal(parseIp('10.1.2.3')!.n, 0x0a010203n);
  assert.equal(parseIp('nope'), null);
  assert.equal(formatIp(6, parseIp('fd00:0:0:0:0:0:0:1')!.n), 'fd00::1');
  assert.equal(formatIp(6, parseIp('::ffff:1.2.3.4')!.n), '::ffff:102:304');
  assert.equal(formatIp(6, parseIp('1:0:0:2:0:0:0:3')!.n), '1:0:0:2::3');
  assert.equal(formatIp(6, 0n), '::');
  assert.deepEqual(parseCidr('10.1.2.3/16'), { version: 4, base: 0x0a010000n, prefix: 16 });
  assert.equal(parseCidr('10.1.2.3'), null);
});

test('renderHosts: docker’s layout', () => {
  const text = renderHosts({
    hostname: 'abc123',
    ips: ['172.17.0.2'],
    extraHosts: [{ host: 'db', ip: '10.0.0.9' }, { host: 'v6host', ip: 'fd00::9' }],
    peers: [{ ip: '172.17.0.3', names: ['web', 'f00dcafe'] }],
  });
  assert.equal(
    text,
    [
      '127.0.0.1\tlocalhost',
      '::1\tlocalhost ip6-localhost ip6-loopback',
      'fe00::0\tip6-localnet',
      'ff00::0\tip6-mcastprefix',
      'ff02::1\tip6-allnodes',
      'ff02::2\tip6-allrouters',
      '10.0.0.9\tdb',
      'fd00::9\tv6host',
      '172.17.0.3\tweb f00dcafe',
      '172.17.0.2\tabc123',
      '',
    ].join('\n'),
  );
  const fqdn = renderHosts({ hostname: 'app.example.com', ips: ['10.1.0.2', 'fd00::2'], extraHosts: [], peers: [] });
  assert.match(fqdn, /\n10\.1\.0\.2\tapp\.example\.com app\nfd00::2\tapp\.example\.com app\n$/);
  const none = renderHosts({ hostname: 'x', ips: [], extraHosts: [], peers: [] });
  assert.equal(none.split('\n').length, 7);
});

test('renderResolv: loopback nameservers dropped, docker’s fallback when none is left', () => {
  const resolved = '# systemd-resolved stub\nnameserver 127.0.0.53\noptions edns0 trust-ad\nsearch lan\n';
  assert.equal(
    renderResolv(resolved),
    '# systemd-resolved stub\noptions edns0 trust-ad\nsearch lan\nnameserver 8.8.8.8\nnameserver 8.8.4.4\n',
  );
  assert.equal(renderResolv('nameserver ::1'), 'nameserver 8.8.8.8\nnameserver 8.8.4.4\n');
  assert.equal(renderResolv(''), 'nameserver 8.8.8.8\nnameserver 8.8.4.4\n');
  assert.equal(
    renderResolv('nameserver 127.0.0.1\n', { ipv6: true }),
    'nameserver 8.8.8.8\nnameserver 8.8.4.4\nnameserver 2001:4860:4860::8888\nnameserver 2001:4860:4860::8844\n',
  );
  // Real servers stay, in place; IPv6 ones only with ipv6.
  const host = 'nameserver 192.168.1.1\nnameserver 127.0.0.11\nnameserver fd00::53\nsearch corp\n';
  assert.equal(renderResolv(host), 'nameserver 192.168.1.1\nsearch corp\n');
  assert.equal(renderResolv(host, { ipv6: true }), 'nameserver 192.168.1.1\nnameserver fd00::53\nsearch corp\n');
});

test('renderResolv: --dns, --dns-search, --dns-option replace their lines, the rest comes from the host', () => {
  const host = '# comment\nsearch a.example b.example\nnameserver 10.0.0.2\nnameserver 127.0.0.53\noptions rotate\n';
  assert.equal(renderResolv(host, { dns: ['1.1.1.1', '9.9.9.9'] }), 'search a.example b.example\nnameserver 1.1.1.1\nnameserver 9.9.9.9\noptions rotate\n');
  assert.equal(renderResolv(host, { search: ['x.test'] }), 'search x.test\nnameserver 10.0.0.2\noptions rotate\n');
  assert.equal(renderResolv(host, { options: ['ndots:2', 'timeout:1'] }), 'search a.example b.example\nnameserver 10.0.0.2\noptions ndots:2 timeout:1\n');
  assert.equal(renderResolv(host, { search: ['.'] }), 'nameserver 10.0.0.2\noptions rotate\n');
  assert.equal(renderResolv('nameserver 127.0.0.53\n', { search: ['x.test'] }), 'search x.test\nnameserver 8.8.8.8\nnameserver 8.8.4.4\n');
  assert.equal(renderResolv(host, { dns: [] }), renderResolv(host), 'an empty list is "not given"');
});

test('renderHostname', () => {
  assert.equal(renderHostname('abc123'), 'abc123\n');
});

test('writeInPlace keeps the inode and the mode, and creates missing files', () => {
  const dir = mkdtempSync('/tmp/berth-unit-net-');
  try {
    const f = join(dir, 'hosts');
    writeFileSync(f, 'a much longer original content\n'.repeat(20));
    chmodSync(f, 0o600);
    const ino = statSync(f).ino;
    writeInPlace(f, 'short\n');
    assert.equal(readFileSync(f, 'utf8'), 'short\n');
    assert.equal(statSync(f).ino, ino);
    assert.equal(statSync(f).mode & 0o777, 0o600);
    writeInPlace(f, 'x'.repeat(5000));
    assert.equal(readFileSync(f, 'utf8'), 'x'.repeat(5000));
    const g = join(dir, 'new');
    writeInPlace(g, 'fresh\n');
    assert.equal(readFileSync(g, 'utf8'), 'fresh\n');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('releaseOrphanLeases and leaseResult read host-local’s lease files', () => {
  const dir = mkdtempSync('/tmp/berth-unit-net-');
  try {
    const live = 'a'.repeat(64);
    const dead = 'd'.repeat(64);
    const leases = join(dir, 'ipam', 'web');
    mkdirSync(leases, { recursive: true });
    mkdirSync(join(dir, 'results'));
    mkdirSync(join(dir, 'tuning'));
    writeFileSync(join(leases, 'lock'), '');
    writeFileSync(join(leases, 'last_reserved_ip.0'), '172.20.0.4');
    writeFileSync(join(leases, '172.20.0.2'), `${live}\r\neth0`);
    writeFileSync(join(leases, '172.20.0.3'), `${dead}\r\neth0`);
    writeFileSync(join(leases, '172.20.0.4'), dead); // plugins before 0.8 wrote only the id
    writeFileSync(join(dir, 'results', `web-${dead}-eth0.json`), '{}');
    writeFileSync(join(dir, 'tuning', `${dead}_eth0.json`), '{}');

    assert.deepEqual(leaseResult(dir, net4, live, 'eth0', '1.0.0'), {
      cniVersion: '1.0.0',
      interfaces: [],
      ips: [{ address: '172.20.0.2/16', gateway: '172.20.0.1' }],
    });
    assert.equal(leaseResult(dir, net4, live, 'eth1', '1.0.0'), undefined);

    assert.deepEqual(releaseOrphanLeases(dir, 'web', new Set([live])), ['172.20.0.3', '172.20.0.4']);
    assert.deepEqual(readdirSync(leases).sort(), ['172.20.0.2', 'last_reserved_ip.0', 'lock']);
    assert.ok(!existsSync(join(dir, 'results', `web-${dead}-eth0.json`)));
    assert.ok(!existsSync(join(dir, 'tuning', `${dead}_eth0.json`)));
    assert.deepEqual(releaseOrphanLeases(dir, 'missing-net', new Set()), []);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('parsePublish: docker forms, ranges, UDP, IPv6 host addresses, and errors', async () => {
  const { parsePublish, publishAll, formatPort } = await import('../../src/network/ports.ts');
  const m = (hostIP: string, hostPort: number, containerPort: number, protocol: 'tcp' | 'udp' = 'tcp') => ({ hostIP, hostPort, containerPort, protocol });
  assert.deepEqual(parsePublish('80'), [m('', 0, 80)]);
  assert.deepEqual(parsePublish('0:80'), [m('', 0, 80)], 'host port 0: any free port');
  assert.deepEqual(parsePublish('127.0.0.1:0:80'), [m('127.0.0.1', 0, 80)]);
  assert.deepEqual(parsePublish('8080:80'), [m('', 8080, 80)]);
  assert.deepEqual(parsePublish('127.0.0.1:8080:80/udp'), [m('127.0.0.1', 8080, 80, 'udp')]);
  assert.deepEqual(parsePublish('127.0.0.1::80'), [m('127.0.0.1', 0, 80)]);
  assert.deepEqual(parsePublish('[::1]:8080:80'), [m('::1', 8080, 80)]);
  assert.deepEqual(parsePublish('9000-9001:80-81'), [m('', 9000, 80), m('', 9001, 81)]);
  assert.deepEqual(parsePublish('7000-7002'), [m('', 0, 7000), m('', 0, 7001), m('', 0, 7002)]);
  for (const bad of ['0', '70000', '1:2:3:4', '80/sctp', 'x:80:80', '9000-9002:80-81', '81-80', '']) {
    assert.throws(() => parsePublish(bad), InvalidArgument, bad);
  }
  assert.deepEqual(publishAll(['80/tcp', '53/udp', '443'], [m('', 8080, 80)]), [m('', 0, 53, 'udp'), m('', 0, 443)]);
  assert.equal(formatPort(m('', 32768, 80)), '80/tcp -> 0.0.0.0:32768');
  assert.equal(formatPort(m('::1', 8080, 80)), '80/tcp -> [::1]:8080');
});

test('portsClash: one host socket per protocol, port and address; wildcards cover their family', async () => {
  const { portsClash } = await import('../../src/network/ports.ts');
  const m = (hostIP: string, hostPort: number, protocol: 'tcp' | 'udp' = 'tcp', containerPort = 80) => ({ hostIP, hostPort, containerPort, protocol });
  const clash = (a: ReturnType<typeof m>, b: ReturnType<typeof m>) => portsClash(a, b) && portsClash(b, a);
  const apart = (a: ReturnType<typeof m>, b: ReturnType<typeof m>) => !portsClash(a, b) && !portsClash(b, a);
  assert.ok(clash(m('', 8080), m('', 8080)), 'all addresses, twice');
  assert.ok(clash(m('', 8080), m('0.0.0.0', 8080)));
  assert.ok(clash(m('0.0.0.0', 8080), m('127.0.0.1', 8080)), '0.0.0.0 covers every IPv4 address');
  assert.ok(clash(m('', 8080), m('127.0.0.1', 8080)));
  assert.ok(clash(m('127.0.0.1', 8080), m('127.0.0.1', 8080, 'tcp', 81)), 'the container port does not matter');
  assert.ok(clash(m('', 8080), m('::1', 8080)), 'no host IP: both families');
  assert.ok(clash(m('::', 8080), m('fd00::1', 8080)));
  assert.ok(clash(m('::1', 8080), m('0:0::1', 8080)), 'one address, two spellings');
  assert.ok(apart(m('127.0.0.1', 8080), m('127.0.0.2', 8080)), 'two specific addresses');
  assert.ok(apart(m('', 8080, 'tcp'), m('', 8080, 'udp')), 'TCP and UDP are different sockets');
  assert.ok(apart(m('', 8080), m('', 8081)));
  assert.ok(apart(m('0.0.0.0', 8080), m('::1', 8080)), 'an IPv4 wildcard leaves IPv6 alone');
  assert.ok(apart(m('::', 8080), m('127.0.0.1', 8080)), 'and the other way round');
  assert.ok(apart(m('', 0), m('', 0)), 'port 0 is not chosen yet: it claims nothing');
});

test('findClash: against other containers and within one container; docker’s message', async () => {
  const { findClash, allocatedMessage } = await import('../../src/network/ports.ts');
  const m = (hostIP: string, hostPort: number, containerPort = 80, protocol: 'tcp' | 'udp' = 'tcp') => ({ hostIP, hostPort, containerPort, protocol });
  const taken = [m('127.0.0.1', 9000), m('', 9001, 53, 'udp')];
  assert.equal(findClash([m('', 8000), m('127.0.0.2', 9000)], taken), -1);
  assert.equal(findClash([m('', 8000), m('', 9000)], taken), 1);
  assert.equal(findClash([m('', 9001)], taken), -1, 'tcp beside a udp port');
  assert.equal(findClash([m('', 9001, 53, 'udp')], taken), 0);
  assert.equal(findClash([m('', 8000, 80), m('', 8000, 81)], []), 1, 'one container cannot publish a host port twice');
  assert.equal(findClash([m('', 8000, 80), m('', 8000, 80)], []), -1, 'the same -p twice is one port');
  assert.equal(findClash([m('', 0), m('', 0)], []), -1);
  assert.equal(allocatedMessage(m('', 18992)), 'Bind for 0.0.0.0:18992 failed: port is already allocated');
  assert.equal(allocatedMessage(m('127.0.0.1', 80)), 'Bind for 127.0.0.1:80 failed: port is already allocated');
  assert.equal(allocatedMessage(m('::1', 80)), 'Bind for [::1]:80 failed: port is already allocated');
});

test('resolvePorts: an open host port never lands on one another container (or this one) maps', async () => {
  const { resolvePorts } = await import('../../src/network/ports.ts');
  const { Conflict } = await import('../../src/errors.ts');
  const m = (hostIP: string, hostPort: number, containerPort = 80, protocol: 'tcp' | 'udp' = 'tcp') => ({ hostIP, hostPort, containerPort, protocol });
  // A kernel that offers the ports in this order (it only knows sockets, not other containers' mappings).
  const offering = (ports: number[]) => {
    const asked: string[] = [];
    const pick = async (proto: 'tcp' | 'udp', ip: string) => {
      asked.push(`${proto}/${ip}`);
      return ports.shift()!;
    };
    return { pick, asked };
  };
  const k = offering([32768, 32769, 32770, 32771]);
  const got = await resolvePorts([m('', 0, 80), m('', 32770, 81), m('', 0, 443)], [m('', 32768, 1)], k.pick);
  assert.deepEqual(got, [m('', 32769, 80), m('', 32770, 81), m('', 32771, 443)], '32768 is another container’s, 32770 this one’s own');
  assert.deepEqual(k.asked, ['tcp/', 'tcp/', 'tcp/', 'tcp/']);
  // Taken on another protocol or another specific address: free for this one.
  const u = await resolvePorts([m('127.0.0.1', 0, 53, 'udp')], [m('', 40000, 53, 'tcp'), m('127.0.0.2', 40000, 53, 'udp')], offering([40000]).pick);
  assert.deepEqual(u, [m('127.0.0.1', 40000, 53, 'udp')]);
  // A kernel that keeps offering a mapped port: refused in the end, not looped on for ever.
  await assert.rejects(resolvePorts([m('', 0)], [m('', 5000)], async () => 5000), Conflict);
  assert.deepEqual(await resolvePorts([m('', 8080)], [m('', 8080)], async () => assert.fail('no pick for a fixed port')), [m('', 8080)], 'fixed ports are findClash’s to judge');
});

test('conflist: a network’s static routes go to host-local beside the default route', () => {
  const n: NetworkDef = {
    ...net4,
    subnets: [
      { subnet: '10.5.0.0/24', gateway: '10.5.0.1', routes: [{ dst: '192.168.50.0/24', gw: '10.5.0.254' }, { dst: '10.99.0.0/16', gw: '10.5.0.253' }] },
      { subnet: 'fd00:5::/64', gateway: 'fd00:5::1', routes: [{ dst: 'fd00:99::/48', gw: 'fd00:5::fe' }] },
    ],
  };
  assert.deepEqual((plugins(n)[0]!.ipam as { routes: unknown }).routes, [
    { dst: '0.0.0.0/0' },
    { dst: '::/0' },
    { dst: '192.168.50.0/24', gw: '10.5.0.254' },
    { dst: '10.99.0.0/16', gw: '10.5.0.253' },
    { dst: 'fd00:99::/48', gw: 'fd00:5::fe' },
  ]);
  assert.deepEqual((plugins({ ...n, internal: true })[0]!.ipam as { routes: unknown }).routes, [
    { dst: '192.168.50.0/24', gw: '10.5.0.254' },
    { dst: '10.99.0.0/16', gw: '10.5.0.253' },
    { dst: 'fd00:99::/48', gw: 'fd00:5::fe' },
  ], 'internal: only the static ones');
  for (const bad of [{ dst: '192.168.50.0/24', gw: '10.6.0.1' }, { dst: 'fd00:99::/48', gw: '10.5.0.254' }, { dst: 'nonsense', gw: '10.5.0.254' }]) {
    assert.throws(() => plugins({ ...net4, subnets: [{ subnet: '10.5.0.0/24', gateway: '10.5.0.1', routes: [bad] }] }), InvalidArgument, JSON.stringify(bad));
  }
});

test('networkWorkers finds the plugins and `ip` still at work on given containers, and only those', async () => {
  const { spawn } = await import('node:child_process');
  const { networkWorkers, settleNetworkWorkers } = await import('../../src/network/leftovers.ts');
  const dir = mkdtempSync('/tmp/berth-unit-cni-');
  const started: import('node:child_process').ChildProcess[] = [];
  // Stand-ins with a plugin's argv[0] and environment, and an `ip` naming a netns.
  const fake = (argv0: string, env: NodeJS.ProcessEnv, args: string[] = []) => {
    const c = spawn('sh', ['-c', 'sleep 30; true', ...args], { argv0, env: { PATH: process.env.PATH, ...env }, stdio: 'ignore' });
    started.push(c);
    return c.pid!;
  };
  try {
    const mine = fake(join(dir, 'bridge'), { CNI_CONTAINERID: 'c1', CNI_COMMAND: 'ADD' });
    fake(join(dir, 'bridge'), { CNI_CONTAINERID: 'c2', CNI_COMMAND: 'ADD' });
    fake('/elsewhere/bridge', { CNI_CONTAINERID: 'c1' });
    const ip = fake('ip', {}, ['netns', 'berth-c1']);
    fake('ip', {}, ['netns', 'berth-c3']);
    const found = () => networkWorkers(new Set(['c1']), dir, new Set(['berth-c1'])).sort((a, b) => a - b);
    // The children exec their argv0 after spawn returns, and a child still between fork and exec reads as
    // its parent (node, with this process's environment): wait for the set, not for a count.
    const want = [mine, ip].sort((a, b) => a - b);
    let got = found();
    for (let i = 0; i < 100 && JSON.stringify(got) !== JSON.stringify(want); i++) {
      await new Promise((r) => setTimeout(r, 20));
      got = found();
    }
    assert.deepEqual(got, want);
    assert.deepEqual(networkWorkers(new Set(['c9']), dir, new Set(['berth-c9'])), []);
    const settle = settleNetworkWorkers(new Set(['c1']), dir, new Set(['berth-c1']), 10_000);
    for (const c of started) c.kill('SIGKILL');
    assert.deepEqual(await settle, [], 'done once they are gone');
    assert.deepEqual((await settleNetworkWorkers(new Set(['c2']), dir, new Set(), 50)).length, 0);
  } finally {
    for (const c of started) c.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
});

test('releaseOrphanLeases leaves a lease host-local is still writing (empty), unless it stayed so', async () => {
  const { utimesSync } = await import('node:fs');
  const dir = mkdtempSync('/tmp/berth-unit-net-');
  try {
    const leases = join(dir, 'ipam', 'web');
    mkdirSync(leases, { recursive: true });
    writeFileSync(join(leases, '172.20.0.5'), ''); // created, id not written yet
    writeFileSync(join(leases, '172.20.0.6'), '');
    const old = new Date(Date.now() - 5 * 60_000);
    utimesSync(join(leases, '172.20.0.6'), old, old); // its writer died long ago
    assert.deepEqual(releaseOrphanLeases(dir, 'web', new Set()), ['172.20.0.6']);
    assert.deepEqual(readdirSync(leases), ['172.20.0.5']);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('subnetRuleStatements: a dead bridge’s containers’ chains and forward rules go; other subnets’ and shared chains stay', () => {
  const cid = (c: string) => c.repeat(64);
  const comment = (id: string, dnat = '') => `-m comment --comment "${dnat}name: \\"bridge\\" id: \\"${id}\\""`;
  // Lines as iptables-save printed them for two containers: 10.78.1.2 (on the dead bridge, with a published
  // port) and 10.78.2.2 (another root's).
  const nat = [
    ':CNI-5a4ab5e1cba6aec5ebc64255 - [0:0]',
    ':CNI-36ce2139d762a339d86bd9a0 - [0:0]',
    ':CNI-DN-5a4ab5e1cba6aec5ebc64 - [0:0]',
    ':CNI-HOSTPORT-DNAT - [0:0]',
    '-A POSTROUTING -m comment --comment "CNI portfwd requiring masquerade" -j CNI-HOSTPORT-MASQ',
    `-A POSTROUTING -s 10.78.1.2/32 ${comment(cid('a'))} -j CNI-5a4ab5e1cba6aec5ebc64255`,
    `-A POSTROUTING -s 10.78.2.2/32 ${comment(cid('b'))} -j CNI-36ce2139d762a339d86bd9a0`,
    `-A CNI-5a4ab5e1cba6aec5ebc64255 -d 10.78.1.0/24 ${comment(cid('a'))} -j ACCEPT`,
    `-A CNI-36ce2139d762a339d86bd9a0 -d 10.78.2.0/24 ${comment(cid('b'))} -j ACCEPT`,
    '-A CNI-DN-5a4ab5e1cba6aec5ebc64 -s 10.78.1.0/24 -p tcp -m tcp --dport 8080 -j CNI-HOSTPORT-SETMARK',
    '-A CNI-DN-5a4ab5e1cba6aec5ebc64 -p tcp -m tcp --dport 8080 -j DNAT --to-destination 10.78.1.2:80',
    `-A CNI-HOSTPORT-DNAT -p tcp ${comment(cid('a'), 'dnat ')} -m multiport --dports 8080 -j CNI-DN-5a4ab5e1cba6aec5ebc64`,
  ];
  const dead = [parseCidr('10.78.1.0/24')!];
  assert.deepEqual(subnetRuleStatements(nat, 'nat', dead).sort(), [
    `-D POSTROUTING -s 10.78.1.2/32 ${comment(cid('a'))} -j CNI-5a4ab5e1cba6aec5ebc64255`,
    `-D CNI-HOSTPORT-DNAT -p tcp ${comment(cid('a'), 'dnat ')} -m multiport --dports 8080 -j CNI-DN-5a4ab5e1cba6aec5ebc64`,
    '-F CNI-5a4ab5e1cba6aec5ebc64255',
    '-F CNI-DN-5a4ab5e1cba6aec5ebc64',
    '-X CNI-5a4ab5e1cba6aec5ebc64255',
    '-X CNI-DN-5a4ab5e1cba6aec5ebc64',
  ].sort());
  const filter = [
    ':CNI-FORWARD - [0:0]',
    '-A FORWARD -m comment --comment "CNI firewall plugin rules" -j CNI-FORWARD',
    '-A CNI-FORWARD -m comment --comment "CNI firewall plugin admin overrides" -j CNI-ADMIN',
    '-A CNI-FORWARD -d 10.78.1.2/32 -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT',
    '-A CNI-FORWARD -s 10.78.1.2/32 -j ACCEPT',
    '-A CNI-FORWARD -d 10.78.2.2/32 -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT',
    '-A CNI-FORWARD -s 10.78.2.2/32 -j ACCEPT',
  ];
  assert.deepEqual(subnetRuleStatements(filter, 'filter', dead), [
    '-D CNI-FORWARD -d 10.78.1.2/32 -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT',
    '-D CNI-FORWARD -s 10.78.1.2/32 -j ACCEPT',
  ]);
  assert.deepEqual(subnetRuleStatements(nat, 'nat', [parseCidr('10.99.0.0/16')!]), []);
});
