/**
 * More container endpoints: top, stats (one-shot and streamed), rename, changes, export, the archive API
 * (`docker cp` both ways, with X-Docker-Container-Path-Stat) and prune.
 */
import { posix } from 'node:path';
import type { Readable } from 'node:stream';
import { copyFromContainer, copyToContainer, statInContainer, exportContainer, type PathStat } from '../engine/copy.ts';
import { CHANGE_KIND, containerChanges } from '../engine/diff.ts';
import { sampleOnce, statsSnapshot, streamStats, type DockerStats } from '../engine/stats.ts';
import { InvalidArgument, NoSuchContainer } from '../errors.ts';
import { commonHeaders, type Ctx } from './http.ts';

/** `GET /containers/{id}/top?ps_args=` → `{Titles, Processes}` from the host's ps, narrowed to the container. */
export async function top(ctx: Ctx): Promise<void> {
  const t = await ctx.engine.top(ctx.params[0]!, (ctx.q('ps_args') || '-ef').split(/\s+/).filter(Boolean));
  ctx.send(200, { Titles: t.titles, Processes: t.processes });
}

/**
 * `GET /containers/{id}/stats?stream=&one-shot=`: docker's stats JSON. `stream=false` is one object, its
 * CPU figures against a sample half a second earlier unless `one-shot`; streaming sends one a second
 * until the client hangs up or the container is removed.
 */
export async function stats(ctx: Ctx): Promise<void> {
  const { engine } = ctx;
  const row = engine.inspect(ctx.params[0]!);
  const info = engine.cgroups();
  const stream = ctx.q('stream') === null ? true : ctx.qbool('stream');
  if (!stream) {
    const s = ctx.qbool('one-shot') ? statsSnapshot(row, info, null) : (await sampleOnce([row], info, 500))[0]!;
    return ctx.send(200, s);
  }
  const out = ctx.startStream('application/json');
  const ac = new AbortController();
  out.onClose(() => ac.abort());
  const rows = () => {
    try {
      return [engine.inspect(row.id)];
    } catch (e) {
      if (!(e instanceof NoSuchContainer)) throw e;
      ac.abort();
      return [];
    }
  };
  const write = (frame: DockerStats[]) => {
    for (const s of frame) out.write(`${JSON.stringify(s)}\n`);
  };
  // The first object at once (its precpu empty, as the daemon's first), then one a second.
  write([statsSnapshot(row, info, null)]);
  await streamStats(rows, 1000, write, ac.signal, info).catch(() => {});
  out.end();
}

/** `POST /containers/{id}/rename?name=` */
export async function rename(ctx: Ctx): Promise<void> {
  const name = ctx.q('name');
  if (!name) throw new InvalidArgument('new name is required');
  const id = ctx.engine.find(ctx.params[0]!).id;
  await ctx.engine.rename(id, name.replace(/^\//, ''));
  ctx.send(204);
}

/** `GET /containers/{id}/changes` → `[{Path, Kind}]` (0 changed, 1 added, 2 deleted). */
export async function changes(ctx: Ctx): Promise<void> {
  ctx.send(
    200,
    containerChanges(ctx.engine, ctx.params[0]!).map((c) => ({ Path: c.path, Kind: CHANGE_KIND[c.kind] })),
  );
}

/** Stream a tar to the response once its first bytes exist (so an early failure still gets its status). */
async function sendTar(ctx: Ctx, tar: Readable, extra: Record<string, string> = {}): Promise<void> {
  const res = ctx.res;
  if (!res) throw new InvalidArgument('this endpoint cannot be upgraded');
  ctx.answered = true;
  res.writeHead(200, { ...commonHeaders(), 'Content-Type': 'application/x-tar', ...extra });
  if (ctx.req.method === 'HEAD') {
    tar.destroy();
    res.end();
    return;
  }
  await new Promise<void>((resolve) => {
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      resolve();
    };
    tar.on('error', () => {
      res.destroy();
      finish();
    });
    res.on('close', () => {
      tar.destroy();
      finish();
    });
    tar.on('end', () => {
      res.end();
      finish();
    });
    tar.pipe(res, { end: false });
  });
}

/** `GET /containers/{id}/export`: the container's filesystem as a tar. */
export async function exportTar(ctx: Ctx): Promise<void> {
  await exportContainer(ctx.engine, ctx.params[0]!, (tar) => sendTar(ctx, tar));
}

/** X-Docker-Container-Path-Stat: base64 of `{name, size, mode, mtime, linkTarget}`. */
function statHeader(st: PathStat): string {
  return Buffer.from(JSON.stringify({ name: st.name, size: st.size, mode: st.mode, mtime: st.mtime, linkTarget: st.linkTarget })).toString('base64');
}

function archivePath(ctx: Ctx): string {
  const p = ctx.q('path');
  if (!p) throw new InvalidArgument('path is required');
  return p;
}

/** `HEAD /containers/{id}/archive?path=`: the path's stat in a header (404 when missing). */
export async function archiveHead(ctx: Ctx): Promise<void> {
  const st = await statInContainer(ctx.engine, ctx.params[0]!, archivePath(ctx));
  ctx.answered = true;
  const headers = { ...commonHeaders(), 'X-Docker-Container-Path-Stat': statHeader(st), 'Content-Type': 'application/json', 'Content-Length': 0 };
  if (ctx.res) {
    ctx.res.writeHead(200, headers);
    ctx.res.end();
  } else ctx.send(200);
}

/** `GET /containers/{id}/archive?path=`: a tar of the path, named by its base name, with the stat header. */
export async function archiveGet(ctx: Ctx): Promise<void> {
  const path = archivePath(ctx);
  // A trailing `/.` asks for a directory's contents (docker names the top entry `.` then).
  const name = /(^|\/)\.$/.test(path) ? '.' : posix.basename(posix.normalize(`/${path}`)) || '.';
  await copyFromContainer(ctx.engine, ctx.params[0]!, path, (tar, st) => sendTar(ctx, tar, { 'X-Docker-Container-Path-Stat': statHeader(st) }), { name });
}

/** `PUT /containers/{id}/archive?path=&noOverwriteDirNonDir=&copyUIDGID=`: extract the body (a tar) into a directory. */
export async function archivePut(ctx: Ctx): Promise<void> {
  const path = archivePath(ctx);
  if (!ctx.res) throw new InvalidArgument('this endpoint cannot be upgraded');
  await copyToContainer(ctx.engine, ctx.params[0]!, path, ctx.bodyStream(), { preserveOwner: ctx.qbool('copyUIDGID') });
  ctx.send(200);
}

/** `POST /containers/prune` → `{ContainersDeleted, SpaceReclaimed}` */
export async function prune(ctx: Ctx): Promise<void> {
  const { parseFilters } = await import('./containers.ts');
  const filters = parseFilters(ctx.q('filters'));
  const { ids, reclaimed } = await ctx.engine.prune(filters);
  ctx.send(200, { ContainersDeleted: ids, SpaceReclaimed: reclaimed });
}
