/**
 * Shared types: the leaf every layer may import. Imports nothing.
 */

/** A bind mount from the host, or a tmpfs. */
export interface MountSpec {
  type: 'bind' | 'tmpfs';
  /** Host path for binds (absolute, must exist); unused for tmpfs. */
  source: string;
  /** Absolute path inside the container. */
  destination: string;
  readonly: boolean;
  /** Extra mount options (tmpfs: size=…, mode=…, plus flags like noexec). */
  options: string[];
}

export interface Rlimit {
  /** Upper-case OCI name, e.g. RLIMIT_NOFILE. */
  type: string;
  soft: number;
  hard: number;
}

export interface Resources {
  /** Bytes; undefined means unlimited. */
  memory?: number;
  /** Bytes of memory+swap; -1 unlimited; undefined means docker's default (twice memory). */
  memorySwap?: number;
  pidsLimit?: number;
  cpuShares?: number;
  /** CFS quota/period in microseconds. */
  cpuQuota?: number;
  cpuPeriod?: number;
}

/**
 * What a container is made from: everything `create` decides, immutable afterwards.
 * The engine fills it from CLI/API/library input merged with the image's config.
 */
export interface ContainerConfig {
  /** Image reference as the user typed it, and the resolved image id. */
  image: string;
  imageId: string;
  /** Process argv after entrypoint+cmd resolution; never empty. */
  args: string[];
  /** Image entrypoint and cmd as stored (for inspect's Config). */
  entrypoint: string[] | null;
  cmd: string[] | null;
  /** KEY=VALUE list, image env overridden by user env; always carries PATH. */
  env: string[];
  /** Absolute working directory inside the container. */
  cwd: string;
  /** The user as given ("" = image default), and its resolution. */
  user: string;
  uid: number;
  gid: number;
  additionalGids: number[];
  hostname: string;
  tty: boolean;
  openStdin: boolean;
  readonlyRootfs: boolean;
  mounts: MountSpec[];
  rlimits: Rlimit[];
  resources: Resources;
  labels: Record<string, string>;
  /** Annotations for the OCI spec (also matched by hooks). */
  annotations: Record<string, string>;
  /** Signal name for stop, e.g. SIGTERM. */
  stopSignal: string;
  /** Seconds between the stop signal and SIGKILL. */
  stopTimeout: number;
  /** Run an init (catatonit/tini) as pid 1 that reaps and forwards signals. */
  init: boolean;
  autoRemove: boolean;
  /** OCI runtime name: crun | runc. */
  runtime: string;
}

/** The engine's container states. Docker's status strings are mapped in one place (engine/status.ts). */
export type ContainerState =
  | 'creating' // row exists, create still in progress (a dead owner means a crashed create)
  | 'created'
  | 'running'
  | 'paused'
  | 'exited'
  | 'removing'
  | 'dead';

/** An OCI hook, as in the runtime spec. */
export interface OciHook {
  path: string;
  args?: string[];
  env?: string[];
  timeout?: number;
}

export type HookStage = 'prestart' | 'createRuntime' | 'createContainer' | 'startContainer' | 'poststart' | 'poststop';

export type OciHooks = Partial<Record<HookStage, OciHook[]>>;
