/**
 * `berth serve` on TCP, plain and over TLS, driven by the real docker CLI: `-H tcp://127.0.0.1:0` next to a
 * unix socket, `--tlsverify` with a CA, server and client certificates made here with openssl (runs and
 * hijacked stdin over TLS; clients without a certificate, or with one from another CA, are refused while
 * the server keeps serving), `--tls` alone, and the start-up refusals (plain TCP off loopback, missing or
 * bad certificate files, bad addresses, a port in use): exit 125, one line, nothing left listening.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { connect as netConnect } from 'node:net';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { connect as tlsConnect } from 'node:tls';
import { BERTH, eventually, setupEnv, type Env, type Result } from './helpers.ts';

const DOCKER = '/usr/local/bin/docker';
const skip = !existsSync(DOCKER) ? `no docker CLI at ${DOCKER}` : spawnSync('openssl', ['version']).status !== 0 ? 'no openssl' : false;
const opts = { skip };

let env: Env;
/** Certificates: `ca/` the CA, `server/` its cert and key, `client/` docker's ca.pem, cert.pem and key.pem. */
let pki = '';
/** docker's cert dir with only ca.pem: trusts the server, has no client certificate. */
let caOnly = '';
/** A client certificate from a CA the server does not trust. */
let rogue = '';
let plain: Served;
let secure: Served;
const started: Served[] = [];

interface Served {
  proc: ChildProcess;
  /** The TCP port of the first tcp:// listener. */
  port: number;
  log(): string;
  alive(): boolean;
  stop(): Promise<void>;
}

