/**
 * The runtime contract: one suite, run through `--runtime runc` and `--runtime crun`. On this hybrid-cgroup
 * host crun refuses to run while the v2 hierarchy holds hugetlb; the fixture moves hugetlb to a v1 mount for
 * the crun half and puts it back after (the engine itself never changes the host's layout).
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { probeRuntimes } from '../../src/runtime/probe.ts';
import { crunFixture } from '../fixtures/crun-hugetlb.ts';
import { leaksUnder, setupEnv, type Env } from './helpers.ts';

for (const runtime of ['runc', 'crun'] as const) {
  describe(`runtime contract: ${runtime}`, () => {
    let env: Env;
    let undo = () => {};
    let skip: string | undefined;

    before(() => {
      if (runtime === 'crun') {
        const f = crunFixture();
        if ('skip' in f) skip = f.skip;
        else undo = f.undo;
      } else if (!probeRuntimes().find((c) => c.name === 'runc')!.usable) {
        skip = 'runc is not usable here';
      }
      env = setupEnv(`rt-${runtime}`);
    });
    after(() => {
      try {
        env.teardown();
      } finally {
        undo();
      }
    });

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

    test('a memory hog under --memory is OOM-killed', (t) => {
      if (skip) return t.skip(skip);
      const r = run(['--name', `oom-${runtime}`, '--memory', '16m', 'busybox', 'sh', '-c', 'x=a; while :; do x=$x$x; done']);
      assert.equal(r.code, 137);
      assert.equal(env.berth(['inspect', '-f', '{{.State.OOMKilled}}', `oom-${runtime}`]).stdout.trim(), 'true');
      env.berth(['rm', `oom-${runtime}`]);
    });
  });
}
