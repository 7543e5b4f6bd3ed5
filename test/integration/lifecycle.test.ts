/**
 * Container lifecycle through the CLI, as a docker user sees it: run/create/start/stop/kill/pause/rm,
 * exit codes and streams, reconciliation from conmon's exit file, crash safety of the CLI, resource
 * limits and the common `run` flags. Real containers under runc + conmon; every test removes its own.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BERTH, berthCgroups, cli, eventually, leaksUnder, setupEnv, show, sleep, type Env, type Result } from './helpers.ts';

let env: Env;
const scratch: string[] = [];

before(() => {
  env = setupEnv('lifecycle');
});

after(() => {
  for (const d of scratch) rmSync(d, { recursive: true, force: true });
  env.teardown();
});

// ---- small helpers ----

const { ok, runD, inspect, rmf, psIds } = cli(() => env);

function logsOf(ref: string): Result {
  return ok(['logs', ref]);
}

/** Wait until the container's log (stdout) contains `text`. */
async function logsContain(ref: string, text: string, ms = 10_000): Promise<boolean> {
  return eventually(() => logsOf(ref).stdout.includes(text), ms, 50);
}

function hostDir(): string {
  const d = mkdtempSync('/tmp/berth-lifecycle-data-');
  scratch.push(d);
  return d;
}

function lineCount(file: string): number {
  try {
    return readFileSync(file, 'utf8').split('\n').filter(Boolean).length;
  } catch {
    return 0;
  }
}

function cmdlineOf(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8');
  } catch {
    return '';
  }
}

function ppidOf(pid: number): number {
  const m = /^PPid:\s+(\d+)$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) : 0;
}

// ---- run, exit codes, streams ----

test('run --rm echo hello: prints hello, exits 0, leaves no container', () => {
  const r = ok(['run', '--rm', 'busybox', 'echo', 'hello']);
  assert.equal(r.stdout, 'hello\n');
  assert.equal(ok(['ps', '-aq']).stdout, '');
});

test('exit code passes through and stderr stays on stderr', () => {
  const r = env.berth(['run', '--rm', 'busybox', 'sh', '-c', 'exit 42']);
  assert.equal(r.code, 42, show(r));

  const s = env.berth(['run', '--rm', 'busybox', 'sh', '-c', 'echo out; echo err >&2']);
  assert.equal(s.code, 0, show(s));
  assert.equal(s.stdout, 'out\n');
  assert.equal(s.stderr, 'err\n');
  assert.equal(ok(['ps', '-aq']).stdout, '');
});

test('exit codes of containers that exit at once are never lost (30 runs)', () => {
  // conmon writes its exit file and then exits; a reader that saw neither must not record -1 (255).
  const codes: number[] = [];
  for (let i = 0; i < 30; i++) codes.push(env.berth(['run', '--rm', 'busybox', 'sh', '-c', `exit ${i + 1}`]).code);
  assert.deepEqual(codes, Array.from({ length: 30 }, (_, i) => i + 1));
});

test('run -d: 64-hex id, ps header and row, ps -q, inspect fields, unique-prefix lookup', () => {
  const id = runD(['--name', 'lc-detached', 'busybox', 'sleep', '300']);
  try {
    const ps = ok(['ps']).stdout.split('\n');
    assert.match(ps[0]!, /^CONTAINER ID\s{2,}IMAGE\s{2,}COMMAND\s{2,}CREATED\s{2,}STATUS\s{2,}PORTS\s{2,}NAMES$/);
    const row = ps.find((l) => l.startsWith(id.slice(0, 12)));
    assert.ok(row, `ps lists ${id.slice(0, 12)}:\n${ps.join('\n')}`);
    assert.match(row, /busybox\s+"sleep 300"\s+.*Up .*lc-detached$/);
    assert.deepEqual(psIds(), [id.slice(0, 12)]);

    const j = inspect('lc-detached');
    assert.equal(j.Id, id);
    assert.equal(j.Name, '/lc-detached');
    assert.equal(j.State.Status, 'running');
    assert.equal(j.State.Running, true);
    assert.ok(j.State.Pid > 0, `pid ${j.State.Pid}`);
    assert.ok(existsSync(`/proc/${j.State.Pid}`), `/proc/${j.State.Pid} exists on the host`);
    assert.ok(cmdlineOf(j.State.Pid).startsWith('sleep\x00300'), `pid ${j.State.Pid} is the container's sleep`);

    assert.equal(ok(['inspect', '-f', '{{.Name}}', id.slice(0, 6)]).stdout, '/lc-detached\n');
    assert.equal(ok(['inspect', '-f', '{{.Id}}', id]).stdout, `${id}\n`);
    const missing = env.berth(['inspect', 'lc-no-such-container']);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /No such/);
  } finally {
    rmf(id);
  }
});

// ---- stop, kill ----

