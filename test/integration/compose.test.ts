/**
 * docker-compose (Debian's 1.29, python) driving `berth serve`, with compose files of our own. One project
 * goes through a service's life: `up -d` gated by depends_on (service_healthy, service_completed_successfully),
 * health in `ps`, a user network where services reach each other by name, a named volume two services share,
 * a published port, env_file, `logs` and `logs -f`, `exec`, `run --rm`, `stop`, `start`, `restart`,
 * `--scale`, and `down -v` leaving nothing. An attached `up --exit-code-from`, as CI runs a test. A third
 * project holds the restart policies. Every test skips,
 * saying why, where docker-compose is not installed.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startApiServer, type ApiServer } from './api-server.ts';
import { cli, eventually, type Env, type Result } from './helpers.ts';

const COMPOSE = '/usr/bin/docker-compose';
const needsCompose = { skip: existsSync(COMPOSE) ? false : `docker-compose is not installed at ${COMPOSE} (scripts/setup installs it)` };

/**
 * The services of the main project. Every long-running command traps SIGTERM (a shell as PID 1 ignores it
 * otherwise, and each stop would wait out its 10 s); `$$` is compose's escape for a literal `$`.
 */
const SERVICES = `
version: "3.8"
services:
  # Seeds the shared volume, then ends: web waits for it to have ended with 0.
  init:
    image: busybox:latest
    command: ["sh", "-c", "sleep 1; echo seeded-by-init > /srv/index.html"]
    volumes: ["data:/srv"]
  # Serves the volume; healthy once it answers with what init wrote.
  db:
    image: busybox:latest
    command: ["sh", "-c", "trap 'exit 0' TERM; echo db starting; httpd -p 5432 -h /srv; while :; do sleep 1 & wait $$!; done"]
    volumes: ["data:/srv"]
    networks: [back]
    healthcheck:
      test: ["CMD", "wget", "-q", "-O", "/dev/null", "http://127.0.0.1:5432/index.html"]
      interval: 1s
      timeout: 2s
      retries: 30
  # Fetches db's page by name as it starts (so only a gated start finds it) and serves that copy.
  web:
    image: busybox:latest
    command:
      - sh
      - -c
      - >-
        trap 'exit 0' TERM; mkdir /www;
        wget -q -O /www/index.html http://db:5432/index.html || echo db was not there;
        httpd -p 8080 -h /www; echo web up;
        i=0; while :; do i=$$((i+1)); echo tick $$i; sleep 0.3 & wait $$!; done
    env_file: app.env
    ports: ["8080"]
    networks: [back]
    depends_on:
      db:
        condition: service_healthy
      init:
        condition: service_completed_successfully
volumes:
  data:
networks:
  back:
`;

/** A test run as CI runs one: attached `up`, ended by the tester's exit code. */
const CHECK = `
version: "3.8"
services:
  app:
    image: busybox:latest
    command: ["sh", "-c", "trap 'exit 0' TERM; echo app serving; while :; do sleep 1 & wait $$!; done"]
  tester:
    image: busybox:latest
    command: ["sh", "-c", "sleep 0.5; echo tester done; exit 3"]
`;

const POLICIES = `
version: "3.8"
services:
  flaky:
    image: busybox:latest
    command: ["sh", "-c", "echo try; exit 3"]
    restart: on-failure:2
  phoenix:
    image: busybox:latest
    command: ["sh", "-c", "echo up; sleep 0.2"]
    restart: always
`;

