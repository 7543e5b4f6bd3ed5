/**
 * Docker API and CLI conformance (#17): operations answered as dockerd 20.10 answers them on a single node
 * outside a swarm, through the raw API, the docker CLI and docker-py. Swarm objects are a 503 saying the
 * node is not a manager (SDKs' clean-up code relies on it); plugins are an empty list.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { after, before, test } from 'node:test';
import { createServer } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import { randomBytes } from 'node:crypto';
import { startRegistry } from '../fixtures/registry.ts';
import { call, docker as dockerCli, needsDockerCli, registryWithBusybox, startApiServer, type ApiServer } from './api-server.ts';
import { BERTH, cli, eventually, runAsync, type Env } from './helpers.ts';

let api: ApiServer;
let env: Env;
const { ok, runD, rmf } = cli(() => env);

before(async () => {
  api = await startApiServer('api-conformance');
  env = api.env;
});

after(async () => {
  await api?.stop();
});

const NOT_A_MANAGER = 'This node is not a swarm manager. Use "docker swarm init" or "docker swarm join" to connect this node to swarm and try again.';

test('swarm objects: 503 "not a swarm manager" for every kind; leave says not part of a swarm; init and join are refused', async () => {
  for (const [method, path] of [
    ['GET', '/swarm'], ['GET', '/nodes'], ['GET', '/nodes/abc'], ['GET', '/services'], ['POST', '/services/create'],
    ['GET', '/tasks'], ['GET', '/secrets'], ['POST', '/secrets/create'], ['GET', '/configs'], ['DELETE', '/configs/x'],
    ['GET', '/swarm/unlockkey'], ['GET', '/v1.41/services'],
  ] as const) {
    const r = await call(api.sock, method, path);
    assert.equal(r.status, 503, `${method} ${path}: ${r.text}`);
    assert.deepEqual(JSON.parse(r.text), { message: NOT_A_MANAGER }, `${method} ${path}`);
  }
  const leave = await call(api.sock, 'POST', '/swarm/leave');
  assert.deepEqual([leave.status, JSON.parse(leave.text)], [503, { message: 'This node is not part of a swarm' }]);
  for (const path of ['/swarm/init', '/swarm/join']) {
    const r = await call(api.sock, 'POST', path, {});
    assert.equal(r.status, 501, r.text);
    assert.match(JSON.parse(r.text).message, /does not run swarm mode/);
  }
});

test('plugins: the list is empty, a named plugin is not found, installing one is refused', async () => {
  const list = await call(api.sock, 'GET', '/plugins');
  assert.deepEqual([list.status, JSON.parse(list.text)], [200, []]);
  for (const [method, path] of [['GET', '/plugins/vieux/sshfs:latest/json'], ['DELETE', '/plugins/sshfs'], ['POST', '/plugins/sshfs/enable']] as const) {
    const r = await call(api.sock, method, path);
    assert.equal(r.status, 404, `${method} ${path}`);
  }
  assert.deepEqual(JSON.parse((await call(api.sock, 'GET', '/plugins/sshfs/json')).text), { message: 'plugin "sshfs" not found' });
  assert.equal((await call(api.sock, 'POST', '/plugins/pull?remote=vieux/sshfs')).status, 501);
});

test('the docker CLI: node and service listings say the node is not a manager; plugin ls is empty', needsDockerCli, () => {
  const nodes = dockerCli(api, ['node', 'ls']);
  assert.equal(nodes.code, 1);
  assert.equal(nodes.stderr.trim(), `Error response from daemon: ${NOT_A_MANAGER}`);
  const plugins = dockerCli(api, ['plugin', 'ls']);
  assert.equal(plugins.code, 0, plugins.stderr);
  assert.equal(plugins.stdout, 'ID        NAME      DESCRIPTION   ENABLED\n');
});

const PY = '/usr/bin/python3';
const hasDockerPy = existsSync(PY) && spawnSync(PY, ['-c', 'import docker'], { encoding: 'utf8' }).status === 0;

test('docker-py: services.list() raises the 503 an SDK expects outside a swarm; plugins.list() is empty', { skip: hasDockerPy ? false : 'python3 with the docker module is not installed (scripts/setup installs python3-docker)' }, () => {
  const script = [
    'import docker',
    `c = docker.DockerClient(base_url="unix://${api.sock}")`,
    'try:',
    '    c.services.list()',
    '    print("listed")',
    'except docker.errors.APIError as e:',
    '    print(e.status_code, e.explanation)',
    'print(c.plugins.list())',
  ].join('\n');
  const r = spawnSync(PY, ['-c', script], { encoding: 'utf8', timeout: 60_000 });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout, `503 ${NOT_A_MANAGER}\n[]\n`);
});

test('CLI: stop and restart take --timeout (docker 28) and --time (older); both at once are refused; a group alone prints its commands', () => {
  const id = runD(['busybox', 'sleep', '300']);
  ok(['restart', '--timeout', '0', id]);
  ok(['restart', '--time', '0', id]);
  const both = env.berth(['stop', '--timeout', '1', '--time', '1', id]);
  assert.equal(both.code, 1);
  assert.equal(both.stderr, 'Error: conflicting options: cannot specify both --timeout and --time\n');
  ok(['stop', '-t', '0', id]);
  rmf(id);
  const group = env.berth(['container']);
  assert.equal(group.code, 0, group.stderr);
  assert.match(group.stdout, /^Usage:  berth container COMMAND$/m);
  for (const c of ['ls', 'run', 'stop', 'commit', 'prune']) assert.match(group.stdout, new RegExp(`^  ${c}$`, 'm'), c);
  assert.match(env.berth(['network', '--help']).stdout, /^  connect$/m);
});

/** The HostConfig keys dockerd 20.10 shows for a plain container (seen from a private dockerd), less none. */
const DOCKERD_HOSTCONFIG_KEYS = [
  'AutoRemove', 'Binds', 'BlkioDeviceReadBps', 'BlkioDeviceReadIOps', 'BlkioDeviceWriteBps', 'BlkioDeviceWriteIOps', 'BlkioWeight',
  'BlkioWeightDevice', 'CapAdd', 'CapDrop', 'Cgroup', 'CgroupParent', 'CgroupnsMode', 'ConsoleSize', 'ContainerIDFile', 'CpuCount',
  'CpuPercent', 'CpuPeriod', 'CpuQuota', 'CpuRealtimePeriod', 'CpuRealtimeRuntime', 'CpuShares', 'CpusetCpus', 'CpusetMems',
  'DeviceCgroupRules', 'DeviceRequests', 'Devices', 'Dns', 'DnsOptions', 'DnsSearch', 'ExtraHosts', 'GroupAdd', 'IOMaximumBandwidth',
  'IOMaximumIOps', 'IpcMode', 'Isolation', 'KernelMemory', 'KernelMemoryTCP', 'Links', 'LogConfig', 'MaskedPaths', 'Memory',
  'MemoryReservation', 'MemorySwap', 'MemorySwappiness', 'NanoCpus', 'NetworkMode', 'OomKillDisable', 'OomScoreAdj', 'PidMode',
  'PidsLimit', 'PortBindings', 'Privileged', 'PublishAllPorts', 'ReadonlyPaths', 'ReadonlyRootfs', 'RestartPolicy', 'Runtime',
  'SecurityOpt', 'ShmSize', 'UTSMode', 'Ulimits', 'UsernsMode', 'VolumeDriver', 'VolumesFrom',
];

