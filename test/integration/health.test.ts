/**
 * Health checks, docker's semantics, probed by the root's supervisor with no CLI alive: a passing check makes
 * a container healthy (inspect's State.Health with its log, ps's "(healthy)", ps --filter health=, the
 * health_status event); `retries` failures in a row make it unhealthy, with the probe's output kept; a probe
 * past its timeout is killed and fails with exit code -1; failures in the start period do not count; the
 * image's HEALTHCHECK is the default and --no-healthcheck turns it off. Bad flags are one line, exit 125,
 * nothing created. Over the API: Config.Healthcheck in and out.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { call, startApiServer, type ApiServer } from './api-server.ts';
import { REPO, cli, eventually, setupEnv, sleep, type Env } from './helpers.ts';

let env: Env;
const { ok, out, runD, inspect, allIds, rmf } = cli(() => env);

before(() => {
  env = setupEnv('health');
});
after(() => env.teardown());

interface Health {
  Status: string;
  FailingStreak: number;
  Log: { Start: string; End: string; ExitCode: number; Output: string }[];
}
const health = (id: string): Health | null => JSON.parse(inspect(id, '{{json .State.Health}}')) as Health | null;
const status = (id: string) => health(id)?.Status;

test('bad health flags are one line, exit 125, and create nothing', () => {
  const cases: [string[], string][] = [
    [['--health-cmd', 'true', '--health-interval', '1ns'], 'Interval in Healthcheck cannot be less than 1ms'],
    [['--health-cmd', 'true', '--health-timeout', '500us'], 'Timeout in Healthcheck cannot be less than 1ms'],
    [['--health-cmd', 'true', '--health-retries', '-1'], '--health-retries cannot be negative'],
    [['--health-cmd', 'true', '--health-interval', '-1s'], '--health-interval cannot be negative'],
    [['--health-cmd', 'true', '--health-interval', 'often'], 'invalid argument "often" for "--health-interval" flag: time: invalid duration "often"'],
    [['--no-healthcheck', '--health-cmd', 'true'], '--no-healthcheck conflicts with --health-* options'],
  ];
  for (const [flags, line] of cases) {
    const r = env.berth(['run', '-d', ...flags, 'busybox', 'sleep', '1']);
    assert.equal(r.code, 125, `${flags.join(' ')}: ${r.stderr}`);
    assert.equal(r.stderr, `Error: ${line}\n`);
  }
  assert.deepEqual(allIds(), []);
});

test('a passing check makes it healthy, failures in a row unhealthy; ps, filters and events show it', async () => {
  const since = new Date(Date.now() - 1000).toISOString();
  const id = runD(['--health-cmd', 'test -e /tmp/ok && echo fine', '--health-interval', '200ms', '--health-retries', '2', 'busybox', 'sh', '-c', 'touch /tmp/ok; sleep 1000']);
  assert.equal(status(id), 'starting');
  assert.ok(await eventually(() => status(id) === 'healthy' || undefined, 15_000), 'healthy in time');
  const h = health(id)!;
  assert.equal(h.FailingStreak, 0);
  assert.ok(h.Log.length >= 1 && h.Log.length <= 5);
  assert.deepEqual([h.Log.at(-1)!.ExitCode, h.Log.at(-1)!.Output], [0, 'fine\n']);
  assert.ok(Date.parse(h.Log.at(-1)!.End) >= Date.parse(h.Log.at(-1)!.Start));
  assert.match(out(['ps', '--filter', `id=${id}`, '--format', '{{.Status}}']), /^Up .+ \(healthy\)\n$/);
  assert.equal(out(['ps', '-q', '--no-trunc', '--filter', 'health=healthy']).trim(), id);
  assert.equal(out(['ps', '-q', '--filter', 'health=unhealthy']), '');
  assert.deepEqual(JSON.parse(inspect(id, '{{json .Config.Healthcheck}}')), { Test: ['CMD-SHELL', 'test -e /tmp/ok && echo fine'], Interval: 200e6, Retries: 2 });
  ok(['exec', id, 'rm', '/tmp/ok']);
  assert.ok(await eventually(() => status(id) === 'unhealthy' || undefined, 15_000), 'unhealthy in time');
  const bad = health(id)!;
  assert.ok(bad.FailingStreak >= 2);
  assert.equal(bad.Log.at(-1)!.ExitCode, 1);
  assert.ok(bad.Log.length <= 5, 'the last 5 results only');
  await sleep(1500);
  assert.equal(health(id)!.Log.length, 5);
  const actions = ok(['events', '--since', since, '--until', new Date().toISOString(), '--filter', `container=${id}`, '--format', '{{.Action}}'])
    .stdout.split('\n')
    .filter((a) => a.startsWith('health_status'));
  assert.deepEqual(actions, ['health_status: healthy', 'health_status: unhealthy']);
  rmf(id);
});

test('a probe past its timeout is killed and fails with -1; failures in the start period do not count', async () => {
  const slow = runD(['--health-cmd', 'sleep 5', '--health-timeout', '300ms', '--health-interval', '400ms', '--health-retries', '1', 'busybox', 'sleep', '1000']);
  assert.ok(await eventually(() => status(slow) === 'unhealthy' || undefined, 15_000), 'unhealthy in time');
  const last = health(slow)!.Log.at(-1)!;
  assert.deepEqual([last.ExitCode, last.Output], [-1, 'Health check exceeded timeout (300ms)']);
  assert.ok(Date.parse(last.End) - Date.parse(last.Start) < 3000, 'killed at the timeout, not waited for');
  await sleep(500);
  const procs = out(['exec', slow, 'ps', '-o', 'args']);
  assert.ok(procs.split('\n').filter((l) => l.trim() === 'sleep 5').length <= 1, `the timed-out probes were killed:\n${procs}`);
  const starting = runD(['--health-cmd', 'false', '--health-start-period', '30s', '--health-start-interval', '200ms', '--health-retries', '1', 'busybox', 'sleep', '1000']);
  assert.ok(await eventually(() => (health(starting)?.Log.length ?? 0) >= 3 || undefined, 15_000), 'probed in time');
  assert.deepEqual([status(starting), health(starting)!.FailingStreak], ['starting', 0]);
  assert.match(out(['ps', '--filter', `id=${starting}`, '--format', '{{.Status}}']), /\(health: starting\)\n$/);
  rmf(slow, starting);
});

test('the image\'s HEALTHCHECK is the default; --no-healthcheck turns it off', async () => {
  const tar = join(env.root, 'hc.tar');
  const mk = spawnSync('bash', [join(REPO, 'scripts', 'mkimage-busybox'), tar], { encoding: 'utf8' });
  assert.equal(mk.status, 0, mk.stderr);
  ok(['import', '--change', 'CMD ["sleep", "1000"]', '--change', 'HEALTHCHECK --interval=200ms --retries=2 CMD ["true"]', tar, 'hc:1']);
  const withCheck = runD(['hc:1']);
  assert.ok(await eventually(() => status(withCheck) === 'healthy' || undefined, 15_000), 'healthy in time');
  assert.deepEqual(JSON.parse(inspect(withCheck, '{{json .Config.Healthcheck}}')), { Test: ['CMD', 'true'], Interval: 200e6, Retries: 2 });
  const without = runD(['--no-healthcheck', 'hc:1']);
  await sleep(800);
  assert.equal(inspect(without, '{{json .State.Health}}'), 'null');
  assert.deepEqual(JSON.parse(inspect(without, '{{json .Config.Healthcheck}}')), { Test: ['NONE'] });
  assert.match(out(['ps', '--filter', `id=${without}`, '--format', '{{.Status}}']), /^Up [^(]+\n$/);
  assert.equal(out(['ps', '-q', '--no-trunc', '--filter', 'health=none']).trim(), without);
  rmf(withCheck, without);
  ok(['rmi', 'hc:1']);
});

test('over the API: Config.Healthcheck in and out, docker\'s refusals, probes run by berth serve', async () => {
  const api: ApiServer = await startApiServer('health-api');
  try {
    const create = (hc: object) => call(api.sock, 'POST', '/containers/create', { Image: 'busybox', Cmd: ['sleep', '1000'], HostConfig: { NetworkMode: 'none' }, Healthcheck: hc });
    const bad = await create({ Test: ['CMD', 'true'], Interval: 1 });
    assert.equal(bad.status, 400);
    assert.match(bad.text, /Interval in Healthcheck cannot be less than 1ms/);
    const made = await create({ Test: ['CMD-SHELL', 'echo ok'], Interval: 200e6, Retries: 1 });
    assert.equal(made.status, 201, made.text);
    const id = (JSON.parse(made.text) as { Id: string }).Id;
    assert.equal((await call(api.sock, 'POST', `/containers/${id}/start`)).status, 204);
    const read = async () => JSON.parse((await call(api.sock, 'GET', `/containers/${id}/json`)).text) as { State: { Health?: Health }; Config: { Healthcheck: unknown } };
    const deadline = Date.now() + 15_000;
    let j = await read();
    while (j.State.Health?.Status !== 'healthy' && Date.now() < deadline) {
      await sleep(100);
      j = await read();
    }
    assert.equal(j.State.Health?.Status, 'healthy');
    assert.equal(j.State.Health!.Log.at(-1)!.Output, 'ok\n');
    assert.deepEqual(j.Config.Healthcheck, { Test: ['CMD-SHELL', 'echo ok'], Interval: 200e6, Retries: 1 });
    assert.equal((await call(api.sock, 'DELETE', `/containers/${id}?force=1`)).status, 204);
  } finally {
    await api.stop();
  }
});