test('stop -t 1 of a process ignoring SIGTERM: SIGKILL after ~1 s, ExitCode 137', async () => {
  const id = runD(['busybox', 'sh', '-c', 'trap "" TERM; echo ready; while true; do sleep 0.1; done']);
  try {
    assert.ok(await logsContain(id, 'ready'), 'container reached its loop');
    const t0 = Date.now();
    const r = ok(['stop', '-t', '1', id]);
    const took = Date.now() - t0;
    assert.equal(r.stdout, `${id}\n`);
    assert.ok(took >= 900, `stop returned after ${took} ms, before the 1 s grace period`);
    assert.ok(took < 8000, `stop took ${took} ms`);
    const j = inspect(id);
    assert.equal(j.State.Status, 'exited');
    assert.equal(j.State.ExitCode, 137);
    assert.equal(j.State.Running, false);
    assert.equal(j.State.Pid, 0);
  } finally {
    rmf(id);
  }
});

test('stop of a process honouring SIGTERM is fast with ExitCode 143 (--init and a trap)', async () => {
  const init = runD(['--init', 'busybox', 'sleep', '1000']);
  const trap = runD(['busybox', 'sh', '-c', 'trap "exit 143" TERM; echo ready; while :; do sleep 0.1; done']);
  try {
    assert.ok(await logsContain(trap, 'ready'));
    for (const id of [init, trap]) {
      const t0 = Date.now();
      ok(['stop', '-t', '10', id]);
      const took = Date.now() - t0;
      assert.ok(took < 5000, `stop of a TERM-honouring container took ${took} ms (grace was 10 s)`);
      const j = inspect(id);
      assert.equal(j.State.Status, 'exited');
      assert.equal(j.State.ExitCode, 143, `container ${id.slice(0, 12)}`);
    }
  } finally {
    rmf(init, trap);
  }
});

test('kill -s USR1 is delivered; kill defaults to KILL (137); kill of a stopped container fails', async () => {
  const id = runD(['busybox', 'sh', '-c', 'trap "echo got-usr1" USR1; echo ready; while :; do sleep 0.1; done']);
  try {
    assert.ok(await logsContain(id, 'ready'));
    const r = ok(['kill', '-s', 'USR1', id]);
    assert.equal(r.stdout, `${id}\n`);
    assert.ok(await logsContain(id, 'got-usr1'), `USR1 trap ran; logs: ${logsOf(id).stdout}`);
    assert.equal(inspect(id).State.Status, 'running', 'USR1 did not stop it');

    ok(['kill', id]);
    const w = ok(['wait', id]);
    assert.equal(w.stdout, '137\n');
    const j = inspect(id);
    assert.equal(j.State.Status, 'exited');
    assert.equal(j.State.ExitCode, 137);

    const again = env.berth(['kill', id]);
    assert.equal(again.code, 1, show(again));
    assert.match(again.stderr, /not running/);
    const bad = env.berth(['kill', '-s', 'NOSUCHSIG', id]);
    assert.notEqual(bad.code, 0);
  } finally {
    rmf(id);
  }
});

// ---- pause ----

test('pause freezes a counter on a bind-mounted dir, unpause resumes it', async () => {
  const dir = hostDir();
  const file = join(dir, 'count');
  const id = runD(['-v', `${dir}:/data`, 'busybox', 'sh', '-c', 'while true; do echo x >> /data/count; sleep 0.1; done']);
  try {
    assert.ok(await eventually(() => lineCount(file) >= 3), 'counter is running');
    const p = ok(['pause', id]);
    assert.equal(p.stdout, `${id}\n`);
    const j = inspect(id);
    assert.equal(j.State.Status, 'paused');
    assert.equal(j.State.Paused, true);
    const row = ok(['ps']).stdout.split('\n').find((l) => l.startsWith(id.slice(0, 12)));
    assert.ok(row && /Up .*\(Paused\)/.test(row), `ps shows (Paused): ${row}`);
    const again = env.berth(['pause', id]);
    assert.equal(again.code, 1, 'pausing a paused container fails');

    await sleep(150); // a write already in flight when the freezer engaged
    const a = lineCount(file);
    await sleep(1000);
    const b = lineCount(file);
    assert.equal(b, a, 'no lines appended while paused');

    ok(['unpause', id]);
    assert.equal(inspect(id).State.Status, 'running');
    assert.ok(await eventually(() => lineCount(file) >= b + 3, 5000), 'counter resumes after unpause');
    assert.ok(!(ok(['ps']).stdout.includes('(Paused)')));
    const un = env.berth(['unpause', id]);
    assert.equal(un.code, 1, 'unpausing a running container fails');
  } finally {
    rmf(id);
  }
});

