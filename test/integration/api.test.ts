/**
 * `berth serve`: the Docker Engine API on a unix socket, driven by the real docker CLI (version, info, run
 * in every shape, ps, logs, exec, pause, restart, stop, rm, images, inspect, pull, tag, rmi) and by raw
 * HTTP for what the CLI does not show (version negotiation, headers, error bodies, frames, wait's early
 * headers, clients that hang up mid-stream).
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { FrameDecoder } from '../../src/engine/frame.ts';
import {
  assertDockerOk,
  call as callOn,
  docker as dockerOn,
  dockerAsync as dockerAsyncOn,
  open as openOn,
  readAll,
  registryWithBusybox,
  needsDockerCli,
  startApiServer,
  type ApiServer,
} from './api-server.ts';
import { BERTH, eventually, sleep, type Env } from './helpers.ts';

/** The tests that drive the real docker CLI need it (scripts/setup does not install it). */
const cli = needsDockerCli;

let env: Env;
let api: ApiServer;
let sock = '';

before(async () => {
  api = await startApiServer('api');
  env = api.env;
  sock = api.sock;
});

after(async () => {
  await api?.stop();
});

const docker = (args: string[], opts: { input?: string; timeoutMs?: number } = {}) => dockerOn(api, args, opts);
const dockerAsync = (args: string[]) => dockerAsyncOn(api, args);
const ok = (args: string[], opts: { input?: string } = {}) => assertDockerOk(api, args, docker(args, opts)).stdout;
const call = (method: string, path: string, body?: string | object, headers: Record<string, string> = {}) => callOn(sock, method, path, body, headers);
const open = (method: string, path: string) => openOn(sock, method, path);

function demux(b: Buffer): { stdout: string; stderr: string } {
  const out = { stdout: '', stderr: '' };
  for (const f of new FrameDecoder().push(b)) {
    if (f.stream === 1) out.stdout += f.data.toString();
    if (f.stream === 2) out.stderr += f.data.toString();
  }
  return out;
}

const createBody = (cmd: string[], extra: Record<string, unknown> = {}) => ({
  Image: 'busybox',
  Cmd: cmd,
  AttachStdout: true,
  AttachStderr: true,
  HostConfig: { NetworkMode: 'none' },
  ...extra,
});

// ---- raw HTTP ----

