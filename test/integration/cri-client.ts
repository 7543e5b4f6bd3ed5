/**
 * A CRI v1 client for the tests (kubelet's side of the socket): the services from the API's .proto with
 * @grpc/grpc-js, each call a promise; errors keep their gRPC status code. The container event stream is
 * collected as it arrives.
 */
import { join } from 'node:path';

/* eslint-disable @typescript-eslint/no-explicit-any */
type Msg = Record<string, any>;

export interface CriClient {
  runtime(method: string, req: Msg): Promise<Msg>;
  image(method: string, req: Msg): Promise<Msg>;
  /** Subscribe to GetContainerEvents: what arrived so far, and how to stop. */
  events(): { received: Msg[]; cancel(): void };
  close(): void;
}

export async function criClient(repo: string, socket: string): Promise<CriClient> {
  const grpc = await import('@grpc/grpc-js');
  const loader = await import('@grpc/proto-loader');
  const def = loader.loadSync(join(repo, 'dist', 'cri-api.proto'), { keepCase: true, longs: String, enums: String, defaults: true, oneofs: true });
  const pkg = grpc.loadPackageDefinition(def) as any;
  const address = `unix://${socket}`;
  const rt = new pkg.runtime.v1.RuntimeService(address, grpc.credentials.createInsecure());
  const im = new pkg.runtime.v1.ImageService(address, grpc.credentials.createInsecure());
  const call = (svc: any, method: string, req: Msg) =>
    new Promise<Msg>((resolve, reject) => {
      if (typeof svc[method] !== 'function') return reject(new Error(`no RPC ${method}`));
      svc[method](req, { deadline: Date.now() + 60_000 }, (err: Error | null, res: Msg) => (err ? reject(err) : resolve(res)));
    });
  return {
    runtime: (m, r) => call(rt, m, r),
    image: (m, r) => call(im, m, r),
    events() {
      const received: Msg[] = [];
      const stream = rt.GetContainerEvents({});
      stream.on('data', (m: Msg) => received.push(m));
      stream.on('error', () => {}); // cancelled by the test
      return { received, cancel: () => stream.cancel() };
    },
    close() {
      rt.close();
      im.close();
    },
  };
}

/**
 * Open a streaming URL as a CRI streaming client does: an HTTP upgrade to SPDY/3.1 offering `protocols`, then
 * a SPDY session of the client's side (the session code is the server's own, which runs both sides; critest
 * and crictl check it against Kubernetes' Go client).
 */
export async function spdyDial(url: string, protocols: string[]): Promise<{ session: import('../../src/cri/streaming/spdy.ts').SpdySession; protocol: string }> {
  const { request } = await import('node:http');
  const { SpdySession } = await import('../../src/cri/streaming/spdy.ts');
  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'POST', headers: { Connection: 'Upgrade', Upgrade: 'SPDY/3.1', 'X-Stream-Protocol-Version': protocols } });
    req.on('upgrade', (res, socket) => resolve({ session: new SpdySession(socket, { server: false }), protocol: String(res.headers['x-stream-protocol-version'] ?? '') }));
    req.on('response', (res) => reject(new Error(`no upgrade: HTTP ${res.statusCode}`)));
    req.on('error', reject);
    req.end();
  });
}

/** All a readable gives until its end (or its close: a reset stream ends no other way). */
export function readAll(r: NodeJS.ReadableStream & { once(e: 'close', f: () => void): unknown }): Promise<Buffer> {
  return new Promise((resolve) => {
    const parts: Buffer[] = [];
    r.on('data', (b: Buffer) => parts.push(b));
    const done = () => resolve(Buffer.concat(parts));
    r.once('end', done);
    r.once('close', done);
  });
}