test('stop and rm -f of a paused container succeed', () => {
  const a = runD(['busybox', 'sleep', '300']);
  const b = runD(['busybox', 'sleep', '300']);
  try {
    ok(['pause', a]);
    ok(['pause', b]);
    const s = env.berth(['stop', '-t', '1', a]);
    assert.equal(s.code, 0, `stop of a paused container: ${show(s)}`);
    assert.equal(s.stdout, `${a}\n`);
    const j = inspect(a);
    assert.equal(j.State.Status, 'exited');
    assert.equal(j.State.ExitCode, 137);
    ok(['rm', '-f', b]);
    assert.equal(env.berth(['inspect', b]).code, 1, 'removed');
  } finally {
    for (const id of [a, b]) if (env.berth(['inspect', id]).code === 0) rmf(id);
  }
});

// ---- rm ----

test('rm of a running container fails without -f; rm -f leaves nothing behind', () => {
  const id = runD(['--name', 'lc-rm', 'busybox', 'sleep', '300']);
  let removed = false;
  try {
    const r = env.berth(['rm', 'lc-rm']);
    assert.equal(r.code, 1, show(r));
    assert.match(r.stderr, /^Error: .*running.*(stop|force)/m);
    assert.equal(inspect(id).State.Status, 'running', 'a refused rm leaves it running');

    const pid = inspect(id).State.Pid;
    const f = ok(['rm', '-f', 'lc-rm']);
    removed = true;
    assert.equal(f.stdout, 'lc-rm\n');
    assert.equal(ok(['ps', '-aq']).stdout, '');
    assert.ok(!existsSync(`/proc/${pid}`) || !cmdlineOf(pid).startsWith('sleep'), 'the container process is gone');
    assert.deepEqual(leaksUnder(env.root), []);
    assert.ok(!existsSync(join(env.root, 'containers', id)), 'container directory removed');
    assert.equal(env.berth(['inspect', id]).code, 1);
    const gone = env.berth(['rm', 'lc-rm']);
    assert.equal(gone.code, 1);
    assert.match(gone.stderr, /No such container/i);
  } finally {
    if (!removed) rmf(id);
  }
});

// ---- concurrency ----

test('50 concurrent run -d: distinct ids, all listed, all removed by one rm -f', async () => {
  const results = await Promise.all(Array.from({ length: 50 }, () => env.berthAsync(['run', '-d', 'busybox', 'sleep', '300'])));
  const ids = results.map((r) => r.stdout.trim()).filter((s) => /^[0-9a-f]{64}$/.test(s));
  try {
    for (const r of results) assert.equal(r.code, 0, show(r));
    assert.equal(ids.length, 50);
    assert.equal(new Set(ids).size, 50, 'ids are distinct');
    const listed = psIds();
    assert.equal(listed.length, 50, `ps -q lists ${listed.length}`);
    assert.deepEqual(new Set(listed), new Set(ids.map((i) => i.slice(0, 12))));
    const names = ok(['ps', '--format', '{{.Names}}']).stdout.split('\n').filter(Boolean);
    assert.equal(new Set(names).size, 50, 'names are distinct');
  } finally {
    const all = ok(['ps', '-aq', '--no-trunc']).stdout.split('\n').filter(Boolean);
    const t0 = Date.now();
    const r = env.berth(['rm', '-f', ...all]);
    assert.equal(r.code, 0, show(r));
    assert.ok(Date.now() - t0 < 60_000);
  }
  assert.equal(ok(['ps', '-aq']).stdout, '');
  assert.deepEqual(leaksUnder(env.root, ids), []);
});

// ---- daemonless: conmon keeps the container ----

test('the CLI exits while the container runs on under conmon; a later stop works', async () => {
  const id = runD(['busybox', 'sleep', '300']);
  try {
    const pid = inspect(id).State.Pid;
    const parent = ppidOf(pid);
    assert.ok(cmdlineOf(parent).startsWith('/usr/bin/conmon\0'), `parent ${parent} of ${pid} is conmon: ${cmdlineOf(parent)}`);
    assert.ok(cmdlineOf(parent).includes(id), 'that conmon monitors this container');
    await sleep(1000);
    const j = inspect(id);
    assert.equal(j.State.Status, 'running');
    assert.equal(j.State.Pid, pid);
    assert.ok(existsSync(`/proc/${pid}`));
    ok(['stop', '-t', '1', id]);
    assert.equal(inspect(id).State.Status, 'exited');
    assert.ok(await eventually(() => !existsSync(`/proc/${parent}`) || !cmdlineOf(parent).includes(id)), 'conmon exits after the container');
  } finally {
    rmf(id);
  }
});

