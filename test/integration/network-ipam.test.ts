/**
 * Networks as dockerd 20.10 makes them, with real containers: IPv6 subnets kept as given (host bits too)
 * and the addresses, gateways and routes containers get from them; dual-stack networks with a gateway,
 * an ip-range and auxiliary addresses that are never handed out; internal networks that really have no way
 * out; the bridge driver's options applied (inter-container traffic, masquerade, bridge name, MTU) or
 * refused by name; and `POST /networks/create` answering as dockerd answers outside a swarm.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { assertDockerOk, call as callOn, docker as dockerOn, needsDockerCli, startApiServer, type ApiServer } from './api-server.ts';
import { cli, type Env } from './helpers.ts';

let api: ApiServer;
let env: Env;
const { ok, runD, inspect } = cli(() => env);
const call = (method: string, path: string, body?: object) => callOn(api.sock, method, path, body);

/** A network's inspect JSON (`berth network inspect`). */
function net(name: string): Record<string, any> {
  return (JSON.parse(ok(['network', 'inspect', name]).stdout) as Record<string, any>[])[0]!;
}

const nat = () => spawnSync('iptables-save', ['-t', 'nat'], { encoding: 'utf8' }).stdout + spawnSync('ip6tables-save', ['-t', 'nat'], { encoding: 'utf8' }).stdout;
const filter = () => spawnSync('iptables-save', ['-t', 'filter'], { encoding: 'utf8' }).stdout + spawnSync('ip6tables-save', ['-t', 'filter'], { encoding: 'utf8' }).stdout;
const networks = () => ok(['network', 'ls', '--format', '{{.Name}}']).stdout.split('\n').filter(Boolean).sort();

/** Run in a new container; the exit code and output, whatever the code. */
function sh(args: string[], script: string): { code: number; out: string } {
  const r = env.berth(['run', '--rm', ...args, 'busybox', 'sh', '-c', script]);
  return { code: r.code, out: r.stdout + r.stderr };
}

before(async () => {
  api = await startApiServer('netipam');
  env = api.env;
});

after(async () => {
  if (!env) return;
  const ids = env.berth(['ps', '-aq', '--no-trunc']).stdout.split('\n').filter(Boolean);
  if (ids.length) env.berth(['rm', '-f', ...ids]);
  for (const n of networks()) if (!['bridge', 'host', 'none'].includes(n)) env.berth(['network', 'rm', n]);
  await api.stop();
});

test('IPv6: a subnet with host bits is kept as given; containers get an address, gateway and route in it and reach each other', () => {
  ok(['network', 'create', '--ipv6', '--subnet', '2001:db8:7::1/64', 't6']);
  ok(['network', 'create', '--subnet', '10.244.1.9/24', 't4bits']);
  try {
    const n = net('t6');
    assert.equal(n.EnableIPv6, true);
    // As dockerd shows them: the automatic IPv4 pool with its gateway, the given one as written, no gateway.
    assert.equal(n.IPAM.Config.length, 2);
    assert.match(n.IPAM.Config[0].Subnet, /^10\.\d+\.\d+\.0\/24$/);
    assert.deepEqual(n.IPAM.Config[1], { Subnet: '2001:db8:7::1/64' });
    assert.deepEqual(net('t4bits').IPAM.Config, [{ Subnet: '10.244.1.9/24' }]);
    const a = runD(['--name', 'six-a', '--network', 't6', 'busybox', 'sleep', '300']);
    const s = (JSON.parse(inspect(a, '{{json .NetworkSettings}}')) as Record<string, any>);
    const e = s.Networks.t6;
    assert.match(e.GlobalIPv6Address, /^2001:db8:7::[0-9a-f]+$/);
    assert.equal(e.GlobalIPv6PrefixLen, 64);
    assert.equal(e.IPv6Gateway, '2001:db8:7::1');
    assert.equal(s.GlobalIPv6Address, e.GlobalIPv6Address, 'the first network’s address at the top');
    const inside = ok(['exec', a, 'sh', '-c', 'cat /proc/sys/net/ipv6/conf/eth0/disable_ipv6; ip -6 -o addr show eth0 scope global; ip -6 route show default']).stdout;
    assert.match(inside, /^0$/m, 'IPv6 is on in the namespace');
    assert.match(inside, new RegExp(`inet6 ${e.GlobalIPv6Address}/64 scope global`));
    assert.match(inside, /^default via 2001:db8:7::1 dev eth0/m);
    // A static address with --ip6, and IPv6 traffic between the two.
    const b = sh(['--network', 't6', '--ip6', '2001:db8:7::77'], `ip -6 -o addr show eth0 scope global; ping -c1 -W2 ${e.GlobalIPv6Address}`);
    assert.equal(b.code, 0, b.out);
    assert.match(b.out, /inet6 2001:db8:7::77\/64/);
    assert.match(b.out, /1 packets received/);
    assert.match(ok(['network', 'inspect', 't6', '-f', '{{json .Containers}}']).stdout, new RegExp(`"IPv6Address":"${e.GlobalIPv6Address}/64"`));
    ok(['rm', '-f', a]);
    for (const [args, why] of [
      [['--network', 't4bits', '--ip6', '2001:db8:7::5'], /network t4bits has no IPv6 subnet/],
      [['--ip6', '2001:db8:7::5'], /user specified IP address is supported on user defined networks only/],
      [['--network', 't6', '--ip6', '2001:db8:8::5'], /not in the subnet of network t6/],
      [['--network', 't6', '--ip6', '10.1.1.1'], /invalid IPv6 address: 10\.1\.1\.1/],
    ] as const) {
      const r = env.berth(['run', '--rm', ...args, 'busybox', 'true']);
      assert.equal(r.code, 125, r.stderr);
      assert.match(r.stderr, why);
    }
  } finally {
    ok(['network', 'rm', 't6', 't4bits']);
  }
});