test('/_ping: docker headers on HEAD and GET, with and without a version prefix', async () => {
  const head = await call('HEAD', '/_ping');
  assert.equal(head.status, 200);
  assert.equal(head.headers['api-version'], '1.51');
  assert.equal(head.headers['ostype'], 'linux');
  assert.match(String(head.headers['server']), /^Berth\//);
  assert.equal(head.headers['swarm'], 'inactive');
  const get = await call('GET', '/_ping');
  assert.equal(get.status, 200);
  assert.equal(get.text, 'OK');
  const pre = await call('GET', '/v1.24/_ping');
  assert.equal(pre.status, 200);
  assert.equal(pre.headers['api-version'], '1.51');
});

test('version negotiation: 1.24–1.51 served, others 400 with a message', async () => {
  const v = await call('GET', '/v1.51/version');
  assert.equal(v.status, 200);
  const j = JSON.parse(v.text) as Record<string, unknown>;
  assert.equal(j.ApiVersion, '1.51');
  assert.equal(j.MinAPIVersion, '1.24');
  assert.equal(j.Os, 'linux');
  const high = await call('GET', '/v1.99/version');
  assert.equal(high.status, 400);
  assert.equal(high.headers['content-type'], 'application/json');
  assert.match((JSON.parse(high.text) as { message: string }).message, /1\.99 is too new/);
  assert.equal(high.headers['api-version'], '1.51');
  const low = await call('GET', '/v1.12/info');
  assert.equal(low.status, 400);
  assert.match(low.text, /too old/);
  const info = await call('GET', '/info');
  assert.equal(info.status, 200);
  const i = JSON.parse(info.text) as Record<string, unknown>;
  assert.equal(i.OSType, 'linux');
  assert.deepEqual(i.Labels, []);
  assert.equal((i.Swarm as Record<string, unknown>).LocalNodeState, 'inactive');
});

test('errors: unknown route 404, malformed JSON 400, missing image 404, missing container 404', async () => {
  const nf = await call('GET', '/v1.45/no/such/route');
  assert.equal(nf.status, 404);
  assert.equal(nf.headers['content-type'], 'application/json');
  assert.deepEqual(JSON.parse(nf.text), { message: 'page not found' });
  const bad = await call('POST', '/containers/create', '{"Image": ');
  assert.equal(bad.status, 400);
  assert.ok((JSON.parse(bad.text) as { message: string }).message.length > 0);
  const noImage = await call('POST', '/containers/create', { Image: 'no-such-image:1' });
  assert.equal(noImage.status, 404);
  assert.match(noImage.text, /No such image: no-such-image:1/);
  const noCtr = await call('GET', '/containers/nosuch/json');
  assert.equal(noCtr.status, 404);
  assert.deepEqual(JSON.parse(noCtr.text), { message: 'No such container: nosuch' });
  const stopNone = await call('POST', '/containers/nosuch/stop');
  assert.equal(stopNone.status, 404);
  const badFilter = await call('GET', `/containers/json?filters=${encodeURIComponent('{"bogus":["x"]}')}`);
  assert.equal(badFilter.status, 400);
  const badName = await call('GET', `/containers/json?filters=${encodeURIComponent('{"name":["("]}')}`);
  assert.equal(badName.status, 400);
  for (const odd of ['//', '//host/_ping', '/v1.51//', '/containers//json']) {
    assert.equal((await call('GET', odd)).status, 404, odd);
  }
  // The server is still there.
  assert.equal((await call('GET', '/_ping')).status, 200);
});

test('wait sends its headers at once and the exit code when the container ends; start 204 then 304', async () => {
  const created = await call('POST', '/v1.51/containers/create?name=api-wait', createBody(['sh', '-c', 'sleep 0.3; exit 4']));
  assert.equal(created.status, 201, created.text);
  const id = (JSON.parse(created.text) as { Id: string }).Id;
  assert.match(id, /^[0-9a-f]{64}$/);
  // The headers arrive before the container starts (the CLI waits for them before it starts it).
  const w = await open('POST', `/containers/${id}/wait?condition=next-exit`);
  assert.equal(w.res.statusCode, 200);
  const body = readAll(w.res);
  assert.equal((await call('POST', `/containers/${id}/start`)).status, 204);
  assert.equal((await call('POST', `/containers/${id}/start`)).status, 304);
  assert.deepEqual(JSON.parse((await body).toString()), { StatusCode: 4 });
  // Stopped already: stop is 304; not-running returns at once.
  assert.equal((await call('POST', `/containers/${id}/stop`)).status, 304);
  const again = await call('POST', `/containers/${id}/wait`);
  assert.equal(JSON.parse(again.text).StatusCode, 4);
  const list = JSON.parse((await call('GET', `/containers/json?all=1&filters=${encodeURIComponent('{"name":{"api-wait":true}}')}`)).text) as Record<string, unknown>[];
  assert.equal(list.length, 1);
  assert.deepEqual(list[0]!.Names, ['/api-wait']);
  assert.equal(list[0]!.State, 'exited');
  assert.deepEqual(list[0]!.Labels, {});
  assert.equal((await call('DELETE', `/containers/${id}?v=1`)).status, 204);
  assert.equal((await call('GET', `/containers/${id}/json`)).status, 404);
});

test('logs and attach without Upgrade: multiplexed frames keep stdout and stderr apart', async () => {
  const created = await call('POST', '/containers/create', createBody(['sh', '-c', 'echo out; echo err >&2; sleep 0.2']));
  const id = (JSON.parse(created.text) as { Id: string }).Id;
  // An attach without Upgrade is a 200 streamed response; it ends when the container does.
  const a = await open('POST', `/v1.51/containers/${id}/attach?stream=1&stdout=1&stderr=1`);
  assert.equal(a.res.statusCode, 200);
  // As the daemon: raw-stream in the header, frames in the body (the container has no tty).
  assert.equal(a.res.headers['content-type'], 'application/vnd.docker.raw-stream');
  const attached = readAll(a.res);
  assert.equal((await call('POST', `/containers/${id}/start`)).status, 204);
  assert.deepEqual(demux(await attached), { stdout: 'out\n', stderr: 'err\n' });
  await call('POST', `/containers/${id}/wait`);
  const logs = await call('GET', `/containers/${id}/logs?stdout=1&stderr=1`);
  assert.equal(logs.status, 200);
  assert.deepEqual(demux(logs.body), { stdout: 'out\n', stderr: 'err\n' });
  const onlyErr = await call('GET', `/containers/${id}/logs?stderr=1&timestamps=1`);
  assert.match(demux(onlyErr.body).stderr, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z err\n$/);
  const future = (Date.now() / 1000 + 3600).toFixed(9);
  assert.equal((await call('GET', `/containers/${id}/logs?stdout=1&stderr=1&since=${future}`)).body.length, 0);
  assert.deepEqual(demux((await call('GET', `/containers/${id}/logs?stdout=1&until=${future}`)).body), { stdout: 'out\n', stderr: '' });
  assert.equal((await call('GET', `/containers/${id}/logs?stdout=1&since=yesterday`)).status, 400);
  assert.equal((await call('GET', `/containers/${id}/logs`)).status, 400);
  assert.equal((await call('DELETE', `/containers/${id}`)).status, 204);
});

test('clients that hang up mid-stream (logs -f, wait, attach) do not hurt the server', async () => {
  const created = await call('POST', '/containers/create', createBody(['sh', '-c', 'while true; do echo tick; sleep 0.1; done']));
  const id = (JSON.parse(created.text) as { Id: string }).Id;
  const a = await open('POST', `/containers/${id}/attach?stream=1&stdout=1`);
  assert.equal((await call('POST', `/containers/${id}/start`)).status, 204);
  const logs = await open('GET', `/containers/${id}/logs?follow=1&stdout=1`);
  const w = await open('POST', `/containers/${id}/wait`);
  await new Promise((r) => logs.res.once('data', r));
  await new Promise((r) => a.res.once('data', r));
  logs.destroy();
  a.destroy();
  w.destroy();
  await sleep(300);
  assert.equal((await call('GET', '/_ping')).status, 200);
  const j = JSON.parse((await call('GET', `/containers/${id}/json`)).text) as { State: { Running: boolean } };
  assert.equal(j.State.Running, true);
  assert.equal((await call('POST', `/containers/${id}/kill`)).status, 204);
  await call('POST', `/containers/${id}/wait`);
  assert.equal((await call('POST', `/containers/${id}/kill`)).status, 409);
  assert.equal((await call('DELETE', `/containers/${id}?force=1`)).status, 204);
  assert.ok(api.alive(), 'the server is still running');
});

test('create maps Config and HostConfig (env, workdir, user, labels, entrypoint, binds, memory); resize reaches the tty', async () => {
  // Outside the engine root (0700), so that user 1000 can read it.
  const dir = mkdtempSync('/tmp/berth-test-api-bind-');
  chmodSync(dir, 0o755);
  writeFileSync(join(dir, 'f'), 'from the host\n', { mode: 0o644 });
  try {
    await createMapped(dir);
  } finally {
    await call('DELETE', '/containers/api-cfg?force=1');
    rmSync(dir, { recursive: true, force: true });
  }
});

async function createMapped(dir: string): Promise<void> {
  const created = await call(
    'POST',
    '/v1.50/containers/create?name=api-cfg',
    createBody(['-c', 'echo "$FOO $(pwd) $(id -u) $(cat /mnt/f)"; sleep 1; stty size'], {
      Entrypoint: ['sh'],
      Env: ['FOO=bar'],
      WorkingDir: '/tmp',
      User: '1000',
      Tty: true,
      Labels: { 'api.test': 'yes' },
      HostConfig: {
        NetworkMode: 'none',
        Binds: [`${dir}:/mnt:ro`],
        Memory: 64 * 1024 * 1024,
        AutoRemove: false,
        LogConfig: { Type: 'json-file', Config: {} },
        PortBindings: { '80/tcp': [{ HostIp: '', HostPort: '8080' }] },
      },
    }),
  );
  assert.equal(created.status, 201, created.text);
  const { Id: id, Warnings } = JSON.parse(created.text) as { Id: string; Warnings: string[] };
  // The engine's warnings come back to the client that caused them.
  assert.deepEqual(Warnings, ['Published ports are discarded when using the none network mode']);
  const j = JSON.parse((await call('GET', `/containers/${id}/json`)).text) as Record<string, any>;
  assert.equal(j.HostConfig.Memory, 64 * 1024 * 1024);
  assert.deepEqual(j.HostConfig.Binds, [`${dir}:/mnt:ro`]);
  assert.ok(j.Config.Env.includes('FOO=bar'));
  assert.equal(j.Config.WorkingDir, '/tmp');
  assert.equal(j.Config.User, '1000');
  assert.equal(j.Config.Tty, true);
  assert.equal(j.Config.Labels['api.test'], 'yes');
  assert.deepEqual(j.Config.Entrypoint, ['sh']);
  const labelled = JSON.parse((await call('GET', `/containers/json?all=1&filters=${encodeURIComponent('{"label":["api.test=yes"]}')}`)).text) as { Id: string }[];
  assert.deepEqual(labelled.map((c) => c.Id), [id]);
  assert.equal((await call('POST', `/containers/${id}/resize?h=40&w=100`)).status, 409);
  assert.equal((await call('POST', `/containers/${id}/start`)).status, 204);
  assert.equal((await call('POST', `/containers/${id}/resize?h=40&w=100`)).status, 200);
  assert.deepEqual(JSON.parse((await call('POST', `/containers/${id}/wait`)).text), { StatusCode: 0 });
  const logs = await call('GET', `/containers/${id}/logs?stdout=1&stderr=1`);
  assert.equal(logs.headers['content-type'], 'application/vnd.docker.raw-stream');
  assert.equal(logs.text.replace(/\r/g, ''), 'bar /tmp 1000 from the host\n40 100\n');
  const tail = await call('GET', `/containers/${id}/logs?stdout=1&tail=1`);
  assert.equal(tail.text.replace(/\r/g, ''), '40 100\n');
  assert.equal((await call('DELETE', `/containers/${id}`)).status, 204);
}

test('limits the host cannot take come back as create Warnings, and /info lists what the host lacks', async () => {
  // The oracle is the container's own cgroup dir: a weight file there (BFQ's, or CFQ's of old) or not.
  const created = await call('POST', '/containers/create?name=api-weight', createBody(['sleep', '30'], { HostConfig: { NetworkMode: 'none', BlkioWeight: 300, Memory: 32 * 1024 * 1024 } }));
  assert.equal(created.status, 201, created.text);
  const { Id: id, Warnings } = JSON.parse(created.text) as { Id: string; Warnings: string[] };
  try {
    assert.equal((await call('POST', `/containers/${id}/start`)).status, 204);
    const v2 = existsSync('/sys/fs/cgroup/cgroup.controllers');
    const dir = v2 ? `/sys/fs/cgroup/berth/${id}` : `/sys/fs/cgroup/blkio/berth/${id}`;
    assert.ok(existsSync(dir), dir);
    const weightFile = (v2 ? ['io.weight', 'io.bfq.weight'] : ['blkio.weight', 'blkio.bfq.weight']).find((f) => existsSync(join(dir, f)));
    const dropped = 'Your kernel does not support Block I/O weight or the cgroup is not mounted. Weight discarded.';
    assert.equal(Warnings.includes(dropped), weightFile === undefined, JSON.stringify(Warnings));
    const hc = (JSON.parse((await call('GET', `/containers/${id}/json`)).text) as { HostConfig: Record<string, unknown> }).HostConfig;
    assert.equal(hc.BlkioWeight, weightFile ? 300 : 0);
    assert.equal(hc.Memory, 32 * 1024 * 1024);
    const info = JSON.parse((await call('GET', '/info')).text) as { Warnings: string[]; MemoryLimit: boolean };
    assert.equal(info.MemoryLimit, true);
    const noWeight = v2 ? 'WARNING: No io.weight support' : 'WARNING: No blkio weight support';
    assert.equal(info.Warnings.includes(noWeight), weightFile === undefined, JSON.stringify(info.Warnings));
  } finally {
    assert.equal((await call('DELETE', `/containers/${id}?force=1`)).status, 204);
  }
});

test('concurrent state changes of one container take turns in the engine lock: 5 restarts, all 204, 5 restart events', async () => {
  const created = await call('POST', '/containers/create?name=api-turns', createBody(['sleep', '300']));
  const { Id: id } = JSON.parse(created.text) as { Id: string };
  try {
    assert.equal((await call('POST', `/containers/${id}/start`)).status, 204);
    const since = Math.floor(Date.now() / 1000) - 1;
    const all = await Promise.all(Array.from({ length: 5 }, () => call('POST', `/containers/${id}/restart?t=0`)));
    assert.deepEqual(all.map((r) => r.status), [204, 204, 204, 204, 204], all.map((r) => r.text).join('\n'));
    const j = JSON.parse((await call('GET', `/containers/${id}/json`)).text) as { State: { Status: string }; RestartCount: number };
    assert.equal(j.State.Status, 'running');
    assert.equal(j.RestartCount, 0, 'user restarts are not counted, as in docker');
    const filters = encodeURIComponent(JSON.stringify({ container: [id], event: ['restart'] }));
    const events = await call('GET', `/events?since=${since}&until=${Math.ceil(Date.now() / 1000) + 1}&filters=${filters}`);
    assert.equal(events.text.split('\n').filter(Boolean).length, 5, events.text);
  } finally {
    assert.equal((await call('DELETE', `/containers/${id}?force=1`)).status, 204);
  }
});

test('exec over HTTP: start without Upgrade streams frames; inspect gives the exit code; detached exec; 404s', async () => {
  const created = await call('POST', '/containers/create?name=api-exec', createBody(['sleep', '30']));
  const id = (JSON.parse(created.text) as { Id: string }).Id;
  try {
    assert.equal((await call('POST', `/containers/${id}/exec`, { Cmd: ['true'] })).status, 409); // not running
    assert.equal((await call('POST', `/containers/${id}/start`)).status, 204);
    assert.equal((await call('POST', `/containers/${id}/exec`, { Cmd: [] })).status, 400);
    const ex = await call('POST', `/containers/${id}/exec`, { AttachStdout: true, AttachStderr: true, Cmd: ['sh', '-c', 'echo o; echo e >&2; exit 5'] });
    assert.equal(ex.status, 201);
    const execId = (JSON.parse(ex.text) as { Id: string }).Id;
    const before = JSON.parse((await call('GET', `/exec/${execId}/json`)).text) as Record<string, unknown>;
    assert.equal(before.Running, false);
    assert.equal(before.ExitCode, null);
    assert.equal(before.ContainerID, id);
    const started = await call('POST', `/exec/${execId}/start`, { Detach: false, Tty: false });
    assert.equal(started.status, 200);
    assert.equal(started.headers['content-type'], 'application/vnd.docker.raw-stream');
    assert.deepEqual(demux(started.body), { stdout: 'o\n', stderr: 'e\n' });
    const after = JSON.parse((await call('GET', `/exec/${execId}/json`)).text) as Record<string, unknown>;
    assert.equal(after.Running, false);
    assert.equal(after.ExitCode, 5);
    assert.equal((await call('POST', `/exec/${execId}/start`, {})).status, 409);
    const det = JSON.parse((await call('POST', `/containers/${id}/exec`, { Cmd: ['sh', '-c', 'sleep 0.2; exit 3'] })).text) as { Id: string };
    assert.equal((await call('POST', `/exec/${det.Id}/start`, { Detach: true })).status, 200);
    let code: unknown = null;
    for (let i = 0; i < 100 && code === null; i++) {
      code = (JSON.parse((await call('GET', `/exec/${det.Id}/json`)).text) as { ExitCode: number | null }).ExitCode;
      if (code === null) await sleep(100);
    }
    assert.equal(code, 3);
    assert.equal((await call('GET', '/exec/nosuch/json')).status, 404);
    assert.equal((await call('POST', '/exec/nosuch/start', {})).status, 404);
  } finally {
    assert.equal((await call('DELETE', `/containers/${id}?force=1`)).status, 204);
  }
});

/** An upgraded (hijacked) request on a raw socket: resolves with the socket and the reply's head, once in. */
function hijack(path: string, body?: object): Promise<{ s: Socket; head: string; rest: Buffer }> {
  return new Promise((resolve, reject) => {
    const s = connect(sock);
    s.on('error', reject);
    const payload = body ? JSON.stringify(body) : '';
    s.write(
      `POST ${path} HTTP/1.1\r\nHost: api\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n` +
        (payload ? `Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(payload)}\r\n` : '') +
        `\r\n${payload}`,
    );
    let buf = Buffer.alloc(0);
    const onData = (b: Buffer) => {
      buf = Buffer.concat([buf, b]);
      const end = buf.indexOf('\r\n\r\n');
      if (end < 0) return;
      s.off('data', onData);
      s.pause();
      resolve({ s, head: buf.subarray(0, end).toString(), rest: buf.subarray(end + 4) });
    };
    s.on('data', onData);
  });
}

function readToEnd(s: Socket, first: Buffer): Promise<Buffer> {
  return new Promise((resolve) => {
    const chunks = [first];
    s.on('data', (b: Buffer) => chunks.push(b));
    s.on('end', () => resolve(Buffer.concat(chunks)));
    s.resume();
  });
}

test('hijacked attach and exec on raw sockets: 101 UPGRADED, stdin after the body, half-close, hang-ups', async () => {
  const created = await call('POST', '/containers/create?name=api-hj', createBody(['sh', '-c', 'while true; do echo tick; sleep 0.1; done']));
  const id = (JSON.parse(created.text) as { Id: string }).Id;
  try {
    const a = await hijack(`/v1.51/containers/${id}/attach?stream=1&stdout=1&stderr=1`);
    assert.match(a.head, /^HTTP\/1\.1 101 UPGRADED\r\n/);
    assert.match(a.head, /\r\nContent-Type: application\/vnd\.docker\.multiplexed-stream\r\n/);
    assert.match(a.head, /\r\nUpgrade: tcp\r\n/);
    assert.equal((await call('POST', `/containers/${id}/start`)).status, 204);
    a.s.resume();
    await new Promise((r) => a.s.once('data', r));
    a.s.destroy(); // a client gone mid-stream
    // exec with stdin: the JSON body, then the input, then the client's half-close.
    const ex = JSON.parse((await call('POST', `/containers/${id}/exec`, { AttachStdin: true, AttachStdout: true, AttachStderr: true, Cmd: ['sh', '-c', 'cat; echo eof >&2'] })).text) as { Id: string };
    const e = await hijack(`/v1.51/exec/${ex.Id}/start`, { Detach: false, Tty: false });
    assert.match(e.head, /^HTTP\/1\.1 101 UPGRADED\r\n/);
    e.s.write('abc\n');
    e.s.end();
    assert.deepEqual(demux(await readToEnd(e.s, e.rest)), { stdout: 'abc\n', stderr: 'eof\n' });
    e.s.destroy();
    assert.equal(JSON.parse((await call('GET', `/exec/${ex.Id}/json`)).text).ExitCode, 0);
    // An exec whose client hangs up while it runs.
    const ex2 = JSON.parse((await call('POST', `/containers/${id}/exec`, { AttachStdout: true, Cmd: ['sh', '-c', 'while true; do echo x; sleep 0.1; done'] })).text) as { Id: string };
    const e2 = await hijack(`/exec/${ex2.Id}/start`, { Detach: false });
    e2.s.resume();
    await new Promise((r) => e2.s.once('data', r));
    e2.s.destroy();
    await sleep(200);
    assert.equal((await call('GET', '/_ping')).status, 200);
    assert.equal(JSON.parse((await call('GET', `/containers/${id}/json`)).text).State.Running, true);
  } finally {
    assert.equal((await call('DELETE', `/containers/${id}?force=1`)).status, 204);
  }
});

test('image tag and delete over HTTP', async () => {
  assert.equal((await call('POST', '/images/busybox/tag?repo=api-tagged&tag=1')).status, 201);
  const img = JSON.parse((await call('GET', '/images/api-tagged:1/json')).text) as { RepoTags: string[]; Id: string };
  assert.ok(img.RepoTags.includes('api-tagged:1'));
  assert.match(img.Id, /^sha256:[0-9a-f]{64}$/);
  const del = await call('DELETE', '/images/api-tagged:1');
  assert.equal(del.status, 200);
  assert.deepEqual(JSON.parse(del.text), [{ Untagged: 'api-tagged:1' }]);
  assert.equal((await call('GET', '/images/api-tagged:1/json')).status, 404);
});

// ---- the docker CLI ----

test('docker version and docker info', cli, () => {
  const v = ok(['version']);
  assert.match(v, /^Server: Berth/m);
  assert.match(v, /API version:\s+1\.51 \(minimum version 1\.24\)/);
  const i = ok(['info']);
  assert.match(i, /Server Version: 0\.1\.0/);
  assert.match(i, /Operating System: /);
});

test('docker run --rm: output, exit codes, stderr apart, stdin, a tty; the container is gone after', cli, () => {
  const r = docker(['run', '--rm', '--network', 'none', 'busybox', 'echo', 'hi']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, 'hi\n');
  const e = docker(['run', '--rm', '--network', 'none', 'busybox', 'sh', '-c', 'echo out; echo err >&2; exit 3']);
  assert.equal(e.code, 3);
  assert.equal(e.stdout, 'out\n');
  assert.equal(e.stderr, 'err\n');
  const i = docker(['run', '-i', '--rm', '--network', 'none', 'busybox', 'sh', '-c', 'cat; echo done'], { input: 'hello\n' });
  assert.equal(i.code, 0, i.stderr);
  assert.equal(i.stdout, 'hello\ndone\n');
  const t = docker(['run', '--rm', '-t', '--network', 'none', 'busybox', 'tty']);
  assert.equal(t.code, 0, t.stderr);
  assert.match(t.stdout, /^\/dev\/pts\/\d+\r\n$/);
  const nf = docker(['run', '--rm', '--network', 'none', 'busybox', 'no-such-command']);
  assert.equal(nf.code, 127, nf.stderr);
  assert.equal(ok(['ps', '-aq']), '');
});

test('docker run -d, ps, logs, exec, inspect, pause, restart, stop, rm', cli, () => {
  const id = ok(['run', '-d', '--name', 'api-x', '--network', 'none', 'busybox', 'sh', '-c', 'echo started; sleep 30']).trim();
  assert.match(id, /^[0-9a-f]{64}$/);
  const ps = ok(['ps']);
  assert.match(ps, /CONTAINER ID\s+IMAGE\s+COMMAND/);
  assert.match(ps, new RegExp(`^${id.slice(0, 12)}\\s+busybox\\s+"sh -c echo started;…"\\s+.*Up .*api-x$`, 'm'));
  assert.equal(ok(['ps', '-q', '--no-trunc', '--filter', 'name=api-x']), `${id}\n`);
  assert.equal(ok(['logs', 'api-x']), 'started\n');
  assert.equal(ok(['exec', 'api-x', 'echo', 'in']), 'in\n');
  assert.equal(ok(['exec', '-i', 'api-x', 'cat'], { input: 'piped\n' }), 'piped\n');
  assert.equal(docker(['exec', 'api-x', 'sh', '-c', 'exit 7']).code, 7);
  assert.equal(docker(['exec', 'api-x', 'no-such-command']).code, 127);
  const j = JSON.parse(ok(['inspect', 'api-x'])) as Record<string, any>[];
  assert.equal(j.length, 1);
  assert.equal(j[0]!.Id, id);
  assert.equal(j[0]!.Name, '/api-x');
  assert.equal(j[0]!.State.Running, true);
  assert.equal(j[0]!.Config.Image, 'busybox');
  assert.equal(j[0]!.HostConfig.NetworkMode, 'none');
  assert.equal(ok(['inspect', '-f', '{{.State.Status}}', 'api-x']), 'running\n');
  ok(['pause', 'api-x']);
  assert.match(ok(['ps', '--format', '{{.Status}}', '--filter', 'name=api-x']), /\(Paused\)/);
  ok(['unpause', 'api-x']);
  assert.equal(ok(['restart', '-t', '1', 'api-x']), 'api-x\n');
  assert.equal(ok(['inspect', '-f', '{{.State.Status}}', 'api-x']), 'running\n');
  assert.equal(ok(['logs', 'api-x']), 'started\nstarted\n');
  assert.equal(ok(['stop', '-t', '1', 'api-x']), 'api-x\n');
  assert.equal(ok(['stop', 'api-x']), 'api-x\n'); // already stopped: 304, still success
  assert.equal(ok(['inspect', '-f', '{{.State.Status}} {{.State.ExitCode}}', 'api-x']), 'exited 137\n');
  assert.equal(ok(['ps', '-aq', '--no-trunc']), `${id}\n`);
  assert.equal(ok(['rm', 'api-x']), 'api-x\n');
  assert.equal(ok(['ps', '-aq']), '');
  const rm = docker(['rm', 'nosuch']);
  assert.equal(rm.code, 1);
  assert.match(rm.stderr, /No such container: nosuch/);
  const rmRunning = ok(['run', '-d', '--network', 'none', 'busybox', 'sleep', '30']).trim();
  const refused = docker(['rm', rmRunning]);
  assert.equal(refused.code, 1);
  assert.match(refused.stderr, /stop the container before removing or force remove/);
  ok(['rm', '-f', rmRunning]);
});

test('docker run -d --rm, start -a, attach, wait, kill -s, exec -t', cli, async () => {
  ok(['run', '-d', '--rm', '--network', 'none', 'busybox', 'true']);
  assert.equal(await eventually(() => ok(['ps', '-aq']) === '', 10_000), true);
  ok(['create', '--name', 'api-sa', '--network', 'none', 'busybox', 'sh', '-c', 'echo via start; exit 2']);
  const sa = docker(['start', '-a', 'api-sa']);
  assert.equal(sa.code, 2, sa.stderr);
  assert.equal(sa.stdout, 'via start\n');
  assert.equal(ok(['wait', 'api-sa']), '2\n');
  assert.equal(ok(['logs', '-f', 'api-sa']), 'via start\n');
  ok(['start', 'api-sa']);
  // Follows the run in progress and ends with it.
  assert.equal(ok(['logs', '-f', '--tail', '1', 'api-sa']), 'via start\n');
  ok(['rm', 'api-sa']);
  ok(['run', '-d', '--name', 'api-at', '--network', 'none', 'busybox', 'sh', '-c', 'trap "echo usr1" USR1; sleep 1; echo late; while true; do sleep 0.1; done']);
  const at = dockerAsync(['attach', '--no-stdin', 'api-at']);
  assert.match(ok(['exec', '-t', 'api-at', 'tty']), /^\/dev\/pts\/\d+\r?\n$/);
  await sleep(1500);
  ok(['kill', '-s', 'USR1', 'api-at']);
  await sleep(500);
  ok(['kill', 'api-at']);
  const r = await at;
  assert.match(r.stdout, /late\n/);
  assert.match(r.stdout, /usr1\n/);
  assert.equal(ok(['wait', 'api-at']), '137\n');
  ok(['rm', 'api-at']);
});

test('docker images, image inspect, tag, rmi', cli, () => {
  assert.match(ok(['images']), /^busybox\s+latest\s+[0-9a-f]{12}\s/m);
  const img = JSON.parse(ok(['image', 'inspect', 'busybox'])) as { RepoTags: string[] }[];
  assert.deepEqual(img[0]!.RepoTags, ['busybox:latest']);
  ok(['tag', 'busybox', 'api-cli:2']);
  assert.match(ok(['images', 'api-cli']), /^api-cli\s+2\s/m);
  assert.match(ok(['rmi', 'api-cli:2']), /Untagged: api-cli:2/);
  const missing = docker(['image', 'inspect', 'api-cli:2']);
  assert.equal(missing.code, 1);
});

test('docker pull from a registry streams progress; the image runs', cli, async (t) => {
  const got = await registryWithBusybox(t, env, 'api/bb:1');
  if (!got) return;
  const { reg, ref } = got;
  try {
    // run: create answers 404, the CLI pulls through /images/create and creates again.
    const run = await dockerAsync(['run', '--rm', '--network', 'none', ref, 'echo', 'pulled']);
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.stdout, 'pulled\n');
    assert.match(run.stderr, /Unable to find image/);
    assert.match(run.stderr, /Status: Downloaded newer image for /);
    assert.match(ok(['images']), new RegExp(`^${reg.host.replace(/[.]/g, '\\.')}/api/bb\\s+1\\s`, 'm'));
    const pull = await dockerAsync(['pull', ref]);
    assert.equal(pull.code, 0, pull.stderr);
    assert.match(pull.stdout, /Status: Image is up to date for /);
    assert.match(pull.stdout, new RegExp(`${ref.replace(/[.]/g, '\\.')}\\s*$`));
    ok(['rmi', ref]);
    const again = await dockerAsync(['pull', ref]);
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, /Status: Downloaded newer image for /);
    ok(['rmi', ref]);
    const bad = await dockerAsync(['pull', `${reg.host}/api/nosuch:1`]);
    assert.notEqual(bad.code, 0);
  } finally {
    await reg.stop();
  }
});

