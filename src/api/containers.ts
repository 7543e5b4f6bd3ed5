/** Container endpoints that are plain request/response (plus wait's delayed body). */
import { InvalidArgument, Conflict } from '../errors.ts';
import { psSummary } from '../engine/ps-summary.ts';
import { humanDuration } from '../engine/time.ts';
import type { ContainerRow } from '../engine/types.ts';
import { type Ctx } from './http.ts';
import { createOptions, resourceOptions, restartPolicyOf } from './create-body.ts';
import type { UpdateOptions } from '../engine/verbs/change.ts';
import { requestWarnings } from './state.ts';
import { linkRemove } from './networks.ts';
import { isLive, stopActsOn } from '../engine/state.ts';
import type { WaitCondition } from '../engine/wait-for.ts';

export async function create(ctx: Ctx): Promise<void> {
  const body = await ctx.json();
  const opts = createOptions(body, ctx.q('name'));
  const warnings: string[] = [];
  const row = await requestWarnings.run(warnings, () => ctx.engine.create(opts));
  ctx.send(201, { Id: row.id, Warnings: warnings });
}

/** `POST /containers/{id}/update`: resource limits (applied live) and the restart policy; docker's `{Warnings}`. */
export async function update(ctx: Ctx): Promise<void> {
  const body = await ctx.json();
  const opts: UpdateOptions = resourceOptions(body);
  const policy = restartPolicyOf(body.RestartPolicy);
  if (policy) opts.restartPolicy = policy;
  const warnings = await ctx.engine.update(ctx.params[0]!, opts);
  ctx.send(200, { Warnings: warnings });
}

/** `filters` as Go sends it (`{"label":{"k=v":true}}`) or as dockerode does (`{"label":["k=v"]}`). */
export function parseFilters(raw: string | null): Record<string, string[]> {
  if (!raw) return {};
  let v: unknown;
  try {
    v = JSON.parse(raw);
  } catch {
    throw new InvalidArgument(`invalid filter: ${raw}`);
  }
  const out: Record<string, string[]> = {};
  for (const [k, val] of Object.entries((v ?? {}) as Record<string, unknown>)) {
    if (Array.isArray(val)) out[k] = val.map(String);
    else if (val && typeof val === 'object') out[k] = Object.entries(val).filter(([, on]) => on).map(([x]) => x);
    else throw new InvalidArgument(`invalid filter '${k}'`);
  }
  return out;
}

export async function list(ctx: Ctx): Promise<void> {
  let rows = await ctx.engine.list(ctx.qbool('all'), parseFilters(ctx.q('filters')));
  rows.sort((a, b) => Date.parse(b.createdAt) - Date.parse(a.createdAt));
  const limit = ctx.qint('limit', -1)!;
  if (limit > 0) rows = rows.slice(0, limit);
  ctx.send(200, rows.map(summary));
}

export function summary(r: ContainerRow): Record<string, unknown> {
  const s = psSummary(r, humanDuration);
  const live = isLive(r.state);
  const ports = live
    ? (r.net.ports ?? []).map((p) => ({ IP: p.hostIP || '0.0.0.0', PrivatePort: p.containerPort, PublicPort: p.hostPort, Type: p.protocol }))
    : [];
  const networks: Record<string, unknown> = {};
  for (const n of r.config.networking?.networks ?? []) {
    const a = live ? r.net.networks?.[n.name] : undefined;
    networks[n.name] = { IPAddress: a?.ip ?? '', Gateway: a?.gateway ?? '', MacAddress: a?.mac ?? '', NetworkID: '', EndpointID: '' };
  }
  return {
    Id: r.id,
    Names: [`/${r.name}`],
    Image: r.config.image,
    ImageID: `sha256:${r.imageId}`,
    Command: s.Command,
    Created: Math.floor(Date.parse(r.createdAt) / 1000),
    Ports: ports,
    Labels: r.config.labels ?? {},
    State: s.State,
    Status: s.Status,
    HostConfig: { NetworkMode: r.config.isolation?.network === 'bridge' ? 'default' : (r.config.isolation?.network ?? 'none') },
    NetworkSettings: { Networks: networks },
    Mounts: r.config.mounts.map((m) => ({ Type: m.type, Name: m.type === 'volume' ? m.source : undefined, Source: m.source, Destination: m.destination, RW: !m.readonly })),
  };
}

