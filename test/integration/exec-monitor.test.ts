/**
 * berth-exec-monitor (src/runtime/exec-monitor.c) through startPipedExec, with stand-in runtimes: shell
 * scripts that do what a runtime's `exec --detach` does (an intermediate process starts the process, writes
 * its pid and leaves it orphaned, and the runtime exits), so the monitor's own contract is checked without a
 * container: the pid reported, the output and the exit code of the orphan, a runtime that fails, and one
 * that cannot be run at all.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { execMonitorBinary, startPipedExec } from '../../src/runtime/exec-piped.ts';
import type { AttachStream } from '../../src/runtime/driver.ts';

const monitor = execMonitorBinary();

/** Run `script` as the runtime (sh -c, $1 = the pid file); the caller's `failed` gets what the monitor said. */
async function start(script: string) {
  const dir = mkdtempSync('/tmp/berth-exec-monitor-');
  const exitFile = join(dir, 'exit');
  const pidFile = join(dir, 'pid');
  const said: string[] = [];
  const started = startPipedExec(
    { monitor: monitor!, runtime: ['/bin/sh', '-c', script, 'runtime', pidFile], exitFile, pidFile, dir },
    (what) => {
      said.push(what);
      return new Error(what);
    },
  );
  return { dir, exitFile, said, started };
}

function collect(stream: AttachStream): Promise<{ out: string; err: string }> {
  return new Promise((resolve) => {
    let out = '';
    let err = '';
    stream.on('stdout', (d) => (out += d.toString()));
    stream.on('stderr', (d) => (err += d.toString()));
    stream.on('end', () => resolve({ out, err }));
  });
}

test('an orphaned process: its pid, its output kept apart, its exit code in the exit file', { skip: monitor ? false : 'berth-exec-monitor is not built' }, async () => {
  const r = await start(`(sh -c 'sleep 0.2; echo out; echo err >&2; exit 7' & echo $! > "$1")`);
  try {
    const s = await r.started;
    assert.ok(s.pid > 0);
    const output = collect(s.stream!);
    assert.equal(await s.exit, 7);
    assert.deepEqual(await output, { out: 'out\n', err: 'err\n' });
    assert.equal(readFileSync(r.exitFile, 'utf8'), '7');
  } finally {
    rmSync(r.dir, { recursive: true, force: true });
  }
});

test('a process killed by a signal exits 128+signal', { skip: monitor ? false : 'berth-exec-monitor is not built' }, async () => {
  const r = await start(`(sh -c 'kill -9 $$' & echo $! > "$1")`);
  try {
    const s = await r.started;
    collect(s.stream!);
    assert.equal(await s.exit, 137);
  } finally {
    rmSync(r.dir, { recursive: true, force: true });
  }
});

test('a runtime that fails: the monitor reports its exit status, and the start rejects with it', { skip: monitor ? false : 'berth-exec-monitor is not built' }, async () => {
  const r = await start('echo complaint >&2; exit 3');
  try {
    await assert.rejects(r.started, /the runtime exited with status 3 before the process ran/);
    assert.deepEqual(r.said, ['the runtime exited with status 3 before the process ran']);
  } finally {
    rmSync(r.dir, { recursive: true, force: true });
  }
});

test('a runtime that cannot be run is a failure, not a hang', { skip: monitor ? false : 'berth-exec-monitor is not built' }, async () => {
  const dir = mkdtempSync('/tmp/berth-exec-monitor-');
  try {
    const started = startPipedExec(
      { monitor: monitor!, runtime: [join(dir, 'no-such-runtime')], exitFile: join(dir, 'exit'), pidFile: join(dir, 'pid'), dir },
      (what) => new Error(what),
    );
    await assert.rejects(started, /the runtime exited with status 125 before the process ran/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a process that printed nothing and is gone before anyone listens still ends the stream for a late listener', { skip: monitor ? false : 'berth-exec-monitor is not built', timeout: 20_000 }, async () => {
  // The API server attaches its listeners only after the engine recorded the session; under load a `true`
  // has exited, and its empty pipes ended, by then. The end must reach that late listener (it hung the
  // docker CLI's exec: 27 of ~2,400 execs in a 120 s soak). Without it this test hangs until its timeout.
  const r = await start(`(true & echo $! > "$1")`);
  try {
    const s = await r.started;
    assert.equal(await s.exit, 0); // the monitor has gone and both pipes have ended
    await new Promise<void>((resolve) => setTimeout(resolve, 50)); // past any event already queued
    assert.deepEqual(await collect(s.stream!), { out: '', err: '' });
  } finally {
    rmSync(r.dir, { recursive: true, force: true });
  }
});
