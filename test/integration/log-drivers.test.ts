/**
 * The json-file (default) and local log drivers: docker's file formats on disk, rotation by max-size and
 * max-file with compressed rotated files, `logs` (all, --tail, -f) across the rotated files, attributes,
 * docker's refusals of bad options, the engine's default driver from daemon.json, and no writer left
 * behind. (k8s-file, none and reading in general: logs.test.ts.)
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { BERTH, cli, conmonsOf, eventually, logWritersOf, REPO, setupEnv, type Env } from './helpers.ts';

let env: Env;

before(() => {
  env = setupEnv('log-drivers');
});

after(async () => {
  if (!env) return;
  rmSync(join(env.root, 'daemon.json'), { force: true });
  const ids = env.berth(['ps', '-aq', '--no-trunc']).stdout.split('\n').filter(Boolean);
  if (ids.length > 0) env.berth(['rm', '-f', ...ids]);
  await eventually(() => conmonsOf(env.root).length === 0 && logWritersOf(env.root).length === 0, 10_000);
  env.teardown();
});

const { ok, runD, inspect, removeQuietly: rm } = cli(() => env);

function waitExit(id: string): number {
  return Number(ok(['wait', id], { timeoutMs: 60_000 }).stdout.trim());
}

const numbered = (from: number, to: number, pad = '') => Array.from({ length: to - from + 1 }, (_, i) => `${from + i}${pad}\n`).join('');

test('json-file is the default: docker\'s lines on disk at <id>-json.log, read back by logs', () => {
  // stdout and stderr reach the log through two pipes: a pause keeps their order in the file known.
  const id = runD(['busybox', 'sh', '-c', 'echo err >&2; sleep 0.2; echo "a <b> & \\"c\\""; printf last']);
  try {
    assert.equal(waitExit(id), 0);
    const i = inspect(id);
    assert.deepEqual(i.HostConfig.LogConfig, { Type: 'json-file', Config: {} });
    const path = (i as unknown as { LogPath: string }).LogPath;
    assert.equal(path, join(env.root, 'containers', id, `${id}-json.log`));
    const lines = readFileSync(path, 'utf8').split('\n');
    assert.equal(lines.pop(), '');
    // docker's key order and escaping (HTML-safe), times in UTC
    assert.match(lines[1]!, /^\{"log":"a \\u003cb\\u003e \\u0026 \\"c\\"\\n","stream":"stdout","time":"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z"\}$/);
    const recs = lines.map((l) => JSON.parse(l) as { log: string; stream: string });
    assert.deepEqual(recs.map((r) => [r.stream, r.log]).sort(), [['stderr', 'err\n'], ['stdout', 'a <b> & "c"\n'], ['stdout', 'last']]);
    const l = ok(['logs', id]);
    assert.equal(l.stdout, 'a <b> & "c"\nlast');
    assert.equal(l.stderr, 'err\n');
    assert.equal(ok(['logs', '--tail', '1', id]).stdout, 'last');
    assert.deepEqual(logWritersOf(id), [], 'the writer ends with the container');
  } finally {
    rm(id);
  }
});

test('json-file max-size/max-file/compress: rotated files gzipped, the oldest dropped; logs and --tail read across them', () => {
  // 60 lines of ~85 bytes of json per burst: two or three rotations of 2 KB files in each.
  const id = runD(['--log-opt', 'max-size=2k', '--log-opt', 'max-file=3', '--log-opt', 'compress=true', 'busybox', 'sh', '-c',
    'for b in 1 2 3 4 5 6; do for i in $(seq $((b * 60 - 59)) $((b * 60))); do echo "$i xxxxxxxxxxxxxxxx"; done; sleep 0.3; done']);
  try {
    assert.equal(waitExit(id), 0);
    assert.deepEqual(inspect(id).HostConfig.LogConfig, { Type: 'json-file', Config: { 'max-size': '2k', 'max-file': '3', compress: 'true' } });
    const dir = join(env.root, 'containers', id);
    const files = readdirSync(dir).filter((f) => f.startsWith(`${id}-json.log`)).sort();
    assert.deepEqual(files, [`${id}-json.log`, `${id}-json.log.1.gz`, `${id}-json.log.2.gz`]);
    const rotated = gunzipSync(readFileSync(join(dir, `${id}-json.log.1.gz`))).toString().trim().split('\n');
    assert.ok(rotated.every((l) => /^\{"log":"\d+ x+\\n","stream":"stdout","time":"[^"]+"\}$/.test(l)), rotated[0]);
    const shown = ok(['logs', id]).stdout.split('\n').filter(Boolean).map((l) => Number(l.split(' ')[0]));
    // What the three files keep: an unbroken run of lines ending at the last one, the first ones dropped.
    assert.equal(shown[shown.length - 1], 360);
    assert.ok(shown[0]! > 1 && shown.length < 360, `kept ${shown[0]}…${shown[shown.length - 1]}`);
    assert.deepEqual(shown, Array.from({ length: shown.length }, (_, i) => shown[0]! + i));
    // A tail longer than the current file reaches into the rotated ones.
    const tail = ok(['logs', '--tail', String(shown.length - 5), id]).stdout.split('\n').filter(Boolean).map((l) => Number(l.split(' ')[0]));
    assert.deepEqual(tail, shown.slice(5));
  } finally {
    rm(id);
  }
});

for (const compress of [false, true]) {
  test(`logs -f follows a json-file log across its rotations to the end, several in a burst too${compress ? ', compressed' : ''}`, async () => {
    const id = runD(['--log-opt', 'max-size=2k', '--log-opt', 'max-file=10', ...(compress ? ['--log-opt', 'compress=true'] : []), 'busybox', 'sh', '-c',
      'sleep 0.5; for b in 1 2 3 4 5; do for i in $(seq $((b * 60 - 59)) $((b * 60))); do echo "$i yyyyyyyyyyyyyyyy"; done; sleep 0.3; done']);
    try {
      const c = spawn(BERTH, ['--root', env.root, 'logs', '-f', id], { stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      c.stdout.on('data', (b: Buffer) => (out += b.toString()));
      const code = await new Promise<number | null>((resolve) => c.on('close', resolve));
      assert.equal(code, 0);
      assert.equal(out, numbered(1, 300, ' yyyyyyyyyyyyyyyy'));
      const files = readdirSync(join(env.root, 'containers', id)).filter((f) => f.startsWith(`${id}-json.log.`));
      assert.ok(files.length >= 6, `rotated ${files.length} times`);
      assert.ok(files.every((f) => f.endsWith('.gz') === compress), files.join(' '));
    } finally {
      rm(id);
    }
  });
}

test('local: docker\'s framed records under local-logs/, no LogPath, read back whole and by --tail', () => {
  const id = runD(['--log-driver', 'local', 'busybox', 'sh', '-c', 'seq 1 500; echo err >&2; printf end']);
  try {
    assert.equal(waitExit(id), 0);
    const i = inspect(id) as unknown as { LogPath: string; HostConfig: { LogConfig: unknown } };
    assert.deepEqual(i.HostConfig.LogConfig, { Type: 'local', Config: {} });
    assert.equal(i.LogPath, '');
    const file = readFileSync(join(env.root, 'containers', id, 'local-logs', 'container.log'));
    // Each record: its size, a LogEntry message, its size again.
    let pos = 0;
    let n = 0;
    while (pos < file.length) {
      const size = file.readUInt32BE(pos);
      assert.equal(file.readUInt32BE(pos + 4 + size), size, `record ${n} is framed by its size`);
      assert.equal(file[pos + 4], 0x0a, 'its first field is source (1, bytes)');
      pos += 8 + size;
      n++;
    }
    assert.equal(pos, file.length);
    const l = ok(['logs', id]);
    assert.equal(l.stdout, `${numbered(1, 500)}end`);
    assert.equal(l.stderr, 'err\n');
    const t = ok(['logs', '--tail', '3', id]);
    assert.equal(t.stdout, '500\nend');
    assert.equal(t.stderr, 'err\n');
  } finally {
    rm(id);
  }
});

test('labels, env and tag options put attrs on every json-file record; logs --details shows them', () => {
  const id = runD(['--name', 'tagged', '--label', 'team=db', '-e', 'MODE=fast', '--log-opt', 'labels=team', '--log-opt', 'env=MODE',
    '--log-opt', 'tag={{.Name}}/{{.ID}}', 'busybox', 'echo', 'hi']);
  try {
    assert.equal(waitExit(id), 0);
    const line = readFileSync(inspect(id, '{{.LogPath}}'), 'utf8').trim();
    assert.match(line, new RegExp(`^\\{"log":"hi\\\\n","stream":"stdout","attrs":\\{"MODE":"fast","tag":"tagged/${id.slice(0, 12)}","team":"db"\\},"time":"[^"]+"\\}$`));
    // logs --details puts them before each line as docker's daemon does: sorted, query-escaped, k=v joined by commas
    assert.equal(ok(['logs', '--details', id]).stdout, `MODE=fast,tag=tagged%2F${id.slice(0, 12)},team=db hi\n`);
    assert.match(ok(['logs', '--details', '-t', id]).stdout, /^\d{4}-\S+Z MODE=fast,/);
  } finally {
    rm(id);
  }
});

test('bad log options are refused as docker refuses them (125, one line, nothing made)', () => {
  const cases: [string[], RegExp][] = [
    [['--log-opt', 'max-file=0'], /max-file cannot be less than 1/],
    [['--log-opt', 'max-file=3', '--log-opt', 'compress=true'], /compress cannot be true when max-file is less than 2 or max-size is not set/],
    [['--log-opt', 'max-size=lots'], /invalid size: 'lots'/],
    [['--log-opt', 'bogus=1'], /unknown log opt 'bogus' for json-file log driver/],
    [['--log-driver', 'local', '--log-opt', 'max-file=1'], /compression cannot be enabled when max file count is 1/],
    [['--log-driver', 'fluentd'], /no log driver named 'fluentd'/],
    [['--log-opt', 'tag={{.Nope}}'], /invalid log tag template/],
  ];
  for (const [flags, want] of cases) {
    const r = env.berth(['run', ...flags, 'busybox', 'true']);
    assert.equal(r.code, 125, `${flags.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, want);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
  }
  assert.equal(env.berth(['ps', '-aq']).stdout, '', 'nothing made by the refused runs');
});

test('daemon.json log-driver and log-opts: the default for containers that name none; a bad one is refused naming the file', () => {
  const file = join(env.root, 'daemon.json');
  writeFileSync(file, JSON.stringify({ 'log-driver': 'local', 'log-opts': { 'max-size': '1m', 'max-file': '2' } }));
  const ids: string[] = [];
  try {
    assert.equal(ok(['info', '-f', '{{.LoggingDriver}}']).stdout.trim(), 'local');
    ids.push(runD(['busybox', 'echo', 'one']));
    assert.deepEqual(inspect(ids[0]!).HostConfig.LogConfig, { Type: 'local', Config: { 'max-size': '1m', 'max-file': '2' } });
    // the defaults' options fill in those the container left out of the same driver
    ids.push(runD(['--log-opt', 'max-file=4', 'busybox', 'echo', 'two']));
    assert.deepEqual(inspect(ids[1]!).HostConfig.LogConfig, { Type: 'local', Config: { 'max-size': '1m', 'max-file': '4' } });
    // another driver gets only its own
    ids.push(runD(['--log-driver', 'json-file', 'busybox', 'echo', 'three']));
    assert.deepEqual(inspect(ids[2]!).HostConfig.LogConfig, { Type: 'json-file', Config: {} });
    for (const [i, want] of ['one\n', 'two\n', 'three\n'].entries()) {
      waitExit(ids[i]!);
      assert.equal(ok(['logs', ids[i]!]).stdout, want);
    }
    writeFileSync(file, JSON.stringify({ 'log-driver': 'json-file', 'log-opts': { 'max-file': 'many' } }));
    const bad = env.berth(['run', '--rm', 'busybox', 'true']);
    assert.equal(bad.code, 125);
    assert.match(bad.stderr, new RegExp(`${file.replace(/[.]/g, '\\.')}: "log-driver"/"log-opts": .*max-file`));
  } finally {
    rmSync(file, { force: true });
    rm(...ids);
  }
});

test('a restarted container appends to its json-file log; rm -f of a running one leaves no writer', async () => {
  const id = runD(['busybox', 'sh', '-c', 'echo run; sleep 30']);
  try {
    assert.ok(await eventually(() => env.berth(['logs', id]).stdout === 'run\n', 10_000), 'first run logged');
    assert.equal(logWritersOf(id).length, 1, 'one writer while it runs');
    ok(['restart', '-t', '0', id]);
    assert.ok(await eventually(() => env.berth(['logs', id]).stdout === 'run\nrun\n', 10_000), ok(['logs', id]).stdout);
    assert.equal(logWritersOf(id).length, 1, 'still one writer: the first run\'s ended with its monitor');
  } finally {
    rm(id);
  }
  assert.ok(await eventually(() => logWritersOf(id).length === 0, 5_000), 'the writer ended with the removed container');
  assert.ok(!existsSync(join(env.root, 'containers', id)));
});

test('local keeps the attrs too; --details of a record without any is a bare space, as docker', () => {
  const id = runD(['--log-driver', 'local', '--label', 'team=db', '--log-opt', 'labels=team', 'busybox', 'echo', 'hi']);
  const plain = runD(['busybox', 'echo', 'plain']);
  try {
    assert.equal(waitExit(id), 0);
    assert.equal(waitExit(plain), 0);
    assert.equal(ok(['logs', '--details', id]).stdout, 'team=db hi\n');
    assert.equal(ok(['logs', '--details', plain]).stdout, ' plain\n');
  } finally {
    rm(id, plain);
  }
});

/**
 * A journald to log to: the host's when it has one, else systemd-journald started for this test as a plain
 * process (it needs no systemd as init) and stopped after, with the sockets it made. Undefined: skip.
 */
