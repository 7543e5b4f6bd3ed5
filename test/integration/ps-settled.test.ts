/**
 * `ps` lists a settled root from the store alone (src/engine/ps-list.ts): an exit that no berth command saw
 * must still show in that very `ps`, and the work a list does (recording the exit, releasing the mount) must
 * still be done by it.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { cli, conmonsOf, eventually, leaksUnder, setupEnv, type Env } from './helpers.ts';

let env: Env;
const { ok, runD, inspect, rmf } = cli(() => env);

before(() => {
  env = setupEnv('ps-settled');
});

after(() => {
  env?.teardown();
});

const statusOf = (id: string) => ok(['ps', '-a', '--no-trunc', '--format', '{{.ID}} {{.Status}}']).stdout.split('\n').find((l) => l.startsWith(id))?.slice(id.length + 1);

test('a container whose process and monitor died while no command ran shows as exited in the next ps, which cleans it up', async () => {
  const quiet = runD(['--network', 'none', 'busybox', 'sleep', '300']);
  const id = runD(['--network', 'none', 'busybox', 'sleep', '300']);
  try {
    assert.match(statusOf(id) ?? '', /^Up /);
    const pid = inspect(id).State.Pid;
    const monitors = conmonsOf(id);
    assert.equal(monitors.length, 1, 'one conmon watches the container');
    // The monitor first, so that no exit file and no exit command record anything: only a list can.
    process.kill(monitors[0]!, 'SIGKILL');
    process.kill(pid, 'SIGKILL');
    assert.ok(await eventually(() => !existsSync(`/proc/${pid}`) && conmonsOf(id).length === 0), 'the container and its monitor are gone');
    assert.match(statusOf(id) ?? '', /^Exited \(-1\) /);
    assert.match(statusOf(quiet) ?? '', /^Up /, 'the other container still runs');
    assert.deepEqual(leaksUnder(env.root).filter((l) => l.includes(id)), [], 'that ps released its mount');
  } finally {
    rmf(id, quiet);
  }
});
