/**
 * The registry client against a real registry (Debian's docker-registry, distribution 2.8, started by
 * test/fixtures/registry.ts on 127.0.0.1) and, for what a healthy registry never does (dropping a
 * connection mid-blob, ignoring Range, answering 503), against small fake servers. Images are made by
 * hand as OCI layouts and pushed with skopeo, so what the client reads was written by another tool, and
 * what it writes is read back by skopeo.
 */
import { after, before, describe, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import {
  existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync,
} from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { networkInterfaces } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { gzipSync } from 'node:zlib';
import { InvalidArgument, NotFound, RuntimeFailure, Unauthorized } from '../../src/errors.ts';
import { parseImageName, type ImageName } from '../../src/registry/reference.ts';
import { readCredentials, removeCredentials, storeCredentials } from '../../src/registry/authfile.ts';
import { RegistryClient, type Descriptor } from '../../src/registry/client.ts';
import { DOCKER_LIST, DOCKER_MANIFEST, OCI_INDEX, OCI_MANIFEST } from '../../src/registry/manifest.ts';
import { startRegistry, type RegistryAuth, type RegistryFixture } from '../fixtures/registry.ts';

const SKOPEO = '/usr/bin/skopeo';
const execFileP = promisify(execFile);
const OCI_CONFIG = 'application/vnd.oci.image.config.v1+json';
const OCI_LAYER = 'application/vnd.oci.image.layer.v1.tar+gzip';
const DOCKER_CONFIG = 'application/vnd.docker.container.image.v1+json';
const DOCKER_LAYER = 'application/vnd.docker.image.rootfs.diff.tar.gzip';

const tmp = mkdtempSync('/tmp/berth-registry-test-');
after(() => rmSync(tmp, { recursive: true, force: true }));

const sha256 = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;
const hexOf = (d: string) => d.slice('sha256:'.length);

interface Blob {
  desc: Descriptor;
  data: Buffer;
  file: string;
}

/** A blob written under `dir` (an OCI layout's blobs/sha256/, so skopeo and the client read the same file). */
function blob(dir: string, mediaType: string, data: Buffer): Blob {
  const d = join(dir, 'blobs', 'sha256');
  mkdirSync(d, { recursive: true });
  const digest = sha256(data);
  const file = join(d, hexOf(digest));
  writeFileSync(file, data);
  return { desc: { mediaType, digest, size: data.length }, data, file };
}

interface Image {
  dir: string;
  layer: Blob;
  config: Blob;
  manifest: Blob;
}

/** An OCI layout at `dir` holding one image tagged `tag`: a gzip layer of real tar, a config, a manifest. */
function ociImage(dir: string, tag: string, architecture = 'amd64'): Image {
  const root = join(dir, 'rootfs');
  mkdirSync(root, { recursive: true });
  writeFileSync(join(root, 'hello.txt'), `hello from ${architecture}\n`);
  // Incompressible bytes make the layer big enough for a meaningful half (for resuming).
  writeFileSync(join(root, 'noise.bin'), randomBytes(256 * 1024));
  const tar = spawnSync('tar', ['--numeric-owner', '--owner=0', '--group=0', '-C', root, '-cf', '-', '.']);
  assert.equal(tar.status, 0, String(tar.stderr));
  const layer = blob(dir, OCI_LAYER, gzipSync(tar.stdout));
  const config = blob(dir, OCI_CONFIG, Buffer.from(JSON.stringify({
    architecture, os: 'linux', config: { Cmd: ['/hello'] },
    rootfs: { type: 'layers', diff_ids: [sha256(tar.stdout)] },
  })));
  const manifest = blob(dir, OCI_MANIFEST, Buffer.from(JSON.stringify({
    schemaVersion: 2, mediaType: OCI_MANIFEST, config: config.desc, layers: [layer.desc],
  })));
  writeFileSync(join(dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  writeFileSync(join(dir, 'index.json'), JSON.stringify({
    schemaVersion: 2,
    manifests: [{ ...manifest.desc, annotations: { 'org.opencontainers.image.ref.name': tag } }],
  }));
  return { dir, layer, config, manifest };
}

/**
 * skopeo with a private HOME and auth file: it never reads or writes the user's. Asynchronous on purpose:
 * the fixture's token server runs in this process and must keep answering while skopeo waits for a token.
 */
async function skopeo(args: string[]): Promise<string> {
  const home = join(tmp, 'skopeo-home');
  mkdirSync(home, { recursive: true });
  try {
    const { stdout } = await execFileP(SKOPEO, ['--insecure-policy', ...args], {
      encoding: 'utf8', timeout: 60_000,
      env: { ...process.env, HOME: home, REGISTRY_AUTH_FILE: join(home, 'auth.json'), XDG_RUNTIME_DIR: home },
    });
    return stdout;
  } catch (e) {
    throw new Error(`skopeo ${args.join(' ')}: ${(e as { stderr?: string }).stderr ?? e}`);
  }
}

async function pushWithSkopeo(img: Image, tag: string, dest: string, reg: RegistryFixture): Promise<void> {
  const creds = reg.user ? ['--dest-creds', `${reg.user}:${reg.password}`] : [];
  await skopeo(['copy', '--quiet', '--dest-tls-verify=false', ...creds, `oci:${img.dir}:${tag}`, `docker://${dest}`]);
}

/** Starts a registry, or returns the fixture's SKIP reason. */
async function registryOrSkip(auth: RegistryAuth): Promise<RegistryFixture | string> {
  if (!existsSync(SKOPEO)) return `SKIP: ${SKOPEO} is not installed`;
  try {
    return await startRegistry({ auth });
  } catch (e) {
    if ((e as Error).message.startsWith('SKIP:')) return (e as Error).message;
    throw e;
  }
}

/** Asserts a rejection's class and message. */
async function rejects(p: Promise<unknown>, cls: new (...a: never[]) => Error, re: RegExp): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof cls, `expected ${cls.name}, got ${(e as Error)?.name}: ${(e as Error)?.message}`);
    assert.match((e as Error).message, re);
    return true;
  });
}

