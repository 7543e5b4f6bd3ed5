/**
 * The CRI face (`berth serve --cri`, src/cri/) driven by a gRPC client written here, as kubelet drives a runtime:
 * the pod start sequence (RunPodSandbox, PullImage from a local registry, CreateContainer, StartContainer,
 * status and list calls, ExecSync, stats, logs in the CRI format, Stop and Remove), the streaming server's exec
 * and port-forward over SPDY, the container event stream, what the CRI's objects look like to `berth`, and bad
 * requests answered with the gRPC codes containerd gives.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readlinkSync, rmSync, statSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { BERTH, REPO, cli, eventually, setupEnv, sleep, type Env } from './helpers.ts';
import { registryWithBusybox } from './api-server.ts';
import { criClient, readAll, spdyDial, type CriClient } from './cri-client.ts';

let env: Env;
let server: ChildProcess;
let log = '';
let cri: CriClient;
let logDir: string;
const { ok, out } = cli(() => env);

const NETWORK = 'crit';

before(async () => {
  env = setupEnv('cri');
  logDir = mkdtempSync('/tmp/berth-test-crilogs-');
  const sock = join(env.root, 'cri.sock');
  server = spawn(BERTH, ['--root', env.root, 'serve', '--cri', `unix://${sock}`, '--cri-network', NETWORK, '--cri-subnet', '10.98.7.0/24'], { stdio: ['ignore', 'ignore', 'pipe'] });
  server.stderr!.on('data', (b: Buffer) => (log += b.toString()));
  assert.ok(await eventually(() => /CRI listening/.test(log), 20_000), `server did not start:\n${log}`);
  cri = await criClient(REPO, sock);
});

after(async () => {
  cri?.close();
  if (server && server.exitCode === null) {
    const exited = new Promise((r) => server.once('exit', r));
    server.kill('SIGTERM');
    await exited;
  }
  rmSync(logDir, { recursive: true, force: true });
  env?.teardown();
  assert.doesNotMatch(log, /internal error/, 'no request met an internal error');
});

/** Mount points at or under `dir`. */
const mountsUnder = (dir: string) => readFileSync('/proc/self/mountinfo', 'utf8').split('\n').map((l) => l.split(' ')[4] ?? '').filter((m) => m === dir || m.startsWith(`${dir}/`));

const sandboxConfig = (name: string, extra: Record<string, unknown> = {}) => ({
  metadata: { name, namespace: 'test-ns', uid: `uid-${name}`, attempt: 0 },
  hostname: `${name}-host`,
  log_directory: join(logDir, name),
  labels: { 'io.kubernetes.pod.name': name, app: 'cri-test' },
  annotations: { note: 'from the test' },
  linux: {},
  ...extra,
});

test('Version, Status and RuntimeConfig', async () => {
  const v = await cri.runtime('Version', { version: 'v1' });
  assert.deepEqual([v.runtime_name, v.runtime_api_version], ['berth', 'v1']);
  const s = await cri.runtime('Status', {});
  assert.deepEqual(s.status.conditions.map((c: { type: string; status: boolean }) => [c.type, c.status]), [['RuntimeReady', true], ['NetworkReady', true]]);
  assert.equal((await cri.runtime('RuntimeConfig', {})).linux.cgroup_driver, 'CGROUPFS');
});

