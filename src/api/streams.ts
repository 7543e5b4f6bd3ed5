/**
 * The streaming endpoints: attach (hijacked), logs, and exec (create, start hijacked, inspect, resize).
 * Output is docker's multiplexed frames (src/engine/frame.ts) unless the process has a tty; input is
 * passed to the process's stdio with docker's half-close rules.
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { encodeFrame } from '../engine/frame.ts';
import { Conflict, InvalidArgument } from '../errors.ts';
import { DEFAULT_DETACH_KEYS, DetachMatcher, parseDetachKeys } from '../engine/detach-keys.ts';
import { parseTimeArg } from '../engine/time.ts';
import { linePrefixes } from '../engine/log-lines.ts';
import { compareVersions, MULTIPLEXED_STREAM, RAW_STREAM, type Ctx, type StreamOut } from './http.ts';
import type { PendingAttach } from './state.ts';
import { isLive } from '../engine/state.ts';
import type { ContainerState } from '../types.ts';
import type { AttachStream } from '../engine/types.ts';
import { readsLog } from '../engine/types.ts';
import { acceptWebSocket, webSocketKey } from './websocket.ts';

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
  if (ctx.qbool('logs') && readsLog(row.config.logDriver ?? 'k8s-file')) {
    await engine.readLogs(id, (rec) => emit(rec.stream === 'stderr' ? 2 : 1, rec.data)).catch(() => {});
  }
  const stream = await connecting.catch(() => null);
  if (!stream) return out.end();
  const how = await pump(stream, { out, input: ctx.upgraded ? input : undefined, pending, tty, stdin, closeStdinOnEof: row.config.stdinOnce ?? false, detachKeys, emit });
  if (how === 'ended') out.end();
}

/**
 * `GET /containers/{id}/attach/ws?stream&stdin&stdout&stderr&logs&detachKeys`: attach over a WebSocket.
 * Output is never multiplexed (the two streams share the frames, as dockerd sends them); before API 1.42
 * stdin, stdout and stderr are all attached whatever the query says.
 */
export async function attachWs(ctx: Ctx): Promise<void> {
  const { engine } = ctx;
  const key = webSocketKey(ctx.req.headers);
  if (!ctx.socket) throw new InvalidArgument('not a websocket handshake: the connection was not upgraded');
  const row = engine.inspect(ctx.params[0]!);
  const id = row.id;
  const tty = row.config.tty;
  const detachKeys = parseDetachKeys(ctx.q('detachKeys') ?? DEFAULT_DETACH_KEYS);
  const selects = compareVersions(ctx.version, '1.42') >= 0;
  const wants = (name: string) => !selects || ctx.qbool(name);
  ctx.answered = true;
  const head = ctx.head;
  ctx.head = Buffer.alloc(0);
  const { out, input } = acceptWebSocket(ctx.socket, head, key, compareVersions(ctx.version, '1.28') >= 0);
  const emit = (stream: 1 | 2, data: Buffer) => {
    if ((stream === 1 && wants('stdout')) || (stream === 2 && wants('stderr'))) out.write(data);
  };
  const connecting = ctx.qbool('stream') ? attachStream(ctx, id, row.state, out) : Promise.resolve(null);
  if (ctx.qbool('logs') && readsLog(row.config.logDriver ?? 'k8s-file')) {
    await engine.readLogs(id, (rec) => emit(rec.stream === 'stderr' ? 2 : 1, rec.data)).catch(() => {});
  }
  const stream = await connecting.catch(() => null);
  if (!stream) return out.end();
  const stdin = wants('stdin') && row.config.openStdin;
  const how = await pump(stream, { out, input, pending: Buffer.alloc(0), tty, stdin, closeStdinOnEof: row.config.stdinOnce ?? false, detachKeys, emit });
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
  const prefix = linePrefixes({ timestamps: ctx.qbool('timestamps'), details: ctx.qbool('details') });
  // The engine's follow, with one more reason to stop: the client hung up (a quiet container's follower
  // would otherwise poll on until the container ends).
  const hungUp = new AbortController();
  out.onClose(() => hungUp.abort());
  await engine.readLogs(
    row.id,
    (rec) => {
      if (out.closed) return;
      const s = rec.stream === 'stderr' ? 2 : 1;
      const before = prefix(rec);
      const data = before ? Buffer.concat([Buffer.from(before), rec.data]) : rec.data;
      emit(s, data);
    },
    { follow: ctx.qbool('follow'), tail, since, until, signal: hungUp.signal },
  );
  out.end();
}

