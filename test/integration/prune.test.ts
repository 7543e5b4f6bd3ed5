/**
 * The prune verbs' filters and `system prune`: image prune with until/label/label! (CLI and API),
 * system prune's order and report, -a and --volumes, and what it keeps (running containers, their
 * images, named volumes, the default network). (container prune's filters: api-conformance.test.ts;
 * volume prune: volumes.test.ts.)
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { cli, setupEnv, type Env } from './helpers.ts';

let env: Env;

before(() => {
  env = setupEnv('prune');
});

after(() => {
  if (!env) return;
  const ids = env.berth(['ps', '-aq', '--no-trunc']).stdout.split('\n').filter(Boolean);
  if (ids.length > 0) env.berth(['rm', '-f', ...ids]);
  env.teardown();
});

const { ok, out, runD, removeQuietly: rm } = cli(() => env);

/** Image ids (full) of the root, dangling ones included. */
const imageIds = () => out(['images', '-a', '-q', '--no-trunc']).split('\n').filter(Boolean).sort();

/** Commit a container made from busybox (with a file of its own) as an image; the image's id. */
function commitImage(tag: string, label: string): string {
  const c = ok(['create', 'busybox', 'true']).stdout.trim();
  try {
    return ok(['commit', '-c', `LABEL ${label}`, c, tag]).stdout.trim();
  } finally {
    rm(c);
  }
}

test('image prune --filter label= / label!= / until= removes only the dangling images selected', () => {
  // Each tag committed twice: the first image of each becomes dangling.
  const keepOld = commitImage('pr:keep', 'keep=yes');
  commitImage('pr:keep', 'keep=yes');
  const dropOld = commitImage('pr:drop', 'keep=no');
  commitImage('pr:drop', 'keep=no');
  try {
    const before = imageIds();
    assert.ok(before.includes(keepOld) && before.includes(dropOld), 'the first commits stay, untagged');
    // label!=keep=yes: the dangling keep=no image goes, the keep=yes one stays
    const r = ok(['image', 'prune', '-f', '--filter', 'label!=keep=yes']);
    assert.match(r.stdout, new RegExp(`deleted: ${dropOld}`));
    assert.doesNotMatch(r.stdout, new RegExp(keepOld));
    assert.ok(imageIds().includes(keepOld));
    // until= a time before everything: nothing goes
    ok(['image', 'prune', '-f', '--filter', 'until=2001-01-01T00:00:00Z']);
    assert.ok(imageIds().includes(keepOld));
    // label=keep=yes: now it goes
    const r2 = ok(['image', 'prune', '-f', '--filter', 'label=keep=yes']);
    assert.match(r2.stdout, new RegExp(`deleted: ${keepOld}`));
    assert.ok(!imageIds().includes(keepOld));
    // tagged images are not dangling: untouched without -a
    assert.match(out(['images', 'pr']), /pr\s+keep/);
    const bad = env.berth(['image', 'prune', '-f', '--filter', 'colour=red']);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /invalid filter 'colour'/);
  } finally {
    env.berth(['rmi', 'pr:keep', 'pr:drop']);
  }
});

test('system prune: stopped containers, unused networks, dangling images and the build cache go; running ones and their images stay', () => {
  const running = runD(['busybox', 'sleep', '300']);
  const stopped = ok(['create', 'busybox', 'true']).stdout.trim();
  ok(['network', 'create', 'pr-unused']);
  ok(['volume', 'create', 'pr-named']);
  const anon = ok(['create', '-v', '/data', 'busybox', 'true']).stdout.trim();
  const anonVolume = out(['inspect', '-f', '{{range .Mounts}}{{.Name}}{{end}}', anon]).trim();
  ok(['rm', anon]); // its anonymous volume outlives it (rm without -v)
  const dangling = commitImage('pr:sys', 'x=1');
  commitImage('pr:sys', 'x=2');
  try {
    const refused = env.berth(['system', 'prune', '-f', '--volumes', '--filter', 'until=1h']);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /"until" filter is not supported with "--volumes"/);

    const r = ok(['system', 'prune', '-f']);
    assert.match(r.stdout, new RegExp(`Deleted Containers:\\n${stopped}\\n`));
    assert.match(r.stdout, /Deleted Networks:\npr-unused\n/);
    assert.match(r.stdout, new RegExp(`Deleted Images:\\n[^]*deleted: ${dangling}`));
    assert.match(r.stdout, /Total reclaimed space: /);
    assert.doesNotMatch(r.stdout, /Deleted Volumes/);
    assert.deepEqual(out(['ps', '-aq', '--no-trunc']).trim(), running);
    assert.match(out(['volume', 'ls', '-q']), new RegExp(anonVolume), 'volumes only with --volumes');
    assert.match(out(['network', 'ls']), /bridge/);

    const v = ok(['system', 'prune', '-f', '--volumes']);
    assert.match(v.stdout, new RegExp(`Deleted Volumes:\\n${anonVolume}\\n`));
    assert.deepEqual(out(['volume', 'ls', '-q']).split('\n').filter(Boolean), ['pr-named'], 'named volumes stay');

    // -a: every image no container uses; busybox stays while the running container uses it
    const a = ok(['system', 'prune', '-f', '-a']);
    assert.match(a.stdout, /untagged: pr:sys/);
    assert.match(out(['images']), /busybox/);
  } finally {
    rm(running, stopped);
    env.berth(['volume', 'rm', 'pr-named', anonVolume]);
    env.berth(['network', 'rm', 'pr-unused']);
    env.berth(['rmi', 'pr:sys']);
  }
});

test('system df -v: images with shared and unique sizes, containers with their volumes, volumes with their links', () => {
  const committed = commitImage('df:child', 'x=1');
  const c = runD(['-v', 'df-vol:/data', 'busybox', 'sh', '-c', 'echo hi > /data/f; sleep 300']);
  try {
    const out = ok(['system', 'df', '-v']).stdout;
    const section = (title: string) => out.split(`${title}\n\n`)[1]!.split('\n\n')[0]!.split('\n');
    const images = section('Images space usage:');
    assert.match(images[0]!, /^REPOSITORY\s+TAG\s+IMAGE ID\s+CREATED\s+SIZE\s+SHARED SIZE\s+UNIQUE SIZE\s+CONTAINERS$/);
    // the committed image is made on busybox's layer: both share it, and busybox has a container
    const busybox = images.find((l) => l.startsWith('busybox '))!.split(/\s{2,}/);
    const child = images.find((l) => l.startsWith('df '))!.split(/\s{2,}/);
    assert.equal(child[2], committed.replace(/^sha256:/, '').slice(0, 12));
    assert.notEqual(busybox[5], '0B', 'busybox shares its layer');
    assert.equal(busybox[5], child[5], 'the same shared bytes');
    assert.equal(busybox[7], '1');
    const containers = section('Containers space usage:');
    assert.match(containers[1]!, new RegExp(`^${c.slice(0, 12)}\\s+busybox\\s+"sh -c echo hi > /da…"\\s+1\\s+`));
    const volumes = section('Local Volumes space usage:');
    assert.match(volumes.find((l) => l.startsWith('df-vol'))!, /^df-vol\s+1\s+\d/);
    assert.match(out, /Build cache usage: 0B\n\nCACHE ID\s+CACHE TYPE/);
  } finally {
    rm(c);
    env.berth(['volume', 'rm', 'df-vol']);
    env.berth(['rmi', 'df:child']);
  }
});