async function journald(): Promise<{ stop: () => Promise<void> } | string> {
  const socket = '/run/systemd/journal/socket';
  if (existsSync(socket)) return { stop: async () => {} };
  const bin = '/lib/systemd/systemd-journald';
  if (!existsSync(bin)) return `no journald on this host and no ${bin} to start one (apt-get install systemd)`;
  const madeDir = !existsSync('/run/systemd/journal');
  const p = spawn(bin, [], { stdio: 'ignore', detached: true });
  if (!(await eventually(() => existsSync(socket), 5_000))) {
    p.kill('SIGKILL');
    return `${bin} did not make ${socket}`;
  }
  return {
    stop: async () => {
      p.kill('SIGTERM');
      await new Promise((r) => (p.exitCode !== null || p.signalCode !== null ? r(null) : p.once('exit', r)));
      if (madeDir) rmSync('/run/systemd/journal', { recursive: true, force: true });
      else rmSync(socket, { force: true });
    },
  };
}

test('journald: logs reads the journal back, streams apart, --tail, and -f to the container\'s end', async (t) => {
  const j = await journald();
  if (typeof j === 'string') return t.skip(j);
  const ids: string[] = [];
  try {
    const id = runD(['--log-driver', 'journald', 'busybox', 'sh', '-c', 'echo one; echo two >&2; sleep 1; echo three; printf four']);
    ids.push(id);
    const c = spawn(BERTH, ['--root', env.root, 'logs', '-f', id], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    c.stdout.on('data', (b: Buffer) => (out += b.toString()));
    c.stderr.on('data', (b: Buffer) => (err += b.toString()));
    const code = await new Promise<number | null>((resolve) => c.on('close', resolve));
    assert.equal(code, 0, err);
    assert.deepEqual([out, err], ['one\nthree\nfour', 'two\n']);
    assert.equal(ok(['logs', '--tail', '2', id]).stdout, 'three\nfour');
    assert.deepEqual(inspect(id).HostConfig.LogConfig, { Type: 'journald', Config: {} });
  } finally {
    rm(...ids);
    await j.stop();
  }
});

test('a container silent at first still logs after the run -d that started it is gone', async () => {
  const id = runD(['busybox', 'sh', '-c', 'sleep 2; echo late']);
  try {
    assert.equal(logWritersOf(id).length, 1, 'its writer outlives the CLI');
    assert.equal(waitExit(id), 0);
    assert.equal(ok(['logs', id]).stdout, 'late\n');
  } finally {
    rm(id);
  }
});

/**
 * The writer's starter (a CLI) killed after it started conmon but before conmon opened the FIFO: conmon's
 * open must not wait for a reader that left with the CLI. Here a shell stands for the CLI, and a later
 * `printf > FIFO` for conmon.
 */
test('a writer whose starter dies before the monitor came: a monitor still on its way logs; with none the writer leaves', async () => {
  const writer = join(REPO, 'dist', 'berth-log-writer');
  const started = (name: string) => {
    const dir = join(env.root, 'orphaned-writer', name);
    mkdirSync(dir, { recursive: true });
    // The shell starts the writer with itself as --parent, waits for "ready" and exits.
    const sh = spawnSync('sh', ['-c', `"$0" --format json-file --fifo "$1/log.fifo" --path "$1/json.log" --pid-file "$1/pid" --parent $$ > "$1/said" & until [ -s "$1/said" ]; do sleep 0.01; done`, writer, dir], { timeout: 10_000 });
    assert.equal(sh.status, 0);
    assert.equal(readFileSync(join(dir, 'said'), 'utf8'), 'ready\n');
    return dir;
  };
  const came = started('came');
  const none = started('none');
  // The open would wait forever if the writer had gone with its starter.
  const monitor = spawnSync('timeout', ['5', 'sh', '-c', 'printf "2026-12-06T17:00:00.000000001Z stdout F after the CLI\\n" > "$0"', join(came, 'log.fifo')]);
  assert.equal(monitor.status, 0, 'the monitor\'s open of the FIFO returned');
  assert.ok(await eventually(() => !existsSync(join(came, 'pid')), 5_000), 'the writer ends when the monitor closes the FIFO');
  assert.match(readFileSync(join(came, 'json.log'), 'utf8'), /^\{"log":"after the CLI\\n","stream":"stdout","time":"2026-12-06T17:00:00.000000001Z"\}\n$/);
  // Nobody came: the writer gives a late monitor two seconds, then goes and takes the FIFO with it.
  assert.ok(await eventually(() => !existsSync(join(none, 'pid')) && logWritersOf(none).length === 0, 6_000), 'the writer left');
  assert.ok(!existsSync(join(none, 'log.fifo')), 'a monitor coming later makes a plain file, not a FIFO nobody reads');
  rmSync(join(env.root, 'orphaned-writer'), { recursive: true });
});
