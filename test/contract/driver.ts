/**
 * The RuntimeDriver contract: what the engine relies on from any driver, run against every driver (the
 * real OciDriver under conmon in test/integration/driver-contract.test.ts, the in-memory FakeDriver in
 * test/unit/fake-driver.test.ts), as hono runs one router suite against every router.
 *
 * A suite gets a driver and a way to make bundles: a directory with config.json (the process to run) whose
 * root is a busybox rootfs. Each test makes its own containers and deletes them.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { CannotInvoke, CommandNotFound } from '../../src/errors.ts';
import type { AttachStream, LogTarget, RuntimeDriver } from '../../src/runtime/driver.ts';
import { isAlive, procStartTime } from '../../src/sys/proc.ts';

export interface ContractSetup {
  driver: RuntimeDriver;
  /** Write config.json for `args` into a new bundle dir and return it. */
  bundle(dir: string, id: string, args: string[], opts?: { stdin?: boolean }): void;
  /** Remove what setup made (called once, after the suite). */
  cleanup(): void;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** A log in `bundle` of the driver named (no rotation, no attributes). */
function logIn(bundle: string, driver: 'k8s-file' | 'json-file' | 'local' = 'k8s-file'): LogTarget {
  const path = { 'k8s-file': 'ctr.log', 'json-file': 'ctr-json.log', local: 'local-logs/container.log' }[driver];
  return { driver, id: basename(bundle), path: join(bundle, path), maxSize: -1, maxFile: 1, compress: false, attrs: {} };
}

