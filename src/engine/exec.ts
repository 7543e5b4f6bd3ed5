/**
 * Exec sessions: a process run in a running container through the runtime's exec under a monitor, recorded
 * (command, pid, exit code) so any face can inspect it later. A session is created (its command checked and
 * recorded; docker's exec create), started once by whichever process claims it (exec start), and ends; `berth
 * exec` does the first two at once.
 *
 * A session's directory (containers/<id>/exec/<id12>/: the process spec and the monitor's files, its bundle)
 * lives only while its process runs: once the exit code is in the session's row the directory is removed.
 * The end is recorded by whichever comes first: the process that holds the session (the monitor's report, or
 * its exit file for `exec -d`), an inspect, or the sweep each exec of the container does while its monitor
 * starts and at its end (sessions whose process is gone and whose exit file is there; an `exec -d` from the
 * CLI leaves before its process ends). Rows of ended sessions are kept for inspection: per container the
 * KEEP_ENDED that ended last (docker keeps an ended exec instance 5 to 10 minutes; a count also bounds a
 * container exec'd in a loop, and needs no clock); running sessions are never dropped. All go with the
 * container.
 */
import { mergeEnv, processEnv } from '../runtime/spec/process-env.ts';
import { linkEnv } from './links.ts';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { Conflict, InvalidArgument, NotFound } from '../errors.ts';
import type { AttachStream, ExecStarted } from '../runtime/driver.ts';
import { heldCapabilities } from '../runtime/spec/capabilities.ts';
import type { ContainerRow } from '../store/containers.ts';
import type { ExecConfig, ExecSessionRow } from '../store/exec-sessions.ts';
import { isAlive, procStartTime } from '../sys/proc.ts';
import { trace } from '../sys/trace.ts';
import type { EngineCore } from './core.ts';
import { newId } from './names.ts';
import { parseSignal } from './signals.ts';
import { resolveUser } from './user.ts';
import { canExec } from './state.ts';
import { parseDetachKeys } from './detach-keys.ts';

/** Ended sessions whose rows are kept per container (those that ended last); older ones are forgotten. */
export const KEEP_ENDED = 100;

/** What an exec runs and how (docker's exec create). */
export interface ExecOptions {
  cmd: string[];
  env?: string[];
  /** user[:group], resolved in the image; default the container's user. */
  user?: string;
  workdir?: string;
  tty?: boolean;
  /** Keep stdin open and forward it. */
  stdin?: boolean;
  /** Which outputs whoever starts it attaches to (docker's AttachStdout/AttachStderr); default both. */
  stdout?: boolean;
  stderr?: boolean;
  /** Do not attach: the process runs on, its output discarded (`exec -d`). */
  detach?: boolean;
  /** Every capability the engine holds. */
  privileged?: boolean;
  /** The key sequence that detaches a client attached to it (`--detach-keys`). */
  detachKeys?: string;
  /** Pass the caller's fds 3…3+N-1 on to the process. */
  preserveFds?: number;
}

/** How a created exec is started (docker's exec start): detached or not, and a terminal after all. */
export interface ExecStartOptions {
  detach?: boolean;
  tty?: boolean;
  preserveFds?: number;
}

export interface ExecHandle {
  id: string;
  pid: number;
  /** The process's stdio, unless detached. */
  stream?: AttachStream;
  /** Set the process's terminal size (tty sessions). */
  resize(rows: number, cols: number): Promise<void>;
  /** Resolves with the exit code; the session row is updated first. */
  exit: Promise<number>;
}

/** The container an exec may run in, reconciled: a running one (docker refuses paused and stopped ones). */
export function execTarget(engine: EngineCore, ref: string): ContainerRow {
  const row = engine.inspect(ref);
  if (row.state === 'paused') throw new Conflict(`Container ${row.id} is paused, unpause the container before exec`);
  if (!canExec(row.state)) throw new Conflict(`Container ${row.id} is not running`);
  return row;
}

/**
 * Record an exec in a running container, to be started later (docker's exec create): what can be checked
 * before it runs is checked here. Created sessions never started are kept per container up to KEEP_ENDED.
 */
export function createExec(engine: EngineCore, ref: string, opts: ExecOptions): ExecSessionRow {
  const { row, config } = checked(engine, ref, opts);
  const id = newId();
  engine.execs.insert(id, row.id, config, false);
  engine.execs.pruneUnstarted(row.id, KEEP_ENDED);
  engine.emitContainer(row, `exec_create: ${config.cmd.join(' ')}`, { execID: id });
  return engine.execs.get(id)!;
}

