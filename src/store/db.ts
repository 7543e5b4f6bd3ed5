/**
 * The state store: one SQLite file in the engine root, shared by every CLI process and the API server.
 * WAL lets readers run beside a writer; every multi-step change runs in an IMMEDIATE transaction so
 * concurrent processes serialise on the write lock instead of failing.
 */
import { DatabaseSync } from 'node:sqlite';
import { migrations } from './migrations.ts';

export type Db = DatabaseSync;

export function openDb(path: string): Db {
  const db = new DatabaseSync(path, { timeout: 30_000 });
  db.exec('PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;');
  migrate(db);
  cacheStatements(db);
  return db;
}

/** Statements kept per connection; past this many distinct texts the cache starts over (a few are built). */
const STATEMENT_CACHE = 256;

/**
 * The repositories prepare their statements where they use them; a long-lived process (berth serve) runs
 * the same few hundred texts thousands of times, and compiling each anew costs its main thread. Each text
 * is compiled once per connection. Safe because every use runs a statement to completion (get, all, run)
 * before the next one starts: nothing holds one open across another use.
 */
function cacheStatements(db: Db): void {
  const prepare = db.prepare.bind(db);
  const cache = new Map<string, ReturnType<Db['prepare']>>();
  db.prepare = (sql: string) => {
    let s = cache.get(sql);
    if (!s) {
      if (cache.size >= STATEMENT_CACHE) cache.clear();
      s = prepare(sql);
      cache.set(sql, s);
    }
    return s;
  };
}

/** Apply the migrations not yet applied, each in its own transaction. */
export function migrate(db: Db): void {
  const current = (db.prepare('PRAGMA user_version').get() as { user_version: number }).user_version;
  if (current >= migrations.length) return;
  tx(db, () => {
    // Re-read inside the write lock: another process may have migrated meanwhile.
    const v = (db.prepare('PRAGMA user_version').get() as { user_version: number }).user_version;
    for (let i = v; i < migrations.length; i++) db.exec(migrations[i]!);
    db.exec(`PRAGMA user_version = ${migrations.length}`);
  });
}

/** Run fn in an IMMEDIATE transaction; nested calls join the outer one. */
export function tx<T>(db: Db, fn: () => T): T {
  if (db.isTransaction) return fn();
  db.exec('BEGIN IMMEDIATE');
  try {
    const out = fn();
    db.exec('COMMIT');
    return out;
  } catch (e) {
    db.exec('ROLLBACK');
    throw e;
  }
}

/** Whether `e` is SQLite refusing a row that repeats a UNIQUE or PRIMARY KEY value (by its extended result code). */
export function isUniqueViolation(e: unknown): boolean {
  const code = (e as { errcode?: unknown } | null)?.errcode;
  return code === SQLITE_CONSTRAINT_UNIQUE || code === SQLITE_CONSTRAINT_PRIMARYKEY;
}

const SQLITE_CONSTRAINT_PRIMARYKEY = 1555;
const SQLITE_CONSTRAINT_UNIQUE = 2067;
