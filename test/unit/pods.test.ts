/** Pods' pure parts (src/engine/pods/): `--share`, a pod's state from its containers', a member's options. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseShare } from '../../src/engine/pods/options.ts';
import { podStatus } from '../../src/engine/pods/status.ts';
import { memberOptions } from '../../src/engine/pods/member.ts';
import type { PodRow } from '../../src/store/pods.ts';

test('--share: the default, a list, +additions, nothing, and unknown names', () => {
  assert.deepEqual(parseShare(undefined), ['net', 'ipc', 'uts']);
  assert.deepEqual(parseShare('uts,net'), ['net', 'uts'], 'a fixed order, whatever the order given');
  assert.deepEqual(parseShare('+pid'), ['net', 'ipc', 'uts', 'pid']);
  assert.deepEqual(parseShare('cgroup,ipc'), ['ipc'], 'cgroup is always shared: accepted, not listed');
  assert.deepEqual(parseShare(''), []);
  assert.throws(() => parseShare('net,user'), /invalid --share: "user"/);
});

test("a pod's state is its containers' states, as podman words it", () => {
  assert.equal(podStatus([]), 'Created');
  assert.equal(podStatus(['created', 'created']), 'Created');
  assert.equal(podStatus(['running', 'running']), 'Running');
  assert.equal(podStatus(['running', 'exited']), 'Degraded');
  assert.equal(podStatus(['running', 'created']), 'Degraded');
  assert.equal(podStatus(['paused', 'paused']), 'Paused');
  assert.equal(podStatus(['exited', 'exited']), 'Exited');
  assert.equal(podStatus(['exited', 'created']), 'Exited');
  assert.equal(podStatus(['dead', 'created']), 'Error');
});

const pod = (share: PodRow['config']['share']): PodRow => ({
  id: 'p'.repeat(64), name: 'app', createdAt: '',
  config: { infraId: 'i'.repeat(64), share, cgroupParent: '/berth/pod-x', ownsCgroup: true, hostname: 'app', labels: {} }, state: {},
});

test("a member joins the shared namespaces through the infra container and lives in the pod's cgroup", () => {
  const m = memberOptions(pod(['net', 'ipc', 'uts']), { image: 'busybox', publish: [], dns: [], hostname: '' });
  const infra = `container:${'i'.repeat(64)}`;
  assert.deepEqual([m.network, m.ipc, m.uts, m.pid, m.cgroupParent], [infra, infra, infra, undefined, '/berth/pod-x']);
  const noNet = memberOptions(pod(['ipc']), { image: 'busybox', network: 'none', publish: ['80'] });
  assert.deepEqual([noNet.network, noNet.publish, noNet.uts], ['none', ['80'], undefined], 'what is not shared stays the container’s');
});

test('a member may not set what the pod shares', () => {
  const p = pod(['net', 'ipc', 'uts', 'pid']);
  assert.throws(() => memberOptions(p, { image: 'b', publish: ['80:80'] }), /--publish cannot be set for a container in pod app: it shares the pod's net namespace/);
  assert.throws(() => memberOptions(p, { image: 'b', dns: ['1.1.1.1'] }), /--dns cannot be set/);
  assert.throws(() => memberOptions(p, { image: 'b', ipc: 'host' }), /--ipc cannot be set/);
  assert.throws(() => memberOptions(p, { image: 'b', hostname: 'h' }), /--hostname cannot be set/);
  assert.throws(() => memberOptions(p, { image: 'b', pid: 'host' }), /--pid cannot be set/);
  assert.throws(() => memberOptions(p, { image: 'b', cgroupParent: '/x' }), /--cgroup-parent cannot be set/);
  assert.throws(() => memberOptions(p, { image: 'b', userns: 'auto' }), /--userns cannot be set/);
});

test("a pinned pod's member joins its namespace files, with the flags a pod owns refused as for any pod", () => {
  const p: PodRow = { ...pod(['net', 'ipc', 'uts']), config: { ...pod(['net', 'ipc', 'uts']).config, infraId: '', pinned: { network: { name: 'n', dns: [], dnsSearch: [], dnsOptions: [] }, shmSize: 1, hostIpc: false } } };
  const join = { network: 'ns:/run/netns/x', ipc: 'ns:/p/ns/ipc', uts: 'ns:/p/ns/uts' };
  const m = memberOptions(p, { image: 'busybox' }, undefined, join);
  assert.deepEqual([m.network, m.ipc, m.uts, m.cgroupParent], [join.network, join.ipc, join.uts, '/berth/pod-x']);
  assert.throws(() => memberOptions(p, { image: 'b', ipc: 'host' }, undefined, join), /--ipc cannot be set/);
  assert.throws(() => memberOptions(p, { image: 'b' }), /needs its namespaces/);
});