test('berth system service URI: serves; a live socket is not taken over; SIGTERM removes the socket', async () => {
  const svc = join(env.root, 'svc.sock');
  const c = spawn(BERTH, ['--root', env.root, 'system', 'service', `unix://${svc}`], { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  c.stderr!.on('data', (b: Buffer) => (log += b.toString()));
  try {
    assert.ok(await eventually(() => /API listening/.test(log), 20_000), log);
    const v = JSON.parse((await callOn(svc, 'GET', '/version')).text) as { ApiVersion: string };
    assert.equal(v.ApiVersion, '1.51');
    // A second server on the same live socket refuses, and leaves the first one serving.
    const second = spawnSync(BERTH, ['--root', env.root, 'serve', '-H', `unix://${svc}`], { encoding: 'utf8', timeout: 20_000 });
    assert.equal(second.status, 1);
    assert.match(second.stderr, /another server is listening/);
    assert.equal((await callOn(svc, 'GET', '/_ping')).status, 200);
  } finally {
    const exited = new Promise((r) => c.once('exit', r));
    c.kill('SIGTERM');
    await exited;
  }
  assert.equal(c.exitCode, 0, log);
  assert.equal(existsSync(svc), false);
  // Plain TCP off loopback is refused (api-tls.test.ts covers TCP and TLS).
  const tcp = spawnSync(BERTH, ['--root', env.root, 'serve', '-H', 'tcp://0.0.0.0:2375'], { encoding: 'utf8', timeout: 20_000 });
  assert.equal(tcp.status, 125);
  assert.match(tcp.stderr, /--tlsverify/);
});

test('the socket is 0660 and the server left no container behind', async () => {
  assert.ok(existsSync(sock));
  assert.equal(statSync(sock).mode & 0o777, 0o660);
  assert.deepEqual(JSON.parse((await call('GET', '/containers/json?all=1')).text), []);
  // No request failed inside the server (a 500 is logged with its stack).
  assert.doesNotMatch(api.log(), /berth serve: |internal error|TypeError|ReferenceError/, api.log());
});