const authFile = (name: string) => join(tmp, `${name}-auth.json`);

// ---------------------------------------------------------------- no auth

describe('registry without auth', () => {
  let reg: RegistryFixture | undefined;
  let skip = '';
  let img: Image;
  let client: RegistryClient;
  let app: ImageName;
  const need = (t: TestContext) => {
    if (skip) t.skip(skip);
    return !skip;
  };

  before(async () => {
    const r = await registryOrSkip('none');
    if (typeof r === 'string') {
      skip = r;
      return;
    }
    reg = r;
    img = ociImage(join(tmp, 'img-amd64'), '1');
    await pushWithSkopeo(img, '1', `${reg.host}/app:1`, reg);
    client = new RegistryClient({ authFile: authFile('none') });
    app = parseImageName(`${reg.host}/app:1`);
  });
  after(async () => reg?.stop());

  test('resolve by tag, by digest, and by tag@digest', async (t) => {
    if (!need(t)) return;
    const byTag = await client.resolve(app);
    assert.equal(byTag.digest, img.manifest.desc.digest, 'skopeo kept the manifest as written');
    assert.equal(byTag.mediaType, OCI_MANIFEST);
    assert.deepEqual(byTag.manifest.layers, [img.layer.desc]);
    assert.deepEqual(byTag.manifest.config, img.config.desc);
    assert.ok(byTag.raw.equals(img.manifest.data));
    assert.equal(byTag.indexDigest, undefined);
    assert.equal(byTag.endpoint, reg!.host);
    const byDigest = await client.resolve(parseImageName(`${reg!.host}/app@${img.manifest.desc.digest}`));
    assert.equal(byDigest.digest, img.manifest.desc.digest);
    const both = await client.resolve(parseImageName(`${reg!.host}/app:1@${img.manifest.desc.digest}`));
    assert.equal(both.digest, img.manifest.desc.digest);
  });

  test('a missing tag or repository is NotFound in docker words', async (t) => {
    if (!need(t)) return;
    await rejects(client.resolve(parseImageName(`${reg!.host}/app:nope`)), NotFound,
      new RegExp(`^manifest for ${reg!.host}/app:nope not found: manifest unknown`));
    await rejects(client.resolve(parseImageName(`${reg!.host}/nothere`)), NotFound, /manifest unknown|pull access denied/);
    const absent = `sha256:${'0'.repeat(64)}`;
    await rejects(client.resolve(parseImageName(`${reg!.host}/app@${absent}`)), NotFound, /manifest unknown/);
  });

  test('fetchBlob: config and layer, verified, with progress and no partial file left', async (t) => {
    if (!need(t)) return;
    const dir = mkdtempSync(join(tmp, 'fetch-'));
    const progress: [number, number][] = [];
    await client.fetchBlob(app, img.layer.desc, join(dir, 'layer'), (d, n) => progress.push([d, n]), reg!.host);
    assert.ok(readFileSync(join(dir, 'layer')).equals(img.layer.data));
    assert.deepEqual(progress.at(-1), [img.layer.desc.size, img.layer.desc.size]);
    await client.fetchBlob(app, img.config.desc, join(dir, 'config'));
    assert.ok(readFileSync(join(dir, 'config')).equals(img.config.data));
    assert.ok(!existsSync(join(dir, 'layer.partial')) && !existsSync(join(dir, 'config.partial')));
    assert.equal(await client.blobExists(app, img.layer.desc.digest), true);
    assert.equal(await client.blobExists(app, `sha256:${'1'.repeat(64)}`), false);
  });

  test('fetchBlob resumes a partial download with a Range request', async (t) => {
    if (!need(t)) return;
    const dest = join(mkdtempSync(join(tmp, 'resume-')), 'layer');
    const half = Math.floor(img.layer.desc.size / 2);
    writeFileSync(`${dest}.partial`, img.layer.data.subarray(0, half));
    const progress: number[] = [];
    await client.fetchBlob(app, img.layer.desc, dest, (d) => progress.push(d));
    assert.equal(progress[0], half, 'the download started where the partial file ended');
    assert.ok(readFileSync(dest).equals(img.layer.data));
    assert.ok(!existsSync(`${dest}.partial`));
  });

  test('fetchBlob: a digest mismatch deletes the partial file and throws', async (t) => {
    if (!need(t)) return;
    const dest = join(mkdtempSync(join(tmp, 'mismatch-')), 'layer');
    // A corrupt prefix: resuming after it yields the right size and the wrong digest.
    const bad = Buffer.from(img.layer.data.subarray(0, 1000));
    bad[10] ^= 0xff;
    writeFileSync(`${dest}.partial`, bad);
    await rejects(client.fetchBlob(app, img.layer.desc, dest), RuntimeFailure, /digest mismatch/);
    assert.ok(!existsSync(`${dest}.partial`) && !existsSync(dest));
    // A partial longer than the blob is dropped and the download starts over.
    writeFileSync(`${dest}.partial`, Buffer.alloc(img.layer.desc.size + 10));
    await client.fetchBlob(app, img.layer.desc, dest);
    assert.ok(readFileSync(dest).equals(img.layer.data));
  });

  test('push with the client (upload, mount, exists); skopeo reads it back', async (t) => {
    if (!need(t)) return;
    const mine = parseImageName(`${reg!.host}/client/img:v1`);
    assert.equal(await client.pushBlob(mine, img.config.desc, img.config.file), 'pushed');
    assert.equal(await client.pushBlob(mine, img.layer.desc, img.layer.file, ['nothere', 'app']), 'mounted');
    assert.equal(await client.pushBlob(mine, img.layer.desc, img.layer.file, ['app']), 'exists');
    // The mount source lacks this one: the registry opens an upload session instead, and we use it.
    const extra = blob(join(tmp, 'extra'), 'application/octet-stream', randomBytes(70_000));
    let seen = 0;
    assert.equal(await client.pushBlob(mine, extra.desc, extra.file, ['app'], (d) => { seen = d; }), 'pushed');
    assert.equal(seen, extra.desc.size);
    const digest = await client.putManifest(mine, 'v1', OCI_MANIFEST, img.manifest.data);
    assert.equal(digest, img.manifest.desc.digest);
    assert.equal(await skopeo(['inspect', '--raw', '--tls-verify=false', `docker://${reg!.host}/client/img:v1`]),
      img.manifest.data.toString());
    const out = join(tmp, 'copied');
    await skopeo(['copy', '--quiet', '--src-tls-verify=false', `docker://${reg!.host}/client/img:v1`, `oci:${out}:v1`]);
    assert.ok(readFileSync(join(out, 'blobs', 'sha256', hexOf(img.layer.desc.digest))).equals(img.layer.data));
    // By digest, a body that does not hash to it is refused before anything is sent.
    await rejects(client.putManifest(mine, `sha256:${'2'.repeat(64)}`, OCI_MANIFEST, img.manifest.data),
      InvalidArgument, /hashes to/);
    // A manifest naming a blob the repository lacks is the registry's 400.
    const orphan = Buffer.from(JSON.stringify({
      schemaVersion: 2, mediaType: OCI_MANIFEST, config: { ...img.config.desc, digest: `sha256:${'3'.repeat(64)}` },
      layers: [img.layer.desc],
    }));
    await rejects(client.putManifest(mine, 'orphan', OCI_MANIFEST, orphan), InvalidArgument, /blob unknown/);
  });

  test('manifest lists and OCI indexes resolve per platform', async (t) => {
    if (!need(t)) return;
    const multi = parseImageName(`${reg!.host}/multi`);
    // An arm64 variant of the image, pushed blob by blob with the client.
    const arm = ociImage(join(tmp, 'img-arm64'), '1', 'arm64');
    for (const b of [img.config, img.layer, arm.config, arm.layer]) await client.pushBlob(multi, b.desc, b.file, ['app']);
    for (const m of [img.manifest, arm.manifest]) {
      assert.equal(await client.putManifest(multi, m.desc.digest, OCI_MANIFEST, m.data), m.desc.digest);
    }
    // The same amd64 image as a Docker schema2 manifest (same blobs, Docker media types).
    const docker = Buffer.from(JSON.stringify({
      schemaVersion: 2, mediaType: DOCKER_MANIFEST,
      config: { ...img.config.desc, mediaType: DOCKER_CONFIG }, layers: [{ ...img.layer.desc, mediaType: DOCKER_LAYER }],
    }));
    const dockerDigest = await client.putManifest(multi, 'docker', DOCKER_MANIFEST, docker);
    const entries = (amd: Descriptor) => [
      { ...amd, platform: { architecture: 'amd64', os: 'linux' } },
      { ...arm.manifest.desc, platform: { architecture: 'arm64', os: 'linux', variant: 'v8' } },
    ];
    const index = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: OCI_INDEX, manifests: entries(img.manifest.desc) }));
    const indexDigest = await client.putManifest(multi, 'oci', OCI_INDEX, index);
    const list = Buffer.from(JSON.stringify({
      schemaVersion: 2, mediaType: DOCKER_LIST,
      manifests: entries({ mediaType: DOCKER_MANIFEST, digest: dockerDigest, size: docker.length }),
    }));
    const listDigest = await client.putManifest(multi, 'list', DOCKER_LIST, list);

    const amd = await client.resolve({ ...multi, tag: 'oci' }, { os: 'linux', architecture: 'amd64' });
    assert.equal(amd.digest, img.manifest.desc.digest);
    assert.equal(amd.indexDigest, indexDigest);
    assert.equal(amd.mediaType, OCI_MANIFEST);
    const a64 = await client.resolve({ ...multi, tag: 'oci' }, { os: 'linux', architecture: 'arm64' });
    assert.equal(a64.digest, arm.manifest.desc.digest);
    assert.deepEqual(a64.manifest.config, arm.config.desc);
    const byIndexDigest = await client.resolve({ ...multi, digest: indexDigest }, { os: 'linux', architecture: 'arm64', variant: 'v8' });
    assert.equal(byIndexDigest.digest, arm.manifest.desc.digest);
    await rejects(client.resolve({ ...multi, tag: 'oci' }, { os: 'linux', architecture: 's390x' }), NotFound,
      /^no matching manifest for linux\/s390x in the manifest list entries$/);

    const fromList = await client.resolve({ ...multi, tag: 'list' }, { os: 'linux', architecture: 'amd64' });
    assert.equal(fromList.digest, dockerDigest);
    assert.equal(fromList.mediaType, DOCKER_MANIFEST);
    assert.equal(fromList.indexDigest, listDigest);
    assert.equal(fromList.manifest.layers[0].mediaType, DOCKER_LAYER);
    const plain = await client.resolve({ ...multi, tag: 'docker' });
    assert.equal(plain.digest, dockerDigest);
    await rejects(client.resolve({ ...multi, tag: 'list' }, { os: 'linux', architecture: 'arm', variant: 'v7' }),
      NotFound, /no matching manifest for linux\/arm\/v7/);
  });

  test('mirrors are tried first for pulls and the registry is the fallback', async (t) => {
    if (!need(t)) return;
    const mirror = await startRegistry();
    try {
      const c = new RegistryClient({ authFile: authFile('mirror'), mirrors: { [reg!.host]: [mirror.host, '127.0.0.1:1'] } });
      const missing = await c.resolve(app);
      assert.equal(missing.endpoint, reg!.host, 'the mirror lacks the image: the registry answers');
      await pushWithSkopeo(img, '1', `${mirror.host}/app:1`, mirror);
      const hit = await c.resolve(app);
      assert.equal(hit.endpoint, mirror.host);
      assert.equal(hit.digest, img.manifest.desc.digest);
      const dest = join(mkdtempSync(join(tmp, 'mirror-')), 'layer');
      await c.fetchBlob(app, img.layer.desc, dest, undefined, hit.endpoint);
      assert.ok(readFileSync(dest).equals(img.layer.data));
    } finally {
      await mirror.stop();
    }
  });
});

