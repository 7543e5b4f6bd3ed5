/** `kube play`'s pure parts (src/engine/kube/): reading a file's documents and translating a pod spec. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseManifest } from '../../src/engine/kube/manifest.ts';
import { containerOptions, cpuQuantity, memoryQuantity, podOptions, probeHealth } from '../../src/engine/kube/translate.ts';

const POD = `
apiVersion: v1
kind: ConfigMap
metadata: {name: cfg}
data: {mode: fast, level: 3}
---
apiVersion: v1
kind: Pod
metadata:
  name: app
  labels: {tier: web}
spec:
  restartPolicy: Never
  shareProcessNamespace: true
  dnsConfig: {nameservers: [10.0.0.53], searches: [svc.local], options: [{name: ndots, value: "2"}]}
  hostAliases: [{ip: 10.1.1.1, hostnames: [db, cache]}]
  containers:
  - name: main
    image: busybox
    command: [sh, -c]
    args: ["echo hi"]
    workingDir: /tmp
    env:
    - {name: PLAIN, value: one}
    - name: FROM_MAP
      valueFrom: {configMapKeyRef: {name: cfg, key: mode}}
    envFrom: [{configMapRef: {name: cfg}, prefix: CFG_}]
    ports: [{containerPort: 80, hostPort: 8080}, {containerPort: 53, hostPort: 5353, protocol: UDP, hostIP: 127.0.0.1}, {containerPort: 9000}]
    resources: {limits: {cpu: 250m, memory: 64Mi}}
    securityContext: {runAsUser: 1000, runAsGroup: 1000, readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, capabilities: {add: [NET_ADMIN], drop: [ALL]}}
    livenessProbe: {exec: {command: [cat, /tmp/ok]}, initialDelaySeconds: 2, periodSeconds: 7, failureThreshold: 4}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: workers}
spec:
  replicas: 3
  template:
    metadata: {labels: {role: worker}}
    spec:
      containers: [{name: w, image: busybox}]
`;

test('a file: its ConfigMaps, its Pod, a pod per Deployment replica', () => {
  const m = parseManifest(POD);
  assert.deepEqual(m.configMaps.get('cfg'), { mode: 'fast', level: '3' });
  assert.deepEqual(m.pods.map((p) => [p.name, p.kind, p.owner]), [['app', 'Pod', 'app'], ['workers-pod-0', 'Deployment', 'workers'], ['workers-pod-1', 'Deployment', 'workers'], ['workers-pod-2', 'Deployment', 'workers']]);
  assert.deepEqual(m.pods[1]!.labels, { role: 'worker' });
});

test('a pod spec in Berth terms: host ports on the pod, DNS, pid sharing; the container’s env, limits, probe and security', () => {
  const m = parseManifest(POD);
  const plan = m.pods[0]!;
  const pod = podOptions(plan);
  assert.deepEqual(pod.publish, ['8080:80/tcp', '127.0.0.1:5353:53/udp'], 'only ports with a hostPort are published');
  assert.equal(pod.share, '+pid');
  assert.equal(pod.hostname, 'app');
  assert.deepEqual([pod.dns, pod.dnsSearch, pod.dnsOptions, pod.addHosts], [['10.0.0.53'], ['svc.local'], ['ndots:2'], ['db:10.1.1.1', 'cache:10.1.1.1']]);
  assert.deepEqual(pod.labels, { tier: 'web', 'io.berth.kube.kind': 'Pod', 'io.berth.kube.name': 'app' });
  const c = containerOptions(plan, plan.spec.containers[0]!, m.configMaps, ['vol:/data']);
  assert.equal(c.name, 'app-main');
  assert.deepEqual([c.entrypoint, c.cmd, c.workdir], [['sh', '-c'], ['echo hi'], '/tmp']);
  assert.deepEqual(c.env, ['CFG_mode=fast', 'CFG_level=3', 'PLAIN=one', 'FROM_MAP=fast']);
  assert.deepEqual([c.cpus, c.memory], [0.25, 64 * 2 ** 20]);
  assert.deepEqual(c.restartPolicy, { name: 'no' });
  assert.deepEqual([c.user, c.readonlyRootfs, c.securityOpt, c.capAdd, c.capDrop], ['1000:1000', true, ['no-new-privileges'], ['NET_ADMIN'], ['ALL']]);
  assert.deepEqual(c.healthcheck, { Test: ['CMD', 'cat', '/tmp/ok'], Interval: 7e9, Timeout: 1e9, StartPeriod: 2e9, Retries: 4 });
  assert.deepEqual(c.volumes, ['vol:/data']);
});

test("Kubernetes' quantities", () => {
  assert.equal(cpuQuantity('500m', 'x'), 0.5);
  assert.equal(cpuQuantity(2, 'x'), 2);
  assert.equal(cpuQuantity('1.5', 'x'), 1.5);
  assert.throws(() => cpuQuantity('1 core', 'limits.cpu'), /limits.cpu: "1 core" is not a CPU quantity/);
  assert.equal(memoryQuantity('128Mi', 'x'), 128 * 2 ** 20);
  assert.equal(memoryQuantity('1G', 'x'), 1e9);
  assert.equal(memoryQuantity('129e6', 'x'), 129e6);
  assert.equal(memoryQuantity(1000, 'x'), 1000);
  assert.equal(memoryQuantity('1.5Gi', 'x'), 1.5 * 2 ** 30);
  assert.throws(() => memoryQuantity('12 MB', 'limits.memory'), /not a memory quantity/);
});

test('probes: httpGet and tcpSocket become shell checks, with Kubernetes’ defaults', () => {
  const h = probeHealth({ httpGet: { path: '/healthz', port: 8080 } }, 'p');
  assert.deepEqual(h, { Test: ['CMD-SHELL', "wget -q -O /dev/null 'http://localhost:8080/healthz' || exit 1"], Interval: 10e9, Timeout: 1e9, StartPeriod: 0, Retries: 3 });
  assert.deepEqual(probeHealth({ tcpSocket: { port: 5432 } }, 'p').Test, ['CMD-SHELL', 'nc -z localhost 5432 || exit 1']);
  assert.throws(() => probeHealth({}, 'pod a: livenessProbe'), /pod a: livenessProbe: a probe needs exec, httpGet or tcpSocket/);
});

test('what kube play does not run is refused by name, before anything is made', () => {
  const refused: [string, RegExp][] = [
    ['kind: Service\nmetadata: {name: s}\n', /kind Service is not supported/],
    ['kind: Pod\nmetadata: {name: p}\nspec: {containers: []}\n', /needs at least one container/],
    ['kind: Pod\nmetadata: {name: p}\nspec: {initContainers: [], containers: [{name: a, image: b}]}\n', /spec.initContainers is not supported/],
    ['kind: Pod\nmetadata: {name: p}\nspec: {containers: [{name: A_B, image: b}]}\n', /must be a DNS label/],
    ['kind: Pod\nmetadata: {name: p}\nspec: {volumes: [{name: v, nfs: {server: x}}], containers: [{name: a, image: b}]}\n', /supports hostPath, emptyDir and configMap volumes/],
    ['kind: Pod\nmetadata: {name: p}\nspec: {containers: [{name: a, image: b, volumeMounts: [{name: v, mountPath: /v, subPath: x}]}]}\n', /subPath is not supported/],
    ['kind: Deployment\nmetadata: {name: d}\nspec: {replicas: 101, template: {spec: {containers: [{name: a, image: b}]}}}\n', /replicas: must be a whole number from 0 to 100/],
    ['kind: Pod\nmetadata: {name: p}\nspec: {containers: [{name: a, image: b}]}\n---\nkind: Pod\nmetadata: {name: p}\nspec: {containers: [{name: a, image: b}]}\n', /names the pod p twice/],
    ['kind: Pod\nmetadata: {}\n', /metadata.name: is required/],
    ['kind: [\n', /the YAML of document 1 cannot be read/],
  ];
  for (const [yaml, why] of refused) assert.throws(() => parseManifest(yaml), why, yaml);
  const m = parseManifest('kind: Pod\nmetadata: {name: p}\nspec: {containers: [{name: a, image: b, env: [{name: X, valueFrom: {configMapKeyRef: {name: missing, key: k}}}]}]}\n');
  assert.throws(() => containerOptions(m.pods[0]!, m.pods[0]!.spec.containers[0]!, m.configMaps, []), /env X names ConfigMap missing, which the file does not define/);
});
