/**
 * RUN: the command in a container of the engine, made from the step's parent image with `run`'s isolation
 * defaults, its output reported as it comes; what it changed (its overlay upper dir) is the step's layer.
 * The container is removed whatever happens: a failed or aborted RUN leaves no container, mount or layer.
 */
import { join } from 'node:path';
import { InvalidArgument, RuntimeFailure } from '../../errors.ts';
import type { Lease } from '../../image/store.ts';
import type { LayerRow } from '../../store/images.ts';
import type { CreateOptions } from '../config.ts';
import type { EngineCore } from '../core.ts';
import { create } from '../verbs/create.ts';
import { remove } from '../verbs/remove.ts';
import { start } from '../verbs/start.ts';
import { wait } from '../verbs/wait.ts';
import { removeMountStubs } from './mount-stubs.ts';
import type { RunResources } from './options.ts';
import { layerFromUpper } from './step-image.ts';

export interface RunStep {
  /** The image the step starts from. */
  imageId: string;
  /** The process: [shell…, command] for the shell form, the array for the exec form. */
  argv: string[];
  env: string[];
  workdir: string;
  user: string;
  network: string;
  addHosts: string[];
  /** The build's limits for its RUN containers (`-m`, `--shm-size`, `--ulimit`…). */
  resources?: RunResources;
  /** `--mount` of the step, as `run --mount` takes them. */
  mounts: string[];
  /** `/ctr` tmpfs mounts. */
  tmpfs: string[];
  output: (stream: 'stdout' | 'stderr', data: Buffer) => void;
  signal?: AbortSignal;
}

/** Run the step; its layer (undefined when it changed nothing). A non-zero exit fails the build. The container goes through `later`. */
export async function runStep(engine: EngineCore, step: RunStep, lease: Lease, later: (cleanup: () => Promise<void>) => void): Promise<LayerRow | undefined> {
  const opts: CreateOptions = {
    ...step.resources,
    image: step.imageId,
    cmd: step.argv,
    entrypoint: [],
    env: step.env,
    workdir: step.workdir || undefined,
    user: step.user || undefined,
    network: step.network,
    addHosts: step.addHosts,
    mounts: step.mounts,
    tmpfs: step.tmpfs,
    labels: {},
    logDriver: 'none',
  } as CreateOptions;
  const row = await create(engine, opts);
  const abort = () => void engine.driver(row.config.runtime).kill(row.id, 'SIGKILL', true).catch(() => {});
  try {
    step.signal?.throwIfAborted();
    step.signal?.addEventListener('abort', abort, { once: true });
    let ended: Promise<void> = Promise.resolve();
    await start(engine, row.id, {
      attached: true,
      beforeStart: async (_c, connect) => {
        const s = await connect();
        s.on('stdout', (d) => step.output('stdout', d));
        s.on('stderr', (d) => step.output('stderr', d));
        ended = new Promise((r) => {
          s.once('end', r);
          s.once('error', () => r());
        });
      },
    });
    // An abort while the runtime was still starting it found nothing to kill yet.
    if (step.signal?.aborted) abort();
    const code = await wait(engine, row.id);
    await ended;
    step.signal?.throwIfAborted();
    if (code !== 0) throw new RunFailed(step.argv, code);
    const upper = join(engine.dir(row.id), 'diff');
    const targets = [...step.mounts.map((m) => /(?:^|,)target=([^,]+)/.exec(m)?.[1] ?? ''), ...step.tmpfs].filter(Boolean);
    const parent = engine.images.repo.get(step.imageId);
    if (targets.length > 0) removeMountStubs(upper, targets, parent ? engine.images.lowerDirs(parent) : []);
    return await layerFromUpper(engine, upper, lease, `RUN ${step.argv.at(-1)}`);
  } finally {
    step.signal?.removeEventListener('abort', abort);
    // Off the build's path once the layer is stored (the build waits for it before it ends).
    later(() => remove(engine, row.id, true, true).then(() => {}, () => {}));
  }
}

/** A RUN whose process exited non-zero: the build fails with its code (docker's classic builder's wording). */
export class RunFailed extends RuntimeFailure {
  readonly code: number;
  constructor(argv: string[], code: number) {
    super(`The command '${argv.join(' ')}' returned a non-zero code: ${code}`);
    this.code = code;
  }
}

/** Check the step can run at all before a container is made for it. */
export function checkRunnable(argv: string[]): void {
  if (argv.length === 0 || argv[0] === '') throw new InvalidArgument('RUN needs a command');
}

