/**
 * Restart policies, docker's semantics, with no CLI process alive while they act: `on-failure:N` restarts
 * failures N times; `always` restarts any exit until the user stops it; `unless-stopped` is not brought back
 * after a kill; `restarting` shows in inspect and ps while a restart waits (and `rm` wants -f then); `update
 * --restart` applies from the next exit; a simulated reboot (conmon and the container killed with SIGKILL) is
 * undone by the documented boot command for exactly the containers docker's daemon would start. Bad policies
 * are one line and exit 125 with nothing created. The root's supervisor, started on demand, ends once nothing
 * needs it; `system reset` stops it. Over the API: the policy on create and on update, docker's refusals; `berth serve` runs the
 * supervisor itself.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { call, startApiServer, type ApiServer } from './api-server.ts';
import { cli, eventually, setupEnv, sleep, supervisorsOf, type Env } from './helpers.ts';

let env: Env;
const { ok, out, runD, inspect, allIds, rmf } = cli(() => env);

before(() => {
  env = setupEnv('restart');
});
after(() => env.teardown());

/** Status and restart count, as inspect shows them (inspect only: `ps` would clean up exits itself). */
const seen = (id: string) => inspect(id, '{{.State.Status}} {{.RestartCount}}');

/** The container's events since `since` (ISO), oldest first: their actions. */
function actions(id: string, since: string): string[] {
  const r = ok(['events', '--since', since, '--until', new Date().toISOString(), '--filter', `container=${id}`, '--format', '{{.Action}}']);
  return r.stdout.split('\n').filter((a) => a === 'start' || a === 'die');
}

