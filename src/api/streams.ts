/**
 * The streaming endpoints: attach (hijacked), logs, and exec (create, start hijacked, inspect, resize).
 * Output is docker's multiplexed frames (src/engine/frame.ts) unless the process has a tty; input is
 * passed to the process's stdio with docker's half-close rules.
 */
import { randomBytes } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { encodeFrame } from '../engine/frame.ts';
import { Conflict, InvalidArgument, NotFound, isBerthError } from '../errors.ts';
import { DEFAULT_DETACH_KEYS, DetachMatcher, parseDetachKeys } from '../engine/detach-keys.ts';
import { parseTimeArg, utcNano } from '../engine/time.ts';
import { compareVersions, MULTIPLEXED_STREAM, RAW_STREAM, type Ctx, type StreamOut } from './http.ts';
import type { ExecRecord, PendingAttach } from './state.ts';
import { isLive } from '../engine/state.ts';
import type { ContainerState } from '../types.ts';
import type { AttachStream } from '../engine/types.ts';

/**
 * The content type of a stream: multiplexed frames say so from API 1.42 on, on an upgraded connection or
 * a plain response (logs). A hijack answered without Upgrade says raw-stream whatever it carries, as the
 * daemon does (clients of that path demultiplex by the container's Tty).
 */
function contentType(ctx: Ctx, tty: boolean, hijack = false): string {
  if (hijack && !ctx.upgraded) return RAW_STREAM;
  return !tty && compareVersions(ctx.version, '1.42') >= 0 ? MULTIPLEXED_STREAM : RAW_STREAM;
}

interface PumpOptions {
  out: StreamOut;
  /** Client input, when the client may send any (an upgraded connection). */
  input?: Duplex | IncomingMessage;
  /** Input bytes already read past the request. */
  pending: Buffer;
  tty: boolean;
  /** Forward the client's input to the process. */
  stdin: boolean;
  /** On the client's input EOF, close the process's stdin (StdinOnce, exec) rather than end the stream. */
  closeStdinOnEof: boolean;
  detachKeys: Buffer;
  emit(stream: 1 | 2, data: Buffer): void;
}

/** Pump one stdio connection to a client until the monitor closes it, the client detaches or hangs up. */
function pump(session: AttachStream, o: PumpOptions): Promise<'ended' | 'detached' | 'gone'> {
  return new Promise((resolve) => {
    let done = false;
    const matcher = new DetachMatcher(o.tty ? o.detachKeys : Buffer.alloc(0));
    const finish = (how: 'ended' | 'detached' | 'gone') => {
      if (done) return;
      done = true;
      o.input?.off('data', onData);
      o.input?.off('end', onEnd);
      if (how !== 'ended') session.close();
      resolve(how);
    };
    const onData = (chunk: Buffer) => {
      if (!o.stdin) return;
      const { forward, detach } = matcher.feed(chunk);
      if (forward.length > 0 && !session.write(forward)) {
        o.input?.pause();
        session.onDrain(() => o.input?.resume());
      }
      if (detach) {
        o.out.end();
        finish('detached');
      }
    };
    const onEnd = () => {
      if (!o.stdin) return;
      if (o.closeStdinOnEof && !o.tty) {
        session.closeStdin().catch(() => {});
        return;
      }
      // docker: otherwise the end of input ends the attachment's output too.
      if (o.closeStdinOnEof) session.closeStdin().catch(() => {});
      o.out.end();
      finish('detached');
    };
    session.on('stdout', (d) => o.emit(1, d));
    session.on('stderr', (d) => o.emit(o.tty ? 1 : 2, d));
    session.on('end', () => finish('ended'));
    session.on('error', () => finish('ended'));
    o.out.onClose(() => finish('gone'));
    if (o.out.closed) return finish('gone');
    if (o.input) {
      if (o.pending.length > 0) onData(o.pending);
      o.input.on('data', onData);
      o.input.on('end', onEnd);
      o.input.resume();
    }
  });
}

