/** Volumes: name, driver options and labels; whether a first user still has to fill it (copy-up). */
import { AlreadyExists } from '../errors.ts';
import { isUniqueViolation, type Db } from './db.ts';

export interface VolumeRow {
  name: string;
  driver: string;
  /** The local driver's `--opt` keys: type, device, o. */
  options: Record<string, string>;
  labels: Record<string, string>;
  anonymous: boolean;
  /** True until a container first mounts it: that container fills it with the image's content. */
  needsCopyUp: boolean;
  createdAt: string;
}

type Raw = Record<string, string | number>;

const fromRaw = (r: Raw): VolumeRow => ({
  name: r.name as string,
  driver: r.driver as string,
  options: JSON.parse(r.options as string) as Record<string, string>,
  labels: JSON.parse(r.labels as string) as Record<string, string>,
  anonymous: r.anonymous === 1,
  needsCopyUp: r.needs_copy_up === 1,
  createdAt: r.created_at as string,
});

export class VolumeRepo {
  readonly db: Db;
  constructor(db: Db) {
    this.db = db;
  }

  insert(v: Omit<VolumeRow, 'needsCopyUp'>): void {
    try {
      this.db
        .prepare('INSERT INTO volumes (name, driver, options, labels, anonymous, created_at) VALUES (?, ?, ?, ?, ?, ?)')
        .run(v.name, v.driver, JSON.stringify(v.options), JSON.stringify(v.labels), v.anonymous ? 1 : 0, v.createdAt);
    } catch (e) {
      if (isUniqueViolation(e)) throw new AlreadyExists(`volume ${v.name} already exists`);
      throw e;
    }
  }

  get(name: string): VolumeRow | undefined {
    const r = this.db.prepare('SELECT * FROM volumes WHERE name = ?').get(name) as Raw | undefined;
    return r ? fromRaw(r) : undefined;
  }

  list(): VolumeRow[] {
    return (this.db.prepare('SELECT * FROM volumes ORDER BY name').all() as Raw[]).map(fromRaw);
  }

  /** Clear the copy-up mark; true for the one caller that cleared it. */
  takeCopyUp(name: string): boolean {
    return this.db.prepare('UPDATE volumes SET needs_copy_up = 0 WHERE name = ? AND needs_copy_up = 1').run(name).changes === 1;
  }

  delete(name: string): void {
    this.db.prepare('DELETE FROM volumes WHERE name = ?').run(name);
  }
}
