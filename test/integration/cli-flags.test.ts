/**
 * docker 28 flags scripts use that are not about one subsystem: restart -s, network rm -f, build --rm and
 * --force-rm, --disable-content-trust, and pull -a (every tag of a repository from a registry).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startRegistry } from '../fixtures/registry.ts';
import { cli, eventually, setupEnv, type Env } from './helpers.ts';

let env: Env;

before(() => {
  env = setupEnv('cli-flags');
});

after(() => {
  if (!env) return;
  const ids = env.berth(['ps', '-aq', '--no-trunc']).stdout.split('\n').filter(Boolean);
  if (ids.length > 0) env.berth(['rm', '-f', ...ids]);
  env.teardown();
});

const { ok, out, runD, rmf } = cli(() => env);

test('restart -s sends that signal to stop the container, then starts it again', async () => {
  const id = runD(['busybox', 'sh', '-c', 'echo up; trap "echo got-usr1; exit 0" USR1; while true; do sleep 0.1; done']);
  try {
    assert.ok(await eventually(() => env.berth(['logs', id]).stdout === 'up\n', 10_000));
    ok(['restart', '-s', 'SIGUSR1', '-t', '10', id]);
    assert.ok(await eventually(() => env.berth(['logs', id]).stdout === 'up\ngot-usr1\nup\n', 10_000), out(['logs', id]));
    assert.equal(out(['inspect', '-f', '{{.State.Running}} {{.RestartCount}}', id]).trim(), 'true 0');
  } finally {
    rmf(id);
  }
});

test('network rm -f: a network that is not there is no error; one that is goes', () => {
  const missing = env.berth(['network', 'rm', 'no-such-net']);
  assert.equal(missing.code, 1);
  assert.deepEqual(ok(['network', 'rm', '-f', 'no-such-net']).stdout, '');
  ok(['network', 'create', 'flags-net']);
  assert.equal(out(['network', 'rm', '-f', 'flags-net', 'no-such-net']), 'flags-net\n');
});

test('build --rm and --force-rm are what the builder does anyway; --rm=false is refused', () => {
  const dir = mkdtempSync(join(tmpdir(), 'berth-flags-build-'));
  try {
    writeFileSync(join(dir, 'Dockerfile'), 'FROM busybox\nRUN echo built > /b\n');
    ok(['build', '-q', '--rm', '--force-rm', '-t', 'flags-built:1', dir]);
    assert.equal(out(['ps', '-aq']), '', 'no step container left');
    const keep = env.berth(['build', '--rm=false', dir]);
    assert.equal(keep.code, 1);
    assert.match(keep.stderr, /--rm=false: Berth removes each step's container/);
    ok(['rmi', 'flags-built:1']);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('--disable-content-trust is accepted as docker defaults it; asking for content trust is refused', () => {
  assert.equal(out(['run', '--rm', '--disable-content-trust', 'busybox', 'echo', 'ok']), 'ok\n');
  const trust = env.berth(['run', '--rm', '--disable-content-trust=false', 'busybox', 'true']);
  assert.equal(trust.code, 125);
  assert.match(trust.stderr, /content trust .* is not supported/);
  const pull = env.berth(['pull', '--disable-content-trust=false', 'busybox']);
  assert.equal(pull.code, 1);
});

test('pull -a pulls every tag the registry has for the repository; a tag with -a is refused', async (t) => {
  const reg = await startRegistry().catch((e: Error) => e);
  if (reg instanceof Error) return t.skip(reg.message);
  const repo = `${reg.host}/flags/all`;
  try {
    // two tags of two different images
    const c = ok(['create', 'busybox', 'true']).stdout.trim();
    ok(['commit', '-c', 'LABEL v=2', c, `${repo}:2`]);
    rmf(c);
    ok(['tag', 'busybox', `${repo}:1`]);
    for (const tag of ['1', '2']) ok(['push', '-q', `${repo}:${tag}`]);
    ok(['rmi', `${repo}:1`, `${repo}:2`]);
    const r = ok(['pull', '-a', repo]);
    assert.match(r.stdout, new RegExp(`${repo.replace(/[.]/g, '\\.')}\\n$`));
    assert.deepEqual(out(['images', '--format', '{{.Tag}}', repo]).split('\n').filter(Boolean).sort(), ['1', '2']);
    assert.equal(out(['image', 'inspect', '-f', '{{.Config.Labels.v}}', `${repo}:2`]).trim(), '2');
    const tagged = env.berth(['pull', '-a', `${repo}:1`]);
    assert.equal(tagged.code, 1);
    assert.match(tagged.stderr, /tag can't be used with --all-tags\/-a/);
    ok(['rmi', `${repo}:1`, `${repo}:2`]);
  } finally {
    await reg.stop();
  }
});

test('global client flags: -l error silences warnings, -D traces, --config picks the credentials file, -H and contexts are refused', () => {
  const warned = env.berth(['create', '--oom-kill-disable', 'busybox', 'true']);
  assert.match(warned.stderr, /WARNING: Disabling the OOM killer/);
  const quiet = env.berth(['-l', 'error', 'create', '--oom-kill-disable', 'busybox', 'true']);
  assert.equal(quiet.code, 0);
  assert.equal(quiet.stderr, '');
  rmf(warned.stdout.trim(), quiet.stdout.trim());
  assert.match(env.berth(['-D', 'ps']).stderr, /^berth-trace /m);
  const dir = mkdtempSync(join(tmpdir(), 'berth-flags-config-'));
  try {
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ auths: { 'registry.example:5000': { auth: Buffer.from('me:secret').toString('base64') } } }));
    const out1 = env.berth(['--config', dir, 'logout', 'registry.example:5000']);
    assert.equal(out1.code, 0, out1.stderr);
    assert.match(out1.stdout, /Removing login credentials for registry\.example:5000/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  for (const args of [['-H', 'unix:///var/run/docker.sock', 'ps'], ['--context', 'remote', 'ps'], ['-l', 'loud', 'ps']]) {
    const r = env.berth(args);
    assert.equal(r.code, 125, args.join(' '));
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
  }
  assert.equal(env.berth(['-c', 'default', 'ps', '-q']).code, 0);
});
