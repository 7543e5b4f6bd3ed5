/**
 * The real docker CLI on a real terminal against `berth serve`: `docker run -it`, `attach`, `exec -it`
 * and `start -ai` in tmux panes. Keys reach the container's shell raw, its tty has the pane's size and
 * follows resizes (POST /containers/{id}/resize, /exec/{id}/resize), the detach keys (ctrl-p ctrl-q, or
 * --detach-keys) leave the container running, attaching again works, exit codes come back through the
 * CLI, and the user's terminal is restored every way out. The CLI spots its detach keys itself; the
 * server's own matching (for clients that leave it to the server) is driven over a raw hijacked socket.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { after, before, test, type TestContext } from 'node:test';
import { startApiServer, type ApiServer } from './api-server.ts';
import { cli, eventually, sleep, type Env } from './helpers.ts';
import { assertRestored, HAVE_TMUX, skipWithoutTmux, TmuxServer } from './tmux.ts';

const DOCKER = ['/usr/local/bin/docker', '/usr/bin/docker'].find((p) => existsSync(p));

let api: ApiServer;
let env: Env;
let tm: TmuxServer;
/** The CLI's config directory (contexts, config.json), inside the test root. */
let dockerConfig = '';

before(async () => {
  api = await startApiServer('api-interactive');
  env = api.env;
  const scratch = join(env.root, 'tmux');
  mkdirSync(scratch);
  dockerConfig = join(env.root, 'docker-config');
  mkdirSync(dockerConfig);
  tm = new TmuxServer(scratch);
});

after(async () => {
  if (HAVE_TMUX && tm) tm.killServer();
  await api?.stop();
});

function skip(t: TestContext): boolean {
  if (skipWithoutTmux(t)) return true;
  if (!DOCKER) {
    t.skip('the docker CLI is not installed: docker-on-a-terminal tests skipped');
    return true;
  }
  return false;
}

/** The docker CLI's argv for a pane, talking to our server. */
function docker(args: string[]): string[] {
  return ['env', `DOCKER_HOST=unix://${api.sock}`, `DOCKER_CONFIG=${dockerConfig}`, DOCKER!, ...args];
}

/** The docker CLI without a terminal. */
function dockerRun(args: string[]): { code: number; stdout: string; stderr: string } {
  const r = spawnSync(DOCKER!, args, {
    encoding: 'utf8',
    timeout: 60_000,
    env: { ...process.env, DOCKER_HOST: `unix://${api.sock}`, DOCKER_CONFIG: dockerConfig },
  });
  if (r.error) throw r.error;
  return { code: r.status ?? 128, stdout: r.stdout, stderr: r.stderr };
}

/** berth: run the CLI, require exit 0, its stdout. status: state and exit code, through the CLI (not the API). */
const { out: berth, status } = cli(() => env);

/** A failed assertion shows what the server said. */
function withLog(msg: string): string {
  return `${msg}\nserver log:\n${api.log()}`;
}

