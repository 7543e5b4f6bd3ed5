/**
 * Bad input: every mistake gets one clear line on stderr, docker's exit code, and changes nothing
 * (no new container row, no new directory under <root>/containers, no new mount under the root, no
 * new berth cgroup).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { berthCgroups, eventually, setupEnv, type Env, type Result, conmonsOf } from './helpers.ts';

let env: Env;
let runningId = '';
let exitedId = '';

interface Snapshot {
  ps: string[];
  dirs: string[];
  mounts: string[];
  cgroups: string[];
}

function snapshot(): Snapshot {
  const ps = env.berth(['ps', '-aq', '--no-trunc']);
  assert.equal(ps.code, 0, `ps -aq: ${ps.stderr}`);
  const dir = join(env.root, 'containers');
  return {
    ps: ps.stdout.split('\n').filter(Boolean).sort(),
    dirs: existsSync(dir) ? readdirSync(dir).sort() : [],
    mounts: readFileSync('/proc/self/mountinfo', 'utf8')
      .split('\n')
      .map((l) => l.split(' ')[4] ?? '')
      .filter((mp) => mp.startsWith(env.root))
      .sort(),
    cgroups: orphanCgroups(),
  };
}

/** Container dirs of every engine root on this host that tests or the lead may be using right now. */
function knownContainerIds(): Set<string> {
  const out = new Set<string>();
  const roots = ['/var/lib/berth', ...readdirSync('/tmp').filter((d) => d.startsWith('berth')).map((d) => join('/tmp', d))];
  for (const r of roots) {
    try {
      for (const id of readdirSync(join(r, 'containers'))) out.add(id);
    } catch {
      /* not a root */
    }
  }
  return out;
}

/**
 * Berth cgroups whose container directory exists in no engine root: leaked by a failed create or start.
 * (Other roots' live containers keep their directories, so concurrent test runs do not show up here.)
 */
function orphanCgroups(): string[] {
  const known = knownContainerIds();
  return berthCgroups().filter((c) => !known.has(c.slice(c.lastIndexOf('/') + 1))).sort();
}

function lines(s: string): string[] {
  return s.split('\n').filter((l) => l.trim() !== '');
}

/** Not helpers.ts's show: the message names the command too, as every expectation here is about one. */
function show(args: string[], r: Result): string {
  return `berth ${args.join(' ')} → ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`;
}

interface Expect {
  code: number;
  /** What the single error line must say. */
  match: RegExp;
  /** pflag errors carry docker's second line "See 'berth VERB --help'." (required when true). */
  pflag?: boolean;
  /** docker reports this as a pflag error; accept the See line but do not require it. */
  seeOk?: boolean;
}

/** Run berth with bad input and check the message, the code, and that nothing was created. */
function expectError(args: string[], x: Expect): Result {
  const before = snapshot();
  const r = env.berth(args);
  const why = show(args, r);
  assert.equal(r.code, x.code, `exit code\n${why}`);
  const ls = lines(r.stderr);
  const verb = args[0]!;
  const see = `See 'berth ${verb} --help'.`;
  if (x.pflag) {
    assert.equal(ls.length, 2, `pflag error: message plus See line\n${why}`);
    assert.equal(ls[1], see, why);
  } else if (x.seeOk && ls.length === 2) {
    assert.equal(ls[1], see, why);
  } else {
    assert.equal(ls.length, 1, `exactly one stderr line\n${why}`);
  }
  assert.match(ls[0]!, x.match, why);
  assert.ok(!/internal error|\n\s+at /.test(r.stderr), `no stack trace\n${why}`);
  const after = snapshot();
  assert.deepEqual(after.ps, before.ps, `no new container row\n${why}`);
  assert.deepEqual(after.dirs, before.dirs, `no new container directory\n${why}`);
  assert.deepEqual(after.mounts, before.mounts, `no new mount under the root\n${why}`);
  assert.deepEqual(after.cgroups.filter((c) => !before.cgroups.includes(c)), [], `no new cgroup\n${why}`);
  return r;
}

