/**
 * The execution-driver contract between the engine and an OCI runtime. A driver is a thin wrapper: it holds
 * no state logic (the engine owns the state machine) and reports the runtime's own view when asked.
 */

export interface CreateRequest {
  id: string;
  /** Bundle directory holding config.json; conmon runs with it as cwd (its `oom` file lands there). */
  bundle: string;
  /** conmon writes the exit status to `<exitDir>/<id>`. */
  exitDir: string;
  /** k8s-file log path, or null for no log (see logDriver). */
  logPath: string | null;
  /** Where output goes when logPath is null: journald, or nowhere. */
  logDriver?: 'journald' | 'none';
  /** Replace the k8s-file log with an empty one at this size. */
  logSizeMax?: number;
  tty: boolean;
  stdin: boolean;
  /** Keep the container's stdin open when an attached client goes (all but StdinOnce containers). */
  leaveStdinOpen?: boolean;
  /** argv conmon runs after the container exits (the engine's cleanup), or none. */
  exitCommand?: string[];
  /**
   * Resolves when the bundle (rootfs, config.json) is ready. The monitor may be started before that and
   * told to go only then, so its start-up overlaps the engine's own work. A rejection aborts the create.
   */
  bundleReady?: Promise<void>;
  /** Run without a cgroup (only where features().supportsNoCgroups). */
  noCgroups?: boolean;
  /** Pass the caller's fds 3…3+N-1 on to the container's process. */
  preserveFds?: number;
}

export interface ExecRequest {
  /** The container to exec into. */
  id: string;
  /** Session id; conmon's -u. */
  session: string;
  /** Session dir: process.json is read from here; attach socket, ctl, exit dir and pid file live here. */
  dir: string;
  tty: boolean;
  stdin: boolean;
  /** Attach (connect the attach socket before the process starts); false for `exec -d`. */
  attach: boolean;
  /** Extra fds (3…) the process inherits, as `--preserve-fds N`. */
  preserveFds?: number;
  /** Connect to the attach socket once it exists; the driver waits for it before letting the process run. */
  connect?: (socketPath: string) => Promise<unknown>;
}

export interface ExecStarted {
  pid: number;
  /** Resolves with the process's exit code (128+signal when killed). */
  exit: Promise<number>;
}

export interface Created {
  /** The container's init pid, from conmon's sync pipe. */
  pid: number;
  /** The long-lived conmon monitor's pid. */
  conmonPid: number;
}

export type RuntimeStatus = 'creating' | 'created' | 'running' | 'paused' | 'stopped';

export interface RuntimeState {
  status: RuntimeStatus;
  pid: number;
}

export interface RuntimeFeatures {
  /** Checkpoint/restore works on this host (CRIU present and usable). */
  supportsCheckpoint: boolean;
  /** The runtime writes JSON error lines with --log-format json. */
  supportsJsonErrors: boolean;
  /** The runtime can run a container without cgroups. */
  supportsNoCgroups: boolean;
}

export interface RuntimeInfo {
  name: string;
  path: string;
  version: string;
}

export interface RuntimeDriver {
  readonly name: string;
  readonly path: string;
  /** Create the container under conmon; resolves once the runtime reports the init pid. */
  create(req: CreateRequest): Promise<Created>;
  /** Run a process in a running container under conmon (exec session). */
  exec(req: ExecRequest): Promise<ExecStarted>;
  /** Let the created container's process run. */
  start(id: string): Promise<void>;
  /** Send a signal (name like SIGTERM or number) to init, or with `all` to every process. */
  kill(id: string, signal: string, all?: boolean): Promise<void>;
  /** Remove the runtime's record (and cgroup); `force` kills a live container first. Absent is fine. */
  delete(id: string, force: boolean): Promise<void>;
  pause(id: string): Promise<void>;
  unpause(id: string): Promise<void>;
  /** The runtime's view, or null when it knows no such container. */
  state(id: string): Promise<RuntimeState | null>;
  /** Pids of every process in the container. */
  pids(id: string): Promise<number[]>;
  /** Change resources of a live container (OCI linux.resources JSON). */
  update(id: string, resources: object): Promise<void>;
  /** Refused where the host cannot checkpoint; see features().supportsCheckpoint. */
  checkpoint(id: string, imageDir: string): Promise<void>;
  features(): RuntimeFeatures;
  runtimeInfo(): Promise<RuntimeInfo>;
}
