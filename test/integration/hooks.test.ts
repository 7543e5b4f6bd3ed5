/**
 * OCI hooks from <root>/hooks.d (podman/CRI-O's hooks.d JSON): the runtime runs them with the container's
 * state JSON on stdin; `when` decides which containers get them; a malformed file is a clear error.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Engine, InvalidArgument } from '../../src/index.ts';
import { cli, eventually, setupEnv, type Env, conmonsOf } from './helpers.ts';

let env: Env;
let out: string;
let hooksDir: string;

interface OciState {
  ociVersion: string;
  id: string;
  status: string;
  pid?: number;
  bundle: string;
  annotations?: Record<string, string>;
}

/** A hook that writes its stdin to <out>/<prefix>-<pid>.json, renamed into place so readers never see half a file. */
function hookFile(name: string, prefix: string, when: object, stages: string[]): void {
  const doc = {
    version: '1.0.0',
    hook: { path: '/bin/sh', args: ['sh', '-c', `cat > ${out}/.${prefix}-$$.tmp && mv ${out}/.${prefix}-$$.tmp ${out}/${prefix}-$$.json`] },
    when,
    stages,
  };
  writeFileSync(join(hooksDir, name), JSON.stringify(doc));
}

/** Poll until hooks with this prefix wrote something for `id` (an empty list is still truthy). */
async function awaitWritten(prefix: string, id: string, n = 1): Promise<OciState[]> {
  return (await eventually(() => (written(prefix, id).length >= n ? written(prefix, id) : undefined), 10_000)) ?? [];
}

/** The state documents hooks with this prefix wrote for container `id`. */
function written(prefix: string, id: string): OciState[] {
  return readdirSync(out)
    .filter((f) => f.startsWith(`${prefix}-`) && f.endsWith('.json'))
    .map((f) => JSON.parse(readFileSync(join(out, f), 'utf8')) as OciState)
    .filter((s) => s.id === id);
}

const { inspect } = cli(() => env);
const idOf = (name: string): string => inspect(name, '{{.Id}}');


before(() => {
  env = setupEnv('hooks');
  out = mkdtempSync('/tmp/berth-hooks-out-');
  hooksDir = join(env.root, 'hooks.d');
  mkdirSync(hooksDir, { recursive: true });
  hookFile('01-test.json', 'prestart', { always: true }, ['prestart']);
  hookFile('02-post.json', 'poststop', { always: true }, ['poststop']);
  hookFile('10-annot.json', 'annot', { annotations: { 'com\\.example\\.hook': '^yes$' } }, ['prestart']);
  hookFile('11-cmd.json', 'cmd', { commands: ['true'] }, ['prestart']);
  hookFile('03-create.json', 'createrun', { always: true }, ['createRuntime']);
  hookFile('04-poststart.json', 'poststart', { always: true }, ['poststart']);
  // Not JSON-named: ignored.
  writeFileSync(join(hooksDir, 'README'), 'not a hook');
});

after(async () => {
  if (env) {
    const ids = env.berth(['ps', '-aq', '--no-trunc']).stdout.split('\n').filter(Boolean);
    if (ids.length > 0) env.berth(['rm', '-f', ...ids]);
    await eventually(() => conmonsOf(env.root).length === 0, 10_000);
    env.teardown();
  }
  if (out) rmSync(out, { recursive: true, force: true });
});

test('prestart gets the container state on stdin; poststop runs once at cleanup', async () => {
  const r = env.berth(['run', '--name', 'hooked', 'busybox', 'true']);
  assert.equal(r.code, 0, r.stderr);
  const id = idOf('hooked');
  const pre = written('prestart', id);
  assert.equal(pre.length, 1, 'prestart ran once');
  const s = pre[0]!;
  assert.equal(s.id, id);
  // The status handed to the create-time hooks is the runtime's: runc says creating, crun 1.8 created.
  assert.ok(['creating', 'created'].includes(s.status), s.status);
  assert.ok(typeof s.pid === 'number' && s.pid > 0, `pid ${s.pid}`);
  assert.equal(s.bundle, join(env.root, 'containers', id));
  assert.match(s.ociVersion, /^1\./);
  const post = await awaitWritten('poststop', id);
  assert.equal(post.length, 1, 'poststop ran once');
  assert.equal(post[0]!.status, 'stopped');
  assert.equal(post[0]!.bundle, join(env.root, 'containers', id));
  // Removing the exited container does not run poststop again.
  assert.equal(env.berth(['rm', 'hooked']).code, 0);
  assert.equal(written('poststop', id).length, 1);
});

