/**
 * Registry credentials kept by docker credential helpers (`credsStore`, `credHelpers` in the docker config
 * file), and `push -a`, against a loopback docker-registry with basic auth; `docker push -a` through
 * `berth serve` (the docker CLI reading the same helper).
 *
 * The helpers are ours: small shell scripts `docker-credential-<name>` in a temporary bin directory put
 * first on PATH for berth, each keeping what it is given in files of its own directory and logging the
 * actions it was run for. Berth gets DOCKER_CONFIG pointing at a temporary directory: it never reads or
 * writes the user's config.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cli, runAsync, show, type BerthOpts, type Env } from './helpers.ts';
import { call, DOCKER, dockerEnv, needsDockerCli, startApiServer, type ApiServer } from './api-server.ts';
import { startRegistry, type RegistryFixture } from '../fixtures/registry.ts';
import { haveSkopeo, tarOf } from '../fixtures/oci-image.ts';

let api: ApiServer;
let env: Env;
let reg: RegistryFixture | undefined;
let skip: string | false = false;
let work: string;

before(async () => {
  api = await startApiServer('credhelpers');
  env = api.env;
  work = mkdtempSync('/tmp/berth-credhelpers-');
  mkdirSync(join(work, 'bin'));
  try {
    reg = await startRegistry({ auth: 'basic' });
  } catch (e) {
    if (!(e as Error).message.startsWith('SKIP:')) throw e;
    skip = (e as Error).message;
  }
});

after(async () => {
  await reg?.stop();
  await api?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

const { ok } = cli(() => env);

/** A helper speaking docker's protocol; what it holds is one file per server URL under its own directory. */
interface Helper {
  /** The actions it was run for, in order. */
  calls(): string[];
  /** What it holds for a server URL (the JSON `store` was given), if anything. */
  held(serverURL: string): string | undefined;
}

const fileOf = (serverURL: string) => serverURL.replace(/[^A-Za-z0-9.-]/g, '_');

function makeHelper(name: string): Helper {
  const dir = join(work, `helper-${name}`);
  mkdirSync(join(dir, 'store'), { recursive: true });
  writeFileSync(join(dir, 'calls'), '');
  const script = `#!/bin/sh
dir='${dir}'
echo "$1" >> "$dir/calls"
key() { printf '%s' "$1" | tr -c 'A-Za-z0-9.-' '_'; }
case "$1" in
store)
  json=$(cat)
  url=$(printf '%s' "$json" | sed -n 's/.*"ServerURL":"\\([^"]*\\)".*/\\1/p')
  [ -n "$url" ] || { echo 'no credentials server URL'; exit 1; }
  printf '%s' "$json" > "$dir/store/$(key "$url")" ;;
get|erase)
  f="$dir/store/$(key "$(cat)")"
  [ -f "$f" ] || { echo 'credentials not found in native keychain'; exit 1; }
  if [ "$1" = get ]; then cat "$f"; else rm "$f"; fi ;;
list)
  sep=''; printf '{'
  for f in "$dir"/store/*; do
    [ -f "$f" ] || continue
    printf '%s"%s":"%s"' "$sep" "$(sed -n 's/.*"ServerURL":"\\([^"]*\\)".*/\\1/p' "$f")" "$(sed -n 's/.*"Username":"\\([^"]*\\)".*/\\1/p' "$f")"
    sep=','
  done
  echo '}' ;;
*) echo "unknown action: $1" >&2; exit 1 ;;
esac
`;
  const program = join(work, 'bin', `docker-credential-${name}`);
  writeFileSync(program, script);
  chmodSync(program, 0o755);
  return {
    calls: () => readFileSync(join(dir, 'calls'), 'utf8').split('\n').filter(Boolean),
    held: (url) => {
      const f = join(dir, 'store', fileOf(url));
      return existsSync(f) ? readFileSync(f, 'utf8') : undefined;
    },
  };
}

/** A docker config directory holding this config.json; berth options that make berth use it. */
function dockerConfig(name: string, config: object): { file: string; opts: { env: NodeJS.ProcessEnv } } {
  const dir = join(work, `config-${name}`);
  mkdirSync(dir, { recursive: true });
  const file = join(dir, 'config.json');
  writeFileSync(file, JSON.stringify(config));
  return { file, opts: { env: { DOCKER_CONFIG: dir, REGISTRY_AUTH_FILE: '', PATH: `${join(work, 'bin')}:${process.env.PATH}` } } };
}

function login(opts: BerthOpts): string {
  return ok(['login', '-u', reg!.user!, '--password-stdin', reg!.host], { ...opts, input: `${reg!.password}\n` }).stdout;
}

/** Nothing in the config file that could be the password, plain or in base64. */
function assertNoSecret(file: string): void {
  const text = readFileSync(file, 'utf8');
  assert.ok(!text.includes(reg!.password!), text);
  assert.ok(!text.includes(Buffer.from(`${reg!.user}:${reg!.password}`).toString('base64')), text);
}