test('exit is reconciled from the exit file; wait prints the code and blocks while running', async () => {
  const id = runD(['busybox', 'sh', '-c', 'sleep 1; exit 3']);
  try {
    await sleep(2000); // no berth command meanwhile
    const j = inspect(id);
    assert.equal(j.State.Status, 'exited');
    assert.equal(j.State.ExitCode, 3);
    assert.ok(Date.parse(j.State.FinishedAt) > Date.parse(j.State.StartedAt), `${j.State.FinishedAt} after ${j.State.StartedAt}`);
    assert.ok(Date.parse(j.State.FinishedAt) - Date.parse(j.State.StartedAt) >= 900, 'ran about a second');
    assert.equal(ok(['wait', id]).stdout, '3\n');
    const row = ok(['ps', '-a']).stdout.split('\n').find((l) => l.startsWith(id.slice(0, 12)));
    assert.match(row ?? '', /Exited \(3\)/);
    // The exit command released the runtime state: nothing mounted, no conmon.
    assert.ok(await eventually(() => leaksUnder(env.root).length === 0), `leaks: ${leaksUnder(env.root).join(', ')}`);
  } finally {
    rmf(id);
  }

  const live = runD(['busybox', 'sh', '-c', 'sleep 1; exit 7']);
  try {
    const t0 = Date.now();
    const w = await env.berthAsync(['wait', live]);
    const took = Date.now() - t0;
    assert.equal(w.code, 0, show(w));
    assert.equal(w.stdout, '7\n');
    assert.ok(took >= 300, `wait returned after ${took} ms while the container still ran`);
    assert.equal(inspect(live).State.ExitCode, 7);
  } finally {
    rmf(live);
  }
});

// ---- crash safety ----

test('SIGKILL of the CLI during create/start leaves a usable, cleanable state', async () => {
  const seen = new Set<string>();
  for (const delay of [20, 60, 120, 250, 20, 60, 120, 250]) {
    const child = spawn(BERTH, ['--root', env.root, 'run', '-d', 'busybox', 'sleep', '300'], { stdio: 'ignore' });
    const exited = new Promise<void>((r) => child.on('close', () => r()));
    await sleep(delay);
    child.kill('SIGKILL');
    await exited;

    const ps = env.berth(['ps', '-a', '--no-trunc', '--format', '{{.ID}} {{.Status}}']);
    assert.equal(ps.code, 0, `ps -a after a kill at ${delay} ms: ${show(ps)}`);
    // Whatever the kill left is repaired with a notice saying what was done, and nothing else is said.
    for (const line of ps.stderr.split('\n').filter(Boolean)) {
      assert.match(line, /^berth: (cleaned up container [0-9a-f]{12} left half-made|adopted container [0-9a-f]{12}|reset container [0-9a-f]{12}|released network leftovers)/, line);
    }
    const ids = ps.stdout.split('\n').filter(Boolean).map((l) => l.split(' ')[0]!);
    for (const id of ids) {
      seen.add(id);
      const r = env.berth(['rm', '-f', id]);
      assert.equal(r.code, 0, `rm -f ${id} after a kill at ${delay} ms: ${show(r)}`);
    }
    assert.equal(ok(['ps', '-aq']).stdout, '', `nothing left after a kill at ${delay} ms`);
  }
  assert.deepEqual(leaksUnder(env.root, [...seen]), []);
  const cg = berthCgroups().filter((p) => [...seen].some((id) => p.endsWith(`/${id}`)));
  assert.deepEqual(cg, [], 'no cgroups of the removed containers');
  const runc = spawnSync('runc', ['list', '-q'], { encoding: 'utf8' });
  const stale = runc.stdout.split('\n').filter((l) => seen.has(l.trim()));
  assert.deepEqual(stale, [], 'no runc state of the removed containers');
  const dirs = existsSync(join(env.root, 'containers')) ? readdirSync(join(env.root, 'containers')) : [];
  assert.deepEqual(dirs, [], 'no container directories left');
});

// ---- resource limits, filesystem ----

test('a memory hog under --memory 16m is OOM-killed: OOMKilled true, ExitCode 137', () => {
  const r = env.berth(['run', '--name', 'lc-oom', '--memory', '16m', 'busybox', 'sh', '-c', 'x=a; while true; do x=$x$x; done']);
  try {
    assert.equal(r.code, 137, show(r));
    const j = inspect('lc-oom');
    assert.equal(j.State.Status, 'exited');
    assert.equal(j.State.OOMKilled, true);
    assert.equal(j.State.ExitCode, 137);
  } finally {
    rmf('lc-oom');
  }
});

test('--read-only refuses writes to / while --tmpfs /tmp is writable', () => {
  const r = env.berth(['run', '--rm', '--read-only', '--tmpfs', '/tmp', 'busybox', 'touch', '/x']);
  assert.notEqual(r.code, 0, show(r));
  assert.match(r.stderr, /Read-only file system/);
  const w = env.berth(['run', '--rm', '--read-only', '--tmpfs', '/tmp', 'busybox', 'sh', '-c', 'echo hi > /tmp/f && cat /tmp/f']);
  assert.equal(w.code, 0, show(w));
  assert.equal(w.stdout, 'hi\n');
});

