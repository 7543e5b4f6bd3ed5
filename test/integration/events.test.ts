/**
 * Events, through both faces over one store: `berth events` and the API's /events (read by the real
 * docker CLI: `docker events`, and `docker stats`, which finds new containers through events). What one
 * process does, a reader in another sees, in order, exactly once.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { after, before, test } from 'node:test';
import { DOCKER, docker, dockerEnv, needsDockerCli, startApiServer, type ApiServer } from './api-server.ts';
import { BERTH, eventually, type Env } from './helpers.ts';

let api: ApiServer;
let env: Env;
const readers: ChildProcess[] = [];

before(async () => {
  api = await startApiServer('events');
  env = api.env;
});

after(async () => {
  for (const r of readers) if (r.exitCode === null && r.signalCode === null) r.kill('SIGKILL');
  await api?.stop();
});

/** A long-running reader (berth events, docker events, docker stats) whose output is collected. */
function reader(cmd: string, args: string[], envv?: NodeJS.ProcessEnv): { out: () => string; stop: () => Promise<number | null> } {
  const c = spawn(cmd, args, { env: envv ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
  readers.push(c);
  let out = '';
  c.stdout!.on('data', (b: Buffer) => (out += b.toString()));
  c.stderr!.on('data', (b: Buffer) => (out += b.toString()));
  const exited = new Promise<number | null>((r) => c.once('exit', (code) => r(code)));
  return {
    out: () => out,
    stop: async () => {
      if (c.exitCode === null && c.signalCode === null) c.kill('SIGINT');
      return exited;
    },
  };
}

/** Unix seconds with a fraction: the form the docker CLI sends and berth accepts. */
const nowSecs = () => (Date.now() / 1000).toFixed(3);
const lines = (s: string) => s.split('\n').filter(Boolean);

test('berth events follows what another process does to a container, from --since, in order', async () => {
  const since = nowSecs();
  const r = reader(BERTH, ['--root', env.root, 'events', '--since', since, '--filter', 'container=ev-follow', '--format', '{{.Type}} {{.Action}} {{.Actor.Attributes.name}}']);
  const run = env.berth(['run', '--rm', '--network', 'none', '--name', 'ev-follow', 'busybox', 'sh', '-c', 'exit 3']);
  assert.equal(run.code, 3, run.stderr);
  await eventually(() => /destroy/.test(r.out()), 10_000);
  assert.equal(await r.stop(), 0, 'SIGINT ends events with 0');
  assert.deepEqual(lines(r.out()), ['create', 'start', 'die', 'destroy'].map((a) => `container ${a} ev-follow`));
});

test('a container life: exec, pause, rename, stop and rm each reported once, with docker attributes', () => {
  const since = nowSecs();
  const id = env.berth(['run', '-d', '--network', 'none', '--name', 'ev-life', '--label', 'tier=db', 'busybox', 'sleep', '300']).stdout.trim();
  assert.match(id, /^[0-9a-f]{64}$/);
  assert.equal(env.berth(['exec', 'ev-life', 'sh', '-c', 'exit 2']).code, 2);
  for (const args of [['pause', 'ev-life'], ['unpause', 'ev-life'], ['rename', 'ev-life', 'ev-life2'], ['stop', '-t', '1', 'ev-life2'], ['rm', 'ev-life2']]) {
    const r = env.berth(args);
    assert.equal(r.code, 0, `${args.join(' ')}: ${r.stderr}`);
  }
  const r = env.berth(['events', '--since', since, '--until', nowSecs(), '--filter', `container=${id.slice(0, 12)}`, '--format', 'json']);
  assert.equal(r.code, 0, r.stderr);
  const evs = lines(r.stdout).map((l) => JSON.parse(l) as { Action: string; timeNano: number; Actor: { ID: string; Attributes: Record<string, string> } });
  const actions = evs.map((e) => e.Action.split(':')[0]);
  assert.deepEqual(actions, ['create', 'start', 'exec_create', 'exec_start', 'exec_die', 'pause', 'unpause', 'rename', 'kill', 'kill', 'die', 'stop', 'destroy']);
  assert.ok(evs.every((e) => e.Actor.ID === id && e.Actor.Attributes.tier === 'db' && e.Actor.Attributes.image === 'busybox'), 'labels and image on every event');
  assert.equal(evs[2]!.Action, 'exec_create: sh -c exit 2');
  assert.equal(evs[4]!.Actor.Attributes.exitCode, '2');
  assert.equal(evs[7]!.Actor.Attributes.oldName, '/ev-life');
  assert.equal(evs[7]!.Actor.Attributes.name, 'ev-life2');
  assert.deepEqual([evs[8]!.Actor.Attributes.signal, evs[9]!.Actor.Attributes.signal], ['15', '9'], 'sleep as pid 1 ignores SIGTERM: SIGKILL after 1 s');
  assert.equal(evs[10]!.Actor.Attributes.exitCode, '137');
  // Filters narrow: only the die, and nothing for another container's name.
  const die = env.berth(['events', '--since', since, '--until', nowSecs(), '--filter', 'event=die', '--filter', 'label=tier=db', '--format', '{{.Actor.Attributes.exitCode}}']);
  assert.deepEqual(lines(die.stdout), ['137']);
  // docker's Go field names in templates, the nanoseconds exact, the same instant as the JSON message's.
  const go = env.berth(['events', '--since', since, '--until', nowSecs(), '--filter', 'event=die', '--filter', 'label=tier=db', '--format', '{{.Status}} {{.ID}} {{.Scope}} {{.Time}} {{.TimeNano}}']);
  const [status, actor, scope, secs, nanos] = lines(go.stdout)[0]!.split(' ');
  assert.deepEqual([status, actor, scope], ['die', id, 'local']);
  assert.match(nanos!, /^\d{19}$/);
  assert.equal(BigInt(nanos!) / 1_000_000_000n, BigInt(secs!));
  assert.equal(BigInt(nanos!) / 1000n, BigInt(Math.round(evs[10]!.timeNano / 1000)), "the JSON number is a double: compare microseconds");
  const none = env.berth(['events', '--since', since, '--until', nowSecs(), '--filter', 'container=no-such-name']);
  assert.equal(none.code, 0);
  assert.equal(none.stdout, '');
});

test('docker events over the API: containers, networks, volumes and images in docker\'s shape', needsDockerCli, () => {
  const since = nowSecs();
  assert.equal(docker(api, ['run', '--rm', '--network', 'none', '--name', 'ev-api', 'busybox', 'true']).code, 0);
  for (const args of [['network', 'create', 'ev-net'], ['network', 'rm', 'ev-net'], ['volume', 'create', 'ev-vol'], ['volume', 'rm', 'ev-vol'], ['tag', 'busybox', 'ev-img:1'], ['rmi', 'ev-img:1']]) {
    const r = docker(api, args);
    assert.equal(r.code, 0, `docker ${args.join(' ')}: ${r.stderr}`);
  }
  const r = docker(api, ['events', '--since', since, '--until', nowSecs(), '--format', '{{json .}}']);
  assert.equal(r.code, 0, r.stderr);
  type Ev = { status?: string; id?: string; from?: string; Type: string; Action: string; Actor: { ID: string; Attributes: Record<string, string> }; scope: string; time: number; timeNano: number };
  const evs = lines(r.stdout).map((l) => JSON.parse(l) as Ev);
  for (const e of evs) {
    assert.equal(e.scope, 'local');
    assert.ok(Number.isInteger(e.time) && e.time >= Math.floor(Number(since)), `time ${e.time}`);
    assert.equal(Math.floor(e.timeNano / 1e9), e.time);
  }
  const summary = evs.map((e) => `${e.Type} ${e.Action} ${e.Actor.Attributes.name ?? e.Actor.ID}`);
  assert.deepEqual(summary, [
    'container create ev-api',
    'container start ev-api',
    'container die ev-api',
    'container destroy ev-api',
    'network create ev-net',
    'network destroy ev-net',
    'volume create ev-vol',
    'volume destroy ev-vol',
    'image tag ev-img:1',
    'image untag ev-img:1',
  ]);
  const c = evs[0]!;
  assert.equal(c.status, 'create');
  assert.equal(c.id, c.Actor.ID);
  assert.equal(c.from, 'busybox');
  assert.equal(evs[6]!.Actor.ID, 'ev-vol');
  assert.equal(evs[6]!.Actor.Attributes.driver, 'local');
  assert.equal(evs[4]!.Actor.Attributes.type, 'bridge');
  assert.match(evs[8]!.Actor.ID, /^sha256:[0-9a-f]{64}$/);
  // The default line: time, type, action, id, sorted attributes.
  const plain = docker(api, ['events', '--since', since, '--until', nowSecs(), '--filter', 'type=volume']);
  assert.match(lines(plain.stdout)[0]!, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}(Z|[+-]\d\d:\d\d) volume create ev-vol \(driver=local\)$/);
});

test('docker events and docker stats follow live: a container the berth CLI starts shows up in both', needsDockerCli, async () => {
  const since = nowSecs();
  const evs = reader(DOCKER, ['events', '--since', since, '--filter', 'type=container', '--filter', 'event=start', '--format', '{{.Actor.Attributes.name}}'], dockerEnv(api));
  // stats without names lists the running containers, then learns of new ones from /events.
  const stats = reader(DOCKER, ['stats', '--format', 'NAME={{.Name}}'], dockerEnv(api));
  await eventually(() => stats.out().length > 0, 15_000);
  assert.doesNotMatch(stats.out(), /NAME=ev-live/);
  const run = env.berth(['run', '-d', '--network', 'none', '--name', 'ev-live', 'busybox', 'sleep', '300']);
  assert.equal(run.code, 0, run.stderr);
  assert.ok(await eventually(() => /^ev-live$/m.test(evs.out()), 10_000), `docker events saw: ${evs.out()}`);
  assert.ok(await eventually(() => /NAME=ev-live/.test(stats.out()), 15_000), `docker stats showed: ${stats.out().slice(-500)}`);
  await evs.stop();
  await stats.stop();
  assert.equal(env.berth(['rm', '-f', 'ev-live']).code, 0);
  // Readers that went away leave the server serving.
  assert.ok(api.alive(), api.log());
  assert.equal(docker(api, ['version', '--format', '{{.Server.APIVersion}}']).stdout.trim(), '1.51');
});

test('bad filters and times: a one-line error, from the CLI and from the API', needsDockerCli, () => {
  const bad = env.berth(['events', '--filter', 'bogus=1', '--until', '0s']);
  assert.equal(bad.code, 1);
  assert.equal(bad.stderr, "Error: invalid filter 'bogus'\n");
  const time = env.berth(['events', '--since', 'yesterday']);
  assert.equal(time.code, 1);
  assert.match(time.stderr, /^Error: invalid value for "--since": failed to parse value as time or duration: "yesterday"\n$/);
  const viaApi = docker(api, ['events', '--filter', 'type=boat', '--until', '0s']);
  assert.equal(viaApi.code, 1);
  assert.match(viaApi.stderr, /invalid filter 'type=boat'/);
});
