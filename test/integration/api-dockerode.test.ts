/**
 * `berth serve` driven by dockerode (docker-modem underneath), as Node programs use the Docker API:
 * create, attach (hijacked, stdin in, demultiplexed out), start, wait, logs, exec, stats, volumes and
 * networks, and a pull from a local registry with progress events (modem.followProgress).
 */
import assert from 'node:assert/strict';
import { PassThrough, type Readable } from 'node:stream';
import { after, before, test } from 'node:test';
import Docker from 'dockerode';
import { registryWithBusybox, startApiServer, type ApiServer } from './api-server.ts';
import { eventually, type Env } from './helpers.ts';

let env: Env;
let api: ApiServer;
let sock = '';
let docker: Docker;

before(async () => {
  api = await startApiServer('api-dockerode');
  env = api.env;
  sock = api.sock;
  docker = new Docker({ socketPath: sock });
});

after(async () => {
  await api?.stop();
});

/** Collect a stream's text until it ends. */
function text(s: Readable): Promise<string> {
  return new Promise((resolve, reject) => {
    let t = '';
    s.on('data', (b: Buffer) => (t += b.toString()));
    s.on('end', () => resolve(t));
    s.on('error', reject);
  });
}

/** Demultiplex a docker stream into stdout and stderr text, resolved when it ends. */
function demuxed(stream: NodeJS.ReadableStream): Promise<{ stdout: string; stderr: string }> {
  const out = new PassThrough();
  const err = new PassThrough();
  docker.modem.demuxStream(stream, out, err);
  const o = text(out);
  const e = text(err);
  return new Promise((resolve, reject) => {
    stream.on('end', () => {
      out.end();
      err.end();
      Promise.all([o, e]).then(([stdout, stderr]) => resolve({ stdout, stderr }), reject);
    });
    stream.on('error', reject);
  });
}

test('ping, version, info', async () => {
  assert.equal(String(await docker.ping()), 'OK');
  const v = await docker.version();
  assert.equal(v.ApiVersion, '1.51');
  const i = await docker.info();
  assert.equal(i.OSType, 'linux');
});

test('create, attach (hijacked: stdin in, stdout and stderr apart), start, wait, logs, remove', async () => {
  const c = await docker.createContainer({
    Image: 'busybox',
    Cmd: ['sh', '-c', 'read line; echo "got $line"; echo oops >&2; exit 3'],
    AttachStdin: true,
    AttachStdout: true,
    AttachStderr: true,
    OpenStdin: true,
    StdinOnce: true,
    HostConfig: { NetworkMode: 'none' },
  });
  try {
    const stream = (await c.attach({ stream: true, stdin: true, stdout: true, stderr: true, hijack: true })) as unknown as NodeJS.ReadWriteStream;
    const output = demuxed(stream);
    // next-exit: a created container already counts as not running.
    const waited = c.wait({ condition: 'next-exit' });
    await c.start();
    stream.write('hello\n');
    assert.deepEqual(await output, { stdout: 'got hello\n', stderr: 'oops\n' });
    assert.equal((await waited).StatusCode, 3);
    assert.equal((await c.wait()).StatusCode, 3);
    const info = await c.inspect();
    assert.equal(info.State.Status, 'exited');
    assert.equal(info.State.ExitCode, 3);
    const logs = (await c.logs({ stdout: true, stderr: true, follow: false })) as unknown as Buffer;
    const fromLogs = await demuxed(bufferStream(logs));
    assert.deepEqual(fromLogs, { stdout: 'got hello\n', stderr: 'oops\n' });
    const followed = (await c.logs({ stdout: true, stderr: false, follow: true })) as unknown as NodeJS.ReadableStream;
    assert.equal((await demuxed(followed)).stdout, 'got hello\n');
  } finally {
    await c.remove({ force: true });
  }
  await assert.rejects(c.inspect(), (e: { statusCode?: number }) => e.statusCode === 404);
});

function bufferStream(b: Buffer): NodeJS.ReadableStream {
  const p = new PassThrough();
  p.end(b);
  return p;
}