before(() => {
  env = setupEnv('badinput');
  const h = env.berth(['create', '--name', 'holder', 'busybox', 'true']);
  assert.equal(h.code, 0, h.stderr);
  const r = env.berth(['run', '-d', '--name', 'running', 'busybox', 'sleep', '1000']);
  assert.equal(r.code, 0, r.stderr);
  runningId = r.stdout.trim();
  const x = env.berth(['run', '--name', 'exited', 'busybox', 'true']);
  assert.equal(x.code, 0, x.stderr);
  exitedId = env.berth(['inspect', '-f', '{{.Id}}', 'exited']).stdout.trim();
  assert.match(exitedId, /^[0-9a-f]{64}$/);
});

after(async () => {
  if (!env) return;
  // rm -f returns while conmon still runs its exit command (see the rm -f test below): let those finish
  // so teardown's leak check reports real leaks, not that known race.
  const ids = env.berth(['ps', '-aq', '--no-trunc']).stdout.split('\n').filter(Boolean);
  if (ids.length > 0) env.berth(['rm', '-f', ...ids]);
  await eventually(() => conmonsOf(env.root).length === 0, 10_000);
  env.teardown();
});

// ---- images and containers that do not exist

test('unknown image → 125', () => {
  expectError(['run', '--pull', 'never', 'nosuchimage'], { code: 125, match: /No such image: nosuchimage/ });
  expectError(['run', '--rm', '--pull', 'never', 'nosuchimage:v1', 'true'], { code: 125, match: /No such image: nosuchimage:v1/ });
  expectError(['create', '--pull', 'never', 'nosuchimage'], { code: 125, match: /No such image: nosuchimage/ });
  // By default a missing image is pulled first, as docker does; this host reaches no docker.io.
  const before = env.berth(['ps', '-aq']).stdout;
  const r = env.berth(['run', 'nosuchimage']);
  assert.equal(r.code, 125);
  assert.match(r.stderr, /^Unable to find image 'nosuchimage:latest' locally\nError: .+\n$/);
  assert.equal(env.berth(['ps', '-aq']).stdout, before, 'no container was made');
  expectError(['run', '--pull', 'sometimes', 'busybox'], { code: 125, match: /invalid pull option/ });
});

test('unknown container → 1 "No such container" for stop/rm/kill/start/logs/inspect', () => {
  for (const verb of ['stop', 'rm', 'kill', 'start', 'logs', 'pause', 'unpause', 'wait', 'restart']) {
    expectError([verb, 'nosuchctr'], { code: 1, match: /No such container: nosuchctr/ });
  }
  expectError(['rm', '-f', 'nosuchctr'], { code: 1, match: /No such container: nosuchctr/ });
  expectError(['inspect', '--type', 'container', 'nosuchctr'], { code: 1, match: /No such container: nosuchctr/ });
  // Plain inspect does not know the kind: docker says "No such object".
  expectError(['inspect', 'nosuchctr'], { code: 1, match: /No such object: nosuchctr/ });
});

test('container inspect of an unknown container says "No such container" (as docker container inspect does)', () => {
  expectError(['container', 'inspect', 'nosuchctr'], { code: 1, match: /No such container: nosuchctr/ });
});

// ---- names

test('name conflict → 125 naming the holder', () => {
  const holderId = env.berth(['inspect', '-f', '{{.Id}}', 'holder']).stdout.trim();
  assert.match(holderId, /^[0-9a-f]{64}$/);
  const r = expectError(['run', '--name', 'holder', 'busybox', 'true'], { code: 125, match: /name "\/holder" is already in use/ });
  assert.ok(r.stderr.includes(holderId), `message names the holder ${holderId}: ${r.stderr}`);
  expectError(['create', '--name', 'holder', 'busybox', 'true'], { code: 125, match: new RegExp(`already in use by container "${holderId}"`) });
  expectError(['run', '--rm', '--name', '/holder', 'busybox', 'true'], { code: 125, match: /already in use/ });
});