// ---------------------------------------------------------------- fake servers

/** A plain http server on `host`, counting requests; `handle` answers them. */
async function fakeServer(host: string, handle: Parameters<typeof createServer>[1]): Promise<{ server: Server; port: number }> {
  const server = createServer(handle);
  await new Promise<void>((res) => server.listen(0, host, res));
  return { server, port: (server.address() as AddressInfo).port };
}

const close = (s: Server) => new Promise((res) => { s.closeAllConnections(); s.close(res); });

test('fetchBlob: a connection cut mid-blob is retried; a server ignoring Range restarts the download', async () => {
  const data = randomBytes(200_000);
  const digest = sha256(data);
  const seen: { range?: string }[] = [];
  let flaky = 1;
  const { server, port } = await fakeServer('127.0.0.1', (req, res) => {
    if (req.url === '/v2/') return res.end('{}');
    if (req.url === `/v2/x/blobs/${digest}`) {
      seen.push({ range: req.headers.range });
      if (seen.length === 1) {
        // Half the body, then the connection drops.
        res.writeHead(200, { 'content-length': data.length });
        res.write(data.subarray(0, 100_000), () => setTimeout(() => res.destroy(), 20));
        return;
      }
      return res.writeHead(200, { 'content-length': data.length }).end(data);
    }
    if (req.url === '/v2/x/manifests/503' && flaky-- > 0) return res.writeHead(503).end();
    res.writeHead(404, { 'content-type': 'application/json' })
      .end('{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown"}]}');
  });
  try {
    const c = new RegistryClient({ authFile: authFile('fake') });
    const name = parseImageName(`127.0.0.1:${port}/x`);
    const dest = join(mkdtempSync(join(tmp, 'flaky-')), 'blob');
    await c.fetchBlob(name, { mediaType: 'application/octet-stream', digest, size: data.length }, dest);
    assert.ok(readFileSync(dest).equals(data));
    assert.equal(seen.length, 2);
    assert.equal(seen[0].range, undefined);
    assert.match(seen[1].range ?? '', /^bytes=\d+-$/, 'the retry asked for the rest');
    // A 503 is retried: the second answer (404) is what the caller sees.
    await rejects(c.resolve({ ...name, tag: '503' }), NotFound, /manifest unknown/);
    assert.equal(flaky, -1);
  } finally {
    await close(server);
  }
});

