/**
 * The typed library face: `Engine` from src/index.ts over a root the CLI also uses. Lifecycle callbacks,
 * typed errors, the CLI and the library seeing the same containers, stop/kill, and logs by stream.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  BerthError,
  Conflict,
  Container,
  Engine,
  NoSuchContainer,
  NoSuchImage,
  NotFound,
  type ContainerRow,
  type LogRecord,
} from '../../src/index.ts';
import { eventually, setupEnv, type Env, conmonsOf } from './helpers.ts';

let env: Env;
let engine: Engine;
const calls: { stage: 'preStart' | 'start' | 'postStop'; id: string; state: string }[] = [];
const notices: string[] = [];

const record = (stage: 'preStart' | 'start' | 'postStop') => (c: ContainerRow) => {
  calls.push({ stage, id: c.id, state: c.state });
};

function callsFor(id: string): string[] {
  return calls.filter((c) => c.id === id).map((c) => c.stage);
}


before(() => {
  env = setupEnv('library');
  engine = new Engine({
    root: env.root,
    hooks: { preStart: record('preStart'), start: record('start'), postStop: record('postStop') },
    notice: (m) => notices.push(m),
  });
});

after(async () => {
  engine?.close();
  if (!env) return;
  const ids = env.berth(['ps', '-aq', '--no-trunc']).stdout.split('\n').filter(Boolean);
  if (ids.length > 0) env.berth(['rm', '-f', ...ids]);
  // A detached container's conmon may still be running its exit command (see badinput's rm -f test).
  await eventually(() => conmonsOf(env.root).length === 0, 10_000);
  env.teardown();
});

test('the library exports the engine, the handle and the error classes', () => {
  assert.equal(typeof Engine, 'function');
  assert.equal(typeof Container, 'function');
  assert.ok(new NoSuchImage('x') instanceof NotFound);
  assert.ok(new NoSuchContainer('x') instanceof BerthError);
});

test('create → start → wait → inspect → remove, with preStart, start, postStop once each in order', async () => {
  const row = await engine.create({ image: 'busybox', name: 'lib-life', cmd: ['sh', '-c', 'echo hello; exit 3'] });
  assert.match(row.id, /^[0-9a-f]{64}$/);
  assert.equal(row.state, 'created');
  assert.equal(row.name, 'lib-life');
  assert.deepEqual(row.config.args, ['sh', '-c', 'echo hello; exit 3']);
  assert.deepEqual(callsFor(row.id), [], 'create runs no lifecycle callback');

  const started = await engine.start(row.id);
  assert.ok(['running', 'exited'].includes(started.state), started.state);
  assert.deepEqual(callsFor(row.id), ['preStart', 'start']);

  const code = await engine.wait(row.id);
  assert.equal(code, 3);
  const st = engine.inspect('lib-life');
  assert.equal(st.state, 'exited');
  assert.equal(st.exitCode, 3);
  assert.notEqual(st.finishedAt, '');

  // The CLI agrees.
  assert.equal(env.berth(['inspect', '-f', '{{.State.Status}} {{.State.ExitCode}}', 'lib-life']).stdout.trim(), 'exited 3');

  await engine.remove(row.id);
  assert.throws(() => engine.inspect(row.id), NoSuchContainer);
  assert.ok(!existsSync(join(env.root, 'containers', row.id)), 'its directory is gone');
  // postStop ran exactly once, after start: in this process, whoever cleaned up the runtime state first
  // (conmon's exit command is a separate process that does not know this engine's callbacks).
  assert.deepEqual(callsFor(row.id), ['preStart', 'start', 'postStop']);
});

test('postStop runs once: an engine with a postStop callback cleans up itself when it sees the exit', async () => {
  const row = await engine.create({ image: 'busybox', name: 'lib-late', cmd: ['true'] });
  await engine.start(row.id);
  assert.equal(await engine.wait(row.id), 0);
  // No conmon exit command runs for such an engine (it could not call back into this process): wait()
  // itself released the mount and the runtime's state.
  assert.equal(engine.inspect(row.id).mounted, false);
  assert.deepEqual(callsFor(row.id), ['preStart', 'start', 'postStop']);
  await engine.remove(row.id);
  assert.deepEqual(callsFor(row.id), ['preStart', 'start', 'postStop']);
});

test('StartedAt is never after FinishedAt, even for a container that exits at once', async () => {
  const bad: string[] = [];
  for (let i = 0; i < 5; i++) {
    const c = await engine.run({ image: 'busybox', cmd: ['true'] });
    await c.wait();
    const st = c.state();
    if (Date.parse(st.startedAt) > Date.parse(st.finishedAt)) bad.push(`startedAt ${st.startedAt} > finishedAt ${st.finishedAt}`);
    await c.remove({ force: true });
  }
  // docker records StartedAt before any exit can be processed; here StartedAt is taken after runtime start
  // returns, while FinishedAt is the exit file's mtime.
  assert.deepEqual(bad, []);
});

test('an attached start: the caller cleans up and postStop runs once', async () => {
  const row = await engine.create({ image: 'busybox', cmd: ['true'] });
  await engine.start(row.id, { attached: true });
  assert.equal(await engine.wait(row.id), 0);
  const cleaned = await engine.cleanup(row.id);
  assert.equal(cleaned.state, 'exited');
  assert.equal(cleaned.mounted, false);
  await engine.cleanup(row.id); // idempotent
  await engine.remove(row.id);
  assert.deepEqual(callsFor(row.id), ['preStart', 'start', 'postStop']);
});

test('a preStart that throws aborts the start and leaves the container created and unmounted', async () => {
  const failing = new Engine({
    root: env.root,
    hooks: {
      preStart: () => {
        throw new Error('refused by preStart');
      },
    },
    notice: (m) => notices.push(m),
  });
  try {
    const row = await failing.create({ image: 'busybox', cmd: ['true'] });
    await assert.rejects(failing.start(row.id), /refused by preStart/);
    const st = failing.inspect(row.id);
    assert.equal(st.state, 'created');
    assert.equal(st.mounted, false);
    assert.equal(st.monitorPid, 0);
    assert.match(st.error, /refused by preStart/);
    assert.ok(!readFileSync('/proc/self/mountinfo', 'utf8').includes(join(env.root, 'containers', row.id)), 'rootfs unmounted');
    await failing.remove(row.id);
  } finally {
    failing.close();
  }
});

test('create with an unknown image rejects with NoSuchImage and leaves no row', async () => {
  const before = (await engine.list(true)).map((r) => r.id).sort();
  const dirs = readdirSync(join(env.root, 'containers')).sort();
  await assert.rejects(engine.create({ image: 'nosuchimage:1', name: 'never' }), (e: unknown) => {
    assert.ok(e instanceof NoSuchImage, `NoSuchImage, got ${String(e)}`);
    assert.ok(e instanceof NotFound);
    assert.equal(e.exitCode, 125);
    assert.equal(e.httpStatus, 404);
    assert.match(e.message, /No such image: nosuchimage:1/);
    return true;
  });
  assert.deepEqual((await engine.list(true)).map((r) => r.id).sort(), before);
  assert.deepEqual(readdirSync(join(env.root, 'containers')).sort(), dirs);
  assert.throws(() => engine.find('never'), NoSuchContainer);
});

test('engine.list(true) and the CLI see the same containers', async () => {
  const cli = env.berth(['create', '--name', 'from-cli', 'busybox', 'true']);
  assert.equal(cli.code, 0, cli.stderr);
  const cliId = cli.stdout.trim();
  const listed = await engine.list(true);
  const fromCli = listed.find((r) => r.name === 'from-cli');
  assert.equal(fromCli?.id, cliId);
  assert.equal(fromCli?.state, 'created');
  assert.ok(!(await engine.list(false)).some((r) => r.id === cliId), 'created is not listed without all');

  const lib = await engine.create({ image: 'busybox', name: 'from-lib', cmd: ['true'] });
  const names = env.berth(['ps', '-a', '--format', '{{.Names}}']).stdout.split('\n');
  assert.ok(names.includes('from-lib'), names.join(','));
  assert.equal(env.berth(['ps', '-aq', '--no-trunc', '--filter', 'name=from-lib']).stdout.trim(), lib.id);

  // Removed by one face, gone for the other.
  assert.equal(env.berth(['rm', 'from-lib']).code, 0);
  assert.ok(!(await engine.list(true)).some((r) => r.id === lib.id));
  await engine.remove('from-cli');
  assert.equal(env.berth(['inspect', '--type', 'container', 'from-cli']).code, 1);
});

test('create refuses a taken name with NameConflict (409) and leaves no second row', async () => {
  const a = await engine.create({ image: 'busybox', name: 'lib-taken', cmd: ['true'] });
  await assert.rejects(engine.create({ image: 'busybox', name: 'lib-taken', cmd: ['true'] }), (e: unknown) => {
    assert.ok(e instanceof BerthError);
    assert.equal(e.httpStatus, 409);
    assert.ok(e.message.includes(a.id));
    return true;
  });
  assert.equal((await engine.list(true)).filter((r) => r.name === 'lib-taken').length, 1);
  await engine.remove(a.id);
});

test('stop with a timeout: SIGTERM ignored by pid 1, SIGKILL after the timeout', async () => {
  const c = await engine.run({ image: 'busybox', cmd: ['sleep', '1000'] });
  assert.ok(c instanceof Container);
  assert.equal(c.state().state, 'running');
  const t0 = Date.now();
  const row = await engine.stop(c.id, 1);
  const took = Date.now() - t0;
  assert.ok(took >= 900, `waited the timeout before SIGKILL (${took} ms)`);
  assert.ok(took < 10_000, `but not the default 10 s (${took} ms)`);
  assert.equal(row.state, 'exited');
  assert.equal(engine.inspect(c.id).exitCode, 137);
  assert.deepEqual(callsFor(c.id), ['preStart', 'start', 'postStop']);
  await c.remove();
  assert.deepEqual(callsFor(c.id), ['preStart', 'start', 'postStop']);
});

test('stop of a process that handles SIGTERM returns as soon as it exits', async () => {
  const c = await engine.run({ image: 'busybox', cmd: ['sh', '-c', 'trap "exit 7" TERM; while :; do sleep 0.1; done'] });
  await eventually(() => c.state().state === 'running');
  await new Promise((r) => setTimeout(r, 200)); // let sh install its trap
  const t0 = Date.now();
  await c.stop(30);
  assert.ok(Date.now() - t0 < 5000, `took ${Date.now() - t0} ms`);
  assert.equal(c.state().exitCode, 7);
  await c.remove();
});

test('kill: default SIGKILL, named signals, and Conflict once stopped', async () => {
  const c = await engine.run({ image: 'busybox', cmd: ['sleep', '1000'] });
  await c.kill();
  assert.equal(await c.wait(), 137);
  await assert.rejects(engine.kill(c.id, 'TERM'), (e: unknown) => e instanceof Conflict && /is not running/.test(e.message));
  await c.remove();

  const t = await engine.run({ image: 'busybox', cmd: ['sh', '-c', 'trap "exit 42" USR1; while :; do sleep 0.1; done'] });
  await new Promise((r) => setTimeout(r, 300));
  await engine.kill(t.id, 'usr1');
  assert.equal(await t.wait(), 42);
  await assert.rejects(engine.kill(t.id, 'NOPE'), /Invalid signal: NOPE/);
  await t.remove();
});

test('remove of a running container needs force', async () => {
  const c = await engine.run({ image: 'busybox', cmd: ['sleep', '1000'] });
  await assert.rejects(engine.remove(c.id), (e: unknown) => e instanceof Conflict && e.exitCode === 125);
  assert.equal(c.state().state, 'running');
  await engine.remove(c.id, true);
  assert.throws(() => c.state(), NoSuchContainer);
  assert.deepEqual(callsFor(c.id), ['preStart', 'start', 'postStop']);
});

test('readLogs collects records by stream, in order', async () => {
  const c = await engine.run({
    image: 'busybox',
    cmd: ['sh', '-c', 'echo out1; echo err1 >&2; printf "no-newline"; sleep 0.1; echo " out2"; echo err2 >&2'],
  });
  const live: LogRecord[] = [];
  await engine.readLogs(c.id, (r) => live.push(r), { follow: true });
  assert.equal(await c.wait(), 0);
  const by = (recs: LogRecord[], s: 'stdout' | 'stderr') => Buffer.concat(recs.filter((r) => r.stream === s).map((r) => r.data)).toString();
  assert.equal(by(live, 'stdout'), 'out1\nno-newline out2\n');
  assert.equal(by(live, 'stderr'), 'err1\nerr2\n');
  for (const r of live) assert.ok(!Number.isNaN(Date.parse(r.time)), r.time);

  const again = await c.logs();
  assert.equal(by(again, 'stdout'), by(live, 'stdout'));
  assert.equal(by(again, 'stderr'), by(live, 'stderr'));
  const tail = await c.logs({ tail: 1 });
  assert.equal(tail.length, 1);
  assert.equal(tail[0]!.data.toString(), 'err2\n');

  // The CLI splits the streams the same way.
  const cli = env.berth(['logs', c.id]);
  assert.equal(cli.stdout, 'out1\nno-newline out2\n');
  assert.equal(cli.stderr, 'err1\nerr2\n');
  await c.remove();
});

test('the Container handle: inspect JSON, pause and unpause', async () => {
  const c = await engine.run({ image: 'busybox', name: 'lib-handle', cmd: ['sleep', '1000'] });
  const j = c.inspect() as { Id: string; Name: string; State: { Status: string; Running: boolean } };
  assert.equal(j.Id, c.id);
  assert.equal(j.Name, '/lib-handle');
  assert.equal(j.State.Status, 'running');
  await c.pause();
  assert.equal(c.state().state, 'paused');
  assert.equal(env.berth(['inspect', '-f', '{{.State.Status}}', 'lib-handle']).stdout.trim(), 'paused');
  await c.unpause();
  assert.equal(c.state().state, 'running');
  await c.remove({ force: true });
});

test('no repair notices were needed', () => {
  assert.deepEqual(notices, []);
});

test('two operations of one process on one container take turns: the lock is reentrant only within an operation', async () => {
  const c = await engine.run({ image: 'busybox', cmd: ['sleep', '30'] });
  const order: string[] = [];
  const holder = engine.withLock(c.id, async () => {
    order.push('held');
    await new Promise((r) => setTimeout(r, 400));
    // Nested calls inside the holding operation still go through.
    await engine.withLock(c.id, async () => order.push('nested'));
    order.push('released');
  });
  await new Promise((r) => setTimeout(r, 50));
  const paused = engine.pause(c.id).then(() => order.push('paused'));
  await Promise.all([holder, paused]);
  assert.deepEqual(order, ['held', 'nested', 'released', 'paused']);
  await engine.remove(c.id, true);
});
