/**
 * Docker API and CLI conformance (#17): operations answered as dockerd 20.10 answers them on a single node
 * outside a swarm, through the raw API, the docker CLI and docker-py. Swarm objects are a 503 saying the
 * node is not a manager (SDKs' clean-up code relies on it); plugins are an empty list.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { after, before, test } from 'node:test';
import { call, docker as dockerCli, needsDockerCli, startApiServer, type ApiServer } from './api-server.ts';
import { cli, type Env } from './helpers.ts';

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
