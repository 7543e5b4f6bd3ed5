/**
 * The Kubernetes remote-command protocol over SPDY, server side: what kubelet's streaming server does for the
 * CRI's Exec and Attach once the connection is upgraded. The client (client-go's SPDY executor, in crictl,
 * critest and the API server) opens one stream per channel, named by its `streamType` header (lower-cased on
 * the wire, as every SPDY header name): `error` first, then `stdin`, `stdout`, `stderr` as the request asked,
 * and `resize` for a terminal (v3 and later). The command's end is reported on the error stream: in v4 as a JSON
 * metav1.Status (a non-zero exit code as reason NonZeroExitCode with an ExitCode cause), in v1–v3 as the bare
 * message of a failure and nothing on success. Then every stream is ended and the session closed.
 */
import { EventEmitter } from 'node:events';
import type { Readable, Writable } from 'node:stream';
import { finished } from 'node:stream/promises';
import { InvalidArgument } from '../../errors.ts';
import type { SpdySession, SpdyStream } from './spdy.ts';

/** The protocols kubelet's streaming server offers for exec and attach, most preferred first. */
export const REMOTECOMMAND_PROTOCOLS: readonly string[] = ['v4.channel.k8s.io', 'v3.channel.k8s.io', 'v2.channel.k8s.io', 'channel.k8s.io'];

/** How long the client has to open its streams once upgraded (kubelet's default stream creation timeout). */
const STREAM_CREATION_TIMEOUT_MS = 30_000;

/** Which streams a request asked for (the CRI ExecRequest's or AttachRequest's flags). */
export interface RemoteCommandOptions {
  stdin: boolean;
  stdout: boolean;
  stderr: boolean;
  tty: boolean;
}

/** How a command ended: an exit code (0–255), or an error that kept it from running or being attached to. */
export type RemoteCommandResult = { exitCode: number } | { error: Error };

/** A terminal size, as the client's resize stream sends it. */
export interface TerminalSize {
  width: number;
  height: number;
}

export interface RemoteCommandStreams {
  /** The negotiated protocol. */
  readonly protocol: string;
  /** The client's input. It ends on the client's FIN; a client that resets it closes it without 'end'. */
  readonly stdin?: Readable;
  readonly stdout?: Writable;
  readonly stderr?: Writable;
  /**
   * Emits 'resize' (TerminalSize) for a tty session (v3 and later). A size the client sent before anyone
   * listened (its first, typically) is emitted to the first listener; only the latest such one is kept.
   */
  readonly resize?: EventEmitter;
  /**
   * Report the end and close everything: exit code 0 is success; another is, in v4, a Status with reason
   * NonZeroExitCode and the cause {reason: 'ExitCode', message: '<code>'}; an Error is a Status Failure
   * (InternalError) with its message. Data already written to stdout and stderr is sent first. Resolves once
   * the session is closed; calling it again returns the same promise.
   */
  finish(result: RemoteCommandResult): Promise<void>;
}

/**
 * Check a request's stream flags before a URL is issued for it, as kubelet's streaming server does: one of
 * stdin, stdout and stderr is needed, and a terminal has a single output (no stderr).
 */
export function validateRemoteCommandOptions(opts: RemoteCommandOptions): void {
  if (!opts.stdin && !opts.stdout && !opts.stderr) throw new InvalidArgument('one of stdin, stdout, or stderr must be set');
  if (opts.tty && opts.stderr) throw new InvalidArgument('tty and stderr cannot both be true');
}

/**
 * Wait for the client's streams on an upgraded session (the error stream and those `expect` asks for, within
 * `timeoutMs`, 30 s by default) and hand them over. Every stream of a known type is accepted, as kubelet
 * accepts it; one that is not used (not asked for, or a second of its type) has its input discarded so it
 * cannot stall the session. With a tty, stderr is not expected (kubelet ignores it too). Rejects, closing the
 * session, if the client takes too long or goes away first.
 */
