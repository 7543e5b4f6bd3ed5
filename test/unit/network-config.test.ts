/**
 * Networks as dockerd 20.10 takes them, without the host: IPAM pools (host bits kept, gateways, ip-ranges,
 * aux addresses, one pool per family), the docker CLI's grouping of its IPAM flags, the bridge driver's
 * options, swarm-only fields, what the CNI config makes of masquerade, a default gateway aux address and
 * static IPv4 and IPv6 addresses, reserved addresses held out of the leases, endpoint settings checked
 * against a network, and the legacy links' variables.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { conflist, type NetworkDef } from '../../src/network/cni.ts';
import { bridgeRuleDeletions, bridgeRules, internalRules, missingStatements } from '../../src/network/bridge-rules.ts';
import { leases } from '../../src/network/leftovers.ts';
import { reserveAddresses } from '../../src/network/reserved.ts';
import { poolsFromFlags, resolvePools } from '../../src/engine/network-ipam.ts';
import { bridgeOptions, checkScope } from '../../src/engine/network-options.ts';
import { attachmentFor, type EndpointOptions } from '../../src/engine/net-config.ts';
import { linkEnv, parseLink } from '../../src/engine/links.ts';
import type { EngineCore } from '../../src/engine/core.ts';
import type { ContainerRow } from '../../src/store/containers.ts';
import type { NetworkRow } from '../../src/store/networks.ts';
import { Forbidden, InvalidArgument, NotSupported, Unavailable } from '../../src/errors.ts';
import { scratchDir } from './util.ts';

const pools = (p: Parameters<typeof resolvePools>[0], ipv6 = false) => resolvePools(p, { name: 'n', ipv6, auto4: '10.78.9.0/24', ula: 'fd12:3456:789a:1::/64' });

test('pools: a subnet is kept as given (host bits too); a gateway the engine chose is marked as implied', () => {
  assert.deepEqual(pools([{ subnet: '2001:db8:7::1/64' }], true), [
    { subnet: '10.78.9.0/24', gateway: '10.78.9.1' },
    { subnet: '2001:db8:7::1/64', gateway: '2001:db8:7::1', impliedGateway: true },
  ]);
  assert.deepEqual(pools([{ subnet: '10.9.0.7/24' }]), [{ subnet: '10.9.0.7/24', gateway: '10.9.0.1', impliedGateway: true }]);
  assert.deepEqual(pools([{ subnet: 'fd00:1::/64' }, { subnet: '10.9.0.0/24', gateway: '10.9.0.254', ipRange: '10.9.0.128/25', aux: { a: '10.9.0.5' } }], true), [
    { subnet: '10.9.0.0/24', gateway: '10.9.0.254', ipRange: '10.9.0.128/25', aux: { a: '10.9.0.5' } },
    { subnet: 'fd00:1::/64', gateway: 'fd00:1::1', impliedGateway: true },
  ]);
  // No pool: the free /24, and with IPv6 a unique-local /64.
  assert.deepEqual(pools([], true).map((s) => s.subnet), ['10.78.9.0/24', 'fd12:3456:789a:1::/64']);
});

test('pools: refused as dockerd refuses them, each with its status', () => {
  const cases: [Parameters<typeof resolvePools>[0], boolean, typeof InvalidArgument | typeof Forbidden, RegExp][] = [
    [[{ subnet: '10.9.0.0/24' }, { subnet: '10.8.0.0/24' }], false, Forbidden, /^bridge driver doesn't support multiple subnets$/],
    [[{ subnet: 'fd00::/64' }, { subnet: 'fd01::/64' }], true, Forbidden, /multiple subnets/],
    [[{ subnet: 'fd00::/64' }], false, InvalidArgument, /IPv6 is not enabled/],
    [[{ subnet: 'nonsense' }], false, InvalidArgument, /^invalid subnet nonsense: invalid CIDR address: nonsense$/],
    [[{ subnet: '10.9.0.0/24', gateway: '10.8.0.1' }], false, InvalidArgument, /^failed to allocate gateway \(10\.8\.0\.1\): Requested address is out of range$/],
    [[{ subnet: '10.9.0.0/24', gateway: '10.9.0.0' }], false, InvalidArgument, /^failed to allocate gateway \(10\.9\.0\.0\): Address already in use$/],
    [[{ subnet: '10.9.0.0/24', gateway: 'gw' }], false, InvalidArgument, /^invalid gateway address gw in Ipam configuration$/],
    [[{ subnet: '10.9.0.0/24', ipRange: '10.10.0.0/25' }], false, InvalidArgument, /doesn't contain ip-range/],
    [[{ subnet: '10.9.0.0/24', ipRange: '10.9.0.0/16' }], false, InvalidArgument, /doesn't contain ip-range/],
    [[{ subnet: '10.9.0.0/24', aux: { a: '10.10.0.1' } }], false, Forbidden, /^auxiliary address: \(a:10\.10\.0\.1\) must belong to the master pool: 10\.9\.0\.0\/24$/],
    [[{ subnet: '10.9.0.0/24', aux: { a: 'x' } }], false, InvalidArgument, /^non parsable secondary ip address \(a:x\) passed for network n$/],
    [[{ subnet: '10.9.0.0/24', aux: { a: '10.9.0.1' } }], false, InvalidArgument, /Address already in use/],
  ];
  for (const [p, v6, cls, msg] of cases) assert.throws(() => pools(p, v6), (e: Error) => e instanceof cls && msg.test(e.message), JSON.stringify(p));
});

test('the docker CLI groups --subnet, --gateway, --ip-range and --aux-address by the subnet that holds each', () => {
  assert.deepEqual(
    poolsFromFlags({ subnet: ['10.9.0.0/24', 'fd00:1::/64'], gateway: ['fd00:1::fe', '10.9.0.254'], ipRange: ['10.9.0.128/25'], aux: ['a=10.9.0.5', 'b=fd00:1::5'] }),
    [
      { subnet: '10.9.0.0/24', gateway: '10.9.0.254', ipRange: '10.9.0.128/25', aux: { a: '10.9.0.5' } },
      { subnet: 'fd00:1::/64', gateway: 'fd00:1::fe', aux: { b: 'fd00:1::5' } },
    ],
  );
  for (const [f, msg] of [
    [{ subnet: [], gateway: ['10.0.0.1'], ipRange: [], aux: [] }, /every ip-range or gateway must have a corresponding subnet/],
    [{ subnet: ['10.9.0.0/16', '10.9.1.0/24'], gateway: [], ipRange: [], aux: [] }, /multiple overlapping subnet configuration is not supported/],
    [{ subnet: ['10.9.0.0/24'], gateway: ['10.8.0.1'], ipRange: [], aux: [] }, /no matching subnet for gateway 10\.8\.0\.1/],
    [{ subnet: ['10.9.0.0/24'], gateway: ['10.9.0.1', '10.9.0.2'], ipRange: [], aux: [] }, /every ip-range or gateway must have a corresponding subnet/],
    [{ subnet: ['10.9.0.0/24', '10.8.0.0/24'], gateway: ['10.9.0.1', '10.9.0.2'], ipRange: [], aux: [] }, /cannot configure multiple gateways \(10\.9\.0\.2, 10\.9\.0\.1\) for the same subnet \(10\.9\.0\.0\/24\)/],
    [{ subnet: ['10.9.0.0/24'], gateway: [], ipRange: [], aux: ['a=10.8.0.1'] }, /no matching subnet for aux-address 10\.8\.0\.1/],
  ] as const) {
    assert.throws(() => poolsFromFlags({ subnet: [...f.subnet], gateway: [...f.gateway], ipRange: [...f.ipRange], aux: [...f.aux] }), msg);
  }
});

test('driver options: each applied or refused by name, values as the bridge driver parses them', () => {
  assert.deepEqual(bridgeOptions({}), { ipMasq: true, icc: true });
  assert.deepEqual(
    bridgeOptions({
      'com.docker.network.bridge.name': 'br-app',
      'com.docker.network.driver.mtu': '1400',
      'com.docker.network.bridge.enable_icc': 'false',
      'com.docker.network.bridge.enable_ip_masquerade': '0',
      'com.docker.network.enable_ipv6': 'true',
    }),
    { bridge: 'br-app', mtu: 1400, icc: false, ipMasq: false, ipv6: true },
  );
  assert.throws(() => bridgeOptions({ 'com.docker.network.bridge.enable_icc': 'maybe' }), /failed to parse com\.docker\.network\.bridge\.enable_icc value: maybe \(strconv\.ParseBool: parsing "maybe": invalid syntax\)$/);
  assert.throws(() => bridgeOptions({ 'com.docker.network.bridge.name': 'a-name-far-too-long' }), InvalidArgument);
  assert.throws(() => bridgeOptions({ 'com.docker.network.bridge.host_binding_ipv4': '1.2.3.4' }), NotSupported);
  assert.throws(() => bridgeOptions({ 'com.docker.network.enable_ipv4': 'false' }), NotSupported);
  assert.throws(() => bridgeOptions({ foo: 'bar' }), /unsupported network option: foo$/);
});

test('swarm-only fields are refused as dockerd outside a swarm refuses them', () => {
  assert.doesNotThrow(() => checkScope({ scope: 'local' }));
  assert.throws(() => checkScope({ ingress: true }), (e: Error) => e instanceof Forbidden && e.message === 'Ingress network can only be global scope network');
  assert.throws(() => checkScope({ scope: 'swarm' }), (e: Error) => e instanceof Forbidden && /swarm is not active/.test(e.message));
  assert.throws(() => checkScope({ scope: 'global' }), (e: Error) => e instanceof Unavailable && /not a swarm manager/.test(e.message));
  assert.throws(() => checkScope({ configOnly: true }), NotSupported);
});

const NET4: NetworkDef = { name: 'web', id: 'ab'.repeat(32), bridge: 'br-web', subnets: [{ subnet: '10.5.0.0/24', gateway: '10.5.0.1' }], internal: false };

test('conflist: masquerade off, a DefaultGatewayIPv4 aux address as the default route, static v4 and v6 addresses', () => {
  // Masquerade is the network's rule (bridge-rules.ts), never the plugin's, and off leaves it out.
  assert.equal(conflist({ ...NET4, ipMasq: false }, '/d').plugins[0]!.ipMasq, false);
  assert.deepEqual(bridgeRules({ ...NET4, ipMasq: false }, 'iptables', 'nat'), []);
  const gw = conflist({ ...NET4, subnets: [{ subnet: '10.5.0.0/24', gateway: '10.5.0.1', aux: { DefaultGatewayIPv4: '10.5.0.254' } }] }, '/d');
  assert.deepEqual((gw.plugins[0]!.ipam as { routes: unknown }).routes, [{ dst: '0.0.0.0/0', gw: '10.5.0.254' }]);
  const dual: NetworkDef = {
    ...NET4,
    subnets: [
      { subnet: '10.5.0.0/24', gateway: '10.5.0.1', ipRange: '10.5.0.128/25' },
      { subnet: 'fd00:5::1/64', gateway: 'fd00:5::1', ipRange: 'fd00:5::/120' },
    ],
  };
  // Both statics outside their ranges: both range sets widen to their subnets (host bits cleared).
  const ranges = (conflist(dual, '/d', ['10.5.0.9', 'fd00:5::9999']).plugins[0]!.ipam as { ranges: unknown }).ranges;
  assert.deepEqual(ranges, [[{ subnet: '10.5.0.0/24', gateway: '10.5.0.1' }], [{ subnet: 'fd00:5::/64', gateway: 'fd00:5::1' }]]);
});

test('reserved addresses are held as host-local leases are, and are no container’s lease', (t) => {
  const dir = scratchDir(t, 'berth-reserved-');
  reserveAddresses(dir, 'app', { a: '10.5.0.5', b: 'fd00:5::5' });
  reserveAddresses(dir, 'app', { a: '10.5.0.5' }); // again: nothing changes
  assert.equal(readFileSync(join(dir, 'ipam', 'app', '10.5.0.5'), 'utf8'), 'berth-reserved\r\na');
  assert.deepEqual(leases(dir, 'app'), []);
});

test('bridge rules: accept and masquerade per network, drops for an internal one; they name their bridge, and only theirs are deleted', () => {
  const net = { bridge: 'bn-a', subnets: [{ subnet: '10.7.0.5/24' }, { subnet: 'fd00:7::/64' }] };
  assert.deepEqual(bridgeRules(net, 'iptables', 'filter'), [
    '-A BERTH-FORWARD -o bn-a -m conntrack --ctstate RELATED,ESTABLISHED -m comment --comment "berth bridge bn-a" -j ACCEPT',
    '-A BERTH-FORWARD -i bn-a -m comment --comment "berth bridge bn-a" -j ACCEPT',
  ]);
  // The subnet as iptables-save prints it (host bits cleared), one family each.
  assert.deepEqual(bridgeRules(net, 'iptables', 'nat'), ['-A BERTH-POSTROUTING -s 10.7.0.0/24 ! -o bn-a -m comment --comment "berth bridge bn-a" -j MASQUERADE']);
  assert.deepEqual(bridgeRules(net, 'ip6tables', 'nat'), ['-A BERTH-POSTROUTING -s fd00:7::/64 ! -o bn-a -m comment --comment "berth bridge bn-a" -j MASQUERADE']);
  assert.deepEqual(bridgeRules({ ...net, ipMasq: false }, 'iptables', 'nat'), []);
  const internal = { ...net, internal: true };
  assert.deepEqual(bridgeRules(internal, 'iptables', 'filter'), internalRules('bn-a'));
  assert.deepEqual(bridgeRules(internal, 'iptables', 'nat'), []);
  // What is missing is added: the chain, the jump (first in FORWARD), the drops ahead of every accept.
  assert.deepEqual(missingStatements(['*filter', ':FORWARD ACCEPT [0:0]'], 'filter', internalRules('bn-a')), [
    ':BERTH-FORWARD - [0:0]',
    '-I FORWARD 1 -j BERTH-FORWARD',
    '-I BERTH-FORWARD 1 -i bn-a ! -o bn-a -m comment --comment "berth internal bn-a" -j DROP',
    '-I BERTH-FORWARD 1 ! -i bn-a -o bn-a -m comment --comment "berth internal bn-a" -j DROP',
  ]);
  const present = [':BERTH-FORWARD - [0:0]', '-A FORWARD -j BERTH-FORWARD', ...bridgeRules(net, 'iptables', 'filter')];
  assert.deepEqual(missingStatements(present, 'filter', bridgeRules(net, 'iptables', 'filter')), []);
  const saved = [':BERTH-FORWARD - [0:0]', ...internalRules('bn-a'), ...bridgeRules({ ...net, bridge: 'bn-b' }, 'iptables', 'filter'), '-A CNI-ADMIN -s 10.0.0.1/32 -j DROP'];
  assert.deepEqual(bridgeRuleDeletions(saved, 'bn-a'), internalRules('bn-a').map((r) => `-D ${r.slice(3)}`));
  assert.equal(bridgeRuleDeletions(saved, 'bn-b').length, 2);
});

const row = (over: Partial<NetworkRow>): NetworkRow => ({
  id: 'cd'.repeat(32), name: 'app', driver: 'bridge', bridge: 'bn-x', internal: false, ipv6: true, mtu: 0, labels: {}, options: {}, attachable: false, createdAt: '',
  subnets: [{ subnet: '10.6.0.0/24', gateway: '10.6.0.1', aux: { r: '10.6.0.9' } }, { subnet: 'fd00:6::/64', gateway: 'fd00:6::1' }],
  ...over,
});

test('endpoint settings are checked against the network as docker checks them', () => {
  assert.deepEqual(attachmentFor(row({}), { ip: '10.6.0.7', ip6: 'fd00:6:0::7', aliases: ['a'], links: ['db:d'], linkLocalIps: ['169.254.1.1'] }), {
    name: 'app', aliases: ['a'], ip: '10.6.0.7', ip6: 'fd00:6::7', links: ['db:d'], linkLocalIps: ['169.254.1.1'],
  });
  const bridge = row({ name: 'bridge' });
  for (const [e, msg] of [
    [{ ip: '10.6.0.7' }, /user specified IP address is supported on user defined networks only/],
    [{ aliases: ['a'] }, /network-scoped alias is supported only/],
    [{ links: ['db'] }, /links are only supported for user-defined networks/],
  ] as const) assert.throws(() => attachmentFor(bridge, e as EndpointOptions), msg);
  for (const [e, msg] of [
    [{ ip: '10.7.0.7' }, /not in the subnet of network app/],
    [{ ip: '10.6.0.9' }, /auxiliary address r/],
    [{ ip: '10.6.0.1' }, /gateway/],
    [{ ip: 'fd00:6::7' }, /invalid IPv4 address/],
    [{ ip6: '2001:db8::1' }, /not in the subnet/],
    [{ linkLocalIps: ['nope'] }, /invalid link-local IP address: nope/],
    [{ driverOpts: { a: 'b' } }, /endpoint driver options are not supported/],
  ] as const) assert.throws(() => attachmentFor(row({}), e as EndpointOptions), msg, JSON.stringify(e));
  assert.throws(() => attachmentFor(row({ subnets: [{ subnet: '10.6.0.0/24', gateway: '10.6.0.1' }] }), { ip6: 'fd00:6::7' }), /network app has no IPv6 subnet/);
});

test('links: docker’s forms, and the variables a parent gets for its child', () => {
  assert.deepEqual(parseLink('db'), { name: 'db', alias: 'db' });
  assert.deepEqual(parseLink('db:pg'), { name: 'db', alias: 'pg' });
  assert.deepEqual(parseLink('/db:/web/pg'), { name: 'db', alias: 'pg' });
  assert.throws(() => parseLink('a:b:c'), /bad format for links: a:b:c/);
  const child = {
    id: 'ef'.repeat(32), name: 'db', state: 'running',
    net: { networks: { bridge: { ifName: 'eth0', ip: '10.77.0.5', prefixLen: 16, gateway: '10.77.0.1', mac: '' } } },
    config: { env: ['PATH=/bin', 'PASS=s=1', 'BARE'], exposedPorts: ['6380/tcp', '6379/tcp', '6381/tcp', '53/udp'] },
  } as unknown as ContainerRow;
  const parent = { id: '12'.repeat(32), name: 'web', config: { networking: { legacyLinks: [{ id: child.id, name: 'db', alias: 'my-db' }] } } } as unknown as ContainerRow;
  const engine = { lookupSynced: (id: string) => (id === child.id ? child : undefined) } as unknown as EngineCore;
  assert.deepEqual(linkEnv(engine, parent), [
    'MY_DB_PORT=udp://10.77.0.5:53',
    'MY_DB_PORT_6379_TCP_START=tcp://10.77.0.5:6379',
    'MY_DB_PORT_6379_TCP_ADDR=10.77.0.5',
    'MY_DB_PORT_6379_TCP_PROTO=tcp',
    'MY_DB_PORT_6379_TCP_PORT_START=6379',
    'MY_DB_PORT_6379_TCP_END=tcp://10.77.0.5:6381',
    'MY_DB_PORT_6379_TCP_PORT_END=6381',
    'MY_DB_PORT_53_UDP=udp://10.77.0.5:53',
    'MY_DB_PORT_53_UDP_ADDR=10.77.0.5',
    'MY_DB_PORT_53_UDP_PORT=53',
    'MY_DB_PORT_53_UDP_PROTO=udp',
    ...[6379, 6380, 6381].flatMap((p) => [`MY_DB_PORT_${p}_TCP=tcp://10.77.0.5:${p}`, `MY_DB_PORT_${p}_TCP_ADDR=10.77.0.5`, `MY_DB_PORT_${p}_TCP_PORT=${p}`, `MY_DB_PORT_${p}_TCP_PROTO=tcp`]),
    'MY_DB_NAME=/web/my-db',
    'MY_DB_ENV_PASS=s=1',
  ]);
  const stopped = { lookupSynced: () => ({ ...child, state: 'exited' }) } as unknown as EngineCore;
  assert.throws(() => linkEnv(stopped, parent), /Cannot link to a non running container: \/db AS \/web\/my-db$/);
  assert.deepEqual(linkEnv(stopped, { ...parent, config: { networking: { networks: [] } } } as unknown as ContainerRow), [], 'no links: no look at any row');
});
