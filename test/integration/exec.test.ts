/**
 * `exec` through the CLI and the library: docker's exit codes and errors, -d/-u/-w/-e/--env-file/
 * --privileged/--preserve-fds (and `run --preserve-fds`), stdio, recorded sessions (inspect, stop, cascade
 * on rm; an ended session's directory removed and old ended rows aged out), an exec with output only under
 * berth-exec-monitor (pipes, a killed CLI), and no monitor left behind after an exec.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { closeSync, existsSync, openSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Engine, NotFound } from '../../src/index.ts';
import { inspectExec, KEEP_ENDED, stopExec } from '../../src/engine/exec.ts';
import { BERTH, cli, eventually, setupEnv, type Env, conmonsOf, execMonitorsOf } from './helpers.ts';

let env: Env;
let engine: Engine;

before(() => {
  env = setupEnv('exec');
  engine = new Engine({ root: env.root });
});

after(async () => {
  engine?.close();
  if (!env) return;
  const ids = env.berth(['ps', '-aq', '--no-trunc']).stdout.split('\n').filter(Boolean);
  if (ids.length > 0) env.berth(['rm', '-f', ...ids]);
  await eventually(() => conmonsOf(env.root).length === 0, 10_000);
  env.teardown();
});

const { runD } = cli(() => env);

/**
 * Run a `sleep` container, hand its id to fn, then check that no exec conmon lingers (only the
 * container's own conmon within ~2 s) and remove the container.
 */
async function withCtr(name: string, fn: (id: string) => Promise<void> | void): Promise<void> {
  const id = runD(['--name', name, 'busybox', 'sleep', '1000']);
  try {
    await fn(id);
    const settled = await eventually(() => conmonsOf(id).length <= 1 && execMonitorsOf(id).length === 0, 2_000);
    assert.ok(settled, `exec monitors linger for ${name}: conmon ${conmonsOf(id).join(' ')}, berth-exec-monitor ${execMonitorsOf(id).join(' ')}`);
  } finally {
    env.berth(['rm', '-f', id]);
  }
}

/** The session directories of a container (containers/<id>/exec/<id12>/). */
function sessionDirs(id: string): string[] {
  const d = join(env.root, 'containers', id, 'exec');
  return existsSync(d) ? readdirSync(d) : [];
}

/** Every path under a directory, relative to it. */
function tree(dir: string): string[] {
  return (readdirSync(dir, { recursive: true }) as string[]).sort();
}

/** The one session of the container whose command is `cmd` (the CLI does not print a session's id). */
function sessionOf(id: string, cmd: string[]): string {
  const found = engine.execs.forContainer(id).filter((s) => JSON.stringify(s.config.cmd) === JSON.stringify(cmd));
  assert.equal(found.length, 1, `sessions running ${cmd.join(' ')}: ${found.length}`);
  return found[0]!.id;
}

function oneLine(s: string): void {
  assert.equal(s.trim().split('\n').length, 1, `expected a one-line error, got: ${JSON.stringify(s)}`);
}

test('exit codes: the process own, 127 missing command, 126 not executable, one-line errors', async () => {
  await withCtr('ex-codes', (id) => {
    const own = env.berth(['exec', id, 'sh', '-c', 'exit 3']);
    assert.equal(own.code, 3, own.stderr);
    assert.equal(own.stderr, '');

    const ok = env.berth(['exec', id, 'true']);
    assert.equal(ok.code, 0, ok.stderr);

    const missing = env.berth(['exec', id, 'no-such-command']);
    assert.equal(missing.code, 127);
    oneLine(missing.stderr);
    assert.match(missing.stderr, /no-such-command/);
    assert.match(missing.stderr, /not found/);

    const noexec = env.berth(['exec', id, '/etc/passwd']);
    assert.equal(noexec.code, 126);
    oneLine(noexec.stderr);
    assert.match(noexec.stderr, /permission denied/i);
  });
});

test('exec into a stopped, a paused or an unknown container fails with exit 1', async () => {
  await withCtr('ex-paused', (id) => {
    assert.equal(env.berth(['pause', id]).code, 0);
    try {
      const r = env.berth(['exec', id, 'true']);
      assert.equal(r.code, 1);
      oneLine(r.stderr);
      assert.match(r.stderr, /paused/);
    } finally {
      assert.equal(env.berth(['unpause', id]).code, 0);
    }
    const stop = env.berth(['stop', '-t', '0', id]);
    assert.equal(stop.code, 0, stop.stderr);
    const r = env.berth(['exec', id, 'true']);
    assert.equal(r.code, 1);
    oneLine(r.stderr);
    assert.match(r.stderr, /is not running/);
  });
  const unknown = env.berth(['exec', 'no-such-container-xyz', 'true']);
  assert.equal(unknown.code, 1);
  oneLine(unknown.stderr);
  assert.match(unknown.stderr, /No such container/i);
});

