/** Image endpoints: list, inspect, pull (`/images/create?fromImage`), import (`?fromSrc=-`), remove, tag. */
import { InvalidArgument } from '../errors.ts';
import { imageInspectJson } from '../engine/image-inspect.ts';
import { familiarName } from '../registry/reference.ts';
import type { ProgressMessage } from '../image/pull.ts';
import { requestCredentials } from './auth.ts';
import { statusOf, type Ctx } from './http.ts';
import { parseFilters } from './containers.ts';
import type { ImageRow } from '../engine/types.ts';

export async function list(ctx: Ctx): Promise<void> {
  const { engine } = ctx;
  const filters = parseFilters(ctx.q('filters'));
  for (const k of Object.keys(filters)) {
    if (!['dangling', 'label', 'reference'].includes(k)) throw new InvalidArgument(`invalid filter '${k}'`);
  }
  const out = [];
  for (const img of engine.listImages(ctx.q('all') === '1' || ctx.q('all') === 'true')) {
    const labels = img.config.config.Labels ?? {};
    if (filters.dangling?.length && !filters.dangling.some((v) => (img.tags.length === 0) === (v === 'true' || v === '1'))) continue;
    if (filters.label?.length && !filters.label.every((l) => {
      const [k, v] = l.split('=', 2) as [string, string | undefined];
      return k in labels && (v === undefined || labels[k] === v);
    })) continue;
    if (filters.reference?.length && !filters.reference.some((r) => img.tags.some((t) => globRe(r).test(t) || globRe(r).test(t.slice(0, t.lastIndexOf(':')))))) continue;
    out.push(imageSummary(img));
  }
  ctx.send(200, out);
}

/** An image as `GET /images/json` lists it. */
export function imageSummary(img: ImageRow): Record<string, unknown> {
  return {
    Id: `sha256:${img.id}`,
    ParentId: img.parent ? `sha256:${img.parent}` : '',
    RepoTags: img.tags,
    RepoDigests: img.repoDigests,
    Created: Math.floor(Date.parse(img.config.created) / 1000) || 0,
    Size: img.size,
    VirtualSize: img.size,
    SharedSize: -1,
    Labels: img.config.config.Labels ?? {},
    Containers: -1,
  };
}

/** docker's reference filter: a glob over `repo` or `repo:tag`, `*` not crossing `/`. */
function globRe(glob: string): RegExp {
  const body = glob.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '[^/]*').replace(/\?/g, '[^/]');
  return new RegExp(`^${body}$`);
}

export async function inspect(ctx: Ctx): Promise<void> {
  ctx.send(200, imageInspectJson(ctx.engine, ctx.params[0]!));
}

/**
 * `POST /images/create?fromImage=…&tag=…`: pull, streaming docker's JSON progress lines. Errors before any
 * output get their status; later ones go in the stream as `errorDetail`, as the daemon does.
 */
export async function create(ctx: Ctx): Promise<void> {
  const from = ctx.q('fromImage');
  if (!from) {
    if (ctx.q('fromSrc')) return importFrom(ctx);
    throw new InvalidArgument('fromImage or fromSrc is required');
  }
  const tag = ctx.q('tag');
  const ref = tag ? `${from}${tag.startsWith('sha256:') ? '@' : ':'}${tag}` : from;
  let out: ReturnType<Ctx['startStream']> | undefined;
  const line = (m: unknown) => {
    out ??= ctx.startStream('application/json');
    out.write(`${JSON.stringify(m)}\r\n`);
  };
  try {
    // The request's X-Registry-Auth credentials, when it sent any (src/api/auth.ts).
    await ctx.engine.pull(ref, {
      platform: ctx.q('platform') || undefined,
      credentials: requestCredentials(ctx),
      onProgress: (m: ProgressMessage) => line(m),
    });
    // pullImage's own last lines are docker's `Digest:` and `Status:` ones; the CLI prints the name after.
    out ??= ctx.startStream('application/json');
    out.end();
  } catch (e) {
    if (!out) throw e;
    const message = e instanceof Error ? e.message : String(e);
    out.write(`${JSON.stringify({ errorDetail: { code: statusOf(e), message }, error: message })}\r\n`);
    out.end();
  }
}

/**
 * `POST /images/create?fromSrc=-&repo=…&tag=…&changes=…&message=…` (docker import): the request body is
 * a rootfs tarball (plain, gzip or zstd) that becomes a one-layer image. Answers `{"status": id}`.
 */
async function importFrom(ctx: Ctx): Promise<void> {
  const src = ctx.q('fromSrc');
  if (src !== '-') throw new InvalidArgument(`importing from a URL is not supported (fromSrc=${src}): send the archive as the request body`);
  const repo = ctx.q('repo');
  const tag = ctx.q('tag');
  const ref = repo ? (tag ? `${repo}:${tag}` : repo) : undefined;
  const id = await ctx.engine.images.importTar(ctx.bodyStream(), ref, ctx.url.searchParams.getAll('changes'), ctx.q('message') ?? '');
  const out = ctx.startStream('application/json');
  out.write(`${JSON.stringify({ status: `sha256:${id}` })}\r\n`);
  out.end();
}

export async function remove(ctx: Ctx): Promise<void> {
  const { engine } = ctx;
  const lines = engine.images.remove(ctx.params[0]!, ctx.qbool('force'), (id) => engine.containers.countUsingImage(id), ctx.qbool('noprune'));
  ctx.send(
    200,
    lines.map((l) => {
      const i = l.indexOf(': ');
      return { [l.slice(0, i)]: l.slice(i + 2) };
    }),
  );
}

/** `POST /images/{name}/tag?repo=…&tag=…` */
export async function tag(ctx: Ctx): Promise<void> {
  const { engine } = ctx;
  const img = engine.images.resolve(ctx.params[0]!);
  const repo = ctx.q('repo');
  if (!repo) throw new InvalidArgument('repository name (repo) is required');
  let target: string;
  try {
    target = familiarName(`${repo}:${ctx.q('tag') || 'latest'}`);
  } catch (e) {
    throw new InvalidArgument((e as Error).message);
  }
  engine.images.tag(target, img.id);
  ctx.send(201);
}
