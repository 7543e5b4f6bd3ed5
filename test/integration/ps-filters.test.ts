/**
 * `ps --filter` and `GET /containers/json?filters=` with real containers, for the keys dockerd has beyond
 * id/name/status/label/ancestor/health: before and since, network, volume, publish and expose, is-task and
 * isolation; `exited=N` without -a; bad values as dockerd refuses them (CLI exit 1, one line; API status).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { call, startApiServer, type ApiServer } from './api-server.ts';
import { cli, show, type Env } from './helpers.ts';

let api: ApiServer;
let env: Env;
const { ok, out, runD, removeQuietly } = cli(() => env);

before(async () => {
  api = await startApiServer('ps-filters');
  env = api.env;
});

after(async () => {
  await api?.stop();
});

/** Names `ps` lists for these arguments, newest first. */
const ps = (...args: string[]) => out(['ps', '--format', '{{.Names}}', ...args]).split('\n').filter(Boolean);

/** Names the API lists for these filters (all when `all`). */
async function apiNames(filters: Record<string, string[]>, all = true): Promise<string[]> {
  const r = await call(api.sock, 'GET', `/containers/json?all=${all ? 1 : 0}&filters=${encodeURIComponent(JSON.stringify(filters))}`);
  assert.equal(r.status, 200, r.text);
  return (JSON.parse(r.text) as { Names: string[] }[]).map((c) => c.Names[0]!.slice(1));
}

/** A refused `ps`: exit 1 and this one line. */
function psRefused(filter: string, line: string): void {
  const r = env.berth(['ps', '--filter', filter]);
  assert.equal(r.code, 1, show(r));
  assert.equal(r.stderr, `Error: ${line}\n`);
  assert.equal(r.stdout, '');
}

test('before and since: by name, short id and full id, stopped markers counted, over the CLI and the API', async () => {
  const a = runD(['--name', 'pf-a', 'busybox', 'sleep', '300']);
  const b = ok(['create', '--name', 'pf-b', 'busybox', 'true']).stdout.trim();
  runD(['--name', 'pf-c', 'busybox', 'sleep', '300']);
  runD(['--name', 'pf-d', 'busybox', 'sleep', '300']);
  try {
    assert.deepEqual(ps('--filter', 'before=pf-c'), ['pf-a'], 'the created one only with -a');
    assert.deepEqual(ps('-a', '--filter', 'before=pf-c'), ['pf-b', 'pf-a']);
    assert.deepEqual(ps('--filter', `since=${b.slice(0, 12)}`), ['pf-d', 'pf-c'], 'a stopped marker, by short id');
    assert.deepEqual(ps('-a', '--filter', `since=${a}`, '--filter', 'before=pf-d'), ['pf-c', 'pf-b']);
    assert.deepEqual(await apiNames({ since: ['pf-b'] }), ['pf-d', 'pf-c']);
    assert.deepEqual(await apiNames({ before: ['pf-b'] }, false), ['pf-a']);
    psRefused('before=pf-nosuch', 'No such container: pf-nosuch');
    const r = await call(api.sock, 'GET', `/containers/json?filters=${encodeURIComponent('{"since":{"pf-nosuch":true}}')}`);
    assert.equal(r.status, 404, 'not found, as dockerd answers');
    assert.deepEqual(JSON.parse(r.text), { message: 'No such container: pf-nosuch' });
  } finally {
    removeQuietly('pf-a', 'pf-b', 'pf-c', 'pf-d');
  }
});

test('network: a user network by name and by id prefix, the default bridge, host; stopped containers with -a', async () => {
  ok(['network', 'create', 'pf-net']);
  try {
    const netId = out(['network', 'inspect', '-f', '{{.Id}}', 'pf-net']).trim();
    runD(['--name', 'pf-on', '--network', 'pf-net', 'busybox', 'sleep', '300']);
    ok(['create', '--name', 'pf-off', '--network', 'pf-net', 'busybox', 'true']);
    runD(['--name', 'pf-br', 'busybox', 'sleep', '300']);
    runD(['--name', 'pf-host', '--network', 'host', 'busybox', 'sleep', '300']);
    assert.deepEqual(ps('--filter', 'network=pf-net'), ['pf-on']);
    assert.deepEqual(ps('-a', '--filter', 'network=pf-net'), ['pf-off', 'pf-on']);
    assert.deepEqual(ps('--filter', `network=${netId.slice(0, 10)}`), ['pf-on']);
    assert.deepEqual(ps('--filter', 'network=bridge'), ['pf-br']);
    assert.deepEqual(ps('--filter', 'network=host'), ['pf-host']);
    assert.deepEqual(await apiNames({ network: ['pf-net', 'host'] }), ['pf-host', 'pf-off', 'pf-on']);
    assert.deepEqual(ps('--filter', 'network=pf-nosuch'), []);
  } finally {
    removeQuietly('pf-on', 'pf-off', 'pf-br', 'pf-host');
    ok(['network', 'rm', 'pf-net']);
  }
});