test('exec (hijacked and not), exec inspect; stats one-shot and streamed; top', async () => {
  const c = await docker.createContainer({ Image: 'busybox', Cmd: ['sleep', '60'], HostConfig: { NetworkMode: 'none' } });
  try {
    await c.start();
    const ex = await c.exec({ Cmd: ['sh', '-c', 'echo o; echo e >&2; exit 4'], AttachStdout: true, AttachStderr: true });
    const s = await ex.start({ hijack: true, stdin: false });
    assert.deepEqual(await demuxed(s), { stdout: 'o\n', stderr: 'e\n' });
    const xi = await ex.inspect();
    assert.equal(xi.ExitCode, 4);
    assert.equal(xi.Running, false);
    // With stdin, hijacked: the input reaches the process, its EOF closes the process's stdin.
    const cat = await c.exec({ Cmd: ['cat'], AttachStdin: true, AttachStdout: true, AttachStderr: true });
    const cs = (await cat.start({ hijack: true, stdin: true })) as unknown as NodeJS.ReadWriteStream;
    const catOut = demuxed(cs);
    cs.end('piped through\n');
    assert.equal((await catOut).stdout, 'piped through\n');
    // Without hijack: a plain 200 stream.
    const plain = await c.exec({ Cmd: ['echo', 'plain'], AttachStdout: true, AttachStderr: true });
    const ps = await plain.start({});
    assert.equal((await demuxed(ps)).stdout, 'plain\n');

    const st = (await c.stats({ stream: false })) as any;
    assert.ok(st.cpu_stats.cpu_usage.total_usage > 0);
    assert.ok(st.memory_stats.usage > 0);
    assert.ok(st.pids_stats.current >= 1);
    const live = (await c.stats({ stream: true })) as unknown as Readable;
    const frames: any[] = [];
    let buf = '';
    live.on('data', (b: Buffer) => {
      buf += b.toString();
      let i;
      while ((i = buf.indexOf('\n')) >= 0) {
        frames.push(JSON.parse(buf.slice(0, i)));
        buf = buf.slice(i + 1);
      }
    });
    assert.ok(await eventually(() => frames.length >= 2, 5_000));
    live.destroy();
    assert.equal(frames[1].id, c.id);
    const top = await c.top();
    assert.ok(top.Processes.some((p: string[]) => p.at(-1) === 'sleep 60'), JSON.stringify(top));
  } finally {
    await c.remove({ force: true });
  }
});

test('volumes and networks', async () => {
  const v = await docker.createVolume({ Name: 'api-dv', Labels: { who: 'dockerode' } });
  assert.equal(v.name, 'api-dv');
  const vols = await docker.listVolumes({ filters: { label: ['who=dockerode'] } });
  assert.deepEqual(vols.Volumes.map((x) => x.Name), ['api-dv']);
  assert.equal((await docker.getVolume('api-dv').inspect()).Driver, 'local');
  await docker.getVolume('api-dv').remove();
  await assert.rejects(docker.getVolume('api-dv').inspect(), (e: { statusCode?: number }) => e.statusCode === 404);
  const n = await docker.createNetwork({ Name: 'api-dn', Labels: { who: 'dockerode' } });
  const nets = await docker.listNetworks({ filters: { label: ['who=dockerode'] } });
  assert.deepEqual(nets.map((x) => x.Name), ['api-dn']);
  assert.equal((await n.inspect()).Driver, 'bridge');
  await n.remove();
  assert.deepEqual(await docker.listNetworks({ filters: { name: ['api-dn'] } }), []);
});

test('pull from a local registry with progress events (followProgress)', async (t) => {
  const got = await registryWithBusybox(t, env, 'api/dockerode:1');
  if (!got) return;
  const { reg, ref } = got;
  try {
    // Nothing of the image left locally, so that the pull downloads (and reports) its layer.
    assert.equal(env.berth(['rmi', 'busybox']).code, 0);
    const events: { status?: string; id?: string; progressDetail?: { current?: number; total?: number } }[] = [];
    const stream = await docker.pull(ref);
    const final = await new Promise<unknown[]>((resolve, reject) =>
      docker.modem.followProgress(
        stream,
        (err: Error | null, out: unknown[]) => (err ? reject(err) : resolve(out)),
        (ev: (typeof events)[number]) => events.push(ev),
      ),
    );
    assert.equal(final.length, events.length);
    const statuses = events.map((e) => e.status ?? '');
    assert.ok(statuses.some((s) => /^Pulling from api\/dockerode$/.test(s)), statuses.join('|'));
    assert.ok(statuses.includes('Pull complete'), statuses.join('|'));
    assert.ok(events.some((e) => e.status === 'Downloading' && (e.progressDetail?.total ?? 0) > 0), statuses.join('|'));
    assert.match(statuses.at(-1)!, /^Status: Downloaded newer image for /);
    const img = await docker.getImage(ref).inspect();
    assert.deepEqual(img.RepoTags, [ref]);
    // A pull that fails reports it through the callback.
    const bad = await docker.pull(`${reg.host}/api/nosuch:1`).then(
      (s) => new Promise<Error | null>((resolve) => docker.modem.followProgress(s, (err: Error | null) => resolve(err))),
      (e: Error) => e,
    );
    assert.ok(bad instanceof Error);
    await docker.getImage(ref).tag({ repo: 'busybox', tag: 'latest' });
    await docker.getImage(ref).remove();
    assert.deepEqual((await docker.getImage('busybox').inspect()).RepoTags, ['busybox:latest']);
  } finally {
    await reg.stop();
  }
});

test('the server logged no internal error and left no container behind', async () => {
  assert.deepEqual(await docker.listContainers({ all: true }), []);
  assert.doesNotMatch(api.log(), /berth serve: |internal error|TypeError|ReferenceError/, api.log());
});