/** Start a created exec, once (docker's exec start). */
export async function startExec(engine: EngineCore, sessionRef: string, opts: ExecStartOptions = {}): Promise<ExecHandle> {
  const s = lookupOne(engine, sessionRef);
  if (s.started) throw new Conflict(s.exitCode === null ? `Exec command ${s.id} is already running` : `Exec command ${s.id} has already run`);
  const row = execTarget(engine, s.containerId);
  engine.driver(row.config.runtime).expectJoin();
  const config: ExecConfig = { ...s.config, tty: opts.tty ?? s.config.tty, detach: opts.detach ?? false };
  if (!engine.execs.claim(s.id, config)) throw new Conflict(`Exec command ${s.id} is already running`);
  return launch(engine, row, s.id, config, opts.preserveFds);
}

/** Create an exec and start it at once (`berth exec`, the library's exec). */
export async function runExec(engine: EngineCore, ref: string, opts: ExecOptions): Promise<ExecHandle> {
  trace('exec: begin');
  const { row, config } = checked(engine, ref, opts);
  // The process joins the container's cgroups: the host's wait for that runs while the session is recorded.
  engine.driver(row.config.runtime).expectJoin();
  const id = newId();
  engine.execs.insert(id, row.id, config, true);
  engine.emitContainer(row, `exec_create: ${config.cmd.join(' ')}`, { execID: id });
  trace('exec: created');
  return launch(engine, row, id, config, opts.preserveFds);
}

/** Set a session's terminal size: now if its process runs, when it runs if it has not yet. */
export async function resizeExec(engine: EngineCore, sessionRef: string, rows: number, cols: number): Promise<void> {
  const s = lookupOne(engine, sessionRef);
  if (s.exitCode !== null) throw new Conflict(`Exec ${s.id} is not running`);
  if (!s.config.tty || engine.execs.keepSize(s.id, rows, cols)) return;
  const c = engine.containers.get(s.containerId);
  if (c) await engine.driver(c.config.runtime).resize(sessionDir(engine, c.id, s.id), rows, cols);
}

/** The container an exec runs in, and the exec's record, with what can be checked before it runs checked. */
function checked(engine: EngineCore, ref: string, opts: ExecOptions): { row: ContainerRow; config: ExecConfig } {
  if (opts.cmd.length === 0 || opts.cmd[0] === '') throw new InvalidArgument('No exec command specified');
  if (opts.preserveFds !== undefined && (!Number.isInteger(opts.preserveFds) || opts.preserveFds < 0)) {
    throw new InvalidArgument(`invalid --preserve-fds: ${opts.preserveFds}`);
  }
  for (const e of opts.env ?? []) if (e.startsWith('=')) throw new InvalidArgument(`invalid environment variable: ${e}`);
  if (opts.detachKeys !== undefined) parseDetachKeys(opts.detachKeys);
  const row = execTarget(engine, ref);
  const workdir = opts.workdir || row.config.cwd;
  if (!workdir.startsWith('/')) throw new InvalidArgument(`the working directory '${workdir}' is invalid, it needs to be an absolute path`);
  const config: ExecConfig = {
    cmd: opts.cmd,
    env: opts.env ?? [],
    user: opts.user ?? '',
    workdir,
    tty: opts.tty ?? false,
    stdin: opts.stdin ?? false,
    detach: opts.detach ?? false,
    privileged: opts.privileged ?? false,
    ...(opts.stdout === false ? { stdout: false } : {}),
    ...(opts.stderr === false ? { stderr: false } : {}),
    ...(opts.detachKeys !== undefined ? { detachKeys: opts.detachKeys } : {}),
  };
  return { row, config };
}

/** By full id or unique prefix. */
function lookupOne(engine: EngineCore, ref: string): ExecSessionRow {
  const found = engine.execs.lookup(ref);
  if (found.length !== 1) throw new NotFound(found.length > 1 ? `multiple exec sessions match ${ref}` : `No such exec instance: ${ref}`);
  return found[0]!;
}

/**
 * Run a started session's process: its spec (the container's process with the exec's command, user,
 * environment and directory) in the session's directory, under the driver's monitor. A failure ends the
 * session with the failure's exit code.
 */
