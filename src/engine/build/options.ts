/** What a build is asked to do, and what it reports while it runs (each face renders the reports its way). */
import type { CreateOptions } from '../config.ts';

/** Limits of every RUN step's container (docker's `build -m --shm-size --ulimit -c …`), as `run` takes them. Not in the cache key. */
export type RunResources = Pick<CreateOptions, 'memory' | 'memorySwap' | 'cpuShares' | 'cpuPeriod' | 'cpuQuota' | 'cpusetCpus' | 'cpusetMems' | 'cgroupParent' | 'shmSize' | 'ulimits'>;

export interface BuildOptions {
  /** The build context: a directory on this host (the CLI's)... */
  contextDir?: string;
  /** ...or a stream of one (a tar, or a bare Dockerfile with no context), unpacked as it arrives. */
  contextStream?: AsyncIterable<Buffer>;
  /** The Dockerfile: its path (absolute, or relative to the context; `Dockerfile` by default) or its text. */
  dockerfile?: { path?: string; text?: string };
  /** Names the image is tagged with. */
  tags?: string[];
  /** `--build-arg`: values for the Dockerfile's ARGs. */
  buildArgs?: Record<string, string>;
  /** Build up to this stage (by name); the last stage by default. */
  target?: string;
  /** Run every step, using no cached result (what they make is cached for next time). */
  noCache?: boolean;
  /** `--cache-from`: images (here) whose history may stand for steps; one not here is warned about and skipped. */
  cacheFrom?: string[];
  /** Pull every FROM image even when it is here. */
  pull?: boolean;
  /** Labels added to the built image. */
  labels?: Record<string, string>;
  /** RUN's network: `default` (a bridge, as docker's builder), `none` or `host`. */
  network?: string;
  /** `--add-host host:ip` for RUN. */
  addHosts?: string[];
  /** Limits of the RUN steps' containers. */
  resources?: RunResources;
  /** `--secret id=ID,src=PATH`: files RUN --mount=type=secret may read. */
  secrets?: Record<string, string>;
  /** Called with each report as it happens. */
  progress?: (event: BuildEvent) => void;
  /** Aborts the build: the step running is stopped and nothing it made is kept. */
  signal?: AbortSignal;
}

/** A report from a running build. `step` numbers count every instruction of the stages built, from 1. */
export type BuildEvent =
  | { kind: 'step'; step: number; total: number; stage: string; text: string }
  | { kind: 'cached'; step: number }
  | { kind: 'output'; step: number; stream: 'stdout' | 'stderr'; data: Buffer }
  | { kind: 'done'; step: number; ms: number; imageId: string }
  | { kind: 'warning'; message: string };

export interface BuildResult {
  imageId: string;
  /** The names it was tagged with (docker's familiar form). */
  tags: string[];
  /** Steps run and steps taken from the cache. */
  ran: number;
  cached: number;
}
