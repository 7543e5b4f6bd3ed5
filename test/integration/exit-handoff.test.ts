/**
 * Exits handed to an engine that watches its root (src/engine/exit-handoff.ts): while one watches, a
 * container's exit is cleaned up in the watcher's process (its postStop hook runs there), --rm included;
 * once it stops, the CLI's own cleanup takes exits again. An exit handed over while the lock's holder reads
 * nothing (a watcher killed between the two) is cleaned up by the next `ps`, and the next watcher clears
 * what was left for it.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { Engine } from '../../src/index.ts';
import { REPO, cli, conmonsOf, eventually, setupEnv, sleep, type Env } from './helpers.ts';

let env: Env;
const { ok, runD, inspect, allIds } = cli(() => env);

before(() => {
  env = setupEnv('exit-handoff');
});
after(() => env.teardown());

const mounted = (id: string) => readFileSync('/proc/self/mountinfo', 'utf8').includes(join(env.root, 'containers', id));
const handedOver = () => readdirSync(join(env.root, 'exits'));

/** An engine on the test's root that records the containers whose postStop ran in this process. */
function watcherEngine(): { engine: Engine; cleaned: string[] } {
  const cleaned: string[] = [];
  // Given explicitly: an engine with a postStop hook otherwise gives its own containers no exit command.
  const engine = new Engine({ root: env.root, hooks: { postStop: (row) => void cleaned.push(row.id) } });
  return { engine, cleaned };
}

test('while an engine watches, exits are cleaned up in its process; after it stops, by the CLI again', async () => {
  const { engine, cleaned } = watcherEngine();
  const watch = await engine.supervise();
  try {
    const id = runD(['busybox', 'sh', '-c', 'sleep 0.2; exit 3']);
    assert.ok(await eventually(() => cleaned.includes(id) || undefined), 'in time');
    assert.equal(inspect(id, '{{.State.Status}} {{.State.ExitCode}}'), 'exited 3');
    assert.ok(await eventually(() => !mounted(id) || undefined), 'in time');
    // Waited for in this process only: a `ps` now would clean up an exit the watcher has not reached yet.
    const gone = runD(['--rm', 'busybox', 'true']);
    assert.ok(await eventually(() => cleaned.includes(gone) || undefined), 'in time');
    assert.ok(await eventually(() => !allIds().includes(gone) || undefined), 'in time');
    assert.deepEqual(handedOver(), []);
  } finally {
    await watch.close();
  }
  const after = runD(['busybox', 'true']);
  assert.ok(await eventually(() => !mounted(after) || undefined), 'in time');
  assert.equal(inspect(after, '{{.State.Status}}'), 'exited');
  assert.ok(!cleaned.includes(after), 'with the watch closed the exit is not handed over');
  engine.close();
  ok(['rm', ...allIds()]);
});

test('an exit handed to a holder that reads nothing is cleaned up by the next ps, and the next watcher clears it', async () => {
  // A lock holder that is no watcher stands for one killed between taking an exit and cleaning it up.
  const holder = spawn('flock', ['-x', join(env.root, 'exit-watch.lock'), 'sleep', '60'], { stdio: 'ignore' });
  try {
    await sleep(300);
    const id = runD(['busybox', 'true']);
    assert.ok(await eventually(() => handedOver().includes(id) || undefined), 'in time');
    await sleep(300);
    assert.ok(mounted(id), 'nobody cleaned it up yet');
    ok(['ps', '-a']);
    assert.ok(!mounted(id), '`ps` cleaned it up');
    assert.equal(inspect(id, '{{.State.Status}}'), 'exited');
  } finally {
    holder.kill();
  }
  await new Promise((r) => holder.once('exit', r));
  const { engine, cleaned } = watcherEngine();
  const watch = await engine.supervise();
  try {
    assert.ok(await eventually(() => handedOver().length === 0 || undefined), 'in time');
    assert.deepEqual(cleaned, [], 'nothing was left to clean up');
  } finally {
    await watch.close();
    engine.close();
  }
  ok(['rm', ...allIds()]);
});

test("a container's exit command is this checkout's launcher, whichever `berth` is on the PATH", () => {
  const id = runD(['busybox', 'sleep', '30']);
  try {
    const [monitor] = conmonsOf(id);
    assert.ok(monitor, 'its monitor runs');
    const args = readFileSync(`/proc/${monitor}/cmdline`, 'utf8').split('\0');
    const command = args.flatMap((a, i) => (a === '--exit-command' || a === '--exit-command-arg' ? [args[i + 1]!] : []));
    const launcher = command.findIndex((a) => a.endsWith('/berth'));
    assert.deepEqual(command.slice(launcher, launcher + 5), [join(REPO, 'bin', 'berth'), '--root', env.root, 'container', 'cleanup'], command.join(' '));
  } finally {
    ok(['rm', '-f', id]);
  }
});