async function launch(engine: EngineCore, row: ContainerRow, id: string, config: ExecConfig, preserveFds: number | undefined): Promise<ExecHandle> {
  const c = row.config;
  const sdir = sessionDir(engine, row.id, id);
  const drv = engine.driver(c.runtime);
  let started: ExecStarted | undefined;
  try {
    const proc = (JSON.parse(readFileSync(join(engine.dir(row.id), 'config.json'), 'utf8')) as { process: Record<string, unknown> }).process;
    const img = engine.images.repo.get(row.imageId);
    const user = config.user
      ? resolveUser(config.user, img ? engine.images.readFile(img, '/etc/passwd') : null, img ? engine.images.readFile(img, '/etc/group') : null)
      : { uid: c.uid, gid: c.gid, additionalGids: c.additionalGids };
    // The container's environment under the exec's own (a name without a value unsets nothing: it is not a
    // variable); the client resolved `-e NAME` from its own environment, as docker's CLI does.
    const env = processEnv(mergeEnv(linkEnv(engine, row), c.env, config.env), c.home ?? '/');
    const caps = config.privileged ? heldCapabilities() : undefined;
    const spec = {
      ...proc,
      terminal: config.tty,
      args: config.cmd,
      env,
      cwd: config.workdir,
      user: { uid: user.uid, gid: user.gid, additionalGids: user.additionalGids },
      ...(caps ? { capabilities: { bounding: caps, effective: caps, permitted: caps } } : {}),
    };
    mkdirSync(sdir, { recursive: true, mode: 0o700 });
    writeFileSync(join(sdir, 'process.json'), JSON.stringify(spec));
    const starting = drv.exec({
      id: row.id,
      session: id,
      dir: sdir,
      tty: config.tty,
      stdin: config.stdin && !config.detach,
      attach: !config.detach,
      preserveFds,
    });
    // The monitor is starting (spawned above): meanwhile tidy up after the container's earlier sessions
    // (housekeeping: a failure is not this exec's).
    try {
      await sweep(engine, row.id, row, removeDirAsync);
    } catch {
      /* the next exec sweeps */
    }
    started = await starting;
    trace('exec: pid');
    engine.execs.started(id, started.pid, procStartTime(started.pid) ?? 0);
    engine.emitContainer(row, `exec_start: ${config.cmd.join(' ')}`, { execID: id });
    // A size asked for before the pid was recorded is in the row now (see ExecRepo.keepSize).
    const size = config.tty ? engine.execs.get(id)?.config.size : undefined;
    if (size) await drv.resize(sdir, size[0], size[1]).catch(() => {});
    const exit = started.exit.then(async (code) => {
      trace('exec: exit');
      try {
        await recordEnd(engine, row.id, row, id, code, removeDirAsync);
        // The code stored first is the session's (the exit file is gone when another process stored it).
        return engine.execs.get(id)?.exitCode ?? code;
      } catch {
        /* the engine was closed meanwhile: inspectExec records it from the exit file later */
        return code;
      }
    });
    return { id, pid: started.pid, stream: started.stream, resize: (rows, cols) => drv.resize(sdir, rows, cols), exit };
  } catch (e) {
    started?.stream?.close();
    await recordEnd(engine, row.id, row, id, 'exitCode' in (e as object) ? (e as { exitCode: number }).exitCode : 125, removeDirAsync);
    throw e;
  }
}

/**
 * Store a session's end, report it (`exec_die`) from whichever process stored it first, and remove the
 * session's directory (the code is in the row now); then sweep the container's other sessions.
 */
async function recordEnd(
  engine: EngineCore, containerId: string, row: ContainerRow | undefined, id: string, code: number, remove: Remover,
): Promise<void> {
  await storeEnd(engine, containerId, row, id, code, remove);
  await sweep(engine, containerId, row, remove);
}

/**
 * The end is stored at once (before any wait), and in the same step the container's ended sessions are cut
 * back to the KEEP_ENDED that ended last: whoever sees this end stored also sees the cap kept. Then the
 * directories go.
 */
async function storeEnd(
  engine: EngineCore, containerId: string, row: ContainerRow | undefined, id: string, code: number, remove: Remover,
): Promise<void> {
  if (engine.execs.ended(id, code) && row) engine.emitContainer(row, 'exec_die', { execID: id, exitCode: String(code) });
  const forgotten = engine.execs.pruneEnded(containerId, KEEP_ENDED);
  await remove(sessionDir(engine, containerId, id));
  for (const gone of forgotten) await remove(sessionDir(engine, containerId, gone));
}