// ---- create/start, restart, rename, prune, logs, top ----

test('create shows as Created; start -a prints the output and returns the code', () => {
  const id = ok(['create', '--name', 'lc-created', 'busybox', 'sh', '-c', 'echo from-start; exit 5']).stdout.trim();
  try {
    assert.match(id, /^[0-9a-f]{64}$/);
    assert.deepEqual(psIds(), [], 'a created container is not running');
    const row = ok(['ps', '-a']).stdout.split('\n').find((l) => l.startsWith(id.slice(0, 12)));
    assert.match(row ?? '', /\sCreated\s/);
    assert.equal(ok(['ps', '-aq', '--filter', 'status=created']).stdout, `${id.slice(0, 12)}\n`);
    assert.equal(inspect(id).State.Status, 'created');

    const s = env.berth(['start', '-a', 'lc-created']);
    assert.equal(s.code, 5, show(s));
    assert.equal(s.stdout, 'from-start\n');
    const j = inspect(id);
    assert.equal(j.State.Status, 'exited');
    assert.equal(j.State.ExitCode, 5);
  } finally {
    rmf(id);
  }
});

test('restart gives a new StartedAt and a new process; status running', async () => {
  const id = runD(['--name', 'lc-restart', 'busybox', 'sleep', '300']);
  try {
    const before = inspect(id);
    await sleep(50);
    const r = ok(['restart', '-t', '0', 'lc-restart']);
    assert.equal(r.stdout, 'lc-restart\n');
    const after = inspect(id);
    assert.equal(after.State.Status, 'running');
    assert.ok(Date.parse(after.State.StartedAt) > Date.parse(before.State.StartedAt), `${after.State.StartedAt} > ${before.State.StartedAt}`);
    assert.notEqual(after.State.Pid, before.State.Pid);
    assert.ok(existsSync(`/proc/${after.State.Pid}`));
    assert.ok(!existsSync(`/proc/${before.State.Pid}`) || !cmdlineOf(before.State.Pid).startsWith('sleep'), 'the old process is gone');
    assert.deepEqual(psIds(), [id.slice(0, 12)]);
  } finally {
    rmf(id);
  }
});

test('restart holds the lock across stop and start: a pause sent meanwhile waits and pauses the new run', async () => {
  // The process ignores SIGTERM, so the stop takes its whole -t 1 second: the pause comes in that gap.
  const id = runD(['busybox', 'sh', '-c', 'trap "" TERM; while :; do sleep 1; done']);
  try {
    const before = inspect(id).State.Pid;
    const restart = env.berthAsync(['restart', '-t', '1', id]);
    await sleep(300);
    const pause = env.berthAsync(['pause', id]);
    const [r, p] = await Promise.all([restart, pause]);
    assert.equal(r.code, 0, show(r));
    // Between a stop and a start under two locks the pause found the container exited ("is not running").
    assert.equal(p.code, 0, show(p));
    const j = inspect(id);
    assert.equal(j.State.Status, 'paused');
    assert.notEqual(j.State.Pid, before, 'the pause froze the new run');
    ok(['unpause', id]);
    assert.equal(inspect(id).State.Status, 'running');
  } finally {
    rmf(id);
  }
});

test('a removal that fails part way leaves the container dead; rm tries again and removes it', () => {
  const id = ok(['create', '--network', 'none', 'busybox', 'true']).stdout.trim();
  // A mount inside the container's dir makes removing the dir fail with EBUSY.
  const blocker = join(env.root, 'containers', id, 'blocker');
  spawnSync('mkdir', ['-p', blocker]);
  assert.equal(spawnSync('mount', ['-t', 'tmpfs', 'blocker', blocker]).status, 0);
  try {
    const r = env.berth(['rm', id]);
    assert.equal(r.code, 1, show(r));
    assert.match(r.stderr, /^Error: .*(EBUSY|busy)/);
    assert.equal(r.stderr.split('\n').filter(Boolean).length, 1, r.stderr);
    const j = inspect(id);
    assert.equal(j.State.Status, 'dead');
    assert.equal((j.State as unknown as { Dead: boolean }).Dead, true);
    assert.match(j.State.Error, /EBUSY|busy/);
    assert.match(ok(['ps', '-a', '--filter', 'status=dead', '--format', '{{.ID}} {{.Status}}']).stdout, new RegExp(`^${id.slice(0, 12)} Dead$`, 'm'));
  } finally {
    spawnSync('umount', [blocker]);
  }
  ok(['rm', id]);
  assert.equal(env.berth(['inspect', id]).code, 1);
});

