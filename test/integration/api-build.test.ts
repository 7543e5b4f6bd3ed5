/**
 * Building through `berth serve` as docker's clients do it: the docker CLI 28 (which, with no buildx and a
 * server that offers the classic builder, uses `POST /build`), dockerode's buildImage, docker-py's
 * images.build and docker-compose's `build:`; and an image built by Berth, saved, loaded and run by a
 * private dockerd (when dockerd is installed).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import Docker from 'dockerode';
import { assertDockerOk, docker as dockerCli, needsDockerCli, startApiServer, type ApiServer } from './api-server.ts';
import { cli, type Env } from './helpers.ts';
import { dockerdUnavailable, startDockerd, stopDockerd } from '../../bench/dockerd.ts';

let api: ApiServer;
let env: Env;
let n = 0;
const { out } = cli(() => env);

before(async () => {
  api = await startApiServer('api-build');
  env = api.env;
});

after(async () => {
  await api?.stop();
});

function context(files: Record<string, string>): string {
  const dir = join(env.root, `ctx-${++n}`);
  mkdirSync(dir);
  for (const [path, content] of Object.entries(files)) {
    mkdirSync(join(dir, path, '..'), { recursive: true });
    writeFileSync(join(dir, path), content);
  }
  return dir;
}

const docker = (args: string[], input?: string) => dockerCli(api, args, input === undefined ? {} : { input });

const MULTI = [
  'FROM busybox:latest AS build',
  'ARG WHO=nobody',
  'RUN echo "built for $WHO" > /out.txt',
  'FROM busybox:latest',
  'COPY --from=build /out.txt /out.txt',
  'COPY hello.txt /hello.txt',
  'CMD ["cat", "/out.txt", "/hello.txt"]',
  '',
].join('\n');

test('docker build: the classic builder\'s output, --build-arg, -t, the image runs; the cache on the second build; -q', needsDockerCli, () => {
  const dir = context({ Dockerfile: MULTI, 'hello.txt': 'hello\n' });
  const r = assertDockerOk(api, ['build', '--build-arg', 'WHO=docker', '-t', 'api-built:1', dir], docker(['build', '--build-arg', 'WHO=docker', '-t', 'api-built:1', dir]));
  assert.match(r.stdout, /^Step 1\/7 : FROM busybox:latest AS build\n/m);
  assert.match(r.stdout, /^Step 3\/7 : RUN echo "built for \$WHO" > \/out\.txt\n ---> [0-9a-f]{12}\n/m);
  // The stages ran side by side; the stream still reads in step order.
  const steps = [...r.stdout.matchAll(/^Step (\d+)\/7/gm)].map((m) => Number(m[1]));
  assert.deepEqual(steps, [1, 2, 3, 4, 5, 6, 7]);
  assert.match(r.stdout, /^Successfully built [0-9a-f]{12}\nSuccessfully tagged api-built:1\n$/m);
  assert.equal(assertDockerOk(api, ['run'], docker(['run', '--rm', 'api-built:1'])).stdout, 'built for docker\nhello\n');
  const again = docker(['build', '--build-arg', 'WHO=docker', '-t', 'api-built:1', dir]);
  assert.equal(again.code, 0, again.stderr);
  assert.equal(again.stdout.match(/ ---> Using cache/g)?.length, 4, again.stdout);
  const quiet = docker(['build', '-q', '--build-arg', 'WHO=docker', dir]);
  assert.equal(quiet.code, 0, quiet.stderr);
  assert.equal(quiet.stdout, `sha256:${out(['image', 'inspect', '-f', '{{.Id}}', 'api-built:1']).trim().replace('sha256:', '')}\n`);
  assertDockerOk(api, ['rmi'], docker(['rmi', 'api-built:1']));
});

test('docker build: a failing RUN exits with its code and leaves no container; a Dockerfile on stdin; -f from outside the context', needsDockerCli, () => {
  const failing = docker(['build', context({ Dockerfile: 'FROM busybox:latest\nRUN echo failing; exit 7\n' })]);
  assert.equal(failing.code, 7, failing.stderr);
  assert.match(failing.stdout, /^failing\n/m);
  assert.match(failing.stderr, /The command '\/bin\/sh -c echo failing; exit 7' returned a non-zero code: 7/);
  assert.equal(out(['ps', '-aq']), '');
  const bare = docker(['build', '-q', '-t', 'api-built:stdin', '-'], 'FROM busybox:latest\nRUN echo piped > /piped\n');
  assert.equal(bare.code, 0, bare.stderr);
  assert.equal(assertDockerOk(api, ['run'], docker(['run', '--rm', 'api-built:stdin', 'cat', '/piped'])).stdout, 'piped\n');
  // A Dockerfile outside the context: the CLI puts it into the archive under a name of its own.
  const elsewhere = join(context({ 'Dockerfile.other': 'FROM busybox:latest\nCOPY f /f\n' }), 'Dockerfile.other');
  const dir = context({ f: 'from the context\n' });
  const outside = docker(['build', '-q', '-f', elsewhere, '-t', 'api-built:outside', dir]);
  assert.equal(outside.code, 0, outside.stderr);
  assert.equal(assertDockerOk(api, ['run'], docker(['run', '--rm', 'api-built:outside', 'cat', '/f'])).stdout, 'from the context\n');
  const bad = docker(['build', context({ Dockerfile: 'FROM busybox:latest\nFROBNICATE\n' })]);
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /Dockerfile:2: unknown instruction: FROBNICATE/);
  assertDockerOk(api, ['rmi'], docker(['rmi', 'api-built:stdin', 'api-built:outside']));
});

test('dockerode buildImage: a tar of the context, the message stream, the aux id, an errorDetail for a failure', async () => {
  const client = new Docker({ socketPath: api.sock });
  const dir = context({ Dockerfile: MULTI, 'hello.txt': 'from dockerode\n' });
  const stream = await client.buildImage({ context: dir, src: ['Dockerfile', 'hello.txt'] }, { t: 'api-built:dockerode', buildargs: { WHO: 'node' } });
  const messages = await new Promise<Record<string, unknown>[]>((resolve, reject) => client.modem.followProgress(stream, (e: Error | null, res: Record<string, unknown>[]) => (e ? reject(e) : resolve(res))));
  const aux = messages.find((m) => m.aux) as { aux: { ID: string } } | undefined;
  assert.match(aux?.aux.ID ?? '', /^sha256:[0-9a-f]{64}$/);
  assert.ok(messages.some((m) => m.stream === 'Successfully tagged api-built:dockerode\n'));
  assert.equal(out(['run', '--rm', 'api-built:dockerode']), 'built for node\nfrom dockerode\n');
  const failing = await client.buildImage({ context: context({ Dockerfile: 'FROM busybox:latest\nRUN exit 3\n' }), src: ['Dockerfile'] }, {});
  const failed = await new Promise<Record<string, unknown>[]>((resolve, reject) => client.modem.followProgress(failing, (e: Error | null, res: Record<string, unknown>[]) => (e ? reject(e) : resolve(res))));
  const error = failed.find((m) => m.errorDetail) as { error: string; errorDetail: { code: number; message: string } } | undefined;
  assert.deepEqual(error?.errorDetail, { code: 3, message: "The command '/bin/sh -c exit 3' returned a non-zero code: 3" });
  out(['rmi', 'api-built:dockerode']);
});

test('dockerode: cachefrom restores the steps a loaded image\'s history shows; pruneBuilder with filters until= and keep-storage', async () => {
  const client = new Docker({ socketPath: api.sock });
  const follow = (stream: NodeJS.ReadableStream) => new Promise<Record<string, unknown>[]>((resolve, reject) => client.modem.followProgress(stream, (e: Error | null, res: Record<string, unknown>[]) => (e ? reject(e) : resolve(res))));
  const dir = context({ Dockerfile: 'FROM busybox:latest\nENV WHO=api\nRUN echo $WHO > /who\nCMD ["cat", "/who"]\n' });
  await follow(await client.buildImage({ context: dir, src: ['Dockerfile'] }, { t: 'api-built:cf' }));
  const tar = join(env.root, 'api-cf.tar');
  out(['save', '-o', tar, 'api-built:cf']);
  out(['rmi', 'api-built:cf']);
  out(['builder', 'prune', '-f']);
  out(['load', '-i', tar]);
  const messages = await follow(await client.buildImage({ context: dir, src: ['Dockerfile'] }, { t: 'api-built:cf2', cachefrom: JSON.stringify(['api-built:cf']) } as Docker.ImageBuildOptions));
  assert.equal(messages.filter((m) => m.stream === ' ---> Using cache\n').length, 3, JSON.stringify(messages));
  assert.equal(out(['image', 'inspect', '-f', '{{.Id}}', 'api-built:cf2']), out(['image', 'inspect', '-f', '{{.Id}}', 'api-built:cf']));
  // dockerode's pruneBuilder sends no options: the query goes through its modem.
  const prune = (options: Record<string, unknown>) =>
    new Promise<{ CachesDeleted: string[] }>((resolve, reject) =>
      client.modem.dial({ path: '/build/prune?', method: 'POST', options, statusCodes: { 200: true, 400: 'bad request' } }, (e: unknown, data: unknown) => (e ? reject(e) : resolve(data as { CachesDeleted: string[] }))),
    );
  // Every entry was used within the hour: until=1h keeps them all; keep-storage=1 (byte) leaves none.
  assert.deepEqual((await prune({ filters: { until: ['1h'] } })).CachesDeleted, []);
  const r = await prune({ 'keep-storage': 1 });
  assert.ok(r.CachesDeleted.length >= 1, JSON.stringify(r));
  const after = await follow(await client.buildImage({ context: dir, src: ['Dockerfile'] }, { t: 'api-built:cf2' }));
  assert.ok(!after.some((m) => m.stream === ' ---> Using cache\n'), JSON.stringify(after));
  out(['rmi', 'api-built:cf', 'api-built:cf2']);
});

test('dockerode buildImage: memory, shmsize and ulimits reach the RUN container; securityopt is refused', async () => {
  const client = new Docker({ socketPath: api.sock });
  const follow = (stream: NodeJS.ReadableStream) => new Promise<Record<string, unknown>[]>((resolve, reject) => client.modem.followProgress(stream, (e: Error | null, res: Record<string, unknown>[]) => (e ? reject(e) : resolve(res))));
  const dir = context({ Dockerfile: 'FROM busybox:latest\nRUN (cat /sys/fs/cgroup/memory.max 2>/dev/null || cat /sys/fs/cgroup/memory/memory.limit_in_bytes) > /mem; df -k /dev/shm | tail -1 | awk \'{print $2}\' > /shm; ulimit -n > /nofile\n' });
  const opts = { t: 'api-built:limits', memory: 64 * 1024 * 1024, shmsize: 32 * 1024 * 1024, ulimits: JSON.stringify([{ Name: 'nofile', Soft: 1024, Hard: 2048 }]) };
  const messages = await follow(await client.buildImage({ context: dir, src: ['Dockerfile'] }, opts as Docker.ImageBuildOptions));
  assert.ok(messages.some((m) => m.aux), JSON.stringify(messages));
  assert.equal(out(['run', '--rm', 'api-built:limits', 'cat', '/mem', '/shm', '/nofile']), `${64 * 1024 * 1024}\n${32 * 1024}\n1024\n`);
  await assert.rejects(client.buildImage({ context: dir, src: ['Dockerfile'] }, { securityopt: 'seccomp=unconfined' } as Docker.ImageBuildOptions), /security options are not supported on linux/);
  out(['rmi', 'api-built:limits']);
});

const PY = '/usr/bin/python3';
const hasDockerPy = existsSync(PY) && spawnSync(PY, ['-c', 'import docker'], { encoding: 'utf8' }).status === 0;

test('docker-py images.build: the image and its log', { skip: hasDockerPy ? false : 'python3 with the docker module is not installed (scripts/setup installs python3-docker)' }, () => {
  const dir = context({ Dockerfile: MULTI, 'hello.txt': 'from python\n' });
  const script = [
    'import docker, sys',
    `c = docker.DockerClient(base_url="unix://${api.sock}")`,
    `img, logs = c.images.build(path="${dir}", tag="api-built:py", buildargs={"WHO": "python"})`,
    'print(img.id)',
    'print(any("Successfully built" in l.get("stream", "") for l in logs))',
  ].join('\n');
  const r = spawnSync(PY, ['-c', script], { encoding: 'utf8', timeout: 120_000 });
  assert.equal(r.status, 0, r.stderr);
  const [id, sawBuilt] = r.stdout.trim().split('\n');
  assert.equal(id, out(['image', 'inspect', '-f', '{{.Id}}', 'api-built:py']).trim());
  assert.equal(sawBuilt, 'True');
  assert.equal(out(['run', '--rm', 'api-built:py']), 'built for python\nfrom python\n');
  out(['rmi', 'api-built:py']);
});

const COMPOSE = '/usr/bin/docker-compose';

test('docker-compose build: a multi-stage Dockerfile with args, then up runs what it built', { skip: existsSync(COMPOSE) ? false : `docker-compose is not installed at ${COMPOSE}` }, () => {
  const dir = context({
    'app/Dockerfile': MULTI,
    'app/hello.txt': 'from compose\n',
    'docker-compose.yml': 'version: "3.8"\nservices:\n  app:\n    build:\n      context: ./app\n      args:\n        WHO: compose\n    image: api-built:compose\n',
  });
  const composeEnv = { ...process.env, DOCKER_HOST: `unix://${api.sock}`, COMPOSE_PROJECT_NAME: 'bb' };
  const run = (args: string[]) => spawnSync(COMPOSE, ['--ansi', 'never', ...args], { cwd: dir, env: composeEnv, encoding: 'utf8', timeout: 120_000 });
  const b = run(['build']);
  assert.equal(b.status, 0, `${b.stdout}\n${b.stderr}`);
  assert.match(b.stdout + b.stderr, /Successfully tagged api-built:compose/);
  const up = run(['run', '--rm', '-T', 'app']);
  assert.equal(up.status, 0, up.stderr);
  assert.equal(up.stdout, 'built for compose\nfrom compose\n');
  assert.equal(run(['down', '--rmi', 'all']).status, 0);
});

test('an image built by Berth, saved and loaded into dockerd, runs the same there', { skip: dockerdUnavailable() ?? false }, async () => {
  const dir = context({ Dockerfile: MULTI, 'hello.txt': 'portable\n' });
  out(['build', '-q', '--build-arg', 'WHO=dockerd', '-t', 'api-built:portable', dir]);
  const tar = join(env.root, 'portable.tar');
  out(['save', '-o', tar, 'api-built:portable']);
  const d = await startDockerd();
  try {
    const load = spawnSync(d.docker[0]!, [...d.docker.slice(1), 'load', '-i', tar], { encoding: 'utf8' });
    assert.equal(load.status, 0, load.stderr);
    const r = spawnSync(d.docker[0]!, [...d.docker.slice(1), 'run', '--rm', '--network', 'none', 'api-built:portable'], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, 'built for dockerd\nportable\n');
  } finally {
    assert.deepEqual(stopDockerd(d), [], 'the private dockerd left something behind');
  }
  out(['rmi', 'api-built:portable']);
});
