/**
 * Pods, with real containers (src/engine/pods/): a pod's containers share its infra container's network,
 * IPC and UTS namespaces (and pid with --share pid), reach each other on localhost, answer on the ports
 * published on the pod, and sit in the pod's cgroup; the pod verbs act on all of them in order; what a pod
 * owns is refused to its containers; `pod rm` takes everything, its cgroup included.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { Engine } from '../../src/index.ts';
import { cli, eventually, setupEnv, show, type Env } from './helpers.ts';

let env: Env;
const { ok, out, runD, inspect, allIds } = cli(() => env);

interface PodJson {
  Id: string;
  Name: string;
  State: string;
  Hostname: string;
  CgroupPath: string;
  InfraContainerId: string;
  SharedNamespaces: string[];
  NumContainers: number;
  Containers: { Id: string; Name: string; State: string }[];
  InfraConfig: { PortBindings: Record<string, { HostIp: string; HostPort: string }[]> };
}

const podInspect = (ref: string): PodJson => {
  const arr = JSON.parse(out(['pod', 'inspect', ref])) as PodJson[];
  assert.equal(arr.length, 1);
  return arr[0]!;
};

function fails(args: string[], code: number, why: RegExp): void {
  const r = env.berth(args);
  assert.equal(r.code, code, `berth ${args.join(' ')}: ${show(r)}`);
  assert.match(r.stderr, why);
  assert.doesNotMatch(r.stderr, /at .*\.ts:\d+/, 'no stack trace');
}

/** The cgroup directories of `path` in every hierarchy of this host (v1 controllers, or the one v2 tree). */
function cgroupDirs(path: string): string[] {
  const roots = readdirSync('/sys/fs/cgroup').map((c) => join('/sys/fs/cgroup', c));
  return ['/sys/fs/cgroup', ...roots].map((r) => join(r, path)).filter((d) => existsSync(d) && existsSync(join(d, 'cgroup.procs')));
}

before(() => {
  env = setupEnv('pods');
});

after(() => {
  env?.teardown();
});