test('dual stack with a gateway, an ip-range and aux addresses: containers get both families, never an aux address; bad IPAM input creates nothing', () => {
  ok(['network', 'create', '--ipv6', '--subnet', '10.244.2.0/24', '--subnet', 'fd00:b8:2::/64', '--gateway', '10.244.2.254', '--ip-range', '10.244.2.0/29',
    '--aux-address', 'r1=10.244.2.1', '--aux-address', 'r2=10.244.2.2', '--aux-address', 'r6=fd00:b8:2::2', 'tdual']);
  const ids: string[] = [];
  try {
    assert.deepEqual(net('tdual').IPAM.Config, [
      { Subnet: '10.244.2.0/24', IPRange: '10.244.2.0/29', Gateway: '10.244.2.254', AuxiliaryAddresses: { r1: '10.244.2.1', r2: '10.244.2.2' } },
      { Subnet: 'fd00:b8:2::/64', AuxiliaryAddresses: { r6: 'fd00:b8:2::2' } },
    ]);
    // The range holds .1 to .7; .1 and .2 are held back: five containers, then no address is left.
    for (let i = 0; i < 5; i++) ids.push(runD(['--network', 'tdual', 'busybox', 'sleep', '300']));
    const v4 = ids.map((id) => inspect(id, '{{.NetworkSettings.Networks.tdual.IPAddress}}')).sort();
    const v6 = ids.map((id) => inspect(id, '{{.NetworkSettings.Networks.tdual.GlobalIPv6Address}}'));
    assert.deepEqual(v4, ['10.244.2.3', '10.244.2.4', '10.244.2.5', '10.244.2.6', '10.244.2.7']);
    assert.equal(new Set(v6).size, 5);
    for (const a of v6) assert.ok(/^fd00:b8:2::[0-9a-f]+$/.test(a) && a !== 'fd00:b8:2::2' && a !== 'fd00:b8:2::1', a);
    assert.match(ok(['exec', ids[0]!, 'ip', 'route', 'show', 'default']).stdout, /^default via 10\.244\.2\.254 dev eth0/);
    const full = env.berth(['run', '-d', '--name', 'no-room', '--network', 'tdual', 'busybox', 'sleep', '300']);
    assert.equal(full.code, 125);
    assert.match(full.stderr, /no IP addresses available/);
    assert.equal(inspect('no-room', '{{.State.Status}}'), 'created');
    ok(['rm', 'no-room']);
  } finally {
    if (ids.length) ok(['rm', '-f', ...ids]);
  }
  const before = networks();
  for (const [args, why] of [
    [['--subnet', '10.244.3.0/24', '--subnet', '10.244.4.0/24'], /^Error: bridge driver doesn't support multiple subnets$/m],
    [['--subnet', '10.244.3.0/24', '--aux-address', 'a=10.244.9.1'], /^Error: no matching subnet for aux-address 10\.244\.9\.1$/m],
    [['--subnet', '10.244.3.0/24', '--gateway', '10.244.9.1'], /^Error: no matching subnet for gateway 10\.244\.9\.1$/m],
    [['--subnet', '10.244.3.0/24', '--ip-range', '10.244.3.0/23'], /doesn't contain ip-range/],
    [['--subnet', 'fd00:b8:3::/64'], /IPv6 is not enabled/],
    [['--subnet', '10.244.2.128/25'], /Pool overlaps with other one on this address space/],
    [['--ipv6', '--subnet', 'fd00:b8:2::/64'], /Pool overlaps/],
    [['--ipam-driver', 'other'], /plugin "other" not found/],
  ] as const) {
    const r = env.berth(['network', 'create', ...args, 'tbad']);
    assert.equal(r.code, 1, args.join(' '));
    assert.match(r.stderr, why);
  }
  assert.deepEqual(networks(), before, 'a refused create makes nothing');
  ok(['network', 'rm', 'tdual']);
});

test('an internal network has no way out: its containers reach each other and the gateway, nothing beyond the bridge, even by a route of their own', () => {
  ok(['network', 'create', '--internal', '--subnet', '10.244.4.0/24', 'tint']);
  ok(['network', 'create', '--subnet', '10.244.5.0/24', 'tout']);
  const ids: string[] = [];
  try {
    ids.push(runD(['--name', 'far', '--network', 'tout', 'busybox', 'sleep', '300']));
    ids.push(runD(['--name', 'near', '--network', 'tint', 'busybox', 'sleep', '300']));
    const far = inspect('far', '{{.NetworkSettings.Networks.tout.IPAddress}}');
    const bridge = net('tint').BerthBridge as string;
    assert.match(filter(), new RegExp(`-A BERTH-FORWARD -i ${bridge} ! -o ${bridge} .*-j DROP`));
    // Control: from an ordinary network the host forwards to `far`.
    assert.equal(sh(['--network', 'bridge'], `ping -c1 -W1 ${far}`).code, 0, 'the default bridge reaches far');
    const r = sh(['--network', 'tint', '--cap-add', 'NET_ADMIN'], [
      'ping -c1 -W1 near >/dev/null && echo peer-ok',
      'ping -c1 -W1 10.244.4.1 >/dev/null && echo gateway-ok',
      'ip route | grep -q ^default && echo HAS-DEFAULT-ROUTE',
      `ping -c1 -W1 ${far} >/dev/null 2>&1 && echo REACHED-WITHOUT-ROUTE`,
      // With a default route of its own via the gateway, the host still forwards nothing out of the bridge.
      'ip route add default via 10.244.4.1',
      `ping -c1 -W1 ${far} >/dev/null 2>&1 && echo REACHED-WITH-ROUTE || echo blocked`,
    ].join('; '));
    assert.match(r.out, /peer-ok/);
    assert.match(r.out, /gateway-ok/);
    assert.match(r.out, /blocked/);
    assert.doesNotMatch(r.out, /HAS-DEFAULT-ROUTE|REACHED/);
    assert.doesNotMatch(nat(), /10\.244\.4\./, 'no masquerade for the internal subnet');
    ok(['rm', '-f', ...ids.splice(0)]);
    ok(['network', 'rm', 'tint']);
    assert.doesNotMatch(filter(), new RegExp(`berth internal ${bridge}`), 'the rules go with the network');
  } finally {
    if (ids.length) ok(['rm', '-f', ...ids]);
    env.berth(['network', 'rm', 'tint']);
    ok(['network', 'rm', 'tout']);
  }
});

test('driver options: no inter-container traffic, no masquerade, a named bridge and its MTU; the others refused by name', () => {
  const opts = {
    'com.docker.network.bridge.name': 'bt-icc244',
    'com.docker.network.bridge.enable_icc': 'false',
    'com.docker.network.bridge.enable_ip_masquerade': 'false',
    'com.docker.network.driver.mtu': '1400',
  };
  ok(['network', 'create', '--subnet', '10.244.6.0/24', ...Object.entries(opts).flatMap(([k, v]) => ['-o', `${k}=${v}`]), 'ticc']);
  const ids: string[] = [];
  try {
    assert.deepEqual(net('ticc').Options, opts);
    ids.push(runD(['--name', 'icc-a', '--network', 'ticc', 'busybox', 'sleep', '300']));
    const a = inspect('icc-a', '{{.NetworkSettings.Networks.ticc.IPAddress}}');
    assert.ok(existsSync('/sys/class/net/bt-icc244'), 'the bridge has the name asked for');
    const r = sh(['--network', 'ticc'], `cat /sys/class/net/eth0/mtu; ping -c1 -W1 10.244.6.1 >/dev/null && echo gateway-ok; ping -c1 -W1 ${a} >/dev/null 2>&1 && echo REACHED-PEER || echo peer-blocked`);
    assert.match(r.out, /^1400$/m);
    assert.match(r.out, /gateway-ok/);
    assert.match(r.out, /peer-blocked/);
    assert.doesNotMatch(nat(), new RegExp(`${a.replace(/\./g, '\\.')}/32`), 'no masquerade rule for the container');
    // Control: on a network with docker's defaults, two containers reach each other.
    ok(['network', 'create', '--subnet', '10.244.7.0/24', 'ticc-on']);
    ids.push(runD(['--name', 'icc-b', '--network', 'ticc-on', 'busybox', 'sleep', '300']));
    assert.equal(sh(['--network', 'ticc-on'], 'ping -c1 -W1 icc-b').code, 0);
    const before = networks();
    for (const [o, why] of [
      ['com.docker.network.bridge.enable_icc=maybe', /failed to parse com\.docker\.network\.bridge\.enable_icc value: maybe/],
      ['com.docker.network.bridge.host_binding_ipv4=127.0.0.1', /network option com\.docker\.network\.bridge\.host_binding_ipv4 is not supported/],
      ['com.docker.network.bridge.name=bt-icc244', /networks have same bridge name/],
      ['no.such.option=1', /unsupported network option: no\.such\.option/],
    ] as const) {
      const r = env.berth(['network', 'create', '-o', o, 'tbad']);
      assert.equal(r.code, 1, o);
      assert.match(r.stderr, why);
    }
    assert.deepEqual(networks(), before);
  } finally {
    if (ids.length) ok(['rm', '-f', ...ids]);
    ok(['network', 'rm', 'ticc']);
    env.berth(['network', 'rm', 'ticc-on']);
  }
  assert.ok(!existsSync('/sys/class/net/bt-icc244'), 'the named bridge goes with its network');
});

test('POST /networks/create as dockerd answers it: IPv6 with host bits, pools in any order, Attachable; swarm fields, bad types and duplicates refused', async () => {
  const made = await call('POST', '/networks/create', {
    Name: 'api6', CheckDuplicate: true, EnableIPv6: true, Attachable: true, Labels: { team: 'x' },
    IPAM: { Driver: 'default', Config: [{ Subnet: 'fd00:b8:9::/64', Gateway: 'fd00:b8:9::fe' }, { Subnet: '10.244.9.1/24' }] },
  });
  assert.equal(made.status, 201, made.text);
  try {
    const n = JSON.parse((await call('GET', '/networks/api6')).text) as Record<string, any>;
    assert.equal(n.EnableIPv6, true);
    assert.equal(n.Attachable, true);
    assert.equal(n.Scope, 'local');
    assert.deepEqual(n.IPAM.Config, [{ Subnet: '10.244.9.1/24' }, { Subnet: 'fd00:b8:9::/64', Gateway: 'fd00:b8:9::fe' }]);
    // A container with a static IPv6 address from EndpointsConfig.
    const c = await call('POST', '/containers/create?name=api6-c', {
      Image: 'busybox', Cmd: ['sleep', '300'], HostConfig: { NetworkMode: 'api6' },
      NetworkingConfig: { EndpointsConfig: { api6: { IPAMConfig: { IPv6Address: 'fd00:b8:9::99' } } } },
    });
    assert.equal(c.status, 201, c.text);
    assert.equal((await call('POST', '/containers/api6-c/start')).status, 204);
    const e = (JSON.parse((await call('GET', '/containers/api6-c/json')).text) as Record<string, any>).NetworkSettings.Networks.api6;
    assert.equal(e.GlobalIPv6Address, 'fd00:b8:9::99');
    assert.equal(e.IPv6Gateway, 'fd00:b8:9::fe');
    assert.deepEqual(e.IPAMConfig, { IPv6Address: 'fd00:b8:9::99' });
    assert.match(ok(['exec', 'api6-c', 'ip', '-6', '-o', 'addr', 'show', 'eth0', 'scope', 'global']).stdout, /inet6 fd00:b8:9::99\/64/);
    ok(['rm', '-f', 'api6-c']);
    const before = networks();
    for (const [body, status, why] of [
      [{ Name: 'x1', Ingress: true }, 403, /^Ingress network can only be global scope network$/],
      [{ Name: 'x1', Scope: 'swarm' }, 403, /^cannot create a swarm scoped network when swarm is not active$/],
      [{ Name: 'x1', Scope: 'global' }, 503, /not a swarm manager/],
      [{ Name: 'x1', Labels: { n: 1 } }, 400, /^json: cannot unmarshal number into Go struct field NetworkCreateRequest\.Labels of type string$/],
      [{ Name: 'x1', Options: { 'com.docker.network.bridge.enable_icc': false } }, 400, /cannot unmarshal bool into Go struct field NetworkCreateRequest\.Options of type string/],
      [{ Name: 'x1', Internal: 'yes' }, 400, /cannot unmarshal string into Go struct field NetworkCreateRequest\.Internal of type bool/],
      [{ Name: 'api6', CheckDuplicate: false }, 409, /^network with name api6 already exists$/],
      [{ Name: 'api6', CheckDuplicate: true }, 409, /already exists/],
      [{ Name: 'host' }, 403, /operation is not permitted on predefined host network/],
      [{ Name: 'x1', IPAM: { Config: [{ Subnet: '10.244.10.0/24' }, { Subnet: '10.244.11.0/24' }] } }, 403, /bridge driver doesn't support multiple subnets/],
      [{ Name: 'x1', IPAM: { Config: [{ Subnet: '10.244.10.0/24', AuxiliaryAddresses: { a: '10.244.12.1' } }] } }, 403, /must belong to the master pool/],
      [{ Name: 'x1', IPAM: { Driver: 'nope' } }, 404, /plugin "nope" not found/],
      [{ Name: 'x1', EnableIPv4: false }, 501, /IPv6-only networks are not supported/],
      [{ Name: 'x1', ConfigOnly: true }, 501, /configuration-only networks/],
    ] as const) {
      const r = await call('POST', '/networks/create', body);
      assert.equal(r.status, status, `${JSON.stringify(body)}: ${r.text}`);
      assert.match((JSON.parse(r.text) as { message: string }).message, why);
    }
    assert.deepEqual(networks(), before, 'nothing refused was made');
  } finally {
    env.berth(['rm', '-f', 'api6-c']);
    ok(['network', 'rm', 'api6']);
  }
});

test('the docker CLI: network create --ipv6 --subnet with host bits, --attachable, dual stack; inspect shows them as dockerd does', needsDockerCli, () => {
  const d = (args: string[]) => assertDockerOk(api, args, dockerOn(api, args)).stdout;
  d(['network', 'create', '--ipv6', '--subnet', '2001:db8:10::1/64', '--subnet', '10.244.13.0/24', '--gateway', '10.244.13.254', '--attachable', 'dk6']);
  try {
    const n = (JSON.parse(d(['network', 'inspect', 'dk6'])) as Record<string, any>[])[0]!;
    assert.deepEqual(n.IPAM.Config, [{ Subnet: '10.244.13.0/24', Gateway: '10.244.13.254' }, { Subnet: '2001:db8:10::1/64' }]);
    assert.equal(n.Attachable, true);
    const out = d(['run', '--rm', '--network', 'dk6', '--ip6', '2001:db8:10::9', 'busybox', 'ip', '-6', '-o', 'addr', 'show', 'eth0', 'scope', 'global']);
    assert.match(out, /inet6 2001:db8:10::9\/64/);
    const ing = dockerOn(api, ['network', 'create', '--ingress', 'dk-ing']);
    assert.equal(ing.code, 1);
    assert.match(ing.stderr, /Ingress network can only be global scope network/);
  } finally {
    d(['network', 'rm', 'dk6']);
  }
});
