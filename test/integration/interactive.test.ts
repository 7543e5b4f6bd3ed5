/**
 * Interactive containers as a docker user sees them: `run -it` and `exec -it` on a real terminal (tmux gives
 * the CLI a pty): raw mode while attached and restored on every way out, SIGWINCH → the container's (or the
 * exec session's) window size through conmon's ctl FIFO, the detach keys (default and --detach-keys),
 * `attach` again, detaching from an exec leaving its process running, exit codes.
 * Without a tty: stdin and its EOF reach the container, bulk data passes byte-exact, stdout and stderr
 * stay apart, `start -ai`, attach refusals, and signals proxied to the container.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { closeSync, mkdtempSync, openSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BERTH, cli, eventually, setupEnv, show, sleep, type Env, type Result } from './helpers.ts';
import { assertRestored, HAVE_TMUX, skipWithoutTmux, TmuxServer } from './tmux.ts';

let env: Env;
let scratch = '';
/** A private tmux server; every pane runs berth through its launcher (exit code, terminal state). */
let tm: TmuxServer;

before(() => {
  env = setupEnv('interactive');
  scratch = mkdtempSync('/tmp/berth-test-interactive-scratch-');
  tm = new TmuxServer(scratch);
});

after(() => {
  if (HAVE_TMUX) tm.killServer();
  if (scratch) rmSync(scratch, { recursive: true, force: true });
  env.teardown();
});

// ---- helpers ----

const { ok, status, removeQuietly } = cli(() => env);

const berthArgv = (args: string[]): string[] => [BERTH, '--root', env.root, ...args];
const tmux = (args: string[]): string => tm.tmux(args);
/** A new detached session of the given size running berth; returns its pane id. */
const newSession = (session: string, cols: number, rows: number, berthArgs: string[]): string => tm.newSession(session, cols, rows, berthArgv(berthArgs));
/** A new window in a session running berth; returns its pane id. */
const newWindow = (session: string, berthArgs: string[]): string => tm.newWindow(session, berthArgv(berthArgs));
const capture = (pane: string): string => tm.capture(pane);
const waitPane = (pane: string, re: RegExp, what: string, ms?: number): Promise<string> => tm.waitPane(pane, re, what, ms);
const typeLine = (pane: string, line: string): void => tm.typeLine(pane, line);
const waitRaw = (pane: string): Promise<void> => tm.waitRaw(pane);
const waitExit = (pane: string, code: number): Promise<string> => tm.waitExit(pane, code);
const killSession = (session: string): void => tm.killSession(session);

interface Bytes {
  code: number;
  stdout: Buffer;
  stderr: Buffer;
}

/** berth with stdin from a file, stdout/stderr collected as bytes. */
function berthFromFile(args: string[], file: string, timeoutMs = 60_000): Promise<Bytes> {
  return new Promise((resolve, reject) => {
    const fd = openSync(file, 'r');
    const c = spawn(BERTH, ['--root', env.root, ...args], { stdio: [fd, 'pipe', 'pipe'] });
    closeSync(fd);
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    const timer = setTimeout(() => c.kill('SIGKILL'), timeoutMs);
    c.stdout!.on('data', (b: Buffer) => out.push(b));
    c.stderr!.on('data', (b: Buffer) => err.push(b));
    c.on('error', reject);
    c.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? 128, stdout: Buffer.concat(out), stderr: Buffer.concat(err) });
    });
  });
}

interface Timed extends Result {
  timedOut: boolean;
}

/**
 * berth with the given stdin, killed with SIGKILL if it outlives timeoutMs (spawnSync's timeout sends
 * SIGTERM, which an attached berth proxies to the container instead of dying: it could hang the suite).
 */
function berthInput(args: string[], input: string, timeoutMs = 20_000): Promise<Timed> {
  return new Promise((resolve, reject) => {
    const c = spawn(BERTH, ['--root', env.root, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      c.kill('SIGKILL');
    }, timeoutMs);
    c.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
    c.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    c.stdin.on('error', () => {});
    c.stdin.end(input);
    c.on('error', reject);
    c.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? 128, stdout, stderr, timedOut });
    });
  });
}

function showT(r: Timed): string {
  return `${r.timedOut ? 'TIMED OUT (killed) ' : ''}${show(r)}`;
}

const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

// ---- terminal (tmux) ----

