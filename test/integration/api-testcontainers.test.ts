/**
 * `berth serve` driven by testcontainers-node, as a test suite would use it: DOCKER_HOST names Berth's
 * socket, Ryuk is off (its image is not here), and busybox:latest is found locally (never pulled).
 * GenericContainer start with env, labels, exposed ports (HostPort "0"), the log-message and HTTP wait
 * strategies and a failing one, exec (output, exit code, streams, options), copying content and files in
 * and an archive out, and stop removing the container.
 */
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { startApiServer, type ApiServer } from './api-server.ts';
import { cli, type Env } from './helpers.ts';

type TC = typeof import('testcontainers');

let api: ApiServer;
let env: Env;
let tc: TC;
/** Containers started here that a failing test may have left running. */
const started = new Set<string>();

before(async () => {
  api = await startApiServer('api-testcontainers');
  env = api.env;
  // testcontainers reads its configuration from the environment when it first makes a client.
  process.env.DOCKER_HOST = `unix://${api.sock}`;
  process.env.TESTCONTAINERS_RYUK_DISABLED = 'true';
  // Its lock files (taken even without Ryuk) go to os.tmpdir(): keep them inside the test root.
  const tmp = join(env.root, 'testcontainers-tmp');
  mkdirSync(tmp);
  process.env.TMPDIR = tmp;
  tc = await import('testcontainers');
});

after(async () => {
  if (env && started.size > 0) env.berth(['rm', '-f', ...started]);
  await api?.stop();
});

/** Run the CLI, require exit 0, its stdout. */
const { out: berth } = cli(() => env);

/**
 * The container's ids in `berth ps -a`, full length. Not the shared allIds: this one requires ps to succeed
 * (a failing ps would make "no container left" pass vacuously) and keeps ps's order.
 */
function allIds(): string[] {
  return berth(['ps', '-aq', '--no-trunc']).split('\n').filter(Boolean);
}

/** A failed assertion shows what the server said. */
function withLog(msg: string): string {
  return `${msg}\nserver log:\n${api.log()}`;
}

test('start, env and labels in inspect, exec output and exit code, stop removes the container', async () => {
  const c = await new tc.GenericContainer('busybox:latest')
    .withCommand(['sleep', '300'])
    .withEnvironment({ GREETING: 'hello world', EMPTY: '' })
    .withLabels({ 'com.example.team': 'berth', 'com.example.empty': '' })
    .start();
  started.add(c.getId());
  assert.match(c.getId(), /^[0-9a-f]{64}$/);

  // What testcontainers asked for is what the engine stored (read through the CLI, not the API).
  const [state, envJson, labelsJson, image] = berth([
    'inspect',
    '-f',
    '{{.State.Status}}\n{{json .Config.Env}}\n{{json .Config.Labels}}\n{{.Config.Image}}',
    c.getId(),
  ]).split('\n');
  assert.equal(state, 'running');
  const cenv = JSON.parse(envJson!) as string[];
  assert.ok(cenv.includes('GREETING=hello world'), `Env: ${envJson}`);
  assert.ok(cenv.includes('EMPTY='), `Env: ${envJson}`);
  const labels = JSON.parse(labelsJson!) as Record<string, string>;
  assert.equal(labels['com.example.team'], 'berth');
  assert.equal(labels['com.example.empty'], '');
  // testcontainers' own labels (its session and reuse logic list containers by them).
  assert.equal(labels['org.testcontainers'], 'true');
  assert.equal(labels['org.testcontainers.lang'], 'node');
  assert.ok(labels['org.testcontainers.session-id'], `Labels: ${labelsJson}`);
  assert.equal(image, 'busybox:latest');
  assert.ok(berth(['ps', '-q', '--no-trunc', '--filter', 'label=com.example.team=berth']).includes(c.getId()));

  // exec: the output, the exit code, stdout and stderr apart.
  const r = await c.exec(['sh', '-c', 'echo hi; exit 3']);
  assert.equal(r.output, 'hi\n');
  assert.equal(r.stdout, 'hi\n');
  assert.equal(r.stderr, '');
  assert.equal(r.exitCode, 3);
  const r2 = await c.exec(['sh', '-c', 'echo "$GREETING"; echo oops >&2']);
  assert.deepEqual({ stdout: r2.stdout, stderr: r2.stderr, exitCode: r2.exitCode }, { stdout: 'hello world\n', stderr: 'oops\n', exitCode: 0 });
  // exec options: env, user, working directory.
  const r3 = await c.exec(['sh', '-c', 'echo "$X $(id -u) $(pwd)"'], { env: { X: 'y' }, user: '123', workingDir: '/etc' });
  assert.equal(r3.output, 'y 123 /etc\n');
  assert.equal(r3.exitCode, 0);

  const stopped = await c.stop();
  assert.equal(stopped.getId(), c.getId());
  started.delete(c.getId());
  // testcontainers removes what it stops (by default): gone from `ps -a`.
  assert.ok(!allIds().includes(c.getId()), withLog(`container still listed after stop:\n${berth(['ps', '-a'])}`));
  assert.notEqual(env.berth(['inspect', c.getId()]).code, 0);
});