test('fetchBlob follows a redirect to another origin without sending it our credentials', async () => {
  const data = randomBytes(50_000);
  const digest = sha256(data);
  const cdnAuth: (string | undefined)[] = [];
  const cdn = await fakeServer('127.0.0.1', (req, res) => {
    cdnAuth.push(req.headers.authorization);
    res.end(data);
  });
  const want = `Basic ${Buffer.from('u:p').toString('base64')}`;
  const regAuth: (string | undefined)[] = [];
  const registry = await fakeServer('127.0.0.1', (req, res) => {
    regAuth.push(req.headers.authorization);
    if (req.headers.authorization !== want) {
      return res.writeHead(401, { 'www-authenticate': 'Basic realm="fake"', 'content-type': 'application/json' })
        .end('{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}');
    }
    if (req.url === '/v2/') return res.end('{}');
    res.writeHead(307, { location: `http://127.0.0.1:${cdn.port}/storage/${hexOf(digest)}?sig=1` }).end();
  });
  try {
    const file = authFile('redirect');
    storeCredentials(file, `127.0.0.1:${registry.port}`, { username: 'u', password: 'p' });
    const c = new RegistryClient({ authFile: file });
    const dest = join(mkdtempSync(join(tmp, 'redirect-')), 'blob');
    await c.fetchBlob(parseImageName(`127.0.0.1:${registry.port}/x`), { mediaType: 'x', digest, size: data.length }, dest);
    assert.ok(readFileSync(dest).equals(data));
    assert.equal(regAuth.at(-1), want, 'the registry got the credentials');
    assert.deepEqual(cdnAuth, [undefined], 'the other origin did not');
  } finally {
    await close(registry.server);
    await close(cdn.server);
  }
});

