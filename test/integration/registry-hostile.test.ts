/**
 * Registries that misbehave (test/fixtures/hostile-registry.ts): a blob cut mid-way, bodies without end
 * (manifest, error, token), a blob that stalls. A pull fails in one line that names the registry and
 * what it was fetching, after the retries docker makes; nothing of the failed pull stays in the root;
 * `berth serve` keeps serving; and nothing is read into memory beyond its bound.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { RuntimeFailure } from '../../src/errors.ts';
import { RegistryClient } from '../../src/registry/client.ts';
import { parseImageName } from '../../src/registry/reference.ts';
import { MiB, startHostileRegistry, type HostileRegistry } from '../fixtures/hostile-registry.ts';
import { call, startApiServer } from './api-server.ts';
import { setupEnv, show, type Env } from './helpers.ts';

/** What a failed command said: its stderr lines, without the progress a pull prints on the way. */
const errorLines = (stderr: string) => stderr.split('\n').filter((l) => l.trim() !== '');

/** Files of the root's blob store and layer dirs: a failed pull must add none. */
function storeFiles(root: string): string[] {
  const list = (d: string) => (existsSync(d) ? readdirSync(d).map((n) => `${d}/${n}`) : []);
  return [...list(join(root, 'blobs', 'sha256')), ...list(join(root, 'layers'))].sort();
}