test('Wait.forLogMessage waits for the message; a message that never comes fails the start and removes the container', async () => {
  const t0 = Date.now();
  const c = await new tc.GenericContainer('busybox:latest')
    .withCommand(['sh', '-c', 'sleep 1; echo ready; exec sleep 300'])
    .withWaitStrategy(tc.Wait.forLogMessage('ready'))
    .withStartupTimeout(30_000)
    .start();
  started.add(c.getId());
  // The strategy waited for the line (printed a second after the start), not only for the start.
  assert.ok(Date.now() - t0 >= 900, `start returned after ${Date.now() - t0} ms, before "ready" was printed`);
  const logs = await c.logs();
  const text = await new Promise<string>((resolve) => {
    let t = '';
    logs.on('data', (b: Buffer | string) => {
      t += b.toString();
      if (t.includes('ready')) resolve(t);
    });
    setTimeout(() => resolve(t), 5_000);
  });
  logs.destroy();
  assert.match(text, /^ready$/m);
  await c.stop();
  started.delete(c.getId());
  assert.ok(!allIds().includes(c.getId()));

  // A regex, a count, stdout and stderr alike.
  const c2 = await new tc.GenericContainer('busybox:latest')
    .withCommand(['sh', '-c', 'echo "step 1" >&2; echo "step 2"; exec sleep 300'])
    .withWaitStrategy(tc.Wait.forLogMessage(/step \d/, 2))
    .withStartupTimeout(30_000)
    .start();
  started.add(c2.getId());
  await c2.stop();
  started.delete(c2.getId());

  const before = new Set(allIds());
  await assert.rejects(
    new tc.GenericContainer('busybox:latest').withCommand(['sleep', '300']).withWaitStrategy(tc.Wait.forLogMessage('never printed')).withStartupTimeout(2_000).start(),
    /Log message "never printed" not received after 2000ms/,
  );
  // testcontainers stops and removes a container whose wait failed.
  assert.deepEqual(allIds().filter((id) => !before.has(id)), [], withLog(`a container was left behind:\n${berth(['ps', '-a'])}`));
});