test('bad requests get the gRPC codes containerd gives, and leave nothing behind', async () => {
  const NOT_FOUND = 5;
  const INVALID_ARGUMENT = 3;
  const ALREADY_EXISTS = 6;
  const UNIMPLEMENTED = 12;
  const code = (p: Promise<unknown>) => p.then(() => 0, (e: { code: number }) => e.code);
  const unknown = 'f'.repeat(64);
  assert.equal(await code(cri.runtime('ContainerStatus', { container_id: unknown })), NOT_FOUND);
  assert.equal(await code(cri.runtime('StartContainer', { container_id: unknown })), NOT_FOUND);
  assert.equal(await code(cri.runtime('PodSandboxStatus', { pod_sandbox_id: unknown })), NOT_FOUND);
  assert.equal(await code(cri.runtime('CreateContainer', { pod_sandbox_id: unknown, config: { metadata: { name: 'x' }, image: { image: 'busybox' } } })), NOT_FOUND);
  assert.equal(await code(cri.runtime('ContainerStatus', {})), INVALID_ARGUMENT);
  assert.equal(await code(cri.runtime('RunPodSandbox', { config: { metadata: { name: 'nouid' } } })), INVALID_ARGUMENT);
  assert.equal(await code(cri.runtime('ExecSync', { container_id: unknown, cmd: [] })), INVALID_ARGUMENT);
  // Removing and stopping what is gone is not an error (the CRI's rule).
  assert.equal(await code(cri.runtime('RemoveContainer', { container_id: unknown })), 0);
  assert.equal(await code(cri.runtime('StopPodSandbox', { pod_sandbox_id: unknown })), 0);
  assert.equal(await code(cri.runtime('RemovePodSandbox', { pod_sandbox_id: unknown })), 0);
  assert.equal(await code(cri.image('RemoveImage', { image: { image: 'not-here:1' } })), 0);

  const { pod_sandbox_id: podId } = await cri.runtime('RunPodSandbox', { config: sandboxConfig('twice') });
  try {
    assert.equal(await code(cri.runtime('RunPodSandbox', { config: sandboxConfig('twice') })), ALREADY_EXISTS, 'the same metadata and attempt');
    const cfg = { metadata: { name: 'c', attempt: 0 }, image: { image: 'busybox' }, command: ['sleep', '60'], linux: { security_context: { run_as_group: { value: '10' } } } };
    assert.equal(await code(cri.runtime('CreateContainer', { pod_sandbox_id: podId, config: cfg })), INVALID_ARGUMENT, 'run_as_group without run_as_user');
    const { container_id: c } = await cri.runtime('CreateContainer', { pod_sandbox_id: podId, config: { ...cfg, linux: {} } });
    assert.equal(await code(cri.runtime('CreateContainer', { pod_sandbox_id: podId, config: { ...cfg, linux: {} } })), ALREADY_EXISTS, 'the same name and attempt');
    assert.equal(await code(cri.runtime('CheckpointContainer', { container_id: c })), UNIMPLEMENTED);
    // The user's own containers are not the CRI's to see.
    const mine = out(['create', 'busybox', 'true']).trim();
    assert.equal(await code(cri.runtime('ContainerStatus', { container_id: mine })), NOT_FOUND);
    assert.ok(!(await cri.runtime('ListContainers', {})).containers.some((x: { id: string }) => x.id === mine));
    ok(['rm', mine]);
  } finally {
    await cri.runtime('RemovePodSandbox', { pod_sandbox_id: podId });
  }
  assert.deepEqual(out(['ps', '-aq']), '');
});