describe('a pull from a hostile registry', () => {
  let env: Env;
  let reg: HostileRegistry;
  before(async () => {
    env = setupEnv('hostile');
    reg = await startHostileRegistry();
  });
  after(async () => {
    await reg?.stop();
    env?.teardown();
  });

  // The registry answers from this process: berth runs asynchronously so the event loop stays free to serve it.
  test('a blob cut mid-way: retried as docker does, then one line naming registry and blob; nothing stays', async () => {
    const ref = `${reg.host}/hostile/img:good`;
    const before = storeFiles(env.root);
    reg.faultLayer('cut');
    const r = await env.berthAsync(['pull', '-q', ref]);
    assert.notEqual(r.code, 0, show(r));
    assert.doesNotMatch(r.stderr, /internal error|TypeError|\n\s+at /, show(r));
    const lines = errorLines(r.stderr);
    assert.equal(lines.length, 1, show(r));
    assert.match(lines[0]!, new RegExp(`${reg.host}/hostile/img@${reg.layer.digest}: the connection was cut after \\d+ of ${reg.layer.size} bytes`));
    assert.equal(reg.layerRequests(), 5, 'five attempts, as docker makes');
    assert.deepEqual(storeFiles(env.root), before, 'no blob, partial file or layer of the failed pull stays');
    assert.doesNotMatch(env.berth(['images', '--format', '{{.Repository}}']).stdout, /hostile/);

    // As many as daemon.json's max-download-attempts says; a count that is no count is refused.
    const config = join(env.root, 'daemon.json');
    writeFileSync(config, JSON.stringify({ 'max-download-attempts': 2 }));
    try {
      const two = await env.berthAsync(['pull', '-q', ref]);
      assert.notEqual(two.code, 0, show(two));
      assert.equal(reg.layerRequests(), 7, 'two more attempts');
      writeFileSync(config, JSON.stringify({ 'max-download-attempts': 0 }));
      const bad = await env.berthAsync(['pull', '-q', ref]);
      assert.equal(bad.code, 1, show(bad));
      assert.equal(bad.stderr, `Error: ${config}: "max-download-attempts" must be a whole number of at least 1 (not 0)\n`);
      assert.equal(reg.layerRequests(), 7);
    } finally {
      rmSync(config, { force: true });
    }

    // The same registry, healthy again: the pull and a run work.
    reg.faultLayer(undefined);
    const ok = await env.berthAsync(['run', '--rm', '--network', 'none', ref]);
    assert.equal(ok.code, 0, show(ok));
    assert.equal(ok.stdout, 'hello from a hostile registry\n');
    assert.equal(env.berth(['rmi', ref]).code, 0);
  });

  // A layer unpacks while it downloads: a retry that starts the blob over (a server ignoring Range) must
  // start its unpack over too, from the whole blob.
  test('a blob cut once, then sent whole from the start: the pull succeeds with the right content', async () => {
    const ref = `${reg.host}/hostile/img:good`;
    reg.faultLayer('cut-once');
    const requests = reg.layerRequests();
    const r = await env.berthAsync(['pull', '-q', ref]);
    assert.equal(r.code, 0, show(r));
    assert.equal(reg.layerRequests(), requests + 2, 'cut, then sent whole');
    const ok = await env.berthAsync(['run', '--rm', '--network', 'none', ref]);
    assert.equal(ok.code, 0, show(ok));
    assert.equal(ok.stdout, 'hello from a hostile registry\n');
    assert.equal(env.berth(['rmi', ref]).code, 0);
  });

  test('an endless manifest is refused at 4 MiB, read no further', async () => {
    const sentBefore = reg.bytesSent();
    const r = await env.berthAsync(['pull', '-q', `${reg.host}/hostile/img:endless`]);
    assert.notEqual(r.code, 0, show(r));
    assert.match(r.stderr, /hostile\/img:endless: manifest is too big: more than 4194304 bytes/);
    assert.equal(errorLines(r.stderr).length, 1, show(r));
    // The server writes into socket buffers ahead of the reader, so a few MiB more than the bound leave it.
    const sent = reg.bytesSent() - sentBefore;
    assert.ok(sent < 32 * MiB, `the registry sent ${sent} bytes before the client hung up`);
  });

  test('an endless error body still gives a one-line error, read no further', async () => {
    const sentBefore = reg.bytesSent();
    const r = await env.berthAsync(['pull', '-q', `${reg.host}/hostile/img:endless-error`]);
    assert.notEqual(r.code, 0, show(r));
    assert.equal(errorLines(r.stderr).length, 1, show(r));
    assert.ok(errorLines(r.stderr)[0]!.length < 1000, 'the line is bounded');
    const sent = reg.bytesSent() - sentBefore;
    assert.ok(sent < 32 * MiB, `the registry sent ${sent} bytes before the client hung up`);
  });

  test('an endless token answer is refused at 1 MiB', async () => {
    reg.endlessToken(true);
    try {
      const sentBefore = reg.bytesSent();
      const r = await env.berthAsync(['pull', '-q', `${reg.host}/hostile/img:good`]);
      assert.notEqual(r.code, 0, show(r));
      assert.match(r.stderr, /token server 127\.0\.0\.1:\d+: the answer is too big: more than 1048576 bytes/);
      const sent = reg.bytesSent() - sentBefore;
      assert.ok(sent < 32 * MiB, `the token server sent ${sent} bytes before the client hung up`);
    } finally {
      reg.endlessToken(false);
    }
  });

  test('a blob that stalls after its headers fails after the idle timeout, leaving no partial file', async () => {
    reg.faultLayer('stall');
    const dir = mkdtempSync('/tmp/berth-hostile-stall-');
    try {
      const c = new RegistryClient({ authFile: join(dir, 'auth.json'), retries: 1, idleTimeoutMs: 300 });
      const started = Date.now();
      await assert.rejects(
        c.fetchBlob(parseImageName(`${reg.host}/hostile/img`), { mediaType: 'x', ...reg.layer }, join(dir, 'blob')),
        (e: Error) => e instanceof RuntimeFailure && /no answer from 127\.0\.0\.1:\d+ for 0\.3 s/.test(e.message),
      );
      assert.ok(Date.now() - started < 10_000);
      assert.deepEqual(readdirSync(dir).filter((n) => n !== 'auth.json'), []);
    } finally {
      reg.faultLayer(undefined);
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

test('berth serve stays up when a registry cuts a blob: the pull reports the error and the next request is served', async () => {
  const api = await startApiServer('hostile-serve');
  const reg = await startHostileRegistry();
  try {
    reg.faultLayer('cut');
    for (let i = 0; i < 3; i++) {
      const r = await call(api.sock, 'POST', `/images/create?fromImage=${reg.host}/hostile/img&tag=good`);
      assert.ok(api.alive(), `the server died on pull ${i + 1}:\n${api.log()}`);
      // The stream has started (200) when the layer fails: docker's form is a last message with "error".
      const last = JSON.parse(r.text.trim().split('\n').at(-1)!) as { error?: string };
      assert.match(last.error ?? '', /the connection was cut after/, r.text);
      const ping = await call(api.sock, 'GET', '/_ping');
      assert.equal(ping.text, 'OK');
    }
    assert.doesNotMatch(api.log(), /AssertionError|internal error/);
  } finally {
    await reg.stop();
    await api.stop();
  }
});
