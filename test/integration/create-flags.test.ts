/**
 * run/create flags of docker 28 that are about the container's record rather than its isolation:
 * --cidfile, --label-file, --annotation, --domainname, -a/--attach, and the clear refusals of --gpus and
 * --storage-opt where the host cannot honour them.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cli, setupEnv, type Env } from './helpers.ts';

let env: Env;
let dir: string;

before(() => {
  env = setupEnv('create-flags');
  dir = mkdtempSync(join(tmpdir(), 'berth-flags-'));
});

after(() => {
  rmSync(dir, { recursive: true, force: true });
  if (!env) return;
  const ids = env.berth(['ps', '-aq', '--no-trunc']).stdout.split('\n').filter(Boolean);
  if (ids.length > 0) env.berth(['rm', '-f', ...ids]);
  env.teardown();
});

const { ok, inspect, removeQuietly: rm } = cli(() => env);

test('--cidfile gets the id; an existing file refuses the run before anything is made; a failed create leaves none', () => {
  const file = join(dir, 'cid');
  const r = ok(['run', '--rm', '--cidfile', file, 'busybox', 'true']);
  assert.equal(r.stdout, '');
  assert.match(readFileSync(file, 'utf8'), /^[0-9a-f]{64}$/);
  const again = env.berth(['run', '--cidfile', file, 'busybox', 'true']);
  assert.equal(again.code, 125);
  assert.match(again.stderr, /container ID file found, make sure the other container isn't running or delete/);
  assert.equal(env.berth(['ps', '-aq']).stdout, '');
  rmSync(file);
  const failed = env.berth(['create', '--cidfile', file, 'no-such-image-here:1', 'true']);
  assert.notEqual(failed.code, 0);
  assert.ok(!existsSync(file), 'the claimed file went with the failed create');
  const id = ok(['create', '--cidfile', file, 'busybox', 'true']).stdout.trim();
  assert.equal(readFileSync(file, 'utf8'), id);
  rm(id);
});

test('--label-file, --annotation and --domainname reach the container and its inspect', () => {
  const labels = join(dir, 'labels');
  writeFileSync(labels, '# team labels\nteam=db\n\n  tier=back\n');
  const id = ok(['create', '--label-file', labels, '--label', 'tier=front', '--annotation', 'org.example/key=v1', '--domainname', 'example.org',
    'busybox', 'cat', '/proc/sys/kernel/domainname']).stdout.trim();
  try {
    const i = inspect(id) as unknown as { Config: { Labels: Record<string, string>; Domainname: string }; HostConfig: { Annotations?: Record<string, string> } };
    assert.deepEqual(i.Config.Labels, { team: 'db', tier: 'front' }, 'a --label wins over the file');
    assert.equal(i.Config.Domainname, 'example.org');
    assert.deepEqual(i.HostConfig.Annotations, { 'org.example/key': 'v1' });
    ok(['start', id]);
    assert.equal(ok(['wait', id]).stdout.trim(), '0');
    assert.equal(ok(['logs', id]).stdout, 'example.org\n', 'the UTS namespace has the domain name');
    assert.equal(JSON.parse(readFileSync(join(env.root, 'containers', id, 'config.json'), 'utf8')).annotations['org.example/key'], 'v1', 'the OCI spec carries it');
  } finally {
    rm(id);
  }
  const bad = env.berth(['run', '--rm', '--annotation', 'novalue', 'busybox', 'true']);
  assert.equal(bad.code, 125);
  assert.match(bad.stderr, /"--annotation" flag: expected key=value/);
});

test('-a picks the streams run shows and inspect records; -a with -d conflicts; create attaches stdout and stderr', () => {
  const script = 'echo out; echo err >&2';
  const onlyErr = ok(['run', '--rm', '-a', 'stderr', 'busybox', 'sh', '-c', script]);
  assert.deepEqual([onlyErr.stdout, onlyErr.stderr], ['', 'err\n']);
  const onlyOut = ok(['run', '--rm', '-a', 'STDOUT', 'busybox', 'sh', '-c', script]);
  assert.deepEqual([onlyOut.stdout, onlyOut.stderr], ['out\n', '']);
  const conflict = env.berth(['run', '-d', '-a', 'stdout', 'busybox', 'true']);
  assert.equal(conflict.code, 125);
  assert.match(conflict.stderr, /Conflicting options: -a and -d/);
  const bogus = env.berth(['run', '--rm', '-a', 'stdlog', 'busybox', 'true']);
  assert.equal(bogus.code, 125);
  const c = ok(['create', 'busybox', 'true']).stdout.trim();
  const d = ok(['run', '-d', '-i', 'busybox', 'cat']).stdout.trim();
  try {
    assert.equal(inspect(c, '{{.Config.AttachStdin}} {{.Config.AttachStdout}} {{.Config.AttachStderr}}'), 'false true true');
    assert.equal(inspect(d, '{{.Config.AttachStdin}} {{.Config.AttachStdout}} {{.Config.AttachStderr}}'), 'false false false');
  } finally {
    rm(c, d);
  }
});

test('--gpus and --storage-opt size are refused with one clear line where the host cannot honour them', () => {
  const gpus = env.berth(['run', '--rm', '--gpus', 'all', 'busybox', 'true']);
  assert.equal(gpus.code, 125);
  assert.match(gpus.stderr, /^Error: could not select device driver "" with capabilities: \[\[gpu\]\]/);
  assert.equal(gpus.stderr.trim().split('\n').length, 1);
  const size = env.berth(['run', '--rm', '--storage-opt', 'size=1G', 'busybox', 'true']);
  assert.equal(size.code, 125);
  assert.match(size.stderr, /--storage-opt is supported only for overlay over xfs with 'pquota' mount option/);
  const other = env.berth(['run', '--rm', '--storage-opt', 'dm.basesize=1G', 'busybox', 'true']);
  assert.equal(other.code, 125);
  assert.match(other.stderr, /unknown option dm\.basesize/);
  assert.equal(env.berth(['ps', '-aq']).stdout, '', 'nothing made by the refused runs');
});
