/**
 * docker-py (Debian's python3-docker, `import docker`) driving `berth serve`, through the high-level models
 * (`docker.from_env()`, `DockerClient(base_url=…)`) and the low-level `APIClient`: containers run in the
 * foreground and detached through their whole life, exec in each mode, images (tag, build, save, load, prune),
 * networks with IPAM where containers reach each other by name, volumes two containers share, and the
 * daemon's ping, version, info, df and events. The SDK calls live in test/fixtures/python-sdk/ (a module per
 * area); each case removes what it made and prints what it saw as JSON, which the tests here assert on.
 * Every test skips, saying why, where the SDK cannot be imported.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { call, startApiServer, type ApiServer } from './api-server.ts';
import { REPO } from './helpers.ts';

/** Debian's interpreter, whose dist-packages hold python3-docker (a python3 earlier on PATH may hold another). */
const PYTHON = process.env.BERTH_TEST_PYTHON ?? '/usr/bin/python3';
const CASES = join(REPO, 'test', 'fixtures', 'python-sdk', 'main.py');
const probe = spawnSync(PYTHON, ['-c', 'import docker'], { encoding: 'utf8' });
const needsSdk = {
  skip: probe.status === 0 ? false : `${PYTHON} cannot import docker (apt-get install python3-docker): ${(probe.stderr ?? String(probe.error)).trim().split('\n').at(-1)}`,
};

/** What a case reports: JSON values keyed by what was looked at. */
type Seen = Record<string, any>;

