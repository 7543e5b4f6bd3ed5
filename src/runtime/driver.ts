/**
 * The execution-driver contract between the engine and an OCI runtime with its monitor. A driver is a thin
 * wrapper: it holds no state logic (the engine owns the state machine) and reports what the runtime and the
 * monitor saw when asked. Only a driver knows its monitor (for OciDriver, conmon): the files it keeps in a
 * container's bundle directory, its attach socket, its control FIFO and its log format. The engine gives
 * the driver a bundle directory per container (and per exec session) and asks about it by that directory.
 */
import type { EventEmitter } from 'node:events';
import type { OciResources } from './spec/resources.ts';
import type { OciSpec } from './spec/index.ts';

export type StreamName = 'stdout' | 'stderr';

/** One record of a container's log. */
export interface LogRecord {
  /** RFC 3339 with nanoseconds, as the monitor stamped it. */
  time: string;
  stream: StreamName;
  /** The program's bytes, with the newline it printed (none for a fragment of a longer line). */
  data: Buffer;
  /** The log driver's attributes of the record (json-file and local: `--log-opt labels/env/tag`). */
  attrs?: Record<string, string>;
}

/**
 * A container's log: k8s-file is the monitor's own format; json-file and local are docker's, written by
 * Berth's log writer (src/logs/writer.ts) from the monitor's output; journald and none keep no file.
 */
export interface LogTarget {
  driver: 'json-file' | 'local' | 'k8s-file' | 'journald' | 'none';
  /** The container it is the log of (journald keeps it as CONTAINER_ID_FULL). */
  id: string;
  /** The log file (the current one: rotated ones are PATH.1, PATH.2… beside it); null without a file. */
  path: string | null;
  /** Rotate when the file reaches this many bytes (k8s-file: start it over); -1: never. */
  maxSize: number;
  /** How many files to keep, the current one included. */
  maxFile: number;
  /** gzip the rotated files. */
  compress: boolean;
  /** Key-value pairs written with every record (`--log-opt labels=…`, `env=…`, `tag=…`). */
  attrs: Record<string, string>;
}

export interface LogReadOptions {
  /** Keep reading until the container exits. */
  follow?: boolean;
  /** Only the last N lines (of the records in range). */
  tail?: number;
  /** Unix ms bounds on the record times. */
  since?: number;
  until?: number;
}

export interface AttachStreamEvents {
  stdout: [data: Buffer];
  stderr: [data: Buffer];
  /** The monitor closed the connection (the process exited, or the monitor went away). */
  end: [];
  error: [err: Error];
}

/** A client's connection to a process's stdio through its monitor. */
export interface AttachStream extends EventEmitter<AttachStreamEvents> {
  /** Send input; false when the caller should wait for onDrain before sending more. */
  write(data: Buffer | string): boolean;
  /** Call `fn` once the input queued so far has gone out. */
  onDrain(fn: () => void): void;
  /** stdin EOF (a half-close): the process sees its stdin end, output keeps flowing. */
  closeStdin(): Promise<void>;
  /** Stop and resume the flow of output (backpressure from a slow reader). */
  pause(): void;
  resume(): void;
  /** Drop the connection (a detach): the process runs on. */
  close(): void;
}

/** The exit a monitor recorded: the code (128+signal when killed) and when. */
export interface MonitorExit {
  code: number;
  /** ISO time of the exit. */
  time: string;
}

/** What a driver sees of a container in its bundle directory. */
export interface Observation {
  /** null while the monitor has recorded no exit. */
  exit: MonitorExit | null;
  /** The kernel's OOM killer killed a process of the container. */
  oomKilled: boolean;
}

export interface CreateRequest {
  id: string;
  /** Bundle directory holding config.json; the monitor keeps its files there too. */
  bundle: string;
  /** Where the container's output goes. */
  log: LogTarget;
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
  /** Session id. */
  session: string;
  /** The session's bundle dir: process.json is read from here; the monitor keeps its files here too. */
  dir: string;
  tty: boolean;
  stdin: boolean;
  /** Attach (connected before the process starts, so no output is missed); false for `exec -d`. */
  attach: boolean;
  /** Extra fds (3…) the process inherits, as `--preserve-fds N`. */
  preserveFds?: number;
}

