/**
 * A container's endpoints, with real containers: several networks at once (`--network` given again, the
 * API's EndpointsConfig), `network connect` with aliases, static IPv4 and IPv6 addresses, links and
 * link-local addresses (and what is refused), forced disconnects, and docker's legacy links on the
 * default bridge (hosts lines, variables, inspect's Links, `rm --link`, a child that is down) and on
 * user networks (an alias for the linking container only).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { assertDockerOk, call as callOn, docker as dockerOn, needsDockerCli, startApiServer, type ApiServer } from './api-server.ts';
import { cli, eventually, type Env } from './helpers.ts';

let api: ApiServer;
let env: Env;
const { ok, runD, inspect } = cli(() => env);
const call = (method: string, path: string, body?: object) => callOn(api.sock, method, path, body);
const networks = () => ok(['network', 'ls', '--format', '{{.Name}}']).stdout.split('\n').filter(Boolean).sort();

function fails(args: string[], code: number, why: RegExp): void {
  const r = env.berth(args);
  assert.equal(r.code, code, `berth ${args.join(' ')}: ${r.stdout}${r.stderr}`);
  assert.match(r.stderr, why);
}

before(async () => {
  api = await startApiServer('netlinks');
  env = api.env;
  ok(['network', 'create', '--subnet', '10.244.21.0/24', 'la']);
  ok(['network', 'create', '--subnet', '10.244.22.0/24', 'lb']);
  ok(['network', 'create', '--ipv6', '--subnet', '10.244.23.0/24', '--subnet', 'fd00:b8:23::/64', 'l6']);
});

after(async () => {
  if (!env) return;
  const ids = env.berth(['ps', '-aq', '--no-trunc']).stdout.split('\n').filter(Boolean);
  if (ids.length) env.berth(['rm', '-f', ...ids]);
  for (const n of networks()) if (!['bridge', 'host', 'none'].includes(n)) env.berth(['network', 'rm', n]);
  await api.stop();
});

test('--network given twice joins both networks (the first as eth0, the flat flags on it); refused mixes make nothing', () => {
  const r = ok(['run', '--rm', '--network', 'la', '--network', 'lb', '--ip', '10.244.21.40', 'busybox', 'sh', '-c', 'ip -4 -o addr show eth0; ip -4 -o addr show eth1; ip route | grep ^default']);
  assert.match(r.stdout, /eth0\s+inet 10\.244\.21\.40\/24/);
  assert.match(r.stdout, /eth1\s+inet 10\.244\.22\.\d+\/24/);
  assert.match(r.stdout, /^default via 10\.244\.21\.1 dev eth0/m);
  // docker's long form: per-network settings.
  const id = runD(['--name', 'two-nets', '--network', 'name=la,alias=first,ip=10.244.21.41', '--network', 'name=lb,ip=10.244.22.41,alias=second', 'busybox', 'sleep', '300']);
  try {
    const nets = JSON.parse(inspect(id, '{{json .NetworkSettings.Networks}}')) as Record<string, any>;
    assert.deepEqual(Object.keys(nets), ['la', 'lb']);
    assert.equal(nets.la.IPAddress, '10.244.21.41');
    assert.deepEqual(nets.la.Aliases, ['first']);
    assert.equal(nets.lb.IPAddress, '10.244.22.41');
    assert.deepEqual(nets.lb.Aliases, ['second']);
    assert.match(ok(['run', '--rm', '--network', 'lb', 'busybox', 'ping', '-c1', '-W2', 'second']).stdout, /1 packets received/);
  } finally {
    ok(['rm', '-f', id]);
  }
  const before = ok(['ps', '-aq']).stdout;
  fails(['run', '--rm', '--network', 'bridge', '--network', 'la', 'busybox', 'true'], 125, /conflicting options: cannot attach both user-defined and non-user-defined network-modes/);
  fails(['run', '--rm', '--network', 'la', '--network', 'la', 'busybox', 'true'], 125, /network "la" is specified multiple times/);
  fails(['run', '--rm', '--network', 'name=la,ip=10.244.21.42', '--ip', '10.244.21.43', 'busybox', 'true'], 125, /conflicting options: cannot specify both --ip and per-network IPv4 address/);
  fails(['run', '--rm', '--network', 'la', '--network', 'nosuch', 'busybox', 'true'], 125, /network nosuch not found/);
  assert.equal(ok(['ps', '-aq']).stdout, before);
});

test('EndpointsConfig naming several networks at create: all are joined, each with its settings', async () => {
  const c = await call('POST', '/containers/create?name=eps', {
    Image: 'busybox', Cmd: ['sleep', '300'], HostConfig: { NetworkMode: 'lb' },
    NetworkingConfig: { EndpointsConfig: { la: { IPAMConfig: { IPv4Address: '10.244.21.50' } }, lb: { Aliases: ['b-alias'] }, l6: { IPAMConfig: { IPv6Address: 'fd00:b8:23::50' } } } },
  });
  assert.equal(c.status, 201, c.text);
  try {
    assert.equal((await call('POST', '/containers/eps/start')).status, 204);
    const j = JSON.parse((await call('GET', '/containers/eps/json')).text) as Record<string, any>;
    const nets = j.NetworkSettings.Networks;
    assert.deepEqual(Object.keys(nets), ['lb', 'la', 'l6'], 'the network mode’s first');
    assert.deepEqual(nets.lb.Aliases, ['b-alias']);
    assert.equal(nets.la.IPAddress, '10.244.21.50');
    assert.equal(nets.l6.GlobalIPv6Address, 'fd00:b8:23::50');
    const addrs = ok(['exec', 'eps', 'ip', '-o', 'addr']).stdout;
    assert.match(addrs, /eth0\s+inet 10\.244\.22\.\d+/);
    assert.match(addrs, /eth1\s+inet 10\.244\.21\.50\//);
    assert.match(addrs, /eth2\s+inet6 fd00:b8:23::50\//);
    const bad = await call('POST', '/containers/create', { Image: 'busybox', NetworkingConfig: { EndpointsConfig: { bridge: { IPAMConfig: { IPv4Address: '10.1.2.3' } } } } });
    assert.equal(bad.status, 400);
    assert.match(bad.text, /user specified IP address is supported on user defined networks only/);
    const types = await call('POST', '/containers/create', { Image: 'busybox', HostConfig: { NetworkMode: 'la' }, NetworkingConfig: { EndpointsConfig: { la: { Aliases: [1] } } } });
    assert.equal(types.status, 400, types.text);
  } finally {
    ok(['rm', '-f', 'eps']);
  }
});

test('network connect: aliases, IPv4 and IPv6 addresses, links and link-local addresses; what is not done is refused', async () => {
  const peer = runD(['--name', 'peer6', '--network', 'l6', 'busybox', 'sleep', '300']);
  const id = runD(['--name', 'joiner', '--network', 'la', 'busybox', 'sleep', '300']);
  try {
    ok(['network', 'connect', '--ip', '10.244.23.20', '--ip6', 'fd00:b8:23::20', '--alias', 'j-alias', '--link', 'peer6:pp', '--link-local-ip', '169.254.23.23', 'l6', 'joiner']);
    const eth1 = ok(['exec', id, 'ip', '-o', 'addr', 'show', 'eth1']).stdout;
    assert.match(eth1, /inet 10\.244\.23\.20\/24/);
    assert.match(eth1, /inet 169\.254\.23\.23\/16/);
    assert.match(eth1, /inet6 fd00:b8:23::20\/64/);
    const e = (JSON.parse(inspect(id, '{{json .NetworkSettings.Networks}}')) as Record<string, any>).l6;
    assert.deepEqual(e.IPAMConfig, { IPv4Address: '10.244.23.20', IPv6Address: 'fd00:b8:23::20', LinkLocalIPs: ['169.254.23.23'] });
    assert.deepEqual(e.Links, ['peer6:pp']);
    assert.deepEqual(e.Aliases, ['j-alias']);
    // The link names peer6 for joiner only; the alias names joiner for everyone on l6.
    const peerIp = inspect(peer, '{{.NetworkSettings.Networks.l6.IPAddress}}');
    assert.match(ok(['exec', id, 'cat', '/etc/hosts']).stdout, new RegExp(`^${peerIp.replace(/\./g, '\\.')}\\s+peer6 pp `, 'm'));
    assert.match(ok(['exec', peer, 'ping', '-c1', '-W2', 'j-alias']).stdout, /1 packets received/);
    assert.doesNotMatch(ok(['exec', peer, 'cat', '/etc/hosts']).stdout, /\bpp\b/);
    fails(['network', 'connect', 'l6', 'joiner'], 1, /endpoint with name joiner already exists in network l6/);
    fails(['network', 'connect', '--driver-opt', 'x=y', 'lb', 'joiner'], 1, /endpoint driver options are not supported: x/);
    fails(['network', 'connect', '--gw-priority', '5', 'lb', 'joiner'], 1, /GwPriority is not supported/);
    fails(['network', 'connect', '--ip', '10.9.9.9', 'lb', 'joiner'], 1, /not in the subnet of network lb/);
    fails(['network', 'connect', '--alias', 'x', 'bridge', 'joiner'], 1, /network-scoped alias is supported only for containers in user defined networks/);
    fails(['network', 'connect', 'host', 'joiner'], 1, /container cannot be disconnected from host network or connected to host network/);
    assert.doesNotMatch(ok(['exec', id, 'cat', '/proc/net/dev']).stdout, /eth2/, 'a refused connect attaches nothing');
    // Over the API, a stopped container: the endpoint settings wait for its start.
    const s = ok(['create', '--name', 'later', '--network', 'la', 'busybox', 'sleep', '300']).stdout.trim();
    const r = await call('POST', '/networks/l6/connect', { Container: 'later', EndpointConfig: { Aliases: ['late'], IPAMConfig: { IPv6Address: 'fd00:b8:23::30' } } });
    assert.equal(r.status, 200, r.text);
    ok(['start', s]);
    assert.match(ok(['exec', s, 'ip', '-6', '-o', 'addr', 'show', 'eth1']).stdout, /inet6 fd00:b8:23::30\/64/);
    assert.match(ok(['exec', peer, 'ping', '-c1', '-W2', 'late']).stdout, /1 packets received/);
    ok(['rm', '-f', s]);
  } finally {
    ok(['rm', '-f', id, peer]);
  }
});

test('disconnect --force: a network removed under a stopped container is dropped from it; a container that is gone is no error', async () => {
  ok(['network', 'create', '--subnet', '10.244.24.0/24', 'lgone']);
  const id = ok(['create', '--name', 'orphaned', '--network', 'lgone', 'busybox', 'sleep', '300']).stdout.trim();
  try {
    ok(['network', 'rm', 'lgone']);
    fails(['start', id], 1, /network lgone not found/);
    fails(['network', 'disconnect', 'lgone', id], 1, /network lgone not found/);
    ok(['network', 'disconnect', '--force', 'lgone', id]);
    assert.equal(inspect(id, '{{json .NetworkSettings.Networks}}'), '{}');
    ok(['start', id]);
    assert.equal(ok(['exec', id, 'ls', '/sys/class/net']).stdout, 'lo\n');
    assert.equal((await call('POST', '/networks/la/disconnect', { Container: 'no-such-ctr', Force: true })).status, 200);
    assert.equal((await call('POST', '/networks/la/disconnect', { Container: 'no-such-ctr' })).status, 404);
    // A live attachment goes with --force as without.
    const j = runD(['--network', 'la', 'busybox', 'sleep', '300']);
    assert.equal((await call('POST', '/networks/la/disconnect', { Container: j, Force: true })).status, 200);
    assert.equal(ok(['exec', j, 'ls', '/sys/class/net']).stdout, 'lo\n');
    ok(['rm', '-f', j]);
  } finally {
    ok(['rm', '-f', id]);
  }
});

test('legacy links on the default bridge: hosts lines under alias, hostname and name, docker’s variables, Links in inspect, rm --link', async () => {
  const db = runD(['--name', 'ldb', '-h', 'dbhost', '--expose', '5432', '-e', 'PASS=s3cret', 'busybox', 'sleep', '300']);
  try {
    const ip = inspect(db, '{{.NetworkSettings.IPAddress}}');
    const q = ip.replace(/\./g, '\\.');
    const r = ok(['run', '--rm', '--name', 'lweb', '--link', 'ldb:pg', '--link', 'ldb', 'busybox', 'sh', '-c', 'cat /etc/hosts; env']).stdout;
    assert.match(r, new RegExp(`^${q}\\tpg dbhost ldb$`, 'm'));
    assert.match(r, new RegExp(`^${q}\\tldb dbhost$`, 'm'));
    for (const v of [`PG_PORT=tcp://${ip}:5432`, `PG_PORT_5432_TCP=tcp://${ip}:5432`, `PG_PORT_5432_TCP_ADDR=${ip}`, 'PG_PORT_5432_TCP_PORT=5432', 'PG_PORT_5432_TCP_PROTO=tcp', 'PG_NAME=/lweb/pg', 'PG_ENV_PASS=s3cret', 'LDB_NAME=/lweb/ldb']) {
      assert.match(r, new RegExp(`^${v.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}$`, 'm'), v);
    }
    assert.doesNotMatch(r, /^PG_ENV_PATH=/m, 'not the child’s PATH');
    // A parent that stays: its Links, its exec's variables, its hosts line following the child's restart.
    const web = runD(['--name', 'lparent', '--link', 'ldb:pg', '-e', 'PG_NAME=mine', 'busybox', 'sleep', '300']);
    assert.equal(inspect(web, '{{json .HostConfig.Links}}'), '["/ldb:/lparent/pg"]');
    const ex = ok(['exec', web, 'env']).stdout;
    assert.match(ex, new RegExp(`^PG_PORT=tcp://${q}:5432$`, 'm'));
    assert.match(ex, /^PG_NAME=mine$/m, 'the container’s own variables win');
    ok(['restart', '-t', '0', db]);
    const now = inspect(db, '{{.NetworkSettings.IPAddress}}');
    await eventually(() => new RegExp(`^${now.replace(/\./g, '\\.')}\\tpg `, 'm').test(ok(['exec', web, 'cat', '/etc/hosts']).stdout), 10_000);
    assert.equal(ok(['rm', '--link', '/lparent/pg']).stdout, '/lparent/pg\n');
    assert.equal(inspect(web, '{{json .HostConfig.Links}}'), 'null');
    assert.doesNotMatch(ok(['exec', web, 'cat', '/etc/hosts']).stdout, /\tpg /);
    assert.equal(inspect(web, '{{.State.Status}}'), 'running', 'rm --link removes no container');
    // Over the API: create with HostConfig.Links, DELETE the link by its name.
    const c = await call('POST', '/containers/create?name=lapi', { Image: 'busybox', Cmd: ['true'], HostConfig: { Links: ['ldb:db2'] } });
    assert.equal(c.status, 201, c.text);
    assert.deepEqual((JSON.parse((await call('GET', '/containers/lapi/json')).text) as Record<string, any>).HostConfig.Links, ['/ldb:/lapi/db2']);
    assert.equal((await call('DELETE', '/containers//lapi/db2?link=1')).status, 204);
    assert.equal((JSON.parse((await call('GET', '/containers/lapi/json')).text) as Record<string, any>).HostConfig.Links, null);
    assert.equal((await call('DELETE', '/containers//lapi/nope?link=1')).status, 404);
    const dflt = await call('DELETE', '/containers/lapi?link=1');
    assert.equal(dflt.status, 409);
    assert.match(dflt.text, /cannot remove the default link name of the container/);
    assert.equal(inspect('lapi', '{{.State.Status}}'), 'created', 'a link removal never removes the container');
    ok(['rm', '-f', web, 'lapi']);
    // Refused as docker refuses them.
    ok(['stop', '-t', '0', db]);
    fails(['run', '--rm', '--name', 'lrefused', '--link', 'ldb:pg', 'busybox', 'true'], 125, /^Error: Cannot link to a non running container: \/ldb AS \/lrefused\/pg$/m);
    fails(['run', '--rm', '--link', 'nosuch:pg', 'busybox', 'true'], 125, /could not get container for nosuch/);
    fails(['run', '--rm', '--network', 'host', '--link', 'ldb', 'busybox', 'true'], 125, /conflicting options: host type networking can't be used with links/);
    fails(['run', '--rm', '--link', 'ldb:a', '--link', 'ldb:a', 'busybox', 'true'], 125, /the link alias a is given twice/);
  } finally {
    env.berth(['rm', '-f', 'lparent', 'lapi', 'lrefused']);
    ok(['rm', '-f', db]);
  }
});

test('on a user network a link is an alias there, for the linking container only', () => {
  const svc = runD(['--name', 'lsvc', '--network', 'la', 'busybox', 'sleep', '300']);
  try {
    assert.match(ok(['run', '--rm', '--network', 'la', '--link', 'lsvc:backend', 'busybox', 'ping', '-c1', '-W2', 'backend']).stdout, /1 packets received/);
    const other = env.berth(['run', '--rm', '--network', 'la', 'busybox', 'ping', '-c1', '-W1', 'backend']);
    assert.notEqual(other.code, 0, 'no alias for a container without the link');
    const id = runD(['--network', 'la', '--link', 'lsvc:backend', 'busybox', 'sleep', '300']);
    assert.equal(inspect(id, '{{json .NetworkSettings.Networks.la.Links}}'), '["lsvc:backend"]');
    assert.equal(inspect(id, '{{json .HostConfig.Links}}'), 'null');
    ok(['rm', '-f', id]);
  } finally {
    ok(['rm', '-f', svc]);
  }
});

test('the docker CLI: run --network twice, --link and rm --link, network connect --ip6', needsDockerCli, () => {
  const d = (args: string[]) => assertDockerOk(api, args, dockerOn(api, args)).stdout;
  const child = d(['run', '-d', '--name', 'dk-child', '--expose', '80', 'busybox', 'sleep', '300']).trim();
  try {
    const out = d(['run', '--rm', '--network', 'la', '--network', 'lb', 'busybox', 'ip', '-4', '-o', 'addr']);
    assert.match(out, /eth0\s+inet 10\.244\.21\./);
    assert.match(out, /eth1\s+inet 10\.244\.22\./);
    const p = d(['run', '-d', '--name', 'dk-parent', '--link', 'dk-child:kid', 'busybox', 'sleep', '300']).trim();
    assert.match(d(['exec', p, 'env']), /^KID_PORT=tcp:\/\/10\.[0-9.]+:80$/m);
    assert.equal(d(['inspect', '-f', '{{json .HostConfig.Links}}', p]).trim(), '["/dk-child:/dk-parent/kid"]');
    d(['rm', '--link', '/dk-parent/kid']);
    assert.equal(d(['inspect', '-f', '{{json .HostConfig.Links}}', p]).trim(), 'null');
    d(['network', 'connect', '--ip6', 'fd00:b8:23::60', 'l6', p]);
    assert.match(d(['exec', p, 'ip', '-6', '-o', 'addr', 'show', 'eth1']), /inet6 fd00:b8:23::60\/64/);
    d(['rm', '-f', p]);
  } finally {
    dockerOn(api, ['rm', '-f', child, 'dk-parent']);
  }
});
