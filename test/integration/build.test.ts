/**
 * `berth build`: Dockerfiles of our own built for real (RUN in containers of the engine, COPY and ADD into
 * layers), then run. The instructions and their effect on the image config; multi-stage builds and
 * --target; the cache across invocations (a rebuild runs no container; a changed file rebuilds from the
 * first step that reads it; .dockerignore'd files do not count); heredocs; ADD of a tar and of a URL;
 * --chown/--chmod; ONBUILD; a context on stdin; what a failing RUN and bad Dockerfiles leave (nothing).
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { BERTH, cli, conmonsOf, eventually, type Env, setupEnv, type Result } from './helpers.ts';
import { skipWithoutTmux, TmuxServer } from './tmux.ts';

let env: Env;
const { ok, out, allIds } = cli(() => env);
let n = 0;

before(() => {
  env = setupEnv('build');
});

after(() => {
  env?.teardown();
});

/** A fresh context directory holding `files` (path → content; a trailing `/` makes a directory). */
function context(files: Record<string, string>): string {
  const dir = join(env.root, `ctx-${++n}`);
  mkdirSync(dir);
  for (const [path, content] of Object.entries(files)) {
    if (path.endsWith('/')) mkdirSync(join(dir, path), { recursive: true });
    else {
      mkdirSync(join(dir, path, '..'), { recursive: true });
      writeFileSync(join(dir, path), content);
    }
  }
  return dir;
}

function build(dir: string, args: string[] = [], input?: string | Buffer): Result {
  return env.berth(['build', ...args, dir], input === undefined ? {} : { input });
}

function built(dir: string, args: string[] = []): { id: string; log: string } {
  const r = build(dir, args);
  assert.equal(r.code, 0, `build failed:\n${r.stderr}`);
  const m = /writing image sha256:([0-9a-f]{64})/.exec(r.stderr);
  assert.ok(m, r.stderr);
  return { id: m[1]!, log: r.stderr };
}

const config = (ref: string) => JSON.parse(out(['image', 'inspect', '-f', '{{json .Config}}', ref])) as Record<string, unknown>;
/** Containers the engine created since `since` (RFC 3339), from its events. */
const createsSince = (since: string) => out(['events', '--since', since, '--until', new Date(Date.now() + 1000).toISOString(), '--filter', 'event=create', '--format', '{{.ID}}']).split('\n').filter(Boolean).length;
/** Build work dirs left under the root (mounts, unpacked contexts). */
const buildLeft = () => readdirSync(join(env.root, 'build'));