test('exec -d returns at once and its command runs', async () => {
  await withCtr('ex-detach', async (id) => {
    const t0 = Date.now();
    const d = env.berth(['exec', '-d', id, 'sh', '-c', 'sleep 1; touch /tmp/detached-ran']);
    const took = Date.now() - t0;
    assert.equal(d.code, 0, d.stderr);
    assert.equal(d.stdout, '');
    const seen = await eventually(() => env.berth(['exec', id, 'test', '-f', '/tmp/detached-ran']).code === 0, 5_000, 200);
    assert.ok(seen, 'the detached command never touched its file');
    // docker's exec -d returns as soon as the process started, not when it ends.
    assert.ok(took < 800, `exec -d waited for its command to end (${took} ms for a 'sleep 1' command)`);
  });
});

test('exec -u, -w, -e, --env-file', async () => {
  await withCtr('ex-opts', (id) => {
    const nobody = env.berth(['exec', '-u', 'nobody', id, 'id', '-u']);
    assert.equal(nobody.code, 0, nobody.stderr);
    assert.equal(nobody.stdout, '65534\n');

    const ug = env.berth(['exec', '-u', '0:33', id, 'sh', '-c', 'id -u; id -g']);
    assert.equal(ug.code, 0, ug.stderr);
    assert.equal(ug.stdout, '0\n33\n');

    const wd = env.berth(['exec', '-w', '/tmp', id, 'pwd']);
    assert.equal(wd.code, 0, wd.stderr);
    assert.equal(wd.stdout, '/tmp\n');

    const e = env.berth(['exec', '-e', 'A=1', '-e', 'B', id, 'sh', '-c', 'echo "$A|$B"'], { env: { B: 'from-caller' } });
    assert.equal(e.code, 0, e.stderr);
    assert.equal(e.stdout, '1|from-caller\n');

    const file = join(env.root, 'exec.env');
    writeFileSync(file, '# a comment\nX=1\n\nY=two words\n');
    const ef = env.berth(['exec', '--env-file', file, id, 'sh', '-c', 'echo "$X|$Y"']);
    assert.equal(ef.code, 0, ef.stderr);
    assert.equal(ef.stdout, '1|two words\n');
  });
});

test('exec --privileged has more capabilities, but never CAP_SYS_RESOURCE', async () => {
  const capEff = (s: string): bigint => {
    const m = /^CapEff:\s*([0-9a-f]+)$/m.exec(s);
    assert.ok(m, `no CapEff in ${s}`);
    return BigInt(`0x${m[1]}`);
  };
  const bits = (v: bigint): number => v.toString(2).replace(/0/g, '').length;
  await withCtr('ex-priv', (id) => {
    const plain = env.berth(['exec', id, 'cat', '/proc/self/status']);
    assert.equal(plain.code, 0, plain.stderr);
    const priv = env.berth(['exec', '--privileged', id, 'cat', '/proc/self/status']);
    assert.equal(priv.code, 0, priv.stderr);
    const a = capEff(plain.stdout);
    const b = capEff(priv.stdout);
    assert.ok(bits(b) > bits(a), `privileged CapEff ${b.toString(16)} not above ${a.toString(16)}`);
    assert.equal((b & a) === a, true, 'privileged keeps the default capabilities');
    assert.equal((b >> 24n) & 1n, 0n, 'CAP_SYS_RESOURCE (the engine lacks it) must not be granted');
  });
});

test('exec --preserve-fds 1 passes the caller fd 3 on', async () => {
  await withCtr('ex-fds', (id) => {
    const file = join(env.root, 'fd3.txt');
    writeFileSync(file, 'through fd 3\n');
    const fd = openSync(file, 'r');
    try {
      const r = spawnSync(BERTH, ['--root', env.root, 'exec', '--preserve-fds', '1', id, 'cat', '/proc/self/fd/3'], {
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'pipe', fd],
        timeout: 30_000,
      });
      assert.equal(r.status, 0, r.stderr);
      assert.equal(r.stdout, 'through fd 3\n');
    } finally {
      closeSync(fd);
    }
  });
});