test('a non-loopback registry is never tried over plain http unless marked insecure', async (t) => {
  const ip = Object.values(networkInterfaces()).flat().find((a) => a && a.family === 'IPv4' && !a.internal)?.address;
  if (!ip) return t.skip('no non-loopback IPv4 address on this host');
  let requests = 0;
  const { server, port } = await fakeServer(ip, (req, res) => {
    requests++;
    res.writeHead(req.url === '/v2/' ? 200 : 404, { 'content-type': 'application/json' })
      .end(req.url === '/v2/' ? '{}' : '{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown"}]}');
  });
  try {
    const name = parseImageName(`${ip}:${port}/x:1`);
    const strict = new RegistryClient({ authFile: authFile('strict'), retries: 0 });
    await rejects(strict.resolve(name), RuntimeFailure,
      new RegExp(`^${ip}:${port}: http: server gave HTTP response to HTTPS client.*insecure`));
    assert.equal(requests, 0, 'nothing was sent over http');
    const lax = new RegistryClient({ authFile: authFile('strict'), insecure: [`${ip}:${port}`] });
    await rejects(lax.resolve(name), NotFound, /manifest unknown/);
    assert.ok(requests >= 2);
  } finally {
    await close(server);
  }
});

// ---------------------------------------------------------------- basic auth