async function until<T>(fn: () => T | null | undefined | false, what: string, ms = 10_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = fn();
    if (v) return v;
    if (Date.now() > end) assert.fail(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

/** Everything a stream delivers until it ends. */
function collect(s: AttachStream): Promise<{ stdout: string; stderr: string }> {
  const out = { stdout: '', stderr: '' };
  s.on('stdout', (d) => (out.stdout += d.toString()));
  s.on('stderr', (d) => (out.stderr += d.toString()));
  return new Promise((resolve) => s.once('end', () => resolve(out)));
}

let seq = 0;

export function driverContract(name: string, setup: () => ContractSetup): void {
  describe(`RuntimeDriver contract: ${name}`, () => {
    let s: ContractSetup;
    let d: RuntimeDriver;
    let work = '';
    const made: string[] = [];
    let cleaned = false;
    const cleanup = () => {
      if (cleaned) return;
      cleaned = true;
      s?.cleanup();
      if (work) rmSync(work, { recursive: true, force: true });
    };
    before(() => {
      s = setup();
      d = s.driver;
      work = mkdtempSync('/tmp/berth-test-contract-');
      // A run cut short (a timeout, a signal) must not leave the scratch dirs either.
      process.once('exit', cleanup);
    });
    after(async () => {
      for (const id of made) await d.delete(id, true).catch(() => {});
      cleanup();
    });

    /** A created container running `args`; returns its id, bundle and what create reported. */
    async function create(args: string[], opts: { stdin?: boolean; log?: 'k8s-file' | 'json-file' | 'local' } = {}) {
      // Closed by a separator: padded alone, the 1st and the 10th would be one id.
      const name = `contract${process.pid}x${++seq}x`;
      const id = name.padEnd(64, '0');
      const bundle = join(work, name);
      mkdirSync(bundle);
      s.bundle(bundle, id, args, opts);
      made.push(id);
      const created = await d.create({ id, bundle, log: logIn(bundle, opts.log), tty: false, stdin: opts.stdin ?? false, leaveStdinOpen: false });
      return { id, bundle, created };
    }

    test('create reports the init pid and the monitor; nothing has exited; the runtime says created', async () => {
      const { id, bundle, created } = await create(['sleep', '100']);
      assert.ok(created.pid > 0 && isAlive(created.pid, procStartTime(created.pid) ?? 0), `init pid ${created.pid}`);
      assert.ok(created.monitorPid > 0, `monitor pid ${created.monitorPid}`);
      assert.equal(d.monitorPid(bundle), created.monitorPid);
      assert.deepEqual(d.observe(bundle, id), { exit: null, oomKilled: false });
      assert.deepEqual(await d.state(id), { status: 'created', pid: created.pid });
      await d.delete(id, true);
      assert.equal(await d.state(id), null);
      await d.delete(id, true); // absent is fine
    });

    test('a stream connected before start gets all the output; the exit is recorded after it, with time', async () => {
      const { id, bundle } = await create(['sh', '-c', 'echo out; echo err >&2; exit 3']);
      const stream = await d.attach(bundle);
      const got = collect(stream);
      const before = Date.now();
      await d.start(id);
      assert.deepEqual(await got, { stdout: 'out\n', stderr: 'err\n' });
      const exit = await until(() => d.observe(bundle, id).exit, 'the recorded exit');
      assert.equal(exit.code, 3);
      assert.ok(Date.parse(exit.time) >= before - 1000, exit.time);
      // the log has both streams, in order of the stream they came on
      const recs: { stream: string; data: string }[] = [];
      await d.readLog(bundle, logIn(bundle), () => false, (r) => recs.push({ stream: r.stream, data: r.data.toString() }));
      assert.deepEqual(recs.filter((r) => r.stream === 'stdout').map((r) => r.data).join(''), 'out\n');
      assert.deepEqual(recs.filter((r) => r.stream === 'stderr').map((r) => r.data).join(''), 'err\n');
      // the monitor goes once the exit is recorded
      const monitor = d.monitorPid(bundle);
      await until(() => monitor === 0 || !isAlive(monitor, procStartTime(monitor) ?? 0), 'the monitor to leave');
      assert.equal((await d.state(id))?.status, 'stopped');
    });

    test('a bundle that fails at once fails the create with its error, whatever the log (nothing rejects unwatched)', async () => {
      for (const log of ['k8s-file', 'json-file'] as const) {
        const name = `contract${process.pid}x${++seq}x`;
        const id = name.padEnd(64, '0');
        const bundle = join(work, name);
        mkdirSync(bundle);
        s.bundle(bundle, id, ['true']);
        made.push(id);
        const failed = Promise.reject(new Error(`bundle failed (${log})`));
        await assert.rejects(d.create({ id, bundle, log: logIn(bundle, log), tty: false, stdin: false, bundleReady: failed }), new RegExp(`bundle failed \\(${log}\\)`));
        assert.equal(await d.state(id), null, 'no runtime record');
      }
    });

    for (const driver of ['json-file', 'local'] as const) {
      test(`a ${driver} log read once the exit is recorded holds every line, a last one without newline too`, async () => {
        const { id, bundle } = await create(['sh', '-c', 'seq 1 2000; echo err >&2; printf tail'], { log: driver });
        await d.start(id);
        await until(() => d.observe(bundle, id).exit, 'the recorded exit');
        const recs: { stream: string; data: string }[] = [];
        await d.readLog(bundle, logIn(bundle, driver), () => false, (r) => recs.push({ stream: r.stream, data: r.data.toString() }));
        const out = recs.filter((r) => r.stream === 'stdout').map((r) => r.data).join('');
        assert.equal(out, `${Array.from({ length: 2000 }, (_, i) => i + 1).join('\n')}\ntail`);
        assert.equal(recs.filter((r) => r.stream === 'stderr').map((r) => r.data).join(''), 'err\n');
        // stdout and stderr come on separate pipes, so where 'err' falls among the last stdout lines is a race;
        // the tail is the log's last two records, whichever they are
        const tail: string[] = [];
        await d.readLog(bundle, logIn(bundle, driver), () => false, (r) => tail.push(r.data.toString()), { tail: 2 });
        assert.deepEqual(tail, recs.slice(-2).map((r) => r.data));
        assert.ok(tail.includes('tail'), `the partial last line is among the last records: ${JSON.stringify(tail)}`);
      });
    }

    test('stdin reaches the process; closing it is its EOF', async () => {
      const { id, bundle } = await create(['cat'], { stdin: true });
      const stream = await d.attach(bundle);
      const got = collect(stream);
      await d.start(id);
      stream.write('abc\n');
      await stream.closeStdin();
      assert.equal((await got).stdout, 'abc\n');
      assert.equal((await until(() => d.observe(bundle, id).exit, 'exit')).code, 0);
    });

    test('signals: a SIGTERM the process handles ends it with its code; pause and unpause; SIGKILL gives 137', async () => {
      // Handled: a container's init (pid 1 in its namespace) ignores the signals it has no handler for.
      const a = await create(['sh', '-c', 'trap "exit 143" TERM; while :; do sleep 0.05; done']);
      await d.start(a.id);
      assert.equal((await d.state(a.id))?.status, 'running');
      assert.ok((await d.pids(a.id)).includes(a.created.pid));
      await d.pause(a.id);
      assert.equal((await d.state(a.id))?.status, 'paused');
      await d.unpause(a.id);
      assert.equal((await d.state(a.id))?.status, 'running');
      await d.kill(a.id, 'SIGTERM');
      assert.equal((await until(() => d.observe(a.bundle, a.id).exit, 'exit')).code, 143);
      const b = await create(['sleep', '100']);
      await d.start(b.id);
      await d.kill(b.id, 'KILL');
      assert.equal((await until(() => d.observe(b.bundle, b.id).exit, 'exit')).code, 137);
    });

    test('exec: a session of its own, attached or not, with its exit; a missing command is CommandNotFound', async () => {
      const { id, bundle } = await create(['sleep', '100']);
      await d.start(id);
      const proc = JSON.parse(readFileSync(join(bundle, 'config.json'), 'utf8')).process as Record<string, unknown>;
      const session = (n: string, args: string[]) => {
        const dir = join(bundle, `exec-${n}`);
        mkdirSync(dir);
        writeFileSync(join(dir, 'process.json'), JSON.stringify({ ...proc, terminal: false, args }));
        return dir;
      };
      const dir = session('a', ['sh', '-c', 'echo in; exit 4']);
      const e = await d.exec({ id, session: `${id.slice(0, 8)}a`.padEnd(64, '1'), dir, tty: false, stdin: false, attach: true });
      assert.ok(e.pid > 0);
      assert.ok(e.stream);
      const got = await collect(e.stream);
      assert.equal(got.stdout, 'in\n');
      assert.equal(await e.exit, 4);
      assert.equal((await until(() => d.observe(dir, id).exit, 'the session exit')).code, 4);
      const detached = await d.exec({ id, session: `${id.slice(0, 8)}b`.padEnd(64, '1'), dir: session('b', ['true']), tty: false, stdin: false, attach: false });
      assert.equal(detached.stream, undefined);
      assert.equal(await detached.exit, 0);
      await assert.rejects(
        d.exec({ id, session: `${id.slice(0, 8)}c`.padEnd(64, '1'), dir: session('c', ['no-such-command']), tty: false, stdin: false, attach: true }),
        CommandNotFound,
      );
      assert.equal((await d.state(id))?.status, 'running', 'a failed exec leaves the container be');
    });

    test('create of a command the image lacks is CommandNotFound; of a directory, CannotInvoke; nothing is left', async () => {
      const tryCreate = async (args: string[]) => {
        const id = `contract${process.pid}x${++seq}`.padEnd(64, '0');
        const bundle = join(work, id.slice(0, 20));
        mkdirSync(bundle);
        s.bundle(bundle, id, args);
        made.push(id);
        const created = d.create({ id, bundle, log: logIn(bundle), tty: false, stdin: false });
        // a runtime may report the failure at create (crun, the fake) or only at start (runc under conmon)
        try {
          await created;
          await d.start(id);
          return { id, error: undefined };
        } catch (e) {
          return { id, error: e };
        } finally {
          await d.delete(id, true).catch(() => {});
        }
      };
      const missing = await tryCreate(['no-such-command']);
      assert.ok(missing.error instanceof CommandNotFound, String(missing.error));
      assert.equal(await d.state(missing.id), null);
      const dir = await tryCreate(['/etc']);
      assert.ok(dir.error instanceof CannotInvoke, String(dir.error));
    });

    test('leftovers: the containers under a dir with their bundles, and their live monitors; nothing of another dir', async () => {
      const { id, bundle, created } = await create(['sleep', '100']);
      await d.start(id);
      const got = await d.leftovers(work);
      assert.deepEqual(got.containers.filter((c) => c.id === id), [{ id, bundle }]);
      assert.ok(got.monitors.includes(created.monitorPid), `monitors ${got.monitors.join(',')} include ${created.monitorPid}`);
      // A dir whose name merely begins like this one's is another dir.
      const other = await d.leftovers(`${work}x`);
      assert.deepEqual(other.containers.filter((c) => c.id === id), []);
      assert.ok(!other.monitors.includes(created.monitorPid));
      await d.delete(id, true);
      await until(() => !isAlive(created.monitorPid, procStartTime(created.monitorPid) ?? 0), 'the monitor to leave');
      const after = await d.leftovers(work);
      assert.deepEqual(after.containers.filter((c) => c.id === id), []);
      assert.ok(!after.monitors.includes(created.monitorPid));
    });

    test('a monitor that dies records nothing: observe tells no exit, and the process runs on', async () => {
      const { id, bundle, created } = await create(['sleep', '100']);
      await d.start(id);
      const monitor = d.monitorPid(bundle);
      process.kill(monitor, 'SIGKILL');
      await until(() => !isAlive(monitor, procStartTime(monitor) ?? 0) || !procStartTime(monitor), 'the monitor to die');
      await sleep(100);
      assert.equal(d.observe(bundle, id).exit, null);
      assert.ok(isAlive(created.pid, procStartTime(created.pid) ?? 0), 'the container outlives its monitor');
      await d.delete(id, true);
    });
  });
}