test('docker run -it: keys reach the shell, the pane size and its resize, ctrl-p ctrl-q detaches, docker attach again, exit 3 → 3', async (t) => {
  if (skip(t)) return;
  const name = 'dk-main';
  try {
    const pane = tm.newSession('d1', 100, 30, docker(['run', '-it', '--name', name, 'busybox', 'sh']));
    await tm.waitPane(pane, /\/ # /, 'the container shell prompt');
    await tm.waitRaw(pane);

    // The container's shell evaluates what we type: the keys pass raw, its own tty echoes them.
    tm.typeLine(pane, 'echo $((6*7))');
    await tm.waitPane(pane, /^42\s*$/m, '42 from the container shell');

    // The container's terminal has the pane's size (the CLI resizes after the start), and follows it
    // (SIGWINCH → POST /containers/{id}/resize).
    await tm.waitSize(pane, 30, 100);
    tm.resize(pane, 120, 40);
    await tm.waitSize(pane, 40, 120);

    // Detach: the CLI leaves with 0 and restores the terminal; the container runs on.
    tm.keys(pane, 'C-p', 'C-q');
    let text = await tm.waitExit(pane, 0);
    assertRestored(text, 'detaching from docker run -it');
    assert.equal(status(name), 'running 0', withLog(`after the detach:\n${text}`));
    assert.match(berth(['ps', '--filter', `name=${name}`]), /Up /);

    // Attach again from a terminal of another size: the CLI sizes the container's tty to it.
    tm.resize(pane, 90, 25);
    tm.respawn(pane, docker(['attach', name]));
    await tm.waitRaw(pane);
    await tm.waitSize(pane, 25, 90);
    tm.typeLine(pane, 'echo attached-$((1+2))');
    await tm.waitPane(pane, /^attached-3\s*$/m, 'the shell answering through docker attach');

    // The shell exits 3: docker attach returns the container's exit code.
    tm.typeLine(pane, 'exit 3');
    text = await tm.waitExit(pane, 3);
    assertRestored(text, 'the container exited under docker attach');
    assert.equal(status(name), 'exited 3');
    assert.match(berth(['ps', '-a', '--filter', `name=${name}`]), /Exited \(3\)/);
  } finally {
    tm.killSession('d1');
    env.berth(['rm', '-f', name]);
  }
});

test('docker exec -it: a shell in a running container, sized and resized, exit 5 → 5; ctrl-p ctrl-q leaves the exec running', async (t) => {
  if (skip(t)) return;
  const name = 'dk-exec';
  try {
    const r = dockerRun(['run', '-d', '--name', name, 'busybox', 'sleep', '1000']);
    assert.equal(r.code, 0, `docker run -d: ${r.stderr}`);

    const pane = tm.newSession('d2', 80, 24, docker(['exec', '-it', name, 'sh']));
    await tm.waitPane(pane, /\/ # /, 'the exec shell prompt');
    await tm.waitRaw(pane);
    tm.typeLine(pane, 'echo $((6*7)); tty');
    await tm.waitPane(pane, /^42\s*\n\/dev\/pts\/\d+\s*$/m, '42 and a pty from the exec shell');
    // The exec's terminal (POST /exec/{id}/resize, sent right after the start) and a resize.
    await tm.waitSize(pane, 24, 80);
    tm.resize(pane, 110, 35);
    await tm.waitSize(pane, 35, 110);
    tm.typeLine(pane, 'exit 5');
    let text = await tm.waitExit(pane, 5);
    assertRestored(text, 'the exec shell exited');
    assert.equal(status(name), 'running 0', 'the container outlives its exec');

    // Detach from an exec: the CLI says so (and, as against dockerd, returns 1); the process lives on.
    tm.respawn(pane, docker(['exec', '-it', name, 'sh']));
    await tm.waitPane(pane, /\/ # /, 'the second exec shell prompt');
    await tm.waitRaw(pane);
    tm.typeLine(pane, 'echo "pid=$$"');
    text = await tm.waitPane(pane, /^pid=\d+\s*$/m, 'the exec shell pid');
    const pid = /^pid=(\d+)\s*$/m.exec(text)![1]!;
    tm.keys(pane, 'C-p', 'C-q');
    text = await tm.waitPane(pane, /MODES=.*END/, 'docker exec to leave');
    assert.match(text, /read escape sequence/);
    assert.match(text, /^EXIT=(0|1)$/m);
    assertRestored(text, 'detaching from docker exec -it');
    const alive = env.berth(['exec', name, 'sh', '-c', `kill -0 ${pid} && cat /proc/${pid}/comm`]);
    assert.equal(alive.code, 0, withLog(`the detached exec shell (pid ${pid}) is gone: ${alive.stderr}`));
    assert.equal(alive.stdout.trim(), 'sh');
  } finally {
    tm.killSession('d2');
    env.berth(['rm', '-f', name]);
  }
});

test('docker run -it --rm --detach-keys ctrl-x,x: ctrl-p ctrl-q is input, ctrl-x x detaches; a kill under attach → 137 and removal', async (t) => {
  if (skip(t)) return;
  const name = 'dk-keys';
  try {
    const pane = tm.newSession('d3', 100, 30, docker(['run', '-it', '--rm', '--detach-keys', 'ctrl-x,x', '--name', name, 'busybox', 'sh']));
    await tm.waitPane(pane, /\/ # /, 'the container shell prompt');
    await tm.waitRaw(pane);
    // The container's tty must not eat ctrl-q as XON; od shows the bytes that arrived.
    tm.typeLine(pane, 'stty -ixon; od -An -tx1');
    await sleep(300);
    tm.keys(pane, 'C-p', 'C-q', 'Enter');
    tm.keys(pane, 'C-d');
    let text = await tm.waitPane(pane, /^\s*10 11 0a\s*$/m, 'od showing ctrl-p ctrl-q reached the container');
    assert.doesNotMatch(text, /EXIT=/, 'ctrl-p ctrl-q detached despite --detach-keys');
    tm.typeLine(pane, 'echo still-$((1+1))');
    await tm.waitPane(pane, /^still-2\s*$/m, 'the shell, still attached');

    tm.keys(pane, 'C-x', 'x');
    text = await tm.waitExit(pane, 0);
    assertRestored(text, 'detaching with ctrl-x,x');
    assert.equal(status(name), 'running 0');

    // Attached again, the container is killed from elsewhere: the CLI returns 137, --rm removes it.
    tm.respawn(pane, docker(['attach', name]));
    await tm.waitRaw(pane);
    tm.typeLine(pane, 'echo reattached');
    await tm.waitPane(pane, /^reattached\s*$/m, 'the shell through docker attach');
    const k = dockerRun(['kill', name]);
    assert.equal(k.code, 0, `docker kill: ${k.stderr}`);
    text = await tm.waitExit(pane, 137);
    assertRestored(text, 'the container was killed under docker attach');
    assert.ok(await eventually(() => env.berth(['inspect', name]).code !== 0, 10_000), withLog('the --rm container is still there'));
  } finally {
    tm.killSession('d3');
    env.berth(['rm', '-f', name]);
  }
});

test('docker create -it, then docker start -ai: the pane size, exit 4 → 4', async (t) => {
  if (skip(t)) return;
  const name = 'dk-start';
  try {
    const c = dockerRun(['create', '-it', '--name', name, 'busybox', 'sh']);
    assert.equal(c.code, 0, `docker create: ${c.stderr}`);
    const pane = tm.newSession('d4', 70, 20, docker(['start', '-ai', name]));
    await tm.waitRaw(pane);
    await tm.waitSize(pane, 20, 70);
    tm.typeLine(pane, 'exit 4');
    const text = await tm.waitExit(pane, 4);
    assertRestored(text, 'the container exited under docker start -ai');
    assert.equal(status(name), 'exited 4');
  } finally {
    tm.killSession('d4');
    env.berth(['rm', '-f', name]);
  }
});

// ---- the server's detach keys, over a raw hijacked connection ----

interface Hijacked {
  sock: Socket;
  /** Everything the server sent after the 101's headers. */
  text(): string;
  /** Resolves when the server ends its side. */
  ended: Promise<void>;
}

/** POST with Upgrade: tcp, as the docker CLI does; resolves once the 101 is in. */
function hijack(path: string, body?: object): Promise<Hijacked> {
  return new Promise((resolve, reject) => {
    const sock = connect(api.sock);
    const payload = body ? JSON.stringify(body) : '';
    let buf = Buffer.alloc(0);
    let out = '';
    let head = true;
    const ended = new Promise<void>((r) => {
      sock.on('end', r);
      sock.on('close', r);
    });
    sock.on('error', reject);
    sock.on('data', (b: Buffer) => {
      if (!head) {
        out += b.toString();
        return;
      }
      buf = Buffer.concat([buf, b]);
      const i = buf.indexOf('\r\n\r\n');
      if (i < 0) return;
      head = false;
      const status = buf.subarray(0, i).toString().split('\r\n')[0]!;
      if (!/^HTTP\/1\.1 101/.test(status)) return reject(new Error(`${path}: ${buf.toString()}`));
      out = buf.subarray(i + 4).toString();
      resolve({ sock, text: () => out, ended });
    });
    sock.write(
      [`POST /v1.51${path} HTTP/1.1`, 'Host: berth', 'Connection: Upgrade', 'Upgrade: tcp', 'Content-Type: application/json', `Content-Length: ${Buffer.byteLength(payload)}`, '', ''].join('\r\n') + payload,
    );
  });
}

async function waitText(h: Hijacked, re: RegExp, what: string): Promise<void> {
  assert.ok(await eventually(() => re.test(h.text()), 10_000), withLog(`no ${what} (${re}) in the stream:\n${JSON.stringify(h.text())}`));
}

/** The server ended the stream within 10 s. */
async function assertEnded(h: Hijacked, what: string): Promise<void> {
  const ended = await Promise.race([h.ended.then(() => true), sleep(10_000).then(() => false)]);
  assert.ok(ended, withLog(`the server did not end the stream after ${what}:\n${JSON.stringify(h.text())}`));
}

test('the server detaches a hijacked attach and exec on their detach keys, split across packets; both processes live on', async () => {
  const name = 'dk-raw';
  try {
    berth(['run', '-dit', '--name', name, 'busybox', 'sh']);

    // attach?detachKeys=ctrl-x,x: the keys end the stream, the container's shell runs on.
    const a = await hijack(`/containers/${name}/attach?stream=1&stdin=1&stdout=1&stderr=1&detachKeys=ctrl-x,x`);
    a.sock.write('echo raw-$((2*21))\n');
    await waitText(a, /raw-42/, 'the shell answering through the attach');
    a.sock.write('\x18');
    await sleep(200);
    a.sock.write('x');
    await assertEnded(a, 'ctrl-x x');
    a.sock.destroy();
    assert.equal(status(name), 'running 0');

    // exec with DetachKeys: the same for an exec; it keeps running, as exec inspect says.
    const created = await new Promise<string>((resolve, reject) => {
      const s = connect(api.sock);
      const body = JSON.stringify({ Cmd: ['sh'], AttachStdin: true, AttachStdout: true, AttachStderr: true, Tty: true, DetachKeys: 'ctrl-x,x' });
      let reply = '';
      s.on('data', (b: Buffer) => (reply += b.toString()));
      s.on('end', () => resolve(reply));
      s.on('error', reject);
      s.write([`POST /v1.51/containers/${name}/exec HTTP/1.1`, 'Host: berth', 'Connection: close', 'Content-Type: application/json', `Content-Length: ${body.length}`, '', ''].join('\r\n') + body);
    });
    const execId = (/"Id":"([0-9a-f]+)"/.exec(created) ?? [])[1];
    assert.ok(execId, `exec create: ${created}`);
    const e = await hijack(`/exec/${execId}/start`, { Detach: false, Tty: true });
    e.sock.write('echo "pid=$$"\n');
    await waitText(e, /pid=\d+/, 'the exec shell pid');
    const pid = /pid=(\d+)/.exec(e.text())![1]!;
    e.sock.write('\x18');
    await sleep(200);
    e.sock.write('x');
    await assertEnded(e, 'ctrl-x x in an exec');
    e.sock.destroy();
    const alive = env.berth(['exec', name, 'sh', '-c', `kill -0 ${pid} && cat /proc/${pid}/comm`]);
    assert.equal(alive.code, 0, withLog(`the detached exec shell (pid ${pid}) is gone: ${alive.stderr}`));

    // Attached again (default keys), exit 3 ends the stream and the container.
    const b = await hijack(`/containers/${name}/attach?stream=1&stdin=1&stdout=1&stderr=1`);
    b.sock.write('exit 3\n');
    await assertEnded(b, 'exit 3');
    b.sock.destroy();
    assert.ok(await eventually(() => status(name) === 'exited 3', 10_000), `status: ${status(name)}`);
  } finally {
    env.berth(['rm', '-f', name]);
  }
});