describe('registry with htpasswd basic auth', () => {
  let reg: RegistryFixture | undefined;
  let skip = '';
  let img: Image;
  before(async () => {
    const r = await registryOrSkip('basic');
    if (typeof r === 'string') {
      skip = r;
      return;
    }
    reg = r;
    img = ociImage(join(tmp, 'img-basic'), '1');
    await pushWithSkopeo(img, '1', `${reg.host}/secret/app:1`, reg);
  });
  after(async () => reg?.stop());

  test('anonymous pulls are refused; a wrong password cannot log in; the right one can', async (t) => {
    if (skip) return t.skip(skip);
    const file = authFile('basic');
    const c = new RegistryClient({ authFile: file });
    const name = parseImageName(`${reg!.host}/secret/app:1`);
    await rejects(c.resolve(name), NotFound, /^pull access denied for .*may require 'docker login'/);
    await rejects(c.login(reg!.host, reg!.user!, 'wrong'), Unauthorized,
      new RegExp(`^login to ${reg!.host} failed: unauthorized: authentication required`));
    assert.ok(!existsSync(file), 'a failed login writes nothing');
    await c.login(reg!.host, reg!.user!, reg!.password!);
    assert.equal(statSync(file).mode & 0o777, 0o600);
    const got = await c.resolve(name);
    assert.equal(got.digest, img.manifest.desc.digest);
    const dest = join(mkdtempSync(join(tmp, 'basic-')), 'layer');
    await c.fetchBlob(name, img.layer.desc, dest);
    assert.ok(readFileSync(dest).equals(img.layer.data));
    const pushed = parseImageName(`${reg!.host}/secret/copy:1`);
    assert.equal(await c.pushBlob(pushed, img.layer.desc, img.layer.file, ['secret/app']), 'mounted');
  });

  test('credentials given in memory are used instead of the auth file, and a check-only login stores nothing', async (t) => {
    if (skip) return t.skip(skip);
    const file = authFile('basic-memory');
    storeCredentials(file, reg!.host, { username: reg!.user!, password: 'wrong' });
    const before = readFileSync(file, 'utf8');
    const c = new RegistryClient({ authFile: file, credentials: { [reg!.host]: { username: reg!.user!, password: reg!.password! } } });
    const got = await c.resolve(parseImageName(`${reg!.host}/secret/app:1`));
    assert.equal(got.digest, img.manifest.desc.digest);
    const plain = new RegistryClient({ authFile: authFile('basic-check') });
    await plain.login(reg!.host, reg!.user!, reg!.password!, false);
    assert.ok(!existsSync(authFile('basic-check')), 'a check-only login writes no auth file');
    await rejects(plain.login(reg!.host, reg!.user!, 'wrong', false), Unauthorized, /failed: unauthorized/);
    assert.equal(readFileSync(file, 'utf8'), before, 'the auth file is untouched');
  });

  test('a stored wrong password gives a clear unauthorized error', async (t) => {
    if (skip) return t.skip(skip);
    const file = authFile('basic-wrong');
    storeCredentials(file, reg!.host, { username: reg!.user!, password: 'wrong' });
    const c = new RegistryClient({ authFile: file });
    await rejects(c.resolve(parseImageName(`${reg!.host}/secret/app:1`)), RuntimeFailure,
      /unauthorized: authentication required/);
  });
});

