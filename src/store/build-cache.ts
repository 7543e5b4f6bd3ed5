/** The build cache: a step's key to the image it made (src/engine/build/cache-key.ts makes the keys). */
import type { Db } from './db.ts';

export interface BuildCacheRow {
  key: string;
  imageId: string;
  createdAt: string;
  lastUsed: string;
}

type Raw = Record<string, string>;

const fromRaw = (r: Raw): BuildCacheRow => ({ key: r.key!, imageId: r.image_id!, createdAt: r.created_at!, lastUsed: r.last_used! });

export class BuildCacheRepo {
  readonly db: Db;
  constructor(db: Db) {
    this.db = db;
  }

  /** The image a step with this key made, if it is still there; marks the entry used. */
  hit(key: string): string | undefined {
    const r = this.db.prepare('UPDATE build_cache SET last_used = ? WHERE key = ? RETURNING image_id').get(new Date().toISOString(), key) as
      | { image_id: string }
      | undefined;
    return r?.image_id;
  }

  /** Record what a step made (a later build with the same key replaces it). */
  put(key: string, imageId: string): void {
    const now = new Date().toISOString();
    this.db
      .prepare('INSERT INTO build_cache (key, image_id, created_at, last_used) VALUES (?, ?, ?, ?) ON CONFLICT(key) DO UPDATE SET image_id = excluded.image_id, last_used = excluded.last_used')
      .run(key, imageId, now, now);
  }

  list(): BuildCacheRow[] {
    return (this.db.prepare('SELECT * FROM build_cache ORDER BY created_at').all() as Raw[]).map(fromRaw);
  }

  /** Forget these entries; returns the images they named. */
  remove(keys: string[]): string[] {
    const del = this.db.prepare('DELETE FROM build_cache WHERE key = ? RETURNING image_id');
    return keys.flatMap((k) => (del.all(k) as { image_id: string }[]).map((r) => r.image_id));
  }

  /** Forget every entry; returns the images they named. */
  clear(): string[] {
    return (this.db.prepare('DELETE FROM build_cache RETURNING image_id').all() as { image_id: string }[]).map((r) => r.image_id);
  }

  /** Images the cache names (kept out of `images` without -a, as docker's intermediate images). */
  imageIds(): Set<string> {
    return new Set((this.db.prepare('SELECT DISTINCT image_id FROM build_cache').all() as { image_id: string }[]).map((r) => r.image_id));
  }
}
