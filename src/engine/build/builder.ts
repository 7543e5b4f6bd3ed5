/**
 * `build`: a Dockerfile and its context into an image. The stages the target needs run, those that do not
 * depend on each other at the same time; each step is taken from the cache or run (src/engine/build/
 * stage-runner.ts). A failed step fails the build with nothing of its own left behind; the steps before it
 * stay in the cache.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import { ignoreFileFor } from '../../dockerfile/dockerignore.ts';
import { parseDockerfile, type DockerfileNode } from '../../dockerfile/parser.ts';
import { InvalidArgument, NotFound } from '../../errors.ts';
import { familiarName } from '../../registry/reference.ts';
import type { Lease } from '../../image/store.ts';
import type { ImageRow } from '../../store/images.ts';
import type { EngineCore } from '../core.ts';
import { pull } from '../verbs/registry.ts';
import { configStep } from './config-steps.ts';
import { PLATFORM_ARGS, PROXY_ARGS } from './predefined-args.ts';
import { BuildContext } from './context.ts';
import type { BuildEvent, BuildOptions, BuildResult } from './options.ts';
import { unpackContext } from './context-upload.ts';
import { StageRunner, stageLabel, type BuildShared } from './stage-runner.ts';
import { findStage, planStages, type Stage } from './stages.ts';
import { cachedStep, recordStep } from './step-image.ts';


export async function build(engine: EngineCore, opts: BuildOptions): Promise<BuildResult> {
  const report = opts.progress ?? (() => {});
  const workRoot = mkdtempSync(join(engine.root, 'build', `${process.pid}-`));
  try {
    return await buildIn(engine, opts, workRoot, report);
  } finally {
    rmSync(workRoot, { recursive: true, force: true });
  }
}

async function buildIn(engine: EngineCore, given: BuildOptions, workRoot: string, report: (e: BuildEvent) => void): Promise<BuildResult> {
  let opts = given;
  if (given.contextStream) {
    const up = await unpackContext(given.contextStream, workRoot);
    opts = { ...given, contextDir: up.dir, ...(up.dockerfile !== undefined ? { dockerfile: { text: up.dockerfile } } : {}) };
  }
  if (opts.contextDir === undefined) throw new InvalidArgument('a build needs a context: a directory or a stream');
  const contextDir = opts.contextDir;
  const { text, path: dockerfilePath } = readDockerfile(opts, contextDir);
  const parsed = parseDockerfile(text);
  for (const w of parsed.warnings) report({ kind: 'warning', message: `${w.message} (line ${w.startLine})` });
  const tags = (opts.tags ?? []).map((t) => familiarName(t));
  const buildArgs = opts.buildArgs ?? {};
  const plan = planStages(parsed.nodes, parsed.escape, buildArgs, opts.target);
  const read = (p: string) => (existsSync(p) ? readFileSync(p, 'utf8') : undefined);
  const context = new BuildContext(contextDir, ignoreFileFor(contextDir, dockerfilePath, read));
  const lease = engine.images.lease();
  // The caller's abort, or the first stage to fail, stops the stages still running.
  const stop = new AbortController();
  const cancel = () => stop.abort(opts.signal!.reason);
  if (opts.signal?.aborted) cancel();
  opts.signal?.addEventListener('abort', cancel, { once: true });
  const results = new Map<number, Promise<ImageRow | undefined>>();
  const cleanups: Promise<void>[] = [];
  const total = plan.needed.reduce((n, i) => n + 1 + plan.stages[i]!.nodes.length, 0);
  const firstSteps = new Map<number, number>();
  let step = 0;
  for (const i of plan.needed) {
    firstSteps.set(i, step);
    step += 1 + plan.stages[i]!.nodes.length;
  }
  const shared: BuildShared = {
    engine,
    context,
    escape: parsed.escape,
    lease,
    noCache: opts.noCache ?? false,
    buildArgs,
    secrets: opts.secrets ?? {},
    globalArgs: plan.globalArgs,
    consumed: new Set(plan.declared),
    network: opts.network ?? 'default',
    addHosts: opts.addHosts ?? [],
    resources: opts.resources ?? {},
    cacheFrom: cacheSources(engine, opts.cacheFrom ?? [], report),
    workRoot,
    counts: { ran: 0, cached: 0 },
    stageImage: async (i) => {
      const img = await results.get(i);
      if (!img) throw new InvalidArgument(`stage ${plan.stages[i]!.name || i} has no files to copy from (FROM scratch with no step)`);
      return img;
    },
    stageFor: (ref, before) => findStage(plan.stages, ref, before),
    report: (e) => report(e.kind === 'step' ? { ...e, total } : e),
    later: (cleanup) => void cleanups.push(cleanup().catch(() => {})),
    signal: stop.signal,
  };
  try {
    for (const i of plan.needed) {
      const running = runStage(shared, plan.stages[i]!, firstSteps.get(i)!, total, results, opts);
      running.catch((e: unknown) => stop.abort(e));
      results.set(i, running);
    }
    // Every stage is awaited (a failed one must not leave another running on), the first failure reported.
    const settled = await Promise.allSettled([...results.values()]);
    const failed = settled.find((s) => s.status === 'rejected');
    if (failed) throw (failed as PromiseRejectedResult).reason;
    let image = await results.get(plan.target)!;
    if (!image) throw new InvalidArgument('No image was generated. Is your Dockerfile empty?');
    if (opts.labels && Object.keys(opts.labels).length > 0) image = labelled(engine, lease, image, opts.labels, shared.noCache);
    for (const tag of tags) engine.images.tag(tag, image.id);
    const unused = Object.keys(buildArgs).filter((k) => !shared.consumed.has(k) && !PROXY_ARGS.has(k) && !PLATFORM_ARGS.has(k));
    if (unused.length > 0) report({ kind: 'warning', message: `One or more build-args [${unused.join(' ')}] were not consumed` });
    return { imageId: image.id, tags, ...shared.counts };
  } finally {
    opts.signal?.removeEventListener('abort', cancel);
    // Nothing of a step may outlive the build: its mounts and containers are gone before it returns.
    await Promise.all(cleanups);
    lease.release();
  }
}

async function runStage(
  shared: BuildShared, stage: Stage, first: number, total: number, results: Map<number, Promise<ImageRow | undefined>>, opts: BuildOptions,
): Promise<ImageRow | undefined> {
  shared.report({ kind: 'step', step: first + 1, total, stage: stageLabel(stage), text: stage.from.original });
  const started = Date.now();
  const base = await baseImage(shared, stage, results, opts);
  shared.report({ kind: 'done', step: first + 1, ms: Date.now() - started, imageId: base?.id ?? '' });
  const triggers = ((base?.config.config.OnBuild as string[] | null | undefined) ?? []).flatMap((t) => parseDockerfile(t).nodes);
  const runner = new StageRunner(shared, stage, base, first + 1);
  return runner.run(triggers as DockerfileNode[]);
}

/** What FROM names: an earlier stage's image, nothing for scratch, or an image (pulled when absent or asked to). */
async function baseImage(shared: BuildShared, stage: Stage, results: Map<number, Promise<ImageRow | undefined>>, opts: BuildOptions): Promise<ImageRow | undefined> {
  if (stage.baseStage !== undefined) return results.get(stage.baseStage)!;
  if (stage.base.toLowerCase() === 'scratch') return undefined;
  const here = shared.engine.images.lookup(stage.base);
  if (here && !opts.pull) return here;
  try {
    const r = await pull(shared.engine, stage.base);
    return shared.engine.images.resolve(r.id);
  } catch (e) {
    if (here) return here;
    throw new NotFound(`FROM ${stage.base}: no such image here, and it could not be pulled: ${(e as Error).message}`, { cause: e });
  }
}