// ---------------------------------------------------------------- token auth

describe('registry with token auth', () => {
  let reg: RegistryFixture | undefined;
  let skip = '';
  let img: Image;
  before(async () => {
    const r = await registryOrSkip('token');
    if (typeof r === 'string') {
      skip = r;
      return;
    }
    reg = r;
    img = ociImage(join(tmp, 'img-token'), '1');
    await pushWithSkopeo(img, '1', `${reg.host}/team/app:1`, reg);
  });
  after(async () => reg?.stop());

  test('bearer tokens: anonymous refused, login, cached tokens, pull, push with a cross-repository mount', async (t) => {
    if (skip) return t.skip(skip);
    const file = authFile('token');
    const c = new RegistryClient({ authFile: file });
    const name = parseImageName(`${reg!.host}/team/app:1`);
    await rejects(c.resolve(name), NotFound, /^pull access denied for .*team\/app.*unauthorized/);
    await rejects(c.login(reg!.host, reg!.user!, 'wrong'), Unauthorized,
      /^login to .* failed: unauthorized: incorrect username or password$/);
    await c.login(`http://${reg!.host}/`, reg!.user!, reg!.password!);
    assert.deepEqual(readCredentials(file, reg!.host), { username: reg!.user, password: reg!.password });
    const got = await c.resolve(name);
    assert.equal(got.digest, img.manifest.desc.digest);
    const before = reg!.tokenRequests();
    const dir = mkdtempSync(join(tmp, 'token-'));
    await c.fetchBlob(name, img.layer.desc, join(dir, 'layer'));
    await c.fetchBlob(name, img.config.desc, join(dir, 'config'));
    assert.equal(reg!.tokenRequests(), before, 'the pull token was reused');
    assert.ok(readFileSync(join(dir, 'layer')).equals(img.layer.data));
    // Mounting needs pull on the source too: one token covers both repositories.
    const other = parseImageName(`${reg!.host}/team/other:1`);
    assert.equal(await c.pushBlob(other, img.layer.desc, img.layer.file, ['team/app']), 'mounted');
    assert.equal(await c.pushBlob(other, img.config.desc, img.config.file), 'pushed');
    assert.equal(await c.putManifest(other, '1', OCI_MANIFEST, img.manifest.data), img.manifest.desc.digest);
    assert.equal(await skopeo(['inspect', '--raw', '--tls-verify=false', '--creds', `${reg!.user}:${reg!.password}`,
      `docker://${reg!.host}/team/other:1`]), img.manifest.data.toString());
  });
});