// ---- exec ----

/** `POST /containers/{id}/exec`: the engine records it; `POST /exec/{id}/start` runs it. */
export async function execCreate(ctx: Ctx): Promise<void> {
  const body = await ctx.json();
  const cmd = body.Cmd;
  if (!Array.isArray(cmd) || cmd.length === 0 || !cmd.every((c) => typeof c === 'string')) throw new InvalidArgument('No exec command specified');
  const strings = (v: unknown) => (Array.isArray(v) ? v.map(String) : []);
  const text = (v: unknown) => (typeof v === 'string' && v !== '' ? v : undefined);
  const s = ctx.engine.execCreate(ctx.params[0]!, {
    cmd: cmd as string[],
    env: strings(body.Env),
    user: text(body.User),
    workdir: text(body.WorkingDir),
    tty: body.Tty === true,
    privileged: body.Privileged === true,
    stdin: body.AttachStdin === true,
    stdout: body.AttachStdout === true,
    stderr: body.AttachStderr === true,
    detachKeys: text(body.DetachKeys),
  });
  ctx.send(201, { Id: s.id });
}

/** `POST /exec/{id}/start` `{"Detach","Tty"}` */
export async function execStart(ctx: Ctx): Promise<void> {
  const { engine } = ctx;
  const body = await ctx.json();
  const ref = ctx.params[0]!;
  // What can be refused with a status is refused before the hijack; the engine decides the race.
  const s = engine.execInspect(ref);
  if (s.started) throw new Conflict(s.exitCode === null ? `Exec command ${s.id} is already running` : `Exec command ${s.id} has already run`);
  engine.execTarget(s.containerId);
  const detach = body.Detach === true;
  const tty = typeof body.Tty === 'boolean' ? body.Tty || s.config.tty : s.config.tty;
  if (detach) {
    await engine.execStart(s.id, { detach: true, tty });
    return ctx.send(200);
  }
  const stdin = s.config.stdin && ctx.upgraded;
  const { out, input, pending } = ctx.hijack(contentType(ctx, tty, true));
  const emit = emitter(out, tty, s.config.stdout !== false, s.config.stderr !== false);
  let h;
  try {
    h = await engine.execStart(s.id, { tty });
  } catch (e) {
    // Past the status line: the error goes in the stream; the session's exit code says it failed (126/127).
    out.write(tty ? `${(e as Error).message}\r\n` : encodeFrame(1, Buffer.from(`${(e as Error).message}\r\n`)));
    return out.end();
  }
  const exit = h.exit.catch(() => -1);
  const detachKeys = parseDetachKeys(s.config.detachKeys ?? DEFAULT_DETACH_KEYS);
  const how = await pump(h.stream!, { out, input: ctx.upgraded ? input : undefined, pending, tty, stdin, closeStdinOnEof: true, detachKeys, emit });
  if (how === 'ended') {
    // The exit code is recorded before the stream ends: the CLI inspects the exec right after EOF.
    await exit;
    out.end();
  }
}

/** `GET /exec/{id}/json` */
export async function execInspect(ctx: Ctx): Promise<void> {
  const s = ctx.engine.execInspect(ctx.params[0]!);
  const c = s.config;
  ctx.send(200, {
    ID: s.id,
    Running: s.running,
    ExitCode: s.running ? null : s.exitCode,
    ProcessConfig: { tty: c.tty, entrypoint: c.cmd[0], arguments: c.cmd.slice(1), privileged: c.privileged, user: c.user },
    OpenStdin: c.stdin,
    OpenStdout: c.stdout !== false,
    OpenStderr: c.stderr !== false,
    CanRemove: false,
    ContainerID: s.containerId,
    DetachKeys: c.detachKeys ?? '',
    Pid: s.pid,
  });
}

/** `POST /exec/{id}/resize?h&w` */
export async function execResize(ctx: Ctx): Promise<void> {
  await ctx.engine.execResize(ctx.params[0]!, ctx.qint('h', 0)!, ctx.qint('w', 0)!);
  ctx.send(200);
}
