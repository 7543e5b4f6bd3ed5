/**
 * Spawning on the worker thread (src/sys/spawn-thread.ts), as `berth serve` does: run() gives the same
 * results as in the calling thread, and a detached child gets pipes made here (src/sys/os-pipe.ts).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { closeFds, osPipe, readEnd } from '../../src/sys/os-pipe.ts';
import { run } from '../../src/sys/run.ts';
import { spawnDetachedOnThread, spawnOffThread, spawningOffThread } from '../../src/sys/spawn-thread.ts';
import { threadId } from 'node:worker_threads';

test('run() on the spawning thread: output, exit code, input, environment and a missing program', async () => {
  const local = await run('sh', ['-c', 'echo out; echo err >&2; exit 3']);
  spawnOffThread();
  assert.ok(spawningOffThread());
  assert.equal(threadId, 0);
  const r = await run('sh', ['-c', 'echo out; echo err >&2; exit 3']);
  assert.deepEqual(r, local);
  assert.equal((await run('cat', [], { input: 'from stdin' })).stdout, 'from stdin');
  process.env.BERTH_SPAWN_THREAD_TEST = 'seen';
  assert.equal((await run('sh', ['-c', 'echo $BERTH_SPAWN_THREAD_TEST'])).stdout, 'seen\n', 'the environment is shared, changes included');
  assert.equal((await run('sh', ['-c', 'echo $X'], { env: { X: 'given' } })).stdout, 'given\n');
  await assert.rejects(run('/nonexistent/program', []), (e: NodeJS.ErrnoException) => e.code === 'ENOENT');
  // Many at once: each answer reaches its own caller.
  const many = await Promise.all(Array.from({ length: 20 }, (_, i) => run('sh', ['-c', `echo ${i}`])));
  assert.deepEqual(many.map((m) => m.stdout), Array.from({ length: 20 }, (_, i) => `${i}\n`));
});

test('a detached child started on the thread writes to a pipe made here', async () => {
  spawnOffThread();
  const [r, w] = await osPipe();
  const pid = await spawnDetachedOnThread('sh', ['-c', 'echo ready >&3'], { cwd: '/', env: process.env, stdio: ['ignore', 'ignore', 'ignore', w] });
  closeFds(w);
  assert.ok(pid > 0);
  const sock = readEnd(r);
  let got = '';
  for await (const b of sock) got += (b as Buffer).toString();
  assert.equal(got, 'ready\n');
});