// ---------------------------------------------------------------- auth file

test('login and logout edit the auth file atomically, keeping other keys', async (t) => {
  const reg = await registryOrSkip('basic');
  if (typeof reg === 'string') return t.skip(reg);
  try {
    const file = join(mkdtempSync(join(tmp, 'authfile-')), 'docker', 'config.json');
    mkdirSync(join(file, '..'));
    writeFileSync(file, JSON.stringify({
      auths: { 'other.example.com': { auth: Buffer.from('a:b').toString('base64') } }, psFormat: 'table {{.ID}}',
    }));
    const c = new RegistryClient({ authFile: file });
    await c.login(reg.host, reg.user!, reg.password!);
    const saved = JSON.parse(readFileSync(file, 'utf8'));
    assert.equal(saved.psFormat, 'table {{.ID}}');
    assert.deepEqual(Object.keys(saved.auths).sort(), [reg.host, 'other.example.com']);
    assert.equal(Buffer.from(saved.auths[reg.host].auth, 'base64').toString(), `${reg.user}:${reg.password}`);
    assert.equal(statSync(file).mode & 0o777, 0o600);
    assert.equal(await c.logout(reg.host), true);
    assert.equal(await c.logout(reg.host), false);
    assert.deepEqual(Object.keys(JSON.parse(readFileSync(file, 'utf8')).auths), ['other.example.com']);
    assert.deepEqual(readCredentials(file, 'other.example.com'), { username: 'a', password: 'b' });
  } finally {
    await reg.stop();
  }
});

test('auth file: docker.io is stored under its legacy key, and every spelling of a host is found', () => {
  const file = join(mkdtempSync(join(tmp, 'keys-')), 'config.json');
  storeCredentials(file, 'docker.io', { username: 'u', password: 'p:with:colons' });
  const saved = JSON.parse(readFileSync(file, 'utf8'));
  assert.deepEqual(Object.keys(saved.auths), ['https://index.docker.io/v1/']);
  assert.deepEqual(readCredentials(file, 'index.docker.io'), { username: 'u', password: 'p:with:colons' });
  writeFileSync(file, JSON.stringify({ auths: { 'https://reg.example.com:5000/v2/': { username: 'x', password: 'y' } } }));
  assert.deepEqual(readCredentials(file, 'reg.example.com:5000'), { username: 'x', password: 'y' });
  assert.equal(readCredentials(file, 'reg.example.com'), undefined);
  assert.equal(removeCredentials(file, 'reg.example.com:5000'), true);
  assert.deepEqual(JSON.parse(readFileSync(file, 'utf8')).auths, {});
  truncateSync(file, 0);
  assert.equal(readCredentials(file, 'docker.io'), undefined, 'an empty file holds nothing');
});
