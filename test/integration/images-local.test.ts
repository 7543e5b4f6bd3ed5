/**
 * Images without a registry, and registry logins: save/load in both archive formats and through skopeo
 * (and podman where it can load), commit of a container's changes, tag/history/images filters, prune and
 * system df; basic-auth login/logout against a real registry with an auth file of the test's own.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cli, setupEnv, type Env } from './helpers.ts';
import { registryOrSkip } from '../fixtures/registry.ts';
import { haveSkopeo } from '../fixtures/oci-image.ts';

let env: Env;
let work: string;

before(() => {
  env = setupEnv('images-local');
  work = mkdtempSync('/tmp/berth-images-local-');
});

after(() => {
  env?.teardown();
  if (work) rmSync(work, { recursive: true, force: true });
});

/** Run berth, require exit 0 and return its stdout (the shared `out`, called ok here). */
const { out: ok } = cli(() => env);

const run = (image: string, script: string) => ok(['run', '--rm', '--network', 'none', image, 'sh', '-c', script]).trim();

test('commit: additions, deletions and a replaced dir become a layer; --change, -m, -a apply; history shows it', () => {
  ok(['run', '--name', 'src', '--network', 'none', 'busybox', 'sh', '-c', 'mkdir -p /data/d /opt/x && echo hi > /data/d/f && touch /opt/x/old && rm /bin/vi']);
  ok(['commit', '-m', 'first', '-a', 'Berth Tests <t@berth.invalid>', '-c', 'CMD ["cat","/data/d/f"]', '-c', 'ENV STAGE=one', 'src', 'committed:1']);
  assert.equal(ok(['run', '--rm', '--network', 'none', 'committed:1']).trim(), 'hi', 'the new CMD runs');
  ok(['run', '--name', 'src2', '--network', 'none', 'committed:1', 'sh', '-c', 'rm -rf /opt/x && mkdir /opt/x && touch /opt/x/new']);
  ok(['commit', 'src2', 'committed:2']);
  assert.equal(run('committed:2', 'ls /opt/x; test -e /bin/vi || echo no-vi; echo $STAGE'), 'new\nno-vi\none');
  const hist = ok(['history', '--format', '{{.Comment}}|{{.Size}}', 'committed:1']).trim().split('\n');
  assert.equal(hist.length, 2);
  assert.match(hist[0]!, /^first\|/);
  const info = JSON.parse(ok(['image', 'inspect', 'committed:1']))[0];
  assert.equal(info.Author, 'Berth Tests <t@berth.invalid>');
  assert.equal(info.RootFS.Layers.length, 2);
  assert.match(info.Parent, /^sha256:[0-9a-f]{64}$/);
  assert.equal(JSON.parse(ok(['image', 'inspect', 'committed:2']))[0].RootFS.Layers.length, 3);
  // Bad input leaves nothing: no image, no new layer.
  const layersBefore = readdirSync(join(env.root, 'layers')).length;
  let r = env.berth(['commit', '-c', 'BOGUS x', 'src']);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /BOGUS is not a valid change command/);
  r = env.berth(['commit', 'src', 'Bad:Name']);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /invalid reference format/);
  r = env.berth(['commit', 'no-such-container']);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /No such container/);
  assert.equal(readdirSync(join(env.root, 'layers')).length, layersBefore);
  ok(['rm', 'src', 'src2']);
});

test('commit of a running container pauses it and keeps it running', () => {
  const id = ok(['run', '-d', '--network', 'none', 'busybox', 'sh', '-c', 'echo live > /live; sleep 60']).trim();
  for (let i = 0; i < 100 && env.berth(['exec', id, 'test', '-e', '/live']).code !== 0; i++) spawnSync('sleep', ['0.05']);
  ok(['commit', id, 'live:1']);
  assert.equal(ok(['inspect', '-f', '{{.State.Status}}', id]).trim(), 'running');
  assert.equal(run('live:1', 'cat /live'), 'live');
  ok(['rm', '-f', id]);
});