export function acceptRemoteCommand(
  session: SpdySession,
  protocol: string,
  expect: RemoteCommandOptions,
  opts: { timeoutMs?: number } = {},
): Promise<RemoteCommandStreams> {
  let version: number;
  try {
    version = protocolVersion(protocol);
  } catch (err) {
    return Promise.reject(err);
  }
  if (!expect.stdin && !expect.stdout && !expect.stderr) {
    return Promise.reject(new InvalidArgument('one of stdin, stdout, or stderr must be set'));
  }
  const wanted = new Set(['error']);
  if (expect.stdin) wanted.add('stdin');
  if (expect.stdout) wanted.add('stdout');
  if (expect.stderr && !expect.tty) wanted.add('stderr');
  if (expect.tty && version >= 3) wanted.add('resize');

  const got = new Map<string, SpdyStream>();
  const extras: SpdyStream[] = [];
  return new Promise((resolve, reject) => {
    const cleanup = () => {
      clearTimeout(timer);
      session.off('stream', onStream);
      session.off('close', onClose);
    };
    const fail = (err: Error) => {
      cleanup();
      session.close();
      reject(err);
    };
    const onStream = (stream: SpdyStream) => {
      const type = stream.headers['streamtype'] ?? '';
      stream.reply();
      if (!wanted.has(type) || got.has(type)) {
        // Accepted but unused: read and drop what the client sends on it.
        extras.push(stream);
        stream.resume();
        return;
      }
      got.set(type, stream);
      if (got.size < wanted.size) return;
      cleanup();
      resolve(buildStreams(session, protocol, version, got, extras));
    };
    const onClose = () => fail(new InvalidArgument('the client closed the connection before opening its streams'));
    const timer = setTimeout(() => fail(new InvalidArgument('timed out waiting for client to create streams')), opts.timeoutMs ?? STREAM_CREATION_TIMEOUT_MS);
    session.on('stream', onStream);
    session.on('close', onClose);
    if (session.isClosed) onClose();
  });
}

/** 1–4 from the negotiated protocol name; no protocol is v1 (clients from before negotiation). */
function protocolVersion(protocol: string): number {
  switch (protocol) {
    case 'v5.channel.k8s.io': // v5 only adds a close signal to WebSocket; over SPDY kubelet runs it as v4
    case 'v4.channel.k8s.io':
      return 4;
    case 'v3.channel.k8s.io':
      return 3;
    case 'v2.channel.k8s.io':
      return 2;
    case 'channel.k8s.io':
    case '':
      return 1;
    default:
      throw new InvalidArgument(`unknown remote command protocol ${JSON.stringify(protocol)}`);
  }
}

function buildStreams(session: SpdySession, protocol: string, version: number, got: Map<string, SpdyStream>, extras: SpdyStream[]): RemoteCommandStreams {
  const errorStream = got.get('error')!;
  const stdin = got.get('stdin');
  // v1 kubelets closed their side of stdin at once; later ones leave it to the end. Nothing is sent on it either way.
  if (version === 1) stdin?.end();
  const resizeStream = got.get('resize');
  const resize = resizeStream ? resizeEvents(resizeStream) : undefined;
  let finishing: Promise<void> | null = null;
  return {
    protocol,
    ...(stdin ? { stdin } : {}),
    ...(got.has('stdout') ? { stdout: got.get('stdout')! } : {}),
    ...(got.has('stderr') ? { stderr: got.get('stderr')! } : {}),
    ...(resize ? { resize } : {}),
    finish(result: RemoteCommandResult): Promise<void> {
      if (finishing) return finishing;
      let report: string;
      try {
        report = statusReport(version, result);
      } catch (err) {
        return Promise.reject(err);
      }
      finishing = (async () => {
        if (report !== '' && !errorStream.destroyed && !errorStream.writableEnded) errorStream.write(report);
        const all = [...got.values(), ...extras];
        for (const s of all) if (!s.writableEnded) s.end();
        // The FINs go out behind whatever output is still queued (a window the client has yet to widen).
        await Promise.all(all.map((s) => finished(s, { readable: false }).catch(() => {})));
        session.close();
      })();
      return finishing;
    },
  };
}

/** What goes on the error stream: v4's JSON Status, or v1–v3's failure message (nothing on success). */
export function statusReport(version: number, result: RemoteCommandResult): string {
  const status = statusOf(result);
  if (version >= 4) return JSON.stringify(status);
  return status.status === 'Success' ? '' : (status.message ?? '');
}

interface Status {
  metadata: Record<string, never>;
  status: 'Success' | 'Failure';
  message?: string;
  reason?: string;
  details?: { causes: Array<{ reason?: string; message: string }> };
  code?: number;
}

