import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync, chmodSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { chainName, conflist, type NetworkDef } from '../../src/network/cni.ts';
import { leaseResult, releaseOrphanLeases } from '../../src/network/leftovers.ts';
import { formatIp, parseCidr, parseIp } from '../../src/network/ipaddr.ts';
import { renderHostname, renderHosts, renderResolv, writeInPlace } from '../../src/network/hosts.ts';
import { InvalidArgument } from '../../src/errors.ts';

const ID = 'ab'.repeat(32);
const net4: NetworkDef = { name: 'web', id: ID, bridge: 'br-web', subnets: [{ subnet: '172.20.0.0/16', gateway: '172.20.0.1' }], internal: false };

type Plugin = { type: string; [k: string]: unknown };
const plugins = (n: NetworkDef, ip?: string): Plugin[] => conflist(n, '/var/lib/berth/net', ip).plugins;

test('conflist: a normal network chains bridge, portmap, firewall and tuning', () => {
  const c = conflist({ ...net4, mtu: 1400 }, '/var/lib/berth/net');
  assert.equal(c.cniVersion, '1.0.0');
  assert.equal(c.name, 'web');
  assert.deepEqual(c.plugins.map((p) => p.type), ['bridge', 'portmap', 'firewall', 'tuning']);
  const [bridge, portmap, firewall, tuning] = c.plugins;
  assert.deepEqual(bridge, {
    type: 'bridge',
    bridge: 'br-web',
    isGateway: true,
    ipMasq: true,
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
  assert.deepEqual(firewall, { type: 'firewall', backend: 'iptables' });
  assert.deepEqual(tuning, { type: 'tuning', capabilities: { mac: true }, dataDir: '/var/lib/berth/net/tuning' });
  assert.ok(!('mtu' in plugins(net4)[0]!), 'no mtu key unless set');
});

test('conflist: an internal network has no masquerade, no default route and no port publishing', () => {
  const ps = plugins({ ...net4, internal: true });
  assert.deepEqual(ps.map((p) => p.type), ['bridge', 'firewall', 'tuning']);
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
