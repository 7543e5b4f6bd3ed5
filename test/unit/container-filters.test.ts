/**
 * The container list filters (src/engine/container-filters.ts, src/engine/port-filter.ts) over rows made
 * here: what each key selects, which keys list stopped containers, and the errors dockerd gives for bad values.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkFilters, parseFilterArgs, selectContainers, wantsStopped, type ContainerFilters, type FilterWorld } from '../../src/engine/container-filters.ts';
import { parsePortFilter } from '../../src/engine/port-filter.ts';
import { InvalidArgument, NoSuchContainer, NotFound } from '../../src/errors.ts';
import type { ContainerRow } from '../../src/store/containers.ts';

interface RowSpec {
  name: string;
  state?: ContainerRow['state'];
  exitCode?: number;
  started?: boolean;
  mode?: 'bridge' | 'host' | 'none';
  networks?: string[];
  mounts?: { type: 'bind' | 'tmpfs' | 'volume'; source: string; destination: string }[];
  exposed?: string[];
  bound?: { hostPort: number; containerPort: number; protocol: 'tcp' | 'udp' }[];
}

/** A row as the store gives it, with only what the filters read; ids are the name's hex repeated. */
function row(s: RowSpec): ContainerRow {
  return {
    id: Buffer.from(s.name).toString('hex').padEnd(64, '0'),
    name: s.name,
    imageId: 'ab'.repeat(32),
    state: s.state ?? 'running',
    exitCode: s.exitCode ?? 0,
    startedAt: s.started === false ? '' : '2030-01-01T00:00:00Z',
    restartAt: '',
    health: null,
    mounted: false,
    net: { ports: (s.bound ?? []).map((p) => ({ hostIP: '', ...p })) },
    config: {
      image: 'busybox',
      labels: {},
      mounts: (s.mounts ?? []).map((m) => ({ ...m, readonly: false, options: [] })),
      exposedPorts: s.exposed,
      isolation: { network: s.mode ?? 'bridge' },
      networking: { networks: (s.networks ?? (s.mode && s.mode !== 'bridge' ? [] : ['bridge'])).map((name) => ({ name, aliases: [] })), ports: [] },
    },
  } as unknown as ContainerRow;
}

const NETS = [
  { id: 'aaaa1111'.repeat(8), name: 'bridge' },
  { id: 'bbbb2222'.repeat(8), name: 'appnet' },
  { id: 'cccc3333'.repeat(8), name: 'host' },
];

