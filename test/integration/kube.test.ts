/**
 * `kube play` and `kube down` with real containers (src/engine/kube/): a Pod whose containers share an
 * emptyDir, read a ConfigMap as files and as variables, bind a hostPath and answer on a hostPort; limits,
 * restart policy and the liveness probe as a health check; a Deployment's replicas as pods; `--replace`;
 * `kube down` taking pods, containers and volumes; a refused file making nothing.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cli, eventually, setupEnv, show, sleep, type Env } from './helpers.ts';

let env: Env;
let dir: string;
const { ok, out, inspect, allIds } = cli(() => env);

const manifest = (hostDir: string, replicas: number) => `
apiVersion: v1
kind: ConfigMap
metadata: {name: site}
data:
  greeting: hello-from-configmap
  site.conf: |
    listen=80
---
apiVersion: v1
kind: Pod
metadata:
  name: shop
  labels: {app: shop}
spec:
  restartPolicy: OnFailure
  volumes:
  - {name: www, emptyDir: {}}
  - {name: conf, configMap: {name: site, items: [{key: site.conf, path: conf/site.conf}]}}
  - {name: host, hostPath: {path: ${hostDir}, type: Directory}}
  containers:
  - name: web
    image: busybox
    command: [httpd, -f, -p, "80", -h, /www]
    ports: [{containerPort: 80, hostPort: 18393}]
    resources: {limits: {memory: 64Mi, cpu: 500m}}
    livenessProbe: {httpGet: {path: /index.html, port: 80}, periodSeconds: 1}
    volumeMounts: [{name: www, mountPath: /www}]
  - name: writer
    image: busybox
    command: [sh, -c]
    args: ["echo $GREETING > /out/index.html; cat /etc/site/conf/site.conf /host/h.txt >> /out/index.html; exec sleep 1000"]
    env:
    - name: GREETING
      valueFrom: {configMapKeyRef: {name: site, key: greeting}}
    volumeMounts:
    - {name: www, mountPath: /out}
    - {name: conf, mountPath: /etc/site, readOnly: true}
    - {name: host, mountPath: /host}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: workers}
spec:
  replicas: ${replicas}
  template:
    metadata: {labels: {role: worker}}
    spec:
      containers: [{name: main, image: busybox, command: [sleep, "1000"]}]
`;

function file(name: string, text: string): string {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
}

before(() => {
  env = setupEnv('kube');
  dir = mkdtempSync('/tmp/berth-kube-');
  writeFileSync(join(dir, 'h.txt'), 'from-the-host\n');
});

after(() => {
  env?.teardown();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test('kube play: a pod of two containers sharing volumes and ConfigMap data, served on its hostPort; kube down takes it all', async () => {
  const yaml = file('shop.yaml', manifest(dir, 2));
  const played = out(['kube', 'play', yaml]);
  assert.equal(played.match(/^Pod:$/gm)?.length, 3, played);
  try {
    const pods = out(['pod', 'ps', '--format', '{{.Name}} {{.Status}} {{.NumberOfContainers}}']).trim().split('\n').sort();
    assert.deepEqual(pods, ['shop Running 3', 'workers-pod-0 Running 2', 'workers-pod-1 Running 2']);
    // The writer's page, from the ConfigMap (a variable and a file), the hostPath and the shared emptyDir.
    let page = '';
    for (const until = Date.now() + 10_000; Date.now() < until && !page.includes('from-the-host'); await sleep(100)) {
      page = await fetch('http://127.0.0.1:18393/index.html').then((r) => (r.ok ? r.text() : ''), () => '');
    }
    assert.equal(page, 'hello-from-configmap\nlisten=80\nfrom-the-host\n');
    assert.equal(inspect('shop-web', '{{.HostConfig.Memory}} {{.HostConfig.NanoCpus}} {{.HostConfig.RestartPolicy.Name}}'), `${64 * 2 ** 20} 500000000 on-failure`);
    assert.equal(inspect('workers-pod-0-main', '{{.HostConfig.RestartPolicy.Name}}'), 'always');
    await eventually(() => inspect('shop-web', '{{.State.Health.Status}}') === 'healthy', 15_000);
    assert.equal(inspect('shop-web', '{{.State.Health.Status}}'), 'healthy', 'the liveness probe runs as its health check');
    const ro = env.berth(['exec', 'shop-writer', 'sh', '-c', 'echo x > /etc/site/x']);
    assert.notEqual(ro.code, 0, 'a readOnly mount is read-only');
    // Played again: refused while its pods exist, replaced with --replace (the Deployment now with one replica).
    const again = env.berth(['kube', 'play', yaml]);
    assert.equal(again.code, 125, show(again));
    assert.match(again.stderr, /pod (shop|workers-pod-\d) exists already: kube down the file first, or play it with --replace/);
    ok(['kube', 'play', '--replace', file('shop1.yaml', manifest(dir, 1))]);
    assert.deepEqual(out(['pod', 'ps', '--format', '{{.Name}}']).trim().split('\n').sort(), ['shop', 'workers-pod-0'], 'the replica the new file does not have is gone');
  } finally {
    const down = ok(['kube', 'down', yaml]);
    assert.match(down.stdout, /^Pods removed:\n/);
    assert.match(down.stdout, /Volumes removed:\nshop-(www|conf)\nshop-(www|conf)\n/);
  }
  assert.deepEqual(allIds(), []);
  assert.equal(out(['volume', 'ls', '-q']), '');
  assert.equal(out(['pod', 'ps', '-q']), '');
  const none = env.berth(['kube', 'down', yaml]);
  assert.equal(none.code, 125);
  assert.match(none.stderr, /none of the pods of the file exist/);
});

test('a file kube play cannot run makes nothing: refused up front, or undone when a later pod fails', () => {
  const refused = env.berth(['kube', 'play', file('svc.yaml', 'kind: Service\nmetadata: {name: s}\n')]);
  assert.equal(refused.code, 125);
  assert.match(refused.stderr, /^Error: document 1: kind Service is not supported by berth kube play/);
  // The second pod names an image that is not there and may not be pulled: the first pod is removed again.
  const yaml = `kind: Pod
metadata: {name: first}
spec:
  volumes: [{name: scratch, emptyDir: {}}]
  containers: [{name: a, image: busybox, command: [sleep, "100"], volumeMounts: [{name: scratch, mountPath: /s}]}]
---
kind: Pod
metadata: {name: second}
spec:
  containers: [{name: b, image: not-here/at-all:1, imagePullPolicy: Never}]
`;
  const r = env.berth(['kube', 'play', file('half.yaml', yaml)]);
  assert.equal(r.code, 125, show(r));
  assert.match(r.stderr, /image not-here\/at-all:1 is not present and its imagePullPolicy is Never/);
  assert.equal(out(['pod', 'ps', '-q']), '', 'the first pod was removed again');
  assert.deepEqual(allIds(), []);
  assert.equal(out(['volume', 'ls', '-q']), '', 'and its volume');
});