test('inspect: every HostConfig and NetworkSettings key dockerd shows, with its zero values; Env kept as sent; only asked-for ulimits', async () => {
  const made = await call(api.sock, 'POST', '/containers/create', { Image: 'busybox', Cmd: ['sleep', '300'], Env: ['Foo', 'A=b'], HostConfig: { NetworkMode: 'none' } });
  assert.equal(made.status, 201, made.text);
  const id = (JSON.parse(made.text) as { Id: string }).Id;
  try {
    const j = JSON.parse((await call(api.sock, 'GET', `/containers/${id}/json`)).text) as Record<string, Record<string, unknown>>;
    const hc = j.HostConfig!;
    assert.deepEqual(Object.keys(hc).sort(), [...DOCKERD_HOSTCONFIG_KEYS].sort());
    assert.deepEqual(
      ['Isolation', 'VolumesFrom', 'DeviceCgroupRules', 'Links', 'ConsoleSize', 'Dns', 'ExtraHosts', 'Ulimits', 'Binds', 'Devices', 'BlkioWeightDevice', 'DeviceRequests', 'VolumeDriver', 'ContainerIDFile'].map((k) => hc[k]),
      ['', null, null, null, [0, 0], null, null, null, null, null, null, null, '', ''],
    );
    for (const k of ['EndpointID', 'HairpinMode', 'LinkLocalIPv6Address', 'LinkLocalIPv6PrefixLen', 'SecondaryIPAddresses', 'SecondaryIPv6Addresses']) {
      assert.ok(k in j.NetworkSettings!, `NetworkSettings.${k}`);
    }
    assert.equal(j.Config!.OnBuild, null);
    // A name without a value stays in Config.Env as sent, and is not a variable of the process.
    const env = j.Config!.Env as string[];
    assert.deepEqual(env.slice(-2), ['Foo', 'A=b']);
    assert.equal((await call(api.sock, 'POST', `/containers/${id}/start`)).status, 204);
    const seen = ok(['exec', id, 'env']).stdout.split('\n');
    assert.ok(seen.includes('A=b') && seen.some((e) => e.startsWith('PATH=')) && seen.includes('HOME=/root'), seen.join(' '));
    assert.ok(!seen.some((e) => e === 'Foo' || e.startsWith('Foo=')), seen.join(' '));
  } finally {
    rmf(id);
  }
  const limited = runD(['--ulimit', 'nproc=100:200', '--device-cgroup-rule', 'c 1:3 rmw', '-P', '--expose', '80', 'busybox', 'sleep', '300']);
  const hc = JSON.parse(ok(['inspect', '-f', '{{json .HostConfig}}', limited]).stdout) as Record<string, unknown>;
  assert.deepEqual(hc.Ulimits, [{ Name: 'nproc', Soft: 100, Hard: 200 }]);
  assert.deepEqual(hc.DeviceCgroupRules, ['c 1:3 rmw']);
  assert.equal(hc.PublishAllPorts, true);
  assert.deepEqual(JSON.parse(ok(['inspect', '-f', '{{json .Config.ExposedPorts}}', limited]).stdout), { '80/tcp': {} });
  rmf(limited);
});