export interface ExecStarted {
  pid: number;
  /** The process's stdio, when attached. */
  stream?: AttachStream;
  /** Resolves with the process's exit code (128+signal when killed). */
  exit: Promise<number>;
}

export interface Created {
  /** The container's init pid. */
  pid: number;
  /** The long-lived monitor's pid. */
  monitorPid: number;
}

export interface ProbeResult {
  exitCode: number;
  /** stdout then stderr. */
  output: string;
  timedOut: boolean;
}

export type RuntimeStatus = 'creating' | 'created' | 'running' | 'paused' | 'stopped';

export interface RuntimeState {
  status: RuntimeStatus;
  pid: number;
}

export interface Leftovers {
  containers: { id: string; bundle: string }[];
  monitors: number[];
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
  /** Create the container under its monitor; resolves once the runtime reports the init pid. */
  create(req: CreateRequest): Promise<Created>;
  /** Run a process in a running container under a monitor of its own (exec session, `dir` its bundle). */
  exec(req: ExecRequest): Promise<ExecStarted>;
  /**
   * A process will soon join a running container's cgroups (an exec its caller is preparing): the driver
   * may begin now what the host makes such a join wait for, so the wait overlaps the caller's own work.
   * A hint: nothing depends on it. The engine gives it as soon as an exec is checked; a create needs none
   * (the driver starts the wait itself when the create begins).
   */
  expectJoin(): void;
  /**
   * Add what this runtime takes beside the OCI fields to a container's spec, before the engine writes it
   * (crun: the seccomp program it compiled for the same profile before, src/runtime/seccomp-cache.ts).
   */
  prepareSpec(id: string, spec: OciSpec): void;
  /**
   * What the monitor recorded in a bundle dir (a container's, or an exec session's with the container's
   * id): its exit and whether it was OOM-killed. Reads files only: safe from any process at any time.
   */
  observe(bundle: string, id: string): Observation;
  /** The monitor's pid as the monitor recorded it, 0 when unknown. */
  monitorPid(bundle: string): number;
  /**
   * Paths whose changes (inotify) tell of an exit, for waiters to wake early. Not the log's: a waiter woken
   * by every line a busy container logs spends more CPU than the logging (readLog watches the log itself).
   */
  watchPaths(bundle: string): string[];
  /** Connect to the process's stdio in a bundle dir (a running container's, or an exec session's). */
  attach(bundle: string): Promise<AttachStream>;
  /** Set the terminal size of the process in a bundle dir (tty only). */
  resize(bundle: string, rows: number, cols: number): Promise<void>;
  /** Have the monitor of a running container reopen its log file (a CRI client rotated it by renaming). */
  reopenLog(bundle: string): Promise<void>;
  /**
   * Read a container's log (a driver with a file); with `follow`, keep reading while `live()` holds.
   * Nothing is lost at the end: the monitor records the exit after the last output, and a log writer's
   * last records are waited for.
   */
  readLog(bundle: string, log: LogTarget, live: () => boolean, out: (rec: LogRecord) => void, opts?: LogReadOptions): Promise<void>;
  /**
   * Run a short process in a running container and collect its output (a health probe): `process` is an OCI
   * process, `dir` a directory of the container's the driver may use for its files. A process still running
   * at `timeoutMs` is killed: `timedOut`, exit code -1. No monitor: the caller waits for it.
   */
  probe(id: string, dir: string, process: object, timeoutMs: number): Promise<ProbeResult>;
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
  /**
   * What the runtime and the monitor still hold for bundles under `dir` (a root's containers dir): the
   * containers the runtime has a record of, and the pids of live monitors (exec sessions' too). How
   * `system reset` finds what a root left that its own records do not name (a root deleted by hand).
   */
  leftovers(dir: string): Promise<Leftovers>;
  /** Pids of every process in the container. */
  pids(id: string): Promise<number[]>;
  /** Change resources of a live container (OCI linux.resources JSON). */
  update(id: string, resources: OciResources): Promise<void>;
  /** Refused where the host cannot checkpoint; see features().supportsCheckpoint. */
  checkpoint(id: string, imageDir: string): Promise<void>;
  features(): RuntimeFeatures;
  runtimeInfo(): Promise<RuntimeInfo>;
  /** The monitor's name and version, or null when it has none installed. */
  monitorInfo(): Promise<{ name: string; version: string } | null>;
}
