/**
 * The Kubernetes port-forward protocol over SPDY (`portforward.k8s.io`), server side: what kubelet's streaming
 * server does for the CRI's PortForward once the connection is upgraded. For each connection it forwards, the
 * client (client-go's port forwarder, in kubectl, crictl and critest) opens two streams with the same
 * `requestID` header and the pod's `port`: one of `streamType` `error`, then one of `data`. The data stream is
 * piped to a connection to that port; a failure to make it, or one while forwarding, is written to the error
 * stream as kubelet writes it (a JSON {closeConnection, message} line), and both streams end with the forward.
 * One session carries any number of such pairs, until the client closes it.
 */
import type { Duplex } from 'node:stream';
import type { SpdySession, SpdyStream } from './spdy.ts';

/** The protocol kubelet's streaming server offers for port forwarding. */
export const PORTFORWARD_PROTOCOL = 'portforward.k8s.io';

/** How long a pair's second stream may take to come (kubelet's default stream creation timeout). */
const STREAM_CREATION_TIMEOUT_MS = 30_000;

export interface PortForwardOptions {
  /** The pod sandbox, named in error messages as kubelet names it. */
  pod?: string;
  /** How long the second stream of a pair may take (30 s by default). */
  streamCreationTimeoutMs?: number;
}

interface Pair {
  requestId: string;
  error?: SpdyStream;
  data?: SpdyStream;
  timer: NodeJS.Timeout;
}

/**
 * Serve port forwarding on an upgraded session: for each (error, data) pair the client opens, `connect(port)`
 * gives a Duplex to the port (a TCP connection in the pod's network namespace, made by the caller), piped both
 * ways, a side's end passed on as the other's. Streams with a missing or bad `port` or `streamType` are reset,
 * as kubelet rejects them. Resolves when the session closes.
 */
export function servePortForward(session: SpdySession, connect: (port: number) => Promise<Duplex>, opts: PortForwardOptions = {}): Promise<void> {
  const timeoutMs = opts.streamCreationTimeoutMs ?? STREAM_CREATION_TIMEOUT_MS;
  const pairs = new Map<string, Pair>();
  return new Promise((resolve) => {
    const onStream = (stream: SpdyStream) => {
      if (!validHeaders(stream.headers)) return stream.reset();
      stream.reply();
      // The client never writes on the error stream (it closes its side at once): read it to its end.
      if (stream.headers['streamtype'] === 'error') stream.resume();
      const requestId = requestIdOf(stream);
      let pair = pairs.get(requestId);
      if (!pair) {
        const p: Pair = { requestId, timer: setTimeout(() => expire(p), timeoutMs) };
        pairs.set(requestId, (pair = p));
      }
      const type = stream.headers['streamtype'] as 'error' | 'data';
      if (pair[type]) {
        printError(pair, `error processing stream for request ${requestId}: ${type} stream already assigned`);
        return stream.reset();
      }
      pair[type] = stream;
      if (!pair.error || !pair.data) return;
      clearTimeout(pair.timer);
      pairs.delete(requestId);
      void forward(pair.data, pair.error, connect, opts.pod);
    };
    const expire = (pair: Pair) => {
      pairs.delete(pair.requestId);
      printError(pair, `(request=${pair.requestId}) timed out waiting for streams`);
      pair.error?.end();
      pair.data?.reset();
    };
    const onClose = () => {
      session.off('stream', onStream);
      for (const pair of pairs.values()) clearTimeout(pair.timer);
      pairs.clear();
      resolve();
    };
    session.on('stream', onStream);
    session.once('close', onClose);
    if (session.isClosed) onClose();
  });
}

/** Whether kubelet would take the stream: a `port` of 1–65535 and a `streamType` of error or data. */
function validHeaders(headers: Record<string, string>): boolean {
  const port = headers['port'] ?? '';
  if (!/^[0-9]{1,5}$/.test(port) || Number(port) < 1 || Number(port) > 65535) return false;
  const type = headers['streamtype'];
  return type === 'error' || type === 'data';
}

/**
 * The pair a stream belongs to. Clients from before request ids open a pair as consecutive streams, error
 * first: kubelet makes do with the error stream's id, which is the data stream's minus 2, and so does this.
 */
function requestIdOf(stream: SpdyStream): string {
  const id = stream.headers['requestid'];
  if (id) return id;
  return String(stream.headers['streamtype'] === 'error' ? stream.id : stream.id - 2);
}

function printError(pair: Pair, message: string): void {
  const e = pair.error;
  if (e && !e.destroyed && !e.writableEnded) e.write(message);
}

/** Connect to the port and pipe the data stream to it both ways; report a failure on the error stream. */
async function forward(data: SpdyStream, error: SpdyStream, connect: (port: number) => Promise<Duplex>, pod: string | undefined): Promise<void> {
  // A write pipe() makes after this end has ended the stream errs; that is not worth an uncaught exception.
  data.on('error', () => {});
  const port = Number(data.headers['port']);
  const report = (err: Error) => {
    if (error.destroyed || error.writableEnded) return;
    // A connection reset or broken by the pod's side is the forwarded connection's own end: the client may
    // go on forwarding others. Anything else asks it to close the session.
    const code = (err as NodeJS.ErrnoException).code;
    const closeConnection = code !== 'EPIPE' && code !== 'ECONNRESET';
    const where = pod === undefined ? `error forwarding port ${port}` : `error forwarding port ${port} to pod ${pod}, uid `;
    const message = `${where}: ${err.message}`;
    error.write(JSON.stringify(closeConnection ? { closeConnection, message } : { message }) + '\n');
  };

  let target: Duplex;
  try {
    target = await connect(port);
  } catch (err) {
    report(err instanceof Error ? err : new Error(String(err)));
    data.end();
    error.end();
    return;
  }
  if (data.destroyed) {
    // The client gave up while the connection was being made.
    target.destroy();
    error.end();
    return;
  }

  let done = false;
  const finish = (err?: Error) => {
    if (done) return;
    done = true;
    if (err) report(err);
    target.destroy();
    // Whatever the client still sends has nowhere to go: drop it rather than let it back up the session.
    data.unpipe(target);
    data.resume();
    if (!data.writableEnded) data.end();
    error.end();
  };
  target.on('error', (err: Error) => finish(err));
  target.on('close', () => finish());
  data.on('close', () => finish());
  data.pipe(target);
  target.pipe(data);
}