/**
 * How a session's directory is removed: asynchronously where the caller waits anyway (an exec's start and
 * end: a long-lived engine must not stop for it), synchronously where the caller is synchronous (inspect).
 */
type Remover = (path: string) => void | Promise<void>;

async function removeDirAsync(path: string): Promise<void> {
  for (let i = 0; i < 5; i++) {
    try {
      await rm(path, { recursive: true, force: true });
    } catch {
      /* raced again: retried */
    }
    if (!existsSync(path)) return;
  }
}

/**
 * Remove a session's directory. The monitor (conmon) unlinks its attach socket there as it exits, after the exit code is
 * out: a removal that meets that file gone midway gives up (rmSync's force), so it is done again.
 */
function removeDir(path: string): void {
  for (let i = 0; i < 5; i++) {
    try {
      rmSync(path, { recursive: true, force: true });
    } catch {
      /* raced again: retried */
    }
    if (!existsSync(path)) return;
  }
}

/**
 * Record the end of the container's sessions whose process is gone and whose exit the monitor recorded (their
 * holder left, or has not looked yet).
 */
async function sweep(engine: EngineCore, containerId: string, row: ContainerRow | undefined, remove: Remover): Promise<void> {
  for (const s of engine.execs.runningIn(containerId)) {
    if (isAlive(s.pid, s.pidStart)) continue;
    const code = sessionExit(engine, s);
    if (code !== null) await storeEnd(engine, containerId, row, s.id, code, remove);
  }
}

function sessionDir(engine: EngineCore, containerId: string, sessionId: string): string {
  return join(engine.dir(containerId), 'exec', sessionId.slice(0, 12));
}

/** The exit code the session's monitor recorded, null while there is none (or its directory is gone). */
function sessionExit(engine: EngineCore, s: ExecSessionRow): number | null {
  const c = engine.containers.get(s.containerId);
  if (!c) return null;
  return engine.watcher(c).observe(sessionDir(engine, s.containerId, s.id), s.containerId).exit?.code ?? null;
}

/**
 * A session, reconciled with its monitor's record once its process is gone. Until the monitor has recorded
 * the exit (just after the process ends) the code is unknown: shown as null, never stored as a guess.
 */
export function inspectExec(engine: EngineCore, ref: string): ExecSessionRow {
  const s = lookupOne(engine, ref);
  if (s.running && !isAlive(s.pid, s.pidStart)) {
    const code = sessionExit(engine, s);
    // No exit recorded: the monitor has not written it yet, or another process stored the end and removed it.
    if (code === null) {
      const now = engine.execs.get(s.id);
      return now && now.exitCode !== null ? now : { ...s, running: false };
    }
    // Synchronous removal: the end and this session's directory are done before this returns; the sweep of
    // the container's other sessions that follows is housekeeping (a closed engine skips it).
    recordEnd(engine, s.containerId, engine.containers.get(s.containerId), s.id, code, removeDir).catch(() => {});
    return engine.execs.get(s.id) ?? { ...s, running: false, exitCode: code };
  }
  return s;
}

/** Stop a running exec: SIGTERM, then SIGKILL after `timeout` seconds. */
export async function stopExec(engine: EngineCore, ref: string, timeout = 10): Promise<ExecSessionRow> {
  const s = inspectExec(engine, ref);
  if (!s.running) return s;
  const signal = (sig: string) => {
    if (isAlive(s.pid, s.pidStart)) process.kill(s.pid, parseSignal(sig) as NodeJS.Signals);
  };
  signal('SIGTERM');
  const end = Date.now() + timeout * 1000;
  while (isAlive(s.pid, s.pidStart) && Date.now() < end) await new Promise((r) => setTimeout(r, 50));
  signal('SIGKILL');
  while (isAlive(s.pid, s.pidStart)) await new Promise((r) => setTimeout(r, 20));
  // The monitor records the exit code just after it reaps the process: give it that moment.
  // (Or another process has stored the end and removed the file.)
  const known = () => sessionExit(engine, s) !== null || (engine.execs.get(s.id)?.exitCode ?? null) !== null;
  for (let i = 0; i < 100 && !known(); i++) await new Promise((r) => setTimeout(r, 20));
  const ended = inspectExec(engine, s.id);
  // The process holding the session may have stored the end first and still be removing the directory
  // (asynchronously): a stop returns with it gone.
  if (ended.exitCode !== null) removeDir(sessionDir(engine, s.containerId, s.id));
  return ended;
}
