/**
 * Every verb as the very first command on an engine root that has never been used: each gives its normal
 * result, or one line of error with docker's exit code, never "internal error" and a stack trace. A new
 * user's first command can be any of them (a `load` into a new root once failed renaming its first blob into
 * a `blobs/sha256` nobody had made).
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { after, before, describe, test, type TestContext } from 'node:test';
import type { RegistryFixture } from '../fixtures/registry.ts';
import { registryWithBusybox } from './api-server.ts';
import { BERTH, REPO, eventually, leaksUnder, rootBridge, setupEnv, type Env, type Result } from './helpers.ts';

let source: Env;
let work: string;
before(() => {
  source = setupEnv('first-source');
  work = mkdtempSync('/tmp/berth-test-first-work-');
  assert.equal(source.berth(['save', '-o', join(work, 'busybox-archive.tar'), 'busybox']).code, 0);
  const mk = spawnSync('bash', [join(REPO, 'scripts', 'mkimage-busybox'), join(work, 'rootfs.tar')], { encoding: 'utf8' });
  assert.equal(mk.status, 0, mk.stderr);
});
after(() => {
  rmSync(work, { recursive: true, force: true });
  source.teardown();
});

/** A root nobody has used: not even its directory exists. */
function newRoot(): string {
  const parent = mkdtempSync('/tmp/berth-test-first-');
  return join(parent, 'root');
}

function berthIn(root: string, args: string[]): Result {
  const r = spawnSync(BERTH, ['--root', root, ...args], {
    encoding: 'utf8',
    timeout: 120_000,
    // credentials stay in the root: logout must not touch the user's own auth file
    env: { ...process.env, REGISTRY_AUTH_FILE: join(root, '..', 'auth.json') },
  });
  if (r.error) throw r.error;
  return { code: r.status ?? 128, stdout: r.stdout, stderr: r.stderr };
}

/** Remove what a case made (containers, networks, volumes), check the host keeps nothing of it, drop the root. */
function cleanUp(root: string): void {
  if (existsSync(join(root, 'berth.db'))) {
    const ids = berthIn(root, ['ps', '-aq', '--no-trunc']).stdout.split('\n').filter(Boolean);
    if (ids.length > 0) berthIn(root, ['rm', '-f', ...ids]);
    berthIn(root, ['network', 'prune', '-f']);
    spawnSync('ip', ['link', 'del', rootBridge(root)]);
    const leaks = leaksUnder(root, ids);
    assert.deepEqual(leaks, [], `left by the first command on ${root}`);
  }
  rmSync(join(root, '..'), { recursive: true, force: true });
}

/**
 * The command's output has the shape of a normal result or of one error: no "internal error", no stack
 * trace, and an error is one line (docker's WARNING lines aside; a `run` passing on its container's code
 * has a pull's progress before it).
 */