test('credsStore: login stores through the helper, pull and push use only its credentials, logout erases', async (t) => {
  if (skip) return t.skip(skip);
  const helper = makeHelper('berthtest');
  const { file, opts } = dockerConfig('store', { credsStore: 'berthtest', psFormat: 'table {{.ID}}' });
  const ref = `${reg!.host}/private/bb:1`;
  ok(['tag', 'busybox', ref]);

  assert.equal(login(opts).trim(), 'Login Succeeded');
  const saved = JSON.parse(readFileSync(file, 'utf8'));
  assert.deepEqual(saved.auths, { [reg!.host]: {} }, 'the file keeps an empty entry, as docker leaves it');
  assert.equal(saved.credsStore, 'berthtest');
  assert.equal(saved.psFormat, 'table {{.ID}}');
  assertNoSecret(file);
  assert.deepEqual(JSON.parse(helper.held(reg!.host)!), { ServerURL: reg!.host, Username: reg!.user, Secret: reg!.password });

  assert.match(ok(['push', ref], opts).stdout, /1: digest: sha256:[0-9a-f]{64}/);
  ok(['rmi', ref]);
  const anonymous = env.berth(['pull', ref], dockerConfig('empty', {}).opts);
  assert.equal(anonymous.code, 1, show(anonymous));
  assert.match(anonymous.stderr, /pull access denied/);
  assert.equal(ok(['pull', ref], opts).stdout.trim().split('\n').at(-1), ref);
  assert.ok(helper.calls().includes('get'), helper.calls().join(' '));
  assertNoSecret(file);

  assert.equal(ok(['logout', reg!.host], opts).stdout.trim(), `Removing login credentials for ${reg!.host}`);
  assert.equal(helper.held(reg!.host), undefined, 'the helper erased them');
  assert.equal(helper.calls().at(-1), 'erase');
  assert.deepEqual(JSON.parse(readFileSync(file, 'utf8')).auths, {});
  ok(['rmi', ref]);
  const after = env.berth(['pull', ref], opts);
  assert.equal(after.code, 1, show(after));
  assert.match(after.stderr, /pull access denied/);
  assert.equal(ok(['logout', reg!.host], opts).stdout.trim(), `Not logged in to ${reg!.host}`);
});

test('credHelpers names a helper for the registry that wins over credsStore', async (t) => {
  if (skip) return t.skip(skip);
  const store = makeHelper('berthstore');
  const own = makeHelper('berthown');
  const { file, opts } = dockerConfig('helpers', { credsStore: 'berthstore', credHelpers: { [reg!.host]: 'berthown', 'other.example.com': 'nope' } });
  const ref = `${reg!.host}/private/own:1`;
  ok(['tag', 'busybox', ref]);
  try {
    login(opts);
    assert.ok(own.held(reg!.host), 'stored by the registry\'s own helper');
    assertNoSecret(file);
    ok(['push', '-q', ref], opts);
    ok(['rmi', ref]);
    ok(['pull', '-q', ref], opts);
    assert.deepEqual(store.calls(), [], 'the credsStore helper is never run for this registry');
    assert.deepEqual(own.calls().slice(0, 2), ['store', 'get']);
    ok(['logout', reg!.host], opts);
    assert.equal(own.held(reg!.host), undefined);
  } finally {
    env.berth(['rmi', ref]);
  }
});

test('a missing or failing helper is one line naming it, exit 1; nothing secret is written', async (t) => {
  if (skip) return t.skip(skip);
  const ref = `${reg!.host}/private/bb:1`;
  const missing = dockerConfig('missing', { credHelpers: { [reg!.host]: 'nope' } });
  for (const args of [['pull', ref], ['login', '-u', reg!.user!, '--password-stdin', reg!.host]]) {
    const r = env.berth(args, { ...missing.opts, input: `${reg!.password}\n` });
    assert.equal(r.code, 1, show(r));
    const verb = args[0] === 'pull' ? 'getting' : 'storing';
    assert.equal(r.stderr, `Error: error ${verb} credentials - err: exec: "docker-credential-nope": executable file not found in $PATH\n`);
    assert.equal(r.stdout.includes('Login Succeeded'), false);
  }
  assertNoSecret(missing.file);

  const program = join(work, 'bin', 'docker-credential-berthbroken');
  writeFileSync(program, '#!/bin/sh\ncat >/dev/null\necho "the keychain is locked"\nexit 3\n');
  chmodSync(program, 0o755);
  const r = env.berth(['pull', ref], dockerConfig('broken', { credsStore: 'berthbroken' }).opts);
  assert.equal(r.code, 1, show(r));
  assert.equal(r.stderr, 'Error: error getting credentials - err: docker-credential-berthbroken: exit status 3, out: `the keychain is locked`\n');
});