describe('docker-py over berth serve', () => {
  let api: ApiServer;

  before(async () => {
    if (!needsSdk.skip) api = await startApiServer('api-python-sdk');
  });

  after(async () => {
    await api?.stop();
  });

  /** Run one case of main.py against the server; its JSON, or a failure carrying its traceback and the server's log. */
  async function py(name: string, timeoutMs = 60_000): Promise<Seen> {
    const before = await inventory();
    const child = spawn(PYTHON, [CASES, name], {
      env: { ...process.env, DOCKER_HOST: `unix://${api.sock}`, PYTHONDONTWRITEBYTECODE: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    const code = await new Promise<number | null>((resolve, reject) => {
      child.on('error', reject);
      child.on('close', (c) => resolve(c));
    });
    clearTimeout(timer);
    assert.equal(code, 0, `case ${name} failed (${code ?? `killed after ${timeoutMs} ms`}):\n${stderr}\nserver:\n${api.log().slice(-3000)}`);
    assert.deepEqual(await inventory(), before, `case ${name} left something behind`);
    return JSON.parse(stdout.trim().split('\n').at(-1)!) as Seen;
  }

  /** What the root holds, as the API lists it: a case leaves it as it found it. */
  async function inventory(): Promise<{ containers: string[]; images: string[][]; volumes: string[]; networks: string[] }> {
    const list = async (path: string) => JSON.parse((await call(api.sock, 'GET', path)).text);
    const containers = (await list('/containers/json?all=1')) as { Names: string[] }[];
    const images = (await list('/images/json')) as { RepoTags: string[] | null }[];
    const volumes = ((await list('/volumes')) as { Volumes: { Name: string }[] | null }).Volumes ?? [];
    const networks = (await list('/networks')) as { Name: string }[];
    return {
      containers: containers.map((c) => c.Names[0]!),
      images: images.map((i) => i.RepoTags ?? []).sort(),
      volumes: volumes.map((v) => v.Name),
      networks: networks.map((n) => n.Name).sort(),
    };
  }

  const apiError = (status: number) => ({ class: 'APIError', status });
  /** An error as a case reports it, without its message. */
  const kind = (e: Seen | null) => (e === null ? null : { class: e.class, status: e.status });

  // -- system ---------------------------------------------------------------------------------------------------

  test('ping, version, info and df, through from_env, DockerClient(base_url=…) and APIClient(version="auto")', needsSdk, async () => {
    const s = await py('system');
    assert.equal(s.ping, true);
    assert.equal(s.lowPing, true);
    assert.deepEqual(s.byUrlImages, ['busybox:latest']);
    assert.equal(s.apiVersion, '1.51');
    assert.equal(s.lowApiVersion, '1.51', 'version="auto" takes the server\'s');
    for (const k of ['ApiVersion', 'Arch', 'KernelVersion', 'MinAPIVersion', 'Os', 'Version']) assert.ok(s.versionKeys.includes(k), `version() lacks ${k}`);
    assert.equal(s.os, 'linux');
    assert.equal(s.infoOSType, 'linux');
    assert.ok(s.infoImages >= 1, `info() Images: ${s.infoImages}`);
    assert.deepEqual(s.infoKeys, ['Containers', 'ContainersRunning', 'DockerRootDir', 'Driver', 'Images', 'KernelVersion', 'MemTotal', 'NCPU', 'ServerVersion']);
    for (const k of ['Containers', 'Images', 'LayersSize', 'Volumes']) assert.ok(s.dfKeys.includes(k), `df() lacks ${k}`);
    assert.deepEqual(s.dfImageTags, ['busybox:latest']);
  });

  test('events(decode=True, since=, until=) gives a container\'s create, start, die and destroy in the window, then ends; live events', needsSdk, async () => {
    const s = await py('events');
    assert.deepEqual(s.actions, ['create', 'start', 'die', 'destroy']);
    assert.deepEqual(s.statuses, s.actions, 'the legacy status field too');
    assert.deepEqual(s.types, ['container']);
    assert.deepEqual(s.ids, [s.id]);
    assert.deepEqual(s.names, ['pysdk-events']);
    assert.deepEqual(s.filteredActions, ['start'], 'filters type=container and event=start');
    assert.equal(s.filteredHasOurs, true);
    assert.deepEqual(s.live, ['pysdk-live'], 'a live stream gives the event as it happens; close() ends it');
  });

  // -- containers -----------------------------------------------------------------------------------------------

  test('containers.run: its output (json-file logs), stderr=True, stdout=False, remove=True; ContainerError; ImageNotFound', needsSdk, async () => {
    const s = await py('run-foreground');
    assert.equal(s.echo, 'hi\n');
    assert.equal(s.echoLogType, 'json-file', 'run reads the output back only from json-file or journald');
    assert.equal(s.both, 'out\nerr\n');
    assert.equal(s.stderrOnly, 'err\n');
    assert.equal(s.removed, 'gone\n');
    assert.deepEqual(s.removedLeft, []);
    assert.deepEqual(s.failure, { exit: 3, stderr: 'boom\n', image: 'busybox' });
    assert.deepEqual(kind(s.createMissing), { class: 'ImageNotFound', status: 404 });
    assert.deepEqual(kind(s.runUnpullable), apiError(500), 'run pulls on ImageNotFound; a registry that refuses is a 500, as dockerd\'s');
    assert.deepEqual(kind(s.getMissingImage), { class: 'ImageNotFound', status: 404 });
    assert.deepEqual(kind(s.getMissingContainer), { class: 'NotFound', status: 404 });
  });

  test('a detached container: logs, reload, attrs, get, list filters, top, stats, pause, rename, restart, stop, kill', needsSdk, async () => {
    const s = await py('run-detached');
    assert.equal(s.logs, 'started\nto-stderr\n');
    assert.equal(s.stdoutLogs, 'started\n');
    assert.equal(s.stderrLogs, 'to-stderr\n');
    assert.equal(s.firstStreamed, 'started\n');
    assert.equal(s.status, 'running');
    assert.deepEqual(s.state, { Status: 'running', Running: true, Paused: false, ExitCode: 0 });
    assert.equal(s.pidPositive, true);
    assert.equal(s.name, 'pysdk-life');
    assert.deepEqual(s.imageTags, ['busybox:latest']);
    assert.deepEqual(s.labels, { pysdk: 'life' });
    assert.equal(s.getSame, true);
    assert.deepEqual(s.byLabel, ['pysdk-life']);
    assert.deepEqual(s.byStatus, ['pysdk-life']);
    assert.deepEqual(s.topTitles, ['UID', 'PID', 'PPID', 'C', 'STIME', 'TTY', 'TIME', 'CMD']);
    assert.equal(s.topHasShell, true);
    assert.deepEqual(s.statsKeys, ['cpu_stats', 'id', 'memory_stats', 'name', 'pids_stats', 'precpu_stats', 'read']);
    assert.equal(s.statsName, '/pysdk-life');
    assert.equal(s.statsMemUsage, true);
    assert.deepEqual(s.statsCpuSamples, [true, true, true], 'stream=False: two samples a CPU percentage is computed from');
    assert.deepEqual(s.paused, ['paused', true]);
    assert.deepEqual(s.unpaused, ['running', false]);
    assert.equal(s.renamed, 'pysdk-renamed');
    assert.deepEqual(s.restarted, ['running', true], 'restart starts it again (a new StartedAt)');
    assert.equal(s.stoppedWait.StatusCode, 0, 'stop: the shell trapped SIGTERM and exited 0');
    assert.deepEqual(s.stopped, ['exited', 0]);
    assert.equal(s.killedWait.StatusCode, 137);
    assert.deepEqual(s.usr1, ['running', true], 'kill(signal=SIGUSR1) reaches the trap and the container runs on');
    assert.deepEqual(kind(s.goneAfterRemove), { class: 'NotFound', status: 404 });
  });

  test('wait() returns {"StatusCode": n}; a container run with detach and remove is gone once it ends', needsSdk, async () => {
    const s = await py('run-wait-exit');
    assert.equal(s.wait.StatusCode, 7);
    assert.deepEqual(s.state, ['exited', 7, false]);
    if (s.autoRemoveWait !== 'gone') assert.equal(s.autoRemoveWait.StatusCode, 0);
    assert.deepEqual(kind(s.autoRemoved), { class: 'NotFound', status: 404 });
  });

  test('logs tail/timestamps/since, stats streaming, list filters, run(stream=True), wait conditions, attach', needsSdk, async () => {
    const s = await py('container-streams');
    assert.deepEqual(s.tail, [2, true]);
    assert.equal(s.timestamped, true);
    assert.equal(s.sinceFuture, '');
    assert.deepEqual(s.statsStreamKeys, ['cpu_stats', 'memory_stats', 'read']);
    assert.equal(s.statsSecond, true);
    assert.deepEqual(s.ancestor, ['pysdk-ticker']);
    assert.deepEqual(s.execMissing, [127, true], 'exec of a command that is not there');
    assert.deepEqual(s.exitedFilter, ['pysdk-ended']);
    assert.deepEqual(s.statusExited, ['pysdk-ended']);
    assert.deepEqual(s.runStream, ['a\n', 'b\n']);
    assert.equal(s.waitNotRunning, 6);
    assert.equal(s.waitNextExit, 4, 'a next-exit wait made before start sees that run end');
    assert.deepEqual(s.attachFrames, [[1, 'hello attach\n']], 'attach_socket: stdin in, stdout back in one frame');
    assert.equal(s.ttyLogs, 'tty\r\n/dev/pts/0\r\n');
  });

  test('put_archive/get_archive, diff, export, update(mem_limit=), commit(changes=)', needsSdk, async () => {
    const s = await py('container-files');
    assert.equal(s.put, true);
    assert.equal(s.cat, 'hello from python\n');
    assert.deepEqual(s.archiveNames, ['hello.txt']);
    assert.equal(s.archiveContent, 'hello from python\n');
    assert.equal(s.archiveMode, '0o640');
    assert.deepEqual(s.stat, { name: 'hello.txt', size: 18, mode: 0o640 });
    assert.deepEqual(kind(s.getMissing), { class: 'NotFound', status: 404 });
    assert.deepEqual(s.diff, [['/tmp', 0], ['/tmp/hello.txt', 1]]);
    assert.ok(s.exportFirstChunk > 0);
    assert.ok(s.exportFirstMember, 'the export is a tar');
    assert.equal(s.memory, 64 << 20);
    assert.deepEqual(s.commitTags, ['pysdk-committed:v1']);
    assert.deepEqual(s.commitLabels, { committed: 'yes' });
    assert.equal(s.commitRun, 'hello from python\n', 'the committed image holds the file and runs the CMD the changes set');
    assert.deepEqual([s.confCmd, s.confLabels, s.confRun], [['echo', 'from-conf'], { from: 'conf' }, 'from-conf\n'], 'conf is merged over the container\'s config');
  });

  test('containers.prune(filters={"label": …}) removes the stopped container with the label, not the other', needsSdk, async () => {
    const s = await py('container-prune');
    assert.deepEqual(s.deleted, [s.gone]);
    assert.equal(s.reclaimedIsInt, true);
    assert.deepEqual(s.left, ['pysdk-keep']);
  });

  test('APIClient: create_container with host_config, start, wait, logs, inspect_container, containers(), remove_container', needsSdk, async () => {
    const s = await py('lowlevel-containers');
    assert.deepEqual(s.warnings ?? [], []);
    assert.equal(s.wait.StatusCode, 2);
    assert.equal(s.logs, 'low-level\n/etc\n');
    assert.equal(s.logsErr, 'e\n');
    assert.match(s.logsTimestamps, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z low-level\n\S+ \/etc\n$/);
    assert.deepEqual(s.inspect, { Memory: 32 << 20, WorkingDir: '/etc', Labels: { a: 'b' }, Name: '/pysdk-low', ExitCode: 2 });
    assert.deepEqual(s.listed, [['/pysdk-low']]);
    assert.equal(s.listedQuiet.length, 1);
    assert.deepEqual(s.after, []);
  });

  // -- exec -----------------------------------------------------------------------------------------------------

  test('exec_run: output and exit code, demux, tty (raw, no frame bytes), stream, detach, env/workdir/user', needsSdk, async () => {
    const s = await py('exec-run');
    assert.deepEqual(s.plain, [0, 'hi\n']);
    assert.deepEqual(s.merged, [4, 'out\nerr\n']);
    assert.deepEqual(s.demux, [4, ['out\n', 'err\n']]);
    assert.deepEqual(s.tty, [0, 'out\r\nerr\r\n/dev/pts/0\r\n']);
    assert.equal(s.stream, 'a\nb\n');
    assert.deepEqual(s.streamDemux, [['a\n', null], [null, 'b\n']]);
    assert.equal(s.detachExit, null);
    assert.equal(s.detachedRan, true);
    assert.deepEqual(s.options, [0, 'f b\n/etc\n1000\n1001\n']);
    assert.equal(s.envList, 'from-list\n');
    assert.equal(s.namedUser, 'nobody\n');
    assert.deepEqual(s.privileged, [0, 'root\n']);
    assert.deepEqual(kind(s.onStopped), apiError(409));
  });

  test('APIClient exec_create, exec_start (plain, demux, tty, stream, detach, stdin socket) and exec_inspect', needsSdk, async () => {
    const s = await py('exec-lowlevel');
    assert.deepEqual(s.before, [false, null, true]);
    assert.equal(s.start, 'low\nle\n');
    assert.deepEqual(s.after, [false, 5]);
    assert.deepEqual(s.processConfig, { entrypoint: 'sh', arguments: ['-c', 'echo low; sleep 0.1; echo le >&2; exit 5'], tty: false });
    assert.deepEqual(s.demux, ['low\n', 'le\n']);
    assert.equal(s.stdoutOnly, 'low\n');
    assert.equal(s.tty, 'tty\r\n/dev/pts/0\r\n');
    assert.deepEqual(s.stream, ['a\n', 'b\n']);
    assert.equal(s.detach, '');
    assert.deepEqual(s.detachedRunning, [true, null, true]);
    assert.deepEqual(s.detachedDone, [false, 0]);
    assert.deepEqual(s.stdinFrames, [[1, 'through stdin\n']]);
    assert.deepEqual(kind(s.inspectMissing), { class: 'NotFound', status: 404 });
  });

  // -- images ---------------------------------------------------------------------------------------------------

  test('images: list, get, tag, get by id prefix, history, inspect_image, remove (a missing one, one in use by id)', needsSdk, async () => {
    const s = await py('images-basic');
    assert.deepEqual(s.listTags, ['busybox:latest']);
    assert.deepEqual(s.getTags, ['busybox:latest']);
    assert.equal(s.idForm, true);
    assert.match(s.shortId, /^sha256:[0-9a-f]{10,12}$/);
    assert.equal(s.tag, true);
    assert.equal(s.tagged, true);
    assert.deepEqual(s.byName, [['busybox:latest', 'pysdk/bb:t1']]);
    assert.deepEqual(s.byReference, [['busybox:latest', 'pysdk/bb:t1']]);
    assert.equal(s.lowTag, true);
    assert.equal(s.byIdPrefix, true);
    assert.deepEqual(s.historyKeys, ['Comment', 'Created', 'CreatedBy', 'Id', 'Size', 'Tags']);
    assert.equal(s.historyTopId, true);
    assert.deepEqual(s.inspect, { Id: true, Cmd: ['sh'], Os: 'linux', RootFSType: 'layers', Architecture: true });
    assert.deepEqual(s.afterRemove, ['busybox:latest']);
    assert.deepEqual(kind(s.removeMissing), { class: 'ImageNotFound', status: 404 });
    assert.deepEqual(kind(s.removeById), apiError(409), 'an image a container uses is not removed by id without force');
  });

  test('images.build from a Dockerfile (buildargs), from a context tar, a failing RUN as BuildError; APIClient.build', needsSdk, async () => {
    const s = await py('images-build');
    assert.deepEqual(s.tags, ['pysdk-built:1']);
    assert.deepEqual(s.labels, { pysdk: 'yes' });
    assert.match(s.streamed, /Step 1\/5 : FROM busybox\n/);
    assert.match(s.streamed, /Successfully tagged pysdk-built:1\n$/);
    assert.equal(s.run, 'built for python\n');
    assert.equal(s.ctxRun, 'from the context\n');
    assert.equal(s.failed?.class, 'BuildError');
    assert.match(s.failed.msg, /returned a non-zero code: 9/);
    assert.match(s.failed.log, /failing\n/);
    assert.deepEqual(s.lowLast, { stream: 'Successfully tagged pysdk-built:low\n' });
    assert.equal(s.lowHasAux, true, 'the aux message with the image id, which images.build reads');
  });

  test('Image.save (named) streams a docker-archive; images.load brings the tag back', needsSdk, async () => {
    const s = await py('images-save-load');
    assert.ok(s.firstChunk > 0);
    assert.equal(s.hasManifest, true);
    assert.equal(s.manifestTags.length, 1);
    // Berth writes the full name (docker.io/library/…), as skopeo does, where docker writes the familiar one:
    // every loader reads both, and podman 4.3 files a familiar name under localhost/ (src/image/archive-write.ts).
    assert.equal(s.manifestTags[0], 'docker.io/library/pysdk-saved:v1');
    assert.equal(s.byIdTags, null, 'saved by id: RepoTags null, as docker writes it');
    assert.deepEqual(kind(s.goneBeforeLoad), { class: 'ImageNotFound', status: 404 });
    assert.deepEqual(s.loaded, [['busybox:latest', 'pysdk-saved:v1']]);
    assert.deepEqual(s.loadedId, [true]);
    assert.equal(s.runLoaded, 'loaded\n');
  });

  test('images.prune removes an image a rebuild left dangling, keeps the tagged ones', needsSdk, async () => {
    const s = await py('images-prune');
    assert.ok(s.danglingBefore.includes(true), 'the first build is dangling once the second takes its tag');
    assert.equal(s.deletedFirst, true);
    assert.equal(s.reclaimedIsInt, true);
    assert.deepEqual(kind(s.firstGone), { class: 'ImageNotFound', status: 404 });
    assert.equal(s.secondKept, true);
    assert.equal(s.busyboxKept, true);
  });

  // -- networks -------------------------------------------------------------------------------------------------

  test('networks: create with IPAM and labels, list, connect (aliases), disconnect, ping by name, remove, prune', needsSdk, async () => {
    const s = await py('networks');
    assert.equal(s.name, 'pysdk-net');
    assert.equal(s.driver, 'bridge');
    assert.deepEqual(s.labels, { pysdk: 'net' });
    assert.deepEqual(s.ipam, [{ Subnet: '10.231.71.0/24', Gateway: '10.231.71.1' }]);
    assert.deepEqual(s.listByName, ['pysdk-net']);
    assert.deepEqual(s.listByLabel, ['pysdk-net']);
    assert.equal(s.getSame, true);
    assert.deepEqual(kind(s.duplicate), apiError(409));
    assert.match(s.aAddress, /^10\.231\.71\.\d+$/);
    assert.deepEqual(s.bNetworks, ['bridge', 'pysdk-net']);
    assert.ok(s.bAliases.includes('bee'), `aliases: ${s.bAliases}`);
    assert.deepEqual(s.containers, ['pysdk-a', 'pysdk-b']);
    assert.equal(s.pingByName, 0, 'a reaches b, connected later, by name');
    assert.equal(s.pingBack, 0, 'b reaches a by name');
    assert.equal(s.pingByAlias, 0, 'a reaches b by the alias it was connected with');
    assert.deepEqual(s.bAfterDisconnect, ['bridge']);
    assert.deepEqual(s.containersAfter, ['pysdk-a']);
    assert.deepEqual(kind(s.removeInUse), apiError(403), 'a network with active endpoints: 403, as dockerd');
    assert.deepEqual(s.afterRemove, []);
    assert.deepEqual(kind(s.getRemoved), { class: 'NotFound', status: 404 });
    assert.deepEqual(s.pruned, ['pysdk-unused']);
    assert.deepEqual(s.afterPrune, ['pysdk-used'], 'a network a running container is on stays');
    assert.deepEqual(s.builtins, ['bridge', 'host', 'none']);
  });

  test('APIClient networks: create_network with IPAM, a container given an alias and a fixed address at create, reached by the alias', needsSdk, async () => {
    const s = await py('networks-lowlevel');
    assert.deepEqual(s.createKeys, ['Id', 'Warning']);
    assert.equal(s.subnet, '10.231.72.0/24');
    assert.equal(s.ip, '10.231.72.50');
    assert.equal(s.aliasesInclude, true);
    assert.deepEqual(s.networks, ['pysdk-lownet']);
    assert.equal(s.peerPingsAlias, 0);
  });

  // -- volumes --------------------------------------------------------------------------------------------------

  test('volumes: create with labels, get, list filters, data one container writes and another reads, remove, prune, anonymous ones', needsSdk, async () => {
    const s = await py('volumes');
    assert.equal(s.name, 'pysdk-vol');
    assert.deepEqual(s.attrs, { Name: 'pysdk-vol', Driver: 'local', Labels: { pysdk: 'vol' }, Scope: 'local' });
    assert.equal(s.mountpoint, true);
    assert.equal(s.getSame, true);
    assert.deepEqual(s.listByLabel, ['pysdk-vol']);
    assert.deepEqual(s.listByName, ['pysdk-vol']);
    assert.equal(s.again, 'pysdk-vol', 'creating it again with the same labels is no error');
    assert.deepEqual(s.shared, ['wrote\n', 'kept\n']);
    assert.equal(s.readOnlyWrite, '1\n', 'a :ro mount refuses the write');
    assert.deepEqual(kind(s.removeInUse), apiError(409));
    assert.deepEqual(s.mounts, [{ Type: 'volume', Name: 'pysdk-vol', Destination: '/data', RW: true }]);
    assert.deepEqual(kind(s.getRemoved), { class: 'NotFound', status: 404 });
    assert.deepEqual(s.prunedNamed ?? [], [], 'since API 1.42 prune takes only anonymous volumes without all=true');
    assert.deepEqual(s.pruned, ['pysdk-prune-a']);
    assert.equal(s.prunedReclaimedIsInt, true);
    assert.deepEqual(s.afterPrune, ['pysdk-prune-b']);
    assert.deepEqual(s.anonAfterRemoveV, [], 'remove_container(v=True) removes its anonymous volume');
    assert.equal(s.anonKept, true, 'without v=True the anonymous volume stays');
    assert.equal(s.anonPruned, true, 'prune() takes an anonymous volume no container uses');
    assert.deepEqual([s.runAnon, s.runAnonMounts], ['x\n', 1], 'volumes=["/data"] (Binds and Config.Volumes both) is one anonymous volume');
    assert.deepEqual(s.lowCreate, { Name: 'pysdk-lowvol', Driver: 'local', Labels: { low: '1' } });
    assert.deepEqual(s.lowList, ['pysdk-lowvol']);
  });
});