test('invalid name → 125', () => {
  expectError(['run', '--name', '-bad', 'busybox', 'true'], { code: 125, match: /Invalid container name \(-bad\)/ });
  expectError(['run', '--name', 'a b', 'busybox', 'true'], { code: 125, match: /Invalid container name/ });
  expectError(['run', '--name', 'bad/slash', 'busybox', 'true'], { code: 125, match: /Invalid container name/ });
  // docker's pattern needs two characters.
  expectError(['run', '--name', 'x', 'busybox', 'true'], { code: 125, match: /Invalid container name \(x\)/ });
});

// ---- resources and limits

test('malformed memory → 125', () => {
  expectError(['run', '-m', 'abc', 'busybox', 'true'], { code: 125, match: /invalid argument "abc" for "-m, --memory" flag/, seeOk: true });
  expectError(['run', '-m', '-5', 'busybox', 'true'], { code: 125, match: /"-5"/, seeOk: true });
  expectError(['run', '-m', '1k', 'busybox', 'true'], { code: 125, match: /Minimum memory limit allowed is 6MB/ });
  expectError(['run', '--memory-swap', '1g', 'busybox', 'true'], { code: 125, match: /Memory limit/ });
});

test('bad signal → 1 for kill, 125 for run --stop-signal', () => {
  expectError(['kill', '-s', 'NOPE', 'running'], { code: 1, match: /Invalid signal: NOPE/ });
  expectError(['run', '--stop-signal', 'NOPE', 'busybox', 'true'], { code: 125, match: /Invalid signal: NOPE/ });
  expectError(['create', '--stop-signal', '999', 'busybox', 'true'], { code: 125, match: /Invalid signal: 999/ });
  // The running container was not touched.
  assert.equal(env.berth(['inspect', '-f', '{{.State.Status}}', 'running']).stdout.trim(), 'running');
});

function hostNofileHard(): number {
  const line = readFileSync('/proc/self/limits', 'utf8').split('\n').find((l) => l.startsWith('Max open files'));
  const hard = line?.trim().split(/\s{2,}/)[2];
  return hard === undefined || hard === 'unlimited' ? Infinity : Number(hard);
}

test('bad ulimit → 125', () => {
  expectError(['run', '--ulimit', 'nofile=abc', 'busybox', 'true'], { code: 125, match: /nofile=abc/, seeOk: true });
  expectError(['run', '--ulimit', 'bogus=1', 'busybox', 'true'], { code: 125, match: /bogus/, seeOk: true });
  expectError(['run', '--ulimit', 'nofile=200:100', 'busybox', 'true'], { code: 125, match: /soft limit 200 exceeds hard limit 100/, seeOk: true });
  expectError(['run', '--ulimit', 'nofile', 'busybox', 'true'], { code: 125, match: /nofile/, seeOk: true });
});

test('ulimit above the host hard limit → 125', (t) => {
  const hard = hostNofileHard();
  if (!Number.isFinite(hard)) return t.skip('host nofile hard limit is unlimited');
  const over = hard + 10000;
  expectError(['run', '--ulimit', `nofile=${over}:${over}`, 'busybox', 'true'], {
    code: 125,
    match: new RegExp(`hard limit ${over} exceeds the host's hard limit ${hard}`),
  });
});

// ---- mounts

test('missing bind source → 125', () => {
  expectError(['run', '-v', '/nonexistent/x:/x', 'busybox', 'true'], { code: 125, match: /bind source path does not exist: \/nonexistent\/x/ });
  expectError(['run', '--rm', '-v', '/nonexistent/x:/x', 'busybox', 'true'], { code: 125, match: /does not exist/ });
});

test('relative bind destination and other bad volume specs → 125', () => {
  expectError(['run', '-v', '/tmp:relative', 'busybox', 'true'], { code: 125, match: /destination must be an absolute path/ });
  expectError(['run', '-v', '/tmp:/', 'busybox', 'true'], { code: 125, match: /invalid volume specification/ });
  expectError(['run', '-v', '/tmp:/x:bogus', 'busybox', 'true'], { code: 125, match: /invalid mode: bogus/ });
  expectError(['run', '-v', '/tmp:/x', '-v', '/etc:/x', 'busybox', 'true'], { code: 125, match: /Duplicate mount point: \/x/ });
  expectError(['run', '--tmpfs', 'relative', 'busybox', 'true'], { code: 125, match: /tmpfs/ });
});

