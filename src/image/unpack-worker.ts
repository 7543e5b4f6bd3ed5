/** Worker thread entry: unpack one layer blob into a dir and report its diff id (src/image/unpack-pool.ts). */
import { createReadStream } from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';
import { InvalidArgument, NotFound } from '../errors.ts';
import { unpackInto } from './unpack.ts';
import type { WorkerReply } from './unpack-pool.ts';

const { file, dir } = workerData as { file: string; dir: string };
let reply: WorkerReply;
try {
  reply = { ok: true, ...(await unpackInto(createReadStream(file, { highWaterMark: 1 << 20 }), dir)) };
} catch (e) {
    // Error classes do not cross threads: name the family, and the pool rebuilds it.
  const kind = e instanceof InvalidArgument ? 'InvalidArgument' : e instanceof NotFound ? 'NotFound' : 'RuntimeFailure';
  reply = { ok: false, kind, message: (e as Error).message };
}
parentPort!.postMessage(reply);