/** A world over these rows: find as the engine's (full id, name, unique id prefix); it counts its calls. */
function worldOf(rows: ContainerRow[]) {
  const calls = { find: 0, networks: 0 };
  const world: FilterWorld = {
    find(ref) {
      calls.find++;
      const r = rows.find((x) => x.id === ref || x.name === ref.replace(/^\//, '')) ?? rows.filter((x) => x.id.startsWith(ref)).at(0);
      if (!r) throw new NoSuchContainer(ref);
      return r;
    },
    networks() {
      calls.networks++;
      return NETS;
    },
  };
  return { world, calls };
}

/** The names `ps` (with -a when `all`) lists for these filters, rows given newest first. */
function names(rows: ContainerRow[], f: ContainerFilters, all = true): string[] {
  return selectContainers(rows, all, f, worldOf(rows).world).map((r) => r.name);
}

const refused = (f: ContainerFilters, cls: typeof InvalidArgument | typeof NotFound, message: string, rows: ContainerRow[] = []) =>
  assert.throws(() => selectContainers(rows, true, f, worldOf(rows).world), (e: Error) => e instanceof cls && e.message === message, JSON.stringify(f));

test('exited=N alone lists no stopped container (only status lists them without --all); with --all, the exits of containers that ran', () => {
  const rows = [row({ name: 'up' }), row({ name: 'zero', state: 'exited' }), row({ name: 'seven', state: 'exited', exitCode: 7 }), row({ name: 'fresh', state: 'created', started: false })];
  assert.equal(wantsStopped({ exited: ['0'] }), false);
  assert.equal(wantsStopped({ status: ['exited'] }), true);
  assert.deepEqual(names(rows, { exited: ['0'] }, false), []);
  assert.deepEqual(names(rows, { exited: ['0'] }), ['zero'], 'a created container never exited: its 0 is no exit code');
  assert.deepEqual(names(rows, { exited: ['7', '+0'] }), ['zero', 'seven']);
  assert.deepEqual(names(rows, { status: ['exited'] }, false), ['zero', 'seven']);
  assert.deepEqual(names(rows, {}, false), ['up']);
  refused({ exited: ['x'] }, InvalidArgument, `invalid filter 'exited=x': strconv.Atoi: parsing "x": invalid syntax`);
});

test('before and since: containers made before or after the one named (by name, id or id prefix), stopped markers too; unknown is not found', () => {
  // Newest first, as the store lists them.
  const rows = [row({ name: 'd' }), row({ name: 'c', state: 'exited' }), row({ name: 'b' }), row({ name: 'a' })];
  assert.deepEqual(names(rows, { before: ['c'] }), ['b', 'a']);
  assert.deepEqual(names(rows, { since: ['b'] }), ['d', 'c']);
  assert.deepEqual(names(rows, { since: ['b'] }, false), ['d'], 'before/since do not list stopped ones without --all');
  assert.deepEqual(names(rows, { since: ['a'], before: ['d'] }), ['c', 'b']);
  assert.deepEqual(names(rows, { before: [rows[1]!.id] }), ['b', 'a'], 'a full id');
  assert.deepEqual(names(rows, { before: ['/c'] }), ['b', 'a'], "a name with docker's slash");
  assert.deepEqual(names(rows, { before: [rows[1]!.id.slice(0, 12)] }), ['b', 'a'], 'a short id, as docker documents it');
  assert.deepEqual(names(rows, { before: ['c', 'b'] }), ['b', 'a'], 'several values are alternatives');
  assert.deepEqual(names(rows, { before: ['a'] }), []);
  refused({ before: ['nosuch'] }, NotFound, 'No such container: nosuch', rows);
  refused({ since: [''] }, NotFound, 'No such container: ', rows);
});

test('network: by name or network id prefix, stopped containers too with --all; host and none by their names', () => {
  const rows = [
    row({ name: 'app', networks: ['appnet'] }),
    row({ name: 'both', networks: ['bridge', 'appnet'], state: 'exited' }),
    row({ name: 'plain' }),
    row({ name: 'hosted', mode: 'host' }),
    row({ name: 'none', mode: 'none' }),
  ];
  assert.deepEqual(names(rows, { network: ['appnet'] }), ['app', 'both']);
  assert.deepEqual(names(rows, { network: ['appnet'] }, false), ['app']);
  assert.deepEqual(names(rows, { network: ['bbbb22'] }), ['app', 'both'], 'an id prefix');
  assert.deepEqual(names(rows, { network: ['bridge'] }), ['both', 'plain']);
  assert.deepEqual(names(rows, { network: ['host', 'none'] }), ['hosted', 'none']);
  assert.deepEqual(names(rows, { network: ['cccc3333'] }), ['hosted']);
  assert.deepEqual(names(rows, { network: ['nosuch'] }), [], 'an unknown network selects nothing');
});

test('volume: a volume by name, a bind by host path, any mount by destination', () => {
  const rows = [
    row({ name: 'vol', mounts: [{ type: 'volume', source: 'data', destination: '/data' }] }),
    row({ name: 'bind', mounts: [{ type: 'bind', source: '/srv/www', destination: '/www' }] }),
    row({ name: 'tmp', mounts: [{ type: 'tmpfs', source: '', destination: '/scratch' }] }),
    row({ name: 'bare' }),
  ];
  assert.deepEqual(names(rows, { volume: ['data'] }), ['vol']);
  assert.deepEqual(names(rows, { volume: ['/data'] }), ['vol']);
  assert.deepEqual(names(rows, { volume: ['/srv/www'] }), ['bind']);
  assert.deepEqual(names(rows, { volume: ['/scratch', '/www'] }), ['bind', 'tmp']);
  assert.deepEqual(names(rows, { volume: [''] }), [], "a tmpfs's unused source is no name");
});

test('publish and expose: host ports as bound and exposed container ports of live containers, ranges and protocols; the two keys count together', () => {
  const rows = [
    row({ name: 'web', bound: [{ hostPort: 8080, containerPort: 80, protocol: 'tcp' }], exposed: ['80/tcp'] }),
    row({ name: 'dns', bound: [{ hostPort: 5353, containerPort: 53, protocol: 'udp' }], exposed: ['53/udp'] }),
    row({ name: 'exp', exposed: ['9000/tcp'] }),
    row({ name: 'stopped', state: 'exited', exposed: ['80/tcp'] }),
    row({ name: 'hostnet', mode: 'host', exposed: ['80/tcp'] }),
  ];
  assert.deepEqual(names(rows, { publish: ['8080'] }), ['web']);
  assert.deepEqual(names(rows, { publish: ['80'] }), [], 'publish is the host port');
  assert.deepEqual(names(rows, { publish: ['5353'] }), [], 'tcp unless said');
  assert.deepEqual(names(rows, { publish: ['5353/UDP'] }), ['dns']);
  assert.deepEqual(names(rows, { publish: ['8000-9000/tcp'] }), ['web']);
  assert.deepEqual(names(rows, { expose: ['80'] }), ['web'], 'only a live container on a network of its own exposes');
  assert.deepEqual(names(rows, { expose: ['8000-9000'] }), ['exp']);
  assert.deepEqual(names(rows, { expose: ['53/udp'] }), ['dns']);
  assert.deepEqual(names(rows, { expose: ['9000/sctp'] }), [], 'a protocol no container uses');
  assert.deepEqual(names(rows, { publish: ['8080'], expose: ['9000'] }), ['web', 'exp'], "dockerd's one test for both keys");
});

test('publish and expose values refused with dockerd words', () => {
  const cases: [string, string][] = [
    ['80:80', "filter for 'publish' should not contain ':': 80:80"],
    ['', 'error while looking up for publish : invalid port range: value is empty'],
    ['http', "error while looking up for publish http: invalid start port 'http': invalid syntax"],
    ['70000', "error while looking up for publish 70000: invalid start port '70000': value out of range"],
    ['/tcp', "error while looking up for publish /tcp: invalid start port '': value is empty"],
    ['80-', "error while looking up for publish 80-: invalid end port '': value is empty"],
    ['1-2-3', "error while looking up for publish 1-2-3: invalid end port '2-3': invalid syntax"],
    ['90-80/udp', 'error while looking up for publish 90-80/udp: invalid port range: 90-80/udp'],
  ];
  for (const [v, message] of cases) refused({ publish: [v] }, InvalidArgument, message);
  refused({ expose: ['+80'] }, InvalidArgument, "error while looking up for expose +80: invalid start port '+80': invalid syntax");
  assert.deepEqual(parsePortFilter('expose', '080-90/TCP'), { start: 80, end: 90, proto: 'tcp' });
  assert.deepEqual(parsePortFilter('expose', '53/'), { start: 53, end: 53, proto: 'tcp' });
  assert.deepEqual(parsePortFilter('expose', '7-7'), { start: 7, end: 7, proto: 'tcp' });
});

test('is-task: true selects nothing (no swarm tasks), false everything; anything else is refused; isolation lets all through', () => {
  const rows = [row({ name: 'a' }), row({ name: 'b', state: 'exited' })];
  assert.deepEqual(names(rows, { 'is-task': ['true'] }), []);
  assert.deepEqual(names(rows, { 'is-task': ['1'] }), []);
  assert.deepEqual(names(rows, { 'is-task': ['false'] }), ['a', 'b']);
  assert.deepEqual(names(rows, { 'is-task': ['0'] }, false), ['a']);
  refused({ 'is-task': ['yes'] }, InvalidArgument, "invalid filter 'is-task=[yes]'");
  refused({ 'is-task': ['true', 'false'] }, InvalidArgument, "invalid filter 'is-task=[true false]'");
  refused({ 'is-task': [] }, InvalidArgument, "invalid filter 'is-task'");
  for (const v of ['default', 'process', 'hyperv']) assert.deepEqual(names(rows, { isolation: [v] }), ['a', 'b'], `isolation=${v}: a Windows daemon's filter`);
});

test('the keys docker has and no others; the world is asked only by the filters that need it', () => {
  checkFilters(parseFilterArgs(['before=x', 'since=y', 'network=n', 'volume=v', 'publish=80', 'expose=1-2/udp', 'is-task=false', 'isolation=default']));
  assert.throws(() => checkFilters({ colour: ['red'] }), (e: Error) => e instanceof InvalidArgument && e.message === "invalid filter 'colour'");
  assert.throws(() => parseFilterArgs(['before']), /bad format of filter \(expected name=value\): before/);
  const rows = [row({ name: 'a' }), row({ name: 'b' })];
  const { world, calls } = worldOf(rows);
  selectContainers(rows, true, { name: ['a'], volume: ['/x'], publish: ['80'] }, world);
  assert.deepEqual(calls, { find: 0, networks: 0 });
  selectContainers(rows, true, { before: ['a'], since: ['b'], network: ['x'] }, world);
  assert.deepEqual(calls, { find: 2, networks: 1 }, 'once per value, not per container');
});