test('CLI -e NAME: the shell\'s value when it has one; otherwise NAME is kept without a variable', () => {
  const id = env.berth(['run', '-d', '-e', 'FROM_SHELL', '-e', 'UNSET_HERE', 'busybox', 'sleep', '300'], { env: { FROM_SHELL: 'shell value', UNSET_HERE: undefined } }).stdout.trim();
  try {
    const cfg = JSON.parse(ok(['inspect', '-f', '{{json .Config.Env}}', id]).stdout) as string[];
    assert.deepEqual(cfg.slice(-2), ['FROM_SHELL=shell value', 'UNSET_HERE']);
    const seen = ok(['exec', '-e', 'ALSO_UNSET', id, 'env']).stdout;
    assert.match(seen, /^FROM_SHELL=shell value$/m);
    assert.doesNotMatch(seen, /UNSET_HERE|ALSO_UNSET/);
  } finally {
    rmf(id);
  }
});

test('container prune: until and label filters select, an unknown filter refuses; the space reclaimed is the containers\' own files', async () => {
  const keep = runD(['--label', 'keep=yes', 'busybox', 'true']);
  const big = runD(['--label', 'tier=scratch', 'busybox', 'sh', '-c', 'head -c 300000 /dev/zero > /filler']);
  const fresh = runD(['busybox', 'true']);
  for (const id of [keep, big, fresh]) ok(['wait', id]);
  const bad = await call(api.sock, 'POST', `/containers/prune?filters=${encodeURIComponent('{"colour":["red"]}')}`);
  assert.equal(bad.status, 400, bad.text);
  // Nothing was created more than an hour ago: `until=1h` removes nothing.
  assert.deepEqual(JSON.parse((await call(api.sock, 'POST', `/containers/prune?filters=${encodeURIComponent('{"until":["1h"]}')}`)).text), { ContainersDeleted: [], SpaceReclaimed: 0 });
  const byLabel = JSON.parse((await call(api.sock, 'POST', `/containers/prune?filters=${encodeURIComponent('{"label":["tier=scratch"]}')}`)).text) as { ContainersDeleted: string[]; SpaceReclaimed: number };
  assert.deepEqual(byLabel.ContainersDeleted, [big]);
  assert.ok(byLabel.SpaceReclaimed >= 300000, `reclaimed ${byLabel.SpaceReclaimed}`);
  const cliPrune = ok(['container', 'prune', '-f', '--filter', 'label!=keep']).stdout;
  assert.equal(cliPrune, `Deleted Containers:\n${fresh}\n\nTotal reclaimed space: 0B\n`);
  assert.deepEqual(ok(['ps', '-aq', '--no-trunc']).stdout.trim(), keep);
  rmf(keep);
});