test('volume: a named volume by name and by destination, a bind by host path', () => {
  ok(['volume', 'create', 'pf-vol']);
  try {
    runD(['--name', 'pf-v', '-v', 'pf-vol:/data', 'busybox', 'sleep', '300']);
    runD(['--name', 'pf-bind', '-v', `${env.root}:/host:ro`, 'busybox', 'sleep', '300']);
    runD(['--name', 'pf-none', 'busybox', 'sleep', '300']);
    assert.deepEqual(ps('--filter', 'volume=pf-vol'), ['pf-v']);
    assert.deepEqual(ps('--filter', 'volume=/data'), ['pf-v']);
    assert.deepEqual(ps('--filter', `volume=${env.root}`), ['pf-bind']);
    assert.deepEqual(ps('--filter', 'volume=/host', '--filter', 'volume=pf-vol'), ['pf-bind', 'pf-v']);
    assert.deepEqual(ps('--filter', 'volume=/nowhere'), []);
  } finally {
    removeQuietly('pf-v', 'pf-bind', 'pf-none');
    ok(['volume', 'rm', 'pf-vol']);
  }
});

test('publish and expose: the bound host port, exposed container ports, ranges and protocols; malformed ports refused', async () => {
  const web = runD(['--name', 'pf-web', '-p', '127.0.0.1::80', 'busybox', 'sleep', '300']);
  runD(['--name', 'pf-exp', '--expose', '9000/udp', 'busybox', 'sleep', '300']);
  ok(['create', '--name', 'pf-idle', '--expose', '9000/udp', 'busybox', 'true']);
  try {
    const hostPort = /:(\d+)$/.exec(out(['port', web, '80/tcp']).trim())?.[1];
    assert.ok(hostPort, 'a host port was bound');
    assert.deepEqual(ps('--filter', `publish=${hostPort}`), ['pf-web']);
    assert.deepEqual(ps('--filter', `publish=${hostPort}/udp`), []);
    assert.deepEqual(ps('--filter', 'publish=80'), [], 'publish is the host side');
    assert.deepEqual(ps('--filter', 'expose=80'), ['pf-web']);
    assert.deepEqual(ps('--filter', 'expose=8000-9999/udp'), ['pf-exp']);
    assert.deepEqual(ps('-a', '--filter', 'expose=9000/udp'), ['pf-exp'], 'a container that is not running exposes nothing');
    assert.deepEqual(await apiNames({ publish: [`${hostPort}`], expose: ['9000/udp'] }), ['pf-exp', 'pf-web']);
    psRefused('publish=8080:80', "filter for 'publish' should not contain ':': 8080:80");
    psRefused('expose=90-80', 'error while looking up for expose 90-80: invalid port range: 90-80');
    const r = await call(api.sock, 'GET', `/containers/json?filters=${encodeURIComponent('{"expose":["http"]}')}`);
    assert.equal(r.status, 400);
    assert.deepEqual(JSON.parse(r.text), { message: "error while looking up for expose http: invalid start port 'http': invalid syntax" });
  } finally {
    removeQuietly('pf-web', 'pf-exp', 'pf-idle');
  }
});

test('is-task and isolation: no container is a swarm task; isolation is a Windows filter that lets all through', async () => {
  runD(['--name', 'pf-t', 'busybox', 'sleep', '300']);
  ok(['create', '--name', 'pf-t2', 'busybox', 'true']);
  try {
    assert.deepEqual(ps('--filter', 'is-task=true'), []);
    assert.deepEqual(ps('-a', '--filter', 'is-task=false'), ['pf-t2', 'pf-t']);
    assert.deepEqual(ps('--filter', 'is-task=0'), ['pf-t']);
    assert.deepEqual(ps('--filter', 'isolation=default'), ['pf-t']);
    assert.deepEqual(await apiNames({ isolation: ['hyperv'] }), ['pf-t2', 'pf-t']);
    psRefused('is-task=maybe', "invalid filter 'is-task=[maybe]'");
    const r = await call(api.sock, 'GET', `/containers/json?filters=${encodeURIComponent('{"is-task":["true","false"]}')}`);
    assert.equal(r.status, 400, r.text);
  } finally {
    removeQuietly('pf-t', 'pf-t2');
  }
});

test('exited=N lists only running containers without -a, so none; with -a the containers that exited with N', async () => {
  const r = env.berth(['run', '--name', 'pf-three', 'busybox', 'sh', '-c', 'exit 3']);
  assert.equal(r.code, 3, show(r));
  ok(['create', '--name', 'pf-new', 'busybox', 'true']);
  runD(['--name', 'pf-up', 'busybox', 'sleep', '300']);
  try {
    assert.deepEqual(ps('--filter', 'exited=3'), []);
    assert.deepEqual(await apiNames({ exited: ['3'] }, false), []);
    assert.deepEqual(ps('-a', '--filter', 'exited=3'), ['pf-three']);
    assert.deepEqual(ps('-a', '--filter', 'exited=0'), [], 'a created container has no exit code');
    assert.deepEqual(ps('--filter', 'status=exited'), ['pf-three'], 'status lists stopped ones by itself');
    psRefused('exited=three', `invalid filter 'exited=three': strconv.Atoi: parsing "three": invalid syntax`);
  } finally {
    removeQuietly('pf-three', 'pf-new', 'pf-up');
  }
});
