/**
 * The runtime contract: one suite, run through `--runtime runc` and `--runtime crun`. On a hybrid-cgroup
 * host whose v2 hierarchy holds a controller crun runs through berth-v1-view (src/runtime/v1-view.c); the
 * last test proves that safe where it applies.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { probeRuntimes } from '../../src/runtime/probe.ts';
import { leaksUnder, setupEnv, type Env } from './helpers.ts';

for (const runtime of ['runc', 'crun'] as const) {
  describe(`runtime contract: ${runtime}`, () => {
    let env: Env;
    let skip: string | undefined;

    before(() => {
      const probed = probeRuntimes().find((c) => c.name === runtime)!;
      if (!probed.usable) skip = `${runtime} is not usable here: ${probed.reason}`;
      env = setupEnv(`rt-${runtime}`);
    });
    after(() => env.teardown());

    const run = (args: string[]) => env.berth(['run', '--runtime', runtime, ...args]);

    test('echo, exit code, stderr apart', (t) => {
      if (skip) return t.skip(skip);
      const a = run(['--rm', 'busybox', 'sh', '-c', 'echo out; echo err >&2; exit 42']);
      assert.equal(a.code, 42);
      assert.equal(a.stdout, 'out\n');
      assert.equal(a.stderr, 'err\n');
    });

    test('detached: inspect names the runtime; stop -t 1 ends in SIGKILL; rm leaves nothing', (t) => {
      if (skip) return t.skip(skip);
      const id = run(['-d', 'busybox', 'sh', '-c', 'trap "" TERM; while :; do sleep 0.1; done']).stdout.trim();
      assert.match(id, /^[0-9a-f]{64}$/);
      const info = JSON.parse(env.berth(['inspect', id]).stdout)[0];
      assert.equal(info.HostConfig.Runtime, runtime);
      assert.equal(info.State.Status, 'running');
      assert.ok(existsSync(`/proc/${info.State.Pid}`));
      const t0 = Date.now();
      assert.equal(env.berth(['stop', '-t', '1', id]).code, 0);
      const took = Date.now() - t0;
      assert.ok(took >= 900 && took < 10_000, `stop took ${took} ms`);
      assert.equal(env.berth(['inspect', '-f', '{{.State.ExitCode}}', id]).stdout.trim(), '137');
      assert.equal(env.berth(['rm', id]).code, 0);
      assert.deepEqual(leaksUnder(env.root), []);
    });

    test('pause and unpause move the state; top lists the process', (t) => {
      if (skip) return t.skip(skip);
      const id = run(['-d', 'busybox', 'sleep', '300']).stdout.trim();
      const top = env.berth(['top', id]);
      assert.equal(top.code, 0, top.stderr);
      assert.match(top.stdout, /sleep 300/);
      assert.equal(env.berth(['pause', id]).code, 0);
      assert.equal(env.berth(['inspect', '-f', '{{.State.Status}} {{.State.Paused}}', id]).stdout.trim(), 'paused true');
      const v1 = `/sys/fs/cgroup/freezer/berth/${id}/freezer.state`;
      const v2 = `/sys/fs/cgroup/berth/${id}/cgroup.freeze`;
      if (existsSync(v1)) assert.equal(readFileSync(v1, 'utf8').trim(), 'FROZEN');
      else assert.equal(readFileSync(v2, 'utf8').trim(), '1');
      assert.equal(env.berth(['unpause', id]).code, 0);
      assert.equal(env.berth(['inspect', '-f', '{{.State.Status}}', id]).stdout.trim(), 'running');
      assert.equal(env.berth(['rm', '-f', id]).code, 0);
    });

    test('kill delivers the signal; an init forwards TERM', (t) => {
      if (skip) return t.skip(skip);
      const id = run(['-d', '--init', 'busybox', 'sleep', '300']).stdout.trim();
      assert.equal(env.berth(['kill', '-s', 'TERM', id]).code, 0);
      assert.equal(env.berth(['wait', id]).stdout.trim(), '143');
      env.berth(['rm', id]);
    });

    test('--cpu-quota -1 (unlimited) at create, and update lifting a quota', (t) => {
      if (skip) return t.skip(skip);
      assert.equal(run(['--rm', '--cpu-quota', '-1', 'busybox', 'true']).code, 0);
      const id = run(['-d', '--cpu-period', '100000', '--cpu-quota', '50000', 'busybox', 'sleep', '300']).stdout.trim();
      try {
        const quota = () => {
          const v1 = `/sys/fs/cgroup/cpu/berth/${id}/cpu.cfs_quota_us`;
          return existsSync(v1) ? readFileSync(v1, 'utf8').trim() : readFileSync(`/sys/fs/cgroup/berth/${id}/cpu.max`, 'utf8').split(' ')[0];
        };
        assert.match(quota()!, /^50000$/);
        const u = env.berth(['update', '--cpu-quota', '-1', id]);
        assert.equal(u.code, 0, u.stderr);
        assert.match(quota()!, /^(-1|max)$/);
      } finally {
        env.berth(['rm', '-f', id]);
      }
    });

    test('a memory hog under --memory is OOM-killed', (t) => {
      if (skip) return t.skip(skip);
      const r = run(['--name', `oom-${runtime}`, '--memory', '16m', 'busybox', 'sh', '-c', 'x=a; while :; do x=$x$x; done']);
      assert.equal(r.code, 137);
      assert.equal(env.berth(['inspect', '-f', '{{.State.OOMKilled}}', `oom-${runtime}`]).stdout.trim(), 'true');
      env.berth(['rm', `oom-${runtime}`]);
    });
  });
}

/** The host's mount table, less what each container adds (its rootfs and netns), to compare before and after. */
function hostMounts(): string[] {
  return readFileSync('/proc/self/mountinfo', 'utf8').split('\n').filter((l) => l && !/\/berth|netns/.test(l)).map((l) => l.split(' ').slice(4, 6).join(' ')).sort();
}