test('drivers Berth has no plugin for: a volume or network driver is "not found" (404), overlay needs a swarm (503)', async () => {
  const vol = await call(api.sock, 'POST', '/volumes/create', { Name: 'v-nfs', Driver: 'nfs' });
  assert.deepEqual([vol.status, JSON.parse(vol.text)], [404, { message: 'create v-nfs: error looking up volume plugin nfs: plugin "nfs" not found' }]);
  const net = await call(api.sock, 'POST', '/networks/create', { Name: 'n-weird', Driver: 'weird' });
  assert.deepEqual([net.status, JSON.parse(net.text)], [404, { message: 'plugin "weird" not found' }]);
  const overlay = await call(api.sock, 'POST', '/networks/create', { Name: 'n-overlay', Driver: 'overlay' });
  assert.deepEqual([overlay.status, JSON.parse(overlay.text)], [503, { message: NOT_A_MANAGER }]);
});

test('POST /commit: docker commit and docker-py\'s container.commit() make an image of a container\'s changes', needsDockerCli, () => {
  const id = runD(['busybox', 'sh', '-c', 'echo made > /made.txt; sleep 300']);
  try {
    const r = dockerCli(api, ['commit', '-m', 'a message', '-a', 'someone', '-c', 'ENV COMMITTED=yes', id, 'committed:cli']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^sha256:[0-9a-f]{64}\n$/);
    const img = JSON.parse(ok(['image', 'inspect', 'committed:cli']).stdout)[0] as { Author: string; Comment: string; Config: { Env: string[] } };
    assert.deepEqual([img.Author, img.Comment], ['someone', 'a message']);
    assert.ok(img.Config.Env.includes('COMMITTED=yes'), img.Config.Env.join(' '));
    assert.equal(ok(['run', '--rm', 'committed:cli', 'cat', '/made.txt']).stdout, 'made\n');
    const bad = dockerCli(api, ['commit', 'no-such-container', 'x:1']);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /No such container: no-such-container/);
    if (hasDockerPy) {
      const py = spawnSync(PY, ['-c', `import docker\nc = docker.DockerClient(base_url="unix://${api.sock}")\nprint(c.containers.get("${id}").commit(repository="committed", tag="py", message="from python").id)`], { encoding: 'utf8', timeout: 60_000 });
      assert.equal(py.status, 0, py.stderr);
      assert.equal(py.stdout.trim(), ok(['image', 'inspect', '-f', '{{.Id}}', 'committed:py']).stdout.trim());
    }
    ok(['rmi', 'committed:cli', 'committed:py'].filter((n) => n !== 'committed:py' || hasDockerPy));
  } finally {
    rmf(id);
  }
});

test('GET /distribution/{name}/json: the manifest\'s descriptor and platform from the registry; an unknown tag is 404', async (t) => {
  const got = await registryWithBusybox(t, env, 'dist/busybox:1');
  if (!got) return;
  try {
    const r = await call(api.sock, 'GET', `/v1.51/distribution/${got.ref}/json`);
    assert.equal(r.status, 200, r.text);
    const d = JSON.parse(r.text) as { Descriptor: { mediaType: string; digest: string; size: number }; Platforms: { architecture: string; os: string }[] };
    // What a pull of it records as its repo digest is the digest the registry described.
    ok(['pull', '-q', got.ref]);
    const repoDigests = ok(['image', 'inspect', '-f', '{{json .RepoDigests}}', got.ref]).stdout;
    assert.ok(repoDigests.includes(d.Descriptor.digest), `${d.Descriptor.digest} in ${repoDigests}`);
    assert.match(d.Descriptor.mediaType, /manifest/);
    assert.ok(d.Descriptor.size > 0);
    assert.deepEqual(d.Platforms.map((p) => `${p.os}/${p.architecture}`), ['linux/amd64']);
    const missing = await call(api.sock, 'GET', `/distribution/${got.reg.host}/dist/busybox:nope/json`);
    assert.equal(missing.status, 404, missing.text);
    ok(['rmi', got.ref]);
  } finally {
    await got.reg.stop();
  }
});

