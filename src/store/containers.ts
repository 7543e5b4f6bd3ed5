/**
 * Container rows. The config column is written once at create and never changes; everything else is the
 * engine's cached view of the runtime, updated only by src/engine.
 */
import type { ContainerConfig, ContainerState, HealthState, Isolation, NetworkState, Networking } from '../types.ts';
import { AlreadyExists, NameConflict } from '../errors.ts';
import type { Db } from './db.ts';
import { isUniqueViolation, tx } from './db.ts';

export interface ContainerRow {
  id: string;
  name: string;
  imageId: string;
  config: ContainerConfig;
  state: ContainerState;
  pid: number;
  pidStart: number;
  monitorPid: number;
  monitorStart: number;
  exitCode: number;
  oomKilled: boolean;
  error: string;
  mounted: boolean;
  restartCount: number;
  /** When a restart policy runs it again (ISO time); '' when no restart is due. Docker's `restarting`. */
  restartAt: string;
  /** The wait before its last restart (the next doubles it); 0 when none. */
  restartDelayMs: number;
  /** The user stopped it (stop, or kill with SIGKILL or its stop signal) since it last started. */
  stoppedByUser: boolean;
  /** Its health when its config has a check (src/engine/healthcheck.ts); null otherwise. */
  health: HealthState | null;
  createdAt: string;
  startedAt: string;
  finishedAt: string;
  lockPid: number;
  lockStart: number;
  /** Addresses and ports while it runs. */
  net: NetworkState;
}

/** The part of a config a container list reads: what `ps` shows and what its filters test. */
export type ListedConfig = Pick<ContainerConfig, 'image' | 'args' | 'labels' | 'mounts' | 'exposedPorts' | 'healthcheck' | 'restartPolicy'> & {
  networking?: Pick<Networking, 'networks'>;
  isolation?: Pick<Isolation, 'network'>;
};

/** A row as a container list reads it (a whole ContainerRow is one too). */
export type ListedContainer = Omit<ContainerRow, 'config'> & { config: ListedConfig };

/** Fields the engine may change after create. */
export type ContainerPatch = Partial<
  Pick<
    ContainerRow,
    | 'name'
    | 'state'
    | 'pid'
    | 'pidStart'
    | 'monitorPid'
    | 'monitorStart'
    | 'exitCode'
    | 'oomKilled'
    | 'error'
    | 'mounted'
    | 'restartCount'
    | 'restartAt'
    | 'restartDelayMs'
    | 'stoppedByUser'
    | 'health'
    | 'startedAt'
    | 'finishedAt'
    | 'lockPid'
    | 'lockStart'
    | 'net'
  >
>;

const columns: Record<keyof ContainerPatch, string> = {
  name: 'name',
  state: 'state',
  pid: 'pid',
  pidStart: 'pid_start',
  monitorPid: 'monitor_pid',
  monitorStart: 'monitor_start',
  exitCode: 'exit_code',
  oomKilled: 'oom_killed',
  error: 'error',
  mounted: 'mounted',
  restartCount: 'restart_count',
  restartAt: 'restart_at',
  restartDelayMs: 'restart_delay_ms',
  stoppedByUser: 'stopped_by_user',
  health: 'health',
  startedAt: 'started_at',
  finishedAt: 'finished_at',
  lockPid: 'lock_pid',
  lockStart: 'lock_start',
  net: 'net',
};

type Raw = Record<string, string | number | null>;

/**
 * Parsed configs by container id, with the text they came from. A config changes rarely (update, network
 * connect), so a long-lived process (the API server listing 1,000 containers) parses each once; the text
 * is still read and compared every time, so a change made by another process is never missed. Cached
 * configs (from a config's second read on) are frozen: a caller that changed one in place would corrupt
 * every later reader.
 */
const parsedConfigs = new Map<string, { text: string; config?: ContainerConfig }>();