function assertClean(r: Result, what: string, exitIsContainers = false): void {
  assert.doesNotMatch(r.stderr, /internal error/i, `${what}: ${r.stderr}`);
  assert.doesNotMatch(r.stderr, /^\s+at .+[(:]\d+/m, `${what}: a stack trace: ${r.stderr}`);
  const lines = r.stderr.split('\n').filter((l) => l !== '' && !l.startsWith('WARNING: '));
  if (r.code !== 0 && !exitIsContainers) assert.equal(lines.length, 1, `${what}: an error is one line: ${r.stderr}`);
}

/** [arguments, exit code, what stdout or stderr must show]. `{work}` is replaced with the fixtures' dir. */
type Case = [args: string[], code: number, shows?: RegExp];

const CASES: Case[] = [
  // images: what makes the store's first blob, layer and config
  [['load', '-i', '{work}/busybox-archive.tar'], 0, /Loaded image: busybox:latest/],
  [['import', '{work}/rootfs.tar', 'first:1'], 0, /^sha256:[0-9a-f]{64}$/m],
  [['images'], 0, /^REPOSITORY\s+TAG\s+IMAGE ID/],
  [['image', 'prune', '-f'], 0],
  [['save', '-o', '{work}/nothing.tar', 'busybox'], 1, /No such image: busybox/],
  [['rmi', 'nope'], 1, /No such image: nope/],
  [['tag', 'nope', 'other'], 1, /No such image: nope/],
  [['history', 'nope'], 1, /No such image: nope/],
  [['image', 'inspect', 'nope'], 1, /No such image: nope/],
  [['push', 'nope'], 1, /No such image: nope/],
  [['logout', '127.0.0.1:1'], 0],
  // containers
  [['ps'], 0, /^CONTAINER ID\s+IMAGE\s+COMMAND/],
  [['ps', '-a', '--format', '{{.ID}}'], 0],
  [['run', '--rm', '--pull', 'never', 'busybox', 'true'], 125, /No such image: busybox/],
  [['create', '--pull', 'never', 'busybox'], 125, /No such image: busybox/],
  [['container', 'prune', '-f'], 0],
  [['stats', '--no-stream'], 0, /CONTAINER ID/],
  ...(
    [
      ['inspect'], ['container', 'inspect'], ['rm'], ['stop'], ['start'], ['restart'], ['kill'], ['pause'], ['unpause'], ['wait'],
      ['logs'], ['top'], ['update', '-m', '16m'], ['stats', '--no-stream'], ['exec'], ['attach'], ['diff'], ['export'], ['port'],
      ['commit'], ['rename'],
    ] as string[][]
  ).map((verb): Case => {
    const tail = verb[0] === 'exec' ? ['true'] : verb[0] === 'rename' || verb[0] === 'commit' ? ['other'] : [];
    return [[...verb, 'nope', ...tail], 1, /No such (container|object): nope/];
  }),
  [['cp', 'nope:/etc/hostname', '{work}/out'], 1, /No such container: nope/],
  [['container', 'cleanup', '0123456789ab'], 0],
  // volumes, networks, the system
  [['volume', 'create', 'first'], 0, /^first$/m],
  [['volume', 'ls'], 0, /DRIVER\s+VOLUME NAME/],
  [['volume', 'inspect', 'nope'], 1, /no such volume: nope/],
  [['volume', 'rm', 'nope'], 1, /no such volume: nope/],
  [['volume', 'prune', '-f'], 0],
  [['network', 'create', 'first'], 0, /^[0-9a-f]{64}$/m],
  [['network', 'ls'], 0, /NETWORK ID\s+NAME/],
  [['network', 'inspect', 'nope'], 1, /network nope not found/],
  [['network', 'rm', 'nope'], 1, /network nope not found/],
  [['network', 'connect', 'nope', 'nope'], 1, /not found/],
  [['network', 'prune', '-f'], 0],
  [['events', '--since', '1h', '--until', '0s'], 0],
  [['system', 'df'], 0, /^TYPE\s+TOTAL\s+ACTIVE/],
  [['system', 'reset', '-f'], 0],
  [['info'], 0, /Default Runtime: (crun|runc)/],
  [['version'], 0, /API version:\s+1\.51/],
];

describe('the first command on a new engine root', () => {
  for (const [args, code, shows] of CASES) {
    test(`berth ${args.join(' ').replaceAll('{work}/', '')} → ${code}`, () => {
      const root = newRoot();
      try {
        const r = berthIn(root, args.map((a) => a.replace('{work}', work)));
        assertClean(r, args.join(' '));
        assert.equal(r.code, code, `exit ${r.code}: ${r.stderr}`);
        if (shows) assert.match(r.code === 0 ? r.stdout : r.stderr, shows, r.stdout + r.stderr);
        // a failed command loses nothing and makes nothing: no container, image or volume appears
        if (code !== 0 && existsSync(join(root, 'berth.db'))) {
          assert.deepEqual(readdirSync(join(root, 'containers')), []);
          assert.equal(berthIn(root, ['images', '-q']).stdout, '');
        }
      } finally {
        cleanUp(root);
      }
    });
  }

  test('berth run of an image from a registry: pulled, run, removed', async (t: TestContext) => {
    let reg: RegistryFixture | undefined;
    const got = await registryWithBusybox(t, source, 'first/bb:1');
    if (!got) return;
    reg = got.reg;
    const root = newRoot();
    try {
      const r = berthIn(root, ['run', '--rm', '--network', 'none', got.ref, 'sh', '-c', 'echo first; exit 3']);
      assertClean(r, 'run', true);
      assert.equal(r.code, 3, r.stderr);
      assert.equal(r.stdout, 'first\n');
      assert.equal(berthIn(root, ['ps', '-aq']).stdout, '');
      // and a pull alone, into another new root
      const other = newRoot();
      try {
        const p = berthIn(other, ['pull', '-q', got.ref]);
        assertClean(p, 'pull');
        assert.equal(p.code, 0, p.stderr);
        assert.equal(p.stdout.trim(), got.ref);
      } finally {
        cleanUp(other);
      }
    } finally {
      cleanUp(root);
      await reg.stop();
    }
  });

  test('berth serve: answers the API, and stops on SIGTERM', async () => {
    const root = newRoot();
    try {
      const sock = join(root, '..', 'api.sock');
      let log = '';
      const server = spawn(BERTH, ['--root', root, 'serve', '-H', `unix://${sock}`], { stdio: ['ignore', 'ignore', 'pipe'] });
      server.stderr!.on('data', (b: Buffer) => (log += b.toString()));
      const exited = new Promise<number | null>((res) => server.once('exit', (c) => res(c)));
      try {
        assert.ok(await eventually(() => /API listening/.test(log), 20_000), `serve did not start:\n${log}`);
        const get = (path: string) =>
          new Promise<{ status: number; body: string }>((resolve, reject) => {
            request({ socketPath: sock, path }, (res) => {
              let body = '';
              res.on('data', (c: Buffer) => (body += c.toString()));
              res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
            })
              .on('error', reject)
              .end();
          });
        assert.deepEqual(await get('/_ping'), { status: 200, body: 'OK' });
        const list = await get('/containers/json?all=1');
        assert.equal(list.status, 200);
        assert.deepEqual(JSON.parse(list.body), []);
        const missing = await get('/containers/nope/json');
        assert.equal(missing.status, 404);
        assert.match(JSON.parse(missing.body).message, /No such container: nope/);
      } finally {
        server.kill('SIGTERM');
      }
      assert.equal(await exited, 0, log);
      assert.doesNotMatch(log, /internal error|^\s+at /m);
    } finally {
      cleanUp(root);
    }
  });
});
