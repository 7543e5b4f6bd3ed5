/** The engine's configuration file (docker's daemon.json keys) and the runtimes it names. */
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { readDaemonConfig } from '../../src/engine/daemon-config.ts';
import { InvalidArgument } from '../../src/errors.ts';
import { chooseRuntime, probeRuntimes, type CgroupInfo } from '../../src/runtime/probe.ts';
import { scratchDir } from './util.ts';

const HYBRID: CgroupInfo = { mode: 'hybrid', version: 1, v2Controllers: ['hugetlb'] };
const V2: CgroupInfo = { mode: 'v2', version: 2, v2Controllers: ['cpu', 'memory'] };

test('daemon.json: runtimes, default-runtime and registries; the root before /etc; registries.json still counts', (t) => {
  const dir = scratchDir(t, 'berth-cfg-');
  const root = join(dir, 'root');
  const etc = join(dir, 'etc');
  mkdirSync(root);
  mkdirSync(etc);
  const caps = { maxLayerSize: 16 * 1024 ** 3, maxImageSize: 64 * 1024 ** 3, maxDownloadAttempts: 5, maxUploadAttempts: 5, logDriver: 'json-file', logOpts: {} };
  assert.deepEqual(readDaemonConfig(root, etc), { file: undefined, runtimes: {}, insecureRegistries: [], registryMirrors: [], registryMirrorsOf: {}, ...caps });
  writeFileSync(join(etc, 'daemon.json'), JSON.stringify({ 'default-runtime': 'from-etc' }));
  assert.equal(readDaemonConfig(root, etc).defaultRuntime, 'from-etc');
  writeFileSync(
    join(root, 'daemon.json'),
    JSON.stringify({
      runtimes: { myrunc: { path: '/usr/sbin/runc', runtimeArgs: ['--debug'] }, plain: { path: '/opt/x' } },
      'default-runtime': 'myrunc',
      'insecure-registries': ['reg:5000'],
      'registry-mirrors-of': { 'registry.k8s.io': ['http://127.0.0.1:5055'] },
      'some-docker-key-berth-ignores': true,
    }),
  );
  writeFileSync(join(root, 'registries.json'), JSON.stringify({ 'registry-mirrors': ['http://mirror:5000'] }));
  assert.deepEqual(readDaemonConfig(root, etc), {
    file: join(root, 'daemon.json'),
    runtimes: { myrunc: { path: '/usr/sbin/runc', runtimeArgs: ['--debug'] }, plain: { path: '/opt/x', runtimeArgs: [] } },
    defaultRuntime: 'myrunc',
    insecureRegistries: ['reg:5000'],
    registryMirrors: ['http://mirror:5000'],
    registryMirrorsOf: { 'registry.k8s.io': ['http://127.0.0.1:5055'] },
    ...caps,
  });
});