function emitter(out: StreamOut, tty: boolean, wantOut: boolean, wantErr: boolean): (stream: 1 | 2, data: Buffer) => void {
  return (stream, data) => {
    if ((stream === 1 && !wantOut) || (stream === 2 && !wantErr)) return;
    out.write(tty ? data : encodeFrame(stream, data));
  };
}

/** `POST /containers/{id}/attach?stream&stdin&stdout&stderr&logs&detachKeys` */
export async function attach(ctx: Ctx): Promise<void> {
  const { engine } = ctx;
  const row = engine.inspect(ctx.params[0]!);
  const id = row.id;
  const tty = row.config.tty;
  const detachKeys = parseDetachKeys(ctx.q('detachKeys') ?? DEFAULT_DETACH_KEYS);
  const stdin = ctx.qbool('stdin') && row.config.openStdin && ctx.upgraded;
  // A request body (dockerode sends its options as JSON) is the request's, not the container's input.
  if (ctx.upgraded) await ctx.body();
  const { out, input, pending } = ctx.hijack(contentType(ctx, tty, true));
  const emit = emitter(out, tty, ctx.qbool('stdout'), ctx.qbool('stderr'));
  // Wait for the start (or connect) in the same tick as the 101: a start can follow it at once.
  const connecting = ctx.qbool('stream') ? attachStream(ctx, id, row.state, out) : Promise.resolve(null);
  if (ctx.qbool('logs') && (row.config.logDriver ?? 'k8s-file') === 'k8s-file') {
    await engine.readLogs(id, (rec) => emit(rec.stream === 'stderr' ? 2 : 1, rec.data)).catch(() => {});
  }
  const stream = await connecting.catch(() => null);
  if (!stream) return out.end();
  const how = await pump(stream, { out, input: ctx.upgraded ? input : undefined, pending, tty, stdin, closeStdinOnEof: row.config.stdinOnce ?? false, detachKeys, emit });
  if (how === 'ended') out.end();
}

/**
 * The container's stdio: at once when it runs; for a created one, handed over by the API's start before
 * the process runs (docker's CLI attaches first, then starts). A start from elsewhere is noticed by polling
 * (output before the connection is then missed). Null when it ends first.
 */
async function attachStream(ctx: Ctx, id: string, st: ContainerState, out: StreamOut): Promise<AttachStream | null> {
  const { engine, state } = ctx;
  if (isLive(st)) return engine.attach(id);
  if (st !== 'created' && st !== 'creating') return null;
  return new Promise<AttachStream | null>((resolve) => {
    let settled = false;
    const settle = (s: AttachStream | null) => {
      if (settled) {
        s?.close();
        return;
      }
      settled = true;
      clearInterval(timer);
      state.removeAttacher(id, pa);
      resolve(s);
    };
    const pa: PendingAttach = {
      connect: (s) => settle(s),
      get wanted() {
        return !settled && !out.closed;
      },
    };
    state.addAttacher(id, pa);
    const timer = setInterval(() => {
      if (out.closed) return settle(null);
      let s: string;
      try {
        s = engine.inspect(id).state;
      } catch {
        return settle(null);
      }
      if (s !== 'created' && s !== 'creating' && s !== 'running' && s !== 'paused') return settle(null);
      // Still in the set while it runs: started from elsewhere. Out of it: a start took it and connects.
      if (s === 'running' && (state.attachers.get(id)?.has(pa) ?? false)) {
        state.removeAttacher(id, pa);
        engine.attach(id).then(settle, () => settle(null));
      }
    }, 200);
  });
}