export async function inspect(ctx: Ctx): Promise<void> {
  ctx.send(200, ctx.engine.container(ctx.params[0]!).inspect());
}

export async function start(ctx: Ctx): Promise<void> {
  const { engine, state } = ctx;
  const row = engine.inspect(ctx.params[0]!);
  if (row.state === 'running') return ctx.send(304);
  // (The engine removes an auto-remove container whose start failed: docker's `run --rm` waits for that.)
  await engine.start(row.id, {
    beforeStart: async (_row, connect) => {
      // Clients that attached before the start are connected before the process runs.
      for (const a of state.takeAttachers(row.id)) a.connect(await connect().catch(() => null));
    },
  });
  ctx.send(204);
}

export async function stop(ctx: Ctx): Promise<void> {
  const { engine } = ctx;
  const row = engine.inspect(ctx.params[0]!);
  if (!stopActsOn(row)) return ctx.send(304);
  await engine.stop(row.id, ctx.qint('t'), ctx.q('signal') || undefined);
  ctx.send(204);
}

export async function kill(ctx: Ctx): Promise<void> {
  await ctx.engine.kill(ctx.params[0]!, ctx.q('signal') || 'SIGKILL');
  ctx.send(204);
}

export async function restart(ctx: Ctx): Promise<void> {
  const id = ctx.engine.find(ctx.params[0]!).id;
  await ctx.engine.restart(id, ctx.qint('t'), ctx.q('signal') || undefined);
  ctx.send(204);
}

export async function pause(ctx: Ctx): Promise<void> {
  const id = ctx.engine.find(ctx.params[0]!).id;
  await ctx.engine.pause(id);
  ctx.send(204);
}

export async function unpause(ctx: Ctx): Promise<void> {
  const id = ctx.engine.find(ctx.params[0]!).id;
  await ctx.engine.unpause(id);
  ctx.send(204);
}

export async function remove(ctx: Ctx): Promise<void> {
  if (ctx.qbool('link')) return linkRemove(ctx); // `rm --link NAME`: a link, never the container
  const id = ctx.engine.find(ctx.params[0]!).id;
  await ctx.engine.remove(id, ctx.qbool('force'), ctx.qbool('v'));
  ctx.send(204);
}

export async function resize(ctx: Ctx): Promise<void> {
  const row = ctx.engine.inspect(ctx.params[0]!);
  const h = ctx.qint('h', 0)!;
  const w = ctx.qint('w', 0)!;
  if (row.state !== 'running') throw new Conflict(`Container ${row.id} is not running`);
  await ctx.engine.resize(row.id, h, w);
  ctx.send(200);
}

/**
 * `wait?condition=not-running|next-exit|removed`: the 200 goes out at once (the CLI waits for it before
 * it starts the container), the body when the condition is met. A client that hangs up ends the wait.
 */
export async function wait(ctx: Ctx): Promise<void> {
  const { engine } = ctx;
  const condition = ctx.q('condition') || 'not-running';
  if (!['not-running', 'next-exit', 'removed'].includes(condition)) throw new InvalidArgument(`invalid condition: "${condition}"`);
  const id = engine.find(ctx.params[0]!).id;
  const out = ctx.startStream('application/json');
  const hungUp = new AbortController();
  out.onClose(() => hungUp.abort());
  const r = await engine.waitFor(id, condition as WaitCondition, hungUp.signal);
  if (!r) return;
  out.write(`${JSON.stringify({ StatusCode: r.code, ...(r.error ? { Error: { Message: r.error } } : {}) })}\n`);
  out.end();
}
