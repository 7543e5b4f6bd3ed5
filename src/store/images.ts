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
  /** `repo@sha256:…` names of the manifests this image was pulled by or pushed as. */
  repoDigests: string[];
  /** The image a commit was made from ('' otherwise). */
  parent: string;
}

/** An unpacked layer and the archive (blob) it came from. */
export interface LayerRow {
  /** Hex of the layer's diff id (digest of its uncompressed tar). */
  id: string;
  size: number;
  blobDigest: string;
  blobType: string;
  blobSize: number;
  link: string;
  createdAt: string;
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
    [key: string]: unknown;
  };
  author?: string;
  container?: string;
  container_config?: unknown;
  rootfs: { type: 'layers'; diff_ids: string[] };
  history?: { created: string; created_by?: string; comment?: string; author?: string; empty_layer?: boolean }[];
  [key: string]: unknown;
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
      repoDigests: (this.db.prepare('SELECT name FROM repo_digests WHERE image_id = ? ORDER BY name').all(r.id) as Raw[]).map(
        (d) => d.name as string,
      ),
      parent: (r.parent as string) ?? '',
    };
  }

  byRepoDigest(name: string): ImageRow | undefined {
    const r = this.db
      .prepare('SELECT images.* FROM images JOIN repo_digests d ON d.image_id = images.id WHERE d.name = ?')
      .get(name) as Raw | undefined;
    return r ? this.fromRaw(r) : undefined;
  }

  addRepoDigest(name: string, imageId: string): void {
    this.db.prepare('INSERT OR REPLACE INTO repo_digests (name, image_id) VALUES (?, ?)').run(name, imageId);
  }

  /** Remember that a registry repository holds a blob (for cross-repository mounts on push). */
  addBlobSource(digest: string, repo: string): void {
    this.db.prepare('INSERT OR IGNORE INTO blob_sources (digest, repo) VALUES (?, ?)').run(digest, repo);
  }

  blobSources(digest: string): string[] {
    return (this.db.prepare('SELECT repo FROM blob_sources WHERE digest = ?').all(digest) as Raw[]).map((r) => r.repo as string);
  }

  layer(id: string): LayerRow | undefined {
    const r = this.db.prepare('SELECT * FROM layers WHERE id = ?').get(id) as Raw | undefined;
    return r ? layerFromRaw(r) : undefined;
  }

  layers(): LayerRow[] {
    return (this.db.prepare('SELECT * FROM layers').all() as Raw[]).map(layerFromRaw);
  }

  /** Layer rows by the digest of the archive they came from. */
  layerByBlob(blobDigest: string): LayerRow | undefined {
    const r = this.db.prepare('SELECT * FROM layers WHERE blob_digest = ?').get(blobDigest) as Raw | undefined;
    return r ? layerFromRaw(r) : undefined;
  }

  putLayer(l: LayerRow): void {
    this.db
      .prepare(
        `INSERT INTO layers (id, size, created_at, blob_digest, blob_type, blob_size, link) VALUES (?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT(id) DO UPDATE SET link = excluded.link,
           blob_digest = CASE WHEN layers.blob_digest = '' THEN excluded.blob_digest ELSE layers.blob_digest END,
           blob_type = CASE WHEN layers.blob_digest = '' THEN excluded.blob_type ELSE layers.blob_type END,
           blob_size = CASE WHEN layers.blob_digest = '' THEN excluded.blob_size ELSE layers.blob_size END`,
      )
      .run(l.id, l.size, l.createdAt, l.blobDigest, l.blobType, l.blobSize, l.link);
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

  /** Insert the image if new and move `tag` onto it (a tag names one image at a time). */
  put(img: Omit<ImageRow, 'tags' | 'repoDigests'>, tag?: string): void {
    tx(this.db, () => {
      this.db
        .prepare('INSERT OR IGNORE INTO images (id, config, layers, size, created_at, parent) VALUES (?, ?, ?, ?, ?, ?)')
        .run(img.id, JSON.stringify(img.config), JSON.stringify(img.layers), img.size, img.createdAt, img.parent);
      if (tag) this.tag(tag, img.id);
    });
  }

  tag(name: string, imageId: string): void {
    this.db.prepare('INSERT OR REPLACE INTO tags (name, image_id) VALUES (?, ?)').run(name, imageId);
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

function layerFromRaw(r: Raw): LayerRow {
  return {
    id: r.id as string,
    size: r.size as number,
    blobDigest: r.blob_digest as string,
    blobType: r.blob_type as string,
    blobSize: r.blob_size as number,
    link: r.link as string,
    createdAt: r.created_at as string,
  };
}