test('createRuntime runs while the container is being created, poststart once it runs; each once', async () => {
  const r = env.berth(['run', '-d', '--network', 'none', '--name', 'hk-stages', 'busybox', 'sleep', '30']);
  assert.equal(r.code, 0, r.stderr);
  const id = r.stdout.trim();
  const [created] = await awaitWritten('createrun', id);
  assert.ok(['creating', 'created'].includes(created!.status), created!.status); // runc, crun
  assert.ok(created!.pid! > 0, 'the container process exists when createRuntime runs');
  assert.equal(created!.bundle, join(env.root, 'containers', id));
  const [started] = await awaitWritten('poststart', id);
  // The status handed to poststart differs by runtime (runc 1.1 says created, after its start returned).
  assert.ok(['created', 'running'].includes(started!.status), started!.status);
  assert.equal(started!.pid, created!.pid);
  assert.equal(written('createrun', id).length, 1);
  assert.equal(written('poststart', id).length, 1);
  assert.equal(env.berth(['rm', '-f', 'hk-stages']).code, 0);
});

test('hooks run for a detached container too; poststop via the exit command', async () => {
  const r = env.berth(['run', '-d', 'busybox', 'sh', '-c', 'exit 0']);
  assert.equal(r.code, 0, r.stderr);
  const id = r.stdout.trim();
  assert.equal(written('prestart', id).length, 1);
  const post = await awaitWritten('poststop', id);
  assert.equal(post.length, 1, 'poststop ran once when the container exited');
  assert.equal(env.berth(['rm', id]).code, 0);
  assert.equal(written('poststop', id).length, 1);
});

test('a restarted container runs its prestart hook again', async () => {
  const r = env.berth(['run', '--name', 'again', 'busybox', 'true']);
  assert.equal(r.code, 0, r.stderr);
  const id = idOf('again');
  await awaitWritten('poststop', id);
  const s = env.berth(['start', '-a', 'again']);
  assert.equal(s.code, 0, s.stderr);
  assert.equal(written('prestart', id).length, 2);
  assert.equal((await awaitWritten('poststop', id, 2)).length, 2);
  assert.equal(env.berth(['rm', 'again']).code, 0);
});

test('when.annotations that do not match: the hook is not run; matching annotations run it', async () => {
  const r = env.berth(['run', '--name', 'plain', 'busybox', 'true']);
  assert.equal(r.code, 0, r.stderr);
  const plain = idOf('plain');
  assert.equal(written('prestart', plain).length, 1, 'the always hook ran');
  assert.deepEqual(written('annot', plain), [], 'the annotation hook did not');

  const engine = new Engine({ root: env.root, notice: () => {} });
  try {
    const no = await engine.run({ image: 'busybox', cmd: ['true'], annotations: { 'com.example.hook': 'no' } });
    assert.equal(await no.wait(), 0);
    assert.deepEqual(written('annot', no.id), [], 'value does not match ^yes$');
    const other = await engine.run({ image: 'busybox', cmd: ['true'], annotations: { 'com.example.other': 'yes' } });
    assert.equal(await other.wait(), 0);
    assert.deepEqual(written('annot', other.id), [], 'key does not match');
    const yes = await engine.run({ image: 'busybox', cmd: ['true'], annotations: { 'com.example.hook': 'yes' } });
    assert.equal(await yes.wait(), 0);
    const got = written('annot', yes.id);
    assert.equal(got.length, 1, 'matching annotation runs the hook');
    assert.equal(got[0]!.annotations?.['com.example.hook'], 'yes');
    for (const c of [no, other, yes]) await c.remove({ force: true });
  } finally {
    engine.close();
  }
  assert.equal(env.berth(['rm', 'plain']).code, 0);
});