test('start of a stopped container runs it again', async () => {
  const id = runD(['busybox', 'sleep', '300']);
  try {
    ok(['stop', '-t', '0', id]);
    assert.equal(inspect(id).State.Status, 'exited');
    assert.equal(ok(['start', id]).stdout, `${id}\n`);
    const j = inspect(id);
    assert.equal(j.State.Status, 'running');
    assert.ok(j.State.Pid > 0 && existsSync(`/proc/${j.State.Pid}`), `pid ${j.State.Pid}`);
    assert.deepEqual(psIds(), [id.slice(0, 12)]);
    await sleep(500); // the first run's exit command must not tear the second run down
    assert.equal(inspect(id).State.Status, 'running');
    ok(['stop', '-t', '0', id]);
    assert.equal(inspect(id).State.ExitCode, 137);
  } finally {
    rmf(id);
  }
});

test('rename: the new name resolves, the old one does not', () => {
  const id = ok(['create', '--name', 'lc-old', 'busybox', 'true']).stdout.trim();
  try {
    ok(['rename', 'lc-old', 'lc-new']);
    assert.equal(ok(['inspect', '-f', '{{.Id}} {{.Name}}', 'lc-new']).stdout, `${id} /lc-new\n`);
    const old = env.berth(['inspect', 'lc-old']);
    assert.equal(old.code, 1);
    const other = ok(['create', '--name', 'lc-other', 'busybox', 'true']).stdout.trim();
    try {
      const clash = env.berth(['rename', 'lc-other', 'lc-new']);
      assert.notEqual(clash.code, 0, 'renaming onto a taken name fails');
    } finally {
      rmf(other);
    }
  } finally {
    rmf(id);
  }
});

test('container prune -f removes exited containers only', () => {
  const exited = ok(['create', '--name', 'lc-prune-exited', 'busybox', 'true']).stdout.trim();
  ok(['start', '-a', exited]);
  const running = runD(['--name', 'lc-prune-running', 'busybox', 'sleep', '300']);
  try {
    assert.equal(inspect(exited).State.Status, 'exited');
    const r = ok(['container', 'prune', '-f']);
    assert.match(r.stdout, new RegExp(exited));
    assert.doesNotMatch(r.stdout, new RegExp(running));
    const all = ok(['ps', '-aq', '--no-trunc']).stdout.split('\n').filter(Boolean);
    assert.deepEqual(all, [running]);
    assert.equal(inspect(running).State.Status, 'running');
  } finally {
    rmf(running);
    if (env.berth(['inspect', exited]).code === 0) rmf(exited);
  }
});

test('logs keeps stdout and stderr of an exited container apart', () => {
  const r = env.berth(['run', '--name', 'lc-logs', 'busybox', 'sh', '-c', 'echo to-out; echo to-err >&2; sleep 0.2; echo more-out']);
  try {
    assert.equal(r.code, 0, show(r));
    const l = ok(['logs', 'lc-logs']);
    assert.equal(l.stdout, 'to-out\nmore-out\n');
    assert.equal(l.stderr, 'to-err\n');
    assert.equal(ok(['logs', '--tail', '1', 'lc-logs']).stdout, 'more-out\n');
  } finally {
    rmf('lc-logs');
  }
});

test('top lists the container process', () => {
  const id = runD(['busybox', 'sleep', '300']);
  try {
    const r = ok(['top', id]);
    const lines = r.stdout.split('\n').filter(Boolean);
    assert.match(lines[0]!, /PID/);
    assert.ok(lines.slice(1).some((l) => /sleep 300/.test(l)), r.stdout);
    assert.ok(lines.some((l) => l.includes(String(inspect(id).State.Pid))));
    ok(['stop', '-t', '0', id]);
    assert.equal(env.berth(['top', id]).code, 1, 'top of a stopped container fails');
  } finally {
    rmf(id);
  }
});

// ---- run flags ----

test('-e, --env-file, -w, --hostname, --entrypoint', () => {
  const dir = hostDir();
  const envFile = join(dir, 'env');
  writeFileSync(envFile, '# a comment\nFROM_FILE=yes\n\nSPACED=two words\n');
  const e = ok(['run', '--rm', '-e', 'FOO=bar', '--env-file', envFile, 'busybox', 'env']).stdout.split('\n');
  assert.ok(e.includes('FOO=bar'), e.join('\n'));
  assert.ok(e.includes('FROM_FILE=yes'), e.join('\n'));
  assert.ok(e.includes('SPACED=two words'), e.join('\n'));
  assert.ok(e.some((l) => l.startsWith('PATH=')), 'PATH is set');

  assert.equal(ok(['run', '--rm', '-w', '/tmp', 'busybox', 'pwd']).stdout, '/tmp\n');
  assert.equal(ok(['run', '--rm', '-w', '/not/yet/there', 'busybox', 'pwd']).stdout, '/not/yet/there\n');
  assert.equal(ok(['run', '--rm', '--hostname', 'lc-host', 'busybox', 'hostname']).stdout, 'lc-host\n');
  assert.equal(ok(['run', '--rm', '--entrypoint', 'echo', 'busybox', 'via', 'entrypoint']).stdout, 'via entrypoint\n');
});