test('save/load: docker-archive and OCI archive round trips, several tags, refusing garbage', () => {
  ok(['tag', 'committed:2', 'again:x']);
  const dock = join(work, 'd.tar');
  const oci = join(work, 'o.tar');
  ok(['save', '-o', dock, 'committed:2', 'again:x', 'busybox']);
  ok(['save', '--format', 'oci-archive', '-o', oci, 'committed:1']);
  ok(['rmi', 'committed:2', 'again:x', 'committed:1']);
  const loaded = ok(['load', '-i', dock]).trim().split('\n').sort();
  assert.deepEqual(loaded, ['Loaded image: again:x', 'Loaded image: busybox:latest', 'Loaded image: committed:2']);
  assert.equal(run('again:x', 'ls /opt/x'), 'new');
  assert.match(ok(['load', '-i', oci]), /Loaded image: committed:1/);
  assert.equal(ok(['run', '--rm', '--network', 'none', 'committed:1']).trim(), 'hi');
  // From stdin too.
  assert.match(ok(['load', '-q'], { input: readFileSync(dock) }), /^$/);
  writeFileSync(join(work, 'junk.tar'), 'this is not a tar archive at all'.repeat(40));
  const imagesBefore = ok(['images', '-q']);
  const r = env.berth(['load', '-i', join(work, 'junk.tar')]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /^Error: invalid archive/);
  assert.equal(r.stderr.trim().split('\n').length, 1);
  assert.equal(ok(['images', '-q']), imagesBefore);
  const bad = env.berth(['save', '-o', join(work, 'none.tar'), 'no-such-image']);
  assert.equal(bad.code, 1);
  assert.ok(!existsSync(join(work, 'none.tar')), 'a failed save leaves no file');
  assert.deepEqual(readdirSync(join(env.root, 'tmp')), [], 'load leaves no work dir');
});

