/**
 * Images, their tags and layers. An image is a config (docker's image config JSON) over an ordered
 * stack of layer ids, bottom first; each layer is a directory in the store shared by every image.
 */
import type { Db } from './db.ts';
import { tx } from './db.ts';

export interface ImageRow {
  id: string;
  config: ImageConfigDoc;
  layers: string[];
  size: number;
  createdAt: string;
  tags: string[];
}

/** The parts of docker's image config the engine reads. */
export interface ImageConfigDoc {
  architecture: string;
  os: string;
  created: string;
  config: {
    Env?: string[];
    Cmd?: string[] | null;
    Entrypoint?: string[] | null;
    WorkingDir?: string;
    User?: string;
    Labels?: Record<string, string> | null;
    StopSignal?: string;
    ExposedPorts?: Record<string, object>;
    Volumes?: Record<string, object>;
  };
  rootfs: { type: 'layers'; diff_ids: string[] };
  history?: { created: string; created_by?: string; comment?: string }[];
}

type Raw = Record<string, string | number>;

export class ImageRepo {
  readonly db: Db;
  constructor(db: Db) {
    this.db = db;
  }

  private tagsOf(id: string): string[] {
    return (this.db.prepare('SELECT name FROM tags WHERE image_id = ? ORDER BY name').all(id) as Raw[]).map((r) => r.name as string);
  }

  private fromRaw(r: Raw): ImageRow {
    return {
      id: r.id as string,
      config: JSON.parse(r.config as string) as ImageConfigDoc,
      layers: JSON.parse(r.layers as string) as string[],
      size: r.size as number,
      createdAt: r.created_at as string,
      tags: this.tagsOf(r.id as string),
    };
  }

  get(id: string): ImageRow | undefined {
    const r = this.db.prepare('SELECT * FROM images WHERE id = ?').get(id) as Raw | undefined;
    return r ? this.fromRaw(r) : undefined;
  }

  byTag(name: string): ImageRow | undefined {
    const r = this.db.prepare('SELECT images.* FROM images JOIN tags ON tags.image_id = images.id WHERE tags.name = ?').get(name) as
      | Raw
      | undefined;
    return r ? this.fromRaw(r) : undefined;
  }

  byIdPrefix(prefix: string): ImageRow[] {
    return (this.db.prepare('SELECT * FROM images WHERE id >= ? AND id < ? LIMIT 2').all(prefix, prefix + 'g') as Raw[]).map((r) =>
      this.fromRaw(r),
    );
  }

  list(): ImageRow[] {
    return (this.db.prepare('SELECT * FROM images ORDER BY created_at DESC').all() as Raw[]).map((r) => this.fromRaw(r));
  }

  hasLayer(id: string): boolean {
    return this.db.prepare('SELECT 1 FROM layers WHERE id = ?').get(id) !== undefined;
  }

  addLayer(id: string, size: number, createdAt: string): void {
    this.db.prepare('INSERT OR IGNORE INTO layers (id, size, created_at) VALUES (?, ?, ?)').run(id, size, createdAt);
  }

  /** Insert the image if new and move `tag` onto it (a tag names one image at a time). */
  put(img: Omit<ImageRow, 'tags'>, tag?: string): void {
    tx(this.db, () => {
      this.db
        .prepare('INSERT OR IGNORE INTO images (id, config, layers, size, created_at) VALUES (?, ?, ?, ?, ?)')
        .run(img.id, JSON.stringify(img.config), JSON.stringify(img.layers), img.size, img.createdAt);
      if (tag) this.db.prepare('INSERT OR REPLACE INTO tags (name, image_id) VALUES (?, ?)').run(tag, img.id);
    });
  }

  untag(name: string): boolean {
    return Number(this.db.prepare('DELETE FROM tags WHERE name = ?').run(name).changes) > 0;
  }

  delete(id: string): void {
    this.db.prepare('DELETE FROM images WHERE id = ?').run(id);
  }

  /** Layers no image refers to any more. */
  orphanLayers(): string[] {
    const used = new Set<string>();
    for (const r of this.db.prepare('SELECT layers FROM images').all() as Raw[]) {
      for (const l of JSON.parse(r.layers as string) as string[]) used.add(l);
    }
    return (this.db.prepare('SELECT id FROM layers').all() as Raw[]).map((r) => r.id as string).filter((l) => !used.has(l));
  }

  deleteLayer(id: string): void {
    this.db.prepare('DELETE FROM layers WHERE id = ?').run(id);
  }
}