test('a pod: its containers share its network, hostname and IPC, answer on its published port, and live in its cgroup', async () => {
  const podId = out(['pod', 'create', '--name', 'web', '-p', '18391:80', '--label', 'tier=front']).trim();
  assert.match(podId, /^[0-9a-f]{64}$/);
  const created = podInspect('web');
  assert.equal(created.State, 'Created');
  assert.deepEqual(created.SharedNamespaces, ['net', 'ipc', 'uts']);
  assert.equal(created.NumContainers, 1, 'the infra container only');
  assert.equal(created.Hostname, 'web');
  try {
    // The first container starts the pod's infra container, whose namespaces it joins.
    const server = runD(['--pod', 'web', '--name', 'web-server', 'busybox', 'sh', '-c', 'echo served-by-pod > /srv.txt; echo $$ > /dev/shm/marker; exec httpd -f -p 80 -h /']);
    const running = podInspect('web');
    assert.equal(running.State, 'Running');
    assert.deepEqual(running.Containers.map((c) => [c.Name, c.State]), [[`${podId.slice(0, 12)}-infra`, 'running'], ['web-server', 'running']]);
    // Another container of the pod reaches the server on localhost, has the pod's hostname and sees its /dev/shm.
    const peer = ok(['run', '--rm', '--pod', 'web', 'busybox', 'sh', '-c', 'wget -qO- http://127.0.0.1:80/srv.txt; hostname; cat /etc/hostname; cat /dev/shm/marker; ps -o comm | grep -c httpd || true']);
    const lines = peer.stdout.trim().split('\n');
    assert.equal(lines[0], 'served-by-pod');
    assert.deepEqual(lines.slice(1, 3), ['web', 'web'], 'the pod hostname, in the namespace and in /etc/hostname');
    assert.match(lines[3]!, /^\d+$/, 'the IPC namespace and its /dev/shm are the pod’s');
    assert.equal(lines[4], '0', 'pid is not shared by default: the server is not among its processes');
    // The port published on the pod reaches the server.
    const res = await fetch('http://127.0.0.1:18391/srv.txt');
    assert.equal((await res.text()).trim(), 'served-by-pod');
    assert.deepEqual(running.InfraConfig.PortBindings['80/tcp']?.[0]?.HostPort, '18391');
    // Both containers are in the pod's cgroup.
    assert.equal(running.CgroupPath, `/berth/pod-${podId}`);
    for (const ref of [server, running.InfraContainerId]) {
      const pid = inspect(ref, '{{.State.Pid}}');
      const lines = readFileSync(`/proc/${pid}/cgroup`, 'utf8');
      assert.ok(lines.includes(`/berth/pod-${podId}/${ref}`), `${ref.slice(0, 12)} in the pod's cgroup:\n${lines}`);
    }
    // ps lists the infra container too; pod ps shows the pod and its count, filters narrow it.
    assert.ok(allIds().includes(running.InfraContainerId));
    const listed = out(['pod', 'ps', '--format', '{{.Name}} {{.Status}} {{.NumberOfContainers}}', '--filter', 'label=tier=front']);
    assert.equal(listed.trim(), 'web Running 2');
    assert.equal(out(['pod', 'ps', '-q', '--filter', 'name=nomatch']), '');
    // pod top shows the processes of both containers; pod stats a row for each.
    const top = out(['pod', 'top', 'web']);
    assert.match(top, /catatonit -P/);
    assert.match(top, /httpd -f -p 80/);
    const stats = out(['pod', 'stats', '--no-stream', '--format', '{{.Pod}} {{.Name}}', 'web']).trim().split('\n').sort();
    assert.deepEqual(stats, [`${podId.slice(0, 12)} ${podId.slice(0, 12)}-infra`, `${podId.slice(0, 12)} web-server`]);
  } finally {
    ok(['pod', 'rm', '-f', 'web']);
  }
  assert.equal(env.berth(['pod', 'exists', 'web']).code, 1);
  assert.deepEqual(allIds(), [], 'the pod took its containers along');
  assert.deepEqual(cgroupDirs(`berth/pod-${podId}`), [], 'and its cgroup, in every hierarchy');
});

test('the pod verbs: stop (infra last), start (infra first), restart, pause, unpause, kill, logs', async () => {
  const podId = out(['pod', 'create', '--name', 'life']).trim();
  try {
    const a = out(['create', '--pod', 'life', '--name', 'life-a', 'busybox', 'sh', '-c', 'trap "exit 0" TERM; echo hello from a; while :; do sleep 0.1; done']).trim();
    const b = out(['create', '--pod', 'life', '--name', 'life-b', 'busybox', 'sh', '-c', 'trap "exit 0" TERM; echo hello from b >&2; while :; do sleep 0.1; done']).trim();
    assert.equal(podInspect('life').State, 'Created');
    assert.equal(out(['pod', 'start', 'life']).trim(), podId);
    assert.equal(podInspect('life').State, 'Running');
    await eventually(() => out(['pod', 'logs', 'life']).includes('hello from a') && env.berth(['pod', 'logs', 'life']).stderr.includes('hello from b'));
    const logs = env.berth(['pod', 'logs', '--names', 'life']);
    assert.match(logs.stdout, /^life-a hello from a$/m, 'each line with its container');
    assert.match(logs.stderr, /^life-b hello from b$/m, 'stderr stays stderr');
    assert.equal(out(['pod', 'logs', '-c', 'life-b', 'life']), '', 'one container only: b writes only to stderr');

    assert.equal(out(['pod', 'pause', 'life']).trim(), podId);
    assert.equal(podInspect('life').State, 'Paused');
    assert.equal(inspect(a, '{{.State.Status}}'), 'paused');
    assert.equal(out(['pod', 'unpause', 'life']).trim(), podId);
    assert.equal(podInspect('life').State, 'Running');

    assert.equal(out(['pod', 'stop', '-t', '5', 'life']).trim(), podId);
    const stopped = podInspect('life');
    assert.equal(stopped.State, 'Exited');
    assert.deepEqual(stopped.Containers.map((c) => c.State), ['exited', 'exited', 'exited']);
    assert.equal(inspect(a, '{{.State.ExitCode}}'), '0', 'stopped by its stop signal, not killed');
    // The infra container stopped after the others: its finish is the last.
    const finished = [stopped.InfraContainerId, a, b].map((id) => Date.parse(inspect(id, '{{.State.FinishedAt}}')));
    assert.ok(finished[0]! >= Math.max(finished[1]!, finished[2]!), `infra finished last: ${finished}`);

    assert.equal(out(['pod', 'restart', 'life']).trim(), podId);
    assert.equal(podInspect('life').State, 'Running');
    assert.equal(out(['pod', 'kill', '-s', 'KILL', 'life']).trim(), podId);
    await eventually(() => podInspect('life').State === 'Exited');
    fails(['pod', 'kill', 'life'], 125, /pod life has no running containers/);
    // Starting one container of a stopped pod starts its infra container first.
    ok(['start', b]);
    assert.equal(podInspect('life').State, 'Degraded', 'infra and b run, a does not');
  } finally {
    ok(['pod', 'rm', '-f', 'life']);
  }
});

