/**
 * The image store: layer directories under `<root>/layers/<id>/diff`, image metadata in the state store.
 * A layer is unpacked into a temporary directory and renamed into place, so a layer dir either is whole
 * or does not exist.
 */
import { createReadStream, existsSync, mkdirSync, readFileSync, renameSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { Conflict, InvalidArgument, NoSuchImage } from '../errors.ts';
import type { ImageConfigDoc, ImageRepo, ImageRow } from '../store/images.ts';
import { run } from '../sys/run.ts';
import { applyChanges } from './changes.ts';
import { familiarName } from './reference.ts';

export const DEFAULT_PATH = 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

export class ImageStore {
  readonly root: string;
  readonly repo: ImageRepo;

  constructor(root: string, repo: ImageRepo) {
    this.root = root;
    this.repo = repo;
  }

  layerDir(id: string): string {
    return join(this.root, 'layers', id, 'diff');
  }

  /** Resolve a reference (tag, full id, `sha256:` id or unique id prefix) to an image. */
  resolve(ref: string): ImageRow {
    const bare = ref.startsWith('sha256:') ? ref.slice(7) : ref;
    if (/^[0-9a-f]{64}$/.test(bare)) {
      const img = this.repo.get(bare);
      if (img) return img;
    }
    let tagged: ImageRow | undefined;
    try {
      tagged = this.repo.byTag(familiarName(ref));
    } catch {
      /* not a valid reference; may still be an id prefix */
    }
    if (tagged) return tagged;
    if (/^[0-9a-f]{4,63}$/.test(bare)) {
      const found = this.repo.byIdPrefix(bare);
      if (found.length === 1) return found[0]!;
    }
    throw new NoSuchImage(ref);
  }

  /** Lower dirs for overlay, top-most first. */
  lowerDirs(img: ImageRow): string[] {
    return img.layers.map((l) => this.layerDir(l)).reverse();
  }

  /** Read a regular file from the image's layers, top-most first; null when absent. */
  readFile(img: ImageRow, path: string): string | null {
    for (const dir of this.lowerDirs(img)) {
      const p = join(dir, path);
      if (existsSync(p)) {
        try {
          return readFileSync(p, 'utf8');
        } catch {
          return null;
        }
      }
    }
    return null;
  }

  /**
   * Import a rootfs tarball (uncompressed or gzip) as a one-layer image, as `docker import` does.
   * Returns the image id.
   */
  async importTar(tarPath: string, tag: string | undefined, changes: string[], message = ''): Promise<string> {
    const name = tag ? familiarName(tag) : undefined;
    const config0 = applyChanges({ Env: [DEFAULT_PATH], Cmd: null, Entrypoint: null, WorkingDir: '', User: '' }, changes);
    if (!statSync(tarPath, { throwIfNoEntry: false })?.isFile()) throw new InvalidArgument(`open ${tarPath}: no such file`);
    const diffId = await sha256File(tarPath);
    const layerId = diffId;
    const now = new Date().toISOString();
    if (!this.repo.hasLayer(layerId) || !existsSync(this.layerDir(layerId))) {
      await this.unpackLayer(layerId, tarPath);
      this.repo.addLayer(layerId, statSync(tarPath).size, now);
    }
    const doc: ImageConfigDoc = {
      architecture: 'amd64',
      os: 'linux',
      created: now,
      config: config0,
      rootfs: { type: 'layers', diff_ids: [`sha256:${diffId}`] },
      history: [{ created: now, created_by: 'berth import', comment: message || 'Imported from tarball' }],
    };
    const json = JSON.stringify(doc);
    const { createHash } = await import('node:crypto');
    const id = createHash('sha256').update(json).digest('hex');
    this.repo.put({ id, config: doc, layers: [layerId], size: statSync(tarPath).size, createdAt: now }, name);
    return id;
  }

  private async unpackLayer(layerId: string, tarPath: string): Promise<void> {
    const final = join(this.root, 'layers', layerId);
    const tmp = join(this.root, 'layers', `.tmp-${layerId.slice(0, 12)}-${process.pid}`);
    mkdirSync(join(tmp, 'diff'), { recursive: true });
    try {
      // GNU tar refuses members that climb out with `..` and strips leading `/`; layer safety in full
      // (symlink traversal, whiteouts) belongs to the registry unpacker.
      const r = await run('tar', ['--numeric-owner', '--same-permissions', '--xattrs', '-xf', tarPath, '-C', join(tmp, 'diff')]);
      if (r.code !== 0) throw new InvalidArgument(`import: not a valid tar archive: ${r.stderr.trim().split('\n')[0]}`);
      rmSync(final, { recursive: true, force: true });
      renameSync(tmp, final);
    } catch (e) {
      rmSync(tmp, { recursive: true, force: true });
      throw e;
    }
  }

  /** Untag or delete an image, as `docker rmi`. Returns docker's report lines. */
  remove(ref: string, force: boolean, usedBy: (imageId: string) => number): string[] {
    const img = this.resolve(ref);
    const out: string[] = [];
    let byTag = false;
    try {
      byTag = img.tags.includes(familiarName(ref)) && !/^(sha256:)?[0-9a-f]{12,64}$/.test(ref);
    } catch {
      byTag = false;
    }
    if (byTag && img.tags.length > 1) {
      this.repo.untag(familiarName(ref));
      return [`Untagged: ${familiarName(ref)}`];
    }
    const users = usedBy(img.id);
    if (users > 0 && !force) {
      throw new Conflict(
        `conflict: unable to remove repository reference "${ref}" (must force) - image is being used by ${users} container(s)`,
      );
    }
    if (!byTag && img.tags.length > 1 && !force) {
      throw new Conflict(
        `conflict: unable to delete ${img.id.slice(0, 12)} (must be forced) - image is referenced in multiple repositories`,
      );
    }
    for (const t of img.tags) {
      this.repo.untag(t);
      out.push(`Untagged: ${t}`);
    }
    if (users > 0) return out; // forced: tags go, the image stays for its containers
    this.repo.delete(img.id);
    out.push(`Deleted: sha256:${img.id}`);
    for (const l of this.repo.orphanLayers()) {
      rmSync(join(this.root, 'layers', l), { recursive: true, force: true });
      this.repo.deleteLayer(l);
    }
    return out;
  }
}

async function sha256File(path: string): Promise<string> {
  const { createHash } = await import('node:crypto');
  return new Promise((resolve, reject) => {
    const h = createHash('sha256');
    createReadStream(path)
      .on('data', (b) => h.update(b))
      .on('error', reject)
      .on('end', () => resolve(h.digest('hex')));
  });
}
