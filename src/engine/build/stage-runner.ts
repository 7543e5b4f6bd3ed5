/**
 * One stage's instructions, in order, each from the cache when it can be: a step's key is its parent image,
 * the instruction as it will act (words expanded, the build args RUN sees, the digest of what COPY reads),
 * so a step is reused exactly when it would do the same thing to the same image.
 */
import { createHash } from 'node:crypto';
import type { DockerfileNode } from '../../dockerfile/parser.ts';
import { chompHeredocContent } from '../../dockerfile/parser.ts';
import { envFromList, expandWord } from '../../dockerfile/shell-lex.ts';
import { InvalidArgument } from '../../errors.ts';
import type { Lease } from '../../image/store.ts';
import type { ImageRow } from '../../store/images.ts';
import type { EngineCore } from '../core.ts';
import { resolveUser } from '../user.ts';
import { configStep, DEFAULT_SHELL } from './config-steps.ts';
import type { BuildContext } from './context.ts';
import { copyStep, type CopyRequest } from './copy-step.ts';
import { INSTRUCTION_FLAGS, parseFlags } from './flags.ts';
import type { BuildEvent, RunResources } from './options.ts';
import { planRunMounts } from './run-mounts.ts';
import { PLATFORM_ARGS, PROXY_ARGS } from './predefined-args.ts';
import { runStep } from './run-step.ts';
import { lineError } from './line-error.ts';
import { argDeclarations, type Stage } from './stages.ts';
import { cachedStep, fromCacheSources, recordStep, type StepResult } from './step-image.ts';

/** What every stage of one build shares. */
export interface BuildShared {
  engine: EngineCore;
  context: BuildContext;
  escape: '\\' | '`';
  lease: Lease;
  noCache: boolean;
  buildArgs: Record<string, string>;
  /** `--secret` files by id. */
  secrets: Readonly<Record<string, string>>;
  globalArgs: ReadonlyMap<string, string>;
  /** Build-args some ARG declared (the rest are reported unused). */
  consumed: Set<string>;
  network: string;
  addHosts: string[];
  /** Limits of every RUN step's container. */
  resources: RunResources;
  /** `--cache-from` images: steps their history shows are restored from them rather than run. */
  cacheFrom: ImageRow[];
  workRoot: string;
  /** The image an earlier stage ended with (waits for it). */
  stageImage(index: number): Promise<ImageRow>;
  /** The earlier stage a `--from` names (by name or index), undefined when it names an image. */
  stageFor(ref: string, before: number): number | undefined;
  report(e: BuildEvent): void;
  /** Clean-up off the build's path (a step's mounts, its container); the build waits for all before it ends. */
  later(cleanup: () => Promise<void>): void;
  signal?: AbortSignal;
  counts: { ran: number; cached: number };
}

export class StageRunner {
  readonly #b: BuildShared;
  readonly #stage: Stage;
  /** The image so far; undefined while a `FROM scratch` stage has made nothing. */
  #image: ImageRow | undefined;
  readonly #args = new Map<string, string>();
  #cmdSetHere = false;
  #step: number;
  /** The `--cache-from` images still matching; once one matched, only it (docker's classic builder's rule). */
  #cacheFrom: ImageRow[];

  constructor(shared: BuildShared, stage: Stage, base: ImageRow | undefined, firstStep: number) {
    this.#b = shared;
    this.#stage = stage;
    this.#image = base;
    this.#step = firstStep;
    this.#cacheFrom = shared.cacheFrom;
  }