test('instructions: ARG, ENV, WORKDIR, COPY, RUN, USER, EXPOSE, VOLUME, LABEL, STOPSIGNAL, HEALTHCHECK, SHELL, ENTRYPOINT, CMD; the image runs', () => {
  const dir = context({
    'Dockerfile': [
      'FROM busybox:latest',
      'ARG GREETING=hello',
      'ENV APP=/srv/app NAME="a b"',
      'WORKDIR $APP',
      'COPY app.txt conf/ ./',
      'RUN echo "$GREETING $NAME" > greeting && echo "svc:x:1234:1234::/:/bin/sh" >> /etc/passwd',
      'USER svc',
      'EXPOSE 8080 53/udp',
      'VOLUME ["/data"]',
      'LABEL org.example.team=berth "other"="x y"',
      'STOPSIGNAL SIGINT',
      'HEALTHCHECK --interval=5s --retries=2 CMD test -f greeting',
      'SHELL ["/bin/sh", "-ec"]',
      'ENTRYPOINT ["sh", "-c"]',
      'CMD ["cat greeting app.txt settings"]',
      '',
    ].join('\n'),
    'app.txt': 'app\n',
    'conf/settings': 'debug=1\n',
  });
  const { id } = built(dir, ['-t', 'built:one']);
  const c = config('built:one');
  assert.ok((c.Env as string[]).includes('APP=/srv/app'));
  assert.ok((c.Env as string[]).includes('NAME=a b'));
  assert.ok(!(c.Env as string[]).some((e) => e.startsWith('GREETING=')), 'an ARG is not in the image');
  assert.equal(c.WorkingDir, '/srv/app');
  assert.equal(c.User, 'svc');
  assert.deepEqual(c.ExposedPorts, { '8080/tcp': {}, '53/udp': {} });
  assert.deepEqual(c.Volumes, { '/data': {} });
  assert.deepEqual(c.Labels, { 'org.example.team': 'berth', other: 'x y' });
  assert.equal(c.StopSignal, 'SIGINT');
  assert.deepEqual(c.Healthcheck, { Test: ['CMD-SHELL', 'test -f greeting'], Interval: 5_000_000_000, Retries: 2 });
  assert.deepEqual(c.Shell, ['/bin/sh', '-ec']);
  assert.deepEqual(c.Entrypoint, ['sh', '-c']);
  assert.deepEqual(c.Cmd, ['cat greeting app.txt settings']);
  assert.equal(out(['run', '--rm', 'built:one']), 'hello a b\napp\ndebug=1\n');
  assert.equal(out(['run', '--rm', 'built:one', 'id -u; ls -ld /srv/app | cut -c1-10']), '1234\ndrwxr-xr-x\n');
  // The history names the steps; config-only ones made no layer.
  const history = out(['history', '--no-trunc', '--format', '{{.CreatedBy}}|{{.Size}}', id]).split('\n').filter(Boolean);
  assert.match(history[0]!, /^CMD \["cat greeting app.txt settings"\]\|0B$/);
  assert.ok(history.some((h) => /^RUN \/bin\/sh -c echo "\$GREETING \$NAME" > greeting/.test(h)), history.join('\n'));
  assert.ok(history.some((h) => /^COPY app.txt conf\/ \.\/\|/.test(h)), history.join('\n'));
  ok(['rmi', 'built:one']);
});

test('multi-stage: stages that do not depend on each other run, COPY --from by name and index, --target skips what it does not need', () => {
  const dir = context({
    'Dockerfile': [
      'FROM busybox:latest AS one',
      'RUN echo from-one > /one',
      'FROM busybox:latest AS two',
      'RUN echo from-two > /two',
      'FROM busybox:latest AS broken',
      'RUN exit 9',
      'FROM two',
      'COPY --from=one /one /got/',
      'COPY --from=1 /two /got/',
      'CMD ["sh", "-c", "cat /got/one /got/two /two"]',
      '',
    ].join('\n'),
  });
  // The last stage does not need `broken`: it is never run.
  const { log } = built(dir, ['-t', 'built:multi', '--target', 'two']);
  assert.doesNotMatch(log, /exit 9/);
  const full = build(dir, ['-t', 'built:multi']);
  assert.equal(full.code, 0, full.stderr);
  assert.doesNotMatch(full.stderr, /RUN exit 9/, 'the unneeded stage ran');
  assert.equal(out(['run', '--rm', 'built:multi']), 'from-one\nfrom-two\nfrom-two\n');
  const bad = build(dir, ['--target', 'nosuch']);
  assert.equal(bad.code, 1);
  assert.equal(bad.stderr, 'Error: target stage "nosuch" could not be found\n');
  const failing = build(dir, ['--target', 'broken']);
  assert.equal(failing.code, 1);
  ok(['rmi', 'built:multi']);
});

