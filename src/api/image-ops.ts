/**
 * More image endpoints: save (`/images/get`), load, push (a progress stream), history, prune, and the
 * disk-usage report `/system/df`.
 */
import { InvalidArgument } from '../errors.ts';
import { saveImages, loadImages } from '../image/save-load.ts';
import type { ProgressMessage } from '../image/pull.ts';
import { localTags, type PushResult } from '../image/push.ts';
import { parseImageName } from '../registry/reference.ts';
import { diskUsageDetail } from '../engine/system-df.ts';
import { volumeJson } from '../engine/volume-inspect.ts';
import { commonHeaders, statusOf, type Ctx } from './http.ts';
import { requestCredentials } from './auth.ts';
import { parseFilters, summary } from './containers.ts';
import { imageSummary } from './images.ts';

/** `GET /images/get?names=…` and `GET /images/{name}/get`: a docker-archive tar of the images. */
export async function save(ctx: Ctx): Promise<void> {
  const names = ctx.params[0] ? [ctx.params[0]] : ctx.url.searchParams.getAll('names').filter(Boolean);
  if (names.length === 0) throw new InvalidArgument('no images named (names=…)');
  // Resolving every name happens here, before the status goes out: a missing image is a 404.
  const it = saveImages(ctx.engine.images, names, 'docker')[Symbol.asyncIterator]();
  const first = await it.next();
  const res = ctx.res;
  if (!res) throw new InvalidArgument('this endpoint cannot be upgraded');
  ctx.answered = true;
  res.writeHead(200, { ...commonHeaders(), 'Content-Type': 'application/x-tar' });
  let gone = false;
  res.on('close', () => (gone = true));
  const write = (b: Buffer) =>
    new Promise<void>((resolve) => {
      if (gone || res.destroyed) return resolve();
      if (res.write(b)) resolve();
      else {
        const go = () => {
          res.off('drain', go);
          res.off('close', go);
          resolve();
        };
        res.on('drain', go);
        res.on('close', go);
      }
    });
  try {
    if (!first.done) await write(first.value);
    for (let n = await it.next(); !n.done && !gone; n = await it.next()) await write(n.value);
    res.end();
  } catch {
    // Past the status line the archive can only stop short: the client sees a truncated tar.
    res.destroy();
  } finally {
    // Close what the archive writer holds open (a client that hung up leaves it mid-stream).
    await it.return?.(undefined).catch(() => {});
  }
}

/** `POST /images/load?quiet=`: the body is an image archive; the reply is JSON lines `{"stream":"Loaded image: …\n"}`. */
export async function load(ctx: Ctx): Promise<void> {
  if (!ctx.res) throw new InvalidArgument('this endpoint cannot be upgraded');
  const lines = await loadImages(ctx.engine.images, ctx.bodyStream());
  const body = lines.map((l) => `${JSON.stringify({ stream: `${l}\n` })}\n`).join('');
  ctx.send(200, body, 'application/json');
}

/**
 * `POST /images/{name}/push?tag=` with `X-Registry-Auth`: docker's progress lines, then the digest line
 * and an `aux` object; a failure after the first line is an `errorDetail` line, as the daemon's. A name
 * without a tag pushes every local tag of it, as dockerd does (what `docker push -a` asks for).
 */
export async function push(ctx: Ctx): Promise<void> {
  const name = ctx.params[0]!;
  const tag = ctx.q('tag');
  const ref = tag ? `${name}:${tag}` : name;
  const all = parseImageName(ref).tag === undefined;
  // A missing image is a 404 before anything streams (and before the credentials are read).
  if (all) localTags(ctx.engine.images, ref);
  else ctx.engine.images.resolve(ref);
  let out: ReturnType<Ctx['startStream']> | undefined;
  const line = (m: unknown) => {
    out ??= ctx.startStream('application/json');
    out.write(`${JSON.stringify(m)}\r\n`);
  };
  try {
    const opts = {
      credentials: requestCredentials(ctx),
      onProgress: (m: ProgressMessage) => line(m),
      onPushed: (r: PushResult) => line({ progressDetail: {}, aux: { Tag: r.tag, Digest: r.digest, Size: r.size } }),
    };
    await (all ? ctx.engine.pushAll(ref, opts) : ctx.engine.push(ref, opts));
    out!.end();
  } catch (e) {
    if (!out) throw e;
    const message = e instanceof Error ? e.message : String(e);
    out.write(`${JSON.stringify({ errorDetail: { code: statusOf(e), message }, error: message })}\r\n`);
    out.end();
  }
}