describe('docker-compose over berth serve', needsCompose, () => {
  let api: ApiServer;
  let env: Env;
  let dir: string;

  before(async () => {
    api = await startApiServer('compose');
    env = api.env;
    dir = join(env.root, 'project');
    mkdirSync(dir);
    writeFileSync(join(dir, 'docker-compose.yml'), SERVICES);
    writeFileSync(join(dir, 'app.env'), '# what web is given\nGREETING=hello from env_file\n');
    writeFileSync(join(dir, 'policies.yml'), POLICIES);
    writeFileSync(join(dir, 'check.yml'), CHECK);
  });

  after(async () => {
    if (!api) return;
    // A failed test may have left its project up: down it (and anything else) before the leak check.
    compose(['down', '-v', '-t', '1']);
    compose(['-f', 'policies.yml', '-p', 'pol', 'down', '-t', '1']);
    compose(['-f', 'check.yml', '-p', 'chk', 'down', '-t', '1']);
    const left = berth.out(['ps', '-aq']).split('\n').filter(Boolean);
    if (left.length > 0) env.berth(['rm', '-f', ...left]);
    await api.stop();
  });

  const berth = cli(() => env);
  const composeEnv = () => ({ ...process.env, DOCKER_HOST: `unix://${api.sock}`, COMPOSE_PROJECT_NAME: 'bc' });

  /** docker-compose in the project's directory; the first arguments may name another file and project. */
  function compose(args: string[], timeout = 120_000): Result {
    const r = spawnSync(COMPOSE, ['--ansi', 'never', ...args], { cwd: dir, env: composeEnv(), encoding: 'utf8', timeout });
    if (r.error) throw r.error;
    return { code: r.status ?? 128, stdout: r.stdout, stderr: r.stderr };
  }

  function ok(args: string[]): string {
    const r = compose(args);
    assert.equal(r.code, 0, `docker-compose ${args.join(' ')} failed (${r.code}):\n${r.stderr}\nserver:\n${api.log().slice(-3000)}`);
    return r.stdout;
  }

  const inspect = (ref: string, format: string) => berth.out(['inspect', '-f', format, ref]).trim();
  /** The container ids of a service, from compose's own view. */
  const idsOf = (service: string, file: string[] = []) => ok([...file, 'ps', '-q', service]).split('\n').filter(Boolean);
  /** `docker-compose ps` rows of the project, by container name: the State column. */
  function states(file: string[] = []): Record<string, string> {
    const out: Record<string, string> = {};
    for (const line of ok([...file, 'ps']).split('\n').slice(2)) {
      const m = /^(\S+)\s.*?\s{2,}(Up \(\w+\)|Up|Exit -?\d+|Restarting)\s/.exec(line + ' ');
      if (m) out[m[1]!] = m[2]!;
    }
    return out;
  }

  async function get(port: string): Promise<string> {
    const res = await fetch(`http://127.0.0.1:${port}/`);
    return res.text();
  }

  /** What the port serves once it answers; '' if it does not within `ms`. */
  async function servedWithin(port: string, ms: number): Promise<string> {
    const end = Date.now() + ms;
    for (;;) {
      const body = await get(port).catch(() => '');
      if (body || Date.now() > end) return body;
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  test('up -d starts web only once init has ended and db is healthy; ps shows health; name, volume, port and env_file reach web', async () => {
    ok(['up', '-d']);
    // up -d returned: init had ended with 0 and db was healthy before web was created.
    const [init] = idsOf('init');
    const [db] = idsOf('db');
    const [web] = idsOf('web');
    assert.equal(inspect(init!, '{{.State.Status}} {{.State.ExitCode}}'), 'exited 0');
    assert.equal(inspect(db!, '{{.State.Health.Status}}'), 'healthy');
    const healthyAt = Date.parse(inspect(db!, '{{range .State.Health.Log}}{{if eq .ExitCode 0}}{{.End}}\n{{end}}{{end}}').split('\n')[0]!);
    assert.ok(Date.parse(inspect(web!, '{{.Created}}')) >= healthyAt, 'web was created before db was healthy');
    assert.deepEqual(states(), { bc_db_1: 'Up (healthy)', bc_init_1: 'Exit 0', bc_web_1: 'Up' });

    // What web fetched from db by name as it started, from the volume init wrote, served on a published port.
    const port = ok(['port', 'web', '8080']).trim().split(':').at(-1)!;
    assert.match(port, /^\d+$/);
    assert.equal(await get(port), 'seeded-by-init\n');
    // The user network: web and db on bc_back, init on the project's default network only.
    assert.deepEqual(Object.keys(JSON.parse(inspect(web!, '{{json .NetworkSettings.Networks}}'))), ['bc_back']);
    assert.deepEqual(Object.keys(JSON.parse(inspect(init!, '{{json .NetworkSettings.Networks}}'))), ['bc_default']);
    assert.equal(ok(['exec', '-T', 'web', 'sh', '-c', 'echo "$GREETING"']), 'hello from env_file\n');
    assert.equal(ok(['exec', '-T', 'db', 'sh', '-c', 'wget -q -O - http://web:8080/']), 'seeded-by-init\n', 'db reaches web by name');
  });

  test('logs prints what a service wrote; logs -f goes on printing what it writes next', async () => {
    assert.match(ok(['logs', '--no-color', 'db']), /db_1 +\| db starting/);
    const follow = spawn(COMPOSE, ['--ansi', 'never', 'logs', '-f', '--no-color', '--tail', '1', 'web'], { cwd: dir, env: composeEnv() });
    let out = '';
    follow.stdout.on('data', (b: Buffer) => (out += b.toString()));
    try {
      // --tail 1 gives one tick; three more can only come from following.
      const ticks = () => [...out.matchAll(/tick (\d+)/g)].map((m) => Number(m[1]));
      assert.ok(await eventually(() => ticks().length >= 4, 15_000), `logs -f printed:\n${out}`);
      const seen = ticks();
      assert.deepEqual(seen.slice(0, 4), [seen[0], seen[0]! + 1, seen[0]! + 2, seen[0]! + 3], out);
    } finally {
      follow.kill('SIGTERM');
    }
  });

  test('run --rm: a one-off container of the service, its output and exit code, then gone', async () => {
    const r = compose(['run', '--rm', '-T', 'web', 'sh', '-c', 'wget -q -O - http://db:5432/index.html; echo "$GREETING"; exit 3']);
    assert.equal(r.code, 3, r.stderr);
    assert.equal(r.stdout, 'seeded-by-init\nhello from env_file\n');
    const oneOffs = berth.out(['ps', '-aq', '--filter', 'label=com.docker.compose.oneoff=True']);
    assert.equal(oneOffs, '', 'the one-off container was left');
  });

  test('stop, start and restart: services go down and come back, under the same containers', async () => {
    const before = [...idsOf('db'), ...idsOf('web')];
    ok(['stop', '-t', '5']);
    assert.deepEqual(states(), { bc_db_1: 'Exit 0', bc_init_1: 'Exit 0', bc_web_1: 'Exit 0' }, 'each trapped SIGTERM and ended with 0');
    ok(['start']);
    assert.deepEqual([...idsOf('db'), ...idsOf('web')], before);
    assert.equal(inspect(before[1]!, '{{.State.Status}}'), 'running');
    assert.ok(await eventually(() => states().bc_db_1 === 'Up (healthy)', 15_000), `db: ${states().bc_db_1}`);

    const startedAt = inspect(before[1]!, '{{.State.StartedAt}}');
    ok(['restart', '-t', '5', 'web']);
    assert.notEqual(inspect(before[1]!, '{{.State.StartedAt}}'), startedAt);
    assert.equal(inspect(before[1]!, '{{.State.Status}} {{.RestartCount}}'), 'running 0', 'a user restart is not a policy restart');
    const port = ok(['port', 'web', '8080']).trim().split(':').at(-1)!;
    assert.equal(await servedWithin(port, 10_000), 'seeded-by-init\n', 'web serves again after its restart');
  });

  test('--scale web=3: three web containers, each on its own host port, all named web on the network', async () => {
    ok(['up', '-d', '--scale', 'web=3']);
    const webs = idsOf('web');
    assert.equal(webs.length, 3);
    const ports = new Set<string>();
    for (let i = 1; i <= 3; i++) {
      const port = ok(['port', '--index', String(i), 'web', '8080']).trim().split(':').at(-1)!;
      ports.add(port);
      assert.equal(await get(port), 'seeded-by-init\n', `web_${i}`);
    }
    assert.equal(ports.size, 3, `host ports: ${[...ports].join(', ')}`);
    for (const id of webs) assert.deepEqual(JSON.parse(inspect(id, '{{json (index .NetworkSettings.Networks "bc_back").Aliases}}')).includes('web'), true);
    ok(['up', '-d', '--scale', 'web=1']);
    assert.equal(idsOf('web').length, 1);
  });

  test('down -v removes the containers, networks and named volume', () => {
    const ids = [...idsOf('init'), ...idsOf('db'), ...idsOf('web')];
    assert.equal(ids.length, 3);
    ok(['down', '-v', '-t', '5']);
    assert.equal(berth.out(['ps', '-aq', '--filter', 'label=com.docker.compose.project=bc']), '');
    const nets = berth.out(['network', 'ls', '--format', '{{.Name}}']).split('\n');
    assert.ok(!nets.includes('bc_back') && !nets.includes('bc_default'), nets.join(' '));
    assert.ok(!berth.out(['volume', 'ls', '-q']).split('\n').includes('bc_data'), 'the named volume is left');
  });

  test('up attached with --exit-code-from: both services\' output, the tester\'s exit code, the other stopped', () => {
    const chk = ['-f', 'check.yml', '-p', 'chk'];
    const r = compose([...chk, 'up', '--exit-code-from', 'tester']);
    assert.equal(r.code, 3, `${r.stdout}\n${r.stderr}`);
    assert.match(r.stdout, /app_1 +\| app serving/);
    assert.match(r.stdout, /tester_1 +\| tester done/);
    assert.match(r.stdout, /chk_tester_1 exited with code 3/);
    assert.deepEqual(states(chk), { chk_app_1: 'Exit 0', chk_tester_1: 'Exit 3' });
    ok([...chk, 'down', '-t', '1']);
    assert.equal(berth.out(['ps', '-aq', '--filter', 'label=com.docker.compose.project=chk']), '');
  });

  test('restart: on-failure:2 tries twice more and stays down; always comes back after each exit', async () => {
    const pol = ['-f', 'policies.yml', '-p', 'pol'];
    ok([...pol, 'up', '-d']);
    const [flaky] = idsOf('flaky', pol);
    const [phoenix] = idsOf('phoenix', pol);
    assert.ok(await eventually(() => inspect(flaky!, '{{.State.Status}} {{.RestartCount}}') === 'exited 2', 20_000), inspect(flaky!, '{{.State.Status}} {{.RestartCount}}'));
    assert.equal(inspect(flaky!, '{{.HostConfig.RestartPolicy.Name}}:{{.HostConfig.RestartPolicy.MaximumRetryCount}}'), 'on-failure:2');
    assert.equal(ok([...pol, 'logs', '--no-color', 'flaky']).match(/\| try/g)?.length, 3, 'the first run and two restarts');
    assert.equal(states(pol)['pol_flaky_1'], 'Exit 3');
    assert.ok(await eventually(() => Number(inspect(phoenix!, '{{.RestartCount}}')) >= 2, 20_000), 'always: restarted twice');
    // Stopped by the user, it stays down.
    ok([...pol, 'stop', '-t', '1']);
    const count = inspect(phoenix!, '{{.State.Status}} {{.RestartCount}}');
    assert.match(count, /^exited \d+$/);
    await new Promise((r) => setTimeout(r, 1500));
    assert.equal(inspect(phoenix!, '{{.State.Status}} {{.RestartCount}}'), count, 'a stopped always container came back');
    ok([...pol, 'down', '-t', '1']);
    assert.equal(berth.out(['ps', '-aq', '--filter', 'label=com.docker.compose.project=pol']), '');
  });
});
