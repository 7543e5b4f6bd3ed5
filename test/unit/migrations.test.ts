/**
 * Schema migrations (src/store/migrations.ts): for each migration N, a database as version N-1 left it,
 * with the rows that version could hold (containers, exec sessions, images, tags, layers, volumes,
 * networks, events…), is opened with the current code (openDb). Every row must survive under its
 * (possibly renamed) columns, columns added since read their defaults, the recorded version is the newest,
 * the schema is the one a new database gets, and the current repositories read the rows back.
 *
 * A database at version v is made as migrate() makes one: migrations 1..v run in one transaction and
 * user_version set to v. Each migration's effect on the schema is declared below (EFFECTS) and checked
 * against what its SQL does; a new migration needs its entry there.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DatabaseSync } from 'node:sqlite';
import { join } from 'node:path';
import { migrations } from '../../src/store/migrations.ts';
import { openDb } from '../../src/store/db.ts';
import { ContainerRepo } from '../../src/store/containers.ts';
import { EventRepo } from '../../src/store/events.ts';
import { ExecRepo } from '../../src/store/exec-sessions.ts';
import { ImageRepo } from '../../src/store/images.ts';
import { NetworkRepo } from '../../src/store/networks.ts';
import { VolumeRepo } from '../../src/store/volumes.ts';
import { scratchDir } from './util.ts';

// ---- what each migration does to the schema ----

interface Effect {
  /** Tables it creates. */
  tables?: string[];
  /** Columns it adds to tables that already exist, with the value rows already there get. */
  columns?: Record<string, Record<string, unknown>>;
  /** Columns it renames: table → old name → new name. */
  renamed?: Record<string, Record<string, string>>;
}

/** EFFECTS[i] is migration i + 1 (it moves user_version from i to i + 1). */
const EFFECTS: Effect[] = [
  { tables: ['images', 'tags', 'layers', 'containers'] },
  { tables: ['exec_sessions'] },
  { tables: ['volumes'] },
  { tables: ['networks'], columns: { containers: { net: '{}' } } },
  {
    tables: ['repo_digests', 'blob_sources'],
    columns: { layers: { blob_digest: '', blob_type: '', blob_size: 0, link: '' }, images: { parent: '' } },
  },
  { tables: ['events'] },
  { renamed: { containers: { conmon_pid: 'monitor_pid', conmon_start: 'monitor_start' } } },
  { columns: { exec_sessions: { started: 1 } } },
  { columns: { containers: { restart_at: '', restart_delay_ms: 0, stopped_by_user: 0 } } },
  { columns: { containers: { health: '' } } },
  { tables: ['build_cache'] },
  { columns: { networks: { options: '{}', attachable: 0 } } },
  { tables: ['pods'] },
  { columns: { pods: { state: '{}' } } },
];

// ---- representative rows ----

const IMG = 'a'.repeat(64);
const IMG2 = 'b'.repeat(64);
const L1 = '1'.repeat(64);
const L2 = '2'.repeat(64);
const WEB = 'c'.repeat(64);
const OLD = 'd'.repeat(64);
const NET = 'e'.repeat(64);
const EXEC_LIVE = '5'.repeat(64);
const EXEC_DONE = '6'.repeat(64);
const T0 = '2024-01-02T03:04:05.000Z';

const imageConfig = { architecture: 'amd64', os: 'linux', created: T0, config: { Cmd: ['sh'] }, rootfs: { type: 'layers', diff_ids: [`sha256:${L1}`] } };
const containerConfig = { image: 'busybox:latest', cmd: ['sleep', '1000'], env: ['A=1'], labels: { k: 'v' } };
const execConfig = { cmd: ['sh'], env: [], user: '', workdir: '', tty: false, stdin: false, detach: true, privileged: false };
const netState = { networks: { bridge: { ip: '10.88.0.2' } } };

/**
 * Rows in insertion order (references first). A row is written with those of its columns the table has at
 * the version being built: a column a later migration adds is left out (so the upgrade must give it its
 * default), and a column a later migration renames is given under both names (one exists).
 */
