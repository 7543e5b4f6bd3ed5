// AttachSession (src/runtime/conmon/attach.ts) over a unix socket whose peer closes at once, as conmon's
// attach socket does when a process that printed nothing exits: the end reaches a listener that comes late.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { AttachSession } from '../../src/runtime/conmon/attach.ts';

test('an empty session that ended before anyone listened still ends for a late listener', { timeout: 10_000 }, async () => {
  const dir = mkdtempSync('/tmp/berth-attach-');
  const path = join(dir, 'attach');
  const server = net.createServer((c) => c.end());
  await new Promise<void>((r) => server.listen(path, r));
  try {
    const socket = net.connect(path);
    const session = new AttachSession(socket);
    // Node reads the socket's EOF unasked: wait until the socket has ended and closed, with nobody listening.
    await new Promise<void>((r) => socket.once('close', () => r()));
    await new Promise<void>((r) => setImmediate(r));
    const output: string[] = [];
    session.on('stdout', (d) => output.push(d.toString()));
    // A lost end never comes: give up after 5 s, so the test fails rather than hold the run open.
    let timer: NodeJS.Timeout | undefined;
    const ended = await Promise.race([
      new Promise<boolean>((r) => session.on('end', () => r(true))),
      new Promise<boolean>((r) => (timer = setTimeout(() => r(false), 5000))),
    ]);
    clearTimeout(timer);
    assert.ok(ended, 'the end reached the late listener');
    assert.deepEqual(output, []);
  } finally {
    server.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