test('run -it: a real pty, SIGWINCH resizes, ctrl-p ctrl-q detaches, attach reconnects, exit 3 → 3', async (t) => {
  if (skipWithoutTmux(t)) return;
  const name = 'it-main';
  try {
    const pane = newSession('s1', 100, 30, ['run', '-it', '--name', name, 'busybox', 'sh']);
    await waitPane(pane, /\/ # /, 'the container shell prompt');
    await waitRaw(pane);

    // The container's shell evaluates what we type (the keys pass through raw, its pty echoes them).
    typeLine(pane, 'echo hello-$((40+2))');
    await waitPane(pane, /^hello-42\s*$/m, 'hello-42 from the container shell');

    // The container's terminal has the user's window size, and follows it.
    typeLine(pane, 'stty size');
    await waitPane(pane, /^30 100\s*$/m, 'stty size = 30 100');
    tmux(['resize-window', '-t', pane, '-x', '120', '-y', '40']);
    // SIGWINCH → ctl FIFO → TIOCSWINSZ is asynchronous: ask again until the new size shows (or time out).
    let text = '';
    const resized = await eventually(() => {
      typeLine(pane, 'stty size');
      return /^40 120\s*$/m.test((text = capture(pane)));
    }, 10_000, 500);
    assert.ok(resized, `container terminal never became 40x120 after the resize:\n${text}`);

    // Detach: the CLI leaves with 0, says so, and the container runs on.
    tmux(['send-keys', '-t', pane, 'C-p', 'C-q']);
    text = await waitExit(pane, 0);
    assert.match(text, /read escape sequence/);
    assertRestored(text, 'detaching');
    assert.equal(status(name), 'running 0');

    // Attach from another terminal: the container's tty takes that terminal's size; exit 3 comes back.
    const pane2 = newWindow('s1', ['attach', name]);
    await waitRaw(pane2);
    const [w, h] = tmux(['display-message', '-p', '-t', pane2, '#{window_width} #{window_height}']).trim().split(' ');
    typeLine(pane2, 'stty size');
    await waitPane(pane2, new RegExp(`^${h} ${w}\\s*$`, 'm'), `stty size = ${h} ${w} in the attach window`);
    typeLine(pane2, 'exit 3');
    text = await waitExit(pane2, 3);
    assertRestored(text, 'the container exited under attach');
    assert.equal(status(name), 'exited 3');
    assert.match(ok(['ps', '-a', '--filter', `name=${name}`]).stdout, /Exited \(3\)/);
  } finally {
    killSession('s1');
    removeQuietly(name);
  }
});

test('run -it: the user terminal is raw while attached and restored after exit, detach, and an outside kill', async (t) => {
  if (skipWithoutTmux(t)) return;
  const names = ['tty-exit', 'tty-detach', 'tty-kill'];
  try {
    // The shell exits (exit 0 typed).
    const p1 = newSession('s2', 100, 30, ['run', '-it', '--name', names[0]!, 'busybox', 'sh']);
    await waitPane(p1, /\/ # /, 'prompt');
    await waitRaw(p1);
    typeLine(p1, 'exit');
    assertRestored(await waitExit(p1, 0), 'the shell exited');

    // Detach.
    const p2 = newWindow('s2', ['run', '-it', '--name', names[1]!, 'busybox', 'sh']);
    await waitPane(p2, /\/ # /, 'prompt');
    await waitRaw(p2);
    tmux(['send-keys', '-t', p2, 'C-p', 'C-q']);
    const detached = await waitExit(p2, 0);
    assert.match(detached, /read escape sequence/);
    assertRestored(detached, 'detaching');
    assert.equal(status(names[1]!), 'running 0');

    // The container is killed by someone else: the CLI returns 137 and still restores the terminal.
    const p3 = newWindow('s2', ['run', '-it', '--name', names[2]!, 'busybox', 'sh']);
    await waitPane(p3, /\/ # /, 'prompt');
    await waitRaw(p3);
    ok(['kill', names[2]!]);
    assertRestored(await waitExit(p3, 137), 'the container was killed');
  } finally {
    killSession('s2');
    removeQuietly(...names);
  }
});

test('run -it --detach-keys ctrl-x,x: those keys detach; ctrl-p ctrl-q is plain input', async (t) => {
  if (skipWithoutTmux(t)) return;
  const name = 'it-keys';
  try {
    const pane = newSession('s3', 100, 30, ['run', '-it', '--detach-keys', 'ctrl-x,x', '--name', name, 'busybox', 'sh']);
    await waitPane(pane, /\/ # /, 'prompt');
    await waitRaw(pane);
    // The container's tty must not eat ctrl-q as XON; od shows the bytes that arrived.
    typeLine(pane, 'stty -ixon; od -An -tx1');
    await sleep(300);
    tmux(['send-keys', '-t', pane, 'C-p', 'C-q', 'Enter']);
    tmux(['send-keys', '-t', pane, 'C-d']);
    let text = await waitPane(pane, /^\s*10 11 0a\s*$/m, 'od showing ctrl-p ctrl-q reached the container');
    assert.doesNotMatch(text, /read escape sequence|EXIT=/, 'ctrl-p ctrl-q detached despite --detach-keys');
    assert.equal(status(name), 'running 0');

    // Still attached: the shell answers.
    typeLine(pane, 'echo still-$((1+1))');
    await waitPane(pane, /^still-2\s*$/m, 'the shell still attached');

    tmux(['send-keys', '-t', pane, 'C-x', 'x']);
    text = await waitExit(pane, 0);
    assert.match(text, /read escape sequence/);
    assertRestored(text, 'detaching with ctrl-x,x');
    assert.equal(status(name), 'running 0');
  } finally {
    killSession('s3');
    removeQuietly(name);
  }
});

test('run -it: a container that exits by itself gives its output and exit code', async (t) => {
  if (skipWithoutTmux(t)) return;
  const name = 'it-self';
  try {
    const pane = newSession('s4', 100, 30, ['run', '-it', '--name', name, 'busybox', 'sh', '-c', 'echo bye; exit 7']);
    const text = await waitExit(pane, 7);
    assert.match(text, /^bye\s*$/m);
    assertRestored(text, 'the container exited by itself');
    assert.equal(status(name), 'exited 7');
  } finally {
    killSession('s4');
    removeQuietly(name);
  }
});

test('exec -it: a real pty of the terminal size, SIGWINCH resizes, exit 4 → 4, the terminal restored', async (t) => {
  if (skipWithoutTmux(t)) return;
  const name = 'exec-it';
  try {
    ok(['run', '-d', '--name', name, 'busybox', 'sleep', '1000']);
    const pane = newSession('s5', 90, 25, ['exec', '-it', name, 'sh']);
    await waitPane(pane, /\/ # /, 'the exec shell prompt');
    await waitRaw(pane);

    // A shell of its own in the container, on a terminal: it evaluates what we type, and is not PID 1.
    typeLine(pane, 'echo exec-$((6*7)) pid-$$; tty');
    const text = await waitPane(pane, /^exec-42 pid-(\d+)\s*$/m, 'exec-42 from the exec shell');
    assert.notEqual(/^exec-42 pid-(\d+)\s*$/m.exec(text)![1], '1', 'the exec shell is the container init');
    await waitPane(pane, /^\/dev\/pts\/\d+\s*$/m, 'tty naming a pty');

    await tm.waitSize(pane, 25, 90);
    tm.resize(pane, 110, 35);
    await tm.waitSize(pane, 35, 110);

    typeLine(pane, 'exit 4');
    assertRestored(await waitExit(pane, 4), 'the exec shell exited');
    assert.equal(status(name), 'running 0', 'the container outlives its exec');
  } finally {
    killSession('s5');
    removeQuietly(name);
  }
});

test('exec -it: ctrl-p ctrl-q detaches with 0, the exec process runs on; --detach-keys ctrl-x,x too', async (t) => {
  if (skipWithoutTmux(t)) return;
  const name = 'exec-detach';
  /** The container's processes whose command line is exactly `cmd`. */
  const procs = (cmd: string): number => ok(['exec', name, 'ps', '-o', 'args']).stdout.split('\n').filter((l) => l.trim() === cmd).length;
  try {
    ok(['run', '-d', '--name', name, 'busybox', 'sleep', '1000']);
    const pane = newSession('s6', 100, 30, ['exec', '-it', name, 'sh', '-c', 'echo ready-one; exec cat']);
    await waitPane(pane, /^ready-one\s*$/m, 'the exec process started');
    await waitRaw(pane);
    // The keys pass through raw to the process (its pty echoes them) until the detach sequence.
    typeLine(pane, 'typed-before-detach');
    await waitPane(pane, /typed-before-detach[\s\S]*typed-before-detach/, 'cat echoing the typed line');
    tm.keys(pane, 'C-p', 'C-q');
    assertRestored(await waitExit(pane, 0), 'detaching from exec -it');
    assert.equal(procs('cat'), 1, 'the detached exec process is gone');
    assert.equal(status(name), 'running 0');

    // Other keys: ctrl-p ctrl-q is plain input (od shows its bytes; the pty must not eat ctrl-q as XON),
    // ctrl-x x detaches.
    const p2 = newWindow('s6', ['exec', '-it', '--detach-keys', 'ctrl-x,x', name, 'sh', '-c', 'stty -ixon; echo ready-two; od -An -tx1; echo od-done; exec sleep 998']);
    await waitPane(p2, /^ready-two\s*$/m, 'the second exec process started');
    await waitRaw(p2);
    tm.keys(p2, 'C-p', 'C-q', 'Enter');
    tm.keys(p2, 'C-d');
    let text = await waitPane(p2, /^\s*10 11 0a\s*$/m, 'od showing ctrl-p ctrl-q reached the exec process');
    text = await waitPane(p2, /^od-done\s*$/m, 'the exec process past od');
    assert.doesNotMatch(text, /EXIT=/, 'ctrl-p ctrl-q detached despite --detach-keys');
    tm.keys(p2, 'C-x', 'x');
    text = await waitExit(p2, 0);
    assertRestored(text, 'detaching from exec -it with ctrl-x,x');
    assert.equal(procs('sleep 998'), 1, 'the exec process detached with ctrl-x,x is gone');
  } finally {
    killSession('s6');
    removeQuietly(name);
  }
});

// ---- without a terminal ----

test('10 MB of random bytes pass byte-exact through run -i and exec -i, on stdout or stderr', async () => {
  const file = join(scratch, 'random.bin');
  const data = randomBytes(10 << 20);
  writeFileSync(file, data);
  const want = sha256(data);
  const name = 'bulk';
  try {
    let r = await berthFromFile(['run', '-i', '--rm', 'busybox', 'cat'], file);
    assert.equal(r.code, 0, `run -i cat: ${r.stderr.toString()}`);
    assert.equal(r.stdout.length, data.length, 'run -i cat: byte count');
    assert.equal(sha256(r.stdout), want, 'run -i cat: content');
    assert.equal(r.stderr.length, 0, `run -i cat: stderr ${r.stderr.toString()}`);

    r = await berthFromFile(['run', '-i', '--rm', 'busybox', 'sh', '-c', 'cat >&2'], file);
    assert.equal(r.code, 0, `run -i cat >&2: ${r.stderr.subarray(0, 500).toString()}`);
    assert.equal(r.stdout.length, 0, 'run -i cat >&2: stdout must be empty');
    assert.equal(r.stderr.length, data.length, 'run -i cat >&2: byte count on stderr');
    assert.equal(sha256(r.stderr), want, 'run -i cat >&2: content on stderr');

    ok(['run', '-d', '--name', name, 'busybox', 'sleep', '1000']);
    r = await berthFromFile(['exec', '-i', name, 'cat'], file);
    assert.equal(r.code, 0, `exec -i cat: ${r.stderr.toString()}`);
    assert.equal(r.stdout.length, data.length, 'exec -i cat: byte count');
    assert.equal(sha256(r.stdout), want, 'exec -i cat: content');
    assert.equal(r.stderr.length, 0);

    r = await berthFromFile(['exec', '-i', name, 'sh', '-c', 'cat >&2'], file);
    assert.equal(r.code, 0, `exec -i cat >&2: ${r.stderr.subarray(0, 500).toString()}`);
    assert.equal(r.stdout.length, 0, 'exec -i cat >&2: stdout must be empty');
    assert.equal(sha256(r.stderr), want, 'exec -i cat >&2: content on stderr');
  } finally {
    removeQuietly(name);
    rmSync(file, { force: true });
  }
});

test('-i without -t: stdin and its EOF reach the container; stdout and stderr stay apart', async () => {
  let r = await berthInput(['run', '-i', '--rm', 'busybox', 'sh', '-c', 'cat; echo after-eof'], 'a\nb\n');
  assert.equal(r.code, 0, showT(r));
  assert.equal(r.stdout, 'a\nb\nafter-eof\n');

  r = await berthInput(['run', '-i', '--rm', 'busybox', 'sh'], 'exit 5\n');
  assert.equal(r.code, 5, showT(r));

  // Empty stdin is an immediate EOF.
  r = await berthInput(['run', '-i', '--rm', 'busybox', 'sh', '-c', 'cat; echo eof'], '');
  assert.equal(r.code, 0, showT(r));
  assert.equal(r.stdout, 'eof\n');

  r = await berthInput(['run', '-i', '--rm', 'busybox', 'sh', '-c', 'echo out; echo err >&2; read x; echo "in=$x"; echo err2 >&2'], 'zz\n');
  assert.equal(r.code, 0, showT(r));
  assert.equal(r.stdout, 'out\nin=zz\n');
  assert.equal(r.stderr, 'err\nerr2\n');

  // Without -i either (the log-following path).
  r = await berthInput(['run', '--rm', 'busybox', 'sh', '-c', 'echo out; echo err >&2; exit 2'], '');
  assert.equal(r.code, 2, showT(r));
  assert.equal(r.stdout, 'out\n');
  assert.equal(r.stderr, 'err\n');
});

test('start -ai reads stdin and returns the exit code; attach refuses stopped and paused containers', async () => {
  const names = ['start-ai', 'paused-one'];
  try {
    ok(['create', '-i', '--name', names[0]!, 'busybox', 'sh', '-c', 'read x; echo "got-$x"; echo to-err >&2; exit 4']);
    let r = await berthInput(['start', '-ai', names[0]!], 'hi\n');
    assert.equal(r.code, 4, showT(r));
    assert.equal(r.stdout, 'got-hi\n');
    assert.equal(r.stderr, 'to-err\n');
    assert.equal(status(names[0]!), 'exited 4');

    r = await berthInput(['attach', names[0]!], '');
    assert.equal(r.code, 1, showT(r));
    assert.match(r.stderr, /cannot attach to a stopped container/i);

    ok(['run', '-d', '--name', names[1]!, 'busybox', 'sleep', '1000']);
    ok(['pause', names[1]!]);
    r = await berthInput(['attach', names[1]!], '');
    assert.equal(r.code, 1, showT(r));
    assert.match(r.stderr, /cannot attach to a paused container/i);
    assert.equal(status(names[1]!), 'paused 0');
    ok(['unpause', names[1]!]);
  } finally {
    removeQuietly(...names);
  }
});

test('start -ai of a `create -i` container passes stdin EOF on (docker: create -i sets StdinOnce)', async () => {
  // docker/cli opts.go: "When allocating stdin in attached mode, close stdin at client disconnect":
  // OpenStdin && AttachStdin → StdinOnce, and -i sets AttachStdin, for create as for run.
  const name = 'start-ai-eof';
  try {
    ok(['create', '-i', '--name', name, 'busybox', 'sh', '-c', 'cat; echo eof-seen; exit 4']);
    const r = await berthInput(['start', '-ai', name], 'line1\nline2\n', 10_000);
    assert.ok(!r.timedOut, `start -ai never saw stdin's EOF reach the container (killed after 10 s): ${showT(r)}`);
    assert.equal(r.code, 4, showT(r));
    assert.equal(r.stdout, 'line1\nline2\neof-seen\n');
  } finally {
    removeQuietly(name);
  }
});

test('sig-proxy: SIGTERM to the berth CLI reaches the container, whose exit code comes back', async () => {
  const name = 'sigproxy';
  const c = spawn(
    BERTH,
    ['--root', env.root, 'run', '--rm', '--name', name, 'busybox', 'sh', '-c', 'trap "echo got-term; exit 9" TERM; echo ready; while :; do sleep 0.1; done'],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let stdout = '';
  let stderr = '';
  c.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
  c.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
  const closed = new Promise<number>((resolve) => c.on('close', (code, sig) => resolve(code ?? (sig ? 128 : 255))));
  try {
    // The trap is set once "ready" is out (and the container is running).
    const ready = await eventually(() => stdout.includes('ready'), 15_000);
    assert.ok(ready, `container never became ready: stdout=${stdout} stderr=${stderr}`);
    assert.equal(status(name), 'running 0');
    c.kill('SIGTERM');
    const code = await Promise.race([closed, sleep(20_000).then(() => -1)]);
    assert.equal(code, 9, `berth exit code; stdout=${stdout} stderr=${stderr}`);
    assert.match(stdout, /got-term/);
    // --rm: gone afterwards.
    assert.ok(await eventually(() => env.berth(['inspect', name]).code !== 0, 10_000), '--rm container still there');
  } finally {
    if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    removeQuietly(name);
  }
});