// ---- flags and arguments

test('unknown flag → 125 with pflag message and See line', () => {
  expectError(['run', '--nope', 'busybox'], { code: 125, match: /^unknown flag: --nope$/, pflag: true });
  expectError(['run', '-Z', 'busybox'], { code: 125, match: /unknown shorthand flag: 'Z' in -Z/, pflag: true });
  expectError(['run', '--stop-timeout', 'soon', 'busybox'], { code: 125, match: /invalid argument "soon" for "--stop-timeout" flag/, pflag: true });
});

test('missing argument: run alone → 1 with usage, nothing created', () => {
  const before = snapshot();
  const r = env.berth(['run']);
  assert.equal(r.code, 1, show(['run'], r));
  const ls = lines(r.stderr);
  assert.equal(ls[0], '"berth run" requires at least 1 argument.');
  assert.equal(ls[1], "See 'berth run --help'.");
  assert.ok(ls.some((l) => l.startsWith('Usage:  berth run [OPTIONS] IMAGE [COMMAND] [ARG...]')), r.stderr);
  assert.equal(r.stdout, '');
  assert.deepEqual(snapshot(), before);
});

// ---- the container's command

test('command not found with --rm → 127 and nothing left', () => {
  const r = expectError(['run', '--rm', 'busybox', 'nosuchcmd'], { code: 127, match: /"nosuchcmd": executable file not found in \$PATH/ });
  assert.equal(r.stdout, '');
  expectError(['run', '--rm', '-d', 'busybox', 'nosuchcmd'], { code: 127, match: /executable file not found/ });
});

test('command not executable with --rm → 126 and nothing left', () => {
  expectError(['run', '--rm', 'busybox', '/etc/passwd'], { code: 126, match: /"\/etc\/passwd": permission denied/ });
});

/** A run whose start fails without --rm: docker leaves the container created, with the error recorded. */
function failedStartStaysCreated(cmd: string, code: number, error: RegExp): void {
  const beforeSnap = snapshot();
  const r = env.berth(['run', '--name', `failed-${code}`, 'busybox', cmd]);
  const why = show(['run', 'busybox', cmd], r);
  assert.equal(r.code, code, why);
  assert.equal(lines(r.stderr).length, 1, why);
  assert.match(r.stderr, error, why);
  const after = snapshot();
  const added = after.ps.filter((id) => !beforeSnap.ps.includes(id));
  assert.equal(added.length, 1, `exactly one container is left\n${why}`);
  const id = added[0]!;
  assert.deepEqual(after.dirs.filter((d) => !beforeSnap.dirs.includes(d)), [id]);
  assert.deepEqual(after.mounts, beforeSnap.mounts, 'its rootfs is not left mounted');
  assert.deepEqual(after.cgroups.filter((c) => !beforeSnap.cgroups.includes(c)), [], 'no cgroup is left');
  const st = JSON.parse(env.berth(['inspect', '-f', '{{json .State}}', id]).stdout) as {
    Status: string; Running: boolean; ExitCode: number; Error: string; Pid: number;
  };
  assert.equal(st.Status, 'created');
  assert.equal(st.Running, false);
  assert.equal(st.Pid, 0);
  assert.equal(st.ExitCode, code);
  assert.match(st.Error, error);
  const ps = env.berth(['ps', '-a', '--filter', `id=${id}`, '--format', '{{.Status}}']);
  assert.equal(ps.stdout.trim(), 'Created', ps.stderr);
  // It can be removed without -f, and starting it again fails the same way (exit 1 for start).
  const again = env.berth(['start', id]);
  assert.equal(again.code, 1, show(['start', id], again));
  assert.match(again.stderr, error);
  assert.equal(lines(again.stderr).length, 1, again.stderr);
  assert.deepEqual(snapshot().mounts, beforeSnap.mounts);
  const rm = env.berth(['rm', id]);
  assert.equal(rm.code, 0, rm.stderr);
  assert.deepEqual(snapshot(), beforeSnap);
}

test('command not found without --rm → 127, container stays created with State.Error', () => {
  failedStartStaysCreated('nosuchcmd', 127, /executable file not found/);
});