test('-u nobody and -u 0:33', () => {
  assert.equal(ok(['run', '--rm', '-u', '0:33', 'busybox', 'sh', '-c', 'echo $(id -u):$(id -g)']).stdout, '0:33\n');
  assert.equal(ok(['run', '--rm', '-u', '65534:65534', 'busybox', 'sh', '-c', 'echo $(id -u):$(id -g)']).stdout, '65534:65534\n');
  const n = ok(['run', '--rm', '-u', 'nobody', 'busybox', 'id']).stdout;
  assert.match(n, /^uid=65534\b/);
  // As in docker: a non-root user can traverse / and read /etc/passwd, so id names the user.
  assert.equal(ok(['run', '--rm', 'busybox', 'stat', '-c', '%a', '/']).stdout, '755\n', "the container's / is world-readable");
  const r = env.berth(['run', '--rm', '-u', 'nobody', 'busybox', 'cat', '/etc/passwd']);
  assert.equal(r.code, 0, `nobody reads /etc/passwd: ${show(r)}`);
  assert.match(n, /^uid=65534\(nobody\) gid=65534\(nogroup\)/);
});

test('-l k=v shows in Config.Labels and ps --filter label=', () => {
  const a = runD(['-l', 'lc.k=v', '-l', 'lc.flag', 'busybox', 'sleep', '300']);
  const b = runD(['-l', 'lc.k=other', 'busybox', 'sleep', '300']);
  try {
    assert.deepEqual(inspect(a).Config.Labels, { 'lc.k': 'v', 'lc.flag': '' });
    assert.deepEqual(psIds(['--filter', 'label=lc.k=v']), [a.slice(0, 12)]);
    assert.deepEqual(new Set(psIds(['--filter', 'label=lc.k'])), new Set([a.slice(0, 12), b.slice(0, 12)]));
    assert.deepEqual(psIds(['--filter', 'label=lc.k=none']), []);
  } finally {
    rmf(a, b);
  }
});

test('--ulimit nofile=1024:2048', () => {
  assert.equal(ok(['run', '--rm', '--ulimit', 'nofile=1024:2048', 'busybox', 'sh', '-c', 'ulimit -n; ulimit -Hn']).stdout, '1024\n2048\n');
});

test('--init: pid 1 is the init, the command is its child', () => {
  const r = ok(['run', '--rm', '--init', 'busybox', 'sh', '-c', 'echo $$; tr "\\0" " " < /proc/1/cmdline']);
  const [shPid, pid1] = r.stdout.split('\n');
  assert.notEqual(shPid, '1', 'the shell is not pid 1');
  assert.match(pid1 ?? '', /init|catatonit|tini/, `pid 1: ${pid1}`);
  assert.doesNotMatch(pid1 ?? '', /^sh /);
});

test('--stop-timeout is how long stop waits before SIGKILL when -t is not given', async () => {
  const id = runD(['--stop-timeout', '1', 'busybox', 'sh', '-c', 'trap "" TERM; echo ready; while :; do sleep 0.1; done']);
  try {
    assert.equal(inspect(id).Config.StopTimeout, 1);
    assert.ok(await logsContain(id, 'ready'));
    const t0 = Date.now();
    ok(['stop', id]);
    const took = Date.now() - t0;
    assert.ok(took >= 900 && took < 8000, `stop took ${took} ms: SIGKILL after the container's own 1 s, not docker's default 10 s`);
    assert.equal(inspect(id).State.ExitCode, 137);
  } finally {
    rmf(id);
  }
});

test('--stop-signal is what stop sends', async () => {
  const id = runD(['--stop-signal', 'USR1', 'busybox', 'sh', '-c', 'trap "exit 10" USR1; echo ready; while :; do sleep 0.1; done']);
  try {
    assert.equal(inspect(id).Config.StopSignal, 'SIGUSR1');
    assert.ok(await logsContain(id, 'ready'));
    const t0 = Date.now();
    ok(['stop', '-t', '10', id]);
    assert.ok(Date.now() - t0 < 5000, 'stopped by USR1, not by the SIGKILL after 10 s');
    assert.equal(inspect(id).State.ExitCode, 10);
  } finally {
    rmf(id);
  }
});

test('--runtime runc runs; an unusable runtime is refused with a reason', () => {
  const r = ok(['run', '--name', 'lc-runc', '--runtime', 'runc', 'busybox', 'echo', 'on-runc']);
  try {
    assert.equal(r.stdout, 'on-runc\n');
    assert.equal(inspect('lc-runc').HostConfig.Runtime, 'runc');
  } finally {
    rmf('lc-runc');
  }
  const bogus = env.berth(['run', '--rm', '--runtime', 'no-such-runtime', 'busybox', 'true']);
  assert.equal(bogus.code, 125, show(bogus));
  assert.match(bogus.stderr, /runtime/);
  assert.equal(ok(['ps', '-aq']).stdout, '', 'a refused run leaves no container');
});