function configOf(id: string, text: string): ContainerConfig {
  const hit = parsedConfigs.get(id);
  if (hit?.text === text && hit.config) return hit.config;
  if (parsedConfigs.size >= 10_000) parsedConfigs.clear();
  // Kept (and frozen) from the second read of the same text on: a one-shot CLI command listing many
  // containers reads each once and so pays neither for freezing nor for holding them.
  if (hit?.text !== text) {
    parsedConfigs.set(id, { text });
    return JSON.parse(text) as ContainerConfig;
  }
  const config = deepFreeze(JSON.parse(text) as ContainerConfig);
  parsedConfigs.set(id, { text, config });
  return config;
}

function deepFreeze<T>(v: T): T {
  if (v && typeof v === 'object' && !Object.isFrozen(v)) {
    Object.freeze(v);
    for (const x of Object.values(v)) deepFreeze(x);
  }
  return v;
}

function fromRaw(r: Raw): ContainerRow {
  return { ...mutableFields((column) => r[column] ?? null), config: configOf(r.id as string, r.config as string) };
}

/**
 * The paths of ListedConfig's fields in the config JSON, read in SQL (one json_extract per row, an array in
 * this order): parsing every whole config cost `ps` over 1,000 containers more than the rest of its reading.
 */
const LISTED_PATHS = ['$.image', '$.args', '$.labels', '$.mounts', '$.exposedPorts', '$.healthcheck', '$.restartPolicy', '$.networking.networks', '$.isolation.network'];
const LISTED_COLUMNS = ['id', 'image_id', 'created_at', ...Object.values(columns), 'listed'];
const LISTED_SQL = `SELECT ${LISTED_COLUMNS.slice(0, -1).join(', ')}, json_extract(config, ${LISTED_PATHS.map((p) => `'${p}'`).join(', ')}) AS listed
  FROM containers ORDER BY created_at DESC, rowid DESC`;
/** Each LISTED_SQL column's place in a row read as an array. */
const LISTED_AT: Record<string, number> = Object.fromEntries(LISTED_COLUMNS.map((c, i) => [c, i]));

/**
 * A LISTED_SQL row, read as an array: node:sqlite builds an array per row faster than an object of 24 keys
 * (`ps -a` over 1,000 containers: the query 8.6 → 5.8 ms).
 */
function listedFromRow(row: Value[]): ListedContainer {
  // A path the config lacks reads as null: the field is then absent, as in the parsed config.
  const [image, args, labels, mounts, exposedPorts, healthcheck, restartPolicy, networks, network] = (JSON.parse(row[LISTED_AT.listed!] as string) as unknown[]).map((x) => x ?? undefined);
  const config = {
    image,
    args,
    labels,
    mounts,
    exposedPorts,
    healthcheck,
    restartPolicy,
    networking: networks === undefined ? undefined : { networks },
    isolation: network === undefined ? undefined : { network },
  } as ListedConfig;
  return { ...mutableFields((column) => row[LISTED_AT[column]!] ?? null), config };
}

type Value = string | number | null;

/** Every field but the config, from a row's columns (`column(name)`). */
function mutableFields(column: (name: string) => Value): Omit<ContainerRow, 'config'> {
  const health = column('health');
  return {
    id: column('id') as string,
    name: column('name') as string,
    imageId: column('image_id') as string,
    state: column('state') as ContainerState,
    pid: column('pid') as number,
    pidStart: column('pid_start') as number,
    monitorPid: column('monitor_pid') as number,
    monitorStart: column('monitor_start') as number,
    exitCode: column('exit_code') as number,
    oomKilled: column('oom_killed') === 1,
    error: column('error') as string,
    mounted: column('mounted') === 1,
    restartCount: column('restart_count') as number,
    restartAt: (column('restart_at') as string | null) ?? '',
    restartDelayMs: (column('restart_delay_ms') as number | null) ?? 0,
    stoppedByUser: column('stopped_by_user') === 1,
    health: health ? (JSON.parse(health as string) as HealthState) : null,
    createdAt: column('created_at') as string,
    startedAt: column('started_at') as string,
    finishedAt: column('finished_at') as string,
    lockPid: column('lock_pid') as number,
    lockStart: column('lock_start') as number,
    net: JSON.parse((column('net') as string | null) ?? '{}') as NetworkState,
  };
}

export class ContainerRepo {
  readonly db: Db;
  constructor(db: Db) {
    this.db = db;
  }