test('when.commands matches the container command', () => {
  const t = env.berth(['run', '--name', 'cmd-true', 'busybox', 'true']);
  assert.equal(t.code, 0, t.stderr);
  const e = env.berth(['run', '--name', 'cmd-echo', 'busybox', 'echo', 'x']);
  assert.equal(e.code, 0, e.stderr);
  assert.equal(written('cmd', idOf('cmd-true')).length, 1);
  assert.deepEqual(written('cmd', idOf('cmd-echo')), []);
  assert.equal(env.berth(['rm', 'cmd-true', 'cmd-echo']).code, 0);
});

function snapshot(): { ps: string; dirs: string[]; mounts: string[] } {
  const dir = join(env.root, 'containers');
  return {
    ps: env.berth(['ps', '-aq', '--no-trunc']).stdout,
    dirs: existsSync(dir) ? readdirSync(dir).sort() : [],
    mounts: readFileSync('/proc/self/mountinfo', 'utf8')
      .split('\n')
      .map((l) => l.split(' ')[4] ?? '')
      .filter((m) => m.startsWith(env.root)),
  };
}

/** Write a bad hooks file for the duration of fn. */
function withBadHook(name: string, text: string, fn: () => void): void {
  writeFileSync(join(hooksDir, name), text);
  try {
    fn();
  } finally {
    rmSync(join(hooksDir, name), { force: true });
  }
}

function expectHookError(args: string[], file: string, match: RegExp): void {
  const before = snapshot();
  const r = env.berth(args);
  const why = `berth ${args.join(' ')} → ${r.code}\nstderr: ${r.stderr}`;
  assert.equal(r.code, 125, why);
  const lines = r.stderr.split('\n').filter((l) => l.trim());
  assert.equal(lines.length, 1, why);
  assert.ok(lines[0]!.includes(file), `names the file ${file}\n${why}`);
  assert.match(lines[0]!, match, why);
  assert.deepEqual(snapshot(), before, `nothing created\n${why}`);
}

test('a malformed hooks file fails run --rm naming the file, nothing created', () => {
  withBadHook('05-bad.json', '{not json', () => {
    expectHookError(['run', '--rm', 'busybox', 'true'], '05-bad.json', /JSON/);
  });
});

test('a malformed hooks file fails run naming the file, nothing created (no container left behind)', () => {
  withBadHook('05-bad.json', '{not json', () => {
    expectHookError(['run', '--name', 'badhook', 'busybox', 'true'], '05-bad.json', /JSON/);
  });
  // Clean up what a failing engine may have left, so later tests start clean.
  env.berth(['rm', '-f', 'badhook']);
});

test('a hooks file with an unknown stage or no hook.path is refused the same way', () => {
  withBadHook('06-stage.json', JSON.stringify({ version: '1.0.0', hook: { path: '/bin/true' }, when: { always: true }, stages: ['bogus'] }), () => {
    expectHookError(['run', '--rm', 'busybox', 'true'], '06-stage.json', /unknown stage bogus/);
  });
  withBadHook('07-nopath.json', JSON.stringify({ version: '1.0.0', hook: {}, when: { always: true }, stages: ['prestart'] }), () => {
    expectHookError(['run', '--rm', 'busybox', 'true'], '07-nopath.json', /hook\.path/);
  });
});

test('the library: a malformed hooks file rejects with InvalidArgument and leaves no container', async () => {
  const engine = new Engine({ root: env.root, notice: () => {} });
  try {
    const before = (await engine.list(true)).length;
    writeFileSync(join(hooksDir, '05-bad.json'), '[');
    try {
      await assert.rejects(engine.run({ image: 'busybox', cmd: ['true'], autoRemove: true }), (e: unknown) => {
        assert.ok(e instanceof InvalidArgument, String(e));
        assert.match((e as Error).message, /05-bad\.json/);
        return true;
      });
    } finally {
      rmSync(join(hooksDir, '05-bad.json'), { force: true });
    }
    assert.equal((await engine.list(true)).length, before);
  } finally {
    engine.close();
  }
});