test('GET /images/search and berth search: a registry\'s v1 search, limit and filters; a registry without search fails clearly', async () => {
  // A registry index of our own: /v2/ for the ping, /v1/search with docker's result shape.
  const seen: string[] = [];
  const index = createServer((req, res) => {
    seen.push(req.url ?? '');
    if (req.url === '/v2/') return void res.writeHead(200).end('{}');
    const u = new URL(req.url ?? '/', 'http://x');
    if (u.pathname !== '/v1/search') return void res.writeHead(404).end('{"errors":[{"code":"NOT_FOUND","message":"no such page"}]}');
    const results = [
      { name: 'tools/alpha', description: 'the first of the tools, with a description well over forty-five characters', star_count: 12, is_official: true, is_automated: false },
      { name: 'tools/beta', description: 'second', star_count: 3, is_official: false, is_automated: false },
    ].filter((r) => r.name.includes(u.searchParams.get('q') ?? ''));
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ query: u.searchParams.get('q'), num_results: results.length, results }));
  });
  await new Promise<void>((r) => index.listen(0, '127.0.0.1', r));
  const host = `127.0.0.1:${(index.address() as AddressInfo).port}`;
  try {
    const r = await call(api.sock, 'GET', `/images/search?term=${encodeURIComponent(`${host}/tools`)}&limit=10&filters=${encodeURIComponent('{"stars":["5"]}')}`);
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(JSON.parse(r.text).map((x: { name: string }) => x.name), ['tools/alpha']);
    assert.ok(seen.some((u) => u.startsWith('/v1/search?q=tools&n=10')), seen.join(' '));
    // The CLI runs while this process serves the index: asynchronously.
    const berth = (args: string[]) => runAsync(BERTH, ['--root', env.root, ...args]);
    const listed = await berth(['search', `${host}/tools`]);
    assert.equal(listed.code, 0, listed.stderr);
    const table = listed.stdout.split('\n');
    assert.match(table[0]!, /^NAME\s+DESCRIPTION\s+STARS\s+OFFICIAL$/);
    assert.match(table[1]!, /^tools\/alpha\s+the first of the tools, with a description w…\s+12\s+\[OK\]$/);
    assert.match(table[2]!, /^tools\/beta\s+second\s+3\s*$/);
    assert.equal((await berth(['search', '--filter', 'is-official=true', '--format', '{{.Name}}', `${host}/tools`])).stdout, 'tools/alpha\n');
    const tooMany = await berth(['search', '--limit', '500', `${host}/tools`]);
    assert.equal(tooMany.code, 1);
    assert.match(tooMany.stderr, /limit 500 is outside the range of \[1, 100\]/);
    const bad = await call(api.sock, 'GET', `/images/search?term=${host}/x&filters=${encodeURIComponent('{"colour":["red"]}')}`);
    assert.equal(bad.status, 400, bad.text);
  } finally {
    await new Promise<void>((r) => index.close(() => r()));
  }
  // docker-registry serves no v1 search: the failure names the registry, one line.
  const reg = await startRegistry().catch((e: Error) => e);
  if (reg instanceof Error) return;
  try {
    const none = env.berth(['search', `${reg.host}/anything`]);
    assert.equal(none.code, 1);
    assert.match(none.stderr, new RegExp(`^Error: ${reg.host.replace(/\./g, '\\.')}: search: .+\\n$`));
  } finally {
    await reg.stop();
  }
});

test('PUT /volumes/{name} is for swarm volumes (503, as dockerd outside a swarm); POST /session is refused: the classic builder needs none', async () => {
  const v = await call(api.sock, 'PUT', '/v1.51/volumes/anything?version=1', {});
  assert.deepEqual([v.status, JSON.parse(v.text)], [503, { message: 'volume update only valid for cluster volumes, but swarm is unavailable' }]);
  const s = await call(api.sock, 'POST', '/session');
  assert.equal(s.status, 501);
  assert.match(JSON.parse(s.text).message, /BuildKit sessions are not supported/);
});

