/**
 * Image name parsing as docker normalises it, and the pure parts of the registry client: auth challenges,
 * manifest parsing and platform selection, host rules.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { InvalidArgument, NotFound, NotSupported } from '../../src/errors.ts';
import { canonicalString, familiarName, familiarRepo, parseImageName } from '../../src/registry/reference.ts';
import { allowsHttp, apiHost, isLoopback, normaliseHost } from '../../src/registry/hosts.ts';
import {
  DOCKER_LIST, DOCKER_MANIFEST, OCI_INDEX, OCI_MANIFEST, parseManifest, selectPlatform, type ImageIndex,
} from '../../src/registry/manifest.ts';
import { parseChallenges } from '../../src/registry/transport.ts';

const D = `sha256:${'a'.repeat(64)}`;

const isInvalid = (re: RegExp) => (e: unknown) => {
  assert.ok(e instanceof InvalidArgument, `expected InvalidArgument, got ${String(e)}`);
  assert.match(e.message, re);
  return true;
};

test('parseImageName: short names live in docker.io/library', () => {
  assert.deepEqual(parseImageName('busybox'), { registry: 'docker.io', path: 'library/busybox' });
  assert.deepEqual(parseImageName('busybox:1.36'), { registry: 'docker.io', path: 'library/busybox', tag: '1.36' });
  assert.deepEqual(parseImageName('someone/app'), { registry: 'docker.io', path: 'someone/app' });
  assert.deepEqual(parseImageName('docker.io/busybox'), { registry: 'docker.io', path: 'library/busybox' });
  assert.deepEqual(parseImageName('index.docker.io/library/alpine:3'), { registry: 'docker.io', path: 'library/alpine', tag: '3' });
  assert.deepEqual(parseImageName('docker.io/library/a/b'), { registry: 'docker.io', path: 'library/a/b' });
});

test('parseImageName: a first component with a dot, a colon, or localhost is a registry', () => {
  assert.deepEqual(parseImageName('localhost:5000/a/b'), { registry: 'localhost:5000', path: 'a/b' });
  assert.deepEqual(parseImageName('localhost/a'), { registry: 'localhost', path: 'a' });
  assert.deepEqual(parseImageName('quay.io/x/y:v1'), { registry: 'quay.io', path: 'x/y', tag: 'v1' });
  assert.deepEqual(parseImageName('127.0.0.1:5000/app:1'), { registry: '127.0.0.1:5000', path: 'app', tag: '1' });
  assert.deepEqual(parseImageName('[::1]:5000/app'), { registry: '[::1]:5000', path: 'app' });
  // docker: an uppercase first component can only be a host name.
  assert.deepEqual(parseImageName('Registry/app'), { registry: 'Registry', path: 'app' });
  // No slash: `localhost:5000` is the repository localhost with tag 5000, as docker reads it.
  assert.deepEqual(parseImageName('localhost:5000'), { registry: 'docker.io', path: 'library/localhost', tag: '5000' });
});

test('parseImageName: digests, with and without a tag', () => {
  assert.deepEqual(parseImageName(`busybox@${D}`), { registry: 'docker.io', path: 'library/busybox', digest: D });
  assert.deepEqual(parseImageName(`reg.io:443/a/b:t@${D}`), { registry: 'reg.io:443', path: 'a/b', tag: 't', digest: D });
  const s512 = `sha512:${'b'.repeat(128)}`;
  assert.equal(parseImageName(`x@${s512}`).digest, s512);
});

test('parseImageName: invalid references', () => {
  const bad = [
    '', ':tag', 'busybox:', '-lead', 'a//b', 'x/', '/x', 'a:b:c', 'bad tag', 'x:.dot', `x:${'t'.repeat(129)}`,
    'busybox@sha256:abc', `busybox@md5:${'a'.repeat(32)}`, `busybox@${D}x`, `busybox@${D.toUpperCase()}`, 'busybox@',
    'reg-.io/x', 'reg.io:port/x', `${'a'.repeat(256)}`, 'a/b@', 'a__-b',
  ];
  for (const ref of bad) {
    assert.throws(() => parseImageName(ref), isInvalid(/^invalid reference format/), `parseImageName(${JSON.stringify(ref)})`);
  }
  for (const ref of ['UPPER', 'Busybox:1', 'team/App']) {
    assert.throws(() => parseImageName(ref), isInvalid(/repository name must be lowercase/), ref);
  }
  assert.throws(() => parseImageName('a'.repeat(64)), isInvalid(/64-byte hexadecimal/));
});

test('familiarRepo and canonicalString', () => {
  assert.equal(familiarRepo(parseImageName('busybox')), 'busybox');
  assert.equal(familiarRepo(parseImageName('docker.io/someone/app:2')), 'someone/app');
  assert.equal(familiarRepo(parseImageName('docker.io/library/a/b')), 'library/a/b');
  assert.equal(familiarRepo(parseImageName('localhost:5000/app:1')), 'localhost:5000/app');
  assert.equal(canonicalString(parseImageName('busybox')), 'docker.io/library/busybox');
  assert.equal(canonicalString(parseImageName('busybox:1')), 'docker.io/library/busybox:1');
  assert.equal(canonicalString(parseImageName(`localhost:5000/a/b:t@${D}`)), `localhost:5000/a/b:t@${D}`);
  for (const ref of ['busybox', 'team/app:1', 'quay.io/x/y', `reg:5000/a@${D}`]) {
    assert.deepEqual(parseImageName(canonicalString(parseImageName(ref))), parseImageName(ref), ref);
  }
});

test('familiarName keeps working for the store', () => {
  assert.equal(familiarName('busybox'), 'busybox:latest');
  assert.equal(familiarName('docker.io/library/busybox:1'), 'busybox:1');
  assert.equal(familiarName('localhost:5000/a/b'), 'localhost:5000/a/b:latest');
  assert.throws(() => familiarName(`busybox@${D}`), isInvalid(/invalid reference format/));
});

test('parseChallenges: basic, bearer with quoted parameters, several in one header', () => {
  assert.deepEqual(parseChallenges('Basic realm="Registry Realm"'), [{ scheme: 'basic', params: { realm: 'Registry Realm' } }]);
  assert.deepEqual(
    parseChallenges('Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/busybox:pull",error="insufficient_scope"'),
    [{ scheme: 'bearer', params: {
      realm: 'https://auth.docker.io/token', service: 'registry.docker.io', scope: 'repository:library/busybox:pull',
      error: 'insufficient_scope',
    } }],
  );
  assert.deepEqual(parseChallenges('Negotiate, Bearer realm=http://a/t, service=x, Basic realm="b\\"q"'), [
    { scheme: 'bearer', params: { realm: 'http://a/t', service: 'x' } },
    { scheme: 'basic', params: { realm: 'b"q' } },
  ]);
  assert.deepEqual(parseChallenges(''), []);
});

test('hosts: docker.io API host, loopback, insecure, normalising', () => {
  assert.equal(apiHost('docker.io'), 'registry-1.docker.io');
  assert.equal(apiHost('reg:5000'), 'reg:5000');
  for (const h of ['localhost', 'localhost:5000', '127.0.0.1', '127.1.2.3:80', '[::1]:5000', '::1']) assert.ok(isLoopback(h), h);
  for (const h of ['10.0.0.1:5000', 'localhost.example.com', '128.0.0.1']) assert.ok(!isLoopback(h), h);
  assert.ok(allowsHttp('reg:5000', ['http://reg:5000/']));
  assert.ok(!allowsHttp('reg:5000', ['reg']));
  assert.equal(normaliseHost('https://index.docker.io/v1/'), 'docker.io');
  assert.equal(normaliseHost('http://reg:5000/v2/'), 'reg:5000');
});

const desc = (arch: string, variant?: string, os = 'linux') => ({
  mediaType: OCI_MANIFEST, digest: `sha256:${arch.padEnd(64, '0').replace(/[^a-f0-9]/g, 'f')}`, size: 1,
  platform: { os, architecture: arch, ...(variant ? { variant } : {}) },
});

test('selectPlatform: os and architecture, variants, and docker\'s error', () => {
  const index: ImageIndex = {
    schemaVersion: 2,
    manifests: [desc('amd64', undefined, 'windows'), desc('amd64'), desc('arm', 'v6'), desc('arm', 'v7'), desc('arm64', 'v8')],
  };
  assert.equal(selectPlatform(index, { os: 'linux', architecture: 'amd64' }), index.manifests[1]);
  assert.equal(selectPlatform(index, { os: 'linux', architecture: 'arm', variant: 'v7' }), index.manifests[3]);
  assert.equal(selectPlatform(index, { os: 'linux', architecture: 'arm' }), index.manifests[2]);
  assert.equal(selectPlatform(index, { os: 'linux', architecture: 'arm64' }), index.manifests[4], 'v8 is arm64\'s default');
  assert.throws(() => selectPlatform(index, { os: 'linux', architecture: 'arm', variant: 'v5' }),
    (e: unknown) => e instanceof NotFound && e.message === 'no matching manifest for linux/arm/v5 in the manifest list entries');
  assert.throws(() => selectPlatform({ schemaVersion: 2, manifests: [] }, { os: 'linux', architecture: 'arm64' }),
    (e: unknown) => e instanceof NotFound && e.message === 'no matching manifest for linux/arm64 in the manifest list entries');
});

test('parseManifest: the media type from the header, the body, or the shape', () => {
  const cfg = { mediaType: 'application/vnd.oci.image.config.v1+json', digest: D, size: 2 };
  const m = Buffer.from(JSON.stringify({ schemaVersion: 2, config: cfg, layers: [] }));
  assert.equal(parseManifest(m, `${DOCKER_MANIFEST}; charset=utf-8`, 'x').mediaType, DOCKER_MANIFEST);
  assert.equal(parseManifest(m, 'application/json', 'x').mediaType, OCI_MANIFEST);
  const list = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: DOCKER_LIST, manifests: [desc('amd64')] }));
  assert.equal(parseManifest(list, null, 'x').kind, 'index');
  assert.equal(parseManifest(list, null, 'x').mediaType, DOCKER_LIST);
  const idx = Buffer.from(JSON.stringify({ schemaVersion: 2, manifests: [] }));
  assert.equal(parseManifest(idx, 'text/plain', 'x').mediaType, OCI_INDEX);
  assert.throws(() => parseManifest(Buffer.from('{"schemaVersion":1,"fsLayers":[]}'), null, 'x'), NotSupported);
  assert.throws(() => parseManifest(Buffer.from('{"schemaVersion":2,"config":{}}'), OCI_MANIFEST, 'x'), /malformed/);
  assert.throws(() => parseManifest(Buffer.from('nope'), OCI_MANIFEST, 'x'), /not JSON/);
});
