/**
 * The closed set of engine errors. Each maps once to a CLI exit code and once to an HTTP status;
 * callers branch on the class, never on message text.
 */

export abstract class BerthError extends Error {
  /** Exit code for the CLI (docker's: 125 engine, 126 cannot invoke, 127 not found). */
  abstract readonly exitCode: number;
  /** HTTP status for the Engine API. */
  abstract readonly httpStatus: number;
  /** gRPC status code for the CRI (src/cri/): containerd's choice for the same condition. */
  abstract readonly grpcCode: number;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** A container, image or other object that does not exist. */
export class NotFound extends BerthError {
  readonly exitCode = 125;
  readonly httpStatus = 404;
  readonly grpcCode = 5;
}
export class NoSuchContainer extends NotFound {
  constructor(ref: string) {
    super(`No such container: ${ref}`);
  }
}
export class NoSuchImage extends NotFound {
  constructor(ref: string) {
    super(`No such image: ${ref}`);
  }
}
export class NoSuchVolume extends NotFound {
  constructor(name: string) {
    super(`no such volume: ${name}`);
  }
}

/** Names and other unique keys already taken. */
export class AlreadyExists extends BerthError {
  readonly exitCode = 125;
  readonly httpStatus = 409;
  readonly grpcCode = 6;
}
export class NameConflict extends AlreadyExists {
  constructor(name: string, holder: string) {
    super(
      `Conflict. The container name "/${name}" is already in use by container "${holder}". ` +
        `You have to remove (or rename) that container to be able to reuse that name.`,
    );
  }
}

/** The object exists but is in the wrong state for the operation (rm of a running container, …). */
export class Conflict extends BerthError {
  readonly exitCode = 125;
  readonly httpStatus = 409;
  readonly grpcCode = 9;
}

/**
 * Well-formed input the engine will not act on, where docker's daemon answers 403 (a pool that overlaps
 * another network's, an ingress network outside a swarm, a second IPv4 subnet on a bridge network).
 */
export class Forbidden extends BerthError {
  readonly exitCode = 125;
  readonly httpStatus = 403;
  readonly grpcCode = 7;
}

/** Malformed user input: flags, values, references. Nothing was changed. */
export class InvalidArgument extends BerthError {
  readonly exitCode = 125;
  readonly httpStatus = 400;
  readonly grpcCode = 3;
}

/** An image archive (docker save, OCI layout) that cannot be loaded: its message says why, after `invalid archive:`. */
export class InvalidArchive extends InvalidArgument {
  constructor(why: string, options?: ErrorOptions) {
    super(`invalid archive: ${why}`, options);
  }
}

/**
 * The disk holding the store has too little free space for the work to go on (below the reserve the
 * engine keeps free: src/image/unpack-limits.ts). Not the content's fault: it would fit elsewhere.
 */
export class NoSpace extends BerthError {
  readonly exitCode = 125;
  /** Insufficient Storage. */
  readonly httpStatus = 507;
  readonly grpcCode = 8;
}

/** A request or document larger than the engine accepts (a JSON body past its bound, say). */
export class TooLarge extends BerthError {
  readonly exitCode = 125;
  /** Content Too Large. */
  readonly httpStatus = 413;
  readonly grpcCode = 8;
}

/** A registry refused the credentials given (a login, or a pull or push with them). */
export class Unauthorized extends BerthError {
  readonly exitCode = 125;
  readonly httpStatus = 401;
  readonly grpcCode = 16;
}

/** Asked for something this engine or host cannot do (checkpoint here, a refused runtime). */
export class NotSupported extends BerthError {
  readonly exitCode = 125;
  readonly httpStatus = 501;
  readonly grpcCode = 12;
}

/** An operation ran past the time its caller gave it (a CRI ExecSync's timeout). */
export class TimedOut extends BerthError {
  readonly exitCode = 125;
  readonly httpStatus = 504;
  readonly grpcCode = 4;
}

/** A part of docker this node does not run (swarm mode): docker's answer on a node outside a swarm. */
export class Unavailable extends BerthError {
  readonly exitCode = 125;
  readonly httpStatus = 503;
  readonly grpcCode = 14;
}

/** What dockerd says of any swarm object on a node outside a swarm. */
export const NOT_A_SWARM_MANAGER = 'This node is not a swarm manager. Use "docker swarm init" or "docker swarm join" to connect this node to swarm and try again.';

/** The OCI runtime, its monitor or the host failed. */
export class RuntimeFailure extends BerthError {
  readonly exitCode = 125;
  readonly httpStatus = 500;
  readonly grpcCode = 2;
}

/** The container's command exists but cannot be executed (permission denied, not executable). */
export class CannotInvoke extends BerthError {
  readonly exitCode = 126;
  readonly httpStatus = 400;
  readonly grpcCode = 2;
}

/** The container's command was not found in the image. */
export class CommandNotFound extends BerthError {
  readonly exitCode = 127;
  readonly httpStatus = 400;
  readonly grpcCode = 2;
}

/**
 * Map a runtime's failure text onto the error class docker users expect: 127 and 126 only when the failure
 * is the container's command (runc: `exec: "CMD": …`; crun: "executable file `CMD` not found", "open
 * executable", "exec container process"), 125 for everything else, such as a cgroup file the host lacks
 * ("openat2 …/blkio.bfq.weight: no such file or directory") or a refused rlimit ("operation not permitted").
 */
export function classifyRuntimeError(text: string): BerthError {
  const t = text.toLowerCase();
  const runcExec = /exec: "[^"]*": (.*)/.exec(t)?.[1];
  const crunExec = /(executable file `[^`]*` not found.*|open executable: .*|exec container process [^:]*: .*)/.exec(t)?.[1];
  const cause = runcExec ?? crunExec;
  if (cause === undefined) return new RuntimeFailure(text);
  if (/not found|no such file or directory/.test(cause)) return new CommandNotFound(text);
  if (/permission denied|operation not permitted|exec format error|is a directory|not a directory/.test(cause)) return new CannotInvoke(text);
  return new RuntimeFailure(text);
}

export function isBerthError(e: unknown): e is BerthError {
  return e instanceof BerthError;
}

/** Any error as one of ours: an unknown one is a RuntimeFailure, with the original as its cause. */
export function asBerthError(e: unknown): BerthError {
  return isBerthError(e) ? e : new RuntimeFailure(e instanceof Error ? e.message : String(e), { cause: e });
}