test('volume prune follows the request\'s API version: 1.42+ removes anonymous volumes unless all=true, 1.41 named ones too', async () => {
  const anonymous = () => {
    const c = ok(['create', '-v', '/data', 'busybox', 'true']).stdout.trim();
    const name = ok(['inspect', '-f', '{{range .Mounts}}{{.Name}}{{end}}', c]).stdout.trim();
    ok(['rm', c]);
    return name;
  };
  const pruned = async (path: string) => {
    const r = await call(api.sock, 'POST', path);
    assert.equal(r.status, 200, r.text);
    return (JSON.parse(r.text).VolumesDeleted as string[]).sort();
  };
  ok(['volume', 'create', 'vp-named']);
  let anon = anonymous();
  assert.deepEqual(await pruned('/v1.42/volumes/prune'), [anon]);
  assert.match(ok(['volume', 'ls', '-q']).stdout, /vp-named/);
  anon = anonymous();
  assert.deepEqual(await pruned('/v1.41/volumes/prune'), [anon, 'vp-named'].sort());
  ok(['volume', 'create', 'vp-named']);
  assert.deepEqual(await pruned(`/v1.51/volumes/prune?filters=${encodeURIComponent('{"all":["true"]}')}`), ['vp-named']);
});

/** A WebSocket client of our own over the API socket: the handshake, then masked frames out and frames in. */
async function webSocket(path: string): Promise<{ status: string; send(data: string): void; frames: { opcode: number; data: Buffer }[]; closed: Promise<void>; close(): void }> {
  const sock = connect(api.sock);
  await new Promise<void>((r) => sock.once('connect', () => r()));
  sock.write(`GET ${path} HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\nSec-WebSocket-Version: 13\r\n\r\n`);
  let buf = Buffer.alloc(0);
  let status = '';
  const frames: { opcode: number; data: Buffer }[] = [];
  let gotStatus!: () => void;
  const statusIn = new Promise<void>((r) => (gotStatus = r));
  sock.on('data', (chunk: Buffer) => {
    buf = Buffer.concat([buf, chunk]);
    if (!status) {
      const end = buf.indexOf('\r\n\r\n');
      if (end < 0) return;
      status = buf.subarray(0, buf.indexOf('\r\n')).toString();
      buf = buf.subarray(end + 4);
      gotStatus();
    }
    while (buf.length >= 2) {
      let len = buf[1]! & 0x7f;
      let at = 2;
      if (len === 126) [len, at] = [buf.readUInt16BE(2), 4];
      else if (len === 127) [len, at] = [Number(buf.readBigUInt64BE(2)), 10];
      if (buf.length < at + len) break;
      frames.push({ opcode: buf[0]! & 0x0f, data: buf.subarray(at, at + len) });
      buf = buf.subarray(at + len);
    }
  });
  const closed = new Promise<void>((r) => sock.on('close', () => r()));
  await statusIn;
  return {
    status,
    frames,
    closed,
    send(data: string) {
      const payload = Buffer.from(data);
      const mask = randomBytes(4);
      sock.write(Buffer.concat([Buffer.from([0x82, 0x80 | payload.length]), mask, payload.map((b, i) => b ^ mask[i & 3]!)]));
    },
    close: () => sock.destroy(),
  };
}

test('attach/ws: a WebSocket carries stdin in and both streams out, unframed; binary frames since 1.28, text before; logs replayed', async () => {
  const id = runD(['-i', 'busybox', 'sh', '-c', 'echo started; while read x; do echo "out-$x"; echo "err-$x" >&2; done']);
  try {
    const ws = await webSocket(`/v1.51/containers/${id}/attach/ws?stream=1&stdin=1&stdout=1&stderr=1&logs=1`);
    assert.equal(ws.status, 'HTTP/1.1 101 Switching Protocols');
    ws.send('one\n');
    const text = () => Buffer.concat(ws.frames.map((f) => f.data)).toString();
    assert.ok(await eventually(() => text().includes('out-one\n') && text().includes('err-one\n'), 10_000), JSON.stringify(text()));
    assert.ok(text().startsWith('started\n'), 'the log came first');
    assert.ok(ws.frames.every((f) => f.opcode === 2), 'binary frames');
    ws.close();
    // Before 1.42 the query's stream choice is ignored: all are attached. Before 1.28, text frames.
    const old = await webSocket(`/v1.27/containers/${id}/attach/ws?stream=1`);
    old.send('two\n');
    assert.ok(await eventually(() => Buffer.concat(old.frames.map((f) => f.data)).toString().includes('err-two\n'), 10_000));
    assert.ok(old.frames.every((f) => f.opcode === 1), 'text frames');
    old.close();
    const bad = await call(api.sock, 'GET', `/containers/${id}/attach/ws?stream=1`);
    assert.equal(bad.status, 400, bad.text);
    assert.match(JSON.parse(bad.text).message, /not a websocket handshake/);
  } finally {
    rmf(id);
  }
});