const ROWS: { table: string; values: Record<string, string | number | null> }[] = [
  { table: 'images', values: { id: IMG, config: JSON.stringify(imageConfig), layers: JSON.stringify([L1]), size: 4321, created_at: T0 } },
  { table: 'images', values: { id: IMG2, config: JSON.stringify(imageConfig), layers: JSON.stringify([L1, L2]), size: 5000, created_at: T0, parent: IMG } },
  { table: 'tags', values: { name: 'busybox:latest', image_id: IMG } },
  { table: 'tags', values: { name: 'committed:1', image_id: IMG2 } },
  { table: 'layers', values: { id: L1, size: 4000, created_at: T0 } },
  {
    table: 'layers',
    values: { id: L2, size: 1000, created_at: T0, blob_digest: `sha256:${'9'.repeat(64)}`, blob_type: 'application/vnd.oci.image.layer.v1.tar+gzip', blob_size: 500, link: 'ABCDEFGH' },
  },
  {
    table: 'containers',
    values: {
      id: WEB, name: 'web', image_id: IMG, config: JSON.stringify(containerConfig), state: 'running', pid: 4242, pid_start: 777,
      conmon_pid: 4240, conmon_start: 776, monitor_pid: 4240, monitor_start: 776, exit_code: 0, oom_killed: 0, error: '', mounted: 1,
      restart_count: 2, created_at: T0, started_at: T0, finished_at: '', lock_pid: 0, lock_start: 0, net: JSON.stringify(netState),
    },
  },
  // Only what an insert must give: every other column takes its default.
  { table: 'containers', values: { id: OLD, name: 'old', image_id: IMG, config: JSON.stringify(containerConfig), state: 'exited', exit_code: 3, created_at: T0 } },
  { table: 'exec_sessions', values: { id: EXEC_LIVE, container_id: WEB, config: JSON.stringify(execConfig), pid: 5000, pid_start: 800, running: 1, created_at: T0 } },
  { table: 'exec_sessions', values: { id: EXEC_DONE, container_id: WEB, config: JSON.stringify(execConfig), exit_code: 0, created_at: T0 } },
  { table: 'volumes', values: { name: 'data', driver: 'local', options: '{"type":"tmpfs"}', labels: '{"a":"b"}', anonymous: 0, needs_copy_up: 0, created_at: T0 } },
  { table: 'volumes', values: { name: 'f'.repeat(64), anonymous: 1, created_at: T0 } },
  {
    table: 'networks',
    values: {
      id: NET, name: 'appnet', driver: 'bridge', bridge: 'br-eeeeeeeeeee', subnets: JSON.stringify([{ subnet: '10.89.0.0/24', gateway: '10.89.0.1' }]),
      internal: 1, ipv6: 0, mtu: 1400, labels: '{"team":"x"}', created_at: T0,
    },
  },
  { table: 'repo_digests', values: { name: `localhost:5000/busybox@sha256:${'8'.repeat(64)}`, image_id: IMG } },
  { table: 'blob_sources', values: { digest: `sha256:${'9'.repeat(64)}`, repo: 'localhost:5000/busybox' } },
  { table: 'events', values: { time_us: 1_700_000_000_000_000, type: 'container', action: 'create', actor: OLD, attributes: '{"name":"old"}' } },
  { table: 'build_cache', values: { key: 'c'.repeat(64), image_id: IMG2, created_at: T0, last_used: T0 } },
  { table: 'pods', values: { id: '7'.repeat(64), name: 'pod1', config: JSON.stringify({ infraId: WEB, share: ['net'], cgroupParent: '/berth/pod-7', ownsCgroup: true, hostname: 'pod1', labels: {} }), created_at: T0 } },
  { table: 'events', values: { time_us: 1_700_000_001_000_000, type: 'container', action: 'die', actor: OLD, attributes: '{"exitCode":"3","name":"old"}' } },
];

// ---- databases ----

type Row = Record<string, unknown>;
interface Column {
  cid: number;
  name: string;
  type: string;
  notnull: number;
  dflt_value: string | null;
  pk: number;
}

/** node:sqlite's rows have no prototype; plain objects compare with deepEqual. */
const all = (db: DatabaseSync, sql: string): Row[] => db.prepare(sql).all().map((r) => ({ ...r }));

const userVersion = (db: DatabaseSync): number => (db.prepare('PRAGMA user_version').get() as { user_version: number }).user_version;

function tables(db: DatabaseSync): string[] {
  return all(db, "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name").map((r) => r.name as string);
}

function columns(db: DatabaseSync, table: string): Column[] {
  return all(db, `PRAGMA table_info(${table})`) as unknown as Column[];
}

/** Every table's rows, in rowid order. */
function dump(db: DatabaseSync): Map<string, Row[]> {
  return new Map(tables(db).map((t) => [t, all(db, `SELECT * FROM ${t} ORDER BY rowid`)]));
}

/** Everything sqlite_master says (tables, indexes and their SQL). */
function schema(db: DatabaseSync): Row[] {
  return all(db, 'SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY type, name');
}

/** A column's declared default as the value SQLite gives a row that has none: 'x' → x, 0 → 0. */
function defaultOf(c: Column): unknown {
  const d = c.dflt_value;
  if (d === null || /^null$/i.test(d)) return null;
  const quoted = /^'(.*)'$/s.exec(d);
  if (quoted) return quoted[1]!.replaceAll("''", "'");
  assert.ok(/^-?\d+(\.\d+)?$/.test(d), `a default this test can read: ${c.name} DEFAULT ${d}`);
  return Number(d);
}

