/**
 * Exec sessions: what is to be run or was run in a container, its pid and, once it ended, its exit code.
 * A session is created (its command recorded), started once (`started`; then its pid, `running`), and ends
 * (its exit code).
 */
import type { Db } from './db.ts';

export interface ExecConfig {
  cmd: string[];
  env: string[];
  user: string;
  workdir: string;
  tty: boolean;
  stdin: boolean;
  detach: boolean;
  privileged: boolean;
  /** The outputs whoever starts it attaches to (docker's AttachStdout/AttachStderr); absent: both. */
  stdout?: boolean;
  stderr?: boolean;
  /** The key sequence that detaches a client attached to it (docker's DetachKeys); absent: the default. */
  detachKeys?: string;
  /** A terminal size asked for before the process ran, [rows, cols]: applied once it runs. */
  size?: [number, number];
}

export interface ExecSessionRow {
  id: string;
  containerId: string;
  config: ExecConfig;
  pid: number;
  pidStart: number;
  /** Someone started it (a session is started once); its pid follows. */
  started: boolean;
  running: boolean;
  /** null until the process ended. */
  exitCode: number | null;
  createdAt: string;
}

type Raw = Record<string, string | number | null>;

const fromRaw = (r: Raw): ExecSessionRow => ({
  id: r.id as string,
  containerId: r.container_id as string,
  config: JSON.parse(r.config as string) as ExecConfig,
  pid: r.pid as number,
  pidStart: r.pid_start as number,
  started: r.started === 1,
  running: r.running === 1,
  exitCode: r.exit_code as number | null,
  createdAt: r.created_at as string,
});

export class ExecRepo {
  readonly db: Db;
  constructor(db: Db) {
    this.db = db;
  }

  /** Record a session; `started` when whoever creates it also starts it (no claim then). */
  insert(id: string, containerId: string, config: ExecConfig, started: boolean): void {
    this.db
      .prepare('INSERT INTO exec_sessions (id, container_id, config, started, created_at) VALUES (?, ?, ?, ?, ?)')
      .run(id, containerId, JSON.stringify(config), started ? 1 : 0, new Date().toISOString());
  }

  /** Take a created session to start it, with the configuration it starts with. False if it was started already. */
  claim(id: string, config: ExecConfig): boolean {
    return Number(this.db.prepare('UPDATE exec_sessions SET started = 1, config = ? WHERE id = ? AND started = 0').run(JSON.stringify(config), id).changes) > 0;
  }

  /**
   * Keep a terminal size for when the process runs. False once its pid is recorded (resize the process
   * then): whoever starts a session reads the size after recording the pid, so a size is never missed.
   */
  keepSize(id: string, rows: number, cols: number): boolean {
    return (
      Number(this.db.prepare("UPDATE exec_sessions SET config = json_set(config, '$.size', json(?)) WHERE id = ? AND pid = 0").run(JSON.stringify([rows, cols]), id).changes) > 0
    );
  }

  started(id: string, pid: number, pidStart: number): void {
    this.db.prepare('UPDATE exec_sessions SET pid = ?, pid_start = ?, running = 1 WHERE id = ? AND exit_code IS NULL').run(pid, pidStart, id);
  }

  /**
   * Record the end once; later reports of the same end change nothing. True for the report that recorded it.
   * The row also moves to the end of the table (a new rowid): ended rows in rowid order are in the order
   * their ends were stored, which pruneEnded keeps the newest of.
   */
  ended(id: string, exitCode: number): boolean {
    return (
      Number(
        this.db
          .prepare('UPDATE exec_sessions SET running = 0, exit_code = ?, rowid = (SELECT max(rowid) + 1 FROM exec_sessions) WHERE id = ? AND exit_code IS NULL')
          .run(exitCode, id).changes,
      ) > 0
    );
  }

  get(id: string): ExecSessionRow | undefined {
    const r = this.db.prepare('SELECT * FROM exec_sessions WHERE id = ?').get(id) as Raw | undefined;
    return r ? fromRaw(r) : undefined;
  }

  /** By full id or unique prefix. */
  lookup(ref: string): ExecSessionRow[] {
    return (this.db.prepare('SELECT * FROM exec_sessions WHERE id >= ? AND id < ? LIMIT 2').all(ref, ref + 'g') as Raw[]).map(fromRaw);
  }

  /** The container's sessions recorded as running (their process may have ended since). */
  runningIn(containerId: string): ExecSessionRow[] {
    return (this.db.prepare('SELECT * FROM exec_sessions WHERE container_id = ? AND running = 1').all(containerId) as Raw[]).map(fromRaw);
  }

  /**
   * Forget the container's ended sessions but the `keep` that ended last; running ones and ones not yet
   * ended stay. Returns the ids forgotten.
   */
  pruneEnded(containerId: string, keep: number): string[] {
    const rows = this.db
      .prepare(
        `DELETE FROM exec_sessions WHERE container_id = ? AND exit_code IS NOT NULL AND id NOT IN
           (SELECT id FROM exec_sessions WHERE container_id = ? AND exit_code IS NOT NULL ORDER BY rowid DESC LIMIT ?)
         RETURNING id`,
      )
      .all(containerId, containerId, keep) as { id: string }[];
    return rows.map((r) => r.id);
  }

  /** Forget the container's sessions never started but the `keep` created last (a client may create and walk away). */
  pruneUnstarted(containerId: string, keep: number): void {
    this.db
      .prepare(
        `DELETE FROM exec_sessions WHERE container_id = ? AND started = 0 AND id NOT IN
           (SELECT id FROM exec_sessions WHERE container_id = ? AND started = 0 ORDER BY rowid DESC LIMIT ?)`,
      )
      .run(containerId, containerId, keep);
  }

  forContainer(containerId: string): ExecSessionRow[] {
    return (this.db.prepare('SELECT * FROM exec_sessions WHERE container_id = ? ORDER BY created_at').all(containerId) as Raw[]).map(fromRaw);
  }

  delete(id: string): void {
    this.db.prepare('DELETE FROM exec_sessions WHERE id = ?').run(id);
  }
}