test('runtimes from daemon.json: --runtime NAME runs one with its runtimeArgs; default-runtime; info lists them', (t) => {
  const runc = ['/usr/sbin/runc', '/usr/bin/runc'].find((p) => existsSync(p));
  if (!runc) return t.skip('runc is not installed');
  // runc with a state dir of its own: only a runtime run with these runtimeArgs finds the container.
  const state = mkdtempSync('/tmp/berth-lifecycle-runc-state-');
  scratch.push(state);
  const cfg = join(env.root, 'daemon.json');
  writeFileSync(cfg, JSON.stringify({ runtimes: { myrunc: { path: runc, runtimeArgs: ['--root', state] } } }));
  try {
    const info = JSON.parse(ok(['info', '--format', '{{json .Runtimes}}']).stdout) as Record<string, { path: string }>;
    assert.deepEqual(Object.keys(info).sort(), [...(existsSync('/usr/bin/crun') ? ['crun'] : []), 'myrunc', 'runc']);
    assert.equal(info.myrunc!.path, runc);
    const id = runD(['--runtime', 'myrunc', '--network', 'none', 'busybox', 'sleep', '300']);
    try {
      assert.equal(inspect(id).HostConfig.Runtime, 'myrunc');
      const listed = spawnSync(runc, ['--root', state, 'list', '-q'], { encoding: 'utf8' });
      assert.equal(listed.stdout.trim(), id, 'the container lives in myrunc\'s state dir');
      assert.notEqual(spawnSync(runc, ['state', id]).status, 0, 'and not in runc\'s own');
      // every later verb reaches it through the same options
      assert.equal(ok(['exec', id, 'echo', 'in']).stdout, 'in\n');
      ok(['pause', id]);
      ok(['unpause', id]);
      ok(['stop', '-t', '0', id]);
      assert.equal(inspect(id).State.ExitCode, 137);
    } finally {
      rmf(id);
    }
    assert.equal(spawnSync(runc, ['--root', state, 'list', '-q'], { encoding: 'utf8' }).stdout.trim(), '');
    // the default runtime is a key too
    writeFileSync(cfg, JSON.stringify({ runtimes: { myrunc: { path: runc, runtimeArgs: ['--root', state] } }, 'default-runtime': 'myrunc' }));
    const c = ok(['create', '--network', 'none', 'busybox', 'true']).stdout.trim();
    assert.equal(inspect(c).HostConfig.Runtime, 'myrunc');
    rmf(c);
    const unknown = env.berth(['run', '--rm', '--runtime', 'nope', 'busybox', 'true']);
    assert.equal(unknown.code, 125, show(unknown));
    assert.match(unknown.stderr, /^Error: unknown or invalid runtime name: nope \(known: .*myrunc.*\)$/m);
    writeFileSync(cfg, '{"runtimes": ');
    const broken = env.berth(['run', '--rm', 'busybox', 'true']);
    assert.equal(broken.code, 125, show(broken));
    assert.match(broken.stderr, /daemon\.json: not valid JSON/);
  } finally {
    rmSync(cfg, { force: true });
  }
  assert.equal(ok(['ps', '-aq']).stdout, '');
});

test('-v /host:/ctr:ro refuses writes; the read-write bind writes through to the host', () => {
  const dir = hostDir();
  writeFileSync(join(dir, 'seen'), 'from-host\n');
  const ro = env.berth(['run', '--rm', '-v', `${dir}:/ctr:ro`, 'busybox', 'sh', '-c', 'cat /ctr/seen; touch /ctr/new']);
  assert.notEqual(ro.code, 0, show(ro));
  assert.equal(ro.stdout, 'from-host\n');
  assert.match(ro.stderr, /Read-only file system/);
  assert.ok(!existsSync(join(dir, 'new')));
  ok(['run', '--rm', '-v', `${dir}:/ctr`, 'busybox', 'sh', '-c', 'echo written > /ctr/new']);
  assert.equal(readFileSync(join(dir, 'new'), 'utf8'), 'written\n');
});

// ---- info, version ----

test('info names the default runtime and why; version exits 0', () => {
  const i = ok(['info']).stdout;
  assert.match(i, /^ Default Runtime: (runc|crun)$/m);
  assert.match(i, /^ {2}Why: \S.*$/m);
  const def = /Default Runtime: (\w+)/.exec(i)![1]!;
  assert.match(i, new RegExp(`^  ${def}: usable`, 'm'));
  assert.equal(ok(['info', '--format', '{{.DefaultRuntime}}']).stdout.trim(), def);
  const v = ok(['version']);
  assert.match(v.stdout, /Version:\s+\d+\.\d+\.\d+/);
  assert.equal(ok(['--version']).code, 0);
});