test('--share +pid: the pod shares one pid namespace, catatonit its pid 1', () => {
  ok(['pod', 'create', '--name', 'pids', '--share', '+pid']);
  try {
    assert.deepEqual(podInspect('pids').SharedNamespaces, ['net', 'ipc', 'uts', 'pid']);
    const id = runD(['--pod', 'pids', 'busybox', 'sleep', '300']);
    const ps = out(['exec', id, 'ps', '-o', 'pid,comm']);
    assert.match(ps, /^\s*1 catatonit$/m);
    assert.match(ps, /^\s*\d+ sleep$/m);
  } finally {
    ok(['pod', 'rm', '-f', 'pids']);
  }
});

test('what a pod owns is refused to its containers, and refusals make nothing', () => {
  ok(['pod', 'create', '--name', 'strict']);
  try {
    const before = allIds();
    fails(['run', '--rm', '--pod', 'strict', '-p', '8080:80', 'busybox', 'true'], 125, /--publish cannot be set for a container in pod strict: it shares the pod's net namespace/);
    fails(['run', '--rm', '--pod', 'strict', '--hostname', 'x', 'busybox', 'true'], 125, /--hostname cannot be set for a container in pod strict/);
    fails(['run', '--rm', '--pod', 'strict', '--network', 'none', 'busybox', 'true'], 125, /--network cannot be set/);
    fails(['run', '--rm', '--pod', 'strict', '--cgroup-parent', '/x', 'busybox', 'true'], 125, /--cgroup-parent cannot be set/);
    fails(['run', '--rm', '--pod', 'nosuchpod', 'busybox', 'true'], 125, /no pod with name or ID nosuchpod found: no such pod/);
    assert.deepEqual(allIds(), before, 'no container was made');
    fails(['pod', 'create', '--name', 'strict'], 125, /the pod name "strict" is already in use/);
    fails(['pod', 'create', '--share', 'net,mnt'], 125, /invalid --share: "mnt"/);
    fails(['pod', 'create', '--name', '_x'], 125, /invalid pod name "_x": only \[a-zA-Z0-9\]\[a-zA-Z0-9_.-\]\* is allowed/);
    fails(['pod', 'create', '--share', 'ipc', '-p', '80'], 125, /--publish and --network need --share net/);
    fails(['pod', 'create', '--hostname', 'h'.repeat(65)], 125, /invalid hostname "h+": longer than 64 bytes/);
    fails(['pod', 'inspect', 'nosuchpod'], 125, /no such pod/);
    fails(['pod', 'start'], 125, /no pod given/);
    assert.deepEqual(allIds(), before, 'refused pods made no infra container');
    // The infra container goes only with its pod; a running pod only with --force.
    const infra = podInspect('strict').InfraContainerId;
    fails(['rm', '-f', infra], 1, /is the infra container of pod strict/);
    ok(['pod', 'start', 'strict']);
    fails(['pod', 'rm', 'strict'], 125, /pod strict has running containers .*: stop the pod first or remove it with --force/);
    assert.equal(podInspect('strict').State, 'Running', 'the refused rm changed nothing');
  } finally {
    ok(['pod', 'rm', '-f', 'strict']);
  }
  assert.equal(out(['pod', 'ps', '-q']), '');
  // A name of one character is a name (podman's rule for pods).
  ok(['pod', 'create', '--name', 'p', '--network', 'none']);
  ok(['pod', 'rm', 'p']);
});

/** Mount points at or under `dir`. */
const mountsUnder = (dir: string) => readFileSync('/proc/self/mountinfo', 'utf8').split('\n').map((l) => l.split(' ')[4] ?? '').filter((m) => m === dir || m.startsWith(`${dir}/`));

test('a pinned pod (no infra container, as the CRI makes them): its containers join its namespace files; stop releases them, start makes them again; a bring-up that fails leaves nothing', async () => {
  ok(['network', 'create', '--subnet', '10.97.77.0/30', 'tiny']); // one address for a container: .2
  const engine = new Engine({ root: env.root });
  try {
    const one = await engine.createPod({ name: 'pin1', pinned: true, network: 'tiny', hostname: 'pinned-one' });
    assert.deepEqual((await engine.startPod(one.id)).failures, []);
    const netns = `/run/netns/berth-${one.id.slice(0, 16)}`;
    assert.ok(existsSync(netns));
    const pod = podInspect('pin1');
    assert.deepEqual([pod.State, pod.InfraContainerId, pod.NumContainers], ['Running', '', 0]);
    const id = runD(['--pod', 'pin1', 'busybox', 'sleep', '600']);
    const seen = out(['exec', id, 'sh', '-c', 'hostname; ip -4 addr show eth0 | grep -o "inet [0-9.]*"; readlink /proc/self/ns/net']).split('\n');
    assert.deepEqual(seen.slice(0, 3), ['pinned-one', 'inet 10.97.77.2', `net:[${statSync(netns).ino}]`]);
    // The one address is taken: a second pod's bring-up fails in its network and undoes all it made.
    const two = await engine.createPod({ name: 'pin2', pinned: true, network: 'tiny' });
    const failed = await engine.startPod(two.id);
    assert.equal(failed.failures.length, 1);
    assert.match(failed.failures[0]!.error.message, /no IP addresses available|range is full/i);
    assert.ok(!existsSync(`/run/netns/berth-${two.id.slice(0, 16)}`));
    assert.deepEqual(mountsUnder(join(env.root, 'pods', two.id)), []);
    assert.deepEqual(engine.getPod(two.id).state, {});
    fails(['create', '--pod', 'pin2', 'busybox'], 125, /pod pin2 is not running: start it first/);
    ok(['pod', 'rm', 'pin2']);

    // Stop (from the CLI: its tools, not the server's system calls) releases the namespaces; start makes them again.
    ok(['pod', 'stop', '-t', '0', 'pin1']);
    assert.equal(podInspect('pin1').State, 'Exited');
    assert.ok(!existsSync(netns));
    assert.deepEqual(mountsUnder(join(env.root, 'pods', one.id)), []);
    ok(['pod', 'start', 'pin1']);
    assert.equal(podInspect('pin1').State, 'Running');
    ok(['start', id]);
    assert.equal(out(['exec', id, 'readlink', '/proc/self/ns/net']).trim(), `net:[${statSync(netns).ino}]`);
    ok(['pod', 'rm', '-f', 'pin1']);
    assert.ok(!existsSync(netns));
    assert.ok(!existsSync(join(env.root, 'pods', one.id)));
    assert.deepEqual(mountsUnder(join(env.root, 'pods')), []);
  } finally {
    for (const p of engine.allPods()) await engine.removePod(p.id, true).catch(() => {});
    engine.close();
    env.berth(['network', 'rm', 'tiny']);
  }
});