test('push -a pushes every local tag of the repository, one after another; a tag with -a is refused', async (t) => {
  if (skip) return t.skip(skip);
  makeHelper('berthall');
  const { opts } = dockerConfig('all', { credsStore: 'berthall' });
  const repo = `${reg!.host}/multi/bb`;
  const layer = join(work, 'tiny.tar');
  writeFileSync(layer, await tarOf([{ name: 'hello', data: 'hello\n' }]));
  ok(['tag', 'busybox', `${repo}:1`]);
  ok(['import', '--change', 'CMD ["/hello"]', layer, `${repo}:2`]);
  try {
    login(opts);
    const refused = env.berth(['push', '-a', `${repo}:1`], opts);
    assert.equal(refused.code, 1, show(refused));
    assert.equal(refused.stderr, "Error: tag can't be used with --all-tags/-a\n");

    const out = ok(['push', '--all-tags', repo], opts).stdout;
    assert.equal(out.match(/The push refers to repository/g)?.length, 1, out);
    const digests = [...out.matchAll(/^(\d): digest: (sha256:[0-9a-f]{64}) size: \d+$/gm)].map((m) => [m[1], m[2]]);
    assert.deepEqual(digests.map((d) => d[0]), ['1', '2'], out);
    assert.notEqual(digests[0]![1], digests[1]![1]);

    if (haveSkopeo()) {
      const creds = ['--creds', `${reg!.user}:${reg!.password}`, '--tls-verify=false'];
      const tags = spawnSync('skopeo', ['list-tags', ...creds, `docker://${repo}`], { encoding: 'utf8' });
      assert.equal(tags.status, 0, tags.stderr);
      assert.deepEqual(JSON.parse(tags.stdout).Tags.sort(), ['1', '2']);
    }
    // Both pull back by the digests push printed.
    ok(['rmi', `${repo}:1`, `${repo}:2`]);
    for (const [tag, digest] of digests) {
      ok(['pull', '-q', `${repo}:${tag}`], opts);
      assert.match(ok(['images', '--digests', repo]).stdout, new RegExp(`${tag}\\s+${digest}`));
    }
    const missing = env.berth(['push', '-a', `${reg!.host}/multi/none`], opts);
    assert.equal(missing.code, 1, show(missing));
    assert.equal(missing.stderr, `Error: An image does not exist locally with the tag: ${reg!.host}/multi/none\n`);
    ok(['logout', reg!.host], opts);
  } finally {
    env.berth(['rmi', `${repo}:1`, `${repo}:2`]);
    rmSync(layer, { force: true });
  }
});

test('docker push -a through berth serve: every tag, an aux object each; the docker CLI reads our helper too', needsDockerCli, async (t) => {
  if (skip) return t.skip(skip);
  const helper = makeHelper('berthdocker');
  const { opts } = dockerConfig('docker', { credsStore: 'berthdocker' });
  const docker = (args: string[], input = '') => runAsync(DOCKER, args, { env: { ...dockerEnv(api), ...opts.env }, input });
  const repo = `${reg!.host}/api/all`;
  ok(['tag', 'busybox', `${repo}:a`]);
  ok(['tag', 'busybox', `${repo}:b`]);
  try {
    const login = await docker(['login', '-u', reg!.user!, '--password-stdin', reg!.host], `${reg!.password}\n`);
    assert.equal(login.code, 0, show(login));
    assert.ok(helper.held(reg!.host), 'the docker CLI stored through the helper');
    const push = await docker(['push', '-a', repo]);
    assert.equal(push.code, 0, `${show(push)}\nserver:\n${api.log().slice(-2000)}`);
    assert.deepEqual([...push.stdout.matchAll(/^(\w): digest: sha256:[0-9a-f]{64}/gm)].map((m) => m[1]), ['a', 'b'], push.stdout);
    // Raw: a name without a tag is every tag, each followed by its aux object.
    const auth = Buffer.from(JSON.stringify({ username: reg!.user, password: reg!.password, serveraddress: reg!.host })).toString('base64url');
    const raw = await call(api.sock, 'POST', `/images/${encodeURIComponent(repo)}/push`, undefined, { 'X-Registry-Auth': auth });
    assert.equal(raw.status, 200);
    const aux = raw.text.split('\n').filter((l) => l.trim()).map((l) => JSON.parse(l) as { aux?: { Tag: string } }).flatMap((m) => (m.aux ? [m.aux.Tag] : []));
    assert.deepEqual(aux, ['a', 'b'], raw.text);
    // berth reads what docker stored, through the same helper.
    ok(['rmi', `${repo}:a`, `${repo}:b`]);
    ok(['pull', '-q', `${repo}:b`], opts);
    const logout = await docker(['logout', reg!.host]);
    assert.equal(logout.code, 0, show(logout));
    assert.equal(helper.held(reg!.host), undefined);
  } finally {
    env.berth(['rmi', `${repo}:a`, `${repo}:b`]);
  }
});
