/**
 * Clients that misbehave against the API server: headers never finished, a body promised and never
 * sent, a JSON body far past its bound (declared or chunked), one client opening more connections than it
 * may hold. Each is cut off as it should be, and an honest client is served all the while.
 *
 * The server runs in this process with small limits (createApiServer takes them; `berth serve` uses the
 * defaults), so the test takes seconds; the engine underneath is the real one.
 */
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { createApiServer, DEFAULT_SERVER_LIMITS, type ApiServer } from '../../src/api/server.ts';
import { Engine } from '../../src/engine/engine.ts';
import { call } from './api-server.ts';
import { setupEnv, type Env } from './helpers.ts';

const limits = { ...DEFAULT_SERVER_LIMITS, headersTimeoutMs: 1000, bodyIdleMs: 1000, jsonMax: 64 << 10, connectionsPerClient: 20 };

let env: Env;
let engine: Engine;
let api: ApiServer;
let sock: string;

before(async () => {
  env = setupEnv('api-hostile');
  engine = new Engine({ root: env.root });
  api = createApiServer(engine, undefined, () => {}, undefined, limits);
  sock = join(env.root, 'hostile.sock');
  // node checks header deadlines on an interval (connectionsCheckingInterval, 30 s by default): short here.
  (api.server as unknown as { connectionsCheckingInterval: number }).connectionsCheckingInterval = 250;
  await new Promise<void>((r) => api.server.listen(sock, r));
});

after(async () => {
  await api?.close();
  engine?.close();
  env?.teardown();
});

/** A raw connection to the server; resolves when it is open. */
function raw(): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect(sock, () => resolve(s));
    s.once('error', reject);
  });
}

/** Resolves with what the server sent when it closes the connection, or 'open' after `ms`. */
function closedWithin(s: Socket, ms: number): Promise<string> {
  let got = '';
  s.on('data', (b) => (got += b.toString()));
  s.on('error', () => {});
  return Promise.race([
    new Promise<string>((r) => s.once('close', () => r(got))),
    sleep(ms).then(() => 'open'),
  ]);
}

async function pingWorks(): Promise<void> {
  const r = await call(sock, 'GET', '/_ping');
  assert.equal(r.text, 'OK');
}

test('headers never finished: the connection is closed after the header timeout', async () => {
  const s = await raw();
  s.write('GET /_ping HTTP/1.1\r\nHost: x\r\n');
  const started = Date.now();
  const said = await closedWithin(s, 10_000);
  assert.notEqual(said, 'open', 'the connection was still open after 10 s');
  assert.ok(Date.now() - started >= 900, 'not before the timeout');
  await pingWorks();
});

test('a body promised and never sent: 400 after the body idle time, and the server serves on', async () => {
  const s = await raw();
  s.write('POST /containers/create HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"Ima');
  const said = await closedWithin(s, 10_000);
  assert.notEqual(said, 'open', 'the connection was still open after 10 s');
  await pingWorks();
});

test('a JSON body past the bound: 413 at once when declared, at the bound when chunked; nothing created', async () => {
  const big = JSON.stringify({ Image: 'busybox', Env: Array.from({ length: 20_000 }, (_, i) => `V${i}=${'x'.repeat(10)}`) });
  const declared = await call(sock, 'POST', '/containers/create', big);
  assert.equal(declared.status, 413, declared.text);
  assert.match(JSON.parse(declared.text).message, /request body of \d+ bytes is too large \(the limit is 65536\)/);

  // Chunked: no length to refuse up front; the server stops reading at the bound.
  const s = await raw();
  s.write('POST /containers/create HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n');
  const chunk = Buffer.alloc(16 << 10, 0x20);
  let sent = 0;
  const done = closedWithin(s, 10_000);
  for (let i = 0; i < 64 && !s.destroyed; i++) {
    s.write(`${chunk.length.toString(16)}\r\n`);
    s.write(chunk);
    s.write('\r\n');
    sent += chunk.length;
    await sleep(5);
  }
  const said = await done;
  assert.match(said, /^HTTP\/1\.1 413 /, said);
  assert.match(said, /request body is too large: more than 65536 bytes/);
  assert.equal((await engine.list(true)).length, 0, 'no container was created');
  await pingWorks();
});

test('one client holds at most its share of connections; the one past it gets 503; freed slots serve again', async () => {
  const held: Socket[] = [];
  try {
    for (let i = 0; i < limits.connectionsPerClient; i++) held.push(await raw());
    const extra = await raw();
    const said = await closedWithin(extra, 5000);
    assert.match(said, /^HTTP\/1\.1 503 [\s\S]*too many connections/);
  } finally {
    for (const s of held) s.destroy();
  }
  await sleep(100);
  await pingWorks();
});