test('content and files copied in before and after the start read back through exec; an archive comes out', async () => {
  const host = join(env.root, 'testcontainers-tmp', 'copy-src');
  mkdirSync(join(host, 'dir', 'sub'), { recursive: true });
  writeFileSync(join(host, 'file.txt'), 'from a host file\n');
  writeFileSync(join(host, 'dir', 'sub', 'deep.txt'), 'deep\n');
  const c = await new tc.GenericContainer('busybox:latest')
    .withCommand(['sleep', '300'])
    .withCopyContentToContainer([{ content: 'before start\n', target: '/opt/before.txt' }])
    .withCopyFilesToContainer([{ source: join(host, 'file.txt'), target: '/etc/berth/file.txt', mode: 0o640 }])
    .withCopyDirectoriesToContainer([{ source: join(host, 'dir'), target: '/srv/dir' }])
    .start();
  started.add(c.getId());

  await c.copyContentToContainer([
    { content: 'after start\nline two\n', target: '/tmp/after.txt' },
    { content: Buffer.from([0, 1, 2, 255]), target: '/tmp/bytes.bin', mode: 0o600 },
  ]);
  const r = await c.exec([
    'sh',
    '-c',
    'cat /opt/before.txt /tmp/after.txt /etc/berth/file.txt /srv/dir/sub/deep.txt; stat -c %a /etc/berth/file.txt /tmp/bytes.bin; od -An -tx1 /tmp/bytes.bin',
  ]);
  assert.equal(r.exitCode, 0, r.output);
  assert.equal(r.stdout, 'before start\nafter start\nline two\nfrom a host file\ndeep\n640\n600\n 00 01 02 ff\n');

  // And out again: a tar whose one entry is the file.
  const tar = await c.copyArchiveFromContainer('/tmp/after.txt');
  const chunks: Buffer[] = [];
  for await (const b of tar) chunks.push(b as Buffer);
  const buf = Buffer.concat(chunks);
  assert.equal(buf.subarray(0, 100).toString().replace(/\0.*$/s, ''), 'after.txt');
  assert.equal(buf.subarray(512, 512 + 21).toString(), 'after start\nline two\n');

  await c.stop();
  started.delete(c.getId());
  assert.ok(!allIds().includes(c.getId()));
});

test('withExposedPorts: a random host port (HostPort "0"), Wait.forHttp through it, a network with an alias', async () => {
  const net = await new tc.Network().start();
  let web: Awaited<ReturnType<InstanceType<TC['GenericContainer']>['start']>> | undefined;
  try {
    web = await new tc.GenericContainer('busybox:latest')
      .withCommand(['sh', '-c', 'echo hello-page > /tmp/index.html; exec httpd -f -p 8080 -h /tmp'])
      .withExposedPorts(8080)
      .withNetwork(net)
      .withNetworkAliases('web')
      .withWaitStrategy(tc.Wait.forHttp('/index.html', 8080).forStatusCode(200))
      .withStartupTimeout(30_000)
      .start();
    started.add(web.getId());
    const port = web.getMappedPort(8080);
    assert.ok(port > 0 && port !== 8080, `mapped port ${port}`);
    const res = await fetch(`http://${web.getHost()}:${port}/index.html`);
    assert.equal(res.status, 200);
    assert.equal(await res.text(), 'hello-page\n');
    assert.ok(web.getNetworkNames().includes(net.getName()), `networks: ${web.getNetworkNames().join(',')}`);

    // Another container on the network reaches it by its alias.
    const client = await new tc.GenericContainer('busybox:latest')
      .withNetwork(net)
      .withCommand(['sh', '-c', 'wget -qO- http://web:8080/index.html; echo fetched; exec sleep 300'])
      .withWaitStrategy(tc.Wait.forLogMessage('fetched'))
      .withStartupTimeout(30_000)
      .start();
    started.add(client.getId());
    const logs = await client.logs();
    const text = await new Promise<string>((resolve) => {
      let t = '';
      logs.on('data', (b: Buffer | string) => {
        t += b.toString();
        if (t.includes('fetched')) resolve(t);
      });
      setTimeout(() => resolve(t), 5_000);
    });
    logs.destroy();
    assert.match(text, /^hello-page\nfetched$/m);
    await client.stop();
    started.delete(client.getId());
  } finally {
    if (web) {
      await web.stop();
      started.delete(web.getId());
    }
    await net.stop();
  }
  assert.ok(!allIds().includes(web.getId()));
  assert.doesNotMatch(berth(['network', 'ls']), new RegExp(net.getName()));
});