test('run --preserve-fds 1 passes the caller fd 3 on (foreground and -d); without it there is no fd 3', async () => {
  const file = join(env.root, 'run-fd3.txt');
  writeFileSync(file, 'run through fd 3\n');
  const fd = openSync(file, 'r');
  let detached = '';
  try {
    const run = (args: string[]) =>
      spawnSync(BERTH, ['--root', env.root, 'run', ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe', fd], timeout: 60_000 });
    const fg = run(['--rm', '--preserve-fds', '1', 'busybox', 'cat', '/proc/self/fd/3']);
    assert.equal(fg.status, 0, fg.stderr);
    assert.equal(fg.stdout, 'run through fd 3\n');

    // The fd is the caller's open file (its offset too): read by a shell redirect as well.
    const sh = run(['--rm', '--preserve-fds', '1', 'busybox', 'sh', '-c', 'readlink /proc/self/fd/3; cat <&3']);
    assert.equal(sh.status, 0, sh.stderr);
    assert.equal(sh.stdout, `${file}\nrun through fd 3\n`);

    const none = run(['--rm', 'busybox', 'cat', '/proc/self/fd/3']);
    assert.equal(none.status, 1, `without --preserve-fds the container has no fd 3: ${none.stdout}`);
    assert.equal(none.stdout, '');

    const d = run(['-d', '--preserve-fds', '1', 'busybox', 'cat', '/proc/self/fd/3']);
    assert.equal(d.status, 0, d.stderr);
    detached = d.stdout.trim();
    assert.equal(env.berth(['wait', detached]).stdout.trim(), '0');
    assert.equal(env.berth(['logs', detached]).stdout, 'run through fd 3\n', 'run -d --preserve-fds: the container read fd 3');
  } finally {
    closeSync(fd);
    if (detached) env.berth(['rm', '-f', detached]);
  }
});

test('exec keeps stdout and stderr apart, forwards stdin with -i, and delivers long output whole', async () => {
  await withCtr('ex-stdio', (id) => {
    const s = env.berth(['exec', id, 'sh', '-c', 'echo out; echo err >&2; echo out2']);
    assert.equal(s.code, 0, s.stderr);
    assert.equal(s.stdout, 'out\nout2\n');
    assert.equal(s.stderr, 'err\n');

    const i = env.berth(['exec', '-i', id, 'cat'], { input: 'data\nmore data\n' });
    assert.equal(i.code, 0, i.stderr);
    assert.equal(i.stdout, 'data\nmore data\n');

    const long = env.berth(['exec', id, 'seq', '1', '200000']);
    assert.equal(long.code, 0, long.stderr);
    const lines = long.stdout.split('\n');
    assert.equal(lines.pop(), '', 'output ends with a newline');
    assert.equal(lines.length, 200000);
    assert.equal(lines[0], '1');
    assert.equal(lines[lines.length - 1], '200000');
  });
});

test('library: sessions are recorded, inspectable while running and after the end', async () => {
  await withCtr('ex-lib', async (id) => {
    const h = await engine.exec(id, { cmd: ['sleep', '2'], detach: true });
    assert.match(h.id, /^[0-9a-f]{64}$/);
    assert.ok(h.pid > 0);
    assert.equal(h.stream, undefined, 'a detached session has no stdio stream');
    const live = inspectExec(engine, h.id);
    assert.equal(live.running, true);
    assert.equal(live.exitCode, null);
    assert.equal(live.containerId, id);
    assert.deepEqual(live.config.cmd, ['sleep', '2']);
    assert.equal(live.config.detach, true);
    assert.equal(live.pid, h.pid);
    assert.equal(inspectExec(engine, h.id.slice(0, 12)).id, h.id, 'a unique prefix finds the session');

    const ended = await eventually(() => !inspectExec(engine, h.id).running, 6_000, 100);
    assert.ok(ended, 'the session still runs after its sleep 2');
    const done = inspectExec(engine, h.id);
    assert.equal(done.running, false);
    assert.equal(done.exitCode, 0);
    assert.equal(await h.exit, 0);

    const three = await engine.exec(id, { cmd: ['sh', '-c', 'exit 3'], detach: true });
    assert.equal(await three.exit, 3);
    assert.equal(inspectExec(engine, three.id).exitCode, 3);
    assert.ok(engine.execs.forContainer(id).length >= 2);
  });
});

test('library: stopExec kills a TERM-ignoring session after its timeout (137)', async () => {
  await withCtr('ex-stop', async (id) => {
    const h = await engine.exec(id, { cmd: ['sh', '-c', 'trap "" TERM; touch /tmp/trapped; sleep 100'], detach: true });
    assert.equal(inspectExec(engine, h.id).running, true);
    // The pid exists before sh has run its trap: a TERM sent earlier would end it at once (143).
    const trapped = await eventually(() => env.berth(['exec', id, 'test', '-f', '/tmp/trapped']).code === 0, 5_000, 50);
    assert.ok(trapped, 'the session never set its trap');
    const t0 = Date.now();
    const s = await stopExec(engine, h.id, 1);
    const took = Date.now() - t0;
    assert.ok(took >= 900 && took < 4000, `stopExec took ${took} ms, expected ~1 s`);
    assert.equal(s.running, false);
    assert.equal(s.exitCode, 137);
    assert.equal(inspectExec(engine, h.id).exitCode, 137);
  });
});

test('library: the sessions of a removed container are gone', async () => {
  let sid = '';
  let cid = '';
  await withCtr('ex-cascade', async (id) => {
    cid = id;
    const h = await engine.exec(id, { cmd: ['true'], detach: true });
    sid = h.id;
    assert.equal(await h.exit, 0);
    assert.ok(engine.execs.get(sid));
  });
  // withCtr removed the container.
  assert.equal(env.berth(['inspect', cid]).code, 1);
  assert.equal(engine.execs.get(sid), undefined);
  assert.deepEqual(engine.execs.forContainer(cid), []);
  assert.throws(() => inspectExec(engine, sid), NotFound);
});

test('an ended session leaves no directory, and its exit code stays inspectable', async () => {
  await withCtr('ex-clean', async (id) => {
    // CLI, attached: the session's end is stored, then its directory removed, before the CLI exits.
    const five = env.berth(['exec', id, 'sh', '-c', 'exit 5']);
    assert.equal(five.code, 5, five.stderr);
    assert.deepEqual(sessionDirs(id), [], 'the ended CLI session left its directory');
    const s5 = inspectExec(engine, sessionOf(id, ['sh', '-c', 'exit 5']));
    assert.equal(s5.running, false);
    assert.equal(s5.exitCode, 5);

    // Library, detached: the handle's exit resolves once the end is stored and the directory gone.
    const six = await engine.exec(id, { cmd: ['sh', '-c', 'exit 6'], detach: true });
    assert.equal(await six.exit, 6);
    assert.deepEqual(sessionDirs(id), []);
    assert.equal(inspectExec(engine, six.id).exitCode, 6);

    // CLI `exec -d` leaves before its process ends: the directory stays while it runs; the next exec of
    // the container stores its end (from conmon's exit file) and removes it, without any inspect.
    const d = env.berth(['exec', '-d', id, 'sh', '-c', 'sleep 0.5; exit 7']);
    assert.equal(d.code, 0, d.stderr);
    const sid = sessionOf(id, ['sh', '-c', 'sleep 0.5; exit 7']);
    assert.deepEqual(sessionDirs(id), [sid.slice(0, 12)], 'the running detached session has its directory');
    const row = engine.execs.get(sid)!;
    assert.equal(row.running, true);
    const ended = await eventually(() => !existsSync(`/proc/${row.pid}`), 10_000, 50);
    assert.ok(ended, 'the detached session never ended');
    const next = env.berth(['exec', id, 'true']);
    assert.equal(next.code, 0, next.stderr);
    assert.deepEqual(sessionDirs(id), [], 'the next exec did not sweep the ended detached session');
    const stored = engine.execs.get(sid)!;
    assert.equal(stored.running, false);
    assert.equal(stored.exitCode, 7, 'the sweep stored the exit code of the detached session');
    assert.equal(inspectExec(engine, sid).exitCode, 7);

    // stopExec still gets its code when the session's holder stores the end and removes the directory.
    const long = await engine.exec(id, { cmd: ['sleep', '100'], detach: true });
    const stopped = await stopExec(engine, long.id, 1);
    assert.equal(stopped.exitCode, 143);
    assert.equal(await long.exit, 143);
    assert.deepEqual(sessionDirs(id), []);
  });
});

test(`many execs do not grow the container: no directories left, ended sessions capped at ${KEEP_ENDED}`, async () => {
  await withCtr('ex-many', async (id) => {
    const dir = join(env.root, 'containers', id);
    const warm = env.berth(['exec', id, 'true']);
    assert.equal(warm.code, 0, warm.stderr);
    const before = tree(dir);
    for (let i = 0; i < 10; i++) {
      const r = env.berth(['exec', i % 2 ? '-d' : '-i', id, 'true'], { input: '' });
      assert.equal(r.code, 0, r.stderr);
    }
    // The last `exec -d` may still be running (its end is stored by the next exec, or an inspect).
    const last = engine.execs.forContainer(id).at(-1)!;
    const done = await eventually(() => !inspectExec(engine, last.id).running, 10_000, 50);
    assert.ok(done, 'the last exec -d never ended');
    assert.deepEqual(tree(dir), before, 'ten execs changed what the container directory holds');

    // Past KEEP_ENDED ended sessions, those that ended first are forgotten; running ones never are, and one
    // that ends after the others is kept however old it is.
    const running = await engine.exec(id, { cmd: ['sleep', '100'], detach: true });
    const first = engine.execs.forContainer(id)[0]!.id;
    const ids: string[] = [];
    for (let i = 0; i < KEEP_ENDED + 5; i += 5) {
      const batch = await Promise.all(Array.from({ length: 5 }, () => engine.exec(id, { cmd: ['true'], detach: true })));
      for (const h of batch) {
        assert.equal(await h.exit, 0);
        ids.push(h.id);
      }
    }
    const rows = engine.execs.forContainer(id);
    const endedRows = rows.filter((r) => r.exitCode !== null);
    assert.equal(endedRows.length, KEEP_ENDED, `ended sessions kept: ${endedRows.length}`);
    assert.ok(rows.some((r) => r.id === running.id && r.running), 'the running session was dropped');
    assert.throws(() => inspectExec(engine, first), NotFound, 'the session that ended first is still there');
    assert.equal(inspectExec(engine, ids.at(-1)!).exitCode, 0, 'the session that ended last is gone');
    assert.deepEqual(sessionDirs(id), [running.id.slice(0, 12)], 'only the running session has a directory');
    assert.equal((await stopExec(engine, running.id, 1)).exitCode, 143);
    assert.equal(inspectExec(engine, running.id).exitCode, 143, 'the session that ended last was forgotten');
    assert.equal(engine.execs.forContainer(id).filter((r) => r.exitCode !== null).length, KEEP_ENDED);
    assert.deepEqual(tree(dir), before, 'the container directory grew');
  });
});

test('an exec with output only: real pipes, a child left running does not hold it, a killed CLI still records the end', async () => {
  await withCtr('ex-piped', async (id) => {
    // Its stdout and stderr are pipes, as docker gives them: /dev/stdout and /dev/stderr open.
    const dev = env.berth(['exec', id, 'sh', '-c', 'echo out > /dev/stdout; echo err > /dev/stderr']);
    assert.equal(dev.code, 0, dev.stderr);
    assert.equal(dev.stdout, 'out\n');
    assert.equal(dev.stderr, 'err\n');

    // The exec ends with its process, not with a child it left holding the output.
    const bg = env.berth(['exec', id, 'sh', '-c', 'sleep 60 & echo started'], { timeoutMs: 30_000 });
    assert.equal(bg.code, 0, bg.stderr);
    assert.equal(bg.stdout, 'started\n');
    env.berth(['exec', id, 'pkill', 'sleep 60']);

    // The CLI killed while its process runs: the process is not killed by a broken pipe when it writes
    // next, and its exit code is recorded by the monitor for the next exec's sweep to store.
    const cmd = ['sh', '-c', 'sleep 1; echo late; echo survived > /tmp/piped; exit 4'];
    const child = spawn(BERTH, ['--root', env.root, 'exec', id, ...cmd], { stdio: ['ignore', 'pipe', 'pipe'] });
    const exited = new Promise<void>((r) => child.on('close', () => r()));
    const running = await eventually(() => engine.execs.forContainer(id).some((s) => JSON.stringify(s.config.cmd) === JSON.stringify(cmd) && s.pid > 0), 10_000, 20);
    assert.ok(running, 'the exec never recorded its pid');
    child.kill('SIGKILL');
    await exited;
    const sid = sessionOf(id, cmd);
    const pid = engine.execs.get(sid)!.pid;
    const ended = await eventually(() => !existsSync(`/proc/${pid}`), 10_000, 50);
    assert.ok(ended, 'the process never ended');
    const wrote = env.berth(['exec', id, 'cat', '/tmp/piped']);
    assert.equal(wrote.stdout, 'survived\n', `the process died when it wrote after its CLI was killed (cat: exit ${wrote.code} ${wrote.stderr})`);
    assert.equal(inspectExec(engine, sid).exitCode, 4);
    assert.deepEqual(sessionDirs(id), []);
  });
});
