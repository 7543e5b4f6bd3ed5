/**
 * The event log: what happened to containers, images, networks and volumes, in the order it happened, for
 * `events` and the API's /events. Every process writing state appends here through the same database,
 * so a reader sees what the CLI, the API server and library users did alike. The newest KEEP rows stay.
 */
import type { StatementSync } from 'node:sqlite';
import type { Db } from './db.ts';

export type EventType = 'container' | 'image' | 'network' | 'volume' | 'pod';

export interface EventRecord {
  /** Position in the log: strictly increasing in commit order. */
  seq: number;
  /** Wall-clock time in microseconds since the epoch (millisecond precision). */
  timeUs: number;
  type: EventType;
  action: string;
  /** The object's id (an image event from pull/push names the reference instead, as docker does). */
  actor: string;
  attributes: Record<string, string>;
}

/** How many events are kept. */
const KEEP = 10_000;

type Raw = Record<string, string | number>;

export class EventRepo {
  private readonly db: Db;
  private insertStmt?: StatementSync;
  private afterStmt?: StatementSync;

  constructor(db: Db) {
    this.db = db;
  }

  append(type: EventType, action: string, actor: string, attributes: Record<string, string> = {}): void {
    // The wall clock, as every reader compares it with Date.now(); order comes from seq, not from time.
    const timeUs = Date.now() * 1000;
    this.insertStmt ??= this.db.prepare('INSERT INTO events (time_us, type, action, actor, attributes) VALUES (?, ?, ?, ?, ?)');
    const seq = Number(this.insertStmt.run(timeUs, type, action, actor, JSON.stringify(attributes)).lastInsertRowid);
    // Trim now and then rather than on every append: one cheap delete per thousand events.
    if (seq % 1000 === 0) this.db.prepare('DELETE FROM events WHERE seq <= ?').run(seq - KEEP);
  }

  /** Append, never throwing: what happened stands even when it cannot be recorded (the store was closed). */
  record(type: EventType, action: string, actor: string, attributes: Record<string, string> = {}): void {
    try {
      this.append(type, action, actor, attributes);
    } catch {
      /* the event is lost, not the operation */
    }
  }

  /** Up to `limit` events after position `seq`, oldest first. */
  after(seq: number, limit = 500): EventRecord[] {
    this.afterStmt ??= this.db.prepare('SELECT * FROM events WHERE seq > ? ORDER BY seq LIMIT ?');
    return (this.afterStmt.all(seq, limit) as Raw[]).map(fromRaw);
  }

  /** The position just before the first event at or after `timeUs` (the last position when there is none). */
  cursorAt(timeUs: number): number {
    const r = this.db.prepare('SELECT MIN(seq) AS s FROM events WHERE time_us >= ?').get(timeUs) as { s: number | null };
    return r.s === null ? this.last() : r.s - 1;
  }

  /** The exit code of the object's latest `die` event: what a container that is gone exited with. */
  lastExitCode(actor: string): number | undefined {
    const r = this.db.prepare("SELECT attributes FROM events WHERE actor = ? AND action = 'die' ORDER BY seq DESC LIMIT 1").get(actor) as Raw | undefined;
    if (!r) return undefined;
    const code = Number((JSON.parse(r.attributes as string) as Record<string, string>).exitCode);
    return Number.isInteger(code) ? code : undefined;
  }

  /** The newest position (0 when the log is empty). */
  last(): number {
    const r = this.db.prepare('SELECT MAX(seq) AS s FROM events').get() as { s: number | null };
    return r.s ?? 0;
  }
}

function fromRaw(r: Raw): EventRecord {
  return {
    seq: r.seq as number,
    timeUs: r.time_us as number,
    type: r.type as EventType,
    action: r.action as string,
    actor: r.actor as string,
    attributes: JSON.parse(r.attributes as string) as Record<string, string>,
  };
}