test('save/load interop with skopeo (and podman where it loads)', (t) => {
  if (!haveSkopeo()) return t.skip('skopeo is not installed (apt-get install skopeo)');
  const dock = join(work, 'interop.tar');
  ok(['save', '-o', dock, 'committed:2']);
  const insp = spawnSync('skopeo', ['inspect', `docker-archive:${dock}`], { encoding: 'utf8' });
  assert.equal(insp.status, 0, insp.stderr);
  assert.equal(JSON.parse(insp.stdout).Layers.length, 3);
  // skopeo's round trip: docker-archive → OCI layout → docker-archive (its own writer), loaded by Berth.
  const layout = join(work, 'layout');
  const back = join(work, 'back.tar');
  let r = spawnSync('skopeo', ['copy', '-q', `docker-archive:${dock}`, `oci:${layout}:x`], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  r = spawnSync('skopeo', ['copy', '-q', `oci:${layout}:x`, `docker-archive:${back}:skopeo/made:1`], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.match(ok(['load', '-i', back]), /Loaded image: skopeo\/made:1/);
  assert.equal(run('skopeo/made:1', 'ls /opt/x; cat /data/d/f'), 'new\nhi');
  const podman = spawnSync('podman', ['--version']);
  if (podman.status !== 0) {
    t.diagnostic('podman is not installed: the podman load check was skipped');
    return;
  }
  const proot = mkdtempSync('/tmp/berth-podman-');
  try {
    const pl = spawnSync('podman', ['--root', join(proot, 'root'), '--runroot', join(proot, 'run'), '--storage-driver', 'vfs', 'load', '-i', dock], { encoding: 'utf8' });
    assert.equal(pl.status, 0, pl.stderr);
    assert.match(pl.stdout, /committed:2/);
  } finally {
    spawnSync('podman', ['--root', join(proot, 'root'), '--runroot', join(proot, 'run'), '--storage-driver', 'vfs', 'system', 'reset', '-f']);
    rmSync(proot, { recursive: true, force: true });
  }
});

test('images: filters, --digests, -q, dangling; tag; rmi refuses an image in use; prune and system df', () => {
  ok(['tag', 'busybox', 'filtered/one:a']);
  ok(['tag', 'busybox', 'filtered/two:b']);
  assert.deepEqual(ok(['images', '--format', '{{.Repository}}:{{.Tag}}', '--filter', 'reference=filtered/*']).trim().split('\n').sort(), ['filtered/one:a', 'filtered/two:b']);
  assert.equal(ok(['images', '--format', '{{.Repository}}', 'filtered/one']).trim(), 'filtered/one');
  let r = env.berth(['images', '--filter', 'bogus=1']);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /invalid filter/);
  r = env.berth(['tag', 'busybox', 'UPPER:case']);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /invalid reference format/);
  // A container keeps its image: rmi refuses, -f only untags.
  ok(['create', '--name', 'user', 'committed:1', 'true']);
  r = env.berth(['rmi', 'committed:1']);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /image is being used by 1 container/);
  assert.match(ok(['rmi', '-f', 'committed:1']), /Untagged: committed:1/);
  assert.ok(ok(['images', '-q', '--filter', 'dangling=true']).trim().length > 0, 'the untagged image is dangling');
  assert.match(ok(['system', 'df']), /^TYPE\s+TOTAL\s+ACTIVE\s+SIZE\s+RECLAIMABLE\nImages\s+\d+\s+1\s/);
  // prune leaves the image a container uses; after the container goes, prune takes it.
  ok(['image', 'prune', '-f']);
  assert.ok(ok(['images', '-q', '--filter', 'dangling=true']).trim().length > 0);
  ok(['rm', 'user']);
  const pruned = ok(['image', 'prune', '-f']);
  assert.match(pruned, /deleted: sha256:/);
  assert.match(pruned, /Total reclaimed space: \d/);
  assert.equal(ok(['images', '-q', '--filter', 'dangling=true']).trim(), '');
  // -a takes every image no container uses, and what is left on disk is only what the rest need.
  ok(['image', 'prune', '-a', '-f']);
  assert.equal(ok(['images', '-q']).trim(), '');
  assert.deepEqual(readdirSync(join(env.root, 'layers')), []);
  assert.deepEqual(readdirSync(join(env.root, 'blobs', 'sha256')), []);
  assert.deepEqual(readdirSync(join(env.root, 'l')), []);
  // Put busybox back for the tests after this one.
  ok(['load', '-i', join(work, 'd.tar')]);
});

test('login/logout with basic auth: credentials land in the auth file (0600) and pull works only while logged in', async (t) => {
  const reg = await registryOrSkip(t, { auth: 'basic' });
  if (!reg) return;
  const authFile = join(work, 'auth.json');
  const envs = { env: { REGISTRY_AUTH_FILE: authFile } };
  try {
    const ref = `${reg.host}/private/bb:1`;
    ok(['tag', 'busybox', ref]);
    let r = env.berth(['push', ref], envs);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /unauthorized|authentication required|denied/i);
    r = env.berth(['login', '-u', reg.user!, '--password-stdin', reg.host], { ...envs, input: 'wrong\n' });
    assert.equal(r.code, 1);
    assert.ok(!existsSync(authFile), 'a failed login writes nothing');
    assert.match(ok(['login', '-u', reg.user!, '--password-stdin', reg.host], { ...envs, input: `${reg.password}\n` }), /Login Succeeded/);
    assert.equal(statSync(authFile).mode & 0o777, 0o600);
    const auths = JSON.parse(readFileSync(authFile, 'utf8')).auths;
    assert.equal(Buffer.from(auths[reg.host].auth, 'base64').toString(), `${reg.user}:${reg.password}`);
    ok(['push', '-q', ref], envs);
    ok(['rmi', ref]);
    ok(['pull', '-q', ref], envs);
    assert.match(ok(['logout', reg.host], envs), /Removing login credentials/);
    ok(['rmi', ref]);
    r = env.berth(['pull', ref], envs);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /denied|unauthorized/i);
  } finally {
    await reg.stop();
  }
});