test('create: Domainname, HostConfig.Annotations and AttachStd* are kept; DeviceRequests and StorageOpt size are refused, nothing made', async () => {
  const made = await call(api.sock, 'POST', '/v1.51/containers/create', {
    Image: 'busybox', Cmd: ['true'], Domainname: 'example.org', AttachStdin: false, AttachStdout: true, AttachStderr: false,
    HostConfig: { Annotations: { 'org.example/a': 'b' } },
  });
  assert.equal(made.status, 201, made.text);
  const id = JSON.parse(made.text).Id as string;
  try {
    const i = JSON.parse((await call(api.sock, 'GET', `/containers/${id}/json`)).text);
    assert.deepEqual([i.Config.Domainname, i.Config.AttachStdin, i.Config.AttachStdout, i.Config.AttachStderr], ['example.org', false, true, false]);
    assert.deepEqual(i.HostConfig.Annotations, { 'org.example/a': 'b' });
  } finally {
    rmf(id);
  }
  const gpu = await call(api.sock, 'POST', '/containers/create', { Image: 'busybox', HostConfig: { DeviceRequests: [{ Driver: '', Count: -1, Capabilities: [['gpu']] }] } });
  assert.equal(gpu.status, 501, gpu.text);
  assert.match(JSON.parse(gpu.text).message, /could not select device driver "" with capabilities: \[\[gpu\]\]/);
  const size = await call(api.sock, 'POST', '/containers/create', { Image: 'busybox', HostConfig: { StorageOpt: { size: '1G' } } });
  assert.equal(size.status, 400, size.text);
  assert.equal(ok(['ps', '-aq']).stdout, '');
});

test('create: ConsoleSize sizes the terminal at start; MaskedPaths replaces the defaults; NetworkDisabled; Windows-only and unknown-driver fields refused', async () => {
  const create = (body: object) => call(api.sock, 'POST', '/v1.51/containers/create', { Image: 'busybox', ...body });
  // A masked path is a mount in the container; the defaults (/proc/kcore among them) are gone with the list given.
  const sized = await create({ Cmd: ['sh', '-c', 'stty size; grep -c " /proc/kcore " /proc/self/mountinfo; grep -c " /proc/version " /proc/self/mountinfo; ls /sys/class/net'], Tty: true, NetworkDisabled: true,
    HostConfig: { ConsoleSize: [33, 101], MaskedPaths: ['/proc/version'] } });
  assert.equal(sized.status, 201, sized.text);
  const id = JSON.parse(sized.text).Id as string;
  try {
    assert.deepEqual(JSON.parse((await call(api.sock, 'GET', `/containers/${id}/json`)).text).HostConfig.ConsoleSize, [33, 101]);
    assert.equal((await call(api.sock, 'POST', `/containers/${id}/start`)).status, 204);
    assert.equal(ok(['wait', id]).stdout.trim(), '0');
    assert.equal(ok(['logs', id]).stdout.replace(/\r/g, ''), '33 101\n0\n1\nlo\n');
  } finally {
    rmf(id);
  }
  const refused: [object, number, RegExp][] = [
    [{ HostConfig: { Isolation: 'hyperv' } }, 400, /Linux only supports 'default'/],
    [{ HostConfig: { CpuCount: 2 } }, 400, /Windows-only option CpuCount/],
    [{ HostConfig: { VolumeDriver: 'nfs' } }, 404, /error looking up volume plugin nfs/],
    [{ HostConfig: { Cgroup: 'container:x' } }, 501, /joining another container's cgroup/],
    [{ HostConfig: { MaskedPaths: ['relative'] } }, 400, /must be absolute/],
  ];
  for (const [body, status, msg] of refused) {
    const r = await create(body);
    assert.equal(r.status, status, `${JSON.stringify(body)}: ${r.text}`);
    assert.match(JSON.parse(r.text).message, msg);
  }
  const fine = await create({ HostConfig: { Isolation: 'default', CpuCount: 0, KernelMemoryTCP: 0, VolumeDriver: 'local' } });
  assert.equal(fine.status, 201, fine.text);
  rmf(JSON.parse(fine.text).Id);
  assert.equal(ok(['ps', '-aq']).stdout, '');
});