/** `berth serve ARGS`, once all `expect` listeners printed `API listening on …`. */
async function serve(args: string[], expect: number): Promise<Served> {
  const proc = spawn(BERTH, ['--root', env.root, 'serve', ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  proc.stderr!.on('data', (b: Buffer) => (log += b.toString()));
  const alive = () => proc.exitCode === null && proc.signalCode === null;
  const count = () => (log.match(/^API listening on /gm) ?? []).length;
  const s: Served = {
    proc,
    port: 0,
    log: () => log,
    alive,
    async stop() {
      if (!alive()) return;
      const exited = new Promise((r) => proc.once('exit', r));
      proc.kill('SIGTERM');
      const t = setTimeout(() => proc.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(t);
    },
  };
  started.push(s);
  assert.ok(await eventually(() => count() >= expect || !alive(), 20_000), `server did not start:\n${log}`);
  assert.ok(alive() && count() >= expect, `server did not start:\n${log}`);
  const m = /^API listening on tcp:\/\/127\.0\.0\.1:(\d+)$/m.exec(log);
  if (m) s.port = Number(m[1]);
  return s;
}

/** berth serve that must fail at start-up: it exits (no hang), 125, with one line on stderr. */
function serveFails(args: string[]): Result {
  const r = spawnSync(BERTH, ['--root', env.root, 'serve', ...args], { encoding: 'utf8', timeout: 20_000 });
  if (r.error) throw r.error;
  const res = { code: r.status ?? 128, stdout: r.stdout, stderr: r.stderr };
  assert.equal(res.code, 125, `berth serve ${args.join(' ')}: ${JSON.stringify(res)}`);
  assert.equal(res.stderr.trimEnd().split('\n').length, 1, `one line expected:\n${res.stderr}`);
  assert.match(res.stderr, /^Error: /);
  assert.doesNotMatch(res.stderr, /API listening/);
  return res;
}

function dockerEnv(host: string, tls: Record<string, string> = {}): NodeJS.ProcessEnv {
  const e: NodeJS.ProcessEnv = { ...process.env };
  for (const k of ['DOCKER_HOST', 'DOCKER_TLS', 'DOCKER_TLS_VERIFY', 'DOCKER_CERT_PATH', 'DOCKER_CONTEXT']) delete e[k];
  return { ...e, DOCKER_HOST: host, DOCKER_CONFIG: join(env.root, 'docker-config'), DOCKER_CLI_HINTS: 'false', ...tls };
}

function docker(dockerEnv: NodeJS.ProcessEnv, args: string[], input?: string): Result {
  const r = spawnSync(DOCKER, args, { encoding: 'utf8', input: input ?? '', timeout: 60_000, env: dockerEnv, maxBuffer: 64 << 20 });
  if (r.error) throw r.error;
  return { code: r.status ?? 128, stdout: r.stdout, stderr: r.stderr };
}

function ok(server: Served, dockerEnv: NodeJS.ProcessEnv, args: string[], input?: string): string {
  const r = docker(dockerEnv, args, input);
  assert.equal(r.code, 0, `docker ${args.join(' ')} failed (${r.code}):\n${r.stderr}\nserver:\n${server.log().slice(-3000)}`);
  return r.stdout;
}

const tlsEnv = (port: number, certDir: string) => dockerEnv(`tcp://127.0.0.1:${port}`, { DOCKER_TLS_VERIFY: '1', DOCKER_CERT_PATH: certDir });

function openssl(args: string[], cwd: string): void {
  const r = spawnSync('openssl', args, { cwd, encoding: 'utf8' });
  assert.equal(r.status, 0, `openssl ${args.join(' ')}:\n${r.stderr}`);
}

/** A CA in `dir` (ca.pem, ca-key.pem), and `issue` for leaf certificates it signs. */
function makeCa(dir: string, name: string): { issue(out: string, cn: string, ext: string[]): void } {
  mkdirSync(dir, { recursive: true });
  const key = (file: string) => openssl(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', file], dir);
  key('ca-key.pem');
  writeFileSync(join(dir, 'ca.ext'), 'basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\n');
  openssl(['req', '-new', '-key', 'ca-key.pem', '-subj', `/CN=${name}`, '-out', 'ca.csr'], dir);
  openssl(['x509', '-req', '-in', 'ca.csr', '-signkey', 'ca-key.pem', '-days', '2', '-sha256', '-extfile', 'ca.ext', '-out', 'ca.pem'], dir);
  return {
    issue(out, cn, ext) {
      mkdirSync(join(dir, out));
      key(`${out}/key.pem`);
      writeFileSync(join(dir, out, 'ext'), ['basicConstraints=CA:FALSE', 'keyUsage=critical,digitalSignature', ...ext, ''].join('\n'));
      openssl(['req', '-new', '-key', `${out}/key.pem`, '-subj', `/CN=${cn}`, '-out', `${out}/csr`], dir);
      openssl(
        ['x509', '-req', '-in', `${out}/csr`, '-CA', 'ca.pem', '-CAkey', 'ca-key.pem', '-set_serial', `0x${randomBytes(8).toString('hex')}`, '-days', '2', '-sha256', '-extfile', `${out}/ext`, '-out', `${out}/cert.pem`],
        dir,
      );
      copyFileSync(join(dir, 'ca.pem'), join(dir, out, 'ca.pem'));
    },
  };
}

/** A raw TLS client: GET /_ping with (or without) a client certificate; what came back and how it ended. */
function tlsPing(port: number, client: { cert?: Buffer; key?: Buffer }): Promise<{ reply: string; error?: string }> {
  return new Promise((resolve) => {
    let reply = '';
    let error: string | undefined;
    const c = tlsConnect({ host: '127.0.0.1', port, ca: readFileSync(join(pki, 'ca.pem')), ...client });
    c.setTimeout(10_000, () => c.destroy(new Error('timed out')));
    c.on('secureConnect', () => c.write('GET /_ping HTTP/1.1\r\nHost: berth\r\nConnection: close\r\n\r\n'));
    c.on('data', (b: Buffer) => (reply += b.toString()));
    c.on('error', (e) => (error = e.message));
    c.on('close', () => resolve({ reply, error }));
  });
}

/** Whether anything accepts TCP connections on 127.0.0.1:port. */
function tcpAnswers(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const c = netConnect({ host: '127.0.0.1', port });
    c.once('connect', () => {
      c.destroy();
      resolve(true);
    });
    c.once('error', () => resolve(false));
  });
}

before(async () => {
  if (skip) return;
  env = setupEnv('api-tls');
  pki = join(env.root, 'pki');
  const ca = makeCa(pki, 'berth test CA');
  ca.issue('server', 'localhost', ['extendedKeyUsage=serverAuth', 'subjectAltName=IP:127.0.0.1,DNS:localhost']);
  ca.issue('client', 'berth test client', ['extendedKeyUsage=clientAuth']);
  caOnly = join(pki, 'ca-only');
  mkdirSync(caOnly);
  copyFileSync(join(pki, 'ca.pem'), join(caOnly, 'ca.pem'));
  makeCa(join(pki, 'rogue'), 'rogue CA').issue('client', 'rogue client', ['extendedKeyUsage=clientAuth']);
  rogue = join(pki, 'rogue', 'client');
  // docker must trust our CA for the server, while presenting the rogue client certificate.
  copyFileSync(join(pki, 'ca.pem'), join(rogue, 'ca.pem'));

  plain = await serve(['-H', `unix://${join(env.root, 'api.sock')}`, '-H', 'tcp://127.0.0.1:0'], 2);
  secure = await serve(
    ['--tlsverify', '--tlscacert', join(pki, 'ca.pem'), '--tlscert', join(pki, 'server', 'cert.pem'), '--tlskey', join(pki, 'server', 'key.pem'), '-H', 'tcp://127.0.0.1:0'],
    1,
  );
});

after(async () => {
  for (const s of started) await s.stop();
  env?.teardown();
});

test('plain tcp://127.0.0.1:0 next to a unix socket: docker version and docker run', opts, () => {
  assert.ok(plain.port > 0, plain.log());
  assert.match(plain.log(), /^API listening on \/.*\/api\.sock$/m);
  assert.match(plain.log(), /^WARNING: tcp:\/\/127\.0\.0\.1:\d+ has no client authentication/m);
  const tcp = dockerEnv(`tcp://127.0.0.1:${plain.port}`);
  assert.equal(ok(plain, tcp, ['version', '--format', '{{.Server.APIVersion}}']), '1.51\n');
  assert.equal(ok(plain, tcp, ['run', '--rm', 'busybox', 'echo', 'hi']), 'hi\n');
  // The unix socket of the same server still answers.
  assert.equal(ok(plain, dockerEnv(`unix://${join(env.root, 'api.sock')}`), ['version', '--format', '{{.Server.APIVersion}}']), '1.51\n');
});

test('--tlsverify: docker run over TLS, and stdin through hijacked attach and exec streams', opts, () => {
  assert.ok(secure.port > 0, secure.log());
  assert.doesNotMatch(secure.log(), /WARNING/);
  const e = tlsEnv(secure.port, join(pki, 'client'));
  assert.equal(ok(secure, e, ['run', '--rm', 'busybox', 'echo', 'hi']), 'hi\n');
  assert.equal(ok(secure, e, ['run', '--rm', '-i', 'busybox', 'cat'], 'piped over TLS\n'), 'piped over TLS\n');
  // Enough bytes to span many TLS records each way.
  const big = randomBytes(192 << 10).toString('base64').replace(/(.{76})/g, '$1\n') + '\n';
  assert.equal(ok(secure, e, ['run', '--rm', '-i', 'busybox', 'cat'], big), big);
  const name = 'api-tls-exec';
  ok(secure, e, ['run', '-d', '--name', name, 'busybox', 'sleep', '60']);
  try {
    assert.equal(ok(secure, e, ['exec', '-i', name, 'cat'], 'exec over TLS\n'), 'exec over TLS\n');
    assert.equal(ok(secure, e, ['exec', name, 'echo', 'exec out']), 'exec out\n');
  } finally {
    docker(e, ['rm', '-f', name]);
  }
});

test('--tlsverify: docker run -it (a terminal, through script(1)) over TLS', { skip: skip || (existsSync('/usr/bin/script') ? false : 'no script(1)') }, async () => {
  const c = spawn('/usr/bin/script', ['-qec', `${DOCKER} run --rm -it busybox sh -c 'tty; read x; echo got:$x; exit 7'`, '/dev/null'], {
    env: tlsEnv(secure.port, join(pki, 'client')),
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let out = '';
  c.stdout!.on('data', (b: Buffer) => (out += b.toString()));
  c.stderr!.on('data', (b: Buffer) => (out += b.toString()));
  const exited = new Promise<number | null>((r) => c.once('exit', (code) => r(code)));
  // Typed ahead: the terminal holds it until the container's shell reads.
  c.stdin!.write('hello\r');
  const t = setTimeout(() => c.kill('SIGKILL'), 30_000);
  const code = await exited;
  clearTimeout(t);
  c.stdin!.end();
  assert.equal(code, 7, `${out}\nserver:\n${secure.log().slice(-2000)}`);
  assert.match(out, /\/dev\/pts\/\d+/);
  assert.match(out, /got:hello/);
});

test('--tlsverify refuses clients without a certificate, or with one another CA signed; the server keeps serving', opts, async () => {
  // The docker CLI trusting the server but with no client certificate.
  const none = docker(tlsEnv(secure.port, caOnly), ['version', '--format', '{{.Server.APIVersion}}']);
  assert.notEqual(none.code, 0, none.stdout);
  assert.match(none.stderr, /certificate required|bad certificate|handshake/i);
  // docker with DOCKER_TLS=1 (encrypt, verify nothing; it insists on a ca.pem to load) and no client certificate.
  const bare = docker(dockerEnv(`tcp://127.0.0.1:${secure.port}`, { DOCKER_TLS: '1', DOCKER_CERT_PATH: caOnly }), ['version', '--format', '{{.Server.APIVersion}}']);
  assert.notEqual(bare.code, 0, bare.stdout);
  assert.match(bare.stderr, /certificate required|bad certificate|handshake/i);
  // A client certificate signed by a CA the server does not trust.
  const other = docker(tlsEnv(secure.port, rogue), ['version', '--format', '{{.Server.APIVersion}}']);
  assert.notEqual(other.code, 0, other.stdout);
  assert.match(other.stderr, /unknown (certificate )?authority|bad certificate|handshake|certificate/i);
  // Raw node:tls: no HTTP reply without a certificate, a 200 with the right one.
  const raw = await tlsPing(secure.port, {});
  assert.doesNotMatch(raw.reply, /HTTP\/1\.1/);
  assert.ok(raw.error, 'the handshake should fail');
  const good = await tlsPing(secure.port, { cert: readFileSync(join(pki, 'client', 'cert.pem')), key: readFileSync(join(pki, 'client', 'key.pem')) });
  assert.match(good.reply, /^HTTP\/1\.1 200 /);
  assert.match(good.reply, /\r\n\r\nOK$/);
  // Plain HTTP on the TLS port gets no API answer.
  const viaPlain = docker(dockerEnv(`tcp://127.0.0.1:${secure.port}`), ['version', '--format', '{{.Server.APIVersion}}']);
  assert.notEqual(viaPlain.code, 0);
  assert.ok(secure.alive(), secure.log());
  assert.match(secure.log(), /TLS handshake from .* refused/);
  assert.equal(ok(secure, tlsEnv(secure.port, join(pki, 'client')), ['version', '--format', '{{.Server.APIVersion}}']), '1.51\n');
});

test('--tls alone: the server proves itself, clients need no certificate', opts, async () => {
  const s = await serve(['--tls', '--tlscert', join(pki, 'server', 'cert.pem'), '--tlskey', join(pki, 'server', 'key.pem'), '-H', 'tcp://127.0.0.1:0'], 1);
  try {
    assert.match(s.log(), /^WARNING: tcp:\/\/127\.0\.0\.1:\d+ has no client authentication/m);
    assert.equal(ok(s, tlsEnv(s.port, caOnly), ['version', '--format', '{{.Server.APIVersion}}']), '1.51\n');
    assert.equal(ok(s, tlsEnv(s.port, caOnly), ['run', '--rm', '-i', 'busybox', 'cat'], 'tls only\n'), 'tls only\n');
    const r = await tlsPing(s.port, {});
    assert.match(r.reply, /^HTTP\/1\.1 200 /);
  } finally {
    await s.stop();
  }
  assert.equal(s.proc.exitCode, 0, s.log());
  assert.equal(await tcpAnswers(s.port), false);
});

test('plain TCP off loopback is refused (exit 125), and nothing is left listening', opts, () => {
  const sock = join(env.root, 'refused.sock');
  for (const host of ['tcp://0.0.0.0:0', 'tcp://:0', 'tcp://[::]:0']) {
    const r = serveFails(['-H', `unix://${sock}`, '-H', host]);
    assert.match(r.stderr, /--tlsverify/);
    assert.match(r.stderr, /127\.0\.0\.1/);
    assert.equal(existsSync(sock), false, 'the unix socket was not left behind');
  }
  // TLS without client certificates is no authentication either.
  const tlsOnly = serveFails(['--tls', '--tlscert', join(pki, 'server', 'cert.pem'), '--tlskey', join(pki, 'server', 'key.pem'), '-H', 'tcp://0.0.0.0:0']);
  assert.match(tlsOnly.stderr, /--tlsverify/);
});

test('missing or bad certificate files, bad addresses: exit 125 with one line', opts, () => {
  const server = (f: string) => join(pki, 'server', f);
  const missing = serveFails(['--tlsverify', '--tlscacert', join(pki, 'ca.pem'), '--tlscert', join(pki, 'nosuch.pem'), '--tlskey', server('key.pem'), '-H', 'tcp://127.0.0.1:0']);
  assert.match(missing.stderr, /nosuch\.pem: no such file/);
  const noCa = serveFails(['--tlsverify', '--tlscacert', join(pki, 'nosuch-ca.pem'), '--tlscert', server('cert.pem'), '--tlskey', server('key.pem'), '-H', 'tcp://127.0.0.1:0']);
  assert.match(noCa.stderr, /nosuch-ca\.pem/);
  writeFileSync(join(pki, 'garbage.pem'), 'not a certificate\n');
  const badCa = serveFails(['--tlsverify', '--tlscacert', join(pki, 'garbage.pem'), '--tlscert', server('cert.pem'), '--tlskey', server('key.pem'), '-H', 'tcp://127.0.0.1:0']);
  assert.match(badCa.stderr, /garbage\.pem is not a PEM certificate/);
  const mismatch = serveFails(['--tls', '--tlscert', server('cert.pem'), '--tlskey', join(pki, 'client', 'key.pem'), '-H', 'tcp://127.0.0.1:0']);
  assert.match(mismatch.stderr, /mismatch/);
  const noFlag = serveFails(['--tlscert', server('cert.pem'), '-H', 'tcp://127.0.0.1:0']);
  assert.match(noFlag.stderr, /--tlscert given without --tls or --tlsverify/);
  for (const bad of ['tcp://127.0.0.1:70000', 'tcp://127.0.0.1:port', 'ssh://host', 'tcp://[nope]:1', 'relative.sock']) {
    assert.match(serveFails(['-H', bad]).stderr, /address/);
  }
});

test('a TCP port in use: exit 125, and the listeners opened before it are closed again', opts, async () => {
  const sock = join(env.root, 'busy.sock');
  const r = serveFails(['-H', `unix://${sock}`, '-H', `tcp://127.0.0.1:${plain.port}`]);
  assert.match(r.stderr, /address already in use/);
  assert.equal(existsSync(sock), false);
  // The server that holds the port is untouched.
  assert.equal(ok(plain, dockerEnv(`tcp://127.0.0.1:${plain.port}`), ['version', '--format', '{{.Server.APIVersion}}']), '1.51\n');
});

test('SIGTERM closes every listener, live TLS streams included: the TCP port refuses, the unix socket is gone', opts, async () => {
  // A hijacked stream open over TLS while the server stops: it is dropped, and does not hold the server up.
  const live = spawn(DOCKER, ['run', '--rm', '-i', 'busybox', 'cat'], { env: tlsEnv(secure.port, join(pki, 'client')), stdio: ['pipe', 'pipe', 'pipe'] });
  let echoed = '';
  live.stdout!.on('data', (b: Buffer) => (echoed += b.toString()));
  const liveExit = new Promise((r) => live.once('exit', r));
  live.stdin!.write('still here\n');
  assert.ok(await eventually(() => echoed.includes('still here'), 30_000), `no echo over TLS:\n${secure.log().slice(-2000)}`);
  for (const s of [plain, secure]) {
    assert.ok(s.alive(), s.log());
    const t0 = Date.now();
    await s.stop();
    assert.ok(Date.now() - t0 < 9_000, 'stopped without SIGKILL');
    assert.equal(s.proc.exitCode, 0, s.log());
    assert.equal(await tcpAnswers(s.port), false);
  }
  assert.equal(existsSync(join(env.root, 'api.sock')), false);
  const t = setTimeout(() => live.kill('SIGKILL'), 10_000);
  await liveExit;
  clearTimeout(t);
  // No request failed inside either server.
  for (const s of [plain, secure]) assert.doesNotMatch(s.log(), /berth serve: (?!TLS handshake)|internal error|TypeError|ReferenceError/, s.log());
});