describe('the CLI', () => {
  test('bad policies are one line, exit 125, and create nothing', () => {
    const cases: [string[], string][] = [
      [['--restart', 'bogus'], "invalid restart policy: unknown policy 'bogus'; use one of 'no', 'always', 'on-failure', or 'unless-stopped'"],
      [['--restart', 'on-failure:-1'], 'invalid restart policy: maximum retry count cannot be negative'],
      [['--restart', 'always:3'], "invalid restart policy: maximum retry count can only be used with 'on-failure'"],
      [['--restart', 'unless-stopped:-2'], "invalid restart policy: maximum retry count can only be used with 'on-failure' and cannot be negative"],
      [['--restart', 'on-failure:x'], 'invalid restart policy format: maximum retry count must be an integer'],
      [['--restart', ':3'], 'invalid restart policy format: no policy provided before colon'],
      [['--rm', '--restart', 'always'], 'conflicting options: cannot specify both --restart and --rm'],
    ];
    for (const verb of ['run', 'create']) {
      for (const [flags, line] of cases) {
        const r = env.berth([verb, ...flags, 'busybox', 'true']);
        assert.equal(r.code, 125, `${verb} ${flags.join(' ')}: ${r.stderr}`);
        assert.equal(r.stderr, `Error: ${line}\n`);
      }
    }
    assert.deepEqual(allIds(), []);
    const id = out(['create', 'busybox', 'true']).trim();
    const r = env.berth(['update', '--restart', 'bogus', id]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^Error: invalid restart policy: unknown policy 'bogus'/);
    assert.equal(inspect(id, '{{.HostConfig.RestartPolicy.Name}}'), 'no');
    const auto = out(['create', '--rm', 'busybox', 'true']).trim();
    const u = env.berth(['update', '--restart', 'always', auto]);
    assert.equal(u.stderr, 'Error: Restart policy cannot be updated because AutoRemove is enabled for the container\n');
    rmf(id, auto);
  });

  test('on-failure:2 restarts a failing container twice, with no CLI alive, then leaves it exited', async () => {
    const since = new Date().toISOString();
    const id = runD(['--restart', 'on-failure:2', 'busybox', 'sh', '-c', 'sleep 0.3; exit 3']);
    assert.equal(inspect(id, '{{.HostConfig.RestartPolicy.Name}}:{{.HostConfig.RestartPolicy.MaximumRetryCount}}'), 'on-failure:2');
    assert.ok(supervisorsOf(env.root).length > 0, 'a supervisor was started for it');
    assert.ok(await eventually(() => seen(id) === 'exited 2' || undefined, 20_000), 'in time');
    await sleep(1500);
    assert.equal(seen(id), 'exited 2', 'no third restart');
    assert.equal(inspect(id, '{{.State.ExitCode}}'), '3');
    assert.deepEqual(actions(id, since), ['start', 'die', 'start', 'die', 'start', 'die']);
    rmf(id);
    // Nothing left to watch over: the supervisor ends.
    assert.ok(await eventually(() => supervisorsOf(env.root).length === 0 || undefined, 10_000), 'in time');
  });

  test('always restarts clean exits too, until the user stops it; a start puts it back under its policy', async () => {
    const id = runD(['--restart', 'always', 'busybox', 'sh', '-c', 'sleep 0.3']);
    assert.ok(await eventually(() => Number(seen(id).split(' ')[1]) >= 2 || undefined, 20_000), 'in time');
    ok(['stop', '-t', '1', id]);
    const stopped = seen(id);
    assert.match(stopped, /^exited \d+$/);
    await sleep(1500);
    assert.equal(seen(id), stopped, 'a stopped container stays stopped');
    ok(['start', id]);
    const count = Number(stopped.split(' ')[1]);
    assert.equal(seen(id), `running ${count}`, 'the count goes on, as docker\'s RestartCount does');
    assert.ok(await eventually(() => Number(seen(id).split(' ')[1]) > count || undefined, 10_000), 'restarted again after its next exit');
    rmf(id);
  });

  test('unless-stopped: a kill with SIGKILL is the user stopping it; its own exit is restarted', async () => {
    const id = runD(['--restart', 'unless-stopped', 'busybox', 'sleep', '1000']);
    ok(['kill', id]);
    assert.ok(await eventually(() => seen(id).startsWith('exited') || undefined), 'in time');
    await sleep(1000);
    assert.equal(seen(id), 'exited 0');
    const own = runD(['--restart', 'unless-stopped', 'busybox', 'sh', '-c', 'sleep 0.3; exit 0']);
    assert.ok(await eventually(() => Number(seen(own).split(' ')[1]) >= 1 || undefined, 10_000), 'in time');
    rmf(id, own);
  });

  test('a restart that waits shows as restarting (and running) in inspect and ps; rm wants -f then', async () => {
    // Exits at once: the wait doubles from 100 ms, so after a few restarts it lasts long enough to look at.
    const id = runD(['--restart', 'always', 'busybox', 'sh', '-c', 'exit 1']);
    assert.ok(await eventually(() => (inspect(id, '{{.State.Status}} {{.State.Restarting}}') === 'restarting true' && Number(seen(id).split(' ')[1]) >= 4) || undefined, 30_000, 20), 'in time');
    const ps = out(['ps', '-a', '--filter', 'status=restarting', '--format', '{{.ID}} {{.Status}}']);
    assert.match(ps, new RegExp(`^${id.slice(0, 12)} Restarting \\(1\\) .+ ago\\n$`));
    // As docker's: still "running" to a client (Running true; listed without -a), so compose's stop finds it.
    assert.ok(await eventually(() => inspect(id, '{{.State.Status}} {{.State.Running}}') === 'restarting true', 10_000, 20), 'Running while restarting');
    assert.ok(await eventually(() => out(['ps', '-q', '--no-trunc', '--filter', 'status=restarting']) === `${id}\n`, 10_000, 20), 'ps without -a lists it');
    const rm = env.berth(['rm', id]);
    assert.equal(rm.code, 1);
    assert.equal(rm.stderr, `Error: cannot remove container "${id}": container is restarting: stop the container before removing or force remove\n`);
    rmf(id);
    assert.deepEqual(allIds(), []);
  });

  test('update --restart on a running container applies from its next exit', async () => {
    const id = runD(['busybox', 'sh', '-c', 'sleep 1; exit 5']);
    ok(['update', '--restart', 'on-failure:1', id]);
    assert.equal(inspect(id, '{{.HostConfig.RestartPolicy.Name}}:{{.HostConfig.RestartPolicy.MaximumRetryCount}}'), 'on-failure:1');
    assert.ok(await eventually(() => seen(id) === 'exited 1' || undefined, 20_000), 'in time');
    await sleep(1500);
    assert.equal(seen(id), 'exited 1');
    rmf(id);
  });

  test('after a simulated reboot the boot command starts always and unless-stopped containers the user did not stop', async () => {
    const always = runD(['--name', 'boot-always', '--restart', 'always', 'busybox', 'sleep', '1000']);
    const unless = runD(['--name', 'boot-unless', '--restart', 'unless-stopped', 'busybox', 'sleep', '1000']);
    const stopped = runD(['--name', 'boot-stopped', '--restart', 'unless-stopped', 'busybox', 'sleep', '1000']);
    const plain = runD(['--name', 'boot-plain', 'busybox', 'sleep', '1000']);
    ok(['stop', '-t', '0', stopped]);
    // A reboot: every monitor and container process gone at once, no exit recorded, the supervisor too.
    const monitors = [always, unless, plain].map((id) => Number(readFileSync(join(env.root, 'containers', id, 'conmon.pid'), 'utf8')));
    const pids = [always, unless, plain].map((id) => Number(inspect(id, '{{.State.Pid}}')));
    for (const pid of [...supervisorsOf(env.root), ...monitors]) process.kill(pid, 'SIGKILL');
    for (const pid of pids) process.kill(pid, 'SIGKILL');
    assert.ok(await eventually(() => pids.every((p) => !processExists(p)) || undefined), 'in time');
    const r = ok(['start', '--all', '--filter', 'restart-policy=always', '--filter', 'restart-policy=unless-stopped']);
    assert.deepEqual(r.stdout.split('\n').filter(Boolean).sort(), ['boot-always', 'boot-unless']);
    assert.equal(inspect(always, '{{.State.Status}}'), 'running');
    assert.equal(inspect(unless, '{{.State.Status}}'), 'running');
    assert.equal(inspect(stopped, '{{.State.Status}}'), 'exited');
    assert.equal(inspect(plain, '{{.State.Status}}'), 'exited');
    rmf(always, unless, stopped, plain);
  });
});