/** `GET /containers/{id}/logs?follow&stdout&stderr&since&until&timestamps&tail` */
export async function logs(ctx: Ctx): Promise<void> {
  const { engine } = ctx;
  const row = engine.inspect(ctx.params[0]!);
  const wantOut = ctx.qbool('stdout');
  const wantErr = ctx.qbool('stderr');
  if (!wantOut && !wantErr) throw new InvalidArgument('Bad parameters: you must choose at least one stream');
  const tailText = ctx.q('tail');
  let tail: number | undefined;
  if (tailText && tailText !== 'all') {
    const n = Number(tailText);
    if (!Number.isInteger(n)) throw new InvalidArgument(`invalid value for "tail": ${tailText}`);
    if (n >= 0) tail = n;
  }
  const time = (name: string) => {
    const v = ctx.q(name);
    if (!v || v === '0') return undefined;
    try {
      return parseTimeArg(v, name);
    } catch (e) {
      throw new InvalidArgument((e as Error).message);
    }
  };
  const since = time('since');
  const until = time('until');
  const tty = row.config.tty;
  const out = ctx.startStream(contentType(ctx, tty));
  const emit = emitter(out, tty, wantOut, wantErr);
  const ts = ctx.qbool('timestamps');
  const atLineStart = { stdout: true, stderr: true };
  // The engine's follow, with one more reason to stop: the client hung up (a quiet container's follower
  // would otherwise poll on until the container ends).
  const hungUp = new AbortController();
  out.onClose(() => hungUp.abort());
  await engine.readLogs(
    row.id,
    (rec) => {
      if (out.closed) return;
      const s = rec.stream === 'stderr' ? 2 : 1;
      const data = ts && atLineStart[rec.stream] ? Buffer.concat([Buffer.from(`${utcNano(rec.time)} `), rec.data]) : rec.data;
      atLineStart[rec.stream] = rec.data.length > 0 && rec.data[rec.data.length - 1] === 0x0a;
      emit(s, data);
    },
    { follow: ctx.qbool('follow'), tail, since, until, signal: hungUp.signal },
  );
  out.end();
}

// ---- exec ----

/** `POST /containers/{id}/exec` */
export async function execCreate(ctx: Ctx): Promise<void> {
  const body = await ctx.json();
  const row = ctx.engine.execTarget(ctx.params[0]!);
  const cmd = body.Cmd;
  if (!Array.isArray(cmd) || cmd.length === 0 || !cmd.every((c) => typeof c === 'string')) throw new InvalidArgument('No exec command specified');
  const strings = (v: unknown) => (Array.isArray(v) ? v.map(String) : []);
  const id = randomBytes(32).toString('hex');
  const rec: ExecRecord = {
    id,
    containerId: row.id,
    cmd: cmd as string[],
    env: strings(body.Env),
    user: typeof body.User === 'string' ? body.User : '',
    workdir: typeof body.WorkingDir === 'string' ? body.WorkingDir : '',
    tty: body.Tty === true,
    privileged: body.Privileged === true,
    attachStdin: body.AttachStdin === true,
    attachStdout: body.AttachStdout === true,
    attachStderr: body.AttachStderr === true,
    detachKeys: typeof body.DetachKeys === 'string' && body.DetachKeys !== '' ? body.DetachKeys : DEFAULT_DETACH_KEYS,
    started: false,
    running: false,
    exitCode: null,
    pid: 0,
  };
  parseDetachKeys(rec.detachKeys);
  ctx.state.execs.set(id, rec);
  ctx.send(201, { Id: id });
}

function execRecord(ctx: Ctx): ExecRecord {
  const ref = ctx.params[0]!;
  const rec = ctx.state.execs.get(ref) ?? [...ctx.state.execs.values()].find((r) => r.id.startsWith(ref) && ref.length >= 12);
  if (!rec) throw new NotFound(`No such exec instance: ${ref}`);
  return rec;
}

function ended(ctx: Ctx, rec: ExecRecord, code: number): void {
  rec.running = false;
  rec.exitCode = code;
  // An exec instance lives a while after its end for inspection, as the daemon keeps it.
  setTimeout(() => ctx.state.execs.delete(rec.id), 10 * 60_000).unref();
}

