/**
 * The engine's own logic on FakeDriver, in milliseconds and without mounts, namespaces, cgroups or conmon:
 * runs and their exit codes, reconciliation (sync) of what the monitor recorded or did not, repair after a
 * process killed while holding a container's lock, failed starts, and exec records.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readdirSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { Engine } from '../../src/engine/engine.ts';
import type { RootfsMounter } from '../../src/engine/rootfs.ts';
import { CommandNotFound, Conflict } from '../../src/errors.ts';
import { FakeDriver } from '../../src/runtime/fake.ts';
import { isAlive } from '../../src/sys/proc.ts';
import { REPO } from '../integration/helpers.ts';

/** The layers copied into the target, bottom first: a root filesystem without a mount (no whiteouts: tests only). */
const copiedRootfs: RootfsMounter = {
  async mount(lower, _upper, _work, target) {
    for (const layer of [...lower].reverse()) cpSync(realpathSync(layer), target, { recursive: true, verbatimSymlinks: true });
  },
  async unmount(target) {
    for (const f of readdirSync(target)) rmSync(join(target, f), { recursive: true, force: true });
  },
};

let driver: FakeDriver;
let engine: Engine;
let root: string;
const notices: string[] = [];

before(async () => {
  root = mkdtempSync('/var/tmp/berth-engine-fake-');
  driver = new FakeDriver();
  engine = new Engine({ root, driver, rootfs: copiedRootfs, exitCommand: [], notice: (m) => notices.push(m), warn: () => {} });
  const tar = join(root, 'busybox.tar');
  const mk = spawnSync('bash', [join(REPO, 'scripts', 'mkimage-busybox'), tar], { encoding: 'utf8' });
  assert.equal(mk.status, 0, mk.stderr);
  await engine.images.importTar(tar, 'busybox:latest', ['CMD ["sh"]']);
});

after(() => {
  driver.shutdown();
  engine.close();
  rmSync(root, { recursive: true, force: true });
});

const none = { image: 'busybox', network: 'none' };

test('run: output in the log, the exit code, the states docker shows, and remove', async () => {
  const c = await engine.run({ ...none, cmd: ['sh', '-c', 'echo hi; echo oops >&2; exit 3'] });
  assert.equal(await c.wait(), 3);
  const row = engine.inspect(c.id);
  assert.equal(row.state, 'exited');
  assert.equal(row.exitCode, 3);
  assert.ok(Date.parse(row.finishedAt) >= Date.parse(row.startedAt));
  const logs = await c.logs();
  assert.equal(logs.filter((r) => r.stream === 'stdout').map((r) => r.data.toString()).join(''), 'hi\n');
  assert.equal(logs.filter((r) => r.stream === 'stderr').map((r) => r.data.toString()).join(''), 'oops\n');
  // started again, it runs again
  await engine.start(c.id);
  assert.equal(await engine.wait(c.id), 3);
  await c.remove();
  assert.deepEqual((await engine.list(true)).map((r) => r.id), []);
});

test('sync: a monitor that dies without a record makes the container exited (-1) once its process is gone too', async () => {
  const c = await engine.run({ ...none, cmd: ['sleep', '100'] });
  const row = engine.inspect(c.id);
  assert.equal(row.state, 'running');
  driver.crashMonitor(engine.dir(c.id));
  await waitFor(() => !isAlive(row.monitorPid, row.monitorStart));
  // the process still runs: the container cannot be called exited
  assert.equal(engine.inspect(c.id).state, 'running');
  process.kill(row.pid, 'SIGKILL');
  await waitFor(() => !isAlive(row.pid, row.pidStart));
  const synced = engine.inspect(c.id);
  assert.equal(synced.state, 'exited');
  assert.equal(synced.exitCode, -1);
  assert.match(synced.error, /the monitor exited without reporting an exit status/);
  await engine.remove(c.id, true);
});

test('a failed start: docker exit code class, the container stays created with the error, nothing runs', async () => {
  const row = await engine.create({ ...none, cmd: ['no-such-command'] });
  await assert.rejects(engine.start(row.id), CommandNotFound);
  const after = engine.inspect(row.id);
  assert.equal(after.state, 'created');
  assert.equal(after.exitCode, 127);
  assert.match(after.error, /no-such-command/);
  assert.equal(after.mounted, false, 'the rootfs was released');
  assert.equal(await driver.state(row.id), null, "the runtime's record is gone");
  await engine.remove(row.id);
});