test('system reset -f stops the root\'s supervisor rather than refusing the root as in use', async () => {
  runD(['--restart', 'always', 'busybox', 'sleep', '1000']);
  assert.ok(supervisorsOf(env.root).length > 0);
  const r = env.berth(['system', 'reset', '-f']);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(supervisorsOf(env.root), []);
  assert.deepEqual(allIds(), []);
});

function processExists(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !/^\d+ \(.*\) [ZX]/.test(stat);
  } catch {
    return false;
  }
}

describe('the API', () => {
  let api: ApiServer;
  before(async () => {
    api = await startApiServer('restart-api');
  });
  after(async () => {
    await api?.stop();
  });

  test('the policy on create and update, docker\'s refusals, and restarts run by berth serve itself', async () => {
    const create = (body: object) => call(api.sock, 'POST', '/containers/create', { Image: 'busybox', ...body });
    const bad = await create({ Cmd: ['true'], HostConfig: { RestartPolicy: { Name: 'on-failure', MaximumRetryCount: -2 } } });
    assert.equal(bad.status, 400);
    assert.match(bad.text, /invalid restart policy: maximum retry count cannot be negative/);
    const auto = await create({ Cmd: ['true'], HostConfig: { AutoRemove: true, RestartPolicy: { Name: 'always' } } });
    assert.equal(auto.status, 400);
    assert.match(auto.text, /can't create 'AutoRemove' container with restart policy/);
    const made = await create({ Cmd: ['sh', '-c', 'sleep 0.3; exit 4'], HostConfig: { NetworkMode: 'none', RestartPolicy: { Name: 'on-failure', MaximumRetryCount: 1 } } });
    assert.equal(made.status, 201, made.text);
    const id = (JSON.parse(made.text) as { Id: string }).Id;
    const inspectJson = async () => JSON.parse((await call(api.sock, 'GET', `/containers/${id}/json`)).text) as { RestartCount: number; State: { Status: string }; HostConfig: { RestartPolicy: { Name: string; MaximumRetryCount: number } } };
    assert.deepEqual((await inspectJson()).HostConfig.RestartPolicy, { Name: 'on-failure', MaximumRetryCount: 1 });
    const upd = await call(api.sock, 'POST', `/containers/${id}/update`, { RestartPolicy: { Name: 'on-failure', MaximumRetryCount: 2 } });
    assert.equal(upd.status, 200, upd.text);
    assert.deepEqual(JSON.parse(upd.text), { Warnings: [] });
    const refused = await call(api.sock, 'POST', `/containers/${id}/update`, { RestartPolicy: { Name: 'sometimes' } });
    assert.equal(refused.status, 400);
    assert.deepEqual((await inspectJson()).HostConfig.RestartPolicy, { Name: 'on-failure', MaximumRetryCount: 2 });
    assert.equal((await call(api.sock, 'POST', `/containers/${id}/start`)).status, 204);
    const deadline = Date.now() + 20_000;
    let last = await inspectJson();
    while (!(last.State.Status === 'exited' && last.RestartCount === 2) && Date.now() < deadline) {
      await sleep(100);
      last = await inspectJson();
    }
    assert.deepEqual([last.State.Status, last.RestartCount], ['exited', 2]);
    assert.deepEqual(supervisorsOf(api.env.root), [], 'the server ran the restarts; no supervisor process was started');
    assert.equal((await call(api.sock, 'DELETE', `/containers/${id}`)).status, 204);
  });

  test('a stop over the API while a restart waits (or just as the container exits) keeps it down', async () => {
    // An always container that lives 50 ms: a stop lands while it runs, while its restart waits, or between
    // its exit and the cleanup that decides the restart. Whichever it met, the container stays down after it.
    for (let round = 0; round < 3; round++) {
      const made = await call(api.sock, 'POST', '/containers/create', { Image: 'busybox', Cmd: ['sh', '-c', 'sleep 0.05'], HostConfig: { NetworkMode: 'none', RestartPolicy: { Name: 'always' } } });
      assert.equal(made.status, 201, made.text);
      const id = (JSON.parse(made.text) as { Id: string }).Id;
      assert.equal((await call(api.sock, 'POST', `/containers/${id}/start`)).status, 204);
      const json = async () => JSON.parse((await call(api.sock, 'GET', `/containers/${id}/json`)).text) as { RestartCount: number; State: { Status: string; Running: boolean } };
      const state = async () => (await json()).State;
      const deadline = Date.now() + 20_000;
      while ((await json()).RestartCount < 1 + round && Date.now() < deadline) await sleep(20);
      assert.ok((await json()).RestartCount >= 1 + round, 'restarted');
      await sleep(37 * round);
      const stop = await call(api.sock, 'POST', `/containers/${id}/stop?t=1`);
      assert.equal(stop.status, 204, `a restarting or running container is stopped (round ${round}): ${stop.text}`);
      await sleep(1500);
      assert.deepEqual(await state(), { ...(await state()), Status: 'exited', Running: false }, `round ${round}`);
      assert.equal((await call(api.sock, 'POST', `/containers/${id}/stop`)).status, 304, 'a second stop has nothing to do');
      assert.equal((await call(api.sock, 'DELETE', `/containers/${id}`)).status, 204);
    }
  });
});