  /** Insert a new row; a taken name or id throws NameConflict / AlreadyExists. */
  insert(row: Pick<ContainerRow, 'id' | 'name' | 'imageId' | 'config' | 'state' | 'createdAt' | 'lockPid' | 'lockStart'>): void {
    tx(this.db, () => {
      const holder = this.db.prepare('SELECT id FROM containers WHERE name = ?').get(row.name) as Raw | undefined;
      if (holder) throw new NameConflict(row.name, holder.id as string);
      if (this.db.prepare('SELECT 1 FROM containers WHERE id = ?').get(row.id)) {
        throw new AlreadyExists(`container id ${row.id} already exists`);
      }
      this.db
        .prepare(
          `INSERT INTO containers (id, name, image_id, config, state, created_at, lock_pid, lock_start)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
        )
        .run(row.id, row.name, row.imageId, JSON.stringify(row.config), row.state, row.createdAt, row.lockPid, row.lockStart);
    });
  }

  get(id: string): ContainerRow | undefined {
    const r = this.db.prepare('SELECT * FROM containers WHERE id = ?').get(id) as Raw | undefined;
    return r ? fromRaw(r) : undefined;
  }

  /** Docker's lookup order: full id, exact name, then unique id prefix. Ambiguity returns the candidates. */
  lookup(ref: string): { row?: ContainerRow; ambiguous?: string[] } {
    const name = ref.startsWith('/') ? ref.slice(1) : ref;
    const exact = this.db.prepare('SELECT * FROM containers WHERE id = ? OR name = ? ORDER BY id = ? DESC').get(ref, name, ref) as
      | Raw
      | undefined;
    if (exact) return { row: fromRaw(exact) };
    if (!/^[0-9a-f]+$/.test(ref)) return {};
    const rows = this.db.prepare('SELECT * FROM containers WHERE id >= ? AND id < ? LIMIT 2').all(ref, ref + 'g') as Raw[];
    if (rows.length === 1) return { row: fromRaw(rows[0]!) };
    if (rows.length > 1) return { ambiguous: rows.map((r) => r.id as string) };
    return {};
  }

  list(): ContainerRow[] {
    return (this.db.prepare('SELECT * FROM containers ORDER BY created_at DESC, rowid DESC').all() as Raw[]).map(fromRaw);
  }

  /** Every container as a list reads it, newest first (list's order): the config only in part. */
  listed(): ListedContainer[] {
    const statement = this.db.prepare(LISTED_SQL);
    statement.setReturnArrays(true);
    return (statement.all() as unknown as Value[][]).map(listedFromRow);
  }

  /** Update fields; with `whenState`, only if the row is still in one of those states. Returns rows changed. */
  update(id: string, patch: ContainerPatch, whenState?: readonly string[]): number {
    const keys = Object.keys(patch) as (keyof ContainerPatch)[];
    if (keys.length === 0) return 0;
    const sets = keys.map((k) => `${columns[k]} = ?`).join(', ');
    const values = keys.map((k) => {
      const v = patch[k];
      if (v === null) return '';
      if (typeof v === 'object') return JSON.stringify(v);
      return typeof v === 'boolean' ? (v ? 1 : 0) : (v as string | number);
    });
    let sql = `UPDATE containers SET ${sets} WHERE id = ?`;
    const params: (string | number)[] = [...values, id];
    if (whenState) {
      sql += ` AND state IN (${whenState.map(() => '?').join(', ')})`;
      params.push(...whenState);
    }
    try {
      return Number(this.db.prepare(sql).run(...params).changes);
    } catch (e) {
      if (patch.name !== undefined && isUniqueViolation(e)) {
        const holder = this.db.prepare('SELECT id FROM containers WHERE name = ?').get(patch.name) as Raw;
        throw new NameConflict(patch.name, holder.id as string);
      }
      throw e;
    }
  }

  /**
   * Take the row's lock from its observed holder (0 = free, or a dead process) in one statement, so two
   * processes that both saw it free cannot both get it. True when this caller now holds it.
   */
  casLock(id: string, seenPid: number, seenStart: number, pid: number, start: number): boolean {
    const r = this.db
      .prepare('UPDATE containers SET lock_pid = ?, lock_start = ? WHERE id = ? AND lock_pid = ? AND lock_start = ?')
      .run(pid, start, id, seenPid, seenStart);
    return Number(r.changes) === 1;
  }

  /** Replace the resources in a container's config (`update`). */
  updateResources(id: string, resources: ContainerConfig['resources']): void {
    this.patchConfig(id, (c) => (c.resources = resources));
  }

  /** Replace the networks in a container's config (`network connect`/`disconnect`). */
  updateNetworking(id: string, networking: NonNullable<ContainerConfig['networking']>): void {
    this.patchConfig(id, (c) => (c.networking = networking));
  }

  /** The only changes a config takes after create: resources, networks and the restart policy, in one transaction. */
  private patchConfig(id: string, change: (c: ContainerConfig) => void): void {
    tx(this.db, () => {
      const r = this.db.prepare('SELECT config FROM containers WHERE id = ?').get(id) as Raw | undefined;
      if (!r) return;
      const config = JSON.parse(r.config as string) as ContainerConfig;
      change(config);
      this.db.prepare('UPDATE containers SET config = ? WHERE id = ?').run(JSON.stringify(config), id);
    });
  }

  delete(id: string): void {
    this.db.prepare('DELETE FROM containers WHERE id = ?').run(id);
    // A long-lived process creates and removes containers by the thousand: their parsed configs go with them.
    parsedConfigs.delete(id);
  }

  /** Rows whose rootfs is still mounted (the only ones repair may have to clean up). */
  mounted(): ContainerRow[] {
    return (this.db.prepare('SELECT * FROM containers WHERE mounted != 0').all() as Raw[]).map(fromRaw);
  }

  /** Containers an exit left due to run again (docker's `restarting`). */
  restartsDue(): ContainerRow[] {
    return (this.db.prepare("SELECT * FROM containers WHERE restart_at != ''").all() as Raw[]).map(fromRaw);
  }

  /**
   * How many containers a supervisor watches over: those due to restart, and live ones whose restart policy
   * may bring them back. (A config is written by this module only, always with the same JSON shape.)
   */
  supervisedCount(): number {
    const r = this.db
      .prepare(
        `SELECT count(*) AS n FROM containers WHERE restart_at != ''
           OR (state IN ('running', 'paused') AND (coalesce(json_extract(config, '$.restartPolicy.name'), 'no') != 'no'
                                                   OR json_extract(config, '$.healthcheck.test[0]') IN ('CMD', 'CMD-SHELL')))`,
      )
      .get() as { n: number };
    return r.n;
  }

  /** Running containers whose health check probes (the supervisor runs their probes). */
  probed(): ContainerRow[] {
    return (
      this.db.prepare("SELECT * FROM containers WHERE state = 'running' AND json_extract(config, '$.healthcheck.test[0]') IN ('CMD', 'CMD-SHELL')").all() as Raw[]
    ).map(fromRaw);
  }

  /** Record a probe's outcome, only if the run it probed is the current one (same start, still running). */
  recordHealth(id: string, startedAt: string, health: HealthState): boolean {
    const r = this.db.prepare("UPDATE containers SET health = ? WHERE id = ? AND started_at = ? AND state = 'running'").run(JSON.stringify(health), id, startedAt);
    return Number(r.changes) > 0;
  }

  /** Replace a container's restart policy (`update --restart`): it applies from its next exit. */
  updateRestartPolicy(id: string, policy: NonNullable<ContainerConfig['restartPolicy']>): void {
    this.patchConfig(id, (c) => (c.restartPolicy = policy));
  }

  /** Rows whose lock is held (possibly by a dead process). */
  locked(): ContainerRow[] {
    return (this.db.prepare('SELECT * FROM containers WHERE lock_pid != 0').all() as Raw[]).map(fromRaw);
  }

  countUsingImage(imageId: string): number {
    return (this.db.prepare('SELECT count(*) AS n FROM containers WHERE image_id = ?').get(imageId) as { n: number }).n;
  }
}