describe('crun on a hybrid host whose v2 hierarchy holds a controller', () => {
  let env: Env;
  let skip: string | undefined;
  before(() => {
    const crun = probeRuntimes().find((c) => c.name === 'crun')!;
    if (!crun.launcher) skip = `crun runs here without berth-v1-view (${crun.reason})`;
    env = setupEnv('rt-v1-view');
  });
  after(() => env.teardown());

  test('runs through berth-v1-view: every v1 limit applied in the v1 hierarchies; the host keeps its v2 hierarchy and its mounts', (t) => {
    if (skip) return t.skip(skip);
    const before = hostMounts();
    assert.ok(before.some((m) => m.startsWith('/sys/fs/cgroup/unified ')), 'the host has its v2 hierarchy to begin with');
    assert.match(env.berth(['info']).stdout, /Default Runtime: crun\n\s+Why: crun: crun runs here in a mount namespace without the v2 hierarchy/);
    const id = env.berth(['run', '-d', '--runtime', 'crun', '-m', '64m', '--memory-swap', '128m', '--pids-limit', '100', '--cpus', '0.5', '--cpuset-cpus', '0', '--cpu-shares', '512', 'busybox', 'sleep', '300']).stdout.trim();
    try {
      const v1 = (ctl: string, file: string) => readFileSync(`/sys/fs/cgroup/${ctl}/berth/${id}/${file}`, 'utf8').trim();
      assert.equal(v1('memory', 'memory.limit_in_bytes'), String(64 * 1024 * 1024));
      assert.equal(v1('memory', 'memory.memsw.limit_in_bytes'), String(128 * 1024 * 1024));
      assert.equal(v1('pids', 'pids.max'), '100');
      assert.equal(v1('cpu', 'cpu.cfs_quota_us'), '50000');
      assert.equal(v1('cpu', 'cpu.shares'), '512');
      assert.equal(v1('cpuset', 'cpuset.cpus'), '0');
      // The container's process is in them, and the container sees its own limits.
      const pid = env.berth(['inspect', '-f', '{{.State.Pid}}', id]).stdout.trim();
      assert.match(readFileSync(`/proc/${pid}/cgroup`, 'utf8'), new RegExp(`:memory:/berth/${id}\\n`));
      const inside = env.berth(['exec', id, 'cat', '/sys/fs/cgroup/memory/memory.limit_in_bytes', '/sys/fs/cgroup/pids/pids.max']);
      assert.equal(inside.stdout, `${64 * 1024 * 1024}\n100\n`, inside.stderr);
      // update reaches the v1 files through the same launcher.
      assert.equal(env.berth(['update', '--pids-limit', '50', id]).code, 0);
      assert.equal(v1('pids', 'pids.max'), '50');
    } finally {
      env.berth(['rm', '-f', id]);
    }
    assert.deepEqual(hostMounts(), before, 'the unmount stayed in the runtime\'s namespace');
    assert.deepEqual(leaksUnder(env.root), []);
  });
});
