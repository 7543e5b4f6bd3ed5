/**
 * `berth serve`, phase 2, driven by the real docker CLI: networks and volumes (create, ls, inspect, rm,
 * prune, connect, disconnect), container top, stats, rename, diff, cp both ways, export, prune, system
 * df, image save, load, history, prune, push, and registry credentials (docker login, X-Registry-Auth).
 * Raw HTTP checks what the CLI does not show (the archive stat header, stats streaming, shapes).
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { startRegistry, type RegistryFixture } from '../fixtures/registry.ts';
import {
  assertDockerOk,
  call as callOn,
  docker as dockerOn,
  dockerAsync as dockerAsyncOn,
  dockerEnv as dockerEnvOf,
  open as openOn,
  DOCKER,
  needsDockerCli,
  startApiServer,
  type ApiServer,
  type Reply,
} from './api-server.ts';
import { eventually, REPO, type Env } from './helpers.ts';

const cli = needsDockerCli;

let env: Env;
let api: ApiServer;
let sock = '';
let work = '';

before(async () => {
  api = await startApiServer('api-objects');
  env = api.env;
  sock = api.sock;
  work = mkdtempSync('/tmp/berth-test-api-work-');
});

after(async () => {
  if (work) rmSync(work, { recursive: true, force: true });
  await api?.stop();
});

const docker = (args: string[], opts: { input?: string | Buffer; timeoutMs?: number; cwd?: string } = {}) => dockerOn(api, args, opts);
const dockerEnv = () => dockerEnvOf(api);
const dockerAsync = (args: string[], input?: string) => dockerAsyncOn(api, args, input);
const ok = (args: string[], opts: { input?: string | Buffer; cwd?: string } = {}) => assertDockerOk(api, args, docker(args, opts)).stdout;
const okAsync = async (args: string[], input?: string) => assertDockerOk(api, args, await dockerAsync(args, input));
const call = (method: string, path: string, body?: string | object | Buffer, headers: Record<string, string> = {}) => callOn(sock, method, path, body, headers);
const open = (method: string, path: string) => openOn(sock, method, path);

const json = <T = any>(r: Reply): T => JSON.parse(r.text) as T;

// ---- networks ----

test('docker network create, ls, inspect, connect, disconnect, rm, prune', cli, async () => {
  const id = ok(['network', 'create', '--label', 'api.net=1', '--subnet', '10.91.7.0/24', 'api-n1']).trim();
  assert.match(id, /^[0-9a-f]{64}$/);
  const dup = docker(['network', 'create', 'api-n1']);
  assert.equal(dup.code, 1);
  assert.match(dup.stderr, /already exists/);
  ok(['network', 'create', 'api-n2']);
  const ls = ok(['network', 'ls']);
  assert.match(ls, /^NETWORK ID\s+NAME\s+DRIVER\s+SCOPE$/m);
  assert.match(ls, new RegExp(`^${id.slice(0, 12)}\\s+api-n1\\s+bridge\\s+local$`, 'm'));
  assert.match(ls, /\s+api-n2\s+bridge\s+local$/m);
  for (const n of ['bridge', 'host', 'none']) assert.match(ls, new RegExp(`\\s${n}\\s`));
  assert.equal(ok(['network', 'ls', '-q', '--no-trunc', '--filter', 'label=api.net=1']), `${id}\n`);
  assert.equal(ok(['network', 'ls', '--filter', 'type=custom', '--format', '{{.Name}}']).split('\n').filter(Boolean).sort().join(','), 'api-n1,api-n2');
  const [j] = JSON.parse(ok(['network', 'inspect', 'api-n1'])) as any[];
  assert.equal(j.Name, 'api-n1');
  assert.equal(j.Id, id);
  assert.equal(j.Driver, 'bridge');
  assert.equal(j.Scope, 'local');
  assert.equal(j.IPAM.Config[0].Subnet, '10.91.7.0/24');
  assert.deepEqual(j.Labels, { 'api.net': '1' });
  assert.equal(ok(['network', 'inspect', '-f', '{{.Name}}', id.slice(0, 12)]), 'api-n1\n');
  const missing = docker(['network', 'inspect', 'api-nosuch']);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /not found/);

  // A running container on api-n1; connect it to api-n2 and back out.
  const ctr = ok(['run', '-d', '--name', 'api-netc', '--network', 'api-n1', 'busybox', 'sleep', '60']).trim();
  try {
    const onN1 = JSON.parse(ok(['network', 'inspect', 'api-n1', '-f', '{{json .Containers}}'])) as Record<string, { Name: string; IPv4Address: string }>;
    assert.equal(onN1[ctr]?.Name, 'api-netc');
    assert.match(onN1[ctr]!.IPv4Address, /^10\.91\.7\.\d+\/24$/);
    ok(['network', 'connect', '--alias', 'api-alias', 'api-n2', 'api-netc']);
    const onN2 = JSON.parse(ok(['network', 'inspect', 'api-n2', '-f', '{{json .Containers}}'])) as Record<string, unknown>;
    assert.ok(ctr in onN2, JSON.stringify(onN2));
    assert.match(ok(['exec', 'api-netc', 'cat', '/proc/net/dev']), /eth1/);
    const again = docker(['network', 'connect', 'api-n2', 'api-netc']);
    assert.equal(again.code, 1);
    ok(['network', 'disconnect', 'api-n2', 'api-netc']);
    assert.deepEqual(JSON.parse(ok(['network', 'inspect', 'api-n2', '-f', '{{json .Containers}}'])), {});
    assert.doesNotMatch(ok(['exec', 'api-netc', 'cat', '/proc/net/dev']), /eth1/);
    const busy = docker(['network', 'rm', 'api-n1']);
    assert.equal(busy.code, 1);
    assert.match(busy.stderr, /active endpoints/);
  } finally {
    ok(['rm', '-f', 'api-netc']);
  }
  const pre = docker(['network', 'rm', 'bridge']);
  assert.equal(pre.code, 1);
  assert.match(pre.stderr, /pre-defined network/);
  assert.equal(ok(['network', 'rm', 'api-n1']), 'api-n1\n');
  const pruned = ok(['network', 'prune', '-f']);
  assert.match(pruned, /Deleted Networks:\napi-n2\n/);
  assert.doesNotMatch(ok(['network', 'ls']), /api-n/);
  // Raw: create's reply and a bad body.
  const c = await call('POST', '/networks/create', { Name: 'api-raw', Driver: 'bridge', Labels: {}, Options: {} });
  assert.equal(c.status, 201, c.text);
  assert.deepEqual(Object.keys(json(c)).sort(), ['Id', 'Warning']);
  // As dockerd outside a swarm: an overlay network needs a swarm (dockerd says so with a 500; Berth with 503).
  assert.equal((await call('POST', '/networks/create', { Name: 'api-raw2', Driver: 'overlay' })).status, 503);
  assert.equal((await call('POST', '/networks/create', {})).status, 400);
  assert.equal((await call('DELETE', '/networks/api-raw')).status, 204);
  assert.equal((await call('DELETE', '/networks/api-raw')).status, 404);
});

// ---- volumes ----

test('docker volume create, ls, inspect, rm, prune; a volume carries data between containers', cli, () => {
  try {
    volumes();
  } finally {
    docker(['rm', '-f', 'api-vuser', 'api-anon']);
    for (const v of ok(['volume', 'ls', '-q']).split('\n').filter(Boolean)) docker(['volume', 'rm', '-f', v]);
  }
});

function volumes(): void {
  assert.equal(ok(['volume', 'create', '--label', 'api.vol=yes', 'api-v1']), 'api-v1\n');
  assert.equal(ok(['volume', 'create', 'api-v1']), 'api-v1\n'); // exists: returned as it is
  // Named by the engine, but not anonymous: only `prune -a` takes it, as docker's.
  const unnamed = ok(['volume', 'create']).trim();
  assert.match(unnamed, /^[0-9a-f]{64}$/);
  // An anonymous volume: a container's, left behind by `rm` without -v.
  ok(['create', '--name', 'api-anon', '--network', 'none', '-v', '/anon', 'busybox', 'true']);
  ok(['rm', 'api-anon']);
  const anon = ok(['volume', 'ls', '-q']).split('\n').filter((n) => n && n !== 'api-v1' && n !== unnamed);
  assert.equal(anon.length, 1, anon.join(' '));
  const ls = ok(['volume', 'ls']);
  assert.match(ls, /^DRIVER\s+VOLUME NAME$/m);
  assert.match(ls, /^local\s+api-v1$/m);
  assert.match(ls, new RegExp(`^local\\s+${unnamed}$`, 'm'));
  assert.equal(ok(['volume', 'ls', '-q', '--filter', 'label=api.vol=yes']), 'api-v1\n');
  assert.equal(ok(['volume', 'ls', '-q', '--filter', 'name=api-']), 'api-v1\n');
  const [v] = JSON.parse(ok(['volume', 'inspect', 'api-v1'])) as any[];
  assert.equal(v.Name, 'api-v1');
  assert.equal(v.Driver, 'local');
  assert.equal(v.Scope, 'local');
  assert.deepEqual(v.Labels, { 'api.vol': 'yes' });
  assert.ok(v.Mountpoint.startsWith(env.root), v.Mountpoint);
  assert.equal(docker(['volume', 'inspect', 'api-nosuch']).code, 1);

  ok(['run', '--rm', '--network', 'none', '-v', 'api-v1:/data', 'busybox', 'sh', '-c', 'echo kept > /data/f']);
  assert.equal(ok(['run', '--rm', '--network', 'none', '-v', 'api-v1:/data', 'busybox', 'cat', '/data/f']), 'kept\n');
  ok(['create', '--name', 'api-vuser', '--network', 'none', '-v', 'api-v1:/data', 'busybox', 'true']);
  const inUse = docker(['volume', 'rm', 'api-v1']);
  assert.equal(inUse.code, 1);
  assert.match(inUse.stderr, /in use/);
  assert.deepEqual(ok(['volume', 'ls', '-q', '--filter', 'dangling=true']).split('\n').filter(Boolean).sort(), [anon[0]!, unnamed].sort());
  // prune: anonymous volumes only by default (API >= 1.42), all unused with -a.
  const p1 = ok(['volume', 'prune', '-f']);
  assert.match(p1, new RegExp(`Deleted Volumes:\\n${anon[0]}\\n`));
  assert.match(p1, /Total reclaimed space: /);
  assert.deepEqual(ok(['volume', 'ls', '-q']).split('\n').filter(Boolean).sort(), ['api-v1', unnamed].sort());
  const p2 = ok(['volume', 'prune', '-af']);
  assert.match(p2, new RegExp(`Deleted Volumes:\\n${unnamed}\\n`));
  assert.match(ok(['volume', 'ls', '-q']), /^api-v1$/m); // still in use
  ok(['rm', 'api-vuser']);
  const p3 = ok(['volume', 'prune', '-af']);
  assert.match(p3, /Deleted Volumes:\napi-v1\n/);
  assert.match(p3, /Total reclaimed space: 5B/);
  assert.equal(ok(['volume', 'ls', '-q']), '');
  ok(['volume', 'create', 'api-v2']);
  assert.equal(ok(['volume', 'rm', 'api-v2']), 'api-v2\n');
  assert.equal(docker(['volume', 'rm', 'api-v2']).code, 1);
}

// ---- containers ----

test('docker top, stats --no-stream, rename, diff; stats over HTTP one-shot and streamed', cli, async () => {
  ok(['run', '-d', '--name', 'api-ops', '--network', 'none', 'busybox', 'sh', '-c', 'sleep 60']);
  try {
    const top = ok(['top', 'api-ops']);
    assert.match(top, /^UID\s+PID\s+PPID\s+C\s+STIME\s+TTY\s+TIME\s+CMD$/m);
    assert.match(top, /sleep 60$/m);
    const topPid = ok(['top', 'api-ops', '-o', 'pid,args']);
    assert.match(topPid, /^PID\s+COMMAND$/m);
    assert.match(topPid, /^\d+\s+sleep 60$/m);
    const t = json(await call('GET', '/containers/api-ops/top'));
    assert.ok(Array.isArray(t.Titles) && Array.isArray(t.Processes));
    assert.ok(t.Processes.some((p: string[]) => p.at(-1) === 'sleep 60'), JSON.stringify(t));

    const stats = ok(['stats', '--no-stream', 'api-ops']);
    assert.match(stats, /^CONTAINER ID\s+NAME\s+CPU %\s+MEM USAGE \/ LIMIT\s+MEM %\s+NET I\/O\s+BLOCK I\/O\s+PIDS$/m);
    assert.match(stats, /^[0-9a-f]{12}\s+api-ops\s+\d+\.\d\d%\s+\S+ \/ \S+\s+\d+\.\d\d%\s+.*\s+[12]$/m);
    const all = ok(['stats', '--no-stream', '--format', '{{.Name}} {{.PIDs}}']);
    assert.match(all, /^api-ops [12]$/m);
    const s = json(await call('GET', '/containers/api-ops/stats?stream=false'));
    assert.equal(s.name, '/api-ops');
    assert.ok(s.cpu_stats.cpu_usage.total_usage > 0);
    assert.ok(s.precpu_stats.cpu_usage.total_usage > 0, 'a second sample');
    assert.ok(s.memory_stats.usage > 0);
    assert.ok(s.pids_stats.current >= 1);
    assert.ok(!Number.isNaN(Date.parse(s.read)));
    const one = json(await call('GET', '/containers/api-ops/stats?stream=0&one-shot=1'));
    assert.equal(one.id.length, 64);
    // Streaming: one object per line, about one a second, until the client hangs up.
    const st = await open('GET', '/containers/api-ops/stats');
    assert.equal(st.res.statusCode, 200);
    let buf = '';
    st.res.on('data', (b: Buffer) => (buf += b.toString()));
    assert.ok(await eventually(() => buf.split('\n').filter(Boolean).length >= 3, 5_000), buf);
    for (const l of buf.split('\n').filter(Boolean)) assert.equal(JSON.parse(l).name, '/api-ops');
    st.destroy();

    ok(['rename', 'api-ops', 'api-ops2']);
    assert.equal(ok(['inspect', '-f', '{{.Name}}', 'api-ops2']), '/api-ops2\n');
    assert.equal(docker(['inspect', 'api-ops']).code, 1);
    ok(['run', '-d', '--name', 'api-ops3', '--network', 'none', 'busybox', 'sleep', '60']);
    const taken = docker(['rename', 'api-ops3', 'api-ops2']);
    assert.equal(taken.code, 1);
    ok(['rm', '-f', 'api-ops3']);

    ok(['exec', 'api-ops2', 'sh', '-c', 'mkdir /newdir && echo hi > /newdir/f && rm /bin/true']);
    const diff = ok(['diff', 'api-ops2']);
    assert.match(diff, /^A \/newdir$/m);
    assert.match(diff, /^A \/newdir\/f$/m);
    assert.match(diff, /^D \/bin\/true$/m);
    assert.match(diff, /^C \/bin$/m);
    const ch = json(await call('GET', '/containers/api-ops2/changes')) as { Path: string; Kind: number }[];
    assert.ok(ch.some((c) => c.Path === '/newdir/f' && c.Kind === 1));
    assert.ok(ch.some((c) => c.Path === '/bin/true' && c.Kind === 2));
    assert.equal((await call('GET', '/containers/nosuch/top')).status, 404);
    assert.equal((await call('GET', '/containers/nosuch/stats?stream=0')).status, 404);
  } finally {
    docker(['rm', '-f', 'api-ops', 'api-ops2', 'api-ops3']);
  }
  // Stopped: top is a 409, stats zeros.
  ok(['create', '--name', 'api-idle', '--network', 'none', 'busybox', 'true']);
  assert.equal((await call('GET', '/containers/api-idle/top')).status, 409);
  const idle = await call('GET', '/containers/api-idle/stats?stream=0');
  assert.equal(idle.status, 200);
  assert.equal(json(idle).cpu_stats.cpu_usage.total_usage, 0);
  ok(['rm', 'api-idle']);
});

test('docker cp both ways, the archive stat header, docker export', cli, async () => {
  ok(['run', '-d', '--name', 'api-cp', '--network', 'none', 'busybox', 'sh', '-c', 'mkdir -p /srv/d && echo one > /srv/d/a && echo two > /srv/b && sleep 60']);
  try {
    await eventually(() => docker(['exec', 'api-cp', 'test', '-f', '/srv/b']).code === 0, 5_000);
    // Container → host: a file into a directory, a directory under a new name, a tar on stdout.
    const out = join(work, 'out');
    mkdirSync(out);
    ok(['cp', 'api-cp:/srv/b', out]);
    assert.equal(readFileSync(join(out, 'b'), 'utf8'), 'two\n');
    ok(['cp', 'api-cp:/srv/d', join(out, 'dcopy')]);
    assert.equal(readFileSync(join(out, 'dcopy', 'a'), 'utf8'), 'one\n');
    const tarOut = spawnSync(DOCKER, ['cp', 'api-cp:/srv/d', '-'], { env: dockerEnv(), maxBuffer: 1 << 24 });
    assert.equal(tarOut.status, 0, tarOut.stderr?.toString());
    const names = spawnSync('tar', ['tf', '-'], { input: tarOut.stdout, encoding: 'utf8' }).stdout.split('\n').filter(Boolean);
    assert.deepEqual(names.map((n) => n.replace(/\/$/, '')).sort(), ['d', 'd/a']);
    const nf = docker(['cp', 'api-cp:/srv/nosuch', out]);
    assert.equal(nf.code, 1);
    assert.match(nf.stderr, /Could not find the file \/srv\/nosuch/);

    // Host → container: a file into a directory, a file under a new name, a directory.
    writeFileSync(join(work, 'h.txt'), 'from host\n');
    mkdirSync(join(work, 'hd'));
    writeFileSync(join(work, 'hd', 'x'), 'x\n');
    ok(['cp', join(work, 'h.txt'), 'api-cp:/srv/']);
    ok(['cp', join(work, 'h.txt'), 'api-cp:/srv/renamed.txt']);
    ok(['cp', join(work, 'hd'), 'api-cp:/srv/hd2']);
    assert.equal(ok(['exec', 'api-cp', 'cat', '/srv/h.txt', '/srv/renamed.txt', '/srv/hd2/x']), 'from host\nfrom host\nx\n');
    const bad = docker(['cp', join(work, 'h.txt'), 'api-cp:/nosuchdir/x/']);
    assert.notEqual(bad.code, 0);

    // The stat header, on HEAD and GET.
    const head = await call('HEAD', `/containers/api-cp/archive?path=${encodeURIComponent('/srv/b')}`);
    assert.equal(head.status, 200);
    const stat = JSON.parse(Buffer.from(String(head.headers['x-docker-container-path-stat']), 'base64').toString()) as Record<string, unknown>;
    assert.equal(stat.name, 'b');
    assert.equal(stat.size, 4);
    assert.equal(stat.linkTarget, '');
    const dirHead = await call('HEAD', '/containers/api-cp/archive?path=/srv/d');
    const dstat = JSON.parse(Buffer.from(String(dirHead.headers['x-docker-container-path-stat']), 'base64').toString()) as { mode: number };
    assert.ok(dstat.mode >= 2 ** 31, 'ModeDir set');
    assert.equal((await call('HEAD', '/containers/api-cp/archive?path=/srv/nosuch')).status, 404);
    assert.equal((await call('GET', '/containers/api-cp/archive')).status, 400);
    const get = await call('GET', '/containers/api-cp/archive?path=/srv/b');
    assert.equal(get.headers['content-type'], 'application/x-tar');
    assert.ok(get.headers['x-docker-container-path-stat']);
    assert.ok(get.body.length >= 1024 && get.body.subarray(0, 1).toString() === 'b');
    assert.equal((await call('PUT', '/containers/api-cp/archive?path=/srv/nosuch', Buffer.alloc(1024))).status, 404);

    // export: the whole filesystem, what the container added included.
    const tarFile = join(work, 'exp.tar');
    ok(['export', '-o', tarFile, 'api-cp']);
    const listed = spawnSync('tar', ['tf', tarFile], { encoding: 'utf8', maxBuffer: 1 << 24 }).stdout.split('\n');
    assert.ok(listed.includes('srv/hd2/x'), listed.slice(0, 20).join(' '));
    assert.ok(listed.some((l) => l === 'bin/busybox'));
    assert.equal((await call('GET', '/containers/nosuch/export')).status, 404);
  } finally {
    ok(['rm', '-f', 'api-cp']);
  }
});

test('docker stats streams rows; docker cp takes a tar on stdin; docker system df -v', cli, async () => {
  ok(['run', '-d', '--name', 'api-live', '--network', 'none', 'busybox', 'sleep', '60']);
  try {
    const c = spawn(DOCKER, ['stats', '--format', '{{.Name}} {{.PIDs}}', 'api-live'], { env: dockerEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    c.stdout.on('data', (b: Buffer) => (out += b.toString()));
    const closed = new Promise((r) => c.once('close', r));
    try {
      // Redrawn about twice a second from the stream's frames.
      assert.ok(await eventually(() => (out.match(/api-live 1/g) ?? []).length >= 3, 10_000), out);
    } finally {
      // The CLI's stats loop does not stop on SIGTERM.
      c.kill('SIGKILL');
      await closed;
    }
    writeFileSync(join(work, 'h-stdin.txt'), 'via stdin\n');
    const t = spawnSync('tar', ['cf', '-', '-C', work, 'h-stdin.txt']);
    assert.equal(t.status, 0);
    ok(['cp', '-', 'api-live:/tmp'], { input: t.stdout });
    assert.equal(ok(['exec', 'api-live', 'cat', '/tmp/h-stdin.txt']), 'via stdin\n');
    const v = ok(['system', 'df', '-v']);
    assert.match(v, /^Images space usage:/m);
    assert.match(v, /^busybox\s+latest\s/m);
    assert.match(v, /^Containers space usage:/m);
    assert.match(v, /api-live/);
  } finally {
    docker(['rm', '-f', 'api-live']);
  }
});

test('docker container prune and system df', cli, () => {
  const stopped = ok(['create', '--network', 'none', 'busybox', 'true']).trim();
  const running = ok(['run', '-d', '--network', 'none', 'busybox', 'sleep', '60']).trim();
  try {
    ok(['volume', 'create', 'api-dfv']);
    const df = ok(['system', 'df']);
    assert.match(df, /^TYPE\s+TOTAL\s+ACTIVE\s+SIZE\s+RECLAIMABLE$/m);
    assert.match(df, /^Images\s+1\s+1\s+\S+\s+/m);
    assert.match(df, /^Containers\s+2\s+1\s+/m);
    assert.match(df, /^Local Volumes\s+1\s+0\s+/m);
    assert.match(df, /^Build Cache\s+0\s+0\s+/m);
    const pruned = ok(['container', 'prune', '-f']);
    assert.match(pruned, new RegExp(`Deleted Containers:\\n${stopped}\\n`));
    assert.match(pruned, /Total reclaimed space: /);
    assert.equal(ok(['ps', '-aq', '--no-trunc']), `${running}\n`);
  } finally {
    docker(['rm', '-f', stopped, running]);
    docker(['volume', 'rm', 'api-dfv']);
  }
});

// ---- images ----

test('docker save, load, history, image prune', cli, async () => {
  const tar = join(work, 'bb.tar');
  ok(['save', '-o', tar, 'busybox']);
  const names = spawnSync('tar', ['tf', tar], { encoding: 'utf8' }).stdout;
  assert.match(names, /^manifest\.json$/m);
  ok(['tag', 'busybox', 'api-load:1']);
  ok(['save', '-o', join(work, 'l.tar'), 'api-load:1']);
  ok(['rmi', 'api-load:1']);
  assert.equal(docker(['image', 'inspect', 'api-load:1']).code, 1);
  assert.equal(ok(['load', '-i', join(work, 'l.tar')]), 'Loaded image: api-load:1\n');
  assert.match(ok(['images', 'api-load']), /^api-load\s+1\s/m);
  // Through stdin too, and a failure for something that is not an archive.
  assert.equal(ok(['load'], { input: readFileSync(join(work, 'l.tar')) }).includes('Loaded image: api-load:1'), true);
  const notTar = docker(['load'], { input: 'not a tar' });
  assert.notEqual(notTar.code, 0);
  const missing = docker(['save', '-o', join(work, 'x.tar'), 'api-nosuch']);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /No such image/);
  const saved = await call('GET', '/images/get?names=busybox&names=api-load:1');
  assert.equal(saved.status, 200);
  assert.equal(saved.headers['content-type'], 'application/x-tar');
  const loaded = await call('POST', '/images/load?quiet=0', saved.body, { 'Content-Type': 'application/x-tar' });
  assert.equal(loaded.headers['content-type'], 'application/json');
  const lines = loaded.text.split('\n').filter(Boolean).map((l) => JSON.parse(l) as { stream: string });
  assert.deepEqual(lines.map((l) => l.stream).sort(), ['Loaded image: api-load:1\n', 'Loaded image: busybox:latest\n']);
  ok(['rmi', 'api-load:1']);

  const hist = ok(['history', 'busybox']);
  assert.match(hist, /^IMAGE\s+CREATED\s+CREATED BY\s+SIZE\s+COMMENT$/m);
  const id = ok(['image', 'inspect', '-f', '{{.Id}}', 'busybox']).trim();
  assert.match(hist, new RegExp(`^${id.slice(7, 19)}\\s`, 'm'));
  const h = json(await call('GET', '/images/busybox/history')) as { Id: string; Tags: string[] | null; Size: number }[];
  assert.equal(h[0]!.Id, id);
  assert.deepEqual(h[0]!.Tags, ['busybox:latest']);
  assert.equal((await call('GET', '/images/api-nosuch/history')).status, 404);

  // A dangling image (a commit without a tag) is pruned; busybox, in use or not, is kept without -a.
  const ctr = ok(['create', '--network', 'none', 'busybox', 'true']).trim();
  const commit = env.berth(['commit', ctr]);
  assert.equal(commit.code, 0, commit.stderr);
  const dangling = commit.stdout.trim().replace(/^sha256:/, '');
  ok(['rm', ctr]);
  assert.match(ok(['images', '-q', '--no-trunc', '--filter', 'dangling=true']), new RegExp(dangling));
  const pruned = ok(['image', 'prune', '-f']);
  assert.match(pruned, new RegExp(`deleted: sha256:${dangling}`));
  assert.match(pruned, /Total reclaimed space: /);
  assert.match(ok(['images']), /^busybox\s+latest\s/m);
  assert.equal(ok(['images', '-q', '--filter', 'dangling=true']), '');
});

test('docker import: a tarball on stdin with --change and --message becomes a runnable image; bad input leaves nothing', cli, () => {
  const tar = join(work, 'rootfs.tar');
  assert.equal(spawnSync('bash', [join(REPO, 'scripts', 'mkimage-busybox'), tar]).status, 0);
  const id = ok(['import', '--change', 'CMD ["echo", "imported"]', '--change', 'ENV FOO=bar', '-m', 'from the API', '-', 'imp:1'], { input: readFileSync(tar) }).trim();
  assert.match(id, /^sha256:[0-9a-f]{64}$/);
  assert.equal(ok(['run', '--rm', '--network', 'none', 'imp:1']), 'imported\n');
  assert.equal(ok(['run', '--rm', '--network', 'none', 'imp:1', 'sh', '-c', 'echo $FOO']), 'bar\n');
  assert.match(ok(['history', '--no-trunc', '--format', '{{.Comment}}', 'imp:1']), /from the API/);
  const before = ok(['images', '-q', '--no-trunc']);
  const bad = docker(['import', '-', 'imp:bad'], { input: 'this is not a tar archive' });
  assert.equal(bad.code, 1);
  assert.equal(bad.stderr.trim().split('\n').length, 1, bad.stderr);
  const url = docker(['import', 'http://127.0.0.1:1/rootfs.tar', 'imp:url']);
  assert.equal(url.code, 1);
  assert.match(url.stderr, /importing from a URL is not supported/);
  assert.equal(ok(['images', '-q', '--no-trunc']), before, 'a failed import adds no image');
  ok(['rmi', 'imp:1']);
});

test('docker push to a registry, pull it back; docker login and X-Registry-Auth for an authenticated registry', cli, async (t) => {
  let reg: RegistryFixture;
  let auth: RegistryFixture;
  try {
    reg = await startRegistry();
  } catch (e) {
    if ((e as Error).message.startsWith('SKIP:')) return t.skip((e as Error).message);
    throw e;
  }
  try {
    auth = await startRegistry({ auth: 'basic' });
  } catch (e) {
    await reg.stop();
    if ((e as Error).message.startsWith('SKIP:')) return t.skip((e as Error).message);
    throw e;
  }
  try {
    const ref = `${reg.host}/api/pushed:1`;
    ok(['tag', 'busybox', ref]);
    const push = await okAsync(['push', ref]);
    assert.match(push.stdout, new RegExp(`The push refers to repository \\[${reg.host.replace(/\./g, '\\.')}/api/pushed\\]`));
    assert.match(push.stdout, /1: digest: sha256:[0-9a-f]{64} size: \d+/);
    ok(['rmi', ref]);
    const pull = await okAsync(['pull', ref]);
    assert.match(pull.stdout, /Status: Downloaded newer image for /);
    const missing = await dockerAsync(['push', `${reg.host}/api/nosuch:1`]);
    assert.notEqual(missing.code, 0);
    assert.match(missing.stderr, /No such image|does not exist/);
    // Raw: the progress stream ends with the aux object.
    const raw = await call('POST', `/images/${encodeURIComponent(`${reg.host}/api/pushed`)}/push?tag=1`, undefined, { 'X-Registry-Auth': 'e30=' });
    assert.equal(raw.status, 200);
    const msgs = raw.text.split('\n').filter((l) => l.trim()).map((l) => JSON.parse(l) as Record<string, any>);
    assert.ok(msgs.some((m) => m.status === 'Layer already exists'), raw.text);
    assert.match(msgs.at(-1)!.aux?.Digest ?? '', /^sha256:/);
    ok(['rmi', ref]);

    // An authenticated registry: refused without credentials, served with them.
    const aref = `${auth.host}/api/secret:1`;
    ok(['tag', 'busybox', aref]);
    const denied = await dockerAsync(['push', aref]);
    assert.notEqual(denied.code, 0, denied.stdout);
    const badLogin = await dockerAsync(['login', auth.host, '-u', auth.user!, '--password-stdin'], 'wrong\n');
    assert.notEqual(badLogin.code, 0);
    const login = await okAsync(['login', auth.host, '-u', auth.user!, '--password-stdin'], `${auth.password}\n`);
    assert.match(login.stdout, /Login Succeeded/);
    const apush = await okAsync(['push', aref]);
    assert.match(apush.stdout, /1: digest: sha256:/);
    ok(['rmi', aref]);
    const apull = await okAsync(['pull', aref]);
    assert.match(apull.stdout, /Status: Downloaded newer image for /);
    ok(['rmi', aref]);
    await okAsync(['logout', auth.host]);
    const anon = await dockerAsync(['pull', aref]);
    assert.notEqual(anon.code, 0, anon.stdout);
    // Raw: credentials in a header (base64url JSON), and nothing of them left under the root.
    const header = Buffer.from(JSON.stringify({ username: auth.user, password: auth.password, serveraddress: auth.host })).toString('base64url');
    const rawPull = await call('POST', `/images/create?fromImage=${encodeURIComponent(`${auth.host}/api/secret`)}&tag=1`, undefined, { 'X-Registry-Auth': header });
    assert.equal(rawPull.status, 200);
    assert.match(rawPull.text, /Downloaded newer image/);
    assert.doesNotMatch(rawPull.text, /errorDetail/);
    // The digest and status lines come once each.
    assert.equal(rawPull.text.match(/"status":"Digest: /g)?.length, 1, rawPull.text);
    assert.equal(rawPull.text.match(/"status":"Status: /g)?.length, 1, rawPull.text);
    ok(['rmi', aref]);
    const tmp = join(env.root, 'tmp');
    const left = existsSync(tmp) ? spawnSync('find', [tmp, '-name', 'api-*'], { encoding: 'utf8' }).stdout : '';
    assert.equal(left, '');
  } finally {
    await reg.stop();
    await auth.stop();
  }
});

test('the server logged no internal error and left no container behind', async () => {
  assert.deepEqual(json(await call('GET', '/containers/json?all=1')), []);
  assert.doesNotMatch(api.log(), /berth serve: |internal error|TypeError|ReferenceError/, api.log());
});
