/**
 * `POST /build`: docker's classic builder API. The body is the context (a tar, maybe compressed), unpacked
 * as it arrives; the answer is a JSON message stream in the classic builder's words (`Step 1/4 : …`,
 * ` ---> Using cache`, the step's output, ` ---> <id>`, `Successfully built`), with the image id as an `aux`
 * message and a failure as an `errorDetail` one. `POST /build/prune` clears the build cache.
 */
import type { BuildEvent, BuildOptions, RunResources } from '../engine/build/options.ts';
import { RunFailed } from '../engine/build/run-step.ts';
import { InvalidArgument, NotSupported } from '../errors.ts';
import { familiarName } from '../registry/reference.ts';
import { parseFilters } from './containers.ts';
import type { Ctx } from './http.ts';

/** Query parameters of /build taken from JSON (`buildargs`, `labels`: objects of strings; null values skipped). */
function jsonMap(ctx: Ctx, name: string): Record<string, string> {
  const raw = ctx.q(name);
  if (!raw) return {};
  let v: unknown;
  try {
    v = JSON.parse(raw);
  } catch {
    throw new InvalidArgument(`invalid ${name}: not JSON`);
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new InvalidArgument(`invalid ${name}: not an object`);
  const out: Record<string, string> = {};
  for (const [k, val] of Object.entries(v)) {
    if (val === null) continue;
    if (typeof val !== 'string') throw new InvalidArgument(`invalid ${name}: ${k} is not a string`);
    out[k] = val;
  }
  return out;
}

/** `cachefrom`: a JSON list of image names. */
function jsonList(ctx: Ctx, name: string): string[] {
  const raw = ctx.q(name);
  if (!raw) return [];
  let v: unknown;
  try {
    v = JSON.parse(raw);
  } catch {
    throw new InvalidArgument(`invalid ${name}: not JSON`);
  }
  if (!Array.isArray(v) || v.some((x) => typeof x !== 'string')) throw new InvalidArgument(`invalid ${name}: not a list of strings`);
  return v as string[];
}

/** What the request asks for; everything checked before the body is read. */
function buildOptions(ctx: Ctx): Omit<BuildOptions, 'contextStream'> & { quiet: boolean } {
  if (ctx.q('remote')) throw new InvalidArgument('remote build contexts are not supported: send the context as the body');
  const platform = ctx.q('platform');
  if (platform && !/^linux(\/amd64)?$/.test(platform)) throw new InvalidArgument(`platform ${platform}: only linux/amd64 is built here`);
  const tags = ctx.url.searchParams.getAll('t').filter(Boolean);
  for (const t of tags) familiarName(t);
  const network = ctx.q('networkmode');
  return {
    quiet: ctx.qbool('q'),
    dockerfile: { path: ctx.q('dockerfile') || 'Dockerfile' },
    tags,
    buildArgs: jsonMap(ctx, 'buildargs'),
    labels: jsonMap(ctx, 'labels'),
    ...(ctx.q('target') ? { target: ctx.q('target')! } : {}),
    noCache: ctx.qbool('nocache'),
    cacheFrom: jsonList(ctx, 'cachefrom'),
    pull: ctx.qbool('pull'),
    ...(network && network !== 'default' ? { network } : {}),
    addHosts: ctx.url.searchParams.getAll('extrahosts').flatMap((h) => h.split(',')).filter(Boolean),
    resources: resources(ctx),
  };
}

/** The RUN containers' limits (`memory`, `memswap`, `shmsize`, `ulimits`, `cpu*`, `cgroupparent`); 0 or absent leaves one unset. */
function resources(ctx: Ctx): RunResources {
  if (ctx.url.searchParams.getAll('securityopt').some(Boolean)) throw new InvalidArgument('security options are not supported on linux');
  const int = (name: string): number | undefined => {
    const v = ctx.q(name);
    if (!v) return undefined;
    if (!/^-?\d+$/.test(v)) throw new InvalidArgument(`invalid ${name}: ${v} (an integer)`);
    return Number(v) || undefined;
  };
  const r: RunResources = {};
  const set = <K extends keyof RunResources>(k: K, v: RunResources[K] | undefined) => {
    if (v !== undefined && v !== '') r[k] = v;
  };
  set('memory', int('memory'));
  set('memorySwap', int('memswap'));
  set('shmSize', int('shmsize'));
  set('cpuShares', int('cpushares'));
  set('cpuPeriod', int('cpuperiod'));
  set('cpuQuota', int('cpuquota'));
  set('cpusetCpus', ctx.q('cpusetcpus') ?? undefined);
  set('cpusetMems', ctx.q('cpusetmems') ?? undefined);
  set('cgroupParent', ctx.q('cgroupparent') ?? undefined);
  const ulimits = ctx.q('ulimits');
  if (ulimits) {
    let v: unknown;
    try {
      v = JSON.parse(ulimits);
    } catch {
      throw new InvalidArgument('invalid ulimits: not JSON');
    }
    if (!Array.isArray(v)) throw new InvalidArgument('invalid ulimits: not a list');
    if (v.length > 0) r.ulimits = v.map((u: { Name?: unknown; Soft?: unknown; Hard?: unknown }) => `${String(u.Name)}=${Number(u.Soft)}:${Number(u.Hard)}`);
  }
  return r;
}

export async function build(ctx: Ctx): Promise<void> {
  const { quiet, ...opts } = buildOptions(ctx);
  const out = ctx.startStream('application/json');
  const line = (m: unknown) => out.write(`${JSON.stringify(m)}\r\n`);
  const say = (text: string) => line({ stream: text });
  const abort = new AbortController();
  out.onClose(() => abort.abort(new InvalidArgument('the client went away')));
  const ordered = inStepOrder((e) => classicLine(e, say));
  try {
    const r = await ctx.engine.build({
      ...opts,
      contextStream: ctx.bodyStream(),
      signal: abort.signal,
      ...(quiet ? {} : { progress: ordered.report }),
    });
    line({ aux: { ID: `sha256:${r.imageId}` } });
    if (quiet) say(`sha256:${r.imageId}\n`);
    else {
      say(`Successfully built ${r.imageId.slice(0, 12)}\n`);
      for (const t of r.tags) say(`Successfully tagged ${t}\n`);
    }
  } catch (e) {
    ordered.flush();
    const message = e instanceof Error ? e.message : String(e);
    // The classic builder's code is a failed RUN's exit code: the docker CLI exits with it.
    line({ errorDetail: { code: e instanceof RunFailed ? e.code : 1, message }, error: message });
  } finally {
    out.end();
  }
}

/**
 * The classic builder ran one step after another, and its clients read the stream so: reports of a stage
 * that runs alongside an earlier one wait until the steps before theirs are done.
 */
function inStepOrder(emit: (e: BuildEvent) => void): { report: (e: BuildEvent) => void; flush: () => void } {
  const waiting = new Map<number, BuildEvent[]>();
  let next = 1;
  const advance = () => {
    next++;
    for (let queued = waiting.get(next); queued; queued = waiting.get(next)) {
      waiting.delete(next);
      for (const e of queued) emit(e);
      if (!queued.some((e) => e.kind === 'done')) return;
      next++;
    }
  };
  return {
    report(e) {
      if (e.kind === 'warning' || e.step < next) return emit(e);
      if (e.step > next) {
        waiting.set(e.step, [...(waiting.get(e.step) ?? []), e]);
        return;
      }
      emit(e);
      if (e.kind === 'done') advance();
    },
    flush() {
      for (const step of [...waiting.keys()].sort((a, b) => a - b)) for (const e of waiting.get(step)!) emit(e);
      waiting.clear();
    },
  };
}

/** A build report in the classic builder's words. */
function classicLine(e: BuildEvent, say: (text: string) => void): void {
  switch (e.kind) {
    case 'step':
      say(`Step ${e.step}/${e.total} : ${e.text}\n`);
      break;
    case 'cached':
      say(' ---> Using cache\n');
      break;
    case 'output':
      say(e.data.toString('utf8'));
      break;
    case 'done':
      if (e.imageId) say(` ---> ${e.imageId.slice(0, 12)}\n`);
      break;
    case 'warning':
      say(`[Warning] ${e.message}\n`);
      break;
  }
}

/** `POST /build/prune` (`filters` `until`, `keep-storage` in bytes): the ids of the cache images removed. */
export async function prune(ctx: Ctx): Promise<void> {
  const keep = ctx.q('keep-storage');
  if (keep && !/^\d+$/.test(keep)) throw new InvalidArgument(`invalid keep-storage: ${keep} (bytes)`);
  const keepStorage = keep ? Number(keep) : 0;
  const { deleted, reclaimed } = await ctx.engine.pruneBuildCache({ filters: parseFilters(ctx.q('filters')), ...(keepStorage > 0 ? { keepStorage } : {}) });
  ctx.send(200, { CachesDeleted: deleted.map((id) => `sha256:${id}`), SpaceReclaimed: reclaimed });
}

/** `POST /session`: BuildKit's session (for buildx); Berth builds with the classic builder, which needs none. */
export async function session(_ctx: Ctx): Promise<void> {
  throw new NotSupported('BuildKit sessions are not supported: Berth builds with the classic builder (POST /build)');
}