/** `POST /exec/{id}/start` `{"Detach","Tty"}` */
export async function execStart(ctx: Ctx): Promise<void> {
  const { engine } = ctx;
  const body = await ctx.json();
  const rec = execRecord(ctx);
  if (rec.started) throw new Conflict(`Exec command ${rec.id} is already running`);
  engine.execTarget(rec.containerId);
  const detach = body.Detach === true;
  const tty = typeof body.Tty === 'boolean' ? body.Tty || rec.tty : rec.tty;
  rec.started = true;
  rec.running = true;
  const opts = { cmd: rec.cmd, env: rec.env, user: rec.user || undefined, workdir: rec.workdir || undefined, tty, privileged: rec.privileged };
  if (detach) {
    try {
      const h = await engine.exec(rec.containerId, { ...opts, detach: true });
      rec.session = h.id;
      rec.pid = h.pid;
      rec.handle = h;
      h.exit.then((code) => ended(ctx, rec, code), () => ended(ctx, rec, -1));
    } catch (e) {
      ended(ctx, rec, isBerthError(e) ? e.exitCode : 126);
      throw e;
    }
    return ctx.send(200);
  }
  const stdin = rec.attachStdin && ctx.upgraded;
  const { out, input, pending } = ctx.hijack(contentType(ctx, tty, true));
  const emit = emitter(out, tty, rec.attachStdout, rec.attachStderr);
  let h;
  try {
    h = await engine.exec(rec.containerId, { ...opts, stdin: rec.attachStdin });
  } catch (e) {
    // Past the status line: the error goes in the stream, and the exit code says it failed (126/127).
    ended(ctx, rec, isBerthError(e) && (e.exitCode === 126 || e.exitCode === 127) ? e.exitCode : 126);
    out.write(tty ? `${(e as Error).message}\r\n` : encodeFrame(1, Buffer.from(`${(e as Error).message}\r\n`)));
    return out.end();
  }
  rec.session = h.id;
  rec.pid = h.pid;
  rec.handle = h;
  if (tty && rec.size) h.resize(rec.size[0], rec.size[1]).catch(() => {});
  const exit = h.exit.then(
    (code) => (ended(ctx, rec, code), code),
    () => (ended(ctx, rec, -1), -1),
  );
  const how = await pump(h.stream!, { out, input: ctx.upgraded ? input : undefined, pending, tty, stdin, closeStdinOnEof: true, detachKeys: parseDetachKeys(rec.detachKeys), emit });
  if (how === 'ended') {
    // The exit code is recorded before the stream ends: the CLI inspects the exec right after EOF.
    await exit;
    out.end();
  }
}

/** `GET /exec/{id}/json` */
export async function execInspect(ctx: Ctx): Promise<void> {
  const rec = execRecord(ctx);
  let running = rec.running;
  let exitCode = rec.exitCode;
  let pid = rec.pid;
  if (rec.session && rec.exitCode === null) {
    try {
      const s = ctx.engine.execInspect(rec.session);
      running = s.running;
      exitCode = s.exitCode;
      pid = s.pid;
    } catch {
      /* its container is gone: what we recorded stands */
    }
  }
  ctx.send(200, {
    ID: rec.id,
    Running: running,
    ExitCode: running ? null : exitCode,
    ProcessConfig: { tty: rec.tty, entrypoint: rec.cmd[0], arguments: rec.cmd.slice(1), privileged: rec.privileged, user: rec.user },
    OpenStdin: rec.attachStdin,
    OpenStdout: rec.attachStdout,
    OpenStderr: rec.attachStderr,
    CanRemove: false,
    ContainerID: rec.containerId,
    DetachKeys: '',
    Pid: pid,
  });
}

/** `POST /exec/{id}/resize?h&w` */
export async function execResize(ctx: Ctx): Promise<void> {
  const rec = execRecord(ctx);
  const h = ctx.qint('h', 0)!;
  const w = ctx.qint('w', 0)!;
  if (rec.started && !rec.running) throw new Conflict(`Exec ${rec.id} is not running`);
  // Before the process is up (the CLI resizes right after the 101), the size is applied when it is.
  if (!rec.handle) rec.size = [h, w];
  else if (rec.tty) await rec.handle.resize(h, w);
  ctx.send(200);
}