test('the cache: a rebuild runs no container and gives the same image; a changed file rebuilds from the first step that reads it; ignored files do not count', () => {
  const dir = context({
    'Dockerfile': 'FROM busybox:latest\nRUN echo one > /one\nCOPY a.txt /a.txt\nRUN cat /a.txt > /b.txt\nCOPY rest/ /rest/\n',
    'a.txt': 'first\n',
    'rest/x': 'x\n',
    'rest/debug.log': 'noise\n',
    '.dockerignore': '**/*.log\n',
  });
  const first = built(dir, ['-t', 'built:cache']);
  assert.doesNotMatch(first.log, /CACHED/);
  let since = new Date().toISOString();
  const again = built(dir, ['-t', 'built:cache']);
  assert.equal(again.id, first.id);
  assert.equal(again.log.match(/CACHED/g)?.length, 4, again.log);
  assert.equal(createsSince(since), 0, 'a fully cached build created a container');
  // A file .dockerignore leaves out changes nothing; and it is not in the image.
  writeFileSync(join(dir, 'rest/debug.log'), 'other noise\n');
  assert.equal(built(dir, ['-t', 'built:cache']).id, first.id);
  assert.equal(env.berth(['run', '--rm', 'built:cache', 'ls', '/rest']).stdout, 'x\n');
  // a.txt changed: RUN one stays cached, COPY a.txt and what follows run again.
  writeFileSync(join(dir, 'a.txt'), 'second\n');
  since = new Date().toISOString();
  const changed = built(dir, ['-t', 'built:cache']);
  assert.notEqual(changed.id, first.id);
  assert.match(changed.log, /#2 CACHED/);
  assert.doesNotMatch(changed.log, /#3 CACHED|#4 CACHED|#5 CACHED/);
  assert.equal(createsSince(since), 1, 'only the RUN after the COPY ran');
  assert.equal(out(['run', '--rm', 'built:cache', 'cat', '/b.txt']), 'second\n');
  // --no-cache runs every step.
  const fresh = built(dir, ['--no-cache', '-t', 'built:cache']);
  assert.doesNotMatch(fresh.log, /CACHED/);
  // builder prune forgets the cache and the step images; the tagged image stays and runs.
  const pruned = out(['builder', 'prune', '-f']);
  assert.match(pruned, /^Deleted: sha256:[0-9a-f]{64}$/m);
  assert.match(pruned, /^Total reclaimed space: [\d.]+[kMG]?B$/m);
  assert.equal(out(['run', '--rm', 'built:cache', 'cat', '/b.txt']), 'second\n');
  assert.doesNotMatch(built(dir, ['-t', 'built:cache']).log, /CACHED/);
  ok(['rmi', 'built:cache']);
});

test('--cache-from: a loaded image stands for the steps its history shows, to the same id; from a COPY on (its line names no content) steps run', () => {
  const dir = context({
    'Dockerfile': 'FROM busybox:latest\nENV A=1\nRUN echo one > /one\nWORKDIR /w\nRUN echo two > two\nCMD ["cat", "/one"]\n',
    'Dockerfile.copy': 'FROM busybox:latest\nENV A=1\nRUN echo one > /one\nCOPY Dockerfile /d\nRUN echo three > /three\n',
  });
  const first = built(dir, ['-t', 'built:cf']);
  const withCopy = built(dir, ['-f', join(dir, 'Dockerfile.copy'), '-t', 'built:cfc']);
  const tar = join(env.root, 'cf.tar');
  ok(['save', '-o', tar, 'built:cf', 'built:cfc']);
  ok(['rmi', 'built:cf', 'built:cfc']);
  out(['builder', 'prune', '-f']);
  ok(['load', '-i', tar]);
  let since = new Date().toISOString();
  const again = built(dir, ['--cache-from', 'built:cf', '--cache-from', 'nosuch:image', '-t', 'built:cf2']);
  assert.equal(again.log.match(/CACHED/g)?.length, 5, again.log);
  assert.match(again.log, /Could not look up nosuch:image for cache resolution, skipping/);
  assert.equal(again.id, first.id);
  assert.equal(createsSince(since), 0, 'a build restored from --cache-from created a container');
  since = new Date().toISOString();
  const copied = built(dir, ['-f', join(dir, 'Dockerfile.copy'), '--cache-from', 'built:cfc']);
  assert.match(copied.log, /#2 CACHED/);
  assert.match(copied.log, /#3 CACHED/);
  assert.doesNotMatch(copied.log, /#4 CACHED|#5 CACHED/);
  assert.notEqual(copied.id, withCopy.id);
  assert.equal(createsSince(since), 1, 'only the RUN after the COPY ran');
  assert.equal(out(['run', '--rm', copied.id, 'cat', '/one', '/three']), 'one\nthree\n');
  ok(['rmi', 'built:cf', 'built:cf2', 'built:cfc', copied.id]);
});

test('builder prune --filter until= keeps entries used since then; --keep-storage removes the least recently used until the rest fits', () => {
  const older = context({ 'Dockerfile': 'FROM busybox:latest\nRUN head -c 2000000 /dev/zero > /older\n' });
  const newer = context({ 'Dockerfile': 'FROM busybox:latest\nRUN echo newer > /newer\n' });
  out(['builder', 'prune', '-f']);
  built(older);
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 4000);
  built(newer);
  ok(['builder', 'prune', '-f', '--filter', 'until=3s']);
  assert.match(built(newer).log, /#2 CACHED/);
  assert.doesNotMatch(built(older).log, /CACHED/);
  // 3 MB holds both steps: nothing goes.
  ok(['builder', 'prune', '-f', '--keep-storage', '3m']);
  assert.match(built(older).log, /#2 CACHED/);
  // 1 MB: the least recently used (the older build's 2 MB step) goes, and then the rest fits.
  assert.match(built(newer).log, /#2 CACHED/);
  ok(['builder', 'prune', '-f', '--keep-storage', '1m']);
  assert.match(built(newer).log, /#2 CACHED/);
  assert.doesNotMatch(built(older).log, /CACHED/);
  const bad = env.berth(['builder', 'prune', '-f', '--keep-storage', 'lots']);
  assert.notEqual(bad.code, 0);
  assert.match(bad.stderr, /invalid --keep-storage lots/);
});

test('RUN limits: -m, --shm-size and --ulimit reach the step\'s container; --security-opt is refused as docker refuses it on Linux', () => {
  const dir = context({
    'Dockerfile': 'FROM busybox:latest\nRUN (cat /sys/fs/cgroup/memory.max 2>/dev/null || cat /sys/fs/cgroup/memory/memory.limit_in_bytes) > /mem; df -k /dev/shm | tail -1 | awk \'{print $2}\' > /shm; ulimit -n > /nofile\n',
  });
  const r = built(dir, ['-m', '64m', '--memory-swap', '-1', '--shm-size', '32m', '--ulimit', 'nofile=1024:2048', '-c', '512']);
  assert.equal(out(['run', '--rm', r.id, 'cat', '/mem', '/shm', '/nofile']), `${64 * 1024 * 1024}\n${32 * 1024}\n1024\n`);
  const refused = build(dir, ['--security-opt', 'seccomp=unconfined']);
  assert.equal(refused.code, 1);
  assert.match(refused.stderr, /security options are not supported on linux/);
  const bad = build(dir, ['-m', 'lots']);
  assert.notEqual(bad.code, 0);
  assert.match(bad.stderr, /invalid size: 'lots'/);
  ok(['rmi', r.id]);
});

test('a failing RUN: its output, the step, exit 1, and nothing left; the steps before it stay cached', () => {
  const dir = context({ 'Dockerfile': 'FROM busybox:latest\nRUN echo ok > /ok\nRUN echo about to fail; echo to stderr >&2; exit 3\nRUN echo never\n' });
  const before = allIds();
  const r = build(dir, ['-t', 'built:fails']);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /#3 \d+\.\d+ about to fail\n/);
  assert.match(r.stderr, /#3 \d+\.\d+ to stderr\n/);
  assert.match(r.stderr, /Error: The command '\/bin\/sh -c echo about to fail; echo to stderr >&2; exit 3' returned a non-zero code: 3\n$/);
  assert.doesNotMatch(r.stderr, /never/);
  assert.deepEqual(allIds(), before, 'a container was left');
  assert.deepEqual(buildLeft(), [], 'a build work dir was left');
  assert.equal(env.berth(['image', 'inspect', 'built:fails']).code, 1, 'a failed build tagged an image');
  const again = build(dir, []);
  assert.match(again.stderr, /#2 CACHED/);
});

test('bad Dockerfiles and sources: one line, exit 1, nothing made', () => {
  const cases: [Record<string, string>, string[], RegExp][] = [
    [{ 'Dockerfile': 'FROM busybox:latest\nFROBNICATE x\n' }, [], /^Error: Dockerfile:2: unknown instruction: FROBNICATE\n$/],
    [{ 'Dockerfile': 'FROM busybox:latest\nCOPY --bogus=1 a /a\n', a: '' }, [], /^Error: Dockerfile:2: unknown flag: bogus\n$/],
    [{ 'Dockerfile': 'FROM busybox:latest\nCOPY ../outside /x\n' }, [], /\nError: COPY failed: file not found in build context or excluded by \.dockerignore: stat \.\.\/outside: file does not exist\n$/],
    [{ 'Dockerfile': 'FROM busybox:latest\nCOPY missing /x\n' }, [], /\nError: COPY failed: file not found in build context or excluded by \.dockerignore: stat missing: file does not exist\n$/],
    [{ 'Dockerfile': 'FROM busybox:latest\nCOPY shadow /x\n', 'shadow': '' }, [], /\nError: COPY failed: file not found in build context or excluded by \.dockerignore: stat shadow: file does not exist\n$/],
    [{ 'Dockerfile': 'FROM busybox:latest\nCOPY --from=nosuchstage /a /a\n' }, [], /\nError: COPY --from=nosuchstage: no such stage, and no image nosuchstage here\n$/],
    [{ 'Dockerfile': 'FROM busybox:latest\nCOPY a b /dest\n', a: '', b: '' }, [], /\nError: When using COPY with more than one source file, the destination must be a directory and end with a \/\n$/],
    [{ 'Dockerfile': 'RUN true\n' }, [], /the first instruction must be FROM/],
    [{ 'Dockerfile': '# nothing\n' }, [], /file with no instructions/],
    [{ 'Dockerfile': 'FROM nosuch/image:here\n' }, [], /\nError: FROM nosuch\/image:here: no such image here, and it could not be pulled: .+\n$/],
    [{}, [], /^Error: Cannot locate specified Dockerfile: Dockerfile\n$/],
  ];
  const before = allIds();
  const images = out(['images', '-aq']);
  for (const [files, args, expected] of cases) {
    const dir = context(files);
    // A link in the context to a host file is resolved inside the context: there is no such file there.
    if (files.shadow !== undefined) {
      rmSync(join(dir, 'shadow'));
      symlinkSync('/etc/shadow', join(dir, 'shadow'));
    }
    const r = build(dir, args);
    assert.equal(r.code, 1, `${JSON.stringify(files)}: ${r.stderr}`);
    assert.match(r.stderr, expected);
    assert.equal(r.stderr.trim().split('\n').filter((l) => l.startsWith('Error')).length, 1, r.stderr);
  }
  assert.deepEqual(allIds(), before);
  assert.equal(out(['images', '-aq']), images, 'a refused build made an image');
  assert.deepEqual(buildLeft(), []);
  const badPath = env.berth(['build', join(env.root, 'nowhere')]);
  assert.equal(badPath.code, 1);
  assert.match(badPath.stderr, /unable to prepare context: path ".*nowhere" not found/);
  // A build-arg no ARG takes is only a warning.
  const warned = build(context({ 'Dockerfile': 'FROM busybox:latest\nARG USED\nRUN echo $USED\n' }), ['--build-arg', 'USED=1', '--build-arg', 'UNUSED=2']);
  assert.equal(warned.code, 0, warned.stderr);
  assert.match(warned.stderr, /WARNING: One or more build-args \[UNUSED\] were not consumed/);
});

test('heredocs, ADD of a local tar and of a URL, --chown and --chmod, a context symlink stays inside', async () => {
  const tar = spawnSync('tar', ['-C', '/etc', '-czf', '-', 'hostname', 'os-release'], { maxBuffer: 1 << 24 });
  const dir = context({
    'Dockerfile': [
      'FROM busybox:latest',
      'RUN <<EOF',
      'echo from heredoc > /here',
      'echo second line >> /here',
      'EOF',
      'COPY <<EOF /etc/made.conf',
      'made=${HOSTNAME:-none}',
      'EOF',
      'ADD files.tgz /unpacked/',
      'ADD http://127.0.0.1:PORT/served.txt /served.txt',
      'COPY --chown=1:2 --chmod=600 owned.txt /owned.txt',
      'COPY link /link',
      'COPY tree /tree',
      '',
    ].join('\n'),
    'owned.txt': 'mine\n',
  });
  writeFileSync(join(dir, 'files.tgz'), tar.stdout);
  // A link as the source is followed inside the context; links below a copied directory are copied as links.
  symlinkSync('owned.txt', join(dir, 'link'));
  mkdirSync(join(dir, 'tree'));
  symlinkSync('/etc/shadow', join(dir, 'tree', 'inner'));
  const server = createServer((_req, res) => res.end('over http\n'));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  try {
    writeFileSync(join(dir, 'Dockerfile'), readFileSync(join(dir, 'Dockerfile'), 'utf8').replace('PORT', String(port)));
    const r = await env.berthAsync(['build', '-t', 'built:bits', dir]);
    assert.equal(r.code, 0, r.stderr);
  } finally {
    server.close();
  }
  const show = (cmd: string) => out(['run', '--rm', '--network', 'none', 'built:bits', 'sh', '-c', cmd]);
  assert.equal(show('cat /here'), 'from heredoc\nsecond line\n');
  assert.equal(show('cat /etc/made.conf'), 'made=none\n');
  assert.equal(show('ls /unpacked'), 'hostname\nos-release\n');
  assert.equal(show('cat /served.txt; stat -c %a /served.txt'), 'over http\n600\n');
  assert.equal(show('stat -c "%u:%g %a" /owned.txt'), '1:2 600\n');
  assert.equal(show('cat /link'), 'mine\n');
  // Copied as a link: what it names is the image's own /etc/shadow, never the host's.
  assert.equal(show('readlink /tree/inner'), '/etc/shadow\n');
  // A URL nothing answers at (the port the server had, now closed): one clear line.
  const offline = build(context({ 'Dockerfile': `FROM busybox:latest\nADD http://127.0.0.1:${port}/none.txt /x\n` }));
  assert.equal(offline.code, 1);
  assert.match(offline.stderr, new RegExp(`\\nError: ADD http://127\\.0\\.0\\.1:${port}/none\\.txt: cannot fetch it: .*ECONNREFUSED.*\\n$`));
  ok(['rmi', 'built:bits']);
});

test('ONBUILD runs in the image built FROM the one that registered it; a context and a Dockerfile on stdin', () => {
  built(context({ 'Dockerfile': 'FROM busybox:latest\nONBUILD RUN echo triggered > /trigger\n' }), ['-t', 'built:parent']);
  assert.deepEqual(config('built:parent').OnBuild, ['RUN echo triggered > /trigger']);
  built(context({ 'Dockerfile': 'FROM built:parent\nRUN cat /trigger\n' }), ['-t', 'built:child']);
  assert.equal(out(['run', '--rm', 'built:child', 'cat', '/trigger']), 'triggered\n');
  assert.equal(config('built:child').OnBuild, null, 'triggers do not pass on to grandchildren');

  // A bare Dockerfile on stdin: no context.
  const bare = env.berth(['build', '-q', '-t', 'built:stdin', '-'], { input: 'FROM busybox:latest\nRUN echo bare > /bare\n' });
  assert.equal(bare.code, 0, bare.stderr);
  assert.match(bare.stdout, /^sha256:[0-9a-f]{64}\n$/);
  assert.equal(out(['run', '--rm', 'built:stdin', 'cat', '/bare']), 'bare\n');
  // A tar context on stdin.
  const dir = context({ 'Dockerfile': 'FROM busybox:latest\nCOPY f /f\n', f: 'in a tar\n' });
  const tar = spawnSync('tar', ['-C', dir, '-cf', '-', '.'], { maxBuffer: 1 << 24 }).stdout;
  const fromTar = env.berth(['build', '-q', '-t', 'built:tar', '-'], { input: tar });
  assert.equal(fromTar.code, 0, fromTar.stderr);
  assert.equal(out(['run', '--rm', 'built:tar', 'cat', '/f']), 'in a tar\n');
  // -f - reads the Dockerfile from stdin with a directory context.
  const dashF = env.berth(['build', '-q', '-f', '-', '-t', 'built:dashf', dir], { input: 'FROM busybox:latest\nCOPY f /g\n' });
  assert.equal(dashF.code, 0, dashF.stderr);
  assert.equal(out(['run', '--rm', 'built:dashf', 'cat', '/g']), 'in a tar\n');
  ok(['rmi', 'built:child', 'built:parent', 'built:stdin', 'built:tar', 'built:dashf']);
  assert.deepEqual(buildLeft(), []);
});

test('RUN --mount: a cache dir kept between builds, a secret never in the image, binds of the context and of a stage, a tmpfs', () => {
  const secret = join(env.root, 'token.txt');
  writeFileSync(secret, 's3cr3t');
  const dir = context({
    'Dockerfile': [
      'FROM busybox:latest AS tools',
      'RUN echo tool > /tool',
      'FROM busybox:latest',
      'RUN --mount=type=cache,target=/cache sh -c "echo run >> /cache/runs; wc -l < /cache/runs > /runs-seen"',
      'RUN --mount=type=secret,id=token,required echo "len=$(wc -c < /run/secrets/token)" > /secret-len',
      'RUN --mount=type=bind,source=data.txt,target=/mnt/data cp /mnt/data /copied-data',
      'RUN --mount=type=bind,from=tools,source=/tool,target=/mnt/tool cp /mnt/tool /copied-tool',
      'RUN --mount=type=tmpfs,target=/scratch sh -c "echo x > /scratch/x; grep -q \' /scratch tmpfs\' /proc/mounts && echo tmpfs > /scratch-kind"',
      '',
    ].join('\n'),
    'data.txt': 'data\n',
  });
  const args = ['--secret', `id=token,src=${secret}`, '-t', 'built:mounts'];
  built(dir, args);
  const show = (cmd: string) => out(['run', '--rm', '--network', 'none', 'built:mounts', 'sh', '-c', cmd]);
  assert.equal(show('cat /runs-seen /secret-len /copied-data /copied-tool /scratch-kind'), '1\nlen=6\ndata\ntool\ntmpfs\n');
  // The mount points the steps needed are not left in the image, nor is the secret anywhere in it.
  assert.equal(show('ls -d /cache /run/secrets /mnt/data /mnt/tool /scratch 2>&1 | grep -c "No such file"; grep -rl s3cr3t / --exclude-dir=proc --exclude-dir=sys 2>/dev/null | head -1'), '5\n');
  // The cache mount outlives the build: a second run of the step sees the first one's line.
  built(dir, ['--no-cache', ...args]);
  assert.equal(show('cat /runs-seen'), '2\n');
  // Without the secret a required one fails the build; builder prune empties the cache mounts.
  const missing = build(dir, ['--no-cache']);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /Error: Dockerfile:5: secret token is required but was not given/);
  ok(['builder', 'prune', '-f']);
  built(dir, ['--no-cache', ...args]);
  assert.equal(show('cat /runs-seen'), '1\n');
  ok(['rmi', 'built:mounts']);
});

test('Ctrl-C during a long RUN: the build stops at once (130) and leaves no container, mount, monitor or work dir', async () => {
  const dir = context({ 'Dockerfile': 'FROM busybox:latest\nRUN echo started; sleep 60\n' });
  const child = spawn(BERTH, ['--root', env.root, 'build', dir], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  assert.ok(await eventually(() => /#2 [\d.]+ started/.test(stderr), 20_000), `the RUN did not start:\n${stderr}`);
  const sent = Date.now();
  child.kill('SIGINT');
  assert.equal(await exited, 130, stderr);
  assert.ok(Date.now() - sent < 10_000, 'the build took its time to stop');
  assert.match(stderr, /Error: the build was interrupted\n$/);
  assert.deepEqual(allIds(), []);
  assert.deepEqual(buildLeft(), []);
  assert.deepEqual(conmonsOf(env.root), []);
  assert.deepEqual(readFileSync('/proc/self/mountinfo', 'utf8').split('\n').filter((l) => l.includes(env.root)), []);
});

test('predefined ARGs: the platform ones without a value given, proxies for RUN only (not in the cache key, no warning)', () => {
  const dir = context({
    'Dockerfile': [
      'FROM --platform=$BUILDPLATFORM busybox:latest',
      'ARG TARGETPLATFORM',
      'ARG TARGETARCH',
      'RUN echo "$TARGETPLATFORM $TARGETARCH proxy=$http_proxy" > /platform',
      '',
    ].join('\n'),
  });
  const first = build(dir, ['--build-arg', 'http_proxy=http://proxy.example:3128', '-t', 'built:platform']);
  assert.equal(first.code, 0, first.stderr);
  assert.doesNotMatch(first.stderr, /WARNING/);
  assert.equal(out(['run', '--rm', 'built:platform', 'cat', '/platform']), 'linux/amd64 amd64 proxy=http://proxy.example:3128\n');
  assert.doesNotMatch(out(['history', '--no-trunc', 'built:platform']), /proxy\.example/);
  // Another proxy makes the same image: the step is taken from the cache.
  const again = build(dir, ['--build-arg', 'http_proxy=http://other.example:3128', '-t', 'built:platform']);
  assert.match(again.stderr, /#4 CACHED/);
  ok(['rmi', 'built:platform']);
});

test('--output: a docker-archive on stdout, the file system as a tar, or into a directory', () => {
  const dir = context({ 'Dockerfile': 'FROM busybox:latest\nRUN echo made > /made.txt\n' });
  const archive = spawnSync(BERTH, ['--root', env.root, 'build', '-q', '--output', 'type=docker,dest=-', dir], { maxBuffer: 64 << 20 });
  assert.equal(archive.status, 0, archive.stderr.toString());
  const listing = spawnSync('tar', ['-t'], { input: archive.stdout, encoding: 'utf8' }).stdout.split('\n');
  assert.ok(listing.includes('manifest.json'), listing.join(' '));
  const tar = join(env.root, 'fs.tar');
  ok(['build', '-q', '--output', `type=tar,dest=${tar}`, dir]);
  assert.equal(spawnSync('tar', ['-xOf', tar, 'made.txt'], { encoding: 'utf8' }).stdout, 'made\n');
  const local = join(env.root, 'fs-out');
  ok(['build', '-q', '-o', local, dir]);
  assert.equal(readFileSync(join(local, 'made.txt'), 'utf8'), 'made\n');
  assert.ok(readdirSync(join(local, 'bin')).includes('sh'));
  const bad = build(dir, ['--output', 'type=registry']);
  assert.equal(bad.code, 1);
  assert.equal(bad.stderr, 'Error: --output type=registry: use docker, oci, tar or local\n');
  assert.deepEqual(buildLeft(), []);
});

test('on a terminal: a live view of the running step and its last lines, then one line per step', async (t) => {
  if (skipWithoutTmux(t)) return;
  const scratch = join(env.root, 'tty');
  mkdirSync(scratch);
  const tm = new TmuxServer(scratch);
  try {
    const dir = context({ 'Dockerfile': 'FROM busybox:latest\nRUN for i in 1 2 3 4 5 6; do echo line $i; sleep 0.3; done\n' });
    const pane = tm.newSession('b', 100, 30, [BERTH, '--root', env.root, 'build', '--no-cache', dir]);
    // While it runs: the step with the seconds so far, and only its last lines under it.
    const live = await tm.waitPane(pane, /=> => line 6/, 'the step\'s output in the live view');
    assert.match(live, / => \[stage-0 2\/2\] RUN for i in 1 2 3 4 5 6; do echo line \$i; sleep 0\.3; done \d+\.\ds/);
    assert.doesNotMatch(live, /=> => line 1\n/, 'more than the last lines were shown');
    const done = await tm.waitPane(pane, /EXIT=0/, 'the build\'s end');
    assert.match(done, / => \[stage-0 1\/2\] FROM busybox:latest 0\.0s\n => \[stage-0 2\/2\] RUN .* \d+\.\ds\nwriting image sha256:[0-9a-f]{64}\n/);
    assert.doesNotMatch(done, /=> => line/, 'the running step\'s lines stayed on the screen');
  } finally {
    tm.killServer();
  }
});
