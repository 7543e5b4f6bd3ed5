/**
 * `berth inspect NAME` finds any object as docker's CLI does (a container, an image, a network, then a
 * volume), `--type` narrows it, and a name of no object is one line and exit 1.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { cli, setupEnv, type Env } from './helpers.ts';

let env: Env;

before(() => {
  env = setupEnv('inspect');
});

after(() => {
  if (!env) return;
  env.berth(['network', 'rm', 'insp-net']);
  env.berth(['volume', 'rm', 'insp-vol']);
  env.teardown();
});

const { ok, out } = cli(() => env);

test('inspect finds networks and volumes by name; --type narrows; unknown names and types are one line; NetworkMode names the network', () => {
  ok(['network', 'create', 'insp-net']);
  ok(['volume', 'create', 'insp-vol']);
  const net = JSON.parse(out(['inspect', 'insp-net'])) as { Name: string; Driver: string }[];
  assert.deepEqual([net.length, net[0]!.Name, net[0]!.Driver], [1, 'insp-net', 'bridge']);
  assert.equal(out(['inspect', '-f', '{{.Name}} {{.Driver}}', 'insp-vol']), 'insp-vol local\n');
  assert.equal(out(['inspect', '--type', 'network', '-f', '{{.Name}}', 'bridge']), 'bridge\n');
  assert.equal(out(['inspect', '--type', 'volume', '-f', '{{.Mountpoint}}', 'insp-vol']).trim().endsWith('/volumes/insp-vol/_data'), true);
  // several at once, of different kinds
  assert.equal(out(['inspect', '-f', '{{.Name}}', 'insp-net', 'insp-vol']), 'insp-net\ninsp-vol\n');
  const missing = env.berth(['inspect', 'nothing-by-this-name']);
  assert.deepEqual([missing.code, missing.stdout, missing.stderr], [1, '[]\n', 'Error: No such object: nothing-by-this-name\n']);
  const wrongKind = env.berth(['inspect', '--type', 'network', 'insp-vol']);
  assert.deepEqual([wrongKind.code, wrongKind.stderr], [1, 'Error: No such network: insp-vol\n']);
  const badType = env.berth(['inspect', '--type', 'gadget', 'insp-vol']);
  assert.equal(badType.code, 1);
  assert.match(badType.stderr, /"gadget" is not a valid value for --type/);
  // A container's NetworkMode names its user network, as docker's does.
  const c = ok(['create', '--network', 'insp-net', 'busybox', 'true']).stdout.trim();
  const d = ok(['create', 'busybox', 'true']).stdout.trim();
  assert.equal(out(['inspect', '-f', '{{.HostConfig.NetworkMode}}', c, d]), 'insp-net\nbridge\n');
  ok(['rm', c, d]);
  const swarm = env.berth(['inspect', '--type', 'service', 'web']);
  assert.equal(swarm.code, 1);
  assert.match(swarm.stderr, /This node is not a swarm manager/);
});