  /** Run the base image's ONBUILD triggers, then the stage's instructions; the image the stage ends with. */
  async run(triggers: DockerfileNode[]): Promise<ImageRow | undefined> {
    for (const t of triggers) await this.#instruction(t, false);
    if (triggers.length > 0) this.#clearTriggers();
    for (const n of this.#stage.nodes) await this.#instruction(n, true);
    return this.#image;
  }

  /** Triggers fire once: the image built on them does not pass them on (docker's rule). */
  #clearTriggers(): void {
    const image = this.#image!;
    const key = createHash('sha256').update(JSON.stringify([image.id, 'onbuild done'])).digest('hex');
    this.#image =
      cachedStep(this.#b.engine, key, this.#b.noCache) ??
      recordStep(this.#b.engine, this.#b.lease, key, image, { config: { ...image.config.config, OnBuild: null }, createdBy: 'ONBUILD triggers ran' });
  }

  async #instruction(n: DockerfileNode, counted: boolean): Promise<void> {
    const step = counted ? ++this.#step : this.#step;
    this.#b.signal?.throwIfAborted();
    this.#b.report({ kind: 'step', step, total: 0, stage: stageLabel(this.#stage), text: n.original });
    if (n.instruction === 'arg') {
      this.#declareArgs(n);
      this.#b.report({ kind: 'done', step, ms: 0, imageId: this.#image?.id ?? '' });
      return;
    }
    if (n.instruction === 'from') throw lineError(n, 'FROM is a stage of its own, not a step');
    const started = Date.now();
    const plan = await this.#plan(n);
    const key = createHash('sha256').update(JSON.stringify([this.#image?.id ?? 'scratch', plan.key])).digest('hex');
    const cached = cachedStep(this.#b.engine, key, this.#b.noCache) ?? this.#fromCacheSources(key, plan.history);
    if (cached) {
      this.#b.report({ kind: 'cached', step });
      this.#b.counts.cached++;
      this.#image = cached;
    } else {
      const result = await plan.make((stream, data) => this.#b.report({ kind: 'output', step, stream, data }));
      this.#image = recordStep(this.#b.engine, this.#b.lease, key, this.#image, result);
      this.#b.counts.ran++;
    }
    if (n.instruction === 'cmd') this.#cmdSetHere = true;
    this.#b.report({ kind: 'done', step, ms: Date.now() - started, imageId: this.#image!.id });
  }

  /** The step restored from a `--cache-from` image whose history shows it over the current image. */
  #fromCacheSources(key: string, history: StepHistory | undefined): ImageRow | undefined {
    if (this.#b.noCache || !history || this.#cacheFrom.length === 0) return undefined;
    const found = fromCacheSources(this.#cacheFrom, this.#image, history.createdBy, history.config);
    if (!found) return undefined;
    this.#cacheFrom = [found.source];
    return recordStep(this.#b.engine, this.#b.lease, key, this.#image, found.step);
  }

  /** What the step will do, as a cache key, and how to do it. */
  async #plan(n: DockerfileNode): Promise<{ key: unknown; history?: StepHistory; make: (out: Output) => Promise<StepResult> }> {
    const config = this.#image?.config.config ?? {};
    switch (n.instruction) {
      case 'run':
        return this.#planRun(n);
      case 'copy':
      case 'add':
        return this.#planCopy(n);
      default: {
        const r = configStep({ node: n, config, env: this.#env(), escape: this.#b.escape, cmdSetHere: this.#cmdSetHere });
        return { key: ['config', r.createdBy, r.config], history: { createdBy: r.createdBy, config: r.config }, make: async () => r };
      }
    }
  }

  async #planRun(n: DockerfileNode) {
    const flags = parseFlags(n, INSTRUCTION_FLAGS.run!);
    const config = this.#image?.config.config ?? {};
    const shell = (config.Shell as string[] | undefined) ?? DEFAULT_SHELL;
    let argv: string[];
    if (n.json) argv = [...n.args];
    else if (n.heredocs.length > 0 && /^\s*<<-?\s*["']?\w+["']?\s*$/.test(n.args[0] ?? '')) {
      // `RUN <<EOF` alone: the heredoc is the script.
      const h = n.heredocs[0]!;
      argv = [...shell, h.chomp ? chompHeredocContent(h.content) : h.content];
    } else {
      // A heredoc after a command is the shell's own: it gets the line and the bodies as written.
      argv = [...shell, [n.args[0] ?? '', ...n.heredocs.map((h) => `${h.content}${h.name}`)].join('\n')];
    }
    if (argv.length === 0 || argv.every((a) => a === '')) throw lineError(n, 'RUN requires at least one argument');
    if (flags.has('security')) throw lineError(n, 'RUN --security is not supported');
    const network = flags.get('network')?.[0] ?? this.#b.network;
    if (!['default', 'none', 'host'].includes(network)) throw lineError(n, `unsupported network mode: ${network}`);
    const mounts = await planRunMounts({
      node: n,
      specs: flags.get('mount') ?? [],
      env: this.#env(),
      escape: this.#b.escape,
      context: this.#b.context,
      secrets: this.#b.secrets,
      engine: this.#b.engine,
      workRoot: this.#b.workRoot,
      fromImage: (ref) => this.#fromImage(ref),
    });
    // The build args RUN sees as variables (an ENV of the same name wins, as docker's builder has it).
    const env = [...(config.Env ?? [])];
    const envNames = new Set(env.map((e) => e.split('=', 1)[0]));
    const argEnv = [...this.#args].filter(([k]) => !envNames.has(k)).map(([k, v]) => `${k}=${v}`);
    const argNames = new Set(this.#args.keys());
    const proxyEnv = Object.entries(this.#b.buildArgs).filter(([k]) => PROXY_ARGS.has(k) && !envNames.has(k) && !argNames.has(k)).map(([k, v]) => `${k}=${v}`);
    const key = ['run', argv, argEnv, mounts.key, network];
    const createdBy = `RUN ${argv.join(' ')}`;
    // The history line names the command only: a RUN that also sees build args or mounts is not known by it.
    const known = argEnv.length === 0 && mounts.key.length === 0 && network === 'default';
    return {
      key,
      ...(known ? { history: { createdBy } } : {}),
      make: async (output: Output): Promise<StepResult> => {
        const prepared = await mounts.prepare();
        const layer = await runStep(this.#b.engine, {
          imageId: this.#image?.id ?? '',
          argv,
          env: [...env, ...argEnv, ...proxyEnv],
          workdir: config.WorkingDir ?? '',
          user: config.User ?? '',
          network: network === 'default' ? this.#b.network : network,
          addHosts: this.#b.addHosts,
          resources: this.#b.resources,
          mounts: prepared.mounts,
          tmpfs: prepared.tmpfs,
          output,
          ...(this.#b.signal ? { signal: this.#b.signal } : {}),
        }, this.#b.lease, this.#b.later).finally(() => this.#b.later(() => prepared.dispose()));
        return { ...(layer ? { layer } : {}), createdBy };
      },
    };
  }

  async #planCopy(n: DockerfileNode) {
    const isAdd = n.instruction === 'add';
    const flags = parseFlags(n, INSTRUCTION_FLAGS[n.instruction]!);
    for (const unsupported of ['parents', 'exclude', 'checksum', 'keep-git-dir']) {
      if (flags.has(unsupported)) throw lineError(n, `${n.instruction.toUpperCase()} --${unsupported} is not supported yet`);
    }
    const words = n.args.map((a) => expandWord(a, this.#env(), { escape: this.#b.escape }).value);
    if (words.length < 2) throw lineError(n, `${n.instruction.toUpperCase()} requires at least two arguments, but only one was provided. Destination could not be determined`);
    const dest = words.at(-1)!;
    const req: CopyRequest = {
      instruction: n.instruction.toUpperCase(),
      sources: words.slice(0, -1),
      heredocs: n.heredocs.map((h) => {
        const body = h.chomp ? chompHeredocContent(h.content) : h.content;
        // An unquoted delimiter expands the body (quotes are text there), as BuildKit does.
        return { name: h.name, content: h.expand ? expandWord(body, this.#env(), { quotesAreLiteral: true }).value : body };
      }),
      dest,
      workdir: this.#image?.config.config.WorkingDir ?? '',
      add: isAdd,
    };
    const chown = flags.get('chown')?.[0];
    if (chown !== undefined) req.owner = this.#owner(n, expandWord(chown, this.#env(), { escape: this.#b.escape }).value);
    const chmod = flags.get('chmod')?.[0];
    if (chmod !== undefined) {
      if (!/^[0-7]{3,4}$/.test(chmod)) throw lineError(n, `invalid chmod parameter: ${chmod} (an octal mode)`);
      req.mode = parseInt(chmod, 8);
    }
    return this.#copyPlan(req, flags.get('from')?.[0], n.original);
  }

  async #copyPlan(req: CopyRequest, from: string | undefined, original: string) {
    const shared = this.#b;
    const fromImage = from === undefined ? undefined : await this.#fromImage(from);
    const digest = fromImage ? `image:${fromImage.id}` : shared.context.digest(req.sources.filter((s) => !isHeredoc(s, req)).flatMap((s) => (isUrl(s) ? [] : shared.context.sources(s, req.instruction))));
    const key = ['copy', req, digest];
    return {
      key,
      make: async (): Promise<StepResult> => {
        const layer = await copyStep(shared.engine, { ...req, fromImage, context: shared.context, workRoot: shared.workRoot }, this.#image, shared.lease, shared.later);
        return { ...(layer ? { layer } : {}), createdBy: original };
      },
    };
  }

  /** `--from`: an earlier stage (by name or index) or an image of the store. */
  async #fromImage(ref: string): Promise<ImageRow> {
    const dep = this.#b.stageFor(ref, this.#stage.index);
    if (dep !== undefined) return this.#b.stageImage(dep);
    const img = this.#b.engine.images.lookup(ref);
    if (!img) throw new InvalidArgument(`COPY --from=${ref}: no such stage, and no image ${ref} here`);
    return img;
  }

  #owner(n: DockerfileNode, spec: string): { uid: number; gid: number } {
    const img = this.#image;
    const read = (p: string) => (img ? this.#b.engine.images.readFile(img, p) : null);
    try {
      const u = resolveUser(spec, read('/etc/passwd'), read('/etc/group'));
      return { uid: u.uid, gid: u.gid };
    } catch (e) {
      throw lineError(n, `unable to convert uid/gid chown string to host mapping: ${(e as Error).message}`);
    }
  }

  #declareArgs(n: DockerfileNode): void {
    for (const [name, dflt] of argDeclarations(n, this.#env(), this.#b.escape)) {
      this.#b.consumed.add(name);
      const v = PLATFORM_ARGS.has(name) ? PLATFORM_ARGS.get(name) : name in this.#b.buildArgs ? this.#b.buildArgs[name] : (dflt ?? this.#b.globalArgs.get(name));
      if (v !== undefined) this.#args.set(name, v);
    }
  }

  /** Variables for expanding words: the stage's ARGs, under its ENV. */
  #env(): Map<string, string> {
    const env = new Map(this.#args);
    for (const [k, v] of envFromList(this.#image?.config.config.Env ?? [])) env.set(k, v);
    return env;
  }
}

/** How progress names a stage: its own name, or `stage-N` (BuildKit's). */
export function stageLabel(s: Stage): string {
  return s.name || `stage-${s.index}`;
}

/** A step as its history line shows it, for `--cache-from` (COPY and ADD have none: their line names no content). */
interface StepHistory {
  createdBy: string;
  config?: StepResult['config'];
}

type Output = (stream: 'stdout' | 'stderr', data: Buffer) => void;

const isUrl = (s: string) => /^https?:\/\//.test(s);
const isHeredoc = (s: string, req: CopyRequest) => s.startsWith('<<') && req.heredocs.some((h) => s.replace(/^<<-?["']?/, '').replace(/["']$/, '') === h.name);