test('repair: a create whose process died midway is removed; a start whose process died is reset or adopted', async () => {
  // A row left `creating` by a dead holder: the next lock taker removes it.
  const dead = deadProcess();
  const half = await engine.create({ ...none, cmd: ['true'] });
  engine.containers.update(half.id, { state: 'creating', lockPid: dead.pid, lockStart: dead.start });
  notices.length = 0;
  await engine.repair();
  assert.equal(engine.containers.get(half.id), undefined);
  assert.match(notices.join('\n'), /cleaned up container .* left half-made by an interrupted process/);

  // A start that died after the runtime ran the process: adopted as running.
  const ran = await engine.run({ ...none, cmd: ['sleep', '100'] });
  const live = engine.inspect(ran.id);
  engine.containers.update(ran.id, { state: 'created', monitorPid: 0, monitorStart: 0, pid: 0, pidStart: 0, lockPid: dead.pid, lockStart: dead.start });
  await engine.repair();
  const adopted = engine.inspect(ran.id);
  assert.equal(adopted.state, 'running');
  assert.equal(adopted.pid, live.pid);
  assert.equal(adopted.monitorPid, live.monitorPid, "the monitor's pid comes from the driver");
  assert.match(notices.join('\n'), /adopted container/);
  await engine.remove(ran.id, true);

  // A start that died after create but before start: reset to created, and it starts again cleanly.
  const created = await engine.create({ ...none, cmd: ['sh', '-c', 'exit 5'] });
  await engine.start(created.id, {
    beforeStart: async (row) => {
      // the holder "dies" here: its lock names a dead process from now on
      engine.containers.update(row.id, { lockPid: dead.pid, lockStart: dead.start });
      throw new Error('killed');
    },
  }).catch(() => {});
  engine.containers.update(created.id, { state: 'created', lockPid: dead.pid, lockStart: dead.start });
  await engine.repair();
  assert.equal(engine.inspect(created.id).state, 'created');
  await engine.start(created.id);
  assert.equal(await engine.wait(created.id), 5);
  await engine.remove(created.id);
});

test('state table: pause and unpause, restart under one lock, kill of a stopped container refused', async () => {
  const c = await engine.run({ ...none, cmd: ['sh', '-c', 'trap "exit 0" TERM; echo ready; while :; do sleep 0.05; done'] });
  // A SIGTERM before the shell set its trap would kill it (143): wait until each run says it is ready.
  const ready = async (n: number) => waitForAsync(async () => (await c.logs()).filter((r) => r.data.toString() === 'ready\n').length >= n);
  await ready(1);
  await engine.pause(c.id);
  assert.equal(engine.inspect(c.id).state, 'paused');
  await assert.rejects(engine.pause(c.id), Conflict);
  await engine.unpause(c.id);
  const before = engine.inspect(c.id);
  const restarted = await engine.restart(c.id, 5);
  assert.equal(restarted.state, 'running');
  assert.notEqual(restarted.pid, before.pid);
  assert.equal(restarted.restartCount, 0, 'a user restart is not counted (docker counts only the policy\'s)');
  await ready(2);
  await engine.stop(c.id, 5);
  assert.equal(engine.inspect(c.id).exitCode, 0);
  await assert.rejects(engine.kill(c.id), Conflict);
  await engine.remove(c.id);
});

test('exec: output through the stream, the exit recorded on the session, a missing command refused', async () => {
  const c = await engine.run({ ...none, cmd: ['sleep', '100'] });
  const h = await engine.exec(c.id, { cmd: ['sh', '-c', 'echo in; exit 4'] });
  let out = '';
  h.stream!.on('stdout', (d) => (out += d.toString()));
  assert.equal(await h.exit, 4);
  assert.equal(out, 'in\n');
  assert.equal(engine.execInspect(h.id).exitCode, 4);
  await assert.rejects(engine.exec(c.id, { cmd: ['nope'] }), CommandNotFound);
  await engine.remove(c.id, true);
});