/** `GET /images/{name}/history` → `[{Id, Created, CreatedBy, Tags, Size, Comment}]`, newest first. */
export async function history(ctx: Ctx): Promise<void> {
  const { engine } = ctx;
  const img = engine.images.resolve(ctx.params[0]!);
  ctx.send(
    200,
    engine.images.history(img).map((h, i) => ({
      Id: h.id || '<missing>',
      Created: Math.floor(Date.parse(h.created) / 1000) || 0,
      CreatedBy: h.createdBy,
      Tags: i === 0 ? img.tags : null,
      Size: h.size,
      Comment: h.comment,
    })),
  );
}

/** `POST /images/prune?filters={"dangling":["false"],"until":[…],"label":[…]}` → `{ImagesDeleted, SpaceReclaimed}` */
export async function prune(ctx: Ctx): Promise<void> {
  const r = ctx.engine.pruneImages(parseFilters(ctx.q('filters')));
  ctx.send(200, {
    ImagesDeleted: [...r.untagged.map((t) => ({ Untagged: t })), ...r.deleted.map((d) => ({ Deleted: d.startsWith('sha256:') ? d : `sha256:${d}` }))],
    SpaceReclaimed: r.reclaimed,
  });
}

/** `GET /system/df`: images (with their container counts), containers (with sizes), volumes (with usage). */
export async function df(ctx: Ctx): Promise<void> {
  const d = diskUsageDetail(ctx.engine);
  ctx.send(200, {
    LayersSize: d.layersSize,
    Images: d.images.map((i) => ({ ...imageSummary(i.image), Containers: i.containers, SharedSize: 0 })),
    Containers: d.containers.map((c) => ({ ...summary(c.row), SizeRw: c.sizeRw, SizeRootFs: c.sizeRootFs })),
    Volumes: d.volumes.map((v) => ({ ...volumeJson(ctx.engine, v.name), UsageData: { Size: v.size, RefCount: v.refCount } })),
    BuildCache: [],
  });
}

/**
 * `POST /commit?container=&repo=&tag=&comment=&author=&pause=&changes=`: a container's changes as an image
 * (the engine's commit, as `berth commit`); `{"Id": "sha256:…"}` with 201. A body is a container config
 * merged over the container's own (its set fields win), then the `changes` apply.
 */
export async function commit(ctx: Ctx): Promise<void> {
  const container = ctx.q('container');
  if (!container) throw new InvalidArgument('a commit needs the container: ?container=NAME');
  const repo = ctx.q('repo') ?? '';
  const tag = ctx.q('tag') ?? '';
  if (tag && !repo) throw new InvalidArgument('a tag needs a repository: ?repo=NAME&tag=TAG');
  const changes = ctx.url.searchParams.getAll('changes').flatMap((c) => c.split('\n')).filter((c) => c.trim() !== '');
  // The body, when there is one, is a container config whose set fields win (docker-py's `conf`).
  const body = (await ctx.body()).toString().trim();
  let config: Record<string, unknown> | undefined;
  if (body && body !== 'null') {
    try {
      config = JSON.parse(body) as Record<string, unknown>;
    } catch (e) {
      throw new InvalidArgument(`invalid commit config: ${(e as Error).message}`);
    }
    if (typeof config !== 'object' || config === null || Array.isArray(config)) throw new InvalidArgument('invalid commit config: not an object');
  }
  const id = await ctx.engine.commit(container, {
    ...(config ? { config } : {}),
    ...(repo ? { tag: tag ? `${repo}:${tag}` : repo } : {}),
    ...(ctx.q('comment') ? { message: ctx.q('comment')! } : {}),
    ...(ctx.q('author') ? { author: ctx.q('author')! } : {}),
    changes,
    pause: ctx.q('pause') === null ? true : ctx.qbool('pause'),
  });
  ctx.send(201, { Id: `sha256:${id}` });
}
