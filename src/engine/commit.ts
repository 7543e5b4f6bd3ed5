/**
 * `commit`: a container's overlay upper dir becomes a new layer on top of its image's. Whiteouts become
 * `.wh.` entries and opaque dirs `.wh..wh..opq` (src/archive/pack.ts), so the layer means the same to
 * any engine. The layer is archived once into the blob store and unpacked from there: the image can be
 * pushed or saved as it is. A running container is paused while its upper dir is read, as docker does.
 */
import { join } from 'node:path';
import { packPath } from '../archive/pack.ts';
import { NoSuchImage } from '../errors.ts';
import { applyChanges } from '../image/changes.ts';
import { familiarName } from '../registry/reference.ts';
import type { ImageConfigDoc } from '../store/images.ts';
import type { EngineCore } from './core.ts';

export interface CommitOptions {
  tag?: string;
  message?: string;
  author?: string;
  changes?: string[];
  /** Pause a running container while its changes are read (default true). */
  pause?: boolean;
  /** The API's request body: a config whose set fields win over the container's (docker's merge), before the changes. */
  config?: Partial<ImageConfigDoc['config']>;
}

type RunConfig = ImageConfigDoc['config'];

/**
 * docker's commit merge: what the user's config sets wins; the rest comes from the container's. Cmd goes
 * with Entrypoint (a new entrypoint without a command has none); Env and Labels are merged by key, the
 * exposed ports and volumes are joined.
 */
function mergeConfig(user: Partial<RunConfig>, ctr: RunConfig): RunConfig {
  const out: RunConfig = { ...ctr };
  const set = (v: unknown) => v !== undefined && v !== null && v !== '' && !(Array.isArray(v) && v.length === 0);
  if (set(user.Entrypoint)) {
    out.Entrypoint = user.Entrypoint!;
    out.Cmd = set(user.Cmd) ? user.Cmd! : null;
  } else if (set(user.Cmd)) out.Cmd = user.Cmd!;
  if (set(user.Env)) {
    const keys = new Set(user.Env!.map((e) => e.split('=')[0]));
    out.Env = [...user.Env!, ...(ctr.Env ?? []).filter((e) => !keys.has(e.split('=')[0]))];
  }
  if (user.Labels && Object.keys(user.Labels).length > 0) out.Labels = { ...(ctr.Labels ?? {}), ...user.Labels };
  if (user.ExposedPorts && Object.keys(user.ExposedPorts).length > 0) out.ExposedPorts = { ...(ctr.ExposedPorts ?? {}), ...user.ExposedPorts };
  const vols = (user as { Volumes?: Record<string, object> }).Volumes;
  if (vols && Object.keys(vols).length > 0) (out as { Volumes?: Record<string, object> }).Volumes = { ...((ctr as { Volumes?: Record<string, object> }).Volumes ?? {}), ...vols };
  for (const k of ['User', 'WorkingDir', 'StopSignal', 'Healthcheck'] as const) if (set(user[k])) (out as Record<string, unknown>)[k] = user[k];
  return out;
}

/** The engine's own mount points (created empty in the upper dir by the runtime): not the container's. */
export const ENGINE_STUBS = new Set(['etc/hosts', 'etc/hostname', 'etc/resolv.conf']);

export async function commitContainer(engine: EngineCore, ref: string, opts: CommitOptions = {}): Promise<string> {
  return engine.withLock(ref, async (row) => {
    const base = engine.images.repo.get(row.imageId);
    if (!base) throw new NoSuchImage(row.imageId);
    const c = row.config;
    // Check the name and changes before any work, so bad input leaves nothing behind.
    const tag = opts.tag ? familiarName(opts.tag) : undefined;
    const fromContainer: RunConfig = {
      ...base.config.config,
      Env: c.env,
      Cmd: c.cmd,
      Entrypoint: c.entrypoint,
      WorkingDir: c.cwd !== '/' ? c.cwd : (base.config.config.WorkingDir ?? ''),
      User: c.user || base.config.config.User || '',
      Labels: Object.keys(c.labels).length ? { ...(base.config.config.Labels ?? {}), ...c.labels } : (base.config.config.Labels ?? null),
    };
    const config = applyChanges(opts.config ? mergeConfig(opts.config, fromContainer) : fromContainer, opts.changes ?? []);
    const pause = opts.pause !== false && row.state === 'running';
    const drv = engine.driver(row.config.runtime);
    if (pause) await drv.pause(row.id);
    const lease = engine.images.lease();
    try {
      const tar = await packPath(join(engine.dir(row.id), 'diff'), { name: '', layer: { skip: (n) => ENGINE_STUBS.has(n) } });
      const layer = await engine.images.layerFromStream(tar, lease, undefined, 'commit');
      lease.hold(`sha256:${layer.id}`);
      const now = new Date().toISOString();
      const doc: ImageConfigDoc = {
        ...base.config,
        created: now,
        author: opts.author ?? '',
        container: row.id,
        config,
        rootfs: { type: 'layers', diff_ids: [...base.config.rootfs.diff_ids, `sha256:${layer.id}`] },
        history: [
          ...(base.config.history ?? []),
          { created: now, author: opts.author || undefined, created_by: c.args.join(' '), comment: opts.message || undefined },
        ],
      };
      if (!opts.author) delete doc.author;
      const id = engine.images.addImage(Buffer.from(JSON.stringify(doc)), { tag, parent: base.id });
      engine.emitContainer(row, 'commit', { comment: opts.message ?? '', imageID: `sha256:${id}`, imageRef: tag ?? '' });
      return id;
    } finally {
      lease.release();
      if (pause) await drv.unpause(row.id).catch(() => {});
    }
  });
}