/** The `--cache-from` images; one not here is skipped with a warning, as docker's classic builder does. */
function cacheSources(engine: EngineCore, refs: string[], report: (e: BuildEvent) => void): ImageRow[] {
  return refs.flatMap((ref) => {
    const img = engine.images.lookup(ref);
    if (!img) report({ kind: 'warning', message: `Could not look up ${ref} for cache resolution, skipping` });
    return img ? [img] : [];
  });
}

/** `--label`: one more config step over the built image, cached as the others are. */
function labelled(engine: EngineCore, lease: Lease, image: ImageRow, labels: Record<string, string>, noCache: boolean): ImageRow {
  const key = createHash('sha256').update(JSON.stringify([image.id, 'build --label', labels])).digest('hex');
  const cached = cachedStep(engine, key, noCache);
  if (cached) return cached;
  // The values are taken as given: single quotes keep expansion off them.
  const quote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
  const args = Object.entries(labels).flatMap(([k, v]) => [quote(k), quote(v), '=']);
  const node: DockerfileNode = { instruction: 'label', keyword: 'LABEL', original: 'LABEL', flags: [], args, json: false, heredocs: [], startLine: 0, endLine: 0 };
  return recordStep(engine, lease, key, image, configStep({ node, config: image.config.config, env: new Map(), escape: '\\', cmdSetHere: true }));
}

/** The Dockerfile's text and where it came from (undefined for text given directly). */
function readDockerfile(opts: BuildOptions, contextDir: string): { text: string; path: string | undefined } {
  if (opts.dockerfile?.text !== undefined) return { text: opts.dockerfile.text, path: undefined };
  const given = opts.dockerfile?.path ?? 'Dockerfile';
  let path = isAbsolute(given) ? given : join(contextDir, given);
  // As docker's: the default name also matches a lower-case `dockerfile`.
  if (!opts.dockerfile?.path && !existsSync(path) && existsSync(join(contextDir, 'dockerfile'))) path = join(contextDir, 'dockerfile');
  try {
    return { text: readFileSync(path, 'utf8'), path: isAbsolute(given) ? given : join(contextDir, given) };
  } catch (e) {
    throw new NotFound(`Cannot locate specified Dockerfile: ${given}`, { cause: e });
  }
}