/** A database at version v, as migrate() leaves one after migrations 1..v (openDb's settings). */
function databaseAt(path: string, v: number): DatabaseSync {
  const db = new DatabaseSync(path);
  db.exec('PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;');
  db.exec('BEGIN IMMEDIATE');
  for (let i = 0; i < v; i++) db.exec(migrations[i]!);
  db.exec(`PRAGMA user_version = ${v}`);
  db.exec('COMMIT');
  return db;
}

/** Insert the ROWS whose tables exist, each with the columns its table has. */
function seed(db: DatabaseSync): void {
  const have = new Set(tables(db));
  for (const { table, values } of ROWS) {
    if (!have.has(table)) continue;
    const names = new Set(columns(db, table).map((c) => c.name));
    const cols = Object.keys(values).filter((k) => names.has(k));
    db.prepare(`INSERT INTO ${table} (${cols.join(', ')}) VALUES (${cols.map(() => '?').join(', ')})`).run(...cols.map((k) => values[k]!));
  }
}

/** The effects of migrations from+1..to together: tables made, columns added (with defaults), renames (old → newest name). */
function effectsBetween(from: number, to: number): Required<Effect> {
  const out: Required<Effect> = { tables: [], columns: {}, renamed: {} };
  for (const e of EFFECTS.slice(from, to)) {
    out.tables.push(...(e.tables ?? []));
    for (const [t, cols] of Object.entries(e.columns ?? {})) out.columns[t] = { ...out.columns[t], ...cols };
    for (const [t, ren] of Object.entries(e.renamed ?? {})) {
      const m = (out.renamed[t] ??= {});
      for (const [o, n] of Object.entries(ren)) {
        // A column renamed twice keeps its first name as the key; one added and then renamed is added under the new name.
        const first = Object.keys(m).find((k) => m[k] === o);
        if (first !== undefined) m[first] = n;
        else if (out.columns[t] && o in out.columns[t]) {
          out.columns[t][n] = out.columns[t][o];
          delete out.columns[t][o];
        } else m[o] = n;
      }
    }
  }
  return out;
}

// ---- tests ----

test('every migration has its declared effect here, and the schema starts at version 1', () => {
  assert.equal(EFFECTS.length, migrations.length, `a migration without an entry in EFFECTS of test/unit/migrations.test.ts (or an entry without one): ${EFFECTS.length} vs ${migrations.length}`);
  assert.ok(migrations.length >= 1);
});