test('command not executable without --rm → 126, container stays created with State.Error', () => {
  failedStartStaysCreated('/etc/passwd', 126, /permission denied/);
});

// ---- runtime, user, workdir

test('--runtime nosuch → 125', () => {
  expectError(['run', '--runtime', 'nosuch', 'busybox', 'true'], { code: 125, match: /^Error: unknown or invalid runtime name: nosuch \(known: [a-z, ]*runc[a-z, ]*\)$/m });
});

test('-u nosuchuser / nosuchgroup → 125', () => {
  expectError(['run', '-u', 'nosuchuser', 'busybox', 'true'], { code: 125, match: /unable to find user nosuchuser/ });
  expectError(['run', '-u', 'root:nosuchgroup', 'busybox', 'true'], { code: 125, match: /unable to find group nosuchgroup/ });
});

test('-w relative → 125', () => {
  expectError(['run', '-w', 'relative', 'busybox', 'true'], { code: 125, match: /working directory 'relative' is invalid/ });
});

test('-e with an empty name → 125', () => {
  expectError(['run', '-e', '=x', 'busybox', 'true'], { code: 125, match: /invalid environment variable: =x/ });
});

test('bad --detach-keys and --preserve-fds → 125 and nothing created', () => {
  expectError(['run', '-i', '--detach-keys', 'ctrl-!!', 'busybox', 'true'], { code: 125, match: /Invalid detach keys/ });
  expectError(['run', '--preserve-fds', '-1', 'busybox', 'true'], { code: 125, match: /invalid --preserve-fds/ });
});

// ---- wrong state

test('rm of a running container without -f → 1; it keeps running', () => {
  expectError(['rm', 'running'], { code: 1, match: /container is running: stop the container before removing or force remove/ });
  assert.equal(env.berth(['inspect', '-f', '{{.State.Status}}', runningId]).stdout.trim(), 'running');
});

test('pause of a stopped container → 1', () => {
  expectError(['pause', 'exited'], { code: 1, match: new RegExp(`${exitedId} is not running`) });
  expectError(['pause', 'holder'], { code: 1, match: /is not running/ });
  assert.equal(env.berth(['inspect', '-f', '{{.State.Status}}', 'exited']).stdout.trim(), 'exited');
});

test('unpause of a running container → 1', () => {
  expectError(['unpause', 'running'], { code: 1, match: new RegExp(`${runningId} is not paused`) });
  assert.equal(env.berth(['inspect', '-f', '{{.State.Status}}', 'running']).stdout.trim(), 'running');
});

test('kill of a stopped container → 1', () => {
  expectError(['kill', 'exited'], { code: 1, match: /is not running/ });
});

test('several refs: each failure reported, exit 1, the good one still acted on', () => {
  const c = env.berth(['create', '--name', 'victim', 'busybox', 'true']);
  assert.equal(c.code, 0, c.stderr);
  const r = env.berth(['rm', 'nosuch1', 'victim', 'nosuch2']);
  assert.equal(r.code, 1);
  assert.deepEqual(lines(r.stderr), ['Error: No such container: nosuch1', 'Error: No such container: nosuch2']);
  assert.equal(r.stdout.trim(), 'victim');
  assert.equal(env.berth(['inspect', '--type', 'container', 'victim']).code, 1);
});


test('rm -f of a running container returns only when its conmon is gone (nothing touches the root afterwards)', () => {
  const r = env.berth(['run', '-d', '--name', 'doomed', 'busybox', 'sleep', '1000']);
  assert.equal(r.code, 0, r.stderr);
  const id = r.stdout.trim();
  assert.ok(conmonsOf(id).length > 0, 'conmon supervises the detached container');
  const rm = env.berth(['rm', '-f', id]);
  assert.equal(rm.code, 0, rm.stderr);
  // Docker's rm -f is synchronous: when it returns, no process of the container is left. Here conmon is
  // still running its exit command (`berth container cleanup ID`), which reopens the root afterwards.
  assert.deepEqual(conmonsOf(id), [], 'conmon still alive right after rm -f returned');
});
