/**
 * run() by posix_spawn (src/sys/posix-spawn.ts), as `berth serve` runs its tools once it loaded it: the same
 * results Node's spawn gives (output, exit codes, input, directory, environment, PATH lookup, signals at their
 * defaults, timeouts, a missing command), children reaped, no descriptor of this process left in them.
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { execSync } from 'node:child_process';
import { closeSync, existsSync, readdirSync, readFileSync } from 'node:fs';
import { Socket } from 'node:net';
import { loadPosixSpawn, posixSpawnLoaded, spawnDetached } from '../../src/sys/posix-spawn.ts';
import { run } from '../../src/sys/run.ts';
import { eventually } from './helpers.ts';

before(async () => {
  await loadPosixSpawn();
});

test('output, exit code and input, as Node spawn gives them', async () => {
  assert.ok(posixSpawnLoaded());
  assert.deepEqual(await run('sh', ['-c', 'echo out; echo err >&2; exit 3']), { code: 3, stdout: 'out\n', stderr: 'err\n' });
  assert.deepEqual(await run('cat', [], { input: 'through stdin' }), { code: 0, stdout: 'through stdin', stderr: '' });
  // No input: stdin is /dev/null, not this process's.
  assert.equal((await run('sh', ['-c', 'cat; echo done'])).stdout, 'done\n');
  const big = 'x'.repeat(1 << 20);
  assert.equal((await run('cat', [], { input: big })).stdout.length, big.length, 'a megabyte through both pipes');
});

test('directory, environment, PATH lookup and a missing command', async () => {
  assert.equal((await run('pwd', [], { cwd: '/tmp' })).stdout, '/tmp\n');
  assert.equal((await run('/bin/sh', ['-c', 'echo $ONLY_HERE'], { env: { ONLY_HERE: 'yes', PATH: '/usr/bin:/bin' } })).stdout, 'yes\n');
  await assert.rejects(run('no-such-command-here', []), (e: NodeJS.ErrnoException) => e.code === 'ENOENT' && /spawn no-such-command-here ENOENT/.test(e.message));
  await assert.rejects(run('sh', [], { env: { PATH: '/nowhere' } }), /ENOENT/, "the command is looked up on the child's PATH");
});

test('signals start at their defaults (Node ignores SIGPIPE), a killed child is 128, a timeout ends it', async () => {
  const ignored = (await run('sh', ['-c', 'grep SigIgn /proc/self/status'])).stdout.trim();
  assert.match(ignored, /^SigIgn:\s+0+$/, 'no signal ignored');
  const blocked = (await run('sh', ['-c', 'grep SigBlk /proc/self/status'])).stdout.trim();
  assert.match(blocked, /^SigBlk:\s+0+$/, 'no signal blocked');
  assert.equal((await run('sh', ['-c', 'kill -9 $$'])).code, 128);
  const t0 = Date.now();
  const r = await run('sleep', ['30'], { timeoutMs: 200 });
  assert.equal(r.code, 128);
  assert.ok(Date.now() - t0 < 5000);
});

test('children are reaped and get none of this process’s descriptors', async () => {
  // What Node's own spawn passes on (what this process inherited without close-on-exec), and no more.
  const list = 'ls /proc/self/fd';
  const fds = (await run('sh', ['-c', list])).stdout;
  assert.equal(fds, execSync(list, { encoding: 'utf8' }));
  assert.deepEqual(fds.split('\n').slice(0, 3), ['0', '1', '2'], fds);
  await Promise.all(Array.from({ length: 20 }, () => run('true', [])));
  const zombies = readdirSync('/proc').filter((p) => /^\d+$/.test(p)).filter((p) => {
    try {
      const stat = readFileSync(`/proc/${p}/stat`, 'utf8');
      return stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z') && Number(stat.slice(stat.lastIndexOf(')') + 4).split(' ')[0]) === process.pid;
    } catch {
      return false;
    }
  });
  assert.deepEqual(zombies, [], 'no zombie children');
});

test('a detached process: its own session, the descriptors given, reaped when it exits', async () => {
  const { osPipe } = await import('../../src/sys/os-pipe.ts');
  const [r, w] = await osPipe();
  const pid = spawnDetached('sh', ['-c', 'echo "$$ $(ps -o sid= -p $$)" >&3; exec 3>&-; sleep 0.3'], { cwd: '/', env: process.env, fds: ['ignore', 'ignore', 'ignore', w] });
  assert.ok(pid && pid > 0);
  closeSync(w);
  const said = await new Promise<string>((resolve) => {
    const s = new Socket({ fd: r, readable: true, writable: false });
    let text = '';
    s.on('data', (b: Buffer) => (text += b.toString()));
    s.on('close', () => resolve(text));
  });
  const [own, sid] = said.trim().split(/\s+/).map(Number);
  assert.equal(own, pid);
  assert.equal(sid, pid, 'it leads a session of its own');
  const gone = await eventually(() => !existsSync(`/proc/${pid}`) || undefined, 5000);
  assert.ok(gone, 'exited and reaped (no zombie left)');
  assert.equal(spawnDetached('true', [], { cwd: '/', env: process.env, fds: ['ignore', 'ignore', 'ignore', 1] }), undefined, 'a descriptor where another goes is refused');
});