/** The metav1.Status kubelet reports, its fields in the order Go marshals them. */
function statusOf(result: RemoteCommandResult): Status {
  if ('error' in result) {
    const msg = result.error.message;
    return {
      metadata: {},
      status: 'Failure',
      message: `Internal error occurred: ${msg}`,
      reason: 'InternalError',
      details: { causes: [{ message: msg }] },
      code: 500,
    };
  }
  const code = result.exitCode;
  // client-go reads the cause as a uint8: a value it cannot parse would turn into a protocol error.
  if (!Number.isInteger(code) || code < 0 || code > 255) throw new InvalidArgument(`exit code ${code} is not an exit status (0-255)`);
  if (code === 0) return { metadata: {}, status: 'Success' };
  return {
    metadata: {},
    status: 'Failure',
    message: `command terminated with non-zero exit code: exit status ${code}`,
    reason: 'NonZeroExitCode',
    details: { causes: [{ reason: 'ExitCode', message: String(code) }] },
  };
}

/**
 * The resize stream as 'resize' events. Each message is a JSON TerminalSize, {"Width":W,"Height":H}, back to
 * back; like kubelet, the first that does not decode ends the events. The stream is read from the start, so it
 * never backs up the session; a size that comes while nobody listens is kept (the latest only) and emitted to
 * the first listener, since the client sends its first size as soon as its streams are open.
 */
function resizeEvents(stream: SpdyStream): EventEmitter {
  const events = new EventEmitter();
  let unheard: TerminalSize | null = null;
  events.on('newListener', (event: string) => {
    if (event !== 'resize' || unheard === null) return;
    const size = unheard;
    unheard = null;
    // The listener is added after this event: hand it the size once it is.
    process.nextTick(() => events.emit('resize', size));
  });
  const splitter = new JsonSplitter();
  let broken = false;
  stream.setEncoding('utf8');
  stream.on('data', (text: string) => {
    if (broken) return;
    for (const doc of splitter.push(text)) {
      const size = doc === null ? null : terminalSize(doc);
      if (size === null) {
        broken = true;
        return;
      }
      if (events.listenerCount('resize') > 0) events.emit('resize', size);
      else unheard = size;
    }
    if (splitter.invalid) broken = true;
  });
  return events;
}

/** A TerminalSize from its JSON; Go matches field names without regard to case. Null if it is not one. */
export function terminalSize(doc: string): TerminalSize | null {
  let value: unknown;
  try {
    value = JSON.parse(doc);
  } catch {
    return null;
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return null;
  const size: TerminalSize = { width: 0, height: 0 };
  for (const [key, v] of Object.entries(value)) {
    const k = key.toLowerCase();
    if (k !== 'width' && k !== 'height') continue;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > 0xffff) return null;
    size[k] = v;
  }
  return size;
}

/** Cuts a stream of JSON objects, split anywhere across chunks, into whole objects' texts. */
class JsonSplitter {
  private buf = '';
  private depth = 0;
  private inString = false;
  private escaped = false;
  /** Something other than an object came at the top level. */
  invalid = false;

  push(text: string): Array<string | null> {
    const docs: Array<string | null> = [];
    let start = 0;
    const all = this.buf + text;
    let i = this.buf.length;
    for (; i < all.length && !this.invalid; i++) {
      const c = all[i]!;
      if (this.inString) {
        if (this.escaped) this.escaped = false;
        else if (c === '\\') this.escaped = true;
        else if (c === '"') this.inString = false;
        continue;
      }
      if (this.depth === 0) {
        if (c === ' ' || c === '\n' || c === '\r' || c === '\t') {
          start = i + 1;
          continue;
        }
        if (c !== '{') {
          this.invalid = true;
          docs.push(null);
          break;
        }
      }
      if (c === '"') this.inString = true;
      else if (c === '{' || c === '[') this.depth++;
      else if (c === '}' || c === ']') {
        this.depth--;
        if (this.depth === 0) {
          docs.push(all.slice(start, i + 1));
          start = i + 1;
        }
      }
    }
    this.buf = this.invalid ? '' : all.slice(start);
    // A client sending one endless object is not sending sizes.
    if (this.buf.length > 4096) {
      this.invalid = true;
      this.buf = '';
    }
    return docs;
  }
}