test("the streaming server: exec with stdin and exit code, attach, and port forwarding to the pod's localhost, over SPDY", async () => {
  const { pod_sandbox_id: podId } = await cri.runtime('RunPodSandbox', { config: sandboxConfig('stream') });
  try {
    const config = { metadata: { name: 'srv', attempt: 0 }, image: { image: 'busybox' }, command: ['sh', '-c', 'mkdir /www; echo forwarded > /www/index.html; exec httpd -f -p 127.0.0.1:8080 -h /www'] };
    const { container_id: ctr } = await cri.runtime('CreateContainer', { pod_sandbox_id: podId, config });
    await cri.runtime('StartContainer', { container_id: ctr });

    // Exec: what goes in on stdin comes out on stdout, stderr apart, the exit code on the error stream (v4).
    const { url } = await cri.runtime('Exec', { container_id: ctr, cmd: ['sh', '-c', 'cat; echo to-stderr >&2; exit 5'], stdin: true, stdout: true, stderr: true });
    assert.match(url, /^http:\/\/127\.0\.0\.1:\d+\/exec\//);
    const { session, protocol } = await spdyDial(url, ['v4.channel.k8s.io', 'v3.channel.k8s.io']);
    assert.equal(protocol, 'v4.channel.k8s.io');
    const error = session.openStream({ streamtype: 'error' });
    const stdin = session.openStream({ streamtype: 'stdin' });
    const stdout = session.openStream({ streamtype: 'stdout' });
    const stderr = session.openStream({ streamtype: 'stderr' });
    const [status, out1, err1] = [readAll(error), readAll(stdout), readAll(stderr)];
    stdin.end('through stdin\n');
    assert.equal((await out1).toString(), 'through stdin\n');
    assert.equal((await err1).toString(), 'to-stderr\n');
    const st = JSON.parse((await status).toString()) as { status: string; reason: string; details: { causes: { reason: string; message: string }[] } };
    assert.deepEqual([st.status, st.reason, st.details.causes], ['Failure', 'NonZeroExitCode', [{ reason: 'ExitCode', message: '5' }]]);
    session.close();
    // A URL serves once.
    await assert.rejects(spdyDial(url, ['v4.channel.k8s.io']), /HTTP 404/);

    // Attach: to a container's own stdin and stdout (made with stdin open, as kubelet makes `kubectl run -i`'s).
    const catCfg = { metadata: { name: 'cat', attempt: 0 }, image: { image: 'busybox' }, command: ['cat'], stdin: true };
    const { container_id: cat } = await cri.runtime('CreateContainer', { pod_sandbox_id: podId, config: catCfg });
    await cri.runtime('StartContainer', { container_id: cat });
    const att = await cri.runtime('Attach', { container_id: cat, stdin: true, stdout: true, stderr: true });
    const a = await spdyDial(att.url, ['v4.channel.k8s.io']);
    a.session.openStream({ streamtype: 'error' }).resume();
    const aIn = a.session.openStream({ streamtype: 'stdin' });
    const aOut = a.session.openStream({ streamtype: 'stdout' });
    a.session.openStream({ streamtype: 'stderr' }).resume();
    let echoed = '';
    aOut.on('data', (b: Buffer) => (echoed += b.toString()));
    aIn.write('through attach\n');
    assert.ok(await eventually(() => echoed.includes('through attach\n'), 10_000), `attach echoed: ${JSON.stringify(echoed)}`);
    a.session.close();

    // Port forward: the server listens on the pod's 127.0.0.1 only, and is reached there (once it listens).
    const up = async () => (await cri.runtime('ExecSync', { container_id: ctr, cmd: ['wget', '-qO-', 'http://127.0.0.1:8080/index.html'], timeout: '5' })).exit_code === 0;
    for (let i = 0; i < 50 && !(await up()); i++) await sleep(100);
    const pf = await cri.runtime('PortForward', { pod_sandbox_id: podId, port: [8080] });
    const fwd = await spdyDial(pf.url, ['portforward.k8s.io']);
    const perr = fwd.session.openStream({ streamtype: 'error', port: '8080', requestid: '0' });
    const data = fwd.session.openStream({ streamtype: 'data', port: '8080', requestid: '0' });
    const reply = readAll(data);
    const problems = readAll(perr);
    data.write('GET /index.html HTTP/1.0\r\n\r\n');
    const body = (await reply).toString();
    assert.match(body, /^HTTP\/1\.[01] 200/);
    assert.match(body, /forwarded/);
    assert.equal((await problems).toString(), '');
    // A port nothing listens on: the error stream says so.
    const perr2 = fwd.session.openStream({ streamtype: 'error', port: '8081', requestid: '1' });
    const data2 = fwd.session.openStream({ streamtype: 'data', port: '8081', requestid: '1' });
    data2.resume();
    assert.match((await readAll(perr2)).toString(), /connecting to port 8081 in the pod: Connection refused/);
    fwd.session.close();
  } finally {
    await cri.runtime('RemovePodSandbox', { pod_sandbox_id: podId });
  }
});

/** A WebSocket session of the streaming server: the channel messages as they come, and how to send one. */
async function wsDial(url: string, protocol: string): Promise<{ got: { ch: number; data: Buffer }[]; send(ch: number, data: string): void; closed: Promise<void> }> {
  const ws = new WebSocket(url.replace(/^http/, 'ws'), [protocol]);
  ws.binaryType = 'arraybuffer';
  const base64 = protocol.includes('base64');
  const got: { ch: number; data: Buffer }[] = [];
  ws.addEventListener('message', (ev: MessageEvent) => {
    if (typeof ev.data === 'string') got.push({ ch: ev.data.charCodeAt(0) - 48, data: Buffer.from(ev.data.slice(1), 'base64') });
    else {
      const b = Buffer.from(ev.data as ArrayBuffer);
      got.push({ ch: b[0]!, data: b.subarray(1) });
    }
  });
  const closed = new Promise<void>((resolve) => ws.addEventListener('close', () => resolve()));
  await new Promise<void>((resolve, reject) => {
    ws.addEventListener('open', () => resolve());
    ws.addEventListener('error', () => reject(new Error(`WebSocket to ${url} failed`)));
  });
  assert.equal(ws.protocol, protocol);
  return {
    got,
    send: (ch, data) => ws.send(base64 ? `${String.fromCharCode(48 + ch)}${Buffer.from(data).toString('base64')}` : Buffer.concat([Buffer.from([ch]), Buffer.from(data)])),
    closed,
  };
}

const channelText = (got: { ch: number; data: Buffer }[], ch: number) => Buffer.concat(got.filter((m) => m.ch === ch).map((m) => m.data)).toString();

test('the streaming server over WebSocket: exec (v4 and base64 protocols), attach, and port forwarding', async () => {
  const { pod_sandbox_id: podId } = await cri.runtime('RunPodSandbox', { config: sandboxConfig('wstream') });
  try {
    const run = async (name: string, command: string[], stdin = false) => {
      const { container_id: id } = await cri.runtime('CreateContainer', { pod_sandbox_id: podId, config: { metadata: { name, attempt: 0 }, image: { image: 'busybox' }, command, stdin } });
      await cri.runtime('StartContainer', { container_id: id });
      return id;
    };
    const srv = await run('srv', ['sh', '-c', 'mkdir /www; echo over-websocket > /www/index.html; exec httpd -f -p 127.0.0.1:8080 -h /www']);
    const cat = await run('cat', ['cat'], true);

    // Exec, v4: the session opens with an empty stdout message; the output on its channels; the exit code as a Status.
    const { url } = await cri.runtime('Exec', { container_id: srv, cmd: ['sh', '-c', 'echo out; echo err >&2; exit 7'], stdout: true, stderr: true });
    const e = await wsDial(url, 'v4.channel.k8s.io');
    await e.closed;
    assert.deepEqual([e.got[0]!.ch, e.got[0]!.data.length], [1, 0], 'an empty message on stdout first');
    assert.equal(channelText(e.got, 1), 'out\n');
    assert.equal(channelText(e.got, 2), 'err\n');
    const status = JSON.parse(channelText(e.got, 3)) as { status: string; reason: string; details: { causes: { reason: string; message: string }[] } };
    assert.deepEqual([status.status, status.reason, status.details.causes], ['Failure', 'NonZeroExitCode', [{ reason: 'ExitCode', message: '7' }]]);
    // base64 text frames, the older protocol: success reports nothing.
    const b = await wsDial((await cri.runtime('Exec', { container_id: srv, cmd: ['echo', 'in base64'], stdout: true })).url, 'base64.channel.k8s.io');
    await b.closed;
    assert.equal(channelText(b.got, 1), 'in base64\n');
    assert.equal(channelText(b.got, 3), '');

    // Attach: the container's own stdin and stdout.
    const a = await wsDial((await cri.runtime('Attach', { container_id: cat, stdin: true, stdout: true })).url, 'v4.channel.k8s.io');
    a.send(0, 'through attach\n');
    assert.ok(await eventually(() => channelText(a.got, 1).includes('through attach\n') || undefined, 10_000), channelText(a.got, 1));

    // Port forward: each channel says its port first (8080, little endian), then data flows on channel 0.
    const up = async () => (await cri.runtime('ExecSync', { container_id: srv, cmd: ['wget', '-qO-', 'http://127.0.0.1:8080/index.html'], timeout: '5' })).exit_code === 0;
    for (let i = 0; i < 50 && !(await up()); i++) await sleep(100);
    const pf = await wsDial((await cri.runtime('PortForward', { pod_sandbox_id: podId, port: [8080] })).url, 'v4.channel.k8s.io');
    await eventually(() => pf.got.length >= 2 || undefined);
    assert.deepEqual(pf.got.slice(0, 2).map((m) => [m.ch, [...m.data]]), [[0, [0x90, 0x1f]], [1, [0x90, 0x1f]]]);
    pf.send(0, 'GET /index.html HTTP/1.0\r\n\r\n');
    const body = await eventually(() => (channelText(pf.got.slice(2), 0).includes('over-websocket') ? channelText(pf.got.slice(2), 0) : undefined), 10_000);
    assert.match(body ?? '', /^HTTP\/1\.[01] 200/);
  } finally {
    await cri.runtime('RemovePodSandbox', { pod_sandbox_id: podId });
  }
});

test('a sandbox nothing needs an infra process for has its namespaces pinned to files: shared by its containers, released at stop, gone at remove', async () => {
  const { pod_sandbox_id: podId } = await cri.runtime('RunPodSandbox', { config: sandboxConfig('pinned') });
  const podDir = join(env.root, 'pods', podId);
  const netns = `/run/netns/berth-${podId.slice(0, 16)}`;
  try {
    assert.equal(out(['ps', '-aq']), '', 'no infra container');
    const st = await cri.runtime('PodSandboxStatus', { pod_sandbox_id: podId, verbose: true });
    assert.equal(st.status.state, 'SANDBOX_READY');
    assert.match(st.status.network.ip, /^10\.98\.7\.\d+$/);
    assert.equal(JSON.parse(st.info.info).namespaces.net, netns);
    const inode = (f: string) => statSync(f).ino;
    const run = async (name: string, command: string[]) => {
      const { container_id: id } = await cri.runtime('CreateContainer', { pod_sandbox_id: podId, config: { metadata: { name, attempt: 0 }, image: { image: 'busybox' }, command } });
      await cri.runtime('StartContainer', { container_id: id });
      return id;
    };
    const a = await run('a', ['sh', '-c', 'echo shared > /dev/shm/x; exec sleep 3600']);
    const b = await run('b', ['sleep', '3600']);
    const exec = async (id: string, script: string) => {
      const r = await cri.runtime('ExecSync', { container_id: id, cmd: ['sh', '-c', script], timeout: '10' });
      assert.equal(r.exit_code, 0, Buffer.from(r.stderr).toString());
      return Buffer.from(r.stdout).toString().trim();
    };
    // Both containers are in the namespaces the files hold, with the pod's /dev/shm, hostname and address.
    const ns = (id: string) => exec(id, 'for n in net ipc uts; do readlink /proc/self/ns/$n; done');
    const files = [netns, join(podDir, 'ns', 'ipc'), join(podDir, 'ns', 'uts')].map((f, i) => `${['net', 'ipc', 'uts'][i]}:[${inode(f)}]`).join('\n');
    assert.equal(await ns(a), files);
    assert.equal(await ns(b), files);
    assert.equal(await exec(b, 'cat /dev/shm/x'), 'shared');
    assert.equal(await exec(b, 'hostname; cat /etc/hostname'), 'pinned-host\npinned-host');
    assert.match(await exec(b, 'ip -4 addr show eth0'), new RegExp(`inet ${st.status.network.ip.replace(/\./g, '\\.')}/24`));
    assert.match(await exec(a, 'grep pinned-host /etc/hosts'), new RegExp(`^${st.status.network.ip.replace(/\./g, '\\.')}\\s+pinned-host$`));

    await cri.runtime('StopPodSandbox', { pod_sandbox_id: podId });
    assert.equal((await cri.runtime('PodSandboxStatus', { pod_sandbox_id: podId })).status.state, 'SANDBOX_NOTREADY');
    assert.equal((await cri.runtime('ContainerStatus', { container_id: b })).status.state, 'CONTAINER_EXITED');
    assert.ok(!existsSync(netns), 'the network namespace is released');
    assert.deepEqual(mountsUnder(podDir), [], 'the namespace files and /dev/shm are unmounted');
  } finally {
    await cri.runtime('RemovePodSandbox', { pod_sandbox_id: podId });
  }
  assert.ok(!existsSync(podDir) && !existsSync(netns));
  assert.deepEqual(mountsUnder(podDir), []);
});

test("a pinned sandbox on the host's network and IPC: its containers have the host's, and the host's hostname", async () => {
  const config = sandboxConfig('hostns', { linux: { security_context: { namespace_options: { network: 'NODE', ipc: 'NODE', pid: 'CONTAINER' } } } });
  const { pod_sandbox_id: podId } = await cri.runtime('RunPodSandbox', { config });
  try {
    assert.equal(out(['ps', '-aq']), '', 'no infra container');
    const { container_id: id } = await cri.runtime('CreateContainer', { pod_sandbox_id: podId, config: { metadata: { name: 'h', attempt: 0 }, image: { image: 'busybox' }, command: ['sleep', '3600'], linux: { security_context: { namespace_options: { network: 'NODE', ipc: 'NODE' } } } } });
    await cri.runtime('StartContainer', { container_id: id });
    const r = await cri.runtime('ExecSync', { container_id: id, cmd: ['sh', '-c', 'readlink /proc/self/ns/net; readlink /proc/self/ns/ipc; hostname'], timeout: '10' });
    assert.equal(Buffer.from(r.stdout).toString(), `${readlinkSync('/proc/self/ns/net')}\n${readlinkSync('/proc/self/ns/ipc')}\n${hostname()}\n`);
  } finally {
    await cri.runtime('RemovePodSandbox', { pod_sandbox_id: podId });
  }
  assert.ok(!existsSync(join(env.root, 'pods', podId)));
});

test('a container killed for memory reports CONTAINER_EXITED, 137 and OOMKilled', async () => {
  const { pod_sandbox_id: podId } = await cri.runtime('RunPodSandbox', { config: sandboxConfig('oom') });
  try {
    const config = { metadata: { name: 'hog', attempt: 0 }, image: { image: 'busybox' }, command: ['tail', '/dev/zero'], linux: { resources: { memory_limit_in_bytes: String(16 << 20) } } };
    const { container_id: ctr } = await cri.runtime('CreateContainer', { pod_sandbox_id: podId, config });
    await cri.runtime('StartContainer', { container_id: ctr });
    let st: Record<string, any> = {};
    for (const until = Date.now() + 30_000; Date.now() < until; await sleep(200)) {
      st = (await cri.runtime('ContainerStatus', { container_id: ctr })).status;
      if (st.state === 'CONTAINER_EXITED') break;
    }
    assert.deepEqual([st.state, st.exit_code, st.reason], ['CONTAINER_EXITED', 137, 'OOMKilled']);
  } finally {
    await cri.runtime('RemovePodSandbox', { pod_sandbox_id: podId });
  }
});

test("PullImage with the client's credentials: for that pull only, from a registry that asks for them", async (t) => {
  const { registryOrSkip } = await import('../fixtures/registry.ts');
  const reg = await registryOrSkip(t, { auth: 'basic' });
  if (!reg) return;
  const config = mkdtempSync('/tmp/berth-test-cri-auth-');
  try {
    // Pushed with credentials the CLI keeps in a config of its own: the server has none for this registry.
    const cliEnv = { env: { DOCKER_CONFIG: config } };
    ok(['login', '-u', reg.user!, '--password-stdin', reg.host], { ...cliEnv, input: `${reg.password}\n` });
    const ref = `${reg.host}/cri/private:1`;
    ok(['tag', 'busybox', ref]);
    ok(['push', '-q', ref], cliEnv);
    ok(['rmi', ref]);
    // As docker says it (the registry cannot tell a missing repository from a refused one): NOT_FOUND.
    const denied = (e: { code: number; details: string }) => e.code === 5 && /pull access denied/.test(e.details);
    await assert.rejects(cri.image('PullImage', { image: { image: ref } }), denied);
    const pulled = await cri.image('PullImage', { image: { image: ref }, auth: { username: reg.user, password: reg.password } });
    assert.match(pulled.image_ref, /^sha256:/);
    ok(['rmi', ref]);
    const b64 = Buffer.from(`${reg.user}:${reg.password}`).toString('base64');
    assert.equal((await cri.image('PullImage', { image: { image: ref }, auth: { auth: b64 } })).image_ref, pulled.image_ref);
    ok(['rmi', ref]);
    await assert.rejects(cri.image('PullImage', { image: { image: ref } }), denied, 'nothing was kept of them');
  } finally {
    rmSync(config, { recursive: true, force: true });
    await reg.stop();
  }
});

test("kubelet's pod start sequence, through to stop and remove", async (t) => {
  const registry = await registryWithBusybox(t, env, 'cri/busybox:1');
  if (!registry) return;
  const events = cri.events();
  try {
    const config = sandboxConfig('web', { port_mappings: [{ protocol: 'TCP', container_port: 80, host_port: 18395 }], dns_config: { servers: ['10.98.7.53'], searches: ['svc.test'], options: ['ndots:3'] } });
    const { pod_sandbox_id: podId } = await cri.runtime('RunPodSandbox', { config });
    assert.match(podId, /^[0-9a-f]{64}$/);
    const ps = await cri.runtime('PodSandboxStatus', { pod_sandbox_id: podId });
    assert.equal(ps.status.state, 'SANDBOX_READY');
    assert.match(ps.status.network.ip, /^10\.98\.7\.\d+$/);
    assert.deepEqual(ps.status.metadata, config.metadata);
    assert.deepEqual(ps.status.labels, config.labels);
    assert.deepEqual(ps.status.annotations, config.annotations);

    // The image is pulled from the registry; ImageStatus names it in full and by digest.
    assert.equal((await cri.image('ImageStatus', { image: { image: registry.ref } })).image, null, 'not here before the pull');
    const { image_ref: imageRef } = await cri.image('PullImage', { image: { image: registry.ref } });
    assert.match(imageRef, /^sha256:[0-9a-f]{64}$/);
    const st = await cri.image('ImageStatus', { image: { image: registry.ref } });
    assert.equal(st.image.id, imageRef);
    assert.ok(st.image.repo_tags.includes(registry.ref));
    assert.ok((await cri.image('ListImages', {})).images.some((i: { id: string }) => i.id === imageRef));

    const containerConfig = {
      metadata: { name: 'server', attempt: 0 },
      image: { image: imageRef },
      command: ['sh', '-c', 'echo started; echo oops >&2; mkdir -p /www; echo served > /www/index.html; exec httpd -f -p 80 -h /www'],
      envs: [{ key: 'GREETING', value: 'hi' }],
      labels: { 'io.kubernetes.container.name': 'server' },
      annotations: { 'io.kubernetes.container.restartCount': '0' },
      log_path: 'server/0.log',
      linux: { resources: { memory_limit_in_bytes: String(64 << 20), cpu_shares: '512' } },
    };
    const { container_id: ctrId } = await cri.runtime('CreateContainer', { pod_sandbox_id: podId, config: containerConfig, sandbox_config: config });
    const created = await cri.runtime('ContainerStatus', { container_id: ctrId });
    assert.equal(created.status.state, 'CONTAINER_CREATED');
    await cri.runtime('StartContainer', { container_id: ctrId });
    const running = (await cri.runtime('ContainerStatus', { container_id: ctrId })).status;
    assert.equal(running.state, 'CONTAINER_RUNNING');
    assert.deepEqual([running.metadata, running.labels, running.annotations], [containerConfig.metadata, containerConfig.labels, containerConfig.annotations]);
    assert.equal(running.log_path, join(logDir, 'web', 'server/0.log'));
    assert.equal(running.resources.linux.memory_limit_in_bytes, String(64 << 20));
    const listed = await cri.runtime('ListContainers', { filter: { pod_sandbox_id: podId } });
    assert.deepEqual(listed.containers.map((c: { id: string }) => c.id), [ctrId]);
    assert.deepEqual((await cri.runtime('ListPodSandbox', { filter: { label_selector: { app: 'cri-test' } } })).items.map((p: { id: string }) => p.id), [podId]);

    // What kubelet checks next: the port mapping, the pod's hostname and DNS, the log in the CRI format.
    let page = '';
    for (const until = Date.now() + 10_000; Date.now() < until && page === ''; await sleep(100)) {
      page = await fetch('http://127.0.0.1:18395/index.html').then((r) => (r.ok ? r.text() : ''), () => '');
    }
    assert.equal(page.trim(), 'served');
    const exec = await cri.runtime('ExecSync', { container_id: ctrId, cmd: ['sh', '-c', 'hostname; cat /etc/resolv.conf; echo $GREETING; echo to-stderr >&2; exit 3'], timeout: '10' });
    assert.equal(exec.exit_code, 3);
    const lines = Buffer.from(exec.stdout).toString().split('\n');
    assert.equal(lines[0], 'web-host');
    assert.ok(lines.includes('nameserver 10.98.7.53') && lines.includes('search svc.test') && lines.includes('options ndots:3'), lines.join('\n'));
    assert.ok(lines.includes('hi'));
    assert.equal(Buffer.from(exec.stderr).toString(), 'to-stderr\n');
    const criLog = readFileSync(join(logDir, 'web', 'server/0.log'), 'utf8').split('\n').filter(Boolean);
    assert.match(criLog.find((l) => l.endsWith(' stdout F started')) ?? '', /^\d{4}-\d\d-\d\dT[\d:.]+(Z|[+-]\d\d:\d\d) stdout F started$/);
    assert.ok(criLog.some((l) => / stderr F oops$/.test(l)), criLog.join('\n'));

    // Stats of the container and the sandbox.
    const cs = (await cri.runtime('ContainerStats', { container_id: ctrId })).stats;
    assert.ok(Number(cs.memory.working_set_bytes.value) > 0);
    assert.ok(Number(cs.cpu.usage_core_nano_seconds.value) > 0);
    const pss = (await cri.runtime('ListPodSandboxStats', {})).stats;
    assert.deepEqual(pss.map((s: { attributes: { id: string } }) => s.attributes.id), [podId]);

    // The containers are Berth's too: visible to ps with kubelet's labels, left alone by container prune.
    const psLine = out(['ps', '--no-trunc', '--filter', 'label=io.kubernetes.container.name=server', '--format', '{{.ID}} {{.Names}}']).trim();
    assert.equal(psLine, `${ctrId} k8s_server_web_test-ns_uid-web_0`);

    await cri.runtime('StopContainer', { container_id: ctrId, timeout: '2' });
    const stopped = (await cri.runtime('ContainerStatus', { container_id: ctrId })).status;
    assert.equal(stopped.state, 'CONTAINER_EXITED');
    assert.ok(['Completed', 'Error'].includes(stopped.reason));
    assert.ok(BigInt(stopped.finished_at) >= BigInt(stopped.started_at));
    ok(['container', 'prune', '-f']);
    assert.equal((await cri.runtime('ContainerStatus', { container_id: ctrId })).status.state, 'CONTAINER_EXITED', 'prune left the CRI container');

    await cri.runtime('RemoveContainer', { container_id: ctrId });
    await cri.runtime('StopPodSandbox', { pod_sandbox_id: podId });
    assert.equal((await cri.runtime('PodSandboxStatus', { pod_sandbox_id: podId })).status.state, 'SANDBOX_NOTREADY');
    await cri.runtime('RemovePodSandbox', { pod_sandbox_id: podId });
    assert.deepEqual((await cri.runtime('ListPodSandbox', {})).items, []);
    // Removed with every name it has (the test's last use of busybox: it is that image).
    await cri.image('RemoveImage', { image: { image: imageRef } });
    assert.equal((await cri.image('ImageStatus', { image: { image: imageRef } })).image, null);

    // The event stream told of the container's life, in order.
    const seen = await eventually(() => {
      const types = events.received.filter((e) => e.container_id === ctrId).map((e) => e.container_event_type);
      return types.includes('CONTAINER_DELETED_EVENT') ? types : undefined;
    });
    assert.deepEqual(seen, ['CONTAINER_CREATED_EVENT', 'CONTAINER_STARTED_EVENT', 'CONTAINER_STOPPED_EVENT', 'CONTAINER_DELETED_EVENT']);
  } finally {
    events.cancel();
    for (const p of (await cri.runtime('ListPodSandbox', {})).items) await cri.runtime('RemovePodSandbox', { pod_sandbox_id: p.id });
    await registry.reg.stop();
  }
});