test('daemon.json: bad files and keys are refused naming the file and the key', (t) => {
  const dir = scratchDir(t, 'berth-cfg-');
  const bad = (doc: string, msg: RegExp) => {
    writeFileSync(join(dir, 'daemon.json'), doc);
    assert.throws(() => readDaemonConfig(dir, join(dir, 'none')), (e: unknown) => e instanceof InvalidArgument && msg.test((e as Error).message) && (e as Error).message.includes('daemon.json'));
  };
  bad('{', /not valid JSON/);
  bad('[]', /must hold a JSON object/);
  bad('{"runtimes": []}', /"runtimes" must be an object/);
  bad('{"runtimes": {"x": {"path": "relative"}}}', /runtime "x" needs an absolute "path"/);
  bad('{"runtimes": {"x": {"path": "/bin/x", "runtimeArgs": "--a"}}}', /"runtimeArgs" must be a list of strings/);
  bad('{"runtimes": {"bad name": {"path": "/bin/x"}}}', /runtime name "bad name" is not valid/);
  bad('{"default-runtime": 3}', /"default-runtime" must be a runtime's name/);
  bad('{"insecure-registries": "reg:5000"}', /"insecure-registries" must be a list of strings/);
  bad('{"registry-mirrors-of": ["http://m"]}', /"registry-mirrors-of" must be an object of mirror lists by registry host/);
  bad('{"registry-mirrors-of": {"gcr.io": "http://m"}}', /"gcr.io" must be a list of strings/);
  bad('{"max-layer-size": "lots"}', /"max-layer-size" must be a size: bytes as a number, or a string such as "16GiB" or "500MB" \(not "lots"\)/);
  bad('{"max-image-size": 0}', /"max-image-size" must be a size/);
  bad('{"max-image-size": -5}', /"max-image-size" must be a size/);
  bad('{"max-layer-size": 1.5}', /"max-layer-size" must be a size/);
  bad('{"max-layer-size": ["8MiB"]}', /"max-layer-size" must be a size/);
  bad('{"max-layer-size": "8 parsecs"}', /"max-layer-size" must be a size/);
  bad('{"max-download-attempts": 0}', /"max-download-attempts" must be a whole number of at least 1 \(not 0\)/);
  bad('{"max-upload-attempts": "3"}', /"max-upload-attempts" must be a whole number of at least 1 \(not "3"\)/);
  bad('{"max-download-attempts": 2.5}', /"max-download-attempts" must be a whole number/);
});

test('daemon.json: max-download-attempts and max-upload-attempts, 5 each unless set (docker\'s keys and defaults)', (t) => {
  const dir = scratchDir(t, 'berth-cfg-');
  const attempts = (doc: unknown) => {
    writeFileSync(join(dir, 'daemon.json'), JSON.stringify(doc));
    const c = readDaemonConfig(dir, join(dir, 'none'));
    return [c.maxDownloadAttempts, c.maxUploadAttempts];
  };
  assert.deepEqual(attempts({}), [5, 5]);
  assert.deepEqual(attempts({ 'max-download-attempts': 1, 'max-upload-attempts': 12 }), [1, 12]);
});

test('daemon.json: max-layer-size and max-image-size as bytes or in docker\'s (binary) units', (t) => {
  const dir = scratchDir(t, 'berth-cfg-');
  const sizes = (doc: unknown) => {
    writeFileSync(join(dir, 'daemon.json'), JSON.stringify(doc));
    const c = readDaemonConfig(dir, join(dir, 'none'));
    return [c.maxLayerSize, c.maxImageSize];
  };
  assert.deepEqual(sizes({}), [16 * 1024 ** 3, 64 * 1024 ** 3], 'the defaults');
  assert.deepEqual(sizes({ 'max-layer-size': 8388608 }), [8 << 20, 64 * 1024 ** 3]);
  assert.deepEqual(sizes({ 'max-layer-size': '8MiB', 'max-image-size': '1g' }), [8 << 20, 1024 ** 3]);
  assert.deepEqual(sizes({ 'max-layer-size': '500MB', 'max-image-size': '2TB' }), [500 << 20, 2 * 1024 ** 4], 'MB is MiB, as --memory');
  assert.deepEqual(sizes({ 'max-layer-size': '1.5GiB', 'max-image-size': '16GiB' }), [1.5 * 1024 ** 3, 16 * 1024 ** 3]);
  // registries.json is only for registries
  writeFileSync(join(dir, 'daemon.json'), '{}');
  writeFileSync(join(dir, 'registries.json'), JSON.stringify({ 'max-layer-size': '1MiB' }));
  assert.equal(readDaemonConfig(dir, join(dir, 'none')).maxLayerSize, 16 * 1024 ** 3);
});

test('configured runtimes join the built-in ones, probed by what they are at heart', () => {
  const configured = {
    myrunc: { path: '/usr/sbin/runc', runtimeArgs: ['--debug'] },
    mycrun: { path: '/usr/bin/crun', runtimeArgs: [] },
    ghost: { path: '/nonexistent/runtime', runtimeArgs: [] },
  };
  const c = probeRuntimes(HYBRID, configured, '/r/daemon.json', null); // null: berth-v1-view not built
  const by = (n: string) => c.find((x) => x.name === n)!;
  assert.deepEqual(c.map((x) => x.name), ['crun', 'runc', 'myrunc', 'mycrun', 'ghost']);
  assert.equal(by('myrunc').kind, 'runc');
  assert.deepEqual(by('myrunc').runtimeArgs, ['--debug']);
  assert.equal(by('ghost').usable, false);
  assert.match(by('ghost').reason, /\/nonexistent\/runtime does not exist/);
  // crun's refusal of this host's layout applies to a crun by any name
  if (by('crun').path) {
    assert.equal(by('mycrun').usable, false);
    assert.match(by('mycrun').reason, /crun refuses hybrid cgroups/);
    assert.equal(probeRuntimes(V2, configured).find((x) => x.name === 'mycrun')!.usable, true);
  }
  if (by('runc').path) assert.match(by('myrunc').reason, /configured in \/r\/daemon.json/);
  // a configured name may replace a built-in one
  const replaced = probeRuntimes(HYBRID, { runc: { path: '/usr/sbin/runc', runtimeArgs: ['--debug'] } }, 'daemon.json', null);
  assert.deepEqual(replaced.filter((x) => x.name === 'runc').map((x) => x.runtimeArgs), [['--debug']]);
  assert.equal(chooseRuntime(replaced).chosen?.name ?? 'none', replaced.find((x) => x.name === 'runc')!.usable ? 'runc' : 'none');
});

test('registry-mirrors-of: mirrors by registry host for pulls, those given as http:// reached over plain HTTP', async (t) => {
  const { Engine } = await import('../../src/engine/engine.ts');
  const root = scratchDir(t, 'berth-cfg-');
  writeFileSync(join(root, 'daemon.json'), JSON.stringify({
    'registry-mirrors': ['https://hub-mirror.example'],
    'registry-mirrors-of': { 'registry.k8s.io': ['http://127.0.0.1:5055'], 'gcr.io': ['https://gcr-mirror.example:8443/'] },
  }));
  const engine = new Engine({ root });
  const o = engine.registryOptions();
  assert.deepEqual(o.mirrors, { 'docker.io': ['hub-mirror.example'], 'registry.k8s.io': ['127.0.0.1:5055'], 'gcr.io': ['gcr-mirror.example:8443'] });
  assert.deepEqual(o.insecure, ['127.0.0.1:5055']);
});