for (let n = 1; n <= migrations.length; n++) {
  test(`migration ${n} does what EFFECTS says to the schema of version ${n - 1}`, (t) => {
    const db = databaseAt(join(scratchDir(t, 'berth-migrations-'), 'b.db'), n - 1);
    try {
      const beforeTables = tables(db);
      const before = new Map(beforeTables.map((tb) => [tb, columns(db, tb)]));
      db.exec(migrations[n - 1]!);
      const e = EFFECTS[n - 1]!;
      assert.deepEqual(tables(db).filter((tb) => !before.has(tb)).sort(), [...(e.tables ?? [])].sort(), 'tables created');
      for (const [tb, old] of before) {
        assert.ok(tables(db).includes(tb), `table ${tb} is still there`);
        const now = columns(db, tb);
        const ren = e.renamed?.[tb] ?? {};
        // Columns that were there keep their place, type, NOT NULL and default; a renamed one only changes its name.
        for (const c of old) assert.deepEqual(now[c.cid], { ...c, name: ren[c.name] ?? c.name }, `${tb}.${c.name}`);
        const added = now.slice(old.length);
        assert.deepEqual(added.map((c) => c.name), Object.keys(e.columns?.[tb] ?? {}), `columns added to ${tb}`);
        for (const c of added) {
          assert.deepEqual(defaultOf(c), e.columns![tb]![c.name], `default of ${tb}.${c.name}`);
        }
      }
      for (const tb of Object.keys({ ...e.columns, ...e.renamed })) assert.ok(before.has(tb), `EFFECTS names ${tb}, which version ${n - 1} does not have`);
    } finally {
      db.close();
    }
  });

  test(`a database of version ${n - 1} with its rows opens with the current code: rows kept, new columns at their defaults, version ${migrations.length}`, (t) => {
    const dir = scratchDir(t, 'berth-migrations-');
    const path = join(dir, 'berth.db');
    const old = databaseAt(path, n - 1);
    seed(old);
    const before = dump(old);
    const oldTables = new Set(before.keys());
    old.close();

    const db = openDb(path);
    const fresh = openDb(join(dir, 'fresh.db'));
    try {
      assert.equal(userVersion(db), migrations.length, 'the recorded schema version is the newest');
      assert.deepEqual(schema(db), schema(fresh), 'the upgraded schema is the one a new database gets');
      assert.deepEqual(all(db, 'PRAGMA integrity_check'), [{ integrity_check: 'ok' }]);
      assert.deepEqual(all(db, 'PRAGMA foreign_key_check'), []);

      const since = effectsBetween(n - 1, migrations.length);
      const after = dump(db);
      for (const [tb, rows] of before) {
        const now = after.get(tb);
        assert.ok(now, `table ${tb} is still there`);
        assert.equal(now.length, rows.length, `rows of ${tb}`);
        assert.ok(rows.length > 0, `the test put rows in ${tb}`);
        const ren = since.renamed[tb] ?? {};
        const added = since.columns[tb] ?? {};
        rows.forEach((row, i) => {
          const want: Row = {};
          for (const [k, v] of Object.entries(row)) want[ren[k] ?? k] = v;
          Object.assign(want, added);
          assert.deepEqual(now[i], want, `${tb} row ${i}`);
        });
      }

      // The current code reads what the old version stored.
      const had = (tb: string, col: string): boolean => col in (before.get(tb)?.[0] ?? {});
      if (oldTables.has('containers')) {
        const cs = new ContainerRepo(db);
        const web = cs.get(WEB)!;
        assert.equal(web.name, 'web');
        assert.equal(web.state, 'running');
        assert.deepEqual(web.config, containerConfig);
        assert.deepEqual([web.pid, web.pidStart, web.monitorPid, web.monitorStart, web.restartCount, web.mounted], [4242, 777, 4240, 776, 2, true]);
        assert.deepEqual(web.net, had('containers', 'net') ? netState : {});
        const o = cs.get(OLD)!;
        assert.deepEqual([o.state, o.exitCode, o.monitorPid, o.error, o.startedAt, o.mounted, o.oomKilled], ['exited', 3, 0, '', '', false, false]);
        assert.deepEqual(o.net, {});
        assert.equal(cs.lookup('old').row?.id, OLD);

        const images = new ImageRepo(db);
        assert.deepEqual(images.byTag('busybox:latest')?.layers, [L1]);
        const child = images.get(IMG2)!;
        assert.deepEqual(child.tags, ['committed:1']);
        assert.equal(child.parent, had('images', 'parent') ? IMG : '', 'a commit made before images had parents has none');
        assert.equal(images.layer(L1)?.blobDigest, '');
        assert.equal(images.layer(L2)?.size, 1000);
      }
      if (oldTables.has('exec_sessions')) {
        const execs = new ExecRepo(db);
        assert.deepEqual(execs.runningIn(WEB).map((s) => s.id), [EXEC_LIVE]);
        assert.equal(execs.get(EXEC_DONE)?.exitCode, 0);
        assert.deepEqual(execs.get(EXEC_LIVE)?.config, execConfig);
        assert.equal(execs.get(EXEC_DONE)?.started, true, 'a session recorded before exec create and start were apart was started');
      }
      if (oldTables.has('volumes')) {
        const vols = new VolumeRepo(db);
        assert.deepEqual(vols.get('data'), { name: 'data', driver: 'local', options: { type: 'tmpfs' }, labels: { a: 'b' }, anonymous: false, needsCopyUp: false, createdAt: T0 });
        const anon = vols.get('f'.repeat(64))!;
        assert.deepEqual([anon.driver, anon.options, anon.labels, anon.anonymous, anon.needsCopyUp], ['local', {}, {}, true, true]);
      }
      if (oldTables.has('networks')) {
        const net = new NetworkRepo(db).find('appnet')!;
        assert.deepEqual([net.id, net.internal, net.ipv6, net.mtu, net.labels], [NET, true, false, 1400, { team: 'x' }]);
      }
      if (oldTables.has('events')) {
        const events = new EventRepo(db);
        assert.deepEqual(events.after(0).map((e) => e.action), ['create', 'die']);
        assert.equal(events.lastExitCode(OLD), 3);
      }

      // And the upgraded database takes new rows the current code writes.
      new ContainerRepo(db).insert({ id: '7'.repeat(64), name: 'new', imageId: IMG, config: containerConfig as never, state: 'created', createdAt: T0, lockPid: 0, lockStart: 0 });
      new EventRepo(db).append('container', 'create', '7'.repeat(64));
      assert.equal(new ContainerRepo(db).get('7'.repeat(64))?.monitorPid, 0);
    } finally {
      db.close();
      fresh.close();
    }
    // Opening it again changes nothing: the version stays, no migration runs twice.
    const again = openDb(path);
    try {
      assert.equal(userVersion(again), migrations.length);
    } finally {
      again.close();
    }
  });
}