test('exec create then start: recorded by the engine, started once, a size asked before the start applied, unstarted ones bounded', async () => {
  const c = await engine.run({ ...none, cmd: ['sleep', '100'] });
  const since = engine.events.after(0).at(-1)?.seq ?? 0;
  const created = engine.execCreate(c.id, { cmd: ['sh', '-c', 'echo later; exit 5'], tty: true, stderr: false, detachKeys: 'ctrl-x' });
  assert.deepEqual([created.started, created.running, created.exitCode, created.pid], [false, false, null, 0]);
  assert.deepEqual(engine.events.after(since).map((e) => e.action), ['exec_create: sh -c echo later; exit 5']);
  // Another engine on the same store sees it (it is not one process's memory).
  const other = new Engine({ root, driver, rootfs: copiedRootfs, exitCommand: [] });
  try {
    assert.equal(other.execInspect(created.id.slice(0, 12)).config.detachKeys, 'ctrl-x');
  } finally {
    other.close();
  }
  await engine.execResize(created.id, 30, 100);
  const h = await engine.execStart(created.id);
  assert.deepEqual(driver.sizeOf(join(engine.dir(c.id), 'exec', created.id.slice(0, 12))), [30, 100]);
  let out = '';
  h.stream!.on('stdout', (d) => (out += d.toString()));
  assert.equal(await h.exit, 5);
  assert.match(out, /later/);
  const ended = engine.execInspect(created.id);
  assert.deepEqual([ended.started, ended.running, ended.exitCode, ended.config.stderr], [true, false, 5, false]);
  await assert.rejects(engine.execStart(created.id), (e: Error) => e instanceof Conflict && /has already run/.test(e.message));
  await assert.rejects(engine.execResize(created.id, 1, 1), Conflict);
  assert.throws(() => engine.execCreate(c.id, { cmd: ['true'], detachKeys: 'ctrl-' }), /Invalid detach keys/);
  assert.throws(() => engine.execCreate(c.id, { cmd: ['true'], workdir: 'rel' }), /needs to be an absolute path/);

  const first = engine.execCreate(c.id, { cmd: ['true'] });
  for (let i = 0; i < 100; i++) engine.execCreate(c.id, { cmd: ['true'] });
  assert.equal(engine.execs.forContainer(c.id).filter((s) => !s.started).length, 100, 'unstarted sessions kept per container');
  assert.throws(() => engine.execInspect(first.id), /No such exec instance/, 'the oldest unstarted one was forgotten');
  await engine.remove(c.id, true);
  assert.deepEqual(engine.execs.forContainer(c.id), []);
});

/** A (pid, start time) that names no live process: a lock holder that died. */
test('reset: containers (a running one killed) and volumes go, images with the files; configuration and files not the engine\'s stay; the engine closes', async () => {
  const r = mkdtempSync('/var/tmp/berth-engine-fake-reset-');
  const d = new FakeDriver();
  const said: string[] = [];
  const e = new Engine({ root: r, driver: d, rootfs: copiedRootfs, exitCommand: [], notice: (m) => said.push(m), warn: (m) => said.push(m) });
  try {
    await e.images.importTar(join(root, 'busybox.tar'), 'busybox:latest', []);
    const running = e.inspect((await e.run({ ...none, cmd: ['sleep', '100'] })).id);
    const exited = await e.run({ ...none, cmd: ['true'] });
    assert.equal(await exited.wait(), 0);
    e.volumes.create({ name: 'data' }, () => 'unused');
    writeFileSync(join(r, 'daemon.json'), '{}');
    writeFileSync(join(r, 'notes.txt'), 'mine');
    const report = await e.reset();
    assert.deepEqual(report, { errors: [], found: [] });
    assert.deepEqual(readdirSync(r).sort(), ['daemon.json', 'notes.txt']);
    assert.ok(!isAlive(running.pid, running.pidStart), 'the running container was killed');
    assert.match(said.join('\n'), /kept in .*, not the engine's: notes\.txt/);
    assert.throws(() => e.containers, /the engine is closed/);
  } finally {
    d.shutdown();
    rmSync(r, { recursive: true, force: true });
  }
});

function deadProcess(): { pid: number; start: number } {
  const p = spawnSync('true');
  return { pid: p.pid!, start: 1 };
}

async function waitForAsync(fn: () => Promise<boolean>, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await fn())) {
    if (Date.now() > end) assert.fail('timed out');
    await new Promise((r) => setTimeout(r, 10));
  }
}

async function waitFor(fn: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!fn()) {
    if (Date.now() > end) assert.fail('timed out');
    await new Promise((r) => setTimeout(r, 10));
  }
}

